//! `calibrate-kernels`: fit the analytic curves on measured kernels and Vidur profiles.
//!
//! Every fit minimizes the mean absolute log-ratio `|ln(predicted / measured)|` (a relative
//! error, so 5 µs kernels count as much as 50 ms ones) with argmin's Nelder–Mead over
//! log-transformed coefficients; collectives and elementwise kernels are linear in their
//! coefficients and use a closed-form relative least squares. Only shape-level coefficients are
//! fitted (per GPU and source), never per-model constants, so a fit generalizes to models it
//! has not seen.

use std::collections::BTreeMap;
use std::path::Path;

use argmin::core::{CostFunction, Executor};
use argmin::solver::neldermead::NelderMead;

use super::calibration::{
    source, Calibration, FitQuality, Fitted, GpuCalibration, NetworkCalibration, SourceFits,
};
use super::curves::{
    CollectiveFit, DecodeFit, DecodeSums, ElementwiseFit, GemmFit, PrefillFit, PrefillSums,
    Roofline,
};
use super::LayerShape;
use crate::catalog::{GpuSpec, HardwareCatalog};
use crate::predictor::compose::TokenOp;
use crate::predictor::measured::{AttnRow, KernelSet, MlpProfile, ProfileSet};
use crate::predictor::PredictorError;

struct Cost<F>(F);

impl<F: Fn(&[f64]) -> f64> CostFunction for Cost<F> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Self::Param) -> Result<f64, argmin::core::Error> {
        let c = (self.0)(p);
        Ok(if c.is_finite() { c } else { 1e30 })
    }
}

/// Minimize `f` from `x0` with Nelder–Mead, restarting from the best point so a collapsed
/// simplex does not stop it early. Deterministic.
pub fn minimize(x0: Vec<f64>, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    let mut best = x0;
    for step in [0.5, 0.2, 0.05] {
        let mut simplex = vec![best.clone()];
        for i in 0..best.len() {
            let mut p = best.clone();
            p[i] += step;
            simplex.push(p);
        }
        let solver = NelderMead::new(simplex)
            .with_sd_tolerance(1e-10)
            .expect("valid tolerance");
        let res = Executor::new(Cost(&f), solver)
            .configure(|s| s.max_iters(3000))
            .run();
        if let Ok(r) = res {
            if let Some(p) = r.state().best_param.clone() {
                if f(&p) <= f(&best) {
                    best = p;
                }
            }
        }
    }
    best
}

