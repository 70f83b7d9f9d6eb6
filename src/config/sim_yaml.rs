//! Our simulation YAML (`vidur-search simulate --config sim.yaml`). Field by field:
//!
//! ```yaml
//! model: meta-llama/Llama-2-7b-hf   # Vidur built-in, embedded HF name, or path to a config.json
//! device: a100                      # any catalog GPU or alias: a100, a40, h100, h200, b200, l40s, l40, mi300x
//! network_device: a100_pairwise_nvlink   # optional; default: the GPU's default node shape
//! hardware: my-hardware.yaml        # optional; user GPUs/nodes/prices merged into the catalog
//! tensor_parallel_size: 1
//! num_pipeline_stages: 1
//! num_replicas: 1
//! memory_margin_fraction: 0.1
//! precision: fp8                    # optional; bf16 | fp8 (linear layers); default: the model's
//!                                   # (fp8 for a checkpoint with an FP8 quantization_config)
//! kv_cache_dtype: fp8               # optional; auto (16-bit) | fp8; default: the model's
//! scheduler: {type: sarathi, chunk_size: 512, batch_size_cap: 128}
//!                                   # optional; default {type: vllm_v1} ({type: sarathi},
//!                                   # Vidur's default, with compat: vidur)
//! router: round_robin                # round_robin | lor | random
//! workload: {trace_replay: {trace_file: trace.csv, time_scale_factor: 0.4}}
//! # or synthetic: {lengths: ..., intervals: ..., num_requests: 1000}, or a closed loop of
//! # `concurrency` clients (think_time_s, ramp_up_s and max_tokens optional; warm-up requests
//! # are simulated but left out of the metrics):
//! # workload: {closed_loop: {concurrency: 32, num_requests: 640, warmup_requests: 64,
//! #            lengths: {fixed: {prefill_tokens: 1024, decode_tokens: 1024}}, seed: 7}}
//! predictor: {vidur_tables: {dir: tables/llama2-7b_a100_tp1}}
//! seed: 42
//! time_limit_s: 1800                 # optional
//! compat: default                    # default | vidur
//! metrics: {chrome_trace: true, token_metrics: true}
//! ```
//!
//! Names resolve through [`crate::catalog::resolve_model`], [`crate::catalog::resolve_device`]
//! and [`crate::catalog::resolve_node`]: Vidur's built-in model names keep Vidur's values, and
//! with `compat: vidur` so do Vidur's device names and default node shapes.
//!
//! Unknown fields are errors; errors carry the file, line and column.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ConfigError, FieldError};
use crate::catalog::hf::{KvCacheDtype, Precision};
use crate::catalog::{self, GpuSpec, HardwareCatalog};
use crate::compat::Compat;
use crate::predictor::VidurTablesOptions;
use crate::sim::{MetricsOptions, RouterKind, SchedulerConfig, SimConfig};
use crate::workload::WorkloadConfig;

fn one() -> u32 {
    1
}
fn margin() -> f64 {
    0.1
}
fn seed() -> u64 {
    42
}

/// The YAML document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimFile {
    /// Model: a Vidur built-in name, an embedded Hugging Face name, or a path (relative to this
    /// file) to a `config.json` or a folder holding one.
    pub model: String,
    /// GPU name or alias in the hardware catalog.
    pub device: String,
    /// Node shape (default: the GPU's default node; Vidur's `<device>_pairwise_nvlink` in
    /// Vidur mode for Vidur's devices).
    #[serde(default)]
    pub network_device: Option<String>,
    /// User hardware file (relative to this file) merged into the built-in catalog.
    #[serde(default)]
    pub hardware: Option<String>,
    /// Tensor-parallel degree (default 1).
    #[serde(default = "one")]
    pub tensor_parallel_size: u32,
    /// Pipeline stages (default 1).
    #[serde(default = "one")]
    pub num_pipeline_stages: u32,
    /// Replicas (default 1).
    #[serde(default = "one")]
    pub num_replicas: u32,
    /// Memory held back (default 0.1).
    #[serde(default = "margin")]
    pub memory_margin_fraction: f64,
    /// Number format of the linear layers' weights and activations (default: the model's,
    /// i.e. `fp8` for a checkpoint whose `quantization_config` is FP8, else `bf16`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
    /// KV-cache element type (default: the model's, `auto` = 16-bit unless the checkpoint
    /// ships FP8 KV-cache scales).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_cache_dtype: Option<KvCacheDtype>,
    /// Replica scheduler (default `vllm_v1` with vLLM's defaults; Vidur's `sarathi` with
    /// `compat: vidur`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<SchedulerConfig>,
    /// Global router (default round_robin).
    #[serde(default)]
    pub router: RouterKind,
    /// Requests.
    pub workload: WorkloadConfig,
    /// Execution-time predictor (default: the analytic predictor with the embedded calibration).
    #[serde(default)]
    pub predictor: PredictorConfig,
    /// Seed (default 42).
    #[serde(default = "seed")]
    pub seed: u64,
    /// Simulated-time limit in seconds.
    #[serde(default)]
    pub time_limit_s: Option<f64>,
    /// Engine semantics (default `default`).
    #[serde(default)]
    pub compat: Compat,
    /// Optional recordings.
    #[serde(default)]
    pub metrics: MetricsOptions,
}

