//! The calibration file: fitted curve coefficients per GPU and measurement source, written by
//! `vidur-search calibrate-kernels` and embedded in the binary from
//! `data/calibration/calibration.json`. It holds numbers only, never the measurements.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::curves::{CollectiveFit, DecodeFit, ElementwiseFit, GemmFit, PrefillFit, Roofline};
use crate::predictor::serving::ServingCalibration;
use crate::predictor::PredictorError;

/// The embedded default calibration's kernel fits (`calibrate-kernels`).
pub const EMBEDDED: &str = include_str!("../../../data/calibration/calibration.json");
/// The embedded default calibration's serving overheads per engine (`calibrate --serving-only`
/// on `../shared/data/measured/aic_silicon_dense.csv`).
pub const EMBEDDED_SERVING: &str = include_str!("../../../data/calibration/serving.json");

/// Where a fit's measurements came from.
pub mod source {
    /// vLLM kernel tables (`../shared/data/kernels`): CUDA-graph kernel latencies of a 2025
    /// vLLM stack.
    pub const KERNELS: &str = "kernels";
    /// Vidur's PyTorch-eager profiles (`../shared/data/vidur-profiling`, 2024).
    pub const VIDUR: &str = "vidur";
}

/// Fit quality on the rows it was fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitQuality {
    /// Rows used.
    pub n: usize,
    /// Mean absolute percentage error.
    pub mape_pct: f64,
    /// 90th-percentile absolute percentage error.
    pub p90_pct: f64,
}

/// A fit with its quality.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fitted<T> {
    /// Coefficients.
    #[serde(flatten)]
    pub fit: T,
    /// Quality on the fitting rows.
    pub quality: FitQuality,
}

/// Elementwise kernel kinds Vidur profiles (`kv_save` and `embedding` reuse `add`, a pure copy).
pub const ELEMENTWISE_KINDS: [&str; 4] = ["norm", "act", "rope", "add"];

/// All fits for one measurement source on one GPU.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFits {
    /// BF16 GEMM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gemm: Option<Fitted<GemmFit>>,
    /// FP8 GEMM (per-tensor scaled E4M3 inputs, BF16 output), relative to the FP8 peak
    /// ([`GpuCalibration::fp8_flops`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gemm_fp8: Option<Fitted<GemmFit>>,
    /// Prefill attention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill: Option<Fitted<PrefillFit>>,
    /// Decode attention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode: Option<Fitted<DecodeFit>>,
    /// Elementwise kinds (`norm`, `act`, `rope`, `add`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub elementwise: BTreeMap<String, Fitted<ElementwiseFit>>,
    /// All-reduce by GPU count and backend, keyed `"<n>/<backend>"` (e.g. `"4/vllm_graph"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub allreduce: BTreeMap<String, Fitted<CollectiveFit>>,
}

/// One GPU's calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuCalibration {
    /// Architecture (`ampere`, `hopper`, ...), used to pick a reference for GPUs without data.
    pub arch: String,
    /// The peaks the efficiencies are relative to.
    pub roofline: Roofline,
    /// Dense FP8 FLOP/s the FP8 fits are relative to (absent: no FP8 tensor cores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp8_flops: Option<f64>,
    /// Intra-node link bandwidth per GPU per direction, GB/s (scales borrowed collectives).
    pub intra_node_bw_gbps: f64,
    /// Fits by source (`kernels`, `vidur`).
    pub sources: BTreeMap<String, SourceFits>,
}

/// Point-to-point and all-reduce fits of one Vidur network SKU.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkCalibration {
    /// All-reduce by `"<workers>/<devices_per_node>"`.
    #[serde(default)]
    pub all_reduce: BTreeMap<String, Fitted<CollectiveFit>>,
    /// Send/recv by `"<workers>/<devices_per_node>"`.
    #[serde(default)]
    pub send_recv: BTreeMap<String, Fitted<CollectiveFit>>,
}

