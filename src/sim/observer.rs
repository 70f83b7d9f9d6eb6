//! What watches a run: the engine calls a [`SimObserver`]'s hooks at each step, in Vidur's
//! order. The metrics recorder and the capacity search's SLO guard are both observers; a pair
//! `(A, B)` runs two, `()` runs none. The engine is generic over the observer, so hooks are
//! statically dispatched and the ones an observer does not override cost nothing.

use super::batch::Batch;
use super::request::Request;
use crate::predictor::{BatchEntry, StageTime};

/// Hooks into a simulation run; every hook defaults to doing nothing.
///
/// Request states passed in are already updated for the event (e.g. at a batch end, tokens
/// are counted and completed requests are marked).
pub trait SimObserver {
    /// Request `req` arrived at `t` (its P and D are the arrival values).
    fn on_request_arrival(&mut self, _t: f64, _req: &Request) {}

    /// `replica` formed one or more batches at `t`; `memory_usage_percent` is its KV memory in
    /// use after their allocation.
    fn on_replica_schedule(&mut self, _t: f64, _replica: u32, _memory_usage_percent: f64) {}

    /// Stage `stage` of `replica` started `batch` at `t`. `entries` are the batch's members as
    /// priced (tokens this iteration, tokens processed before it), `time` the stage's duration.
    fn on_stage_schedule(
        &mut self,
        _t: f64,
        _replica: u32,
        _stage: u32,
        _batch: &Batch,
        _entries: &[BatchEntry],
        _time: &StageTime,
    ) {
    }

    /// Stage `stage` of `replica` finished `batch` at `t` after `exec_s` seconds.
    fn on_stage_end(&mut self, _t: f64, _replica: u32, _stage: u32, _batch: &Batch, _exec_s: f64) {}

    /// `batch` finished its last stage at `t`; `requests` (indexed by id) are updated and the
    /// replica's scheduler has freed completed requests, leaving `memory_usage_percent` in use.
    fn on_batch_end(
        &mut self,
        _t: f64,
        _replica: u32,
        _batch: &Batch,
        _requests: &[Request],
        _memory_usage_percent: f64,
    ) {
    }

    /// `req` completed at `t` (called after [`SimObserver::on_batch_end`] of its last batch).
    fn on_request_completed(&mut self, _t: f64, _req: &Request) {}

    /// Whether the run should stop; the engine asks after every batch end and stops once the
    /// event is handled. Must be cheap.
    fn should_stop(&self) -> bool {
        false
    }
}

/// The observer that watches nothing.
impl SimObserver for () {}

impl<O: SimObserver + ?Sized> SimObserver for &mut O {
    fn on_request_arrival(&mut self, t: f64, req: &Request) {
        (**self).on_request_arrival(t, req);
    }

    fn on_replica_schedule(&mut self, t: f64, replica: u32, memory_usage_percent: f64) {
        (**self).on_replica_schedule(t, replica, memory_usage_percent);
    }

    fn on_stage_schedule(
        &mut self,
        t: f64,
        replica: u32,
        stage: u32,
        batch: &Batch,
        entries: &[BatchEntry],
        time: &StageTime,
    ) {
        (**self).on_stage_schedule(t, replica, stage, batch, entries, time);
    }

    fn on_stage_end(&mut self, t: f64, replica: u32, stage: u32, batch: &Batch, exec_s: f64) {
        (**self).on_stage_end(t, replica, stage, batch, exec_s);
    }

    fn on_batch_end(
        &mut self,
        t: f64,
        replica: u32,
        batch: &Batch,
        requests: &[Request],
        memory_usage_percent: f64,
    ) {
        (**self).on_batch_end(t, replica, batch, requests, memory_usage_percent);
    }

    fn on_request_completed(&mut self, t: f64, req: &Request) {
        (**self).on_request_completed(t, req);
    }

    fn should_stop(&self) -> bool {
        (**self).should_stop()
    }
}

