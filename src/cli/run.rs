//! `vidur-search run`: search a design space and write its reports.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::search::{PointResult, ProgressEvent};

pub(super) const RUN_EXAMPLES: &str = "\
Examples:
  vidur-search run search-spaces/llama70b.yaml
  vidur-search run search-spaces/llama70b.yaml --dry-run
  vidur-search run search-spaces/vidur-paper.yaml --jobs 8 --output out/paper
Outputs go to reports/<name>/ (results.csv, results.json, runs.csv, best_configs.md,
pareto_*.png/svg, report.html, insights.md; results.parquet when built with --features
parquet). Finished points are cached in <output>/cache/: re-running the same command, even
after a kill, skips them.";

/// How `run` shows progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressArg {
    /// A progress bar on a terminal, plain log lines otherwise.
    Auto,
    /// Plain log lines (one per finished point).
    Plain,
    /// Nothing but the final summary.
    Quiet,
}

/// `run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Search-space YAML.
    pub space: PathBuf,
    /// Output folder (default: reports/<name>/).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Print the points, the dropped ones by reason and a run-time estimate; simulate nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Recompute every point even if cached.
    #[arg(long)]
    pub fresh: bool,
    /// Progress display.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressArg,
    /// Configurations listed per table in best_configs.md.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Calibration file for the analytic predictor (e.g. with serving overheads fitted by
    /// `calibrate`), replacing the space's `predictor.analytic.calibration`.
    #[arg(long)]
    pub calibration: Option<PathBuf>,
}

/// Run `run`; returns the process exit code.
pub fn run_search(args: &RunArgs) -> Result<i32> {
    use crate::search::{runner, SearchSpace};
    let mut loaded = SearchSpace::load(&args.space)?;
    if let Some(c) = &args.calibration {
        loaded.space.predictor.set_calibration(c)?;
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    if args.dry_run {
        let d = runner::dry_run(&loaded, jobs).with_context(|| args.space.display().to_string())?;
        let e = &d.expansion;
        println!(
            "{}: {} points to simulate, {} dropped",
            loaded.space.name,
            e.points.len(),
            e.dropped.len()
        );
        for (reason, n) in e.dropped_by_reason() {
            let example = e
                .dropped
                .iter()
                .find(|x| x.reason == reason)
                .map(|x| x.detail.clone());
            println!(
                "  dropped {n:>5} × {reason} (e.g. {})",
                example.unwrap_or_default()
            );
        }
        println!(
            "estimate: ~{} simulations, ~{:.0} s with {jobs} job(s) (from capacity searches of 500 requests on a sample of families)",
            d.estimated_sims, d.estimate_s
        );
        return Ok(0);
    }
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(&loaded.space.name));
    // One live run per output folder (they would share the cache and overwrite each other's
    // reports); released when this function returns, also on error.
    let _lock = crate::outdir::OutputLock::acquire(&output)?;
    let opts = runner::RunOptions {
        jobs,
        output: output.clone(),
        fresh: args.fresh,
    };
    let reporter = Reporter::new(args.progress);
    let outcome = runner::run(&loaded, &opts, &|e| reporter.event(e))
        .with_context(|| args.space.display().to_string())?;
    let files = write_search_outputs(&output, &outcome, args.top)?;
    let m = &outcome.meta;
    let feasible = outcome.points.iter().filter(|p| p.feasible()).count();
    let failed = outcome.failed();
    let failed_note = if failed.is_empty() {
        String::new()
    } else {
        format!(", {} failed", failed.len())
    };
    println!(
        "{}: {} points ({} from cache), {} meet the SLOs{failed_note}, {} dropped as infeasible; {} simulations in {:.1} s with {} job(s)",
        m.name,
        m.num_points,
        m.num_cached,
        feasible,
        outcome.dropped.len(),
        m.num_sims,
        m.wall_s,
        m.jobs
    );
    match outcome.ranked().first() {
        Some(b) => println!(
            "best: {} — capacity {:.3} QPS, ${:.2}/h, {:.3} QPS per $/h, ${:.3} per 1M output tokens",
            b.config.describe(),
            b.capacity_qps.unwrap_or(0.0),
            b.cost.usd_per_hour,
            b.cost.qps_per_dollar.unwrap_or(0.0),
            b.cost.usd_per_million_output_tokens.unwrap_or(f64::NAN)
        ),
        None => println!("best: no point meets every SLO"),
    }
    println!("outputs in {} ({} files)", output.display(), files.len());
    if failed.is_empty() {
        return Ok(0);
    }
    // The reports are written (failed points listed under "Not ranked"); the exit code says
    // the search is incomplete.
    for p in &failed {
        eprintln!(
            "error: point {} failed: {}",
            p.config.describe(),
            p.error.as_deref().unwrap_or_default()
        );
    }
    eprintln!(
        "{} point(s) failed and were not cached; fix the cause and re-run to retry them",
        failed.len()
    );
    Ok(1)
}

