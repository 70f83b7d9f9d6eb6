//! The discrete-event engine (vidur-behavior.md §1–5).

pub mod batch;
pub mod config;
pub mod request;

pub use config::{Compat, MetricsOptions, RouterKind, SchedulerConfig, SchedulerKind};