/// MAPE and P90 of `pred` against `meas`.
pub fn quality(pairs: impl Iterator<Item = (f64, f64)>) -> FitQuality {
    let mut errs: Vec<f64> = pairs
        .map(|(p, m)| ((p - m) / m).abs() * 100.0)
        .filter(|e| e.is_finite())
        .collect();
    errs.sort_by(f64::total_cmp);
    let n = errs.len();
    let mape = if n == 0 {
        f64::NAN
    } else {
        errs.iter().sum::<f64>() / n as f64
    };
    FitQuality {
        n,
        mape_pct: mape,
        p90_pct: percentile(&errs, 0.9),
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Mean absolute log-ratio: a relative error that, like MAPE, does not let a few outliers
/// (noisy or odd-shaped kernels) pull the whole curve.
fn log_loss<'a>(pairs: impl Iterator<Item = (f64, f64)> + 'a) -> f64 {
    let mut s = 0.0;
    let mut n = 0usize;
    for (p, m) in pairs {
        s += (p / m).ln().abs();
        n += 1;
    }
    if n == 0 {
        0.0
    } else {
        s / n as f64
    }
}

/// A GEMM measurement in the fit's terms.
pub type GemmPoint = (f64, f64, f64, f64);

fn gemm_from(x: &[f64]) -> GemmFit {
    GemmFit {
        t0_us: x[0].exp(),
        compute_eff: x[1].exp(),
        mem_eff: x[2].exp(),
        m_half: x[3].exp(),
        n_half: x[4].exp(),
        k_half: x[5].exp(),
        smooth: 1.0 + x[6].exp(),
        wave_exp: x.get(7).map_or(0.0, |a| a.max(0.0)),
        tile_cost: x.get(8).map_or(0.0, |c| c.exp()),
    }
}

/// Fit a GEMM curve minimizing `loss` from a few starting points (with the wave term when the
/// roofline knows its SM count); the best is kept. Deterministic.
fn fit_gemm_with(r: &Roofline, loss: impl Fn(&GemmFit) -> f64) -> GemmFit {
    let smooth = vec![
        5f64.ln(),
        0.7f64.ln(),
        0.7f64.ln(),
        32f64.ln(),
        128f64.ln(),
        128f64.ln(),
        2f64.ln(),
    ];
    let starts: Vec<Vec<f64>> = if r.sms > 0.0 {
        [0.25, 0.5]
            .iter()
            .map(|a| {
                let mut x = smooth.clone();
                x.extend([*a, 4096f64.ln()]);
                x
            })
            .collect()
    } else {
        vec![smooth]
    };
    starts
        .into_iter()
        .map(|x0| gemm_from(&minimize(x0, |x| loss(&gemm_from(x)))))
        .map(|g| (loss(&g), g))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .expect("at least one start")
        .1
}

/// Fit a GEMM curve on `(m, n, k, ms)` points (mean absolute log-ratio).
pub fn fit_gemm(points: &[GemmPoint], r: &Roofline) -> Fitted<GemmFit> {
    let fit = fit_gemm_with(r, |g| {
        log_loss(points.iter().map(|&(m, n, k, ms)| (g.ms(r, m, n, k), ms)))
    });
    Fitted {
        quality: quality(points.iter().map(|&(m, n, k, ms)| (fit.ms(r, m, n, k), ms))),
        fit,
    }
}

/// Fit a GEMM curve on grouped points (one group per profiled file and operator): minimizes
/// the 4-norm of the groups' MAPEs, so no model's operator is sacrificed to the others. Groups
/// only weigh the rows; every coefficient is shared by all models.
pub fn fit_gemm_grouped(points: &[(usize, GemmPoint)], r: &Roofline) -> Fitted<GemmFit> {
    let groups = points.iter().map(|(g, _)| g + 1).max().unwrap_or(0);
    let fit = fit_gemm_with(r, |g| {
        let mut sum = vec![(0.0, 0.0); groups];
        for &(i, (m, n, k, ms)) in points {
            sum[i].0 += (g.ms(r, m, n, k) / ms - 1.0).abs();
            sum[i].1 += 1.0;
        }
        let mapes: Vec<f64> = sum
            .iter()
            .filter(|(_, c)| *c > 0.0)
            .map(|(e, c)| e / c)
            .collect();
        (mapes.iter().map(|e| e.powi(4)).sum::<f64>() / mapes.len().max(1) as f64).powf(0.25)
    });
    Fitted {
        quality: quality(
            points
                .iter()
                .map(|&(_, (m, n, k, ms))| (fit.ms(r, m, n, k), ms)),
        ),
        fit,
    }
}

fn prefill_from(x: &[f64]) -> PrefillFit {
    PrefillFit {
        t0_us: x[0].exp(),
        compute_eff: x[1].exp(),
        len_half: x[2].exp(),
        occ_half: x[3].exp(),
        mem_eff: x[4].exp(),
        smooth: 1.0 + x[5].exp(),
        per_head_ns: x[6].exp(),
        softmax_dim: x[7].exp(),
    }
}

/// Prefill time of a measured row (`batch` sequences of `len` tokens, no cache).
pub fn prefill_row_ms(f: &PrefillFit, r: &Roofline, a: &AttnRow) -> f64 {
    let h = a.heads();
    let mut one = PrefillSums::default();
    f.add(&mut one, &h, a.len as f64, 0.0);
    let b = a.batch as f64;
    let s = PrefillSums {
        weighted_flops: one.weighted_flops * b,
        tiles: one.tiles * b,
        bytes: one.bytes * b,
        head_seqs: one.head_seqs * b,
    };
    f.ms(r, &s)
}

/// Fit prefill attention.
pub fn fit_prefill(rows: &[AttnRow], r: &Roofline) -> Fitted<PrefillFit> {
    // The softmax term only shows between head sizes; with one head size it would drift
    // unconstrained, so it is held at 0 (no head-size effect).
    let head_sizes: std::collections::BTreeSet<u32> = rows.iter().map(|a| a.head_dim).collect();
    let fit_softmax = head_sizes.len() > 1;
    let from = |x: &[f64]| {
        let mut f = prefill_from(x);
        if !fit_softmax {
            f.softmax_dim = 0.0;
        }
        f
    };
    let loss = |x: &[f64]| {
        let f = from(x);
        log_loss(rows.iter().map(|a| (prefill_row_ms(&f, r, a), a.ms)))
    };
    let x0 = vec![
        10f64.ln(),
        0.5f64.ln(),
        64f64.ln(),
        100f64.ln(),
        0.5f64.ln(),
        2f64.ln(),
        10f64.ln(),
        16f64.ln(),
    ];
    let fit = from(&minimize(x0, loss));
    Fitted {
        quality: quality(rows.iter().map(|a| (prefill_row_ms(&fit, r, a), a.ms))),
        fit,
    }
}

fn decode_from(x: &[f64]) -> DecodeFit {
    DecodeFit {
        t0_us: x[0].exp(),
        per_seq_us: x[1].exp(),
        mem_eff: x[2].exp(),
        occ_half: x[3].exp(),
        compute_eff: x[4].exp(),
        smooth: 1.0 + x[5].exp(),
        per_head_ns: x[6].exp(),
        split_tokens: x[7].exp(),
        mha_split_tokens: x[8].exp(),
        mha_t0_us: x.get(9).map(|t| t.exp()),
    }
}

/// Decode time of a measured row (`batch` sequences each attending to `len` tokens).
pub fn decode_row_ms(f: &DecodeFit, r: &Roofline, a: &AttnRow) -> f64 {
    let h = a.heads();
    let mut one = DecodeSums::default();
    f.add(&mut one, &h, a.len as f64);
    let b = a.batch as f64;
    let s = DecodeSums {
        seqs: b,
        kv_tokens: one.kv_tokens * b,
        work: one.work * b,
        head_seqs: one.head_seqs * b,
    };
    f.ms(r, &h, &s)
}

/// Fit decode attention.
pub fn fit_decode(rows: &[AttnRow], r: &Roofline) -> Fitted<DecodeFit> {
    // The MHA kernel's own partition size and latency only show beside GQA rows; without both
    // kinds they would drift unconstrained, so MHA then shares the GQA coefficients.
    let mha_rows = rows.iter().filter(|a| a.q_heads == a.kv_heads).count();
    let separate_mha = mha_rows > 0 && mha_rows < rows.len();
    let from = |x: &[f64]| {
        let mut f = decode_from(x);
        if !separate_mha {
            f.mha_split_tokens = f.split_tokens;
            f.mha_t0_us = None;
        }
        f
    };
    let loss = |x: &[f64]| {
        let f = from(x);
        log_loss(rows.iter().map(|a| (decode_row_ms(&f, r, a), a.ms)))
    };
    let x0 = vec![
        5f64.ln(),
        0.05f64.ln(),
        0.7f64.ln(),
        100f64.ln(),
        0.3f64.ln(),
        2f64.ln(),
        10f64.ln(),
        512f64.ln(),
        512f64.ln(),
        5f64.ln(),
    ];
    // Start once with MHA split like GQA and once unsplit: whether a kernel splits is a jump
    // Nelder–Mead would not cross by itself.
    let mut unsplit = x0.clone();
    unsplit[8] = 1e7f64.ln();
    let fit = [x0, unsplit]
        .into_iter()
        .map(|x| minimize(x, loss))
        .min_by(|a, b| loss(a).total_cmp(&loss(b)))
        .map(|x| from(&x))
        .expect("two starts");
    Fitted {
        quality: quality(rows.iter().map(|a| (decode_row_ms(&fit, r, a), a.ms))),
        fit,
    }
}

/// Relative least squares for `ms ≈ a + b·x`: minimizes Σ((a + b·x)/y − 1)², with `a ≥ 0`.
fn relative_linear(points: &[(f64, f64)]) -> (f64, f64) {
    let (mut s11, mut s12, mut s22, mut r1, mut r2) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(x, y) in points {
        let (u, v) = (1.0 / y, x / y);
        s11 += u * u;
        s12 += u * v;
        s22 += v * v;
        r1 += u;
        r2 += v;
    }
    let det = s11 * s22 - s12 * s12;
    let (a, b) = if det.abs() > 1e-300 {
        ((r1 * s22 - r2 * s12) / det, (s11 * r2 - s12 * r1) / det)
    } else {
        (0.0, r2 / s22)
    };
    if a < 0.0 || b <= 0.0 {
        // Fall back to the better single-term model.
        let b_only = r2 / s22;
        let a_only = r1 / s11;
        let e_b: f64 = points
            .iter()
            .map(|&(x, y)| (b_only * x / y - 1.0).powi(2))
            .sum();
        let e_a: f64 = points
            .iter()
            .map(|&(_, y)| (a_only / y - 1.0).powi(2))
            .sum();
        return if e_b <= e_a || b > 0.0 && a < 0.0 {
            (0.0, b_only.max(1e-30))
        } else {
            (a_only, 1e-30)
        };
    }
    (a, b)
}

/// Fit `ms = t0 + bytes / (bw · eff)` on `(bytes, ms)` points.
pub fn fit_elementwise(points: &[(f64, f64)], r: &Roofline) -> Fitted<ElementwiseFit> {
    let (a_ms, b_ms_per_byte) = relative_linear(points);
    let fit = ElementwiseFit {
        t0_us: a_ms * 1e3,
        mem_eff: 1.0 / (b_ms_per_byte * 1e-3 * r.mem_bw),
    };
    Fitted {
        quality: quality(points.iter().map(|&(b, ms)| (fit.ms(r, b), ms))),
        fit,
    }
}

fn linear_regime(points: &[(f64, f64)]) -> (f64, f64) {
    let (a_ms, b) = relative_linear(points);
    (a_ms * 1e3, 1.0 / (b * 1e-3) / 1e9)
}

/// Fit a collective on `(bytes, ms)` points: one regime, or two split at the measured size
/// that minimizes the error.
pub fn fit_collective(points: &[(f64, f64)]) -> Fitted<CollectiveFit> {
    let mut pts = points.to_vec();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (lat, bw) = linear_regime(&pts);
    let mut best = CollectiveFit::linear(lat, bw);
    let err = |f: &CollectiveFit| log_loss(pts.iter().map(|&(b, ms)| (f.ms(b), ms)));
    let mut best_err = err(&best);
    for split in 3..pts.len().saturating_sub(2) {
        if pts[split - 1].0 == pts[split].0 {
            continue;
        }
        let (l1, b1) = linear_regime(&pts[..split]);
        let (l2, b2) = linear_regime(&pts[split..]);
        let f = CollectiveFit {
            small_lat_us: l1,
            small_bw_gbps: b1,
            threshold_bytes: Some(pts[split - 1].0),
            large_lat_us: l2,
            large_bw_gbps: b2,
        };
        let e = err(&f);
        if e < best_err * 0.8 {
            best = f;
            best_err = e;
        }
    }
    Fitted {
        quality: quality(pts.iter().map(|&(b, ms)| (best.ms(b), ms))),
        fit: best,
    }
}

/// A device's identity for calibration: catalog name, architecture and peaks.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceFrame {
    /// Catalog name the fits are stored under.
    pub name: String,
    /// Architecture.
    pub arch: String,
    /// Peaks the efficiencies are relative to.
    pub roofline: Roofline,
    /// Intra-node link bandwidth per GPU per direction, GB/s.
    pub intra_node_bw_gbps: f64,
}

