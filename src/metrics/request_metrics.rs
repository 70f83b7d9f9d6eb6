//! Per-request metrics (vidur-behavior.md §9.2): the 14 time columns derived from a completed
//! request's final state, and the arrival-time histogram columns of `request_metrics.csv`.
//!
//! "P" and "D" in the normalized columns are the values at completion, so a restart changes
//! them (§12 item 14); the histogram columns use the arrival values.

use crate::sim::batch::Batch;
use crate::sim::request::{ReqId, Request};

// The request latencies, defined once: `request_metrics.csv`, the summary and the capacity
// search's SLO guard all use these. Each reads a request that has reached the milestone (first
// token, first batch, completion); checking that is the caller's business.

/// TTFT: `prefill_completed_at − arrived_at` (the first token comes with the last prefill chunk).
pub fn ttft(r: &Request) -> f64 {
    r.prefill_completed_at - r.arrived_at
}

/// Scheduling delay: first batch formation − arrival.
pub fn scheduling_delay(r: &Request) -> f64 {
    r.scheduling_delay
}

/// End-to-end latency: `completed_at − arrived_at`.
pub fn e2e(r: &Request) -> f64 {
    r.completed_at - r.arrived_at
}

/// Vidur's TPOT (`decode_time_execution_plus_preemption_normalized`): time from the first token
/// to completion over D, with D the value at completion (≥ 1 for a completed request; a restart
/// lowers it). Counts the first output token's share, unlike [`tpot_bench`].
pub fn tpot(r: &Request) -> f64 {
    (r.completed_at - r.prefill_completed_at) / r.num_decode_tokens as f64
}

/// Benchmark-style TPOT, as `vllm bench serve` reports it: `(e2e − ttft) / (output tokens − 1)`,
/// the mean gap between output tokens after the first. `None` for one output token (no gap).
pub fn tpot_bench(e2e: f64, ttft: f64, output_tokens: u32) -> Option<f64> {
    (output_tokens > 1).then(|| (e2e - ttft) / (output_tokens - 1) as f64)
}

/// One inter-token gap (TBT) of `r`, whose decode iteration in `batch` ended at `t`: the
/// iteration's time from formation, plus the wait since the request's previous iteration.
pub fn tbt_gap(t: f64, batch: &Batch, r: &Request) -> f64 {
    t - batch.scheduled_at + r.latest_iteration_scheduling_delay
}

/// The 14 request time metrics, in `request_metrics.csv` column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestMetric {
    /// `completed_at − arrived_at`.
    E2eTime,
    /// `e2e / D`.
    E2eTimeNormalized,
    /// Σ stage execution times.
    ExecutionTime,
    /// `execution / D`.
    ExecutionTimeNormalized,
    /// Σ stage model execution times.
    ModelExecutionTime,
    /// `model execution / D`.
    ModelExecutionTimeNormalized,
    /// Gaps between the request's consecutive stage executions.
    PreemptionTime,
    /// `scheduled_at − arrived_at`.
    SchedulingDelay,
    /// `execution + preemption`.
    ExecutionPlusPreemptionTime,
    /// `(execution + preemption) / D`.
    ExecutionPlusPreemptionTimeNormalized,
    /// TTFT: `prefill_completed_at − arrived_at`.
    PrefillE2eTime,
    /// `prefill_completed_at − scheduled_at`.
    PrefillTimeExecutionPlusPreemption,
    /// `(prefill_completed_at − scheduled_at) / P`.
    PrefillTimeExecutionPlusPreemptionNormalized,
    /// ≈TPOT: `(completed_at − prefill_completed_at) / D`.
    DecodeTimeExecutionPlusPreemptionNormalized,
}

impl RequestMetric {
    /// All 14, in column order.
    pub const ALL: [RequestMetric; 14] = [
        RequestMetric::E2eTime,
        RequestMetric::E2eTimeNormalized,
        RequestMetric::ExecutionTime,
        RequestMetric::ExecutionTimeNormalized,
        RequestMetric::ModelExecutionTime,
        RequestMetric::ModelExecutionTimeNormalized,
        RequestMetric::PreemptionTime,
        RequestMetric::SchedulingDelay,
        RequestMetric::ExecutionPlusPreemptionTime,
        RequestMetric::ExecutionPlusPreemptionTimeNormalized,
        RequestMetric::PrefillE2eTime,
        RequestMetric::PrefillTimeExecutionPlusPreemption,
        RequestMetric::PrefillTimeExecutionPlusPreemptionNormalized,
        RequestMetric::DecodeTimeExecutionPlusPreemptionNormalized,
    ];

