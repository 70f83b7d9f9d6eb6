//! The command line (`vidur-search ...`). Parsing lives here so integration tests can drive the
//! exact code path the binary runs. One file per subcommand; this one holds the parser, the
//! dispatch, the error formatting and what several subcommands share.

use std::path::Path;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand, ValueEnum};

mod accuracy;
mod calibrate;
mod calibrate_serving;
mod fit_workloads;
mod predict;
mod run;
mod simulate;
mod validate;

pub use accuracy::{predictor_accuracy, AccuracyArgs, PredictorArg};
pub use calibrate::{calibrate, CalibrateArgs};
pub use calibrate_serving::{calibrate_serving, CalibrateServingArgs};
pub use fit_workloads::{fit_workloads, FitWorkloadsArgs};
pub use predict::{predict, PredictArgs};
pub use run::{run_search, ProgressArg, RunArgs};
pub use simulate::{prepare, simulate, CompatArg, PreparedSim, SimulateArgs};
pub use validate::{validate_cmd, ValidateArgs};

use accuracy::ACCURACY_EXAMPLES;
use calibrate::CALIBRATE_EXAMPLES;
use calibrate_serving::CALIBRATE_SERVING_EXAMPLES;
use fit_workloads::FIT_WORKLOADS_EXAMPLES;
use predict::PREDICT_EXAMPLES;
use run::RUN_EXAMPLES;
use simulate::SIMULATE_EXAMPLES;
use validate::VALIDATE_EXAMPLES;

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
    /// One iteration's time for a batch given on the command line, split by operator.
    #[command(after_help = PREDICT_EXAMPLES)]
    Predict(PredictArgs),
    /// Compare predicted latencies with real serving measurements (exit 1 outside thresholds).
    #[command(after_help = VALIDATE_EXAMPLES)]
    Validate(ValidateArgs),
    /// Fit serving overheads (per step, sequence, prefill token; per-GPU factors) on measurements.
    #[command(after_help = CALIBRATE_SERVING_EXAMPLES)]
    Calibrate(CalibrateServingArgs),
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

/// The absolute output folder for `dir`, for a command whose outputs always hold `markers`
/// and are replaced whole: it must be missing, empty, or an earlier output (holding every
/// marker), so a mistyped `--output` never replaces someone's folder. Creates the parent.
fn prepare_output(dir: &Path, markers: &[&str]) -> Result<std::path::PathBuf> {
    let name = dir
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("--output {}: not a folder name", dir.display()))?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent)
        .map_err(|e| anyhow::anyhow!("--output {}: {e}", parent.display()))?;
    let target = std::fs::canonicalize(parent)
        .map_err(|e| anyhow::anyhow!("--output {}: {e}", parent.display()))?
        .join(name);
    match std::fs::read_dir(&target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => bail!("--output {}: {e}", dir.display()),
        Ok(mut entries) => {
            let empty = entries.next().is_none();
            if !empty && !markers.iter().all(|m| target.join(m).is_file()) {
                bail!(
                    "--output {}: the folder is not empty and is not an earlier output of this command (it lacks {}); choose a new or empty folder",
                    dir.display(),
                    markers.join(" or ")
                );
            }
        }
    }
    crate::outdir::clean_stale_siblings(&target);
    Ok(target)
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
        Command::Predict(a) => predict(a),
        Command::Validate(a) => validate_cmd(a),
        Command::Calibrate(a) => calibrate_serving(a),
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
}
