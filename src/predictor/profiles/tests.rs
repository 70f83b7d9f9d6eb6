//! Unit tests on small synthetic profile folders: filters, dedup, zero fills, errors, Vidur's
//! lookup rules and the attention fallback.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::*;
use crate::predictor::ExecutionTimePredictor;

/// A profile folder under the system temp dir, removed on drop.
struct TempProfiles {
    root: PathBuf,
}

impl TempProfiles {
    fn new(tag: &str) -> TempProfiles {
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "vidur-search-profiles-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        TempProfiles { root }
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempProfiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn tiny(hkv: u32) -> ModelSpec {
    ModelSpec {
        name: "acme/tiny".into(),
        num_layers: 4,
        num_q_heads: 4,
        num_kv_heads: hkv,
        embedding_dim: 64,
        mlp_hidden_dim: 128,
        max_position_embeddings: 512,
        use_gated_mlp: true,
        post_attn_norm: true,
        vocab_size: 100,
        tie_word_embeddings: false,
        head_dim: 16,
        dtype_bytes: 2,
        precision: Default::default(),
        kv_cache_dtype: Default::default(),
    }
}

const MLP_OPS: [&str; 9] = [
    "input_layernorm",
    "attn_pre_proj",
    "attn_rope",
    "attn_post_proj",
    "post_attention_layernorm",
    "mlp_up_proj",
    "mlp_act",
    "mlp_down_proj",
    "add",
];

/// The synthetic truth: op `i` at TP `tp` takes `(i + 1)·0.01 + (i + 1)·tp·1e-4·n` ms.
fn truth(op: &str, tp: u32, n: f64) -> f64 {
    let i = MLP_OPS.iter().position(|o| *o == op).unwrap() as f64 + 1.0;
    i * 0.01 + i * tp as f64 * 1e-4 * n
}

fn token_grid() -> Vec<u32> {
    let mut v = vec![1, 2, 4];
    v.extend((8..=128).step_by(8));
    v
}

/// mlp.csv with `ops` median columns for the model's shape at TPs 1, 2, 4, plus rows of another
/// shape (wildly different times) that the filter must drop.
fn mlp_csv(model: &ModelSpec, ops: &[&str]) -> String {
    let mut s = String::new();
    for op in ops {
        s += &format!("time_stats.{op}.median,");
    }
    s += "n_head,n_kv_head,n_embd,n_expanded_embd,vocab_size,use_gated_mlp,num_tokens,num_tensor_parallel_workers\n";
    for tp in [1u32, 2, 4] {
        for n in token_grid() {
            for op in ops {
                s += &format!("{},", truth(op, tp, n as f64));
            }
            s += &format!(
                "{},{},{},{},{},True,{n},{tp}\n",
                model.num_q_heads,
                model.num_kv_heads,
                model.embedding_dim,
                model.mlp_hidden_dim,
                model.vocab_size
            );
        }
    }
    for n in token_grid() {
        for _ in ops {
            s += "99.0,";
        }
        s += &format!("8,8,1024,4096,100,True,{n},1\n");
    }
    s
}

/// all_reduce.csv (with pandas' unnamed index column) for TP 2 and 4 on E = 64:
/// `0.005·tp + 1e-3·tokens`; a TP-2 group with devices_per_node 1 that must be filtered out.
fn all_reduce_csv(e: u32) -> String {
    let mut s = ",time_stats.all_reduce.median,rank,num_workers,size,collective,devices_per_node,max_devices_per_node\n".to_string();
    let mut i = 0;
    for (w, d) in [(2u32, 2u32), (4, 4), (2, 1)] {
        for tokens in (0..=160).step_by(8).map(|t: u32| t.max(1)) {
            let y = if d == 1 {
                50.0
            } else {
                0.005 * w as f64 + 1e-3 * tokens as f64
            };
            s += &format!("{i},{y},0,{w},{},all_reduce,{d},4\n", tokens * e * 2);
            i += 1;
        }
    }
    s
}

/// send_recv.csv: intra-node (devices_per_node 2) `0.01 + 1e-4·tokens`, inter-node (1)
/// `0.05 + 1e-3·tokens`.
fn send_recv_csv(e: u32) -> String {
    let mut s = ",time_stats.send_recv.median,rank,num_workers,size,collective,devices_per_node,max_devices_per_node\n".to_string();
    let mut i = 0;
    for d in [1u32, 2] {
        for tokens in (8..=160).step_by(8) {
            let y = if d == 2 {
                0.01 + 1e-4 * tokens as f64
            } else {
                0.05 + 1e-3 * tokens as f64
            };
            s += &format!("{i},{y},0,2,{},send_recv,{d},4\n", tokens * e * 2);
            i += 1;
        }
    }
    s
}

fn decode_truth(b: f64, kv: f64) -> f64 {
    0.01 + 0.001 * b + 1e-4 * b * kv
}

fn prefill_truth(c: f64, kv: f64) -> f64 {
    0.02 + 1e-4 * c + 1e-6 * c * kv
}

/// attention.csv for `model` at block size 16 and TP 1: decode rows b ∈ {1, 2, 4, 8} × kv 0..=512
/// step 64; prefill rows c ∈ {16, 32, 64, 128} × kv = k·c < 512; kv-cache save 1e-3·tokens.
/// Rows for block size 32 (times ×100) must be filtered out.
fn attention_csv(model: &ModelSpec) -> String {
    let mut s = "time_stats.attn_prefill.median,time_stats.attn_decode.median,time_stats.attn_kv_cache_save.median,n_embd,n_q_head,n_kv_head,block_size,num_tensor_parallel_workers,max_model_len,batch_size,prefill_chunk_size,kv_cache_size,is_prefill,attention_backend\n".to_string();
    for (block, scale) in [(16u32, 1.0), (32, 100.0)] {
        let shape = format!(
            "{},{},{},{block},1,512",
            model.embedding_dim, model.num_q_heads, model.num_kv_heads
        );
        for b in [1u32, 2, 4, 8] {
            for kv in (0..=512).step_by(64) {
                let d = decode_truth(b as f64, kv as f64) * scale;
                s += &format!(",{d},{},{shape},{b},0,{kv},False,flash\n", 1e-3 * b as f64);
            }
        }
        for c in [16u32, 32, 64, 128] {
            for kv in (0..512).step_by(c as usize) {
                let p = prefill_truth(c as f64, kv as f64) * scale;
                s += &format!("{p},,{},{shape},1,{c},{kv},True,flash\n", 1e-3 * c as f64);
            }
        }
    }
    s
}

/// Fixed attention costs, recognizable in sums.
struct TestAttention;

impl OpModel for TestAttention {
    fn token_op_ms(&self, op: TokenOp, num_tokens: u32) -> Result<f64, PredictorError> {
        assert_eq!(op, TokenOp::AttnKvCacheSave, "only attention is delegated");
        Ok(1000.0 + num_tokens as f64)
    }
    fn attn_prefill_ms(&self, batch: &[BatchEntry]) -> Result<f64, PredictorError> {
        Ok(batch.iter().filter(|e| !e.is_prefill_complete).count() as f64 * 100.0)
    }
    fn attn_decode_ms(&self, batch: &[BatchEntry]) -> Result<f64, PredictorError> {
        Ok(batch.iter().filter(|e| e.is_prefill_complete).count() as f64 * 10.0)
    }
    fn all_reduce_ms(&self, _: u32) -> Result<f64, PredictorError> {
        panic!("not delegated")
    }
    fn send_recv_ms(&self, _: u32) -> Result<f64, PredictorError> {
        panic!("not delegated")
    }
    fn describe(&self) -> String {
        "test-attention".into()
    }
}

fn with_fallback() -> ProfileOptions {
    ProfileOptions {
        attention_fallback: Some(Arc::new(TestAttention)),
        ..ProfileOptions::default()
    }
}

/// A folder with mlp.csv (all ops) and both network files for `model` on device `dev`.
fn folder(tag: &str, model: &ModelSpec) -> TempProfiles {
    let t = TempProfiles::new(tag);
    t.write("compute/dev/acme/tiny/mlp.csv", &mlp_csv(model, &MLP_OPS));
    t.write("network/dev_nvlink/all_reduce.csv", &all_reduce_csv(64));
    t.write("network/dev_nvlink/send_recv.csv", &send_recv_csv(64));
    t
}

fn load(
    root: &Path,
    model: &ModelSpec,
    tp: u32,
    pp: u32,
    opts: &ProfileOptions,
) -> Result<ProfilePredictor, PredictorError> {
    ProfilePredictor::load(root, "dev", "dev_nvlink", model, tp, pp, 16, opts)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1e-3)
}

fn prefill(num_tokens: u32, processed: u32) -> BatchEntry {
    BatchEntry {
        num_tokens,
        num_processed_tokens: processed,
        is_prefill_complete: false,
    }
}

fn decode(processed: u32) -> BatchEntry {
    BatchEntry {
        num_tokens: 1,
        num_processed_tokens: processed,
        is_prefill_complete: true,
    }
}

#[test]
fn token_ops_filter_the_model_and_tp_and_look_up_at_t8() {
    let m = tiny(4);
    let t = folder("t8", &m);
    for tp in [1, 2, 4] {
        let p = load(&t.root, &m, tp, 1, &with_fallback()).unwrap();
        for (op, name) in TokenOp::ALL.into_iter().map(|o| (o, o.name())) {
            if op == TokenOp::AttnKvCacheSave {
                continue;
            }
            for (n, t8) in [(1, 8), (8, 8), (9, 16), (17, 24), (100, 104), (128, 128)] {
                let got = p.token_op_ms(op, n).unwrap();
                assert!(
                    close(got, truth(name, tp, t8 as f64)),
                    "{name} TP{tp} T={n}: {got}"
                );
            }
        }
    }
}

#[test]
fn keys_past_the_tables_and_the_data_come_from_the_fit() {
    let m = tiny(4);
    let t = folder("past", &m);
    let opts = ProfileOptions {
        max_tokens: 32,
        ..with_fallback()
    };
    let p = load(&t.root, &m, 1, 1, &opts).unwrap();
    // Past the table, inside the data: exact interpolation.
    let got = p.token_op_ms(TokenOp::MlpUpProj, 97).unwrap();
    assert!(close(got, truth("mlp_up_proj", 1, 104.0)), "{got}");
    // Past the data (128 tokens): proportional to the value at 128.
    let got = p.token_op_ms(TokenOp::MlpUpProj, 256).unwrap();
    assert!(close(got, 2.0 * truth("mlp_up_proj", 1, 128.0)), "{got}");
}

#[test]
fn duplicates_are_dropped_before_repeated_sizes_are_averaged() {
    let m = tiny(4);
    let t = TempProfiles::new("dedup");
    let head = "time_stats.attn_pre_proj.median,time_stats.attn_post_proj.median,time_stats.attn_rope.median,time_stats.mlp_up_proj.median,time_stats.mlp_down_proj.median,time_stats.mlp_act.median,n_head,n_kv_head,n_embd,n_expanded_embd,vocab_size,use_gated_mlp,num_tokens,num_tensor_parallel_workers\n";
    let shape = "4,4,64,128,100,True";
    // num_tokens 8: 1.0 twice (an exact duplicate: pandas keeps one) and 4.0 → mean 2.5, not 2.
    let text = format!(
        "{head}1,1,1,1,1,1,{shape},8,1\n1,1,1,1,1,1,{shape},8,1\n4,4,4,4,4,4,{shape},8,1\n9,9,9,9,9,9,{shape},16,1\n"
    );
    t.write("compute/dev/acme/tiny/mlp.csv", &text);
    let p = load(&t.root, &m, 1, 1, &with_fallback()).unwrap();
    assert_eq!(p.token_op_ms(TokenOp::AttnPreProj, 3).unwrap(), 2.5);
    assert_eq!(p.token_op_ms(TokenOp::MlpAct, 16).unwrap(), 9.0);
    // No norm/add columns: Vidur fills them with 0.
    for op in [
        TokenOp::InputLayernorm,
        TokenOp::PostAttentionLayernorm,
        TokenOp::Add,
    ] {
        assert_eq!(p.token_op_ms(op, 8).unwrap(), 0.0);
    }
}

#[test]
fn empty_norm_cells_are_zero_but_empty_op_cells_are_errors() {
    let m = tiny(4);
    let t = TempProfiles::new("nan");
    let head = "time_stats.add.median,time_stats.attn_pre_proj.median,time_stats.attn_post_proj.median,time_stats.attn_rope.median,time_stats.mlp_up_proj.median,time_stats.mlp_down_proj.median,time_stats.mlp_act.median,n_head,n_kv_head,n_embd,n_expanded_embd,vocab_size,use_gated_mlp,num_tokens,num_tensor_parallel_workers\n";
    let shape = "4,4,64,128,100,True";
    t.write(
        "compute/dev/acme/tiny/mlp.csv",
        &format!("{head},1,1,1,1,1,1,{shape},8,1\nNaN,2,2,2,2,2,2,{shape},16,1\n"),
    );
    let p = load(&t.root, &m, 1, 1, &with_fallback()).unwrap();
    assert_eq!(p.token_op_ms(TokenOp::Add, 8).unwrap(), 0.0);
    assert_eq!(p.token_op_ms(TokenOp::Add, 16).unwrap(), 0.0);
    t.write(
        "compute/dev/acme/tiny/mlp.csv",
        &format!("{head}1,1,1,1,,1,1,{shape},8,1\n"),
    );
    let e = load(&t.root, &m, 1, 1, &with_fallback())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mlp.csv")
            && e.contains("time_stats.mlp_up_proj.median")
            && e.contains("num_tokens=8"),
        "{e}"
    );
}

