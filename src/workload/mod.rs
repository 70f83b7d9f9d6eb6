//! Workloads: the requests a simulation replays (vidur-behavior.md §6).
//!
//! A [`WorkloadConfig`] is either a synthetic generator (length distribution × arrival process)
//! or a replay of a Vidur-format trace CSV. [`generate`] turns it into the full, arrival-sorted
//! list of [`RequestSpec`]s. All randomness comes from seeded `rand_xoshiro` generators, so the
//! same config always gives the same requests.

use serde::{Deserialize, Serialize};

/// One request as the workload defines it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RequestSpec {
    /// Arrival time in seconds.
    pub arrived_at: f64,
    /// Prompt tokens (≥ 1).
    pub num_prefill_tokens: u32,
    /// Output tokens (≥ 1).
    pub num_decode_tokens: u32,
}

fn default_max_tokens() -> u32 {
    4096
}
fn default_seed() -> u64 {
    42
}
fn one() -> f64 {
    1.0
}

/// Where requests come from (YAML: `workload: {synthetic: {...}}` or `{trace_replay: {...}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum WorkloadConfig {
    /// Lengths and arrivals drawn from distributions.
    Synthetic(SyntheticConfig),
    /// Replay a trace CSV with `arrived_at, num_prefill_tokens, num_decode_tokens` columns.
    TraceReplay(TraceReplayConfig),
}

/// Synthetic workload (Vidur's `synthetic` request generator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticConfig {
    /// Seed of the workload's random streams (default 42).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Number of requests to generate (ignored when `duration_s` is set).
    #[serde(default)]
    pub num_requests: Option<u64>,
    /// Generate arrivals until this time instead of a fixed count.
    #[serde(default)]
    pub duration_s: Option<f64>,
    /// Largest P + D of one request; also the replica's max request length (default 4096).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Request-length distribution.
    pub lengths: LengthConfig,
    /// Arrival process.
    pub intervals: IntervalConfig,
}

/// Request-length distributions (Vidur §6.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LengthConfig {
    /// Every request has the same lengths.
    Fixed {
        /// Prompt tokens (default 2048).
        prefill_tokens: u32,
        /// Output tokens (default 512).
        decode_tokens: u32,
    },
    /// Total length uniform in [min_tokens, max_tokens], split by a P:D ratio.
    Uniform {
        /// Smallest total.
        min_tokens: u32,
        /// Largest total.
        max_tokens: u32,
        /// P / D.
        prefill_to_decode_ratio: f64,
    },
    /// Total length Zipf-distributed over [min_tokens, max_tokens] (Gray et al. generator).
    Zipf {
        /// Skew (0 < theta, theta != 1).
        theta: f64,
        /// Scramble ranks so the most likely lengths are spread over the range.
        #[serde(default)]
        scramble: bool,
        /// Smallest total.
        min_tokens: u32,
        /// Largest total.
        max_tokens: u32,
        /// P / D.
        prefill_to_decode_ratio: f64,
    },
    /// Lengths sampled (shuffled, then served in order) from a trace CSV with
    /// `num_prefill_tokens, num_decode_tokens` columns, clipped to `max_tokens` as Vidur does.
    Trace {
        /// CSV path (relative paths are relative to the config file).
        trace_file: String,
        /// Multiply prompt lengths.
        #[serde(default = "one")]
        prefill_scale_factor: f64,
        /// Multiply output lengths.
        #[serde(default = "one")]
        decode_scale_factor: f64,
    },
}

/// Arrival processes (Vidur §6.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum IntervalConfig {
    /// Exponential inter-arrival times at `qps` (Vidur caps each gap at 3/qps; only compat mode
    /// keeps that cap).
    Poisson {
        /// Mean arrival rate (requests/s, > 0).
        qps: f64,
    },
    /// Gamma inter-arrival times with mean 1/qps and coefficient of variation `cv`.
    Gamma {
        /// Mean arrival rate (> 0).
        qps: f64,
        /// Coefficient of variation of the gaps (> 0).
        cv: f64,
    },
    /// Everything arrives at t = 0.
    Static {},
    /// Arrival times from a CSV: an `arrived_at` column in seconds, or Vidur's `arrival_time`
    /// datetime column (whole seconds since the first arrival).
    Trace {
        /// CSV path (relative paths are relative to the config file).
        trace_file: String,
        /// Multiply arrival gaps.
        #[serde(default = "one")]
        time_scale_factor: f64,
    },
}

/// Trace replay (Vidur's `trace_replay` generator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceReplayConfig {
    /// CSV with `arrived_at, num_prefill_tokens, num_decode_tokens` (relative to the config).
    pub trace_file: String,
    /// Multiply prompt lengths.
    #[serde(default = "one")]
    pub prefill_scale_factor: f64,
    /// Multiply output lengths.
    #[serde(default = "one")]
    pub decode_scale_factor: f64,
    /// Multiply arrival times (< 1 compresses the trace to raise load).
    #[serde(default = "one")]
    pub time_scale_factor: f64,
    /// Largest P + D; longer requests lose the excess from their prompt (default 4096).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Replay at most this many rows (all when unset).
    #[serde(default)]
    pub num_requests: Option<u64>,
}

impl WorkloadConfig {
    /// The longest request the workload can produce (the replica's `max_request_tokens`).
    pub fn max_tokens(&self) -> u32 {
        match self {
            WorkloadConfig::Synthetic(s) => s.max_tokens,
            WorkloadConfig::TraceReplay(t) => t.max_tokens,
        }
    }
}
