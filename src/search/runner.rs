//! Runs a whole search: every feasible point's capacity search in parallel (rayon), reusing
//! the point cache ([`super::cache`]) so a killed run resumes, and reporting progress through
//! a callback ([`ProgressEvent`]; the library never prints).
//!
//! **Failures.** An error while evaluating one point (a simulation error, a predictor that
//! cannot be built for the point's layout or cannot price one of its batches) does not stop
//! the run: the point is recorded with status `failed` and the error, is never ranked, and is
//! not cached, so a re-run retries it. Errors that are not about one point (the space, the
//! workloads, the output folder) abort the run.
//!
//! **Determinism.** Each point's searches depend only on the point and its seeds; results are
//! collected in expansion order, so any `--jobs` gives identical results.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;

use super::cache::{self, PointCache};
use super::capacity::{
    estimate_start_qps, find_capacity, qps_limit, run_probe, ProbeScratch, ProbeSpec, SloGuard,
};
use super::cost;
use super::expand::{expand, Expansion, Point};
use super::result::{
    CapacityStatus, ClosedLoopMeasure, PointResult, RunMeta, SearchOutcome, SeedCapacity, SimRecord,
};
use super::space::{Arrival, ClosedLoopArrival, LoadedSpace, SearchSpace, WorkloadSpec};
use super::{SearchError, ENGINE_VERSION};
use crate::config::predictor as predictor_build;
use crate::metrics::{Recorder, RecorderSetup};
use crate::predictor::ExecutionTimePredictor;
use crate::sim::batch::Batch;
use crate::sim::request::Request;
use crate::sim::{memory, SimObserver};
use crate::workload::{
    self, ClosedLoopConfig, ClosedLoopSource, IntervalConfig, RequestSpec, SyntheticConfig,
    WorkloadConfig,
};

/// Options of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads (≥ 1).
    pub jobs: usize,
    /// Output folder (the cache lives in `<output>/cache`).
    pub output: PathBuf,
    /// Ignore cached points (they are overwritten).
    pub fresh: bool,
}

/// What a run reports while it goes: `Started`, then one `PointDone` or `PointFailed` per point
/// (from the worker threads, in completion order), then `Finished`.
#[derive(Debug, Clone, Copy)]
pub enum ProgressEvent<'a> {
    /// The feasible points are known and searching begins.
    Started {
        /// Points to evaluate (simulated or from the cache).
        points: usize,
        /// Points dropped as infeasible.
        dropped: usize,
    },
    /// A point has its verdict.
    PointDone {
        /// Its result.
        result: &'a PointResult,
        /// Whether it came from the cache.
        cached: bool,
    },
    /// A point's evaluation failed: `result` has status `failed` and the error.
    PointFailed {
        /// Its result.
        result: &'a PointResult,
    },
    /// Every point is done.
    Finished {
        /// Points evaluated.
        points: usize,
        /// Of which failed.
        failed: usize,
    },
}