impl DeviceFrame {
    /// The frame of a catalog GPU, stored under `name`.
    pub fn from_catalog(g: &GpuSpec, name: &str) -> Self {
        DeviceFrame {
            name: name.to_ascii_lowercase(),
            arch: g.architecture.name().to_string(),
            roofline: Roofline::of_gpu(g),
            intra_node_bw_gbps: g.intra_node_bandwidth_gb_per_s,
        }
    }

    /// The frame of a GPU of the embedded catalog; `None` for names the catalog does not know.
    pub fn embedded(name: &str) -> Option<Self> {
        let cat = HardwareCatalog::embedded();
        let g = cat.gpu(name).ok()?;
        Some(Self::from_catalog(g, name))
    }
}

/// Architecture from an NVIDIA SM version.
pub fn arch_of_sm(sm: u32) -> &'static str {
    match sm {
        70..=79 => "volta",
        80..=88 => "ampere",
        89 => "ada",
        90..=99 => "hopper",
        100..=129 => "blackwell",
        _ => "unknown",
    }
}

/// Catalog name of a kernel folder (`h100_sxm` → `h100`).
pub fn gpu_name_of_folder(folder: &str) -> String {
    let f = folder.to_ascii_lowercase();
    for suffix in ["_sxm", "_pcie", "_nvl", "_oam"] {
        if let Some(s) = f.strip_suffix(suffix) {
            return s.to_string();
        }
    }
    f
}

