//! Our error against real serving measurements (`vidur-search validate`) and the fit of the
//! serving overheads that closes it (`vidur-search calibrate`).
//!
//! For each measured point ([`crate::measured`]) we build the matching simulation
//! ([`setup`]), write it as a simulation YAML (so anyone can rerun it), simulate it and compare
//! the same metrics, defined the same way, on both sides ([`compare`]). [`fit`] turns the
//! comparison into fitted overhead terms.
//!
//! Data walks one way: measured → (setup → config → sim) → compare → fit; the report files
//! live in [`crate::report::validation`].

pub mod calibrate;
pub mod compare;
pub mod fit;
pub mod setup;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::catalog::HardwareCatalog;
use crate::config::{self, sim_yaml};
use crate::measured::{MeasuredMetrics, MeasuredPoint, RequestRecord};
use crate::metrics;
use crate::sim::{self, SimObserver};
use crate::workload;

pub use setup::SetupOptions;

/// What became of one measured point.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Simulated: the predicted metrics (same definitions as the measured ones) and the
    /// predicted per-request records (for distribution plots).
    Simulated {
        /// Predicted metrics.
        predicted: MeasuredMetrics,
        /// Predicted requests (measured window).
        requests: Vec<RequestRecord>,
    },
    /// Not simulable with this tool today, and why.
    Skipped(String),
    /// The simulation failed, with the error.
    Failed(String),
}

/// One point's result.
#[derive(Debug, Clone)]
pub struct PointResult {
    /// The measurement.
    pub point: MeasuredPoint,
    /// The simulation file written for it (relative to the output folder), if any.
    pub sim_file: Option<String>,
    /// Name mappings applied (model or GPU simulated under another name).
    pub notes: Vec<String>,
    /// What happened.
    pub outcome: Outcome,
}

/// Simulate every point, writing each simulation YAML under `sims_dir`. `observe` makes the
/// observer each simulation runs with (one per point, returned with its result).
pub fn run_points<O, F>(
    points: &[MeasuredPoint],
    sims_dir: &Path,
    opts: &SetupOptions,
    observe: F,
) -> Vec<(PointResult, Option<O>)>
where
    O: SimObserver + Send,
    F: Fn(&MeasuredPoint) -> O + Sync,
{
    let hw = HardwareCatalog::embedded();
    points
        .par_iter()
        .map(|p| {
            let skip = |why: String| PointResult {
                point: p.clone(),
                sim_file: None,
                notes: vec![],
                outcome: Outcome::Skipped(why),
            };
            if let Some(why) = setup::unsupported_reason(p, &hw) {
                return (skip(why), None);
            }
            let ps = match setup::build(p, &hw, opts) {
                Ok(s) => s,
                Err(e) => return (skip(e), None),
            };
            let stem = setup::file_stem(&p.id);
            let name = format!("{stem}.yaml");
            let mut obs = observe(p);
            let outcome = match simulate_point(&ps, sims_dir, &stem, &mut obs) {
                Ok((predicted, requests)) => Outcome::Simulated {
                    predicted,
                    requests,
                },
                // Name the files as they will be after the output folder is moved into place.
                Err(e) => Outcome::Failed(e.replace(&sims_dir.display().to_string(), "sims")),
            };
            let r = PointResult {
                point: p.clone(),
                sim_file: Some(format!("sims/{name}")),
                notes: ps.notes,
                outcome,
            };
            (r, Some(obs))
        })
        .collect()
}

/// Write a point's simulation files under `dir` and run them as `simulate --config` would.
fn simulate_point<O: SimObserver>(
    ps: &setup::PointSim,
    dir: &Path,
    stem: &str,
    obs: &mut O,
) -> Result<(MeasuredMetrics, Vec<RequestRecord>), String> {
    let yaml_path = dir.join(format!("{stem}.yaml"));
    let yaml = serde_saphyr::to_string(&ps.file).map_err(|e| e.to_string())?;
    write(&yaml_path, yaml.as_bytes())?;
    if let Some(csv) = &ps.trace_csv {
        write(&dir.join(format!("{stem}.trace.csv")), csv.as_bytes())?;
    }
    let run = sim_yaml::load(&yaml_path).map_err(|e| e.to_string())?;
    let mut source = workload::source(&run.workload, run.sim.compat, &run.base_dir)
        .map_err(|e| format!("{}: {e}", yaml_path.display()))?;
    let predictor =
        config::predictor::for_run(&run).map_err(|e| format!("{}: {e}", yaml_path.display()))?;
    let warmup = run.workload.warmup_requests();
    let out = sim::simulate_source(&run.sim, &mut source, predictor.as_ref(), obs)
        .map_err(|e| format!("{}: {e}", yaml_path.display()))?;
    if out.num_unfinished > 0 {
        return Err(format!(
            "{}: {} requests did not complete (KV cache too small for one request?)",
            yaml_path.display(),
            out.num_unfinished
        ));
    }
    let requests: Vec<RequestRecord> = out
        .requests
        .iter()
        .filter(|r| r.id as u64 >= warmup)
        .map(|r| RequestRecord {
            arrival_s: Some(r.arrived_at),
            prompt_tokens: r.initial_prefill_tokens,
            output_tokens: r.initial_decode_tokens,
            ttft_s: metrics::ttft(r),
            e2e_s: metrics::e2e(r),
            itls_s: vec![],
        })
        .collect();
    let metrics = MeasuredMetrics::from_requests(&requests, None);
    Ok((metrics, requests))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    crate::outdir::write_atomic(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Read every measurement file, keeping the points in file order; ids must be unique across
/// files.
pub fn load_measured(paths: &[PathBuf]) -> anyhow::Result<(Vec<MeasuredPoint>, Vec<String>)> {
    let mut points: Vec<MeasuredPoint> = Vec::new();
    let mut sources = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for p in paths {
        let f = crate::measured::load(p)?;
        sources.push(format!(
            "{} ({:?}, {} points)",
            p.display(),
            f.format,
            f.points.len()
        ));
        for pt in f.points {
            if let Some(prev) = seen.insert(pt.id.clone(), pt.origin.clone()) {
                anyhow::bail!(
                    "point id '{}' appears twice ({prev} and {}); ids must be unique across the measured files",
                    pt.id,
                    pt.origin
                );
            }
            points.push(pt);
        }
    }
    if points.is_empty() {
        anyhow::bail!("the measured files hold no points");
    }
    Ok((points, sources))
}