/// Which predictor prices batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PredictorConfig {
    /// Roofline curves calibrated on measured kernels: any model on any catalog GPU.
    Analytic(AnalyticConfig),
    /// A Vidur-format profile folder (`compute/<device>/<org>/<model>/mlp.csv`, ...).
    Profiles(ProfilesConfig),
    /// A folder of Vidur prediction tables (`<op>.csv[.gz]`).
    VidurTables(VidurTablesConfig),
}

/// Measured Vidur-format profiles (`predictor: {profiles: {dir: ...}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilesConfig {
    /// The profile folder (relative to the config file).
    pub dir: String,
    /// Vidur device folder name under `compute/` (default: the `device:` value).
    #[serde(default)]
    pub device: Option<String>,
    /// Price attention with the analytic predictor when the folder has no attention.csv
    /// (default true; false makes a missing attention.csv an error).
    #[serde(default = "yes")]
    pub analytic_attention_fallback: bool,
}

impl Default for PredictorConfig {
    fn default() -> Self {
        PredictorConfig::Analytic(AnalyticConfig::default())
    }
}

fn yes() -> bool {
    true
}

/// Options of the analytic predictor (`predictor: {analytic: {...}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticConfig {
    /// Calibration file (default: the one embedded, `data/calibration/calibration.json`).
    #[serde(default)]
    pub calibration: Option<String>,
    /// Preferred measurement source of the fits: `kernels` (vLLM kernel tables, default) or
    /// `vidur` (Vidur's 2024 PyTorch profiles, for comparisons with Vidur).
    #[serde(default)]
    pub source: Option<String>,
    /// CPU/launch overhead per iteration and stage, ms (default 0, as Vidur).
    #[serde(default)]
    pub iteration_overhead_ms: f64,
    /// Price the embedding, LM head and sampling, which Vidur leaves out (default true).
    #[serde(default = "yes")]
    pub embedding_and_lm_head: bool,
    /// Whose serving overheads from the calibration's `serving` section to add (`vllm`,
    /// `sglang`, `trtllm`, ...; its `default` entry where it has none for that engine), or
    /// `none` for the kernels alone. Default: the engine model's own (`vllm_v1` → `vllm`,
    /// `sglang`, `trtllm`; the embedded calibration ships all three), else the calibration's
    /// `default` entry (Vidur's schedulers: none in the embedded calibration).
    #[serde(default)]
    pub serving_engine: Option<String>,
}

impl Default for AnalyticConfig {
    fn default() -> Self {
        AnalyticConfig {
            calibration: None,
            source: None,
            iteration_overhead_ms: 0.0,
            embedding_and_lm_head: true,
            serving_engine: None,
        }
    }
}

fn g64() -> u32 {
    64
}
fn tenth() -> f64 {
    0.1
}
fn launch() -> f64 {
    0.02
}

/// Vidur prediction tables and the knobs that shape lookups (Vidur's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VidurTablesConfig {
    /// Folder with the tables (relative to the config file).
    pub dir: String,
    /// KV granularity (64).
    #[serde(default = "g64")]
    pub kv_cache_prediction_granularity: u32,
    /// Decode batching overhead for GQA models (0.1).
    #[serde(default = "tenth")]
    pub attention_decode_batching_overhead_fraction: f64,
    /// Prefill batching overhead for GQA models (0.1).
    #[serde(default = "tenth")]
    pub attention_prefill_batching_overhead_fraction: f64,
    /// Per all-reduce launch overhead in ms (0.02).
    #[serde(default = "launch")]
    pub nccl_cpu_launch_overhead_ms: f64,
    /// Per-device skew overhead in ms (0).
    #[serde(default)]
    pub nccl_cpu_skew_overhead_per_device_ms: f64,
}

impl VidurTablesConfig {
    /// The lookup options.
    pub fn options(&self) -> VidurTablesOptions {
        VidurTablesOptions {
            kv_cache_prediction_granularity: self.kv_cache_prediction_granularity,
            attention_decode_batching_overhead_fraction: self
                .attention_decode_batching_overhead_fraction,
            attention_prefill_batching_overhead_fraction: self
                .attention_prefill_batching_overhead_fraction,
            nccl_cpu_launch_overhead_ms: self.nccl_cpu_launch_overhead_ms,
            nccl_cpu_skew_overhead_per_device_ms: self.nccl_cpu_skew_overhead_per_device_ms,
        }
    }
}