/// Receives a run's [`ProgressEvent`]s; called from the worker threads.
pub type ProgressFn<'a> = &'a (dyn Fn(ProgressEvent<'_>) + Sync);

/// A point's result and whether it came from the cache; errors abort the run.
type PointOutcome = Result<(PointResult, bool), SearchError>;

/// Everything shared by the points of one run.
struct Shared {
    space: SearchSpace,
    /// Unit-rate requests per (workload, seed).
    requests: HashMap<(usize, u64), Arc<Vec<RequestSpec>>>,
    /// Per predictor key: the predictor, or why it could not be built (the message of a
    /// failed point).
    predictors: HashMap<String, Result<Arc<dyn ExecutionTimePredictor>, String>>,
    /// The calibration's version plus a hash of its contents (a refit keeps the version
    /// string but changes every prediction).
    calibration_version: String,
    /// Folder the space's relative paths resolve against (length traces).
    base_dir: PathBuf,
}

fn predictor_key(p: &Point) -> String {
    let s = &p.sim;
    format!(
        "{}|{}|{}|{}|{}|{}",
        s.model.name,
        s.device.name,
        s.node.name,
        s.tensor_parallel_size,
        s.num_pipeline_stages,
        s.scheduler.block_size()
    )
}

/// Requests of workload `w` with seed `seed` at one request per second on average. For a
/// closed-loop workload only their lengths matter: they are the lengths its source draws, in
/// arrival order (the same seeded length stream).
fn unit_rate_requests(
    space: &SearchSpace,
    w: &WorkloadSpec,
    seed: u64,
    base_dir: &Path,
) -> Result<Vec<RequestSpec>, SearchError> {
    let n = space
        .limits
        .max_requests
        .map_or(w.num_requests, |m| m.min(w.num_requests));
    let intervals = match w.arrival {
        Arrival::Poisson | Arrival::ClosedLoop(_) => IntervalConfig::Poisson { qps: 1.0 },
        Arrival::Gamma { cv } => IntervalConfig::Gamma { qps: 1.0, cv },
    };
    let cfg = WorkloadConfig::Synthetic(SyntheticConfig {
        seed,
        num_requests: Some(n),
        duration_s: None,
        max_tokens: w.max_tokens,
        lengths: w.lengths.clone(),
        intervals,
    });
    workload::generate(&cfg, space.compat, base_dir).map_err(|source| SearchError::Workload {
        name: w.name.clone(),
        source: Box::new(source),
    })
}

impl Shared {
    fn new(loaded: &LoadedSpace, exp: &Expansion) -> Result<Shared, SearchError> {
        let space = &loaded.space;
        let mut requests = HashMap::new();
        for (wi, w) in space.workloads.iter().enumerate() {
            if !exp.points.iter().any(|p| p.workload == wi) {
                continue;
            }
            for &seed in &space.seeds {
                let r = unit_rate_requests(space, w, seed, &loaded.base_dir)?;
                requests.insert((wi, seed), Arc::new(r));
            }
        }
        let cal = predictor_build::calibration(&space.predictor, &loaded.base_dir)
            .map_err(|e| SearchError::field(e.field, e.msg))?;
        let mut keys: BTreeMap<String, &Point> = BTreeMap::new();
        for p in &exp.points {
            keys.entry(predictor_key(p)).or_insert(p);
        }
        // A predictor that cannot be built for one layout fails that layout's points only.
        let predictors = keys
            .into_par_iter()
            .map(|(k, p)| {
                let r = predictor_build::build(
                    &space.predictor,
                    &p.sim,
                    Some(&p.gpu),
                    &cal,
                    &loaded.base_dir,
                )
                .map(Arc::from)
                .map_err(|e| error_chain(&SearchError::field(e.field, e.msg)));
                (k, r)
            })
            .collect();
        Ok(Shared {
            space: space.clone(),
            requests,
            predictors,
            calibration_version: format!("{}#{}", cal.version, cache::content_hash(&cal)),
            base_dir: loaded.base_dir.clone(),
        })
    }

    /// The predictor of point `p`, or why it could not be built.
    fn predictor(&self, p: &Point) -> Result<&dyn ExecutionTimePredictor, &str> {
        match &self.predictors[&predictor_key(p)] {
            Ok(pred) => Ok(pred.as_ref()),
            Err(msg) => Err(msg),
        }
    }
}

/// `e` and each of its causes not already part of the message, joined by `: ` (the way the
/// command line prints errors).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cause = c.source();
    }
    msg
}

/// Lower median of the seeds' capacities (no capacity counts as 0), and the index of that seed.
fn median_seed(seeds: &[SeedCapacity]) -> Option<usize> {
    let mut idx: Vec<usize> = (0..seeds.len()).collect();
    idx.sort_by(|&a, &b| {
        let ca = seeds[a].capacity_qps.unwrap_or(0.0);
        let cb = seeds[b].capacity_qps.unwrap_or(0.0);
        ca.total_cmp(&cb).then(a.cmp(&b))
    });
    idx.get((idx.len().max(1) - 1) / 2).copied()
}

