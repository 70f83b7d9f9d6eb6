//! Metrics (vidur-behavior.md §9, §12 items 14–15): the engine calls the [`Recorder`] hooks in
//! Vidur's order; [`Recorder::finish`] yields [`SimMetrics`], which computes the [`Summary`] and
//! writes Vidur-format outputs.
//!
//! What is recorded where (Vidur's `metrics_store`):
//! * arrival: the request histograms (P+D, P, D, P/D, inter-arrival delay) and the arrival series;
//! * batch end: completed requests (completion order matters: CDF ties break by push order), the
//!   memory meter, prefill/decode token series and the per-token decode latency (TBT), then the
//!   five batch metrics into DDSketches;
//! * stage schedule/end: busy and MFU meters, Chrome trace slices.
//!
//! Per-request time columns are derived at [`Recorder::finish`] from the final request state,
//! which is what Vidur records at completion (nothing changes a request after it completes).
//!
//! `Compat::Vidur` keeps Vidur's meter quirks (dropped first segment, `id−1` file slots) and its
//! sketch-approximated batch/TBT CDF files; `Compat::Default` counts every meter segment from 0
//! to the end of the run, names files by 0-based id and writes exact quantiles.

mod chrome;
mod meter;
mod output;
mod pyfmt;
mod request_metrics;
mod sketch;
pub mod stats;

use crate::sim::batch::Batch;
use crate::sim::config::{Compat, MetricsOptions};
use crate::sim::request::{ReqId, Request};

pub use chrome::ChromeTrace;
pub use meter::{MeterStats, SeriesAverageMeter};
pub use output::MetricsError;
pub use pyfmt::py_float;
pub use request_metrics::{RequestMetric, RequestMetricsRow, RequestTimes, REQUEST_METRICS_HEADER};
pub use sketch::{DdSketch, SketchValue, VIDUR_RELATIVE_ACCURACY};
pub use stats::{
    quantile, quantile_sorted, LatencyStats, RequestCounts, Summary, Throughput, UtilizationSummary,
};

/// What the recorder needs to know up front.
#[derive(Debug, Clone)]
pub struct RecorderSetup {
    /// Replicas in the cluster.
    pub num_replicas: u32,
    /// Pipeline stages per replica.
    pub num_stages: u32,
    /// Engine mode (selects Vidur's meter/index quirks and MFU units).
    pub compat: Compat,
    /// Optional recordings.
    pub options: MetricsOptions,
}

/// The five per-batch metrics (vidur-behavior.md §9.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatchMetric {
    /// `t_end − batch.scheduled_at` (formation to last-stage end).
    ExecutionTime,
    /// Total tokens.
    NumTokens,
    /// Prefill tokens.
    NumPrefillTokens,
    /// Decode tokens.
    NumDecodeTokens,
    /// Number of requests.
    Size,
}

impl BatchMetric {
    /// All five, in Vidur's push order.
    pub const ALL: [BatchMetric; 5] = [
        BatchMetric::ExecutionTime,
        BatchMetric::NumTokens,
        BatchMetric::NumPrefillTokens,
        BatchMetric::NumDecodeTokens,
        BatchMetric::Size,
    ];

    /// Vidur's file / column name.
    pub fn name(self) -> &'static str {
        match self {
            BatchMetric::ExecutionTime => "batch_execution_time",
            BatchMetric::NumTokens => "batch_num_tokens",
            BatchMetric::NumPrefillTokens => "batch_num_prefill_tokens",
            BatchMetric::NumDecodeTokens => "batch_num_decode_tokens",
            BatchMetric::Size => "batch_size",
        }
    }
}

/// Name of the per-token decode latency (TBT) sketch file.
pub const DECODE_TOKEN_METRIC: &str = "decode_token_execution_plus_preemption_time";

/// A distribution kept both exactly and in a Vidur DDSketch.
#[derive(Debug, Clone, Default)]
pub struct MetricValues {
    exact: Vec<f64>,
    sketch: DdSketch,
}

