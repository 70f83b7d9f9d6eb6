//! Events and the event queue (vidur-behavior.md §1.2–1.3).
//!
//! Vidur orders events by `(time, creation id)`: its event-type tie-break is dead code. We key
//! the heap by `(time, seq)` with `seq` a global counter stamped at push. Arrivals never enter
//! the heap: Vidur creates all of them before the run (ids 1..N), so at equal times an arrival
//! always precedes every runtime event; the engine merges them from a sorted slice instead,
//! which keeps the heap as small as the in-flight work.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::batch::BatchSlot;

/// A runtime event (arrivals are handled separately). Small and `Copy`: ids only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Route the global queue to replicas.
    GlobalSchedule,
    /// Let a replica form batches.
    ReplicaSchedule {
        /// Replica id.
        replica: u32,
    },
    /// A batch reaches a pipeline stage's queue.
    BatchStageArrival {
        /// Replica id.
        replica: u32,
        /// Stage index.
        stage: u32,
        /// Batch slot.
        batch: BatchSlot,
    },
    /// Let a stage start its next queued batch.
    ReplicaStageSchedule {
        /// Replica id.
        replica: u32,
        /// Stage index.
        stage: u32,
    },
    /// A stage finished a batch.
    BatchStageEnd {
        /// Replica id.
        replica: u32,
        /// Stage index.
        stage: u32,
        /// Batch slot.
        batch: BatchSlot,
    },
    /// A batch finished its last stage.
    BatchEnd {
        /// Replica id.
        replica: u32,
        /// Batch slot.
        batch: BatchSlot,
    },
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    time: f64,
    seq: u64,
    event: Event,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed: BinaryHeap is a max-heap and we want the smallest (time, seq) first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .time
            .total_cmp(&self.time)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// Min-queue of runtime events by `(time, seq)`. Push and pop are O(log n) and allocate only
/// while the heap grows past its previous peak.
#[derive(Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Entry>,
    next_seq: u64,
}

impl EventQueue {
    /// An empty queue whose first sequence number is `first_seq` (arrivals use the ones below).
    pub fn new(first_seq: u64) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(64),
            next_seq: first_seq,
        }
    }

    /// Schedule `event` at `time`.
    #[inline]
    pub fn push(&mut self, time: f64, event: Event) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { time, seq, event });
    }

    /// Time of the earliest event.
    #[inline]
    pub fn peek_time(&self) -> Option<f64> {
        self.heap.peek().map(|e| e.time)
    }

    /// Remove and return the earliest event.
    #[inline]
    pub fn pop(&mut self) -> Option<(f64, Event)> {
        self.heap.pop().map(|e| (e.time, e.event))
    }

    /// Events pending.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// No events pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_times_pop_in_creation_order() {
        let mut q = EventQueue::new(1);
        q.push(1.0, Event::ReplicaSchedule { replica: 2 });
        q.push(0.5, Event::GlobalSchedule);
        q.push(1.0, Event::ReplicaSchedule { replica: 0 });
        q.push(1.0, Event::ReplicaSchedule { replica: 1 });
        assert_eq!(q.pop(), Some((0.5, Event::GlobalSchedule)));
        assert_eq!(q.pop(), Some((1.0, Event::ReplicaSchedule { replica: 2 })));
        assert_eq!(q.pop(), Some((1.0, Event::ReplicaSchedule { replica: 0 })));
        assert_eq!(q.pop(), Some((1.0, Event::ReplicaSchedule { replica: 1 })));
        assert_eq!(q.pop(), None);
    }
}
