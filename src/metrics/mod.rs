//! Metrics (vidur-behavior.md §9, §12 items 14–15): the [`Recorder`] is a
//! [`SimObserver`] whose hooks the engine calls in Vidur's order; [`Recorder::finish`] yields
//! [`SimMetrics`], which computes the [`Summary`] and writes Vidur-format outputs.
//! [`simulate_recorded`] runs a simulation with a recorder attached.
//!
//! What is recorded where (Vidur's `metrics_store`):
//! * arrival: the request histograms (P+D, P, D, P/D, inter-arrival delay) and the arrival series;
//! * batch end: completed requests (completion order matters: CDF ties break by push order), the
//!   memory meter, prefill/decode token series and the per-token decode latency (TBT), then the
//!   five batch metrics into DDSketches;
//! * stage schedule/end: busy and MFU meters (MFU computed here from the priced batch),
//!   Chrome trace slices.
//!
//! Per-request time columns are derived at [`Recorder::finish`] from the final request state,
//! which is what Vidur records at completion (nothing changes a request after it completes).
//!
//! `Compat::Vidur` keeps Vidur's meter quirks (dropped first segment, `id−1` file slots) and its
//! sketch-approximated batch/TBT CDF files; `Compat::Default` counts every meter segment from 0
//! to the end of the run, names files by 0-based id and writes exact quantiles.
//!
//! Warm-up ([`RecorderSetup::warmup_requests`]): the first requests (by id, i.e. arrival order)
//! are simulated but left out of every request-level record (rows, histograms, request CDFs,
//! arrival/completion/prefill/decode series, TBT, the summary's latencies and throughput). The
//! batch metrics and utilization meters describe the whole run. The in-flight count
//! ([`Summary::in_flight_mean`]) counts every request.

mod chrome;
mod meter;
mod output;
mod pyfmt;
mod request_metrics;
mod sketch;
pub mod stats;

use crate::compat::Compat;
use crate::predictor::{BatchEntry, ExecutionTimePredictor, StageTime};
use crate::sim::batch::Batch;
use crate::sim::config::MetricsOptions;
use crate::sim::request::{ReqId, Request};
use crate::sim::{SimConfig, SimError, SimObserver, SimOutput};
use crate::workload::{RequestSource, RequestSpec};

pub use chrome::ChromeTrace;
pub use meter::{MeterStats, SeriesAverageMeter};
pub use output::MetricsError;
pub use pyfmt::py_float;
pub use request_metrics::{
    e2e, scheduling_delay, tbt_gap, tpot, tpot_bench, ttft, RequestMetric, RequestMetricsRow,
    RequestTimes, REQUEST_METRICS_HEADER,
};
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
    /// MFU inputs.
    pub mfu: MfuModel,
    /// Requests with an id below this are simulated but not measured (see the module docs);
    /// 0 measures every request.
    pub warmup_requests: u64,
}

impl RecorderSetup {
    /// The setup for a run under `cfg`, measuring every request.
    pub fn from_config(cfg: &SimConfig) -> Self {
        RecorderSetup {
            num_replicas: cfg.num_replicas,
            num_stages: cfg.num_pipeline_stages,
            compat: cfg.compat,
            options: cfg.metrics.clone(),
            mfu: MfuModel::from_config(cfg),
            warmup_requests: 0,
        }
    }
}

/// MFU inputs (vidur-behavior.md §9.6): a stage's FLOPs are `2·tokens·params_per_device` plus
/// `attn_coeff·n·(n + processed)` per member, over `device_flops`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MfuModel {
    /// Parameters held by one device.
    pub params_per_device: f64,
    /// `4 · layers per stage · query heads per device · head dim`.
    pub attn_coeff: f64,
    /// Peak FLOP/s of one device.
    pub device_flops: f64,
}

impl MfuModel {
    /// The inputs for `cfg`'s model, device and parallel layout.
    pub fn from_config(cfg: &SimConfig) -> Self {
        let m = &cfg.model;
        let (tp, pp) = (
            cfg.tensor_parallel_size as f64,
            cfg.num_pipeline_stages as f64,
        );
        // Vidur divides by fp16_tflops·2^40; default mode uses SI tera (1e12).
        let tera = if cfg.compat.is_vidur() {
            2f64.powi(40)
        } else {
            1e12
        };
        MfuModel {
            params_per_device: m
                .params_per_device(cfg.tensor_parallel_size, cfg.num_pipeline_stages)
                as f64,
            attn_coeff: 4.0
                * (m.num_layers as f64 / pp).floor()
                * (m.num_q_heads as f64 / tp).floor()
                * m.head_dim as f64,
            device_flops: cfg.device.fp16_tflops * tera,
        }
    }

