//! `vidur-search simulate`: one discrete-event simulation of a serving cluster.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

use super::SourceArg;
use crate::compat::Compat;
use crate::config::{self, sim_yaml, vidur_json};
use crate::metrics::{self, stats::Summary, RecorderSetup};
use crate::predictor::analytic::{self, calibration::Calibration, AnalyticOptions, GpuInfo};
use crate::predictor::{ExecutionTimePredictor, VidurTablesPredictor};
use crate::sim::{self, SimConfig};
use crate::workload;

pub(super) const SIMULATE_EXAMPLES: &str = "\
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
    /// Output folder (created if missing): CSV/JSON metrics, plus `report.html` and
    /// `plots/*.png`/`*.svg` unless --no-plots.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// With --output, write only the CSV/JSON metrics: no report.html, PNG or SVG plots.
    #[arg(long)]
    pub no_plots: bool,
    /// Override the engine semantics of a YAML config.
    #[arg(long, value_enum)]
    pub compat: Option<CompatArg>,
    /// With --config: calibration file for the analytic predictor (e.g. with serving
    /// overheads fitted by `calibrate`), replacing the YAML's `predictor.analytic.calibration`.
    #[arg(long, requires = "config")]
    pub calibration: Option<PathBuf>,
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
    /// Leading requests simulated but left out of the metrics (closed-loop warm-up).
    pub warmup_requests: u64,
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
            warmup_requests: run.workload.warmup_requests(),
        });
    }
    let path = args
        .config
        .as_ref()
        .expect("clap requires --config or --vidur-config");
    let mut run = sim_yaml::load(path)?;
    if let Some(c) = &args.calibration {
        run.predictor.set_calibration(c)?;
    }
    if let Some(c) = args.compat {
        run.sim.compat = match c {
            CompatArg::Default => Compat::Default,
            CompatArg::Vidur => Compat::Vidur,
        };
    }
    let requests = workload::source(&run.workload, run.sim.compat, &run.base_dir)
        .with_context(|| format!("{}: field 'workload'", path.display()))?;
    let predictor = config::predictor::for_run(&run).with_context(|| path.display().to_string())?;
    Ok(PreparedSim {
        sim: run.sim,
        workload: requests,
        predictor,
        source: path.display().to_string(),
        warmup_requests: run.workload.warmup_requests(),
    })
}

/// Run `simulate`; returns the process exit code.
pub fn simulate(args: &SimulateArgs) -> Result<i32> {
    let mut prep = prepare(args)?;
    let start = Instant::now();
    let (out, metrics) = metrics::simulate_source_recorded(
        &prep.sim,
        &mut prep.workload,
        prep.predictor.as_ref(),
        RecorderSetup {
            warmup_requests: prep.warmup_requests,
            ..RecorderSetup::from_config(&prep.sim)
        },
    )?;
    let wall = start.elapsed().as_secs_f64();
    let summary = metrics.summary();
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
        let extra = if args.no_plots {
            Vec::new()
        } else {
            let c = &prep.sim;
            let title = format!(
                "vidur-search simulate: {} on {} x{}",
                c.model.name, c.device.name, c.num_replicas
            );
            let facts = [
                ("config", prep.source.clone()),
                (
                    "cluster",
                    format!(
                        "TP{} PP{}, {} scheduler, {:?} mode",
                        c.tensor_parallel_size,
                        c.num_pipeline_stages,
                        c.scheduler.kind().name(),
                        c.compat
                    ),
                ),
                ("predictor", prep.predictor.describe()),
            ];
            crate::report::simulation_report_files(&metrics, &title, &facts)
                .context("--output: drawing the report (--no-plots skips it)")?
        };
        metrics
            .write_outputs_extra(dir, &run_info, &extra)
            .context("--output")?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&prep, &out, &summary, wall, args.output.as_deref());
    }
    Ok(0)
}

fn print_summary(
    prep: &PreparedSim,
    out: &sim::SimOutput,
    s: &Summary,
    wall: f64,
    dir: Option<&Path>,
) {
    let c = &prep.sim;
    println!(
        "{} on {} x{} (TP{} PP{}), {} scheduler, {:?} mode",
        c.model.name,
        c.device.name,
        c.num_replicas,
        c.tensor_parallel_size,
        c.num_pipeline_stages,
        c.scheduler.kind().name(),
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
    if s.requests.warmup > 0 {
        println!(
            "warm-up: {} requests simulated, left out of every statistic",
            s.requests.warmup
        );
    }
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
    println!(
        "requests in flight (mean, first measured to last arrival): {}",
        f(s.in_flight_mean, 2)
    );
    println!(
        "tpot = (completion - first token) / output tokens (Vidur); \
         tpot_bench = (e2e - ttft) / (output tokens - 1) (vllm bench serve)"
    );
    if let Some(d) = dir {
        println!("outputs written to {}", d.display());
    }
}
