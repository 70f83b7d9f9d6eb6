//! Unit tests of the built-in workloads: the embedded file, quantile interpolation, the fit's
//! pieces, the copula's dependence sign, clipping, and errors on bad files.

use std::path::Path;

use rand::{RngExt, SeedableRng};

use super::fit::{copula_counts, fit_pairs, knots, ks_distance, percentile, spearman};
use super::*;
use crate::compat::Compat;
use crate::workload::{generate, IntervalConfig, LengthConfig, SyntheticConfig, WorkloadConfig};

fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

fn draws(b: &BuiltinLengths, n: usize, max_tokens: u32) -> Vec<(u64, u64)> {
    let mut r = rng(3);
    (0..n)
        .map(|_| {
            let (p, d) = b.sample(&mut r, max_tokens);
            (p.into(), d.into())
        })
        .collect()
}

#[test]
fn embedded_catalog_matches_the_specs() {
    let cat = BuiltinCatalog::embedded().unwrap();
    assert_eq!(builtin_names(), ["chat", "code", "summarization"]);
    assert_eq!(cat.workloads().len(), SPECS.len());
    for (w, s) in cat.workloads().iter().zip(&SPECS) {
        assert_eq!(w.name(), s.name);
        assert_eq!(w.aliases(), s.aliases);
        assert_eq!(w.source(), s.file);
        assert_eq!(w.description(), s.description);
        assert!(w.rows() > 1000);
    }
    assert_eq!(cat.levels, LEVELS);
    assert_eq!(cat.edges, COPULA_EDGES);
    assert_eq!(builtin("conversation").unwrap().name(), "chat");
    assert_eq!(builtin("arxiv").unwrap().name(), "summarization");
    // Rendering the parsed file gives the file back (stable format, exact figures).
    assert_eq!(cat.to_yaml(), EMBEDDED);
}

#[test]
fn unknown_names_list_the_known_ones() {
    let e = builtin("chatt").unwrap_err().to_string();
    for needle in [
        "\"chatt\"",
        "chat (alias conversation)",
        "code",
        "summarization (alias arxiv)",
    ] {
        assert!(e.contains(needle), "{e}");
    }
    // Through a config: the field is named.
    let cfg = WorkloadConfig::Synthetic(SyntheticConfig {
        seed: 1,
        num_requests: Some(3),
        duration_s: None,
        max_tokens: 4096,
        lengths: LengthConfig::Builtin {
            name: "nope".into(),
        },
        intervals: IntervalConfig::Static {},
    });
    let e = generate(&cfg, Compat::Default, Path::new("."))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("workload.synthetic.lengths.builtin.name") && e.contains("chat (alias"),
        "{e}"
    );
}

#[test]
fn aliases_generate_the_same_requests() {
    let cfg = |name: &str| {
        WorkloadConfig::Synthetic(SyntheticConfig {
            seed: 9,
            num_requests: Some(500),
            duration_s: None,
            max_tokens: 4096,
            lengths: LengthConfig::Builtin { name: name.into() },
            intervals: IntervalConfig::Poisson { qps: 2.0 },
        })
    };
    let a = generate(&cfg("chat"), Compat::Default, Path::new(".")).unwrap();
    let b = generate(&cfg("conversation"), Compat::Default, Path::new(".")).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 500);
    assert!(a
        .iter()
        .all(|r| r.num_prefill_tokens >= 1 && r.num_decode_tokens >= 1));
    assert!(a
        .iter()
        .all(|r| r.num_prefill_tokens + r.num_decode_tokens <= 4096));
}

#[test]
fn quantile_interpolates_in_log_space() {
    let levels = [0.0, 0.5, 1.0];
    let ln = [1f64.ln(), 100f64.ln(), 10_000f64.ln()];
    assert_eq!(quantile(&levels, &ln, 0.0), 1);
    assert_eq!(quantile(&levels, &ln, 0.25), 10);
    assert_eq!(quantile(&levels, &ln, 0.5), 100);
    assert_eq!(quantile(&levels, &ln, 0.75), 1000);
    assert_eq!(quantile(&levels, &ln, 1.0), 10_000);
    // Monotone, within the end knots, and robust to u slightly outside [0, 1].
    let mut last = 0;
    for i in 0..=10_000 {
        let q = quantile(&levels, &ln, f64::from(i) / 10_000.0);
        assert!(q >= last && (1..=10_000).contains(&q));
        last = q;
    }
    assert_eq!(quantile(&levels, &ln, -0.1), 1);
    assert_eq!(quantile(&levels, &ln, 1.1), 10_000);
}

