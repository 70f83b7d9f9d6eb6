//! The engine's resolved configuration. These are serde types: the user's YAML (`simulate
//! --config`) deserializes into them directly, and the Vidur `config.json` reader builds them.

use serde::{Deserialize, Serialize};

/// Sarathi's prefill chunk size when none is given (Vidur's default), for a simulation and for
/// a search space alike.
pub const DEFAULT_CHUNK_SIZE: u32 = 512;

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
}

impl SchedulerKind {
    /// Vidur's name for it.
    pub fn name(self) -> &'static str {
        match self {
            SchedulerKind::Vllm => "vllm",
            SchedulerKind::Orca => "orca",
            SchedulerKind::Sarathi => "sarathi",
            SchedulerKind::Lightllm => "lightllm",
            SchedulerKind::FasterTransformer => "faster_transformer",
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

/// Replica scheduler and its knobs. Knobs that do not apply to the chosen kind are rejected by
/// [`SchedulerConfig::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerConfig {
    /// Scheduler family.
    #[serde(rename = "type")]
    pub kind: SchedulerKind,
    /// Maximum running requests per replica (default 128).
    #[serde(default = "default_batch_size_cap")]
    pub batch_size_cap: u32,
    /// KV block size in tokens (default 16; LightLLM requires 1).
    #[serde(default = "default_block_size")]
    pub block_size: u32,
    /// Share of blocks kept free when admitting new requests (vLLM, Sarathi; default 0.01).
    #[serde(default = "default_watermark")]
    pub watermark_blocks_fraction: f64,
    /// Override the memory planner's KV block count.
    #[serde(default)]
    pub num_blocks: Option<u64>,
    /// Sarathi prefill chunk size (default [`DEFAULT_CHUNK_SIZE`]).
    #[serde(default)]
    pub chunk_size: Option<u32>,
    /// vLLM / LightLLM token cap per batch (default 4096).
    #[serde(default)]
    pub max_tokens_in_batch: Option<u32>,
    /// LightLLM decode iterations before a prefill is forced (default 10).
    #[serde(default)]
    pub max_waiting_iters: Option<u32>,
}

impl SchedulerConfig {
    /// Defaults for a kind, as Vidur's CLI has them.
    pub fn new(kind: SchedulerKind) -> Self {
        SchedulerConfig {
            kind,
            batch_size_cap: default_batch_size_cap(),
            block_size: if kind == SchedulerKind::Lightllm {
                1
            } else {
                default_block_size()
            },
            watermark_blocks_fraction: default_watermark(),
            num_blocks: None,
            chunk_size: None,
            max_tokens_in_batch: None,
            max_waiting_iters: None,
        }
    }

    /// Sarathi chunk size.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE)
    }

    /// vLLM / LightLLM batch token cap.
    pub fn max_tokens_in_batch(&self) -> u32 {
        self.max_tokens_in_batch.unwrap_or(4096)
    }

    /// LightLLM max waiting iterations.
    pub fn max_waiting_iters(&self) -> u32 {
        self.max_waiting_iters.unwrap_or(10)
    }

    /// Check the knobs against the kind; the error names the field.
    pub fn validate(&self, num_stages: u32) -> Result<(), String> {
        use SchedulerKind::*;
        let k = self.kind;
        if self.chunk_size.is_some() && k != Sarathi {
            return Err(format!(
                "scheduler.chunk_size applies only to sarathi, not {}",
                k.name()
            ));
        }
        if self.max_tokens_in_batch.is_some() && !matches!(k, Vllm | Lightllm) {
            return Err(format!(
                "scheduler.max_tokens_in_batch applies only to vllm and lightllm, not {}",
                k.name()
            ));
        }
        if self.max_waiting_iters.is_some() && k != Lightllm {
            return Err(format!(
                "scheduler.max_waiting_iters applies only to lightllm, not {}",
                k.name()
            ));
        }
        if self.batch_size_cap == 0 {
            return Err("scheduler.batch_size_cap must be at least 1".into());
        }
        if self.block_size == 0 {
            return Err("scheduler.block_size must be at least 1".into());
        }
        if self.chunk_size == Some(0) {
            return Err("scheduler.chunk_size must be at least 1".into());
        }
        if self.max_tokens_in_batch == Some(0) {
            return Err("scheduler.max_tokens_in_batch must be at least 1".into());
        }
        if !(0.0..1.0).contains(&self.watermark_blocks_fraction) {
            return Err(format!(
                "scheduler.watermark_blocks_fraction must be in [0, 1), got {}",
                self.watermark_blocks_fraction
            ));
        }
        if k == Lightllm {
            if self.block_size != 1 {
                return Err(format!(
                    "scheduler.block_size must be 1 for lightllm (token-level KV), got {}",
                    self.block_size
                ));
            }
            if num_stages != 1 {
                return Err("lightllm does not support pipeline parallelism (num_pipeline_stages must be 1)".into());
            }
        }
        if matches!(k, Vllm | Sarathi | Lightllm) && self.batch_size_cap < num_stages {
            return Err(format!(
                "scheduler.batch_size_cap ({}) must be at least the number of pipeline stages ({num_stages})",
                self.batch_size_cap
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
