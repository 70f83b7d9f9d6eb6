//! The engine's resolved configuration. These are serde types: the user's YAML (`simulate
//! --config`) deserializes into them directly, and the Vidur `config.json` reader builds them.

use serde::{Deserialize, Serialize};

use crate::compat::Compat;

/// Sarathi's prefill chunk size when none is given (Vidur's default), for a simulation and for
/// a search space alike.
pub const DEFAULT_CHUNK_SIZE: u32 = 512;

/// SGLang's request-pool ceiling: `max_running_requests` never exceeds it when derived
/// (engines.md §3.7).
pub const SGLANG_MAX_RUNNING_REQUESTS_CEILING: u32 = 4096;

/// Replica scheduler family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchedulerKind {
    /// vLLM: prefill-prioritizing continuous batching, full-prompt prefills, recompute preemption.
    Vllm,
    /// Orca: iteration-level batching with full max-length reservations.
    Orca,
    /// Sarathi-Serve: chunked prefills piggybacked on decodes (Vidur's default).
    Sarathi,
    /// LightLLM: token-level KV with a future-peak admission test.
    Lightllm,
    /// FasterTransformer: static batching.
    FasterTransformer,
    /// vLLM V1 (0.10–0.12): one token budget per step, running requests first (engines.md §2).
    VllmV1,
    /// SGLang 0.5.x: prefill-only steps before decode-only steps (engines.md §3).
    Sglang,
    /// TensorRT-LLM 1.0–1.2 PyTorch backend: in-flight batching with full KV reservation
    /// (engines.md §4).
    Trtllm,
}

impl SchedulerKind {
    /// Every scheduler family: Vidur's five, then the three engine models.
    pub const ALL: [SchedulerKind; 8] = [
        SchedulerKind::Vllm,
        SchedulerKind::Orca,
        SchedulerKind::Sarathi,
        SchedulerKind::Lightllm,
        SchedulerKind::FasterTransformer,
        SchedulerKind::VllmV1,
        SchedulerKind::Sglang,
        SchedulerKind::Trtllm,
    ];

    /// The family named `name` (as [`SchedulerKind::name`] writes it).
    pub fn from_name(name: &str) -> Option<SchedulerKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The engine model of `engine` (a calibration's `serving.engines` key: `vllm`, `sglang`,
    /// `trtllm`), if we have one.
    pub fn for_engine(engine: &str) -> Option<SchedulerKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.serving_engine() == Some(engine))
    }

    /// Vidur's name for it.
    pub fn name(self) -> &'static str {
        match self {
            SchedulerKind::Vllm => "vllm",
            SchedulerKind::Orca => "orca",
            SchedulerKind::Sarathi => "sarathi",
            SchedulerKind::Lightllm => "lightllm",
            SchedulerKind::FasterTransformer => "faster_transformer",
            SchedulerKind::VllmV1 => "vllm_v1",
            SchedulerKind::Sglang => "sglang",
            SchedulerKind::Trtllm => "trtllm",
        }
    }

    /// One of today's engines (`vllm_v1`, `sglang`, `trtllm`) rather than Vidur's five.
    pub fn is_engine_model(self) -> bool {
        self.serving_engine().is_some()
    }

    /// The engine whose serving overheads (the calibration's `serving.engines` key) go with
    /// this scheduler by default: the engine models' own; Vidur's schedulers have none.
    pub fn serving_engine(self) -> Option<&'static str> {
        match self {
            SchedulerKind::VllmV1 => Some("vllm"),
            SchedulerKind::Sglang => Some("sglang"),
            SchedulerKind::Trtllm => Some("trtllm"),
            _ => None,
        }
    }
}

fn default_batch_size_cap() -> u32 {
    128
}
fn default_block_size() -> u32 {
    16
}
fn default_watermark() -> f64 {
    0.01
}
fn default_chunk_size() -> u32 {
    DEFAULT_CHUNK_SIZE
}
fn default_max_tokens_in_batch() -> u32 {
    4096
}
fn default_max_waiting_iters() -> u32 {
    10
}
/// `vllm serve`'s token budget and request cap on GPUs of at least 70 GiB other than A100
/// (engines.md §2.6).
const VLLM_V1_LARGE_GPU_DEFAULTS: (u32, u32) = (8192, 1024);
/// The same on A100 and GPUs under 70 GiB.
const VLLM_V1_SMALL_GPU_DEFAULTS: (u32, u32) = (2048, 256);
fn default_sglang_block_size() -> u32 {
    1
}
fn default_sglang_chunked_prefill_size() -> u32 {
    8192
}
fn default_sglang_max_prefill_tokens() -> u32 {
    16384
}
fn default_sglang_schedule_conservativeness() -> f64 {
    1.0
}
fn default_trtllm_block_size() -> u32 {
    32
}
fn default_trtllm_max_batch_size() -> u32 {
    2048
}
fn default_trtllm_max_num_tokens() -> u32 {
    8192
}

