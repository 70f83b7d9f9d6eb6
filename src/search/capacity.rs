//! Capacity of one point: the largest QPS at which every SLO (and the goodput target) holds.
//!
//! **Algorithm** (deterministic, documented in the README):
//! 1. Probe the start QPS: the space's `capacity.start_qps`, else the capacity of the previous
//!    point of the same family (points that differ only in scheduler knobs, searched in order),
//!    else an estimate of the point's saturated throughput ([`estimate_start_qps`]).
//! 2. Bracket: step up after a pass, down after a failure, until one passing and one failing QPS
//!    are known. From a family warm start the first step is `1 + precision` and each further
//!    step doubles its excess (×1.025, ×1.05, ×1.1, ×1.2, ...) up to ×2, so a point whose
//!    capacity equals its predecessor's takes two probes; from an estimate every step is ×2.
//!    A point failing at `min_qps` has no capacity.
//! 3. Bisect geometrically (`√(pass·fail)`) until `fail / pass − 1 ≤ precision`.
//!
//! **Verdicts** ([`CapacityStatus`]). A capacity is only *found* when a failing probe brackets
//! the knee. Upward steps stop at a physical limit ([`qps_limit`]): a point cannot sustain more
//! requests per second than its replicas complete at their best-case batch throughput, so a
//! point that still passes there (or when the iterations run out before any probe failed) is
//! *unbounded*: the workload is too short, or the SLOs too loose, to load it, and the last
//! passing QPS says nothing about its capacity. A point failing down to `min_qps` has *none*.
//!
//! Every probe is a full simulation with common random numbers: arrival times at QPS `q` are the
//! unit-rate arrival times divided by `q`, so all probes of a seed see the same requests in the
//! same order and only the load changes. Unfinished requests count as SLO violations (Vidur
//! drops them). A probe stops early, with a failing verdict, once more requests have certainly
//! violated an SLO than its quantile allows ([`SloGuard`]).

use std::time::Instant;

use super::result::{CapacityStatus, SimRecord, Slo, SloMetric, SloValue};
use super::space::CapacitySettings;
use super::SearchError;
use crate::metrics::{self, stats::quantile_sorted};
use crate::predictor::{BatchEntry, ExecutionTimePredictor};
use crate::sim::batch::Batch;
use crate::sim::request::Request;
use crate::sim::{simulate, SimConfig, SimObserver};
use crate::workload::RequestSpec;

/// The outcome of one capacity search: the verdict and every probe in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Bisection<R> {
    /// Largest passing QPS, whatever the verdict (None: nothing passed down to `min_qps`).
    pub highest_pass: Option<f64>,
    /// Whether a failing probe brackets `highest_pass` (see [`CapacityStatus`]).
    pub status: CapacityStatus,
    /// `(qps, pass, record)` in probe order.
    pub probes: Vec<(f64, bool, R)>,
}

impl<R> Bisection<R> {
    /// The capacity: the highest passing QPS when a failing probe brackets it, else None.
    pub fn capacity(&self) -> Option<f64> {
        self.highest_pass
            .filter(|_| self.status == CapacityStatus::Found)
    }
}

