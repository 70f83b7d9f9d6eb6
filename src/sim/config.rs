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
fn default_chunk_size() -> u32 {
    DEFAULT_CHUNK_SIZE
}
fn default_max_tokens_in_batch() -> u32 {
    4096
}
fn default_max_waiting_iters() -> u32 {
    10
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
        }
    }

    /// Scheduler family.
    pub fn kind(&self) -> SchedulerKind {
        match self {
            SchedulerConfig::Vllm(_) => SchedulerKind::Vllm,
            SchedulerConfig::Orca(_) => SchedulerKind::Orca,
            SchedulerConfig::Sarathi(_) => SchedulerKind::Sarathi,
            SchedulerConfig::Lightllm(_) => SchedulerKind::Lightllm,
            SchedulerConfig::FasterTransformer(_) => SchedulerKind::FasterTransformer,
        }
    }

    /// Maximum running requests per replica.
    pub fn batch_size_cap(&self) -> u32 {
        match self {
            SchedulerConfig::Vllm(c) => c.batch_size_cap,
            SchedulerConfig::Sarathi(c) => c.batch_size_cap,
            SchedulerConfig::Lightllm(c) => c.batch_size_cap,
            SchedulerConfig::Orca(c) | SchedulerConfig::FasterTransformer(c) => c.batch_size_cap,
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
        }
    }

    /// KV block size in tokens (1 for LightLLM's token-level KV).
    pub fn block_size(&self) -> u32 {
        match self {
            SchedulerConfig::Vllm(c) => c.block_size,
            SchedulerConfig::Sarathi(c) => c.block_size,
            SchedulerConfig::Lightllm(_) => 1,
            SchedulerConfig::Orca(c) | SchedulerConfig::FasterTransformer(c) => c.block_size,
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
        }
    }

    /// Override the memory planner's KV block count.
    pub fn set_num_blocks(&mut self, n: Option<u64>) {
        match self {
            SchedulerConfig::Vllm(c) => c.num_blocks = n,
            SchedulerConfig::Sarathi(c) => c.num_blocks = n,
            SchedulerConfig::Lightllm(c) => c.num_blocks = n,
            SchedulerConfig::Orca(c) | SchedulerConfig::FasterTransformer(c) => c.num_blocks = n,
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
        let mut cfgs: Vec<SchedulerConfig> = [
            SchedulerKind::Vllm,
            SchedulerKind::Orca,
            SchedulerKind::Sarathi,
            SchedulerKind::Lightllm,
            SchedulerKind::FasterTransformer,
        ]
        .into_iter()
        .map(SchedulerConfig::new)
        .collect();
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
