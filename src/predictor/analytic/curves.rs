//! Closed-form operator costs: FLOPs and bytes turned into time by efficiency curves whose few
//! coefficients are fitted on measured kernels (see `fit.rs`). Every curve is normalized by the
//! GPU's spec-sheet peak (FLOP/s, HBM bytes/s), so a GPU with no measurements reuses the
//! efficiencies of its nearest architecture with its own peaks.

use serde::{Deserialize, Serialize};

/// A GPU's spec-sheet peaks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Roofline {
    /// Dense BF16 tensor-core FLOP/s.
    pub flops: f64,
    /// HBM bytes/s.
    pub mem_bw: f64,
    /// Streaming multiprocessors (0: unknown, GEMM wave quantization is then left out).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sms: f64,
}

impl Roofline {
    /// The peaks of a catalog GPU.
    pub fn of_gpu(g: &crate::catalog::GpuSpec) -> Self {
        Roofline {
            flops: g.bf16_dense_tflops * 1e12,
            mem_bw: g.memory_bandwidth_gb_per_s * 1e9,
            sms: g.sm_count.map_or(0.0, f64::from),
        }
    }
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// Output tiles (rows of `m` × columns of `n`) a BF16 GEMM kernel may use; the library picks
/// one per shape.
pub const GEMM_TILES: [(f64, f64); 5] = [
    (64.0, 64.0),
    (64.0, 128.0),
    (128.0, 128.0),
    (128.0, 256.0),
    (256.0, 128.0),
];

/// Wave quantization of an `m × n` GEMM output on `sms` SMs: the work of the cheapest tiling,
/// whole waves of `sms` tiles each, over the same tiling's work without padding or partial
/// waves (≥ 1). A tile of `a` elements costs `a + tile_cost` (fixed per-tile overhead), so
/// small tiles only win where big ones would leave SMs idle.
#[inline]
pub fn wave_quantization(m: f64, n: f64, sms: f64, tile_cost: f64) -> f64 {
    let mut best = f64::INFINITY;
    let mut ideal = f64::INFINITY;
    for (tm, tn) in GEMM_TILES {
        let area = tm * tn;
        let cost = (area + tile_cost) / area;
        let tiles = (m / tm).ceil() * (n / tn).ceil();
        let waves = (tiles / sms).ceil();
        best = best.min(waves * sms * area * cost);
        ideal = ideal.min(m * n * cost);
    }
    best / ideal
}

/// `(a^p + b^p)^(1/p)`: a max that bends smoothly where compute and memory time meet.
#[inline]
pub fn smooth_max(a: f64, b: f64, p: f64) -> f64 {
    let m = a.max(b);
    if m <= 0.0 {
        return 0.0;
    }
    m * ((a / m).powf(p) + (b / m).powf(p)).powf(1.0 / p)
}

/// BF16 GEMM `C[m,n] = A[m,k]·B[k,n]`: launch latency plus a smooth roofline whose compute
/// efficiency saturates in each dimension (small tiles waste tensor cores).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GemmFit {
    /// Fixed latency in µs.
    pub t0_us: f64,
    /// Asymptotic fraction of peak FLOP/s.
    pub compute_eff: f64,
    /// Fraction of peak HBM bandwidth.
    pub mem_eff: f64,
    /// `m` at which compute efficiency halves.
    pub m_half: f64,
    /// `n` at which compute efficiency halves.
    pub n_half: f64,
    /// `k` at which compute efficiency halves.
    pub k_half: f64,
    /// Sharpness of the compute/memory transition.
    pub smooth: f64,
    /// Exponent of the wave-quantization factor on the compute time (0: a smooth curve).
    #[serde(default)]
    pub wave_exp: f64,
    /// Fixed per-tile overhead in output elements (see [`wave_quantization`]).
    #[serde(default)]
    pub tile_cost: f64,
}