/// Bracket-then-bisect over a monotone pass/fail predicate (see the module docs), starting at
/// `start_qps` with a first bracketing step of `first_step` (> 1), never probing above
/// `max_qps` (the physical limit; `f64::INFINITY` for none). `probe` returns whether the QPS
/// passes and a record kept with it.
pub fn find_capacity<R, E>(
    settings: &CapacitySettings,
    start_qps: f64,
    first_step: f64,
    max_qps: f64,
    mut probe: impl FnMut(f64) -> Result<(bool, R), E>,
) -> Result<Bisection<R>, E> {
    let precision = settings.precision_pct / 100.0;
    let ceiling = if max_qps.is_nan() {
        f64::INFINITY
    } else {
        max_qps.max(settings.min_qps)
    };
    let (mut pass, mut fail): (Option<f64>, Option<f64>) = (None, None);
    let mut probes = Vec::new();
    let mut step = first_step.clamp(1.0 + precision, 2.0);
    let mut q = start_qps.max(settings.min_qps).min(ceiling);
    for _ in 0..settings.max_iterations {
        let (ok, rec) = probe(q)?;
        probes.push((q, ok, rec));
        if ok {
            pass = Some(pass.map_or(q, |p: f64| p.max(q)));
        } else {
            fail = Some(fail.map_or(q, |f: f64| f.min(q)));
        }
        q = match (pass, fail) {
            (Some(p), None) => {
                if p >= ceiling {
                    // Passing at the physical limit: no higher load can be meaningful.
                    break;
                }
                (p * step).min(ceiling)
            }
            (None, Some(f)) => {
                if f <= settings.min_qps {
                    break;
                }
                (f / step).max(settings.min_qps)
            }
            (Some(p), Some(f)) => {
                // (1e-9: a bracket built as p·(1 + precision) must count as narrow enough.)
                if f / p - 1.0 <= precision + 1e-9 {
                    break;
                }
                (p * f).sqrt()
            }
            (None, None) => unreachable!("a probe was recorded"),
        };
        step = (1.0 + 2.0 * (step - 1.0)).min(2.0);
    }
    let status = match (pass, fail) {
        (Some(_), Some(_)) => CapacityStatus::Found,
        (Some(_), None) => CapacityStatus::Unbounded,
        (None, _) => CapacityStatus::None,
    };
    Ok(Bisection {
        highest_pass: pass,
        status,
        probes,
    })
}

/// Per-request means of a workload.
struct Means {
    prefill: f64,
    decode: f64,
}

impl Means {
    fn of(requests: &[RequestSpec]) -> Means {
        let n = requests.len().max(1) as f64;
        let sum = |f: fn(&RequestSpec) -> u32| requests.iter().map(|r| f(r) as f64).sum::<f64>();
        Means {
            prefill: sum(|r| r.num_prefill_tokens) / n,
            decode: sum(|r| r.num_decode_tokens) / n,
        }
    }
}

/// The slowest stage's time for `batch` (stages of a pipeline run concurrently, so the slowest
/// one paces it); 0 where the predictor cannot price the batch.
fn stage_s(sim: &SimConfig, predictor: &dyn ExecutionTimePredictor, batch: &[BatchEntry]) -> f64 {
    (0..sim.num_pipeline_stages)
        .map(|s| {
            predictor
                .predict(batch, s)
                .map(|t| t.total_s)
                .unwrap_or(0.0)
        })
        .fold(0.0, f64::max)
}

/// The largest batch of a replica: its cap, or what `kv_blocks` hold at `tokens_per_request`.
fn full_batch(sim: &SimConfig, kv_blocks: u64, tokens_per_request: f64) -> usize {
    let kv_tokens = kv_blocks as f64 * sim.scheduler.block_size() as f64;
    (sim.scheduler.batch_size_cap() as f64)
        .min(kv_tokens / tokens_per_request.max(1.0))
        .max(1.0)
        .floor() as usize
}

fn decodes(n: usize, context: f64) -> Vec<BatchEntry> {
    (0..n.max(1))
        .map(|_| BatchEntry {
            num_tokens: 1,
            num_processed_tokens: context as u32,
            is_prefill_complete: true,
        })
        .collect()
}

/// A first guess of a point's capacity: replicas × the request rate one replica sustains when
/// its batch is full (decode iterations at the batch cap, or what the KV cache holds, plus each
/// request's prefill). Within a factor of ~2 of the simulated knee, which the bracket absorbs.
pub fn estimate_start_qps(
    sim: &SimConfig,
    predictor: &dyn ExecutionTimePredictor,
    requests: &[RequestSpec],
    kv_blocks: u64,
) -> f64 {
    let m = Means::of(requests);
    let pp = sim.num_pipeline_stages;
    let batch = full_batch(sim, kv_blocks, m.prefill + m.decode);
    let decode = decodes(batch, m.prefill + m.decode / 2.0);
    let prefill = [BatchEntry {
        num_tokens: (m.prefill as u32).max(1),
        num_processed_tokens: 0,
        is_prefill_complete: false,
    }];
    // With PP stages, `pp` micro-batches are in flight: the slowest stage paces the pipeline.
    let per_request_s = stage_s(sim, predictor, &decode) * m.decode / batch as f64
        + stage_s(sim, predictor, &prefill) / pp as f64;
    if per_request_s > 0.0 && per_request_s.is_finite() {
        sim.num_replicas as f64 / per_request_s
    } else {
        1.0
    }
}