/// GEMM points of a Vidur mlp.csv's four projections (head size `E / Hq`, as in every model
/// Vidur profiles).
pub fn mlp_gemm_points(p: &MlpProfile) -> Vec<(TokenOp, GemmPoint)> {
    let mut out = Vec::new();
    for row in &p.rows {
        let shape = shape_of_row(&row.shape, row.tp);
        for (i, op) in TokenOp::ALL.iter().enumerate() {
            if let (Some((m, n, k)), Some(ms)) =
                (shape.gemm(*op, row.num_tokens as f64), row.median_ms[i])
            {
                if ms > 0.0 {
                    out.push((*op, (m, n, k, ms)));
                }
            }
        }
    }
    out
}

/// The layer shape a Vidur mlp.csv row describes.
pub fn shape_of_row(s: &crate::predictor::measured::MlpShape, tp: u32) -> LayerShape {
    LayerShape::new(
        s.n_head,
        s.n_kv_head,
        s.n_embd,
        s.n_expanded_embd,
        s.n_embd / s.n_head.max(1),
        s.use_gated_mlp,
        s.vocab_size,
        tp,
    )
}

/// `(kind, bytes, ms)` points of a Vidur mlp.csv's memory-bound ops.
pub fn mlp_elementwise_points(p: &MlpProfile) -> Vec<(TokenOp, usize, f64, f64)> {
    let mut out = Vec::new();
    for row in &p.rows {
        let shape = shape_of_row(&row.shape, row.tp);
        for (i, op) in TokenOp::ALL.iter().enumerate() {
            if let (Some((kind, bytes)), Some(ms)) = (
                shape.elementwise(*op, row.num_tokens as f64),
                row.median_ms[i],
            ) {
                if ms > 0.0 && *op != TokenOp::AttnKvCacheSave {
                    out.push((*op, kind, bytes, ms));
                }
            }
        }
    }
    out
}

