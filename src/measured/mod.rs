//! Real serving measurements, imported from the formats benchmark tools write, so `validate`
//! and `calibrate` can compare our predictions with them.
//!
//! Every importer yields [`MeasuredPoint`]s: one benchmark point (one engine configuration
//! under one load), with its summary metrics and, where the file has them, its per-request
//! records. The format is detected from the content ([`load`]), never from the file name.
//!
//! Formats:
//! - the silicon CSV of `../shared/data/measured/` (one closed-loop point per row);
//! - `vllm bench serve --save-result` JSON (per-request `ttfts`, `itls`, `input_lens`, ...);
//! - the experiment JSON template of the seeds (`experiment_id`, `config`, `workload`,
//!   `metrics`);
//! - a plain per-request CSV (arrival, prompt tokens, output tokens, TTFT, E2E, optional
//!   ITLs), with the point's configuration given in a `# key: value` header.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// How the benchmark client loaded the engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Load {
    /// `concurrency` requests in flight; a new one is sent when one finishes.
    ClosedLoop {
        /// Requests kept in flight.
        concurrency: u32,
        /// Requests the client sent, when the file says.
        num_requests: Option<u64>,
    },
    /// Requests sent at given times or a given rate, whatever the engine's progress.
    OpenLoop {
        /// Mean request rate (requests/s); `None` = all at once (`inf` in vLLM's client).
        request_rate: Option<f64>,
        /// Arrival process when no per-request times are given (`poisson`, `gamma`, ...).
        arrival: Option<String>,
        /// Client-side cap on requests in flight (`--max-concurrency`), if any.
        max_concurrency: Option<u32>,
    },
}

/// Request lengths of a point.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lengths {
    /// Every request has these prompt and output lengths.
    Fixed {
        /// Prompt tokens.
        input: u32,
        /// Output tokens (the client forces exactly this many).
        output: u32,
    },
    /// The lengths of each request are in [`MeasuredPoint::requests`].
    PerRequest,
    /// Lengths drawn from a named dataset (a built-in trace or workload name, e.g.
    /// `splitwise_conv`).
    Dataset(String),
}

/// One measured request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestRecord {
    /// Send time relative to the benchmark start, seconds, when known.
    pub arrival_s: Option<f64>,
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Output tokens generated.
    pub output_tokens: u32,
    /// Time to first token, seconds.
    pub ttft_s: f64,
    /// Send to last token, seconds.
    pub e2e_s: f64,
    /// Gaps between consecutive output tokens, seconds (empty when not recorded).
    pub itls_s: Vec<f64>,
}

impl RequestRecord {
    /// Benchmark-style time per output token, `(e2e − ttft) / (output_tokens − 1)`, seconds;
    /// `None` for single-token outputs.
    pub fn tpot_s(&self) -> Option<f64> {
        (self.output_tokens > 1)
            .then(|| (self.e2e_s - self.ttft_s) / (self.output_tokens - 1) as f64)
    }
}

/// Summary metrics as the file reports them (milliseconds for latencies). Every field is
/// optional: a format fills what it has.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MeasuredMetrics {
    /// Mean time to first token, ms.
    pub ttft_mean_ms: Option<f64>,
    /// Median time to first token, ms.
    pub ttft_p50_ms: Option<f64>,
    /// 99th-percentile time to first token, ms.
    pub ttft_p99_ms: Option<f64>,
    /// Mean time per output token after the first, ms (benchmark definition).
    pub tpot_mean_ms: Option<f64>,
    /// Median TPOT, ms.
    pub tpot_p50_ms: Option<f64>,
    /// 99th-percentile TPOT, ms.
    pub tpot_p99_ms: Option<f64>,
    /// Median end-to-end latency, s.
    pub e2e_p50_s: Option<f64>,
    /// 99th-percentile end-to-end latency, s.
    pub e2e_p99_s: Option<f64>,
    /// Output tokens per second over the run.
    pub output_tok_s: Option<f64>,
}

