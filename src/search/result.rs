//! What a search produces: one [`PointResult`] per evaluated design point, every simulation run
//! behind it, the points dropped as infeasible, and the run's metadata. These are the only
//! inputs of the report writers (`crate::report`), and they round-trip through JSON (the result
//! cache and `results.json`).

use serde::{Deserialize, Serialize};

/// A latency metric an SLO can bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SloMetric {
    /// Time to first token: arrival → end of the prefill.
    Ttft,
    /// Time between tokens: every inter-token gap of every request.
    Tbt,
    /// Time per output token: (e2e − ttft) / (decode tokens − 1), one value per request.
    Tpot,
    /// End-to-end latency: arrival → last token.
    E2e,
    /// Scheduling delay: arrival → first scheduled.
    SchedulingDelay,
}

impl SloMetric {
    /// Every metric, in report order.
    pub const ALL: [SloMetric; 5] = [
        SloMetric::Ttft,
        SloMetric::Tbt,
        SloMetric::Tpot,
        SloMetric::E2e,
        SloMetric::SchedulingDelay,
    ];

    /// The YAML / CSV name (`ttft`, `tbt`, `tpot`, `e2e`, `scheduling_delay`).
    pub fn name(self) -> &'static str {
        match self {
            SloMetric::Ttft => "ttft",
            SloMetric::Tbt => "tbt",
            SloMetric::Tpot => "tpot",
            SloMetric::E2e => "e2e",
            SloMetric::SchedulingDelay => "scheduling_delay",
        }
    }

    /// A human label for plots and tables.
    pub fn label(self) -> &'static str {
        match self {
            SloMetric::Ttft => "TTFT",
            SloMetric::Tbt => "TBT",
            SloMetric::Tpot => "TPOT",
            SloMetric::E2e => "E2E latency",
            SloMetric::SchedulingDelay => "scheduling delay",
        }
    }
}

/// One latency objective: `quantile` of `metric` must be ≤ `max_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// Which latency.
    pub metric: SloMetric,
    /// Quantile in (0, 1], e.g. 0.99.
    pub quantile: f64,
    /// Bound in seconds.
    pub max_seconds: f64,
}

impl Slo {
    /// A short column-safe name, e.g. `ttft_p90`, `tbt_p99`, `e2e_p99.9`.
    pub fn column(&self) -> String {
        let pct = self.quantile * 100.0;
        let pct = if (pct - pct.round()).abs() < 1e-9 {
            format!("{}", pct.round() as i64)
        } else {
            format!("{}", (pct * 1000.0).round() / 1000.0)
        };
        format!("{}_p{pct}", self.metric.name())
    }

    /// A human label, e.g. `TTFT P90 ≤ 2 s`.
    pub fn label(&self) -> String {
        let col = self.column();
        let p = col.rsplit('_').next().unwrap_or("").to_uppercase();
        format!("{} {p} ≤ {} s", self.metric.label(), self.max_seconds)
    }
}

/// One design point's configuration (every knob that varies in a search).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointConfig {
    /// Model name as the catalog knows it.
    pub model: String,
    /// Workload name from the space.
    pub workload: String,
    /// Canonical GPU SKU name (e.g. `h100-sxm`).
    pub gpu: String,
    /// Node shape name.
    pub node: String,
    /// Tensor-parallel degree.
    pub tp: u32,
    /// Pipeline stages.
    pub pp: u32,
    /// Replicas behind the router.
    pub replicas: u32,
    /// Scheduler family (`vllm`, `orca`, `sarathi`, `lightllm`, `faster_transformer`).
    pub scheduler: String,
    /// Sarathi chunk size (None for other schedulers).
    pub chunk_size: Option<u32>,
    /// Maximum running requests per replica.
    pub batch_size_cap: u32,
    /// The step's token budget: vLLM's `max_tokens_in_batch`, LightLLM's prefill cap, vLLM
    /// V1's `max_num_batched_tokens`, SGLang's `chunked_prefill_size`, TRT-LLM's
    /// `max_num_tokens` (None for Sarathi, Orca and FasterTransformer).
    pub max_tokens_in_batch: Option<u32>,
    /// Global router (`round_robin`, `lor`, `random`).
    pub router: String,
    /// Clients of a closed-loop workload (None for open-loop arrivals). Absent from the JSON
    /// when None, so open-loop cache ids are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
}

