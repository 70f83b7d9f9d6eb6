//! Bad input through the binary, table-driven: every entry point (simulation YAML, Vidur
//! config.json, trace CSVs, Vidur prediction tables, Vidur profiles, kernel tables, hardware
//! YAML, Hugging Face config.json models, calibration JSON, search spaces, and the flags of
//! every subcommand). Each row writes small files into a temp folder (shipped examples or shared
//! data with one thing changed, or tiny fixtures), runs the command and checks that it exits
//! with exactly 2 (no panic, no success), that stderr names the file and the line/column or the
//! field, and that the message has no doubled prefix, repeated OS error or library hint.
//!
//! Every input fails while loading, so the whole module runs in a few seconds.

use std::path::{Path, PathBuf};

use crate::common::{bin, shared};

/// One bad input: a name (for failures), the arguments, and what stderr must contain.
struct Case {
    name: String,
    args: Vec<String>,
    needles: Vec<String>,
}

/// Builds the rows, each in its own temp folder.
struct Table {
    root: PathBuf,
    cases: Vec<Case>,
}

impl Table {
    fn new() -> Table {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad_inputs");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        Table {
            root,
            cases: Vec::new(),
        }
    }

    /// A fresh folder for row `name`.
    fn dir(&self, name: &str) -> PathBuf {
        let d = self.root.join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn add(&mut self, name: &str, args: &[&str], needles: &[&str]) {
        assert!(
            !self.cases.iter().any(|c| c.name == name),
            "duplicate row {name}"
        );
        self.cases.push(Case {
            name: name.to_string(),
            args: args.iter().map(|s| s.to_string()).collect(),
            needles: needles.iter().map(|s| s.to_string()).collect(),
        });
    }
}

/// `text` with `from` replaced by `to`; `from` must occur, or the row would test nothing.
fn mutate(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "fixture lacks {from:?}");
    text.replacen(from, to, 1)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The shipped Qwen3-32B example: analytic predictor, no external files.
fn example_yaml() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/examples/qwen3-32b-h200-tp2.yaml"),
    )
    .unwrap()
}

/// The shipped Llama-3-8B search space.
fn example_space() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("search-spaces/llama3-8b.yaml"),
    )
    .unwrap()
}

const SYNTHETIC: &str = "  synthetic:\n    seed: 7\n    num_requests: 1000\n    max_tokens: 8192\n    lengths:\n      zipf:\n        theta: 0.6\n        scramble: false\n        min_tokens: 256\n        max_tokens: 8192\n        prefill_to_decode_ratio: 4.0\n    intervals:\n      poisson:\n        qps: 3.0\n";

/// The example YAML with its workload replaced by a replay of `trace`.
fn replay_yaml(trace: &str) -> String {
    mutate(
        &example_yaml(),
        SYNTHETIC,
        &format!("  trace_replay: {{trace_file: \"{trace}\", max_tokens: 8192}}\n"),
    )
}

/// A folder mirroring the shared Llama-2-7B/A100 tables (symlinks) with `op` replaced by a
/// plain `op.csv` holding `text` (or removed when `text` is None).
fn tables_with(dir: &Path, op: &str, text: Option<&str>) -> String {
    let src = shared().join("conformance/tables/llama2-7b_a100_tp1");
    let out = dir.join("tables");
    std::fs::create_dir_all(&out).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!("{op}.")) {
            continue;
        }
        std::os::unix::fs::symlink(e.path(), out.join(&name)).unwrap();
    }
    if let Some(t) = text {
        std::fs::write(out.join(format!("{op}.csv")), t).unwrap();
    }
    s(&out)
}

const SYSTEM_YAML: &str = "gpu:\n  mem_bw: 2.0e12\n  mem_capacity: 8.5e10\n  bfloat16_tc_flops: 3.12e14\n  fp8_tc_flops: null\n  sm_version: 80\nnode:\n  num_gpus_per_node: 8\n  intra_node_bw: 3.0e11\n  inter_node_bw: 2.5e10\n  p2p_latency: 1.0e-5\n";
const GEMM: &str = "gemm_dtype,m,n,k,latency_ms\nbfloat16,64,4096,4096,0.05\nbfloat16,128,4096,4096,0.06\nbfloat16,256,4096,4096,0.08\n";
const CONTEXT: &str = "batch_size,isl,num_heads,num_key_value_heads,head_dim,attn_dtype,kv_cache_dtype,latency_ms\n1,512,32,32,128,bfloat16,bfloat16,0.2\n1,1024,32,32,128,bfloat16,bfloat16,0.6\n2,1024,32,32,128,bfloat16,bfloat16,1.1\n";
const GENERATION: &str = "batch_size,step,num_heads,num_key_value_heads,head_dim,attn_dtype,kv_cache_dtype,latency_ms\n1,512,32,32,128,bfloat16,bfloat16,0.05\n8,1024,32,32,128,bfloat16,bfloat16,0.3\n16,1024,32,32,128,bfloat16,bfloat16,0.5\n";
const ALLREDUCE: &str = "allreduce_dtype,num_gpus,message_size,backend,latency_ms\nbfloat16,2,1048576,vllm_graph,0.03\nbfloat16,2,4194304,vllm_graph,0.08\nbfloat16,4,1048576,vllm_graph,0.04\n";

/// A tiny kernel-table folder `<dir>/kernels/a100_sxm/` with `file` replaced by `text`
/// (removed when `text` is None).
fn kernels_with(dir: &Path, file: &str, text: Option<&str>) -> String {
    let g = dir.join("kernels/a100_sxm");
    std::fs::create_dir_all(&g).unwrap();
    for (f, t) in [
        ("system.yaml", SYSTEM_YAML),
        ("gemm.csv", GEMM),
        ("context_attention.csv", CONTEXT),
        ("generation_attention.csv", GENERATION),
        ("allreduce.csv", ALLREDUCE),
    ] {
        let t = if f == file { text } else { Some(t) };
        if let Some(t) = t {
            std::fs::write(g.join(f), t).unwrap();
        }
    }
    s(&dir.join("kernels"))
}