impl MetricValues {
    fn push(&mut self, v: f64) {
        self.exact.push(v);
        self.sketch.add(v);
    }

    /// The values in push order.
    pub fn exact(&self) -> &[f64] {
        &self.exact
    }

    /// The sketch (Vidur's view).
    pub fn sketch(&self) -> &DdSketch {
        &self.sketch
    }

    /// Vidur's sketch quantile (`None` if empty).
    pub fn sketch_quantile(&self, q: f64) -> Option<f64> {
        self.sketch.quantile(q)
    }

    /// Exact pandas-linear quantile (`None` if empty). Sorts a copy: call sparingly.
    pub fn exact_quantile(&self, q: f64) -> Option<f64> {
        quantile(&self.exact, q)
    }
}

/// A request's arrival record (the histogram inputs use arrival-time P and D).
#[derive(Debug, Clone, Copy)]
struct Arrival {
    id: ReqId,
    t: f64,
    prefill: u32,
    decode: u32,
}

/// Collects metrics during a run.
#[derive(Debug)]
pub struct Recorder {
    setup: RecorderSetup,
    arrivals: Vec<Arrival>,
    /// `(t, id)` in completion (push) order.
    completions: Vec<(f64, ReqId)>,
    /// `(t, P)` at each first prefill completion.
    prefill_series: Vec<(f64, u32)>,
    /// `(t, n)`: n decode tokens completed at t (run-length per batch: Vidur pushes one row per
    /// token, which we expand only when writing, to keep memory per batch, not per token).
    decode_series: Vec<(f64, u32)>,
    tbt: MetricValues,
    batch: [MetricValues; 5],
    memory: Vec<SeriesAverageMeter>,
    busy: Vec<SeriesAverageMeter>,
    mfu: Vec<SeriesAverageMeter>,
    chrome: Option<ChromeTrace>,
}

/// Meter slot of entity `id` among `n`: Vidur indexes `id − 1`, so id 0 lands in the last slot.
fn slot(compat: Compat, id: u32, n: u32) -> usize {
    if compat.is_vidur() {
        ((id + n - 1) % n) as usize
    } else {
        id as usize
    }
}

impl Recorder {
    /// A recorder for a run with `num_requests` requests.
    pub fn new(setup: RecorderSetup, num_requests: usize) -> Self {
        let quirk = setup.compat.is_vidur();
        let n_rep = setup.num_replicas as usize;
        let n_stage = n_rep * setup.num_stages as usize;
        let meter = if quirk {
            SeriesAverageMeter::count_weighted()
        } else {
            SeriesAverageMeter::new(false)
        };
        let mut memory = vec![meter; n_rep];
        for m in &mut memory {
            m.put_int(0.0, 0);
        }
        let mut busy = vec![SeriesAverageMeter::new(quirk); n_stage];
        let mut mfu = busy.clone();
        if !quirk {
            // Count idle time before a stage's first batch (Vidur drops it).
            for m in busy.iter_mut().chain(mfu.iter_mut()) {
                m.put_int(0.0, 0);
            }
        }
        Recorder {
            chrome: setup.options.chrome_trace.then(ChromeTrace::default),
            setup,
            arrivals: Vec::with_capacity(num_requests),
            completions: Vec::with_capacity(num_requests),
            prefill_series: Vec::with_capacity(num_requests),
            decode_series: Vec::new(),
            tbt: MetricValues::default(),
            batch: Default::default(),
            memory,
            busy,
            mfu,
        }
    }

    fn replica_slot(&self, replica: u32) -> usize {
        slot(self.setup.compat, replica, self.setup.num_replicas)
    }

    fn stage_slot(&self, replica: u32, stage: u32) -> usize {
        self.replica_slot(replica) * self.setup.num_stages as usize
            + slot(self.setup.compat, stage, self.setup.num_stages)
    }