#[test]
fn errors_name_the_path_what_is_missing_and_what_exists() {
    let m = tiny(4);
    let t = folder("errors", &m);
    let err = |r: Result<ProfilePredictor, PredictorError>| r.unwrap_err().to_string();

    let e = err(ProfilePredictor::load(
        &t.root,
        "b200",
        "dev_nvlink",
        &m,
        1,
        1,
        16,
        &with_fallback(),
    ));
    assert!(e.contains("compute/b200") && e.contains("has: dev"), "{e}");

    let other = ModelSpec {
        name: "acme/huge".into(),
        ..m.clone()
    };
    let e = err(load(&t.root, &other, 1, 1, &with_fallback()));
    assert!(
        e.contains("acme/huge") && e.contains("compute/dev/ has: acme/tiny"),
        "{e}"
    );

    let e = err(load(&t.root, &m, 8, 1, &with_fallback()));
    assert!(e.contains("mlp.csv has TP 1, 2, 4 but not 8"), "{e}");

    let wrong_vocab = ModelSpec {
        vocab_size: 32000,
        ..m.clone()
    };
    let e = err(load(&t.root, &wrong_vocab, 1, 1, &with_fallback()));
    assert!(
        e.contains("vocab_size=32000") && e.contains("vocab_size=100") && e.contains("n_embd=1024"),
        "{e}"
    );

    // Attention: no attention.csv and no fallback.
    let e = err(load(&t.root, &m, 1, 1, &ProfileOptions::default()));
    assert!(
        e.contains("acme/tiny/attention.csv") && e.contains("fallback"),
        "{e}"
    );

    // A missing op column.
    let ops: Vec<&str> = MLP_OPS
        .iter()
        .copied()
        .filter(|o| *o != "mlp_act")
        .collect();
    t.write("compute/dev/acme/tiny/mlp.csv", &mlp_csv(&m, &ops));
    let e = err(load(&t.root, &m, 1, 1, &with_fallback()));
    assert!(
        e.contains("mlp.csv") && e.contains("missing column 'time_stats.mlp_act.median'"),
        "{e}"
    );
    t.write("compute/dev/acme/tiny/mlp.csv", &mlp_csv(&m, &MLP_OPS));

    // Network: unknown SKU folder, missing file, no rows for the TP.
    let e = err(ProfilePredictor::load(
        &t.root,
        "dev",
        "nope",
        &m,
        2,
        1,
        16,
        &with_fallback(),
    ));
    assert!(
        e.contains("network/nope") && e.contains("has: dev_nvlink"),
        "{e}"
    );
    std::fs::remove_file(t.root.join("network/dev_nvlink/send_recv.csv")).unwrap();
    let opts = ProfileOptions {
        num_devices_per_node: Some(4),
        ..with_fallback()
    };
    let e = err(load(&t.root, &m, 1, 2, &opts));
    assert!(
        e.contains("dev_nvlink/send_recv.csv") && e.contains("has: all_reduce.csv"),
        "{e}"
    );
    let big = ModelSpec {
        num_q_heads: 8,
        num_kv_heads: 8,
        ..m.clone()
    };
    let t2 = folder("errors-tp8", &big);
    let e = err(load(&t2.root, &big, 8, 1, &with_fallback()));
    assert!(e.contains("TP 1, 2, 4 but not 8"), "{e}");
    t2.write(
        "compute/dev/acme/tiny/mlp.csv",
        &mlp_csv(&big, &MLP_OPS).replace(",4\n", ",8\n"),
    );
    let e = err(load(&t2.root, &big, 8, 1, &with_fallback()));
    assert!(
        e.contains("all_reduce.csv")
            && e.contains("no all_reduce rows with num_workers=8, devices_per_node=8")
            && e.contains("num_workers=4, devices_per_node=4"),
        "{e}"
    );

    // Send/recv on an unknown node SKU without a devices-per-node override.
    let e = err(ProfilePredictor::load(
        &t.root,
        "dev",
        "dev_nvlink",
        &m,
        1,
        2,
        16,
        &with_fallback(),
    ));
    assert!(e.contains("num_devices_per_node"), "{e}");
}

