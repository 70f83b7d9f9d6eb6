//! Metrics (vidur-behavior.md §9): the engine calls the [`Recorder`] hooks in Vidur's order;
//! [`Recorder::finish`] yields [`SimMetrics`], which computes the summary and writes outputs.
//!
//! SKELETON: the hook signatures below are the engine's contract; bodies are being written.

use std::path::Path;

use crate::sim::batch::Batch;
use crate::sim::config::{Compat, MetricsOptions};
use crate::sim::request::Request;

/// What the recorder needs to know up front.
#[derive(Debug, Clone)]
pub struct RecorderSetup {
    /// Replicas in the cluster.
    pub num_replicas: u32,
    /// Pipeline stages per replica.
    pub num_stages: u32,
    /// Engine mode (selects Vidur's meter/index quirks and MFU units).
    pub compat: Compat,
    /// Optional recordings.
    pub options: MetricsOptions,
}

/// Collects metrics during a run.
#[derive(Debug)]
pub struct Recorder {
    setup: RecorderSetup,
}

impl Recorder {
    /// A recorder for a run with `num_requests` requests.
    pub fn new(setup: RecorderSetup, num_requests: usize) -> Self {
        let _ = num_requests;
        Recorder { setup }
    }

    /// A request arrived (its P/D are the arrival values).
    pub fn on_request_arrival(&mut self, t: f64, req: &Request) {
        let _ = (t, req);
    }

    /// A replica formed one or more batches; `memory_usage_percent` is after allocation.
    pub fn on_replica_schedule(&mut self, t: f64, replica: u32, memory_usage_percent: f64) {
        let _ = (t, replica, memory_usage_percent);
    }

    /// Stage `stage` of `replica` started a batch; `mfu` in percent.
    pub fn on_stage_schedule(&mut self, t: f64, replica: u32, stage: u32, mfu: f64) {
        let _ = (t, replica, stage, mfu);
    }

    /// Stage `stage` of `replica` finished `batch` at `t` after `exec_s` seconds.
    pub fn on_stage_end(&mut self, t: f64, replica: u32, stage: u32, batch: &Batch, exec_s: f64) {
        let _ = (t, replica, stage, batch, exec_s);
    }

    /// `batch` finished its last stage at `t`; request states are already updated;
    /// `memory_usage_percent` is after completed requests were freed.
    pub fn on_batch_end(
        &mut self,
        t: f64,
        replica: u32,
        batch: &Batch,
        requests: &[Request],
        memory_usage_percent: f64,
    ) {
        let _ = (t, replica, batch, requests, memory_usage_percent);
    }

    /// End of the run at simulated time `end_time`.
    pub fn finish(self, requests: &[Request], end_time: f64) -> SimMetrics {
        let _ = (requests, end_time, self.setup);
        SimMetrics {}
    }
}

/// Everything recorded by one run.
#[derive(Debug)]
pub struct SimMetrics {}

impl SimMetrics {
    /// Write all output files into `dir`.
    pub fn write_outputs(&self, dir: &Path) -> std::io::Result<()> {
        let _ = dir;
        Ok(())
    }
}
