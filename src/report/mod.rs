//! Report writers for a finished search: turn a [`SearchOutcome`] into the files a person reads
//! (`results.csv`, `results.json`, `best_configs.md`, `pareto_*.png`/`.svg`, `report.html`,
//! `insights.md`), plus `results.parquet` (the `results.csv` table, typed) when the crate is
//! built with the `parquet` feature.
//!
//! Every file is written atomically (`<file>.tmp<pid>` in the same directory, then a rename), so
//! an interrupted run leaves either the previous version or the new one, never a torn file;
//! [`remove_stale`] then removes the report files of an earlier run that this one no longer
//! writes.
//!
//! Plots: one `pareto_<metric>` pair per SLO of the space (named by `Slo::column()` when two
//! SLOs bound the same metric). When the space holds several (model, workload) combinations,
//! each combination also gets its own `pareto_<metric>_<model>_<workload>` pair and the
//! unsuffixed pair is the combined view.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::search::{PointResult, SearchOutcome, Slo, SloValue};

mod best;
mod csv_out;
mod glyphs;
mod html;
mod insights;
#[cfg(feature = "parquet")]
mod parquet_out;
mod plot;
mod summary;
mod table;

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
    #[error("cannot draw plot {path}: {message}")]
    Plot {
        /// The file.
        path: PathBuf,
        /// What went wrong (plotters errors are generic over the backend, so kept as text).
        message: String,
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
    write_atomic(&path, &bytes)?;
    written.push(path);

    #[cfg(feature = "parquet")]
    {
        let path = out_dir.join("results.parquet");
        let bytes = parquet_out::render(outcome).map_err(|source| ReportError::Parquet {
            path: path.clone(),
            source,
        })?;
        write_atomic(&path, &bytes)?;
        written.push(path);
    }

    let path = out_dir.join("results.json");
    let bytes = serde_json::to_vec_pretty(outcome).map_err(|source| ReportError::Json {
        path: path.clone(),
        source,
    })?;
    write_atomic(&path, &bytes)?;
    written.push(path);

    let plots = plot::render_all(outcome).map_err(|(stem, message)| ReportError::Plot {
        path: out_dir.join(format!("{stem}.png")),
        message,
    })?;
    for p in &plots {
        let png = out_dir.join(format!("{}.png", p.stem));
        write_atomic(&png, &p.png)?;
        written.push(png);
        let svg = out_dir.join(format!("{}.svg", p.stem));
        write_atomic(&svg, p.svg.as_bytes())?;
        written.push(svg);
    }

    let path = out_dir.join("best_configs.md");
    write_atomic(&path, best::render_markdown(outcome, opts).as_bytes())?;
    written.push(path);

    let found = insights::analyse(outcome);
    let path = out_dir.join("insights.md");
    write_atomic(&path, insights::render_markdown(outcome, &found).as_bytes())?;
    written.push(path);

    let path = out_dir.join("report.html");
    let page = html::render(outcome, opts, &plots, &found);
    write_atomic(&path, page.as_bytes())?;
    written.push(path);

    Ok(written)
}

/// [`crate::search::runner::write_atomic`] (the crate's one atomic writer), naming the file in
/// the error.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    crate::search::runner::write_atomic(path, bytes).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })
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
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
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

/// The measurement of `slo` at the point's capacity, if any. Matched by value rather than
/// position so a reordered `at_capacity` cannot shift columns.
fn slo_value<'a>(p: &'a PointResult, slo: &Slo, index: usize) -> Option<&'a SloValue> {
    match p.at_capacity.get(index) {
        Some(v) if v.slo == *slo => Some(v),
        _ => p.at_capacity.iter().find(|v| v.slo == *slo),
    }
}

/// A compact human number: about four significant digits, trailing zeros trimmed.
fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `fmt_num` of an option, with an en dash for "none".
fn fmt_opt(x: Option<f64>) -> String {
    x.map(fmt_num).unwrap_or_else(|| "–".into())
}

/// A file-name-safe version of a name: ASCII alphanumerics, `-`, `_` and `.` kept, the rest `-`.
fn slug(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if out.is_empty() {
        "_".into()
    } else {
        out
    }
}

#[cfg(test)]
pub(crate) mod testdata;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_compact() {
        assert_eq!(fmt_num(12.3456), "12.35");
        assert_eq!(fmt_num(0.123456), "0.1235");
        assert_eq!(fmt_num(2.0), "2");
        assert_eq!(fmt_num(1234.56), "1235");
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(1.5e7), "1.500e7");
        assert_eq!(fmt_opt(None), "–");
    }

    #[test]
    fn slugs_are_file_safe() {
        assert_eq!(slug("Llama-2-7b/chat v2"), "Llama-2-7b-chat-v2");
        assert_eq!(slug(""), "_");
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_tmp() {
        let dir = std::env::temp_dir().join(format!("vidur-report-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a.txt");
        write_atomic(&f, b"one").unwrap();
        write_atomic(&f, b"two").unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.txt"], "no temporary file is left");
        // A missing directory is an error naming the file, not a panic.
        let err = write_atomic(&dir.join("missing/b.txt"), b"x").unwrap_err();
        assert!(err.to_string().contains("b.txt"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