/// The KV-cache plan the engine will use for `sim`.
fn memory_plan(sim: &crate::sim::SimConfig) -> Result<memory::MemoryPlan, SearchError> {
    memory::plan(
        &sim.model,
        &sim.device,
        sim.tensor_parallel_size,
        sim.num_pipeline_stages,
        sim.memory_margin_fraction,
        sim.max_tokens,
        &sim.scheduler,
        sim.compat,
    )
    .map_err(|e| SearchError::Sim(Box::new(e)))
}

/// The capacity search of point `p` under one seed on `base` (unit-rate requests), warm-started
/// at `warm` when given.
#[allow(clippy::too_many_arguments)]
fn search_seed(
    shared: &Shared,
    p: &Point,
    predictor: &dyn ExecutionTimePredictor,
    base: &[RequestSpec],
    seed: u64,
    warm: Option<f64>,
    num_blocks: u64,
    scratch: &mut ProbeScratch,
) -> Result<SeedCapacity, SearchError> {
    let s = &shared.space;
    let mut sim = p.sim.clone();
    sim.seed = seed;
    let precision = s.capacity.precision_pct / 100.0;
    let (start, first_step) = match (s.capacity.start_qps, warm) {
        (Some(q), _) => (q, 2.0),
        (None, Some(w)) => (w, 1.0 + precision),
        (None, None) => (estimate_start_qps(&sim, predictor, base, num_blocks), 2.0),
    };
    let spec = ProbeSpec {
        sim: &sim,
        predictor,
        base,
        seed,
        slos: &s.slos,
        goodput: s.goodput,
    };
    let limit = qps_limit(&sim, predictor, base, num_blocks);
    let b = find_capacity(&s.capacity, start, first_step, limit, |qps| {
        let rec = run_probe(&spec, qps, scratch)?;
        Ok::<_, SearchError>((rec.pass, rec))
    })?;
    let capacity = b.capacity();
    let runs: Vec<SimRecord> = b.probes.into_iter().map(|(_, _, r)| r).collect();
    let at_capacity = capacity.and_then(|c| runs.iter().find(|r| r.pass && r.qps == c).cloned());
    Ok(SeedCapacity {
        seed,
        status: b.status,
        limit_qps: limit.is_finite().then_some(limit),
        capacity_qps: capacity,
        at_capacity,
        runs,
        closed_loop: None,
    })
}

/// The SLO guard as a pure measurement: it collects the inter-token gaps a TBT SLO needs but
/// never stops the run, because a closed-loop point reports its throughput whether or not the
/// SLOs hold.
struct MeasureSlos<'a>(SloGuard<'a>);

impl SimObserver for MeasureSlos<'_> {
    fn on_batch_end(&mut self, t: f64, replica: u32, batch: &Batch, requests: &[Request], m: f64) {
        self.0.on_batch_end(t, replica, batch, requests, m);
    }
}

