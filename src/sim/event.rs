//! Events and the event queue (vidur-behavior.md §1.2–1.3).
//!
//! Vidur orders events by `(time, creation id)`: its event-type tie-break is dead code. We key
//! the heap by `(time, seq)` with `seq` a global counter stamped at push. Arrivals never enter
//! the heap: Vidur creates all of them before the run (ids 1..N), so at equal times an arrival
//! always precedes every runtime event; the engine merges them from its request source instead,
//! which keeps the heap as small as the in-flight work.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

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
/// Min-queue of `(time, seq)`-ordered events.
///
/// Most events are pushed for the current instant (zero-delay chains such as batch end →
/// replica schedule). Those go to a FIFO lane instead of the heap: each has a larger `seq`
/// than every heap entry (all pushed earlier), so the exact order is heap entries at `now`
/// first, then the lane, then later heap entries. That is the `(time, seq)` order, at O(1).
#[derive(Debug)]
pub struct EventQueue {
    heap: BinaryHeap<Entry>,
    lane: VecDeque<Event>,
    now: f64,
    next_seq: u64,
}

impl Default for EventQueue {
    fn default() -> Self {
        EventQueue::new(0)
    }
}

impl EventQueue {
    /// An empty queue whose first push gets sequence number `first_seq`.
    pub fn new(first_seq: u64) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(64),
            lane: VecDeque::with_capacity(64),
            now: f64::NEG_INFINITY,
            next_seq: first_seq,
        }
    }

    /// The engine's clock moved to `t` (an arrival was handled at `t`); `t` is never before a
    /// queued event.
    #[inline]
    pub fn set_now(&mut self, t: f64) {
        if t != self.now {
            debug_assert!(
                self.lane.is_empty(),
                "lane events left behind at {}",
                self.now
            );
            self.now = t;
        }
    }

    /// Queue `event` at `time` (≥ now).
    #[inline]
    pub fn push(&mut self, time: f64, event: Event) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if time == self.now {
            self.lane.push_back(event);
        } else {
            self.heap.push(Entry { time, seq, event });
        }
    }

    #[inline]
    fn heap_at_now(&self) -> bool {
        self.heap.peek().is_some_and(|e| e.time <= self.now)
    }

    /// Time of the next event.
    #[inline]
    pub fn peek_time(&self) -> Option<f64> {
        if self.heap_at_now() || !self.lane.is_empty() {
            Some(self.now)
        } else {
            self.heap.peek().map(|e| e.time)
        }
    }

    /// Remove the next event.
    #[inline]
    pub fn pop(&mut self) -> Option<(f64, Event)> {
        if !self.heap_at_now() {
            if let Some(e) = self.lane.pop_front() {
                return Some((self.now, e));
            }
        }
        let e = self.heap.pop()?;
        self.now = e.time;
        Some((e.time, e.event))
    }

    /// Events queued.
    pub fn len(&self) -> usize {
        self.heap.len() + self.lane.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty() && self.lane.is_empty()
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

    proptest::proptest! {
        /// The lane never changes the order: pops match a plain (time, seq) min-heap.
        #[test]
        fn lane_keeps_time_seq_order(ops in proptest::collection::vec((0u8..4, 0u8..3), 1..300)) {
            let mut q = EventQueue::new(0);
            let mut reference = std::collections::BTreeSet::new();
            let mut now = 0.0f64;
            let mut seq = 0u64;
            for (op, dt) in ops {
                if op == 0 {
                    if let Some((t, e)) = q.pop() {
                        let first = *reference.iter().next().expect("reference has it");
                        reference.remove(&first);
                        let (rt, rs): (u64, u64) = first;
                        proptest::prop_assert_eq!(t, rt as f64);
                        proptest::prop_assert_eq!(e, Event::ReplicaSchedule { replica: rs as u32 });
                        now = t;
                    }
                } else {
                    let t = now + dt as f64;
                    q.push(t, Event::ReplicaSchedule { replica: seq as u32 });
                    reference.insert((t as u64, seq));
                    seq += 1;
                }
            }
            proptest::prop_assert_eq!(q.len(), reference.len());
        }
    }
}