/// FLOPs of a GEMM.
#[inline]
pub fn gemm_flops(m: f64, n: f64, k: f64) -> f64 {
    2.0 * m * n * k
}

/// Bytes a BF16 GEMM moves at least once (both inputs, the output).
#[inline]
pub fn gemm_bytes(m: f64, n: f64, k: f64) -> f64 {
    2.0 * (m * k + k * n + m * n)
}

/// Bytes an FP8 GEMM moves at least once: FP8 inputs (1 byte), a BF16 output.
#[inline]
pub fn gemm_bytes_fp8(m: f64, n: f64, k: f64) -> f64 {
    m * k + k * n + 2.0 * m * n
}

impl GemmFit {
    /// Milliseconds of a BF16 GEMM.
    #[inline]
    pub fn ms(&self, r: &Roofline, m: f64, n: f64, k: f64) -> f64 {
        self.ms_bytes(r, m, n, k, gemm_bytes(m, n, k))
    }

    /// Milliseconds of an FP8 GEMM, for a fit made on FP8 kernels with `r.flops` the FP8 peak.
    #[inline]
    pub fn ms_fp8(&self, r: &Roofline, m: f64, n: f64, k: f64) -> f64 {
        self.ms_bytes(r, m, n, k, gemm_bytes_fp8(m, n, k))
    }

    /// Milliseconds of a GEMM that moves `bytes`.
    #[inline]
    fn ms_bytes(&self, r: &Roofline, m: f64, n: f64, k: f64, bytes: f64) -> f64 {
        let eff = self.compute_eff
            * (m / (m + self.m_half))
            * (n / (n + self.n_half))
            * (k / (k + self.k_half));
        let mut tc = gemm_flops(m, n, k) / (r.flops * eff);
        if self.wave_exp != 0.0 && r.sms > 0.0 {
            tc *= wave_quantization(m, n, r.sms, self.tile_cost).powf(self.wave_exp);
        }
        let tm = bytes / (r.mem_bw * self.mem_eff);
        (self.t0_us * 1e-6 + smooth_max(tc, tm, self.smooth)) * 1e3
    }
}

/// Attention head layout on one device.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Heads {
    /// Query heads.
    pub q: f64,
    /// KV heads.
    pub kv: f64,
    /// Head size.
    pub dim: f64,
}

/// Running sums over a batch's prefilling sequences, so the time is a closed form of them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PrefillSums {
    /// Σ FLOPs weighted by the per-sequence efficiency `(c + len_half) / c`.
    pub weighted_flops: f64,
    /// Σ query-tile work `q_heads · c / 128`.
    pub tiles: f64,
    /// Σ bytes of Q, O and the K/V read.
    pub bytes: f64,
    /// Σ query heads over sequences (per-sequence-head setup cost).
    pub head_seqs: f64,
}

/// Prefill (context) attention with prior KV, FlashAttention-style: causal FLOPs over a
/// per-sequence length efficiency and a whole-launch occupancy, or the bytes, whichever binds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefillFit {
    /// Fixed latency in µs.
    pub t0_us: f64,
    /// Asymptotic fraction of peak FLOP/s.
    pub compute_eff: f64,
    /// Query length at which the per-sequence efficiency halves.
    pub len_half: f64,
    /// Per (sequence × query head) cost in ns, spread over the occupied SMs.
    pub per_head_ns: f64,
    /// Query tiles (heads × length/128, summed) at which occupancy halves.
    pub occ_half: f64,
    /// Fraction of peak HBM bandwidth.
    pub mem_eff: f64,
    /// Sharpness of the compute/memory transition.
    pub smooth: f64,
    /// Softmax cost per score in head-size units: the exponentials cost the same per score
    /// whatever the head size while the matmul FLOPs grow with it, so small heads run further
    /// from peak. A sequence's FLOPs are scaled by `(1 + softmax_dim / d) / (1 + softmax_dim /
    /// 128)`: `compute_eff` stays the efficiency at head size 128. Held at 0 for a GPU whose
    /// tables hold one head size (A100's: 128 only), where it cannot be fitted.
    #[serde(default)]
    pub softmax_dim: f64,
}

