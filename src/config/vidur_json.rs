//! Read Vidur's own `config.json` dump (the nested dataclass dump Vidur writes next to its
//! outputs, as in `../shared/conformance/cases/*/config.json`) and map it onto our types.
//! Running from it implies `--compat vidur`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ConfigError;
use crate::catalog::{DeviceSpec, ModelSpec, NodeSpec};
use crate::compat::Compat;
use crate::predictor::VidurTablesOptions;
use crate::sim::{
    LightllmConfig, MetricsOptions, ReservationConfig, RouterKind, SarathiConfig, SchedulerConfig,
    SchedulerKind, SimConfig, VllmConfig,
};
use crate::workload::{
    IntervalConfig, LengthConfig, SyntheticConfig, TraceReplayConfig, WorkloadConfig,
};

/// A Vidur run as read from its config.json.
#[derive(Debug, Clone)]
pub struct VidurRun {
    /// Engine configuration (compat = vidur).
    pub sim: SimConfig,
    /// The request generator.
    pub workload: WorkloadConfig,
    /// Predictor knobs that shape table lookups.
    pub predictor: VidurTablesOptions,
    /// Folder relative trace paths resolve against.
    pub base_dir: PathBuf,
}

struct Reader<'a> {
    path: &'a Path,
    root: &'a Value,
}

/// The dotted path from `root` to the node `target` (found by identity), if it is there.
fn path_to(root: &Value, target: &Value, prefix: &str) -> Option<String> {
    if std::ptr::eq(root, target) {
        return Some(prefix.to_string());
    }
    let Value::Object(m) = root else { return None };
    m.iter().find_map(|(k, v)| {
        let p = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        path_to(v, target, &p)
    })
}

impl Reader<'_> {
    /// `field` of node `v` as a full dotted path from the file's root, for messages.
    fn full(&self, v: &Value, field: &str) -> String {
        match path_to(self.root, v, "") {
            Some(p) if !p.is_empty() => format!("{p}.{field}"),
            _ => field.to_string(),
        }
    }

    fn get<'v>(&self, v: &'v Value, field: &str) -> Result<&'v Value, ConfigError> {
        let mut cur = v;
        for part in field.split('.') {
            cur = cur.get(part).ok_or_else(|| {
                ConfigError::invalid(
                    self.path,
                    format!("missing field '{}'", self.full(v, field)),
                )
            })?;
        }
        Ok(cur)
    }
    fn u32(&self, v: &Value, field: &str) -> Result<u32, ConfigError> {
        let x = self.get(v, field)?;
        x.as_u64()
            .or_else(|| {
                x.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            })
            .and_then(|u| u32::try_from(u).ok())
            .ok_or_else(|| {
                ConfigError::invalid(
                    self.path,
                    format!(
                        "field '{}': expected a non-negative integer, found {x}",
                        self.full(v, field)
                    ),
                )
            })
    }
    fn f64(&self, v: &Value, field: &str) -> Result<f64, ConfigError> {
        let x = self.get(v, field)?;
        x.as_f64().ok_or_else(|| {
            ConfigError::invalid(
                self.path,
                format!(
                    "field '{}': expected a number, found {x}",
                    self.full(v, field)
                ),
            )
        })
    }
    fn opt_f64(&self, v: &Value, field: &str, default: f64) -> Result<f64, ConfigError> {
        match self.get(v, field) {
            Ok(Value::Null) | Err(_) => Ok(default),
            Ok(_) => self.f64(v, field),
        }
    }
    fn bool(&self, v: &Value, field: &str) -> Result<bool, ConfigError> {
        let x = self.get(v, field)?;
        x.as_bool().ok_or_else(|| {
            ConfigError::invalid(
                self.path,
                format!(
                    "field '{}': expected true or false, found {x}",
                    self.full(v, field)
                ),
            )
        })
    }
    fn str<'v>(&self, v: &'v Value, field: &str) -> Result<&'v str, ConfigError> {
        let x = self.get(v, field)?;
        x.as_str().ok_or_else(|| {
            ConfigError::invalid(
                self.path,
                format!(
                    "field '{}': expected a string, found {x}",
                    self.full(v, field)
                ),
            )
        })
    }
}