/// vLLM knobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VllmConfig {
    /// Maximum running requests per replica (default 128).
    #[serde(default = "default_batch_size_cap")]
    pub batch_size_cap: u32,
    /// KV block size in tokens (default 16).
    #[serde(default = "default_block_size")]
    pub block_size: u32,
    /// Share of blocks kept free when admitting new requests (default 0.01).
    #[serde(default = "default_watermark")]
    pub watermark_blocks_fraction: f64,
    /// Override the memory planner's KV block count.
    #[serde(default)]
    pub num_blocks: Option<u64>,
    /// Token cap per batch (default 4096).
    #[serde(default = "default_max_tokens_in_batch")]
    pub max_tokens_in_batch: u32,
}

/// Sarathi-Serve knobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SarathiConfig {
    /// Maximum running requests per replica (default 128).
    #[serde(default = "default_batch_size_cap")]
    pub batch_size_cap: u32,
    /// KV block size in tokens (default 16).
    #[serde(default = "default_block_size")]
    pub block_size: u32,
    /// Share of blocks kept free when admitting new requests (default 0.01).
    #[serde(default = "default_watermark")]
    pub watermark_blocks_fraction: f64,
    /// Override the memory planner's KV block count.
    #[serde(default)]
    pub num_blocks: Option<u64>,
    /// Prefill tokens per batch (default [`DEFAULT_CHUNK_SIZE`]).
    #[serde(default = "default_chunk_size")]
    pub chunk_size: u32,
}

/// Orca and FasterTransformer knobs: both reserve a full `max_tokens` per request, so no
/// watermark applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationConfig {
    /// Maximum running requests per replica (default 128).
    #[serde(default = "default_batch_size_cap")]
    pub batch_size_cap: u32,
    /// KV block size in tokens (default 16).
    #[serde(default = "default_block_size")]
    pub block_size: u32,
    /// Override the memory planner's KV block count.
    #[serde(default)]
    pub num_blocks: Option<u64>,
}

/// LightLLM knobs. Its KV is token-level, so the block size is always 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LightllmConfig {
    /// Maximum running requests per replica (default 128).
    #[serde(default = "default_batch_size_cap")]
    pub batch_size_cap: u32,
    /// Override the memory planner's KV token count.
    #[serde(default)]
    pub num_blocks: Option<u64>,
    /// Token cap per prefill batch (default 4096).
    #[serde(default = "default_max_tokens_in_batch")]
    pub max_tokens_in_batch: u32,
    /// Decode iterations before a prefill is forced (default 10).
    #[serde(default = "default_max_waiting_iters")]
    pub max_waiting_iters: u32,
}

/// vLLM V1 knobs (vLLM 0.10.2–0.12.0, `vllm serve`; engines.md §2.3–2.6). The KV pool is the
/// memory planner's: vLLM's `gpu_memory_utilization` (default 0.9, a share of total memory,
/// §2.7) corresponds to `1 − memory_margin_fraction` (the planner's default margin 0.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VllmV1Config {
    /// Token budget of one step, shared by decodes and prompt chunks
    /// (`--max-num-batched-tokens`; default `vllm serve`'s for the GPU: 8192 on GPUs of at least
    /// 70 GiB other than A100, 2048 on A100 and smaller GPUs; §2.6). None until the device is
    /// known ([`SchedulerConfig::resolve_device_defaults`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_num_batched_tokens: Option<u32>,
    /// Most admitted requests, checked only when admitting (`--max-num-seqs`; default 1024, 256
    /// on A100 and smaller GPUs, and never above the token budget; §2.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_num_seqs: Option<u32>,
    /// Cap on one request's prompt tokens per step; 0 = off (`--long-prefill-token-threshold`;
    /// default 0; §2.3).
    #[serde(default)]
    pub long_prefill_token_threshold: u32,
    /// KV block size in tokens (`--block-size`; default 16 on CUDA for non-MLA models; §2.6).
    #[serde(default = "default_block_size")]
    pub block_size: u32,
    /// Override the memory planner's KV block count.
    #[serde(default)]
    pub num_blocks: Option<u64>,
}

impl VllmV1Config {
    /// The step's token budget (`vllm serve`'s on a ≥70 GiB GPU other than A100 when unset).
    pub fn budget(&self) -> u32 {
        self.max_num_batched_tokens
            .unwrap_or(VLLM_V1_LARGE_GPU_DEFAULTS.0)
    }

