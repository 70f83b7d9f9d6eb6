//! The command line (`vidur-search ...`). Parsing lives here so integration tests can drive the
//! exact code path the binary runs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{sim_yaml, vidur_json};
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
    /// Run one discrete-event simulation of a serving cluster.
    #[command(after_help = SIMULATE_EXAMPLES)]
    Simulate(SimulateArgs),
    /// Fit the analytic predictor's efficiency curves on measured kernels and Vidur profiles.
    #[command(after_help = CALIBRATE_EXAMPLES)]
    CalibrateKernels(CalibrateArgs),
    /// Compare the analytic predictor with measured kernels or Vidur profiles.
    #[command(after_help = ACCURACY_EXAMPLES)]
    PredictorAccuracy(AccuracyArgs),
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
    /// Fits to use: `kernels` or `vidur` (default: the source matching the data compared with).
    #[arg(long)]
    pub source: Option<String>,
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
    #[arg(long, requires = "vidur_config")]
    pub trace: Option<PathBuf>,
    /// Folder of Vidur prediction tables (`<op>.csv[.gz]`) for --vidur-config; without it the
    /// run is priced by the analytic predictor.
    #[arg(long, requires = "vidur_config")]
    pub vidur_tables: Option<PathBuf>,
    /// With --vidur-config and no --vidur-tables: the analytic fits' source (`kernels` or
    /// `vidur`).
    #[arg(long, requires = "vidur_config", conflicts_with = "vidur_tables")]
    pub calibration_source: Option<String>,
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
    /// Requests, sorted by arrival.
    pub requests: Vec<workload::RequestSpec>,
    /// Predictor.
    pub predictor: Box<dyn ExecutionTimePredictor>,
    /// Where the config came from.
    pub source: String,
}

/// Load configs, generate the workload and build the predictor.
pub fn prepare(args: &SimulateArgs) -> Result<PreparedSim> {
    if let Some(path) = &args.vidur_config {
        let run = vidur_json::load(path, args.trace.as_deref())?;
        if args.compat == Some(CompatArg::Default) {
            bail!("--vidur-config implies --compat vidur; drop --compat default");
        }
        let requests = workload::generate(&run.workload, Compat::Vidur, &run.base_dir)
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
                        source: args.calibration_source.clone(),
                        ..Default::default()
                    },
                )?)
            }
        };
        return Ok(PreparedSim {
            sim: run.sim,
            requests,
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
    let requests = workload::generate(&run.workload, run.sim.compat, &run.base_dir)
        .with_context(|| format!("{}: field 'workload'", path.display()))?;
    let predictor: Box<dyn ExecutionTimePredictor> = match &run.predictor {
        sim_yaml::PredictorConfig::Profiles(pc) => {
            let fallback: Option<std::sync::Arc<dyn crate::predictor::OpModel>> =
                match (&run.gpu, pc.analytic_attention_fallback) {
                    (Some(g), true) => {
                        let cal = Calibration::embedded();
                        let gpu = GpuInfo::from_catalog(g, run.sim.node.num_devices_per_node, &cal);
                        Some(std::sync::Arc::new(analytic::AnalyticPredictor::new(
                            analytic::LayerShape::of(&run.sim.model, run.sim.tensor_parallel_size),
                            &gpu,
                            run.sim.tensor_parallel_size,
                            &cal,
                            AnalyticOptions::default(),
                        )?))
                    }
                    _ => None,
                };
            let opts = crate::predictor::ProfileOptions {
                max_tokens: run.sim.max_tokens.max(4096),
                num_devices_per_node: Some(run.sim.node.num_devices_per_node),
                attention_fallback: fallback,
                ..Default::default()
            };
            let dir = sim_yaml::resolve(&run.base_dir, &pc.dir);
            // Vidur names device folders by short name (`a100`): try the catalog aliases too.
            let device = pc.device.clone().unwrap_or_else(|| {
                let mut names = vec![run.sim.device.name.clone()];
                if let Some(g) = &run.gpu {
                    names.extend(g.aliases.iter().cloned());
                }
                names
                    .iter()
                    .find(|n| dir.join("compute").join(n).is_dir())
                    .unwrap_or(&names[0])
                    .clone()
            });
            Box::new(
                crate::predictor::ProfilePredictor::load(
                    &dir,
                    &device,
                    &run.sim.node.name,
                    &run.sim.model,
                    run.sim.tensor_parallel_size,
                    run.sim.num_pipeline_stages,
                    run.sim.scheduler.block_size,
                    &opts,
                )
                .with_context(|| format!("{}: field 'predictor.profiles'", path.display()))?
                .into_composed(),
            )
        }
        sim_yaml::PredictorConfig::Analytic(a) => {
            let cal = match &a.calibration {
                Some(p) => {
                    Calibration::load(&sim_yaml::resolve(&run.base_dir, p)).with_context(|| {
                        format!("{}: field 'predictor.analytic.calibration'", path.display())
                    })?
                }
                None => Calibration::embedded(),
            };
            let Some(g) = &run.gpu else {
                bail!(
                    "{}: the analytic predictor needs device '{}' in the hardware catalog (add it with `hardware: my-hardware.yaml`)",
                    path.display(),
                    run.sim.device.name
                );
            };
            let gpu = GpuInfo::from_catalog(g, run.sim.node.num_devices_per_node, &cal);
            let opts = AnalyticOptions {
                source: a.source.clone(),
                iteration_overhead_ms: a.iteration_overhead_ms,
                skip_embedding_and_lm_head: !a.embedding_and_lm_head,
            };
            Box::new(
                analytic::build(
                    &run.sim.model,
                    &gpu,
                    run.sim.tensor_parallel_size,
                    run.sim.num_pipeline_stages,
                    &cal,
                    opts,
                )
                .with_context(|| format!("{}: field 'predictor.analytic'", path.display()))?,
            )
        }
        sim_yaml::PredictorConfig::VidurTables(t) => Box::new(
            VidurTablesPredictor::load(
                &sim_yaml::resolve(&run.base_dir, &t.dir),
                &run.sim.model,
                run.sim.tensor_parallel_size,
                run.sim.num_pipeline_stages,
                &t.options(),
                run.sim.compat,
            )
            .with_context(|| format!("{}: field 'predictor.vidur_tables'", path.display()))?,
        ),
    };
    Ok(PreparedSim {
        sim: run.sim,
        requests,
        predictor,
        source: path.display().to_string(),
    })
}

/// Run `simulate`; returns the process exit code.
pub fn simulate(args: &SimulateArgs) -> Result<i32> {
    let prep = prepare(args)?;
    let start = Instant::now();
    let out = sim::simulate(&prep.sim, &prep.requests, prep.predictor.as_ref())?;
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
            .with_context(|| format!("writing outputs to {}", dir.display()))?;
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
        bail!("nothing to fit: give --data DIR (with kernels/ or vidur-profiling/ inside), --kernels DIR or --profiles DIR");
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
        let src = args.source.as_deref().unwrap_or("kernels");
        samples.extend(accuracy::kernel_samples(&sets, &cal, src)?);
    }
    if let Some(dir) = &args.profiles {
        let set = crate::predictor::measured::ProfileSet::load(dir)?;
        let src = args.source.as_deref().unwrap_or("vidur");
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

/// Parse arguments and run; the binary's whole body.
pub fn main_with_args(cli: Cli) -> Result<i32> {
    match &cli.command {
        Command::Simulate(a) => simulate(a),
        Command::CalibrateKernels(a) => calibrate(a),
        Command::PredictorAccuracy(a) => predictor_accuracy(a),
    }
}
