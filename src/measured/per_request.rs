//! A plain per-request CSV: one row per request, the point's configuration in `# key: value`
//! lines before the header.
//!
//! Columns: `prompt_tokens`, `output_tokens`, `ttft_s`, `e2e_s` (required), `arrival_s` (send
//! time, s, optional) and `itls_s` (the gaps between output tokens in seconds, separated by
//! `;`, optional). Header keys: `model`, `gpu`, `tp` (required); `id` (default: the file
//! stem), `engine`, `engine_version`, `pp` (default 1), `precision` (default `bf16`),
//! `kv_cache_dtype`, `duration_s`; the load: `concurrency` (closed loop), or `request_rate`
//! (with optional `arrival`, e.g. `poisson`), or neither when every row has `arrival_s` (the
//! recorded arrivals; rate = rows / (last − first arrival)).

use std::collections::HashMap;
use std::path::Path;

use super::{
    csv_line, invalid, Lengths, Load, MeasuredError, MeasuredMetrics, MeasuredPoint, RequestRecord,
};

/// Columns the header must have (also what format detection looks for).
pub(super) const REQUIRED: [&str; 4] = ["prompt_tokens", "output_tokens", "ttft_s", "e2e_s"];

const KEYS: [&str; 13] = [
    "id",
    "engine",
    "engine_version",
    "model",
    "gpu",
    "tp",
    "pp",
    "precision",
    "kv_cache_dtype",
    "concurrency",
    "request_rate",
    "arrival",
    "duration_s",
];

