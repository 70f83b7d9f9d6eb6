//! The analytic predictor, the embedded default: every operator's FLOPs and bytes are counted
//! from the model shape and turned into time by efficiency curves (`curves.rs`) fitted on real
//! measurements (`fit.rs`, stored in `data/calibration/calibration.json`). Any dense model on any
//! catalog GPU works with no profiling; a GPU without measurements uses its spec-sheet peaks
//! with the efficiencies of its nearest architecture.

pub mod calibration;
pub mod curves;
pub mod fit;

use calibration::{source, Calibration, GpuCalibration, SourceFits};
use curves::{
    CollectiveFit, DecodeFit, DecodeSums, ElementwiseFit, GemmFit, Heads, PrefillFit, PrefillSums,
    Roofline,
};

use super::compose::{OpModel, TokenOp};
use super::measured::AttnRow;
use super::{BatchEntry, PredictorError};
use crate::catalog::hf::{KvCacheDtype, Precision};
use crate::catalog::ModelSpec;

/// One device's shard of a transformer layer: the shapes every operator cost derives from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerShape {
    /// Hidden size.
    pub e: f64,
    /// Query heads per device.
    pub q_heads: f64,
    /// KV heads per device (replicated when fewer than TP).
    pub kv_heads: f64,
    /// Head size.
    pub head_dim: f64,
    /// MLP intermediate size per device.
    pub f: f64,
    /// SwiGLU-style gated MLP.
    pub gated: bool,
    /// Vocabulary per device (the LM head is sharded over TP).
    pub vocab: f64,
    /// Number format of the four projections (the LM head stays 16-bit, as in FP8
    /// checkpoints).
    pub precision: Precision,
    /// KV-cache element type.
    pub kv_cache_dtype: KvCacheDtype,
}

/// Elementwise kernel kinds, indexes into [`calibration::ELEMENTWISE_KINDS`].
const NORM: usize = 0;
const ACT: usize = 1;
const ROPE: usize = 2;
const ADD: usize = 3;

impl LayerShape {
    /// Shapes of `model` on one of `tp` devices. `head_dim` is the true head size.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        hq: u32,
        hkv: u32,
        e: u32,
        f: u32,
        head_dim: u32,
        gated: bool,
        vocab: u32,
        tp: u32,
    ) -> LayerShape {
        LayerShape {
            e: e as f64,
            q_heads: (hq / tp.max(1)) as f64,
            kv_heads: hkv.div_ceil(tp.max(1)) as f64,
            head_dim: head_dim as f64,
            f: f as f64 / tp.max(1) as f64,
            gated,
            vocab: (vocab as f64 / tp.max(1) as f64).ceil(),
            precision: Precision::Bf16,
            kv_cache_dtype: KvCacheDtype::Auto,
        }
    }

    /// Shapes of a catalog model, in the number formats it is served in.
    pub fn of(model: &ModelSpec, tp: u32) -> LayerShape {
        let s = LayerShape::new(
            model.num_q_heads,
            model.num_kv_heads,
            model.embedding_dim,
            model.mlp_hidden_dim,
            model.head_dim,
            model.use_gated_mlp,
            model.vocab_size,
            tp,
        );
        LayerShape {
            precision: model.precision,
            kv_cache_dtype: model.kv_cache_dtype,
            ..s
        }
    }

    /// Attention heads on this device.
    pub fn heads(&self) -> Heads {
        Heads {
            q: self.q_heads,
            kv: self.kv_heads,
            dim: self.head_dim,
        }
    }

    /// `(m, n, k)` of a projection for `t` tokens, or `None` for non-GEMM ops.
    pub fn gemm(&self, op: TokenOp, t: f64) -> Option<(f64, f64, f64)> {
        let attn = self.q_heads * self.head_dim;
        match op {
            TokenOp::AttnPreProj => Some((
                t,
                (self.q_heads + 2.0 * self.kv_heads) * self.head_dim,
                self.e,
            )),
            TokenOp::AttnPostProj => Some((t, self.e, attn)),
            TokenOp::MlpUpProj => Some((t, self.f * if self.gated { 2.0 } else { 1.0 }, self.e)),
            TokenOp::MlpDownProj => Some((t, self.e, self.f)),
            _ => None,
        }
    }

    /// `(kind, bytes)` of a memory-bound op for `t` tokens (BF16), or `None` for GEMMs.
    pub fn elementwise(&self, op: TokenOp, t: f64) -> Option<(usize, f64)> {
        let per_token = match op {
            // Read and write the hidden state.
            TokenOp::InputLayernorm | TokenOp::PostAttentionLayernorm => (NORM, 4.0 * self.e),
            // SwiGLU reads gate and up, writes one; GeLU reads and writes one.
            TokenOp::MlpAct => (ACT, if self.gated { 6.0 } else { 4.0 } * self.f),
            // In-place rotation of q and k.
            TokenOp::AttnRope => (ROPE, 4.0 * (self.q_heads + self.kv_heads) * self.head_dim),
            // Two reads, one write.
            TokenOp::Add => (ADD, 6.0 * self.e),
            // Read new K and V (16-bit), write them into the paged cache in its own type.
            TokenOp::AttnKvCacheSave => (
                ADD,
                (4.0 + 2.0 * self.kv_cache_dtype.bytes()) * self.kv_heads * self.head_dim,
            ),
            _ => return None,
        };
        Some((per_token.0, per_token.1 * t))
    }
}