/// The closed-loop point `p` (concurrency `concurrency` of sweep `arrival`) under one seed: one
/// simulation of the workload's requests (lengths as in `base`), warm-up excluded, measured by
/// the metrics recorder (throughput, in-flight requests) and the SLO guard's definitions. The
/// SLOs hold → status `found` with the measured requests/s as the capacity; else `none`.
fn measure_seed(
    shared: &Shared,
    p: &Point,
    predictor: &dyn ExecutionTimePredictor,
    base: &[RequestSpec],
    seed: u64,
    arrival: &ClosedLoopArrival,
    concurrency: u32,
) -> Result<SeedCapacity, SearchError> {
    let started = Instant::now();
    let s = &shared.space;
    let w = &s.workloads[p.workload];
    let mut sim = p.sim.clone();
    sim.seed = seed;
    let n = base.len() as u64;
    let warmup = arrival.warmup_for(n, concurrency);
    let cfg = ClosedLoopConfig {
        concurrency,
        num_requests: n,
        warmup_requests: warmup,
        think_time_s: arrival.think_time_s,
        ramp_up_s: arrival.ramp_up_s,
        max_tokens: w.max_tokens,
        lengths: w.lengths.clone(),
        seed,
    };
    let mut source =
        ClosedLoopSource::new(&cfg, &shared.base_dir).map_err(|e| SearchError::Workload {
            name: w.name.clone(),
            source: Box::new(e),
        })?;
    let mut setup = RecorderSetup::from_config(&sim);
    setup.warmup_requests = warmup;
    let mut gaps = Vec::new();
    let mut observer = (
        Recorder::new(setup, base.len()),
        MeasureSlos(SloGuard::new(&s.slos, s.goodput, base, &mut gaps).measuring_from(warmup)),
    );
    let out = crate::sim::simulate_source(&sim, &mut source, predictor, &mut observer)
        .map_err(|e| SearchError::Sim(Box::new(e)))?;
    let (recorder, guard) = observer;
    let summary = recorder.finish(&out.requests, out.end_time).summary();
    // Requests are indexed by id = arrival order, so the warm-up is a prefix (the guard skips
    // it too, so its inter-token gaps are the measured requests' only).
    let skip = usize::try_from(warmup).unwrap_or(usize::MAX);
    let measured = out.requests.get(skip..).unwrap_or(&[]);
    // The lengths the closed loop actually sent (its own draws), for the guard's count of
    // expected inter-token gaps.
    let specs: Vec<RequestSpec> = measured
        .iter()
        .map(|r| RequestSpec {
            arrived_at: r.arrived_at,
            num_prefill_tokens: r.num_prefill_tokens,
            num_decode_tokens: r.num_decode_tokens,
        })
        .collect();
    let mut values = Vec::new();
    let (slos, good) = guard.0.evaluate(measured, &specs, &mut values);
    let qps = summary.throughput.requests_per_s;
    let tokens = summary.throughput.output_tokens_per_s;
    let pass = !measured.is_empty()
        && slos.iter().all(|v| v.ok)
        && s.goodput.is_none_or(|g| good >= g)
        && qps.is_some_and(|q| q > 0.0);
    let record = SimRecord {
        seed,
        qps: qps.unwrap_or(0.0),
        pass,
        slos,
        goodput: good,
        num_requests: n,
        num_unfinished: out.num_unfinished as u64,
        stopped_early: out.stopped_early,
        simulated_s: out.end_time,
        output_tokens_per_s: tokens.unwrap_or(0.0),
        wall_s: started.elapsed().as_secs_f64(),
    };
    let gpus = f64::from(p.config.num_gpus().max(1));
    Ok(SeedCapacity {
        seed,
        status: if pass {
            CapacityStatus::Found
        } else {
            CapacityStatus::None
        },
        limit_qps: None,
        capacity_qps: pass.then_some(record.qps),
        at_capacity: pass.then(|| record.clone()),
        runs: vec![record],
        closed_loop: Some(ClosedLoopMeasure {
            concurrency,
            warmup_requests: warmup,
            requests_per_s: qps,
            output_tokens_per_s: tokens,
            output_tokens_per_s_per_user: tokens.map(|t| t / f64::from(concurrency)),
            output_tokens_per_s_per_gpu: tokens.map(|t| t / gpus),
            in_flight_mean: summary.in_flight_mean,
        }),
    })
}

/// The closed-loop sweep and concurrency of point `p`, if it is a closed-loop point.
fn closed_loop<'a>(shared: &'a Shared, p: &Point) -> Option<(&'a ClosedLoopArrival, u32)> {
    match (
        &shared.space.workloads[p.workload].arrival,
        p.config.concurrency,
    ) {
        (Arrival::ClosedLoop(a), Some(c)) => Some((a, c)),
        _ => None,
    }
}

