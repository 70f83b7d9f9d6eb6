//! Closed-loop workloads end to end: a YAML `closed_loop` workload through the binary keeps
//! `concurrency` requests in flight (Little's law, read back from `request_metrics.csv`), and a
//! bad closed-loop field is an error naming it.

use std::path::{Path, PathBuf};

use crate::common::{bin, read_csv};

fn tmp(name: &str) -> PathBuf {
    crate::common::fresh_dir("closed_loop", name)
}

/// `simulate --config cfg --output out` plus `extra` flags, which must succeed.
fn simulate_into(cfg: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let run = bin()
        .arg("simulate")
        .args(extra)
        .arg("--config")
        .arg(cfg)
        .arg("--output")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    run
}

/// A small model on one A100 with the default (analytic) predictor; `workload` is the YAML
/// body under `closed_loop:`.
fn yaml(workload: &str) -> String {
    format!(
        "model: meta-llama/Llama-2-7b-hf\n\
         device: a100\n\
         scheduler: {{type: vllm, batch_size_cap: 128}}\n\
         workload:\n  closed_loop: {{{workload}}}\n"
    )
}

/// Arrival and completion time of each request, by id (= arrival order), rebuilt from Vidur's
/// columns: arrivals are the running sum of `request_inter_arrival_delay` (empty for the first
/// request, which a closed loop without ramp-up sends at t = 0), completion = arrival +
/// `request_e2e_time`.
fn arrivals_and_completions(csv: &Path) -> Vec<(f64, f64)> {
    let (header, rows) = read_csv(csv);
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("request_metrics.csv lacks {name}: {header:?}"))
    };
    let (c_id, c_gap, c_e2e) = (
        col("Request Id"),
        col("request_inter_arrival_delay"),
        col("request_e2e_time"),
    );
    let mut rows: Vec<(u64, f64, f64)> = rows
        .iter()
        .map(|r| {
            let gap = if r[c_gap].is_empty() {
                0.0
            } else {
                r[c_gap].parse().unwrap()
            };
            let e2e: f64 = r[c_e2e]
                .parse()
                .unwrap_or_else(|_| panic!("request {} did not complete", r[c_id]));
            (r[c_id].parse().unwrap(), gap, e2e)
        })
        .collect();
    rows.sort_by_key(|r| r.0);
    let mut t = 0.0;
    rows.iter()
        .enumerate()
        .map(|(i, &(id, gap, e2e))| {
            assert_eq!(id, i as u64, "request ids are not 0..n");
            t += gap;
            (t, t + e2e)
        })
        .collect()
}

/// Time-averaged number of requests in flight over `[from, to]`.
fn mean_in_flight(reqs: &[(f64, f64)], from: f64, to: f64) -> f64 {
    let busy: f64 = reqs
        .iter()
        .map(|&(a, c)| (c.min(to) - a.max(from)).max(0.0))
        .sum();
    busy / (to - from)
}