/// The GPU being simulated, as the analytic predictor needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuInfo {
    /// Catalog name (`h100`); matched against the calibration's GPU names.
    pub name: String,
    /// Architecture (`ampere`, `ada`, `hopper`, `blackwell`, `cdna3`).
    pub arch: String,
    /// Spec-sheet peaks.
    pub roofline: Roofline,
    /// Spec-sheet dense FP8 FLOP/s (None: no FP8 tensor cores, e.g. Ampere).
    pub fp8_flops: Option<f64>,
    /// Intra-node link bandwidth per GPU per direction, GB/s.
    pub intra_node_bw_gbps: f64,
    /// Intra-node link latency, µs.
    pub intra_node_latency_us: f64,
    /// Inter-node bandwidth per GPU per direction, GB/s.
    pub inter_node_bw_gbps: f64,
    /// GPUs per node.
    pub gpus_per_node: u32,
}

/// Knobs of the analytic predictor.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnalyticOptions {
    /// Preferred measurement source (`kernels` or `vidur`); default: kernels, then vidur.
    pub source: Option<String>,
    /// Per-iteration CPU/launch overhead in ms added to every stage (default 0, as Vidur's
    /// `skip_cpu_overhead_modeling`).
    pub iteration_overhead_ms: f64,
    /// Model the embedding, LM head and sampling, which Vidur leaves out (default true).
    pub skip_embedding_and_lm_head: bool,
    /// Vidur network SKU of the node (`a100_dgx`, `h100_pairwise_nvlink`, ...). Where the
    /// calibration has its measured fits, PP send/recv uses them (they are the only
    /// point-to-point measurements), and so does the TP all-reduce when `source` is `vidur`
    /// (Vidur's NCCL profiles rather than vLLM's custom all-reduce kernels).
    pub network: Option<String>,
}

/// The analytic operator model for one (model, GPU, TP, PP).
#[derive(Debug, Clone)]
pub struct AnalyticPredictor {
    shape: LayerShape,
    heads: Heads,
    roof: Roofline,
    gemm: GemmFit,
    /// The FP8 GEMM curve and the peaks it is evaluated with, when the projections are FP8.
    gemm_fp8: Option<(GemmFit, Roofline)>,
    prefill: PrefillFit,
    decode: DecodeFit,
    elementwise: [ElementwiseFit; 4],
    allreduce_graph: CollectiveFit,
    allreduce_eager: CollectiveFit,
    send_recv: CollectiveFit,
    opts: AnalyticOptions,
    provenance: String,
    /// LM head + sampling time by sequences in the batch, up to [`LM_HEAD_MEMO`] (every batch
    /// pays it; its GEMM curve costs a few `powf`s).
    lm_head_ms: Box<[f64]>,
}

/// Batch sizes whose LM head time is precomputed.
const LM_HEAD_MEMO: usize = 1024;

/// Tokens up to which vLLM replays CUDA graphs (its default largest capture size).
const CUDA_GRAPH_MAX_TOKENS: u32 = 512;

struct Picker<'a> {
    cal: &'a Calibration,
    gpu: &'a GpuInfo,
    sources: Vec<&'a str>,
    notes: Vec<String>,
}

impl<'a> Picker<'a> {
    /// The first fit `get` finds, trying the GPU's own entry, then its architecture; returns
    /// the fit and the roofline it must be evaluated with.
    fn pick<T>(
        &mut self,
        what: &str,
        get: impl Fn(&SourceFits) -> Option<T>,
    ) -> Result<(T, &'a GpuCalibration, String), PredictorError> {
        for src in self.sources.clone() {
            let has = |g: &GpuCalibration| g.sources.get(src).and_then(&get).is_some();
            if let Some((name, g)) = self.cal.reference(&self.gpu.name, &self.gpu.arch, has) {
                let fit = get(&g.sources[src]).expect("checked by `has`");
                let tag = format!("{name}/{src}");
                self.notes.push(format!("{what}: {tag}"));
                return Ok((fit, g, name.to_string()));
            }
        }
        Err(PredictorError::Table {
            path: "calibration".into(),
            msg: format!(
                "no {what} fit for GPU '{}' (arch {}) from sources {:?}",
                self.gpu.name, self.gpu.arch, self.sources
            ),
        })
    }

    /// The peaks to evaluate a fit from reference GPU `name` with: the reference's own when
    /// it is the simulated GPU (the fit's frame), else the simulated GPU's spec sheet.
    fn roof(&self, name: &str, g: &GpuCalibration) -> Roofline {
        if name == self.gpu.name {
            g.roofline
        } else {
            self.gpu.roofline
        }
    }

    /// Clock stretch `(per kernel, per SM-spread work)` of fixed latencies borrowed from
    /// reference GPU `name` (see [`calibration::latency_scale`]); `(1, 1)` for the GPU's own.
    fn lat(&self, name: &str, g: &GpuCalibration) -> (f64, f64) {
        if name == self.gpu.name {
            return (1.0, 1.0);
        }
        calibration::latency_scale(&g.arch, &g.roofline, &self.gpu.arch, &self.gpu.roofline)
    }
}

