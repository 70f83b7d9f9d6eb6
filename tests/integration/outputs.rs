//! Outputs are never mixed or half-written, and huge workloads cost only what arrives:
//! * `simulate --output DIR` replaces DIR whole (no stale replica files or Chrome trace from a
//!   previous run), leaves no staging folder, and refuses a folder holding files it did not write;
//! * `run` removes report files an earlier run wrote but this one does not (keeping user files
//!   and the cache), and refuses an output folder locked by a live run (exit code 2), taking over
//!   a lock left by a dead one;
//! * a synthetic workload of 10⁸ requests under a short time limit (or an enormous
//!   `duration_s`) runs, drawing only the requests that arrive.

use std::path::{Path, PathBuf};
use std::process::Output;

use vidur_search::workload::RequestSource;

use crate::common::bin;

fn tmp(name: &str) -> PathBuf {
    crate::common::fresh_dir("outputs", name)
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A small analytic-predictor simulation config (no data files needed).
fn sim_yaml(replicas: u32, chrome_trace: bool, workload: &str) -> String {
    format!(
        "model: meta-llama/Llama-2-7b-hf\ndevice: a100\nnum_replicas: {replicas}\n\
         scheduler: {{type: sarathi, chunk_size: 512}}\n\
         workload:\n  synthetic:\n    seed: 3\n{workload}    lengths: {{fixed: {{prefill_tokens: 300, decode_tokens: 20}}}}\n    intervals: {{poisson: {{qps: 3.0}}}}\n\
         metrics: {{chrome_trace: {chrome_trace}, token_metrics: true}}\n"
    )
}

fn simulate(dir: &Path, name: &str, yaml: &str, out: &Path) -> Output {
    let cfg = dir.join(name);
    std::fs::write(&cfg, yaml).unwrap();
    bin()
        .args(["simulate", "--config"])
        .arg(&cfg)
        .arg("--output")
        .arg(out)
        .output()
        .unwrap()
}

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

#[test]
fn simulate_replaces_the_output_folder_whole() {
    let d = tmp("simulate-replace");
    let out = d.join("out");
    let n = "    num_requests: 40\n";
    ok(simulate(&d, "two.yaml", &sim_yaml(2, true, n), &out));
    let first = tree(&out);
    assert!(first.iter().any(|f| f.contains("replica_1_")), "{first:?}");
    assert!(first.contains(&"chrome_trace.json".to_string()));

    // Fewer replicas, no Chrome trace: nothing of the first run survives.
    ok(simulate(&d, "one.yaml", &sim_yaml(1, false, n), &out));
    let second = tree(&out);
    assert!(
        !second.iter().any(|f| f.contains("replica_1_")),
        "stale replica files: {second:?}"
    );
    assert!(
        !second.contains(&"chrome_trace.json".to_string()),
        "stale chrome trace"
    );
    assert!(second.contains(&"summary.json".to_string()));
    assert!(second.contains(&"plots/replica_0_memory_usage.json".to_string()));
    // No staging or retired folder is left beside it.
    let siblings: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".out."))
        .collect();
    assert!(siblings.is_empty(), "{siblings:?}");
}

#[test]
fn simulate_cleans_dead_staging_folders_and_refuses_foreign_folders() {
    let d = tmp("simulate-refuse");
    let out = d.join("out");
    // A staging folder of a killed run (a pid above Linux's largest pid_max).
    let dead = d.join(".out.tmp-5000000");
    std::fs::create_dir_all(&dead).unwrap();
    std::fs::write(dead.join("summary.json"), "{").unwrap();
    let n = "    num_requests: 20\n";
    ok(simulate(&d, "a.yaml", &sim_yaml(1, false, n), &out));
    assert!(!dead.exists(), "a dead run's staging folder was kept");

    // A file the user put into the output folder: refused, nothing touched.
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let before = tree(&out);
    let r = simulate(&d, "a.yaml", &sim_yaml(1, true, n), &out);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("notes.txt") && stderr.contains("refusing"),
        "{stderr}"
    );
    assert_eq!(tree(&out), before);

    // A folder that is not ours at all.
    let user = d.join("user");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::write(user.join("data.csv"), "x").unwrap();
    let r = simulate(&d, "a.yaml", &sim_yaml(1, true, n), &user);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no summary.json"), "{stderr}");
    assert_eq!(tree(&user), ["data.csv"]);

    // An empty folder is fine.
    let empty = d.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    ok(simulate(&d, "a.yaml", &sim_yaml(1, false, n), &empty));
    assert!(empty.join("summary.json").is_file());
}

/// Arrivals the workload of `cfg` makes up to `limit` seconds, drawn from the same source the
/// binary uses.
fn arrivals_until(cfg: &Path, limit: f64) -> usize {
    let run = vidur_search::config::sim_yaml::load(cfg).unwrap();
    let mut src =
        vidur_search::workload::source(&run.workload, run.sim.compat, &run.base_dir).unwrap();
    let mut n = 0;
    while src.next_arrival().is_some_and(|t| t <= limit) {
        src.pop();
        n += 1;
    }
    n
}

