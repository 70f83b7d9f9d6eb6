//! Sarathi-Serve (vidur-behavior.md §3.3), Vidur's default: decodes (1 token each, outside the
//! chunk budget) first, then running prefills' next chunks, then new requests' first chunks,
//! all within `chunk_size` prefill tokens per batch.

use std::collections::VecDeque;

use super::{
    allocate_or_preempt, free_or_keep, push, sort_by_arrival, ReplicaBase, ReplicaScheduler,
};
use crate::sim::batch::Batch;
use crate::sim::request::{ReqId, Request};
use crate::sim::SimError;

/// Sarathi scheduler state.
#[derive(Debug)]
pub struct Sarathi {
    /// Running requests between iterations (Vidur's `preempted_requests`).
    running: VecDeque<ReqId>,
    /// Scratch lists reused across iterations.
    running_prefills: Vec<ReqId>,
    skipped: Vec<ReqId>,
    /// Prefill tokens per batch (`chunk_size`).
    chunk_size: u32,
}

impl Sarathi {
    /// A scheduler with the given chunk size.
    pub fn new(chunk_size: u32) -> Self {
        Sarathi {
            running: VecDeque::new(),
            running_prefills: Vec::new(),
            skipped: Vec::new(),
            chunk_size,
        }
    }
}

/// Next chunk: 1 for a decode, else what is left of the prompt within the chunk budget.
#[inline]
fn next_tokens(req: &Request, chunk: u32, batch_tokens: u32) -> u32 {
    if req.is_prefill_complete {
        return 1;
    }
    let left = req
        .num_prefill_tokens
        .saturating_sub(req.num_processed_tokens) as i64;
    left.min(chunk as i64 - batch_tokens as i64).max(0) as u32
}

impl ReplicaScheduler for Sarathi {
    fn next_batch(
        &mut self,
        base: &mut ReplicaBase,
        reqs: &mut [Request],
        batch: &mut Batch,
    ) -> Result<bool, SimError> {
        let chunk = self.chunk_size;
        let micro = base.max_micro_batch_size as usize;
        let mut batch_tokens = 0u32;
        self.running_prefills.clear();
        self.skipped.clear();

        while !self.running.is_empty() {
            if batch.requests.len() == micro {
                break;
            }
            let id = self.running.pop_front().expect("non-empty");
            if !reqs[id as usize].is_prefill_complete {
                self.running_prefills.push(id);
                continue;
            }
            let next = next_tokens(&reqs[id as usize], chunk, batch_tokens);
            if next == 0 {
                self.skipped.push(id);
                continue;
            }
            if allocate_or_preempt(base, reqs, &mut self.running, id)? {
                batch_tokens += next;
                push(batch, id, next);
            }
        }

        // Running prefills are not limited by max_micro_batch_size (as in Vidur).
        for &id in &self.running_prefills {
            let next = next_tokens(&reqs[id as usize], chunk, batch_tokens);
            if next == 0 {
                self.skipped.push(id);
                continue;
            }
            batch_tokens += next;
            push(batch, id, next);
        }

        // preempted = sorted(skipped + preempted, key=arrived_at)
        for &id in self.skipped.iter().rev() {
            self.running.push_front(id);
        }
        sort_by_arrival(&mut self.running, reqs);

        while let Some(&head) = base.request_queue.front() {
            if base.blocks.map_len == base.cfg.batch_size_cap()
                || batch.requests.len() == micro
                || !base.paged_can_allocate(&reqs[head as usize])
            {
                break;
            }
            let next = next_tokens(&reqs[head as usize], chunk, batch_tokens);
            if next == 0 {
                break;
            }
            base.request_queue.pop_front();
            base.paged_allocate(&mut reqs[head as usize])?;
            batch_tokens += next;
            push(batch, head, next);
        }
        Ok(!batch.requests.is_empty())
    }

    fn on_batch_end(&mut self, base: &mut ReplicaBase, reqs: &mut [Request], batch: &Batch) {
        free_or_keep(base, reqs, batch, &mut self.running);
    }
}