/// The calibration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// Version string recorded in outputs.
    pub version: String,
    /// The command and data that produced it.
    pub generated_by: String,
    /// GPUs by catalog name (`a100`, `h100`, `h200`, `a40`).
    pub gpus: BTreeMap<String, GpuCalibration>,
    /// Vidur network SKUs (`a100_dgx`, ...).
    #[serde(default)]
    pub network: BTreeMap<String, NetworkCalibration>,
    /// Serving overheads per engine, fitted by `vidur-search calibrate` on end-to-end
    /// measurements (absent: the kernels alone, as Vidur).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<ServingCalibration>,
}

impl Calibration {
    /// The calibration shipped in the binary: the kernel fits with the serving overheads of
    /// vLLM, SGLang and TRT-LLM (which the engine-model schedulers pick up; Vidur's do not).
    pub fn embedded() -> Calibration {
        let mut cal: Calibration = serde_json::from_str(EMBEDDED)
            .expect("embedded calibration is valid (checked by tests)");
        cal.serving = Some(
            serde_json::from_str(EMBEDDED_SERVING)
                .expect("embedded serving overheads are valid (checked by tests)"),
        );
        cal
    }

    /// Read a calibration file.
    pub fn load(path: &Path) -> Result<Calibration, PredictorError> {
        let text = std::fs::read_to_string(path).map_err(|e| PredictorError::Table {
            path: path.display().to_string(),
            msg: e.to_string(),
        })?;
        let cal: Calibration = serde_json::from_str(&text).map_err(|e| PredictorError::Table {
            path: path.display().to_string(),
            // serde_json's message ends with the line and column.
            msg: format!("invalid calibration file: {e}"),
        })?;
        if let Some(s) = &cal.serving {
            s.check().map_err(|e| PredictorError::Table {
                path: path.display().to_string(),
                msg: e.to_string(),
            })?;
        }
        Ok(cal)
    }

    /// The GPU entry for `name`, else the first GPU of the same architecture that has `what`
    /// fitted, else any GPU that has it (preferring Hopper, then Ampere). Returns the entry's name.
    pub fn reference<'a>(
        &'a self,
        name: &str,
        arch: &str,
        has: impl Fn(&GpuCalibration) -> bool,
    ) -> Option<(&'a str, &'a GpuCalibration)> {
        if let Some((k, g)) = self.gpus.get_key_value(name) {
            if has(g) {
                return Some((k.as_str(), g));
            }
        }
        let same_arch = self
            .gpus
            .iter()
            .find(|(_, g)| g.arch.eq_ignore_ascii_case(arch) && has(g));
        let fallback = || {
            ["hopper", "ampere"].iter().find_map(|a| {
                self.gpus
                    .iter()
                    .find(|(_, g)| g.arch.eq_ignore_ascii_case(a) && has(g))
            })
        };
        same_arch
            .or_else(fallback)
            .or_else(|| self.gpus.iter().find(|(_, g)| has(g)))
            .map(|(k, g)| (k.as_str(), g))
    }
}

/// Dense BF16 tensor-core FLOPs one SM (CU) completes per clock cycle, by architecture, for
/// the data-center dies: A100 312 TFLOP/s = 108 SMs × 1.41 GHz × 2048; H100 SXM 989 = 132 ×
/// 1.83 GHz × 4096; B200 2250 = 148 × 1.86 GHz × 8192; L40S 362 = 142 × 2.52 GHz × 1024;
/// MI300X 1307 = 304 CUs × 2.1 GHz × 2048. `None` for other architectures. (Ampere's
/// GA102 parts, A40/A10, do half of GA100's 2048.)
pub fn tensor_flops_per_sm_cycle(arch: &str) -> Option<f64> {
    match arch.to_ascii_lowercase().as_str() {
        "ampere" | "cdna3" => Some(2048.0),
        "ada" => Some(1024.0),
        "hopper" => Some(4096.0),
        "blackwell" => Some(8192.0),
        _ => None,
    }
}

