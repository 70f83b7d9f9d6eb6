#!/usr/bin/env python3
"""Writes fuzz/seeds/<target>/: copies of the repo's own files plus small hand-written fixtures
in each format (nothing from ../shared). Re-run from fuzz/ after changing it."""
import gzip, json, os, shutil, glob

ROOT = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(ROOT)
SEP = "\n%%\n"


def put(target, name, data):
    d = os.path.join(ROOT, "seeds", target)
    os.makedirs(d, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(d, name), mode) as f:
        f.write(data)


def copy(target, pattern):
    for p in sorted(glob.glob(os.path.join(REPO, pattern))):
        shutil.copy(p, os.path.join(ROOT, "seeds", target, os.path.basename(p)))


for t in ["search_space", "sim_yaml", "hf_config", "hardware_yaml", "builtin_workloads",
          "calibration_json", "measured"]:
    os.makedirs(os.path.join(ROOT, "seeds", t), exist_ok=True)
copy("search_space", "search-spaces/*.yaml")
copy("sim_yaml", "data/examples/*.yaml")
# The targets skip inputs that climb two folders up (out of their scratch folder).
p = os.path.join(ROOT, "seeds", "sim_yaml", "llama2-7b-sarathi.yaml")
with open(p) as f:
    text = f.read().replace("../../../shared/", "shared/")
with open(p, "w") as f:
    f.write(text)
copy("hf_config", "data/models/*.json")
copy("hardware_yaml", "data/hardware.yaml")
copy("builtin_workloads", "data/workloads.yaml")
copy("calibration_json", "data/calibration/calibration.json")
copy("measured", "tests/fixtures/measured/*")

# Vidur config.json: the fields the loader reads, with Vidur's defaults.
def vidur_config(scheduler, generator):
    sched = {"batch_size_cap": 128, "block_size": 16, "watermark_blocks_fraction": 0.01,
             "num_blocks": None, "name": scheduler}
    if scheduler == "vllm":
        sched["max_tokens_in_batch"] = 4096
    if scheduler == "sarathi":
        sched["chunk_size"] = 512
    if scheduler == "lightllm":
        sched.update(max_tokens_in_batch=4096, max_waiting_iters=10, block_size=1)
    return {
        "seed": 42, "time_limit": 0,
        "cluster_config": {
            "num_replicas": 1,
            "replica_config": {
                "model_name": "meta-llama/Llama-2-7b-hf", "memory_margin_fraction": 0.1,
                "num_pipeline_stages": 1, "tensor_parallel_size": 1,
                "model_config": {
                    "num_layers": 32, "num_q_heads": 32, "num_kv_heads": 32,
                    "embedding_dim": 4096, "mlp_hidden_dim": 11008,
                    "max_position_embeddings": 4096, "use_gated_mlp": True,
                    "post_attn_norm": True, "vocab_size": 32768,
                    "name": "meta-llama/Llama-2-7b-hf"},
                "device_config": {"fp16_tflops": 312, "total_memory_gb": 80, "name": "a100"},
                "node_config": {"num_devices_per_node": 4, "name": "a100_pairwise_nvlink"},
            },
            "global_scheduler_config": {"name": "round_robin"},
            "replica_scheduler_config": sched,
        },
        "request_generator_config": generator,
        "execution_time_predictor_config": {
            "kv_cache_prediction_granularity": 64,
            "attention_decode_batching_overhead_fraction": 0.1,
            "attention_prefill_batching_overhead_fraction": 0.1,
            "nccl_cpu_launch_overhead_ms": 0.02,
            "nccl_cpu_skew_overhead_per_device_ms": 0.0,
            "skip_cpu_overhead_modeling": True,
        },
        "metrics_config": {"enable_chrome_trace": False,
                           "store_token_completion_metrics": False},
    }

replay = {"seed": 42, "trace_file": "trace.csv", "prefill_scale_factor": 1.0,
          "decode_scale_factor": 1.0, "time_scale_factor": 0.4, "max_tokens": 4096,
          "name": "trace_replay"}
