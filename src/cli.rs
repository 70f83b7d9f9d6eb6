//! The command line (`vidur-search ...`). Parsing lives here so integration tests can drive the
//! exact code path the binary runs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{self, sim_yaml, vidur_json};
use crate::predictor::analytic::{self, calibration::Calibration, AnalyticOptions, GpuInfo};
use crate::predictor::{ExecutionTimePredictor, VidurTablesPredictor};
use crate::sim::{self, Compat, SimConfig};
use crate::workload;

/// Simulate LLM serving clusters (a fast, faithful Vidur) and search deployments.
#[derive(Debug, Parser)]
#[command(name = "vidur-search", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Search a design space: capacity under SLOs, cost, Pareto plots and reports per point.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Run one discrete-event simulation of a serving cluster.
    #[command(after_help = SIMULATE_EXAMPLES)]
    Simulate(SimulateArgs),
    /// Fit the analytic predictor's efficiency curves on measured kernels and Vidur profiles.
    #[command(after_help = CALIBRATE_EXAMPLES)]
    CalibrateKernels(CalibrateArgs),
    /// Compare the analytic predictor with measured kernels or Vidur profiles.
    #[command(after_help = ACCURACY_EXAMPLES)]
    PredictorAccuracy(AccuracyArgs),
    /// Refit the built-in request-length workloads (chat, code, summarization) from traces.
    #[command(after_help = FIT_WORKLOADS_EXAMPLES)]
    FitWorkloads(FitWorkloadsArgs),
}

const FIT_WORKLOADS_EXAMPLES: &str = "\
Examples:
  # Refit the embedded built-in workloads from the shared traces:
  vidur-search fit-workloads --traces ../shared/data/traces --out data/workloads.yaml";

/// `fit-workloads` arguments.
#[derive(Debug, Args)]
pub struct FitWorkloadsArgs {
    /// Folder holding splitwise_conv.csv, splitwise_code.csv and
    /// arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv.
    #[arg(long)]
    pub traces: PathBuf,
    /// Output YAML (the embedded file is data/workloads.yaml).
    #[arg(long)]
    pub out: PathBuf,
    /// Fit date to record (YYYY-MM-DD). Default: the date already in --out when the figures are
    /// unchanged (so a refit rewrites the same bytes), else today (UTC).
    #[arg(long)]
    pub date: Option<String>,
}

const RUN_EXAMPLES: &str = "\
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
}

/// Run `run`; returns the process exit code.
pub fn run_search(args: &RunArgs) -> Result<i32> {
    use crate::search::{runner, SearchSpace};
    let loaded = SearchSpace::load(&args.space)?;
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
        progress: match args.progress {
            ProgressArg::Auto => runner::Progress::Auto,
            ProgressArg::Plain => runner::Progress::Plain,
            ProgressArg::Quiet => runner::Progress::Quiet,
        },
        fresh: args.fresh,
    };
    let outcome = runner::run(&loaded, &opts).with_context(|| args.space.display().to_string())?;
    let files = write_search_outputs(&output, &outcome, args.top)?;
    let m = &outcome.meta;
    let feasible = outcome.points.iter().filter(|p| p.feasible()).count();
    println!(
        "{}: {} points ({} from cache), {} meet the SLOs, {} dropped as infeasible; {} simulations in {:.1} s with {} job(s)",
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
    Ok(0)
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
    crate::search::runner::write_atomic(&path, &bytes)
        .with_context(|| path.display().to_string())?;
    Ok(path)
}

const ACCURACY_EXAMPLES: &str = "\
Examples:
  vidur-search predictor-accuracy --profiles ../shared/data/vidur-profiling --output out/acc-vidur
  vidur-search predictor-accuracy --kernels ../shared/data/kernels --output out/acc-kernels";

/// Predictors `predictor-accuracy` can judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PredictorArg {
    /// The analytic roofline predictor.
    Analytic,
}

/// Which measurements the analytic fits come from (`--source`, `--calibration-source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceArg {
    /// vLLM kernel tables (2025).
    Kernels,
    /// Vidur's PyTorch profiles (2024).
    Vidur,
}

impl SourceArg {
    /// The calibration's name for this source.
    pub fn as_str(self) -> &'static str {
        use crate::predictor::analytic::calibration::source;
        match self {
            SourceArg::Kernels => source::KERNELS,
            SourceArg::Vidur => source::VIDUR,
        }
    }
}