/// Kernel-table fits for one GPU with `sms` SMs (0: unknown).
pub fn fit_kernels(k: &KernelSet, sms: f64) -> SourceFits {
    let r = Roofline {
        flops: k.system.bf16_flops,
        mem_bw: k.system.mem_bw,
        sms,
    };
    // LLM layers never have n or k below 256 per device; the grid's tiny edges would only
    // pull the curve away from the shapes that matter.
    let gemm: Vec<GemmPoint> = k
        .gemm
        .iter()
        .filter(|g| g.n >= 256 && g.k >= 256 && g.ms > 0.0)
        .map(|g| (g.m as f64, g.n as f64, g.k as f64, g.ms))
        .collect();
    let mut fits = SourceFits::default();
    if !gemm.is_empty() {
        fits.gemm = Some(fit_gemm(&gemm, &r));
    }
    let prefill: Vec<AttnRow> = k.prefill.iter().filter(|a| a.ms > 0.0).copied().collect();
    if !prefill.is_empty() {
        fits.prefill = Some(fit_prefill(&prefill, &r));
    }
    let decode: Vec<AttnRow> = k.decode.iter().filter(|a| a.ms > 0.0).copied().collect();
    if !decode.is_empty() {
        fits.decode = Some(fit_decode(&decode, &r));
    }
    let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for a in &k.allreduce {
        groups
            .entry(format!("{}/{}", a.num_gpus, a.backend))
            .or_default()
            .push((a.bytes, a.ms));
    }
    for (key, pts) in groups {
        fits.allreduce.insert(key, fit_collective(&pts));
    }
    fits
}

