//! Workloads: the requests a simulation replays (vidur-behavior.md §6).
//!
//! A [`WorkloadConfig`] is a synthetic generator (length distribution × arrival process), a
//! replay of a Vidur-format trace CSV, or a closed loop of clients that each send their next
//! request when the previous one completes. [`source`] turns it into a [`RequestSource`] that
//! yields the requests in arrival order, drawing synthetic ones lazily (memory follows the
//! requests pulled, not `num_requests`); [`generate`] collects an open-loop workload into a list
//! (a closed loop's arrivals depend on the simulation, so it has no list). All randomness comes
//! from seeded `rand_xoshiro` generators, so the same config always gives the same requests.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::compat::Compat;

mod builtin;
mod closed_loop;
mod csvio;
mod error;
mod intervals;
mod lengths;
mod source;
mod trace;

pub use builtin::{
    builtin, builtin_names, BuiltinCatalog, BuiltinLengths, FitQuality, MarginalQuality,
    COPULA_EDGES, LEVELS,
};
pub use closed_loop::{ClosedLoopConfig, ClosedLoopSource};
pub use error::WorkloadError;
pub use source::{
    ListSource, RequestSource, SliceSource, SyntheticSource, VecSource, WorkloadSource,
};

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

/// Where requests come from (YAML: `workload: {synthetic: {...}}`, `{trace_replay: {...}}` or
/// `{closed_loop: {...}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum WorkloadConfig {
    /// Lengths and arrivals drawn from distributions.
    Synthetic(SyntheticConfig),
    /// Replay a trace CSV with `arrived_at, num_prefill_tokens, num_decode_tokens` columns.
    TraceReplay(TraceReplayConfig),
    /// A fixed number of clients, each sending its next request when the previous completes.
    ClosedLoop(ClosedLoopConfig),
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
    /// A built-in length distribution fitted to a public trace (`chat`/`conversation`, `code`,
    /// `summarization`/`arxiv`; see [`builtin_names`]), clipped to `max_tokens` like `trace`.
    /// Needs no file: the fitted figures are compiled in (`data/workloads.yaml`).
    Builtin {
        /// Built-in name or alias.
        name: String,
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
            WorkloadConfig::ClosedLoop(c) => c.max_tokens,
        }
    }

    /// Requests at the start of the run that are simulated but left out of the metrics (the
    /// first this-many in arrival order); 0 for open-loop workloads.
    pub fn warmup_requests(&self) -> u64 {
        match self {
            WorkloadConfig::ClosedLoop(c) => c.warmup_requests,
            WorkloadConfig::Synthetic(_) | WorkloadConfig::TraceReplay(_) => 0,
        }
    }

    /// Whether arrivals depend on completions (no request list exists ahead of the simulation).
    pub fn is_closed_loop(&self) -> bool {
        matches!(self, WorkloadConfig::ClosedLoop(_))
    }
}

/// Generates the full request list of a workload, sorted by arrival time (stable, so equal
/// arrivals keep generation/file order): [`WorkloadSource`] collected. A closed-loop workload
/// is an error ([`WorkloadError::ClosedLoopAhead`]): its arrivals follow the simulation.
///
/// Relative trace paths are resolved against `base_dir` (normally the config file's
/// directory); absolute paths are used as given. `compat` selects Vidur's exact quirks
/// (Poisson gap cap, prefill-only trace clipping) or the fixed semantics.
pub fn generate(
    cfg: &WorkloadConfig,
    compat: Compat,
    base_dir: &Path,
) -> Result<Vec<RequestSpec>, WorkloadError> {
    if cfg.is_closed_loop() {
        return Err(WorkloadError::ClosedLoopAhead(
            "a request list was asked for; simulate it instead (vidur-search simulate), or use a \
             synthetic or trace_replay workload"
                .into(),
        ));
    }
    let src = WorkloadSource::new(cfg, compat, base_dir)?;
    // Counts can be huge (the source is lazy for that reason): grow past 4M rather than
    // reserving it all at once.
    let mut out = Vec::with_capacity(src.size_hint().0.min(1 << 22));
    out.extend(src);
    Ok(out)
}

/// The workload's requests as a lazy source, in arrival order (the same sequence as
/// [`generate`]); every configuration error is raised here.
pub fn source(
    cfg: &WorkloadConfig,
    compat: Compat,
    base_dir: &Path,
) -> Result<WorkloadSource, WorkloadError> {
    WorkloadSource::new(cfg, compat, base_dir)
}

/// Scale factors must be finite and > 0.
pub(crate) fn check_scale(field: &str, v: f64) -> Result<(), WorkloadError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(WorkloadError::invalid(
            field,
            format!("must be a finite number > 0, got {v}"),
        ))
    }
}

/// `max_tokens` must leave room for one prompt and one output token.
pub(crate) fn check_max_tokens(field: &str, v: u32) -> Result<(), WorkloadError> {
    if v >= 2 {
        Ok(())
    } else {
        Err(WorkloadError::invalid(
            field,
            format!("must be >= 2 (one prompt + one output token), got {v}"),
        ))
    }
}

#[cfg(test)]
mod closed_loop_tests;
#[cfg(test)]
mod source_tests;
#[cfg(test)]
mod tests;
