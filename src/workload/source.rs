//! Request sources: where the engine pulls arrivals from, one at a time, in arrival order.
//!
//! A source only has to know its *next* request, so a synthetic workload of 10⁸ requests under
//! a 10 s time limit costs the memory of the requests that arrive, not of the 10⁸ it could make.
//! [`SyntheticSource`] draws requests lazily from the same seeded streams, in the same order, as
//! the eager generator did, so it yields exactly the same sequence; trace replay reads its file
//! into memory anyway and replays it from a vector; a slice of [`RequestSpec`]s (the search's
//! probes) is a source too.
//!
//! The engine tells a source when a request completes ([`RequestSource::on_complete`]). Open-loop
//! sources ignore it; the closed-loop source ([`super::ClosedLoopSource`], a fixed client
//! population that sends its next request after a think time) issues follow-ups there.

use std::path::Path;

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::{
    check_max_tokens, intervals, lengths, trace, ClosedLoopSource, RequestSpec, SyntheticConfig,
    WorkloadConfig, WorkloadError,
};
use crate::compat::Compat;

/// Requests in arrival order, handed to the engine one at a time.
///
/// Contract: arrival times never decrease from one popped request to the next, and
/// `next_arrival` is the arrival time of the request the next `pop` returns. The engine calls
/// `next_arrival` once per event, so it should be cheap (a stored value).
pub trait RequestSource {
    /// Arrival time (s) of the next request; `None` when no request is pending (for an open-loop
    /// source: the workload is exhausted).
    fn next_arrival(&self) -> Option<f64>;

    /// Takes the next request, the one `next_arrival` announced.
    fn pop(&mut self) -> Option<RequestSpec>;

    /// Request `id` (0-based, in arrival order) completed at simulated time `t`. Open-loop sources
    /// ignore it (the default). A closed-loop source may enqueue a follow-up request here; its
    /// arrival must not be before `t`.
    fn on_complete(&mut self, _id: u64, _t: f64) {}

    /// Requests still to come, when known exactly (used to size buffers).
    fn remaining(&self) -> Option<usize> {
        None
    }
}

/// Requests held in memory, sorted by arrival, replayed in order: borrowed ([`SliceSource`],
/// the search's probes) or owned ([`VecSource`], trace replay).
#[derive(Debug, Clone)]
pub struct ListSource<L> {
    specs: L,
    next: usize,
}

/// A borrowed slice of requests as a source.
pub type SliceSource<'a> = ListSource<&'a [RequestSpec]>;

/// An owned list of requests as a source (trace replay).
pub type VecSource = ListSource<Vec<RequestSpec>>;

impl<'a> ListSource<&'a [RequestSpec]> {
    /// A source replaying `specs` (which must be sorted by arrival time).
    pub fn new(specs: &'a [RequestSpec]) -> Self {
        ListSource { specs, next: 0 }
    }
}

impl ListSource<Vec<RequestSpec>> {
    /// A source replaying `specs`, stably sorted by arrival time first.
    pub fn new(mut specs: Vec<RequestSpec>) -> Self {
        // Stable: equal arrivals keep file order. Sorted input costs one linear pass.
        specs.sort_by(|a, b| a.arrived_at.total_cmp(&b.arrived_at));
        ListSource { specs, next: 0 }
    }
}

impl<L> ListSource<L> {
    /// Requests popped so far.
    pub fn consumed(&self) -> usize {
        self.next
    }
}

impl<L: AsRef<[RequestSpec]>> RequestSource for ListSource<L> {
    #[inline]
    fn next_arrival(&self) -> Option<f64> {
        self.specs.as_ref().get(self.next).map(|r| r.arrived_at)
    }

    #[inline]
    fn pop(&mut self) -> Option<RequestSpec> {
        let r = self.specs.as_ref().get(self.next).copied();
        self.next += usize::from(r.is_some());
        r
    }

    fn remaining(&self) -> Option<usize> {
        Some(self.specs.as_ref().len() - self.next)
    }
}

/// How many synthetic requests to make (Vidur §6.2 step 3: duration wins over count).
#[derive(Debug, Clone, Copy)]
enum Mode {
    Duration(f64),
    Count(u64),
    UntilTraceEnds,
}

/// The synthetic generator (Vidur §6.2), drawing one request at a time: per request, the gap
/// first (`t += gap`, so the first request arrives at the first gap, not at 0), then the
/// lengths. Holds the next request ready so [`RequestSource::next_arrival`] is a field read.
pub struct SyntheticSource {
    irng: Xoshiro256PlusPlus,
    lrng: Xoshiro256PlusPlus,
    intervals: intervals::Intervals,
    lengths: lengths::Lengths,
    max_tokens: u32,
    mode: Mode,
    /// Arrival time of the last drawn request (or of the gap that ended the workload).
    t: f64,
    /// Requests drawn so far (including `peeked`).
    made: u64,
    done: bool,
    peeked: Option<RequestSpec>,
}