/// The `fp8` rows of a kernel folder's `gemm.csv` as fit points (`n`, `k` ≥ 256 as for BF16).
/// `fp8` is per-tensor scaled E4M3 (TRT-LLM's and vLLM's FP8 checkpoints); the table's
/// `fp8_block` rows (128×128 block scales) are another kernel and are not used.
pub fn fp8_gemm_points(dir: &Path) -> Result<Vec<GemmPoint>, PredictorError> {
    let path = dir.join("gemm.csv");
    let bad = |msg: String| PredictorError::Table {
        path: path.display().to_string(),
        msg,
    };
    let mut rdr = csv::Reader::from_path(&path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let header = rdr.headers().map_err(|e| bad(e.to_string()))?.clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(format!("missing column '{name}'")))
    };
    let idx = [
        col("gemm_dtype")?,
        col("m")?,
        col("n")?,
        col("k")?,
        col("latency_ms")?,
    ];
    let mut out = Vec::new();
    for (line, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        if rec.get(idx[0]) != Some("fp8") {
            continue;
        }
        let mut v = [0.0; 4];
        for (j, name) in ["m", "n", "k", "latency_ms"].iter().enumerate() {
            let cell = rec.get(idx[j + 1]).unwrap_or("").trim();
            v[j] = cell
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x > 0.0)
                .ok_or_else(|| {
                    bad(format!(
                        "line {}: column '{name}': expected a number > 0, found '{cell}'",
                        line + 2
                    ))
                })?;
        }
        let [m, n, k, ms] = v;
        if n >= 256.0 && k >= 256.0 {
            out.push((m, n, k, ms));
        }
    }
    Ok(out)
}

/// The FP8 GEMM fit of a kernel folder, relative to its `system.yaml` FP8 peak; `None` when
/// the GPU has no FP8 peak or the table no `fp8` rows (A100).
pub fn fit_kernels_fp8(k: &KernelSet, sms: f64) -> Result<Option<Fitted<GemmFit>>, PredictorError> {
    let Some(fp8_flops) = k.system.fp8_flops else {
        return Ok(None);
    };
    let pts = fp8_gemm_points(&k.dir)?;
    if pts.is_empty() {
        return Ok(None);
    }
    let r = Roofline {
        flops: fp8_flops,
        mem_bw: k.system.mem_bw,
        sms,
    };
    Ok(Some(fit_gemm_fp8(&pts, &r)))
}

/// Fit an FP8 GEMM curve on `(m, n, k, ms)` points, `r.flops` the FP8 peak (mean absolute
/// log-ratio, the BF16 curve's form with FP8 bytes).
pub fn fit_gemm_fp8(points: &[GemmPoint], r: &Roofline) -> Fitted<GemmFit> {
    let fit = fit_gemm_with(r, |g| {
        log_loss(
            points
                .iter()
                .map(|&(m, n, k, ms)| (g.ms_fp8(r, m, n, k), ms)),
        )
    });
    Fitted {
        quality: quality(
            points
                .iter()
                .map(|&(m, n, k, ms)| (fit.ms_fp8(r, m, n, k), ms)),
        ),
        fit,
    }
}

/// GEMM points of mlp.csv files, grouped by (file, operator).
pub fn vidur_gemm_points(profiles: &[&MlpProfile]) -> Vec<(usize, GemmPoint)> {
    let ops = TokenOp::ALL.len();
    profiles
        .iter()
        .enumerate()
        .flat_map(|(f, p)| {
            mlp_gemm_points(p)
                .into_iter()
                .map(move |(op, g)| (f * ops + op as usize, g))
        })
        .collect()
}

