//! Trace replay: requests read row by row from a Vidur-format trace CSV (vidur-behavior.md §6.5,
//! §12 item 9), plus the max-token clipping rules shared with the trace length generator (§6.3).

use std::path::Path;

use super::csvio::{resolve, Csv};
use super::{check_max_tokens, check_scale, RequestSpec, TraceReplayConfig, WorkloadError};
use crate::compat::Compat;

/// Scales a token count and truncates it toward zero, as pandas' `(x * f).astype(int)` does
/// (`v` and `f` are finite and non-negative; `as` saturates absurdly large products).
#[inline]
pub(crate) fn scale_tokens(v: f64, f: f64) -> u64 {
    (v * f) as u64
}

/// Trace replay's max-token clip, applied after both counts were clipped to ≥ 1.
///
/// Vidur subtracts the whole excess `P + D − max_tokens` from the prompt. If `D` alone nearly
/// fills `max_tokens` the prompt becomes ≤ 0 there (Vidur only asserts the total):
/// * `Compat::Vidur` keeps Vidur's rule exactly; since a request with no prompt cannot exist,
///   that case returns `Err(prefill)` (the non-positive prompt Vidur would have made), which
///   the caller turns into an error instead of simulating garbage.
/// * `Compat::Default` never lets the prompt drop below 1 token and takes the rest of the
///   excess from the output, so every request stays valid and `P + D ≤ max_tokens`.
///
/// `max_tokens` ≥ 2 (validated by the caller).
pub(crate) fn clip_replay(
    p: u64,
    d: u64,
    max_tokens: u32,
    compat: Compat,
) -> Result<(u32, u32), i128> {
    let (p, d, max) = (
        i128::from(p.max(1)),
        i128::from(d.max(1)),
        i128::from(max_tokens),
    );
    let excess = (p + d - max).max(0);
    if excess == 0 {
        return Ok((p as u32, d as u32));
    }
    if compat.is_vidur() {
        let p = p - excess;
        if p < 1 {
            return Err(p);
        }
        Ok((p as u32, d as u32))
    } else {
        let p = (p - excess).max(1);
        Ok((p as u32, (max - p) as u32))
    }
}

/// The trace length generator's proportional clip (Vidur §6.3, both modes):
/// `excess = max(0, P + D − max)`, `P −= ceil(excess·P/(P+D))`, `D −= ceil(excess·D/(P+D))`,
/// then both clipped to ≥ 1. Integer arithmetic gives exactly Vidur's float `ceil` results
/// (the quotients of integers < 2^53 are correctly rounded, so exact integers stay exact).
/// The sum of the two ceilings is at least the excess and a positive side never drops below 0,
/// so only a raw count of 0 can make the ≥ 1 clip break `P + D ≤ max`; Vidur's assert would
/// then crash, and we take the extra token from the larger side instead.
pub(crate) fn clip_proportional(p: u64, d: u64, max_tokens: u32) -> (u32, u32) {
    let (mut p, mut d, max) = (u128::from(p), u128::from(d), u128::from(max_tokens));
    let total = p + d;
    if total > max {
        // P − ceil(excess·P/total) = floor(max·P/total) exactly (P is an integer), and
        // max·P < 2^96 cannot overflow where excess·P (up to 2^130) could.
        p = max * p / total;
        d = max * d / total;
    }
    let (mut p, mut d) = (p.max(1), d.max(1));
    // Only reachable with a raw count of 0 (e.g. P = 0, D ≥ max): trim the other side.
    if p + d > max {
        d = (max - p.min(max - 1)).max(1);
        p = max - d;
    }
    (p as u32, d as u32)
}

