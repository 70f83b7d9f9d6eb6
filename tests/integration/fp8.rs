//! FP8 dense models end to end: `precision: fp8` (and an FP8 checkpoint's own
//! `quantization_config`) price the projections with the FP8 GEMM fits and size weights at one
//! byte; `kv_cache_dtype: fp8` halves the KV cache; a GPU without FP8 tensor cores is a
//! configuration error naming `precision`.

use std::path::{Path, PathBuf};

use crate::common::bin;

fn tmp(name: &str) -> PathBuf {
    crate::common::fresh_dir("fp8", name)
}

/// Qwen3-32B on two GPUs of `device`, a short closed loop; `extra` adds top-level keys.
fn yaml(model: &str, device: &str, extra: &str) -> String {
    format!(
        "model: {model}\n\
         device: {device}\n\
         tensor_parallel_size: 2\n\
         {extra}\n\
         scheduler: {{type: sarathi, chunk_size: 2048, batch_size_cap: 128}}\n\
         workload:\n  closed_loop: {{concurrency: 16, num_requests: 64, warmup_requests: 16, \
         lengths: {{fixed: {{prefill_tokens: 1024, decode_tokens: 128}}}}, seed: 7}}\n"
    )
}

/// Run `simulate` on `text` written into `dir`: exit code, stderr, and summary.json if any.
fn simulate(dir: &Path, text: &str) -> (Option<i32>, String, Option<serde_json::Value>) {
    let cfg = dir.join("sim.yaml");
    std::fs::write(&cfg, text).unwrap();
    let out = dir.join("out");
    let o = bin()
        .args(["simulate", "--no-plots", "--config"])
        .arg(&cfg)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    let summary = std::fs::read_to_string(out.join("summary.json"))
        .ok()
        .map(|s| serde_json::from_str(&s).unwrap());
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        summary,
    )
}

fn mean(s: &serde_json::Value, metric: &str) -> f64 {
    s[metric]["mean"]
        .as_f64()
        .unwrap_or_else(|| panic!("{metric}: {s}"))
}

#[test]
fn qwen3_32b_fp8_on_h100_end_to_end() {
    let run = |name: &str, extra: &str| {
        let dir = tmp(name);
        let (code, err, summary) = simulate(&dir, &yaml("Qwen/Qwen3-32B", "h100", extra));
        assert_eq!(code, Some(0), "{name}: {err}");
        let s = summary.expect("summary.json");
        assert_eq!(s["requests"]["completed"], 48, "{name}");
        s
    };
    let bf16 = run("bf16", "");
    let fp8 = run("fp8", "precision: fp8");
    let fp8_kv = run("fp8kv", "precision: fp8\nkv_cache_dtype: fp8");
    // The run records the FP8 GEMM fit it used and the formats it simulated.
    let described = fp8["run"]["predictor"].as_str().unwrap();
    assert!(described.contains("fp8 gemm: h100/kernels"), "{described}");
    assert!(!bf16["run"]["predictor"].as_str().unwrap().contains("fp8"));
    assert_eq!(fp8["run"]["config"]["model"]["precision"], "fp8");
    assert!(bf16["run"]["config"]["model"].get("precision").is_none());
    // Decode reads every weight once per step: half the bytes, a markedly shorter TPOT; the
    // prompt's large GEMMs run on FP8 tensor cores.
    let (t16, t8) = (mean(&bf16, "tpot"), mean(&fp8, "tpot"));
    assert!(t8 < 0.9 * t16 && t8 > 0.4 * t16, "tpot bf16 {t16} fp8 {t8}");
    assert!(mean(&fp8, "ttft") < mean(&bf16, "ttft"));
    // Weights at one byte leave more KV blocks; an FP8 cache doubles them again.
    let blocks = |s: &serde_json::Value| s["run"]["kv_blocks_per_replica"].as_u64().unwrap();
    assert!(
        blocks(&fp8) > blocks(&bf16),
        "{} {}",
        blocks(&fp8),
        blocks(&bf16)
    );
    let ratio = blocks(&fp8_kv) as f64 / blocks(&fp8) as f64;
    assert!((1.95..2.05).contains(&ratio), "{ratio}");
    // Reading half the KV bytes cannot make decode slower.
    assert!(mean(&fp8_kv, "tpot") <= mean(&fp8, "tpot"));
}

#[test]
fn fp8_on_a100_is_a_config_error_naming_precision() {
    let dir = tmp("a100");
    let (code, err, _) = simulate(&dir, &yaml("Qwen/Qwen3-32B", "a100", "precision: fp8"));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("precision") && err.contains("fp8_dense_tflops"),
        "{err}"
    );
    // An FP8 checkpoint defaults to fp8: the same error says where the default came from,
    // and `precision: bf16` simulates it in 16 bits.
    let ckpt = dir.join("Qwen3-32B-FP8");
    std::fs::create_dir_all(&ckpt).unwrap();
    let base = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/models/Qwen__Qwen3-32B.json"),
    )
    .unwrap();
    let mut cfg: serde_json::Value = serde_json::from_str(&base).unwrap();
    cfg["quantization_config"] = serde_json::json!({
        "activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
        "weight_block_size": [128, 128]
    });
    std::fs::write(ckpt.join("config.json"), cfg.to_string()).unwrap();
    let (code, err, _) = simulate(&dir, &yaml("Qwen3-32B-FP8", "a100", ""));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("precision") && err.contains("FP8 checkpoint"),
        "{err}"
    );
    let (code, err, s) = simulate(&dir, &yaml("Qwen3-32B-FP8", "h100", ""));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(s.unwrap()["run"]["config"]["model"]["precision"], "fp8");
    let (code, err, _) = simulate(&dir, &yaml("Qwen3-32B-FP8", "a100", "precision: bf16"));
    assert_eq!(code, Some(0), "{err}");
    // Vidur's semantics know 16 bits only.
    let (code, err, _) = simulate(
        &dir,
        &yaml("Qwen/Qwen3-32B", "h100", "precision: fp8\ncompat: vidur"),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("precision"), "{err}");
}