impl AnalyticPredictor {
    /// Build the operator model for a layer of `shape` (one device's shard) on `gpu`, with
    /// all-reduces over `tp` devices, in a replica of `pp` pipeline stages.
    pub fn new(
        shape: LayerShape,
        gpu: &GpuInfo,
        tp: u32,
        pp: u32,
        cal: &Calibration,
        opts: AnalyticOptions,
    ) -> Result<AnalyticPredictor, PredictorError> {
        let sources: Vec<&str> = match opts.source.as_deref() {
            Some(s) => vec![s, source::KERNELS, source::VIDUR],
            None => vec![source::KERNELS, source::VIDUR],
        };
        let mut p = Picker {
            cal,
            gpu,
            sources,
            notes: Vec::new(),
        };
        let (gemm, g, name) = p.pick("gemm", |s| s.gemm.map(|f| f.fit))?;
        let gemm = GemmFit {
            t0_us: gemm.t0_us * p.lat(&name, g).0,
            ..gemm
        };
        let roof = p.roof(&name, g);
        let gemm_fp8 = match shape.precision {
            Precision::Bf16 => None,
            Precision::Fp8 => Some(fp8_gemm(&mut p)?),
        };
        // Every other family may come from another reference GPU; re-express its efficiencies
        // against `roof`, the one frame all of this predictor's curves are evaluated in.
        let (prefill, g2, n2) = p.pick("prefill attention", |s| s.prefill.map(|f| f.fit))?;
        let prefill = rescale_prefill(prefill, p.roof(&n2, g2), roof, p.lat(&n2, g2));
        let (decode, g3, n3) = p.pick("decode attention", |s| s.decode.map(|f| f.fit))?;
        let decode = rescale_decode(decode, p.roof(&n3, g3), roof, p.lat(&n3, g3));
        let mut elementwise = [ElementwiseFit {
            t0_us: 0.0,
            mem_eff: 1.0,
        }; 4];
        for (i, kind) in calibration::ELEMENTWISE_KINDS.iter().enumerate() {
            let (f, gk, nk) = p.pick(kind, |s| s.elementwise.get(*kind).map(|f| f.fit))?;
            let from = p.roof(&nk, gk);
            elementwise[i] = ElementwiseFit {
                mem_eff: f.mem_eff * from.mem_bw / roof.mem_bw,
                ..f
            };
        }
        let net = opts
            .network
            .as_deref()
            .and_then(|n| cal.network.get(n).map(|c| (n, c)));
        let per_node = gpu.gpus_per_node.max(1);
        // With the Vidur source, Vidur's NCCL all-reduce of the node when it was profiled for
        // this TP (`tp/tp` within a node; a `16/8`-style key for a group spanning nodes).
        let vidur_all_reduce = net
            .filter(|_| tp > 1 && opts.source.as_deref() == Some(source::VIDUR))
            .and_then(|(sku, c)| {
                let key = format!("{tp}/{}", tp.min(per_node));
                c.all_reduce.get(&key).map(|f| (sku, key, f.fit))
            });
        let (allreduce_graph, allreduce_eager) = if tp <= 1 {
            let zero = CollectiveFit::linear(0.0, f64::INFINITY);
            (zero, zero)
        } else if let Some((sku, key, fit)) = vidur_all_reduce {
            p.notes.push(format!("all-reduce {key}: {sku}/vidur"));
            (fit, fit)
        } else {
            (
                all_reduce_fit(&mut p, tp, "vllm_graph")?,
                all_reduce_fit(&mut p, tp, "vllm_eager")?,
            )
        };
        // Pipeline hand-off: one activation message, across nodes when the replica spans
        // nodes (Vidur's rule); the node's measured NCCL send/recv when known, else the link's
        // spec sheet.
        let multi_node = tp * pp.max(1) > per_node;
        let key = format!("2/{}", if multi_node { 1 } else { 2 });
        let send_recv = match net.and_then(|(sku, c)| c.send_recv.get(&key).map(|f| (sku, f))) {
            Some((sku, f)) => {
                p.notes.push(format!("send/recv {key}: {sku}/vidur"));
                f.fit
            }
            None if multi_node => {
                CollectiveFit::linear(gpu.intra_node_latency_us, gpu.inter_node_bw_gbps)
            }
            None => CollectiveFit::linear(gpu.intra_node_latency_us, gpu.intra_node_bw_gbps),
        };
        let provenance = format!(
            "analytic (calibration {}; {})",
            cal.version,
            p.notes.join(", ")
        );
        let mut pred = AnalyticPredictor {
            shape,
            heads: shape.heads(),
            roof,
            gemm,
            gemm_fp8,
            prefill,
            decode,
            elementwise,
            allreduce_graph,
            allreduce_eager,
            send_recv,
            opts,
            provenance,
            lm_head_ms: Box::new([]),
        };
        if !pred.opts.skip_embedding_and_lm_head {
            pred.lm_head_ms = (0..=LM_HEAD_MEMO)
                .map(|n| pred.lm_head_direct_ms(n as f64))
                .collect();
        }
        Ok(pred)
    }

    /// LM head GEMM, final norm and sampling over the FP32 logits of `seqs` sequences, ms.
    fn lm_head_direct_ms(&self, seqs: f64) -> f64 {
        self.gemm_ms(seqs, self.shape.vocab, self.shape.e)
            + self.elementwise[NORM].ms(&self.roof, 4.0 * self.shape.e * seqs)
            + self.elementwise[ADD].ms(&self.roof, 8.0 * self.shape.vocab * seqs)
    }

    /// The layer shape priced.
    pub fn shape(&self) -> &LayerShape {
        &self.shape
    }

    /// Time of one GEMM on this GPU, ms.
    pub fn gemm_ms(&self, m: f64, n: f64, k: f64) -> f64 {
        self.gemm.ms(&self.roof, m, n, k)
    }

    /// Time of one layer's per-token op at `t` tokens, ms.
    pub fn token_op(&self, op: TokenOp, t: f64) -> f64 {
        if let Some((m, n, k)) = self.shape.gemm(op, t) {
            return match &self.gemm_fp8 {
                Some((f, r)) => f.ms_fp8(r, m, n, k),
                None => self.gemm_ms(m, n, k),
            };
        }
        let (kind, bytes) = self
            .shape
            .elementwise(op, t)
            .expect("every op is a GEMM or elementwise");
        self.elementwise[kind].ms(&self.roof, bytes)
    }

