//! Request-length generators of the synthetic workload: fixed, uniform, Zipf, trace
//! (vidur-behavior.md §6.3, §12 item 9) and the built-in fitted distributions.
//!
//! Each draw returns `(prefill, decode)` with both ≥ 1 and `P + D ≤ max_tokens`. Randomness
//! comes from the caller's length stream, independent of the arrival stream.

use std::path::{Path, PathBuf};

use rand::RngExt;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::builtin::{builtin, BuiltinLengths};
use super::csvio::{resolve, Csv};
use super::trace::{clip_proportional, scale_tokens};
use super::{check_scale, LengthConfig, WorkloadError};

const F: &str = "workload.synthetic.lengths";

/// A ready-to-draw length generator.
pub(crate) enum Lengths {
    Fixed(u32, u32),
    Uniform {
        min: f64,
        span: f64,
        ratio: f64,
    },
    Zipf(Zipf),
    Trace {
        rows: Vec<(u32, u32)>,
        next: usize,
        path: PathBuf,
    },
    Builtin(&'static BuiltinLengths),
}

/// Validates the config and prepares the generator (reading and shuffling a trace).
pub(crate) fn build(
    cfg: &LengthConfig,
    max_tokens: u32,
    base_dir: &Path,
    rng: &mut Xoshiro256PlusPlus,
) -> Result<Lengths, WorkloadError> {
    let max_msg = |kind: &str, what: &str, v: u64| {
        WorkloadError::invalid(
            format!("{F}.{kind}.{what}"),
            format!("must be <= the workload's max_tokens ({max_tokens}), got {v}"),
        )
    };
    let check_ratio = |kind: &str, r: f64| {
        if r.is_finite() && r > 0.0 {
            Ok(())
        } else {
            Err(WorkloadError::invalid(
                format!("{F}.{kind}.prefill_to_decode_ratio"),
                format!("must be a finite number > 0, got {r}"),
            ))
        }
    };
    let check_range = |kind: &str, min: u32, max: u32| {
        if min > max {
            return Err(WorkloadError::invalid(
                format!("{F}.{kind}.min_tokens"),
                format!("must be <= {F}.{kind}.max_tokens ({max}), got {min}"),
            ));
        }
        if max > max_tokens {
            return Err(max_msg(kind, "max_tokens", max.into()));
        }
        Ok(())
    };
    Ok(match *cfg {
        LengthConfig::Fixed {
            prefill_tokens,
            decode_tokens,
        } => {
            for (what, v) in [
                ("prefill_tokens", prefill_tokens),
                ("decode_tokens", decode_tokens),
            ] {
                if v == 0 {
                    return Err(WorkloadError::invalid(
                        format!("{F}.fixed.{what}"),
                        "must be >= 1, got 0",
                    ));
                }
            }
            let total = u64::from(prefill_tokens) + u64::from(decode_tokens);
            if total > u64::from(max_tokens) {
                return Err(max_msg("fixed", "prefill_tokens + decode_tokens", total));
            }
            Lengths::Fixed(prefill_tokens, decode_tokens)
        }
        LengthConfig::Uniform {
            min_tokens,
            max_tokens: hi,
            prefill_to_decode_ratio,
        } => {
            check_range("uniform", min_tokens, hi)?;
            check_ratio("uniform", prefill_to_decode_ratio)?;
            Lengths::Uniform {
                min: min_tokens.into(),
                span: f64::from(hi) - f64::from(min_tokens),
                ratio: prefill_to_decode_ratio,
            }
        }
        LengthConfig::Zipf {
            theta,
            scramble,
            min_tokens,
            max_tokens: hi,
            prefill_to_decode_ratio,
        } => {
            check_range("zipf", min_tokens, hi)?;
            check_ratio("zipf", prefill_to_decode_ratio)?;
            if !(theta.is_finite() && theta > 0.0 && theta != 1.0) {
                return Err(WorkloadError::invalid(
                    format!("{F}.zipf.theta"),
                    format!("must be a finite number > 0 and != 1, got {theta}"),
                ));
            }
            Lengths::Zipf(Zipf::new(
                min_tokens,
                hi,
                theta,
                scramble,
                prefill_to_decode_ratio,
            ))
        }
        LengthConfig::Trace {
            ref trace_file,
            prefill_scale_factor,
            decode_scale_factor,
        } => {
            check_scale(
                &format!("{F}.trace.prefill_scale_factor"),
                prefill_scale_factor,
            )?;
            check_scale(
                &format!("{F}.trace.decode_scale_factor"),
                decode_scale_factor,
            )?;
            let mut csv = Csv::open(
                resolve(base_dir, trace_file),
                &format!("{F}.trace.trace_file"),
            )?;
            let c_p = csv.column("num_prefill_tokens")?;
            let c_d = csv.column("num_decode_tokens")?;
            let mut rows = Vec::new();
            while let Some(line) = csv.next_row()? {
                let p = scale_tokens(csv.tokens(line, c_p)?, prefill_scale_factor);
                let d = scale_tokens(csv.tokens(line, c_d)?, decode_scale_factor);
                rows.push(clip_proportional(p, d, max_tokens));
            }
            if rows.is_empty() {
                return Err(csv.trace_err("the trace has no data rows"));
            }
            // Vidur shuffles with numpy's RandomState(seed).permutation; we use a seeded
            // Fisher-Yates on the length stream (same idea, not the same order).
            for i in (1..rows.len()).rev() {
                let j = rng.random_range(0..=i);
                rows.swap(i, j);
            }
            Lengths::Trace {
                rows,
                next: 0,
                path: csv.path,
            }
        }
        LengthConfig::Builtin { ref name } => {
            Lengths::Builtin(builtin(name).map_err(|e| match e {
                WorkloadError::UnknownBuiltin { name, known } => WorkloadError::invalid(
                    format!("{F}.builtin.name"),
                    format!("must name a built-in workload ({known}), got {name:?}"),
                ),
                other => other,
            })?)
        }
    })
}

impl Lengths {
    /// Next `(prefill, decode)`; `None` when a trace source is exhausted.
    #[inline]
    pub fn next(&mut self, rng: &mut Xoshiro256PlusPlus, max_tokens: u32) -> Option<(u32, u32)> {
        match self {
            Lengths::Fixed(p, d) => Some((*p, *d)),
            Lengths::Uniform { min, span, ratio } => {
                // Vidur: total = random.uniform(min, max); D = ceil(total/(1+r)); P = total − D;
                // both truncated by int().
                let total = *min + *span * rng.random::<f64>();
                let d = (total / (1.0 + *ratio)).ceil();
                Some(finish((total - d) as u64, d as u64, max_tokens))
            }
            Lengths::Zipf(z) => {
                let total = f64::from(z.next(rng));
                let d = total / (1.0 + z.ratio);
                Some(finish((total - d) as u64, d as u64, max_tokens))
            }
            Lengths::Trace { rows, next, .. } => {
                let r = rows.get(*next).copied();
                *next += 1;
                r
            }
            Lengths::Builtin(b) => Some(b.sample(rng, max_tokens)),
        }
    }

