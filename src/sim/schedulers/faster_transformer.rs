//! FasterTransformer (vidur-behavior.md §3.5): static batching. A batch is re-run with its
//! unfinished members until all finish; new requests are admitted only when no batch is in
//! progress.
//!
//! Vidur frees a batch's memory only for the members still in its final iteration, so blocks of
//! members that finished earlier leak (and the run ends in starvation). Vidur mode keeps that;
//! default mode frees every member's blocks as it completes.

use std::collections::VecDeque;

use super::{admit_with_full_reservation, next_num_tokens, push, ReplicaBase, ReplicaScheduler};
use crate::sim::batch::Batch;
use crate::sim::request::{ReqId, Request};
use crate::sim::SimError;

/// FasterTransformer scheduler state.
#[derive(Debug, Default)]
pub struct FasterTransformer {
    /// Unfinished members of batches waiting for their next iteration, oldest batch first.
    preempted_batches: VecDeque<Vec<ReqId>>,
    /// Recycled member lists.
    spare: Vec<Vec<ReqId>>,
}

impl ReplicaScheduler for FasterTransformer {
    fn next_batch(
        &mut self,
        base: &mut ReplicaBase,
        reqs: &mut [Request],
        batch: &mut Batch,
    ) -> Result<bool, SimError> {
        if let Some(members) = self.preempted_batches.pop_front() {
            for &id in &members {
                if !reqs[id as usize].completed {
                    push(batch, id, next_num_tokens(&reqs[id as usize]));
                }
            }
            self.spare.push(members);
            return Ok(!batch.requests.is_empty());
        }
        admit_with_full_reservation(base, reqs, batch)?;
        Ok(!batch.requests.is_empty())
    }

    fn on_batch_end(&mut self, base: &mut ReplicaBase, reqs: &mut [Request], batch: &Batch) {
        let all_done = batch.requests.iter().all(|&id| reqs[id as usize].completed);
        if all_done {
            for &id in &batch.requests {
                base.blocks.free(&mut reqs[id as usize]);
            }
            return;
        }
        if !base.compat.is_vidur() {
            for &id in &batch.requests {
                if reqs[id as usize].completed {
                    base.blocks.free(&mut reqs[id as usize]);
                }
            }
        }
        let mut members = self.spare.pop().unwrap_or_default();
        members.clear();
        members.extend_from_slice(&batch.requests);
        self.preempted_batches.push_back(members);
    }
}