/// SM clock (Hz) implied by a GPU's spec-sheet peak, SM count and architecture.
pub fn sm_clock_hz(arch: &str, r: &Roofline) -> Option<f64> {
    let per_cycle = tensor_flops_per_sm_cycle(arch)?;
    (r.sms > 0.0 && r.flops > 0.0).then(|| r.flops / (r.sms * per_cycle))
}

/// How a fixed latency fitted on a GPU of architecture `from_arch` and peaks `from` stretches
/// on a GPU of another architecture: kernel launch, block scheduling, synchronization and
/// per-work-item setup are counted in SM clock cycles, so they scale with the clock ratio
/// (`(clock, clock × SMs)`: the second for costs spread over all SMs). Within one
/// architecture, or where either clock is unknown, fixed latencies are kept as measured
/// (`(1, 1)`): same-generation parts share their kernels and clocks closely enough, and a
/// GPU priced with its own fits never moves.
pub fn latency_scale(from_arch: &str, from: &Roofline, to_arch: &str, to: &Roofline) -> (f64, f64) {
    if from_arch.eq_ignore_ascii_case(to_arch) {
        return (1.0, 1.0);
    }
    match (sm_clock_hz(from_arch, from), sm_clock_hz(to_arch, to)) {
        (Some(f), Some(t)) => (f / t, (f * from.sms) / (t * to.sms)),
        _ => (1.0, 1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_calibration_parses_and_covers_the_measured_gpus() {
        let c: Calibration = serde_json::from_str(EMBEDDED).expect("valid JSON");
        for g in ["a100", "h100", "h200"] {
            let k = &c.gpus[g].sources[source::KERNELS];
            assert!(
                k.gemm.is_some() && k.prefill.is_some() && k.decode.is_some(),
                "{g}"
            );
            assert!(k.allreduce.contains_key("2/vllm_graph"), "{g}");
        }
        for g in ["a100", "h100", "a40"] {
            let v = &c.gpus[g].sources[source::VIDUR];
            assert!(v.gemm.is_some(), "{g}");
            assert_eq!(v.elementwise.len(), ELEMENTWISE_KINDS.len(), "{g}");
        }
    }

    #[test]
    fn embedded_serving_overheads_are_plausible_and_cover_the_three_engines() {
        let s = Calibration::embedded()
            .serving
            .expect("shipped serving overheads");
        s.check().expect("physically plausible");
        for e in ["vllm", "sglang", "trtllm"] {
            let t = &s.engines[e];
            assert!(!t.is_zero(), "{e}");
            assert!(t.gpu_factor.contains_key("h100"), "{e}: {t:?}");
        }
        // Vidur's schedulers and engines we never measured get no overheads by default.
        assert!(!s
            .engines
            .contains_key(crate::predictor::serving::DEFAULT_ENGINE));
    }

    #[test]
    fn fixed_latencies_stretch_with_the_clock_across_architectures_only() {
        let a100 = Roofline {
            flops: 312e12,
            mem_bw: 2.039e12,
            sms: 108.0,
        };
        let h100 = Roofline {
            flops: 989e12,
            mem_bw: 3.35e12,
            sms: 132.0,
        };
        let clk = sm_clock_hz("ampere", &a100).unwrap();
        assert!((clk / 1e9 - 1.41).abs() < 0.01, "{clk}");
        let (c, w) = latency_scale("hopper", &h100, "ampere", &a100);
        assert!((1.25..1.35).contains(&c), "{c}");
        assert!((1.5..1.7).contains(&w), "{w}");
        assert_eq!(latency_scale("hopper", &h100, "hopper", &a100), (1.0, 1.0));
        assert_eq!(latency_scale("hopper", &h100, "gfx9", &a100), (1.0, 1.0));
    }

    #[test]
    fn bad_calibration_file_names_the_position() {
        let dir = std::env::temp_dir().join(format!("vs-cal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.json");
        std::fs::write(&p, "{\"version\": 3}").unwrap();
        let e = Calibration::load(&p).unwrap_err().to_string();
        assert!(e.contains("c.json") && e.contains("line 1"), "{e}");
    }
}