    /// A request arrived (its P/D are the arrival values).
    pub fn on_request_arrival(&mut self, t: f64, req: &Request) {
        if self.setup.options.disabled {
            return;
        }
        self.arrivals.push(Arrival {
            id: req.id,
            t,
            prefill: req.num_prefill_tokens,
            decode: req.num_decode_tokens,
        });
    }

    /// A replica formed one or more batches; `memory_usage_percent` is after allocation.
    pub fn on_replica_schedule(&mut self, t: f64, replica: u32, memory_usage_percent: f64) {
        if self.setup.options.disabled {
            return;
        }
        let s = self.replica_slot(replica);
        self.memory[s].put(t, memory_usage_percent);
    }

    /// Stage `stage` of `replica` started a batch; `mfu` in percent.
    pub fn on_stage_schedule(&mut self, t: f64, replica: u32, stage: u32, mfu: f64) {
        if self.setup.options.disabled {
            return;
        }
        let s = self.stage_slot(replica, stage);
        self.busy[s].put_int(t, 100);
        self.mfu[s].put(t, mfu);
    }

    /// Stage `stage` of `replica` finished `batch` at `t` after `exec_s` seconds.
    pub fn on_stage_end(&mut self, t: f64, replica: u32, stage: u32, batch: &Batch, exec_s: f64) {
        if self.setup.options.disabled {
            return;
        }
        let s = self.stage_slot(replica, stage);
        self.busy[s].put_int(t, 0);
        self.mfu[s].put_int(t, 0);
        if let Some(c) = &mut self.chrome {
            c.record(t, replica, stage, batch, exec_s);
        }
    }

    /// `batch` finished its last stage at `t`; request states are already updated;
    /// `memory_usage_percent` is after completed requests were freed.
    pub fn on_batch_end(
        &mut self,
        t: f64,
        replica: u32,
        batch: &Batch,
        requests: &[Request],
        memory_usage_percent: f64,
    ) {
        if self.setup.options.disabled {
            return;
        }
        // Vidur order: completed requests, memory meter, per-token metrics, batch metrics.
        for &id in &batch.requests {
            if requests[id as usize].completed {
                self.completions.push((t, id));
            }
        }
        let s = self.replica_slot(replica);
        self.memory[s].put(t, memory_usage_percent);
        let mut decoded = 0;
        for &id in &batch.requests {
            let r = &requests[id as usize];
            // Exact float equality is Vidur's test: prefill_completed_at is set to this very t.
            if t == r.prefill_completed_at {
                self.prefill_series.push((t, r.num_prefill_tokens));
            }
            if r.has_started_decode() && self.setup.options.token_metrics {
                self.tbt
                    .push(t - batch.scheduled_at + r.latest_iteration_scheduling_delay);
                decoded += 1;
            }
        }
        if decoded > 0 {
            self.decode_series.push((t, decoded));
        }
        let [exec, tokens, prefill, decode, size] = &mut self.batch;
        exec.push(t - batch.scheduled_at);
        tokens.push(batch.total_num_tokens as f64);
        prefill.push(batch.num_prefill_tokens as f64);
        decode.push(batch.num_decode_tokens() as f64);
        size.push(batch.size() as f64);
    }