/// Headroom of [`qps_limit`] over the best-case throughput it computes.
pub const LIMIT_HEADROOM: f64 = 2.0;

/// Prompt tokens in the prefill batch that prices a prompt token at its cheapest.
const LIMIT_PREFILL_TOKENS: f64 = 4096.0;

/// The physical limit of a capacity search: `LIMIT_HEADROOM` (2) × replicas × the request rate
/// one replica completes at its best-case batch throughput. Every per-token cost is taken
/// where it is cheapest: decode tokens in the largest batch the scheduler cap and the KV cache
/// allow (each request holding only its prompt) at the shortest context (the prompt), prompt
/// tokens in a batch of 4,096 prompt tokens; a request costs its mean prompt times the one
/// plus its mean output times the other, per pipeline stage (stages run concurrently). A mixed
/// iteration costs at least the larger of its prefill and decode parts, so overlapping them
/// can at most halve that sum: hence the factor 2. A point that still meets its SLOs at this
/// rate is only meeting them because the workload ends before a queue can build. Infinite
/// where the predictor cannot price the batches.
pub fn qps_limit(
    sim: &SimConfig,
    predictor: &dyn ExecutionTimePredictor,
    requests: &[RequestSpec],
    kv_blocks: u64,
) -> f64 {
    let m = Means::of(requests);
    let prompt = m.prefill.max(1.0);
    let batch = full_batch(sim, kv_blocks, prompt);
    let per_decode = stage_s(sim, predictor, &decodes(batch, prompt)) / batch as f64;
    let k = (LIMIT_PREFILL_TOKENS / prompt).floor().max(1.0) as usize;
    let prefills: Vec<BatchEntry> = (0..k)
        .map(|_| BatchEntry {
            num_tokens: prompt as u32,
            num_processed_tokens: 0,
            is_prefill_complete: false,
        })
        .collect();
    let per_prompt = stage_s(sim, predictor, &prefills) / (k as f64 * (prompt as u32) as f64);
    let per_request_s = m.prefill * per_prompt + m.decode * per_decode;
    if per_request_s > 0.0 && per_request_s.is_finite() {
        LIMIT_HEADROOM * sim.num_replicas as f64 / per_request_s
    } else {
        f64::INFINITY
    }
}

/// Buffers a probe needs, reused across the probes of a point so a run allocates (and
/// page-faults in) its per-token storage once.
#[derive(Debug, Default)]
pub struct ProbeScratch {
    gaps: Vec<f64>,
    values: Vec<f64>,
    requests: Vec<RequestSpec>,
}

/// Which SLOs are checked at which milestone of a request.
#[derive(Debug, Default)]
struct Milestones {
    /// (SLO index, bound) checked when the prefill completes (TTFT, scheduling delay).
    prefill: Vec<(usize, f64)>,
    /// Checked when the request completes (E2E, TPOT).
    complete: Vec<(usize, f64)>,
    /// Checked at every inter-token gap (TBT).
    gap: Vec<(usize, f64)>,
}