const F: &str = "workload.synthetic";

impl SyntheticSource {
    /// Validates `cfg`, prepares the generators and draws the first request. Every error the
    /// eager generator could raise is raised here, before the first request is handed out
    /// (a trace of lengths too short for the workload is detected up front).
    pub fn new(
        cfg: &SyntheticConfig,
        compat: Compat,
        base_dir: &Path,
    ) -> Result<Self, WorkloadError> {
        check_max_tokens(&format!("{F}.max_tokens"), cfg.max_tokens)?;
        // Two independent streams: the length stream is the interval stream jumped 2^128 draws
        // ahead, so they never overlap and changing the length distribution (or how many draws
        // it takes) leaves the arrival times untouched. Vidur shares one MT19937 stream instead.
        let irng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed);
        let mut lrng = irng.clone();
        lrng.jump();
        let intervals = intervals::build(&cfg.intervals, compat, base_dir)?;
        let lengths = lengths::build(&cfg.lengths, cfg.max_tokens, base_dir, &mut lrng)?;

        let mode = match (cfg.duration_s, cfg.num_requests) {
            (Some(d), _) => {
                if !(d.is_finite() && d > 0.0) {
                    return Err(WorkloadError::invalid(
                        format!("{F}.duration_s"),
                        format!("must be a finite number > 0, got {d}"),
                    ));
                }
                if intervals.is_static() {
                    // Every gap is 0, so t never reaches the duration (Vidur loops forever).
                    return Err(WorkloadError::invalid(
                        format!("{F}.duration_s"),
                        "cannot be used with static intervals (every request arrives at t = 0, \
                         so the duration is never reached); set num_requests instead",
                    ));
                }
                Mode::Duration(d)
            }
            (None, Some(0)) => {
                return Err(WorkloadError::invalid(
                    format!("{F}.num_requests"),
                    "must be > 0, got 0",
                ))
            }
            (None, Some(n)) => Mode::Count(n),
            (None, None) if intervals.is_trace() => Mode::UntilTraceEnds,
            (None, None) => {
                return Err(WorkloadError::invalid(
                    F,
                    "needs num_requests or duration_s (only a trace arrival process may omit \
                     both; it then runs until the trace ends)",
                ))
            }
        };
        let mut src = SyntheticSource {
            irng,
            lrng,
            intervals,
            lengths,
            max_tokens: cfg.max_tokens,
            mode,
            t: 0.0,
            made: 0,
            done: false,
            peeked: None,
        };
        src.check_lengths_suffice()?;
        src.peeked = src.draw();
        if src.peeked.is_none() {
            return Err(WorkloadError::NoRequests(match mode {
                Mode::Duration(d) => format!(
                    "the first arrival came at t = {} s, not before {F}.duration_s = {d} s",
                    src.t
                ),
                _ => "the arrival source produced no gaps".into(),
            }));
        }
        Ok(src)
    }

    /// A trace of lengths runs out after its rows. The eager generator failed when the workload
    /// needed more; the same verdict is reached here before any request is drawn: from the
    /// counts alone for `num_requests`, and by replaying the arrival stream (at most rows + 1
    /// gaps, no allocation) for `duration_s`. Other length sources never run out.
    fn check_lengths_suffice(&self) -> Result<(), WorkloadError> {
        let Some((path, rows)) = self.lengths.trace_info() else {
            return Ok(());
        };
        let exhausted = |needed: String| WorkloadError::TraceExhausted {
            path: path.to_path_buf(),
            rows,
            needed,
        };
        match self.mode {
            // Request k (0-based) takes gap k, then length row k; an arrival trace that ends
            // first just ends the workload.
            Mode::Count(n) => {
                let gaps = self.intervals.remaining_gaps();
                if n > rows as u64 && gaps.is_none_or(|g| g > rows) {
                    return Err(exhausted(format!("num_requests = {n}")));
                }
            }
            Mode::Duration(dur) => {
                let mut irng = self.irng.clone();
                let mut intervals = self.intervals.clone();
                let mut t = 0.0f64;
                for k in 0..=rows {
                    let Some(gap) = intervals.next(&mut irng) else {
                        break;
                    };
                    t += gap;
                    if t >= dur {
                        break;
                    }
                    if k == rows {
                        return Err(exhausted(format!(
                            "arrivals keep coming before duration_s = {dur} s; it ran out at t = {t:.3} s"
                        )));
                    }
                }
            }
            // Stops at whichever source ends first (as Vidur does): never an error.
            Mode::UntilTraceEnds => {}
        }
        Ok(())
    }

    /// Draws the next request, exactly as one iteration of the eager generator's loop did.
    fn draw(&mut self) -> Option<RequestSpec> {
        if self.done {
            return None;
        }
        let r = self.draw_inner();
        match r {
            Some(_) => self.made += 1,
            None => self.done = true,
        }
        r
    }

    #[inline]
    fn draw_inner(&mut self) -> Option<RequestSpec> {
        if let Mode::Count(n) = self.mode {
            if self.made >= n {
                return None;
            }
        }
        // An arrival trace that ends early just ends the workload (Vidur would crash).
        let gap = self.intervals.next(&mut self.irng)?;
        self.t += gap;
        if let Mode::Duration(dur) = self.mode {
            // Vidur appends this last request and then drops it (arrived_at ≥ duration); we
            // skip it directly, without spending a length draw on it.
            if self.t >= dur {
                return None;
            }
        }
        // `None` only from a trace of lengths: the end of the workload for `UntilTraceEnds`,
        // unreachable otherwise (checked in `new`).
        let (p, d) = self.lengths.next(&mut self.lrng, self.max_tokens)?;
        Some(RequestSpec {
            arrived_at: self.t,
            num_prefill_tokens: p,
            num_decode_tokens: d,
        })
    }
}