/// Vidur-profile fits for one device from all its mlp.csv files.
pub fn fit_vidur_device(profiles: &[&MlpProfile], r: &Roofline) -> SourceFits {
    let mut fits = SourceFits::default();
    let gemm = vidur_gemm_points(profiles);
    if !gemm.is_empty() {
        fits.gemm = Some(fit_gemm_grouped(&gemm, r));
    }
    let mut kinds: BTreeMap<usize, Vec<(f64, f64)>> = BTreeMap::new();
    for p in profiles {
        for (_, kind, bytes, ms) in mlp_elementwise_points(p) {
            kinds.entry(kind).or_default().push((bytes, ms));
        }
    }
    for (kind, pts) in kinds {
        fits.elementwise.insert(
            super::calibration::ELEMENTWISE_KINDS[kind].to_string(),
            fit_elementwise(&pts, r),
        );
    }
    fits
}

/// Fit everything found under `kernels` and `profiles`. `frame` names a Vidur device
/// (`a100`) or a kernel folder's GPU and gives its architecture and peaks.
pub fn calibrate(
    kernels: &[KernelSet],
    profiles: &ProfileSet,
    frame: impl Fn(&str) -> Option<DeviceFrame>,
    generated_by: &str,
    version: &str,
) -> Result<Calibration, PredictorError> {
    let mut gpus: BTreeMap<String, GpuCalibration> = BTreeMap::new();
    for k in kernels {
        let name = gpu_name_of_folder(&k.gpu);
        let f = frame(&name);
        let sms = f.as_ref().map_or(0.0, |f| f.roofline.sms);
        let arch = f
            .map(|f| f.arch)
            .unwrap_or_else(|| arch_of_sm(k.system.sm_version.unwrap_or(0)).to_string());
        let entry = gpus.entry(name.clone()).or_insert_with(|| GpuCalibration {
            arch,
            roofline: Roofline {
                flops: k.system.bf16_flops,
                mem_bw: k.system.mem_bw,
                sms,
            },
            fp8_flops: k.system.fp8_flops,
            intra_node_bw_gbps: k.system.intra_node_bw / 1e9,
            sources: BTreeMap::new(),
        });
        let mut fits = fit_kernels(k, sms);
        fits.gemm_fp8 = fit_kernels_fp8(k, sms)?;
        entry.sources.insert(source::KERNELS.to_string(), fits);
    }
    let mut by_device: BTreeMap<&str, Vec<&MlpProfile>> = BTreeMap::new();
    for p in &profiles.mlp {
        by_device.entry(p.device.as_str()).or_default().push(p);
    }
    for (device, ps) in by_device {
        let entry = match gpus.get(device) {
            Some(g) => g.clone(),
            None => {
                let f = frame(device).ok_or_else(|| PredictorError::Table {
                    path: ps[0].path.display().to_string(),
                    msg: format!(
                        "device '{device}' is not in the hardware catalog and has no kernel folder with a system.yaml; its peak FLOP/s and bandwidth are unknown"
                    ),
                })?;
                GpuCalibration {
                    arch: f.arch,
                    roofline: f.roofline,
                    fp8_flops: None,
                    intra_node_bw_gbps: f.intra_node_bw_gbps,
                    sources: BTreeMap::new(),
                }
            }
        };
        let mut entry = entry;
        let fits = fit_vidur_device(&ps, &entry.roofline);
        entry.sources.insert(source::VIDUR.to_string(), fits);
        gpus.insert(device.to_string(), entry);
    }
    let mut network: BTreeMap<String, NetworkCalibration> = BTreeMap::new();
    for n in &profiles.network {
        let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for r in n.rows.iter().filter(|r| r.ms > 0.0) {
            groups
                .entry(format!("{}/{}", r.num_workers, r.devices_per_node))
                .or_default()
                .push((r.bytes, r.ms));
        }
        let entry = network.entry(n.sku.clone()).or_default();
        let map = if n.collective == "all_reduce" {
            &mut entry.all_reduce
        } else {
            &mut entry.send_recv
        };
        for (key, pts) in groups {
            map.insert(key, fit_collective(&pts));
        }
    }
    Ok(Calibration {
        version: version.to_string(),
        generated_by: generated_by.to_string(),
        gpus,
        network,
        // Overheads are fitted on top of these kernel fits by `calibrate`, afterwards.
        serving: None,
    })
}

