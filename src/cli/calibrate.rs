//! `vidur-search calibrate-kernels`: fit the analytic predictor's efficiency curves.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::check_dir;

pub(super) const CALIBRATE_EXAMPLES: &str = "\
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
        crate::predictor::analytic::fit::DeviceFrame::embedded,
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
