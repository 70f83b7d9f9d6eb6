//! `predictor-accuracy`: the analytic predictor against measured data, per operator, GPU,
//! model, TP degree and token range.

use std::collections::BTreeMap;
use std::path::Path;

use super::analytic::calibration::{source, Calibration, GpuCalibration};
use super::analytic::curves::Roofline;
use super::analytic::fit::{arch_of_sm, gpu_name_of_folder, percentile, shape_of_row, DeviceFrame};
use super::analytic::{AnalyticOptions, AnalyticPredictor, GpuInfo, LayerShape};
use super::compose::TokenOp;
use super::measured::{KernelSet, ProfileSet};
use super::PredictorError;
use crate::catalog::HardwareCatalog;

/// One prediction next to its measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// `kernels` or `vidur`.
    pub source: &'static str,
    /// GPU (or Vidur device / network SKU).
    pub gpu: String,
    /// Model (`-` for kernel tables).
    pub model: String,
    /// TP degree (GPUs for collectives; 1 for single-GPU kernels).
    pub tp: u32,
    /// Operator.
    pub op: String,
    /// Token count the row stands for (GEMM `m`, attention batch × length, collective tokens).
    pub tokens: u64,
    /// Predicted ms.
    pub predicted_ms: f64,
    /// Measured ms.
    pub measured_ms: f64,
}

/// One line of `accuracy.csv`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AccuracyRow {
    /// `kernels` or `vidur`.
    pub source: String,
    /// GPU or `all`.
    pub gpu: String,
    /// Model or `all`.
    pub model: String,
    /// TP degree or `all`.
    pub tp: String,
    /// Operator.
    pub op: String,
    /// Token range (`1-31`, `32-255`, `256-1023`, `1024+`, `32+` or `all`).
    pub tokens: String,
    /// Rows.
    pub n: usize,
    /// Mean absolute percentage error.
    pub mape_pct: f64,
    /// 90th-percentile absolute percentage error.
    pub p90_pct: f64,
    /// Mean signed error (positive: the predictor is slow).
    pub bias_pct: f64,
}

fn bucket(t: u64) -> &'static str {
    match t {
        0..=31 => "1-31",
        32..=255 => "32-255",
        256..=1023 => "256-1023",
        _ => "1024+",
    }
}

fn gpu_info_of_system(k: &KernelSet, cal: &Calibration) -> GpuInfo {
    let name = gpu_name_of_folder(&k.gpu);
    let frame = DeviceFrame::embedded(&name);
    let sms = frame
        .as_ref()
        .map(|f| f.roofline.sms)
        .or_else(|| cal.gpus.get(&name).map(|g| g.roofline.sms))
        .unwrap_or(0.0);
    let arch = frame
        .map(|f| f.arch)
        .or_else(|| cal.gpus.get(&name).map(|g| g.arch.clone()))
        .unwrap_or_else(|| arch_of_sm(k.system.sm_version.unwrap_or(0)).to_string());
    GpuInfo {
        name,
        arch,
        roofline: Roofline {
            flops: k.system.bf16_flops,
            mem_bw: k.system.mem_bw,
            sms,
        },
        fp8_flops: k.system.fp8_flops,
        intra_node_bw_gbps: k.system.intra_node_bw / 1e9,
        intra_node_latency_us: k.system.p2p_latency * 1e6,
        inter_node_bw_gbps: k.system.inter_node_bw / 1e9,
        gpus_per_node: k.system.num_gpus_per_node,
    }
}

fn opts(source: &str) -> AnalyticOptions {
    AnalyticOptions {
        source: Some(source.to_string()),
        ..Default::default()
    }
}

/// The cached value for `key`, built by `make` on first use.
fn cached<K: Ord, V, E>(
    map: &mut BTreeMap<K, V>,
    key: K,
    make: impl FnOnce() -> Result<V, E>,
) -> Result<&V, E> {
    use std::collections::btree_map::Entry;
    Ok(match map.entry(key) {
        Entry::Occupied(o) => o.into_mut(),
        Entry::Vacant(v) => v.insert(make()?),
    })
}

/// A shape with no model: kernel tables give their own dimensions.
fn unit_shape() -> LayerShape {
    LayerShape::new(1, 1, 1, 1, 1, false, 1, 1)
}

