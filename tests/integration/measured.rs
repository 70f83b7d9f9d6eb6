//! Measurement importers: every fixture of tests/fixtures/measured/ read through `load` with
//! its values checked, the broken variants rejected with file:line and the field, and the real
//! silicon CSV of ../shared read whole.

use std::path::PathBuf;

use vidur_search::measured::{load, Format, Lengths, Load, MeasuredError};

use crate::common::shared;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/measured")
        .join(name)
}

fn close(a: Option<f64>, b: f64) {
    let a = a.expect("value present");
    assert!((a - b).abs() < 1e-9 * b.abs().max(1.0), "{a} != {b}");
}

#[test]
fn silicon_fixture() {
    let f = load(&fixture("silicon.csv")).unwrap();
    assert_eq!(f.format, Format::SiliconCsv);
    assert_eq!(f.points.len(), 5);
    let p = &f.points[0];
    assert_eq!(
        (
            p.id.as_str(),
            p.engine.as_deref(),
            p.engine_version.as_deref()
        ),
        ("a1", Some("vllm"), Some("0.12.0"))
    );
    assert_eq!(
        (
            p.model.as_str(),
            p.gpu.as_str(),
            p.precision.as_str(),
            p.tp,
            p.pp
        ),
        ("Qwen/Qwen3-32B", "h100_sxm", "bf16", 2, 1)
    );
    assert_eq!(
        p.load,
        Load::ClosedLoop {
            concurrency: 16,
            num_requests: None
        }
    );
    assert_eq!(
        p.lengths,
        Lengths::Fixed {
            input: 1024,
            output: 128
        }
    );
    close(p.metrics.ttft_mean_ms, 800.5);
    close(p.metrics.tpot_mean_ms, 16.25);
    assert!(p.origin.ends_with("silicon.csv:2"), "{}", p.origin);
    assert_eq!(p.unsupported, None);
    assert_eq!(f.points[2].precision, "fp8");
    assert!(f.points[3]
        .unsupported
        .as_deref()
        .unwrap()
        .contains("attention_dp_size=2"));
    assert_eq!(
        f.points[4].unsupported.as_deref(),
        Some("disaggregated serving (mode=disagg)")
    );
}

#[test]
fn vllm_bench_fixture() {
    let f = load(&fixture("vllm_bench.json")).unwrap();
    assert_eq!(f.format, Format::VllmBench);
    let p = &f.points[0];
    assert_eq!(p.id, "vllm_bench");
    assert_eq!(
        (p.gpu.as_str(), p.tp, p.pp, p.engine.as_deref()),
        ("h100_sxm", 2, 1, Some("vllm"))
    );
    assert_eq!(
        p.load,
        Load::ClosedLoop {
            concurrency: 2,
            num_requests: Some(4)
        }
    );
    assert_eq!(p.lengths, Lengths::PerRequest);
    // The timed-out request is skipped, and counted.
    assert_eq!(p.requests.len(), 3);
    assert_eq!(p.failed_requests, 1);
    let r = &p.requests[2];
    assert_eq!(
        (r.prompt_tokens, r.output_tokens, r.arrival_s),
        (100, 3, None)
    );
    assert!((r.e2e_s - 0.42).abs() < 1e-12);
    close(p.metrics.ttft_p99_ms, 298.0);
    close(p.metrics.e2e_p99_s, 0.4);
    close(p.metrics.output_tok_s, 4.5);
    close(p.duration_s, 2.0);
}

#[test]
fn vllm_bench_without_summary_uses_requests() {
    let p = load(&fixture("vllm_bench_no_summary.json"))
        .unwrap()
        .points
        .remove(0);
    assert_eq!(p.id, "open-2rps");
    assert_eq!(
        p.load,
        Load::OpenLoop {
            request_rate: Some(2.0),
            arrival: Some("poisson".into()),
            max_concurrency: None
        }
    );
    // TTFTs 0.1, 0.2, 0.3 s; 9 output tokens over 2 s.
    close(p.metrics.ttft_mean_ms, 200.0);
    close(p.metrics.ttft_p50_ms, 200.0);
    close(p.metrics.tpot_mean_ms, 50.0);
    close(p.metrics.output_tok_s, 4.5);
}