    /// Rows of a trace source (for the exhaustion error).
    pub fn trace_info(&self) -> Option<(&Path, usize)> {
        match self {
            Lengths::Trace { rows, path, .. } => Some((path, rows.len())),
            _ => None,
        }
    }
}

/// Clips both counts to ≥ 1 and, if that pushed the total over `max_tokens` (only possible
/// when the configured range touches `max_tokens` and one side rounded to 0), takes the extra
/// token from the other side.
/// Vidur does not clip here and can emit zero-token prompts (e.g. uniform totals below 2).
#[inline]
fn finish(p: u64, d: u64, max_tokens: u32) -> (u32, u32) {
    let max = u64::from(max_tokens);
    let p = p.clamp(1, max - 1);
    let d = d.clamp(1, max - p);
    (p as u32, d as u32)
}

/// Gray et al.'s Zipf generator over `[min, max]`, exactly Vidur's `ZipfGenerator` formulas.
pub(crate) struct Zipf {
    min: u32,
    items: u64,
    theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
    scramble: bool,
    ratio: f64,
}

impl Zipf {
    fn new(min: u32, max: u32, theta: f64, scramble: bool, ratio: f64) -> Zipf {
        let items = u64::from(max - min) + 1;
        // Vidur's zeta(n, θ) = Σ_{i=1}^{n−1} i^−θ (the sum stops at n−1), so ζ2 = 1.
        let zeta = |n: u64| (1..n).map(|i| (i as f64).powf(-theta)).sum::<f64>();
        let zeta2 = zeta(2);
        let zetan = zeta(items);
        let eta = (1.0 - (2.0 / items as f64).powf(1.0 - theta)) / (1.0 - zeta2 / (zetan + 1e-8));
        Zipf {
            min,
            items,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta,
            scramble,
            ratio,
        }
    }