/// Load a Vidur `config.json`. `trace` overrides the trace file it names (Vidur records the
/// path as given on its command line, which rarely exists elsewhere).
pub fn load(path: &Path, trace: Option<&Path>) -> Result<VidurRun, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, e))?;
    let root: Value = serde_json::from_str(&text).map_err(|e| {
        ConfigError::invalid(
            path,
            format!(
                "line {} column {}: invalid JSON: {}",
                e.line(),
                e.column(),
                crate::parse_messages::json_message(&e)
            ),
        )
    })?;
    let rd = Reader { path, root: &root };
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();

    let rc = rd.get(&root, "cluster_config.replica_config")?;
    let mc = rd.get(rc, "model_config")?;
    let model = ModelSpec {
        name: rd.str(rc, "model_name")?.to_string(),
        num_layers: rd.u32(mc, "num_layers")?,
        num_q_heads: rd.u32(mc, "num_q_heads")?,
        num_kv_heads: rd.u32(mc, "num_kv_heads")?,
        embedding_dim: rd.u32(mc, "embedding_dim")?,
        mlp_hidden_dim: rd.u32(mc, "mlp_hidden_dim")?,
        max_position_embeddings: rd.u32(mc, "max_position_embeddings")?,
        use_gated_mlp: rd.bool(mc, "use_gated_mlp")?,
        post_attn_norm: rd.bool(mc, "post_attn_norm")?,
        vocab_size: rd.u32(mc, "vocab_size")?,
        tie_word_embeddings: false,
        // Vidur derives the head size as E / Hq; set below once Hq is known to be positive.
        head_dim: 0,
        dtype_bytes: 2,
        precision: Default::default(),
        kv_cache_dtype: Default::default(),
    };
    if model.num_q_heads == 0 || model.num_layers == 0 || model.embedding_dim == 0 {
        return Err(ConfigError::invalid(path, "field 'cluster_config.replica_config.model_config': num_layers, num_q_heads and embedding_dim must be positive"));
    }
    let model = ModelSpec {
        head_dim: model.embedding_dim / model.num_q_heads,
        ..model
    };
    if let Some(msg) = model.size_error() {
        return Err(ConfigError::invalid(
            path,
            format!("field 'cluster_config.replica_config.model_config': {msg}"),
        ));
    }
    check_model_name(&rd, mc, &model)?;
    let dc = rd.get(rc, "device_config")?;
    let device = DeviceSpec {
        name: rd.str(dc, "name")?.to_string(),
        fp16_tflops: rd.f64(dc, "fp16_tflops")?,
        total_memory_gb: rd.f64(dc, "total_memory_gb")?,
    };
    let nc = rd.get(rc, "node_config")?;
    let node = NodeSpec {
        name: rd.str(nc, "name")?.to_string(),
        num_devices_per_node: rd.u32(nc, "num_devices_per_node")?,
    };
    // The run uses the nested configs; a top-level name that disagrees with them means the dump
    // was edited by hand, and silently simulating the other device would be a wrong answer.
    same_name(&rd, rc, "device", "device_config.name", &device.name)?;
    same_name(&rd, rc, "network_device", "node_config.name", &node.name)?;

    let sc = rd.get(&root, "cluster_config.replica_scheduler_config")?;
    let sname = rd.str(sc, "name")?;
    let kind = match sname {
        "vllm" => SchedulerKind::Vllm,
        "orca" => SchedulerKind::Orca,
        "sarathi" => SchedulerKind::Sarathi,
        "lightllm" => SchedulerKind::Lightllm,
        "faster_transformer" => SchedulerKind::FasterTransformer,
        other => {
            return Err(ConfigError::invalid(
                path,
                format!("field 'cluster_config.replica_scheduler_config.name': unknown scheduler '{other}' (expected vllm, orca, sarathi, lightllm or faster_transformer)"),
            ))
        }
    };
    let batch_size_cap = rd.u32(sc, "batch_size_cap")?;
    let block_size = rd.u32(sc, "block_size")?;
    let num_blocks = match rd.get(sc, "num_blocks")? {
        Value::Null => None,
        _ => Some(rd.u32(sc, "num_blocks")? as u64),
    };
    let scheduler = match kind {
        SchedulerKind::Vllm => SchedulerConfig::Vllm(VllmConfig {
            batch_size_cap,
            block_size,
            watermark_blocks_fraction: rd.f64(sc, "watermark_blocks_fraction")?,
            num_blocks,
            max_tokens_in_batch: rd.u32(sc, "max_tokens_in_batch")?,
        }),
        SchedulerKind::Sarathi => SchedulerConfig::Sarathi(SarathiConfig {
            batch_size_cap,
            block_size,
            watermark_blocks_fraction: rd.f64(sc, "watermark_blocks_fraction")?,
            num_blocks,
            chunk_size: rd.u32(sc, "chunk_size")?,
        }),
        SchedulerKind::Lightllm => {
            // LightLLM's KV is token-level: any other block size is a different scheduler.
            if block_size != 1 {
                return Err(ConfigError::invalid(
                    path,
                    format!("field 'cluster_config.replica_scheduler_config.block_size': lightllm keeps token-level KV, so block_size must be 1, got {block_size}"),
                ));
            }
            SchedulerConfig::Lightllm(LightllmConfig {
                batch_size_cap,
                num_blocks,
                max_tokens_in_batch: rd.u32(sc, "max_tokens_in_batch")?,
                max_waiting_iters: rd.u32(sc, "max_waiting_iters")?,
            })
        }
        SchedulerKind::Orca | SchedulerKind::FasterTransformer => {
            let c = ReservationConfig {
                batch_size_cap,
                block_size,
                num_blocks,
            };
            if kind == SchedulerKind::Orca {
                SchedulerConfig::Orca(c)
            } else {
                SchedulerConfig::FasterTransformer(c)
            }
        }
        // The name match above yields only Vidur's five; the engine models have no Vidur name.
        SchedulerKind::VllmV1 | SchedulerKind::Sglang | SchedulerKind::Trtllm => {
            return Err(ConfigError::invalid(
                path,
                format!("field 'cluster_config.replica_scheduler_config.name': '{sname}' is not a Vidur scheduler"),
            ))
        }
    };

    let router = match rd.str(&root, "cluster_config.global_scheduler_config.name")? {
        "round_robin" => RouterKind::RoundRobin,
        "lor" => RouterKind::Lor,
        "random" => RouterKind::Random,
        other => {
            return Err(ConfigError::invalid(
                path,
                format!("field 'cluster_config.global_scheduler_config.name': unknown router '{other}' (expected round_robin, lor or random)"),
            ))
        }
    };

    let workload = read_workload(&rd, rd.get(&root, "request_generator_config")?, trace)?;
    let pc = rd.get(&root, "execution_time_predictor_config")?;
    let predictor = VidurTablesOptions {
        kv_cache_prediction_granularity: rd.u32(pc, "kv_cache_prediction_granularity")?,
        attention_decode_batching_overhead_fraction: rd
            .f64(pc, "attention_decode_batching_overhead_fraction")?,
        attention_prefill_batching_overhead_fraction: rd
            .f64(pc, "attention_prefill_batching_overhead_fraction")?,
        nccl_cpu_launch_overhead_ms: rd.f64(pc, "nccl_cpu_launch_overhead_ms")?,
        nccl_cpu_skew_overhead_per_device_ms: rd.f64(pc, "nccl_cpu_skew_overhead_per_device_ms")?,
    };
    if !rd.bool(pc, "skip_cpu_overhead_modeling")? {
        return Err(ConfigError::invalid(
            path,
            "field 'execution_time_predictor_config.skip_cpu_overhead_modeling': CPU-overhead modeling is not supported (Vidur ships no cpu_overheads data); set it to true",
        ));
    }
    let mcfg = root.get("metrics_config");
    let flag = |k: &str, d: bool| {
        mcfg.and_then(|m| m.get(k))
            .and_then(Value::as_bool)
            .unwrap_or(d)
    };
    let time_limit = rd.opt_f64(&root, "time_limit", 0.0)?;
    let sim = SimConfig {
        model,
        device,
        node,
        tensor_parallel_size: rd.u32(rc, "tensor_parallel_size")?,
        num_pipeline_stages: rd.u32(rc, "num_pipeline_stages")?,
        num_replicas: rd.u32(&root, "cluster_config.num_replicas")?,
        memory_margin_fraction: rd.f64(rc, "memory_margin_fraction")?,
        max_tokens: workload.max_tokens(),
        scheduler,
        router,
        seed: rd.get(&root, "seed")?.as_u64().unwrap_or(42),
        // Vidur: 0 means no limit.
        time_limit_s: (time_limit > 0.0).then_some(time_limit),
        compat: Compat::Vidur,
        metrics: MetricsOptions {
            chrome_trace: flag("enable_chrome_trace", true),
            token_metrics: flag("store_token_completion_metrics", false),
        },
    };
    sim.validate()
        .map_err(|e| ConfigError::invalid(path, e.to_string()))?;
    if rc.get("world_size").is_some() {
        let w = rd.u32(rc, "world_size")?;
        let tp_pp = sim.tensor_parallel_size * sim.num_pipeline_stages;
        if w != tp_pp {
            return Err(ConfigError::invalid(
                path,
                format!(
                    "field 'cluster_config.replica_config.world_size': {w} disagrees with tensor_parallel_size × num_pipeline_stages = {tp_pp}"
                ),
            ));
        }
    }
    super::sim_yaml::check_tp_fits_node(&sim, "cluster_config.replica_config.tensor_parallel_size")
        .map_err(|e| ConfigError::field(path, e))?;
    Ok(VidurRun {
        sim,
        workload,
        predictor,
        base_dir,
    })
}

