//! TensorRT-LLM 1.0–1.2, PyTorch backend (`trtllm-serve`), `../shared/reference/engines.md`
//! §4.3–4.5: in-flight batching. The capacity scheduler's default policy, GUARANTEED_NO_EVICT
//! (§4.3), admits a request only if the KV blocks of its whole future (prompt + max new tokens,
//! in `tokens_per_block` blocks) fit beside the whole future of every admitted request, so no
//! request is ever evicted; admission is FCFS with head-of-line blocking. The micro-batch
//! scheduler (§4.4) then fills one step: generation requests first (1 token each), then context
//! requests within `max_num_tokens`, each whole unless chunking is on (`enable_chunked_prefill`,
//! off by default), in which case context requests split what the generation tokens leave,
//! FCFS, in multiples of the block size except a final chunk. `max_batch_size` caps the
//! requests of a step.
//!
//! Departures: MAX_UTILIZATION and the other capacity policies are not modelled, nor block
//! reuse (random prompts get no hits), the overlap scheduler's extra step, beam search or
//! `max_context_length`. Admission here reserves for good (until the request completes), while
//! the engine re-runs its capacity pass every step; with no eviction the two agree. A prompt
//! longer than `max_num_tokens` without chunking can never run: the engine rejects it, and the
//! simulation stops with an error naming the knob.

use std::collections::VecDeque;

use super::{grow, prompt_left, push, sort_by_arrival, ReplicaBase, ReplicaScheduler};
use crate::sim::batch::Batch;
use crate::sim::config::TrtllmConfig;
use crate::sim::request::{ReqId, Request};
use crate::sim::SimError;

/// TRT-LLM scheduler state.
#[derive(Debug)]
pub struct Trtllm {
    /// Admitted requests not in flight, in arrival order.
    active: VecDeque<ReqId>,
    /// Blocks reserved to completion by every admitted request, in flight or not.
    reserved: u64,
    /// `max_batch_size`, `max_num_tokens`, `enable_chunked_prefill`.
    max_batch_size: u32,
    max_num_tokens: u32,
    chunking: bool,
    /// Scratch: active requests left out of the step being formed.
    left: VecDeque<ReqId>,
}

impl Trtllm {
    /// A scheduler with the given knobs.
    pub fn new(c: &TrtllmConfig) -> Self {
        Trtllm {
            active: VecDeque::new(),
            reserved: 0,
            max_batch_size: c.max_batch_size,
            max_num_tokens: c.max_num_tokens,
            chunking: c.enable_chunked_context,
            left: VecDeque::new(),
        }
    }
}

/// `getRemainingBlocksToCompletion` for a request not yet started: prompt + max new tokens.
#[inline]
fn reservation(req: &Request, block_size: u32) -> u64 {
    (req.total_tokens() as u64).div_ceil(block_size as u64)
}

/// A context chunk for `left` prompt tokens with `capacity` step tokens free: the rest of the
/// prompt if it fits, else the capacity rounded down to the chunk unit (§4.4).
#[inline]
fn chunk(left: u32, capacity: u32, unit: u32) -> u32 {
    if left <= capacity {
        left
    } else {
        capacity / unit * unit
    }
}

impl ReplicaScheduler for Trtllm {
    fn next_batch(
        &mut self,
        base: &mut ReplicaBase,
        reqs: &mut [Request],
        batch: &mut Batch,
    ) -> Result<bool, SimError> {
        let bs = base.cfg.block_size();
        let max_bs = self.max_batch_size as usize;
        let mut tokens = 0u32;
        self.left.clear();

        // Generation requests first, then partially chunked contexts, both in arrival order.
        for pass_generating in [true, false] {
            for i in 0..self.active.len() {
                let id = self.active[i];
                let req = &reqs[id as usize];
                if req.is_prefill_complete != pass_generating {
                    continue;
                }
                let want = if pass_generating { 1 } else { prompt_left(req) };
                let n = if pass_generating || !self.chunking {
                    want
                } else {
                    chunk(want, self.max_num_tokens - tokens, bs)
                };
                if batch.requests.len() >= max_bs || n == 0 || tokens + n > self.max_num_tokens {
                    self.left.push_back(id);
                    continue;
                }
                grow(base, &mut reqs[id as usize], n)?;
                push(batch, id, n);
                tokens += n;
            }
        }
        std::mem::swap(&mut self.active, &mut self.left);

        // New context requests, FCFS, while their whole future fits (head-of-line blocking).
        while let Some(&head) = base.request_queue.front() {
            if batch.requests.len() >= max_bs {
                break;
            }
            let req = &reqs[head as usize];
            let res = reservation(req, bs);
            if self.reserved + res > base.blocks.num_blocks {
                if self.reserved == 0 {
                    return Err(SimError::Unsupported(format!(
                        "trtllm on replica {}: request {} needs {res} KV blocks to completion but the replica has {}",
                        base.id, req.id, base.blocks.num_blocks
                    )));
                }
                break;
            }
            let left = prompt_left(req);
            if !self.chunking && left > self.max_num_tokens {
                return Err(SimError::Unsupported(format!(
                    "trtllm on replica {}: request {} has a {left}-token prompt, more than scheduler.max_num_tokens ({}) without scheduler.enable_chunked_context, so TensorRT-LLM would reject it",
                    base.id, req.id, self.max_num_tokens
                )));
            }
            let n = if self.chunking {
                chunk(left, self.max_num_tokens - tokens, bs)
            } else {
                left
            };
            if n == 0 || tokens + n > self.max_num_tokens {
                break;
            }
            base.request_queue.pop_front();
            self.reserved += res;
            grow(base, &mut reqs[head as usize], n)?;
            push(batch, head, n);
            tokens += n;
        }
        Ok(!batch.requests.is_empty())
    }

