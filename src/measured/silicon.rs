//! The silicon CSV of `../shared/data/measured/` (NVIDIA AIConfigurator's silicon sample): one
//! closed-loop point per row, `batch_size` requests in flight, every request `isl` prompt and
//! `osl` output tokens, measured mean TTFT and TPOT. Disaggregated rows and rows with attention
//! data parallelism or MoE expert parallelism are kept but marked `unsupported`.

use std::collections::HashMap;
use std::path::Path;

use super::{csv_line, invalid, Lengths, Load, MeasuredError, MeasuredMetrics, MeasuredPoint};

/// Columns every row must have.
const REQUIRED: [&str; 15] = [
    "id",
    "backend",
    "backend_version",
    "model_path",
    "system",
    "precision",
    "mode",
    "isl",
    "osl",
    "gemm_quant_mode",
    "batch_size",
    "tp_size",
    "pp_size",
    "silicon_ttft_ms",
    "silicon_tpot_ms",
];

/// Parse the whole file (`text` is its content).
pub(super) fn parse(path: &Path, text: &str) -> Result<Vec<MeasuredPoint>, MeasuredError> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| invalid(path, 1, format!("CSV header: {e}")))?
        .clone();
    let col: HashMap<&str, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim(), i))
        .collect();
    if let Some(missing) = REQUIRED.iter().find(|c| !col.contains_key(**c)) {
        return Err(invalid(
            path,
            1,
            format!("the header lacks column `{missing}`"),
        ));
    }
    let mut points = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = csv_line(text, e.position());
            invalid(path, line, format!("CSV: {e}"))
        })?;
        let line = csv_line(text, rec.position());
        let get = |name: &str| col.get(name).and_then(|&i| rec.get(i)).unwrap_or("").trim();
        let num = |name: &str| -> Result<f64, MeasuredError> {
            get(name)
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| {
                    invalid(
                        path,
                        line,
                        format!(
                            "column `{name}`: expected a non-negative number, got {:?}",
                            get(name)
                        ),
                    )
                })
        };
        let int = |name: &str| -> Result<u32, MeasuredError> {
            get(name).parse::<u32>().ok().ok_or_else(|| {
                invalid(
                    path,
                    line,
                    format!(
                        "column `{name}`: expected a non-negative integer, got {:?}",
                        get(name)
                    ),
                )
            })
        };
        let id = get("id").to_string();
        if id.is_empty() {
            return Err(invalid(path, line, "column `id`: empty"));
        }
        if let Some(first) = seen.insert(id.clone(), line) {
            return Err(invalid(
                path,
                line,
                format!("column `id`: {id:?} repeats line {first}"),
            ));
        }
        let model = get("model_path").to_string();
        let gpu = get("system").to_string();
        if model.is_empty() || gpu.is_empty() {
            let which = if model.is_empty() {
                "model_path"
            } else {
                "system"
            };
            return Err(invalid(path, line, format!("column `{which}`: empty")));
        }
        let precision = match (get("gemm_quant_mode"), get("precision")) {
            ("fp8", _) => "fp8".to_string(),
            (_, "") => "bf16".to_string(),
            (_, p) => p.to_lowercase(),
        };
        // The row's `precision` is the serving precision, KV cache included: an `fp8` row keeps
        // an FP8 KV cache. The rows themselves say so: TRT-LLM serves Qwen3-32B at TP1 with 64
        // clients of 4,096 + 128 tokens at 1.6 s TTFT, which needs every request's KV reserved
        // at once (TRT-LLM reserves prompt + output): 71 GB in 16 bits beside about 35 GB of
        // weights on an 80 GB GPU, 35 GB in FP8.
        let kv_cache_dtype = get("precision")
            .eq_ignore_ascii_case("fp8")
            .then(|| "fp8".to_string());
        let (tp, pp, concurrency, isl, osl) = (
            int("tp_size")?,
            int("pp_size")?,
            int("batch_size")?,
            int("isl")?,
            int("osl")?,
        );
        if tp == 0 || pp == 0 || concurrency == 0 || isl == 0 || osl == 0 {
            return Err(invalid(
                path,
                line,
                "columns `tp_size`, `pp_size`, `batch_size`, `isl`, `osl` must be at least 1",
            ));
        }
        let mode = get("mode");
        let attn_dp = get("attention_dp_size");
        let moe_ep = get("moe_ep_size");
        let unsupported = if mode != "agg" {
            Some(format!("disaggregated serving (mode={mode})"))
        } else if !attn_dp.is_empty() && attn_dp != "1" {
            Some(format!(
                "attention data parallelism (attention_dp_size={attn_dp})"
            ))
        } else if moe_ep.parse::<f64>().is_ok_and(|x| x > 1.0) {
            Some(format!("MoE expert parallelism (moe_ep_size={moe_ep})"))
        } else {
            None
        };
        let engine = get("backend").to_lowercase();
        let version = get("backend_version");
        points.push(MeasuredPoint {
            id,
            origin: format!("{}:{line}", path.display()),
            engine: (!engine.is_empty()).then_some(engine),
            engine_version: (!version.is_empty()).then(|| version.to_string()),
            model,
            gpu,
            precision,
            kv_cache_dtype,
            tp,
            pp,
            unsupported,
            load: Load::ClosedLoop {
                concurrency,
                num_requests: None,
            },
            lengths: Lengths::Fixed {
                input: isl,
                output: osl,
            },
            metrics: MeasuredMetrics {
                ttft_mean_ms: Some(num("silicon_ttft_ms")?),
                tpot_mean_ms: Some(num("silicon_tpot_ms")?),
                ..MeasuredMetrics::default()
            },
            requests: Vec::new(),
            duration_s: None,
            failed_requests: 0,
        });
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "id,backend,backend_version,model_path,system,precision,mode,isl,osl,gemm_quant_mode,batch_size,tp_size,pp_size,attention_dp_size,moe_ep_size,silicon_ttft_ms,silicon_tpot_ms\n";

    #[test]
    fn duplicate_ids_and_expert_parallel_rows() {
        let row = "x,vllm,1,m,g,,agg,10,5,,2,1,1,,1,3,4\n";
        let e = parse(Path::new("f.csv"), &format!("{HEAD}{row}{row}")).unwrap_err();
        assert!(
            e.to_string().starts_with("f.csv:3:") && e.to_string().contains("repeats line 2"),
            "{e}"
        );
        let ep = "y,vllm,1,m,g,FP16,agg,10,5,,2,1,1,1,8,3,4\n";
        let p = parse(Path::new("f.csv"), &format!("{HEAD}{ep}")).unwrap();
        assert_eq!(p[0].precision, "fp16");
        assert!(p[0]
            .unsupported
            .as_deref()
            .unwrap()
            .contains("moe_ep_size=8"));
    }

    #[test]
    fn an_fp8_row_serves_weights_and_kv_cache_in_fp8() {
        let rows = "a,trtllm,1,m,g,fp8,agg,10,5,fp8,2,1,1,,1,3,4\n\
                    b,trtllm,1,m,g,,agg,10,5,fp8,2,1,1,,1,3,4\n\
                    c,vllm,1,m,g,,agg,10,5,,2,1,1,,1,3,4\n";
        let p = parse(Path::new("f.csv"), &format!("{HEAD}{rows}")).unwrap();
        let got: Vec<(&str, Option<&str>)> = p
            .iter()
            .map(|p| (p.precision.as_str(), p.kv_cache_dtype.as_deref()))
            .collect();
        // Only the row's serving precision says FP8 KV; fp8 GEMMs alone keep a 16-bit cache.
        assert_eq!(got, [("fp8", Some("fp8")), ("fp8", None), ("bf16", None)]);
    }

    #[test]
    fn zero_concurrency_is_rejected() {
        let row = "x,vllm,1,m,g,,agg,10,5,,0,1,1,,1,3,4\n";
        let e = parse(Path::new("f.csv"), &format!("{HEAD}{row}")).unwrap_err();
        assert!(e.to_string().contains("batch_size"), "{e}");
    }
}