/// Counts certain SLO violations while a run goes and stops it once the SLOs cannot hold.
pub struct SloGuard<'a> {
    slos: &'a [Slo],
    at: Milestones,
    /// Allowed violations per SLO (`floor((1 − q)·population)`).
    allowed: Vec<u64>,
    violations: Vec<u64>,
    /// Goodput: allowed failing requests and per-request failure flags.
    goodput_allowed: Option<u64>,
    failed: Vec<bool>,
    num_failed: u64,
    /// Inter-token gaps, when a TBT SLO needs them.
    gaps: &'a mut Vec<f64>,
    collect_gaps: bool,
    /// Per (SLO of a per-request metric): first request (arrival order) that may still be
    /// pending, for the periodic sweep.
    cursor: Vec<usize>,
    batches: u64,
    /// Set once the SLOs can no longer hold.
    stop: bool,
    /// Requests with a lower id (a closed loop's warm-up) are simulated but not measured.
    first_measured: u32,
}

/// One request's value of a per-request metric (as `metrics` defines it), if it has reached
/// that milestone.
fn request_metric(m: SloMetric, r: &Request) -> Option<f64> {
    match m {
        SloMetric::Ttft => (r.prefill_completed_at > 0.0).then(|| metrics::ttft(r)),
        SloMetric::SchedulingDelay => r.scheduled.then(|| metrics::scheduling_delay(r)),
        SloMetric::E2e => r.completed.then(|| metrics::e2e(r)),
        SloMetric::Tpot => r.completed.then(|| metrics::tpot(r)),
        SloMetric::Tbt => None,
    }
}

/// Expected inter-token gaps of a request: one per decode iteration after the first token.
fn expected_gaps(r: &RequestSpec) -> u64 {
    r.num_decode_tokens.saturating_sub(1) as u64
}

impl<'a> SloGuard<'a> {
    /// Leave the first `warmup` requests (ids below it) out of every check and of the collected
    /// inter-token gaps: a closed loop's warm-up is simulated but not measured.
    pub fn measuring_from(mut self, warmup: u64) -> Self {
        self.first_measured = u32::try_from(warmup).unwrap_or(u32::MAX);
        self
    }

    /// A guard for `requests` under `slos` and an optional goodput target.
    pub fn new(
        slos: &'a [Slo],
        goodput: Option<f64>,
        requests: &[RequestSpec],
        gaps_buf: &'a mut Vec<f64>,
    ) -> Self {
        let n = requests.len() as u64;
        let gaps: u64 = requests.iter().map(expected_gaps).sum();
        let allowed = slos
            .iter()
            .map(|s| {
                let pop = if s.metric == SloMetric::Tbt { gaps } else { n };
                ((1.0 - s.quantile) * pop as f64 + 1e-9).floor() as u64
            })
            .collect();
        let collect_gaps = slos.iter().any(|s| s.metric == SloMetric::Tbt);
        gaps_buf.clear();
        let mut at = Milestones::default();
        for (i, s) in slos.iter().enumerate() {
            let list = match s.metric {
                SloMetric::Ttft | SloMetric::SchedulingDelay => &mut at.prefill,
                SloMetric::E2e | SloMetric::Tpot => &mut at.complete,
                SloMetric::Tbt => &mut at.gap,
            };
            list.push((i, s.max_seconds));
        }
        SloGuard {
            slos,
            at,
            allowed,
            violations: vec![0; slos.len()],
            goodput_allowed: goodput.map(|g| ((1.0 - g) * n as f64 + 1e-9).floor() as u64),
            failed: vec![false; requests.len()],
            num_failed: 0,
            gaps: gaps_buf,
            collect_gaps,
            cursor: vec![0; slos.len()],
            batches: 0,
            first_measured: 0,
            stop: false,
        }
    }

    fn fail_request(&mut self, id: usize) {
        if !self.failed[id] {
            self.failed[id] = true;
            self.num_failed += 1;
        }
    }

    fn exceeded(&self) -> bool {
        self.violations
            .iter()
            .zip(&self.allowed)
            .any(|(v, a)| v > a)
            || self.goodput_allowed.is_some_and(|a| self.num_failed > a)
    }