/// `replica_config.<top>` (when present) must name the same thing as `replica_config.<nested>`
/// (case-insensitive).
fn same_name(
    rd: &Reader,
    rc: &Value,
    top: &str,
    nested: &str,
    used: &str,
) -> Result<(), ConfigError> {
    match rc.get(top) {
        None | Some(Value::Null) => Ok(()),
        Some(_) => {
            let given = rd.str(rc, top)?;
            if given.eq_ignore_ascii_case(used) {
                Ok(())
            } else {
                Err(ConfigError::invalid(
                    rd.path,
                    format!(
                        "field 'cluster_config.replica_config.{top}': '{given}' disagrees with 'cluster_config.replica_config.{nested}' = '{used}' (the run would use '{used}'; make them agree)"
                    ),
                ))
            }
        }
    }
}

/// `model_name` must agree with `model_config`: with its `name` when the dump has one, and,
/// for one of Vidur's built-in names, with that model's shape (a 70B name over a 7B shape would
/// otherwise run the 7B model under the 70B name).
fn check_model_name(rd: &Reader, mc: &Value, model: &ModelSpec) -> Result<(), ConfigError> {
    const F: &str = "cluster_config.replica_config";
    if let Some(Value::String(n)) = mc.get("name") {
        if !n.eq_ignore_ascii_case(&model.name) {
            return Err(ConfigError::invalid(
                rd.path,
                format!(
                    "field '{F}.model_name': '{}' disagrees with '{F}.model_config.name' = '{n}'",
                    model.name
                ),
            ));
        }
    }
    if let Ok(b) = ModelSpec::builtin(&model.name) {
        let pairs = [
            ("num_layers", b.num_layers, model.num_layers),
            ("num_q_heads", b.num_q_heads, model.num_q_heads),
            ("num_kv_heads", b.num_kv_heads, model.num_kv_heads),
            ("embedding_dim", b.embedding_dim, model.embedding_dim),
            ("mlp_hidden_dim", b.mlp_hidden_dim, model.mlp_hidden_dim),
        ];
        if let Some((k, want, got)) = pairs.iter().find(|(_, a, b)| a != b) {
            return Err(ConfigError::invalid(
                rd.path,
                format!(
                    "field '{F}.model_config.{k}': {got} disagrees with model_name '{}', whose {k} is {want} (the shape and the name must describe the same model)",
                    model.name
                ),
            ));
        }
    }
    Ok(())
}

