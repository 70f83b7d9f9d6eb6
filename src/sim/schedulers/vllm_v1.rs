//! vLLM V1 (0.10.2, 0.11.0, 0.12.0) `Scheduler.schedule()`, `../shared/reference/engines.md`
//! §2.3–2.6: one token budget (`max_num_batched_tokens`) per step; running requests first, in
//! admission order (a decode takes 1 token, a half-done prompt continues with what the budget
//! leaves); then waiting requests FCFS while budget, `max_num_seqs` and free KV blocks allow,
//! the last one admitted taking a chunk of whatever budget is left. KV blocks are allocated for
//! the tokens scheduled this step only, with no watermark (§2.4); when a running request's
//! blocks do not fit, the most recently admitted running request is preempted by recompute and
//! goes back to the head of the queue, and nothing is admitted in that step.
//!
//! Departures: no prefix caching (random prompts get no hits, §2.5), FCFS policy only, no
//! async-scheduling placeholders (off by default up to 0.13, §2.2), one null block is not held
//! back. If a step would be empty because everything it considered was preempted, the admission
//! phase runs at once: the engine would simply run its next `schedule()` without waiting for an
//! event. With pipeline stages, requests in flight sit out and rejoin the running list when
//! their batch ends, so the list's order is the order they came back (exact for one stage), and
//! a request whose blocks do not fit while batches are in flight waits for them to end instead
//! of preempting (vLLM could preempt a request in flight; this engine cannot).

use std::collections::VecDeque;

use super::{blocks_to_grow, evict, grow, prompt_left, push, ReplicaBase, ReplicaScheduler};
use crate::sim::batch::Batch;
use crate::sim::config::VllmV1Config;
use crate::sim::request::{ReqId, Request};
use crate::sim::SimError;

/// vLLM V1 scheduler state.
#[derive(Debug)]
pub struct VllmV1 {
    /// Admitted requests not in flight, in admission order (vLLM's `running`).
    running: VecDeque<ReqId>,
    /// Step token budget (`max_num_batched_tokens`).
    budget: u32,
    /// Admission cap (`max_num_seqs`).
    max_num_seqs: u32,
    /// Per-request prompt-token cap per step, 0 = off (`long_prefill_token_threshold`).
    long_prefill: u32,
}

impl VllmV1 {
    /// A scheduler with the given knobs.
    pub fn new(c: &VllmV1Config) -> Self {
        VllmV1 {
            running: VecDeque::new(),
            budget: c.budget(),
            max_num_seqs: c.seqs(),
            long_prefill: c.long_prefill_token_threshold,
        }
    }

    /// Tokens to schedule for `req` with `budget` left: 1 for a decode, else the rest of the
    /// prompt capped by the long-prefill threshold and the budget.
    fn tokens_for(&self, req: &Request, budget: u32) -> u32 {
        if req.is_prefill_complete {
            return 1.min(budget);
        }
        let mut n = prompt_left(req);
        if self.long_prefill > 0 && n > self.long_prefill {
            n = self.long_prefill;
        }
        n.min(budget)
    }

    /// Phase 1: running requests in order. Returns the tokens left and whether admission is
    /// off for this step: something was preempted, or (pipeline stages only) a request did not
    /// fit while batches in flight hold KV, and the step waits for them instead of preempting.
    fn schedule_running(
        &mut self,
        base: &mut ReplicaBase,
        reqs: &mut [Request],
        batch: &mut Batch,
    ) -> Result<(u32, bool, bool), SimError> {
        let mut budget = self.budget;
        let mut preempted = false;
        let mut stop_admission = false;
        let bs = base.cfg.block_size();
        let mut i = 0;
        'running: while i < self.running.len() && budget > 0 {
            let id = self.running[i];
            let n = self.tokens_for(&reqs[id as usize], budget);
            loop {
                let need = blocks_to_grow(&reqs[id as usize], n, bs);
                if base.blocks.can_allocate(need) {
                    break;
                }
                // vLLM could preempt a request in flight; here those are out of reach, so
                // wait for their batches to end rather than thrash the ones at hand.
                if base.num_running_batches > 0 {
                    stop_admission = true;
                    break 'running;
                }
                // `i < len` holds, so the list is not empty.
                let Some(victim) = self.running.pop_back() else {
                    break 'running;
                };
                evict(base, &mut reqs[victim as usize]);
                base.request_queue.push_front(victim);
                preempted = true;
                if victim == id {
                    break 'running;
                }
            }
            grow(base, &mut reqs[id as usize], n)?;
            push(batch, id, n);
            budget -= n;
            i += 1;
        }
        // The first `i` are in this batch (in flight until it ends).
        self.running.drain(..i);
        Ok((budget, preempted, stop_admission))
    }

    /// Phase 2: waiting requests FCFS; stops at the first that does not fit (head-of-line).
    fn admit_waiting(
        &mut self,
        base: &mut ReplicaBase,
        reqs: &mut [Request],
        batch: &mut Batch,
        mut budget: u32,
    ) -> Result<(), SimError> {
        let bs = base.cfg.block_size();
        while let Some(&head) = base.request_queue.front() {
            // `map_len` counts every admitted request, in flight or not (vLLM's len(running)).
            if budget == 0 || base.blocks.map_len >= self.max_num_seqs {
                break;
            }
            let n = self.tokens_for(&reqs[head as usize], budget);
            if n == 0
                || !base
                    .blocks
                    .can_allocate(blocks_to_grow(&reqs[head as usize], n, bs))
            {
                break;
            }
            base.request_queue.pop_front();
            grow(base, &mut reqs[head as usize], n)?;
            push(batch, head, n);
            budget -= n;
        }
        Ok(())
    }
}

