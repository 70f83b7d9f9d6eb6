//! One iteration's batch (vidur-behavior.md §2.2). Batches live in a slab with a free list so
//! their vectors are reused and no event allocates.

use super::request::{ReqId, Request};

/// Index of a batch slot.
pub type BatchSlot = u32;

/// A batch: the requests of one iteration and their token counts.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Vidur's batch id (a counter over all batches, 0-based).
    pub id: u64,
    /// Replica that formed it.
    pub replica: u32,
    /// Member requests, in scheduler order.
    pub requests: Vec<ReqId>,
    /// Tokens processed for each member in this iteration.
    pub num_tokens: Vec<u32>,
    /// Formation time.
    pub scheduled_at: f64,
    /// Σ num_tokens.
    pub total_num_tokens: u32,
    /// Tokens of members whose prefill was incomplete when the batch was formed.
    pub num_prefill_tokens: u32,
    /// The members as last priced, and the time of every stage for them: later stages reuse
    /// the prices while the members are unchanged.
    pub priced: Vec<crate::predictor::BatchEntry>,
    /// Stage times for `priced`.
    pub stage_times: Vec<crate::predictor::StageTime>,
}

impl Batch {
    /// Tokens of decode members.
    pub fn num_decode_tokens(&self) -> u32 {
        self.total_num_tokens - self.num_prefill_tokens
    }

    /// Number of member requests.
    pub fn size(&self) -> usize {
        self.requests.len()
    }

    /// Recompute the token totals from the members (call once the batch is filled).
    pub fn finalize(&mut self, requests: &[Request]) {
        self.total_num_tokens = self.num_tokens.iter().sum();
        self.num_prefill_tokens = self
            .requests
            .iter()
            .zip(&self.num_tokens)
            .filter(|(r, _)| !requests[**r as usize].is_prefill_complete)
            .map(|(_, n)| *n)
            .sum();
    }
}

/// Slab of batches with slot reuse.
#[derive(Debug, Default)]
pub struct BatchSlab {
    slots: Vec<Batch>,
    free: Vec<BatchSlot>,
    next_id: u64,
}

impl BatchSlab {
    /// Take an empty batch slot for `replica`. It gets an id only when [`Self::commit`]ted, as
    /// Vidur numbers only the batches it actually forms.
    pub fn alloc(&mut self, replica: u32) -> BatchSlot {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Batch::default());
                (self.slots.len() - 1) as BatchSlot
            }
        };
        let b = &mut self.slots[slot as usize];
        b.id = u64::MAX;
        b.replica = replica;
        b.requests.clear();
        b.num_tokens.clear();
        b.scheduled_at = 0.0;
        b.total_num_tokens = 0;
        b.num_prefill_tokens = 0;
        b.priced.clear();
        b.stage_times.clear();
        slot
    }

    /// Give the batch in `slot` the next batch id.
    pub fn commit(&mut self, slot: BatchSlot) {
        self.slots[slot as usize].id = self.next_id;
        self.next_id += 1;
    }

    /// Return a slot to the free list (after its batch ended, or if it was never formed).
    pub fn release(&mut self, slot: BatchSlot) {
        self.free.push(slot);
    }

    /// The batch in `slot`.
    pub fn get(&self, slot: BatchSlot) -> &Batch {
        &self.slots[slot as usize]
    }

    /// The batch in `slot`, mutably.
    pub fn get_mut(&mut self, slot: BatchSlot) -> &mut Batch {
        &mut self.slots[slot as usize]
    }

    /// Number of batch ids handed out.
    pub fn batches_formed(&self) -> u64 {
        self.next_id
    }
}