/// One benchmark point: an engine configuration under one load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasuredPoint {
    /// The point's id (the silicon CSV's `id`, the experiment's `experiment_id`, or the file
    /// name), unique within an import.
    pub id: String,
    /// `file:line` (or the file) the point came from, for messages.
    pub origin: String,
    /// Serving engine as the file names it, lower case (`vllm`, `sglang`, `trtllm`), if known.
    pub engine: Option<String>,
    /// Engine version, if known.
    pub engine_version: Option<String>,
    /// Model as the file names it (a Hugging Face name, e.g. `Qwen/Qwen3-32B`).
    pub model: String,
    /// GPU as the file names it (e.g. `h100_sxm`, `A100-80GB`).
    pub gpu: String,
    /// Weight and activation precision (`bf16`, `fp16`, `fp8`, ...; `bf16` when the file
    /// leaves it empty).
    pub precision: String,
    /// KV-cache dtype when the file says (`fp8`, ...).
    pub kv_cache_dtype: Option<String>,
    /// Tensor-parallel degree.
    pub tp: u32,
    /// Pipeline-parallel degree.
    pub pp: u32,
    /// Serving mode when not plain aggregated serving (e.g. `disagg`), with what makes it so;
    /// `validate` lists such points as not simulable.
    pub unsupported: Option<String>,
    /// How the client loaded the engine.
    pub load: Load,
    /// Request lengths.
    pub lengths: Lengths,
    /// Summary metrics.
    pub metrics: MeasuredMetrics,
    /// Per-request records (empty when the file has only a summary).
    pub requests: Vec<RequestRecord>,
    /// Benchmark duration in seconds, when known.
    pub duration_s: Option<f64>,
    /// Requests the benchmark reports as failed (they have no lengths or latencies, so they
    /// are neither replayed nor compared).
    pub failed_requests: u64,
}

/// A file format we import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// The silicon CSV (`../shared/data/measured/`).
    SiliconCsv,
    /// `vllm bench serve --save-result` JSON.
    VllmBench,
    /// The seeds' experiment JSON template.
    Experiment,
    /// A per-request CSV.
    PerRequestCsv,
}

/// Why a measurement file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum MeasuredError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// The content matches none of the formats.
    #[error("{path}: not a measurement file we know: {why} (expected the silicon CSV, `vllm bench serve --save-result` JSON, the experiment JSON template, or a per-request CSV; see the README)")]
    UnknownFormat {
        /// File.
        path: PathBuf,
        /// What was looked for.
        why: String,
    },
    /// The format was recognized but a record lacks something or holds a bad value.
    #[error("{path}:{line}: {msg}")]
    Invalid {
        /// File.
        path: PathBuf,
        /// 1-based line (0 when the format has no lines, e.g. JSON without positions).
        line: usize,
        /// What is missing or wrong, naming the field.
        msg: String,
    },
}

/// The points of one file, with the format it was read as.
#[derive(Debug, Clone)]
pub struct MeasuredFile {
    /// The file.
    pub path: PathBuf,
    /// The detected format.
    pub format: Format,
    /// Its points.
    pub points: Vec<MeasuredPoint>,
}

mod experiment;
mod per_request;
mod silicon;
mod vllm_bench;

use crate::metrics::stats::quantile;