    /// MFU (%) of one stage running `entries` for `total_s` seconds; 0 for a zero-time stage.
    pub fn percent(&self, entries: &[BatchEntry], total_s: f64) -> f64 {
        // Same operations, in the same order, as Vidur: the MFU files are compared bit for bit.
        let mut mlp_tokens = 0f64;
        let mut attn_flops = 0f64;
        for e in entries {
            let n = e.num_tokens as f64;
            mlp_tokens += n;
            attn_flops += self.attn_coeff * n * (n + e.num_processed_tokens as f64);
        }
        let flops = 2.0 * mlp_tokens * self.params_per_device + attn_flops;
        if total_s > 0.0 {
            flops / total_s * 100.0 / self.device_flops
        } else {
            0.0
        }
    }
}

/// Run one simulation of `requests` under `cfg` with a [`Recorder`] set up from `cfg`
/// ([`RecorderSetup::from_config`]); see [`crate::sim::simulate`].
pub fn simulate_recorded(
    cfg: &SimConfig,
    requests: &[RequestSpec],
    predictor: &dyn ExecutionTimePredictor,
) -> Result<(SimOutput, SimMetrics), SimError> {
    let mut rec = Recorder::new(
        RecorderSetup::from_config(cfg),
        requests.len().min(MAX_PRESIZED),
    );
    let out = crate::sim::simulate(cfg, requests, predictor, &mut rec)?;
    let metrics = rec.finish(&out.requests, out.end_time);
    Ok((out, metrics))
}

/// Run one simulation pulling arrivals from `source`, recorded under `setup` (e.g.
/// [`RecorderSetup::from_config`] with a warm-up); see [`crate::sim::simulate_source`].
pub fn simulate_source_recorded<S: RequestSource + ?Sized>(
    cfg: &SimConfig,
    source: &mut S,
    predictor: &dyn ExecutionTimePredictor,
    setup: RecorderSetup,
) -> Result<(SimOutput, SimMetrics), SimError> {
    let capacity = source.remaining().unwrap_or(0).min(MAX_PRESIZED);
    let mut rec = Recorder::new(setup, capacity);
    let out = crate::sim::simulate_source(cfg, source, predictor, &mut rec)?;
    let metrics = rec.finish(&out.requests, out.end_time);
    Ok((out, metrics))
}

/// Requests a recorder reserves room for up front; larger runs grow as requests arrive.
const MAX_PRESIZED: usize = 1 << 20;

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
    /// Per replica slot: every `(t, KV-cache use %)` put into `memory`, for plots.
    memory_series: Vec<Vec<(f64, f64)>>,
    /// End time of each batch, parallel to `batch`'s values (for plots over time).
    batch_end_times: Vec<f64>,
    busy: Vec<SeriesAverageMeter>,
    mfu: Vec<SeriesAverageMeter>,
    chrome: Option<ChromeTrace>,
    in_flight: InFlight,
    /// Warm-up requests that arrived.
    warmup_arrived: u64,
}

/// The number of requests in flight (arrived, not completed), integrated over time from the
/// arrival of the first measured request; the window ends at the latest arrival.
#[derive(Debug, Clone, Default)]
struct InFlight {
    count: u64,
    /// Window start: arrival of the first measured request.
    start: Option<f64>,
    /// Time up to which `area` is integrated.
    t: f64,
    /// ∫ count dt over [start, t].
    area: f64,
    /// `(time, area)` at the latest arrival in the window.
    at_last_arrival: (f64, f64),
}

impl InFlight {
    fn advance(&mut self, t: f64) {
        if self.start.is_some() {
            self.area += self.count as f64 * (t - self.t);
        }
        self.t = t;
    }

    fn arrive(&mut self, t: f64, measured: bool) {
        self.advance(t);
        if measured && self.start.is_none() {
            self.start = Some(t);
        }
        self.count += 1;
        if self.start.is_some() {
            self.at_last_arrival = (t, self.area);
        }
    }

    fn complete(&mut self, t: f64) {
        self.advance(t);
        self.count = self.count.saturating_sub(1);
    }

