//! SGLang 0.5.x (0.5.2, 0.5.5, 0.5.9) scheduler, `../shared/reference/engines.md` §3.3–3.7: a
//! step is prefill-only or decode-only (`enable_mixed_chunk` off). A prefill batch is formed
//! whenever one can be (§3.3): first the pending chunk of a chunked prompt, then waiting
//! requests FCFS under `PrefillAdder`'s budgets (§3.4): `chunked_prefill_size` and
//! `max_prefill_tokens` prompt tokens, `max_running_requests`, and the conservative memory test
//! `prompt + min(max_new, 4096) < free − Σ_running min(remaining_new, 4096) · new_token_ratio`.
//! The request that does not fit the chunk budget becomes the one chunked request, whose chunks
//! then run back to back. Otherwise all running requests decode one token; before that, if
//! their next tokens do not fit, requests are retracted (fewest generated tokens first, longest
//! prompt on ties, never the last one), recomputed later, and `new_token_ratio` is reset from
//! the survivors (§3.6); each uneventful decode step decays it (§3.5: init 0.7 ×
//! `schedule_conservativeness`, floor 0.14 × init, 600 steps).
//!
//! Departures: no radix cache (random prompts get no hits), FCFS policy only, no overlap
//! scheduler's extra decode slot, the ratio is not reset when the engine idles, retracted
//! requests rejoin the back of the queue, and a pending chunk whose KV does not fit waits while
//! the running requests decode. With pipeline stages, a chunked prompt's next chunk waits for
//! its previous chunk's batch to end and no other prefill batch forms meanwhile; requests in
//! flight count in the admission estimate, and a decode that does not fit waits for the
//! batches in flight to end before anything is retracted.

use std::collections::VecDeque;

use super::{blocks_to_grow, evict, grow, prompt_left, push, ReplicaBase, ReplicaScheduler};
use crate::sim::batch::Batch;
use crate::sim::config::{SglangConfig, SGLANG_MAX_RUNNING_REQUESTS_CEILING};
use crate::sim::request::{ReqId, Request};
use crate::sim::SimError;

/// `SGLANG_CLIP_MAX_NEW_TOKENS_ESTIMATION` (§3.4).
const CLIP_MAX_NEW_TOKENS: u32 = 4096;
/// `SGLANG_INIT_NEW_TOKEN_RATIO` (§3.5).
const INIT_NEW_TOKEN_RATIO: f64 = 0.7;
/// `SGLANG_MIN_NEW_TOKEN_RATIO_FACTOR` (§3.5).
const MIN_NEW_TOKEN_RATIO_FACTOR: f64 = 0.14;
/// `SGLANG_NEW_TOKEN_RATIO_DECAY_STEPS` (§3.5).
const NEW_TOKEN_RATIO_DECAY_STEPS: f64 = 600.0;
/// `SGLANG_RETRACT_DECODE_STEPS` (§3.5).
const RETRACT_DECODE_STEPS: f64 = 20.0;

/// SGLang scheduler state.
#[derive(Debug)]
pub struct Sglang {
    /// Decoding requests not in flight (the running batch).
    running: VecDeque<ReqId>,
    /// The chunked prompt whose next chunk is due (`chunked_req`).
    chunked: Option<ReqId>,
    /// The chunked prompt whose chunk is in flight.
    chunk_in_flight: Option<ReqId>,
    /// `batch_is_full`: no prefill is tried until the running batch shrinks.
    batch_is_full: bool,
    /// Admission estimate of running requests' future tokens, and its dynamics.
    new_token_ratio: f64,
    min_new_token_ratio: f64,
    new_token_ratio_decay: f64,
    /// `chunked_prefill_size`, `max_prefill_tokens`.
    chunk_size: u32,
    max_prefill_tokens: u32,
    /// `max_running_requests` as given; derived from the pool on first use when unset.
    max_running: Option<u32>,
    /// Retraction scratch list.
    order: Vec<ReqId>,
    /// Members of the batches in flight, oldest first (pipeline stages end them in order).
    in_flight: VecDeque<Vec<ReqId>>,
}

impl Sglang {
    /// A scheduler with the given knobs.
    pub fn new(c: &SglangConfig) -> Self {
        let init = (INIT_NEW_TOKEN_RATIO * c.schedule_conservativeness).min(1.0);
        let min = (init * MIN_NEW_TOKEN_RATIO_FACTOR).min(1.0);
        Sglang {
            running: VecDeque::new(),
            chunked: None,
            chunk_in_flight: None,
            batch_is_full: false,
            new_token_ratio: init,
            min_new_token_ratio: min,
            new_token_ratio_decay: (init - min) / NEW_TOKEN_RATIO_DECAY_STEPS,
            chunk_size: c.chunked_prefill_size,
            max_prefill_tokens: c.max_prefill_tokens,
            max_running: c.max_running_requests,
            order: Vec::new(),
            in_flight: VecDeque::new(),
        }
    }