impl PointConfig {
    /// GPUs the point occupies: replicas × TP × PP.
    pub fn num_gpus(&self) -> u32 {
        // Saturating: a dropped point's list values may multiply past u32.
        self.replicas
            .saturating_mul(self.tp)
            .saturating_mul(self.pp)
    }

    /// Scheduler with its main knob, e.g. `sarathi-1024`, `vllm` (token budgets have their
    /// own column).
    pub fn scheduler_label(&self) -> String {
        match self.chunk_size {
            Some(c) => format!("{}-{c}", self.scheduler),
            None => self.scheduler.clone(),
        }
    }

    /// A one-line human description, e.g.
    /// `Llama-2-70b on 4×h100-sxm: TP2 PP1 ×2, sarathi-1024, cap 128` (plus the step's token
    /// budget for the engine models, `, 8192 tokens/step`, and `, concurrency 32` for a
    /// closed-loop point).
    pub fn describe(&self) -> String {
        let engine = crate::sim::SchedulerKind::from_name(&self.scheduler)
            .is_some_and(|k| k.is_engine_model());
        format!(
            "{} on {}×{}: TP{} PP{} ×{}, {}, cap {}{}{}",
            self.model,
            self.num_gpus(),
            self.gpu,
            self.tp,
            self.pp,
            self.replicas,
            self.scheduler_label(),
            self.batch_size_cap,
            self.max_tokens_in_batch
                .filter(|_| engine)
                .map(|b| format!(", {b} tokens/step"))
                .unwrap_or_default(),
            self.concurrency
                .map(|c| format!(", concurrency {c}"))
                .unwrap_or_default()
        )
    }
}

/// A metric value measured at a QPS, per SLO of the space (same order as `SearchSpace::slos`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloValue {
    /// The objective.
    pub slo: Slo,
    /// Measured quantile in seconds (unfinished requests count as +∞, so this can be
    /// `None` = more than `1 - quantile` of requests never got there).
    pub value_s: Option<f64>,
    /// Whether the objective holds.
    pub ok: bool,
}

/// One simulation run inside a capacity search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimRecord {
    /// Workload seed.
    pub seed: u64,
    /// Offered load, requests/s.
    pub qps: f64,
    /// Every SLO (and the goodput target, if set) held.
    pub pass: bool,
    /// Per-SLO measurements.
    pub slos: Vec<SloValue>,
    /// Share of requests meeting every SLO individually (unfinished ones fail).
    pub goodput: f64,
    /// Requests generated.
    pub num_requests: u64,
    /// Requests that did not finish (time limit or early stop); they count against SLOs.
    pub num_unfinished: u64,
    /// The run stopped early because the SLOs could no longer hold.
    pub stopped_early: bool,
    /// Simulated seconds.
    pub simulated_s: f64,
    /// Output tokens per second of simulated time (finished requests).
    pub output_tokens_per_s: f64,
    /// Wall-clock seconds the run took.
    pub wall_s: f64,
}

/// The verdict of a capacity search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapacityStatus {
    /// A failing probe brackets the knee: the capacity is the highest passing QPS.
    Found,
    /// No probe failed up to the search's limit (the physical limit, or the iterations ran
    /// out): the workload is too short or the SLOs too loose to load the point. Not a capacity.
    Unbounded,
    /// Even the lowest probe failed.
    None,
    /// The point could not be evaluated (a simulation error, a batch the predictor cannot
    /// price, …): [`PointResult::error`] says why. Not a verdict on the point; a re-run retries
    /// it (failed points are never cached).
    Failed,
}

impl CapacityStatus {
    /// The CSV / JSON name (`found`, `unbounded`, `none`, `failed`).
    pub fn name(self) -> &'static str {
        match self {
            CapacityStatus::Found => "found",
            CapacityStatus::Unbounded => "unbounded",
            CapacityStatus::None => "none",
            CapacityStatus::Failed => "failed",
        }
    }
}

/// What a closed-loop run measured (warm-up requests excluded), with the metric definitions
/// of `crate::metrics` (`Summary::throughput`, `Summary::in_flight_mean`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClosedLoopMeasure {
    /// Clients.
    pub concurrency: u32,
    /// Requests left out of the metrics.
    pub warmup_requests: u64,
    /// Completed requests per second over the measurement window: the point's capacity when
    /// its SLOs hold.
    pub requests_per_s: Option<f64>,
    /// Output tokens per second over the measurement window.
    pub output_tokens_per_s: Option<f64>,
    /// Output tokens per second per user, as benchmarks report it: output tokens/s ÷
    /// concurrency.
    pub output_tokens_per_s_per_user: Option<f64>,
    /// Output tokens per second per GPU of the point.
    pub output_tokens_per_s_per_gpu: Option<f64>,
    /// Mean requests in flight (≈ the concurrency once warm, by Little's law).
    pub in_flight_mean: Option<f64>,
}

