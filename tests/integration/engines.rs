//! The engine models (`vllm_v1`, `sglang`, `trtllm`) end to end through `simulate`: each runs
//! a closed-loop workload to completion with its defaults and under KV pressure (where vLLM V1
//! preempts and TRT-LLM's full reservation never does), and a knob of another scheduler is an
//! error naming it (exit 2).

use std::path::Path;

use crate::common::{bin, read_csv, run_bin};

/// A closed loop of `n` requests on Llama-2-7B / A100 with `scheduler` (YAML flow mapping body).
fn yaml(scheduler: &str, lengths: &str, n: u32) -> String {
    format!(
        "model: meta-llama/Llama-2-7b-hf\n\
         device: a100\n\
         scheduler: {{{scheduler}}}\n\
         workload:\n  closed_loop: {{concurrency: 16, num_requests: {n}, lengths: {{fixed: {{{lengths}}}}}}}\n"
    )
}

/// Run `simulate --json` on `text`; return the summary and the restarts of every request.
fn run(name: &str, text: &str) -> (serde_json::Value, Vec<u32>) {
    let dir = crate::common::fresh_dir("engines", name);
    let cfg = dir.join("sim.yaml");
    std::fs::write(&cfg, text).unwrap();
    let out = dir.join("out");
    let run = bin()
        .args(["simulate", "--json", "--config"])
        .arg(&cfg)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    (summary, restarts(&out.join("request_metrics.csv")))
}

