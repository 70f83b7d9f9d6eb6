//! Replica schedulers (vidur-behavior.md §3), one file each behind [`ReplicaScheduler`].
//!
//! A scheduler decides; the engine acts. `next_batch` fills one batch from the replica's queue
//! and its own running set (Vidur's `_get_next_batch`); the engine calls it up to `num_stages`
//! times per scheduling event and owns batches, stages and the clock.
//!
//! Besides Vidur's five there are three engine models (`../shared/reference/engines.md`):
//! `vllm_v1`, `sglang` and `trtllm`. They share the helpers at the end of this file: KV tokens
//! and blocks a step needs, and a recompute preemption that keeps a half-prefilled prompt whole.

mod faster_transformer;
mod lightllm;
mod orca;
mod sarathi;
mod sglang;
mod trtllm;
mod vllm;
mod vllm_v1;

use std::collections::VecDeque;

use super::batch::Batch;
use super::config::SchedulerConfig;
use super::memory::{BlockManager, MemoryPlan};
use super::request::{ReqId, Request};
use super::SimError;
use crate::compat::Compat;

/// State every replica scheduler shares (Vidur's `BaseReplicaScheduler`).
#[derive(Debug)]
pub struct ReplicaBase {
    /// Replica id.
    pub id: u32,
    /// Scheduler knobs.
    pub cfg: SchedulerConfig,
    /// Engine mode.
    pub compat: Compat,
    /// Pipeline stages.
    pub num_stages: u32,
    /// KV blocks.
    pub blocks: BlockManager,
    /// `max_tokens // block_size`.
    pub max_blocks_per_sequence: u64,
    /// `min(planner max batch size, batch_size_cap)` (Orca, FasterTransformer).
    pub max_batch_size: u32,
    /// `batch_size_cap // num_stages` (vLLM, Sarathi, LightLLM).
    pub max_micro_batch_size: u32,
    /// `int(watermark_blocks_fraction · num_blocks)`.
    pub watermark_blocks: u64,
    /// Requests routed here and not yet admitted.
    pub request_queue: VecDeque<ReqId>,
    /// Batches formed and not yet ended.
    pub num_running_batches: u32,
}

impl ReplicaBase {
    /// Base state for replica `id`.
    pub fn new(
        id: u32,
        cfg: &SchedulerConfig,
        plan: &MemoryPlan,
        max_tokens: u32,
        num_stages: u32,
        compat: Compat,
    ) -> Self {
        let num_blocks = plan.num_blocks;
        ReplicaBase {
            id,
            cfg: cfg.clone(),
            compat,
            num_stages,
            blocks: BlockManager::new(num_blocks),
            max_blocks_per_sequence: (max_tokens / cfg.block_size()) as u64,
            max_batch_size: plan.max_batch_size.min(cfg.batch_size_cap() as u64) as u32,
            max_micro_batch_size: cfg.batch_size_cap() / num_stages,
            watermark_blocks: (cfg.watermark_blocks_fraction() * num_blocks as f64) as u64,
            request_queue: VecDeque::new(),
            num_running_batches: 0,
        }
    }

    /// Blocks for a whole prompt.
    #[inline]
    fn prompt_blocks(&self, req: &Request) -> u64 {
        req.num_prefill_tokens.div_ceil(self.cfg.block_size()) as u64
    }

    /// vLLM/Sarathi admission test. New: `free − prompt blocks ≥ watermark`. Running: Vidur
    /// wants a free block even when none is needed (spurious preemptions); default mode asks
    /// only for the block the next token actually needs.
    pub(crate) fn paged_can_allocate(&self, req: &Request) -> bool {
        if !req.in_allocation_map {
            let free = self.blocks.free_blocks() as i64;
            return free - self.prompt_blocks(req) as i64 >= self.watermark_blocks as i64;
        }
        if self.compat.is_vidur() {
            self.blocks.can_allocate(1)
        } else {
            self.blocks.can_allocate(self.paged_blocks_needed(req))
        }
    }

    fn paged_blocks_needed(&self, req: &Request) -> u64 {
        let reserved = req.blocks as u64 * self.cfg.block_size() as u64;
        (req.num_processed_tokens as u64)
            .saturating_sub(reserved)
            .min(1)
    }