#[test]
fn closed_loop_keeps_concurrency_in_flight() {
    let dir = tmp("little");
    let cfg = dir.join("sim.yaml");
    // Warm-up is left to the analysis here (the first 48 arrivals), so every request has a row
    // whatever the metrics do with warm-up requests.
    std::fs::write(
        &cfg,
        yaml(
            "concurrency: 16, num_requests: 400, \
             lengths: {uniform: {min_tokens: 200, max_tokens: 1200, prefill_to_decode_ratio: 3}}, \
             seed: 7",
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let run = simulate_into(&cfg, &out, &["--json"]);
    let reqs = arrivals_and_completions(&out.join("request_metrics.csv"));
    assert_eq!(reqs.len(), 400);
    assert!(
        reqs[..16].iter().all(|r| r.0 == 0.0),
        "all clients start at 0"
    );
    assert!(reqs[16].0 > 0.0, "request 16 waits for a completion");
    let (from, to) = (reqs[48].0, reqs[399].0);
    assert!(to > from);
    let n = mean_in_flight(&reqs, from, to);
    assert!((n - 16.0).abs() <= 0.5, "mean in flight {n}, want 16 ± 0.5");
    // Every request after the first 16 arrives when an earlier one completes (think time 0).
    for (i, r) in reqs.iter().enumerate().skip(16) {
        assert!(
            reqs[..i]
                .iter()
                .any(|q| (q.1 - r.0).abs() < 1e-6 * r.0.max(1.0)),
            "request {i} at {} matches no completion",
            r.0
        );
    }

    // Same config, same run.
    let again = bin()
        .args(["simulate", "--json", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(again.status.success());
    let a: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(a["e2e"], b["e2e"]);
    assert_eq!(a["ttft"], b["ttft"]);
}

#[test]
fn think_time_lowers_the_requests_in_flight() {
    let dir = tmp("think");
    let cfg = dir.join("sim.yaml");
    std::fs::write(
        &cfg,
        yaml(
            "concurrency: 8, num_requests: 160, think_time_s: 2.0, ramp_up_s: 1.0, \
             lengths: {fixed: {prefill_tokens: 512, decode_tokens: 64}}",
        ),
    )
    .unwrap();
    let out = dir.join("out");
    simulate_into(&cfg, &out, &[]);
    let reqs = arrivals_and_completions(&out.join("request_metrics.csv"));
    assert_eq!(reqs.len(), 160);
    // Ramp-up: client k starts at k/8 s (rebuilt from gaps, so compare loosely).
    for (k, r) in reqs[..8].iter().enumerate() {
        assert!((r.0 - k as f64 / 8.0).abs() < 1e-9, "client {k} at {}", r.0);
    }
    // Each client cycles through e2e + think: in flight = 8 · e2e / (e2e + think).
    let (from, to) = (reqs[16].0, reqs[159].0);
    let measured: Vec<&(f64, f64)> = reqs[16..].iter().collect();
    let e2e = measured.iter().map(|r| r.1 - r.0).sum::<f64>() / measured.len() as f64;
    let n = mean_in_flight(&reqs, from, to);
    let want = 8.0 * e2e / (e2e + 2.0);
    assert!(n < 7.5, "think time must leave clients idle, got {n}");
    assert!(
        (n - want).abs() < 0.05 * want,
        "mean in flight {n}, Little's law says {want}"
    );
}

#[test]
fn bad_closed_loop_fields_are_named() {
    let dir = tmp("bad");
    for (body, needle) in [
        (
            "concurrency: 4, num_requests: 10, warmup_requests: 10, \
             lengths: {fixed: {prefill_tokens: 8, decode_tokens: 8}}",
            "workload.closed_loop.warmup_requests must be < num_requests",
        ),
        (
            "concurrency: 0, num_requests: 10, \
             lengths: {fixed: {prefill_tokens: 8, decode_tokens: 8}}",
            "workload.closed_loop.concurrency must be >= 1",
        ),
        (
            "concurrency: 4, num_requests: 10, think_time_s: -1, \
             lengths: {fixed: {prefill_tokens: 8, decode_tokens: 8}}",
            "workload.closed_loop.think_time_s must be a finite number >= 0",
        ),
        (
            "concurrency: 4, num_requests: 10, qps: 2, \
             lengths: {fixed: {prefill_tokens: 8, decode_tokens: 8}}",
            "qps",
        ),
    ] {
        let cfg = dir.join("sim.yaml");
        std::fs::write(&cfg, yaml(body)).unwrap();
        let out = bin()
            .args(["simulate", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "accepted {body}");
        assert_ne!(out.status.code(), Some(101), "panicked on {body}: {stderr}");
        assert!(
            stderr.contains(needle),
            "stderr lacks {needle:?}:\n{stderr}"
        );
    }
}

/// The README's example (Qwen3-32B on 2×H100, 32 clients, 1024/1024 tokens, 64 warm-up
/// requests): the summary leaves the warm-up out and reports 32 requests in flight once warm.
#[test]
fn the_readme_example_keeps_32_in_flight_and_leaves_the_warm_up_out() {
    let out = tmp("readme_example");
    let example =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/examples/closed-loop-qwen3-32b.yaml");
    simulate_into(&example, &out, &[]);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let in_flight = summary["in_flight_mean"].as_f64().expect("in_flight_mean");
    assert!((in_flight - 32.0).abs() <= 0.5, "in flight {in_flight}");
    assert_eq!(summary["requests"]["warmup"], 64);
    assert_eq!(
        summary["requests"]["completed"], 576,
        "640 sent, 64 of them warm-up"
    );
    let (_, rows) = read_csv(&out.join("request_metrics.csv"));
    assert_eq!(
        rows.len(),
        576,
        "warm-up rows are left out of request_metrics.csv"
    );
    // Benchmark-style TPOT spreads the same decode time over one token fewer.
    let (tpot, bench) = (
        summary["tpot"]["mean"].as_f64().unwrap(),
        summary["tpot_bench"]["mean"].as_f64().unwrap(),
    );
    assert!(
        bench > tpot && bench < tpot * 1.01,
        "tpot {tpot}, tpot_bench {bench}"
    );
}
