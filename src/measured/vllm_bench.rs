//! `vllm bench serve --save-result` JSON (vLLM 0.10–0.12 `benchmark_serving`): summary keys
//! (`mean_ttft_ms`, `median_tpot_ms`, `p99_e2el_ms`, `output_throughput`, `duration`, ...) and,
//! with `--save-detailed`, per-request arrays `input_lens`, `output_lens`, `ttfts` (s),
//! `itls` (s, one list per request), `errors` and, where present, `start_times`.
//!
//! The file records no hardware, parallelism or engine version: the user adds `gpu`, `tp`
//! (or `tensor_parallel_size`), optionally `pp` (`pipeline_parallel_size`), `engine_version`,
//! `precision` (default `bf16`) and `id` (default: the file stem) to the JSON.

use std::path::Path;

use serde_json::Value;

use super::json::{f64_opt, str_opt, u32_opt, Obj};
use super::{invalid, Lengths, Load, MeasuredError, MeasuredMetrics, MeasuredPoint, RequestRecord};

/// Parse one `--save-result` object.
pub(super) fn parse(path: &Path, o: &Obj) -> Result<MeasuredPoint, MeasuredError> {
    let hint = "(vllm bench does not record the hardware)";
    let gpu = str_opt(path, o, "gpu")?.ok_or_else(|| {
        invalid(
            path,
            0,
            format!("no GPU: add \"gpu\": \"h100\" and \"tp\": 2 (your values) to the JSON {hint}"),
        )
    })?;
    let tp = match u32_opt(path, o, "tp")? {
        Some(t) => t,
        None => u32_opt(path, o, "tensor_parallel_size")?.ok_or_else(|| {
            invalid(
                path,
                0,
                format!("no tensor-parallel degree: add \"tp\": 2 (your value) to the JSON {hint}"),
            )
        })?,
    };
    let pp = match u32_opt(path, o, "pp")? {
        Some(p) => p,
        None => u32_opt(path, o, "pipeline_parallel_size")?.unwrap_or(1),
    };
    if tp == 0 || pp == 0 {
        return Err(invalid(path, 0, "`tp` and `pp` must be at least 1"));
    }
    let model = str_opt(path, o, "model_id")?.ok_or_else(|| {
        invalid(
            path,
            0,
            "`model_id`: missing (add \"model_id\": \"org/name\")",
        )
    })?;
    let id = match str_opt(path, o, "id")? {
        Some(id) => id,
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let engine = match str_opt(path, o, "engine")? {
        Some(e) => Some(e),
        None => str_opt(path, o, "backend")?,
    }
    .map(|e| e.to_lowercase());

    // `request_rate` is a number or the string "inf" (everything sent at once).
    let request_rate = match o.get("request_rate") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("inf") => None,
        Some(v) => Some(
            v.as_f64()
                .filter(|r| r.is_finite() && *r > 0.0)
                .ok_or_else(|| {
                    invalid(
                        path,
                        0,
                        format!("`request_rate`: expected a positive number or \"inf\", got {v}"),
                    )
                })?,
        ),
    };
    let max_concurrency = u32_opt(path, o, "max_concurrency")?.filter(|c| *c > 0);
    let num_prompts = u32_opt(path, o, "num_prompts")?.map(u64::from);
    let load = match (max_concurrency, request_rate) {
        (Some(c), None) => Load::ClosedLoop {
            concurrency: c,
            num_requests: num_prompts,
        },
        _ => {
            let burstiness = f64_opt(path, o, "burstiness")?;
            Load::OpenLoop {
                request_rate,
                arrival: request_rate.map(|_| {
                    if burstiness.is_none_or(|b| b == 1.0) {
                        "poisson"
                    } else {
                        "gamma"
                    }
                    .to_string()
                }),
                max_concurrency,
            }
        }
    };

    let duration_s = f64_opt(path, o, "duration")?;
    let (requests, failed) = requests(path, o)?;
    let lengths = if !requests.is_empty() {
        Lengths::PerRequest
    } else {
        match (u32_opt(path, o, "random_input_len")?, u32_opt(path, o, "random_output_len")?) {
            (Some(input), Some(output)) => Lengths::Fixed { input, output },
            _ => {
                return Err(invalid(
                    path,
                    0,
                    "request lengths unknown: the file has no per-request `input_lens`/`output_lens` (run with --save-detailed) and no \"random_input_len\"/\"random_output_len\" keys (add them for a fixed-length run)",
                ))
            }
        }
    };
    let metrics = if o.contains_key("mean_ttft_ms") {
        let ms = |k: &str| f64_opt(path, o, k);
        let s = |k: &str| Ok::<_, MeasuredError>(f64_opt(path, o, k)?.map(|v| v / 1e3));
        MeasuredMetrics {
            ttft_mean_ms: ms("mean_ttft_ms")?,
            ttft_p50_ms: ms("median_ttft_ms")?,
            ttft_p99_ms: ms("p99_ttft_ms")?,
            tpot_mean_ms: ms("mean_tpot_ms")?,
            tpot_p50_ms: ms("median_tpot_ms")?,
            tpot_p99_ms: ms("p99_tpot_ms")?,
            e2e_p50_s: s("median_e2el_ms")?,
            e2e_p99_s: s("p99_e2el_ms")?,
            output_tok_s: ms("output_throughput")?,
        }
    } else if !requests.is_empty() {
        MeasuredMetrics::from_requests(&requests, duration_s)
    } else {
        return Err(invalid(
            path,
            0,
            "no metrics: neither summary keys (`mean_ttft_ms`, ...) nor per-request `ttfts`",
        ));
    };
    Ok(MeasuredPoint {
        id,
        origin: path.display().to_string(),
        engine,
        engine_version: str_opt(path, o, "engine_version")?,
        model,
        gpu,
        precision: str_opt(path, o, "precision")?
            .unwrap_or_else(|| "bf16".to_string())
            .to_lowercase(),
        kv_cache_dtype: str_opt(path, o, "kv_cache_dtype")?,
        tp,
        pp,
        unsupported: None,
        load,
        lengths,
        metrics,
        requests,
        duration_s,
        failed_requests: failed as u64,
    })
}