    /// Requests that have waited past an SLO bound without reaching its milestone are certain
    /// violators; a sweep over arrival order (from a cursor past the settled prefix) counts them.
    fn pending_violations(&mut self, t: f64, requests: &[Request]) -> bool {
        for (i, s) in self.slos.iter().enumerate() {
            if matches!(s.metric, SloMetric::Tbt | SloMetric::Tpot) {
                continue;
            }
            let cut = t - s.max_seconds;
            let mut c = self.cursor[i];
            while c < requests.len() && request_metric(s.metric, &requests[c]).is_some() {
                c += 1;
            }
            self.cursor[i] = c;
            let mut pending = 0u64;
            for r in &requests[c..] {
                if r.arrived_at >= cut {
                    break;
                }
                if request_metric(s.metric, r).is_none() {
                    pending += 1;
                }
            }
            if self.violations[i] + pending > self.allowed[i] {
                return true;
            }
        }
        false
    }

    /// Measured SLO values and goodput after the run (unfinished requests as +∞).
    pub fn evaluate(
        &self,
        requests: &[Request],
        specs: &[RequestSpec],
        values: &mut Vec<f64>,
    ) -> (Vec<SloValue>, f64) {
        let slos = self
            .slos
            .iter()
            .map(|s| {
                values.clear();
                if s.metric == SloMetric::Tbt {
                    values.extend_from_slice(self.gaps);
                    let expected: u64 = specs.iter().map(expected_gaps).sum();
                    let missing = expected.saturating_sub(self.gaps.len() as u64);
                    values.extend(std::iter::repeat_n(f64::INFINITY, missing as usize));
                } else {
                    values.extend(
                        requests
                            .iter()
                            .map(|r| request_metric(s.metric, r).unwrap_or(f64::INFINITY)),
                    );
                }
                let v = quantile_with_inf(values, s.quantile);
                SloValue {
                    slo: *s,
                    value_s: v,
                    ok: v.is_some_and(|v| v <= s.max_seconds),
                }
            })
            .collect();
        // Goodput: a request meets every SLO of a per-request metric, and its mean gap (TPOT)
        // meets the TBT bound.
        let good = requests
            .iter()
            .filter(|r| {
                self.slos.iter().all(|s| {
                    let v = match s.metric {
                        SloMetric::Tbt => request_metric(SloMetric::Tpot, r),
                        m => request_metric(m, r),
                    };
                    v.is_some_and(|v| v <= s.max_seconds)
                })
            })
            .count();
        (slos, good as f64 / requests.len().max(1) as f64)
    }
}

/// numpy-linear quantile of values that may hold +∞ (unfinished requests): None when the
/// quantile touches an infinite value. Selection, not a sort: O(n) on the ~10⁶ gaps of a run.
fn quantile_with_inf(values: &mut [f64], q: f64) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let virt = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = virt.floor() as usize;
    let frac = virt - lo as f64;
    let (_, &mut a, rest) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let b = rest.iter().copied().min_by(f64::total_cmp).unwrap_or(a);
    if !a.is_finite() || (frac > 0.0 && !b.is_finite()) {
        return None;
    }
    if frac == 0.0 {
        return Some(a);
    }
    quantile_sorted(&[a, b], frac)
}

impl SloGuard<'_> {
    /// Counts the violations `batch` (ended at `t`) settled; true once the SLOs cannot hold.
    fn check_batch(&mut self, t: f64, batch: &Batch, requests: &[Request]) -> bool {
        let mut violated = false;
        for &id in &batch.requests {
            if id < self.first_measured {
                continue;
            }
            let r = &requests[id as usize];
            let mut failed = false;
            if r.has_started_decode() {
                let gap = metrics::tbt_gap(t, batch, r);
                if self.collect_gaps {
                    self.gaps.push(gap);
                }
                for &(i, bound) in &self.at.gap {
                    if gap > bound {
                        self.violations[i] += 1;
                        failed = true;
                    }
                }
            }
            if t == r.prefill_completed_at {
                for &(i, bound) in &self.at.prefill {
                    if request_metric(self.slos[i].metric, r).is_some_and(|v| v > bound) {
                        self.violations[i] += 1;
                        failed = true;
                    }
                }
            }
            if r.completed && t == r.completed_at {
                for &(i, bound) in &self.at.complete {
                    if request_metric(self.slos[i].metric, r).is_some_and(|v| v > bound) {
                        self.violations[i] += 1;
                        failed = true;
                    }
                }
            }
            if failed {
                self.fail_request(id as usize);
                violated = true;
            }
        }
        self.batches += 1;
        if violated && self.exceeded() {
            return true;
        }
        // The sweep is O(pending): every 64 batches keeps it off the per-batch path.
        self.batches.is_multiple_of(64) && self.pending_violations(t, requests)
    }
}