    /// The request cap (1024, at most the budget, when unset).
    pub fn seqs(&self) -> u32 {
        self.max_num_seqs
            .unwrap_or(VLLM_V1_LARGE_GPU_DEFAULTS.1.min(self.budget()))
    }
}

/// SGLang knobs (SGLang 0.5.2–0.5.9; engines.md §3.3–3.7). The KV pool is the memory planner's:
/// SGLang's `mem_fraction_static` (0.835 on H100, 0.907 on H200 for TP1 in 0.5.5, §3.7–3.8)
/// corresponds to `1 − memory_margin_fraction`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SglangConfig {
    /// Prompt tokens of one prefill step (`--chunked-prefill-size`; default 8192, the tier of
    /// 60–160 GiB GPUs such as A100-80GB, H100 and H200; 4096 for 35–60 GiB, 16384 from
    /// 160 GiB; §3.7). Chunking cannot be disabled here.
    #[serde(default = "default_sglang_chunked_prefill_size")]
    pub chunked_prefill_size: u32,
    /// Prompt tokens of one prefill batch before chunking (`--max-prefill-tokens`; default
    /// 16384; §3.4, §3.7).
    #[serde(default = "default_sglang_max_prefill_tokens")]
    pub max_prefill_tokens: u32,
    /// Most running requests (`--max-running-requests`; default unset: the engine derives
    /// `min(pool_tokens / 2, min(max(pool_tokens / context_len · 512, 2048), 4096))` from the
    /// KV pool, §3.7, and so does this model).
    #[serde(default)]
    pub max_running_requests: Option<u32>,
    /// Scales the initial new-token ratio of the admission estimate
    /// (`--schedule-conservativeness`; default 1.0; §3.5).
    #[serde(default = "default_sglang_schedule_conservativeness")]
    pub schedule_conservativeness: f64,
    /// KV page size in tokens (`--page-size`; default 1, token-granular KV with the
    /// FA3/FlashInfer/Triton backends; §3.7).
    #[serde(default = "default_sglang_block_size")]
    pub block_size: u32,
    /// Override the memory planner's KV block (page) count.
    #[serde(default)]
    pub num_blocks: Option<u64>,
}

/// TensorRT-LLM knobs (1.0–1.2, PyTorch backend, `trtllm-serve`; engines.md §4.3–4.5). The KV
/// pool is the memory planner's: TRT-LLM's `free_gpu_memory_fraction` 0.9 applies to the memory
/// left after weights and the activation peak (§4.6), which the planner approximates with
/// `memory_margin_fraction` of the total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrtllmConfig {
    /// Most requests in one step (`max_batch_size`; default 2048; §4.5).
    #[serde(default = "default_trtllm_max_batch_size")]
    pub max_batch_size: u32,
    /// Token budget of one step (`max_num_tokens`; default 8192; §4.5).
    #[serde(default = "default_trtllm_max_num_tokens")]
    pub max_num_tokens: u32,
    /// Split prompts across steps (`enable_chunked_prefill`; default false; §4.4–4.5). Without
    /// it a prompt longer than `max_num_tokens` can never run.
    #[serde(default)]
    pub enable_chunked_context: bool,
    /// KV block size in tokens (`kv_cache_config.tokens_per_block`; default 32; §4.5). Also
    /// the chunk unit when chunking (§4.4).
    #[serde(default = "default_trtllm_block_size")]
    pub block_size: u32,
    /// Override the memory planner's KV block count.
    #[serde(default)]
    pub num_blocks: Option<u64>,
}

/// Replica scheduler and its knobs, one variant per family: a knob that does not apply to the
/// chosen `type` is an unknown field and fails to parse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SchedulerConfig {
    /// vLLM.
    Vllm(VllmConfig),
    /// Orca.
    Orca(ReservationConfig),
    /// Sarathi-Serve.
    Sarathi(SarathiConfig),
    /// LightLLM.
    Lightllm(LightllmConfig),
    /// FasterTransformer.
    FasterTransformer(ReservationConfig),
    /// vLLM V1.
    VllmV1(VllmV1Config),
    /// SGLang.
    Sglang(SglangConfig),
    /// TensorRT-LLM.
    Trtllm(TrtllmConfig),
}

