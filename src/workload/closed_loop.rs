//! Closed-loop (fixed-concurrency) workloads: `concurrency` clients, each with one request in
//! flight at a time, as `vllm bench serve --max-concurrency` and genai-perf drive a server.
//!
//! Client k (0-based) sends its first request at `ramp_up_s · k / concurrency`; whenever a
//! request completes at `t`, its client sends the next one at `t + think_time_s`, until
//! `num_requests` have been issued. Arrivals therefore depend on the simulation: the source is
//! fed completions by the engine ([`RequestSource::on_complete`]) and cannot be listed ahead of
//! it. Lengths are drawn when a request is handed out, so request i in arrival order always
//! gets the i-th draw of the length stream (the same stream a synthetic workload with the same
//! seed uses).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::path::Path;

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::{
    check_max_tokens, default_max_tokens, default_seed, lengths, LengthConfig, RequestSource,
    RequestSpec, WorkloadError,
};

/// Closed-loop workload (YAML: `workload: {closed_loop: {concurrency: 32, num_requests: 640,
/// warmup_requests: 64, lengths: {fixed: {...}}, seed: 7}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosedLoopConfig {
    /// Clients, i.e. requests kept in flight (≥ 1).
    pub concurrency: u32,
    /// Requests issued in all, warm-up included (≥ 1).
    pub num_requests: u64,
    /// The first this-many requests in arrival order warm the system up and are left out of
    /// the metrics (default 0; < num_requests).
    #[serde(default)]
    pub warmup_requests: u64,
    /// Delay between a completion and the client's next request, s (default 0).
    #[serde(default)]
    pub think_time_s: f64,
    /// Clients start spread evenly over this many seconds: client k at `ramp_up_s · k / N`
    /// (default 0: all at t = 0).
    #[serde(default)]
    pub ramp_up_s: f64,
    /// Largest P + D of one request; also the replica's max request length (default 4096).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Request-length distribution (any the synthetic workload accepts).
    pub lengths: LengthConfig,
    /// Seed of the length stream (default 42).
    #[serde(default = "default_seed")]
    pub seed: u64,
}

const F: &str = "workload.closed_loop";

/// A follow-up request waiting for its arrival time. Ordered by (time, issue sequence), so
/// equal times leave in the order the completions issued them.
#[derive(Debug, Clone, Copy)]
struct Pending {
    at: f64,
    seq: u64,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> Ordering {
        self.at.total_cmp(&o.at).then(self.seq.cmp(&o.seq))
    }
}

/// The closed-loop request source. The ramp-up clients' first requests are computed on demand
/// (their times rise with k), so only follow-ups sit in the heap: at most one per request in
/// flight, never `num_requests` of them.
pub struct ClosedLoopSource {
    lrng: Xoshiro256PlusPlus,
    lengths: lengths::Lengths,
    max_tokens: u32,
    num_requests: u64,
    warmup_requests: u64,
    concurrency: u32,
    think_time_s: f64,
    ramp_up_s: f64,
    /// Clients that send a first request: min(concurrency, num_requests).
    clients: u64,
    /// Next client whose first request has not been handed out.
    next_client: u64,
    /// Follow-ups, earliest first.
    heap: BinaryHeap<Reverse<Pending>>,
    /// Requests issued so far (first requests of all clients + follow-ups enqueued).
    issued: u64,
    /// Requests handed to the engine.
    popped: u64,
    /// Completions counted.
    completed: u64,
    /// Arrival time of the last request handed out (follow-ups never arrive before it).
    last_arrival: f64,
    /// Arrival time of the next request, kept up to date so `next_arrival` is a field read.
    next: Option<f64>,
}

/// Lengths errors name `workload.synthetic.lengths…`; point them at this workload's field.
fn rename_field(e: WorkloadError) -> WorkloadError {
    let fix = |field: String| match field.strip_prefix("workload.synthetic.") {
        Some(rest) => format!("{F}.{rest}"),
        None => field,
    };
    match e {
        WorkloadError::Invalid { field, msg } => WorkloadError::Invalid {
            field: fix(field),
            msg,
        },
        WorkloadError::Io { field, path, error } => WorkloadError::Io {
            field: fix(field),
            path,
            error,
        },
        other => other,
    }
}

fn check_seconds(what: &str, v: f64) -> Result<(), WorkloadError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(WorkloadError::invalid(
            format!("{F}.{what}"),
            format!("must be a finite number >= 0, got {v}"),
        ))
    }
}