/// Attention FLOPs of `c` new tokens attending to `p` cached ones plus themselves (causal):
/// QKᵀ and PV, 2 FLOPs per multiply-add each.
#[inline]
pub fn prefill_flops(h: &Heads, c: f64, p: f64) -> f64 {
    4.0 * h.q * h.dim * c * (p + (c + 1.0) / 2.0)
}

/// Bytes of K and V (BF16) one sequence reads when attending to `kv` cached tokens.
#[inline]
pub fn kv_read_bytes(h: &Heads, kv: f64) -> f64 {
    4.0 * kv * h.kv * h.dim
}

impl PrefillFit {
    /// Add one sequence: `c` new tokens attending to `p` cached ones plus themselves (causal).
    #[inline]
    pub fn add(&self, s: &mut PrefillSums, h: &Heads, c: f64, p: f64) {
        let flops = prefill_flops(h, c, p);
        let softmax = (1.0 + self.softmax_dim / h.dim) / (1.0 + self.softmax_dim / 128.0);
        s.weighted_flops += flops * (c + self.len_half) / c * softmax;
        s.tiles += h.q * (c / 128.0).ceil();
        s.head_seqs += h.q;
        s.bytes += 2.0 * (2.0 * c * h.q * h.dim + 2.0 * (p + c) * h.kv * h.dim);
    }

    /// Milliseconds for the accumulated sequences (0 when there are none).
    #[inline]
    pub fn ms(&self, r: &Roofline, s: &PrefillSums) -> f64 {
        if s.tiles <= 0.0 {
            return 0.0;
        }
        let occ = s.tiles / (s.tiles + self.occ_half);
        let tc = s.weighted_flops / (r.flops * self.compute_eff * occ)
            + self.per_head_ns * 1e-9 * s.head_seqs;
        let tm = s.bytes / (r.mem_bw * self.mem_eff);
        (self.t0_us * 1e-6 + smooth_max(tc, tm, self.smooth)) * 1e3
    }
}

/// Running sums over a batch's decoding sequences.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DecodeSums {
    /// Sequences.
    pub seqs: f64,
    /// Σ KV length.
    pub kv_tokens: f64,
    /// Σ parallel work units `kv_heads · (1 + L / 512)` (paged attention splits long contexts).
    pub work: f64,
    /// Σ KV heads (fixed per-sequence-head cost: loading Q, writing O, the softmax merge).
    pub head_seqs: f64,
}

/// Decode attention over a paged KV cache: reading K and V dominates; occupancy grows with
/// sequences × KV heads × context partitions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecodeFit {
    /// Fixed latency in µs.
    pub t0_us: f64,
    /// Per-sequence cost in µs.
    pub per_seq_us: f64,
    /// Per (sequence × KV head) cost in ns, spread over the occupied SMs.
    pub per_head_ns: f64,
    /// Fraction of peak HBM bandwidth at full occupancy.
    pub mem_eff: f64,
    /// Work units at which occupancy halves.
    pub occ_half: f64,
    /// Fraction of peak FLOP/s (binds for many query heads per KV head).
    pub compute_eff: f64,
    /// Sharpness of the compute/memory transition.
    pub smooth: f64,
    /// KV tokens per parallel work unit of grouped-query attention: the kernel splits longer
    /// contexts into partitions of about this many tokens.
    #[serde(default = "default_split_tokens")]
    pub split_tokens: f64,
    /// The same for multi-head attention (one query head per KV head), which some GPUs'
    /// kernels do not split at all: in the A100 tables the MHA decode time grows linearly with
    /// the context at about 20 GB/s per (sequence, head), whatever the head count, while GQA
    /// kernels spread a long context over the SMs.
    #[serde(default = "default_split_tokens")]
    pub mha_split_tokens: f64,
    /// Fixed latency in µs of the MHA kernel, a different kernel from the GQA one on some GPUs
    /// (A100: about 9 µs against 15; none: `t0_us`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mha_t0_us: Option<f64>,
}