    /// `max_running_requests`, derived when unset (§3.7):
    /// `min(pool / 2, min(max(pool / context_len · 512, 2048), 4096))`.
    fn max_running(&mut self, base: &ReplicaBase) -> u32 {
        *self.max_running.get_or_insert_with(|| {
            let bs = base.cfg.block_size() as u64;
            let pool = base.blocks.num_blocks.saturating_mul(bs);
            let context = (base.max_blocks_per_sequence * bs).max(1);
            let req_pool = (pool.saturating_mul(512) / context)
                .max(2048)
                .min(SGLANG_MAX_RUNNING_REQUESTS_CEILING as u64);
            (pool / 2).min(req_pool).max(1) as u32
        })
    }

    /// Form a prefill batch (`get_new_batch_prefill` with `PrefillAdder`).
    fn prefill(
        &mut self,
        base: &mut ReplicaBase,
        reqs: &mut [Request],
        batch: &mut Batch,
    ) -> Result<bool, SimError> {
        let cap = self.max_running(base);
        let bs = base.cfg.block_size();
        let page = bs as i64;
        let ceil_page = |n: u32| (n as i64 + page - 1) / page * page;
        let reserve: f64 = self
            .running
            .iter()
            .chain(self.in_flight.iter().flatten())
            .filter(|&&id| Some(id) != self.chunk_in_flight)
            .map(|&id| clipped_new(&reqs[id as usize]) as f64 * self.new_token_ratio)
            .sum();
        let mut rem_total = (base.blocks.free_blocks() * bs as u64) as f64 - reserve;
        let mut rem_input = self.max_prefill_tokens as i64;
        let mut rem_chunk = self.chunk_size as i64;
        let running_bs = base
            .blocks
            .map_len
            .saturating_sub(u32::from(self.chunked.is_some()));
        let allocatable = cap.saturating_sub(running_bs);
        let mut admitted = 0u32;

        if let Some(id) = self.chunked {
            let req = &reqs[id as usize];
            let left = prompt_left(req);
            let n = left.min(rem_chunk as u32);
            if !base.blocks.can_allocate(blocks_to_grow(req, n, bs)) {
                return Ok(false);
            }
            let last = n == left;
            let charge = n as f64 + if last { clipped_new(req) as f64 } else { 0.0 };
            self.chunked = None;
            grow(base, &mut reqs[id as usize], n)?;
            push(batch, id, n);
            if !last {
                self.chunk_in_flight = Some(id);
                return Ok(true);
            }
            rem_total -= charge;
            rem_input -= ceil_page(n);
            rem_chunk -= ceil_page(n);
            admitted += 1;
        }

        while let Some(&head) = base.request_queue.front() {
            if rem_chunk <= 0 || rem_input <= 0 {
                break;
            }
            if admitted >= allocatable {
                self.batch_is_full = true;
                break;
            }
            let req = &reqs[head as usize];
            let extend = prompt_left(req);
            let total = extend as f64 + clipped_new(req) as f64;
            if total >= rem_total {
                self.batch_is_full = true;
                break;
            }
            let pages = ceil_page(extend);
            if pages >= rem_input && admitted > 0 {
                break;
            }
            let (n, whole) = if pages <= rem_chunk {
                (extend, true)
            } else {
                let trunc = rem_chunk / page * page;
                if trunc <= 0 {
                    break;
                }
                (trunc as u32, false)
            };
            if !base.blocks.can_allocate(blocks_to_grow(req, n, bs)) {
                break;
            }
            base.request_queue.pop_front();
            grow(base, &mut reqs[head as usize], n)?;
            push(batch, head, n);
            admitted += 1;
            if !whole {
                self.chunk_in_flight = Some(head);
                break;
            }
            rem_total -= total;
            rem_input -= pages;
            rem_chunk -= pages;
        }
        Ok(!batch.requests.is_empty())
    }