    /// Vidur's column / file name.
    pub fn name(self) -> &'static str {
        match self {
            RequestMetric::E2eTime => "request_e2e_time",
            RequestMetric::E2eTimeNormalized => "request_e2e_time_normalized",
            RequestMetric::ExecutionTime => "request_execution_time",
            RequestMetric::ExecutionTimeNormalized => "request_execution_time_normalized",
            RequestMetric::ModelExecutionTime => "request_model_execution_time",
            RequestMetric::ModelExecutionTimeNormalized => {
                "request_model_execution_time_normalized"
            }
            RequestMetric::PreemptionTime => "request_preemption_time",
            RequestMetric::SchedulingDelay => "request_scheduling_delay",
            RequestMetric::ExecutionPlusPreemptionTime => "request_execution_plus_preemption_time",
            RequestMetric::ExecutionPlusPreemptionTimeNormalized => {
                "request_execution_plus_preemption_time_normalized"
            }
            RequestMetric::PrefillE2eTime => "prefill_e2e_time",
            RequestMetric::PrefillTimeExecutionPlusPreemption => {
                "prefill_time_execution_plus_preemption"
            }
            RequestMetric::PrefillTimeExecutionPlusPreemptionNormalized => {
                "prefill_time_execution_plus_preemption_normalized"
            }
            RequestMetric::DecodeTimeExecutionPlusPreemptionNormalized => {
                "decode_time_execution_plus_preemption_normalized"
            }
        }
    }
}

/// The 14 time columns of one completed request (P and D are the values at completion).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestTimes {
    /// `completed_at − arrived_at`.
    pub request_e2e_time: f64,
    /// `e2e / D`.
    pub request_e2e_time_normalized: f64,
    /// Σ stage execution times.
    pub request_execution_time: f64,
    /// `execution / D`.
    pub request_execution_time_normalized: f64,
    /// Σ stage model execution times.
    pub request_model_execution_time: f64,
    /// `model execution / D`.
    pub request_model_execution_time_normalized: f64,
    /// Gaps between consecutive stage executions.
    pub request_preemption_time: f64,
    /// `scheduled_at − arrived_at`.
    pub request_scheduling_delay: f64,
    /// `execution + preemption`.
    pub request_execution_plus_preemption_time: f64,
    /// `(execution + preemption) / D`.
    pub request_execution_plus_preemption_time_normalized: f64,
    /// TTFT: `prefill_completed_at − arrived_at`.
    pub prefill_e2e_time: f64,
    /// `prefill_completed_at − scheduled_at`.
    pub prefill_time_execution_plus_preemption: f64,
    /// `(prefill_completed_at − scheduled_at) / P`.
    pub prefill_time_execution_plus_preemption_normalized: f64,
    /// ≈TPOT: `(completed_at − prefill_completed_at) / D`.
    pub decode_time_execution_plus_preemption_normalized: f64,
}

impl RequestTimes {
    /// Derive the columns from a completed request's final state (Vidur's `_on_request_end`).
    pub fn of(r: &Request) -> Self {
        let d = r.num_decode_tokens as f64;
        let p = r.num_prefill_tokens as f64;
        let e2e = e2e(r);
        let exec_plus_preempt = r.execution_time + r.preempted_time;
        let prefill_exec = r.prefill_completed_at - r.scheduled_at;
        RequestTimes {
            request_e2e_time: e2e,
            request_e2e_time_normalized: e2e / d,
            request_execution_time: r.execution_time,
            request_execution_time_normalized: r.execution_time / d,
            request_model_execution_time: r.model_execution_time,
            request_model_execution_time_normalized: r.model_execution_time / d,
            request_preemption_time: r.preempted_time,
            request_scheduling_delay: scheduling_delay(r),
            request_execution_plus_preemption_time: exec_plus_preempt,
            request_execution_plus_preemption_time_normalized: exec_plus_preempt / d,
            prefill_e2e_time: ttft(r),
            prefill_time_execution_plus_preemption: prefill_exec,
            prefill_time_execution_plus_preemption_normalized: prefill_exec / p,
            decode_time_execution_plus_preemption_normalized: tpot(r),
        }
    }

    /// One column by metric.
    pub fn get(&self, m: RequestMetric) -> f64 {
        match m {
            RequestMetric::E2eTime => self.request_e2e_time,
            RequestMetric::E2eTimeNormalized => self.request_e2e_time_normalized,
            RequestMetric::ExecutionTime => self.request_execution_time,
            RequestMetric::ExecutionTimeNormalized => self.request_execution_time_normalized,
            RequestMetric::ModelExecutionTime => self.request_model_execution_time,
            RequestMetric::ModelExecutionTimeNormalized => {
                self.request_model_execution_time_normalized
            }
            RequestMetric::PreemptionTime => self.request_preemption_time,
            RequestMetric::SchedulingDelay => self.request_scheduling_delay,
            RequestMetric::ExecutionPlusPreemptionTime => {
                self.request_execution_plus_preemption_time
            }
            RequestMetric::ExecutionPlusPreemptionTimeNormalized => {
                self.request_execution_plus_preemption_time_normalized
            }
            RequestMetric::PrefillE2eTime => self.prefill_e2e_time,
            RequestMetric::PrefillTimeExecutionPlusPreemption => {
                self.prefill_time_execution_plus_preemption
            }
            RequestMetric::PrefillTimeExecutionPlusPreemptionNormalized => {
                self.prefill_time_execution_plus_preemption_normalized
            }
            RequestMetric::DecodeTimeExecutionPlusPreemptionNormalized => {
                self.decode_time_execution_plus_preemption_normalized
            }
        }
    }
}

