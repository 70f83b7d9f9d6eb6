//! `vidur-search predict`: one iteration's time for a batch given on the command line, and its
//! per-operator breakdown.

use crate::common::bin;

/// Run `predict --json` with `extra` flags after the Llama-3.1-8B / H100 / TP1 ones.
fn predict_json(extra: &[&str]) -> serde_json::Value {
    let out = bin()
        .args([
            "predict",
            "--model",
            "meta-llama/Llama-3.1-8B",
            "--gpu",
            "h100",
            "--tp",
            "1",
            "--json",
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "predict {extra:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The iteration time, after checking it is the sum of the stage times and each stage time
/// the sum of its breakdown.
fn checked_iteration_ms(v: &serde_json::Value) -> f64 {
    let it = v["iteration_ms"].as_f64().unwrap();
    let stages = v["stages"].as_array().unwrap();
    let mut sum = 0.0;
    for s in stages {
        let ms = s["ms"].as_f64().unwrap();
        let parts: f64 = s["breakdown"]
            .as_object()
            .unwrap()
            .values()
            .map(|x| x.as_f64().unwrap())
            .sum();
        assert!((parts - ms).abs() <= 1e-9 * ms, "{parts} vs {ms}");
        sum += ms;
    }
    assert!((sum - it).abs() <= 1e-9 * it, "{sum} vs {it}");
    it
}

#[test]
fn decode_batch_time_is_plausible_and_prefill_adds_to_it() {
    let decode = predict_json(&["--decode", "64x1024"]);
    assert_eq!(decode["stages"].as_array().unwrap().len(), 1);
    assert!(decode["predictor"]
        .as_str()
        .unwrap()
        .starts_with("analytic"));
    let b = &decode["stages"][0]["breakdown"];
    assert!(b["attn_decode"].as_f64().unwrap() > 0.0);
    assert_eq!(b["attn_prefill"].as_f64(), Some(0.0));
    let ms = checked_iteration_ms(&decode);
    // A decode step is memory-bound: the 16 GB of BF16 weights plus the KV cache of 64 × 1,024
    // tokens (128 KiB each: 32 layers × 8 KV heads × 128 × K,V × 2 bytes, 8.6 GB) read at the
    // H100's 3.35 TB/s take ≥ 7 ms, so 5 ms is a safe floor; 40 ms would be ~4x that roofline,
    // which only a broken efficiency curve would give. Our predictor gives 9.6 ms.
    assert!((5.0..40.0).contains(&ms), "{ms} ms");

    let mixed = predict_json(&["--decode", "64x1024", "--prefill", "512x8"]);
    let mixed_ms = checked_iteration_ms(&mixed);
    assert!(mixed_ms > ms, "{mixed_ms} <= {ms}");
    assert!(
        mixed["stages"][0]["breakdown"]["attn_prefill"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

#[test]
fn pipeline_stages_each_get_a_breakdown() {
    let v = predict_json(&["--pp", "2", "--decode", "16x512", "--prefill", "128x1"]);
    let stages = v["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 2);
    assert!(stages[0]["breakdown"].get("send_recv").is_some());
    assert!(stages[0]["breakdown"].get("embedding").is_some());
    assert!(stages[1]["breakdown"].get("lm_head_sampling").is_some());
    checked_iteration_ms(&v);
}

#[test]
fn bad_batches_fail_with_the_expected_form() {
    for (args, needle) in [
        (
            vec!["--decode", "64"],
            "--decode 64: expected COUNTxCONTEXT, e.g. 64x1024",
        ),
        (
            vec!["--prefill", "512by8"],
            "--prefill 512by8: expected TOKENSxCOUNT, e.g. 512x8",
        ),
        (vec![], "the batch is empty"),
        (
            vec!["--tp", "3", "--decode", "1x1"],
            "--tp 3 does not divide",
        ),
    ] {
        let out = bin()
            .args([
                "predict",
                "--model",
                "meta-llama/Llama-3.1-8B",
                "--gpu",
                "h100",
            ])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert_ne!(out.status.code(), Some(101), "{args:?} panicked: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
