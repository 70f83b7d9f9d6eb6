//! vLLM (vidur-behavior.md §3.2): full-prompt prefills first (decodes starve meanwhile), then
//! decodes with recompute preemption of the latest-arrived running request.

use std::collections::VecDeque;

use super::{
    allocate_or_preempt, free_or_keep, next_num_tokens, push, sort_by_arrival, ReplicaBase,
    ReplicaScheduler,
};
use crate::sim::batch::Batch;
use crate::sim::request::{ReqId, Request};
use crate::sim::SimError;

/// vLLM scheduler state.
#[derive(Debug)]
pub struct Vllm {
    /// Running requests between iterations (Vidur's `preempted_requests`).
    running: VecDeque<ReqId>,
    /// Token cap per batch (`max_tokens_in_batch`).
    max_tokens_in_batch: u32,
}

impl Vllm {
    /// A scheduler with the given batch token cap.
    pub fn new(max_tokens_in_batch: u32) -> Self {
        Vllm {
            running: VecDeque::new(),
            max_tokens_in_batch,
        }
    }
}

impl ReplicaScheduler for Vllm {
    fn next_batch(
        &mut self,
        base: &mut ReplicaBase,
        reqs: &mut [Request],
        batch: &mut Batch,
    ) -> Result<bool, SimError> {
        let cap = self.max_tokens_in_batch as u64;
        let mut max_len = 0u64;
        let mut sum = 0u64;
        while let Some(&head) = base.request_queue.front() {
            let req = &reqs[head as usize];
            let next = next_num_tokens(req);
            if !base.paged_can_allocate(req) {
                break;
            }
            // Vidur caps the padded size len × max; default mode caps the real token count
            // (what vLLM's max_num_batched_tokens limits).
            let over = if base.compat.is_vidur() {
                (batch.requests.len() as u64 + 1) * max_len.max(next as u64) > cap
            } else {
                sum + next as u64 > cap
            };
            if over
                || base.blocks.map_len == base.cfg.batch_size_cap()
                || batch.requests.len() == base.max_micro_batch_size as usize
            {
                break;
            }
            base.request_queue.pop_front();
            base.paged_allocate(&mut reqs[head as usize])?;
            push(batch, head, next);
            max_len = max_len.max(next as u64);
            sum += next as u64;
        }
        if !batch.requests.is_empty() {
            return Ok(true);
        }

        sort_by_arrival(&mut self.running, reqs);
        while !self.running.is_empty() {
            if batch.requests.len() == base.max_micro_batch_size as usize {
                break;
            }
            let id = self.running.pop_front().expect("non-empty");
            if allocate_or_preempt(base, reqs, &mut self.running, id)? {
                push(batch, id, next_num_tokens(&reqs[id as usize]));
            }
        }
        Ok(!batch.requests.is_empty())
    }

    fn on_batch_end(&mut self, base: &mut ReplicaBase, reqs: &mut [Request], batch: &Batch) {
        free_or_keep(base, reqs, batch, &mut self.running);
    }
}