synth = {"seed": 42, "num_requests": 50, "name": "synthetic",
         "length_generator_config": {"name": "zipf", "theta": 0.6, "scramble": False,
                                     "min_tokens": 1024, "max_tokens": 4096,
                                     "prefill_to_decode_ratio": 20.0},
         "interval_generator_config": {"name": "poisson", "qps": 6.45}}
synth2 = {"seed": 1, "num_requests": 20, "name": "synthetic",
          "length_generator_config": {"name": "uniform", "min_tokens": 100, "max_tokens": 2000,
                                      "prefill_to_decode_ratio": 4.0},
          "interval_generator_config": {"name": "gamma", "qps": 2.0, "cv": 3.0}}
synth3 = {"seed": 1, "num_requests": 10, "name": "synthetic",
          "length_generator_config": {"name": "fixed", "prefill_tokens": 300,
                                      "decode_tokens": 30},
          "interval_generator_config": {"name": "static"}}
put("vidur_config", "vllm_replay.json", json.dumps(vidur_config("vllm", replay), indent=1))
put("vidur_config", "sarathi_zipf.json", json.dumps(vidur_config("sarathi", synth), indent=1))
put("vidur_config", "lightllm_uniform.json", json.dumps(vidur_config("lightllm", synth2), indent=1))
put("vidur_config", "orca_fixed.json", json.dumps(vidur_config("orca", synth3), indent=1))

# Trace CSVs: mode byte (see trace_csv.rs), then the file.
trace = "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,374,44\n4.3,396,109\n5.1,2000,3000\n9.9,1,1\n"
dated = ("arrival_time,num_prefill_tokens,num_decode_tokens\n2023-11-16 18:15:46.6805900,374,44\n"
         "2023-11-16 18:15:50.1,396,109\n2023-11-16 18:16:01,7000,12\n")
for mode in [0x00, 0x01, 0x02, 0x14, 0x28, 0x30, 0x31]:
    put("trace_csv", f"arrived_at_{mode:02x}.csv", bytes([mode]) + trace.encode())
for mode in [0x20, 0x21, 0x2a]:
    put("trace_csv", f"arrival_time_{mode:02x}.csv", bytes([mode]) + dated.encode())
put("trace_csv", "raw_gzip.csv", b"\x00" + gzip.compress(trace.encode()))

# Vidur profiles for the fuzz target's model (acme/tiny: 4 heads, 2 KV heads, E 64, F 128).
ops = ["input_layernorm", "attn_pre_proj", "attn_rope", "attn_post_proj",
       "post_attention_layernorm", "mlp_up_proj", "mlp_act", "mlp_down_proj", "add"]
mlp = ",".join(f"time_stats.{o}.median" for o in ops)
mlp += ",n_head,n_kv_head,n_embd,n_expanded_embd,vocab_size,use_gated_mlp,num_tokens,num_tensor_parallel_workers\n"
for tp in [1, 2]:
    for n in [1, 2, 8, 64, 128]:
        mlp += ",".join(f"{(i + 1) * 0.01 + (i + 1) * tp * 1e-4 * n:.6g}" for i in range(len(ops)))
        mlp += f",4,2,64,128,100,True,{n},{tp}\n"
attn = ("time_stats.attn_prefill.median,time_stats.attn_decode.median,"
        "time_stats.attn_kv_cache_save.median,n_embd,n_q_head,n_kv_head,block_size,"
        "num_tensor_parallel_workers,max_model_len,batch_size,prefill_chunk_size,kv_cache_size,"
        "is_prefill,attention_backend\n")
for b in [1, 2, 4]:
    for kv in [0, 64, 128]:
        attn += f",{0.01 + 0.001 * b + 1e-4 * b * kv:.6g},{1e-3 * b:.6g},64,4,2,16,2,512,{b},0,{kv},False,flash\n"
for c in [16, 64]:
    for kv in [0, 64, 128]:
        attn += f"{0.02 + 1e-4 * c + 1e-6 * c * kv:.6g},,{1e-3 * c:.6g},64,4,2,16,2,512,1,{c},{kv},True,flash\n"