#[test]
fn knots_spread_integers_over_half_open_unit_bins() {
    // Median of 1,2,3,4 smoothed: the 2nd row's bin [1.5, 2.5) is full at p = 0.5.
    assert_eq!(knots(&[1, 2, 3, 4], &[0.0, 0.5, 1.0]), [1.0, 2.5, 4.0]);
    assert_eq!(knots(&[5, 5, 5, 5], &[0.0, 0.3, 1.0]), [5.0, 5.0, 5.0]);
    // Atoms survive: half the rows at 9, half at 20 → about half the draws are 9 and half 20.
    // Only the knot interval spanning the gap (0.475..0.5) leaks into 10..19.
    let mut v = vec![9u64; 500];
    v.extend([20u64; 500]);
    let k = knots(&v, &LEVELS);
    assert!(k.windows(2).all(|w| w[0] <= w[1]));
    let ln: Vec<f64> = k.iter().map(|x| x.ln()).collect();
    let mut r = rng(1);
    let n = 20_000;
    let q: Vec<u64> = (0..n)
        .map(|_| quantile(&LEVELS, &ln, r.random::<f64>()))
        .collect();
    let share = |v: u64| q.iter().filter(|&&x| x == v).count() as f64 / n as f64;
    assert!((share(9) - 0.5).abs() < 0.03, "{}", share(9));
    assert!((share(20) - 0.5).abs() < 0.03, "{}", share(20));
    assert!(share(9) + share(20) > 0.97);
}

#[test]
fn copula_counts_bin_the_ranks() {
    // Perfect positive dependence: everything on the diagonal, rows match the bin widths.
    let pairs: Vec<(u64, u64)> = (1..=1000).map(|i| (i, 2 * i)).collect();
    let c = copula_counts(&pairs, &COPULA_EDGES);
    let bins = COPULA_EDGES.len() - 1;
    for (i, row) in c.iter().enumerate() {
        for (j, &n) in row.iter().enumerate() {
            if i != j {
                assert_eq!(n, 0);
            } else {
                let width = COPULA_EDGES[i + 1] - COPULA_EDGES[i];
                assert_eq!(n, (width * 1000.0).round() as u64, "bin {i}");
            }
        }
    }
    assert_eq!(c.len(), bins);
    assert_eq!(c.iter().flatten().sum::<u64>(), 1000);
}

#[test]
fn copula_keeps_the_sign_of_the_dependence() {
    let mut r = rng(5);
    let base: Vec<u64> = (0..5000).map(|_| r.random_range(10..2000u64)).collect();
    let pos: Vec<(u64, u64)> = base
        .iter()
        .map(|&p| (p, p / 4 + r.random_range(1..200u64)))
        .collect();
    let neg: Vec<(u64, u64)> = base
        .iter()
        .map(|&p| (p, 2100 - p + r.random_range(1..200u64)))
        .collect();
    for (pairs, sign) in [(pos, 1.0), (neg, -1.0)] {
        let b = fit_pairs("t", &[], "test", "test.csv", &pairs).unwrap();
        let trace = spearman(&pairs);
        let sampled = spearman(&draws(&b, 20_000, u32::MAX));
        assert!(trace * sign > 0.5, "{trace}");
        assert!(sampled * sign > 0.5, "{sampled}");
        assert!((trace - sampled).abs() < 0.05, "{trace} vs {sampled}");
        assert!((b.quality().spearman_sampled - trace).abs() < 0.05);
    }
    // Independent columns stay near 0.
    let ind: Vec<(u64, u64)> = base
        .iter()
        .map(|&p| (p, r.random_range(1..500u64)))
        .collect();
    let b = fit_pairs("t", &[], "test", "test.csv", &ind).unwrap();
    assert!(spearman(&draws(&b, 20_000, u32::MAX)).abs() < 0.05);
}