/// The capacity search of one point under one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedCapacity {
    /// Workload seed.
    pub seed: u64,
    /// The verdict.
    pub status: CapacityStatus,
    /// The search's physical limit (QPS), `None` where the predictor could not price one.
    pub limit_qps: Option<f64>,
    /// Largest passing QPS when a failing probe brackets it (status `found`), else None.
    pub capacity_qps: Option<f64>,
    /// The run at that QPS.
    pub at_capacity: Option<SimRecord>,
    /// Every run, in the order they ran.
    pub runs: Vec<SimRecord>,
    /// Closed-loop points: what the one run measured (its record is `runs[0]`, whose `qps` is
    /// the measured throughput). Absent for open-loop points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_loop: Option<ClosedLoopMeasure>,
}

/// Cost figures of a point at its capacity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// $/GPU-hour used.
    pub usd_per_gpu_hour: f64,
    /// $/hour of the whole point (GPUs × price).
    pub usd_per_hour: f64,
    /// Capacity QPS per $/hour (None when no capacity).
    pub qps_per_dollar: Option<f64>,
    /// $ per million output tokens served at capacity (None when no capacity).
    pub usd_per_million_output_tokens: Option<f64>,
}

/// Everything known about one evaluated point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointResult {
    /// Stable id: a hash of the full point config and the engine version (cache key).
    pub id: String,
    /// The knobs.
    pub config: PointConfig,
    /// GPUs used.
    pub num_gpus: u32,
    /// `found` when the median seed's capacity is bracketed by a failing probe and no seed
    /// is `unbounded`; `unbounded` when any seed passed every probe up to the search's limit;
    /// `failed` when evaluating the point failed (see `error`); else `none`. Only `found`
    /// points are ranked or drawn on a Pareto frontier.
    pub capacity_status: CapacityStatus,
    /// The search's physical limit of the median seed (QPS), if the predictor priced one.
    pub limit_qps: Option<f64>,
    /// Median capacity over seeds, the point's headline capacity: the QPS of the median seed's
    /// run at capacity (None unless the status is `found`).
    pub capacity_qps: Option<f64>,
    /// Lowest capacity over seeds.
    pub capacity_min: Option<f64>,
    /// Highest capacity over seeds.
    pub capacity_max: Option<f64>,
    /// SLO measurements at capacity (the median seed's run at capacity), same order as the
    /// space's SLOs. A closed-loop point whose SLOs fail has its median seed's measurements at
    /// the concurrency here, so the miss is visible.
    pub at_capacity: Vec<SloValue>,
    /// Goodput at capacity (the same run).
    pub goodput_at_capacity: Option<f64>,
    /// Output tokens/s at capacity (the same run).
    pub output_tokens_per_s: Option<f64>,
    /// Cost at capacity (from the same run's QPS and output tokens/s).
    pub cost: Cost,
    /// Per-seed searches with every run.
    pub seeds: Vec<SeedCapacity>,
    /// Simulations recorded for this point, all seeds (cached points keep their count).
    pub sims_run: u32,
    /// Wall-clock seconds spent on this point when it was computed.
    pub wall_s: f64,
    /// Why the point's evaluation failed, with every cause (status `failed` only). Absent from
    /// the JSON otherwise, so results and cache entries of other points are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Closed-loop points: the median seed's measurements (by throughput), kept whether or not
    /// the SLOs hold, so every concurrency of a sweep can be plotted. Absent for open-loop
    /// points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_loop: Option<ClosedLoopMeasure>,
}

impl PointResult {
    /// Meets every SLO at some load and a failing load brackets it (has a capacity).
    pub fn feasible(&self) -> bool {
        self.capacity_status == CapacityStatus::Found && self.capacity_qps.is_some_and(|c| c > 0.0)
    }

