//! `vidur-search predictor-accuracy`: the analytic predictor against measurements.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use super::{check_dir, SourceArg};
use crate::predictor::analytic::calibration::Calibration;

pub(super) const ACCURACY_EXAMPLES: &str = "\
Examples:
  vidur-search predictor-accuracy --profiles ../shared/data/vidur-profiling --output out/acc-vidur
  vidur-search predictor-accuracy --kernels ../shared/data/kernels --output out/acc-kernels
  # Leave one GPU out: predict each GPU's kernel tables from the others' fits:
  vidur-search predictor-accuracy --kernels ../shared/data/kernels --cross-validate --output out/cv";

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
    /// Fits to use (default: the source matching the data compared with).
    #[arg(long, value_enum)]
    pub source: Option<SourceArg>,
    /// Extra hardware catalog entries (YAML) for devices in a profile folder.
    #[arg(long)]
    pub hardware: Option<PathBuf>,
    /// Output folder for accuracy.csv (and cross_validation.csv, leave_one_gpu_out.csv).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Also cross-validate the fits: with --profiles, the Vidur-profile GEMM fit leaving one
    /// model out at a time (cross_validation.csv); with --kernels, the kernel-table fits
    /// leaving one GPU out at a time, each GPU predicted from the others' fits and its own spec
    /// sheet (leave_one_gpu_out.csv). Refits the kernel fits from the data given.
    #[arg(long)]
    pub cross_validate: bool,
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
    if let (true, Some(dir)) = (args.cross_validate, &args.kernels) {
        let sets = crate::predictor::measured::KernelSet::load_all(dir)?;
        let cv = accuracy::cross_validate_gpus(&sets, &cal)?;
        println!(
            "leave-one-GPU-out kernel fits (source kernels): each GPU from the others' fits and its spec sheet"
        );
        println!(
            "{:<6} {:<10} {:<26} {:>6} {:>10} {:>8} {:>8} {:>9}",
            "gpu", "reference", "op", "n", "held-out%", "P90%", "bias%", "fitted%"
        );
        for r in &cv {
            println!(
                "{:<6} {:<10} {:<26} {:>6} {:>10.1} {:>8.1} {:>+8.1} {:>9.1}",
                r.gpu,
                r.reference,
                r.op,
                r.n,
                r.held_out_mape_pct,
                r.held_out_p90_pct,
                r.held_out_bias_pct,
                r.fitted_mape_pct
            );
        }
        if let Some(dir) = &args.output {
            let path = dir.join("leave_one_gpu_out.csv");
            accuracy::write_rows(&cv, &path)?;
            println!("wrote {}", path.display());
        }
    }
    if let (true, Some(dir)) = (args.cross_validate, &args.profiles) {
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