/// `predictor-accuracy` arguments.
#[derive(Debug, Args)]
pub struct AccuracyArgs {
    /// Predictor to judge.
    #[arg(long, value_enum, default_value = "analytic")]
    pub predictor: PredictorArg,
    /// Vidur-format profile folder (`compute/<device>/<org>/<model>/mlp.csv`, `network/<sku>/`).
    #[arg(long, required_unless_present = "kernels")]
    pub profiles: Option<PathBuf>,
    /// Kernel-table folder (`<gpu>/{gemm,context_attention,generation_attention,allreduce}.csv`
    /// + `system.yaml`).
    #[arg(long)]
    pub kernels: Option<PathBuf>,
    /// Calibration file (default: the embedded one).
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// Fits to use (default: the source matching the data compared with).
    #[arg(long, value_enum)]
    pub source: Option<SourceArg>,
    /// Extra hardware catalog entries (YAML) for devices in a profile folder.
    #[arg(long)]
    pub hardware: Option<PathBuf>,
    /// Output folder for accuracy.csv (and cross_validation.csv).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Also cross-validate the Vidur-profile GEMM fit leaving one model out at a time (refits
    /// per model and device; needs --profiles).
    #[arg(long, requires = "profiles")]
    pub cross_validate: bool,
}

const CALIBRATE_EXAMPLES: &str = "\
Examples:
  # Refit the embedded calibration from the shared measurements:
  vidur-search calibrate-kernels --data ../shared/data --out data/calibration/";

/// `calibrate-kernels` arguments.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Folder holding `kernels/` (kernel tables) and/or `vidur-profiling/` (Vidur profiles).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Kernel-table folder (`<gpu>/{gemm,...}.csv` + `system.yaml`), overrides --data.
    #[arg(long)]
    pub kernels: Option<PathBuf>,
    /// Vidur profile folder (`compute/`, `network/`), overrides --data.
    #[arg(long)]
    pub profiles: Option<PathBuf>,
    /// Output folder; writes `calibration.json`.
    #[arg(long)]
    pub out: PathBuf,
}

const SIMULATE_EXAMPLES: &str = "\
Examples:
  # Our YAML (see data/examples/llama2-7b-sarathi.yaml):
  vidur-search simulate --config data/examples/llama2-7b-sarathi.yaml --output out/

  # Replay a Vidur run from its config.json dump (implies --compat vidur):
  vidur-search simulate --vidur-config ../shared/conformance/cases/vllm_heavy/config.json \\
      --trace ../shared/conformance/cases/vllm_heavy/trace.csv \\
      --vidur-tables ../shared/conformance/tables/llama2-7b_a100_tp1 --output out/";

/// Engine semantics on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompatArg {
    /// Vidur's semantics with its bugs fixed.
    Default,
    /// Reproduce Vidur exactly.
    Vidur,
}

/// `simulate` arguments.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Simulation YAML (our format).
    #[arg(
        long,
        conflicts_with = "vidur_config",
        required_unless_present = "vidur_config"
    )]
    pub config: Option<PathBuf>,
    /// Vidur's config.json dump (implies --compat vidur).
    #[arg(long)]
    pub vidur_config: Option<PathBuf>,
    /// Trace CSV replacing the one named in the Vidur config.
    #[arg(long, requires = "vidur_config", conflicts_with = "config")]
    pub trace: Option<PathBuf>,
    /// Folder of Vidur prediction tables (`<op>.csv[.gz]`) for --vidur-config; without it the
    /// run is priced by the analytic predictor.
    #[arg(long, requires = "vidur_config", conflicts_with = "config")]
    pub vidur_tables: Option<PathBuf>,
    /// With --vidur-config and no --vidur-tables: the analytic fits' source.
    #[arg(
        long,
        value_enum,
        requires = "vidur_config",
        conflicts_with_all = ["vidur_tables", "config"]
    )]
    pub calibration_source: Option<SourceArg>,
    /// Output folder (created if missing).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Override the engine semantics of a YAML config.
    #[arg(long, value_enum)]
    pub compat: Option<CompatArg>,
    /// Print the summary as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Everything needed to run one simulation.
pub struct PreparedSim {
    /// Engine config.
    pub sim: SimConfig,
    /// The workload's requests in arrival order, drawn lazily (collect it for a list).
    pub workload: workload::WorkloadSource,
    /// Predictor.
    pub predictor: Box<dyn ExecutionTimePredictor>,
    /// Where the config came from.
    pub source: String,
}

