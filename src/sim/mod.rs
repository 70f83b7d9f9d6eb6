//! The discrete-event engine (vidur-behavior.md §1–5): requests arrive, a global router sends
//! them to replicas, each replica's scheduler forms batches, batches flow through pipeline
//! stages whose durations come from an
//! [`ExecutionTimePredictor`](crate::predictor::ExecutionTimePredictor), and a [`SimObserver`]
//! (the metrics recorder, the search's SLO guard) sees every step.

pub mod batch;
pub mod config;
mod engine;
pub mod event;
pub mod memory;
pub mod observer;
pub mod request;
pub mod router;
pub mod schedulers;

use serde::{Deserialize, Serialize};

pub use config::{
    LightllmConfig, MetricsOptions, ReservationConfig, RouterKind, SarathiConfig, SchedulerConfig,
    SchedulerKind, SglangConfig, TrtllmConfig, VllmConfig, VllmV1Config,
};
pub use engine::{simulate, simulate_source};
pub use observer::SimObserver;

use crate::catalog::{DeviceSpec, ModelSpec, NodeSpec};
use crate::compat::Compat;
use crate::predictor::PredictorError;
use request::Request;

/// Everything the engine needs, resolved and validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// Model shape.
    pub model: ModelSpec,
    /// GPU.
    pub device: DeviceSpec,
    /// Node SKU (devices per node).
    pub node: NodeSpec,
    /// Tensor-parallel degree.
    pub tensor_parallel_size: u32,
    /// Pipeline stages.
    pub num_pipeline_stages: u32,
    /// Replicas behind the router.
    pub num_replicas: u32,
    /// Share of device memory held back (default 0.1).
    pub memory_margin_fraction: f64,
    /// Longest request (P + D) the replica must hold; sizes the KV planner.
    pub max_tokens: u32,
    /// Replica scheduler.
    pub scheduler: SchedulerConfig,
    /// Global router.
    pub router: RouterKind,
    /// Seed for the engine's own randomness (random routing).
    pub seed: u64,
    /// Stop after the first event past this simulated time (None: run to completion).
    pub time_limit_s: Option<f64>,
    /// Engine semantics.
    pub compat: Compat,
    /// Optional recordings.
    pub metrics: MetricsOptions,
}

impl SimConfig {
    /// Check the parallel layout and knobs; the message names the offending field.
    pub fn validate(&self) -> Result<(), SimError> {
        let m = &self.model;
        let (tp, pp) = (self.tensor_parallel_size, self.num_pipeline_stages);
        let bad = |msg: String| Err(SimError::Config(msg));
        if tp == 0 || pp == 0 || self.num_replicas == 0 {
            return bad(format!(
                "tensor_parallel_size, num_pipeline_stages and num_replicas must be at least 1 (got {tp}, {pp}, {})",
                self.num_replicas
            ));
        }
        if !m.num_q_heads.is_multiple_of(tp) {
            return bad(format!(
                "tensor_parallel_size {tp} does not divide the {} attention heads of {}",
                m.num_q_heads, m.name
            ));
        }
        if !m.embedding_dim.is_multiple_of(tp) {
            return bad(format!(
                "tensor_parallel_size {tp} does not divide the hidden size {} of {}",
                m.embedding_dim, m.name
            ));
        }
        if !m.num_layers.is_multiple_of(pp) {
            return bad(format!(
                "num_pipeline_stages {pp} does not divide the {} layers of {}",
                m.num_layers, m.name
            ));
        }
        if !(0.0..1.0).contains(&self.memory_margin_fraction) {
            return bad(format!(
                "memory_margin_fraction must be in [0, 1), got {}",
                self.memory_margin_fraction
            ));
        }
        if self.max_tokens == 0 {
            return bad("max_tokens must be at least 1".into());
        }
        if self.max_tokens < self.scheduler.block_size() {
            return bad(format!(
                "max_tokens ({}) must be at least scheduler.block_size ({})",
                self.max_tokens,
                self.scheduler.block_size()
            ));
        }
        if let Some(t) = self.time_limit_s {
            if t.is_nan() || t <= 0.0 {
                return bad(format!("time_limit_s must be > 0, got {t}"));
            }
        }
        let kind = self.scheduler.kind();
        if self.compat.is_vidur() && kind.is_engine_model() {
            return bad(format!(
                "scheduler.type {}: the engine models run with compat: default only (Vidur has no such scheduler); use compat: default or a Vidur scheduler (vllm, orca, sarathi, lightllm, faster_transformer)",
                kind.name()
            ));
        }
        self.scheduler.validate(pp).map_err(SimError::Config)
    }
}

/// Why a simulation could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Invalid configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The predictor could not price a batch.
    #[error("execution-time prediction failed at t={time:.6}s on replica {replica}: {source}")]
    Predictor {
        /// Simulated time.
        time: f64,
        /// Replica.
        replica: u32,
        /// Cause.
        #[source]
        source: PredictorError,
    },
    /// A behavior Vidur does not implement either (e.g. LightLLM OOM in Vidur mode).
    #[error("{0}")]
    Unsupported(String),
    /// A broken engine invariant (a bug): reported, never silently ignored.
    #[error("engine invariant violated: {0}")]
    Invariant(String),
}

/// Result of one run.
#[derive(Debug)]
pub struct SimOutput {
    /// Final state of every request that arrived (index = request id = arrival order); the
    /// slice entry points append the slice's requests that never arrived, untouched.
    pub requests: Vec<Request>,
    /// Simulated time of the last event handled.
    pub end_time: f64,
    /// Events handled (arrivals included).
    pub num_events: u64,
    /// Batches formed.
    pub num_batches: u64,
    /// Requests in `requests` that did not complete (time limit, or stuck).
    pub num_unfinished: usize,
    /// Whether the time limit stopped the run.
    pub hit_time_limit: bool,
    /// Whether the [`SimObserver`] stopped the run.
    pub stopped_early: bool,
    /// Highest KV blocks in use on any replica, and that replica's capacity.
    pub peak_blocks: (u64, u64),
    /// KV blocks per replica.
    pub num_blocks: u64,
    /// Whether event times never decreased (always true unless the engine is broken).
    pub time_monotone: bool,
}
