//! Inter-arrival generators of the synthetic workload: Poisson, gamma, static and trace
//! (vidur-behavior.md §6.4, §12 item 8).
//!
//! Randomness comes from the caller's interval stream, independent of the length stream, so
//! changing the length distribution never moves arrival times.

use std::path::Path;

use rand::RngExt;
use rand_distr::{Distribution, Gamma};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::csvio::{parse_datetime_us, resolve, Csv};
use super::{check_scale, IntervalConfig, WorkloadError};
use crate::compat::Compat;

const F: &str = "workload.synthetic.intervals";

/// A ready-to-draw interval generator (`Clone`: the lazy source replays a copy to check a
/// length trace suffices).
#[derive(Clone)]
pub(crate) enum Intervals {
    /// Exponential gaps; `cap` is Vidur's 3/qps truncation, or +∞.
    Poisson {
        qps: f64,
        cap: f64,
    },
    Gamma(Gamma<f64>),
    Static,
    Trace {
        gaps: Vec<f64>,
        next: usize,
    },
}

/// A finite value > 0 whose reciprocal is finite too (a subnormal qps would make gaps infinite).
fn positive(field: String, v: f64) -> Result<f64, WorkloadError> {
    if v.is_finite() && v > 0.0 && (1.0 / v).is_finite() {
        Ok(v)
    } else {
        Err(WorkloadError::invalid(
            field,
            format!("must be > 0, got {v}"),
        ))
    }
}

/// Validates the config and prepares the generator (reading an arrival trace).
pub(crate) fn build(
    cfg: &IntervalConfig,
    compat: Compat,
    base_dir: &Path,
) -> Result<Intervals, WorkloadError> {
    Ok(match *cfg {
        IntervalConfig::Poisson { qps } => {
            let qps = positive(format!("{F}.poisson.qps"), qps)?;
            // Vidur truncates every gap at 3/qps (§6.4), which raises the effective rate to
            // 1.0524×qps and lowers the CV to ≈0.88. Only compat mode keeps that bug; by
            // default the gaps are exactly exponential, so `qps` means what it says.
            let cap = if compat.is_vidur() {
                3.0 / qps
            } else {
                f64::INFINITY
            };
            Intervals::Poisson { qps, cap }
        }
        IntervalConfig::Gamma { qps, cv } => {
            let qps = positive(format!("{F}.gamma.qps"), qps)?;
            let cv = positive(format!("{F}.gamma.cv"), cv)?;
            // Vidur: shape = 1/cv², scale = 1/(qps·shape), so the mean gap is 1/qps.
            let shape = 1.0 / (cv * cv);
            let scale = 1.0 / (qps * shape);
            let g = Gamma::new(shape, scale).map_err(|e| {
                WorkloadError::invalid(
                    format!("{F}.gamma"),
                    format!(
                        "gives an invalid gamma distribution (shape {shape}, scale {scale}): {e}"
                    ),
                )
            })?;
            Intervals::Gamma(g)
        }
        IntervalConfig::Static {} => Intervals::Static,
        IntervalConfig::Trace {
            ref trace_file,
            time_scale_factor,
        } => {
            check_scale(&format!("{F}.trace.time_scale_factor"), time_scale_factor)?;
            read_trace(base_dir, trace_file, time_scale_factor)?
        }
    })
}

/// Reads arrival times (`arrived_at` seconds, or Vidur's `arrival_time` datetimes floored to
/// whole seconds since the earliest) and turns them into scaled gaps. Vidur's start/end
/// window filter is not modelled (the config has no such fields): every row is used.
fn read_trace(base_dir: &Path, file: &str, scale: f64) -> Result<Intervals, WorkloadError> {
    let mut csv = Csv::open(resolve(base_dir, file), &format!("{F}.trace.trace_file"))?;
    let (col, datetime) = match (csv.find("arrived_at"), csv.find("arrival_time")) {
        (Some(c), _) => (c, false),
        (None, Some(c)) => (c, true),
        (None, None) => return Err(csv.missing("arrived_at (seconds) or arrival_time (datetime)")),
    };
    // Raw values: seconds, or microseconds since 1970 for datetimes.
    let mut raw: Vec<f64> = Vec::new();
    let mut prev = f64::NEG_INFINITY;
    while let Some(line) = csv.next_row()? {
        let v = if datetime {
            let s = csv.cell(line, col)?;
            parse_datetime_us(s).ok_or_else(|| {
                csv.bad(line, col, "a datetime like 2021-01-31 12:00:00[.ffffff]", s)
            })? as f64
        } else {
            csv.non_negative(line, col)?
        };
        // Gaps are diffs of consecutive rows, so a decreasing row would be a negative gap.
        if v < prev {
            let s = csv.cell(line, col)?.to_string();
            return Err(csv.bad(line, col, "arrival times in non-decreasing order", &s));
        }
        prev = v;
        raw.push(v);
    }
    if raw.len() < 2 {
        return Err(csv.trace_err(format!(
            "the arrival trace has {} data rows; arrivals are the gaps between rows, so it needs at least 2",
            raw.len()
        )));
    }
    if datetime {
        // Whole seconds since the earliest arrival (floor division by 1 s), as Vidur does.
        let min = raw[0];
        for v in &mut raw {
            *v = ((*v - min) / 1e6).floor();
        }
    }
    let gaps = raw
        .windows(2)
        .map(|w| w[1] * scale - w[0] * scale)
        .collect();
    Ok(Intervals::Trace { gaps, next: 0 })
}

impl Intervals {
    /// Next inter-arrival gap in seconds (≥ 0); `None` when an arrival trace is exhausted.
    #[inline]
    pub fn next(&mut self, rng: &mut Xoshiro256PlusPlus) -> Option<f64> {
        match self {
            Intervals::Poisson { qps, cap } => {
                // −ln(1 − u)/qps with u in [0, 1); ln_1p keeps precision for small u.
                let u = rng.random::<f64>();
                Some((-(-u).ln_1p() / *qps).min(*cap))
            }
            Intervals::Gamma(g) => Some(g.sample(rng)),
            Intervals::Static => Some(0.0),
            Intervals::Trace { gaps, next } => {
                let g = gaps.get(*next).copied();
                *next += 1;
                g
            }
        }
    }

    /// Gaps left in an arrival trace; `None` for the endless generators.
    pub fn remaining_gaps(&self) -> Option<usize> {
        match self {
            Intervals::Trace { gaps, next } => Some(gaps.len().saturating_sub(*next)),
            _ => None,
        }
    }

    /// True for the arrival-trace generator (which may run without a count or duration).
    pub fn is_trace(&self) -> bool {
        matches!(self, Intervals::Trace { .. })
    }

    /// True when every gap is 0 (a duration bound would never be reached).
    pub fn is_static(&self) -> bool {
        matches!(self, Intervals::Static)
    }
}