/// Reads the replay trace: rows in file order (the first `num_requests` when set), token
/// counts scaled, truncated and clipped, arrival times scaled.
pub(crate) fn replay(
    cfg: &TraceReplayConfig,
    compat: Compat,
    base_dir: &Path,
) -> Result<Vec<RequestSpec>, WorkloadError> {
    const F: &str = "workload.trace_replay";
    check_scale(
        &format!("{F}.prefill_scale_factor"),
        cfg.prefill_scale_factor,
    )?;
    check_scale(&format!("{F}.decode_scale_factor"), cfg.decode_scale_factor)?;
    check_scale(&format!("{F}.time_scale_factor"), cfg.time_scale_factor)?;
    check_max_tokens(&format!("{F}.max_tokens"), cfg.max_tokens)?;
    if cfg.num_requests == Some(0) {
        return Err(WorkloadError::invalid(
            format!("{F}.num_requests"),
            "must be > 0, got 0",
        ));
    }
    let limit = cfg.num_requests.unwrap_or(u64::MAX);

    let mut csv = Csv::open(
        resolve(base_dir, &cfg.trace_file),
        &format!("{F}.trace_file"),
    )?;
    let c_at = csv.column("arrived_at")?;
    let c_p = csv.column("num_prefill_tokens")?;
    let c_d = csv.column("num_decode_tokens")?;

    let mut out = Vec::new();
    while (out.len() as u64) < limit {
        let Some(line) = csv.next_row()? else { break };
        let at = csv.non_negative(line, c_at)?;
        let p = scale_tokens(csv.tokens(line, c_p)?, cfg.prefill_scale_factor);
        let d = scale_tokens(csv.tokens(line, c_d)?, cfg.decode_scale_factor);
        let (p, d) = clip_replay(p, d, cfg.max_tokens, compat).map_err(|bad_p| {
            csv.trace_err(format!(
                "line {line}: Vidur's trace-replay clip (whole excess over max_tokens={} taken from \
                 the prompt) leaves num_prefill_tokens = {bad_p} (decode = {}); Vidur cannot \
                 simulate such a request. Raise max_tokens, lower decode_scale_factor, or use \
                 compat: default (which takes the rest of the excess from the output)",
                cfg.max_tokens,
                d.max(1)
            ))
        })?;
        out.push(RequestSpec {
            arrived_at: at * cfg.time_scale_factor,
            num_prefill_tokens: p,
            num_decode_tokens: d,
        });
    }
    if out.is_empty() {
        return Err(csv.trace_err("the trace has no data rows"));
    }
    if let Some(n) = cfg.num_requests {
        if (out.len() as u64) < n {
            return Err(csv.trace_err(format!(
                "{F}.num_requests = {n} but the trace has only {} rows",
                out.len()
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_clip_hand_examples() {
        for compat in [Compat::Default, Compat::Vidur] {
            // Fits: untouched (zeros clipped to 1 first).
            assert_eq!(clip_replay(100, 50, 4096, compat), Ok((100, 50)));
            assert_eq!(clip_replay(0, 0, 4096, compat), Ok((1, 1)));
            // 90 + 30 = 120 > 100: the excess 20 comes off the prompt in both modes.
            assert_eq!(clip_replay(90, 30, 100, compat), Ok((70, 30)));
            // 50 + 99 = 149, excess 49: prompt exactly 1.
            assert_eq!(clip_replay(50, 99, 100, compat), Ok((1, 99)));
        }
        // 40 + 100 = 140, excess 40: Vidur's prompt would be 0; default keeps 1 and trims D.
        assert_eq!(clip_replay(40, 100, 100, Compat::Vidur), Err(0));
        assert_eq!(clip_replay(40, 100, 100, Compat::Default), Ok((1, 99)));
        assert_eq!(clip_replay(10, 5000, 4096, Compat::Vidur), Err(10 - 914));
        assert_eq!(clip_replay(10, 5000, 4096, Compat::Default), Ok((1, 4095)));
        assert_eq!(
            clip_replay(u64::MAX, u64::MAX, 4096, Compat::Default),
            Ok((1, 4095))
        );
    }

    #[test]
    fn proportional_clip_hand_examples() {
        assert_eq!(clip_proportional(100, 50, 4096), (100, 50));
        assert_eq!(clip_proportional(0, 7, 4096), (1, 7));
        // 3000 + 2000 = 5000, excess 904: P −= ceil(542.4) = 543, D −= ceil(361.6) = 362.
        assert_eq!(clip_proportional(3000, 2000, 4096), (2457, 1638));
        // Exact quotients: 150 + 50 = 200 > 100: P −= 75, D −= 25.
        assert_eq!(clip_proportional(150, 50, 100), (75, 25));
        // P = 1, D = 19, max 10: P −= ceil(0.5) = 1 → 0 → 1; D −= ceil(9.5) = 10 → 9.
        assert_eq!(clip_proportional(1, 19, 10), (1, 9));
        let (p, d) = clip_proportional(u64::MAX, 3, 4096);
        assert!(p >= 1 && d >= 1 && p + d <= 4096);
        // Exhaustive small check of the invariants.
        for max in 2..30u32 {
            for p in 0..60u64 {
                for d in 0..60u64 {
                    let (a, b) = clip_proportional(p, d, max);
                    assert!(a >= 1 && b >= 1 && a + b <= max, "{p} {d} {max}");
                    if p >= 1 && d >= 1 && p + d <= u64::from(max) {
                        assert_eq!((u64::from(a), u64::from(b)), (p, d));
                    }
                }
            }
        }
    }
}