    fn on_batch_end(&mut self, base: &mut ReplicaBase, reqs: &mut [Request], batch: &Batch) {
        let bs = base.cfg.block_size();
        for &id in &batch.requests {
            let req = &mut reqs[id as usize];
            if req.completed {
                self.reserved -= reservation(req, bs);
                base.blocks.free(req);
            } else {
                self.active.push_back(id);
            }
        }
        sort_by_arrival(&mut self.active, reqs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::config::{SchedulerConfig, SchedulerKind};
    use crate::sim::schedulers::test_support::{replica, step};

    fn setup(num_blocks: u64, max_num_tokens: u32, chunking: bool) -> (ReplicaBase, Trtllm) {
        let mut cfg = SchedulerConfig::new(SchedulerKind::Trtllm);
        if let SchedulerConfig::Trtllm(c) = &mut cfg {
            c.max_num_tokens = max_num_tokens;
            c.enable_chunked_context = chunking;
        }
        let base = replica(&cfg, num_blocks);
        let SchedulerConfig::Trtllm(c) = &cfg else {
            unreachable!()
        };
        (base, Trtllm::new(c))
    }

    #[test]
    fn reservation_to_completion_refuses_admission_while_blocks_are_free() {
        // 10 blocks of 32 tokens. Request 0 reserves ceil(200/32) = 7 blocks but holds only 4
        // after its prompt; request 1 needs ceil(128/32) = 4 to completion: 7 + 4 > 10.
        let (mut base, mut s) = setup(10, 8192, false);
        let mut reqs = vec![Request::new(0, 0.0, 100, 100), Request::new(1, 0.0, 64, 64)];
        base.request_queue.extend([0, 1]);
        assert_eq!(step(&mut base, &mut s, &mut reqs, 1.0), vec![(0, 100)]);
        assert_eq!(s.reserved, 7);
        assert!(base.blocks.free_blocks() >= 4);
        for _ in 0..99 {
            assert_eq!(step(&mut base, &mut s, &mut reqs, 1.0), vec![(0, 1)]);
        }
        assert!(reqs[0].completed);
        assert_eq!(s.reserved, 0);
        assert_eq!(step(&mut base, &mut s, &mut reqs, 1.0), vec![(1, 64)]);
    }

    #[test]
    fn generation_first_and_whole_prompts_within_max_num_tokens() {
        let (mut base, mut s) = setup(1000, 100, false);
        let mut reqs = vec![
            Request::new(0, 0.0, 50, 10),
            Request::new(1, 0.0, 49, 10),
            Request::new(2, 0.0, 99, 10),
            Request::new(3, 0.0, 98, 10),
        ];
        base.request_queue.extend([0, 1]);
        assert_eq!(
            step(&mut base, &mut s, &mut reqs, 1.0),
            vec![(0, 50), (1, 49)]
        );
        // 2 decodes + 99 > 100: the prompt waits whole (no chunking), and blocks 3 behind it.
        base.request_queue.extend([2, 3]);
        assert_eq!(
            step(&mut base, &mut s, &mut reqs, 1.0),
            vec![(0, 1), (1, 1)]
        );
        // Swap in a 98-token head: 2 + 98 = 100 fits.
        base.request_queue.pop_front();
        assert_eq!(
            step(&mut base, &mut s, &mut reqs, 1.0),
            vec![(0, 1), (1, 1), (3, 98)]
        );
    }

    #[test]
    fn chunked_contexts_split_the_leftover_in_block_multiples() {
        let (mut base, mut s) = setup(1000, 100, true);
        let mut reqs = vec![Request::new(0, 0.0, 50, 10), Request::new(1, 0.0, 150, 10)];
        base.request_queue.push_back(0);
        assert_eq!(step(&mut base, &mut s, &mut reqs, 1.0), vec![(0, 50)]);
        base.request_queue.push_back(1);
        // 100 − 1 decode = 99 → 96 (3 blocks of 32); then 99 → 54 is the final chunk.
        assert_eq!(
            step(&mut base, &mut s, &mut reqs, 1.0),
            vec![(0, 1), (1, 96)]
        );
        assert_eq!(
            step(&mut base, &mut s, &mut reqs, 1.0),
            vec![(0, 1), (1, 54)]
        );
        assert!(reqs[1].is_prefill_complete);
    }

    #[test]
    fn a_prompt_over_max_num_tokens_without_chunking_is_an_error() {
        let (mut base, mut s) = setup(1000, 100, false);
        let mut reqs = vec![Request::new(0, 0.0, 101, 10)];
        base.request_queue.push_back(0);
        let e = s
            .next_batch(&mut base, &mut reqs, &mut Batch::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_num_tokens"), "{e}");
    }
}