/// Both observers, `A`'s hook first; the run stops if either wants.
impl<A: SimObserver, B: SimObserver> SimObserver for (A, B) {
    fn on_request_arrival(&mut self, t: f64, req: &Request) {
        self.0.on_request_arrival(t, req);
        self.1.on_request_arrival(t, req);
    }

    fn on_replica_schedule(&mut self, t: f64, replica: u32, memory_usage_percent: f64) {
        self.0.on_replica_schedule(t, replica, memory_usage_percent);
        self.1.on_replica_schedule(t, replica, memory_usage_percent);
    }

    fn on_stage_schedule(
        &mut self,
        t: f64,
        replica: u32,
        stage: u32,
        batch: &Batch,
        entries: &[BatchEntry],
        time: &StageTime,
    ) {
        self.0
            .on_stage_schedule(t, replica, stage, batch, entries, time);
        self.1
            .on_stage_schedule(t, replica, stage, batch, entries, time);
    }

    fn on_stage_end(&mut self, t: f64, replica: u32, stage: u32, batch: &Batch, exec_s: f64) {
        self.0.on_stage_end(t, replica, stage, batch, exec_s);
        self.1.on_stage_end(t, replica, stage, batch, exec_s);
    }

    fn on_batch_end(
        &mut self,
        t: f64,
        replica: u32,
        batch: &Batch,
        requests: &[Request],
        memory_usage_percent: f64,
    ) {
        self.0
            .on_batch_end(t, replica, batch, requests, memory_usage_percent);
        self.1
            .on_batch_end(t, replica, batch, requests, memory_usage_percent);
    }

    fn on_request_completed(&mut self, t: f64, req: &Request) {
        self.0.on_request_completed(t, req);
        self.1.on_request_completed(t, req);
    }

    fn should_stop(&self) -> bool {
        self.0.should_stop() || self.1.should_stop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts hooks and stops after `stop_after` batch ends.
    #[derive(Default)]
    struct Counter {
        arrivals: u32,
        batch_ends: u32,
        completed: u32,
        stop_after: Option<u32>,
    }

    impl SimObserver for Counter {
        fn on_request_arrival(&mut self, _: f64, _: &Request) {
            self.arrivals += 1;
        }
        fn on_batch_end(&mut self, _: f64, _: u32, _: &Batch, _: &[Request], _: f64) {
            self.batch_ends += 1;
        }
        fn on_request_completed(&mut self, _: f64, _: &Request) {
            self.completed += 1;
        }
        fn should_stop(&self) -> bool {
            self.stop_after.is_some_and(|n| self.batch_ends >= n)
        }
    }

    fn drive(o: &mut impl SimObserver) {
        let r = Request::new(0, 0.0, 4, 2);
        o.on_request_arrival(0.0, &r);
        o.on_batch_end(1.0, 0, &Batch::default(), std::slice::from_ref(&r), 0.0);
        o.on_request_completed(1.0, &r);
    }

    #[test]
    fn a_pair_runs_both_and_stops_if_either_wants() {
        let mut pair = (Counter::default(), Counter::default());
        drive(&mut pair);
        assert_eq!((pair.0.arrivals, pair.1.arrivals), (1, 1));
        assert_eq!((pair.0.batch_ends, pair.1.completed), (1, 1));
        assert!(!pair.should_stop());
        pair.1.stop_after = Some(1);
        assert!(pair.should_stop());
        pair.1.stop_after = None;
        pair.0.stop_after = Some(1);
        assert!(pair.should_stop());
    }

    #[test]
    fn references_forward_and_unit_watches_nothing() {
        let mut c = Counter {
            stop_after: Some(1),
            ..Default::default()
        };
        let mut nested = (&mut c, ());
        drive(&mut nested);
        assert!(nested.should_stop());
        assert_eq!((c.arrivals, c.batch_ends, c.completed), (1, 1, 1));
        assert!(!().should_stop());
    }
}
