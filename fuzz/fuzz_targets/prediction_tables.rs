//! Vidur prediction-table CSVs (`<op>.csv[.gz]`), written into a table folder on tmpfs and
//! read by `VidurTablesPredictor::load`, then a few stage predictions.
//!
//! Input: a mode byte, then three files separated by lines holding only `%%`: the per-token
//! table (used for every token op, all_reduce and send_recv), attn_decode, attn_prefill.
//! Mode bit 0 gzips the files (`<op>.csv.gz`), bit 1 leaves them raw under the `.gz` name,
//! bit 2 picks a GQA model, bit 3 Vidur compat mode.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use vidur_search::catalog::hf;
use vidur_search::compat::Compat;
use vidur_search::predictor::{
    BatchEntry, ExecutionTimePredictor, VidurTablesOptions, VidurTablesPredictor,
};

const TOKEN_OPS: [&str; 12] = [
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
    "all_reduce",
    "send_recv",
];

fn entry(num_tokens: u32, num_processed_tokens: u32, is_prefill_complete: bool) -> BatchEntry {
    BatchEntry {
        num_tokens,
        num_processed_tokens,
        is_prefill_complete,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let parts = common::split(body, 3);
    let dir = common::scratch();
    // Each part is compressed once (compression dominates an execution otherwise).
    let (ext, files): (&str, Vec<Vec<u8>>) = match mode & 3 {
        1 => (".csv.gz", parts.iter().map(|p| common::gzip(p)).collect()),
        2 => (".csv.gz", parts.iter().map(|p| p.to_vec()).collect()),
        _ => (".csv", parts.iter().map(|p| p.to_vec()).collect()),
    };
    // One token table, hard-linked under every token op's name (cheaper than 12 writes).
    let first = common::write(dir, &format!("{}{ext}", TOKEN_OPS[0]), &files[0]);
    for op in &TOKEN_OPS[1..] {
        std::fs::hard_link(&first, dir.join(format!("{op}{ext}"))).expect("link a table");
    }
    common::write(dir, &format!("attn_decode{ext}"), &files[1]);
    common::write(dir, &format!("attn_prefill{ext}"), &files[2]);

    // Llama-2-7B is MHA, Llama-3-8B GQA (the batching overheads apply only to GQA).
    let name = if mode & 4 == 4 {
        "meta-llama/Meta-Llama-3-8B"
    } else {
        "meta-llama/Llama-2-7b-hf"
    };
    let model = hf::lookup_embedded(name).expect("embedded model").spec;
    let opts = VidurTablesOptions::default();
    let batches = [
        vec![entry(1, 100, true), entry(1, 5000, true), entry(1, 0, true)],
        vec![entry(64, 0, false), entry(300, 200, false)],
        vec![entry(5000, 0, false), entry(1, 1, true)],
        (0..200).map(|i| entry(1, i * 37, true)).collect(),
    ];
    let compat = if mode & 8 == 8 {
        Compat::Vidur
    } else {
        Compat::Default
    };
    let p = VidurTablesPredictor::load(dir, &model, 2, 2, &opts, compat);
    common::note(&p);
    let Ok(p) = p else {
        return;
    };
    for b in &batches {
        for stage in 0..2 {
            let _ = p.predict(b, stage);
        }
    }
});