/// One seed of point `p`: a closed-loop measurement or an open-loop capacity search.
#[allow(clippy::too_many_arguments)]
fn evaluate_seed(
    shared: &Shared,
    p: &Point,
    predictor: &dyn ExecutionTimePredictor,
    base: &[RequestSpec],
    seed: u64,
    warm: Option<f64>,
    num_blocks: u64,
    scratch: &mut ProbeScratch,
) -> Result<SeedCapacity, SearchError> {
    match closed_loop(shared, p) {
        Some((a, c)) => measure_seed(shared, p, predictor, base, seed, a, c),
        None => search_seed(shared, p, predictor, base, seed, warm, num_blocks, scratch),
    }
}

/// Search one point under every seed.
fn evaluate_point(
    shared: &Shared,
    p: &Point,
    predictor: &dyn ExecutionTimePredictor,
    id: String,
    warm: Option<f64>,
) -> Result<PointResult, SearchError> {
    let started = Instant::now();
    let s = &shared.space;
    let plan = memory_plan(&p.sim)?;
    let mut seeds = Vec::with_capacity(s.seeds.len());
    let mut scratch = ProbeScratch::default();
    for &seed in &s.seeds {
        let base = shared.requests[&(p.workload, seed)].clone();
        seeds.push(evaluate_seed(
            shared,
            p,
            predictor,
            &base,
            seed,
            warm,
            plan.num_blocks,
            &mut scratch,
        )?);
    }
    Ok(assemble(p, id, seeds, started.elapsed().as_secs_f64()))
}

/// Build a point's result from its per-seed searches. Every figure at capacity comes from one
/// record, the median seed's run at capacity.
fn assemble(p: &Point, id: String, seeds: Vec<SeedCapacity>, wall_s: f64) -> PointResult {
    let caps: Vec<f64> = seeds
        .iter()
        .map(|s| s.capacity_qps.unwrap_or(0.0))
        .collect();
    let med = median_seed(&seeds).map(|i| &seeds[i]);
    // One unbounded seed makes the point's verdict meaningless: its band has no upper end.
    let status = if seeds.iter().any(|s| s.status == CapacityStatus::Unbounded) {
        CapacityStatus::Unbounded
    } else if med.is_some_and(|s| s.at_capacity.is_some()) {
        CapacityStatus::Found
    } else {
        CapacityStatus::None
    };
    let at = med
        .and_then(|s| s.at_capacity.as_ref())
        .filter(|_| status == CapacityStatus::Found);
    let found = status == CapacityStatus::Found;
    let positive = |v: f64| (v > 0.0 && found).then_some(v);
    let capacity = at.map(|r| r.qps);
    let tokens = at.map(|r| r.output_tokens_per_s);
    // A closed-loop point's measurements: the median seed by measured throughput. Its SLO
    // values stand in for the values at capacity when the SLOs fail, so a reader sees by how
    // much they missed.
    let mut measured: Vec<(&ClosedLoopMeasure, &SeedCapacity)> = seeds
        .iter()
        .filter_map(|s| s.closed_loop.as_ref().map(|m| (m, s)))
        .collect();
    measured.sort_by(|a, b| {
        let q = |m: &ClosedLoopMeasure| m.requests_per_s.unwrap_or(0.0);
        q(a.0).total_cmp(&q(b.0)).then(a.1.seed.cmp(&b.1.seed))
    });
    let mid = measured.get((measured.len().max(1) - 1) / 2).copied();
    let closed_loop = mid.map(|(m, _)| *m);
    let at_slos = match (at, mid) {
        (Some(r), _) => r.slos.clone(),
        (None, Some((_, s))) => s.runs.first().map(|r| r.slos.clone()).unwrap_or_default(),
        (None, None) => Vec::new(),
    };
    PointResult {
        id,
        num_gpus: p.config.num_gpus(),
        config: p.config.clone(),
        capacity_status: status,
        limit_qps: med.and_then(|s| s.limit_qps),
        capacity_qps: capacity,
        capacity_min: caps.iter().copied().reduce(f64::min).and_then(positive),
        capacity_max: caps.iter().copied().reduce(f64::max).and_then(positive),
        at_capacity: at_slos,
        goodput_at_capacity: at.map(|r| r.goodput),
        output_tokens_per_s: tokens,
        cost: cost::at_capacity(p.config.num_gpus(), p.usd_per_gpu_hour, capacity, tokens),
        sims_run: seeds.iter().map(|s| s.runs.len() as u32).sum(),
        seeds,
        wall_s,
        error: None,
        closed_loop,
    }
}

