//! `validate` end to end on the measurement fixtures: every importer's points reach the
//! report, per-request files get distribution metrics and CDF overlays, points we cannot
//! simulate are listed with their reason, and a bad input is exit code 2.

use std::collections::BTreeSet;

use crate::common::{fresh_dir, run_bin as run};

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/measured/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn validate_writes_tables_plots_and_lists_what_it_skips() {
    let dir = fresh_dir("validate", "fixtures");
    let out = dir.join("out");
    let (code, text) = run(&[
        "validate",
        "--measured",
        &fixture("silicon.csv"),
        &fixture("per_request.csv"),
        &fixture("vllm_bench.json"),
        "--requests-per-client",
        "2",
        "--output",
        out.to_str().unwrap(),
    ]);
    // Far from tiny hand-written numbers: outside the thresholds, but not an error.
    assert_eq!(code, Some(1), "{text}");
    let csv = std::fs::read_to_string(out.join("comparison.csv")).unwrap();
    assert!(
        csv.starts_with("id,metric,measured,predicted,error_pct\n"),
        "{csv}"
    );
    let pairs: BTreeSet<(String, String)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string())
        })
        .collect();
    for id in ["a1", "a2", "vllm_bench", "pr-run1"] {
        assert!(
            pairs.contains(&(id.to_string(), "ttft_mean_ms".to_string())),
            "{id}: {csv}"
        );
    }
    // Per-request inputs are compared on their distributions too.
    for m in ["ttft_p50_ms", "ttft_p99_ms", "tpot_p99_ms", "e2e_p99_s"] {
        assert!(
            pairs.contains(&("pr-run1".to_string(), m.to_string())),
            "{m}: {csv}"
        );
    }
    // Summary-only points are not.
    assert!(!pairs.contains(&("a1".to_string(), "ttft_p99_ms".to_string())));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let skipped: Vec<&str> = summary["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    // a3 (fp8) is simulated with `precision: fp8`.
    assert_eq!(skipped, ["a4", "a5"], "{summary}");
    let a3 = std::fs::read_to_string(out.join("sims/a3.yaml")).unwrap();
    assert!(a3.contains("precision: fp8"), "{a3}");
    assert_eq!(summary["points"]["failed"], 0, "{summary}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    // The benchmark's failed request is said, not silently dropped.
    assert!(md.contains("1 failed request(s) in the benchmark"), "{md}");
    for why in ["attention data parallelism", "disaggregated"] {
        assert!(md.contains(why), "{why}: {md}");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("data:image/png;base64,"));
    assert!(html.contains("plots/scatter_ttft_mean_ms.svg"));
    assert!(!html.contains("http://") && !html.contains("https://"));
    for f in [
        "plots/scatter_ttft_mean_ms.png",
        "plots/scatter_tpot_mean_ms.svg",
        "plots/cdf_ttft_pr-run1.png",
        "plots/cdf_tpot_pr-run1.svg",
    ] {
        assert!(out.join(f).is_file(), "{f} missing: {text}");
    }
    // Every simulated point can be rerun from its YAML.
    let sim = out.join("sims/a1.yaml");
    let (code, text) = run(&["simulate", "--config", sim.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{text}");

    // Rerunning into the same folder replaces it; someone else's folder is refused.
    let (code, _) = run(&[
        "validate",
        "--measured",
        &fixture("silicon.csv"),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1));
    let mine = dir.join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep").unwrap();
    let (code, text) = run(&[
        "validate",
        "--measured",
        &fixture("silicon.csv"),
        "--output",
        mine.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("not empty"), "{text}");
    assert!(mine.join("notes.txt").is_file());
}

#[test]
fn validate_bad_inputs_are_exit_code_2_with_the_file() {
    let dir = fresh_dir("validate", "bad");
    for (f, want) in [
        ("silicon_missing_column.csv", "silicon_missing_column.csv"),
        ("unknown.csv", "unknown.csv"),
    ] {
        let (code, text) = run(&[
            "validate",
            "--measured",
            &fixture(f),
            "--output",
            dir.join("o").to_str().unwrap(),
        ]);
        assert_eq!(code, Some(2), "{f}: {text}");
        assert!(text.contains(want), "{f}: {text}");
    }
    let (code, text) = run(&[
        "validate",
        "--measured",
        &fixture("silicon.csv"),
        "--threshold",
        "ttft_mean=5",
        "--output",
        dir.join("o").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("ttft_mean"), "{text}");
}

#[test]
fn simulate_and_run_accept_a_calibration_with_serving_overheads() {
    use vidur_search::predictor::analytic::calibration::Calibration;
    use vidur_search::predictor::serving::{OverheadTerms, ServingCalibration};
    let dir = fresh_dir("validate", "calibration-flag");
    let mut cal = Calibration::embedded();
    cal.serving = Some(ServingCalibration {
        engines: [(
            "default".to_string(),
            OverheadTerms {
                step_ms: 5.0,
                per_seq_ms: 0.0,
                per_prefill_token_us: 0.0,
                decode_step_ms: 0.0,
                gpu_factor: Default::default(),
            },
        )]
        .into(),
        provenance: Default::default(),
    });
    let path = dir.join("cal.json");
    std::fs::write(&path, serde_json::to_string(&cal).unwrap()).unwrap();
    let cal_arg = path.to_str().unwrap();
    // A light load, so each decode step's time shows in TPOT rather than in queueing.
    let yaml = dir.join("sim.yaml");
    std::fs::write(
        &yaml,
        "model: meta-llama/Llama-3.1-8B\ndevice: h100\nscheduler: {type: sarathi, chunk_size: 2048}\n\
         workload:\n  closed_loop:\n    concurrency: 4\n    num_requests: 40\n    seed: 1\n    \
         lengths: {fixed: {prefill_tokens: 256, decode_tokens: 64}}\n",
    )
    .unwrap();
    let tpot = |extra: &[&str]| {
        let mut args = vec!["simulate", "--config", yaml.to_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        let (code, text) = run(&args);
        assert_eq!(code, Some(0), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["tpot"]["mean"].as_f64().unwrap()
    };
    let plain = tpot(&[]);
    let slowed = tpot(&["--calibration", cal_arg]);
    // Every step pays 5 ms more; TPOT is one step per token at this load.
    let added_ms = (slowed - plain) * 1e3;
    assert!((4.5..5.5).contains(&added_ms), "{plain} -> {slowed}");

    // `run --calibration` prices a space with it too.
    let space = dir.join("space.yaml");
    std::fs::write(
        &space,
        "name: cal-flag\nmodels: [meta-llama/Llama-3.1-8B]\nworkloads:\n  - name: w\n    \
         lengths: {fixed: {prefill_tokens: 256, decode_tokens: 64}}\n    \
         arrival: {closed_loop: {concurrency: [4]}}\n    num_requests: 40\n\
         clusters:\n  - {gpu: h100, max_gpus: 1}\ntp: [1]\nreplicas: [1]\n\
         schedulers:\n  - {type: sarathi, chunk_size: [2048]}\n\
         slos:\n  - {metric: tpot, quantile: 0.9, max_seconds: 0.5}\n",
    )
    .unwrap();
    let run_tpot = |name: &str, extra: &[&str]| {
        let out = dir.join(name);
        let mut args = vec![
            "run",
            space.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let (code, text) = run(&args);
        assert_eq!(code, Some(0), "{text}");
        let mut r = csv::Reader::from_path(out.join("results.csv")).unwrap();
        let col = r
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "tpot_p90_s")
            .unwrap();
        let row = r.records().next().unwrap().unwrap();
        row[col].parse::<f64>().unwrap()
    };
    let plain = run_tpot("run-plain", &[]);
    let slowed = run_tpot("run-cal", &["--calibration", cal_arg]);
    let added_ms = (slowed - plain) * 1e3;
    assert!((4.5..5.5).contains(&added_ms), "{plain} -> {slowed}");
}

/// `reports/accuracy/` is our published error against the shared measurements; it must be
/// the output of the code as it is, so a model change that moves it regenerates it.
#[test]
fn the_published_accuracy_report_is_current() {
    let dir = fresh_dir("validate", "accuracy");
    let out = dir.join("accuracy");
    let shared = crate::common::shared();
    let measured = shared.join("data/measured/aic_silicon_dense.csv");
    let (code, text) = run(&[
        "validate",
        "--measured",
        measured.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(code == Some(0) || code == Some(1), "{text}");
    let published = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/accuracy");
    let fresh = std::fs::read_to_string(out.join("comparison.csv")).unwrap();
    let shipped = std::fs::read_to_string(published.join("comparison.csv")).unwrap();
    assert!(
        fresh == shipped,
        "reports/accuracy is stale: rerun `vidur-search validate --measured ../shared/data/measured/aic_silicon_dense.csv --output reports/accuracy` and commit it"
    );
}
