//! `fit-workloads`: fits each built-in of [`SPECS`] on its trace and measures the fit
//! (module docs of `builtin` say why this model).

use std::path::Path;

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::super::csvio::Csv;
use super::super::trace::scale_tokens;
use super::{
    BuiltinCatalog, BuiltinLengths, FitQuality, MarginalQuality, WorkloadError, WorkloadRepr,
    COPULA_EDGES, LEVELS, SPECS,
};

/// Draws compared with each trace for the `quality` figures.
const QUALITY_SAMPLES: u64 = 200_000;
const QUALITY_SEED: u64 = 1;

/// Fits every built-in on `traces_dir/<spec file>`.
pub(super) fn fit_all(
    traces_dir: &Path,
    generated_by: &str,
    fitted_on: &str,
) -> Result<BuiltinCatalog, WorkloadError> {
    let workloads = SPECS
        .iter()
        .map(|s| {
            let pairs = read_pairs(&traces_dir.join(s.file))?;
            fit_pairs(s.name, s.aliases, s.description, s.file, &pairs)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(BuiltinCatalog {
        generated_by: generated_by.to_string(),
        fitted_on: fitted_on.to_string(),
        levels: LEVELS.to_vec(),
        edges: COPULA_EDGES.to_vec(),
        workloads,
    })
}

/// `(prefill, decode)` of every row, truncated to integers and raised to ≥ 1 as the `trace`
/// lengths are.
fn read_pairs(path: &Path) -> Result<Vec<(u64, u64)>, WorkloadError> {
    let mut csv = Csv::open(path.to_path_buf(), "fit-workloads --traces")?;
    let c_p = csv.column("num_prefill_tokens")?;
    let c_d = csv.column("num_decode_tokens")?;
    let mut out = Vec::new();
    while let Some(line) = csv.next_row()? {
        let p = scale_tokens(csv.tokens(line, c_p)?, 1.0).max(1);
        let d = scale_tokens(csv.tokens(line, c_d)?, 1.0).max(1);
        out.push((p, d));
    }
    if out.is_empty() {
        return Err(csv.trace_err("the trace has no data rows"));
    }
    Ok(out)
}

/// Fits one workload on `pairs` (non-empty, values ≥ 1) and measures it.
pub(super) fn fit_pairs(
    name: &str,
    aliases: &[&str],
    description: &str,
    source: &str,
    pairs: &[(u64, u64)],
) -> Result<BuiltinLengths, WorkloadError> {
    let err = |msg: String| WorkloadError::BuiltinData {
        file: source.to_string(),
        msg,
    };
    if pairs.is_empty() || pairs.iter().any(|&(p, d)| p == 0 || d == 0) {
        return Err(err("needs rows with both lengths >= 1".into()));
    }
    let sorted = |f: fn(&(u64, u64)) -> u64| {
        let mut v: Vec<u64> = pairs.iter().map(f).collect();
        v.sort_unstable();
        v
    };
    let p = sorted(|x| x.0);
    let d = sorted(|x| x.1);
    let zero = MarginalQuality {
        ks: 0.0,
        mean_err_pct: 0.0,
        p50_err_pct: 0.0,
        p90_err_pct: 0.0,
        p99_err_pct: 0.0,
    };
    let repr = WorkloadRepr {
        name: name.to_string(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        description: description.to_string(),
        source: source.to_string(),
        rows: pairs.len() as u64,
        prefill_tokens: knots(&p, &LEVELS),
        decode_tokens: knots(&d, &LEVELS),
        copula_counts: copula_counts(pairs, &COPULA_EDGES),
        // Measured below, on the finished sampler.
        quality: FitQuality {
            samples: 0,
            seed: 0,
            spearman_trace: 0.0,
            spearman_sampled: 0.0,
            prefill: zero.clone(),
            decode: zero.clone(),
            total: zero,
        },
    };
    let mut b =
        BuiltinLengths::compile(repr, &LEVELS, &COPULA_EDGES).map_err(|e| err(e.to_string()))?;
    b.repr.quality = measure(&b, pairs);
    Ok(b)
}

/// Quantile knots at `levels` of the sorted integer sample, with each integer k spread
/// uniformly over [k − ½, k + ½) (so rounding draws restores the atoms), the ends pinned to the
/// min and max, rounded to 2 decimals (as written in the file, so a parsed file samples exactly
/// like the fit).
pub(super) fn knots(sorted: &[u64], levels: &[f64]) -> Vec<f64> {
    let n = sorted.len();
    let (min, max) = (sorted[0] as f64, sorted[n - 1] as f64);
    levels
        .iter()
        .map(|&p| {
            let q = if p <= 0.0 {
                min
            } else if p >= 1.0 {
                max
            } else {
                // The smoothed CDF passes (k − ½, lo/n) and (k + ½, hi/n) for the tie group
                // sorted[lo..hi] = k that holds the p·n-th row.
                let t = p * n as f64;
                let k = sorted[(t as usize).min(n - 1)];
                let lo = sorted.partition_point(|&v| v < k);
                let hi = sorted.partition_point(|&v| v <= k);
                k as f64 - 0.5 + (t - lo as f64) / (hi - lo) as f64
            };
            round_to(q.clamp(min, max), 2)
        })
        .collect()
}

/// Rows per (prefill rank bin, decode rank bin). Ranks are ordinal; ties keep file (arrival)
/// order, which is deterministic and unrelated to the lengths.
pub(super) fn copula_counts(pairs: &[(u64, u64)], edges: &[f64]) -> Vec<Vec<u64>> {
    let n = pairs.len();
    let bins = edges.len() - 1;
    let bin_of = |rank: usize| {
        let x = (rank as f64 + 0.5) / n as f64;
        edges[1..bins].partition_point(|&e| e <= x)
    };
    let rp = ordinal_ranks(&pairs.iter().map(|x| x.0).collect::<Vec<_>>());
    let rd = ordinal_ranks(&pairs.iter().map(|x| x.1).collect::<Vec<_>>());
    let mut counts = vec![vec![0u64; bins]; bins];
    for (&a, &b) in rp.iter().zip(&rd) {
        counts[bin_of(a)][bin_of(b)] += 1;
    }
    counts
}

fn ordinal_ranks(v: &[u64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by_key(|&i| v[i]); // stable
    let mut r = vec![0; v.len()];
    for (pos, &i) in idx.iter().enumerate() {
        r[i] = pos;
    }
    r
}

/// Seeded draws of `b` (not clipped) against the trace.
fn measure(b: &BuiltinLengths, pairs: &[(u64, u64)]) -> FitQuality {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(QUALITY_SEED);
    let draws: Vec<(u64, u64)> = (0..QUALITY_SAMPLES)
        .map(|_| {
            let (p, d) = b.sample(&mut rng, u32::MAX);
            (u64::from(p), u64::from(d))
        })
        .collect();
    let column = |rows: &[(u64, u64)], f: fn(&(u64, u64)) -> u64| {
        let mut v: Vec<u64> = rows.iter().map(f).collect();
        v.sort_unstable();
        v
    };
    let marginal = |f: fn(&(u64, u64)) -> u64| {
        let (s, t) = (column(&draws, f), column(pairs, f));
        let err = |a: f64, b: f64| round_to((a / b - 1.0) * 100.0, 2);
        MarginalQuality {
            ks: round_to(ks_distance(&s, &t), 4),
            mean_err_pct: err(mean(&s), mean(&t)),
            p50_err_pct: err(percentile(&s, 0.5), percentile(&t, 0.5)),
            p90_err_pct: err(percentile(&s, 0.9), percentile(&t, 0.9)),
            p99_err_pct: err(percentile(&s, 0.99), percentile(&t, 0.99)),
        }
    };
    FitQuality {
        samples: QUALITY_SAMPLES,
        seed: QUALITY_SEED,
        spearman_trace: round_to(spearman(pairs), 4),
        spearman_sampled: round_to(spearman(&draws), 4),
        prefill: marginal(|x| x.0),
        decode: marginal(|x| x.1),
        total: marginal(|x| x.0 + x.1),
    }
}

fn round_to(v: f64, digits: i32) -> f64 {
    let s = 10f64.powi(digits);
    (v * s).round() / s
}

fn mean(sorted: &[u64]) -> f64 {
    sorted.iter().map(|&v| v as f64).sum::<f64>() / sorted.len() as f64
}

/// Nearest-rank percentile of a sorted, non-empty sample.
pub(super) fn percentile(sorted: &[u64], p: f64) -> f64 {
    let n = sorted.len();
    let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
    sorted[rank - 1] as f64
}

/// Largest gap between the two empirical CDFs (both sorted, non-empty), over integer values.
pub(super) fn ks_distance(a: &[u64], b: &[u64]) -> f64 {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let v = a[i].min(b[j]);
        while i < a.len() && a[i] == v {
            i += 1;
        }
        while j < b.len() && b[j] == v {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    d
}

/// Spearman rank correlation (average ranks for ties); 0 when a column is constant.
pub(super) fn spearman(pairs: &[(u64, u64)]) -> f64 {
    let rx = average_ranks(&pairs.iter().map(|x| x.0).collect::<Vec<_>>());
    let ry = average_ranks(&pairs.iter().map(|x| x.1).collect::<Vec<_>>());
    let m = (pairs.len() as f64 - 1.0) / 2.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in rx.iter().zip(&ry) {
        sxy += (x - m) * (y - m);
        sxx += (x - m) * (x - m);
        syy += (y - m) * (y - m);
    }
    if sxx == 0.0 || syy == 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

fn average_ranks(v: &[u64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by_key(|&i| v[i]);
    let mut r = vec![0.0; v.len()];
    let mut start = 0;
    while start < idx.len() {
        let mut end = start + 1;
        while end < idx.len() && v[idx[end]] == v[idx[start]] {
            end += 1;
        }
        let avg = (start + end - 1) as f64 / 2.0;
        for &i in &idx[start..end] {
            r[i] = avg;
        }
        start = end;
    }
    r
}