impl MeasuredMetrics {
    /// Summary of per-request records: means and p50/p99 (numpy linear quantiles, as the run
    /// summary) of TTFT and benchmark TPOT, p50/p99 of E2E, and output tokens per second over
    /// `duration_s` (or, when `None`, last completion − first arrival, if every arrival is
    /// known). Single-token requests have no TPOT and are left out of it.
    pub fn from_requests(requests: &[RequestRecord], duration_s: Option<f64>) -> MeasuredMetrics {
        let ttft_ms: Vec<f64> = requests.iter().map(|r| r.ttft_s * 1e3).collect();
        let tpot_ms: Vec<f64> = requests
            .iter()
            .filter_map(|r| r.tpot_s())
            .map(|t| t * 1e3)
            .collect();
        let e2e: Vec<f64> = requests.iter().map(|r| r.e2e_s).collect();
        let span = duration_s.or_else(|| {
            let arrivals: Option<Vec<f64>> = requests.iter().map(|r| r.arrival_s).collect();
            let arrivals = arrivals.filter(|a| !a.is_empty())?;
            let first = arrivals.iter().copied().fold(f64::INFINITY, f64::min);
            let last = requests
                .iter()
                .zip(&arrivals)
                .map(|(r, a)| a + r.e2e_s)
                .fold(f64::NEG_INFINITY, f64::max);
            Some(last - first)
        });
        let out_tokens: u64 = requests.iter().map(|r| u64::from(r.output_tokens)).sum();
        MeasuredMetrics {
            ttft_mean_ms: mean(&ttft_ms),
            ttft_p50_ms: quantile(&ttft_ms, 0.5),
            ttft_p99_ms: quantile(&ttft_ms, 0.99),
            tpot_mean_ms: mean(&tpot_ms),
            tpot_p50_ms: quantile(&tpot_ms, 0.5),
            tpot_p99_ms: quantile(&tpot_ms, 0.99),
            e2e_p50_s: quantile(&e2e, 0.5),
            e2e_p99_s: quantile(&e2e, 0.99),
            output_tok_s: span
                .filter(|d| *d > 0.0 && !requests.is_empty())
                .map(|d| out_tokens as f64 / d),
        }
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Read a measurement file, detecting its format from the content.
pub fn load(path: &Path) -> Result<MeasuredFile, MeasuredError> {
    let text = std::fs::read_to_string(path).map_err(|source| MeasuredError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let (format, points) = if text.trim_start().starts_with('{') {
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| MeasuredError::Invalid {
                path: path.to_path_buf(),
                line: e.line(),
                msg: format!("not valid JSON: {e}"),
            })?;
        let obj = value
            .as_object()
            .ok_or_else(|| unknown(path, "a JSON object"))?;
        if obj.contains_key("experiment_id") {
            (Format::Experiment, vec![experiment::parse(path, obj)?])
        } else if ["ttfts", "itls", "input_lens", "mean_ttft_ms"]
            .iter()
            .any(|k| obj.contains_key(*k))
        {
            (Format::VllmBench, vec![vllm_bench::parse(path, obj)?])
        } else {
            return Err(unknown(
                path,
                "a JSON object with neither `experiment_id` (experiment template) nor `ttfts`/`itls`/`input_lens`/`mean_ttft_ms` (vllm bench)",
            ));
        }
    } else {
        let header = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        let cols: Vec<&str> = header
            .split(',')
            .map(|c| c.trim().trim_matches('"'))
            .collect();
        if cols.contains(&"silicon_ttft_ms") {
            (Format::SiliconCsv, silicon::parse(path, &text)?)
        } else if per_request::REQUIRED.iter().all(|c| cols.contains(c)) {
            (
                Format::PerRequestCsv,
                vec![per_request::parse(path, &text)?],
            )
        } else {
            return Err(unknown(
                path,
                &format!(
                    "not JSON, and the CSV header has neither `silicon_ttft_ms` (silicon CSV) nor all of {} (per-request CSV)",
                    per_request::REQUIRED.map(|c| format!("`{c}`")).join(", ")
                ),
            ));
        }
    };
    Ok(MeasuredFile {
        path: path.to_path_buf(),
        format,
        points,
    })
}

/// 1-based line of a CSV position in `text`. Counted from the byte offset, skipping line
/// breaks at it, because the csv reader may place a record's start before the previous
/// line's terminator.
fn csv_line(text: &str, pos: Option<&csv::Position>) -> usize {
    let Some(pos) = pos else { return 0 };
    let bytes = text.as_bytes();
    let mut b = (pos.byte() as usize).min(bytes.len());
    while b < bytes.len() && (bytes[b] == b'\n' || bytes[b] == b'\r') {
        b += 1;
    }
    1 + bytes[..b].iter().filter(|&&c| c == b'\n').count()
}

fn unknown(path: &Path, why: &str) -> MeasuredError {
    MeasuredError::UnknownFormat {
        path: path.to_path_buf(),
        why: why.to_string(),
    }
}

fn invalid(path: &Path, line: usize, msg: impl Into<String>) -> MeasuredError {
    MeasuredError::Invalid {
        path: path.to_path_buf(),
        line,
        msg: msg.into(),
    }
}

/// JSON field helpers shared by the two JSON importers (no line numbers: serde_json's `Value`
/// keeps none, so messages name the key path instead).
mod json {
    use super::{invalid, MeasuredError};
    use serde_json::{Map, Value};
    use std::path::Path;

    pub type Obj = Map<String, Value>;

    pub fn f64_opt(path: &Path, o: &Obj, key: &str) -> Result<Option<f64>, MeasuredError> {
        match o.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| invalid(path, 0, format!("`{key}`: expected a number, got {v}"))),
        }
    }