    /// Prefill attention of a measured row (`batch` sequences of `len` tokens, no cache), ms.
    pub fn prefill_ms(&self, row: &AttnRow) -> f64 {
        fit::prefill_row_ms(&self.prefill, &self.roof, row)
    }

    /// Decode attention of a measured row (`batch` sequences attending to `len` tokens), ms.
    pub fn decode_ms(&self, row: &AttnRow) -> f64 {
        fit::decode_row_ms(&self.decode, &self.roof, row)
    }

    /// One pipeline send/recv of `bytes`, ms.
    pub fn send_recv_bytes_ms(&self, bytes: f64) -> f64 {
        self.send_recv.ms(bytes)
    }

    /// One all-reduce of `bytes`, ms (CUDA-graph path when `graph`).
    pub fn all_reduce_bytes_ms(&self, bytes: f64, graph: bool) -> f64 {
        if graph {
            self.allreduce_graph.ms(bytes)
        } else {
            self.allreduce_eager.ms(bytes)
        }
    }
}

/// The FP8 GEMM curve for the simulated GPU and the peaks to evaluate it with: its own fit
/// and FP8 peak when measured, else its architecture's (then any) fit with its spec-sheet FP8
/// peak, the way BF16 fits transfer. A GPU without an FP8 peak cannot run FP8 GEMMs.
fn fp8_gemm(p: &mut Picker) -> Result<(GemmFit, Roofline), PredictorError> {
    let Some(peak) = p.gpu.fp8_flops else {
        return Err(PredictorError::Table {
            path: "hardware catalog".into(),
            msg: format!(
                "precision fp8: GPU '{}' has no FP8 tensor cores (no fp8_dense_tflops); use precision bf16",
                p.gpu.name
            ),
        });
    };
    let (fit, g, name) = p.pick("fp8 gemm", |s| s.gemm_fp8.map(|f| f.fit))?;
    let own = name == p.gpu.name;
    let roof = match g.fp8_flops {
        Some(f) if own => Roofline {
            flops: f,
            ..g.roofline
        },
        _ => Roofline {
            flops: peak,
            ..p.gpu.roofline
        },
    };
    Ok((fit, roof))
}

/// Re-express a fit made against peaks `from` so it gives the same times against `to`, with
/// its fixed latencies stretched by `(clock, clock × SMs)` ratios `lat` (see `Picker::lat`).
fn rescale_prefill(f: PrefillFit, from: Roofline, to: Roofline, lat: (f64, f64)) -> PrefillFit {
    PrefillFit {
        compute_eff: f.compute_eff * from.flops / to.flops,
        mem_eff: f.mem_eff * from.mem_bw / to.mem_bw,
        t0_us: f.t0_us * lat.0,
        per_head_ns: f.per_head_ns * lat.1,
        ..f
    }
}

fn rescale_decode(f: DecodeFit, from: Roofline, to: Roofline, lat: (f64, f64)) -> DecodeFit {
    DecodeFit {
        compute_eff: f.compute_eff * from.flops / to.flops,
        mem_eff: f.mem_eff * from.mem_bw / to.mem_bw,
        t0_us: f.t0_us * lat.0,
        per_seq_us: f.per_seq_us * lat.0,
        per_head_ns: f.per_head_ns * lat.1,
        mha_t0_us: f.mha_t0_us.map(|t| t * lat.0),
        ..f
    }
}

/// Ring all-reduce traffic factor `2(n-1)/n`.
fn ring_factor(n: u32) -> f64 {
    2.0 * (n as f64 - 1.0) / n as f64
}

/// The all-reduce fit for `tp` GPUs: the GPU's (or its architecture's) measured fit for that
/// count, else the nearest measured count rescaled by the ring traffic factor; bandwidth is
/// scaled by the link-speed ratio when borrowed from another GPU, and by the inter-node share
/// when `tp` spans nodes.
fn all_reduce_fit(p: &mut Picker, tp: u32, backend: &str) -> Result<CollectiveFit, PredictorError> {
    let exact = format!("{tp}/{backend}");
    let found = p.pick(&format!("all-reduce {exact}"), |s| {
        s.allreduce.get(&exact).map(|f| f.fit)
    });
    let (fit, g, name, n_ref) = match found {
        Ok((f, g, n)) => (f, g, n, tp),
        Err(_) => {
            let (f, g, n) = p.pick(&format!("all-reduce ~{exact}"), |s| {
                s.allreduce
                    .iter()
                    .filter(|(k, _)| k.ends_with(&format!("/{backend}")))
                    .max_by_key(|(k, _)| k.split('/').next().and_then(|n| n.parse::<u32>().ok()))
                    .map(|(k, f)| (f.fit, k.clone()))
            })?;
            let n_ref: u32 =
                f.1.split('/')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(2);
            (f.0, g, n, n_ref)
        }
    };
    let mut scale = ring_factor(n_ref) / ring_factor(tp);
    if g.intra_node_bw_gbps > 0.0 {
        scale *= p.gpu.intra_node_bw_gbps / g.intra_node_bw_gbps;
    }
    if tp > p.gpu.gpus_per_node && p.gpu.intra_node_bw_gbps > 0.0 {
        scale *= p.gpu.inter_node_bw_gbps / p.gpu.intra_node_bw_gbps;
    }
    // The custom all-reduce's latency is kernel work (launch, cross-GPU flag handshakes).
    let (lat, _) = p.lat(&name, g);
    let fit = fit.scale_bandwidth(scale);
    Ok(CollectiveFit {
        small_lat_us: fit.small_lat_us * lat,
        large_lat_us: fit.large_lat_us * lat,
        ..fit
    })
}