/// Predict every row of kernel-table folders. GPUs are taken from each folder's
/// `system.yaml`, so folders for GPUs outside the catalog work too.
pub fn kernel_samples(
    sets: &[KernelSet],
    cal: &Calibration,
    source: &str,
) -> Result<Vec<Sample>, PredictorError> {
    let mut out = Vec::new();
    for k in sets {
        let gpu = gpu_info_of_system(k, cal);
        let p = AnalyticPredictor::new(unit_shape(), &gpu, 1, 1, cal, opts(source))?;
        let mut push = |op: &str, tp: u32, tokens: u64, pred: f64, meas: f64| {
            out.push(Sample {
                source: "kernels",
                gpu: gpu.name.clone(),
                model: "-".into(),
                tp,
                op: op.into(),
                tokens,
                predicted_ms: pred,
                measured_ms: meas,
            })
        };
        for g in k.gemm.iter().filter(|g| g.n >= 256 && g.k >= 256) {
            let pred = p.gemm_ms(g.m as f64, g.n as f64, g.k as f64);
            push("gemm", 1, g.m as u64, pred, g.ms);
        }
        // Attention rows are priced by the same closed forms the simulator sums per batch.
        for a in &k.prefill {
            let pred = p.prefill_ms(a);
            push("attn_prefill", 1, a.batch as u64 * a.len as u64, pred, a.ms);
        }
        for a in &k.decode {
            let pred = p.decode_ms(a);
            push("attn_decode", 1, a.batch as u64, pred, a.ms);
        }
        let mut by_n: BTreeMap<u32, AnalyticPredictor> = BTreeMap::new();
        for a in &k.allreduce {
            cached(&mut by_n, a.num_gpus, || {
                AnalyticPredictor::new(unit_shape(), &gpu, a.num_gpus, 1, cal, opts(source))
            })?;
            let graph = match a.backend.as_str() {
                "vllm_graph" => true,
                "vllm_eager" => false,
                _ => continue,
            };
            let pred = by_n[&a.num_gpus].all_reduce_bytes_ms(a.bytes, graph);
            push(
                &format!("all_reduce/{}", a.backend),
                a.num_gpus,
                (a.bytes / 2.0) as u64,
                pred,
                a.ms,
            );
        }
    }
    Ok(out)
}

/// Predict every op of every mlp.csv row, and every network row, of a Vidur profile folder.
/// Models come from the mlp.csv shape columns; devices from the hardware catalog.
pub fn profile_samples(
    set: &ProfileSet,
    cal: &Calibration,
    hw: &HardwareCatalog,
    source: &str,
) -> Result<Vec<Sample>, PredictorError> {
    let mut out = Vec::new();
    let gpu_of = |device: &str, path: &Path| -> Result<GpuInfo, PredictorError> {
        let g = hw.gpu(device).map_err(|e| PredictorError::Table {
            path: path.display().to_string(),
            msg: format!("{e} (add the GPU with --hardware FILE)"),
        })?;
        let per_node = hw
            .default_node_for(device)
            .map(|n| n.num_gpus_per_node)
            .unwrap_or(8);
        Ok(GpuInfo::from_catalog(g, per_node, cal))
    };
    for p in &set.mlp {
        let gpu = gpu_of(&p.device, &p.path)?;
        let mut cache: BTreeMap<(super::measured::MlpShape, u32), AnalyticPredictor> =
            BTreeMap::new();
        for row in &p.rows {
            let key = (row.shape, row.tp);
            let pred = cached(&mut cache, key, || {
                let shape = shape_of_row(&row.shape, row.tp);
                AnalyticPredictor::new(shape, &gpu, row.tp, 1, cal, opts(source))
            })?;
            for (i, op) in TokenOp::ALL.iter().enumerate() {
                let Some(ms) = row.median_ms[i] else { continue };
                if ms <= 0.0 {
                    continue;
                }
                out.push(Sample {
                    source: "vidur",
                    gpu: gpu.name.clone(),
                    model: p.model.clone(),
                    tp: row.tp,
                    op: op.name().into(),
                    tokens: row.num_tokens as u64,
                    predicted_ms: pred.token_op(*op, row.num_tokens as f64),
                    measured_ms: ms,
                });
            }
        }
    }
    for n in &set.network {
        let device = n.sku.split('_').next().unwrap_or(&n.sku);
        let Ok(mut gpu) = gpu_of(device, &n.path) else {
            continue;
        };
        if let Ok(node) = hw.node(&n.sku) {
            gpu.gpus_per_node = node.num_gpus_per_node;
        }
        let mut by_n: BTreeMap<(u32, u32), AnalyticPredictor> = BTreeMap::new();
        for r in n.rows.iter().filter(|r| r.ms > 0.0) {
            let key = (r.num_workers, r.devices_per_node);
            let p = cached(&mut by_n, key, || {
                let mut g = gpu.clone();
                // devices_per_node < workers means the measurement crossed nodes.
                g.gpus_per_node = r.devices_per_node.max(1);
                let (tp, pp) = if n.collective == "all_reduce" {
                    (r.num_workers, 1)
                } else {
                    (1, r.num_workers)
                };
                let o = AnalyticOptions {
                    network: Some(n.sku.clone()),
                    ..opts(source)
                };
                AnalyticPredictor::new(unit_shape(), &g, tp, pp, cal, o)
            })?;
            let pred = if n.collective == "all_reduce" {
                p.all_reduce_bytes_ms(r.bytes, false)
            } else {
                p.send_recv_bytes_ms(r.bytes)
            };
            out.push(Sample {
                source: "vidur",
                gpu: n.sku.clone(),
                model: "-".into(),
                tp: r.num_workers,
                op: n.collective.clone(),
                tokens: (r.bytes / 2.0) as u64,
                predicted_ms: pred,
                measured_ms: r.ms,
            });
        }
    }
    Ok(out)
}

