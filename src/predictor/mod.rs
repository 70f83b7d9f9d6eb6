//! Execution-time prediction (vidur-behavior.md §7): how long one pipeline stage of a batch runs.

pub mod accuracy;
pub mod analytic;
pub mod compose;
pub mod measured;
pub mod profiles;
pub mod serving;
pub mod vidur_tables;

pub use compose::{Composed, OpModel, TokenOp};
pub use profiles::{ProfileOptions, ProfilePredictor};
pub use vidur_tables::{VidurTablesOptions, VidurTablesPredictor};

/// One batch member as the predictor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchEntry {
    /// Tokens processed for this request in this iteration.
    pub num_tokens: u32,
    /// Tokens processed before this iteration (KV already cached, incl. the bonus token).
    pub num_processed_tokens: u32,
    /// Whether the request is decoding (its prefill completed before this iteration).
    pub is_prefill_complete: bool,
}

/// Vidur's decode-attention key (§7.5) for a batch: the number of decoding members and their
/// KV size `ceil_to(int(mean processed), granularity)`; `None` when nothing decodes.
pub fn vidur_decode_key(batch: &[BatchEntry], granularity: u32) -> Option<(u32, u32)> {
    let mut n = 0u32;
    let mut sum = 0f64;
    for e in batch.iter().filter(|e| e.is_prefill_complete) {
        n += 1;
        sum += e.num_processed_tokens as f64;
    }
    // int(np.mean(...)) truncates, then rounds up to the KV granularity.
    (n > 0).then(|| {
        (
            n,
            ((sum / n as f64) as u32).div_ceil(granularity) * granularity,
        )
    })
}

/// Vidur's prefill-attention key (§7.5, the "sqrt aggregation trick": one prefill with the
/// summed KV and the same quadratic cost): the number of prefilling members, `Σ ceil_to(
/// processed, granularity)` and `C = round(sqrt(Σ chunk²))` (Python's round ties to even);
/// `None` when nothing prefills.
pub fn vidur_prefill_key(batch: &[BatchEntry], granularity: u32) -> Option<(u32, u32, u32)> {
    let g = granularity;
    let mut n = 0u32;
    let mut kv_sum = 0u32;
    let mut sq_sum = 0u64;
    for e in batch.iter().filter(|e| !e.is_prefill_complete) {
        n += 1;
        kv_sum += e.num_processed_tokens.div_ceil(g) * g;
        sq_sum += e.num_tokens as u64 * e.num_tokens as u64;
    }
    (n > 0).then(|| (n, kv_sum, (sq_sum as f64).sqrt().round_ties_even() as u32))
}

/// Predicted duration of one stage of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StageTime {
    /// Stage duration in seconds (model time + CPU overhead).
    pub total_s: f64,
    /// Model (GPU) time in seconds.
    pub model_s: f64,
}

/// Predicts stage times. Built once, immutable, shared by every simulation.
pub trait ExecutionTimePredictor: Send + Sync {
    /// Time of pipeline stage `stage` for a batch with these members.
    fn predict(&self, batch: &[BatchEntry], stage: u32) -> Result<StageTime, PredictorError>;
    /// Times of every pipeline stage of one batch (`out[s]` = stage `s`). The default calls
    /// [`Self::predict`] per stage; predictors whose stages share a layer time compute it once.
    fn predict_stages(
        &self,
        batch: &[BatchEntry],
        out: &mut [StageTime],
    ) -> Result<(), PredictorError> {
        for (s, o) in out.iter_mut().enumerate() {
            *o = self.predict(batch, s as u32)?;
        }
        Ok(())
    }
    /// A one-line description recorded in outputs (kind, source, version).
    fn describe(&self) -> String;
}

/// Prediction failures.
#[derive(Debug, thiserror::Error)]
pub enum PredictorError {
    /// A lookup key outside a table's range.
    #[error("prediction table '{op}' has no entry for {key}; the table covers {range} (use larger tables or the analytic predictor)")]
    OutOfRange {
        /// Operation (table) name.
        op: &'static str,
        /// The key that was looked up, e.g. `num_tokens=5000`.
        key: String,
        /// What the table covers.
        range: String,
    },
    /// A table file could not be read or parsed.
    #[error("{path}: {msg}")]
    Table {
        /// File path.
        path: String,
        /// What went wrong.
        msg: String,
    },
}
