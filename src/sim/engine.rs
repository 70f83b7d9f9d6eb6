//! The event loop and its handlers (vidur-behavior.md §1.3), in Vidur's order. Handlers push
//! their children straight into the queue in the order Vidur returns them.

use std::collections::VecDeque;

use super::batch::{BatchSlab, BatchSlot};
use super::event::{Event, EventQueue};
use super::memory;
use super::observer::SimObserver;
use super::request::{ReqId, Request};
use super::router::Router;
use super::schedulers::{self, ReplicaBase, ReplicaScheduler};
use super::{SimConfig, SimError, SimOutput};
use crate::predictor::{BatchEntry, ExecutionTimePredictor, StageTime};
use crate::workload::{RequestSource, RequestSpec, SliceSource};

#[derive(Debug, Default)]
struct Stage {
    queue: VecDeque<BatchSlot>,
    busy: bool,
    exec_s: f64,
    model_s: f64,
}

#[derive(Debug)]
struct Replica {
    base: ReplicaBase,
    sched: Box<dyn ReplicaScheduler>,
    stages: Vec<Stage>,
}

struct Engine<'a, S: RequestSource + ?Sized, O: SimObserver + ?Sized> {
    cfg: &'a SimConfig,
    source: &'a mut S,
    /// Arrival time of the last request pulled from `source` (arrivals must not go back).
    last_arrival: f64,
    observer: &'a mut O,
    stopped_by_observer: bool,
    predictor: &'a dyn ExecutionTimePredictor,
    now: f64,
    queue: EventQueue,
    /// Every request that arrived so far; index = id = arrival order.
    requests: Vec<Request>,
    global_queue: Vec<ReqId>,
    replicas: Vec<Replica>,
    batches: BatchSlab,
    router: Router,
    entries: Vec<BatchEntry>,
    formed: Vec<BatchSlot>,
    touched: Vec<bool>,
    num_events: u64,
    time_monotone: bool,
}

/// Run one simulation of `requests` (sorted by arrival) under `cfg`, watched by `observer`
/// (`&mut ()` for none; the metrics recorder, an SLO guard, or a pair of them).
///
/// [`SimOutput::requests`] covers the whole slice: requests that never arrived (time limit,
/// observer stop) are appended untouched and counted as unfinished.
pub fn simulate<O: SimObserver + ?Sized>(
    cfg: &SimConfig,
    requests: &[RequestSpec],
    predictor: &dyn ExecutionTimePredictor,
    observer: &mut O,
) -> Result<SimOutput, SimError> {
    let plan = validate_and_plan(cfg)?;
    for (i, w) in requests.windows(2).enumerate() {
        if w[1].arrived_at < w[0].arrived_at {
            return Err(SimError::Config(format!(
                "requests must be sorted by arrival time (request {} arrives at {} before request {i} at {})",
                i + 1,
                w[1].arrived_at,
                w[0].arrived_at
            )));
        }
    }
    let mut source = SliceSource::new(requests);
    let mut out = run_source(cfg, &plan, &mut source, predictor, observer)?;
    let arrived = source.consumed();
    out.requests.reserve(requests.len() - arrived);
    for (i, r) in requests.iter().enumerate().skip(arrived) {
        out.requests.push(Request::new(
            i as ReqId,
            r.arrived_at,
            r.num_prefill_tokens,
            r.num_decode_tokens,
        ));
    }
    out.num_unfinished += requests.len() - arrived;
    Ok(out)
}

/// Run one simulation pulling arrivals from `source` (see [`RequestSource`]): requests are
/// created as they arrive, so memory follows the arrived requests, and with a time limit the
/// source is pulled at most one request past it (the event that crosses the limit ends the
/// run). [`SimOutput::requests`] holds the arrived requests only.
pub fn simulate_source<S: RequestSource + ?Sized, O: SimObserver + ?Sized>(
    cfg: &SimConfig,
    source: &mut S,
    predictor: &dyn ExecutionTimePredictor,
    observer: &mut O,
) -> Result<SimOutput, SimError> {
    let plan = validate_and_plan(cfg)?;
    run_source(cfg, &plan, source, predictor, observer)
}

