//! The calibration file: fitted curve coefficients per GPU and measurement source, written by
//! `vidur-search calibrate-kernels` and embedded in the binary from
//! `data/calibration/calibration.json`. It holds numbers only, never the measurements.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::curves::{CollectiveFit, DecodeFit, ElementwiseFit, GemmFit, PrefillFit, Roofline};
use crate::predictor::serving::ServingCalibration;
use crate::predictor::PredictorError;

/// The embedded default calibration.
pub const EMBEDDED: &str = include_str!("../../../data/calibration/calibration.json");

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
    /// The calibration shipped in the binary.
    pub fn embedded() -> Calibration {
        serde_json::from_str(EMBEDDED).expect("embedded calibration is valid (checked by tests)")
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
    fn bad_calibration_file_names_the_position() {
        let dir = std::env::temp_dir().join(format!("vs-cal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.json");
        std::fs::write(&p, "{\"version\": 3}").unwrap();
        let e = Calibration::load(&p).unwrap_err().to_string();
        assert!(e.contains("c.json") && e.contains("line 1"), "{e}");
    }
}