    /// End of the run at simulated time `end_time`.
    pub fn finish(self, requests: &[Request], end_time: f64) -> SimMetrics {
        let Recorder {
            setup,
            mut arrivals,
            completions,
            prefill_series,
            decode_series,
            tbt,
            batch,
            mut memory,
            mut busy,
            mut mfu,
            chrome,
        } = self;
        if !setup.compat.is_vidur() {
            // Every meter covers [0, end_time], so replicas and stages average over the same span.
            for m in memory
                .iter_mut()
                .chain(busy.iter_mut())
                .chain(mfu.iter_mut())
            {
                m.extend_to(end_time);
            }
        }
        let arrival_times: Vec<f64> = arrivals.iter().map(|a| a.t).collect();
        let mut inter = Vec::with_capacity(arrivals.len());
        let mut prev: Option<f64> = None;
        for a in &arrivals {
            inter.push(prev.map(|p| a.t - p));
            prev = Some(a.t);
        }
        let mut rows: Vec<RequestMetricsRow> = arrivals
            .iter()
            .zip(inter)
            .map(|(a, inter_arrival_delay)| RequestMetricsRow {
                id: a.id,
                arrived_at: a.t,
                times: None,
                inter_arrival_delay,
                num_prefill_tokens: a.prefill,
                num_decode_tokens: a.decode,
                num_restarts: None,
            })
            .collect();
        arrivals.clear();
        rows.sort_by_key(|r| r.id);
        let mut metrics = SimMetrics {
            setup,
            end_time,
            rows,
            completions,
            arrival_times,
            prefill_series,
            decode_series,
            tbt,
            batch,
            memory,
            busy,
            mfu,
            chrome,
        };
        for i in 0..metrics.completions.len() {
            let id = metrics.completions[i].1;
            let r = &requests[id as usize];
            if let Some(idx) = metrics.row_index(id) {
                metrics.rows[idx].times = Some(RequestTimes::of(r));
                metrics.rows[idx].num_restarts = Some(r.num_restarts);
            }
        }
        metrics
    }
}

/// Everything recorded by one run.
#[derive(Debug)]
pub struct SimMetrics {
    setup: RecorderSetup,
    end_time: f64,
    /// Arrived requests, by id.
    rows: Vec<RequestMetricsRow>,
    completions: Vec<(f64, ReqId)>,
    /// Arrival times in arrival order.
    arrival_times: Vec<f64>,
    prefill_series: Vec<(f64, u32)>,
    decode_series: Vec<(f64, u32)>,
    tbt: MetricValues,
    batch: [MetricValues; 5],
    memory: Vec<SeriesAverageMeter>,
    busy: Vec<SeriesAverageMeter>,
    mfu: Vec<SeriesAverageMeter>,
    chrome: Option<ChromeTrace>,
}

impl SimMetrics {
    fn row_index(&self, id: ReqId) -> Option<usize> {
        // Ids are normally 0..N−1 in arrival order, so the row index is the id.
        match self.rows.get(id as usize) {
            Some(r) if r.id == id => Some(id as usize),
            _ => self.rows.binary_search_by_key(&id, |r| r.id).ok(),
        }
    }

    /// The setup the run was recorded with.
    pub fn setup(&self) -> &RecorderSetup {
        &self.setup
    }

    /// Simulated end time (s).
    pub fn end_time(&self) -> f64 {
        self.end_time
    }

    /// One row per arrived request, sorted by id (the rows of `request_metrics.csv`).
    pub fn request_rows(&self) -> &[RequestMetricsRow] {
        &self.rows
    }

    /// The row of request `id`, if it arrived.
    pub fn request_row(&self, id: ReqId) -> Option<&RequestMetricsRow> {
        self.row_index(id).map(|i| &self.rows[i])
    }

    /// `(completion time, id)` in completion (push) order.
    pub fn completions(&self) -> &[(f64, ReqId)] {
        &self.completions
    }