impl RequestSource for SyntheticSource {
    #[inline]
    fn next_arrival(&self) -> Option<f64> {
        self.peeked.map(|r| r.arrived_at)
    }

    #[inline]
    fn pop(&mut self) -> Option<RequestSpec> {
        let r = self.peeked.take()?;
        self.peeked = self.draw();
        Some(r)
    }

    fn remaining(&self) -> Option<usize> {
        match self.mode {
            // Exact unless an arrival trace ends first.
            Mode::Count(n) if !self.intervals.is_trace() => {
                usize::try_from(n - self.made + u64::from(self.peeked.is_some())).ok()
            }
            _ => None,
        }
    }
}

/// The source of a [`WorkloadConfig`]: lazy for synthetic workloads, a replayed vector for
/// traces, completion-driven for a closed loop. Also an [`Iterator`] over the requests; for a
/// closed loop, which iteration tells of no completions, that yields only each client's first
/// request (collect open-loop workloads only, or use [`super::generate`], which refuses a
/// closed loop).
pub enum WorkloadSource {
    /// Drawn on demand.
    Synthetic(Box<SyntheticSource>),
    /// Read up front.
    Replay(VecSource),
    /// Issued as requests complete.
    ClosedLoop(Box<ClosedLoopSource>),
}

impl WorkloadSource {
    /// Builds the source of `cfg` (see [`super::generate`] for `compat` and `base_dir`).
    pub fn new(
        cfg: &WorkloadConfig,
        compat: Compat,
        base_dir: &Path,
    ) -> Result<Self, WorkloadError> {
        Ok(match cfg {
            WorkloadConfig::Synthetic(s) => {
                WorkloadSource::Synthetic(Box::new(SyntheticSource::new(s, compat, base_dir)?))
            }
            WorkloadConfig::TraceReplay(t) => {
                WorkloadSource::Replay(VecSource::new(trace::replay(t, compat, base_dir)?))
            }
            WorkloadConfig::ClosedLoop(c) => {
                WorkloadSource::ClosedLoop(Box::new(ClosedLoopSource::new(c, base_dir)?))
            }
        })
    }
}

impl RequestSource for WorkloadSource {
    #[inline]
    fn next_arrival(&self) -> Option<f64> {
        match self {
            WorkloadSource::Synthetic(s) => s.next_arrival(),
            WorkloadSource::Replay(v) => v.next_arrival(),
            WorkloadSource::ClosedLoop(c) => c.next_arrival(),
        }
    }

    #[inline]
    fn pop(&mut self) -> Option<RequestSpec> {
        match self {
            WorkloadSource::Synthetic(s) => s.pop(),
            WorkloadSource::Replay(v) => v.pop(),
            WorkloadSource::ClosedLoop(c) => c.pop(),
        }
    }

    #[inline]
    fn on_complete(&mut self, id: u64, t: f64) {
        if let WorkloadSource::ClosedLoop(c) = self {
            c.on_complete(id, t);
        }
    }

    fn remaining(&self) -> Option<usize> {
        match self {
            WorkloadSource::Synthetic(s) => s.remaining(),
            WorkloadSource::Replay(v) => v.remaining(),
            WorkloadSource::ClosedLoop(c) => c.remaining(),
        }
    }
}

impl Iterator for WorkloadSource {
    type Item = RequestSpec;

    fn next(&mut self) -> Option<RequestSpec> {
        self.pop()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let next = usize::from(self.next_arrival().is_some());
        if let WorkloadSource::ClosedLoop(c) = self {
            // Without completions iteration stops after the clients' first requests.
            return (next, c.remaining());
        }
        match self.remaining() {
            Some(n) => (n, Some(n)),
            None => (next, None),
        }
    }
}