#[test]
fn collectives_filter_by_workers_and_node_placement() {
    let m = tiny(4);
    let t = folder("net", &m);
    for tp in [2u32, 4] {
        let p = load(&t.root, &m, tp, 1, &with_fallback()).unwrap();
        // num_tokens = size / E / 2; T8; + 0.02 ms launch overhead.
        let got = p.all_reduce_ms(13).unwrap();
        let want = 0.005 * tp as f64 + 1e-3 * 16.0 + 0.02;
        assert!(close(got, want), "TP{tp}: {got} vs {want}");
    }
    let p = load(&t.root, &m, 1, 1, &with_fallback()).unwrap();
    assert!(p.all_reduce_ms(8).is_err(), "TP 1 loads no all-reduce");
    assert!(p.send_recv_ms(8).is_err(), "PP 1 loads no send/recv");

    // TP·PP = 2 ≤ 4 devices per node: intra-node rows (devices_per_node 2).
    let opts = ProfileOptions {
        num_devices_per_node: Some(4),
        ..with_fallback()
    };
    let p = load(&t.root, &m, 1, 2, &opts).unwrap();
    assert!(close(p.send_recv_ms(20).unwrap(), 0.01 + 1e-4 * 24.0));
    // 2 > 1 device per node: inter-node rows (devices_per_node 1).
    let opts = ProfileOptions {
        num_devices_per_node: Some(1),
        ..with_fallback()
    };
    let p = load(&t.root, &m, 1, 2, &opts).unwrap();
    assert!(close(p.send_recv_ms(20).unwrap(), 0.05 + 1e-3 * 24.0));
}

