//! `vidur-search run` end to end: a tiny space runs and writes its outputs, results do not
//! depend on `--jobs`, a run killed with SIGKILL resumes from its cache to the same results,
//! every shipped search space parses and expands, and bad spaces fail with a clear message.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vidur_search::search::expand::expand;
use vidur_search::search::SearchSpace;

use crate::common::bin;

fn tmp(name: &str) -> PathBuf {
    crate::common::fresh_dir("search", name)
}

/// 12 points (2 GPUs × TP {1, 2} × vllm / sarathi-512 / sarathi-2048), 300 requests each.
const TINY: &str = "\
name: tiny
models: [meta-llama/Llama-2-7b-hf]
workloads:
  - name: chat
    lengths: {builtin: {name: chat}}
    num_requests: 300
clusters:
  - {gpu: a100, max_gpus: 2}
  - {gpu: h100, max_gpus: 2}
tp: [1, 2]
schedulers:
  - {type: vllm}
  - {type: sarathi, chunk_size: [512, 2048]}
batch_size_cap: [128]
slos:
  - {metric: ttft, quantile: 0.9, max_seconds: 1.0}
  - {metric: tbt, quantile: 0.99, max_seconds: 0.2}
";

fn write_space(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("space.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

fn run(args: &[&std::ffi::OsStr]) -> String {
    let out = bin().arg("run").args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "run {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// results.json with the fields that legitimately differ between runs removed (wall-clock
/// times, run metadata).
fn results(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("results.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("wall_s");
                for x in m.values_mut() {
                    strip(x);
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    v.as_object_mut().unwrap().remove("meta");
    strip(&mut v);
    v
}

#[test]
fn results_do_not_depend_on_jobs() {
    let d = tmp("jobs");
    let space = write_space(&d, TINY);
    let (o1, o2) = (d.join("j1"), d.join("j2"));
    run(&[
        space.as_os_str(),
        "--jobs".as_ref(),
        "1".as_ref(),
        "-o".as_ref(),
        o1.as_os_str(),
    ]);
    run(&[
        space.as_os_str(),
        "--jobs".as_ref(),
        "2".as_ref(),
        "-o".as_ref(),
        o2.as_os_str(),
    ]);
    let (a, b) = (results(&o1), results(&o2));
    assert_eq!(a["points"].as_array().unwrap().len(), 12);
    assert_eq!(a, b, "--jobs 1 and --jobs 2 differ");
    // Every point meets the SLOs at some load and records its runs. 300 requests cannot load
    // the faster points (vLLM admits them all at once on 2×H100), which are unbounded.
    let found = a["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["capacity_status"] == "found")
        .count();
    assert!(found >= 6, "{found} points with a capacity");
    for p in a["points"].as_array().unwrap() {
        assert_figures_from_one_record(p);
        if p["capacity_status"] == "found" {
            assert!(p["capacity_qps"].as_f64().unwrap() > 0.0, "{p}");
        } else {
            assert_eq!(p["capacity_status"], "unbounded", "{p}");
        }
        assert!(p["sims_run"].as_u64().unwrap() >= 2);
    }
    // Every output exists and parses.
    let mut rdr = csv::Reader::from_path(o1.join("results.csv")).unwrap();
    let header = rdr.headers().unwrap().clone();
    assert!(
        header.iter().any(|h| h == "ttft_p90_s") && header.iter().any(|h| h == "qps_per_dollar")
    );
    assert_eq!(rdr.records().filter(|r| r.is_ok()).count(), 12);
    let runs = csv::Reader::from_path(o1.join("runs.csv"))
        .unwrap()
        .records()
        .count();
    let sims: u64 = a["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sims_run"].as_u64().unwrap())
        .sum();
    assert_eq!(runs as u64, sims, "runs.csv has one row per simulation");
    for name in ["pareto_ttft.png", "pareto_tbt.png"] {
        let b = std::fs::read(o1.join(name)).unwrap();
        assert!(
            b.starts_with(b"\x89PNG\r\n\x1a\n") && b.len() > 10_000,
            "{name}"
        );
    }
    for name in ["pareto_ttft.svg", "pareto_tbt.svg"] {
        let t = std::fs::read_to_string(o1.join(name)).unwrap();
        assert!(
            t.contains("<svg") && t.trim_end().ends_with("</svg>"),
            "{name}"
        );
    }
    let html = std::fs::read_to_string(o1.join("report.html")).unwrap();
    assert!(html.contains("data:image/png;base64,") && html.contains("</html>"));
    assert!(
        !html.contains("src=\"http"),
        "report.html loads a remote resource"
    );
    let best = std::fs::read_to_string(o1.join("best_configs.md")).unwrap();
    assert!(best.contains("| 1 |"), "{best}");
    let insights = std::fs::read_to_string(o1.join("insights.md")).unwrap();
    assert!(insights.contains("## "), "{insights}");
    // A re-run is served from the cache and gives the same results.
    let out = run(&[
        space.as_os_str(),
        "--jobs".as_ref(),
        "2".as_ref(),
        "-o".as_ref(),
        o1.as_os_str(),
    ]);
    assert!(out.contains("12 points (12 from cache)"), "{out}");
    assert_eq!(results(&o1), b);
}

/// The figures of a point at capacity (capacity, each SLO value, goodput, output tokens/s and
/// the cost derived from them) are those of one simulation record: the median seed's run at
/// capacity.
fn assert_figures_from_one_record(p: &serde_json::Value) {
    let status = p["capacity_status"].as_str().unwrap();
    let cap = &p["capacity_qps"];
    if status != "found" {
        for k in [
            "capacity_qps",
            "goodput_at_capacity",
            "output_tokens_per_s",
            "capacity_min",
            "capacity_max",
        ] {
            assert!(p[k].is_null(), "{k} set on a {status} point: {p}");
        }
        assert!(p["cost"]["qps_per_dollar"].is_null());
        assert!(p["cost"]["usd_per_million_output_tokens"].is_null());
        assert_eq!(p["at_capacity"], serde_json::json!([]));
        return;
    }
    let at = p["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["at_capacity"].as_object())
        .find(|r| r["qps"] == *cap)
        .unwrap_or_else(|| panic!("no seed record at the capacity: {p}"));
    assert_eq!(at["pass"], true);
    assert_eq!(p["at_capacity"], at["slos"]);
    assert_eq!(p["goodput_at_capacity"], at["goodput"]);
    assert_eq!(p["output_tokens_per_s"], at["output_tokens_per_s"]);
    let usd_h = p["cost"]["usd_per_hour"].as_f64().unwrap();
    let (q, t) = (
        at["qps"].as_f64().unwrap(),
        at["output_tokens_per_s"].as_f64().unwrap(),
    );
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
    assert!(close(
        p["cost"]["qps_per_dollar"].as_f64().unwrap(),
        q / usd_h
    ));
    assert!(close(
        p["cost"]["usd_per_million_output_tokens"].as_f64().unwrap(),
        usd_h / (t * 3600.0) * 1e6
    ));
}

#[test]
fn every_figure_at_capacity_comes_from_one_record() {
    let d = tmp("one-record");
    let space = write_space(&d, &TINY.replace("tp: [1, 2]", "tp: [1]"));
    let o = d.join("out");
    run(&[space.as_os_str(), "-o".as_ref(), o.as_os_str()]);
    let r = results(&o);
    let points = r["points"].as_array().unwrap();
    assert!(points.iter().any(|p| p["capacity_status"] == "found"));
    for p in points {
        assert_figures_from_one_record(p);
    }
    // results.csv says the same as results.json.
    let mut rdr = csv::Reader::from_path(o.join("results.csv")).unwrap();
    let h = rdr.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    for (row, p) in rdr.records().map(Result::unwrap).zip(points) {
        assert_eq!(&row[col("capacity_status")], p["capacity_status"]);
        let tok = &row[col("output_tokens_per_s")];
        assert_eq!(tok.parse::<f64>().ok(), p["output_tokens_per_s"].as_f64());
    }
}

/// 50 requests with a loose TTFT bound: every load passes (all requests fit one batch), so
/// the search must stop at the physical limit and say `unbounded`, not rank the last QPS it
/// tried (12 million QPS before this check existed).
#[test]
fn a_workload_too_short_to_load_a_point_is_unbounded_not_ranked() {
    let d = tmp("unbounded");
    let space = write_space(
        &d,
        "\
name: short
models: [meta-llama/Llama-2-7b-hf]
workloads:
  - {name: chat, lengths: {builtin: {name: chat}}, num_requests: 50}
clusters:
  - {gpu: h100, max_gpus: 2}
schedulers:
  - {type: sarathi}
slos:
  - {metric: ttft, quantile: 0.9, max_seconds: 1.0}
",
    );
    let o = d.join("out");
    let stdout = run(&[space.as_os_str(), "-o".as_ref(), o.as_os_str()]);
    assert!(
        stdout.contains("best: no point meets every SLO"),
        "{stdout}"
    );
    let r = results(&o);
    let p = &r["points"][0];
    assert_eq!(p["capacity_status"], "unbounded", "{p}");
    assert_figures_from_one_record(p);
    let limit = p["limit_qps"].as_f64().unwrap();
    // The search stopped at its limit, a modest multiple of what 2 replicas can serve.
    let runs: Vec<f64> = p["seeds"][0]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["qps"].as_f64().unwrap())
        .collect();
    assert!(runs.iter().all(|&q| q <= limit), "{runs:?} above {limit}");
    assert_eq!(*runs.last().unwrap(), limit);
    assert!(limit < 1000.0, "limit {limit}");
    let best = std::fs::read_to_string(o.join("best_configs.md")).unwrap();
    assert!(
        !best.contains("| 1 |"),
        "an unbounded point is ranked:\n{best}"
    );
    assert!(best.contains("## Not ranked") && best.contains("unbounded"));
    let html = std::fs::read_to_string(o.join("report.html")).unwrap();
    assert!(html.contains("id=\"unranked\"") && html.contains("physical limit"));
    let csv = std::fs::read_to_string(o.join("results.csv")).unwrap();
    assert!(csv.contains(",unbounded,"), "{csv}");
}

/// One point whose simulation fails (vLLM batches two 3,000-token prompts, more tokens than
/// Vidur's prediction tables cover) beside one that succeeds (Sarathi chunks them): the failure
/// is recorded as data, the other point is searched and ranked, the reports are written, the
/// failed point is not cached (a re-run retries it) and the exit code is 1.
#[test]
fn a_failing_point_is_recorded_and_the_run_goes_on() {
    let d = tmp("one-fails");
    let tables = crate::common::shared().join("conformance/tables/llama2-7b_a100_tp1");
    let space = write_space(
        &d,
        &format!(
            "\
name: one-fails
models: [meta-llama/Llama-2-7b-hf]
workloads:
  - name: long
    lengths: {{fixed: {{prefill_tokens: 3000, decode_tokens: 32}}}}
    num_requests: 120
    max_tokens: 8192
clusters:
  - {{gpu: a100, max_gpus: 1}}
schedulers:
  - {{type: vllm, max_tokens_in_batch: [8192]}}
  - {{type: sarathi, chunk_size: [512]}}
batch_size_cap: [64]
predictor: {{vidur_tables: {{dir: \"{}\"}}}}
slos:
  - {{metric: ttft, quantile: 0.9, max_seconds: 5.0}}
",
            tables.display()
        ),
    );
    let o = d.join("out");
    let go = || {
        bin()
            .arg("run")
            .arg(&space)
            .arg("-o")
            .arg(&o)
            .output()
            .unwrap()
    };
    let out = go();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 meet the SLOs, 1 failed"), "{stdout}");
    assert!(
        stderr.contains("failed: simulation failed") && stderr.contains("num_tokens="),
        "{stderr}"
    );

    let r = results(&o);
    let points = r["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    let (failed, ok): (Vec<_>, Vec<_>) = points
        .iter()
        .partition(|p| p["capacity_status"] == "failed");
    assert_eq!((failed.len(), ok.len()), (1, 1), "{r}");
    let (f, ok) = (failed[0], ok[0]);
    assert_eq!(f["config"]["scheduler"], "vllm");
    let err = f["error"].as_str().unwrap();
    // The whole cause chain, each part once.
    assert!(
        err.starts_with("simulation failed: execution-time prediction failed")
            && err.contains("prediction table")
            && err.contains("num_tokens=")
            && err.matches("prediction table").count() == 1,
        "{err}"
    );
    assert_figures_from_one_record(f);
    assert_eq!(f["sims_run"], 0);
    assert_eq!(ok["capacity_status"], "found", "{ok}");
    assert!(ok.get("error").is_none(), "{ok}");
    assert_figures_from_one_record(ok);
    // results.json reads back into the library's types.
    let text = std::fs::read_to_string(o.join("results.json")).unwrap();
    let back: vidur_search::search::SearchOutcome = serde_json::from_str(&text).unwrap();
    assert_eq!(back.failed().len(), 1);
    assert_eq!(back.failed()[0].error.as_deref(), Some(err));
    assert_eq!(back.ranked().len(), 1);

    let csv = std::fs::read_to_string(o.join("results.csv")).unwrap();
    assert!(csv.contains(",failed,") && csv.contains(",found,"), "{csv}");
    let best = std::fs::read_to_string(o.join("best_configs.md")).unwrap();
    let (ranked, unranked) = best.split_once("## Not ranked").unwrap();
    assert!(
        ranked.contains("| 1 |") && ranked.contains("sarathi"),
        "{best}"
    );
    assert!(
        !ranked.contains("vllm"),
        "a failed point is ranked:\n{best}"
    );
    let row = unranked.lines().find(|l| l.contains("| failed |")).unwrap();
    assert!(row.contains("vllm") && row.contains("num_tokens="), "{row}");
    let html = std::fs::read_to_string(o.join("report.html")).unwrap();
    let (_, html_unranked) = html.split_once("id=\"unranked\"").unwrap();
    assert!(html_unranked.contains(">failed<") && html_unranked.contains("num_tokens="));

    // Only the searched point is cached: a re-run loads it and retries the failed one.
    let cached = std::fs::read_dir(o.join("cache")).unwrap().count();
    assert_eq!(cached, 1);
    let again = go();
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(1));
    assert!(stdout.contains("2 points (1 from cache)"), "{stdout}");
    assert_eq!(results(&o), r, "the re-run differs");
}

#[test]
fn a_killed_run_resumes_to_the_same_results() {
    let d = tmp("resume");
    let space = write_space(&d, TINY);
    let (whole, killed) = (d.join("whole"), d.join("killed"));
    run(&[
        space.as_os_str(),
        "--jobs".as_ref(),
        "2".as_ref(),
        "-o".as_ref(),
        whole.as_os_str(),
    ]);

    // Start, wait until some (not all) points are cached, then SIGKILL.
    let mut child = bin()
        .args(["run", "--jobs", "1", "-o"])
        .arg(&killed)
        .arg(&space)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let cache = killed.join("cache");
    let started = Instant::now();
    let cached = || {
        std::fs::read_dir(&cache)
            .map(|it| {
                it.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                    .count()
            })
            .unwrap_or(0)
    };
    while cached() < 2 && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let n = cached();
    assert!(n >= 2, "no point was cached before the kill");
    // Every cache file that exists is whole JSON (written atomically).
    for e in std::fs::read_dir(&cache).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let text = std::fs::read_to_string(&p).unwrap();
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("torn cache file {}: {e}", p.display()));
        }
    }
    let out = run(&[
        space.as_os_str(),
        "--jobs".as_ref(),
        "2".as_ref(),
        "-o".as_ref(),
        killed.as_os_str(),
    ]);
    assert!(
        out.contains(&format!("({n} from cache)")) || n == 12,
        "{out}"
    );
    assert_eq!(results(&killed), results(&whole), "resumed run differs");
    // No temporary files are left behind after a completed run.
    for e in std::fs::read_dir(&cache).unwrap() {
        let p = e.unwrap().path();
        assert!(
            !p.to_string_lossy().contains(".tmp"),
            "left over {}",
            p.display()
        );
    }
}

#[test]
fn shipped_spaces_parse_and_expand() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("search-spaces");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "yaml") {
            continue;
        }
        let loaded = SearchSpace::load(&p).unwrap_or_else(|e| panic!("{e}"));
        let exp = expand(&loaded.space, &loaded.base_dir)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(
            !exp.points.is_empty(),
            "{} has no feasible point",
            p.display()
        );
        n += 1;
    }
    assert!(n >= 4, "expected the four shipped spaces, found {n}");
}

#[test]
fn llama70b_drops_what_cannot_run_and_says_why() {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("search-spaces/llama70b.yaml");
    let loaded = SearchSpace::load(&p).unwrap();
    let exp = expand(&loaded.space, &loaded.base_dir).unwrap();
    let reasons: std::collections::BTreeMap<String, usize> =
        exp.dropped_by_reason().into_iter().collect();
    // TP8 × PP4 needs 32 GPUs of a 16-GPU budget; 70B in BF16 (~129 GiB) fits no single 80 GB GPU.
    assert!(reasons["gpu_budget"] > 0, "{reasons:?}");
    assert!(reasons["memory"] > 0, "{reasons:?}");
    for d in &exp.dropped {
        if d.reason == "memory" {
            assert_eq!((d.config.tp, d.config.pp), (1, 1), "{d:?}");
        }
        if d.reason == "gpu_budget" {
            assert!(d.config.tp * d.config.pp > 16, "{d:?}");
        }
    }
    for p in &exp.points {
        assert!(p.config.num_gpus() <= 16);
        assert_eq!(p.config.replicas, 16 / (p.config.tp * p.config.pp));
    }
}

#[test]
fn dry_run_prints_counts_reasons_and_an_estimate() {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("search-spaces/llama70b.yaml");
    let out = bin().args(["run", "--dry-run"]).arg(&p).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("200 points to simulate, 40 dropped"),
        "{text}"
    );
    assert!(
        text.contains("gpu_budget") && text.contains("memory"),
        "{text}"
    );
    // "estimate: ~N simulations, ~S s with J job(s) ...": both from sampled searches.
    let est = text
        .lines()
        .find_map(|l| l.strip_prefix("estimate: ~"))
        .unwrap_or_else(|| panic!("no estimate line: {text}"));
    let sims: u64 = est.split(' ').next().unwrap().parse().unwrap();
    let secs: f64 = est
        .split(", ~")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // 200 points, at least one probe each; a search's probes are not free.
    assert!(sims >= 200, "{est}");
    assert!(secs > 0.0, "{est}");
}

fn fails_with(text: &str, needles: &[&str]) {
    let d = tmp(&format!("bad-{:x}", text.len() * 31 + needles.len()));
    let space = write_space(&d, text);
    let out = bin()
        .arg("run")
        .arg(&space)
        .arg("-o")
        .arg(d.join("out"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure for:\n{text}");
    assert_ne!(out.status.code(), Some(101), "panicked: {stderr}");
    assert!(stderr.contains("space.yaml"), "no file name in: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "stderr lacks {n:?}:\n{stderr}");
    }
}

#[test]
fn bad_spaces_fail_with_file_line_and_field() {
    // Unknown field: file, line and column.
    fails_with(
        &TINY.replace("tp: [1, 2]", "tp: [1, 2]\ntensor_parallel: [4]"),
        &["tensor_parallel", "line 11 column 1"],
    );
    // Wrong type, with position.
    fails_with(&TINY.replace("tp: [1, 2]", "tp: [one]"), &["line 10"]);
    // Values serde cannot check.
    fails_with(
        &TINY.replace("quantile: 0.9", "quantile: 90"),
        &["slos[0].quantile", "(0, 1]"],
    );
    fails_with(
        &TINY.replace("max_gpus: 2}", "max_gpus: 0}"),
        &["clusters[0].max_gpus"],
    );
    fails_with(
        &TINY.replace("{type: vllm}", "{type: vllm, chunk_size: [512]}"),
        &["schedulers[0].chunk_size", "only the sarathi"],
    );
    fails_with(
        &TINY.replace("gpu: a100", "gpu: a1000"),
        &["clusters[0].gpu", "a1000"],
    );
    fails_with(
        &TINY.replace("name: chat}", "name: chit}"),
        &["chit", "chat"],
    );
    fails_with(
        &TINY.replace("name: tiny", "name: \"a/b\""),
        &["field 'name'"],
    );
    fails_with(
        &TINY.replace(
            "models: [meta-llama/Llama-2-7b-hf]",
            "models: [nobody/nothing]",
        ),
        &["models[0]"],
    );
}

/// A closed-loop concurrency sweep: 4 points (concurrency 1, 4, 16, 64) of one layout.
const SWEEP: &str = "\
name: sweep
models: [meta-llama/Llama-2-7b-hf]
workloads:
  - name: fixed
    lengths: {fixed: {prefill_tokens: 256, decode_tokens: 128}}
    arrival: {closed_loop: {concurrency: [1, 4, 16, 64]}}
    num_requests: 400
    max_tokens: 1024
clusters:
  - {gpu: a100, max_gpus: 1}
schedulers:
  - {type: sarathi, chunk_size: [512]}
slos:
  - {metric: ttft, quantile: 0.9, max_seconds: 5.0}
  - {metric: tpot, quantile: 0.9, max_seconds: 0.2}
";

#[test]
fn a_closed_loop_sweep_measures_each_concurrency_and_plots_the_curve() {
    let dir = tmp("closed_loop");
    let space = write_space(&dir, SWEEP);
    let out = dir.join("out");
    let stdout = run(&[space.as_os_str(), "--output".as_ref(), out.as_os_str()]);
    assert!(stdout.contains("4 points (0 from cache)"), "{stdout}");
    for stem in [
        "throughput_per_user_vs_per_gpu",
        "throughput_per_user_vs_per_dollar",
    ] {
        let png = std::fs::read(out.join(format!("{stem}.png"))).unwrap();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 20_000,
            "{stem}.png"
        );
        let svg = std::fs::read_to_string(out.join(format!("{stem}.svg"))).unwrap();
        // One label per concurrency and a line per family.
        assert!(
            svg.contains("</svg>") && svg.contains("\n64\n</text>") && svg.contains("<polyline")
        );
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("throughput_per_user_vs_per_gpu"));

    let mut r = csv::Reader::from_path(out.join("results.csv")).unwrap();
    let h: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let col = |name: &str| h.iter().position(|x| x == name).expect(name);
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let f = |row: &csv::StringRecord, name: &str| row[col(name)].parse::<f64>().unwrap();
    let conc: Vec<f64> = rows.iter().map(|r| f(r, "concurrency")).collect();
    assert_eq!(conc, [1.0, 4.0, 16.0, 64.0]);
    let qps: Vec<f64> = rows.iter().map(|r| f(r, "measured_qps")).collect();
    let per_user: Vec<f64> = rows
        .iter()
        .map(|r| f(r, "output_tokens_per_s_per_user"))
        .collect();
    let per_gpu: Vec<f64> = rows
        .iter()
        .map(|r| f(r, "output_tokens_per_s_per_gpu"))
        .collect();
    // Batching pays at low concurrency, then the GPU saturates: throughput never falls much
    // and rises clearly at first; each user gets less as more share the GPU.
    assert!(qps[1] > 2.0 * qps[0], "{qps:?}");
    for w in qps.windows(2) {
        assert!(w[1] >= 0.95 * w[0], "{qps:?}");
    }
    for w in per_user.windows(2) {
        assert!(w[1] < w[0], "{per_user:?}");
    }
    for (row, (&c, (&u, &g))) in rows
        .iter()
        .zip(conc.iter().zip(per_user.iter().zip(&per_gpu)))
    {
        // One GPU: tokens/s per GPU = tokens/s = per user × concurrency.
        assert!((g - u * c).abs() <= 1e-6 * g, "{g} vs {u} × {c}");
        let inflight = f(row, "in_flight_mean");
        assert!(
            (inflight - c).abs() <= 0.5,
            "in flight {inflight} at concurrency {c}"
        );
        // The SLO columns hold the values measured at the concurrency, met or not.
        assert!(!row[col("ttft_p90_s")].is_empty() && !row[col("tpot_p90_s")].is_empty());
        let feasible = &row[col("feasible")] == "true";
        assert_eq!(
            &row[col("capacity_status")],
            if feasible { "found" } else { "none" }
        );
        if feasible {
            // Capacity is the measured throughput, priced like an open-loop capacity.
            assert_eq!(f(row, "capacity_qps"), f(row, "measured_qps"));
            assert!(f(row, "qps_per_dollar") > 0.0);
        }
        assert_eq!(f(row, "sims_run"), 1.0);
    }
    let best = std::fs::read_to_string(out.join("best_configs.md")).unwrap();
    assert!(best.contains("measured at that concurrency"), "{best}");

    // A re-run comes from the cache with the same results.
    let before = results(&out);
    let stdout = run(&[space.as_os_str(), "--output".as_ref(), out.as_os_str()]);
    assert!(stdout.contains("4 points (4 from cache)"), "{stdout}");
    assert_eq!(results(&out), before);
}