impl SchedulerConfig {
    /// Defaults for a kind, as Vidur's CLI has them.
    pub fn new(kind: SchedulerKind) -> Self {
        let reservation = || ReservationConfig {
            batch_size_cap: default_batch_size_cap(),
            block_size: default_block_size(),
            num_blocks: None,
        };
        match kind {
            SchedulerKind::Vllm => SchedulerConfig::Vllm(VllmConfig {
                batch_size_cap: default_batch_size_cap(),
                block_size: default_block_size(),
                watermark_blocks_fraction: default_watermark(),
                num_blocks: None,
                max_tokens_in_batch: default_max_tokens_in_batch(),
            }),
            SchedulerKind::Sarathi => SchedulerConfig::Sarathi(SarathiConfig {
                batch_size_cap: default_batch_size_cap(),
                block_size: default_block_size(),
                watermark_blocks_fraction: default_watermark(),
                num_blocks: None,
                chunk_size: default_chunk_size(),
            }),
            SchedulerKind::Lightllm => SchedulerConfig::Lightllm(LightllmConfig {
                batch_size_cap: default_batch_size_cap(),
                num_blocks: None,
                max_tokens_in_batch: default_max_tokens_in_batch(),
                max_waiting_iters: default_max_waiting_iters(),
            }),
            SchedulerKind::Orca => SchedulerConfig::Orca(reservation()),
            SchedulerKind::FasterTransformer => SchedulerConfig::FasterTransformer(reservation()),
            SchedulerKind::VllmV1 => SchedulerConfig::VllmV1(VllmV1Config {
                max_num_batched_tokens: None,
                max_num_seqs: None,
                long_prefill_token_threshold: 0,
                block_size: default_block_size(),
                num_blocks: None,
            }),
            SchedulerKind::Sglang => SchedulerConfig::Sglang(SglangConfig {
                chunked_prefill_size: default_sglang_chunked_prefill_size(),
                max_prefill_tokens: default_sglang_max_prefill_tokens(),
                max_running_requests: None,
                schedule_conservativeness: default_sglang_schedule_conservativeness(),
                block_size: default_sglang_block_size(),
                num_blocks: None,
            }),
            SchedulerKind::Trtllm => SchedulerConfig::Trtllm(TrtllmConfig {
                max_batch_size: default_trtllm_max_batch_size(),
                max_num_tokens: default_trtllm_max_num_tokens(),
                enable_chunked_context: false,
                block_size: default_trtllm_block_size(),
                num_blocks: None,
            }),
        }
    }

    /// Fill the knobs whose engine default depends on the GPU (vLLM V1's token budget and
    /// request cap, engines.md §2.6) for `device`; knobs already set stay.
    pub fn resolve_device_defaults(&mut self, device: &crate::catalog::DeviceSpec) {
        if let SchedulerConfig::VllmV1(c) = self {
            let large = device.total_memory_gb >= 70.0
                && !device.name.to_ascii_lowercase().contains("a100");
            let (tokens, seqs) = if large {
                VLLM_V1_LARGE_GPU_DEFAULTS
            } else {
                VLLM_V1_SMALL_GPU_DEFAULTS
            };
            let budget = *c.max_num_batched_tokens.get_or_insert(tokens);
            c.max_num_seqs.get_or_insert(seqs.min(budget));
        }
    }

    /// The scheduler a config without one gets: vLLM V1, today's engine; with `compat: vidur`,
    /// Vidur's own default (Sarathi-Serve with chunk 512).
    pub fn default_for(compat: Compat) -> Self {
        SchedulerConfig::new(if compat.is_vidur() {
            SchedulerKind::Sarathi
        } else {
            SchedulerKind::VllmV1
        })
    }

    /// Scheduler family.
    pub fn kind(&self) -> SchedulerKind {
        match self {
            SchedulerConfig::Vllm(_) => SchedulerKind::Vllm,
            SchedulerConfig::Orca(_) => SchedulerKind::Orca,
            SchedulerConfig::Sarathi(_) => SchedulerKind::Sarathi,
            SchedulerConfig::Lightllm(_) => SchedulerKind::Lightllm,
            SchedulerConfig::FasterTransformer(_) => SchedulerKind::FasterTransformer,
            SchedulerConfig::VllmV1(_) => SchedulerKind::VllmV1,
            SchedulerConfig::Sglang(_) => SchedulerKind::Sglang,
            SchedulerConfig::Trtllm(_) => SchedulerKind::Trtllm,
        }
    }