    /// Values of one request time metric in completion order, as `(id, value)`.
    pub fn request_metric_values(
        &self,
        m: RequestMetric,
    ) -> impl Iterator<Item = (ReqId, f64)> + '_ {
        self.completions.iter().filter_map(move |&(_, id)| {
            let row = self.request_row(id)?;
            Some((id, row.times?.get(m)))
        })
    }

    /// One batch metric (exact values and sketch).
    pub fn batch_metric(&self, m: BatchMetric) -> &MetricValues {
        &self.batch[m as usize]
    }

    /// The per-token decode latencies (true inter-token gaps), empty without token metrics.
    pub fn tbt(&self) -> &MetricValues {
        &self.tbt
    }

    /// `(t, P)` at each first prefill completion, in push order.
    pub fn prefill_completions(&self) -> &[(f64, u32)] {
        &self.prefill_series
    }

    /// `(t, n)`: n decode tokens completed at t, one entry per batch end with decodes.
    pub fn decode_completions(&self) -> &[(f64, u32)] {
        &self.decode_series
    }

    /// Memory meter of replica id `replica`.
    pub fn memory_stats(&self, replica: u32) -> MeterStats {
        self.memory[slot(self.setup.compat, replica, self.setup.num_replicas)].stats()
    }

    fn stage_index(&self, replica: u32, stage: u32) -> usize {
        slot(self.setup.compat, replica, self.setup.num_replicas) * self.setup.num_stages as usize
            + slot(self.setup.compat, stage, self.setup.num_stages)
    }

    /// Busy-time meter of `stage` of replica id `replica` (percent).
    pub fn busy_stats(&self, replica: u32, stage: u32) -> MeterStats {
        self.busy[self.stage_index(replica, stage)].stats()
    }

    /// MFU meter of `stage` of replica id `replica` (percent).
    pub fn mfu_stats(&self, replica: u32, stage: u32) -> MeterStats {
        self.mfu[self.stage_index(replica, stage)].stats()
    }

    /// The Chrome trace, when recorded.
    pub fn chrome_trace(&self) -> Option<&ChromeTrace> {
        self.chrome.as_ref()
    }

    /// The run summary. Throughput is measured from the first arrival to `end_time` and counts
    /// completed requests only (with their arrival-time P and D).
    pub fn summary(&self) -> Summary {
        let done: Vec<&RequestMetricsRow> =
            self.rows.iter().filter(|r| r.times.is_some()).collect();
        let stats = |m: RequestMetric| {
            let v: Vec<f64> = done
                .iter()
                .map(|r| r.times.expect("completed").get(m))
                .collect();
            LatencyStats::of(&v)
        };
        let first_arrival = self.arrival_times.iter().copied().reduce(f64::min);
        let span = first_arrival.map_or(0.0, |a| self.end_time - a);
        let per_s = |x: f64| (span > 0.0).then(|| x / span);
        let out_tokens: f64 = done.iter().map(|r| r.num_decode_tokens as f64).sum();
        let all_tokens: f64 = done.iter().map(|r| r.num_tokens() as f64).sum();
        let mean_of = |ms: &[SeriesAverageMeter]| {
            let v: Vec<f64> = ms.iter().filter_map(|m| m.stats().weighted_mean).collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        Summary {
            end_time: self.end_time,
            requests: RequestCounts {
                arrived: self.rows.len(),
                completed: done.len(),
                unfinished: self.rows.len() - done.len(),
            },
            ttft: stats(RequestMetric::PrefillE2eTime),
            tpot: stats(RequestMetric::DecodeTimeExecutionPlusPreemptionNormalized),
            tbt: LatencyStats::of(self.tbt.exact()),
            e2e: stats(RequestMetric::E2eTime),
            scheduling_delay: stats(RequestMetric::SchedulingDelay),
            e2e_normalized: stats(RequestMetric::E2eTimeNormalized),
            throughput: Throughput {
                span_s: span,
                requests_per_s: per_s(done.len() as f64),
                output_tokens_per_s: per_s(out_tokens),
                total_tokens_per_s: per_s(all_tokens),
            },
            utilization: UtilizationSummary {
                memory_percent: mean_of(&self.memory),
                busy_percent: mean_of(&self.busy),
                mfu_percent: mean_of(&self.mfu),
            },
        }
    }
}

#[cfg(test)]
mod tests;

/// Read a gzip-compressed file from `../shared` (the Vidur reference outputs); a missing file
/// fails the test loudly, naming it.
#[cfg(test)]
pub(crate) fn read_shared_gz(relative: &str) -> String {
    use std::io::Read;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(relative);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        panic!(
            "missing Vidur reference file {} ({e}); the shared/ checkout is required",
            path.display()
        )
    });
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap();
    text
}
