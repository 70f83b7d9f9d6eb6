//! Design-space search (`vidur-search run SPACE.yaml`): expand a search space into points
//! ([`expand`]), drop the infeasible ones, find each point's capacity (largest QPS meeting every
//! SLO) by bracketing and bisection ([`capacity`]) — or, for a closed-loop workload, measure
//! each concurrency with one simulation per seed ([`runner`]) — price it ([`cost`]), and run all points in
//! parallel ([`runner`]) with a crash-safe result cache ([`cache`]). The reports are
//! `crate::report`.

pub mod cache;
pub mod capacity;
pub mod cost;
pub mod expand;
pub mod result;
pub mod runner;
pub mod space;

use std::path::PathBuf;

pub use result::{
    CapacityStatus, ClosedLoopMeasure, Cost, DroppedPoint, PointConfig, PointResult, RunMeta,
    SearchOutcome, SeedCapacity, SimRecord, Slo, SloMetric, SloValue,
};
pub use runner::{run, ProgressEvent, ProgressFn, RunOptions};
pub use space::{LoadedSpace, SearchSpace};

/// Bumped whenever a change alters simulation results, so cached points are recomputed.
pub const ENGINE_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "+search.5");

/// Why a search could not run.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// File path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The space file is invalid; `msg` names the line/column or the field.
    #[error("{path}: {msg}")]
    Space {
        /// Space file.
        path: PathBuf,
        /// What is wrong, naming the file.
        msg: String,
        /// The parse or check error.
        #[source]
        source: Box<space::SpaceError>,
    },
    /// A field of the space names something that cannot be used.
    #[error("field '{field}': {msg}")]
    Field {
        /// Field path, e.g. `clusters[0].gpu`.
        field: String,
        /// What is wrong.
        msg: String,
    },
    /// A workload could not be generated.
    #[error("workload '{name}': {source}")]
    Workload {
        /// Workload name.
        name: String,
        /// Cause (boxed: workload errors are large).
        #[source]
        source: Box<crate::workload::WorkloadError>,
    },
    /// A simulation failed (a bug or an unpriceable batch).
    #[error("simulation failed: {0}")]
    Sim(#[source] Box<crate::sim::SimError>),
}

impl SearchError {
    pub(crate) fn field(field: impl Into<String>, msg: impl Into<String>) -> Self {
        SearchError::Field {
            field: field.into(),
            msg: msg.into(),
        }
    }
}