/// A loaded simulation file.
#[derive(Debug, Clone)]
pub struct SimRun {
    /// Engine configuration.
    pub sim: SimConfig,
    /// Requests.
    pub workload: WorkloadConfig,
    /// Predictor.
    pub predictor: PredictorConfig,
    /// Folder relative paths resolve against.
    pub base_dir: PathBuf,
    /// The device's hardware-catalog entry (absent for Vidur-only names in compat mode).
    pub gpu: Option<GpuSpec>,
}

/// Load and validate a simulation YAML.
pub fn load(path: &Path) -> Result<SimRun, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, e))?;
    let file: SimFile = serde_saphyr::from_str(&text).map_err(|e| {
        ConfigError::invalid(
            path,
            crate::parse_messages::yaml_message(&e, &path.display().to_string()),
        )
    })?;
    file.predictor
        .check()
        .map_err(|e| ConfigError::field(path, e))?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut model = catalog::resolve_model(&file.model, &base_dir)
        .map_err(|e| ConfigError::invalid(path, format!("field 'model': {e}")))?;
    let hardware = match &file.hardware {
        Some(h) => HardwareCatalog::with_overrides(&resolve(&base_dir, h))
            .map_err(|e| ConfigError::invalid(path, format!("field 'hardware': {e}")))?,
        None => HardwareCatalog::embedded(),
    };
    let vidur = file.compat.is_vidur();
    let gpu = hardware.gpu(&file.device).ok().cloned();
    let device = catalog::resolve_device(&hardware, &file.device, vidur)
        .map_err(|e| ConfigError::invalid(path, format!("field 'device': {e}")))?;
    let node = catalog::resolve_node(
        &hardware,
        file.network_device.as_deref(),
        &file.device,
        vidur,
    )
    .map_err(|e| {
        let field = if file.network_device.is_some() {
            "network_device"
        } else {
            "device"
        };
        ConfigError::invalid(path, format!("field '{field}': {e}"))
    })?;
    serving_formats(&file, &mut model, gpu.as_ref()).map_err(|e| ConfigError::invalid(path, e))?;
    let mut scheduler = file
        .scheduler
        .clone()
        .unwrap_or_else(|| SchedulerConfig::default_for(file.compat));
    scheduler.resolve_device_defaults(&device);
    let sim = SimConfig {
        model,
        device,
        node,
        tensor_parallel_size: file.tensor_parallel_size,
        num_pipeline_stages: file.num_pipeline_stages,
        num_replicas: file.num_replicas,
        memory_margin_fraction: file.memory_margin_fraction,
        max_tokens: file.workload.max_tokens(),
        scheduler,
        router: file.router,
        seed: file.seed,
        time_limit_s: file.time_limit_s,
        compat: file.compat,
        metrics: file.metrics,
    };
    sim.validate()
        .map_err(|e| ConfigError::invalid(path, e.to_string()))?;
    check_tp_fits_node(&sim, "tensor_parallel_size").map_err(|e| ConfigError::field(path, e))?;
    Ok(SimRun {
        sim,
        workload: file.workload,
        predictor: file.predictor,
        base_dir,
        gpu,
    })
}

/// Set the number formats `model` is served in (the file's `precision` and `kv_cache_dtype`,
/// else the checkpoint's) and check they can be priced: FP8 GEMMs need FP8 tensor cores (the
/// catalog's `fp8_dense_tflops`), and only the analytic predictor has FP8 fits; `compat:
/// vidur` repeats Vidur, which knows 16 bits only. The message names the field.
fn serving_formats(
    file: &SimFile,
    model: &mut catalog::ModelSpec,
    gpu: Option<&GpuSpec>,
) -> Result<(), String> {
    let from_model = |field: &str, given: bool| {
        if given {
            format!("field '{field}'")
        } else {
            format!(
                "field '{field}' (default from model {}, an FP8 checkpoint)",
                model.name
            )
        }
    };
    let precision = file.precision.unwrap_or(model.precision);
    let kv = file.kv_cache_dtype.unwrap_or(model.kv_cache_dtype);
    let analytic = matches!(file.predictor, PredictorConfig::Analytic(_));
    if precision == Precision::Fp8 {
        let field = from_model("precision", file.precision.is_some());
        if file.compat.is_vidur() {
            return Err(format!(
                "{field}: fp8 cannot be simulated with compat: vidur (Vidur models 16-bit weights only); use precision: bf16 or compat: default"
            ));
        }
        if !analytic {
            return Err(format!(
                "{field}: fp8 GEMMs are priced by the analytic predictor only (the profiles and Vidur tables are 16-bit)"
            ));
        }
        if let Some(g) = gpu.filter(|g| g.fp8_dense_tflops.is_none()) {
            return Err(format!(
                "{field}: fp8 needs FP8 tensor cores and device {} has none (no fp8_dense_tflops in the hardware catalog); use precision: bf16",
                g.name
            ));
        }
    }
    if kv == KvCacheDtype::Fp8 {
        let field = from_model("kv_cache_dtype", file.kv_cache_dtype.is_some());
        if file.compat.is_vidur() {
            return Err(format!(
                "{field}: an fp8 KV cache cannot be simulated with compat: vidur; use kv_cache_dtype: auto or compat: default"
            ));
        }
        if !analytic {
            return Err(format!(
                "{field}: an fp8 KV cache is priced by the analytic predictor only"
            ));
        }
    }
    model.precision = precision;
    model.kv_cache_dtype = kv;
    Ok(())
}