/// Shows a run's progress: a bar on a terminal, a log line per point otherwise (or nothing).
struct Reporter {
    bar: Option<ProgressBar>,
    plain: bool,
    state: Mutex<Tally>,
}

/// What the progress lines show: points done, points in all, and the best point so far
/// (QPS per $/h, description).
#[derive(Default)]
struct Tally {
    done: usize,
    total: usize,
    best: Option<(f64, String)>,
}

impl Reporter {
    fn new(mode: ProgressArg) -> Reporter {
        let tty = std::io::stderr().is_terminal();
        let bar = (mode == ProgressArg::Auto && tty).then(|| {
            // Its length is set when the run starts, once the points are known.
            let b = ProgressBar::new(0);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} points, ETA {eta} | {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b
        });
        Reporter {
            bar,
            plain: mode == ProgressArg::Plain || (mode == ProgressArg::Auto && !tty),
            state: Mutex::new(Tally::default()),
        }
    }

    fn event(&self, e: ProgressEvent<'_>) {
        match e {
            ProgressEvent::Started { points, .. } => {
                self.lock().total = points;
                if let Some(b) = &self.bar {
                    b.set_length(points as u64);
                }
            }
            ProgressEvent::PointDone { result, cached } => self.point(result, cached),
            ProgressEvent::PointFailed { result } => self.point(result, false),
            ProgressEvent::Finished { .. } => {
                if let Some(b) = &self.bar {
                    b.finish();
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn point(&self, r: &PointResult, cached: bool) {
        let mut st = self.lock();
        st.done += 1;
        if let Some(q) = r.cost.qps_per_dollar {
            if st.best.as_ref().is_none_or(|b| q > b.0) {
                st.best = Some((q, r.config.describe()));
            }
        }
        let best = st
            .best
            .as_ref()
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
                st.done,
                st.total,
                r.config.describe(),
                r.sims_run,
                if cached { ", cached" } else { "" }
            );
        }
    }
}

/// Write every report file of a finished search, plus `runs.csv` (one row per simulation).
fn write_search_outputs(
    dir: &Path,
    outcome: &crate::search::SearchOutcome,
    top: usize,
) -> Result<Vec<PathBuf>> {
    let mut files =
        crate::report::write_all(dir, outcome, &crate::report::ReportOptions { top_n: top })?;
    files.push(write_runs_csv(dir, outcome)?);
    // Every file is in place: drop the earlier run's files this one no longer writes.
    crate::report::remove_stale(dir, &files)?;
    Ok(files)
}

/// `runs.csv`: every simulation of the search (point id, seed, QPS, verdict, each SLO value).
fn write_runs_csv(dir: &Path, outcome: &crate::search::SearchOutcome) -> Result<PathBuf> {
    let path = dir.join("runs.csv");
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "point_id".to_string(),
        "seed".into(),
        "qps".into(),
        "pass".into(),
    ];
    header.extend(
        outcome
            .meta
            .slos
            .iter()
            .map(|s| format!("{}_s", s.column())),
    );
    header.extend(
        [
            "goodput",
            "num_requests",
            "num_unfinished",
            "stopped_early",
            "simulated_s",
            "output_tokens_per_s",
            "wall_s",
        ]
        .map(String::from),
    );
    w.write_record(&header)?;
    for p in &outcome.points {
        for s in &p.seeds {
            for r in &s.runs {
                let mut row = vec![
                    p.id.clone(),
                    r.seed.to_string(),
                    r.qps.to_string(),
                    r.pass.to_string(),
                ];
                row.extend(
                    r.slos
                        .iter()
                        .map(|v| v.value_s.map_or(String::new(), |x| x.to_string())),
                );
                row.extend([
                    r.goodput.to_string(),
                    r.num_requests.to_string(),
                    r.num_unfinished.to_string(),
                    r.stopped_early.to_string(),
                    r.simulated_s.to_string(),
                    r.output_tokens_per_s.to_string(),
                    r.wall_s.to_string(),
                ]);
                w.write_record(&row)?;
            }
        }
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::outdir::write_atomic(&path, &bytes).with_context(|| path.display().to_string())?;
    Ok(path)
}
