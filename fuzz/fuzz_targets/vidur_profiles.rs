//! Vidur profile CSVs (`mlp.csv`, `attention.csv`, `all_reduce.csv`, `send_recv.csv`), written
//! into a profile folder on tmpfs and read by both of their readers: the profile predictor
//! (`ProfilePredictor::load`, then a few stage predictions) and the calibration reader
//! (`measured::ProfileSet::load`).
//!
//! Input: the four files in that order, separated by lines holding only `%%`.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use vidur_search::catalog::ModelSpec;
use vidur_search::predictor::measured::ProfileSet;
use vidur_search::predictor::{
    BatchEntry, ExecutionTimePredictor, ProfileOptions, ProfilePredictor,
};

/// The model the seeds profile (the shape of the unit tests' `acme/tiny`).
fn tiny() -> ModelSpec {
    ModelSpec {
        name: "acme/tiny".into(),
        num_layers: 4,
        num_q_heads: 4,
        num_kv_heads: 2,
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

fn entry(num_tokens: u32, num_processed_tokens: u32, is_prefill_complete: bool) -> BatchEntry {
    BatchEntry {
        num_tokens,
        num_processed_tokens,
        is_prefill_complete,
    }
}

fuzz_target!(|data: &[u8]| {
    let parts = common::split(data, 4);
    let dir = common::scratch();
    common::write(dir, "compute/dev/acme/tiny/mlp.csv", parts[0]);
    common::write(dir, "compute/dev/acme/tiny/attention.csv", parts[1]);
    common::write(dir, "network/dev_nvlink/all_reduce.csv", parts[2]);
    common::write(dir, "network/dev_nvlink/send_recv.csv", parts[3]);

    common::note(&ProfileSet::load(dir));

    // Small tables keep an execution fast; lookups past them go through the fits, which is
    // where odd data would show.
    let opts = ProfileOptions {
        max_tokens: 256,
        max_kv_tokens: 256,
        max_batch_size: 8,
        max_prefill_chunk_size: 256,
        num_devices_per_node: Some(4),
        ..ProfileOptions::default()
    };
    let p = ProfilePredictor::load(dir, "dev", "dev_nvlink", &tiny(), 2, 2, 16, &opts);
    common::note(&p);
    let Ok(p) = p else {
        return;
    };
    let p = p.into_composed();
    let batches = [
        vec![entry(1, 100, true), entry(1, 5000, true), entry(1, 0, true)],
        vec![entry(64, 0, false), entry(300, 200, false)],
        vec![entry(5000, 0, false), entry(1, 1, true)],
        (0..20).map(|i| entry(1, i * 37, true)).collect(),
    ];
    for b in &batches {
        for stage in 0..2 {
            let _ = p.predict(b, stage);
        }
    }
});