    /// One decode step over the running batch, retracting first if its tokens do not fit.
    fn decode(
        &mut self,
        base: &mut ReplicaBase,
        reqs: &mut [Request],
        batch: &mut Batch,
    ) -> Result<bool, SimError> {
        let bs = base.cfg.block_size();
        let need = |running: &VecDeque<ReqId>, reqs: &[Request]| -> u64 {
            running
                .iter()
                .map(|&id| blocks_to_grow(&reqs[id as usize], 1, bs))
                .sum()
        };
        if base.blocks.can_allocate(need(&self.running, reqs)) {
            self.new_token_ratio =
                (self.new_token_ratio - self.new_token_ratio_decay).max(self.min_new_token_ratio);
        } else if base.num_running_batches > 0 {
            // Batches in flight hold KV they may free: wait for them (pipeline stages only).
            return Ok(false);
        } else {
            // Retract from the end of the order (generated desc, prompt asc): the fewest
            // generated tokens go first, the longest prompt among equals.
            self.order.clear();
            self.order.extend(self.running.iter().copied());
            self.order.sort_by(|&a, &b| {
                let (ra, rb) = (&reqs[a as usize], &reqs[b as usize]);
                generated(rb)
                    .cmp(&generated(ra))
                    .then(ra.initial_prefill_tokens.cmp(&rb.initial_prefill_tokens))
            });
            while self.running.len() > 1 && !base.blocks.can_allocate(need(&self.running, reqs)) {
                let Some(victim) = self.order.pop() else {
                    break;
                };
                self.running.retain(|&id| id != victim);
                evict(base, &mut reqs[victim as usize]);
                base.request_queue.push_back(victim);
            }
            if !base.blocks.can_allocate(need(&self.running, reqs)) {
                return Err(SimError::Unsupported(format!(
                    "sglang on replica {}: one request's next token does not fit in {} free KV blocks (SGLang aborts with out-of-memory here)",
                    base.id,
                    base.blocks.free_blocks()
                )));
            }
            let (mut gen, mut max_new) = (0f64, 0f64);
            for &id in &self.running {
                let r = &reqs[id as usize];
                gen += generated(r) as f64 + RETRACT_DECODE_STEPS;
                max_new += r.initial_decode_tokens as f64;
            }
            self.new_token_ratio = (gen / (max_new + 1.0)).min(1.0);
            self.batch_is_full = false;
        }
        while let Some(id) = self.running.pop_front() {
            grow(base, &mut reqs[id as usize], 1)?;
            push(batch, id, 1);
        }
        Ok(!batch.requests.is_empty())
    }
}

/// Output tokens produced so far (kept across retractions, as SGLang keeps `output_ids`).
fn generated(req: &Request) -> u32 {
    if req.is_prefill_complete {
        req.num_processed_tokens
            .saturating_sub(req.initial_prefill_tokens)
    } else {
        req.num_prefill_tokens
            .saturating_sub(req.initial_prefill_tokens)
    }
}

/// `min(max_new_tokens − generated, 4096)`: output tokens still to come, clipped.
fn clipped_new(req: &Request) -> u32 {
    let done = req.num_processed_tokens.max(req.num_prefill_tokens);
    req.total_tokens()
        .saturating_sub(done)
        .min(CLIP_MAX_NEW_TOKENS)
}

impl ReplicaScheduler for Sglang {
    fn next_batch(
        &mut self,
        base: &mut ReplicaBase,
        reqs: &mut [Request],
        batch: &mut Batch,
    ) -> Result<bool, SimError> {
        let try_prefill = self.chunk_in_flight.is_none()
            && (self.chunked.is_some() || (!base.request_queue.is_empty() && !self.batch_is_full));
        let formed = (try_prefill && self.prefill(base, reqs, batch)?)
            || (!self.running.is_empty() && self.decode(base, reqs, batch)?);
        if formed && base.num_stages > 1 {
            self.in_flight.push_back(batch.requests.clone());
        }
        Ok(formed)
    }