    /// Maximum running requests per replica: the engine's request cap for the engine models
    /// (`max_num_seqs`, `max_running_requests`, `max_batch_size`). SGLang's unset cap reads as
    /// 4096, the ceiling of its derived value (engines.md §3.7).
    pub fn batch_size_cap(&self) -> u32 {
        match self {
            SchedulerConfig::Vllm(c) => c.batch_size_cap,
            SchedulerConfig::Sarathi(c) => c.batch_size_cap,
            SchedulerConfig::Lightllm(c) => c.batch_size_cap,
            SchedulerConfig::Orca(c) | SchedulerConfig::FasterTransformer(c) => c.batch_size_cap,
            SchedulerConfig::VllmV1(c) => c.seqs(),
            SchedulerConfig::Sglang(c) => c
                .max_running_requests
                .unwrap_or(SGLANG_MAX_RUNNING_REQUESTS_CEILING),
            SchedulerConfig::Trtllm(c) => c.max_batch_size,
        }
    }

    /// The step's token budget where the scheduler has one as a knob: vLLM's
    /// `max_tokens_in_batch`, LightLLM's prefill cap, vLLM V1's `max_num_batched_tokens`,
    /// SGLang's `chunked_prefill_size`, TRT-LLM's `max_num_tokens` (None: Sarathi's chunk,
    /// Orca, FasterTransformer).
    pub fn token_budget(&self) -> Option<u32> {
        match self {
            SchedulerConfig::Vllm(c) => Some(c.max_tokens_in_batch),
            SchedulerConfig::Lightllm(c) => Some(c.max_tokens_in_batch),
            SchedulerConfig::VllmV1(c) => Some(c.budget()),
            SchedulerConfig::Sglang(c) => Some(c.chunked_prefill_size),
            SchedulerConfig::Trtllm(c) => Some(c.max_num_tokens),
            SchedulerConfig::Sarathi(_)
            | SchedulerConfig::Orca(_)
            | SchedulerConfig::FasterTransformer(_) => None,
        }
    }

    /// Set the step's token budget of a scheduler that has one (see [`Self::token_budget`]);
    /// Sarathi, Orca and FasterTransformer have none and stay as they are.
    pub fn set_token_budget(&mut self, tokens: u32) {
        match self {
            SchedulerConfig::Vllm(c) => c.max_tokens_in_batch = tokens,
            SchedulerConfig::Lightllm(c) => c.max_tokens_in_batch = tokens,
            SchedulerConfig::VllmV1(c) => c.max_num_batched_tokens = Some(tokens),
            SchedulerConfig::Sglang(c) => c.chunked_prefill_size = tokens,
            SchedulerConfig::Trtllm(c) => c.max_num_tokens = tokens,
            SchedulerConfig::Sarathi(_)
            | SchedulerConfig::Orca(_)
            | SchedulerConfig::FasterTransformer(_) => {}
        }
    }

    /// Set the maximum running requests per replica.
    pub fn set_batch_size_cap(&mut self, cap: u32) {
        match self {
            SchedulerConfig::Vllm(c) => c.batch_size_cap = cap,
            SchedulerConfig::Sarathi(c) => c.batch_size_cap = cap,
            SchedulerConfig::Lightllm(c) => c.batch_size_cap = cap,
            SchedulerConfig::Orca(c) | SchedulerConfig::FasterTransformer(c) => {
                c.batch_size_cap = cap
            }
            SchedulerConfig::VllmV1(c) => c.max_num_seqs = Some(cap),
            SchedulerConfig::Sglang(c) => c.max_running_requests = Some(cap),
            SchedulerConfig::Trtllm(c) => c.max_batch_size = cap,
        }
    }

    /// KV block size in tokens (1 for LightLLM's token-level KV).
    pub fn block_size(&self) -> u32 {
        match self {
            SchedulerConfig::Vllm(c) => c.block_size,
            SchedulerConfig::Sarathi(c) => c.block_size,
            SchedulerConfig::Lightllm(_) => 1,
            SchedulerConfig::Orca(c) | SchedulerConfig::FasterTransformer(c) => c.block_size,
            SchedulerConfig::VllmV1(c) => c.block_size,
            SchedulerConfig::Sglang(c) => c.block_size,
            SchedulerConfig::Trtllm(c) => c.block_size,
        }
    }

    /// Admission watermark share (0 for the schedulers whose admission test has none).
    pub fn watermark_blocks_fraction(&self) -> f64 {
        match self {
            SchedulerConfig::Vllm(c) => c.watermark_blocks_fraction,
            SchedulerConfig::Sarathi(c) => c.watermark_blocks_fraction,
            _ => 0.0,
        }
    }

    /// The memory planner's KV block count override, if any.
    pub fn num_blocks(&self) -> Option<u64> {
        match self {
            SchedulerConfig::Vllm(c) => c.num_blocks,
            SchedulerConfig::Sarathi(c) => c.num_blocks,
            SchedulerConfig::Lightllm(c) => c.num_blocks,
            SchedulerConfig::Orca(c) | SchedulerConfig::FasterTransformer(c) => c.num_blocks,
            SchedulerConfig::VllmV1(c) => c.num_blocks,
            SchedulerConfig::Sglang(c) => c.num_blocks,
            SchedulerConfig::Trtllm(c) => c.num_blocks,
        }
    }