/// Load configs, generate the workload and build the predictor.
pub fn prepare(args: &SimulateArgs) -> Result<PreparedSim> {
    // clap rejects these combinations; library callers build the struct by hand.
    if args.config.is_some() {
        for (flag, given) in [
            ("--trace", args.trace.is_some()),
            ("--vidur-tables", args.vidur_tables.is_some()),
            ("--calibration-source", args.calibration_source.is_some()),
        ] {
            if given {
                bail!("{flag} applies to --vidur-config only; with --config, name the trace and the predictor in the YAML file");
            }
        }
    }
    if let Some(path) = &args.vidur_config {
        let run = vidur_json::load(path, args.trace.as_deref())?;
        if args.compat == Some(CompatArg::Default) {
            bail!("--vidur-config implies --compat vidur; drop --compat default");
        }
        let requests = workload::source(&run.workload, Compat::Vidur, &run.base_dir)
            .with_context(|| format!("workload of {}", path.display()))?;
        let predictor: Box<dyn ExecutionTimePredictor> = match &args.vidur_tables {
            Some(tables) => Box::new(VidurTablesPredictor::load(
                tables,
                &run.sim.model,
                run.sim.tensor_parallel_size,
                run.sim.num_pipeline_stages,
                &run.predictor,
                Compat::Vidur,
            )?),
            None => {
                // No tables: price Vidur's run with the analytic predictor (Vidur's scheduling,
                // our execution times), e.g. to compare the two predictors.
                let cal = Calibration::embedded();
                let hw = crate::catalog::HardwareCatalog::embedded();
                let g = hw.gpu(&run.sim.device.name)?;
                let gpu = GpuInfo::from_catalog(g, run.sim.node.num_devices_per_node, &cal);
                Box::new(analytic::build(
                    &run.sim.model,
                    &gpu,
                    run.sim.tensor_parallel_size,
                    run.sim.num_pipeline_stages,
                    &cal,
                    AnalyticOptions {
                        source: args.calibration_source.map(|s| s.as_str().to_string()),
                        network: Some(run.sim.node.name.clone()),
                        ..Default::default()
                    },
                )?)
            }
        };
        return Ok(PreparedSim {
            sim: run.sim,
            workload: requests,
            predictor,
            source: path.display().to_string(),
        });
    }
    let path = args
        .config
        .as_ref()
        .expect("clap requires --config or --vidur-config");
    let mut run = sim_yaml::load(path)?;
    if let Some(c) = args.compat {
        run.sim.compat = match c {
            CompatArg::Default => Compat::Default,
            CompatArg::Vidur => Compat::Vidur,
        };
    }
    let requests = workload::source(&run.workload, run.sim.compat, &run.base_dir)
        .with_context(|| format!("{}: field 'workload'", path.display()))?;
    let cal = config::predictor::calibration(&run.predictor, &run.base_dir)
        .with_context(|| path.display().to_string())?;
    let predictor = config::predictor::build(
        &run.predictor,
        &run.sim,
        run.gpu.as_ref(),
        &cal,
        &run.base_dir,
    )
    .with_context(|| path.display().to_string())?;
    Ok(PreparedSim {
        sim: run.sim,
        workload: requests,
        predictor,
        source: path.display().to_string(),
    })
}

/// Run `simulate`; returns the process exit code.
pub fn simulate(args: &SimulateArgs) -> Result<i32> {
    let mut prep = prepare(args)?;
    let start = Instant::now();
    let out = sim::simulate_source(
        &prep.sim,
        &mut prep.workload,
        prep.predictor.as_ref(),
        &mut sim::NoObserver,
    )?;
    let wall = start.elapsed().as_secs_f64();
    let summary = out.metrics.summary();
    let run_info = serde_json::json!({
        "tool": concat!("vidur-search ", env!("CARGO_PKG_VERSION")),
        "config_source": prep.source,
        "compat": prep.sim.compat,
        "predictor": prep.predictor.describe(),
        "wall_time_s": wall,
        "num_events": out.num_events,
        "num_batches": out.num_batches,
        "hit_time_limit": out.hit_time_limit,
        "kv_blocks_per_replica": out.num_blocks,
        "config": prep.sim,
    });
    if let Some(dir) = &args.output {
        out.metrics
            .write_outputs_with(dir, &run_info)
            .context("--output")?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&prep, &out, wall, args.output.as_deref());
    }
    Ok(0)
}