    /// Time-averaged count over [first measured arrival, last arrival]; `None` for an empty
    /// window.
    fn mean(&self) -> Option<f64> {
        let start = self.start?;
        let (end, area) = self.at_last_arrival;
        (end > start).then(|| area / (end - start))
    }
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
            memory_series: vec![Vec::new(); n_rep],
            batch_end_times: Vec::new(),
            memory,
            busy,
            mfu,
            in_flight: InFlight::default(),
            warmup_arrived: 0,
        }
    }

    fn replica_slot(&self, replica: u32) -> usize {
        slot(self.setup.compat, replica, self.setup.num_replicas)
    }

    fn stage_slot(&self, replica: u32, stage: u32) -> usize {
        self.replica_slot(replica) * self.setup.num_stages as usize
            + slot(self.setup.compat, stage, self.setup.num_stages)
    }

    /// Whether request `id` is measured (not a warm-up request).
    fn measured(&self, id: ReqId) -> bool {
        u64::from(id) >= self.setup.warmup_requests
    }

    /// Stage `stage` of `replica` started a batch at `t`; `mfu` in percent.
    fn record_stage_start(&mut self, t: f64, replica: u32, stage: u32, mfu: f64) {
        let s = self.stage_slot(replica, stage);
        self.busy[s].put_int(t, 100);
        self.mfu[s].put(t, mfu);
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
            memory_series,
            batch_end_times,
            mut busy,
            mut mfu,
            chrome,
            in_flight,
            warmup_arrived,
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
            in_flight_mean: in_flight.mean(),
            warmup_arrived,
            rows,
            completions,
            arrival_times,
            prefill_series,
            decode_series,
            tbt,
            batch,
            memory,
            memory_series,
            batch_end_times,
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

impl SimObserver for Recorder {
    fn on_request_arrival(&mut self, t: f64, req: &Request) {
        let measured = self.measured(req.id);
        self.in_flight.arrive(t, measured);
        if !measured {
            self.warmup_arrived += 1;
            return;
        }
        self.arrivals.push(Arrival {
            id: req.id,
            t,
            prefill: req.num_prefill_tokens,
            decode: req.num_decode_tokens,
        });
    }

    fn on_replica_schedule(&mut self, t: f64, replica: u32, memory_usage_percent: f64) {
        let s = self.replica_slot(replica);
        self.memory[s].put(t, memory_usage_percent);
        self.memory_series[s].push((t, memory_usage_percent));
    }

    fn on_stage_schedule(
        &mut self,
        t: f64,
        replica: u32,
        stage: u32,
        _batch: &Batch,
        entries: &[BatchEntry],
        time: &StageTime,
    ) {
        let mfu = self.setup.mfu.percent(entries, time.total_s);
        self.record_stage_start(t, replica, stage, mfu);
    }

    fn on_stage_end(&mut self, t: f64, replica: u32, stage: u32, batch: &Batch, exec_s: f64) {
        let s = self.stage_slot(replica, stage);
        self.busy[s].put_int(t, 0);
        self.mfu[s].put_int(t, 0);
        if let Some(c) = &mut self.chrome {
            c.record(t, replica, stage, batch, exec_s);
        }
    }

    fn on_batch_end(
        &mut self,
        t: f64,
        replica: u32,
        batch: &Batch,
        requests: &[Request],
        memory_usage_percent: f64,
    ) {
        // Vidur order: completed requests, memory meter, per-token metrics, batch metrics.
        for &id in &batch.requests {
            if requests[id as usize].completed {
                self.in_flight.complete(t);
                if self.measured(id) {
                    self.completions.push((t, id));
                }
            }
        }
        let s = self.replica_slot(replica);
        self.memory[s].put(t, memory_usage_percent);
        self.memory_series[s].push((t, memory_usage_percent));
        let mut decoded = 0;
        for &id in &batch.requests {
            if !self.measured(id) {
                continue;
            }
            let r = &requests[id as usize];
            // Exact float equality is Vidur's test: prefill_completed_at is set to this very t.
            if t == r.prefill_completed_at {
                self.prefill_series.push((t, r.num_prefill_tokens));
            }
            if r.has_started_decode() && self.setup.options.token_metrics {
                self.tbt.push(tbt_gap(t, batch, r));
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
        self.batch_end_times.push(t);
    }
}

/// Everything recorded by one run.
#[derive(Debug)]
pub struct SimMetrics {
    setup: RecorderSetup,
    end_time: f64,
    in_flight_mean: Option<f64>,
    warmup_arrived: u64,
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
    /// Per replica slot: every `(t, KV-cache use %)` put into `memory`, for plots.
    memory_series: Vec<Vec<(f64, f64)>>,
    /// End time of each batch, parallel to `batch`'s values (for plots over time).
    batch_end_times: Vec<f64>,
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

    /// Mean requests in flight over the measurement window ([`Summary::in_flight_mean`]).
    pub fn in_flight_mean(&self) -> Option<f64> {
        self.in_flight_mean
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

    /// End time of each batch, in the order of [`Self::batch_metric`]'s values.
    pub fn batch_end_times(&self) -> &[f64] {
        &self.batch_end_times
    }

    /// `(t, KV-cache use %)` of replica id `replica` at each scheduling step and batch end.
    pub fn memory_series(&self, replica: u32) -> &[(f64, f64)] {
        &self.memory_series[slot(self.setup.compat, replica, self.setup.num_replicas)]
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

    /// The run summary, over measured requests (warm-up excluded). Throughput is measured from
    /// the first measured arrival to `end_time` and counts completed requests only (with their
    /// arrival-time P and D).
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
                warmup: self.warmup_arrived,
            },
            ttft: stats(RequestMetric::PrefillE2eTime),
            tpot: stats(RequestMetric::DecodeTimeExecutionPlusPreemptionNormalized),
            tpot_bench: LatencyStats::of(
                &done
                    .iter()
                    .filter_map(|r| r.tpot_bench())
                    .collect::<Vec<f64>>(),
            ),
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
            in_flight_mean: self.in_flight_mean,
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