/// The successful requests of the per-request arrays and the number of failed ones (an error
/// text or no output). Empty when the file has no `ttfts`.
fn requests(path: &Path, o: &Obj) -> Result<(Vec<RequestRecord>, usize), MeasuredError> {
    let Some(ttfts) = o.get("ttfts") else {
        return Ok((Vec::new(), 0));
    };
    let arr = |k: &str| -> Result<&Vec<Value>, MeasuredError> {
        o.get(k).and_then(Value::as_array).ok_or_else(|| {
            invalid(
                path,
                0,
                format!("`{k}`: expected a list (one entry per request) beside `ttfts`"),
            )
        })
    };
    let ttfts = ttfts
        .as_array()
        .ok_or_else(|| invalid(path, 0, "`ttfts`: expected a list"))?;
    let (ins, outs, itls) = (arr("input_lens")?, arr("output_lens")?, arr("itls")?);
    let errors = o.get("errors").and_then(Value::as_array);
    let starts = o.get("start_times").and_then(Value::as_array);
    let n = ttfts.len();
    for (k, len) in [
        ("input_lens", ins.len()),
        ("output_lens", outs.len()),
        ("itls", itls.len()),
    ] {
        if len != n {
            return Err(invalid(
                path,
                0,
                format!("`{k}` has {len} entries but `ttfts` has {n}"),
            ));
        }
    }
    // `start_times` may be absolute clock times: keep them relative to the first send.
    let t0 = starts
        .map(|s| {
            s.iter()
                .filter_map(Value::as_f64)
                .fold(f64::INFINITY, f64::min)
        })
        .filter(|t| t.is_finite());
    let num = |k: &str, i: usize, v: &Value| {
        v.as_f64()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| {
                invalid(
                    path,
                    0,
                    format!("`{k}[{i}]`: expected a non-negative number, got {v}"),
                )
            })
    };
    let int = |k: &str, i: usize, v: &Value| {
        v.as_u64()
            .and_then(|x| u32::try_from(x).ok())
            .ok_or_else(|| {
                invalid(
                    path,
                    0,
                    format!("`{k}[{i}]`: expected a non-negative integer, got {v}"),
                )
            })
    };
    let mut out = Vec::with_capacity(n);
    let mut failed = 0;
    for i in 0..n {
        let err = errors
            .and_then(|e| e.get(i))
            .and_then(Value::as_str)
            .unwrap_or("");
        let output_tokens = int("output_lens", i, &outs[i])?;
        if !err.is_empty() || output_tokens == 0 {
            failed += 1;
            continue;
        }
        let ttft_s = num("ttfts", i, &ttfts[i])?;
        let gaps = itls[i]
            .as_array()
            .ok_or_else(|| invalid(path, 0, format!("`itls[{i}]`: expected a list of seconds")))?;
        let itls_s = gaps
            .iter()
            .map(|g| num(&format!("itls[{i}]"), i, g))
            .collect::<Result<Vec<_>, _>>()?;
        let arrival_s = match (starts.and_then(|s| s.get(i)), t0) {
            (Some(v), Some(t0)) => Some(num("start_times", i, v)? - t0),
            _ => None,
        };
        out.push(RequestRecord {
            arrival_s,
            prompt_tokens: int("input_lens", i, &ins[i])?,
            output_tokens,
            ttft_s,
            e2e_s: ttft_s + itls_s.iter().sum::<f64>(),
            itls_s,
        });
    }
    Ok((out, failed))
}