fn print_summary(prep: &PreparedSim, out: &sim::SimOutput, wall: f64, dir: Option<&Path>) {
    let s = out.metrics.summary();
    let c = &prep.sim;
    println!(
        "{} on {} x{} (TP{} PP{}), {} scheduler, {:?} mode",
        c.model.name,
        c.device.name,
        c.num_replicas,
        c.tensor_parallel_size,
        c.num_pipeline_stages,
        c.scheduler.kind.name(),
        c.compat
    );
    println!(
        "requests: {} arrived, {} completed, {} unfinished; simulated {:.3} s in {:.1} ms wall",
        s.requests.arrived,
        s.requests.completed,
        s.requests.unfinished,
        out.end_time,
        wall * 1e3
    );
    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "metric (s)", "mean", "p50", "p90", "p99", "max"
    );
    for (name, d) in s.distributions() {
        let f = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "-".into());
        println!(
            "{:<22} {:>10} {:>10} {:>10} {:>10} {:>10}",
            name,
            f(d.mean),
            f(d.p50),
            f(d.p90),
            f(d.p99),
            f(d.max)
        );
    }
    let f = |v: Option<f64>, p: usize| v.map(|x| format!("{x:.p$}")).unwrap_or_else(|| "-".into());
    println!(
        "throughput: {} req/s, {} output tok/s; utilization: memory {}%, busy {}%, MFU {}%",
        f(s.throughput.requests_per_s, 3),
        f(s.throughput.output_tokens_per_s, 1),
        f(s.utilization.memory_percent, 1),
        f(s.utilization.busy_percent, 1),
        f(s.utilization.mfu_percent, 1)
    );
    if let Some(d) = dir {
        println!("outputs written to {}", d.display());
    }
}