    /// Why a point has no capacity, in one sentence (None for `found` points).
    pub fn status_reason(&self) -> Option<String> {
        let runs = || self.seeds.iter().flat_map(|s| s.runs.iter());
        let fmt = |q: f64| format!("{}", (q * 1000.0).round() / 1000.0);
        match self.capacity_status {
            CapacityStatus::Found => None,
            CapacityStatus::Unbounded => {
                let top = runs().filter(|r| r.pass).map(|r| r.qps).fold(0.0, f64::max);
                let limit = match self.limit_qps {
                    Some(l) if top >= l * (1.0 - 1e-9) => format!(
                        "the physical limit of {} QPS (twice what its replicas complete at their best-case batch throughput)",
                        fmt(l)
                    ),
                    _ => "the last probe the search's iterations allowed".to_string(),
                };
                Some(format!(
                    "unbounded: every probe passed, up to {} QPS, {limit}; the workload is too short or the SLOs too loose to load this point, so it has no measured capacity",
                    fmt(top)
                ))
            }
            CapacityStatus::None if self.closed_loop.is_some() => {
                let missed: Vec<String> = self
                    .at_capacity
                    .iter()
                    .filter(|v| !v.ok)
                    .map(|v| v.slo.label())
                    .collect();
                Some(format!(
                    "none: at this concurrency the measured run misses {}",
                    if missed.is_empty() {
                        "the goodput target".to_string()
                    } else {
                        missed.join(", ")
                    }
                ))
            }
            CapacityStatus::None => {
                let low = runs().map(|r| r.qps).fold(f64::INFINITY, f64::min);
                Some(if low.is_finite() {
                    format!("none: every probe failed, down to {} QPS", fmt(low))
                } else {
                    "none: no probe ran".to_string()
                })
            }
            CapacityStatus::Failed => Some(format!(
                "failed: {}",
                self.error.as_deref().unwrap_or("no error was recorded")
            )),
        }
    }
}

/// A point removed before simulation, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DroppedPoint {
    /// The knobs.
    pub config: PointConfig,
    /// Short reason class, e.g. `tp_divides_heads`, `memory`, `gpu_budget`.
    pub reason: String,
    /// Human explanation.
    pub detail: String,
}

/// Run metadata for reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// Space name.
    pub name: String,
    /// Path of the space file as given.
    pub space_file: String,
    /// The space file's text, verbatim.
    pub space_yaml: String,
    /// `vidur-search` version.
    pub engine_version: String,
    /// Predictor description (kind, calibration version).
    pub predictor: String,
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    /// Wall-clock seconds of the whole run.
    pub wall_s: f64,
    /// Worker threads.
    pub jobs: usize,
    /// Points evaluated (simulated or from cache).
    pub num_points: usize,
    /// Points served from the cache.
    pub num_cached: usize,
    /// Simulations run in this invocation (cached points excluded).
    pub num_sims: u64,
    /// The SLOs, in order.
    pub slos: Vec<Slo>,
    /// Goodput target, if any.
    pub goodput_target: Option<f64>,
}

/// The whole result of `vidur-search run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchOutcome {
    /// Metadata.
    pub meta: RunMeta,
    /// Evaluated points, in expansion order.
    pub points: Vec<PointResult>,
    /// Points dropped as infeasible.
    pub dropped: Vec<DroppedPoint>,
}

impl SearchOutcome {
    /// Points whose evaluation failed (status `failed`), in expansion order.
    pub fn failed(&self) -> Vec<&PointResult> {
        self.points
            .iter()
            .filter(|p| p.capacity_status == CapacityStatus::Failed)
            .collect()
    }

    /// Feasible points sorted best first by QPS per $/hour (ties: higher capacity, then id).
    pub fn ranked(&self) -> Vec<&PointResult> {
        let mut v: Vec<&PointResult> = self.points.iter().filter(|p| p.feasible()).collect();
        v.sort_by(|a, b| {
            let qa = a.cost.qps_per_dollar.unwrap_or(0.0);
            let qb = b.cost.qps_per_dollar.unwrap_or(0.0);
            qb.total_cmp(&qa)
                .then_with(|| {
                    b.capacity_qps
                        .unwrap_or(0.0)
                        .total_cmp(&a.capacity_qps.unwrap_or(0.0))
                })
                .then_with(|| a.id.cmp(&b.id))
        });
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slo_columns_and_labels() {
        let s = Slo {
            metric: SloMetric::Ttft,
            quantile: 0.9,
            max_seconds: 2.0,
        };
        assert_eq!(s.column(), "ttft_p90");
        assert_eq!(s.label(), "TTFT P90 ≤ 2 s");
        let s = Slo {
            metric: SloMetric::SchedulingDelay,
            quantile: 0.999,
            max_seconds: 5.0,
        };
        assert_eq!(s.column(), "scheduling_delay_p99.9");
    }
}