    /// vLLM/Sarathi allocation: the whole prompt on admission, then one block when the
    /// processed tokens outgrow the reservation.
    pub(crate) fn paged_allocate(&mut self, req: &mut Request) -> Result<(), SimError> {
        if !req.in_allocation_map {
            let n = self.prompt_blocks(req);
            return self.blocks.allocate(req, n);
        }
        let reserved = req.blocks as u64 * self.cfg.block_size() as u64;
        let need = (req.num_processed_tokens as u64).saturating_sub(reserved);
        if need > 1 {
            return Err(SimError::Invariant(format!(
                "request {} needs {need} new KV tokens in one iteration (expected 0 or 1)",
                req.id
            )));
        }
        if need == 1 {
            self.blocks.allocate(req, 1)?;
        }
        Ok(())
    }

    /// Restart `victim` (recompute preemption), free it, and put it at the queue's front.
    pub(crate) fn preempt(&mut self, victim: &mut Request) {
        victim.restart();
        self.blocks.free(victim);
        self.request_queue.push_front(victim.id);
    }
}

/// vLLM/Sarathi decode admission: allocate `id`'s next block, recompute-preempting the
/// latest-arrived running requests (and finally `id` itself) until it fits. Returns whether
/// `id` got its block and stays in the batch.
pub(crate) fn allocate_or_preempt(
    base: &mut ReplicaBase,
    reqs: &mut [Request],
    running: &mut VecDeque<ReqId>,
    id: ReqId,
) -> Result<bool, SimError> {
    loop {
        if base.paged_can_allocate(&reqs[id as usize]) {
            base.paged_allocate(&mut reqs[id as usize])?;
            return Ok(true);
        }
        match running.pop_back() {
            Some(victim) => base.preempt(&mut reqs[victim as usize]),
            None => {
                base.preempt(&mut reqs[id as usize]);
                return Ok(false);
            }
        }
    }
}

/// Orca/FasterTransformer admission: new requests join with a full `max_tokens` reservation
/// while the batch has room and the blocks last.
pub(crate) fn admit_with_full_reservation(
    base: &mut ReplicaBase,
    reqs: &mut [Request],
    batch: &mut Batch,
) -> Result<(), SimError> {
    let max = base.max_batch_size as usize;
    while let Some(&head) = base.request_queue.front() {
        if batch.requests.len() == max || !base.blocks.can_allocate(base.max_blocks_per_sequence) {
            break;
        }
        base.request_queue.pop_front();
        let n = base.max_blocks_per_sequence;
        base.blocks.allocate(&mut reqs[head as usize], n)?;
        push(batch, head, next_num_tokens(&reqs[head as usize]));
    }
    Ok(())
}

/// Vidur's default next-token rule: one decode token, or the whole remaining prompt.
#[inline]
pub(crate) fn next_num_tokens(req: &Request) -> u32 {
    if req.is_prefill_complete {
        1
    } else {
        req.num_prefill_tokens
    }
}

/// Add a member to the batch being formed.
#[inline]
pub(crate) fn push(batch: &mut Batch, req: ReqId, n: u32) {
    batch.requests.push(req);
    batch.num_tokens.push(n);
}

/// A replica scheduling policy.
pub trait ReplicaScheduler: Send + std::fmt::Debug {
    /// Fill `batch` (empty on entry) with the next batch; return whether it has members.
    fn next_batch(
        &mut self,
        base: &mut ReplicaBase,
        reqs: &mut [Request],
        batch: &mut Batch,
    ) -> Result<bool, SimError>;

    /// A batch finished: free completed requests, keep the rest running.
    fn on_batch_end(&mut self, base: &mut ReplicaBase, reqs: &mut [Request], batch: &Batch);
}

/// The shared `on_batch_end` of vLLM, Sarathi, Orca and LightLLM.
pub(crate) fn free_or_keep(
    base: &mut ReplicaBase,
    reqs: &mut [Request],
    batch: &Batch,
    running: &mut VecDeque<ReqId>,
) {
    for &id in &batch.requests {
        let req = &mut reqs[id as usize];
        if req.completed {
            base.blocks.free(req);
        } else {
            running.push_back(id);
        }
    }
}

/// Sort running requests by arrival, stably (Python's `sorted(key=arrived_at)`).
pub(crate) fn sort_by_arrival(list: &mut VecDeque<ReqId>, reqs: &[Request]) {
    list.make_contiguous().sort_by(|a, b| {
        reqs[*a as usize]
            .arrived_at
            .total_cmp(&reqs[*b as usize].arrived_at)
    });
}

