//! LightLLM (vidur-behavior.md §3.6): token-level KV (block size 1), prefill batches admitted by
//! a "future peak" memory estimate, decode batches of every running request, and a forced
//! prefill attempt after `max_waiting_iters` decode iterations.

use std::collections::VecDeque;

use super::{free_or_keep, next_num_tokens, push, ReplicaBase, ReplicaScheduler};
use crate::sim::batch::Batch;
use crate::sim::request::{ReqId, Request};
use crate::sim::SimError;

/// LightLLM scheduler state.
#[derive(Debug)]
pub struct LightLlm {
    running: VecDeque<ReqId>,
    waiting_iters: u32,
    /// (run_len, left_len) of running requests plus admission candidates.
    cache_len: Vec<(u64, u64)>,
    /// Token cap per prefill batch (`max_tokens_in_batch`).
    max_tokens_in_batch: u32,
    /// Decode iterations before a prefill is forced (`max_waiting_iters`).
    max_waiting_iters: u32,
}

impl LightLlm {
    /// A scheduler with the given knobs.
    pub fn new(max_tokens_in_batch: u32, max_waiting_iters: u32) -> Self {
        LightLlm {
            running: VecDeque::new(),
            waiting_iters: 0,
            cache_len: Vec::new(),
            max_tokens_in_batch,
            max_waiting_iters,
        }
    }
}

fn tuple_tokens(req: &Request) -> (u64, u64) {
    if req.scheduled {
        let left = req.num_decode_tokens as i64 - req.num_processed_decode_tokens() as i64 - 1;
        (req.num_processed_tokens as u64, left.max(0) as u64)
    } else {
        (
            req.num_prefill_tokens as u64 + 1,
            (req.num_decode_tokens as i64 - 2).max(0) as u64,
        )
    }
}

impl LightLlm {
    /// The future-peak test: with the candidate added, sorted by remaining length descending,
    /// `max_i(left_i·(i+1) + Σ_{j≤i} run_j) < num_blocks`. The candidate stays in the list even
    /// if rejected, as in Vidur.
    fn can_allocate(&mut self, base: &ReplicaBase, req: &Request) -> bool {
        self.cache_len.push(tuple_tokens(req));
        // Stable sort on -left, as Python's list.sort(key=lambda x: -x[1]).
        self.cache_len.sort_by_key(|x| std::cmp::Reverse(x.1));
        let mut cum = 0u64;
        let mut need = 0u64;
        for (i, &(run, left)) in self.cache_len.iter().enumerate() {
            cum += run;
            need = need.max(left * (i as u64 + 1) + cum);
        }
        need < base.blocks.num_blocks
    }

    fn prefill_batch(
        &mut self,
        base: &mut ReplicaBase,
        reqs: &mut [Request],
        batch: &mut Batch,
    ) -> Result<bool, SimError> {
        self.cache_len.clear();
        self.cache_len.extend(
            self.running
                .iter()
                .map(|&id| tuple_tokens(&reqs[id as usize])),
        );
        let mut tokens = 0u64;
        while let Some(&head) = base.request_queue.front() {
            let next = next_num_tokens(&reqs[head as usize]);
            if tokens + next as u64 > self.max_tokens_in_batch as u64
                || base.blocks.map_len == base.cfg.batch_size_cap()
                || batch.requests.len() == base.max_micro_batch_size as usize
                || !self.can_allocate(base, &reqs[head as usize])
            {
                break;
            }
            base.request_queue.pop_front();
            let req = &mut reqs[head as usize];
            let n = req.num_prefill_tokens as u64;
            base.blocks.allocate(req, n)?;
            push(batch, head, next);
            tokens += next as u64;
        }
        Ok(!batch.requests.is_empty())
    }

    fn decode_batch(
        &mut self,
        base: &mut ReplicaBase,
        reqs: &mut [Request],
        batch: &mut Batch,
    ) -> Result<bool, SimError> {
        while let Some(id) = self.running.pop_front() {
            base.blocks.allocate(&mut reqs[id as usize], 1)?;
            push(batch, id, next_num_tokens(&reqs[id as usize]));
        }
        Ok(!batch.requests.is_empty())
    }
}

impl ReplicaScheduler for LightLlm {
    fn next_batch(
        &mut self,
        base: &mut ReplicaBase,
        reqs: &mut [Request],
        batch: &mut Batch,
    ) -> Result<bool, SimError> {
        if self.running.is_empty() {
            // A successful prefill with nothing running also resets the wait counter (the
            // conformance case lightllm_heavy pins this down).
            let formed = self.prefill_batch(base, reqs, batch)?;
            if formed {
                self.waiting_iters = 0;
            }
            return Ok(formed);
        }
        if self.waiting_iters >= self.max_waiting_iters {
            self.waiting_iters = 0;
            if self.prefill_batch(base, reqs, batch)? {
                return Ok(true);
            }
        }
        if !base.blocks.can_allocate(self.running.len() as u64) {
            if base.compat.is_vidur() {
                return Err(SimError::Unsupported(format!(
                    "lightllm on replica {}: out of KV memory for the next decode iteration ({} running, {} free blocks); Vidur raises 'OOM handling not implemented yet' here (default mode preempts instead)",
                    base.id,
                    self.running.len(),
                    base.blocks.free_blocks()
                )));
            }
            // Default mode: recompute-preempt the latest arrivals until the decode fits.
            super::sort_by_arrival(&mut self.running, reqs);
            while !base.blocks.can_allocate(self.running.len() as u64) {
                let Some(victim) = self.running.pop_back() else {
                    break;
                };
                base.preempt(&mut reqs[victim as usize]);
            }
            if self.running.is_empty() {
                return self.prefill_batch(base, reqs, batch);
            }
        }
        self.waiting_iters += 1;
        self.decode_batch(base, reqs, batch)
    }

    fn on_batch_end(&mut self, base: &mut ReplicaBase, reqs: &mut [Request], batch: &Batch) {
        free_or_keep(base, reqs, batch, &mut self.running);
    }
}
