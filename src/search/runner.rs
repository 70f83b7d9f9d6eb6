//! Runs a whole search: every feasible point's capacity search in parallel (rayon), with a
//! progress bar (or plain log lines off a TTY) and a result cache that makes a killed run
//! resumable.
//!
//! **Cache.** Each finished point is written to `<output>/cache/<id>.json`, where `id` hashes
//! everything that determines its simulations (engine version, point knobs, resolved engine
//! config, workload, SLOs, capacity settings, seeds, predictor and calibration version). The file
//! is written to a temporary name, synced and renamed, so a kill -9 at any moment leaves either
//! the whole file or none. A re-run loads cached points instead of simulating them; prices are
//! not part of the key (cost is recomputed from the current prices).
//!
//! **Determinism.** Each point's searches depend only on the point and its seeds; results are
//! collected in expansion order, so any `--jobs` gives identical results.

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use super::capacity::{
    estimate_start_qps, find_capacity, qps_limit, run_probe, ProbeScratch, ProbeSpec,
};
use super::expand::{expand, Expansion, Point};
use super::result::{
    CapacityStatus, Cost, PointResult, RunMeta, SearchOutcome, SeedCapacity, SimRecord,
};
use super::space::{Arrival, LoadedSpace, SearchSpace, WorkloadSpec};
use super::{SearchError, ENGINE_VERSION};
use crate::config::predictor as predictor_build;
use crate::predictor::ExecutionTimePredictor;
use crate::sim::memory;
use crate::workload::{self, IntervalConfig, RequestSpec, SyntheticConfig, WorkloadConfig};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A bar on a terminal, plain lines otherwise.
    Auto,
    /// Plain log lines on stderr.
    Plain,
    /// Nothing.
    Quiet,
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads (≥ 1).
    pub jobs: usize,
    /// Output folder (the cache lives in `<output>/cache`).
    pub output: PathBuf,
    /// Progress display.
    pub progress: Progress,
    /// Ignore cached points (they are overwritten).
    pub fresh: bool,
}

type BoxedPredictor = Box<dyn ExecutionTimePredictor>;
/// A point's result and whether it came from the cache.
type PointOutcome = Result<(PointResult, bool), SearchError>;

/// Everything shared by the points of one run.
struct Shared {
    space: SearchSpace,
    /// Unit-rate requests per (workload, seed).
    requests: HashMap<(usize, u64), Arc<Vec<RequestSpec>>>,
    predictors: HashMap<String, Arc<dyn ExecutionTimePredictor>>,
    /// The calibration's version plus a hash of its contents (a refit keeps the version
    /// string but changes every prediction).
    calibration_version: String,
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
        s.scheduler.block_size
    )
}

/// Requests of workload `w` with seed `seed` at one request per second on average.
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
        Arrival::Poisson => IntervalConfig::Poisson { qps: 1.0 },
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
        let built: Vec<(String, Result<BoxedPredictor, SearchError>)> = keys
            .into_par_iter()
            .map(|(k, p)| {
                let r = predictor_build::build(
                    &space.predictor,
                    &p.sim,
                    Some(&p.gpu),
                    &cal,
                    &loaded.base_dir,
                )
                .map_err(|e| SearchError::Point {
                    point: p.config.describe(),
                    source: Box::new(SearchError::field(e.field, e.msg)),
                });
                (k, r)
            })
            .collect();
        let mut predictors = HashMap::new();
        for (k, r) in built {
            predictors.insert(k, Arc::from(r?));
        }
        Ok(Shared {
            space: space.clone(),
            requests,
            predictors,
            calibration_version: format!(
                "{}#{}",
                cal.version,
                fnv64(&serde_json::to_vec(&cal).expect("plain data serializes"))
            ),
        })
    }
}

/// What a point's cache id hashes.
#[derive(Serialize)]
struct CacheKey<'a> {
    engine: &'a str,
    point: &'a super::result::PointConfig,
    sim: &'a crate::sim::SimConfig,
    workload: &'a WorkloadSpec,
    max_requests: Option<u64>,
    slos: &'a [super::result::Slo],
    goodput: Option<f64>,
    capacity: &'a super::space::CapacitySettings,
    seeds: &'a [u64],
    predictor: &'a crate::config::sim_yaml::PredictorConfig,
    calibration_version: &'a str,
    /// The family warm start changes the probe sequence, so it is part of the key.
    warm_start: Option<f64>,
}