#[test]
fn draws_are_clipped_like_trace_lengths() {
    let chat = builtin("chat").unwrap();
    let raw = draws(chat, 20_000, u32::MAX);
    // The conversation trace has prompts up to 14k tokens: unclipped draws exceed 4096.
    assert!(raw.iter().any(|&(p, d)| p + d > 4096));
    let clipped = draws(chat, 20_000, 4096);
    for (&(p, d), &(cp, cd)) in raw.iter().zip(&clipped) {
        // Same stream, same raw draw: clipping is the trace lengths' proportional clip.
        let want = clip_proportional(p, d, 4096);
        assert_eq!((cp as u32, cd as u32), want);
    }
    for max in [0u32, 1, 2, 3, 64, 1000] {
        for name in builtin_names() {
            for (p, d) in draws(builtin(name).unwrap(), 2000, max) {
                assert!(
                    p >= 1 && d >= 1 && p + d <= u64::from(max.max(2)),
                    "{name} {max}"
                );
            }
        }
    }
}

#[test]
fn sampling_is_deterministic() {
    let b = builtin("code").unwrap();
    assert_eq!(draws(b, 1000, 4096), draws(b, 1000, 4096));
}

#[test]
fn stats_helpers() {
    assert_eq!(percentile(&[1, 2, 3, 4], 0.5), 2.0);
    assert_eq!(percentile(&[1, 2, 3, 4], 0.99), 4.0);
    assert_eq!(percentile(&[7], 0.01), 7.0);
    assert_eq!(ks_distance(&[1, 2, 3], &[1, 2, 3]), 0.0);
    assert_eq!(ks_distance(&[1, 1], &[2, 2]), 1.0);
    assert!((ks_distance(&[1, 2, 3, 4], &[1, 2]) - 0.5).abs() < 1e-12);
    assert!((spearman(&[(1, 5), (2, 6), (3, 7)]) - 1.0).abs() < 1e-12);
    assert!((spearman(&[(1, 7), (2, 6), (3, 5)]) + 1.0).abs() < 1e-12);
    assert_eq!(spearman(&[(1, 7), (1, 6), (1, 5)]), 0.0);
    assert_eq!(fixed(-0.0001, 2), "0.00");
    assert_eq!(fixed(-0.5, 2), "-0.50");
}

#[test]
fn bad_files_are_typed_errors() {
    let bad = |from: &str, to: &str, needle: &str| {
        assert!(EMBEDDED.contains(from), "fixture text {from:?} not in file");
        let text = EMBEDDED.replacen(from, to, 1);
        let e = BuiltinCatalog::parse(&text, "w.yaml").unwrap_err();
        assert!(matches!(e, WorkloadError::BuiltinData { .. }));
        let e = e.to_string();
        assert!(e.starts_with("w.yaml: ") && e.contains(needle), "{e}");
    };
    bad("format: 1", "format: 2", "format 2");
    bad(
        "levels: [0, ",
        "levels: [0.5, ",
        "levels must be strictly increasing",
    );
    bad(
        "copula_edges: [0, 0.01",
        "copula_edges: [0, 0",
        "copula_edges",
    );
    bad(
        "prefill_tokens: [2.00, ",
        "prefill_tokens: [",
        "knots, levels has",
    );
    bad(
        "prefill_tokens: [2.00, ",
        "prefill_tokens: [3000, ",
        "must not decrease",
    );
    bad("decode_tokens: [7.00, ", "decode_tokens: [0.5, ", ">= 1");
    bad(
        "      - [0, 0, 0, 2, ",
        "      - [0, 0, 2, ",
        "copula_counts must be",
    );
    bad("name: \"code\"", "name: \"chat\"", "repeated");
    bad("rows: 19366", "rows: 19366\n    colour: red", "colour");
    bad("format: 1", "format: [", "");
    assert!(BuiltinCatalog::parse("", "e.yaml").is_err());
}
