//! Hand-built scenarios with known answers (dslab-faas style): pipeline micro-batching and the
//! TP/PP table paths, which the conformance cases do not exercise (they all run TP1 PP1).

use vidur_search::catalog::{DeviceSpec, ModelSpec, NodeSpec};
use vidur_search::compat::Compat;
use vidur_search::config::vidur_json;
use vidur_search::predictor::{ExecutionTimePredictor, VidurTablesOptions, VidurTablesPredictor};
use vidur_search::sim::{
    simulate, MetricsOptions, RouterKind, SchedulerConfig, SchedulerKind, SimConfig,
};
use vidur_search::workload::RequestSpec;

use crate::common::{shared, LinearPredictor};

fn cfg(kind: SchedulerKind, tp: u32, pp: u32, cap: u32) -> SimConfig {
    let mut scheduler = SchedulerConfig::new(kind);
    scheduler.set_batch_size_cap(cap);
    SimConfig {
        model: ModelSpec::builtin("meta-llama/Llama-2-7b-hf").unwrap(),
        device: DeviceSpec::builtin("a100").unwrap(),
        node: NodeSpec::builtin("a100_pairwise_nvlink").unwrap(),
        tensor_parallel_size: tp,
        num_pipeline_stages: pp,
        num_replicas: 1,
        memory_margin_fraction: 0.1,
        max_tokens: 4096,
        scheduler,
        router: RouterKind::RoundRobin,
        seed: 1,
        time_limit_s: None,
        compat: Compat::Vidur,
        metrics: MetricsOptions::default(),
    }
}

/// Two requests at t=0 on a 2-stage pipeline with 1 s stages and one request per micro-batch:
/// both prefills are formed at once and flow through the stages back to back, each decode is
/// formed when its own micro-batch ends (Vidur's `num_running_batches < num_stages` rule).
///
/// stage 0: A 0–1, B 1–2, A' 2–3, B' 3–4;  stage 1: A 1–2, B 2–3, A' 3–4, B' 4–5.
#[test]
fn pipeline_micro_batches_flow_back_to_back() {
    let config = cfg(SchedulerKind::Vllm, 1, 2, 2);
    let reqs = [
        RequestSpec {
            arrived_at: 0.0,
            num_prefill_tokens: 10,
            num_decode_tokens: 2,
        },
        RequestSpec {
            arrived_at: 0.0,
            num_prefill_tokens: 10,
            num_decode_tokens: 2,
        },
    ];
    let pred = LinearPredictor {
        base_s: 1.0,
        per_token_s: 0.0,
        per_kv_token_s: 0.0,
    };
    let out = simulate(&config, &reqs, &pred, &mut ()).unwrap();
    let r = &out.requests;
    assert_eq!((r[0].prefill_completed_at, r[0].completed_at), (2.0, 4.0));
    assert_eq!((r[1].prefill_completed_at, r[1].completed_at), (3.0, 5.0));
    assert_eq!((r[0].scheduling_delay, r[1].scheduling_delay), (0.0, 0.0));
    // Execution is summed over both stages of both iterations. B waited 1 s in stage 0's queue
    // before its first stage, which Vidur counts nowhere: preempted time starts at the first
    // stage end, and every later gap between B's stages is 0.
    assert_eq!((r[0].execution_time, r[1].execution_time), (4.0, 4.0));
    assert_eq!((r[0].preempted_time, r[1].preempted_time), (0.0, 0.0));
    assert_eq!(out.num_batches, 4);
}

/// With the TP2/PP2 tables, every stage pays two all-reduces per layer and every stage but
/// the last a send/recv: check the composition against the tables by hand.
#[test]
fn tp_and_pp_communication_terms() {
    let s = shared();
    let dir = s.join("conformance/tables/llama2-7b_a100_tp2_pp2");
    let model = ModelSpec::builtin("meta-llama/Llama-2-7b-hf").unwrap();
    let opts = VidurTablesOptions::default();
    let pp2 = VidurTablesPredictor::load(&dir, &model, 2, 2, &opts, Compat::Vidur).unwrap();
    let batch = [vidur_search::predictor::BatchEntry {
        num_tokens: 1,
        num_processed_tokens: 100,
        is_prefill_complete: true,
    }];
    let first = pp2.predict(&batch, 0).unwrap().total_s;
    let last = pp2.predict(&batch, 1).unwrap().total_s;
    // send_recv(8 tokens) from the table: 0.009624779365079335 ms.
    assert!(
        ((first - last) * 1e3 - 0.009624779365079335).abs() < 1e-12,
        "{first} {last}"
    );
    // Dropping TP to 1 (same tables) removes 2 all-reduces per layer × 16 layers:
    // 32 × (all_reduce(8) 0.0525525 ms + 0.02 ms launch overhead).
    let tp1 = VidurTablesPredictor::load(&dir, &model, 1, 2, &opts, Compat::Vidur).unwrap();
    let no_ar = tp1.predict(&batch, 1).unwrap().total_s;
    assert!(((last - no_ar) * 1e3 - 32.0 * (0.052552499999999815 + 0.02)).abs() < 1e-9);
    // The engine runs this layout end to end.
    let config = cfg(SchedulerKind::Sarathi, 2, 2, 128);
    let reqs: Vec<RequestSpec> = (0..50)
        .map(|i| RequestSpec {
            arrived_at: i as f64 * 0.05,
            num_prefill_tokens: 300 + i,
            num_decode_tokens: 20,
        })
        .collect();
    let out = simulate(&config, &reqs, &pp2, &mut ()).unwrap();
    assert_eq!(out.num_unfinished, 0);
}

/// Table lookups outside the range are errors naming the op and key, not panics.
#[test]
fn out_of_range_lookup_names_op_and_key() {
    let s = shared();
    let dir = s.join("conformance/tables/llama2-7b_a100_tp1");
    let model = ModelSpec::builtin("meta-llama/Llama-2-7b-hf").unwrap();
    let p = VidurTablesPredictor::load(
        &dir,
        &model,
        1,
        1,
        &VidurTablesOptions::default(),
        Compat::Vidur,
    )
    .unwrap();
    let big = [vidur_search::predictor::BatchEntry {
        num_tokens: 5000,
        num_processed_tokens: 0,
        is_prefill_complete: false,
    }];
    let err = p.predict(&big, 0).unwrap_err().to_string();
    assert!(
        err.contains("num_tokens=5000") || err.contains("attn_prefill"),
        "{err}"
    );
}

/// LightLLM keeps token-level KV: a Vidur dump giving it another block size is refused with the
/// field named, and the shipped block size 1 loads.
#[test]
fn vidur_lightllm_block_size_must_be_one() {
    let case = shared().join("conformance/cases/lightllm_heavy");
    let text = std::fs::read_to_string(case.join("config.json")).unwrap();
    let dir = std::env::temp_dir().join(format!("vidur-search-lightllm-bs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("config.json");
    assert!(text.contains("\"block_size\": 1,"));
    std::fs::write(
        &bad,
        text.replace("\"block_size\": 1,", "\"block_size\": 16,"),
    )
    .unwrap();
    let trace = case.join("trace.csv");
    let err = vidur_json::load(&bad, Some(&trace))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("replica_scheduler_config.block_size") && err.contains("must be 1"),
        "{err}"
    );
    let ok = vidur_json::load(&case.join("config.json"), Some(&trace)).unwrap();
    assert_eq!(ok.sim.scheduler.kind(), SchedulerKind::Lightllm);
    assert_eq!(ok.sim.scheduler.block_size(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