/// FNV-1a, 64 bits, as 16 hex digits: stable across platforms and releases (std's hasher is not).
fn fnv64(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn point_id(shared: &Shared, p: &Point, warm: Option<f64>) -> String {
    let s = &shared.space;
    let key = CacheKey {
        engine: ENGINE_VERSION,
        point: &p.config,
        sim: &p.sim,
        workload: &s.workloads[p.workload],
        max_requests: s.limits.max_requests,
        slos: &s.slos,
        goodput: s.goodput,
        capacity: &s.capacity,
        seeds: &s.seeds,
        predictor: &s.predictor,
        calibration_version: &shared.calibration_version,
        warm_start: warm,
    };
    fnv64(&serde_json::to_vec(&key).expect("plain data serializes"))
}

/// Write `bytes` to `path` so that no reader ever sees a partial file: temporary file in the
/// same folder (`<file>.tmp<pid>`), fsync, rename, then fsync the folder so the rename
/// survives a crash. The one atomic writer of the crate (cache entries, every report file).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        // Best effort: a leftover temporary file is harmless but untidy.
        let _ = std::fs::remove_file(&tmp);
        return written;
    }
    // Folders cannot be opened for sync on every platform: not an error.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
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

/// Cost figures of a point at `capacity` QPS serving `output_tokens_per_s` (both from its run
/// at capacity).
fn cost(
    num_gpus: u32,
    usd_per_gpu_hour: f64,
    capacity: Option<f64>,
    output_tokens_per_s: Option<f64>,
) -> Cost {
    let usd_per_hour = num_gpus as f64 * usd_per_gpu_hour;
    let cap = capacity.filter(|c| *c > 0.0);
    Cost {
        usd_per_gpu_hour,
        usd_per_hour,
        qps_per_dollar: cap.map(|c| c / usd_per_hour),
        usd_per_million_output_tokens: output_tokens_per_s
            .filter(|t| cap.is_some() && *t > 0.0)
            .map(|t| usd_per_hour / (t * 3600.0) * 1e6),
    }
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
fn search_seed(
    shared: &Shared,
    p: &Point,
    base: &[RequestSpec],
    seed: u64,
    warm: Option<f64>,
    num_blocks: u64,
    scratch: &mut ProbeScratch,
) -> Result<SeedCapacity, SearchError> {
    let s = &shared.space;
    let predictor = shared.predictors[&predictor_key(p)].as_ref();
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
    })
}

