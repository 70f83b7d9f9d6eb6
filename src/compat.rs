//! The engine's two semantics. Its own module because everything branches on it (workload
//! generation, predictor lookups, scheduling, metrics): living in `sim` would make those
//! modules import the engine just for this flag.

use serde::{Deserialize, Serialize};

/// Which semantics the engine follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compat {
    /// Vidur's semantics with its documented bugs fixed (README "Differences from Vidur").
    #[default]
    Default,
    /// Reproduce Vidur (commit 7d47513) exactly, quirks included.
    Vidur,
}

impl Compat {
    /// True in Vidur-compatible mode.
    pub fn is_vidur(self) -> bool {
        self == Compat::Vidur
    }
}
