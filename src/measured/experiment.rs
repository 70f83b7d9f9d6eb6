//! The seeds' experiment JSON template: `experiment_id`, `config` {`model`, `tp`, `pp`, `gpu`,
//! optional `engine`, `engine_version`, `precision`}, `workload` {`type`: `poisson_trace` with
//! `rps` and `dataset`, or `closed_loop` with `concurrency` and `dataset` or
//! `input_len`/`output_len`}, `metrics` {`ttft_ms`, `tpot_ms`: {`p50`, `p99`, `mean`},
//! `e2e_latency_s`: {`p50`, `p99`}, `throughput_token_s`}.

use std::path::Path;

use serde_json::Value;

use super::json::{f64_opt, str_opt, u32_opt, Obj};
use super::{invalid, Lengths, Load, MeasuredError, MeasuredMetrics, MeasuredPoint};

fn section<'a>(path: &Path, o: &'a Obj, key: &str) -> Result<&'a Obj, MeasuredError> {
    o.get(key)
        .and_then(Value::as_object)
        .ok_or_else(|| invalid(path, 0, format!("`{key}`: missing or not an object")))
}

/// Optional object `key` (absent = empty).
fn sub<'a>(path: &Path, o: &'a Obj, key: &str) -> Result<Option<&'a Obj>, MeasuredError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_object()
            .map(Some)
            .ok_or_else(|| invalid(path, 0, format!("`{key}`: expected an object"))),
    }
}

/// Parse one experiment object.
pub(super) fn parse(path: &Path, o: &Obj) -> Result<MeasuredPoint, MeasuredError> {
    let id = str_opt(path, o, "experiment_id")?
        .ok_or_else(|| invalid(path, 0, "`experiment_id`: expected a string"))?;
    let config = section(path, o, "config")?;
    let req = |k: &str| format!("`config.{k}`: missing");
    let model = str_opt(path, config, "model")?.ok_or_else(|| invalid(path, 0, req("model")))?;
    let gpu = str_opt(path, config, "gpu")?.ok_or_else(|| invalid(path, 0, req("gpu")))?;
    let tp = u32_opt(path, config, "tp")?.ok_or_else(|| invalid(path, 0, req("tp")))?;
    let pp = u32_opt(path, config, "pp")?.unwrap_or(1);
    if tp == 0 || pp == 0 {
        return Err(invalid(
            path,
            0,
            "`config.tp` and `config.pp` must be at least 1",
        ));
    }
    let workload = section(path, o, "workload")?;
    let kind = str_opt(path, workload, "type")?
        .ok_or_else(|| invalid(path, 0, "`workload.type`: missing"))?;
    let dataset = str_opt(path, workload, "dataset")?;
    let lengths = match (
        dataset,
        u32_opt(path, workload, "input_len")?,
        u32_opt(path, workload, "output_len")?,
    ) {
        (Some(d), _, _) => Lengths::Dataset(d),
        (None, Some(input), Some(output)) => Lengths::Fixed { input, output },
        _ => {
            return Err(invalid(
                path,
                0,
                "`workload`: needs `dataset` or both `input_len` and `output_len`",
            ))
        }
    };
    let load = match kind.as_str() {
        "poisson_trace" => Load::OpenLoop {
            request_rate: Some(
                f64_opt(path, workload, "rps")?
                    .filter(|r| *r > 0.0)
                    .ok_or_else(|| invalid(path, 0, "`workload.rps`: expected a positive number"))?,
            ),
            arrival: Some("poisson".to_string()),
            max_concurrency: None,
        },
        "closed_loop" => Load::ClosedLoop {
            concurrency: u32_opt(path, workload, "concurrency")?
                .filter(|c| *c > 0)
                .ok_or_else(|| invalid(path, 0, "`workload.concurrency`: expected a positive integer"))?,
            num_requests: u32_opt(path, workload, "num_requests")?.map(u64::from),
        },
        other => {
            return Err(invalid(
                path,
                0,
                format!("`workload.type`: {other:?} is not one we import (expected \"poisson_trace\" or \"closed_loop\")"),
            ))
        }
    };
    let m = section(path, o, "metrics")?;
    let (ttft, tpot, e2e) = (
        sub(path, m, "ttft_ms")?,
        sub(path, m, "tpot_ms")?,
        sub(path, m, "e2e_latency_s")?,
    );
    let get = |s: Option<&Obj>, k: &str| s.map_or(Ok(None), |s| f64_opt(path, s, k));
    let metrics = MeasuredMetrics {
        ttft_mean_ms: get(ttft, "mean")?,
        ttft_p50_ms: get(ttft, "p50")?,
        ttft_p99_ms: get(ttft, "p99")?,
        tpot_mean_ms: get(tpot, "mean")?,
        tpot_p50_ms: get(tpot, "p50")?,
        tpot_p99_ms: get(tpot, "p99")?,
        e2e_p50_s: get(e2e, "p50")?,
        e2e_p99_s: get(e2e, "p99")?,
        output_tok_s: f64_opt(path, m, "throughput_token_s")?,
    };
    Ok(MeasuredPoint {
        id,
        origin: path.display().to_string(),
        engine: str_opt(path, config, "engine")?.map(|e| e.to_lowercase()),
        engine_version: str_opt(path, config, "engine_version")?,
        model,
        gpu,
        precision: str_opt(path, config, "precision")?
            .unwrap_or_else(|| "bf16".to_string())
            .to_lowercase(),
        kv_cache_dtype: str_opt(path, config, "kv_cache_dtype")?,
        tp,
        pp,
        unsupported: None,
        load,
        lengths,
        metrics,
        requests: Vec::new(),
        duration_s: f64_opt(path, o, "duration_s")?,
        failed_requests: 0,
    })
}