impl SimObserver for SloGuard<'_> {
    fn on_batch_end(&mut self, t: f64, _: u32, batch: &Batch, requests: &[Request], _: f64) {
        if self.check_batch(t, batch, requests) {
            self.stop = true;
        }
    }

    fn should_stop(&self) -> bool {
        self.stop
    }
}

/// What a point's probes share: engine config, predictor, unit-rate requests, SLOs.
pub struct ProbeSpec<'a> {
    /// Engine configuration (seed set).
    pub sim: &'a SimConfig,
    /// Prices batches.
    pub predictor: &'a dyn ExecutionTimePredictor,
    /// The workload at one request per second.
    pub base: &'a [RequestSpec],
    /// Workload seed (recorded).
    pub seed: u64,
    /// Objectives.
    pub slos: &'a [Slo],
    /// Goodput target.
    pub goodput: Option<f64>,
}

/// Run one probe at `qps` (`scratch`: buffers reused across probes): the unit-rate requests
/// compressed to `qps`, simulated under the spec's engine config.
pub fn run_probe(
    spec: &ProbeSpec,
    qps: f64,
    scratch: &mut ProbeScratch,
) -> Result<SimRecord, SearchError> {
    let ProbeSpec {
        sim,
        predictor,
        base,
        seed,
        slos,
        goodput,
    } = *spec;
    let started = Instant::now();
    let ProbeScratch {
        gaps,
        values,
        requests,
    } = scratch;
    requests.clear();
    requests.extend(base.iter().map(|r| RequestSpec {
        arrived_at: r.arrived_at / qps,
        ..*r
    }));
    let mut guard = SloGuard::new(slos, goodput, requests, gaps);
    let out = simulate(sim, requests, predictor, &mut guard)
        .map_err(|e| SearchError::Sim(Box::new(e)))?;
    let (values, good) = guard.evaluate(&out.requests, requests, values);
    let pass = values.iter().all(|v| v.ok) && goodput.is_none_or(|g| good >= g);
    let output_tokens: f64 = out
        .requests
        .iter()
        .filter(|r| r.completed)
        .map(|r| r.num_decode_tokens as f64)
        .sum();
    Ok(SimRecord {
        seed,
        qps,
        pass,
        slos: values,
        goodput: good,
        num_requests: requests.len() as u64,
        num_unfinished: out.num_unfinished as u64,
        stopped_early: out.stopped_early,
        simulated_s: out.end_time,
        // The rate served at this load: the offered QPS × output tokens per request, counting
        // only finished requests (the run's makespan adds a warm-up and a drain, which a
        // steady state does not have).
        output_tokens_per_s: qps * output_tokens / requests.len().max(1) as f64,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(precision_pct: f64) -> CapacitySettings {
        CapacitySettings {
            precision_pct,
            ..Default::default()
        }
    }

    #[test]
    fn finds_a_known_knee_within_the_precision() {
        for knee in [0.37, 1.0, 3.3, 17.29, 250.0] {
            for start in [0.05, 1.0, 40.0, 1000.0] {
                for step in [2.0, 1.025] {
                    if step < 2.0 && (start / knee > 10.0 || knee / start > 10.0) {
                        // Warm starts are near the knee; far away they run out of iterations.
                        continue;
                    }
                    let b = find_capacity(&settings(2.5), start, step, f64::INFINITY, |q| {
                        Ok::<_, ()>((q <= knee, ()))
                    })
                    .unwrap();
                    assert_eq!(b.status, CapacityStatus::Found);
                    let c = b.capacity().expect("a capacity");
                    assert!(c <= knee, "capacity {c} above the knee {knee}");
                    assert!(
                        knee / c - 1.0 <= 0.025 + 1e-9,
                        "capacity {c} too far below {knee}"
                    );
                    assert!(b.probes.len() <= 20);
                }
            }
        }
    }

    #[test]
    fn a_warm_start_at_the_knee_takes_two_probes() {
        let b = find_capacity(&settings(2.5), 10.0, 1.025, f64::INFINITY, |q| {
            Ok::<_, ()>((q <= 10.2, ()))
        })
        .unwrap();
        assert_eq!(b.probes.len(), 2);
        assert_eq!(b.capacity(), Some(10.0));
    }

    #[test]
    fn passing_up_to_the_limit_is_unbounded_not_a_capacity() {
        // Every probe passes: the search stops at the physical limit, not 2^20 × the start.
        let b = find_capacity(&settings(2.5), 12.0, 2.0, 100.0, |_| {
            Ok::<_, ()>((true, ()))
        })
        .unwrap();
        assert_eq!(b.status, CapacityStatus::Unbounded);
        assert_eq!(b.capacity(), None);
        assert_eq!(b.highest_pass, Some(100.0));
        let qps: Vec<f64> = b.probes.iter().map(|p| p.0).collect();
        assert_eq!(qps, [12.0, 24.0, 48.0, 96.0, 100.0]);
        // A start above the limit is clamped to it.
        let b = find_capacity(&settings(2.5), 500.0, 2.0, 100.0, |_| {
            Ok::<_, ()>((true, ()))
        })
        .unwrap();
        assert_eq!(b.probes.len(), 1);
        assert_eq!(b.probes[0].0, 100.0);
        assert_eq!(b.status, CapacityStatus::Unbounded);
        // With no limit, running out of iterations without a failure is unbounded too.
        let b = find_capacity(&settings(2.5), 1.0, 2.0, f64::INFINITY, |_| {
            Ok::<_, ()>((true, ()))
        })
        .unwrap();
        assert_eq!(b.status, CapacityStatus::Unbounded);
        assert_eq!(b.probes.len(), 20);
        // A knee just under the limit is still found.
        let b = find_capacity(&settings(2.5), 12.0, 2.0, 100.0, |q| {
            Ok::<_, ()>((q <= 99.0, ()))
        })
        .unwrap();
        assert_eq!(b.status, CapacityStatus::Found);
        assert!(b.capacity().unwrap() > 96.0);
    }

    #[test]
    fn no_capacity_when_nothing_passes() {
        let b = find_capacity(&settings(2.5), 8.0, 2.0, f64::INFINITY, |_| {
            Ok::<_, ()>((false, ()))
        })
        .unwrap();
        assert_eq!(b.capacity(), None);
        assert_eq!(b.status, CapacityStatus::None);
        assert!(b.probes.iter().all(|p| !p.1));
        assert!(b.probes.last().unwrap().0 <= 0.01 + 1e-12);
    }

    #[test]
    fn quantiles_with_unfinished_requests() {
        let mut v = [3.0, f64::INFINITY, 1.0, 2.0];
        assert_eq!(quantile_with_inf(&mut v, 0.0), Some(1.0));
        assert_eq!(quantile_with_inf(&mut v, 0.5), Some(2.5));
        assert!((quantile_with_inf(&mut v, 0.6).unwrap() - 2.8).abs() < 1e-12);
        assert_eq!(quantile_with_inf(&mut v, 0.9), None);
        assert_eq!(quantile_with_inf(&mut v, 1.0), None);
        assert_eq!(quantile_with_inf(&mut [], 0.5), None);
        // Same as numpy's linear quantile on finite data.
        let mut w: Vec<f64> = (0..101).map(|i| ((i * 37) % 101) as f64).collect();
        assert_eq!(quantile_with_inf(&mut w, 0.99), Some(99.0));
        assert_eq!(quantile_with_inf(&mut w, 0.995), Some(99.5));
    }
}
