//! Output files in Vidur's formats (vidur-behavior.md §9.1–9.6): `request_metrics.csv`, the
//! `plots/` CDF, sketch, time-series and utilization files, `chrome_trace.json`, plus our
//! `summary.json`. Callers may add rendered files (the simulate report's `report.html` and
//! `plots/*.png`/`*.svg`) as bytes: this layer writes them with the rest but never renders.
//!
//! Numbers are printed the way pandas / `json.dumps` print them ([`super::pyfmt`]), so files
//! can be diffed against Vidur's.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::pyfmt::{push_py_float, py_float};
use super::SketchValue;
use super::{
    BatchMetric, MetricValues, RequestMetric, SimMetrics, Summary, DECODE_TOKEN_METRIC,
    REQUEST_METRICS_HEADER,
};

/// Failure to write one of the output files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// Creating a directory or writing a file failed.
    #[error("cannot write metrics output {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The output folder holds something that is not a previous simulate output.
    #[error("refusing to replace output folder {path}: {reason}")]
    Refused {
        /// The output folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Serializing JSON failed.
    #[error("cannot serialize metrics output {path}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

/// Turns an I/O error on `path` into a [`MetricsError`] naming it.
fn io_err(path: &Path) -> impl Fn(io::Error) -> MetricsError {
    let path = path.to_path_buf();
    move |source| MetricsError::Io {
        path: path.clone(),
        source,
    }
}

/// Create `path` and fill it through `body`, naming the file in any error.
fn write_file(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<(), MetricsError> {
    let file = File::create(path).map_err(io_err(path))?;
    let mut w = BufWriter::with_capacity(1 << 16, file);
    body(&mut w).map_err(io_err(path))?;
    w.flush().map_err(io_err(path))
}

/// What a simulate output folder holds; a folder with anything else is not replaced.
const OWNED_ENTRIES: [&str; 5] = [
    "summary.json",
    "request_metrics.csv",
    "chrome_trace.json",
    "report.html",
    "plots",
];

/// File extensions allowed in `plots/`: the CSV/JSON data and the rendered pictures.
const PLOT_EXTENSIONS: [&str; 4] = [".csv", ".json", ".png", ".svg"];

/// Whether `rel` (a `/`-separated path inside the output folder) is a file a simulate output
/// may hold besides the data: `report.html` or `plots/<name>.png|.svg` with a plain name.
fn is_extra_name(rel: &str) -> bool {
    if rel == "report.html" {
        return true;
    }
    let Some(name) = rel.strip_prefix("plots/") else {
        return false;
    };
    (name.ends_with(".png") || name.ends_with(".svg"))
        && name.len() > 4
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !name.starts_with('.')
}

/// The absolute output folder for `dir` (symlinks resolved, parent created), after checking it
/// is missing, empty, or an earlier output: `summary.json` present, only `OWNED_ENTRIES` at
/// the top, and only `PLOT_EXTENSIONS` files in `plots/`.
fn output_target(dir: &Path) -> Result<PathBuf, MetricsError> {
    let refuse = |reason: String| MetricsError::Refused {
        path: dir.to_path_buf(),
        reason,
    };
    let target = match std::fs::canonicalize(dir) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let name = dir
                .file_name()
                .ok_or_else(|| refuse("not a folder name".into()))?;
            let parent = match dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
            std::fs::canonicalize(parent)
                .map_err(io_err(parent))?
                .join(name)
        }
        Err(e) => return Err(io_err(dir)(e)),
    };
    if target.parent().is_none() {
        return Err(refuse("cannot replace the root folder".into()));
    }
    let Ok(meta) = std::fs::metadata(&target) else {
        return Ok(target);
    };
    if !meta.is_dir() {
        return Err(refuse("it exists and is not a folder".into()));
    }
    let entries = |d: &Path| -> Result<Vec<(String, bool)>, MetricsError> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(d).map_err(io_err(d))? {
            let e = e.map_err(io_err(d))?;
            let is_dir = e.file_type().map_err(io_err(&e.path()))?.is_dir();
            v.push((e.file_name().to_string_lossy().into_owned(), is_dir));
        }
        v.sort();
        Ok(v)
    };
    let top = entries(&target)?;
    if top.is_empty() {
        return Ok(target);
    }
    let foreign = |what: &str| {
        refuse(format!(
            "it holds {what}, which is not part of a simulate output (that is only summary.json, \
             request_metrics.csv, chrome_trace.json, report.html and plots/); choose a new or \
             empty folder"
        ))
    };
    if !top.iter().any(|(n, d)| n == "summary.json" && !d) {
        return Err(refuse(
            "it is not empty and holds no summary.json, so it is not an earlier simulate \
             output; choose a new or empty folder"
                .into(),
        ));
    }
    for (name, is_dir) in &top {
        if !OWNED_ENTRIES.contains(&name.as_str()) || (*is_dir != (name == "plots")) {
            return Err(foreign(name));
        }
    }
    if top.iter().any(|(n, _)| n == "plots") {
        for (name, is_dir) in entries(&target.join("plots"))? {
            if is_dir || !PLOT_EXTENSIONS.iter().any(|x| name.ends_with(x)) {
                return Err(foreign(&format!("plots/{name}")));
            }
        }
    }
    Ok(target)
}