#[test]
fn attention_csv_follows_vidurs_features_and_lookup_rules() {
    for hkv in [4, 2] {
        let m = tiny(hkv);
        let t = folder("attn", &m);
        t.write("compute/dev/acme/tiny/attention.csv", &attention_csv(&m));
        // With attention.csv the fallback is not used.
        let p = load(&t.root, &m, 1, 1, &with_fallback()).unwrap();
        assert!(!p.attention_from_fallback());
        assert!(
            p.describe().contains("attention: attention.csv"),
            "{}",
            p.describe()
        );
        let over = if hkv < 4 { 1.1 } else { 1.0 };

        // KV-cache save: num_tokens = max(chunk, batch), exact T (no rounding to 8).
        let got = p.token_op_ms(TokenOp::AttnKvCacheSave, 5).unwrap();
        assert!(close(got, 0.005), "{got}");
        let got = p.token_op_ms(TokenOp::AttnKvCacheSave, 100).unwrap();
        assert!(close(got, 0.1), "{got}");

        // Decode: kv = ceil_to(int(mean processed), 64); one request: no overhead.
        let got = p.attn_decode_ms(&[decode(100)]).unwrap();
        assert!(close(got, decode_truth(1.0, 128.0)), "{got}");
        // mean(64, 65) = 64.5 → int 64 → 64 (not 128); two requests: × 1.1 for GQA only.
        let got = p
            .attn_decode_ms(&[decode(64), decode(65), prefill(7, 0)])
            .unwrap();
        assert!(close(got, decode_truth(2.0, 64.0) * over), "{got}");
        // Batch 3 lies between the profiled 2 and 4: linear in the batch size.
        let b3 = [decode(10), decode(20), decode(30)];
        let got = p.attn_decode_ms(&b3).unwrap();
        assert!(close(got, decode_truth(3.0, 64.0) * over), "{got}");
        // Past the table (batch 200 > 128, kv 1000 > 512 profiled): the fit, no error.
        let big: Vec<BatchEntry> = (0..200).map(|_| decode(1000)).collect();
        let got = p.attn_decode_ms(&big).unwrap();
        assert!(close(got, decode_truth(200.0, 1024.0) * over), "{got}");
        assert_eq!(p.attn_decode_ms(&[prefill(5, 0)]).unwrap(), 0.0);

        // Prefill: one request at (ceil_to(processed, 64), chunk).
        let got = p.attn_prefill_ms(&[prefill(48, 100)]).unwrap();
        assert!(close(got, prefill_truth(48.0, 128.0)), "{got}");
        // The sqrt trick: KV = 0 + 128, C = round(sqrt(30² + 40²)) = 50, × 1.1 for GQA.
        let got = p
            .attn_prefill_ms(&[prefill(30, 0), prefill(40, 70), decode(5)])
            .unwrap();
        assert!(close(got, prefill_truth(50.0, 128.0) * over), "{got}");
        // C = round(sqrt(10² + 10²)) = round(14.14) = 14; below the first profiled chunk (16)
        // the first row holds.
        let got = p
            .attn_prefill_ms(&[prefill(10, 0), prefill(10, 0)])
            .unwrap();
        assert!(close(got, prefill_truth(16.0, 0.0) * over), "{got}");
        assert_eq!(p.attn_prefill_ms(&[decode(5)]).unwrap(), 0.0);
    }
}