/// Run `calibrate-kernels`.
pub fn calibrate(args: &CalibrateArgs) -> Result<i32> {
    for (flag, dir) in [
        ("--data", &args.data),
        ("--kernels", &args.kernels),
        ("--profiles", &args.profiles),
    ] {
        if let Some(d) = dir {
            check_dir(flag, d)?;
        }
    }
    let pick = |explicit: &Option<PathBuf>, sub: &str| -> Option<PathBuf> {
        explicit.clone().or_else(|| {
            args.data
                .as_ref()
                .map(|d| d.join(sub))
                .filter(|p| p.is_dir())
        })
    };
    let kernels = pick(&args.kernels, "kernels");
    let profiles = pick(&args.profiles, "vidur-profiling");
    if kernels.is_none() && profiles.is_none() {
        match &args.data {
            Some(d) => bail!(
                "--data {}: the folder has neither kernels/ nor vidur-profiling/ inside; nothing to fit",
                d.display()
            ),
            None => bail!("nothing to fit: give --data DIR (with kernels/ or vidur-profiling/ inside), --kernels DIR or --profiles DIR"),
        }
    }
    let start = Instant::now();
    let generated_by = format!(
        "vidur-search {} calibrate-kernels{}{}",
        env!("CARGO_PKG_VERSION"),
        kernels
            .as_ref()
            .map(|k| format!(" --kernels {}", k.display()))
            .unwrap_or_default(),
        profiles
            .as_ref()
            .map(|p| format!(" --profiles {}", p.display()))
            .unwrap_or_default()
    );
    let version = format!("{}-fit", env!("CARGO_PKG_VERSION"));
    let cal = crate::predictor::analytic::fit::calibrate_dirs(
        kernels.as_deref(),
        profiles.as_deref(),
        crate::catalog::device_frame,
        &generated_by,
        &version,
    )?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let path = args.out.join("calibration.json");
    std::fs::write(&path, serde_json::to_string_pretty(&cal)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    for (gpu, g) in &cal.gpus {
        for (src, f) in &g.sources {
            let mut parts = Vec::new();
            let q = |name: &str, q: &crate::predictor::analytic::calibration::FitQuality| {
                format!("{name} {:.1}% (n={})", q.mape_pct, q.n)
            };
            if let Some(x) = &f.gemm {
                parts.push(q("gemm", &x.quality));
            }
            if let Some(x) = &f.prefill {
                parts.push(q("prefill", &x.quality));
            }
            if let Some(x) = &f.decode {
                parts.push(q("decode", &x.quality));
            }
            for (k, x) in &f.elementwise {
                parts.push(q(k, &x.quality));
            }
            for (k, x) in &f.allreduce {
                parts.push(q(&format!("allreduce {k}"), &x.quality));
            }
            println!("{gpu}/{src}: fit MAPE {}", parts.join(", "));
        }
    }
    println!(
        "wrote {} in {:.1} s",
        path.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(0)
}

/// Run `predictor-accuracy`.
pub fn predictor_accuracy(args: &AccuracyArgs) -> Result<i32> {
    use crate::predictor::accuracy;
    let PredictorArg::Analytic = args.predictor;
    for (flag, dir) in [("--kernels", &args.kernels), ("--profiles", &args.profiles)] {
        if let Some(d) = dir {
            check_dir(flag, d)?;
        }
    }
    let cal = match &args.calibration {
        Some(p) => Calibration::load(p)?,
        None => Calibration::embedded(),
    };
    let hw = match &args.hardware {
        Some(p) => crate::catalog::HardwareCatalog::with_overrides(p)?,
        None => crate::catalog::HardwareCatalog::embedded(),
    };
    let mut samples = Vec::new();
    if let Some(dir) = &args.kernels {
        let sets = crate::predictor::measured::KernelSet::load_all(dir)?;
        let src = args.source.map_or("kernels", SourceArg::as_str);
        samples.extend(accuracy::kernel_samples(&sets, &cal, src)?);
    }
    if let Some(dir) = &args.profiles {
        let set = crate::predictor::measured::ProfileSet::load(dir)?;
        let src = args.source.map_or("vidur", SourceArg::as_str);
        samples.extend(accuracy::profile_samples(&set, &cal, &hw, src)?);
    }
    let rows = accuracy::summarize(&samples);
    println!(
        "analytic predictor (calibration {}) vs {} measured rows",
        cal.version,
        samples.len()
    );
    println!(
        "{:<8} {:<22} {:<26} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "source", "gpu", "op", "tokens", "n", "MAPE%", "P90%", "bias%"
    );
    for r in rows
        .iter()
        .filter(|r| r.model == "all" && (r.tokens == "all" || r.tokens == "32+"))
    {
        println!(
            "{:<8} {:<22} {:<26} {:>8} {:>8} {:>8.1} {:>8.1} {:>+8.1}",
            r.source, r.gpu, r.op, r.tokens, r.n, r.mape_pct, r.p90_pct, r.bias_pct
        );
    }
    if let Some(dir) = &args.output {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("accuracy.csv");
        accuracy::write_csv(&rows, &path)?;
        println!("wrote {} ({} groups)", path.display(), rows.len());
    }
    if args.cross_validate {
        let dir = args.profiles.as_ref().expect("clap requires --profiles");
        let set = crate::predictor::measured::ProfileSet::load(dir)?;
        let cv = accuracy::cross_validate_gemm(&set, &hw)?;
        println!("leave-one-model-out GEMM fit (source vidur), num_tokens >= 32");
        println!(
            "{:<6} {:<40} {:<16} {:>6} {:>12} {:>10}",
            "gpu", "held-out model", "op", "n", "held-out%", "fitted%"
        );
        for r in &cv {
            println!(
                "{:<6} {:<40} {:<16} {:>6} {:>12.2} {:>10.2}",
                r.gpu, r.model, r.op, r.n, r.held_out_mape_pct, r.fitted_mape_pct
            );
        }
        if let Some(dir) = &args.output {
            let path = dir.join("cross_validation.csv");
            accuracy::write_rows(&cv, &path)?;
            println!("wrote {}", path.display());
        }
    }
    Ok(0)
}

/// A folder a flag names must exist (and be a folder), said in those words rather than as
/// an OS error about some file inside it.
fn check_dir(flag: &str, dir: &Path) -> Result<()> {
    if !dir.exists() {
        bail!("{flag} {}: the folder does not exist", dir.display());
    }
    if !dir.is_dir() {
        bail!("{flag} {}: not a folder", dir.display());
    }
    Ok(())
}

/// `--date` of `fit-workloads`: a real calendar date written YYYY-MM-DD.
fn check_date(d: &str) -> Result<()> {
    let b = d.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    let num = |r: std::ops::Range<usize>| d[r].parse::<u32>().unwrap_or(0);
    let valid = shape && {
        let (y, m, day) = (num(0..4), num(5..7), num(8..10));
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let days = match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => 0,
        };
        (1..=days).contains(&day)
    };
    if !valid {
        bail!("--date must be a calendar date written YYYY-MM-DD (e.g. 2025-01-31), got {d:?}");
    }
    Ok(())
}

/// Run `fit-workloads`.
pub fn fit_workloads(args: &FitWorkloadsArgs) -> Result<i32> {
    if let Some(d) = &args.date {
        check_date(d)?;
    }
    check_dir("--traces", &args.traces)?;
    let start = Instant::now();
    let generated_by = format!(
        "vidur-search {} fit-workloads --traces {} --out {}",
        env!("CARGO_PKG_VERSION"),
        args.traces.display(),
        args.out.display()
    );
    let mut cat = workload::BuiltinCatalog::fit(&args.traces, &generated_by, "")?;
    // Keep the recorded date when only the date would change: same figures, same bytes.
    let previous = std::fs::read_to_string(&args.out)
        .ok()
        .and_then(|t| workload::BuiltinCatalog::parse(&t, "").ok());
    cat.fitted_on = match (&args.date, &previous) {
        (Some(d), _) => d.clone(),
        (None, Some(p)) if p.figures_yaml() == cat.figures_yaml() => p.fitted_on.clone(),
        _ => today_utc(),
    };
    let text = cat.to_yaml();
    let unchanged = std::fs::read_to_string(&args.out).is_ok_and(|t| t == text);
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.out, &text).with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "{:<14} {:<8} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8}",
        "workload", "tokens", "rows", "KS", "mean%", "p50%", "p90%", "p99%"
    );
    for w in cat.workloads() {
        let q = w.quality();
        for (what, m) in [
            ("prefill", &q.prefill),
            ("decode", &q.decode),
            ("total", &q.total),
        ] {
            println!(
                "{:<14} {:<8} {:>7} {:>7.4} {:>+8.2} {:>+8.2} {:>+8.2} {:>+8.2}",
                w.name(),
                what,
                w.rows(),
                m.ks,
                m.mean_err_pct,
                m.p50_err_pct,
                m.p90_err_pct,
                m.p99_err_pct
            );
        }
        println!(
            "{:<14} spearman trace {:+.4}, sampled {:+.4} ({} draws vs {})",
            w.name(),
            q.spearman_trace,
            q.spearman_sampled,
            q.samples,
            w.source()
        );
    }
    println!(
        "{} {} in {:.1} s",
        if unchanged { "unchanged:" } else { "wrote" },
        args.out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(0)
}

