//! The simulation that matches one measured point: the same model, GPU, parallelism, engine
//! settings and load, written as a simulation YAML so anyone can rerun it with
//! `vidur-search simulate --config`.
//!
//! Each engine runs as its scheduler model (`vllm_v1`, `sglang`, `trtllm`; anything else as
//! `vllm_v1`) with the engine's documented defaults on that GPU
//! (`../shared/reference/engines.md` §2.6, §3.7, §4.5): vLLM's `max_num_batched_tokens` 8192
//! and `max_num_seqs` 1024 (2048 and 256 on A100), SGLang's `chunked_prefill_size` 8192,
//! TRT-LLM's `max_num_tokens` 8192 and `max_batch_size` 2048.
//!
//! KV memory is 90% of the GPU (`gpu_memory_utilization` 0.9) less weights and activations.
//! FP8 points (`gemm_quant_mode` fp8) run with `precision: fp8`, and an FP8 KV cache with
//! `kv_cache_dtype: fp8`; other quantizations (block-scaled FP8, INT8, INT4, FP4) are not
//! simulable.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::json;

use crate::catalog::{self, HardwareCatalog, ModelSpec};
use crate::config::predictor::NO_SERVING_ENGINE;
use crate::config::sim_yaml::SimFile;
use crate::measured::{Lengths, Load, MeasuredPoint, RequestRecord};
use crate::predictor::serving::DEFAULT_ENGINE;
use crate::sim::SchedulerKind;
use crate::workload;

/// Knobs of the matching simulations.
#[derive(Debug, Clone, PartialEq)]
pub struct SetupOptions {
    /// Closed-loop points: requests sent per client (the client's `num_prompts` is not in the
    /// silicon data; a benchmark sends a few waves). Total = concurrency × this, at least
    /// [`MIN_CLOSED_LOOP_REQUESTS`].
    pub requests_per_client: u32,
    /// Open-loop points without per-request data: requests to generate.
    pub open_loop_requests: u64,
    /// Calibration file the simulations use (None = the embedded one), as written into the YAML.
    pub calibration: Option<String>,
    /// The engines that calibration has serving overheads for (None: run the kernels alone).
    /// A point names its engine's (`predictor.analytic.serving_engine`), else the `default`
    /// entry, else leaves its engine model's own (vLLM's for engines we have no model of).
    pub serving: Option<BTreeSet<String>>,
    /// Seed of the simulations.
    pub seed: u64,
}

impl Default for SetupOptions {
    fn default() -> Self {
        SetupOptions {
            requests_per_client: 10,
            open_loop_requests: 2000,
            calibration: None,
            serving: None,
            seed: 42,
        }
    }
}

/// Fewest requests a closed-loop point simulates.
pub const MIN_CLOSED_LOOP_REQUESTS: u64 = 64;

/// The simulation of one point: the YAML document and, for per-request replays, the trace CSV
/// it names (`<id>.trace.csv` beside it).
#[derive(Debug, Clone)]
pub struct PointSim {
    /// The simulation file.
    pub file: SimFile,
    /// Trace CSV content (`arrived_at,num_prefill_tokens,num_decode_tokens`), if the workload
    /// replays the measured requests.
    pub trace_csv: Option<String>,
    /// How the point's names were mapped (e.g. `model ... simulated as ...`).
    pub notes: Vec<String>,
    /// The engine whose serving overheads apply (the point's engine, lower case).
    pub engine: Option<String>,
}

/// The file name stem of a point's simulation (ids may hold any characters).
pub fn file_stem(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.trim_start_matches('.').to_string()
}

/// Resolve a measured model name to a catalog model. Instruction-tuned checkpoints share
/// their base model's architecture, so `-Instruct`/`-Chat` suffixes fall back to the base.
pub fn resolve_model(name: &str) -> Result<(ModelSpec, String, Option<String>), String> {
    let here = std::path::Path::new(".");
    if let Ok(m) = catalog::resolve_model(name, here) {
        return Ok((m, name.to_string(), None));
    }
    for suffix in ["-Instruct", "-instruct", "-Chat", "-chat", "-it"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if let Ok(m) = catalog::resolve_model(base, here) {
                let note = format!("model {name} simulated as {base} (same architecture)");
                return Ok((m, base.to_string(), Some(note)));
            }
        }
    }
    catalog::resolve_model(name, here)
        .map(|m| (m, name.to_string(), None))
        .map_err(|e| e.to_string())
}