fn default_split_tokens() -> f64 {
    512.0
}

impl DecodeFit {
    /// Add one decoding sequence attending to `kv` tokens.
    #[inline]
    pub fn add(&self, s: &mut DecodeSums, h: &Heads, kv: f64) {
        let split = if h.q == h.kv {
            self.mha_split_tokens
        } else {
            self.split_tokens
        };
        s.seqs += 1.0;
        s.kv_tokens += kv;
        s.work += h.kv * (1.0 + kv / split);
        s.head_seqs += h.kv;
    }

    /// Milliseconds for the accumulated sequences over a 16-bit KV cache (0 when there are
    /// none).
    #[inline]
    pub fn ms(&self, r: &Roofline, h: &Heads, s: &DecodeSums) -> f64 {
        self.ms_kv(r, h, s, 2.0)
    }

    /// The same over a KV cache of `kv_elem_bytes` per element (1 for FP8): the read shrinks,
    /// the occupancy and per-sequence costs do not (the kernels are the same shape).
    #[inline]
    pub fn ms_kv(&self, r: &Roofline, h: &Heads, s: &DecodeSums, kv_elem_bytes: f64) -> f64 {
        if s.seqs <= 0.0 {
            return 0.0;
        }
        let occ = s.work / (s.work + self.occ_half);
        // × 1.0 for 16 bits: bit-identical to the plain read.
        let bytes = kv_read_bytes(h, s.kv_tokens) * (kv_elem_bytes / 2.0);
        let flops = 4.0 * s.kv_tokens * h.q * h.dim;
        let tm = bytes / (r.mem_bw * self.mem_eff * occ) + self.per_head_ns * 1e-9 * s.head_seqs;
        let tc = flops / (r.flops * self.compute_eff);
        let t0 = match self.mha_t0_us {
            Some(t) if h.q == h.kv => t,
            _ => self.t0_us,
        };
        (t0 * 1e-6 + self.per_seq_us * 1e-6 * s.seqs + smooth_max(tm, tc, self.smooth)) * 1e3
    }
}

/// A memory-bound elementwise kernel (norm, activation, rope, residual add, copies).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElementwiseFit {
    /// Fixed latency in µs.
    pub t0_us: f64,
    /// Fraction of peak HBM bandwidth.
    pub mem_eff: f64,
}

impl ElementwiseFit {
    /// Milliseconds to move `bytes`.
    #[inline]
    pub fn ms(&self, r: &Roofline, bytes: f64) -> f64 {
        (self.t0_us * 1e-6 + bytes / (r.mem_bw * self.mem_eff)) * 1e3
    }
}

/// A collective as latency + bytes / bandwidth, with a second regime above a size threshold
/// (vLLM's custom all-reduce hands messages over 8 MiB to NCCL).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectiveFit {
    /// Latency in µs up to `threshold_bytes`.
    pub small_lat_us: f64,
    /// Effective bandwidth in GB/s up to `threshold_bytes`.
    pub small_bw_gbps: f64,
    /// Messages larger than this use the second regime (none: a single regime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_bytes: Option<f64>,
    /// Latency in µs above the threshold.
    pub large_lat_us: f64,
    /// Effective bandwidth in GB/s above the threshold.
    pub large_bw_gbps: f64,
}

impl CollectiveFit {
    /// A single-regime collective.
    pub fn linear(lat_us: f64, bw_gbps: f64) -> CollectiveFit {
        CollectiveFit {
            small_lat_us: lat_us,
            small_bw_gbps: bw_gbps,
            threshold_bytes: None,
            large_lat_us: lat_us,
            large_bw_gbps: bw_gbps,
        }
    }

