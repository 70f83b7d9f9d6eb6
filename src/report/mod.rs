//! Report writers for a finished search: turn a [`SearchOutcome`] into the files a person reads
//! (`results.csv`, `results.json`, `best_configs.md`, `pareto_*.png`/`.svg`, `report.html`,
//! `insights.md`), plus `results.parquet` (the `results.csv` table, typed) when the crate is
//! built with the `parquet` feature.
//!
//! Every file is written atomically ([`crate::outdir::write_atomic`]: `<file>.tmp<pid>` in the
//! same directory, then a rename), so an interrupted run leaves either the previous version or
//! the new one, never a torn file; [`remove_stale`] then removes the report files of an earlier
//! run that this one no longer writes.
//!
//! Plots: one `pareto_<metric>` pair per SLO of the space (named by `Slo::column()` when two
//! SLOs bound the same metric). When the space holds several (model, workload) combinations,
//! each combination also gets its own `pareto_<metric>_<model>_<workload>` pair and the
//! unsuffixed pair is the combined view.
//!
//! The same plotting code draws one simulation's pictures ([`simulation_report_files`]:
//! latency CDFs, batch and KV-cache series, busy time, and a `report.html`), through the
//! general chart builders in `charts`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::outdir::write_atomic;
use crate::search::SearchOutcome;

mod best;
pub(crate) mod charts;
mod csv_out;
mod format;
mod glyphs;
mod html;
mod insights;
#[cfg(feature = "parquet")]
mod parquet_out;
mod plot;
mod sim_report;
mod summary;
mod table;
pub mod validation;

pub use plot::PlotError;
pub use sim_report::simulation_report_files;

/// Knobs of the report writers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOptions {
    /// Rows per best-configs table.
    pub top_n: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions { top_n: 10 }
    }
}

/// A report file could not be produced; every variant names the file.
///
/// Non-exhaustive: the `parquet` feature adds a variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// Creating the directory, writing or renaming a file failed.
    #[error("cannot write report file {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Encoding the CSV failed.
    #[error("cannot write CSV report {path}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: csv::Error,
    },
    /// Encoding the Parquet table failed.
    #[cfg(feature = "parquet")]
    #[error("cannot write Parquet report {path}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: polars::error::PolarsError,
    },
    /// Serializing the outcome to JSON failed.
    #[error("cannot serialize the search outcome to {path}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Drawing or encoding a plot failed.
    #[error("cannot draw plot {path}: {source}")]
    Plot {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: PlotError,
    },
}

/// Writes every report file into `out_dir` (created if missing) and returns their paths, in
/// the order written. `report.html` is written last because it embeds the others' content.
pub fn write_all(
    out_dir: &Path,
    outcome: &SearchOutcome,
    opts: &ReportOptions,
) -> Result<Vec<PathBuf>, ReportError> {
    fs::create_dir_all(out_dir).map_err(|source| ReportError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();

    let path = out_dir.join("results.csv");
    let bytes = csv_out::render(outcome).map_err(|source| ReportError::Csv {
        path: path.clone(),
        source,
    })?;
    write_atomic(&path, &bytes).map_err(io_err(&path))?;
    written.push(path);

    #[cfg(feature = "parquet")]
    {
        let path = out_dir.join("results.parquet");
        let bytes = parquet_out::render(outcome).map_err(|source| ReportError::Parquet {
            path: path.clone(),
            source,
        })?;
        write_atomic(&path, &bytes).map_err(io_err(&path))?;
        written.push(path);
    }

    let path = out_dir.join("results.json");
    let bytes = serde_json::to_vec_pretty(outcome).map_err(|source| ReportError::Json {
        path: path.clone(),
        source,
    })?;
    write_atomic(&path, &bytes).map_err(io_err(&path))?;
    written.push(path);

    let plots = plot::render_all(outcome).map_err(|e| ReportError::Plot {
        path: out_dir.join(format!("{}.png", e.stem)),
        source: e.source,
    })?;
    for p in &plots {
        let png = out_dir.join(format!("{}.png", p.stem));
        write_atomic(&png, &p.png).map_err(io_err(&png))?;
        written.push(png);
        let svg = out_dir.join(format!("{}.svg", p.stem));
        write_atomic(&svg, p.svg.as_bytes()).map_err(io_err(&svg))?;
        written.push(svg);
    }

    let path = out_dir.join("best_configs.md");
    write_atomic(&path, best::render_markdown(outcome, opts).as_bytes()).map_err(io_err(&path))?;
    written.push(path);

    let found = insights::analyse(outcome);
    let path = out_dir.join("insights.md");
    write_atomic(&path, insights::render_markdown(outcome, &found).as_bytes())
        .map_err(io_err(&path))?;
    written.push(path);

    let path = out_dir.join("report.html");
    let page = html::render(outcome, opts, &plots, &found);
    write_atomic(&path, page.as_bytes()).map_err(io_err(&path))?;
    written.push(path);

    Ok(written)
}

/// Maps an I/O error on `path` to [`ReportError::Io`], naming the file.
fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ReportError {
    let path = path.to_path_buf();
    move |source| ReportError::Io { path, source }
}

/// Whether `name` is a file `run` writes into its output folder (a report file or `runs.csv`).
/// Only these are ever removed there; `cache/`, the lock and anything else are left alone.
pub fn is_owned_file(name: &str) -> bool {
    matches!(
        name,
        "results.csv"
            | "results.json"
            | "results.parquet"
            | "runs.csv"
            | "best_configs.md"
            | "insights.md"
            | "report.html"
    ) || (name.starts_with("pareto_") && (name.ends_with(".png") || name.ends_with(".svg")))
}

/// Removes the files of an earlier run in `out_dir` that this run owns ([`is_owned_file`]) but
/// did not write (`written`), e.g. `pareto_tpot.png` once the TPOT SLO is gone, a
/// `results.parquet` from a parquet build, and temporary files of a killed run. Call it with
/// the output folder locked, after every file was written. Returns the removed paths.
pub fn remove_stale(out_dir: &Path, written: &[PathBuf]) -> Result<Vec<PathBuf>, ReportError> {
    let mut removed = Vec::new();
    for e in fs::read_dir(out_dir).map_err(io_err(out_dir))? {
        let e = e.map_err(io_err(out_dir))?;
        let name = e.file_name().to_string_lossy().into_owned();
        // `<file>.tmp<pid>` (and the older `<file>.tmp`) of an owned file.
        let base = match name.rfind(".tmp") {
            Some(i) if name[i + 4..].bytes().all(|b| b.is_ascii_digit()) => &name[..i],
            _ => name.as_str(),
        };
        let path = e.path();
        if !is_owned_file(base) || written.contains(&path) || !e.path().is_file() {
            continue;
        }
        match fs::remove_file(&path) {
            Ok(()) => removed.push(path),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(io_err(&path)(err)),
        }
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
pub(crate) mod testdata;
