//! Orca (vidur-behavior.md §3.4): every running request decodes each iteration; new requests
//! join with their whole prompt and a full `max_tokens` KV reservation. No preemption.

use std::collections::VecDeque;

use super::{
    admit_with_full_reservation, free_or_keep, next_num_tokens, push, ReplicaBase, ReplicaScheduler,
};
use crate::sim::batch::Batch;
use crate::sim::request::{ReqId, Request};
use crate::sim::SimError;

/// Orca scheduler state.
#[derive(Debug, Default)]
pub struct Orca {
    running: VecDeque<ReqId>,
}

impl ReplicaScheduler for Orca {
    fn next_batch(
        &mut self,
        base: &mut ReplicaBase,
        reqs: &mut [Request],
        batch: &mut Batch,
    ) -> Result<bool, SimError> {
        let max = base.max_batch_size as usize;
        while !self.running.is_empty() && batch.requests.len() < max {
            let id = self.running.pop_front().expect("non-empty");
            push(batch, id, next_num_tokens(&reqs[id as usize]));
        }
        admit_with_full_reservation(base, reqs, batch)?;
        Ok(!batch.requests.is_empty())
    }

    fn on_batch_end(&mut self, base: &mut ReplicaBase, reqs: &mut [Request], batch: &Batch) {
        free_or_keep(base, reqs, batch, &mut self.running);
    }
}