/// `numpy.linspace(0, 1, 101)[i]`: `i·0.01`, with the last point pinned to 1.
fn linspace_101(i: usize) -> f64 {
    if i == 100 {
        1.0
    } else {
        i as f64 * 0.01
    }
}

#[derive(Serialize)]
struct SummaryFile<'a> {
    run: &'a serde_json::Value,
    #[serde(flatten)]
    summary: &'a Summary,
}

impl SimMetrics {
    /// Write all output files as the folder `dir`; `summary.json` gets `"run": null`.
    pub fn write_outputs(&self, dir: &Path) -> Result<(), MetricsError> {
        self.write_outputs_with(dir, &serde_json::Value::Null)
    }

    /// Write all output files as the folder `dir`, recording `run_info` (config, predictor,
    /// compat...) as the `run` object of `summary.json`.
    ///
    /// The files go to a staging folder beside `dir` (`.<name>.tmp-<pid>`) that then replaces
    /// `dir` whole (see [`crate::outdir::replace_dir`]): no file of an earlier run survives, and
    /// a killed run leaves the previous complete output. `dir` must be missing, empty or an
    /// earlier output (nothing but its files); anything else is refused, so user files are
    /// never deleted. Staging folders of killed runs are removed.
    pub fn write_outputs_with(
        &self,
        dir: &Path,
        run_info: &serde_json::Value,
    ) -> Result<(), MetricsError> {
        self.write_outputs_extra(dir, run_info, &[])
    }