impl OpModel for AnalyticPredictor {
    fn token_op_ms(&self, op: TokenOp, num_tokens: u32) -> Result<f64, PredictorError> {
        Ok(self.token_op(op, num_tokens as f64))
    }

    fn attn_prefill_ms(&self, batch: &[BatchEntry]) -> Result<f64, PredictorError> {
        let mut s = PrefillSums::default();
        for e in batch.iter().filter(|e| !e.is_prefill_complete) {
            self.prefill.add(
                &mut s,
                &self.heads,
                e.num_tokens as f64,
                e.num_processed_tokens as f64,
            );
        }
        Ok(self.prefill.ms(&self.roof, &s))
    }

    fn attn_decode_ms(&self, batch: &[BatchEntry]) -> Result<f64, PredictorError> {
        let mut s = DecodeSums::default();
        for e in batch.iter().filter(|e| e.is_prefill_complete) {
            // The step attends to the cached tokens plus itself.
            self.decode
                .add(&mut s, &self.heads, e.num_processed_tokens as f64 + 1.0);
        }
        let kv_bytes = self.shape.kv_cache_dtype.bytes();
        Ok(self.decode.ms_kv(&self.roof, &self.heads, &s, kv_bytes))
    }

    fn all_reduce_ms(&self, num_tokens: u32) -> Result<f64, PredictorError> {
        let bytes = num_tokens as f64 * self.shape.e * 2.0;
        Ok(self.all_reduce_bytes_ms(bytes, num_tokens <= CUDA_GRAPH_MAX_TOKENS))
    }

    fn send_recv_ms(&self, num_tokens: u32) -> Result<f64, PredictorError> {
        Ok(self.send_recv_bytes_ms(num_tokens as f64 * self.shape.e * 2.0))
    }

    fn stage_extra_ms(
        &self,
        batch: &[BatchEntry],
        stage: u32,
        num_stages: u32,
    ) -> Result<f64, PredictorError> {
        // Adding the parts that do not apply (0.0) leaves the sum bit-identical.
        let [(_, overhead), (_, embedding), (_, lm_head)] =
            self.extra_parts_ms(batch, stage, num_stages);
        Ok(overhead + embedding + lm_head)
    }

    fn stage_extra_parts_ms(
        &self,
        batch: &[BatchEntry],
        stage: u32,
        num_stages: u32,
    ) -> Result<Vec<(&'static str, f64)>, PredictorError> {
        Ok(self.extra_parts_ms(batch, stage, num_stages).to_vec())
    }

    fn describe(&self) -> String {
        self.provenance.clone()
    }
}