const MLP_HEADER: &str = "n_head,n_kv_head,n_embd,n_expanded_embd,vocab_size,use_gated_mlp,num_tokens,num_tensor_parallel_workers,time_stats.attn_pre_proj.median,time_stats.attn_post_proj.median,time_stats.attn_rope.median,time_stats.mlp_up_proj.median,time_stats.mlp_down_proj.median,time_stats.mlp_act.median,time_stats.input_layernorm.median,time_stats.post_attention_layernorm.median,time_stats.add.median";

/// An mlp.csv row for Llama-2-7B (Vidur's shape) at TP 1 with every median `ms`.
fn mlp_row(tokens: u32, ms: &str) -> String {
    format!("32,32,4096,11008,32768,True,{tokens},1,{ms},{ms},{ms},{ms},{ms},{ms},{ms},{ms},{ms}")
}

/// A profile folder with one mlp.csv (Llama-2-7B on a100) holding `rows`.
fn profiles_with(dir: &Path, rows: &[String]) -> String {
    let root = dir.join("profiles");
    let text = format!("{MLP_HEADER}\n{}\n", rows.join("\n"));
    write(
        &root,
        "compute/a100/meta-llama/Llama-2-7b-hf/mlp.csv",
        &text,
    );
    s(&root)
}

fn good_mlp_rows() -> Vec<String> {
    [8, 64, 512, 4096]
        .iter()
        .map(|&t| mlp_row(t, &format!("{}", 0.01 + t as f64 * 1e-4)))
        .collect()
}

fn simulate_config(cfg: &str) -> Vec<String> {
    vec!["simulate".into(), "--config".into(), cfg.into()]
}

