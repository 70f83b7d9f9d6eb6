//! `vidur-search validate`: our error against real serving measurements.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use crate::predictor::analytic::calibration::Calibration;
use crate::predictor::serving::ServingCalibration;
use crate::report::validation::{self, RunInfo};
use crate::validate::{self, compare, SetupOptions};

pub(super) const VALIDATE_EXAMPLES: &str = "\
Examples:
  # Our error against the shared closed-loop measurements (vLLM, SGLang, TRT-LLM on H100):
  vidur-search validate --measured ../shared/data/measured/aic_silicon_dense.csv --output validation/
  # The same with fitted serving overheads, and a tighter TTFT tolerance:
  vidur-search validate --measured runs.json --calibration cal.json --threshold ttft_mean_ms=8

Exit codes: 0 every threshold holds, 1 some metric is outside its threshold, 2 error.";

/// `validate` arguments.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Measurement files: the silicon CSV, `vllm bench serve --save-result` JSON, the
    /// experiment JSON template, or a per-request CSV (detected from the content).
    #[arg(long, required = true, num_args = 1..)]
    pub measured: Vec<PathBuf>,
    /// Calibration file (kernel fits and, from `calibrate`, serving overheads); default: the
    /// embedded one.
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// Output folder (replaced if it holds an earlier validate output).
    #[arg(long, short, default_value = "validation")]
    pub output: PathBuf,
    /// Largest MAPE allowed for a metric, `METRIC=PERCENT` (repeatable). Defaults: ttft_mean_ms
    /// and tpot_mean_ms 10, ttft_p99_ms, tpot_p99_ms and e2e_p99_s 15.
    #[arg(long = "threshold", value_parser = parse_threshold)]
    pub thresholds: Vec<compare::Threshold>,
    /// Run the kernels alone, without the calibration's serving overheads (how much of the
    /// error they close).
    #[arg(long)]
    pub no_serving_overheads: bool,
    /// Closed-loop points without a request count: requests each client sends (the total is
    /// concurrency × this, at least 64).
    #[arg(long, default_value_t = 10)]
    pub requests_per_client: u32,
    /// Threads (default: all cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
}

fn parse_threshold(s: &str) -> Result<compare::Threshold, String> {
    compare::parse_threshold(s)
}

/// The thresholds: the defaults with the given ones replacing those of the same metric.
fn thresholds(given: &[compare::Threshold]) -> Vec<compare::Threshold> {
    let mut t = compare::default_thresholds();
    for g in given {
        match t.iter_mut().find(|x| x.metric == g.metric) {
            Some(x) => *x = g.clone(),
            None => t.push(g.clone()),
        }
    }
    t
}

/// The calibration at `path` (or the embedded one) and how to describe it.
pub(super) fn load_calibration(path: Option<&PathBuf>) -> Result<(Calibration, String)> {
    let (c, name) = match path {
        Some(p) => (
            Calibration::load(p).context("--calibration")?,
            p.display().to_string(),
        ),
        None => (Calibration::embedded(), "embedded".to_string()),
    };
    let what = match &c.serving {
        Some(s) => format!(
            "{name} (serving overheads for {})",
            s.engines.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        None => format!("{name} (kernels only, no serving overheads)"),
    };
    Ok((c, what))
}

/// Run `validate`; returns the exit code.
pub fn validate_cmd(args: &ValidateArgs) -> Result<i32> {
    let start = Instant::now();
    let (points, sources) = validate::load_measured(&args.measured)?;
    let (cal, mut cal_text) = load_calibration(args.calibration.as_ref())?;
    if args.no_serving_overheads {
        cal_text = format!("{cal_text}, kernels only (--no-serving-overheads)");
    }
    let calibration = match &args.calibration {
        Some(p) => Some(
            std::fs::canonicalize(p)
                .with_context(|| format!("--calibration {}", p.display()))?
                .display()
                .to_string(),
        ),
        None => None,
    };
    let opts = SetupOptions {
        requests_per_client: args.requests_per_client,
        calibration,
        serving: cal
            .serving
            .as_ref()
            .filter(|_| !args.no_serving_overheads)
            .map(ServingCalibration::engine_names),
        ..Default::default()
    };
    let target = super::prepare_output(&args.output, &["comparison.csv", "summary.json"])?;
    let staging = crate::outdir::sibling(&target, "tmp", std::process::id());
    let _ = std::fs::remove_dir_all(&staging);
    let sims = staging.join("sims");
    std::fs::create_dir_all(&sims).with_context(|| sims.display().to_string())?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
        .context("--jobs")?;
    let results: Vec<_> = pool
        .install(|| validate::run_points(&points, &sims, &opts, |_| ()))
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    let rows = compare::rows(&results);
    let summary = compare::summarize(&results, &rows, &thresholds(&args.thresholds));
    let info = RunInfo {
        tool: concat!("vidur-search ", env!("CARGO_PKG_VERSION")).into(),
        measured: sources,
        calibration: cal_text,
        setup: format!(
            "closed-loop points without a request count send {} requests per client (at least {}); engines mapped to schedulers as the README's validate section says",
            opts.requests_per_client,
            validate::setup::MIN_CLOSED_LOOP_REQUESTS
        ),
    };
    validation::write_all(&staging, &results, &rows, &summary, &info)?;
    crate::outdir::replace_dir(&staging, &target)
        .with_context(|| format!("--output {}", target.display()))?;
    print_summary(&summary, &target, start.elapsed().as_secs_f64());
    if summary.points["simulated"] == 0 {
        anyhow::bail!(
            "none of the {} measured points could be simulated (reasons in {}/report.md)",
            summary.points["measured"],
            target.display()
        );
    }
    Ok(if summary.pass { 0 } else { 1 })
}

fn print_summary(s: &compare::Summary, dir: &std::path::Path, wall: f64) {
    println!(
        "{} points: {} simulated, {} not simulable, {} failed ({wall:.1} s)",
        s.points["measured"], s.points["simulated"], s.points["skipped"], s.points["failed"]
    );
    println!(
        "{:<10} {:>6} {:>22} {:>22}",
        "engine", "points", "TTFT mean MAPE (bias)", "TPOT mean MAPE (bias)"
    );
    let cell = |m: &compare::MetricStats, k: &str| match m.get(k) {
        Some(x) => format!("{:.1}% ({:+.1}%)", x.mape_pct, x.median_signed_pct),
        None => "–".into(),
    };
    for (e, m) in
        std::iter::once(("all", &s.overall)).chain(s.by_engine.iter().map(|(k, v)| (k.as_str(), v)))
    {
        let n = m.values().map(|x| x.n).max().unwrap_or(0);
        println!(
            "{e:<10} {n:>6} {:>22} {:>22}",
            cell(m, "ttft_mean_ms"),
            cell(m, "tpot_mean_ms")
        );
    }
    for c in &s.checks {
        if let Some(m) = c.mape_pct {
            println!(
                "{:<14} MAPE {:>6.1}% (allowed {:.0}%) {}",
                c.metric,
                m,
                c.max_mape_pct,
                if c.pass { "ok" } else { "OVER" }
            );
        }
    }
    println!(
        "{}: comparison.csv, summary.json, report.md, report.html, sims/ (rerun any point with `vidur-search simulate --config`)",
        dir.display()
    );
    println!("verdict: {}", if s.pass { "PASS" } else { "FAIL" });
}