    /// Milliseconds for a message of `bytes`.
    #[inline]
    pub fn ms(&self, bytes: f64) -> f64 {
        let (lat, bw) = if bytes <= self.threshold_bytes.unwrap_or(f64::INFINITY) {
            (self.small_lat_us, self.small_bw_gbps)
        } else {
            (self.large_lat_us, self.large_bw_gbps)
        };
        (lat * 1e-6 + bytes / (bw * 1e9)) * 1e3
    }

    /// The same collective on links `factor`× faster.
    pub fn scale_bandwidth(&self, factor: f64) -> CollectiveFit {
        CollectiveFit {
            small_bw_gbps: self.small_bw_gbps * factor,
            large_bw_gbps: self.large_bw_gbps * factor,
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: Roofline = Roofline {
        flops: 1e15,
        mem_bw: 2e12,
        sms: 0.0,
    };

    #[test]
    fn gemm_counts() {
        assert_eq!(gemm_flops(4096.0, 12288.0, 4096.0), 412_316_860_416.0);
        // Llama-2-7B QKV at 1 token: the weight dominates (4096·12288 bf16 = 100,663,296 B).
        assert_eq!(
            gemm_bytes(1.0, 12288.0, 4096.0),
            2.0 * (4096.0 + 50_331_648.0 + 12288.0)
        );
    }

    /// A GEMM at full efficiency with no latency or saturation terms.
    fn ideal_gemm(wave_exp: f64) -> GemmFit {
        GemmFit {
            t0_us: 0.0,
            compute_eff: 1.0,
            mem_eff: 1.0,
            m_half: 0.0,
            n_half: 0.0,
            k_half: 0.0,
            smooth: 50.0,
            wave_exp,
            tile_cost: 0.0,
        }
    }

    #[test]
    fn gemm_is_a_roofline() {
        let f = ideal_gemm(0.0);
        // Large square GEMM: compute-bound at peak.
        let t = f.ms(&R, 8192.0, 8192.0, 8192.0);
        let tc = gemm_flops(8192.0, 8192.0, 8192.0) / 1e15 * 1e3;
        assert!((t / tc - 1.0).abs() < 0.02, "{t} vs {tc}");
        // GEMV: memory-bound.
        let t = f.ms(&R, 1.0, 8192.0, 8192.0);
        let tm = gemm_bytes(1.0, 8192.0, 8192.0) / 2e12 * 1e3;
        assert!((t / tm - 1.0).abs() < 0.02, "{t} vs {tm}");
    }

    #[test]
    fn waves_quantize_the_compute_time() {
        // 132 SMs, N = 8192: 128×256 tiles fill one wave up to m = 512 (4 × 32 = 128 tiles).
        let q = |m: f64| wave_quantization(m, 8192.0, 132.0, 0.0);
        assert!((q(512.0) - 132.0 / 128.0).abs() < 1e-9, "{}", q(512.0));
        // One more row of tiles: a second, mostly idle wave, or smaller tiles (64×64: 9 × 128
        // tiles in 9 waves of 132).
        assert!((q(520.0) - 9.0 * 132.0 * 4096.0 / (520.0 * 8192.0)).abs() < 1e-9);
        // Huge GEMMs: many waves, quantization fades.
        assert!(q(65536.0) < 1.05);
        let f = ideal_gemm(1.0);
        // Compute-bound (fast memory): the compute time takes the factor.
        let fast = Roofline { mem_bw: 1e15, ..R };
        let with = Roofline { sms: 132.0, ..fast };
        let ratio = f.ms(&with, 520.0, 8192.0, 8192.0) / f.ms(&fast, 520.0, 8192.0, 8192.0);
        assert!((ratio - q(520.0)).abs() < 0.01, "{ratio}");
    }

    /// Prefill attention at full efficiency with no latency, occupancy or length terms.
    fn ideal_prefill(mem_eff: f64, softmax_dim: f64) -> PrefillFit {
        PrefillFit {
            t0_us: 0.0,
            compute_eff: 1.0,
            len_half: 0.0,
            per_head_ns: 0.0,
            occ_half: 0.0,
            mem_eff,
            smooth: 50.0,
            softmax_dim,
        }
    }

    #[test]
    fn prefill_flops_are_causal() {
        let f = ideal_prefill(1.0, 0.0);
        let h = Heads {
            q: 32.0,
            kv: 32.0,
            dim: 128.0,
        };
        let mut s = PrefillSums::default();
        f.add(&mut s, &h, 1024.0, 0.0);
        // 4·Hq·d·c·(c+1)/2 = 2·32·128·1024·1025
        assert_eq!(s.weighted_flops, 2.0 * 32.0 * 128.0 * 1024.0 * 1025.0);
        // A chunk with 1024 cached tokens does twice the QK work of the first chunk, and more.
        let mut s2 = PrefillSums::default();
        f.add(&mut s2, &h, 1024.0, 1024.0);
        assert!(s2.weighted_flops > 2.9 * s.weighted_flops);
        assert_eq!(f.ms(&R, &PrefillSums::default()), 0.0);
    }

    #[test]
    fn small_heads_pay_the_softmax() {
        // Memory so fast that only the compute side counts.
        let f = ideal_prefill(1e9, 128.0);
        // The same FLOPs as 32 heads of 128 or 64 heads of 64: the small heads compute twice
        // the scores, whose softmax costs as much as a 128-wide head's matmul here.
        let time = |q: f64, dim: f64| {
            let mut s = PrefillSums::default();
            f.add(&mut s, &Heads { q, kv: q, dim }, 1024.0, 0.0);
            f.ms(&R, &s)
        };
        let ratio = time(64.0, 64.0) / time(32.0, 128.0);
        assert!((ratio - 1.5).abs() < 1e-6, "{ratio}");
        // Head size 128 is the reference: the term does not change it.
        let plain = ideal_prefill(1e9, 0.0);
        let mut s = PrefillSums::default();
        plain.add(
            &mut s,
            &Heads {
                q: 32.0,
                kv: 32.0,
                dim: 128.0,
            },
            1024.0,
            0.0,
        );
        assert!((plain.ms(&R, &s) / time(32.0, 128.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn decode_reads_the_kv_cache() {
        let f = DecodeFit {
            t0_us: 0.0,
            per_seq_us: 0.0,
            per_head_ns: 0.0,
            mem_eff: 1.0,
            occ_half: 0.0,
            compute_eff: 1.0,
            smooth: 50.0,
            split_tokens: 512.0,
            mha_split_tokens: 512.0,
            mha_t0_us: None,
        };
        let h = Heads {
            q: 32.0,
            kv: 8.0,
            dim: 128.0,
        };
        let mut s = DecodeSums::default();
        f.add(&mut s, &h, 4096.0);
        f.add(&mut s, &h, 4096.0);
        // 2 seqs · 4096 tokens · (K+V) · 8 heads · 128 · 2 bytes = 33,554,432 B at 2 TB/s.
        let want = 33_554_432.0 / 2e12 * 1e3;
        assert!((f.ms(&R, &h, &s) / want - 1.0).abs() < 0.02);
    }

    #[test]
    fn collective_regimes() {
        let c = CollectiveFit {
            small_lat_us: 5.0,
            small_bw_gbps: 100.0,
            threshold_bytes: Some(1e6),
            large_lat_us: 50.0,
            large_bw_gbps: 200.0,
        };
        assert!((c.ms(1e6) - (5e-6 + 1e-5) * 1e3).abs() < 1e-12);
        assert!((c.ms(2e6) - (50e-6 + 1e-5) * 1e3).abs() < 1e-12);
        assert_eq!(c.scale_bandwidth(2.0).small_bw_gbps, 200.0);
    }
}