/// Group samples: per (gpu, model, TP), per (gpu, model), per GPU and overall, each by token bucket, `32+` and
/// `all`.
pub fn summarize(samples: &[Sample]) -> Vec<AccuracyRow> {
    type Key = (String, String, String, String, String, String);
    let mut groups: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    for s in samples {
        let err = (s.predicted_ms - s.measured_ms) / s.measured_ms * 100.0;
        let tp = s.tp.to_string();
        let scopes = [
            (s.gpu.as_str(), s.model.as_str(), tp.as_str()),
            (s.gpu.as_str(), s.model.as_str(), "all"),
            (s.gpu.as_str(), "all", "all"),
            ("all", "all", "all"),
        ];
        let mut ranges = vec![bucket(s.tokens), "all"];
        if s.tokens >= 32 {
            ranges.push("32+");
        }
        for (g, m, t) in scopes {
            for r in &ranges {
                groups
                    .entry((
                        s.source.to_string(),
                        g.to_string(),
                        m.to_string(),
                        t.to_string(),
                        s.op.clone(),
                        r.to_string(),
                    ))
                    .or_default()
                    .push(err);
            }
        }
    }
    groups
        .into_iter()
        .map(|((source, gpu, model, tp, op, tokens), errs)| {
            let mut abs: Vec<f64> = errs.iter().map(|e| e.abs()).collect();
            abs.sort_by(f64::total_cmp);
            let n = errs.len();
            AccuracyRow {
                source,
                gpu,
                model,
                tp,
                op,
                tokens,
                n,
                mape_pct: abs.iter().sum::<f64>() / n as f64,
                p90_pct: percentile(&abs, 0.9),
                bias_pct: errs.iter().sum::<f64>() / n as f64,
            }
        })
        .collect()
}

/// One line of `cross_validation.csv`: the Vidur-profile GEMM curve refitted without one
/// model, judged on that model's linear ops.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CrossValidationRow {
    /// Vidur device.
    pub gpu: String,
    /// The held-out model.
    pub model: String,
    /// Operator, or `all` for the four projections together.
    pub op: String,
    /// Rows (`num_tokens ≥ 32`, all TP degrees).
    pub n: usize,
    /// MAPE of the curve fitted on the device's other models.
    pub held_out_mape_pct: f64,
    /// MAPE of the curve fitted on all of the device's models (for comparison).
    pub fitted_mape_pct: f64,
}