/// Build the scheduler for a config.
pub fn build(cfg: &SchedulerConfig) -> Box<dyn ReplicaScheduler> {
    match cfg {
        SchedulerConfig::Vllm(c) => Box::new(vllm::Vllm::new(c.max_tokens_in_batch)),
        SchedulerConfig::Sarathi(c) => Box::new(sarathi::Sarathi::new(c.chunk_size)),
        SchedulerConfig::Orca(_) => Box::new(orca::Orca::default()),
        SchedulerConfig::Lightllm(c) => Box::new(lightllm::LightLlm::new(
            c.max_tokens_in_batch,
            c.max_waiting_iters,
        )),
        SchedulerConfig::FasterTransformer(_) => {
            Box::new(faster_transformer::FasterTransformer::default())
        }
        SchedulerConfig::VllmV1(c) => Box::new(vllm_v1::VllmV1::new(c)),
        SchedulerConfig::Sglang(c) => Box::new(sglang::Sglang::new(c)),
        SchedulerConfig::Trtllm(c) => Box::new(trtllm::Trtllm::new(c)),
    }
}

/// Prompt tokens not yet computed (0 once the prefill is complete).
#[inline]
pub(crate) fn prompt_left(req: &Request) -> u32 {
    if req.is_prefill_complete {
        0
    } else {
        req.num_prefill_tokens
            .saturating_sub(req.num_processed_tokens)
    }
}

/// KV tokens `req` holds once a step computes `n` more of its tokens. A decode's input token is
/// the output sampled last step, counted in `num_processed_tokens` but not yet in the KV cache
/// (engines.md §2.4: `num_computed + n`).
#[inline]
pub(crate) fn kv_tokens_after(req: &Request, n: u32) -> u64 {
    let computed = if req.is_prefill_complete {
        req.num_processed_tokens.saturating_sub(1)
    } else {
        req.num_processed_tokens
    };
    computed as u64 + n as u64
}

/// Blocks `req` must gain so that a step computing `n` of its tokens fits.
#[inline]
pub(crate) fn blocks_to_grow(req: &Request, n: u32, block_size: u32) -> u64 {
    let held = if req.in_allocation_map { req.blocks } else { 0 } as u64;
    kv_tokens_after(req, n)
        .div_ceil(block_size as u64)
        .saturating_sub(held)
}

/// Allocate what [`blocks_to_grow`] says; a request without an allocation-map entry gets one
/// even when it needs no block, so `map_len` counts every admitted request.
#[inline]
pub(crate) fn grow(base: &mut ReplicaBase, req: &mut Request, n: u32) -> Result<(), SimError> {
    let need = blocks_to_grow(req, n, base.cfg.block_size());
    base.blocks.allocate(req, need)
}

/// Recompute preemption for the engine models: free `victim`'s KV and reset it. A request
/// that already produced output restarts with prompt + outputs as its new prompt (vLLM and
/// SGLang re-prefill both, engines.md §2.4, §3.6); one caught mid-prefill keeps its prompt,
/// whereas [`ReplicaBase::preempt`] (Vidur's rule) would turn the unprocessed prompt tokens
/// into decode tokens. The caller queues it.
pub(crate) fn evict(base: &mut ReplicaBase, victim: &mut Request) {
    if victim.is_prefill_complete {
        victim.restart();
    } else {
        victim.num_processed_tokens = 0;
        victim.scheduled = false;
        victim.preempted_flag = false;
        victim.num_restarts += 1;
    }
    base.blocks.free(victim);
}

/// Helpers the scheduler unit tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{ReplicaBase, ReplicaScheduler};
    use crate::compat::Compat;
    use crate::sim::batch::Batch;
    use crate::sim::config::SchedulerConfig;
    use crate::sim::memory::MemoryPlan;
    use crate::sim::request::{ReqId, Request};

    /// A replica with `num_blocks` KV blocks, 64 request slots and 4,096-token requests.
    pub fn replica(cfg: &SchedulerConfig, num_blocks: u64) -> ReplicaBase {
        let plan = MemoryPlan {
            max_batch_size: 64,
            max_request_slots: 64,
            num_blocks,
        };
        ReplicaBase::new(0, cfg, &plan, 4096, 1, Compat::Default)
    }

    /// One step at time `t`: schedule, run every member to the end of the step, and return
    /// what ran (request, tokens).
    pub fn step(
        base: &mut ReplicaBase,
        s: &mut dyn ReplicaScheduler,
        reqs: &mut [Request],
        t: f64,
    ) -> Vec<(ReqId, u32)> {
        let mut b = Batch::default();
        assert!(s.next_batch(base, reqs, &mut b).unwrap());
        b.finalize(reqs);
        for (&id, &n) in b.requests.iter().zip(&b.num_tokens) {
            reqs[id as usize].on_batch_schedule(t);
            reqs[id as usize].on_batch_end(t, n);
        }
        s.on_batch_end(base, reqs, &b);
        b.requests
            .iter()
            .copied()
            .zip(b.num_tokens.iter().copied())
            .collect()
    }
}