#[test]
fn a_huge_workload_under_a_time_limit_draws_only_what_arrives() {
    let d = tmp("huge");
    for (name, amount) in [
        ("count.yaml", "    num_requests: 100000000\n"),
        ("duration.yaml", "    duration_s: 1.0e9\n"),
    ] {
        let cfg = d.join(name);
        std::fs::write(
            &cfg,
            sim_yaml(1, true, amount) + "time_limit_s: 10\ncompat: vidur\n",
        )
        .unwrap();
        let out = d.join(name.replace(".yaml", ""));
        let stdout = ok(bin()
            .args(["simulate", "--json", "--config"])
            .arg(&cfg)
            .arg("--output")
            .arg(&out)
            .output()
            .unwrap());
        let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let r = &summary["requests"];
        let arrived = r["arrived"].as_u64().unwrap() as usize;
        // The run stops after the first event past the limit, which may be one more arrival.
        let k = arrivals_until(&cfg, 10.0);
        assert!((15..60).contains(&k), "{k} arrivals in 10 s at 3 QPS");
        assert!(arrived == k || arrived == k + 1, "{arrived} vs {k}");
        assert_eq!(
            r["completed"].as_u64().unwrap() + r["unfinished"].as_u64().unwrap(),
            arrived as u64
        );
        let rows = std::fs::read_to_string(out.join("request_metrics.csv")).unwrap();
        assert_eq!(rows.lines().count(), arrived + 1, "one row per arrival");
    }
}

/// One point, 60 requests: a run takes well under a second.
fn space(slos: &str) -> String {
    format!(
        "name: outs\nmodels: [meta-llama/Llama-2-7b-hf]\n\
         workloads:\n  - name: chat\n    lengths: {{builtin: {{name: chat}}}}\n    num_requests: 60\n\
         clusters:\n  - {{gpu: a100, max_gpus: 1}}\n\
         schedulers:\n  - {{type: sarathi, chunk_size: [512]}}\n\
         slos:\n{slos}"
    )
}

const TTFT: &str = "  - {metric: ttft, quantile: 0.9, max_seconds: 2.0}\n";
const TPOT: &str = "  - {metric: tpot, quantile: 0.9, max_seconds: 0.2}\n";

fn run_space(dir: &Path, text: &str, out: &Path) -> Output {
    let p = dir.join("space.yaml");
    std::fs::write(&p, text).unwrap();
    bin()
        .args(["run", "--progress", "quiet", "--jobs", "1", "-o"])
        .arg(out)
        .arg(&p)
        .output()
        .unwrap()
}

#[test]
fn run_removes_report_files_it_no_longer_writes() {
    let d = tmp("run-stale");
    let out = d.join("out");
    ok(run_space(&d, &space(&format!("{TTFT}{TPOT}")), &out));
    for f in ["pareto_tpot.png", "pareto_tpot.svg", "pareto_ttft.png"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // A user file, and a temporary file of a killed run.
    std::fs::write(out.join("notes.md"), "mine").unwrap();
    std::fs::write(out.join("results.csv.tmp4999999"), "torn").unwrap();

    ok(run_space(&d, &space(TTFT), &out));
    for f in [
        "pareto_tpot.png",
        "pareto_tpot.svg",
        "results.csv.tmp4999999",
    ] {
        assert!(!out.join(f).exists(), "stale {f} kept");
    }
    for f in [
        "pareto_ttft.png",
        "pareto_ttft.svg",
        "results.csv",
        "runs.csv",
        "report.html",
        "notes.md",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    assert!(out.join("cache").is_dir());
    assert!(!out.join(".lock").exists(), "lock left behind");
}

#[test]
fn run_refuses_a_folder_locked_by_a_live_run_and_takes_over_a_dead_ones_lock() {
    let d = tmp("run-lock");
    let out = d.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let lock = out.join(".lock");
    // This test process is alive (and is not the child that will check it).
    let me = std::process::id();
    std::fs::write(&lock, format!("{me}\n")).unwrap();
    let r = run_space(&d, &space(TTFT), &out);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("in use by another run") && stderr.contains(&format!("pid {me}")),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap().trim(),
        me.to_string()
    );
    assert!(!out.join("results.json").exists(), "a refused run wrote");

    // A lock whose process is gone (a pid above Linux's largest pid_max) is taken over and
    // removed at the end.
    std::fs::write(&lock, "5000000\n").unwrap();
    ok(run_space(&d, &space(TTFT), &out));
    assert!(out.join("results.json").is_file());
    assert!(!lock.exists(), "lock left behind");
}

#[test]
fn run_releases_its_lock_on_error() {
    let d = tmp("run-lock-error");
    let out = d.join("out");
    // A folder where report.html must go: writing the reports fails after the search.
    std::fs::create_dir_all(out.join("report.html")).unwrap();
    let r = run_space(&d, &space(TTFT), &out);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("report.html"), "{stderr}");
    assert!(
        !out.join(".lock").exists(),
        "lock left behind after an error"
    );
}