/// Today's UTC date as YYYY-MM-DD.
fn today_utc() -> String {
    crate::search::runner::now_rfc3339()[..10].to_string()
}

/// An error and its causes on one line (`a: b: c`), like anyhow's `{:#}`, but a cause whose
/// text the message already holds is left out: many of our errors quote their cause (an OS
/// error, a predictor error) and also return it as `source()`, which would print it twice.
pub fn error_message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}

/// Parse arguments and run; the binary's whole body.
pub fn main_with_args(cli: Cli) -> Result<i32> {
    match &cli.command {
        Command::Run(a) => run_search(a),
        Command::Simulate(a) => simulate(a),
        Command::CalibrateKernels(a) => calibrate(a),
        Command::PredictorAccuracy(a) => predictor_accuracy(a),
        Command::FitWorkloads(a) => fit_workloads(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_name_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let e = anyhow::Error::new(crate::search::SearchError::Io {
            path: "x.yaml".into(),
            source: io,
        });
        assert_eq!(error_message(&e), "x.yaml: No such file");
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_message(&e), "outer: inner");
    }

    #[test]
    fn dates_are_real_calendar_dates() {
        for ok in ["2025-01-31", "2024-02-29", "2000-02-29", "1999-12-01"] {
            assert!(check_date(ok).is_ok(), "{ok}");
        }
        for bad in [
            "2025-13-45",
            "2025-02-29",
            "1900-02-29",
            "2025-04-31",
            "2025-00-10",
            "2025-01-00",
            "2025-1-31",
            "20250131",
            "2025-01-3x",
        ] {
            let e = check_date(bad).unwrap_err().to_string();
            assert!(e.contains("--date") && e.contains(bad), "{bad}: {e}");
        }
    }
}