/// Resolve a measured GPU name (`h100_sxm`, `H100-80GB`, ...) to a catalog name.
pub fn resolve_gpu(hw: &HardwareCatalog, name: &str) -> Result<String, String> {
    let tries = [
        name.to_string(),
        name.replace('_', "-"),
        name.replace(['_', ' '], "-").replace("-80gb", ""),
    ];
    for t in &tries {
        if let Ok(g) = hw.gpu(t) {
            return Ok(g.name.clone());
        }
    }
    hw.gpu(name)
        .map(|g| g.name.clone())
        .map_err(|e| e.to_string())
}

/// 16-bit names of a precision or KV-cache dtype column.
fn is_16_bit(p: &str) -> bool {
    matches!(
        p.to_ascii_lowercase().as_str(),
        "" | "bf16" | "fp16" | "bfloat16" | "float16" | "half" | "auto"
    )
}

/// FP8 (E4M3, per-tensor scaled) names of a precision or KV-cache dtype column.
fn is_fp8(p: &str) -> bool {
    matches!(
        p.to_ascii_lowercase().as_str(),
        "fp8" | "fp8_e4m3" | "float8_e4m3fn" | "e4m3"
    )
}

/// Precisions the simulator prices: 16-bit, or FP8 weights and activations (`precision:
/// fp8`). Block-scaled FP8, INT8, 4-bit and FP4 are other kernels it has no fits for.
fn precision_supported(p: &str) -> bool {
    is_16_bit(p) || is_fp8(p)
}

/// The engine model for `engine`, with the engine's defaults as `vllm serve`,
/// `sglang.launch_server` and `trtllm-serve` resolve them (`../shared/reference/engines.md`
/// §2.6, §3.7, §4.5). Only vLLM's depend on the GPU, and the simulation resolves them from the
/// device (an A100 gets 2048 tokens and 256 sequences instead of 8192 and 1024). SGLang's
/// `chunked_prefill_size` is 8192 on every GPU from 60 to 160 GiB (A100-80GB, H100, H200), the
/// scheduler's default; TRT-LLM's defaults do not depend on the GPU. Unknown engines get vLLM.
fn scheduler_for(engine: Option<&str>) -> serde_json::Value {
    let kind = engine
        .and_then(SchedulerKind::for_engine)
        .unwrap_or(SchedulerKind::VllmV1);
    json!({"type": kind.name()})
}

/// Why a point cannot be simulated, if it cannot.
pub fn unsupported_reason(p: &MeasuredPoint, hw: &HardwareCatalog) -> Option<String> {
    if let Some(r) = &p.unsupported {
        return Some(r.clone());
    }
    if !precision_supported(&p.precision) {
        return Some(format!(
            "precision {} is not modeled yet (only 16-bit or fp8 weights and activations)",
            p.precision
        ));
    }
    if let Some(kv) = &p.kv_cache_dtype {
        if !precision_supported(kv) {
            return Some(format!("kv_cache_dtype {kv} is not modeled yet"));
        }
    }
    if let Err(e) = resolve_model(&p.model) {
        return Some(e);
    }
    if let Err(e) = resolve_gpu(hw, &p.gpu) {
        return Some(format!("unknown GPU: {e}"));
    }
    if matches!(p.lengths, Lengths::PerRequest) && p.requests.is_empty() {
        return Some("per-request lengths announced but no requests recorded".into());
    }
    if let Lengths::Dataset(d) = &p.lengths {
        if workload::builtin(d).is_err() {
            return Some(format!(
                "dataset '{d}' is not a built-in workload ({})",
                workload::builtin_names().join(", ")
            ));
        }
    }
    None
}