    /// [`Self::write_outputs_with`], also writing each `(relative path, bytes)` of `extra`
    /// into the same staging folder, so it appears together with the data files or not at all.
    /// Only `report.html` and `plots/<name>.png` / `plots/<name>.svg` are accepted (what the
    /// folder check lets a later run replace); any other name is refused before writing.
    pub fn write_outputs_extra(
        &self,
        dir: &Path,
        run_info: &serde_json::Value,
        extra: &[(String, Vec<u8>)],
    ) -> Result<(), MetricsError> {
        if let Some((bad, _)) = extra.iter().find(|(n, _)| !is_extra_name(n)) {
            return Err(MetricsError::Refused {
                path: dir.join(bad),
                reason: "an added output file must be report.html or plots/<name>.png|.svg".into(),
            });
        }
        let target = output_target(dir)?;
        crate::outdir::clean_stale_siblings(&target);
        let staging = crate::outdir::sibling(&target, "tmp", std::process::id());
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
        }
        let written = self
            .write_files(&staging, run_info)
            .and_then(|()| {
                for (rel, bytes) in extra {
                    let path = staging.join(rel);
                    write_file(&path, |w| w.write_all(bytes))?;
                }
                Ok(())
            })
            .and_then(|()| crate::outdir::replace_dir(&staging, &target).map_err(io_err(&target)));
        if written.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        written
    }

    /// Write every output file into `dir` (created if missing).
    fn write_files(&self, dir: &Path, run_info: &serde_json::Value) -> Result<(), MetricsError> {
        let plots = dir.join("plots");
        std::fs::create_dir_all(&plots).map_err(io_err(&plots))?;
        self.write_request_metrics_csv(&dir.join("request_metrics.csv"))?;
        for m in RequestMetric::ALL {
            self.write_request_cdf(&plots.join(format!("{}.csv", m.name())), m)?;
        }
        for m in BatchMetric::ALL {
            self.write_distribution(
                &plots.join(format!("{}.csv", m.name())),
                m.name(),
                self.batch_metric(m),
            )?;
        }
        if self.setup.options.token_metrics {
            self.write_distribution(
                &plots.join(format!("{DECODE_TOKEN_METRIC}.csv")),
                DECODE_TOKEN_METRIC,
                &self.tbt,
            )?;
        }
        self.write_time_series(&plots)?;
        self.write_utilization(&plots)?;
        if let Some(c) = &self.chrome {
            let (r, s) = (self.setup.num_replicas, self.setup.num_stages);
            write_file(&dir.join("chrome_trace.json"), |w| c.write_json(w, r, s))?;
        }
        let path = dir.join("summary.json");
        let text = serde_json::to_string_pretty(&SummaryFile {
            run: run_info,
            summary: &self.summary(),
        })
        .map_err(|source| MetricsError::Json {
            path: path.clone(),
            source,
        })?;
        write_file(&path, |w| writeln!(w, "{text}"))
    }

    /// `request_metrics.csv`: Vidur's outer join on `Request Id` (§9.2).
    fn write_request_metrics_csv(&self, path: &Path) -> Result<(), MetricsError> {
        // pandas upcasts the int restarts column to float once the join introduces a NaN.
        let restarts_as_float =
            self.setup.compat.is_vidur() && self.rows.iter().any(|r| r.num_restarts.is_none());
        write_file(path, |w| {
            writeln!(w, "{REQUEST_METRICS_HEADER}")?;
            let mut line = String::with_capacity(512);
            for r in &self.rows {
                line.clear();
                line.push_str(&r.id.to_string());
                for m in RequestMetric::ALL {
                    line.push(',');
                    if let Some(t) = &r.times {
                        push_py_float(&mut line, t.get(m));
                    }
                }
                line.push(',');
                if let Some(d) = r.inter_arrival_delay {
                    push_py_float(&mut line, d);
                }
                // Vidur's histogram columns come out as floats (`418.0`).
                for v in [
                    r.num_tokens() as f64,
                    r.num_prefill_tokens as f64,
                    r.num_decode_tokens as f64,
                    r.pd_ratio(),
                ] {
                    line.push(',');
                    push_py_float(&mut line, v);
                }
                line.push(',');
                match r.num_restarts {
                    Some(n) if restarts_as_float => push_py_float(&mut line, n as f64),
                    Some(n) => line.push_str(&n.to_string()),
                    None => {}
                }
                line.push('\n');
                w.write_all(line.as_bytes())?;
            }
            Ok(())
        })
    }

    /// `plots/<metric>.csv`: `,Request Id,<metric>,cdf`, sorted by value with ties in push
    /// order (pandas `rank(method="first", pct=True)`), index = push position.
    fn write_request_cdf(&self, path: &Path, m: RequestMetric) -> Result<(), MetricsError> {
        let mut vals: Vec<(usize, u32, f64)> = self
            .request_metric_values(m)
            .enumerate()
            .map(|(i, (id, v))| (i, id, v))
            .collect();
        vals.sort_by(|a, b| a.2.total_cmp(&b.2)); // stable: ties keep push order
        let n = vals.len() as f64;
        write_file(path, |w| {
            writeln!(w, ",Request Id,{},cdf", m.name())?;
            let mut line = String::with_capacity(96);
            for (rank, (pos, id, v)) in vals.iter().enumerate() {
                line.clear();
                line.push_str(&format!("{pos},{id},"));
                push_py_float(&mut line, *v);
                line.push(',');
                push_py_float(&mut line, (rank + 1) as f64 / n);
                line.push('\n');
                w.write_all(line.as_bytes())?;
            }
            Ok(())
        })
    }

    /// `plots/<metric>.csv` with 101 rows `,cdf,<metric>`: Vidur's sketch quantiles in
    /// `Compat::Vidur`, exact pandas-linear quantiles otherwise.
    fn write_distribution(
        &self,
        path: &Path,
        name: &str,
        values: &MetricValues,
    ) -> Result<(), MetricsError> {
        let cells: Vec<Option<SketchValue>> = if self.setup.compat.is_vidur() {
            (0..101)
                .map(|i| values.sketch().quantile_value(linspace_101(i)))
                .collect()
        } else {
            let mut sorted = values.exact().to_vec();
            sorted.sort_by(f64::total_cmp);
            (0..101)
                .map(|i| super::quantile_sorted(&sorted, linspace_101(i)).map(SketchValue::Value))
                .collect()
        };
        // An all-int-zero column stays int in pandas (`0`); any float makes it `0.0`.
        let all_int_zero = cells.iter().all(|c| *c == Some(SketchValue::Zero));
        write_file(path, |w| {
            writeln!(w, ",cdf,{name}")?;
            for (i, c) in cells.iter().enumerate() {
                let v = match c {
                    None => String::new(),
                    Some(_) if all_int_zero => "0".to_string(),
                    Some(c) => py_float(c.as_f64()),
                };
                writeln!(w, "{i},{},{v}", py_float(linspace_101(i)))?;
            }
            Ok(())
        })
    }

    /// The cumulative time series of §9.4.
    fn write_time_series(&self, plots: &Path) -> Result<(), MetricsError> {
        let counts = |path: &Path, name: &str, times: &mut dyn Iterator<Item = f64>| {
            write_file(path, |w| {
                writeln!(w, ",Time (sec),{name}")?;
                for (i, t) in times.enumerate() {
                    writeln!(w, "{i},{},{}", py_float(t), i + 1)?;
                }
                Ok(())
            })
        };
        counts(
            &plots.join("request_arrival_time_series.csv"),
            "request_arrival",
            &mut self.arrival_times.iter().copied(),
        )?;
        counts(
            &plots.join("request_completion_time_series.csv"),
            "request_completion",
            &mut self.completions.iter().map(|c| c.0),
        )?;
        write_file(&plots.join("prefill_completion_time_series.csv"), |w| {
            writeln!(w, ",Time (sec),prefill_completion")?;
            let mut cum = 0.0;
            for (i, &(t, p)) in self.prefill_series.iter().enumerate() {
                cum += p as f64;
                writeln!(w, "{i},{},{}", py_float(t), py_float(cum))?;
            }
            Ok(())
        })?;
        if self.setup.options.token_metrics {
            counts(
                &plots.join("decode_completion_time_series.csv"),
                "decode_completion",
                &mut self
                    .decode_series
                    .iter()
                    .flat_map(|&(t, n)| std::iter::repeat_n(t, n as usize)),
            )?;
        }
        Ok(())
    }

    /// Utilization JSONs. Vidur names files by meter slot + 1 (slot = id − 1, so `replica_k`
    /// holds replica id `k mod N`); default mode names them by 0-based id.
    fn write_utilization(&self, plots: &Path) -> Result<(), MetricsError> {
        let vidur = self.setup.compat.is_vidur();
        let (n_rep, n_stage) = (
            self.setup.num_replicas as usize,
            self.setup.num_stages as usize,
        );
        let label = |slot: usize| if vidur { slot + 1 } else { slot };
        for r in 0..n_rep {
            let name = format!("replica_{}_memory_usage", label(r));
            let text = self.memory[r].to_vidur_json(&name);
            write_file(&plots.join(format!("{name}.json")), |w| {
                w.write_all(text.as_bytes())
            })?;
            for s in 0..n_stage {
                let i = r * n_stage + s;
                for (meter, kind) in [(&self.busy[i], "busy_time_percent"), (&self.mfu[i], "mfu")] {
                    let name = format!("replica_{}_stage_{}_{kind}", label(r), label(s));
                    let text = meter.to_vidur_json(&name);
                    write_file(&plots.join(format!("{name}.json")), |w| {
                        w.write_all(text.as_bytes())
                    })?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_names_are_limited_to_report_and_pictures() {
        for ok in ["report.html", "plots/ttft_cdf.png", "plots/busy-time.svg"] {
            assert!(is_extra_name(ok), "{ok}");
        }
        for bad in [
            "summary.json",
            "plots/x.csv",
            "plots/../x.png",
            "plots/a/b.png",
            "plots/.png",
            "other.png",
            "plots/.hidden.png",
        ] {
            assert!(!is_extra_name(bad), "{bad}");
        }
    }

    #[test]
    fn cdf_column_matches_vidur() {
        let text =
            super::super::read_shared_gz("conformance/cases/vllm_heavy/plots/batch_size.csv.gz");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 102);
        for (i, line) in lines[1..].iter().enumerate() {
            let prefix = format!("{i},{},", py_float(linspace_101(i)));
            assert!(line.starts_with(&prefix), "{line} vs {prefix}");
        }
    }
}
