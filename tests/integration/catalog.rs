//! Model and hardware names in our simulation YAML: embedded Hugging Face models, catalog GPUs
//! and node shapes, user hardware overrides, and the Vidur built-ins kept as they were.

use std::path::{Path, PathBuf};

use vidur_search::catalog::{self, HardwareCatalog, ModelSpec};
use vidur_search::config::sim_yaml;

fn tmp(name: &str) -> PathBuf {
    crate::common::fresh_dir("catalog", name)
}

/// A simulation YAML with the given head lines; the tables folder need not exist to load.
fn write_sim(dir: &Path, head: &str) -> PathBuf {
    let body = format!(
        "{head}
scheduler: {{type: sarathi, chunk_size: 512, batch_size_cap: 64}}
workload:
  synthetic:
    num_requests: 10
    lengths: {{fixed: {{prefill_tokens: 512, decode_tokens: 64}}}}
    intervals: {{poisson: {{qps: 1.0}}}}
predictor:
  vidur_tables: {{dir: tables}}
"
    );
    let p = dir.join("sim.yaml");
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn qwen3_32b_on_h200_tp2_loads() {
    let dir = tmp("qwen3_h200");
    let p = write_sim(
        &dir,
        "model: Qwen/Qwen3-32B\ndevice: h200\ntensor_parallel_size: 2",
    );
    let run = sim_yaml::load(&p).unwrap();
    let m = &run.sim.model;
    assert_eq!(m.name, "Qwen/Qwen3-32B");
    assert_eq!(
        (m.num_layers, m.num_q_heads, m.num_kv_heads, m.head_dim),
        (64, 64, 8, 128)
    );
    assert_eq!((m.embedding_dim, m.dtype_bytes), (5120, 2));
    let d = &run.sim.device;
    assert_eq!(
        (d.name.as_str(), d.fp16_tflops, d.total_memory_gb),
        ("h200-sxm", 989.0, 141.0)
    );
    assert_eq!(run.sim.node.name, "h200_hgx");
    assert_eq!(run.sim.node.num_devices_per_node, 8);
    assert_eq!(run.sim.tensor_parallel_size, 2);
}

#[test]
fn every_catalog_gpu_loads_by_alias() {
    let dir = tmp("aliases");
    for (device, node) in [
        ("b200", "b200_hgx"),
        ("l40s", "l40s_pcie"),
        ("mi300x", "mi300x_oam"),
        ("a100-80gb", "a100_dgx"),
        ("H100", "h100_dgx"),
        ("a40", "a40_pairwise_nvlink"),
        ("l40", "l40_pcie"),
    ] {
        let p = write_sim(
            &dir,
            &format!("model: meta-llama/Llama-3.1-8B\ndevice: {device}"),
        );
        let run = sim_yaml::load(&p).unwrap();
        assert_eq!(run.sim.node.name, node, "{device}");
    }
}

#[test]
fn vidur_builtins_keep_vidur_values() {
    let dir = tmp("vidur_builtins");
    // Vidur's built-in model: Vidur's recorded vocab (32768), not the HF config's 32000.
    let p = write_sim(&dir, "model: meta-llama/Llama-2-7b-hf\ndevice: a100");
    let run = sim_yaml::load(&p).unwrap();
    assert_eq!(
        run.sim.model,
        ModelSpec::builtin("meta-llama/Llama-2-7b-hf").unwrap()
    );
    assert_eq!(run.sim.model.vocab_size, 32768);
    // Default mode: the catalog's A100 (same numbers as Vidur's) and its DGX default node.
    assert_eq!(
        (run.sim.device.fp16_tflops, run.sim.device.total_memory_gb),
        (312.0, 80.0)
    );
    assert_eq!(run.sim.node.name, "a100_dgx");

    // Vidur mode: Vidur's device table and default node.
    let p = write_sim(
        &dir,
        "model: meta-llama/Llama-2-7b-hf\ndevice: h100\ncompat: vidur",
    );
    let run = sim_yaml::load(&p).unwrap();
    assert_eq!(
        (run.sim.device.name.as_str(), run.sim.device.fp16_tflops),
        ("h100", 1000.0)
    );
    assert_eq!(run.sim.node.name, "h100_pairwise_nvlink");
    assert_eq!(run.sim.node.num_devices_per_node, 4);
    // A named node shape wins over the default.
    let p = write_sim(
        &dir,
        "model: meta-llama/Llama-2-7b-hf\ndevice: h100\nnetwork_device: h100_dgx",
    );
    let run = sim_yaml::load(&p).unwrap();
    assert_eq!(run.sim.node.name, "h100_dgx");
    assert_eq!(
        run.sim.device.fp16_tflops, 989.0,
        "default mode uses the catalog's H100"
    );
}

#[test]
fn model_by_relative_config_path() {
    let dir = tmp("model_path");
    std::fs::create_dir_all(dir.join("models/tiny")).unwrap();
    std::fs::write(
        dir.join("models/tiny/config.json"),
        r#"{"_name_or_path": "me/tiny", "model_type": "qwen3", "hidden_size": 1024,
            "intermediate_size": 3072, "num_hidden_layers": 4, "num_attention_heads": 16,
            "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 1000,
            "max_position_embeddings": 8192}"#,
    )
    .unwrap();
    for model in ["models/tiny/config.json", "models/tiny"] {
        let p = write_sim(&dir, &format!("model: {model}\ndevice: a100"));
        let m = sim_yaml::load(&p).unwrap().sim.model;
        assert_eq!(
            (m.name.as_str(), m.head_dim, m.num_layers),
            ("me/tiny", 128, 4)
        );
    }
    // The same through the public resolver.
    let m = catalog::resolve_model("models/tiny", &dir).unwrap();
    assert_eq!(m.num_kv_heads, 8);
}