ar = ",time_stats.all_reduce.median,rank,num_workers,size,collective,devices_per_node,max_devices_per_node\n"
for i, t in enumerate([1, 8, 64, 128]):
    ar += f"{i},{0.01 + 1e-3 * t:.6g},0,2,{t * 128},all_reduce,2,4\n"
sr = ",time_stats.send_recv.median,rank,num_workers,size,collective,devices_per_node,max_devices_per_node\n"
for i, t in enumerate([8, 64, 128]):
    sr += f"{i},{0.01 + 1e-4 * t:.6g},0,2,{t * 128},send_recv,2,4\n"
    sr += f"{i + 10},{0.05 + 1e-3 * t:.6g},0,2,{t * 128},send_recv,1,4\n"
put("vidur_profiles", "all_files.txt", SEP.join([mlp, attn, ar, sr]))
put("vidur_profiles", "no_attention.txt", SEP.join([mlp, "", ar, sr]))

# Prediction tables: mode byte, then the token table, attn_decode, attn_prefill.
tok = "num_tokens,prediction\n" + "".join(f"{n},{0.01 * n:.4g}\n" for n in range(1, 17))
dec = "batch_size,kv_cache_size,prediction\n" + "".join(
    f"{b},{kv},{0.01 * b + 1e-4 * kv:.4g}\n" for b in range(1, 5) for kv in range(0, 257, 64))
pre = "kv_cache_size,prefill_chunk_size_squared,prediction\n" + "".join(
    f"{kv},{c * c},{0.02 + 1e-3 * c:.4g}\n" for kv in range(0, 257, 64) for c in [1, 2, 4, 8, 16])
for mode in [0, 1, 4, 12]:
    put("prediction_tables", f"tables_{mode}.txt", bytes([mode]) + SEP.join([tok, dec, pre]).encode())

# Kernel tables: system.yaml, gemm, context_attention, generation_attention, allreduce.
system = """gpu:
  mem_bw: 3350000000000
  mem_capacity: 85899345920
  bfloat16_tc_flops: 989000000000000
  fp8_tc_flops: 1978000000000000
  sm_version: 90
node:
  num_gpus_per_node: 8
  inter_node_bw: 50000000000
  intra_node_bw: 450000000000
  p2p_latency: 0.00001
"""
gemm = "gemm_dtype,m,n,k,latency_ms\n" + "".join(
    f"bfloat16,{m},{n},{k},{2 * m * n * k / 6e14 * 1e3 + 0.005:.6g}\n"
    for m in [1, 16, 256, 4096] for n in [256, 4096] for k in [256, 4096])
gemm += "fp8,16,256,256,0.004\n"
ctx = "batch_size,isl,num_heads,num_key_value_heads,head_dim,attn_dtype,kv_cache_dtype,latency_ms\n" + "".join(
    f"{b},{s},32,8,128,bfloat16,bfloat16,{0.01 + b * s * s * 32 * 128 * 4 / 5e14 * 1e3:.6g}\n"
    for b in [1, 4] for s in [128, 1024, 4096])
gen = "batch_size,step,num_heads,num_key_value_heads,head_dim,attn_dtype,kv_cache_dtype,latency_ms\n" + "".join(
    f"{b},{s},32,8,128,bfloat16,bfloat16,{0.01 + b * s * 8 * 128 * 4 / 2e12 * 1e3:.6g}\n"
    for b in [1, 32] for s in [1, 1024, 4096])
allr = "allreduce_dtype,num_gpus,message_size,backend,latency_ms\n" + "".join(
    f"bfloat16,{g},{m},vllm_graph,{0.004 + m * 2 / 2e11 * 1e3:.6g}\n"
    for g in [2, 8] for m in [128, 65536, 16777216])
put("kernel_tables", "h100.txt", SEP.join([system, gemm, ctx, gen, allr]))

# Dictionaries: the words of each target's seeds (keys, enum names) plus edge values.
import re
EDGE = ["NaN", "nan", "inf", "-inf", ".nan", ".inf", "-.inf", "1e308", "-1", "0", "0.0",
        "4294967295", "4294967296", "18446744073709551615", "18446744073709551616",
        "9007199254740993", "1e-320", "True", "False", "null", "~", "%%", "\n%%\n"]