    /// A total length in `[min, max]`.
    #[inline]
    fn next(&self, rng: &mut Xoshiro256PlusPlus) -> u32 {
        let u = rng.random::<f64>();
        let uz = u * self.zetan;
        let rank = if uz < 1.0 {
            0
        } else if uz < 1.0 + 0.5f64.powf(self.theta) {
            1
        } else {
            // Clamped: float rounding (u → 1) or θ > 1 can land one past the range, which
            // Vidur would return as is.
            let v = self.items as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha);
            (v as u64).min(self.items - 1)
        };
        let rank = rank.min(self.items - 1);
        let rank = if self.scramble {
            permute(rank, self.items)
        } else {
            rank
        };
        self.min + rank as u32
    }
}

/// A fixed pseudo-random permutation of `0..n` (cycle-walking a bijective mixer over the
/// smallest power-of-two domain ≥ n). Vidur scrambles with `min + hash(str(v)) % items`, which
/// is randomized per process (nondeterministic) and collides; ours is deterministic and a true
/// bijection, so scrambling relabels lengths without changing the rank probabilities.
fn permute(x: u64, n: u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    let bits = 64 - (n - 1).leading_zeros();
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let shift = bits.div_ceil(2);
    let mut x = x;
    loop {
        // Each step is a bijection on `bits`-bit words: xor-shift right, multiply by an odd
        // constant, add a constant (all mod 2^bits).
        for _ in 0..3 {
            x ^= x >> shift;
            x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15) & mask;
            x = x.wrapping_add(0x632B_E59B_D9B4_E019) & mask;
        }
        if x < n {
            return x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn permute_is_a_bijection() {
        for n in [1u64, 2, 3, 7, 8, 9, 100, 3073] {
            let mut seen = vec![false; n as usize];
            for x in 0..n {
                let y = permute(x, n);
                assert!(y < n && !seen[y as usize]);
                seen[y as usize] = true;
            }
        }
    }

    #[test]
    fn zipf_within_range_and_skewed() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        for (theta, scramble) in [(0.6, false), (0.99, true), (1.5, false), (0.2, true)] {
            let z = Zipf::new(1024, 4096, theta, scramble, 20.0);
            let mut counts = vec![0u32; 4096 - 1024 + 1];
            for _ in 0..50_000 {
                let v = z.next(&mut rng);
                assert!((1024..=4096).contains(&v), "{v}");
                counts[(v - 1024) as usize] += 1;
            }
            if !scramble {
                // The smallest value is the most likely one.
                assert!(counts[0] >= *counts.iter().max().unwrap());
            }
        }
        // Degenerate ranges.
        let z = Zipf::new(5, 5, 0.6, true, 1.0);
        assert_eq!(z.next(&mut rng), 5);
        let z = Zipf::new(5, 6, 0.6, false, 1.0);
        assert!((5..=6).contains(&z.next(&mut rng)));
    }

    #[test]
    fn uniform_split_and_bounds() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let cfg = LengthConfig::Uniform {
            min_tokens: 1,
            max_tokens: 4096,
            prefill_to_decode_ratio: 20.0,
        };
        let mut g = build(&cfg, 4096, Path::new("."), &mut rng).unwrap();
        for _ in 0..10_000 {
            let (p, d) = g.next(&mut rng, 4096).unwrap();
            assert!(p >= 1 && d >= 1 && p + d <= 4096);
        }
        assert_eq!(finish(0, 4096, 4096), (1, 4095));
        assert_eq!(finish(3900, 195, 4096), (3900, 195));
    }
}