/// One row of `request_metrics.csv`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestMetricsRow {
    /// Request id.
    pub id: ReqId,
    /// Arrival time (s).
    pub arrived_at: f64,
    /// The time columns; `None` for requests that did not complete.
    pub times: Option<RequestTimes>,
    /// Gap to the previous arrival; `None` for the first request.
    pub inter_arrival_delay: Option<f64>,
    /// Prompt tokens at arrival.
    pub num_prefill_tokens: u32,
    /// Decode tokens at arrival.
    pub num_decode_tokens: u32,
    /// Restarts at completion; `None` for requests that did not complete.
    pub num_restarts: Option<u32>,
}

impl RequestMetricsRow {
    /// `P + D` at arrival.
    pub fn num_tokens(&self) -> u32 {
        self.num_prefill_tokens + self.num_decode_tokens
    }

    /// `P / D` at arrival.
    pub fn pd_ratio(&self) -> f64 {
        self.num_prefill_tokens as f64 / self.num_decode_tokens as f64
    }

    /// Benchmark-style TPOT ([`tpot_bench`]) over the output tokens asked for at arrival;
    /// `None` if the request did not complete or has one output token.
    pub fn tpot_bench(&self) -> Option<f64> {
        let t = self.times?;
        tpot_bench(
            t.request_e2e_time,
            t.prefill_e2e_time,
            self.num_decode_tokens,
        )
    }
}

/// Vidur's `request_metrics.csv` header.
pub const REQUEST_METRICS_HEADER: &str = "Request Id,request_e2e_time,request_e2e_time_normalized,\
request_execution_time,request_execution_time_normalized,request_model_execution_time,\
request_model_execution_time_normalized,request_preemption_time,request_scheduling_delay,\
request_execution_plus_preemption_time,request_execution_plus_preemption_time_normalized,prefill_e2e_time,\
prefill_time_execution_plus_preemption,prefill_time_execution_plus_preemption_normalized,\
decode_time_execution_plus_preemption_normalized,request_inter_arrival_delay,request_num_tokens,\
request_num_prefill_tokens,request_num_decode_tokens,request_pd_ratio,request_num_restarts";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_matches_vidur() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/conformance/cases/vllm_heavy/request_metrics.csv");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "missing Vidur reference file {} ({e}); the shared/ checkout is required",
                path.display()
            )
        });
        assert_eq!(text.lines().next().unwrap(), REQUEST_METRICS_HEADER);
        let names: Vec<&str> = RequestMetric::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(
            REQUEST_METRICS_HEADER
                .split(',')
                .skip(1)
                .take(14)
                .collect::<Vec<_>>(),
            names
        );
    }

    #[test]
    fn times_from_final_state() {
        let mut r = Request::new(3, 1.0, 100, 10);
        r.scheduled_at = 1.5;
        r.scheduling_delay = 0.5;
        r.prefill_completed_at = 2.0;
        r.completed_at = 4.0;
        r.execution_time = 2.0;
        r.model_execution_time = 1.5;
        r.preempted_time = 0.5;
        let t = RequestTimes::of(&r);
        assert_eq!(t.request_e2e_time, 3.0);
        assert_eq!(t.request_e2e_time_normalized, 0.3);
        assert_eq!(t.request_execution_plus_preemption_time, 2.5);
        assert_eq!(t.prefill_e2e_time, 1.0);
        assert_eq!(t.prefill_time_execution_plus_preemption, 0.5);
        assert_eq!(t.prefill_time_execution_plus_preemption_normalized, 0.005);
        assert_eq!(t.decode_time_execution_plus_preemption_normalized, 0.2);
        for m in RequestMetric::ALL {
            assert!(t.get(m).is_finite());
        }
    }

    #[test]
    fn bench_tpot_skips_the_first_token() {
        // 10 output tokens: TTFT 1 s, E2E 3.7 s → 9 gaps over 2.7 s; Vidur's TPOT is 2.7 / 10.
        let mut r = Request::new(0, 1.0, 100, 10);
        r.prefill_completed_at = 2.0;
        r.completed_at = 4.7;
        let times = RequestTimes::of(&r);
        let row = RequestMetricsRow {
            id: 0,
            arrived_at: 1.0,
            times: Some(times),
            inter_arrival_delay: None,
            num_prefill_tokens: 100,
            num_decode_tokens: 10,
            num_restarts: Some(0),
        };
        let bench = row.tpot_bench().unwrap();
        assert!((bench - 0.3).abs() < 1e-12, "{bench}");
        assert!((times.decode_time_execution_plus_preemption_normalized - 0.27).abs() < 1e-12);
        assert_eq!(tpot_bench(3.0, 1.0, 1), None);
        assert_eq!(tpot_bench(3.0, 1.0, 3), Some(1.0));
        assert_eq!(RequestMetricsRow { times: None, ..row }.tpot_bench(), None);
    }
}