/// The result of a point whose evaluation failed with `error`: status `failed`, the message,
/// no capacity and no simulation records (a failing search keeps none).
fn failed_point(p: &Point, id: String, error: String, wall_s: f64) -> PointResult {
    let num_gpus = p.config.num_gpus();
    PointResult {
        id,
        num_gpus,
        config: p.config.clone(),
        capacity_status: CapacityStatus::Failed,
        limit_qps: None,
        capacity_qps: None,
        capacity_min: None,
        capacity_max: None,
        at_capacity: Vec::new(),
        goodput_at_capacity: None,
        output_tokens_per_s: None,
        cost: cost::at_capacity(num_gpus, p.usd_per_gpu_hour, None, None),
        seeds: Vec::new(),
        sims_run: 0,
        wall_s,
        error: Some(error),
        closed_loop: None,
    }
}

/// Points that differ only in scheduler knobs (same model, workload, GPU, node, TP, PP,
/// replicas, router), as lists of indices in expansion order. A family is searched in order,
/// each point warm-started at the previous one's capacity; families run in parallel.
fn families(points: &[Point]) -> Vec<Vec<usize>> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let c = &p.config;
        // Concurrencies of a closed-loop sweep are independent measurements (no warm start),
        // so each is its own family and they run in parallel.
        let key = format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{:?}",
            c.model, c.workload, c.gpu, c.node, c.tp, c.pp, c.replicas, c.router, c.concurrency
        );
        let f = *index.entry(key).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[f].push(i);
    }
    out
}

/// One point: from the cache when its entry exists (and `fresh` is off), else searched and,
/// unless it failed, cached. `warm`: the previous family member's capacity. Returns the result
/// and whether it came from the cache; only a cache write error is an error.
fn search_point(
    shared: &Shared,
    p: &Point,
    warm: Option<f64>,
    cache: &PointCache,
    fresh: bool,
) -> PointOutcome {
    // A closed-loop measurement has no warm start; keep it out of the cache key.
    let warm = if closed_loop(shared, p).is_some() {
        None
    } else {
        warm
    };
    let id = cache::point_id(&shared.space, p, &shared.calibration_version, warm);
    if !fresh {
        if let Some(mut r) = cache.get(&id) {
            // Prices are not part of the key: re-price with today's figures.
            r.cost = cost::at_capacity(
                r.num_gpus,
                p.usd_per_gpu_hour,
                r.capacity_qps,
                r.output_tokens_per_s,
            );
            return Ok((r, true));
        }
    }
    let started = Instant::now();
    let evaluated = shared
        .predictor(p)
        .map_err(str::to_string)
        .and_then(|pred| {
            evaluate_point(shared, p, pred, id.clone(), warm).map_err(|e| error_chain(&e))
        });
    match evaluated {
        Ok(r) => {
            cache.put(&r)?;
            Ok((r, false))
        }
        Err(msg) => Ok((
            failed_point(p, id, msg, started.elapsed().as_secs_f64()),
            false,
        )),
    }
}