/// The longest request (prompt + output) a point sends.
fn longest(p: &MeasuredPoint) -> u32 {
    match &p.lengths {
        Lengths::Fixed { input, output } => input + output,
        _ => p
            .requests
            .iter()
            .map(|r| r.prompt_tokens + r.output_tokens)
            .max()
            .unwrap_or(0),
    }
}

fn trace_of(records: &[RequestRecord], with_arrivals: bool) -> String {
    let mut s = String::from("arrived_at,num_prefill_tokens,num_decode_tokens\n");
    for (i, r) in records.iter().enumerate() {
        let t = if with_arrivals {
            r.arrival_s.unwrap_or(0.0)
        } else {
            i as f64
        };
        let _ = writeln!(s, "{t},{},{}", r.prompt_tokens, r.output_tokens.max(1));
    }
    s
}

/// Build the simulation of point `p` (check [`unsupported_reason`] first).
pub fn build(
    p: &MeasuredPoint,
    hw: &HardwareCatalog,
    opts: &SetupOptions,
) -> Result<PointSim, String> {
    let mut notes = Vec::new();
    let (spec, model, note) = resolve_model(&p.model)?;
    notes.extend(note);
    let device = resolve_gpu(hw, &p.gpu)?;
    if device != p.gpu {
        notes.push(format!("GPU {} simulated as {device}", p.gpu));
    }
    if p.failed_requests > 0 {
        notes.push(format!(
            "{} failed request(s) in the benchmark, not replayed",
            p.failed_requests
        ));
    }
    let engine = p.engine.as_ref().map(|e| e.to_ascii_lowercase());
    let max_tokens = longest(p).max(4096);
    let stem = file_stem(&p.id);
    let lengths = |trace: bool| match &p.lengths {
        Lengths::Fixed { input, output } => {
            json!({"fixed": {"prefill_tokens": input, "decode_tokens": output}})
        }
        Lengths::Dataset(d) => json!({"builtin": {"name": d}}),
        Lengths::PerRequest => {
            debug_assert!(trace);
            json!({"trace": {"trace_file": format!("{stem}.trace.csv")}})
        }
    };
    let per_request = matches!(p.lengths, Lengths::PerRequest);
    let mut trace_csv = None;
    let workload = match &p.load {
        Load::ClosedLoop {
            concurrency,
            num_requests,
        } => {
            // Per-request files replay the requests that completed (a benchmark's failed
            // requests have no lengths to replay).
            let n = if per_request {
                p.requests.len() as u64
            } else {
                num_requests.unwrap_or_else(|| {
                    (*concurrency as u64 * opts.requests_per_client as u64)
                        .max(MIN_CLOSED_LOOP_REQUESTS)
                })
            };
            if per_request {
                trace_csv = Some(trace_of(&p.requests, false));
            }
            json!({"closed_loop": {
                "concurrency": concurrency,
                "num_requests": n,
                "max_tokens": max_tokens,
                "lengths": lengths(per_request),
                "seed": opts.seed,
            }})
        }
        Load::OpenLoop {
            request_rate,
            arrival,
            ..
        } => {
            let recorded = per_request && p.requests.iter().all(|r| r.arrival_s.is_some());
            if recorded {
                trace_csv = Some(trace_of(&p.requests, true));
                json!({"trace_replay": {
                    "trace_file": format!("{stem}.trace.csv"),
                    "max_tokens": max_tokens,
                }})
            } else {
                let Some(rate) = request_rate else {
                    return Err(
                        "an open-loop point without per-request arrival times needs a request rate"
                            .into(),
                    );
                };
                let intervals = match arrival.as_deref() {
                    None | Some("poisson") => json!({"poisson": {"qps": rate}}),
                    Some(other) => {
                        return Err(format!(
                            "arrival process '{other}' is not supported (poisson, or per-request arrival times)"
                        ))
                    }
                };
                if per_request {
                    trace_csv = Some(trace_of(&p.requests, false));
                }
                let n = if per_request {
                    p.requests.len() as u64
                } else {
                    opts.open_loop_requests
                };
                json!({"synthetic": {
                    "seed": opts.seed,
                    "num_requests": n,
                    "max_tokens": max_tokens,
                    "lengths": lengths(per_request),
                    "intervals": intervals,
                }})
            }
        }
    };
    let mut analytic = serde_json::Map::new();
    if let Some(c) = &opts.calibration {
        analytic.insert("calibration".into(), json!(c));
    }
    match &opts.serving {
        None => {
            analytic.insert("serving_engine".into(), json!(NO_SERVING_ENGINE));
        }
        Some(known) => {
            let own = engine.as_deref().unwrap_or(DEFAULT_ENGINE);
            if known.contains(own) {
                analytic.insert("serving_engine".into(), json!(own));
            } else if known.contains(DEFAULT_ENGINE) {
                analytic.insert("serving_engine".into(), json!(DEFAULT_ENGINE));
            } else if let Some(e) = &engine {
                notes.push(format!(
                    "no serving overheads for engine {e} in the calibration: its engine model's used"
                ));
            }
        }
    }
    let mut doc = json!({
        "model": model,
        "device": device,
        "tensor_parallel_size": p.tp,
        "num_pipeline_stages": p.pp,
        "num_replicas": 1,
        "memory_margin_fraction": 0.1,
        "scheduler": scheduler_for(engine.as_deref()),
        "workload": workload,
        "predictor": {"analytic": analytic},
        "seed": opts.seed,
        "metrics": {"chrome_trace": false, "token_metrics": false},
    });
    // The point's number formats, written where they differ from the model's own (an FP8
    // checkpoint measured in 16 bits gets `precision: bf16`).
    use crate::catalog::hf::{KvCacheDtype, Precision};
    let precision = if is_fp8(&p.precision) {
        Precision::Fp8
    } else {
        Precision::Bf16
    };
    if precision != spec.precision {
        doc["precision"] = json!(precision);
    }
    let kv = match &p.kv_cache_dtype {
        Some(kv) if is_fp8(kv) => KvCacheDtype::Fp8,
        _ => KvCacheDtype::Auto,
    };
    if kv != spec.kv_cache_dtype {
        doc["kv_cache_dtype"] = json!(kv);
    }
    let file: SimFile = serde_json::from_value(doc)
        .map_err(|e| format!("internal error building the simulation of {}: {e}", p.id))?;
    Ok(PointSim {
        file,
        trace_csv,
        notes,
        engine,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measured::MeasuredMetrics;

    fn point() -> MeasuredPoint {
        MeasuredPoint {
            id: "a/b c".into(),
            origin: "x.csv:2".into(),
            engine: Some("vllm".into()),
            engine_version: Some("0.12.0".into()),
            model: "meta-llama/Llama-3.1-8B-Instruct".into(),
            gpu: "h100_sxm".into(),
            precision: "bf16".into(),
            kv_cache_dtype: None,
            tp: 2,
            pp: 1,
            unsupported: None,
            load: Load::ClosedLoop {
                concurrency: 16,
                num_requests: None,
            },
            lengths: Lengths::Fixed {
                input: 4096,
                output: 1024,
            },
            metrics: MeasuredMetrics::default(),
            requests: vec![],
            duration_s: None,
            failed_requests: 0,
        }
    }

    #[test]
    fn a_closed_loop_point_becomes_a_closed_loop_simulation() {
        let hw = HardwareCatalog::embedded();
        let p = point();
        assert_eq!(unsupported_reason(&p, &hw), None);
        let opts = SetupOptions {
            serving: Some(["vllm".to_string()].into()),
            ..Default::default()
        };
        let s = build(&p, &hw, &opts).unwrap();
        let yaml = serde_saphyr::to_string(&s.file).unwrap();
        assert!(yaml.contains("closed_loop"), "{yaml}");
        assert!(yaml.contains("concurrency: 16"), "{yaml}");
        assert!(yaml.contains("num_requests: 160"), "{yaml}");
        assert!(yaml.contains("max_tokens: 5120"), "{yaml}");
        assert!(yaml.contains("serving_engine: vllm"), "{yaml}");
        assert_eq!(s.file.device, "h100-sxm");
        assert_eq!(s.file.model, "meta-llama/Llama-3.1-8B");
        assert_eq!(s.notes.len(), 2, "{:?}", s.notes);
        assert_eq!(file_stem(&p.id), "a_b_c");
    }

    #[test]
    fn a_point_names_the_serving_overheads_its_calibration_has() {
        let hw = HardwareCatalog::embedded();
        let yaml_with = |serving: Option<&[&str]>, engine: Option<&str>| {
            let mut p = point();
            p.engine = engine.map(str::to_string);
            let opts = SetupOptions {
                serving: serving.map(|s| s.iter().map(|e| e.to_string()).collect()),
                ..Default::default()
            };
            let s = build(&p, &hw, &opts).unwrap();
            (serde_saphyr::to_string(&s.file).unwrap(), s.notes)
        };
        // Kernels alone.
        let (y, _) = yaml_with(None, Some("vllm"));
        assert!(y.contains("serving_engine: none"), "{y}");
        // An engine the calibration lacks: its `default` entry, else the engine model's own.
        let (y, _) = yaml_with(Some(&["vllm", "default"]), Some("lmdeploy"));
        assert!(y.contains("serving_engine: default"), "{y}");
        let (y, notes) = yaml_with(Some(&["vllm", "sglang"]), Some("lmdeploy"));
        assert!(y.contains("serving_engine: null"), "{y}");
        assert!(notes.iter().any(|n| n.contains("lmdeploy")), "{notes:?}");
        // No engine recorded: the `default` entry (calibrate fits engine-less points there).
        let (y, _) = yaml_with(Some(&["vllm", "default"]), None);
        assert!(y.contains("serving_engine: default"), "{y}");
    }

    #[test]
    fn an_fp8_point_is_simulated_in_fp8() {
        let hw = HardwareCatalog::embedded();
        let mut p = point();
        p.precision = "fp8".into();
        assert_eq!(unsupported_reason(&p, &hw), None);
        let s = build(&p, &hw, &SetupOptions::default()).unwrap();
        assert_eq!(s.file.precision, Some(crate::catalog::hf::Precision::Fp8));
        assert_eq!(s.file.kv_cache_dtype, None);
        p.kv_cache_dtype = Some("fp8".into());
        let s = build(&p, &hw, &SetupOptions::default()).unwrap();
        let yaml = serde_saphyr::to_string(&s.file).unwrap();
        assert!(
            yaml.contains("precision: fp8") && yaml.contains("kv_cache_dtype: fp8"),
            "{yaml}"
        );
        // A 16-bit point of a 16-bit checkpoint: the file says nothing (the model's default).
        let s = build(&point(), &hw, &SetupOptions::default()).unwrap();
        assert_eq!((s.file.precision, s.file.kv_cache_dtype), (None, None));
    }

    #[test]
    fn unsupported_points_say_why() {
        let hw = HardwareCatalog::embedded();
        let mut p = point();
        p.precision = "int4_awq".into();
        assert!(unsupported_reason(&p, &hw).unwrap().contains("int4_awq"));
        p.precision = "nvfp4".into();
        assert!(unsupported_reason(&p, &hw).unwrap().contains("nvfp4"));
        let mut p = point();
        p.kv_cache_dtype = Some("int8".into());
        assert!(unsupported_reason(&p, &hw).unwrap().contains("int8"));
        let mut p = point();
        p.gpu = "tpu-v5".into();
        assert!(unsupported_reason(&p, &hw).unwrap().contains("unknown GPU"));
        let mut p = point();
        p.model = "acme/NotAModel-7B".into();
        assert!(unsupported_reason(&p, &hw)
            .unwrap()
            .contains("unknown model"));
        let mut p = point();
        p.unsupported = Some("disaggregated serving (mode=disagg)".into());
        assert!(unsupported_reason(&p, &hw).unwrap().contains("disagg"));
    }
}