impl ReplicaScheduler for VllmV1 {
    fn next_batch(
        &mut self,
        base: &mut ReplicaBase,
        reqs: &mut [Request],
        batch: &mut Batch,
    ) -> Result<bool, SimError> {
        let (budget, preempted, waiting_for_kv) = self.schedule_running(base, reqs, batch)?;
        if waiting_for_kv {
            return Ok(!batch.requests.is_empty());
        }
        if !preempted {
            self.admit_waiting(base, reqs, batch, budget)?;
        } else if batch.requests.is_empty() {
            // vLLM would run its next schedule() right away (see the module doc).
            self.admit_waiting(base, reqs, batch, self.budget)?;
        }
        Ok(!batch.requests.is_empty())
    }

    fn on_batch_end(&mut self, base: &mut ReplicaBase, reqs: &mut [Request], batch: &Batch) {
        super::free_or_keep(base, reqs, batch, &mut self.running);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::config::{SchedulerConfig, SchedulerKind};
    use crate::sim::schedulers::test_support::{replica, step};

    /// A replica with `num_blocks` blocks of `block_size` tokens and the given budget.
    fn setup(num_blocks: u64, budget: u32, seqs: u32) -> (ReplicaBase, VllmV1) {
        let mut cfg = SchedulerConfig::new(SchedulerKind::VllmV1);
        if let SchedulerConfig::VllmV1(c) = &mut cfg {
            c.max_num_batched_tokens = Some(budget);
            c.max_num_seqs = Some(seqs);
        }
        let base = replica(&cfg, num_blocks);
        let SchedulerConfig::VllmV1(c) = &cfg else {
            unreachable!()
        };
        let s = VllmV1::new(c);
        (base, s)
    }

    #[test]
    fn budget_goes_to_decodes_then_a_chunk_of_the_next_prompt() {
        let (mut base, mut s) = setup(1000, 100, 256);
        // Two short prompts fill step 1 together (40 + 50 ≤ 100), then decode; a third long
        // prompt arrives and gets what the two decodes leave (98), then its remaining 102
        // are chunked at the next step's 98 and finished after.
        let mut reqs = vec![
            Request::new(0, 0.0, 40, 5),
            Request::new(1, 0.0, 50, 5),
            Request::new(2, 0.0, 298, 3),
        ];
        base.request_queue.extend([0, 1]);
        assert_eq!(
            step(&mut base, &mut s, &mut reqs, 1.0),
            vec![(0, 40), (1, 50)]
        );
        base.request_queue.push_back(2);
        assert_eq!(
            step(&mut base, &mut s, &mut reqs, 2.0),
            vec![(0, 1), (1, 1), (2, 98)]
        );
        assert_eq!(
            step(&mut base, &mut s, &mut reqs, 3.0),
            vec![(0, 1), (1, 1), (2, 98)]
        );
        // 298 − 196 = 102 left; budget 100 − 2 decodes = 98.
        assert_eq!(
            step(&mut base, &mut s, &mut reqs, 4.0),
            vec![(0, 1), (1, 1), (2, 98)]
        );
        assert_eq!(
            step(&mut base, &mut s, &mut reqs, 5.0),
            vec![(0, 1), (1, 1), (2, 4)]
        );
        assert!(reqs[0].completed && reqs[1].completed);
        assert!(reqs[2].is_prefill_complete);
    }

    #[test]
    fn max_num_seqs_limits_admission_only() {
        let (mut base, mut s) = setup(1000, 100, 1);
        let mut reqs = vec![Request::new(0, 0.0, 10, 3), Request::new(1, 0.0, 10, 3)];
        base.request_queue.extend([0, 1]);
        assert_eq!(step(&mut base, &mut s, &mut reqs, 1.0), vec![(0, 10)]);
        assert_eq!(step(&mut base, &mut s, &mut reqs, 2.0), vec![(0, 1)]);
        assert_eq!(step(&mut base, &mut s, &mut reqs, 3.0), vec![(0, 1)]);
        assert!(reqs[0].completed);
        assert_eq!(step(&mut base, &mut s, &mut reqs, 4.0), vec![(1, 10)]);
    }

    #[test]
    fn the_newest_running_request_is_preempted_and_nothing_admitted() {
        // 4 blocks of 16 tokens. Requests 0 and 1 take 32 tokens = 2 blocks each; their
        // decodes need a third block each. Request 0 (oldest) gets it by preempting 1.
        let (mut base, mut s) = setup(4, 1000, 256);
        let mut reqs = vec![
            Request::new(0, 0.0, 32, 4),
            Request::new(1, 0.0, 32, 4),
            Request::new(2, 0.0, 8, 2),
        ];
        base.request_queue.extend([0, 1]);
        assert_eq!(
            step(&mut base, &mut s, &mut reqs, 1.0),
            vec![(0, 32), (1, 32)]
        );
        assert_eq!(base.blocks.free_blocks(), 0);
        // Decodes: computed 32 + 1 = 33 tokens → 3 blocks for 0, which needs 1 more block.
        base.request_queue.push_back(2);
        assert_eq!(step(&mut base, &mut s, &mut reqs, 2.0), vec![(0, 1)]);
        assert_eq!(reqs[1].num_restarts, 1);
        assert!(!reqs[1].in_allocation_map);
        // The victim went back to the head of the queue, ahead of request 2, and request 2
        // was not admitted in the preempting step. The victim's output token becomes prompt.
        assert_eq!(
            base.request_queue.iter().copied().collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(reqs[1].num_prefill_tokens, 33);
        assert_eq!(base.blocks.free_blocks(), 1);
    }

    #[test]
    fn with_a_batch_in_flight_a_request_that_does_not_fit_waits_instead_of_preempting() {
        let (mut base, mut s) = setup(4, 1000, 256);
        let mut reqs = vec![
            Request::new(0, 0.0, 32, 4),
            Request::new(1, 0.0, 32, 4),
            Request::new(2, 0.0, 8, 2),
        ];
        base.request_queue.extend([0, 1]);
        step(&mut base, &mut s, &mut reqs, 1.0);
        base.request_queue.push_back(2);
        // Another pipeline stage's batch is in flight: nothing is preempted or admitted.
        base.num_running_batches = 1;
        let mut b = Batch::default();
        assert!(!s.next_batch(&mut base, &mut reqs, &mut b).unwrap());
        assert!(reqs.iter().all(|r| r.num_restarts == 0));
        assert_eq!(
            base.request_queue.iter().copied().collect::<Vec<_>>(),
            vec![2]
        );
        // Once it has ended, the newest running request is preempted as usual.
        base.num_running_batches = 0;
        assert_eq!(step(&mut base, &mut s, &mut reqs, 2.0), vec![(0, 1)]);
        assert_eq!(reqs[1].num_restarts, 1);
    }

    #[test]
    fn a_request_preempting_itself_empties_the_step_and_admission_follows() {
        // One request alone that cannot grow: it preempts itself, and the admission phase
        // runs right away with its recomputed prompt.
        let (mut base, mut s) = setup(2, 1000, 256);
        let mut reqs = vec![Request::new(0, 0.0, 32, 4)];
        base.request_queue.push_back(0);
        assert_eq!(step(&mut base, &mut s, &mut reqs, 1.0), vec![(0, 32)]);
        let mut b = Batch::default();
        // 33 KV tokens need 3 blocks of 2: no admission fits either, so the step is empty.
        assert!(!s.next_batch(&mut base, &mut reqs, &mut b).unwrap());
        assert_eq!(reqs[0].num_restarts, 1);
        assert_eq!(base.request_queue.front(), Some(&0));
    }
}
