//! `vidur-search calibrate`: fit the serving overheads around the kernels to real
//! measurements, per engine.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use crate::validate::calibrate::{self, CalibrateOptions, FITTED_METRICS};
use crate::validate::{self, SetupOptions};

pub(super) const CALIBRATE_SERVING_EXAMPLES: &str = "\
Examples:
  # Fit per-engine overheads on the shared closed-loop measurements, then check them:
  vidur-search calibrate --measured ../shared/data/measured/aic_silicon_dense.csv --output cal.json
  vidur-search validate --measured ../shared/data/measured/aic_silicon_dense.csv --calibration cal.json
  # Use them in a simulation or a search:
  vidur-search simulate --config my.yaml --calibration cal.json";

/// `calibrate` arguments.
#[derive(Debug, Args)]
pub struct CalibrateServingArgs {
    /// Measurement files (any format `validate` reads).
    #[arg(long, required = true, num_args = 1..)]
    pub measured: Vec<PathBuf>,
    /// The calibration file to write: the kernel fits of `--base` plus the fitted `serving`
    /// section.
    #[arg(long, short)]
    pub output: PathBuf,
    /// Kernel calibration the overheads sit on (default: the embedded one).
    #[arg(long)]
    pub base: Option<PathBuf>,
    /// Skip the leave-one-group-out estimate (one more simulation per point).
    #[arg(long)]
    pub no_cross_validation: bool,
    /// Write only the `serving` section, per engine without the `default` entry: the form
    /// `data/calibration/serving.json` ships in (the shipped overheads apply to the engine
    /// models only, so Vidur's schedulers keep Vidur's behaviour).
    #[arg(long)]
    pub serving_only: bool,
    /// Closed-loop points without a request count: requests each client sends.
    #[arg(long, default_value_t = 10)]
    pub requests_per_client: u32,
    /// Threads (default: all cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
}

/// Run `calibrate`; returns the exit code.
pub fn calibrate_serving(args: &CalibrateServingArgs) -> Result<i32> {
    let start = Instant::now();
    let (points, sources) = validate::load_measured(&args.measured)?;
    let (base, _) = super::validate::load_calibration(args.base.as_ref())?;
    let work_dir =
        std::env::temp_dir().join(format!("vidur-search-calibrate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work_dir);
    let opts = CalibrateOptions {
        setup: SetupOptions {
            requests_per_client: args.requests_per_client,
            ..Default::default()
        },
        base,
        work_dir: work_dir.clone(),
        skip_logo: args.no_cross_validation,
        sources,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
        .context("--jobs")?;
    let result = pool.install(|| calibrate::calibrate(&points, &opts));
    let _ = std::fs::remove_dir_all(&work_dir);
    let result = result?;
    let text = if args.serving_only {
        let mut s = result.calibration.serving.clone().unwrap_or_default();
        s.engines.remove(crate::predictor::serving::DEFAULT_ENGINE);
        serde_json::to_string_pretty(&s)? + "\n"
    } else {
        serde_json::to_string_pretty(&result.calibration)?
    };
    crate::outdir::write_atomic(&args.output, text.as_bytes())
        .with_context(|| format!("--output {}", args.output.display()))?;

    println!(
        "{} points fitted, {} not usable; {} simulation rounds ({:.1} s)",
        result.errors.get("all").map_or(0, |e| e.points),
        result.not_used.len(),
        result.rounds,
        start.elapsed().as_secs_f64()
    );
    println!(
        "{:<8} {:>6}  {:<14} {:>8} {:>8} {:>8}",
        "engine", "points", "metric", "before", "after", "LOGO"
    );
    let cell = |m: &std::collections::BTreeMap<String, f64>, k: &str| {
        m.get(k).map_or("–".to_string(), |v| format!("{v:.1}%"))
    };
    for (e, er) in &result.errors {
        for m in FITTED_METRICS {
            println!(
                "{e:<8} {:>6}  {m:<14} {:>8} {:>8} {:>8}",
                er.points,
                cell(&er.before, m),
                cell(&er.after, m),
                cell(&er.leave_one_group_out, m)
            );
        }
    }
    if let Some(s) = &result.calibration.serving {
        for (e, t) in &s.engines {
            let factors: Vec<String> = t
                .gpu_factor
                .iter()
                .map(|(g, f)| format!("{g} ×{f:.3}"))
                .collect();
            println!(
                "{e:<8} step {:.3} ms, per seq {:.4} ms, per prompt token {:.3} us, decode step {:.3} ms{}",
                t.step_ms,
                t.per_seq_ms,
                t.per_prefill_token_us,
                t.decode_step_ms,
                if factors.is_empty() {
                    String::new()
                } else {
                    format!(", GPU time {}", factors.join(", "))
                }
            );
        }
    }
    println!("wrote {}", args.output.display());
    Ok(0)
}
