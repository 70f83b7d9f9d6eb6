//! Exact statistics for the run summary: pandas/numpy `quantile(interpolation="linear")` and the
//! serde types of `summary.json`. Vidur itself only writes CDF files (vidur-behavior.md §9.2,
//! §12 item 14); this summary is our addition and uses exact values, never the sketches.

use serde::Serialize;

/// numpy's linear-interpolated quantile of **sorted** `values` (`None` if empty).
///
/// Index `q·(n−1)`; numpy's `_lerp` computes `a + (b−a)·t`, or `b − (b−a)·(1−t)` when `t ≥ 0.5`
/// (so the result is monotone and exact at the ends).
pub fn quantile_sorted(values: &[f64], q: f64) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let virt = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = virt.floor();
    let t = virt - lo;
    let lo = lo as usize;
    let hi = (lo + 1).min(n - 1);
    let (a, b) = (values[lo], values[hi]);
    let diff = b - a;
    Some(if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    })
}

/// Sort a copy of `values` and take [`quantile_sorted`].
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    quantile_sorted(&v, q)
}

/// count, mean, percentiles and max of one latency metric (seconds, or seconds per token).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyStats {
    /// Number of values.
    pub count: usize,
    /// Arithmetic mean.
    pub mean: Option<f64>,
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
}

impl LatencyStats {
    /// Stats of `values` (any order; NaNs are not expected and sort last).
    pub fn of(values: &[f64]) -> Self {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        LatencyStats {
            count: n,
            mean: (n > 0).then(|| v.iter().sum::<f64>() / n as f64),
            p50: quantile_sorted(&v, 0.5),
            p90: quantile_sorted(&v, 0.9),
            p95: quantile_sorted(&v, 0.95),
            p99: quantile_sorted(&v, 0.99),
            max: v.last().copied(),
        }
    }
}

/// Request counts of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RequestCounts {
    /// Requests that arrived.
    pub arrived: usize,
    /// Requests that completed.
    pub completed: usize,
    /// Arrived but not completed by the end of the run.
    pub unfinished: usize,
    /// Warm-up requests: simulated, not counted above nor in any statistic.
    pub warmup: u64,
}

/// Throughput over the span from the first arrival to the end of the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Throughput {
    /// `end_time − first arrival` (s); throughputs are `None` when it is not positive.
    pub span_s: f64,
    /// Completed requests per second.
    pub requests_per_s: Option<f64>,
    /// Output (decode) tokens of completed requests per second, using arrival-time D.
    pub output_tokens_per_s: Option<f64>,
    /// Prompt + output tokens of completed requests per second, using arrival-time P and D.
    pub total_tokens_per_s: Option<f64>,
}

/// Time-weighted utilization means, averaged over replicas (memory) or over all stages.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct UtilizationSummary {
    /// Mean KV-memory usage (%).
    pub memory_percent: Option<f64>,
    /// Mean stage busy time (%).
    pub busy_percent: Option<f64>,
    /// Mean model FLOPs utilization (%).
    pub mfu_percent: Option<f64>,
}

/// The run summary written to `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Simulated end time (s).
    pub end_time: f64,
    /// Request counts.
    pub requests: RequestCounts,
    /// Time to first token (`prefill_e2e_time`) of completed requests.
    pub ttft: LatencyStats,
    /// Time per output token as Vidur defines it
    /// (`decode_time_execution_plus_preemption_normalized`): first token to completion over all
    /// D output tokens.
    pub tpot: LatencyStats,
    /// Benchmark-style time per output token, as `vllm bench serve` reports it:
    /// `(e2e − ttft) / (D − 1)`, requests with one output token excluded.
    pub tpot_bench: LatencyStats,
    /// True inter-token gaps (every decode token; empty without token metrics).
    pub tbt: LatencyStats,
    /// End-to-end latency (`request_e2e_time`).
    pub e2e: LatencyStats,
    /// Arrival to first batch formation (`request_scheduling_delay`).
    pub scheduling_delay: LatencyStats,
    /// End-to-end latency per decode token (`request_e2e_time_normalized`).
    pub e2e_normalized: LatencyStats,
    /// Throughput.
    pub throughput: Throughput,
    /// Utilization.
    pub utilization: UtilizationSummary,
    /// Mean number of requests in flight (arrived, not completed; warm-up ones included),
    /// time-averaged from the first measured arrival to the last arrival. A closed loop of
    /// N clients without think time holds N (Little's law). `None` for an empty window.
    pub in_flight_mean: Option<f64>,
}

impl Summary {
    /// The latency distributions with display names, in report order.
    pub fn distributions(&self) -> [(&'static str, &LatencyStats); 7] {
        [
            ("ttft", &self.ttft),
            ("tpot", &self.tpot),
            ("tpot_bench", &self.tpot_bench),
            ("tbt (inter-token)", &self.tbt),
            ("e2e", &self.e2e),
            ("scheduling_delay", &self.scheduling_delay),
            ("e2e_normalized", &self.e2e_normalized),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pandas_linear_quantiles() {
        // pandas.Series([1, 2, 3, 4]).quantile([0, .25, .5, .9, 1]) == [1, 1.75, 2.5, 3.7, 4]
        let v = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&v, 0.25), Some(1.75));
        assert_eq!(quantile(&v, 0.5), Some(2.5));
        assert!((quantile(&v, 0.9).unwrap() - 3.7).abs() < 1e-12);
        assert_eq!(quantile(&v, 1.0), Some(4.0));
        assert_eq!(quantile(&[7.0], 0.99), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn stats_and_empty_json() {
        let s = LatencyStats::of(&[3.0, 1.0, 2.0]);
        assert_eq!(
            (s.count, s.mean, s.p50, s.max),
            (3, Some(2.0), Some(2.0), Some(3.0))
        );
        let e = LatencyStats::of(&[]);
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"count":0,"mean":null,"p50":null,"p90":null,"p95":null,"p99":null,"max":null}"#
        );
    }
}