/// Current UTC time as RFC 3339 (seconds).
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Expand, simulate every feasible point (or load it from the cache) and return the outcome,
/// reporting progress to `progress`. A point whose evaluation fails is part of the outcome
/// (status `failed`); only errors that are not about one point are returned.
pub fn run(
    loaded: &LoadedSpace,
    opts: &RunOptions,
    progress: ProgressFn<'_>,
) -> Result<SearchOutcome, SearchError> {
    let started = Instant::now();
    let started_at = now_rfc3339();
    let space = &loaded.space;
    let exp = expand(space, &loaded.base_dir)?;
    let shared = Shared::new(loaded, &exp)?;
    let cache = PointCache::open(&opts.output)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
        .map_err(|e| SearchError::field("jobs", e.to_string()))?;
    progress(ProgressEvent::Started {
        points: exp.points.len(),
        dropped: exp.dropped.len(),
    });
    let families = families(&exp.points);
    let per_family: Vec<Vec<PointOutcome>> = pool.install(|| {
        families
            .par_iter()
            .map(|members| {
                // Sequential inside a family: each point starts where the previous one ended
                // (a failed point passes the last capacity on).
                let mut prev: Option<f64> = None;
                let mut out = Vec::with_capacity(members.len());
                for &i in members {
                    let p = &exp.points[i];
                    let r = search_point(&shared, p, prev, &cache, opts.fresh);
                    match &r {
                        Ok((res, _)) if res.capacity_status == CapacityStatus::Failed => {
                            progress(ProgressEvent::PointFailed { result: res });
                        }
                        Ok((res, cached)) => {
                            progress(ProgressEvent::PointDone {
                                result: res,
                                cached: *cached,
                            });
                            prev = res.capacity_qps.or(prev);
                        }
                        Err(_) => {}
                    }
                    let aborted = r.is_err();
                    out.push(r);
                    if aborted {
                        break;
                    }
                }
                out
            })
            .collect()
    });
    // Back to expansion order.
    let mut slots: Vec<Option<PointOutcome>> = (0..exp.points.len()).map(|_| None).collect();
    for (members, results) in families.iter().zip(per_family) {
        for (&i, r) in members.iter().zip(results) {
            slots[i] = Some(r);
        }
    }
    let mut points = Vec::with_capacity(exp.points.len());
    let (mut cached, mut sims) = (0usize, 0u64);
    for r in slots.into_iter().flatten() {
        let (p, was_cached) = r?;
        if was_cached {
            cached += 1;
        } else {
            sims += p.sims_run as u64;
        }
        points.push(p);
    }
    progress(ProgressEvent::Finished {
        points: points.len(),
        failed: points
            .iter()
            .filter(|p| p.capacity_status == CapacityStatus::Failed)
            .count(),
    });
    let predictor = exp
        .points
        .iter()
        .find_map(|p| shared.predictor(p).ok())
        .map(|p| p.describe())
        .unwrap_or_else(|| format!("{:?}", space.predictor));
    Ok(SearchOutcome {
        meta: RunMeta {
            name: space.name.clone(),
            space_file: loaded.path.display().to_string(),
            space_yaml: loaded.text.clone(),
            engine_version: ENGINE_VERSION.to_string(),
            predictor,
            started_at,
            wall_s: started.elapsed().as_secs_f64(),
            jobs: opts.jobs.max(1),
            num_points: points.len(),
            num_cached: cached,
            num_sims: sims,
            slos: space.slos.clone(),
            goodput_target: space.goodput,
        },
        points,
        dropped: exp.dropped,
    })
}

/// What `--dry-run` prints: the expansion and a rough run-time estimate.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// The expansion.
    pub expansion: Expansion,
    /// Estimated wall seconds with `jobs` threads.
    pub estimate_s: f64,
    /// Simulations expected.
    pub estimated_sims: u64,
}