/// Leave-one-model-out cross-validation of the Vidur-profile GEMM fit: for every device with
/// at least two mlp.csv files, refit the GEMM curve (as `calibrate-kernels` does for source
/// `vidur`) on the other models' files and measure MAPE on the held-out model's four
/// projections for `num_tokens ≥ 32`. Peaks and SM counts come from the hardware catalog.
pub fn cross_validate_gemm(
    set: &ProfileSet,
    hw: &HardwareCatalog,
) -> Result<Vec<CrossValidationRow>, PredictorError> {
    use super::analytic::fit::{fit_gemm_grouped, mlp_gemm_points, vidur_gemm_points};
    let mut by_device: BTreeMap<&str, Vec<&super::measured::MlpProfile>> = BTreeMap::new();
    for p in &set.mlp {
        by_device.entry(p.device.as_str()).or_default().push(p);
    }
    let mut out = Vec::new();
    for (device, files) in by_device {
        if files.len() < 2 {
            continue;
        }
        let g = hw.gpu(device).map_err(|e| PredictorError::Table {
            path: files[0].path.display().to_string(),
            msg: format!("{e} (add the GPU with --hardware FILE)"),
        })?;
        let r = DeviceFrame::from_catalog(g, device).roofline;
        let all = fit_gemm_grouped(&vidur_gemm_points(&files), &r).fit;
        for (i, held) in files.iter().enumerate() {
            let rest: Vec<&super::measured::MlpProfile> = files
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, p)| *p)
                .collect();
            let cv = fit_gemm_grouped(&vidur_gemm_points(&rest), &r).fit;
            let mut errs: BTreeMap<String, (f64, f64, usize)> = BTreeMap::new();
            for (op, (m, n, k, ms)) in mlp_gemm_points(held) {
                if m < 32.0 {
                    continue;
                }
                let e_cv = ((cv.ms(&r, m, n, k) - ms) / ms).abs() * 100.0;
                let e_all = ((all.ms(&r, m, n, k) - ms) / ms).abs() * 100.0;
                for key in [op.name().to_string(), "all".to_string()] {
                    let e = errs.entry(key).or_default();
                    e.0 += e_cv;
                    e.1 += e_all;
                    e.2 += 1;
                }
            }
            for (op, (cv_sum, all_sum, n)) in errs {
                out.push(CrossValidationRow {
                    gpu: device.to_string(),
                    model: held.model.clone(),
                    op,
                    n,
                    held_out_mape_pct: cv_sum / n as f64,
                    fitted_mape_pct: all_sum / n as f64,
                });
            }
        }
    }
    Ok(out)
}

/// One line of `leave_one_gpu_out.csv`: a GPU's kernel tables priced with no fit of its own,
/// from the other GPUs' fits through the spec-sheet path a GPU without measurements takes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GpuCrossValidationRow {
    /// The held-out GPU.
    pub gpu: String,
    /// The calibrated GPU each operator family's fit was borrowed from (`h100`), as the
    /// predictor's provenance names it.
    pub reference: String,
    /// Operator class, as in `accuracy.csv` (`gemm`, `attn_prefill`, `attn_decode`,
    /// `all_reduce/vllm_graph`, `all_reduce/vllm_eager`).
    pub op: String,
    /// Measured rows.
    pub n: usize,
    /// MAPE predicted from the other GPUs' fits and the held-out GPU's spec sheet.
    pub held_out_mape_pct: f64,
    /// 90th-percentile absolute error of the same.
    pub held_out_p90_pct: f64,
    /// Mean signed error of the same (positive: the predictor is slow).
    pub held_out_bias_pct: f64,
    /// MAPE with the GPU's own fits (for comparison).
    pub fitted_mape_pct: f64,
}

/// Add `base`'s non-kernel fits to `cal`. The predictor also needs
/// elementwise fits (norms, LM head sampling), which kernel tables do not hold; Vidur-profile
/// fits supply them. They price none of the kernel-table rows.
fn lend_other_sources(cal: &mut Calibration, base: &Calibration) {
    for (other, g) in &base.gpus {
        let e = cal
            .gpus
            .entry(other.clone())
            .or_insert_with(|| GpuCalibration {
                sources: BTreeMap::new(),
                ..g.clone()
            });
        for (src, fits) in g.sources.iter().filter(|(s, _)| *s != source::KERNELS) {
            e.sources.entry(src.clone()).or_insert_with(|| fits.clone());
        }
    }
}