impl ClosedLoopSource {
    /// Validates `cfg` and prepares the length generator (reading a length trace relative to
    /// `base_dir`). Every configuration error is raised here.
    pub fn new(cfg: &ClosedLoopConfig, base_dir: &Path) -> Result<Self, WorkloadError> {
        if cfg.concurrency == 0 {
            return Err(WorkloadError::invalid(
                format!("{F}.concurrency"),
                "must be >= 1, got 0",
            ));
        }
        if cfg.num_requests == 0 {
            return Err(WorkloadError::invalid(
                format!("{F}.num_requests"),
                "must be >= 1, got 0",
            ));
        }
        if cfg.warmup_requests >= cfg.num_requests {
            return Err(WorkloadError::invalid(
                format!("{F}.warmup_requests"),
                format!(
                    "must be < num_requests ({}, which counts the warm-up too), got {}",
                    cfg.num_requests, cfg.warmup_requests
                ),
            ));
        }
        check_seconds("think_time_s", cfg.think_time_s)?;
        check_seconds("ramp_up_s", cfg.ramp_up_s)?;
        check_max_tokens(&format!("{F}.max_tokens"), cfg.max_tokens)?;
        // The synthetic workload's length stream (the seed's stream jumped 2^128 ahead), so the
        // same seed and lengths give the same lengths in both.
        let mut lrng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed);
        lrng.jump();
        let lengths = lengths::build(&cfg.lengths, cfg.max_tokens, base_dir, &mut lrng)
            .map_err(rename_field)?;
        if let Some((path, rows)) = lengths.trace_info() {
            if cfg.num_requests > rows as u64 {
                return Err(WorkloadError::TraceExhausted {
                    path: path.to_path_buf(),
                    rows,
                    needed: format!("num_requests = {}", cfg.num_requests),
                });
            }
        }
        let clients = cfg.num_requests.min(u64::from(cfg.concurrency));
        // Room for the follow-ups of every client without regrowth, within reason.
        let cap = usize::try_from(clients).unwrap_or(usize::MAX).min(1 << 16);
        Ok(ClosedLoopSource {
            lrng,
            lengths,
            max_tokens: cfg.max_tokens,
            num_requests: cfg.num_requests,
            warmup_requests: cfg.warmup_requests,
            concurrency: cfg.concurrency,
            think_time_s: cfg.think_time_s,
            ramp_up_s: cfg.ramp_up_s,
            clients,
            next_client: 0,
            heap: BinaryHeap::with_capacity(cap),
            issued: clients,
            popped: 0,
            completed: 0,
            last_arrival: 0.0,
            next: Some(0.0),
        })
    }

    /// Warm-up requests (the first this-many in arrival order).
    pub fn warmup_requests(&self) -> u64 {
        self.warmup_requests
    }

    /// Requests handed out and not yet reported complete.
    pub fn in_flight(&self) -> u64 {
        self.popped - self.completed
    }

    /// First-request time of client `k`.
    #[inline]
    fn client_start(&self, k: u64) -> f64 {
        self.ramp_up_s * k as f64 / f64::from(self.concurrency)
    }

    /// The next request's time and whether it is a client's first request. On equal times the
    /// first request wins: it was issued (at t = 0) before any follow-up.
    #[inline]
    fn peek(&self) -> Option<(f64, bool)> {
        let first = (self.next_client < self.clients).then(|| self.client_start(self.next_client));
        let follow = self.heap.peek().map(|r| r.0.at);
        match (first, follow) {
            (Some(a), Some(b)) if b < a => Some((b, false)),
            (Some(a), _) => Some((a, true)),
            (None, Some(b)) => Some((b, false)),
            (None, None) => None,
        }
    }
}

impl RequestSource for ClosedLoopSource {
    #[inline]
    fn next_arrival(&self) -> Option<f64> {
        self.next
    }

    fn pop(&mut self) -> Option<RequestSpec> {
        let (at, first) = self.peek()?;
        // `None` only from a length trace shorter than num_requests, rejected in `new`.
        let (p, d) = self.lengths.next(&mut self.lrng, self.max_tokens)?;
        if first {
            self.next_client += 1;
        } else {
            self.heap.pop();
        }
        self.popped += 1;
        self.last_arrival = at;
        self.next = self.peek().map(|(t, _)| t);
        Some(RequestSpec {
            arrived_at: at,
            num_prefill_tokens: p,
            num_decode_tokens: d,
        })
    }

    fn on_complete(&mut self, _id: u64, t: f64) {
        // A completion of nothing in flight (a driver bug) must not add a client.
        if self.in_flight() == 0 {
            return;
        }
        self.completed += 1;
        if self.issued >= self.num_requests {
            return;
        }
        // `t` is never before the last arrival in the engine; the max keeps arrival times
        // monotone for any caller.
        let at = (t + self.think_time_s).max(self.last_arrival);
        self.heap.push(Reverse(Pending {
            at,
            seq: self.issued,
        }));
        self.issued += 1;
        self.next = self.peek().map(|(t, _)| t);
    }

    fn remaining(&self) -> Option<usize> {
        // Every issued request completes or the run stops, so this is exact for a full run.
        usize::try_from(self.num_requests - self.popped).ok()
    }
}