impl AnalyticPredictor {
    /// The stage time outside the layers, by part: iteration overhead, embedding (first
    /// stage), LM head and sampling (last stage); parts that do not apply are 0.
    fn extra_parts_ms(
        &self,
        batch: &[BatchEntry],
        stage: u32,
        num_stages: u32,
    ) -> [(&'static str, f64); 3] {
        let mut embedding = 0.0;
        let mut lm_head = 0.0;
        if !self.opts.skip_embedding_and_lm_head {
            if stage == 0 {
                // Embedding gather: one hidden vector per token.
                let t: f64 = batch.iter().map(|e| e.num_tokens as f64).sum();
                embedding = self.elementwise[ADD].ms(&self.roof, 4.0 * self.shape.e * t);
            }
            if stage + 1 == num_stages {
                // Every member produces one sequence's logits (a prefill chunk that does not
                // finish its prompt is counted too: a small over-estimate). LM head GEMM, then
                // sampling reads the FP32 logits.
                lm_head = match self.lm_head_ms.get(batch.len()) {
                    Some(t) => *t,
                    None => self.lm_head_direct_ms(batch.len() as f64),
                };
            }
        }
        [
            ("iteration_overhead", self.opts.iteration_overhead_ms),
            ("embedding", embedding),
            ("lm_head_sampling", lm_head),
        ]
    }
}

impl GpuInfo {
    /// A catalog GPU in a node of `gpus_per_node`, named as the calibration knows it (its name
    /// or one of its aliases, e.g. `h100-sxm` is calibrated as `h100`), so its own fits are
    /// found.
    pub fn from_catalog(
        g: &crate::catalog::GpuSpec,
        gpus_per_node: u32,
        cal: &Calibration,
    ) -> GpuInfo {
        let name = std::iter::once(&g.name)
            .chain(g.aliases.iter())
            .map(|n| n.to_ascii_lowercase())
            .find(|n| cal.gpus.contains_key(n))
            .unwrap_or_else(|| g.name.to_ascii_lowercase());
        GpuInfo {
            name,
            arch: g.architecture.name().to_string(),
            roofline: Roofline::of_gpu(g),
            fp8_flops: g.fp8_dense_tflops.map(|t| t * 1e12),
            intra_node_bw_gbps: g.intra_node_bandwidth_gb_per_s,
            intra_node_latency_us: g.intra_node_latency_us,
            inter_node_bw_gbps: g.inter_node_bandwidth_gb_per_s,
            gpus_per_node,
        }
    }
}

/// The analytic predictor for a whole replica stage: `model` on `gpu` with TP × PP.
pub fn build(
    model: &ModelSpec,
    gpu: &GpuInfo,
    tp: u32,
    pp: u32,
    cal: &Calibration,
    opts: AnalyticOptions,
) -> Result<super::Composed<AnalyticPredictor>, PredictorError> {
    Ok(super::Composed::new(
        AnalyticPredictor::new(LayerShape::of(model, tp), gpu, tp, pp, cal, opts)?,
        model.num_layers / pp.max(1),
        pp,
        tp,
        model.post_attn_norm,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama2_7b_gemm_shapes() {
        // Llama-2-7B: E 4096, 32 heads of 128, F 11008, gated, TP2.
        let s = LayerShape::new(32, 32, 4096, 11008, 128, true, 32000, 2);
        assert_eq!(
            s.gemm(TokenOp::AttnPreProj, 8.0),
            Some((8.0, 6144.0, 4096.0))
        );
        assert_eq!(
            s.gemm(TokenOp::AttnPostProj, 8.0),
            Some((8.0, 4096.0, 2048.0))
        );
        assert_eq!(
            s.gemm(TokenOp::MlpUpProj, 8.0),
            Some((8.0, 11008.0, 4096.0))
        );
        assert_eq!(
            s.gemm(TokenOp::MlpDownProj, 8.0),
            Some((8.0, 4096.0, 5504.0))
        );
        assert_eq!(s.gemm(TokenOp::Add, 8.0), None);
        assert_eq!(s.vocab, 16000.0);
    }

    #[test]
    fn qwen3_uses_its_true_head_size_and_replicates_kv_heads() {
        // Qwen3-32B: E 5120, 64 q heads and 8 kv heads of 128 (64·128 ≠ 5120), TP16.
        let s = LayerShape::new(64, 8, 5120, 25600, 128, true, 151936, 16);
        assert_eq!(s.q_heads, 4.0);
        assert_eq!(
            s.kv_heads, 1.0,
            "8 KV heads over 16 devices: one replicated head each"
        );
        assert_eq!(
            s.gemm(TokenOp::AttnPreProj, 1.0),
            Some((1.0, (4.0 + 2.0) * 128.0, 5120.0))
        );
        assert_eq!(
            s.gemm(TokenOp::AttnPostProj, 1.0),
            Some((1.0, 5120.0, 512.0))
        );
    }

    #[test]
    fn elementwise_bytes() {
        let s = LayerShape::new(32, 8, 4096, 14336, 128, true, 128256, 1);
        // RMSNorm reads and writes 4096 bf16 per token.
        assert_eq!(
            s.elementwise(TokenOp::InputLayernorm, 10.0),
            Some((NORM, 10.0 * 16384.0))
        );
        // SwiGLU: read gate and up (2·F), write F.
        assert_eq!(
            s.elementwise(TokenOp::MlpAct, 1.0),
            Some((ACT, 6.0 * 14336.0))
        );
        // Rope rotates q (32 heads) and k (8 heads) in place.
        assert_eq!(
            s.elementwise(TokenOp::AttnRope, 1.0),
            Some((ROPE, 4.0 * 40.0 * 128.0))
        );
        // Residual add: two reads, one write.
        assert_eq!(s.elementwise(TokenOp::Add, 1.0), Some((ADD, 6.0 * 4096.0)));
        // KV-cache write: read and write K and V of 8 heads.
        assert_eq!(
            s.elementwise(TokenOp::AttnKvCacheSave, 1.0),
            Some((ADD, 8.0 * 8.0 * 128.0))
        );
    }

    fn gpu(name: &str, arch: &str) -> GpuInfo {
        GpuInfo {
            name: name.into(),
            arch: arch.into(),
            roofline: Roofline {
                flops: 2250e12,
                mem_bw: 8e12,
                sms: 148.0,
            },
            fp8_flops: Some(4500e12),
            intra_node_bw_gbps: 900.0,
            intra_node_latency_us: 10.0,
            inter_node_bw_gbps: 50.0,
            gpus_per_node: 8,
        }
    }

    /// A measured GPU with the peaks its calibration was fitted against.
    fn calibrated_gpu(cal: &Calibration, name: &str, arch: &str) -> GpuInfo {
        GpuInfo {
            roofline: cal.gpus[name].roofline,
            ..gpu(name, arch)
        }
    }

    #[test]
    fn unmeasured_gpu_borrows_its_architecture_and_is_faster_with_faster_peaks() {
        let cal = Calibration::embedded();
        let shape = LayerShape::new(64, 8, 8192, 28672, 128, true, 128256, 4);
        let b200 = AnalyticPredictor::new(
            shape,
            &gpu("b200", "blackwell"),
            4,
            1,
            &cal,
            Default::default(),
        )
        .unwrap();
        let d = b200.describe();
        assert!(d.contains("gemm: h100/kernels"), "{d}");
        let h100 = AnalyticPredictor::new(
            shape,
            &GpuInfo {
                roofline: cal.gpus["h100"].roofline,
                intra_node_bw_gbps: 450.0,
                ..gpu("h100", "hopper")
            },
            4,
            1,
            &cal,
            Default::default(),
        )
        .unwrap();
        for op in [TokenOp::MlpUpProj, TokenOp::InputLayernorm] {
            assert!(
                b200.token_op(op, 4096.0) < h100.token_op(op, 4096.0),
                "{op:?}"
            );
        }
        assert!(b200.all_reduce_ms(4096).unwrap() < h100.all_reduce_ms(4096).unwrap());
    }

    #[test]
    fn batch_costs_grow_with_work() {
        let cal = Calibration::embedded();
        let shape = LayerShape::new(32, 32, 4096, 11008, 128, true, 32000, 1);
        let g = calibrated_gpu(&cal, "a100", "ampere");
        let p = AnalyticPredictor::new(shape, &g, 1, 1, &cal, Default::default()).unwrap();
        let dec = |n: u32, kv: u32| {
            let b: Vec<BatchEntry> = (0..n)
                .map(|_| BatchEntry {
                    num_tokens: 1,
                    num_processed_tokens: kv,
                    is_prefill_complete: true,
                })
                .collect();
            p.attn_decode_ms(&b).unwrap()
        };
        assert!(dec(8, 2048) > dec(8, 256));
        assert!(dec(64, 1024) > dec(8, 1024));
        let pre = |c: u32, kv: u32| {
            p.attn_prefill_ms(&[BatchEntry {
                num_tokens: c,
                num_processed_tokens: kv,
                is_prefill_complete: false,
            }])
            .unwrap()
        };
        assert!(pre(512, 2048) > pre(512, 0));
        assert!(
            pre(2048, 0) > 3.0 * pre(512, 0),
            "causal attention is superlinear"
        );
        assert_eq!(p.attn_prefill_ms(&[]).unwrap(), 0.0);
    }

    #[test]
    fn collectives_use_the_nodes_measured_fits() {
        let cal = Calibration::embedded();
        let shape = LayerShape::new(32, 32, 4096, 11008, 128, true, 32000, 2);
        let g = calibrated_gpu(&cal, "a100", "ampere");
        let net = &cal.network["a100_dgx"];
        let build = |tp: u32, pp: u32, src: Option<&str>, network: Option<&str>| {
            AnalyticPredictor::new(
                shape,
                &g,
                tp,
                pp,
                &cal,
                AnalyticOptions {
                    source: src.map(str::to_string),
                    network: network.map(str::to_string),
                    ..Default::default()
                },
            )
            .unwrap()
        };
        let bytes = 512.0 * 4096.0 * 2.0;
        // Vidur source: Vidur's NCCL all-reduce for TP2 within a node.
        let p = build(2, 1, Some("vidur"), Some("a100_dgx"));
        assert_eq!(
            p.all_reduce_bytes_ms(bytes, true),
            net.all_reduce["2/2"].fit.ms(bytes)
        );
        let d = p.describe();
        assert!(d.contains("all-reduce 2/2: a100_dgx/vidur"), "{d}");
        assert!(!d.contains("vllm_graph"), "{d}");
        // Kernel source: vLLM's custom all-reduce tables, not Vidur's NCCL.
        let k = build(2, 1, None, Some("a100_dgx"));
        assert_ne!(
            k.all_reduce_bytes_ms(bytes, true),
            net.all_reduce["2/2"].fit.ms(bytes)
        );
        // Send/recv: measured within a node, across nodes once TP·PP passes the node size.
        assert_eq!(
            build(2, 4, None, Some("a100_dgx")).send_recv_bytes_ms(bytes),
            net.send_recv["2/2"].fit.ms(bytes)
        );
        assert_eq!(
            build(4, 4, None, Some("a100_dgx")).send_recv_bytes_ms(bytes),
            net.send_recv["2/1"].fit.ms(bytes)
        );
        // No measurement for the node: the spec sheet's intra- or inter-node link.
        let spec = |bw: f64| (g.intra_node_latency_us * 1e-6 + bytes / (bw * 1e9)) * 1e3;
        let intra = build(2, 4, None, Some("unmeasured")).send_recv_bytes_ms(bytes);
        assert!((intra - spec(g.intra_node_bw_gbps)).abs() < 1e-12);
        let inter = build(4, 4, None, None).send_recv_bytes_ms(bytes);
        assert!((inter - spec(g.inter_node_bw_gbps)).abs() < 1e-12);
    }

    #[test]
    fn a100_mha_decode_does_not_split_long_contexts() {
        // The A100 tables' MHA decode kernel runs one (sequence, head) per block: at batch 1 a
        // 4× longer context takes about 4× longer, while GQA spreads it over the SMs.
        let cal = Calibration::embedded();
        let g = calibrated_gpu(&cal, "a100", "ampere");
        let decode = |q: u32, kv: u32, len: u32| {
            let shape = LayerShape::new(q, kv, q * 128, 4 * q * 128, 128, true, 32000, 1);
            let p = AnalyticPredictor::new(shape, &g, 1, 1, &cal, Default::default()).unwrap();
            p.attn_decode_ms(&[BatchEntry {
                num_tokens: 1,
                num_processed_tokens: len,
                is_prefill_complete: true,
            }])
            .unwrap()
        };
        let mha = decode(8, 8, 65536) / decode(8, 8, 16384);
        assert!((3.5..4.1).contains(&mha), "{mha}");
        let gqa = decode(64, 8, 65536) / decode(64, 8, 16384);
        assert!(gqa < mha, "{gqa} vs {mha}");
        // Same KV bytes (8 KV heads), but the MHA kernel leaves most SMs idle.
        assert!(decode(8, 8, 65536) > 3.0 * decode(64, 8, 65536));
    }

    #[test]
    fn fp8_projections_beat_bf16_and_match_the_fp8_tables() {
        let cal = Calibration::embedded();
        for name in ["h100", "h200"] {
            let k = &cal.gpus[name].sources[source::KERNELS];
            let q = k.gemm_fp8.expect("fp8 fit").quality;
            assert!(q.n > 10_000 && q.mape_pct < 15.0, "{name}: {q:?}");
        }
        let g = GpuInfo {
            fp8_flops: cal.gpus["h100"].fp8_flops,
            ..calibrated_gpu(&cal, "h100", "hopper")
        };
        let bf16 = LayerShape::new(64, 8, 8192, 28672, 128, true, 128256, 1);
        let fp8 = LayerShape {
            precision: Precision::Fp8,
            ..bf16
        };
        let build =
            |s: LayerShape| AnalyticPredictor::new(s, &g, 1, 1, &cal, Default::default()).unwrap();
        let (p16, p8) = (build(bf16), build(fp8));
        assert!(p8.describe().contains("fp8 gemm: h100/kernels"));
        // Large GEMMs: FP8 tensor cores, well under the BF16 time.
        for t in [4096.0, 16384.0] {
            let (a, b) = (
                p16.token_op(TokenOp::MlpUpProj, t),
                p8.token_op(TokenOp::MlpUpProj, t),
            );
            assert!(b < 0.75 * a, "{t}: bf16 {a} fp8 {b}");
        }
        // Measured on H100 (kernels/h100_sxm/gemm.csv, fp8 rows), prefill- and decode-sized
        // projections: within the fit's MAPE over the table (~12%) plus margin.
        let (f, r) = p8.gemm_fp8.unwrap();
        for (m, n, k, ms) in [
            (4096.0, 8192.0, 8192.0, 0.4961),
            (4096.0, 5120.0, 5120.0, 0.2365),
            (4096.0, 12288.0, 4096.0, 0.3652),
            (2048.0, 8192.0, 8192.0, 0.2398),
            (16.0, 8192.0, 8192.0, 0.03285),
        ] {
            let got = f.ms_fp8(&r, m, n, k);
            assert!((got / ms - 1.0).abs() < 0.15, "{m}x{n}x{k}: {got} vs {ms}");
        }
        // Elementwise ops, attention and the LM head are unchanged.
        assert_eq!(
            p8.token_op(TokenOp::InputLayernorm, 512.0),
            p16.token_op(TokenOp::InputLayernorm, 512.0)
        );
        assert_eq!(p8.lm_head_direct_ms(64.0), p16.lm_head_direct_ms(64.0));
        // A GPU with no FP8 peak cannot run FP8 GEMMs; one without FP8 fits borrows them.
        let a100 = calibrated_gpu(&cal, "a100", "ampere");
        let e = AnalyticPredictor::new(
            fp8,
            &GpuInfo {
                fp8_flops: None,
                ..a100
            },
            1,
            1,
            &cal,
            Default::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("precision fp8") && e.contains("fp8_dense_tflops"),
            "{e}"
        );
        let b200 = AnalyticPredictor::new(
            fp8,
            &gpu("b200", "blackwell"),
            1,
            1,
            &cal,
            Default::default(),
        )
        .unwrap();
        assert!(
            b200.describe().contains("fp8 gemm: h"),
            "{}",
            b200.describe()
        );
    }

    #[test]
    fn fp8_kv_cache_halves_the_decode_read() {
        let cal = Calibration::embedded();
        let g = calibrated_gpu(&cal, "h100", "hopper");
        let auto = LayerShape::new(64, 8, 5120, 25600, 128, true, 151936, 1);
        let fp8 = LayerShape {
            kv_cache_dtype: KvCacheDtype::Fp8,
            ..auto
        };
        let p16 = AnalyticPredictor::new(auto, &g, 1, 1, &cal, Default::default()).unwrap();
        let p8 = AnalyticPredictor::new(fp8, &g, 1, 1, &cal, Default::default()).unwrap();
        let batch = vec![
            BatchEntry {
                num_tokens: 1,
                num_processed_tokens: 8192,
                is_prefill_complete: true,
            };
            64
        ];
        let (a, b) = (
            p16.attn_decode_ms(&batch).unwrap(),
            p8.attn_decode_ms(&batch).unwrap(),
        );
        // Bandwidth-bound at this size: close to half, never more than the 16-bit time.
        assert!(b < 0.6 * a && b > 0.4 * a, "{a} {b}");
        // The cache write stores 1-byte elements: read 4 + write 2 bytes per K/V pair.
        assert_eq!(
            fp8.elementwise(TokenOp::AttnKvCacheSave, 1.0),
            Some((ADD, 6.0 * 8.0 * 128.0))
        );
    }

    #[test]
    fn lm_head_memo_matches_the_curve() {
        let cal = Calibration::embedded();
        let shape = LayerShape::new(32, 8, 4096, 14336, 128, true, 128256, 1);
        let g = calibrated_gpu(&cal, "h100", "hopper");
        let p = AnalyticPredictor::new(shape, &g, 1, 1, &cal, Default::default()).unwrap();
        let entry = BatchEntry {
            num_tokens: 1,
            num_processed_tokens: 100,
            is_prefill_complete: true,
        };
        for n in [1usize, 7, LM_HEAD_MEMO, LM_HEAD_MEMO + 300] {
            let batch = vec![entry; n];
            // Last of two stages: LM head only, memoized up to LM_HEAD_MEMO, direct past it.
            let got = p.stage_extra_ms(&batch, 1, 2).unwrap();
            assert_eq!(got, p.lm_head_direct_ms(n as f64), "{n}");
        }
        // Without the LM head nothing is precomputed.
        let q = AnalyticPredictor::new(
            shape,
            &g,
            1,
            1,
            &cal,
            AnalyticOptions {
                skip_embedding_and_lm_head: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(q.lm_head_ms.is_empty());
        assert_eq!(q.stage_extra_ms(&[entry], 0, 1).unwrap(), 0.0);
    }
}