    /// Override the memory planner's KV block count.
    pub fn set_num_blocks(&mut self, n: Option<u64>) {
        match self {
            SchedulerConfig::Vllm(c) => c.num_blocks = n,
            SchedulerConfig::Sarathi(c) => c.num_blocks = n,
            SchedulerConfig::Lightllm(c) => c.num_blocks = n,
            SchedulerConfig::Orca(c) | SchedulerConfig::FasterTransformer(c) => c.num_blocks = n,
            SchedulerConfig::VllmV1(c) => c.num_blocks = n,
            SchedulerConfig::Sglang(c) => c.num_blocks = n,
            SchedulerConfig::Trtllm(c) => c.num_blocks = n,
        }
    }

    /// Sarathi's chunk size; `None` for the other schedulers.
    pub fn chunk_size(&self) -> Option<u32> {
        match self {
            SchedulerConfig::Sarathi(c) => Some(c.chunk_size),
            _ => None,
        }
    }

    /// The batch token cap of vLLM and LightLLM; `None` for the other schedulers.
    pub fn max_tokens_in_batch(&self) -> Option<u32> {
        match self {
            SchedulerConfig::Vllm(c) => Some(c.max_tokens_in_batch),
            SchedulerConfig::Lightllm(c) => Some(c.max_tokens_in_batch),
            _ => None,
        }
    }

    /// Check values the types cannot (ranges, and against the pipeline depth); the error
    /// names the field.
    pub fn validate(&self, num_stages: u32) -> Result<(), String> {
        let k = self.kind();
        // The engine models' knobs first, so an error names the engine's own field.
        match self {
            SchedulerConfig::VllmV1(c) => {
                if c.budget() == 0 {
                    return Err("scheduler.max_num_batched_tokens must be at least 1".into());
                }
                if c.seqs() == 0 {
                    return Err("scheduler.max_num_seqs must be at least 1".into());
                }
            }
            SchedulerConfig::Sglang(c) => {
                if c.chunked_prefill_size == 0 {
                    return Err("scheduler.chunked_prefill_size must be at least 1".into());
                }
                if c.max_prefill_tokens == 0 {
                    return Err("scheduler.max_prefill_tokens must be at least 1".into());
                }
                if c.block_size > 0 && !c.chunked_prefill_size.is_multiple_of(c.block_size) {
                    return Err(format!(
                        "scheduler.chunked_prefill_size ({}) must be a multiple of scheduler.block_size ({}), as SGLang requires of its page size",
                        c.chunked_prefill_size, c.block_size
                    ));
                }
                if c.max_running_requests == Some(0) {
                    return Err("scheduler.max_running_requests must be at least 1".into());
                }
                if !(c.schedule_conservativeness.is_finite() && c.schedule_conservativeness > 0.0) {
                    return Err(format!(
                        "scheduler.schedule_conservativeness must be a finite number > 0, got {}",
                        c.schedule_conservativeness
                    ));
                }
            }
            SchedulerConfig::Trtllm(c) => {
                if c.max_batch_size == 0 {
                    return Err("scheduler.max_batch_size must be at least 1".into());
                }
                if c.max_num_tokens == 0 {
                    return Err("scheduler.max_num_tokens must be at least 1".into());
                }
                // Chunks are whole blocks but the last, so a smaller budget never fits one.
                if c.enable_chunked_context && c.max_num_tokens < c.block_size {
                    return Err(format!(
                        "scheduler.max_num_tokens ({}) must be at least scheduler.block_size ({}) with enable_chunked_context",
                        c.max_num_tokens, c.block_size
                    ));
                }
            }
            _ => {}
        }
        if self.batch_size_cap() == 0 {
            return Err("scheduler.batch_size_cap must be at least 1".into());
        }
        if self.block_size() == 0 {
            return Err("scheduler.block_size must be at least 1".into());
        }
        if self.chunk_size() == Some(0) {
            return Err("scheduler.chunk_size must be at least 1".into());
        }
        if self.max_tokens_in_batch() == Some(0) {
            return Err("scheduler.max_tokens_in_batch must be at least 1".into());
        }
        if !(0.0..1.0).contains(&self.watermark_blocks_fraction()) {
            return Err(format!(
                "scheduler.watermark_blocks_fraction must be in [0, 1), got {}",
                self.watermark_blocks_fraction()
            ));
        }
        if k == SchedulerKind::Lightllm && num_stages != 1 {
            return Err(
                "lightllm does not support pipeline parallelism (num_pipeline_stages must be 1)"
                    .into(),
            );
        }
        if matches!(
            k,
            SchedulerKind::Vllm | SchedulerKind::Sarathi | SchedulerKind::Lightllm
        ) && self.batch_size_cap() < num_stages
        {
            return Err(format!(
                "scheduler.batch_size_cap ({}) must be at least the number of pipeline stages ({num_stages})",
                self.batch_size_cap()
            ));
        }
        Ok(())
    }
}