#[test]
fn experiment_fixture() {
    let f = load(&fixture("experiment.json")).unwrap();
    assert_eq!(f.format, Format::Experiment);
    let p = &f.points[0];
    assert_eq!(p.id, "llama3-70b-4xa100-run1");
    assert_eq!(
        (p.model.as_str(), p.gpu.as_str(), p.tp, p.pp),
        ("meta-llama/Meta-Llama-3-70B", "A100-80GB", 4, 1)
    );
    assert_eq!(
        (p.engine.as_deref(), p.engine_version.as_deref()),
        (Some("vllm"), Some("0.10.1"))
    );
    assert_eq!(
        p.load,
        Load::OpenLoop {
            request_rate: Some(2.0),
            arrival: Some("poisson".into()),
            max_concurrency: None
        }
    );
    assert_eq!(p.lengths, Lengths::Dataset("splitwise_conv".into()));
    close(p.metrics.ttft_p50_ms, 120.5);
    close(p.metrics.tpot_p99_ms, 45.1);
    close(p.metrics.e2e_p99_s, 6.8);
    close(p.metrics.output_tok_s, 2450.5);
}

#[test]
fn per_request_fixture() {
    let f = load(&fixture("per_request.csv")).unwrap();
    assert_eq!(f.format, Format::PerRequestCsv);
    let p = &f.points[0];
    assert_eq!(
        (p.id.as_str(), p.engine.as_deref(), p.tp, p.pp),
        ("pr-run1", Some("sglang"), 2, 1)
    );
    assert_eq!(p.requests.len(), 4);
    assert_eq!(p.requests[2].itls_s, vec![0.1; 4]);
    // Four arrivals over 1.5 s.
    match &p.load {
        Load::OpenLoop {
            request_rate: Some(r),
            ..
        } => assert!((r - 4.0 / 1.5).abs() < 1e-12),
        other => panic!("{other:?}"),
    }
    close(p.metrics.ttft_mean_ms, 250.0);
    // TPOTs (single-token request left out): 50, 100, 200 ms.
    close(p.metrics.tpot_p50_ms, 100.0);
    // 11 tokens from the first arrival (0) to the last completion (1.7 + 0.0 vs 2.1).
    close(p.metrics.output_tok_s, 11.0 / 2.1);
}

fn invalid_at(name: &str) -> (usize, String) {
    match load(&fixture(name)) {
        Err(MeasuredError::Invalid { line, msg, .. }) => (line, msg),
        other => panic!("{name}: expected Invalid, got {other:?}"),
    }
}

#[test]
fn broken_fixtures_are_rejected_with_line_and_field() {
    let (line, msg) = invalid_at("silicon_missing_column.csv");
    assert_eq!(line, 1);
    assert!(msg.contains("`isl`"), "{msg}");
    let (line, msg) = invalid_at("silicon_bad_number.csv");
    assert_eq!(line, 2);
    assert!(
        msg.contains("`silicon_ttft_ms`") && msg.contains("fast"),
        "{msg}"
    );
    let (line, msg) = invalid_at("per_request_bad_number.csv");
    assert_eq!(line, 10);
    assert!(
        msg.contains("`output_tokens`") && msg.contains("five"),
        "{msg}"
    );
    let (_, msg) = invalid_at("per_request_missing_gpu.csv");
    assert!(msg.contains("`gpu`"), "{msg}");
    let (_, msg) = invalid_at("vllm_bench_no_gpu.json");
    assert!(
        msg.contains("\"gpu\": \"h100\"") && msg.contains("\"tp\": 2"),
        "{msg}"
    );
    match load(&fixture("unknown.csv")) {
        Err(e @ MeasuredError::UnknownFormat { .. }) => {
            let s = e.to_string();
            assert!(
                s.contains("silicon_ttft_ms") && s.contains("prompt_tokens"),
                "{s}"
            );
        }
        other => panic!("expected UnknownFormat, got {other:?}"),
    }
}

#[test]
fn real_silicon_csv() {
    let path = shared().join("data/measured/aic_silicon_dense.csv");
    let f = load(&path).unwrap();
    assert_eq!(f.format, Format::SiliconCsv);
    assert_eq!(f.points.len(), 471);
    assert_eq!(
        f.points.iter().filter(|p| p.precision == "fp8").count(),
        180
    );
    assert_eq!(
        f.points
            .iter()
            .filter(|p| p.kv_cache_dtype.as_deref() == Some("fp8"))
            .count(),
        180
    );
    let mut engines: Vec<&str> = f
        .points
        .iter()
        .filter_map(|p| p.engine.as_deref())
        .collect();
    engines.sort_unstable();
    engines.dedup();
    assert_eq!(engines, ["sglang", "trtllm", "vllm"]);
    assert!(f
        .points
        .iter()
        .all(|p| p.unsupported.is_none() && p.gpu == "h100_sxm"));
    assert!(f
        .points
        .iter()
        .all(|p| p.metrics.ttft_mean_ms.unwrap() > 0.0 && p.metrics.tpot_mean_ms.unwrap() > 0.0));
}
