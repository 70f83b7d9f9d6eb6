//! Execution-time prediction (vidur-behavior.md §7): how long one pipeline stage of a batch runs.

pub mod accuracy;
pub mod analytic;
pub mod compose;
pub mod measured;
pub mod profiles;
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