    pub fn u32_opt(path: &Path, o: &Obj, key: &str) -> Result<Option<u32>, MeasuredError> {
        match o.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|x| u32::try_from(x).ok())
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .map(Some)
                .ok_or_else(|| {
                    invalid(
                        path,
                        0,
                        format!("`{key}`: expected a non-negative integer, got {v}"),
                    )
                }),
        }
    }

    pub fn str_opt(path: &Path, o: &Obj, key: &str) -> Result<Option<String>, MeasuredError> {
        match o.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(invalid(
                path,
                0,
                format!("`{key}`: expected a string, got {v}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(arrival: Option<f64>, out: u32, ttft: f64, e2e: f64) -> RequestRecord {
        RequestRecord {
            arrival_s: arrival,
            prompt_tokens: 10,
            output_tokens: out,
            ttft_s: ttft,
            e2e_s: e2e,
            itls_s: Vec::new(),
        }
    }

    #[test]
    fn from_requests_means_quantiles_and_throughput() {
        let r = [
            req(Some(1.0), 3, 0.1, 0.3),
            req(Some(2.0), 1, 0.2, 0.2),
            req(Some(3.0), 5, 0.3, 1.1),
        ];
        let m = MeasuredMetrics::from_requests(&r, None);
        assert!((m.ttft_mean_ms.unwrap() - 200.0).abs() < 1e-9);
        // numpy linear p99 of [100, 200, 300]: 100 + 200 * 0.99.
        assert!((m.ttft_p99_ms.unwrap() - 298.0).abs() < 1e-9);
        // TPOT of the two multi-token requests: 100 and 200 ms.
        assert!((m.tpot_mean_ms.unwrap() - 150.0).abs() < 1e-9);
        assert!((m.e2e_p50_s.unwrap() - 0.3).abs() < 1e-12);
        // 9 tokens from the first arrival (1.0) to the last completion (4.1).
        assert!((m.output_tok_s.unwrap() - 9.0 / 3.1).abs() < 1e-9);
        let m = MeasuredMetrics::from_requests(&r, Some(3.0));
        assert!((m.output_tok_s.unwrap() - 3.0).abs() < 1e-12);
    }

    #[test]
    fn from_requests_without_arrivals_or_requests() {
        let m = MeasuredMetrics::from_requests(&[req(None, 2, 0.1, 0.2)], None);
        assert_eq!(m.output_tok_s, None);
        assert!((m.tpot_p50_ms.unwrap() - 100.0).abs() < 1e-9);
        assert_eq!(
            MeasuredMetrics::from_requests(&[], Some(1.0)),
            MeasuredMetrics::default()
        );
    }

    #[test]
    fn detection_rejects_unknown_json_and_csv() {
        let dir = std::env::temp_dir().join(format!("measured-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let json = dir.join("x.json");
        std::fs::write(&json, r#"{"foo": 1}"#).unwrap();
        let e = load(&json).unwrap_err();
        assert!(
            matches!(e, MeasuredError::UnknownFormat { .. })
                && e.to_string().contains("experiment_id"),
            "{e}"
        );
        let csv = dir.join("x.csv");
        std::fs::write(&csv, "a,b\n1,2\n").unwrap();
        assert!(matches!(
            load(&csv),
            Err(MeasuredError::UnknownFormat { .. })
        ));
        std::fs::write(&json, "{ not json").unwrap();
        assert!(matches!(
            load(&json),
            Err(MeasuredError::Invalid { line: 1, .. })
        ));
        assert!(matches!(
            load(&dir.join("absent.csv")),
            Err(MeasuredError::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