/// Search one point under every seed.
fn evaluate_point(
    shared: &Shared,
    p: &Point,
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
        seeds.push(search_seed(
            shared,
            p,
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
    PointResult {
        id,
        num_gpus: p.config.num_gpus(),
        config: p.config.clone(),
        capacity_status: status,
        limit_qps: med.and_then(|s| s.limit_qps),
        capacity_qps: capacity,
        capacity_min: caps.iter().copied().reduce(f64::min).and_then(positive),
        capacity_max: caps.iter().copied().reduce(f64::max).and_then(positive),
        at_capacity: at.map(|r| r.slos.clone()).unwrap_or_default(),
        goodput_at_capacity: at.map(|r| r.goodput),
        output_tokens_per_s: tokens,
        cost: cost(p.config.num_gpus(), p.usd_per_gpu_hour, capacity, tokens),
        sims_run: seeds.iter().map(|s| s.runs.len() as u32).sum(),
        seeds,
        wall_s,
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
        let key = format!(
            "{}|{}|{}|{}|{}|{}|{}|{}",
            c.model, c.workload, c.gpu, c.node, c.tp, c.pp, c.replicas, c.router
        );
        let f = *index.entry(key).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[f].push(i);
    }
    out
}

/// One point: from the cache when its file exists (and `fresh` is off), else searched and
/// cached. `warm`: the previous family member's capacity. Returns the result and whether it
/// came from the cache.
fn search_point(
    shared: &Shared,
    p: &Point,
    warm: Option<f64>,
    cache_dir: &Path,
    fresh: bool,
) -> PointOutcome {
    let id = point_id(shared, p, warm);
    let file = cache_dir.join(format!("{id}.json"));
    if !fresh {
        if let Some(mut r) = std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice::<PointResult>(&b).ok())
            .filter(|r| r.id == id)
        {
            // Prices are not part of the key: re-price with today's figures.
            r.cost = cost(
                r.num_gpus,
                p.usd_per_gpu_hour,
                r.capacity_qps,
                r.output_tokens_per_s,
            );
            return Ok((r, true));
        }
    }
    let r = evaluate_point(shared, p, id, warm).map_err(|e| SearchError::Point {
        point: p.config.describe(),
        source: Box::new(e),
    })?;
    let bytes = serde_json::to_vec_pretty(&r).expect("plain data serializes");
    write_atomic(&file, &bytes).map_err(|source| SearchError::Io {
        path: file.clone(),
        source,
    })?;
    Ok((r, false))
}

/// Shows progress: a bar on a terminal, a log line per point otherwise.
struct Reporter {
    bar: Option<ProgressBar>,
    plain: bool,
    total: usize,
    state: Mutex<(usize, Option<(f64, String)>)>,
}

impl Reporter {
    fn new(mode: Progress, total: usize) -> Reporter {
        let tty = std::io::stderr().is_terminal();
        let bar = (mode == Progress::Auto && tty).then(|| {
            let b = ProgressBar::new(total as u64);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} points, ETA {eta} | {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b
        });
        Reporter {
            plain: mode == Progress::Plain || (mode == Progress::Auto && !tty),
            bar,
            total,
            state: Mutex::new((0, None)),
        }
    }

    fn point_done(&self, r: &PointResult, cached: bool) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.0 += 1;
        if let Some(q) = r.cost.qps_per_dollar {
            if st.1.as_ref().is_none_or(|b| q > b.0) {
                st.1 = Some((q, r.config.describe()));
            }
        }
        let best =
            st.1.as_ref()
                .map_or("best: none meets the SLOs yet".to_string(), |(q, d)| {
                    format!("best {q:.3} QPS per $/h: {d}")
                });
        if let Some(b) = &self.bar {
            b.set_message(best);
            b.inc(1);
        } else if self.plain {
            let cap = match (r.capacity_qps, r.status_reason()) {
                (Some(c), None) => format!("capacity {c:.3} QPS"),
                (_, reason) => reason.unwrap_or_default(),
            };
            eprintln!(
                "[{}/{}] {}: {cap} ({} sims{}) | {best}",
                st.0,
                self.total,
                r.config.describe(),
                r.sims_run,
                if cached { ", cached" } else { "" }
            );
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish();
        }
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

/// Expand, simulate every feasible point (or load it from the cache) and return the outcome.
pub fn run(loaded: &LoadedSpace, opts: &RunOptions) -> Result<SearchOutcome, SearchError> {
    let started = Instant::now();
    let started_at = now_rfc3339();
    let space = &loaded.space;
    let exp = expand(space, &loaded.base_dir)?;
    let shared = Shared::new(loaded, &exp)?;
    let cache_dir = opts.output.join("cache");
    std::fs::create_dir_all(&cache_dir).map_err(|source| SearchError::Io {
        path: cache_dir.clone(),
        source,
    })?;
    // A killed run may have left a temporary file mid-write; it was never renamed into place.
    if let Ok(entries) = std::fs::read_dir(&cache_dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().contains(".tmp") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
        .map_err(|e| SearchError::field("jobs", e.to_string()))?;
    let reporter = Reporter::new(opts.progress, exp.points.len());
    let families = families(&exp.points);
    let per_family: Vec<Vec<PointOutcome>> = pool.install(|| {
        families
            .par_iter()
            .map(|members| {
                // Sequential inside a family: each point starts where the previous one ended.
                let mut prev: Option<f64> = None;
                let mut out = Vec::with_capacity(members.len());
                for &i in members {
                    let p = &exp.points[i];
                    let r = search_point(&shared, p, prev, &cache_dir, opts.fresh);
                    if let Ok((res, cached)) = &r {
                        reporter.point_done(res, *cached);
                        prev = res.capacity_qps.or(prev);
                    }
                    let failed = r.is_err();
                    out.push(r);
                    if failed {
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
    let results: Vec<PointOutcome> = slots.into_iter().flatten().collect();
    reporter.finish();
    let mut points = Vec::with_capacity(results.len());
    let (mut cached, mut sims) = (0usize, 0u64);
    for r in results {
        let (p, was_cached) = r?;
        if was_cached {
            cached += 1;
        } else {
            sims += p.sims_run as u64;
        }
        points.push(p);
    }
    let predictor = exp
        .points
        .first()
        .map(|p| shared.predictors[&predictor_key(p)].describe())
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
            let plan = memory_plan(&p.sim)?;
            let t = Instant::now();
            let r = search_seed(
                &shared,
                p,
                &base,
                seed,
                capacity,
                plan.num_blocks,
                &mut scratch,
            )?;
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