fn read_workload(
    rd: &Reader,
    g: &Value,
    trace: Option<&Path>,
) -> Result<WorkloadConfig, ConfigError> {
    let trace_str = |field: &str| -> Result<String, ConfigError> {
        Ok(match trace {
            // A command-line path is relative to the working directory, not the config.
            Some(t) => std::path::absolute(t)
                .unwrap_or_else(|_| t.to_path_buf())
                .display()
                .to_string(),
            None => rd.str(g, field)?.to_string(),
        })
    };
    match rd.str(g, "name")? {
        "trace_replay" => Ok(WorkloadConfig::TraceReplay(TraceReplayConfig {
            trace_file: trace_str("trace_file")?,
            prefill_scale_factor: rd.f64(g, "prefill_scale_factor")?,
            decode_scale_factor: rd.f64(g, "decode_scale_factor")?,
            time_scale_factor: rd.f64(g, "time_scale_factor")?,
            max_tokens: rd.u32(g, "max_tokens")?,
            num_requests: None,
        })),
        "synthetic" => {
            let lc = rd.get(g, "length_generator_config")?;
            let ic = rd.get(g, "interval_generator_config")?;
            let lengths = match rd.str(lc, "name")? {
                "fixed" => LengthConfig::Fixed { prefill_tokens: rd.u32(lc, "prefill_tokens")?, decode_tokens: rd.u32(lc, "decode_tokens")? },
                "uniform" => LengthConfig::Uniform {
                    min_tokens: rd.u32(lc, "min_tokens")?,
                    max_tokens: rd.u32(lc, "max_tokens")?,
                    prefill_to_decode_ratio: rd.f64(lc, "prefill_to_decode_ratio")?,
                },
                "zipf" => LengthConfig::Zipf {
                    theta: rd.f64(lc, "theta")?,
                    scramble: rd.bool(lc, "scramble")?,
                    min_tokens: rd.u32(lc, "min_tokens")?,
                    max_tokens: rd.u32(lc, "max_tokens")?,
                    prefill_to_decode_ratio: rd.f64(lc, "prefill_to_decode_ratio")?,
                },
                "trace" => LengthConfig::Trace {
                    trace_file: trace_str("length_generator_config.trace_file")?,
                    prefill_scale_factor: rd.f64(lc, "prefill_scale_factor")?,
                    decode_scale_factor: rd.f64(lc, "decode_scale_factor")?,
                },
                other => return Err(ConfigError::invalid(rd.path, format!("field 'request_generator_config.length_generator_config.name': unknown length generator '{other}' (expected fixed, uniform, zipf or trace)"))),
            };
            let intervals = match rd.str(ic, "name")? {
                "poisson" => IntervalConfig::Poisson { qps: rd.f64(ic, "qps")? },
                "gamma" => IntervalConfig::Gamma { qps: rd.f64(ic, "qps")?, cv: rd.f64(ic, "cv")? },
                "static" => IntervalConfig::Static {},
                "trace" => IntervalConfig::Trace {
                    trace_file: rd.str(ic, "trace_file")?.to_string(),
                    time_scale_factor: rd.f64(ic, "time_scale_factor")?,
                },
                other => return Err(ConfigError::invalid(rd.path, format!("field 'request_generator_config.interval_generator_config.name': unknown interval generator '{other}' (expected poisson, gamma, static or trace)"))),
            };
            let max_tokens = rd.u32(lc, "max_tokens").or_else(|_| rd.u32(g, "max_tokens")).unwrap_or(4096);
            Ok(WorkloadConfig::Synthetic(SyntheticConfig {
                seed: rd.get(g, "seed")?.as_u64().unwrap_or(42),
                num_requests: rd.get(g, "num_requests").ok().and_then(Value::as_u64),
                duration_s: rd.get(g, "duration").ok().and_then(Value::as_f64),
                max_tokens,
                lengths,
                intervals,
            }))
        }
        other => Err(ConfigError::invalid(rd.path, format!("field 'request_generator_config.name': unknown request generator '{other}' (expected trace_replay or synthetic)"))),
    }
}