/// Families a dry run samples, and requests per sampled search.
const DRY_RUN_FAMILIES: usize = 8;
const DRY_RUN_REQUESTS: usize = 500;

/// Expand the space and estimate the run time from real capacity searches on a sample: the
/// first two points of up to 8 families spread over the expansion are searched (the second
/// warm-started, as in a run) on the first 500 requests of the first seed. Probe time grows
/// about linearly with the requests at a given load, so each sampled search's time is scaled to
/// the workload's size; every family then costs the mean first-point search plus the mean
/// warm-started one per further member, per seed, spread over `jobs` threads (but no faster
/// than the slowest family, which one thread searches).
pub fn dry_run(loaded: &LoadedSpace, jobs: usize) -> Result<DryRun, SearchError> {
    let space = &loaded.space;
    let exp = expand(space, &loaded.base_dir)?;
    if exp.points.is_empty() {
        return Ok(DryRun {
            expansion: exp,
            estimate_s: 0.0,
            estimated_sims: 0,
        });
    }
    let shared = Shared::new(loaded, &exp)?;
    let fams = families(&exp.points);
    let seed = space.seeds[0];
    let k = fams.len().min(DRY_RUN_FAMILIES);
    // (seconds scaled to the full workload, sims, searches) of first and warm-started searches.
    let mut first = (0.0, 0.0, 0usize);
    let mut warm = (0.0, 0.0, 0usize);
    let mut scratch = ProbeScratch::default();
    for i in 0..k {
        let members = &fams[i * fams.len() / k];
        let mut capacity = None;
        for (j, &m) in members.iter().take(2).enumerate() {
            let p = &exp.points[m];
            let full = &shared.requests[&(p.workload, seed)];
            let base: Vec<RequestSpec> = full.iter().take(DRY_RUN_REQUESTS).copied().collect();
            let scale = full.len() as f64 / base.len().max(1) as f64;
            let t = Instant::now();
            let sampled = shared.predictor(p).ok().and_then(|predictor| {
                let plan = memory_plan(&p.sim).ok()?;
                evaluate_seed(
                    &shared,
                    p,
                    predictor,
                    &base,
                    seed,
                    capacity,
                    plan.num_blocks,
                    &mut scratch,
                )
                .ok()
            });
            // A point that fails here fails in the run too, where it is recorded, not timed.
            let Some(r) = sampled else {
                continue;
            };
            let acc = if j == 0 { &mut first } else { &mut warm };
            acc.0 += t.elapsed().as_secs_f64() * scale;
            acc.1 += r.runs.len() as f64;
            acc.2 += 1;
            capacity = r.capacity_qps;
        }
    }
    let mean = |a: (f64, f64, usize)| (a.0 / a.2.max(1) as f64, a.1 / a.2.max(1) as f64);
    let (first_s, first_sims) = mean(first);
    // A family with a single member in the sample says nothing about warm starts: assume
    // a warm-started point costs a third of a first one (llama70b measures 5.1 vs 9.3 sims).
    let (warm_s, warm_sims) = if warm.2 > 0 {
        mean(warm)
    } else {
        (first_s / 3.0, first_sims / 3.0)
    };
    let seeds = space.seeds.len() as f64;
    let family_s = |n: usize| seeds * (first_s + (n as f64 - 1.0) * warm_s);
    let total_s: f64 = fams.iter().map(|f| family_s(f.len())).sum();
    let slowest = fams.iter().map(|f| family_s(f.len())).fold(0.0, f64::max);
    let estimate_s = (total_s / jobs.max(1) as f64).max(slowest);
    let sims = fams
        .iter()
        .map(|f| seeds * (first_sims + (f.len() as f64 - 1.0) * warm_sims))
        .sum::<f64>()
        .round() as u64;
    Ok(DryRun {
        expansion: exp,
        estimate_s,
        estimated_sims: sims,
    })
}