fn validate_and_plan(cfg: &SimConfig) -> Result<memory::MemoryPlan, SimError> {
    cfg.validate()?;
    memory::plan(
        &cfg.model,
        &cfg.device,
        cfg.tensor_parallel_size,
        cfg.num_pipeline_stages,
        cfg.memory_margin_fraction,
        cfg.max_tokens,
        &cfg.scheduler,
        cfg.compat,
    )
}

fn run_source<S: RequestSource + ?Sized, O: SimObserver + ?Sized>(
    cfg: &SimConfig,
    plan: &memory::MemoryPlan,
    source: &mut S,
    predictor: &dyn ExecutionTimePredictor,
    observer: &mut O,
) -> Result<SimOutput, SimError> {
    let stages = cfg.num_pipeline_stages;
    let replicas = (0..cfg.num_replicas)
        .map(|id| Replica {
            base: ReplicaBase::new(id, &cfg.scheduler, plan, cfg.max_tokens, stages, cfg.compat),
            sched: schedulers::build(&cfg.scheduler),
            stages: (0..stages).map(|_| Stage::default()).collect(),
        })
        .collect();
    // Sized for the whole workload only when it is known and modest; otherwise grown
    // (amortized) as requests arrive.
    let capacity = source.remaining().unwrap_or(0).min(1 << 20);
    let mut engine = Engine {
        cfg,
        observer,
        stopped_by_observer: false,
        predictor,
        now: 0.0,
        // Only the relative order of sequence numbers matters (arrivals never enter the heap).
        queue: EventQueue::new(1),
        requests: Vec::with_capacity(capacity),
        source,
        last_arrival: f64::NEG_INFINITY,
        global_queue: Vec::new(),
        replicas,
        batches: BatchSlab::default(),
        router: Router::new(cfg.router, cfg.compat, cfg.num_replicas as usize, cfg.seed),
        entries: Vec::new(),
        formed: Vec::new(),
        touched: vec![false; cfg.num_replicas as usize],
        num_events: 0,
        time_monotone: true,
    };
    let hit_time_limit = engine.run()?;
    let num_unfinished = engine.requests.iter().filter(|r| !r.completed).count();
    let peak = engine
        .replicas
        .iter()
        .map(|r| (r.base.blocks.peak_allocated, r.base.blocks.num_blocks))
        .max_by_key(|p| p.0)
        .unwrap_or((0, 0));
    Ok(SimOutput {
        end_time: engine.now,
        num_events: engine.num_events,
        num_batches: engine.batches.batches_formed(),
        num_unfinished,
        hit_time_limit,
        stopped_early: engine.stopped_by_observer,
        peak_blocks: peak,
        num_blocks: plan.num_blocks,
        time_monotone: engine.time_monotone,
        requests: engine.requests,
    })
}