/// A tensor-parallel group spans one node: its all-reduce runs over the node's links, and a
/// TP wider than the node has no link model (the search drops such points as `tp_fits_node`).
/// `field` names the TP field in the caller's file format.
pub(crate) fn check_tp_fits_node(sim: &SimConfig, field: &str) -> Result<(), FieldError> {
    let (tp, gpus) = (sim.tensor_parallel_size, sim.node.num_devices_per_node);
    if tp > gpus {
        return Err(FieldError::TpSpansNodes {
            field: field.to_string(),
            tp,
            node: sim.node.name.clone(),
            gpus,
        });
    }
    Ok(())
}

/// Why a `--calibration` flag cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationFlagError {
    /// The file cannot be found.
    // The OS error is part of the message, not a `source()`, so a printed chain says it once.
    #[error("--calibration {}: {error}", path.display())]
    Io {
        /// The path given.
        path: std::path::PathBuf,
        /// Cause.
        error: std::io::Error,
    },
    /// The config prices with another predictor, which has no calibration.
    #[error("--calibration {}: applies to the analytic predictor only, and the config names another", path.display())]
    NotAnalytic {
        /// The path given.
        path: std::path::PathBuf,
    },
}

impl PredictorConfig {
    /// Use the calibration file at `path` (a `--calibration` flag): it replaces the analytic
    /// predictor's `calibration`. Other predictors have no calibration, so that is an error.
    pub fn set_calibration(&mut self, path: &Path) -> Result<(), CalibrationFlagError> {
        let abs = std::fs::canonicalize(path).map_err(|error| CalibrationFlagError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        match self {
            PredictorConfig::Analytic(a) => {
                a.calibration = Some(abs.display().to_string());
                Ok(())
            }
            _ => Err(CalibrationFlagError::NotAnalytic {
                path: path.to_path_buf(),
            }),
        }
    }

    /// Value checks serde cannot express; the message names the field.
    pub fn check(&self) -> Result<(), FieldError> {
        if let PredictorConfig::Analytic(a) = self {
            use crate::predictor::analytic::calibration::source;
            if let Some(s) = &a.source {
                if s != source::KERNELS && s != source::VIDUR {
                    return Err(FieldError::UnknownCalibrationSource { name: s.clone() });
                }
            }
            non_negative(
                "predictor.analytic.iteration_overhead_ms",
                a.iteration_overhead_ms,
            )?;
        }
        if let PredictorConfig::VidurTables(t) = self {
            let f = "predictor.vidur_tables";
            if t.kv_cache_prediction_granularity == 0 {
                return Err(FieldError::Zero {
                    field: format!("{f}.kv_cache_prediction_granularity"),
                });
            }
            for (k, v) in [
                (
                    "attention_decode_batching_overhead_fraction",
                    t.attention_decode_batching_overhead_fraction,
                ),
                (
                    "attention_prefill_batching_overhead_fraction",
                    t.attention_prefill_batching_overhead_fraction,
                ),
                ("nccl_cpu_launch_overhead_ms", t.nccl_cpu_launch_overhead_ms),
                (
                    "nccl_cpu_skew_overhead_per_device_ms",
                    t.nccl_cpu_skew_overhead_per_device_ms,
                ),
            ] {
                non_negative(&format!("{f}.{k}"), v)?;
            }
        }
        Ok(())
    }
}

/// `value` must be finite and >= 0.
fn non_negative(field: &str, value: f64) -> Result<(), FieldError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(FieldError::NotNonNegative {
            field: field.to_string(),
            value,
        })
    }
}

/// Resolve `p` against `base` unless it is absolute.
pub fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}