fn rows() -> Table {
    let mut t = Table::new();
    let sh = shared();
    let case = sh.join("conformance/cases/vllm_heavy");
    let vidur_cfg = std::fs::read_to_string(case.join("config.json")).unwrap();
    let good_trace = s(&case.join("trace.csv"));
    let good_tables = s(&sh.join("conformance/tables/llama2-7b_a100_tp1"));

    // ---- simulate --config: our YAML ----
    let yaml_rows: &[(&str, &str, &str, &[&str])] = &[
        (
            "yaml_duplicate_key",
            "seed: 42",
            "seed: 42\nseed: 43",
            &["line 32", "duplicate key `seed`"],
        ),
        (
            "yaml_unknown_field",
            "seed: 42",
            "seed: 42\ncolour: blue",
            &["colour"],
        ),
        (
            "yaml_unknown_scheduler",
            "type: sarathi",
            "type: fastest",
            &["fastest"],
        ),
        (
            "yaml_tp_spans_nodes",
            "tensor_parallel_size: 2",
            "tensor_parallel_size: 16",
            &["tensor_parallel_size", "spans more than one node", "8 GPUs"],
        ),
        (
            "yaml_tp_does_not_divide_heads",
            "tensor_parallel_size: 2",
            "tensor_parallel_size: 3",
            &["tensor_parallel_size 3", "heads"],
        ),
        ("yaml_negative_qps", "qps: 3.0", "qps: -1", &["qps", "-1"]),
        (
            "yaml_unknown_model",
            "model: Qwen/Qwen3-32B",
            "model: nosuch/Model-1B",
            &["field 'model'", "nosuch/Model-1B"],
        ),
        (
            "yaml_unknown_device",
            "device: h200",
            "device: tpu9",
            &["field 'device'", "tpu9"],
        ),
        (
            "yaml_unknown_node",
            "device: h200",
            "device: h200\nnetwork_device: no_such_box",
            &["field 'network_device'", "no_such_box"],
        ),
        (
            "yaml_analytic_source",
            "analytic: {}",
            "analytic: {source: kernal}",
            &["predictor.analytic.source", "kernal", "kernels or vidur"],
        ),
        (
            "yaml_iteration_overhead",
            "analytic: {}",
            "analytic: {iteration_overhead_ms: -1}",
            &["predictor.analytic.iteration_overhead_ms", "-1"],
        ),
        (
            "yaml_margin",
            "seed: 42",
            "seed: 42\nmemory_margin_fraction: 1.5",
            &["memory_margin_fraction", "1.5"],
        ),
        (
            "yaml_zero_replicas",
            "num_replicas: 1",
            "num_replicas: 0",
            &["num_replicas"],
        ),
        (
            "yaml_missing_calibration",
            "analytic: {}",
            "analytic: {calibration: nocal.json}",
            &["predictor.analytic.calibration", "nocal.json"],
        ),
        (
            "yaml_missing_tables",
            "analytic: {}",
            "vidur_tables: {dir: notables}",
            &["predictor.vidur_tables", "notables", "not found"],
        ),
        (
            "yaml_tables_granularity",
            "analytic: {}",
            "vidur_tables: {dir: notables, kv_cache_prediction_granularity: 0}",
            &["predictor.vidur_tables.kv_cache_prediction_granularity"],
        ),
        (
            "yaml_missing_profiles",
            "analytic: {}",
            "profiles: {dir: noprofiles}",
            &["predictor.profiles", "noprofiles"],
        ),
        (
            "yaml_missing_hardware",
            "seed: 42",
            "seed: 42\nhardware: nohw.yaml",
            &["field 'hardware'", "nohw.yaml", "cannot read hardware file"],
        ),
        (
            "yaml_bad_type",
            "num_replicas: 1",
            "num_replicas: many",
            &["num_replicas", "many"],
        ),
    ];
    for (name, from, to, needles) in yaml_rows {
        let d = t.dir(name);
        let cfg = write(&d, "sim.yaml", &mutate(&example_yaml(), from, to));
        let mut n = vec!["sim.yaml"];
        n.extend_from_slice(needles);
        t.add(
            name,
            &simulate_config(&cfg)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            &n,
        );
    }
    t.add(
        "yaml_missing_file",
        &["simulate", "--config", "/nonexistent/sim.yaml"],
        &["/nonexistent/sim.yaml", "cannot read", "No such file"],
    );

    // ---- hardware YAML ----
    let hw_rows: &[(&str, &str, &[&str])] = &[
        (
            "hardware_unknown_field",
            "gpus:\n  h100:\n    colour: red\n",
            &["hw.yaml", "line 3", "colour"],
        ),
        (
            "hardware_duplicate_key",
            "gpus:\n  h100:\n    memory_gib: 80\n    memory_gib: 96\n",
            &["hw.yaml", "duplicate key `memory_gib`"],
        ),
        (
            "hardware_incomplete_sku",
            "gpus:\n  my-gpu:\n    vendor: nvidia\n",
            &["hw.yaml", "my-gpu"],
        ),
        (
            "hardware_bad_vendor",
            "gpus:\n  h100:\n    vendor: intel\n",
            &["hw.yaml", "line 3", "intel"],
        ),
    ];
    for (name, hw, needles) in hw_rows {
        let d = t.dir(name);
        write(&d, "hw.yaml", hw);
        let cfg = write(
            &d,
            "sim.yaml",
            &mutate(&example_yaml(), "seed: 42", "seed: 42\nhardware: hw.yaml"),
        );
        t.add(name, &["simulate", "--config", &cfg], needles);
    }

    // ---- Hugging Face config.json models ----
    let hf_rows: &[(&str, &str, &[&str])] = &[
        ("hf_invalid_json", "{\"model_type\": \"llama\", \"hidden_size\": 4096", &["config.json", "invalid JSON at line"]),
        ("hf_missing_key", "{\"model_type\": \"llama\", \"num_hidden_layers\": 2, \"num_attention_heads\": 8, \"intermediate_size\": 64, \"vocab_size\": 100}", &["config.json", "hidden_size"]),
        ("hf_wrong_type", "{\"model_type\": \"llama\", \"hidden_size\": \"big\", \"num_hidden_layers\": 2, \"num_attention_heads\": 8, \"intermediate_size\": 64, \"vocab_size\": 100}", &["config.json", "hidden_size", "big"]),
    ];
    for (name, json, needles) in hf_rows {
        let d = t.dir(name);
        write(&d, "m/config.json", json);
        let cfg = write(
            &d,
            "sim.yaml",
            &mutate(&example_yaml(), "model: Qwen/Qwen3-32B", "model: m"),
        );
        let mut n = vec!["field 'model'"];
        n.extend_from_slice(needles);
        t.add(name, &["simulate", "--config", &cfg], &n);
    }

    // ---- calibration JSON ----
    {
        let d = t.dir("calibration_invalid_json");
        write(&d, "cal.json", "{\"version\": 1");
        let cfg = write(
            &d,
            "sim.yaml",
            &mutate(
                &example_yaml(),
                "analytic: {}",
                "analytic: {calibration: cal.json}",
            ),
        );
        t.add(
            "calibration_invalid_json",
            &["simulate", "--config", &cfg],
            &[
                "sim.yaml",
                "predictor.analytic.calibration",
                "cal.json",
                "line 1",
            ],
        );
    }

    // ---- trace CSVs (replay and the trace length generator) ----
    let trace_rows: &[(&str, &str, &[&str])] = &[
        (
            "trace_zero_prompt",
            "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,10,5\n1.0,0,5\n",
            &[
                "line 3",
                "num_prefill_tokens",
                "whole number of tokens >= 1",
                "\"0\"",
            ],
        ),
        (
            "trace_fractional_output",
            "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,10,12.5\n",
            &["line 2", "num_decode_tokens", "12.5"],
        ),
        (
            "trace_negative_tokens",
            "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,-10,5\n",
            &["line 2", "num_prefill_tokens", "-10"],
        ),
        (
            "trace_nan_tokens",
            "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,NaN,5\n",
            &["line 2", "num_prefill_tokens", "NaN"],
        ),
        (
            "trace_text_tokens",
            "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,10,abc\n",
            &["line 2", "num_decode_tokens", "abc"],
        ),
        (
            "trace_negative_arrival",
            "arrived_at,num_prefill_tokens,num_decode_tokens\n-1.0,10,5\n",
            &["line 2", "arrived_at", "-1.0"],
        ),
        (
            "trace_missing_column",
            "arrived_at,num_prefill_tokens\n0.0,10\n",
            &["num_decode_tokens", "columns found"],
        ),
        (
            "trace_no_rows",
            "arrived_at,num_prefill_tokens,num_decode_tokens\n",
            &["no data rows"],
        ),
        (
            "trace_short_row",
            "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,10\n",
            &["line 2", "num_decode_tokens"],
        ),
    ];
    for (name, csv, needles) in trace_rows {
        let d = t.dir(name);
        let tr = write(&d, "trace.csv", csv);
        let cfg = write(&d, "sim.yaml", &replay_yaml(&tr));
        let mut n = vec!["trace.csv"];
        n.extend_from_slice(needles);
        t.add(name, &["simulate", "--config", &cfg], &n);
    }
    {
        let name = "trace_lengths_zero_output";
        let d = t.dir(name);
        write(
            &d,
            "lengths.csv",
            "num_prefill_tokens,num_decode_tokens\n100,10\n100,0\n",
        );
        let cfg = write(
            &d,
            "sim.yaml",
            &mutate(
                &example_yaml(),
                "      zipf:\n        theta: 0.6\n        scramble: false\n        min_tokens: 256\n        max_tokens: 8192\n        prefill_to_decode_ratio: 4.0\n",
                "      trace: {trace_file: lengths.csv}\n",
            ),
        );
        t.add(
            name,
            &["simulate", "--config", &cfg],
            &["lengths.csv", "line 3", "num_decode_tokens", "whole number"],
        );
    }
    t.add(
        "trace_missing_file",
        &[
            "simulate",
            "--config",
            &write(
                &t.dir("trace_missing_file"),
                "sim.yaml",
                &replay_yaml("no_trace.csv"),
            ),
        ],
        &["sim.yaml", "trace_file", "no_trace.csv", "No such file"],
    );

    // ---- Vidur prediction tables ----
    let table_rows: &[(&str, &str, Option<&str>, &[&str])] = &[
        (
            "tables_nan_prediction",
            "add",
            Some("num_tokens,prediction\n1,0.01\n2,NaN\n"),
            &["add.csv", "line 3", "'prediction'", "NaN"],
        ),
        (
            "tables_negative_prediction",
            "mlp_act",
            Some("num_tokens,prediction\n1,-0.01\n"),
            &["mlp_act.csv", "line 2", "negative"],
        ),
        (
            "tables_inf_prediction",
            "attn_rope",
            Some("num_tokens,prediction\n1,0.01\n2,inf\n"),
            &["attn_rope.csv", "line 3", "finite"],
        ),
        (
            "tables_nan_key",
            "attn_decode",
            Some("batch_size,kv_cache_size,prediction\n1,64,0.1\n1,NaN,0.1\n"),
            &["attn_decode.csv", "line 3", "'kv_cache_size'", "NaN"],
        ),
        (
            "tables_fractional_key",
            "mlp_up_proj",
            Some("num_tokens,prediction\n1,0.01\n2.5,0.02\n"),
            &["mlp_up_proj.csv", "line 3", "'num_tokens'", "whole number"],
        ),
        (
            "tables_empty",
            "attn_post_proj",
            Some("num_tokens,prediction\n"),
            &["attn_post_proj.csv", "no data rows"],
        ),
        (
            "tables_missing",
            "input_layernorm",
            None,
            &["input_layernorm", "missing prediction table"],
        ),
        (
            "tables_bad_header",
            "mlp_down_proj",
            Some("tokens,time\n1,0.01\n"),
            &["mlp_down_proj.csv", "line 1", "prediction"],
        ),
        (
            "tables_gap",
            "attn_pre_proj",
            Some("num_tokens,prediction\n1,0.01\n3,0.02\n"),
            &["attn_pre_proj.csv", "num_tokens"],
        ),
        (
            "tables_text_cell",
            "add",
            Some("num_tokens,prediction\n1,fast\n"),
            &["add.csv", "line 2", "'prediction'", "fast"],
        ),
        (
            "tables_not_square",
            "attn_prefill",
            Some("kv_cache_size,prefill_chunk_size_squared,prediction\n0,10,0.1\n"),
            &["attn_prefill.csv", "line 2", "perfect square"],
        ),
    ];
    for (name, op, text, needles) in table_rows {
        let d = t.dir(name);
        let tables = tables_with(&d, op, *text);
        t.add(
            name,
            &[
                "simulate",
                "--vidur-config",
                &s(&case.join("config.json")),
                "--trace",
                &good_trace,
                "--vidur-tables",
                &tables,
            ],
            needles,
        );
    }
    t.add(
        "tables_folder_missing",
        &[
            "simulate",
            "--vidur-config",
            &s(&case.join("config.json")),
            "--trace",
            &good_trace,
            "--vidur-tables",
            "/nonexistent/tables",
        ],
        &["/nonexistent/tables", "not found"],
    );

    // ---- simulate --vidur-config: Vidur's config.json ----
    const RC: &str = "cluster_config.replica_config";
    let json_rows: Vec<(&str, String, Vec<String>)> = vec![
        (
            "vidur_device_disagrees",
            mutate(&vidur_cfg, "\"device\": \"a100\"", "\"device\": \"h100\""),
            vec![
                format!("{RC}.device"),
                "h100".into(),
                "device_config.name".into(),
            ],
        ),
        (
            "vidur_network_disagrees",
            mutate(
                &vidur_cfg,
                "\"network_device\": \"a100_pairwise_nvlink\"",
                "\"network_device\": \"a100_dgx\"",
            ),
            vec![format!("{RC}.network_device"), "a100_dgx".into()],
        ),
        (
            "vidur_model_name_disagrees",
            mutate(
                &vidur_cfg,
                "\"model_name\": \"meta-llama/Llama-2-7b-hf\"",
                "\"model_name\": \"meta-llama/Llama-2-70b-hf\"",
            ),
            vec![
                format!("{RC}.model_name"),
                "Llama-2-70b-hf".into(),
                "model_config.name".into(),
            ],
        ),
        (
            "vidur_model_shape_disagrees",
            vidur_cfg.replace("meta-llama/Llama-2-7b-hf", "meta-llama/Llama-2-70b-hf"),
            vec![
                format!("{RC}.model_config.num_layers"),
                "32".into(),
                "80".into(),
            ],
        ),
        (
            "vidur_tp_spans_nodes",
            mutate(
                &mutate(
                    &vidur_cfg,
                    "\"tensor_parallel_size\": 1",
                    "\"tensor_parallel_size\": 8",
                ),
                "\"world_size\": 1",
                "\"world_size\": 8",
            ),
            vec![
                format!("{RC}.tensor_parallel_size"),
                "spans more than one node".into(),
            ],
        ),
        (
            "vidur_world_size",
            mutate(&vidur_cfg, "\"world_size\": 1", "\"world_size\": 2"),
            vec![format!("{RC}.world_size"), "2".into()],
        ),
        (
            "vidur_invalid_json",
            vidur_cfg[..vidur_cfg.len() / 2].to_string(),
            vec!["invalid JSON".into(), "line".into()],
        ),
        (
            "vidur_unknown_scheduler",
            mutate(&vidur_cfg, "\"name\": \"vllm\"", "\"name\": \"fifo\""),
            vec!["replica_scheduler_config.name".into(), "fifo".into()],
        ),
        (
            "vidur_unknown_router",
            mutate(
                &vidur_cfg,
                "\"name\": \"round_robin\"",
                "\"name\": \"fastest\"",
            ),
            vec!["global_scheduler_config.name".into(), "fastest".into()],
        ),
        (
            "vidur_missing_field",
            mutate(&vidur_cfg, "\"num_layers\": 32,", ""),
            vec![
                "missing field".into(),
                format!("{RC}.model_config.num_layers"),
            ],
        ),
        (
            "vidur_wrong_type",
            mutate(
                &vidur_cfg,
                "\"batch_size_cap\": 128",
                "\"batch_size_cap\": \"big\"",
            ),
            vec![
                "cluster_config.replica_scheduler_config.batch_size_cap".into(),
                "non-negative integer".into(),
            ],
        ),
        (
            "vidur_cpu_overhead",
            mutate(
                &vidur_cfg,
                "\"skip_cpu_overhead_modeling\": true",
                "\"skip_cpu_overhead_modeling\": false",
            ),
            vec!["skip_cpu_overhead_modeling".into()],
        ),
    ];
    for (name, json, needles) in &json_rows {
        let d = t.dir(name);
        let cfg = write(&d, "config.json", json);
        let mut n: Vec<&str> = vec!["config.json"];
        n.extend(needles.iter().map(String::as_str));
        t.add(
            name,
            &[
                "simulate",
                "--vidur-config",
                &cfg,
                "--trace",
                &good_trace,
                "--vidur-tables",
                &good_tables,
            ],
            &n,
        );
    }

    // ---- simulate flags ----
    let example =
        s(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/examples/qwen3-32b-h200-tp2.yaml"));
    let vc = s(&case.join("config.json"));
    t.add(
        "flag_config_with_trace",
        &["simulate", "--config", &example, "--trace", &good_trace],
        &["--config", "--trace", "cannot be used with"],
    );
    t.add(
        "flag_config_with_tables",
        &[
            "simulate",
            "--config",
            &example,
            "--vidur-tables",
            &good_tables,
        ],
        &["--vidur-tables", "cannot be used with"],
    );
    t.add(
        "flag_config_with_calibration_source",
        &[
            "simulate",
            "--config",
            &example,
            "--calibration-source",
            "vidur",
        ],
        &["--calibration-source", "cannot be used with"],
    );
    t.add(
        "flag_calibration_source_unknown",
        &[
            "simulate",
            "--vidur-config",
            &vc,
            "--trace",
            &good_trace,
            "--calibration-source",
            "profiles",
        ],
        &["--calibration-source", "profiles", "kernels, vidur"],
    );
    t.add(
        "flag_vidur_config_compat_default",
        &[
            "simulate",
            "--vidur-config",
            &vc,
            "--trace",
            &good_trace,
            "--vidur-tables",
            &good_tables,
            "--compat",
            "default",
        ],
        &["--vidur-config implies --compat vidur"],
    );
    t.add("flag_no_config", &["simulate"], &["--config"]);

    // ---- kernel tables: predictor-accuracy and calibrate-kernels ----
    let kernel_rows: &[(&str, &str, Option<&str>, &[&str])] = &[
        ("kernels_zero_latency", "gemm.csv", Some("gemm_dtype,m,n,k,latency_ms\nbfloat16,64,4096,4096,0\n"), &["gemm.csv", "line 2", "latency_ms", "> 0"]),
        ("kernels_negative_latency", "generation_attention.csv", Some("batch_size,step,num_heads,num_key_value_heads,head_dim,attn_dtype,kv_cache_dtype,latency_ms\n1,512,32,32,128,bfloat16,bfloat16,-0.05\n"), &["generation_attention.csv", "line 2", "latency_ms", "-0.05"]),
        ("kernels_nan_latency", "context_attention.csv", Some("batch_size,isl,num_heads,num_key_value_heads,head_dim,attn_dtype,kv_cache_dtype,latency_ms\n1,512,32,32,128,bfloat16,bfloat16,NaN\n"), &["context_attention.csv", "line 2", "latency_ms", "NaN"]),
        ("kernels_fractional_key", "gemm.csv", Some("gemm_dtype,m,n,k,latency_ms\nbfloat16,64.5,4096,4096,0.05\n"), &["gemm.csv", "line 2", "column 'm'", "64.5"]),
        ("kernels_empty", "allreduce.csv", Some("allreduce_dtype,num_gpus,message_size,backend,latency_ms\n"), &["allreduce.csv", "no data rows"]),
        ("kernels_no_bf16_rows", "gemm.csv", Some("gemm_dtype,m,n,k,latency_ms\nfp8,64,4096,4096,0.05\n"), &["gemm.csv", "no usable rows"]),
        ("kernels_zero_message", "allreduce.csv", Some("allreduce_dtype,num_gpus,message_size,backend,latency_ms\nbfloat16,2,0,vllm_graph,0.03\n"), &["allreduce.csv", "line 2", "message_size"]),
        ("kernels_missing_column", "gemm.csv", Some("gemm_dtype,m,n,latency_ms\nbfloat16,64,4096,0.05\n"), &["gemm.csv", "missing column 'k'"]),
        ("kernels_missing_table", "gemm.csv", None, &["gemm.csv", "No such file"]),
        ("kernels_system_zero_bandwidth", "system.yaml", Some("gpu:\n  mem_bw: 0\n  mem_capacity: 8.5e10\n  bfloat16_tc_flops: 3.12e14\nnode:\n  num_gpus_per_node: 8\n  intra_node_bw: 3.0e11\n  inter_node_bw: 2.5e10\n"), &["system.yaml", "gpu.mem_bw"]),
        ("kernels_system_missing_field", "system.yaml", Some("gpu:\n  mem_bw: 2.0e12\n  mem_capacity: 8.5e10\nnode:\n  num_gpus_per_node: 8\n  intra_node_bw: 3.0e11\n  inter_node_bw: 2.5e10\n"), &["system.yaml", "bfloat16_tc_flops"]),
    ];
    for (name, file, text, needles) in kernel_rows {
        let d = t.dir(name);
        let k = kernels_with(&d, file, *text);
        t.add(name, &["predictor-accuracy", "--kernels", &k], needles);
    }
    {
        let d = t.dir("calibrate_zero_latency");
        let k = kernels_with(
            &d,
            "gemm.csv",
            Some("gemm_dtype,m,n,k,latency_ms\nbfloat16,64,4096,4096,0.0\n"),
        );
        t.add(
            "calibrate_zero_latency",
            &[
                "calibrate-kernels",
                "--kernels",
                &k,
                "--out",
                &s(&d.join("out")),
            ],
            &["gemm.csv", "line 2", "latency_ms", "> 0"],
        );
    }

    // ---- Vidur profiles: predictor-accuracy and the profile predictor ----
    {
        let mut rows = good_mlp_rows();
        rows[1] = mlp_row(64, "0");
        let d = t.dir("profiles_zero_median");
        t.add(
            "profiles_zero_median",
            &[
                "predictor-accuracy",
                "--profiles",
                &profiles_with(&d, &rows),
            ],
            &["mlp.csv", "line 3", "time_stats.", "> 0"],
        );
        let mut rows = good_mlp_rows();
        rows[2] = mlp_row(512, "-0.2");
        let d = t.dir("profiles_negative_median");
        t.add(
            "profiles_negative_median",
            &[
                "predictor-accuracy",
                "--profiles",
                &profiles_with(&d, &rows),
            ],
            &["mlp.csv", "line 4", "-0.2"],
        );
        let d = t.dir("profiles_empty_mlp");
        t.add(
            "profiles_empty_mlp",
            &["predictor-accuracy", "--profiles", &profiles_with(&d, &[])],
            &["mlp.csv", "no data rows"],
        );
        let d = t.dir("profiles_network_negative");
        let root = profiles_with(&d, &good_mlp_rows());
        write(
            Path::new(&root),
            "network/a100_dgx/all_reduce.csv",
            ",time_stats.all_reduce.median,num_workers,devices_per_node,size,collective\n0,0.05,2,8,1048576,all_reduce\n1,-0.05,2,8,2097152,all_reduce\n",
        );
        t.add(
            "profiles_network_negative",
            &["predictor-accuracy", "--profiles", &root],
            &["all_reduce.csv", "line 3", "time_stats.all_reduce.median"],
        );
    }
    let profile_sim_rows: &[(&str, &str, &[&str])] = &[
        (
            "profiles_sim_zero_median",
            "0",
            &["mlp.csv", "line 3", "> 0"],
        ),
        (
            "profiles_sim_nan_median",
            "NaN",
            &["mlp.csv", "line 3", "empty or NaN"],
        ),
    ];
    for (name, bad, needles) in profile_sim_rows {
        let d = t.dir(name);
        let mut rows = good_mlp_rows();
        rows[1] = mlp_row(64, bad);
        let root = profiles_with(&d, &rows);
        let yaml = format!(
            "model: meta-llama/Llama-2-7b-hf\ndevice: a100\nscheduler: {{type: sarathi}}\nworkload:\n  synthetic:\n    num_requests: 10\n    lengths: {{fixed: {{prefill_tokens: 100, decode_tokens: 10}}}}\n    intervals: {{poisson: {{qps: 1.0}}}}\npredictor:\n  profiles: {{dir: \"{root}\"}}\n"
        );
        let cfg = write(&d, "sim.yaml", &yaml);
        let mut n = vec!["predictor.profiles"];
        n.extend_from_slice(needles);
        t.add(name, &["simulate", "--config", &cfg], &n);
    }

    // ---- predictor-accuracy / calibrate-kernels / fit-workloads flags ----
    t.add(
        "accuracy_unknown_source",
        &[
            "predictor-accuracy",
            "--kernels",
            &s(&sh.join("data/kernels")),
            "--source",
            "pytorch",
        ],
        &["--source", "pytorch", "kernels, vidur"],
    );
    t.add(
        "accuracy_missing_kernels",
        &["predictor-accuracy", "--kernels", "/nonexistent/kernels"],
        &["--kernels", "/nonexistent/kernels", "does not exist"],
    );
    t.add(
        "accuracy_missing_profiles",
        &["predictor-accuracy", "--profiles", "/nonexistent/profiles"],
        &["--profiles", "/nonexistent/profiles", "does not exist"],
    );
    t.add(
        "accuracy_missing_hardware",
        &[
            "predictor-accuracy",
            "--kernels",
            &kernels_with(&t.dir("accuracy_missing_hardware"), "", None),
            "--hardware",
            "/nonexistent/hw.yaml",
        ],
        &["/nonexistent/hw.yaml", "cannot read hardware file"],
    );
    t.add(
        "accuracy_missing_calibration",
        &[
            "predictor-accuracy",
            "--kernels",
            &kernels_with(&t.dir("accuracy_missing_calibration"), "", None),
            "--calibration",
            "/nonexistent/cal.json",
        ],
        &["/nonexistent/cal.json"],
    );
    t.add(
        "calibrate_missing_data",
        &[
            "calibrate-kernels",
            "--data",
            "/nonexistent/data",
            "--out",
            "/nonexistent/out",
        ],
        &["--data", "/nonexistent/data", "does not exist"],
    );
    t.add(
        "calibrate_missing_kernels",
        &[
            "calibrate-kernels",
            "--kernels",
            "/nonexistent/kernels",
            "--out",
            "/nonexistent/out",
        ],
        &["--kernels", "does not exist"],
    );
    {
        let d = t.dir("calibrate_empty_data");
        t.add(
            "calibrate_empty_data",
            &[
                "calibrate-kernels",
                "--data",
                &s(&d),
                "--out",
                &s(&d.join("out")),
            ],
            &["--data", "neither kernels/ nor vidur-profiling/"],
        );
    }
    let out = s(&t.dir("fit_out").join("w.yaml"));
    let traces = s(&sh.join("data/traces"));
    t.add(
        "fit_date_month_13",
        &[
            "fit-workloads",
            "--traces",
            &traces,
            "--out",
            &out,
            "--date",
            "2025-13-45",
        ],
        &["--date", "2025-13-45", "YYYY-MM-DD"],
    );
    t.add(
        "fit_date_not_leap",
        &[
            "fit-workloads",
            "--traces",
            &traces,
            "--out",
            &out,
            "--date",
            "2025-02-29",
        ],
        &["--date", "2025-02-29"],
    );
    t.add(
        "fit_date_shape",
        &[
            "fit-workloads",
            "--traces",
            &traces,
            "--out",
            &out,
            "--date",
            "31/01/2025",
        ],
        &["--date", "31/01/2025"],
    );
    t.add(
        "fit_traces_not_a_folder",
        &["fit-workloads", "--traces", &good_trace, "--out", &out],
        &["--traces", "trace.csv", "not a folder"],
    );
    {
        let d = t.dir("trace_broken_gzip");
        std::fs::write(d.join("trace.csv.gz"), b"\x1f\x8b\x08\x00garbage").unwrap();
        let cfg = write(&d, "sim.yaml", &replay_yaml("trace.csv.gz"));
        t.add(
            "trace_broken_gzip",
            &["simulate", "--config", &cfg],
            &["sim.yaml", "trace.csv.gz", "cannot read"],
        );
    }
    {
        let d = t.dir("fit_zero_tokens");
        write(
            &d,
            "splitwise_conv.csv",
            "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,10,5\n1.0,10,0\n",
        );
        t.add(
            "fit_zero_tokens",
            &[
                "fit-workloads",
                "--traces",
                &s(&d),
                "--out",
                &s(&d.join("w.yaml")),
                "--date",
                "2025-01-31",
            ],
            &["splitwise_conv.csv", "line 3", "num_decode_tokens"],
        );
    }

    // ---- search spaces: run / run --dry-run ----
    let space = example_space();
    let space_rows: &[(&str, &str, &str, &[&str])] = &[
        ("space_duplicate_tp", "tp: [1, 2, 4]", "tp: [1, 2, 2]", &["tp[2]", "repeats tp[1]"]),
        ("space_duplicate_pp", "pp: [1]", "pp: [1, 1]", &["pp[1]", "repeats pp[0]"]),
        ("space_duplicate_replicas", "replicas: auto", "replicas: [2, 2]", &["replicas[1]"]),
        ("space_duplicate_caps", "batch_size_cap: [64, 128, 256]", "batch_size_cap: [64, 64, 256]", &["batch_size_cap[1]"]),
        ("space_duplicate_chunks", "chunk_size: [256, 512, 1024]", "chunk_size: [256, 512, 512]", &["schedulers[1].chunk_size[2]"]),
        ("space_duplicate_scheduler_caps", "{type: vllm}", "{type: vllm, batch_size_cap: [32, 32]}", &["schedulers[0].batch_size_cap[1]"]),
        ("space_duplicate_routers", "seeds: [42]", "seeds: [42]\nrouter: [lor, lor]", &["router[1]"]),
        ("space_duplicate_seeds", "seeds: [42]", "seeds: [42, 42]", &["seeds[1]"]),
        ("space_duplicate_models", "  - meta-llama/Meta-Llama-3-8B\n", "  - meta-llama/Meta-Llama-3-8B\n  - meta-llama/Meta-Llama-3-8B\n", &["models[1]"]),
        ("space_same_model_two_names", "  - meta-llama/Meta-Llama-3-8B\n", "  - meta-llama/Meta-Llama-3-8B\n  - meta-llama/Llama-3-8B\n", &["models[1]", "same model as models[0]"]),
        ("space_duplicate_clusters", "  - {gpu: a40, max_gpus: 8}\n", "  - {gpu: a40, max_gpus: 8}\n  - {gpu: a40, max_gpus: 8}\n", &["clusters[4]", "repeats clusters[3]"]),
        ("space_same_cluster_alias", "  - {gpu: a40, max_gpus: 8}\n", "  - {gpu: a40, max_gpus: 8}\n  - {gpu: a100-80gb-sxm, max_gpus: 8}\n", &["clusters[4]", "same cluster as clusters[0]"]),
        ("space_duplicate_workload_names", "  - name: code\n", "  - name: chat\n", &["workloads[1].name", "used twice"]),
        ("space_duplicate_schedulers", "  - {type: vllm}\n", "  - {type: vllm}\n  - {type: vllm}\n", &["schedulers[1]", "repeats schedulers[0]"]),
        ("space_duplicate_slo", "  - {metric: tpot, quantile: 0.9, max_seconds: 0.05}\n", "  - {metric: tpot, quantile: 0.9, max_seconds: 0.05}\n  - {metric: ttft, quantile: 0.9, max_seconds: 2.0}\n", &["slos[2]", "slos[0]"]),
        ("space_price_aliases", "seeds: [42]", "seeds: [42]\nprices: {h100: 2.0, h100-sxm: 3.0}", &["prices.", "same GPU"]),
        ("space_unknown_field", "seeds: [42]", "seeds: [42]\ncolour: blue", &["line", "colour"]),
        ("space_duplicate_key", "seeds: [42]", "seeds: [42]\nseeds: [43]", &["duplicate key `seeds`"]),
        ("space_bad_quantile", "quantile: 0.9, max_seconds: 1.0", "quantile: 1.5, max_seconds: 1.0", &["slos[0].quantile", "1.5"]),
        ("space_unknown_gpu", "{gpu: a40, max_gpus: 8}", "{gpu: tpu9, max_gpus: 8}", &["clusters[3].gpu", "tpu9"]),
        ("space_analytic_source", "seeds: [42]", "seeds: [42]\npredictor: {analytic: {source: kernal}}", &["predictor.analytic.source", "kernal"]),
        ("space_unknown_model", "  - meta-llama/Meta-Llama-3-8B\n", "  - nosuch/Model-1B\n", &["models[0]", "nosuch/Model-1B"]),
    ];
    for (name, from, to, needles) in space_rows {
        let d = t.dir(name);
        let p = write(&d, "space.yaml", &mutate(&space, from, to));
        let mut n = vec!["space.yaml"];
        n.extend_from_slice(needles);
        t.add(
            name,
            &["run", &p, "--dry-run", "--output", &s(&d.join("out"))],
            &n,
        );
    }
    {
        let d = t.dir("space_hf_model_bad");
        write(&d, "m/config.json", "{\"model_type\": \"llama\"");
        let p = write(
            &d,
            "space.yaml",
            &mutate(&space, "  - meta-llama/Meta-Llama-3-8B\n", "  - m\n"),
        );
        t.add(
            "space_hf_model_bad",
            &["run", &p, "--dry-run"],
            &["space.yaml", "models[0]", "config.json", "invalid JSON"],
        );
    }
    t.add(
        "space_missing_file",
        &["run", "/nonexistent/space.yaml", "--dry-run"],
        &["/nonexistent/space.yaml", "No such file"],
    );
    {
        let d = t.dir("run_zero_jobs");
        let p = write(&d, "space.yaml", &space);
        t.add(
            "run_zero_jobs",
            &["run", &p, "--jobs", "0", "--output", &s(&d.join("out"))],
            &["--jobs"],
        );
    }
    t
}

/// What every message must not do, whatever the input.
fn check_message(name: &str, stderr: &str) {
    assert!(
        stderr.trim_start().starts_with("error: ") || stderr.contains("\nerror: "),
        "{name}: no 'error:' line:\n{stderr}"
    );
    assert!(
        !stderr.contains("error: error") && stderr.matches("error:").count() == 1,
        "{name}: doubled 'error:' prefix:\n{stderr}"
    );
    assert!(
        stderr.matches("(os error").count() <= 1,
        "{name}: the OS error is repeated:\n{stderr}"
    );
    for hint in [
        "DuplicateKeyPolicy",
        "in Options",
        "<input>",
        "panicked",
        "RUST_BACKTRACE",
        "line 0:",
    ] {
        assert!(!stderr.contains(hint), "{name}: {hint:?} in:\n{stderr}");
    }
}

#[test]
fn bad_inputs_exit_2_with_file_and_line_or_field() {
    let table = rows();
    assert!(
        table.cases.len() >= 60,
        "the table should cover at least 60 bad inputs, has {}",
        table.cases.len()
    );
    // Run the rows on a few threads: each is one short process.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let chunks: Vec<&[Case]> = table.cases.chunks(table.cases.len().div_ceil(4)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                scope.spawn(move || {
                    let mut bad = Vec::new();
                    for c in chunk {
                        let out = bin().args(&c.args).output().unwrap();
                        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                        let code = out.status.code();
                        let mut why = Vec::new();
                        if code != Some(2) {
                            why.push(format!("exit code {code:?}, expected 2"));
                        }
                        for n in &c.needles {
                            if !stderr.contains(n.as_str()) {
                                why.push(format!("stderr lacks {n:?}"));
                            }
                        }
                        if why.is_empty() {
                            if let Err(e) =
                                std::panic::catch_unwind(|| check_message(&c.name, &stderr))
                            {
                                why.push(e.downcast_ref::<String>().cloned().unwrap_or_default());
                            }
                        }
                        if !why.is_empty() {
                            bad.push(format!(
                                "{}: {}\n  args: {:?}\n  stderr: {}",
                                c.name,
                                why.join("; "),
                                c.args,
                                stderr.trim_end()
                            ));
                        }
                    }
                    bad
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs misbehaved:\n\n{}",
        failures.len(),
        table.cases.len(),
        failures.join("\n\n")
    );
}

/// The fixtures the rows mutate are themselves good: a row fails for the reason it names.
#[test]
fn bad_input_fixtures_load_when_unmodified() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad_inputs_fixtures");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let k = kernels_with(&root, "", None);
    let p = profiles_with(&root, &good_mlp_rows());
    for args in [
        vec!["predictor-accuracy", "--kernels", k.as_str()],
        vec!["predictor-accuracy", "--profiles", p.as_str()],
    ] {
        let out = bin().args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let tables = tables_with(&root, "none", None);
    let sh = shared();
    let case = sh.join("conformance/cases/vllm_heavy");
    let out = bin()
        .args(["simulate", "--json", "--vidur-config"])
        .arg(case.join("config.json"))
        .arg("--trace")
        .arg(case.join("trace.csv"))
        .args(["--vidur-tables", &tables])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