impl<S: RequestSource + ?Sized, O: SimObserver + ?Sized> Engine<'_, S, O> {
    /// The main loop. Returns whether the time limit stopped it.
    fn run(&mut self) -> Result<bool, SimError> {
        let limit = self.cfg.time_limit_s;
        loop {
            // Arrivals were numbered before every runtime event, so they win ties.
            let arrival = self.source.next_arrival();
            let take_arrival = match (arrival, self.queue.peek_time()) {
                (Some(a), Some(e)) => a <= e,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return Ok(false),
            };
            let t = if take_arrival {
                arrival.expect("checked")
            } else {
                self.queue.peek_time().expect("checked")
            };
            if t < self.now {
                self.time_monotone = false;
            }
            self.now = t;
            self.num_events += 1;
            if take_arrival {
                self.queue.set_now(t);
                self.on_request_arrival(t)?;
            } else {
                let (_, ev) = self.queue.pop().expect("checked");
                self.dispatch(t, ev)?;
            }
            if self.stopped_by_observer {
                return Ok(false);
            }
            // Vidur still handles the event that crossed the limit, then stops.
            if let Some(l) = limit {
                if t > l {
                    return Ok(true);
                }
            }
        }
    }

    fn dispatch(&mut self, t: f64, ev: Event) -> Result<(), SimError> {
        match ev {
            Event::GlobalSchedule => self.on_global_schedule(t),
            Event::ReplicaSchedule { replica } => self.on_replica_schedule(t, replica)?,
            Event::BatchStageArrival {
                replica,
                stage,
                batch,
            } => {
                self.replicas[replica as usize].stages[stage as usize]
                    .queue
                    .push_back(batch);
                self.queue
                    .push(t, Event::ReplicaStageSchedule { replica, stage });
            }
            Event::ReplicaStageSchedule { replica, stage } => {
                self.on_stage_schedule(t, replica, stage)?
            }
            Event::BatchStageEnd {
                replica,
                stage,
                batch,
            } => self.on_stage_end(t, replica, stage, batch),
            Event::BatchEnd { replica, batch } => self.on_batch_end(t, replica, batch),
        }
        Ok(())
    }

    /// Pulls the request arriving at `t` from the source into the arena.
    fn on_request_arrival(&mut self, t: f64) -> Result<(), SimError> {
        let i = self.requests.len();
        let Some(r) = self.source.pop() else {
            return Err(SimError::Invariant(format!(
                "the request source announced an arrival at {t} but yielded none"
            )));
        };
        if r.arrived_at < self.last_arrival {
            return Err(SimError::Config(format!(
                "requests must be sorted by arrival time (request {i} arrives at {} before request {} at {})",
                r.arrived_at,
                i.wrapping_sub(1),
                self.last_arrival
            )));
        }
        if r.arrived_at.total_cmp(&t).is_ne() {
            return Err(SimError::Invariant(format!(
                "the request source announced an arrival at {t} but yielded one at {}",
                r.arrived_at
            )));
        }
        let Ok(id) = ReqId::try_from(i) else {
            return Err(SimError::Config(format!(
                "more than {} requests arrived; request ids are 32-bit",
                ReqId::MAX
            )));
        };
        self.last_arrival = r.arrived_at;
        self.requests.push(Request::new(
            id,
            r.arrived_at,
            r.num_prefill_tokens,
            r.num_decode_tokens,
        ));
        self.global_queue.push(id);
        self.observer
            .on_request_arrival(t, &self.requests[id as usize]);
        self.queue.push(t, Event::GlobalSchedule);
        Ok(())
    }

    fn on_global_schedule(&mut self, t: f64) {
        if self.global_queue.is_empty() {
            return;
        }
        let reqs = &self.requests;
        self.global_queue.sort_by(|a, b| {
            reqs[*a as usize]
                .arrived_at
                .total_cmp(&reqs[*b as usize].arrived_at)
        });
        self.router.begin(
            self.replicas
                .iter()
                .map(|r| r.base.request_queue.len() as u64),
            self.replicas.iter().map(|r| r.base.blocks.map_len as u64),
        );
        for i in 0..self.global_queue.len() {
            let id = self.global_queue[i];
            let r = self.router.route();
            self.requests[id as usize].replica = r as u32;
            self.replicas[r].base.request_queue.push_back(id);
            self.touched[r] = true;
        }
        self.global_queue.clear();
        // Vidur iterates a Python set of small ints: ascending replica order.
        for r in 0..self.touched.len() {
            if std::mem::take(&mut self.touched[r]) {
                self.queue
                    .push(t, Event::ReplicaSchedule { replica: r as u32 });
            }
        }
    }

    fn on_replica_schedule(&mut self, t: f64, r: u32) -> Result<(), SimError> {
        let rep = &mut self.replicas[r as usize];
        self.formed.clear();
        while rep.base.num_running_batches < rep.base.num_stages {
            let slot = self.batches.alloc(r);
            let batch = self.batches.get_mut(slot);
            if rep
                .sched
                .next_batch(&mut rep.base, &mut self.requests, batch)?
            {
                batch.finalize(&self.requests);
                self.batches.commit(slot);
                self.formed.push(slot);
                rep.base.num_running_batches += 1;
            } else {
                self.batches.release(slot);
                break;
            }
        }
        if self.formed.is_empty() {
            return Ok(());
        }
        self.observer
            .on_replica_schedule(t, r, rep.base.blocks.memory_usage_percent());
        for &slot in &self.formed {
            let batch = self.batches.get_mut(slot);
            batch.scheduled_at = t;
            for &id in &batch.requests {
                self.requests[id as usize].on_batch_schedule(t);
            }
        }
        for &slot in &self.formed {
            self.queue.push(
                t,
                Event::BatchStageArrival {
                    replica: r,
                    stage: 0,
                    batch: slot,
                },
            );
        }
        Ok(())
    }

    fn on_stage_schedule(&mut self, t: f64, r: u32, s: u32) -> Result<(), SimError> {
        let stage = &mut self.replicas[r as usize].stages[s as usize];
        if stage.busy {
            return Ok(());
        }
        let Some(slot) = stage.queue.pop_front() else {
            return Ok(());
        };
        stage.busy = true;
        let batch = self.batches.get(slot);
        self.entries.clear();
        for (&id, &n) in batch.requests.iter().zip(&batch.num_tokens) {
            let req = &self.requests[id as usize];
            self.entries.push(BatchEntry {
                num_tokens: n,
                num_processed_tokens: req.num_processed_tokens,
                is_prefill_complete: req.is_prefill_complete,
            });
        }
        // Members do not change between stages unless a preemption touched them: price every
        // stage at once and reuse the times while the members are the same.
        let batch = self.batches.get_mut(slot);
        if batch.stage_times.is_empty() || batch.priced != self.entries {
            batch.priced.clear();
            batch.priced.extend_from_slice(&self.entries);
            batch
                .stage_times
                .resize(self.cfg.num_pipeline_stages as usize, StageTime::default());
            self.predictor
                .predict_stages(&self.entries, &mut batch.stage_times)
                .map_err(|source| SimError::Predictor {
                    time: t,
                    replica: r,
                    source,
                })?;
        }
        let time = batch.stage_times[s as usize];
        let batch = self.batches.get(slot);
        stage.exec_s = time.total_s;
        stage.model_s = time.model_s;
        for &id in &batch.requests {
            self.requests[id as usize].on_batch_stage_schedule(t);
        }
        self.observer
            .on_stage_schedule(t, r, s, batch, &self.entries, &time);
        self.queue.push(
            t + time.total_s,
            Event::BatchStageEnd {
                replica: r,
                stage: s,
                batch: slot,
            },
        );
        Ok(())
    }

    fn on_stage_end(&mut self, t: f64, r: u32, s: u32, slot: BatchSlot) {
        let stage = &mut self.replicas[r as usize].stages[s as usize];
        stage.busy = false;
        let (exec, model) = (stage.exec_s, stage.model_s);
        let batch = self.batches.get(slot);
        for &id in &batch.requests {
            self.requests[id as usize].on_batch_stage_end(t, exec, model);
        }
        self.observer.on_stage_end(t, r, s, batch, exec);
        self.queue.push(
            t,
            Event::ReplicaStageSchedule {
                replica: r,
                stage: s,
            },
        );
        if s + 1 == self.cfg.num_pipeline_stages {
            self.queue.push(
                t,
                Event::BatchEnd {
                    replica: r,
                    batch: slot,
                },
            );
        } else {
            self.queue.push(
                t,
                Event::BatchStageArrival {
                    replica: r,
                    stage: s + 1,
                    batch: slot,
                },
            );
        }
    }

    fn on_batch_end(&mut self, t: f64, r: u32, slot: BatchSlot) {
        let batch = self.batches.get(slot);
        for (&id, &n) in batch.requests.iter().zip(&batch.num_tokens) {
            self.requests[id as usize].on_batch_end(t, n);
        }
        let rep = &mut self.replicas[r as usize];
        rep.base.num_running_batches -= 1;
        rep.sched
            .on_batch_end(&mut rep.base, &mut self.requests, batch);
        self.observer.on_batch_end(
            t,
            r,
            batch,
            &self.requests,
            rep.base.blocks.memory_usage_percent(),
        );
        if self.observer.should_stop() {
            self.stopped_by_observer = true;
        }
        for &id in &batch.requests {
            let req = &self.requests[id as usize];
            if req.completed {
                self.observer.on_request_completed(t, req);
                self.source.on_complete(u64::from(id), t);
            }
        }
        self.batches.release(slot);
        self.queue.push(t, Event::ReplicaSchedule { replica: r });
    }
}
