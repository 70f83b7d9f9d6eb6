//! A request's lifecycle exactly as Vidur tracks it (vidur-behavior.md §2.1).
//!
//! Times are simulated seconds (`f64`). Field names follow Vidur so the metrics code reads like
//! the reference.

/// Index of a request in the simulation's request arena (its Vidur id).
pub type ReqId = u32;

/// One request and its Vidur state.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Id, 0-based in arrival order.
    pub id: ReqId,
    /// Arrival time (s).
    pub arrived_at: f64,
    /// Prompt tokens. Changes on restart (becomes everything processed so far).
    pub num_prefill_tokens: u32,
    /// Decode tokens. Changes on restart.
    pub num_decode_tokens: u32,
    /// Prompt tokens at arrival (for the histograms recorded at arrival).
    pub initial_prefill_tokens: u32,
    /// Decode tokens at arrival.
    pub initial_decode_tokens: u32,
    /// Tokens processed so far, including the bonus first output token.
    pub num_processed_tokens: u32,
    /// First batch formation time.
    pub scheduled_at: f64,
    /// Sum of stage execution times (total time, incl. CPU overhead).
    pub execution_time: f64,
    /// Sum of stage model execution times.
    pub model_execution_time: f64,
    /// `scheduled_at − arrived_at`.
    pub scheduling_delay: f64,
    /// Sum of gaps between consecutive stage executions of this request.
    pub preempted_time: f64,
    /// Completion time (0 while running).
    pub completed_at: f64,
    /// First time the prefill completed (kept across restarts).
    pub prefill_completed_at: f64,
    /// Start of the latest stage execution.
    pub latest_stage_scheduled_at: f64,
    /// End of the latest stage execution.
    pub latest_stage_completed_at: f64,
    /// Formation time of the latest iteration's batch.
    pub latest_iteration_scheduled_at: f64,
    /// End of the latest iteration.
    pub latest_iteration_completed_at: f64,
    /// `latest_iteration_scheduled_at − latest_iteration_completed_at` (previous).
    pub latest_iteration_scheduling_delay: f64,
    /// Set when a batch containing it is formed.
    pub scheduled: bool,
    /// Vidur's "waiting between stage executions" flag.
    pub preempted_flag: bool,
    /// All tokens processed.
    pub completed: bool,
    /// Prefill done in the current attempt.
    pub is_prefill_complete: bool,
    /// Number of preemption-by-recompute restarts.
    pub num_restarts: u32,
    /// KV blocks allocated to it on its replica (the Vidur `allocation_map` entry).
    pub blocks: u32,
    /// Whether it has an entry in its replica's allocation map.
    pub in_allocation_map: bool,
    /// Replica it was routed to (`u32::MAX` before routing).
    pub replica: u32,
}

impl Request {
    /// A new request as Vidur's `Request(arrived_at, P, D)`.
    pub fn new(id: ReqId, arrived_at: f64, prefill: u32, decode: u32) -> Self {
        Request {
            id,
            arrived_at,
            num_prefill_tokens: prefill,
            num_decode_tokens: decode,
            initial_prefill_tokens: prefill,
            initial_decode_tokens: decode,
            replica: u32::MAX,
            ..Default::default()
        }
    }

    /// `P + D`.
    pub fn total_tokens(&self) -> u32 {
        self.num_prefill_tokens + self.num_decode_tokens
    }

    /// `min(processed, P)`.
    pub fn num_processed_prefill_tokens(&self) -> u32 {
        self.num_processed_tokens.min(self.num_prefill_tokens)
    }

    /// `max(processed − P, 0)`.
    pub fn num_processed_decode_tokens(&self) -> u32 {
        self.num_processed_tokens
            .saturating_sub(self.num_prefill_tokens)
    }

    /// `processed > P + 1`: at least one decode iteration finished.
    pub fn has_started_decode(&self) -> bool {
        self.num_processed_tokens > self.num_prefill_tokens + 1
    }

    /// Called when a batch containing the request is formed.
    pub fn on_batch_schedule(&mut self, t: f64) {
        self.latest_iteration_scheduled_at = t;
        self.latest_iteration_scheduling_delay = t - self.latest_iteration_completed_at;
        if self.scheduled {
            return;
        }
        if self.num_restarts > 0 {
            // After a restart only the flag is set again; scheduled_at keeps the first value.
            self.scheduled = true;
            return;
        }
        self.scheduled_at = t;
        self.scheduling_delay = t - self.arrived_at;
        self.scheduled = true;
    }

    /// Called at each stage start.
    pub fn on_batch_stage_schedule(&mut self, t: f64) {
        self.latest_stage_scheduled_at = t;
        if self.latest_stage_completed_at == 0.0 {
            self.preempted_time = 0.0;
        } else {
            self.preempted_time += t - self.latest_stage_completed_at;
        }
        self.preempted_flag = false;
    }

    /// Called at each stage end.
    pub fn on_batch_stage_end(&mut self, t: f64, exec: f64, model_exec: f64) {
        self.execution_time += exec;
        self.model_execution_time += model_exec;
        self.latest_stage_completed_at = t;
        self.preempted_flag = true;
    }

    /// Called at the end of the last stage with this iteration's token count.
    pub fn on_batch_end(&mut self, t: f64, num_tokens: u32) {
        self.num_processed_tokens += num_tokens;
        self.latest_iteration_completed_at = t;
        debug_assert!(self.num_processed_tokens <= self.total_tokens());
        if self.num_processed_tokens == self.num_prefill_tokens {
            self.is_prefill_complete = true;
            // The first output token comes with the final prefill chunk.
            self.num_processed_tokens += 1;
            if self.prefill_completed_at == 0.0 {
                self.prefill_completed_at = t;
            }
        }
        if self.num_processed_tokens == self.total_tokens() {
            self.completed = true;
            self.completed_at = t;
        }
    }

    /// Preemption by recompute: everything processed becomes the new prompt.
    pub fn restart(&mut self) {
        let total = self.total_tokens();
        self.num_prefill_tokens = self.num_processed_tokens;
        self.num_decode_tokens = total - self.num_prefill_tokens;
        self.num_processed_tokens = 0;
        self.scheduled = false;
        self.preempted_flag = false;
        self.completed = false;
        self.is_prefill_complete = false;
        self.num_restarts += 1;
    }
}
