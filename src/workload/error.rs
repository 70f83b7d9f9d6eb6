//! Errors of workload generation (vidur-behavior.md §6).
//!
//! Vidur crashes with Python tracebacks (or silently misbehaves) on bad workload input. Every
//! failure here is a [`WorkloadError`] whose message names the config field, or the trace file,
//! the 1-based line (the header is line 1) and the column, plus what was expected.

use std::path::PathBuf;

/// Why a workload could not be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkloadError {
    /// A config value is out of range, e.g.
    /// `workload.synthetic.intervals.poisson.qps must be > 0, got -1`.
    #[error("{field} {msg}")]
    Invalid {
        /// Dotted config path of the offending field.
        field: String,
        /// What is wrong, including the value given.
        msg: String,
    },
    /// A trace file could not be opened.
    #[error("{field}: cannot open trace file {}: {error}", path.display())]
    Io {
        /// Config field that names the file.
        field: String,
        /// The resolved path.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// The file is not readable CSV (bad UTF-8, broken gzip stream, I/O error mid-file...).
    #[error("{}: line {line}: cannot read CSV: {msg}", path.display())]
    Csv {
        /// The trace file.
        path: PathBuf,
        /// 1-based line (header = 1); 0 when unknown.
        line: u64,
        /// The reader's message.
        msg: String,
    },
    /// A required column is absent from the header.
    #[error("{}: missing column `{column}` (columns found: {found})", path.display())]
    MissingColumn {
        /// The trace file.
        path: PathBuf,
        /// The column (or alternatives) that was expected.
        column: String,
        /// The header's columns, comma-separated.
        found: String,
    },
    /// A cell holds something other than what the column needs.
    #[error("{}: line {line}, column `{column}`: expected {expected}, got {value:?}", path.display())]
    BadValue {
        /// The trace file.
        path: PathBuf,
        /// 1-based line (header = 1).
        line: u64,
        /// Column name.
        column: String,
        /// What the cell should hold.
        expected: String,
        /// What it holds.
        value: String,
    },
    /// The trace as a whole is unusable (no rows, a row Vidur could not simulate, ...).
    #[error("{}: {msg}", path.display())]
    Trace {
        /// The trace file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// The trace length source ran out before the requested number of requests (Vidur crashes
    /// with an AttributeError here, vidur-behavior.md §12 item 9).
    #[error(
        "{}: the length trace has {rows} rows but the workload needs more requests ({needed}); \
         lower num_requests/duration_s or use a longer trace",
        path.display()
    )]
    TraceExhausted {
        /// The length trace.
        path: PathBuf,
        /// Rows in the trace.
        rows: usize,
        /// How many requests were asked for, in words.
        needed: String,
    },
    /// A built-in workload name that does not exist.
    #[error("unknown built-in workload {name:?} (known: {known})")]
    UnknownBuiltin {
        /// The name asked for.
        name: String,
        /// The known names and aliases, for the message.
        known: String,
    },
    /// A built-in workloads file (`data/workloads.yaml`) is unusable, or a trace cannot be
    /// fitted.
    #[error("{file}: {msg}")]
    BuiltinData {
        /// The file.
        file: String,
        /// What is wrong.
        msg: String,
    },
    /// A closed-loop workload where a request list is needed up front: its arrivals follow
    /// completions, which only the simulation produces.
    #[error(
        "a closed-loop workload depends on the simulation; it cannot be generated ahead of it ({0})"
    )]
    ClosedLoopAhead(String),
    /// Generation finished with an empty request list.
    #[error("the workload produced no requests: {0}")]
    NoRequests(String),
}

impl WorkloadError {
    /// Shorthand for [`WorkloadError::Invalid`].
    pub(crate) fn invalid(field: impl Into<String>, msg: impl Into<String>) -> Self {
        WorkloadError::Invalid {
            field: field.into(),
            msg: msg.into(),
        }
    }
}