os.makedirs(os.path.join(ROOT, "dict"), exist_ok=True)
for d in sorted(glob.glob(os.path.join(ROOT, "seeds", "*"))):
    words = set()
    for p in glob.glob(os.path.join(d, "*")):
        text = open(p, "rb").read().decode("utf-8", "replace")
        words.update(w for w in re.findall(r"[A-Za-z_][A-Za-z0-9_.\-]{2,40}", text))
    with open(os.path.join(ROOT, "dict", os.path.basename(d) + ".dict"), "w") as f:
        for w in sorted(words)[:600] + EDGE:
            f.write('"' + w.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\x0a") + '"\n')

# Field and variant names from the schemas the YAML/JSON targets read.
SCHEMAS = {
    "search_space": ["src/search/space.rs", "src/config/sim_yaml.rs", "src/workload/mod.rs",
                     "src/sim/config.rs"],
    "sim_yaml": ["src/config/sim_yaml.rs", "src/workload/mod.rs", "src/sim/config.rs"],
    "hardware_yaml": ["src/catalog/hardware.rs"],
    "hf_config": ["src/catalog/hf.rs"],
    "calibration_json": ["src/predictor/analytic/calibration.rs",
                         "src/predictor/analytic/curves.rs"],
    "builtin_workloads": ["src/workload/builtin.rs"],
    "measured": ["src/measured/mod.rs", "src/measured/silicon.rs", "src/measured/vllm_bench.rs",
                 "src/measured/experiment.rs", "src/measured/per_request.rs"],
}
for t, files in SCHEMAS.items():
    words = set()
    for f in files:
        text = open(os.path.join(REPO, f)).read()
        words.update(re.findall(r"pub ([a-z_][a-z0-9_]*):", text))
        words.update(re.findall(r'"([a-z_][a-z0-9_]{1,40})"', text))
        for camel in re.findall(r"^\s+([A-Z][A-Za-z0-9]*)\b\s*[{(,]", text, re.M):
            words.add(re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower())
    with open(os.path.join(ROOT, "dict", t + ".dict"), "a") as f:
        for w in sorted(words):
            f.write('"' + w + '"\n')

# Smaller seeds for the big YAML files (mutations of a 14 kB file are slow to run): the
# catalogs without comments, the first workload only, and a user override file.
def strip_comments(text):
    out = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        if " #" in line and '"' not in line.split(" #", 1)[1]:
            line = line.split(" #", 1)[0].rstrip()
        out.append(line)
    return "\n".join(out) + "\n"

hw = strip_comments(open(os.path.join(REPO, "data/hardware.yaml")).read())
put("hardware_yaml", "hardware_no_comments.yaml", hw)
put("hardware_yaml", "override.yaml", """gpus:
  h100:
    prices:
      - usd_per_gpu_hour: 2.99
        provider: me
        date: "2025-01-01"
        source: "my invoice"
  my-gpu:
    aliases: [mine]
    vendor: nvidia
    architecture: hopper
    sm_version: 90
    sm_count: 132
    bf16_dense_tflops: 989
    fp8_dense_tflops: 1979
    memory_gib: 80
    memory_bandwidth_gb_per_s: 3350
    intra_node_bandwidth_gb_per_s: 450
    intra_node_latency_us: 10
    inter_node_bandwidth_gb_per_s: 50
    pcie_bandwidth_gb_per_s: 64
    default_node: my_node
    prices:
      - usd_per_gpu_hour: 1.5
        provider: me
        date: "2025-01-01"
        source: "my invoice"
nodes:
  my_node:
    num_gpus_per_node: 4
    link: nvlink
    all_pairs_connected: true
""")
wl = strip_comments(open(os.path.join(REPO, "data/workloads.yaml")).read())
head, rest = wl.split("\n  - name:", 1)
first = "\n  - name:" + rest.split("\n  - name:", 1)[0]
put("builtin_workloads", "one_workload.yaml", head + first + "\n")