    fn on_batch_end(&mut self, base: &mut ReplicaBase, reqs: &mut [Request], batch: &Batch) {
        if let Some(i) = self.in_flight.iter().position(|b| *b == batch.requests) {
            self.in_flight.remove(i);
        }
        for &id in &batch.requests {
            let req = &mut reqs[id as usize];
            if self.chunk_in_flight == Some(id) {
                self.chunk_in_flight = None;
            }
            if req.completed {
                base.blocks.free(req);
                self.batch_is_full = false;
            } else if !req.is_prefill_complete {
                self.chunked = Some(id);
            } else {
                self.running.push_back(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::config::{SchedulerConfig, SchedulerKind};
    use crate::sim::schedulers::test_support::{replica, step};

    fn setup(num_tokens: u64, chunk: u32) -> (ReplicaBase, Sglang) {
        let mut cfg = SchedulerConfig::new(SchedulerKind::Sglang);
        if let SchedulerConfig::Sglang(c) = &mut cfg {
            c.chunked_prefill_size = chunk;
            c.max_running_requests = Some(64);
        }
        let base = replica(&cfg, num_tokens);
        let SchedulerConfig::Sglang(c) = &cfg else {
            unreachable!()
        };
        (base, Sglang::new(c))
    }

    #[test]
    fn prefill_steps_preempt_decodes_and_chunks_run_back_to_back() {
        let (mut base, mut s) = setup(100_000, 100);
        let mut reqs = vec![Request::new(0, 0.0, 30, 10), Request::new(1, 0.0, 250, 10)];
        base.request_queue.push_back(0);
        assert_eq!(step(&mut base, &mut s, &mut reqs, 1.0), vec![(0, 30)]);
        assert_eq!(step(&mut base, &mut s, &mut reqs, 1.0), vec![(0, 1)]);
        base.request_queue.push_back(1);
        // Prefill-only steps: 100, 100, 50, with request 0 stalled throughout.
        assert_eq!(step(&mut base, &mut s, &mut reqs, 1.0), vec![(1, 100)]);
        assert_eq!(step(&mut base, &mut s, &mut reqs, 1.0), vec![(1, 100)]);
        assert_eq!(step(&mut base, &mut s, &mut reqs, 1.0), vec![(1, 50)]);
        assert_eq!(
            step(&mut base, &mut s, &mut reqs, 1.0),
            vec![(0, 1), (1, 1)]
        );
    }

    #[test]
    fn admission_charges_running_requests_by_the_new_token_ratio() {
        // 1000 free tokens. Request 0 (prompt 100, 500 outputs) runs; its reserve is
        // 499 remaining × ratio. A newcomer with prompt 200 + 200 outputs = 400 fits only while
        // 400 < free − reserve.
        let (mut base, mut s) = setup(1000, 8192);
        let mut reqs = vec![
            Request::new(0, 0.0, 100, 500),
            Request::new(1, 0.0, 200, 200),
        ];
        base.request_queue.push_back(0);
        step(&mut base, &mut s, &mut reqs, 1.0);
        base.request_queue.push_back(1);
        // free = 900 (100 prompt tokens held); reserve = 499 · 0.7 ≈ 349; 900 − 349 = 551 > 400.
        assert_eq!(step(&mut base, &mut s, &mut reqs, 1.0), vec![(1, 200)]);

        let (mut base, mut s) = setup(1000, 8192);
        let mut reqs = vec![
            Request::new(0, 0.0, 100, 800),
            Request::new(1, 0.0, 200, 200),
        ];
        base.request_queue.push_back(0);
        step(&mut base, &mut s, &mut reqs, 1.0);
        base.request_queue.push_back(1);
        // reserve = 799 · 0.7 ≈ 559; 900 − 559 = 341 < 400: refused, decode instead, and no
        // prefill is tried again until the running batch shrinks.
        assert_eq!(step(&mut base, &mut s, &mut reqs, 1.0), vec![(0, 1)]);
        assert!(s.batch_is_full);
        assert_eq!(step(&mut base, &mut s, &mut reqs, 1.0), vec![(0, 1)]);
    }

    #[test]
    fn retraction_takes_the_fewest_generated_and_raises_the_ratio() {
        // 40 tokens. Request 0 (prompt 10, 25 outputs) decodes 5 steps alone; request 1
        // (prompt 5, 15 outputs) joins with a ratio of 0, as after a long uneventful run.
        // Together they need 19 + 14 more tokens than the 20 left, so one is retracted: 1,
        // which has generated fewer.
        let (mut base, mut s) = setup(40, 8192);
        let mut reqs = vec![Request::new(0, 0.0, 10, 25), Request::new(1, 0.0, 5, 15)];
        base.request_queue.push_back(0);
        step(&mut base, &mut s, &mut reqs, 1.0);
        for _ in 0..5 {
            step(&mut base, &mut s, &mut reqs, 1.0);
        }
        base.request_queue.push_back(1);
        s.new_token_ratio = 0.0;
        s.min_new_token_ratio = 0.0;
        assert_eq!(step(&mut base, &mut s, &mut reqs, 1.0), vec![(1, 5)]);
        let before = s.new_token_ratio;
        // Both decode until the 40 tokens run out: then 1 (fewer generated) is retracted.
        let mut retracted = false;
        for _ in 0..30 {
            step(&mut base, &mut s, &mut reqs, 1.0);
            if reqs[1].num_restarts == 1 {
                retracted = true;
                break;
            }
        }
        assert!(retracted, "request 1 was never retracted");
        assert_eq!(reqs[0].num_restarts, 0);
        assert!(s.new_token_ratio > before);
        assert_eq!(base.request_queue.front(), Some(&1));
    }
}