/// Leave-one-GPU-out validation of the kernel-table fits: fit every GPU's tables as
/// `calibrate-kernels` does, then for each GPU drop its entry, so the predictor prices it as
/// a GPU without measurements (same architecture, else Hopper, then Ampere; the held-out
/// GPU's own spec-sheet peaks, SM count and link bandwidth), and judge it on its tables.
/// Each GPU's fits use only its own tables, so dropping the entry is the same as refitting on
/// the others. Peaks and SM counts come from each folder's `system.yaml` and the embedded
/// catalog, as in `calibrate-kernels`. `base` (the calibration in use) lends its non-kernel
/// fits, which the predictor needs but these rows never use; the held-out GPU's are dropped
/// with the rest of its entry.
pub fn cross_validate_gpus(
    sets: &[KernelSet],
    base: &Calibration,
) -> Result<Vec<GpuCrossValidationRow>, PredictorError> {
    use super::analytic::fit::calibrate;
    let mut full = calibrate(
        sets,
        &ProfileSet::default(),
        DeviceFrame::embedded,
        "predictor-accuracy --cross-validate",
        "leave-one-gpu-out",
    )?;
    lend_other_sources(&mut full, base);
    let has_kernels = |g: &GpuCalibration| g.sources.contains_key(source::KERNELS);
    let class_mape = |samples: &[Sample]| -> BTreeMap<String, AccuracyRow> {
        summarize(samples)
            .into_iter()
            .filter(|r| r.gpu != "all" && r.model == "all" && r.tokens == "all")
            .map(|r| (r.op.clone(), r))
            .collect()
    };
    let mut out = Vec::new();
    for held in sets {
        let name = gpu_name_of_folder(&held.gpu);
        let fitted = class_mape(&kernel_samples(
            std::slice::from_ref(held),
            &full,
            source::KERNELS,
        )?);
        let mut rest = full.clone();
        rest.gpus.remove(&name);
        if !rest.gpus.values().any(has_kernels) {
            continue;
        }
        let gpu = gpu_info_of_system(held, &rest);
        // Every GPU here has every family fitted, so one reference serves them all.
        let reference = rest
            .reference(&gpu.name, &gpu.arch, has_kernels)
            .map_or("-", |(n, _)| n)
            .to_string();
        let held_out = class_mape(&kernel_samples(
            std::slice::from_ref(held),
            &rest,
            source::KERNELS,
        )?);
        for (op, r) in held_out {
            out.push(GpuCrossValidationRow {
                gpu: name.clone(),
                reference: reference.clone(),
                fitted_mape_pct: fitted.get(&op).map_or(f64::NAN, |f| f.mape_pct),
                op,
                n: r.n,
                held_out_mape_pct: r.mape_pct,
                held_out_p90_pct: r.p90_pct,
                held_out_bias_pct: r.bias_pct,
            });
        }
    }
    Ok(out)
}

/// Write rows as CSV.
pub fn write_rows<T: serde::Serialize>(rows: &[T], path: &Path) -> Result<(), PredictorError> {
    let err = |e: &dyn std::fmt::Display| PredictorError::Table {
        path: path.display().to_string(),
        msg: e.to_string(),
    };
    let mut w = csv::Writer::from_path(path).map_err(|e| err(&e))?;
    for r in rows {
        w.serialize(r).map_err(|e| err(&e))?;
    }
    w.flush().map_err(|e| err(&e))?;
    Ok(())
}

/// Write `accuracy.csv`.
pub fn write_csv(rows: &[AccuracyRow], path: &Path) -> Result<(), PredictorError> {
    write_rows(rows, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(gpu: &str, op: &str, tokens: u64, pred: f64, meas: f64) -> Sample {
        Sample {
            source: "kernels",
            gpu: gpu.into(),
            model: "-".into(),
            tp: 1,
            op: op.into(),
            tokens,
            predicted_ms: pred,
            measured_ms: meas,
        }
    }

    #[test]
    fn summary_groups_and_errors() {
        let rows = summarize(&[
            s("a", "gemm", 8, 1.1, 1.0),
            s("a", "gemm", 64, 0.8, 1.0),
            s("b", "gemm", 64, 1.0, 1.0),
        ]);
        let find = |gpu: &str, tokens: &str| {
            rows.iter()
                .find(|r| r.gpu == gpu && r.model == "all" && r.tokens == tokens)
                .unwrap()
                .clone()
        };
        let all = find("all", "all");
        assert_eq!(all.n, 3);
        assert!((all.mape_pct - 10.0).abs() < 1e-9, "{all:?}");
        assert!((all.p90_pct - 20.0).abs() < 1e-9);
        assert!((all.bias_pct - (-10.0 / 3.0)).abs() < 1e-9);
        let big = find("all", "32+");
        assert_eq!(big.n, 2);
        assert!((big.mape_pct - 10.0).abs() < 1e-9);
        assert_eq!(find("a", "1-31").n, 1);
    }
}