/// Global router (Vidur's global scheduler).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouterKind {
    /// Cycle over replicas.
    #[default]
    RoundRobin,
    /// Least outstanding requests.
    Lor,
    /// Uniformly random replica.
    Random,
}

/// What the recorder keeps beyond the per-request metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsOptions {
    /// Record one Chrome-trace slice per batch stage.
    #[serde(default = "yes")]
    pub chrome_trace: bool,
    /// Record per-token completion metrics (inter-token latency series).
    #[serde(default = "yes")]
    pub token_metrics: bool,
}

fn yes() -> bool {
    true
}

impl Default for MetricsOptions {
    fn default() -> Self {
        MetricsOptions {
            chrome_trace: true,
            token_metrics: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<SchedulerConfig, String> {
        serde_saphyr::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn knob_of_another_scheduler_is_rejected_by_name() {
        let e = parse("{type: sarathi, max_tokens_in_batch: 1024}").unwrap_err();
        assert!(e.contains("max_tokens_in_batch"), "{e}");
        let e = parse("{type: orca, chunk_size: 256}").unwrap_err();
        assert!(e.contains("chunk_size"), "{e}");
        let e = parse("{type: orca, watermark_blocks_fraction: 0.1}").unwrap_err();
        assert!(e.contains("watermark_blocks_fraction"), "{e}");
        let e = parse("{type: lightllm, block_size: 16}").unwrap_err();
        assert!(e.contains("block_size"), "{e}");
        assert!(parse("{type: vllm, max_waiting_iters: 3}").is_err());
    }

    #[test]
    fn defaults_resolve() {
        let c = parse("{type: sarathi}").unwrap();
        assert_eq!(c, SchedulerConfig::new(SchedulerKind::Sarathi));
        assert_eq!(c.chunk_size(), Some(DEFAULT_CHUNK_SIZE));
        assert_eq!(c.batch_size_cap(), 128);
        assert_eq!(c.block_size(), 16);
        let l = parse("{type: lightllm, max_waiting_iters: 3}").unwrap();
        assert_eq!(l.block_size(), 1);
        assert_eq!(l.max_tokens_in_batch(), Some(4096));
        assert_eq!(l.watermark_blocks_fraction(), 0.0);
        assert_eq!(l.kind(), SchedulerKind::Lightllm);
        let v = parse("{type: vllm, max_tokens_in_batch: 8192}").unwrap();
        assert_eq!(v.max_tokens_in_batch(), Some(8192));
        assert_eq!(v.chunk_size(), None);
    }

    #[test]
    fn serialize_round_trips() {
        let mut cfgs: Vec<SchedulerConfig> = SchedulerKind::ALL
            .into_iter()
            .map(SchedulerConfig::new)
            .collect();
        for k in SchedulerKind::ALL {
            assert_eq!(SchedulerKind::from_name(k.name()), Some(k));
        }
        assert_eq!(
            SchedulerKind::for_engine("trtllm"),
            Some(SchedulerKind::Trtllm)
        );
        assert_eq!(SchedulerKind::for_engine("lmdeploy"), None);
        cfgs[2] = parse("{type: sarathi, chunk_size: 1024, num_blocks: 77}").unwrap();
        for c in cfgs {
            let text = serde_saphyr::to_string(&c).unwrap();
            assert!(text.contains(c.kind().name()), "{text}");
            assert_eq!(parse(&text).unwrap(), c, "{text}");
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<SchedulerConfig>(&json).unwrap(), c);
        }
    }

    #[test]
    fn engine_models_parse_with_their_defaults_and_refuse_foreign_knobs() {
        let v = parse("{type: vllm_v1}").unwrap();
        assert_eq!(v, SchedulerConfig::new(SchedulerKind::VllmV1));
        assert_eq!(
            (v.kind(), v.batch_size_cap(), v.block_size(), v.num_blocks()),
            (SchedulerKind::VllmV1, 1024, 16, None)
        );
        let SchedulerConfig::VllmV1(c) = &v else {
            panic!("{v:?}")
        };
        assert_eq!((c.budget(), c.max_num_batched_tokens), (8192, None));
        // vLLM's defaults follow the GPU (engines.md §2.6); a knob given stays.
        let catalog = crate::catalog::HardwareCatalog::embedded();
        let device = |name: &str| crate::catalog::resolve_device(&catalog, name, false).unwrap();
        for (gpu, given, want) in [
            ("h100", "", (8192, 1024)),
            ("h200", "", (8192, 1024)),
            ("a100", "", (2048, 256)),
            ("l40s", "", (2048, 256)),
            ("a100", ", max_num_batched_tokens: 8192", (8192, 256)),
            ("h100", ", max_num_batched_tokens: 512", (512, 512)),
            ("h100", ", max_num_seqs: 64", (8192, 64)),
        ] {
            let mut v = parse(&format!("{{type: vllm_v1{given}}}")).unwrap();
            v.resolve_device_defaults(&device(gpu));
            assert_eq!(
                (v.token_budget().unwrap(), v.batch_size_cap()),
                want,
                "{gpu}{given}"
            );
        }
        let s = parse("{type: sglang, max_running_requests: 48}").unwrap();
        assert_eq!((s.batch_size_cap(), s.block_size()), (48, 1));
        assert_eq!(
            parse("{type: sglang}").unwrap().batch_size_cap(),
            SGLANG_MAX_RUNNING_REQUESTS_CEILING
        );
        let t = parse("{type: trtllm, enable_chunked_context: true, num_blocks: 9}").unwrap();
        assert_eq!((t.batch_size_cap(), t.block_size()), (2048, 32));
        assert_eq!(t.num_blocks(), Some(9));
        for c in [&v, &s, &t] {
            assert_eq!(c.watermark_blocks_fraction(), 0.0);
            assert_eq!((c.chunk_size(), c.max_tokens_in_batch()), (None, None));
            assert!(c.validate(1).is_ok());
        }
        let mut t2 = t.clone();
        t2.set_batch_size_cap(7);
        t2.set_num_blocks(None);
        assert_eq!((t2.batch_size_cap(), t2.num_blocks()), (7, None));
        for (yaml, knob) in [
            ("{type: vllm_v1, chunk_size: 512}", "chunk_size"),
            ("{type: vllm_v1, batch_size_cap: 8}", "batch_size_cap"),
            ("{type: sglang, max_num_seqs: 8}", "max_num_seqs"),
            (
                "{type: trtllm, chunked_prefill_size: 8}",
                "chunked_prefill_size",
            ),
        ] {
            let e = parse(yaml).unwrap_err();
            assert!(e.contains(knob), "{yaml}: {e}");
        }
        for (yaml, field) in [
            (
                "{type: vllm_v1, max_num_batched_tokens: 0}",
                "max_num_batched_tokens",
            ),
            ("{type: vllm_v1, max_num_seqs: 0}", "max_num_seqs"),
            (
                "{type: sglang, chunked_prefill_size: 0}",
                "chunked_prefill_size",
            ),
            (
                "{type: sglang, schedule_conservativeness: 0}",
                "schedule_conservativeness",
            ),
            ("{type: trtllm, max_num_tokens: 0}", "max_num_tokens"),
            ("{type: trtllm, block_size: 0}", "block_size"),
            (
                "{type: sglang, block_size: 16, chunked_prefill_size: 8}",
                "multiple",
            ),
            (
                "{type: trtllm, enable_chunked_context: true, max_num_tokens: 16}",
                "enable_chunked_context",
            ),
        ] {
            let e = parse(yaml).unwrap().validate(1).unwrap_err();
            assert!(e.contains(field), "{yaml}: {e}");
        }
    }

    #[test]
    fn validate_checks_ranges_and_stages() {
        let mut c = SchedulerConfig::new(SchedulerKind::Vllm);
        assert!(c.validate(4).is_ok());
        c.set_batch_size_cap(2);
        assert!(c
            .validate(4)
            .unwrap_err()
            .contains("scheduler.batch_size_cap"));
        let c = parse("{type: sarathi, chunk_size: 0}").unwrap();
        assert!(c.validate(1).unwrap_err().contains("scheduler.chunk_size"));
        let c = parse("{type: vllm, watermark_blocks_fraction: 1.0}").unwrap();
        assert!(c
            .validate(1)
            .unwrap_err()
            .contains("watermark_blocks_fraction"));
        let c = SchedulerConfig::new(SchedulerKind::Lightllm);
        assert!(c.validate(2).unwrap_err().contains("pipeline"));
    }
}
