//! Inputs that crashed a loader under its fuzz target (`fuzz/`; found by the fuzzer or by
//! probing the target by hand), minimized and replayed here through the same entry point: each
//! must now load or fail with a clear message, never panic. See the README's *Fuzzing*.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use vidur_search::catalog::hf;
use vidur_search::compat::Compat;
use vidur_search::config::vidur_json;
use vidur_search::predictor::measured::KernelSet;
use vidur_search::predictor::{VidurTablesOptions, VidurTablesPredictor};
use vidur_search::search::{expand::expand, SearchSpace};
use vidur_search::sim::memory;
use vidur_search::workload::{self, IntervalConfig, LengthConfig, SyntheticConfig, WorkloadConfig};

/// A fresh folder under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "vidur-fuzz-regression-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// hf_config: a top-level JSON string whose 40th byte falls inside a multi-byte character was
/// cut at that byte for the error message (a slicing panic).
#[test]
fn hf_config_top_level_string_with_multibyte_char() {
    let text = "\":-truCt-hf\\\\\\\\\\\\\\\\\\\\\\\\null\\\\\\\\\\\\\\\\\\\\m4\u{3cc}\"";
    let e = hf::from_hf_json(text, "config.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("config.json") && e.contains("top level"), "{e}");
}

/// hf_config (and vidur_config, whose model_config feeds the same counts): 32-bit sizes at their
/// maximum overflowed the u64 parameter count and the weight and KV bytes derived from it; such
/// a shape is now rejected when the file is read.
#[test]
fn hf_config_sizes_at_u32_max_are_rejected_not_overflowed() {
    let sizes = r#""model_type": "llama", "hidden_size": 4294967295, "torch_dtype": "bfloat16",
        "intermediate_size": 4294967295, "num_hidden_layers": 4294967295,
        "vocab_size": 4294967295, "max_position_embeddings": 4096"#;
    let heads = [
        r#""num_attention_heads": 1, "num_key_value_heads": 1"#,
        r#""num_attention_heads": 4294967295, "num_key_value_heads": 4294967295,
           "head_dim": 4294967295"#,
    ];
    for h in heads {
        let text = format!("{{{sizes}, {h}}}");
        let e = hf::from_hf_json(&text, "config.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("config.json") && e.contains("implausibly large"),
            "{e}"
        );
    }
    // The largest shipped models stay well inside the bound.
    for m in hf::embedded_models() {
        assert!(m.params_total() > 0, "{}", m.spec.name);
    }
}

/// search_space: TP × PP of two large list values overflowed u32 while the expansion sized the
/// replicas (`max_gpus / (tp · pp)`) and the GPU-budget check; the point is now dropped.
#[test]
fn search_space_huge_tp_times_pp_is_dropped_not_overflowed() {
    let text = "name: x
models: [meta-llama/Meta-Llama-3-8B]
workloads: [{name: chat, lengths: {builtin: {name: chat}}}]
clusters: [{gpu: h100, max_gpus: 8}]
tp: [65536]
pp: [65536]
schedulers: [{type: vllm}]
batch_size_cap: [4294967295]
slos: [{metric: ttft, quantile: 0.9, max_seconds: 1.0}]
";
    let space = SearchSpace::parse(text).unwrap();
    let x = expand(&space, Path::new(".")).unwrap();
    let reasons = x.dropped_by_reason();
    assert_eq!(reasons, vec![("gpu_budget".to_string(), 1)], "{reasons:?}");
    let text =
        text.replace("tp: [65536]\npp: [65536]", "tp: [1]\npp: [65536]") + "replicas: [65536]\n";
    let space = SearchSpace::parse(&text).unwrap();
    let x = expand(&space, Path::new(".")).unwrap();
    assert_eq!(x.dropped_by_reason()[0].0, "gpu_budget");
}

/// prediction_tables: one huge key made the dense attention grid allocate exabytes (or
/// overflowed its size); it is now an error naming the file and the keys.
#[test]
fn prediction_tables_huge_attention_keys_are_errors() {
    let tok = "num_tokens,prediction\n1,0.1\n2,0.2\n";
    let decode = "batch_size,kv_cache_size,prediction\n1,0,1\n";
    let prefill = "kv_cache_size,prefill_chunk_size_squared,prediction\n0,1,1\n";
    let cases = [
        (
            "batch_size,kv_cache_size,prediction\n1000000000000000000,0,1\n",
            prefill,
            "attn_decode.csv",
        ),
        (
            decode,
            "kv_cache_size,prefill_chunk_size_squared,prediction\n10000000000000000000,1,1\n",
            "attn_prefill.csv",
        ),
        (
            decode,
            "kv_cache_size,prefill_chunk_size_squared,prediction\n0,1e30,1\n",
            "attn_prefill.csv",
        ),
    ];
    let model = hf::lookup_embedded("meta-llama/Llama-2-7b-hf")
        .unwrap()
        .spec;
    for (decode, prefill, file) in cases {
        let t = Scratch::new("tables");
        for op in [
            "attn_pre_proj",
            "attn_post_proj",
            "attn_rope",
            "attn_kv_cache_save",
            "mlp_up_proj",
            "mlp_down_proj",
            "mlp_act",
            "input_layernorm",
            "post_attention_layernorm",
            "add",
        ] {
            t.write(&format!("{op}.csv"), tok.as_bytes());
        }
        t.write("attn_decode.csv", decode.as_bytes());
        t.write("attn_prefill.csv", prefill.as_bytes());
        let opts = VidurTablesOptions::default();
        let e = VidurTablesPredictor::load(t.path(), &model, 1, 1, &opts, Compat::Default)
            .unwrap_err()
            .to_string();
        assert!(e.contains(file) && e.contains("dense table"), "{e}");
    }
}

/// kernel_tables: a generation step of u32::MAX overflowed when the new token was added to it.
#[test]
fn kernel_tables_generation_step_at_u32_max_is_an_error() {
    let t = Scratch::new("kernels");
    let gpu = "gpu:\n  mem_bw: 3.35e12\n  mem_capacity: 8.6e10\n  bfloat16_tc_flops: 9.89e14\n\
               node:\n  num_gpus_per_node: 8\n  inter_node_bw: 5e10\n  intra_node_bw: 4.5e11\n";
    t.write("h100_sxm/system.yaml", gpu.as_bytes());
    t.write(
        "h100_sxm/gemm.csv",
        b"gemm_dtype,m,n,k,latency_ms\nbfloat16,16,4096,4096,0.05\n",
    );
    let attn = "batch_size,isl,num_heads,num_key_value_heads,head_dim,attn_dtype,kv_cache_dtype,latency_ms\n\
                1,128,32,8,128,bfloat16,bfloat16,0.05\n";
    t.write("h100_sxm/context_attention.csv", attn.as_bytes());
    t.write(
        "h100_sxm/generation_attention.csv",
        attn.replace("isl", "step")
            .replace(",128,32", ",4294967295,32")
            .as_bytes(),
    );
    t.write(
        "h100_sxm/allreduce.csv",
        b"allreduce_dtype,num_gpus,message_size,backend,latency_ms\nbfloat16,2,128,nccl,0.01\n",
    );
    let e = KernelSet::load_all(t.path()).unwrap_err().to_string();
    assert!(
        e.contains("generation_attention.csv") && e.contains("line 2") && e.contains("'step'"),
        "{e}"
    );
}

/// trace_csv: the trace length generator's proportional clip multiplied the excess by the
/// prompt in u128, which overflows for a count past u64 (saturated from the CSV's float).
#[test]
fn trace_lengths_huge_prompt_is_clipped_not_overflowed() {
    let t = Scratch::new("trace");
    t.write(
        "trace.csv",
        b"arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,374,44\n4.3,39999999999999999996,1000\n",
    );
    let cfg = WorkloadConfig::Synthetic(SyntheticConfig {
        seed: 1,
        num_requests: Some(2),
        duration_s: None,
        max_tokens: 2,
        lengths: LengthConfig::Trace {
            trace_file: "trace.csv".into(),
            prefill_scale_factor: 1.0,
            decode_scale_factor: 1.0,
        },
        intervals: IntervalConfig::Poisson { qps: 10.0 },
    });
    let reqs = workload::generate(&cfg, Compat::Default, t.path()).unwrap();
    assert_eq!(reqs.len(), 2);
    for r in reqs {
        assert_eq!((r.num_prefill_tokens, r.num_decode_tokens), (1, 1), "{r:?}");
    }
}

/// vidur_config: a device with absurd memory (1e300 GB) made the memory plan's request slots
/// saturate to u64::MAX and the block count (blocks per request × slots) overflow.
#[test]
fn vidur_config_absurd_device_memory_plans_without_overflow() {
    let t = Scratch::new("vidur-memory");
    let text = VIDUR_CONFIG.replace("\"total_memory_gb\": 80", "\"total_memory_gb\": 1e300");
    let p = t.write("config.json", text.as_bytes());
    let run = vidur_json::load(&p, None).unwrap();
    let s = &run.sim;
    let plan = memory::plan(
        &s.model,
        &s.device,
        s.tensor_parallel_size,
        s.num_pipeline_stages,
        s.memory_margin_fraction,
        s.max_tokens,
        &s.scheduler,
        s.compat,
    )
    .unwrap();
    assert_eq!(plan.max_batch_size, u64::from(u32::MAX));
}

/// A Vidur `config.json` (Orca, fixed lengths) for a custom model `acme/huge` with
/// Llama-2-7B's shape; tests edit its sizes.
const VIDUR_CONFIG: &str = r#"{
 "seed": 42,
 "time_limit": 0,
 "cluster_config": {
  "num_replicas": 1,
  "replica_config": {
   "model_name": "acme/huge",
   "memory_margin_fraction": 0.1,
   "num_pipeline_stages": 1,
   "tensor_parallel_size": 1,
   "model_config": {
    "num_layers": 32,
    "num_q_heads": 32,
    "num_kv_heads": 32,
    "embedding_dim": 4096,
    "mlp_hidden_dim": 11008,
    "max_position_embeddings": 4096,
    "use_gated_mlp": true,
    "post_attn_norm": true,
    "vocab_size": 32768,
    "name": "acme/huge"
   },
   "device_config": {
    "fp16_tflops": 312,
    "total_memory_gb": 80,
    "name": "a100"
   },
   "node_config": {
    "num_devices_per_node": 4,
    "name": "a100_pairwise_nvlink"
   }
  },
  "global_scheduler_config": {
   "name": "round_robin"
  },
  "replica_scheduler_config": {
   "batch_size_cap": 128,
   "block_size": 16,
   "watermark_blocks_fraction": 0.01,
   "num_blocks": null,
   "name": "orca"
  }
 },
 "request_generator_config": {
  "seed": 1,
  "num_requests": 10,
  "name": "synthetic",
  "length_generator_config": {
   "name": "fixed",
   "prefill_tokens": 300,
   "decode_tokens": 30
  },
  "interval_generator_config": {
   "name": "static"
  }
 },
 "execution_time_predictor_config": {
  "kv_cache_prediction_granularity": 64,
  "attention_decode_batching_overhead_fraction": 0.1,
  "attention_prefill_batching_overhead_fraction": 0.1,
  "nccl_cpu_launch_overhead_ms": 0.02,
  "nccl_cpu_skew_overhead_per_device_ms": 0.0,
  "skip_cpu_overhead_modeling": true
 },
 "metrics_config": {
  "enable_chrome_trace": false,
  "store_token_completion_metrics": false
 }
}"#;