/// Parse the file (`text` is its content).
pub(super) fn parse(path: &Path, text: &str) -> Result<MeasuredPoint, MeasuredError> {
    let mut meta: HashMap<String, (String, usize)> = HashMap::new();
    // Comment lines become empty lines, which the CSV reader skips, so its line numbers stay
    // the file's.
    let mut body = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(c) = t.strip_prefix('#') {
            let c = c.trim();
            if !c.is_empty() {
                let (k, v) = c.split_once(':').ok_or_else(|| {
                    invalid(
                        path,
                        i + 1,
                        format!("header comment {c:?}: expected `# key: value`"),
                    )
                })?;
                let k = k.trim().to_lowercase();
                if !KEYS.contains(&k.as_str()) {
                    return Err(invalid(
                        path,
                        i + 1,
                        format!("header key `{k}`: unknown (known: {})", KEYS.join(", ")),
                    ));
                }
                meta.insert(k, (v.trim().to_string(), i + 1));
            }
            body.push('\n');
        } else {
            body.push_str(line);
            body.push('\n');
        }
    }
    let text_of = |k: &str| {
        meta.get(k)
            .map(|(v, _)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let required = |k: &str| {
        text_of(k).ok_or_else(|| {
            invalid(
                path,
                1,
                format!(
                    "header key `{k}` missing: add a line `# {k}: ...` before the column names"
                ),
            )
        })
    };
    let parsed = |k: &str| -> Result<Option<f64>, MeasuredError> {
        match meta.get(k) {
            None => Ok(None),
            Some((v, line)) => v
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x > 0.0)
                .map(Some)
                .ok_or_else(|| {
                    invalid(
                        path,
                        *line,
                        format!("header key `{k}`: expected a positive number, got {v:?}"),
                    )
                }),
        }
    };
    let whole = |k: &str| -> Result<Option<u32>, MeasuredError> {
        match meta.get(k) {
            None => Ok(None),
            Some((v, line)) => v
                .parse::<u32>()
                .ok()
                .filter(|x| *x > 0)
                .map(Some)
                .ok_or_else(|| {
                    invalid(
                        path,
                        *line,
                        format!("header key `{k}`: expected a positive integer, got {v:?}"),
                    )
                }),
        }
    };
    let model = required("model")?;
    let gpu = required("gpu")?;
    let tp = whole("tp")?.ok_or_else(|| {
        invalid(
            path,
            1,
            "header key `tp` missing: add a line `# tp: N` before the column names",
        )
    })?;
    let pp = whole("pp")?.unwrap_or(1);

    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(body.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| invalid(path, 0, format!("CSV header: {e}")))?
        .clone();
    let header_line = csv_line(&body, headers.position());
    let col: HashMap<&str, usize> = headers.iter().enumerate().map(|(i, h)| (h, i)).collect();
    if let Some(missing) = REQUIRED.iter().find(|c| !col.contains_key(**c)) {
        return Err(invalid(
            path,
            header_line,
            format!("the header lacks column `{missing}`"),
        ));
    }
    let mut requests = Vec::new();
    for rec in rdr.records() {
        let rec =
            rec.map_err(|e| invalid(path, csv_line(&body, e.position()), format!("CSV: {e}")))?;
        let line = csv_line(&body, rec.position());
        let cell = |name: &str| col.get(name).and_then(|&i| rec.get(i)).unwrap_or("");
        let secs = |name: &str, v: &str| {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| {
                    invalid(
                        path,
                        line,
                        format!("column `{name}`: expected non-negative seconds, got {v:?}"),
                    )
                })
        };
        let tokens = |name: &str| {
            cell(name).parse::<u32>().ok().ok_or_else(|| {
                invalid(
                    path,
                    line,
                    format!(
                        "column `{name}`: expected a non-negative integer, got {:?}",
                        cell(name)
                    ),
                )
            })
        };
        let arrival_s = match cell("arrival_s") {
            "" => None,
            v => Some(secs("arrival_s", v)?),
        };
        let itls_s = cell("itls_s")
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| secs("itls_s", s))
            .collect::<Result<Vec<_>, _>>()?;
        let (ttft_s, e2e_s) = (
            secs("ttft_s", cell("ttft_s"))?,
            secs("e2e_s", cell("e2e_s"))?,
        );
        if e2e_s < ttft_s {
            return Err(invalid(
                path,
                line,
                format!("column `e2e_s` ({e2e_s}) is below `ttft_s` ({ttft_s})"),
            ));
        }
        requests.push(RequestRecord {
            arrival_s,
            prompt_tokens: tokens("prompt_tokens")?,
            output_tokens: tokens("output_tokens")?,
            ttft_s,
            e2e_s,
            itls_s,
        });
    }
    if requests.is_empty() {
        return Err(invalid(
            path,
            header_line,
            "no request rows after the header",
        ));
    }

    let arrivals: Option<Vec<f64>> = requests.iter().map(|r| r.arrival_s).collect();
    let load = if let Some(concurrency) = whole("concurrency")? {
        Load::ClosedLoop {
            concurrency,
            num_requests: Some(requests.len() as u64),
        }
    } else if let Some(rate) = parsed("request_rate")? {
        Load::OpenLoop {
            request_rate: Some(rate),
            arrival: text_of("arrival"),
            max_concurrency: None,
        }
    } else if let Some(a) = arrivals.filter(|a| a.len() > 1) {
        let first = a.iter().copied().fold(f64::INFINITY, f64::min);
        let last = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if last <= first {
            return Err(invalid(path, header_line, "column `arrival_s`: all arrivals are equal; give `# request_rate:` or `# concurrency:`"));
        }
        Load::OpenLoop {
            request_rate: Some(a.len() as f64 / (last - first)),
            arrival: Some("trace".to_string()),
            max_concurrency: None,
        }
    } else {
        return Err(invalid(
            path,
            header_line,
            "load unknown: add `# concurrency: N` (closed loop) or `# request_rate: R`, or an `arrival_s` value on every row",
        ));
    };
    let duration_s = parsed("duration_s")?;
    let metrics = MeasuredMetrics::from_requests(&requests, duration_s);
    let id = text_of("id").unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    Ok(MeasuredPoint {
        id,
        origin: path.display().to_string(),
        engine: text_of("engine").map(|e| e.to_lowercase()),
        engine_version: text_of("engine_version"),
        model,
        gpu,
        precision: text_of("precision")
            .unwrap_or_else(|| "bf16".to_string())
            .to_lowercase(),
        kv_cache_dtype: text_of("kv_cache_dtype"),
        tp,
        pp,
        unsupported: None,
        load,
        lengths: Lengths::PerRequest,
        metrics,
        requests,
        duration_s,
        failed_requests: 0,
    })
}
