//! Shared helpers: paths to `../shared` (missing data fails loudly) and a test predictor.

use std::path::PathBuf;

use vidur_search::predictor::{BatchEntry, ExecutionTimePredictor, PredictorError, StageTime};

/// `../shared`, or a panic explaining that the tests need it.
pub fn shared() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    assert!(
        p.join("conformance/cases").is_dir(),
        "these tests need the read-only shared data beside the repository at {} (conformance/, data/); it is missing",
        p.display()
    );
    p
}

/// A predictor with known, smooth costs: a fixed per-stage launch cost, a per-token cost and a
/// KV-read cost. Lets tests reason about times without tables.
pub struct LinearPredictor {
    pub base_s: f64,
    pub per_token_s: f64,
    pub per_kv_token_s: f64,
}

impl ExecutionTimePredictor for LinearPredictor {
    fn predict(&self, batch: &[BatchEntry], _stage: u32) -> Result<StageTime, PredictorError> {
        let tokens: u64 = batch.iter().map(|e| e.num_tokens as u64).sum();
        let kv: u64 = batch.iter().map(|e| e.num_processed_tokens as u64).sum();
        let t = self.base_s + self.per_token_s * tokens as f64 + self.per_kv_token_s * kv as f64;
        Ok(StageTime {
            total_s: t,
            model_s: t,
        })
    }
    fn describe(&self) -> String {
        "linear-test".into()
    }
}

/// The vidur-search binary built for these tests.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_vidur-search"))
}
