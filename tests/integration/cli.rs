//! The binary end to end: the README's conformance command writes every output, our YAML
//! format runs, and bad input exits non-zero with a message naming the file and field.

use std::path::{Path, PathBuf};

use crate::common::{bin, shared};

fn tmp(name: &str) -> PathBuf {
    crate::common::fresh_dir("cli", name)
}

fn fails_with(args: &[&str], needles: &[&str]) {
    let out = bin().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure for {args:?}");
    assert_ne!(
        out.status.code(),
        Some(101),
        "panicked on {args:?}: {stderr}"
    );
    for n in needles {
        assert!(
            stderr.contains(n),
            "stderr for {args:?} lacks {n:?}:\n{stderr}"
        );
    }
}

#[test]
fn vidur_config_run_writes_every_output() {
    let s = shared();
    let case = s.join("conformance/cases/vllm_heavy");
    let out = tmp("vllm_heavy");
    let status = bin()
        .args(["simulate", "--vidur-config"])
        .arg(case.join("config.json"))
        .arg("--trace")
        .arg(case.join("trace.csv"))
        .arg("--vidur-tables")
        .arg(s.join("conformance/tables/llama2-7b_a100_tp1"))
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    for f in [
        "request_metrics.csv",
        "summary.json",
        "chrome_trace.json",
        "plots/request_e2e_time.csv",
        "plots/batch_size.csv",
        "plots/prefill_e2e_time.csv",
    ] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["requests"]["completed"], 300);
    assert!(summary["ttft"]["p99"].as_f64().unwrap() > 0.0);
    assert!(summary["tbt"]["p50"].as_f64().unwrap() > 0.0);
    assert_eq!(summary["run"]["compat"], "vidur");
    let trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("chrome_trace.json")).unwrap())
            .unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    assert!(
        events.iter().filter(|e| e["ph"] == "X").count() > 100,
        "chrome trace has batch slices"
    );
}

fn write_yaml(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("sim.yaml");
    std::fs::write(&p, body).unwrap();
    p
}

fn yaml(tables: &str, scheduler: &str, extra: &str) -> String {
    format!(
        "model: meta-llama/Llama-2-7b-hf\ndevice: a100\nscheduler:\n  {scheduler}\nworkload:\n  synthetic:\n    num_requests: 200\n    lengths: {{fixed: {{prefill_tokens: 512, decode_tokens: 64}}}}\n    intervals: {{poisson: {{qps: 4.0}}}}\npredictor:\n  vidur_tables: {{dir: \"{tables}\"}}\n{extra}"
    )
}

#[test]
fn yaml_config_runs_in_both_modes_and_is_deterministic() {
    let s = shared();
    let tables = s
        .join("conformance/tables/llama2-7b_a100_tp1")
        .display()
        .to_string();
    let dir = tmp("yaml");
    let cfg = write_yaml(&dir, &yaml(&tables, "type: sarathi\n  chunk_size: 256", ""));
    let run = |extra: &[&str]| {
        let out = bin()
            .args(["simulate", "--json", "--config"])
            .arg(&cfg)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let a = run(&[]);
    let b = run(&[]);
    assert_eq!(a, b, "same config and seed must give identical results");
    assert_eq!(a["requests"]["completed"], 200);
    let v = run(&["--compat", "vidur"]);
    assert_eq!(v["requests"]["completed"], 200);
    assert_ne!(
        a["e2e"], v["e2e"],
        "Vidur's truncated Poisson arrivals differ from exact ones"
    );
}

#[test]
fn bad_inputs_exit_nonzero_with_clear_messages() {
    let s = shared();
    let tables = s
        .join("conformance/tables/llama2-7b_a100_tp1")
        .display()
        .to_string();
    let dir = tmp("bad");
    let p = write_yaml(&dir, &yaml(&tables, "type: fastest", ""));
    fails_with(
        &["simulate", "--config", p.to_str().unwrap()],
        &["sim.yaml", "fastest"],
    );

    let p = write_yaml(
        &dir,
        &yaml(&tables, "type: vllm", "tensor_parallel_size: 3\n"),
    );
    fails_with(
        &["simulate", "--config", p.to_str().unwrap()],
        &["sim.yaml", "tensor_parallel_size 3", "32 attention heads"],
    );

    let p = write_yaml(
        &dir,
        &yaml(&tables, "type: vllm", "").replace("qps: 4.0", "qps: -1"),
    );
    fails_with(
        &["simulate", "--config", p.to_str().unwrap()],
        &["qps", "-1"],
    );

    let p = write_yaml(&dir, &yaml(&tables, "type: vllm", "colour: blue\n"));
    fails_with(
        &["simulate", "--config", p.to_str().unwrap()],
        &["sim.yaml", "colour"],
    );

    // A trace without the prompt column.
    let trace = dir.join("bad_trace.csv");
    std::fs::write(&trace, "arrived_at,num_decode_tokens\n0.0,10\n").unwrap();
    let case = s.join("conformance/cases/vllm_heavy");
    fails_with(
        &[
            "simulate",
            "--vidur-config",
            case.join("config.json").to_str().unwrap(),
            "--trace",
            trace.to_str().unwrap(),
            "--vidur-tables",
            &tables,
        ],
        &["bad_trace.csv", "num_prefill_tokens"],
    );

    // Missing tables folder and a Vidur config without tables.
    fails_with(
        &[
            "simulate",
            "--vidur-config",
            case.join("config.json").to_str().unwrap(),
            "--trace",
            case.join("trace.csv").to_str().unwrap(),
            "--vidur-tables",
            "/nonexistent/tables",
        ],
        &["/nonexistent/tables"],
    );
    // Without --vidur-tables a Vidur config is priced analytically; the fits' source cannot
    // be combined with tables.
    fails_with(
        &[
            "simulate",
            "--vidur-config",
            case.join("config.json").to_str().unwrap(),
            "--vidur-tables",
            "x",
            "--calibration-source",
            "vidur",
        ],
        &["--calibration-source"],
    );

    // An unknown scheduler in a Vidur config.
    let text = std::fs::read_to_string(case.join("config.json"))
        .unwrap()
        .replace("\"name\": \"vllm\"", "\"name\": \"fifo\"");
    let bad = dir.join("config.json");
    std::fs::write(&bad, text).unwrap();
    fails_with(
        &[
            "simulate",
            "--vidur-config",
            bad.to_str().unwrap(),
            "--vidur-tables",
            &tables,
        ],
        &["config.json", "replica_scheduler_config.name", "fifo"],
    );
}