/// Load both folders (either may be absent) and calibrate.
pub fn calibrate_dirs(
    kernels: Option<&Path>,
    profiles: Option<&Path>,
    frame: impl Fn(&str) -> Option<DeviceFrame>,
    generated_by: &str,
    version: &str,
) -> Result<Calibration, PredictorError> {
    let k = match kernels {
        Some(p) => KernelSet::load_all(p)?,
        None => Vec::new(),
    };
    let pr = match profiles {
        Some(p) => ProfileSet::load(p)?,
        None => ProfileSet::default(),
    };
    calibrate(&k, &pr, frame, generated_by, version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_linear_recovers_a_line() {
        let pts: Vec<(f64, f64)> = (1..50).map(|i| (i as f64, 3.0 + 0.5 * i as f64)).collect();
        let (a, b) = relative_linear(&pts);
        assert!((a - 3.0).abs() < 1e-9 && (b - 0.5).abs() < 1e-9, "{a} {b}");
    }

    #[test]
    fn decode_without_mha_rows_shares_the_gqa_coefficients() {
        let r = Roofline {
            flops: 1e15,
            mem_bw: 2e12,
            sms: 0.0,
        };
        // GQA rows only: 10 µs plus the KV read at 1.5 TB/s.
        let rows: Vec<AttnRow> = [1u32, 8, 64]
            .iter()
            .flat_map(|&batch| {
                [64u32, 1024, 16384].map(move |len| AttnRow {
                    batch,
                    len,
                    q_heads: 32,
                    kv_heads: 8,
                    head_dim: 128,
                    ms: 0.01 + (batch * len) as f64 * 4.0 * 8.0 * 128.0 / 1.5e12 * 1e3,
                })
            })
            .collect();
        let f = fit_decode(&rows, &r).fit;
        assert_eq!(f.mha_t0_us, None);
        assert_eq!(f.mha_split_tokens, f.split_tokens);
    }

    #[test]
    fn collective_finds_the_regime_switch() {
        // 5 µs + 200 GB/s up to 8 MiB, then 50 µs + 180 GB/s.
        let pts: Vec<(f64, f64)> = (10..28)
            .map(|p| {
                let b = (1u64 << p) as f64;
                let ms = if b <= 8.0 * 1048576.0 {
                    (5e-6 + b / 200e9) * 1e3
                } else {
                    (50e-6 + b / 180e9) * 1e3
                };
                (b, ms)
            })
            .collect();
        let f = fit_collective(&pts);
        assert!(f.quality.mape_pct < 0.01, "{f:?}");
        assert_eq!(f.fit.threshold_bytes, Some(8.0 * 1048576.0));
    }

    #[test]
    fn gemm_fit_recovers_its_generator() {
        let r = Roofline {
            flops: 312e12,
            mem_bw: 2.0e12,
            sms: 0.0,
        };
        let truth = GemmFit {
            t0_us: 6.0,
            compute_eff: 0.75,
            mem_eff: 0.8,
            m_half: 20.0,
            n_half: 300.0,
            k_half: 100.0,
            smooth: 3.0,
            wave_exp: 0.0,
            tile_cost: 0.0,
        };
        let mut pts = Vec::new();
        for m in [1.0, 16.0, 64.0, 256.0, 1024.0, 4096.0] {
            for n in [512.0, 4096.0, 16384.0] {
                for k in [512.0, 4096.0, 11008.0] {
                    pts.push((m, n, k, truth.ms(&r, m, n, k)));
                }
            }
        }
        let f = fit_gemm(&pts, &r);
        assert!(f.quality.mape_pct < 1.0, "{f:?}");
    }
}