#[test]
fn hardware_overrides_add_a_sku_and_change_a_price() {
    let dir = tmp("hardware");
    std::fs::write(
        dir.join("my-hardware.yaml"),
        "gpus:
  h100:
    prices:
      - {usd_per_gpu_hour: 1.5, provider: MyCloud, date: 2026-01-01, source: our contract}
  my-gpu:
    aliases: [mine]
    vendor: nvidia
    architecture: hopper
    sm_version: 90
    bf16_dense_tflops: 500
    fp8_dense_tflops: null
    memory_gib: 96
    memory_bandwidth_gb_per_s: 4000
    intra_node_bandwidth_gb_per_s: 450
    intra_node_latency_us: 10
    inter_node_bandwidth_gb_per_s: 50
    pcie_bandwidth_gb_per_s: 64
    default_node: my_box
nodes:
  my_box: {num_gpus_per_node: 2, link: nvlink, all_pairs_connected: true}
",
    )
    .unwrap();
    let p = write_sim(
        &dir,
        "model: Qwen/Qwen3-8B\ndevice: mine\nhardware: my-hardware.yaml",
    );
    let run = sim_yaml::load(&p).unwrap();
    assert_eq!(
        (
            run.sim.device.name.as_str(),
            run.sim.device.fp16_tflops,
            run.sim.device.total_memory_gb
        ),
        ("my-gpu", 500.0, 96.0)
    );
    assert_eq!(
        (
            run.sim.node.name.as_str(),
            run.sim.node.num_devices_per_node
        ),
        ("my_box", 2)
    );
    let cat = HardwareCatalog::with_overrides(&dir.join("my-hardware.yaml")).unwrap();
    assert_eq!(cat.price("h100").unwrap().unwrap().provider, "MyCloud");
}

#[test]
fn bad_names_and_files_are_clear_errors() {
    let dir = tmp("errors");
    let err = |head: &str| {
        let p = write_sim(&dir, head);
        sim_yaml::load(&p).unwrap_err().to_string()
    };
    let e = err("model: Qwen/Qwen3-32B\ndevice: tpu");
    assert!(
        e.contains("sim.yaml")
            && e.contains("field 'device'")
            && e.contains("unknown device 'tpu'")
            && e.contains("h200-sxm"),
        "{e}"
    );
    let e = err("model: nobody/nothing-7b\ndevice: h100");
    assert!(
        e.contains("field 'model'")
            && e.contains("unknown model 'nobody/nothing-7b'")
            && e.contains("Qwen/Qwen3-32B"),
        "{e}"
    );
    let e = err("model: Qwen/Qwen3-8B\ndevice: h100\nnetwork_device: nvl72");
    assert!(
        e.contains("field 'network_device'") && e.contains("h100_dgx"),
        "{e}"
    );
    let e = err("model: Qwen/Qwen3-8B\ndevice: h100\nhardware: missing.yaml");
    assert!(
        e.contains("field 'hardware'") && e.contains("missing.yaml"),
        "{e}"
    );
    std::fs::write(dir.join("bad-hw.yaml"), "gpus:\n  h100:\n    tflops: 1\n").unwrap();
    let e = err("model: Qwen/Qwen3-8B\ndevice: h100\nhardware: bad-hw.yaml");
    assert!(
        e.contains("bad-hw.yaml") && e.contains("line 3") && e.contains("tflops"),
        "{e}"
    );
    // TP must still divide the heads (Qwen3-32B has 64).
    let e = err("model: Qwen/Qwen3-32B\ndevice: h200\ntensor_parallel_size: 3");
    assert!(e.contains("tensor_parallel_size 3"), "{e}");
}