/// Run `simulate --output` on `text`; return its `summary.json` (with the run's resolved config
/// and predictor, which `--json` does not print).
fn simulate_summary(name: &str, text: &str) -> serde_json::Value {
    let dir = crate::common::fresh_dir("engines", name);
    let cfg = dir.join("sim.yaml");
    std::fs::write(&cfg, text).unwrap();
    let out = dir.join("out");
    let (code, stdout) = run_bin(&[
        "simulate",
        "--config",
        cfg.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{name}: {stdout}");
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

fn restarts(csv: &Path) -> Vec<u32> {
    let (header, rows) = read_csv(csv);
    let c = header
        .iter()
        .position(|h| h == "request_num_restarts")
        .expect("request_num_restarts column");
    rows.iter().map(|r| r[c].parse().unwrap()).collect()
}

fn assert_all_complete(name: &str, s: &serde_json::Value, n: u64) {
    assert_eq!(s["requests"]["completed"], n, "{name}: {s}");
    assert_eq!(s["requests"]["unfinished"], 0, "{name}: {s}");
    assert!(s["ttft"]["mean"].as_f64().unwrap() > 0.0, "{name}: {s}");
    assert!(s["tpot"]["mean"].as_f64().unwrap() > 0.0, "{name}: {s}");
}

#[test]
fn each_engine_runs_a_closed_loop_to_completion() {
    let lengths = "prefill_tokens: 1500, decode_tokens: 64";
    for engine in ["vllm_v1", "sglang", "trtllm"] {
        let (s, r) = run(engine, &yaml(&format!("type: {engine}"), lengths, 120));
        assert_all_complete(engine, &s, 120);
        assert_eq!(r.len(), 120);
        assert!(
            (s["in_flight_mean"].as_f64().unwrap() - 16.0).abs() < 0.5,
            "{engine}: {s}"
        );
    }
}

#[test]
fn engines_complete_under_kv_pressure_each_in_its_own_way() {
    // 800 tokens per request, 16 clients, KV for about 4 of them.
    let lengths = "prefill_tokens: 200, decode_tokens: 600";
    let (v, vr) = run(
        "vllm_pressure",
        &yaml("type: vllm_v1, num_blocks: 200", lengths, 80),
    );
    assert_all_complete("vllm_v1", &v, 80);
    // Optimistic admission, then recompute preemption.
    assert!(vr.iter().sum::<u32>() > 0, "vllm_v1 never preempted");

    let (t, tr) = run(
        "trtllm_pressure",
        &yaml("type: trtllm, num_blocks: 100", lengths, 80),
    );
    assert_all_complete("trtllm", &t, 80);
    // Reserve-to-completion admission never evicts.
    assert!(tr.iter().all(|&r| r == 0), "trtllm evicted: {tr:?}");

    let (s, _) = run(
        "sglang_pressure",
        &yaml("type: sglang, num_blocks: 3200", lengths, 80),
    );
    assert_all_complete("sglang", &s, 80);
    // Waiting for KV shows in the first token: each engine's TTFT under pressure exceeds
    // the unconstrained run's.
    let (free, _) = run("vllm_free", &yaml("type: vllm_v1", lengths, 80));
    for (name, x) in [("vllm_v1", &v), ("trtllm", &t), ("sglang", &s)] {
        assert!(
            x["ttft"]["mean"].as_f64().unwrap() > 2.0 * free["ttft"]["mean"].as_f64().unwrap(),
            "{name}: {x} vs {free}"
        );
    }
}

#[test]
fn a_knob_of_another_scheduler_exits_2_naming_it() {
    let dir = crate::common::fresh_dir("engines", "foreign");
    let lengths = "prefill_tokens: 100, decode_tokens: 10";
    for (i, (scheduler, knob)) in [
        ("type: vllm_v1, chunk_size: 512", "chunk_size"),
        ("type: sglang, max_num_seqs: 64", "max_num_seqs"),
        (
            "type: trtllm, max_num_batched_tokens: 4096",
            "max_num_batched_tokens",
        ),
        ("type: vllm_v1, max_num_seqs: 0", "scheduler.max_num_seqs"),
    ]
    .into_iter()
    .enumerate()
    {
        let cfg = dir.join(format!("bad{i}.yaml"));
        std::fs::write(&cfg, yaml(scheduler, lengths, 20)).unwrap();
        let (code, text) = run_bin(&["simulate", "--config", cfg.to_str().unwrap()]);
        assert_eq!(code, Some(2), "{scheduler}: {text}");
        assert!(text.contains(knob), "{scheduler}: {text}");
    }
    // Vidur has no engine models: compat: vidur with one is a config error, not a guess.
    let cfg = dir.join("vidur.yaml");
    let text = format!("{}compat: vidur\n", yaml("type: sglang", lengths, 20));
    std::fs::write(&cfg, text).unwrap();
    let (code, text) = run_bin(&["simulate", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("scheduler.type sglang") && text.contains("compat: default"),
        "{text}"
    );
}

#[test]
fn trtllm_rejects_a_prompt_over_max_num_tokens_unless_chunking() {
    let lengths = "prefill_tokens: 3000, decode_tokens: 10";
    let dir = crate::common::fresh_dir("engines", "trtllm_long");
    let cfg = dir.join("sim.yaml");
    std::fs::write(
        &cfg,
        yaml("type: trtllm, max_num_tokens: 2048", lengths, 20),
    )
    .unwrap();
    let (code, text) = run_bin(&["simulate", "--config", cfg.to_str().unwrap()]);
    assert_ne!(code, Some(0), "{text}");
    assert!(
        text.contains("max_num_tokens") && text.contains("enable_chunked_context"),
        "{text}"
    );
    let (s, _) = run(
        "trtllm_chunked",
        &yaml(
            "type: trtllm, max_num_tokens: 2048, enable_chunked_context: true",
            lengths,
            20,
        ),
    );
    assert_all_complete("trtllm chunked", &s, 20);
}

#[test]
fn engines_complete_with_pipeline_stages_under_kv_pressure() {
    // Two stages keep two batches in flight; the schedulers must leave their members alone
    // and still finish everything with KV for a handful of requests.
    for (i, scheduler) in [
        "type: vllm_v1, num_blocks: 300",
        "type: sglang, num_blocks: 3200, chunked_prefill_size: 256",
        "type: trtllm, num_blocks: 120, enable_chunked_context: true, max_num_tokens: 512",
    ]
    .into_iter()
    .enumerate()
    {
        let text = format!(
            "model: meta-llama/Llama-2-7b-hf\n\
             device: a100\n\
             tensor_parallel_size: 2\n\
             num_pipeline_stages: 2\n\
             scheduler: {{{scheduler}}}\n\
             workload:\n  closed_loop: {{concurrency: 24, num_requests: 150, seed: 3, \
             lengths: {{uniform: {{min_tokens: 100, max_tokens: 1500, prefill_to_decode_ratio: 2}}}}}}\n"
        );
        let (s, _) = run(&format!("pp{i}"), &text);
        assert_all_complete(scheduler, &s, 150);
    }
}

/// The embedded calibration ships serving overheads per engine: each engine model picks its
/// engine's, `serving_engine: none` turns them off, and Vidur's schedulers never get them.
#[test]
fn engine_models_carry_their_engines_shipped_serving_overheads() {
    let base = "model: meta-llama/Llama-2-7b-hf\ndevice: h100\n\
                workload:\n  closed_loop: {concurrency: 8, num_requests: 40, lengths: {fixed: {prefill_tokens: 256, decode_tokens: 32}}}\n";
    let summary = |name: &str, extra: &str| {
        simulate_summary(&format!("overheads-{name}"), &format!("{base}{extra}"))
    };
    let predictor = |s: &serde_json::Value| s["run"]["predictor"].as_str().unwrap().to_string();
    let tpot = |s: &serde_json::Value| s["tpot"]["mean"].as_f64().unwrap();

    for (kind, engine) in [
        ("vllm_v1", "vllm"),
        ("sglang", "sglang"),
        ("trtllm", "trtllm"),
    ] {
        let s = summary(kind, &format!("scheduler: {{type: {kind}}}\n"));
        assert!(
            predictor(&s).contains(&format!("{engine} overheads")),
            "{kind}: {}",
            predictor(&s)
        );
    }
    let with = summary("vllm-with", "scheduler: {type: vllm_v1}\n");
    let without = summary(
        "vllm-without",
        "scheduler: {type: vllm_v1}\npredictor: {analytic: {serving_engine: none}}\n",
    );
    assert!(
        !predictor(&without).contains("overheads"),
        "{}",
        predictor(&without)
    );
    // Every step of this light load decodes, most with all 8 requests: vLLM's decode-step and
    // per-sequence costs show in TPOT.
    let cal = vidur_search::predictor::analytic::calibration::Calibration::embedded();
    let t = &cal.serving.unwrap().engines["vllm"];
    let want_ms = t.step_ms + t.decode_step_ms + 8.0 * t.per_seq_ms;
    let added_ms = (tpot(&with) - tpot(&without)) * 1e3;
    assert!(
        added_ms > 0.8 * want_ms && added_ms < 1.1 * want_ms,
        "{added_ms} ms, expected about {want_ms} ms"
    );
    // Another engine's terms on demand.
    let sglang_terms = summary(
        "vllm-sglang-terms",
        "scheduler: {type: vllm_v1}\npredictor: {analytic: {serving_engine: sglang}}\n",
    );
    assert!(predictor(&sglang_terms).contains("sglang overheads"));
    let sarathi = summary("sarathi", "scheduler: {type: sarathi}\n");
    assert!(
        !predictor(&sarathi).contains("overheads"),
        "{}",
        predictor(&sarathi)
    );
}

/// Without `scheduler:` a simulation runs vLLM V1 with its defaults for the GPU (Sarathi,
/// Vidur's own default, under `compat: vidur`).
#[test]
fn a_config_without_a_scheduler_runs_vllm_v1() {
    let body = "model: meta-llama/Llama-2-7b-hf\ndevice: a100\n\
                workload:\n  closed_loop: {concurrency: 4, num_requests: 16, lengths: {fixed: {prefill_tokens: 128, decode_tokens: 8}}}\n";
    for (name, extra, want) in [
        ("default-scheduler", "", "vllm_v1"),
        ("default-scheduler-vidur", "compat: vidur\n", "sarathi"),
    ] {
        let s = simulate_summary(name, &format!("{body}{extra}"));
        let sched = &s["run"]["config"]["scheduler"];
        assert_eq!(sched["type"], want, "{name}");
        if want == "vllm_v1" {
            // vLLM's own defaults on an A100 (engines.md §2.6), not the H100's 8192 / 1024.
            assert_eq!(
                (&sched["max_num_batched_tokens"], &sched["max_num_seqs"]),
                (&serde_json::json!(2048), &serde_json::json!(256)),
                "{sched}"
            );
        }
    }
}

/// A search space lists the engine models with their own knobs: token budgets per engine, the
/// request cap as the engine's (not multiplied by the stages), the engine's default cap when
/// none is listed.
#[test]
fn a_space_expands_the_engine_models_knobs() {
    use vidur_search::search::{expand::expand, SearchSpace};
    use vidur_search::sim::SchedulerConfig;
    let space = SearchSpace::parse(
        "name: e\nmodels: [meta-llama/Llama-2-7b-hf]\n\
         workloads: [{name: w, lengths: {fixed: {prefill_tokens: 100, decode_tokens: 10}}}]\n\
         clusters: [{gpu: h100, max_gpus: 2}]\npp: [2]\n\
         schedulers:\n  - {type: vllm_v1, max_num_batched_tokens: [512, 2048], batch_size_cap: [64]}\n\
         \x20 - {type: sglang, chunked_prefill_size: [4096]}\n  - {type: trtllm}\n\
         slos: [{metric: ttft, quantile: 0.9, max_seconds: 1.0}]\n",
    )
    .unwrap();
    let exp = expand(&space, std::path::Path::new(".")).unwrap();
    let got: Vec<(String, u32, Option<u32>)> = exp
        .points
        .iter()
        .map(|p| {
            let c = &p.config;
            // The point's record and the simulated config agree.
            assert_eq!(c.batch_size_cap, p.sim.scheduler.batch_size_cap(), "{c:?}");
            assert_eq!(
                c.max_tokens_in_batch,
                p.sim.scheduler.token_budget(),
                "{c:?}"
            );
            (c.scheduler.clone(), c.batch_size_cap, c.max_tokens_in_batch)
        })
        .collect();
    assert_eq!(
        got,
        [
            ("vllm_v1".to_string(), 64, Some(512)),
            ("vllm_v1".to_string(), 64, Some(2048)),
            ("sglang".to_string(), 4096, Some(4096)),
            ("trtllm".to_string(), 2048, Some(8192)),
        ]
    );
    assert!(matches!(
        exp.points[3].sim.scheduler,
        SchedulerConfig::Trtllm(ref c) if c.max_num_tokens == 8192 && !c.enable_chunked_context
    ));
}