#[test]
fn attention_csv_errors_name_the_filter() {
    let m = tiny(4);
    let t = folder("attn-err", &m);
    t.write("compute/dev/acme/tiny/attention.csv", &attention_csv(&m));
    let e = ProfilePredictor::load(&t.root, "dev", "dev_nvlink", &m, 1, 1, 8, &with_fallback())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("attention.csv")
            && e.contains("block_size=16")
            && e.contains("block_size=32")
            && e.contains("not with block_size=8 and TP 1"),
        "{e}"
    );
    let other = tiny(1);
    t.write("compute/dev/acme/tiny/mlp.csv", &mlp_csv(&other, &MLP_OPS));
    let e = load(&t.root, &other, 1, 1, &with_fallback())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no rows for this model") && e.contains("n_kv_head=4"),
        "{e}"
    );
}

#[test]
fn the_fallback_prices_attention_and_composition_sums_vidurs_terms() {
    let m = tiny(4);
    let t = folder("compose", &m);
    let p = load(&t.root, &m, 2, 1, &with_fallback()).unwrap();
    assert!(p.attention_from_fallback());
    let d = p.describe();
    assert!(
        d.starts_with("profiles:")
            && d.contains("acme/tiny")
            && d.contains("TP2")
            && d.contains("regressor linear")
            && d.contains("attention: fallback test-attention"),
        "{d}"
    );
    let batch = [prefill(20, 0), decode(300), decode(40)];
    assert_eq!(p.attn_prefill_ms(&batch).unwrap(), 100.0);
    assert_eq!(p.attn_decode_ms(&batch).unwrap(), 20.0);
    assert_eq!(p.token_op_ms(TokenOp::AttnKvCacheSave, 22).unwrap(), 1022.0);

    // Stage time: Vidur's composition with T = 22, T8 = 24, TP 2, 4 layers.
    let ar = 0.005 * 2.0 + 1e-3 * 24.0 + 0.02;
    let op = |name: &str| truth(name, 2, 24.0);
    let attn = op("attn_pre_proj")
        + op("attn_post_proj")
        + op("attn_rope")
        + 1022.0
        + 20.0
        + 100.0
        + ar
        + op("input_layernorm");
    let mlp = op("mlp_up_proj")
        + op("mlp_down_proj")
        + op("mlp_act")
        + ar
        + op("post_attention_layernorm");
    let want = (attn + mlp + op("add")) * 4.0 * 1e-3;
    let c = p.into_composed();
    let got = c.predict(&batch, 0).unwrap();
    assert!(close(got.total_s, want), "{} vs {want}", got.total_s);
    assert_eq!(got.model_s, got.total_s);
}

#[test]
fn loading_is_deterministic() {
    let m = tiny(2);
    let t = folder("det", &m);
    t.write("compute/dev/acme/tiny/attention.csv", &attention_csv(&m));
    let opts = ProfileOptions {
        num_devices_per_node: Some(4),
        ..with_fallback()
    };
    let a = load(&t.root, &m, 1, 2, &opts).unwrap();
    let b = load(&t.root, &m, 1, 2, &opts).unwrap();
    let batch = [prefill(300, 64), decode(1000), decode(20)];
    let (a, b) = (a.into_composed(), b.into_composed());
    assert_eq!(
        a.predict(&batch, 0).unwrap().total_s.to_bits(),
        b.predict(&batch, 0).unwrap().total_s.to_bits()
    );
}
