//! Tests of workload generation (vidur-behavior.md §6): determinism, arrival statistics,
//! trace replay and clipping, and the error messages for bad input.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::*;

/// A file under `/work/shared` (relative to the crate: `../shared`). Fails loudly when the
/// shared data is missing instead of skipping the test.
fn shared(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(rel);
    assert!(
        p.is_file(),
        "test data {} is missing: the workload tests need the shared data directory (../shared)",
        p.display()
    );
    p
}

/// Writes `content` to a fresh file in a per-process temp directory and returns its path.
fn temp_file(name: &str, content: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vidur-workload-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn synth(
    seed: u64,
    n: Option<u64>,
    lengths: LengthConfig,
    intervals: IntervalConfig,
) -> WorkloadConfig {
    WorkloadConfig::Synthetic(SyntheticConfig {
        seed,
        num_requests: n,
        duration_s: None,
        max_tokens: 4096,
        lengths,
        intervals,
    })
}

fn uniform() -> LengthConfig {
    LengthConfig::Uniform {
        min_tokens: 1024,
        max_tokens: 4096,
        prefill_to_decode_ratio: 20.0,
    }
}

fn fixed() -> LengthConfig {
    LengthConfig::Fixed {
        prefill_tokens: 2048,
        decode_tokens: 512,
    }
}

fn poisson(qps: f64) -> IntervalConfig {
    IntervalConfig::Poisson { qps }
}

fn replay_cfg(file: &Path, time_scale: f64) -> TraceReplayConfig {
    TraceReplayConfig {
        trace_file: file.to_string_lossy().into_owned(),
        prefill_scale_factor: 1.0,
        decode_scale_factor: 1.0,
        time_scale_factor: time_scale,
        max_tokens: 4096,
        num_requests: None,
    }
}

fn gen(cfg: &WorkloadConfig, compat: Compat) -> Vec<RequestSpec> {
    generate(cfg, compat, Path::new("/nonexistent-base")).unwrap()
}

fn err(cfg: &WorkloadConfig) -> String {
    generate(cfg, Compat::Default, Path::new("/nonexistent-base"))
        .unwrap_err()
        .to_string()
}

fn check_valid(reqs: &[RequestSpec], max_tokens: u32) {
    assert!(reqs.windows(2).all(|w| w[0].arrived_at <= w[1].arrived_at));
    for r in reqs {
        assert!(r.arrived_at.is_finite() && r.arrived_at >= 0.0);
        assert!(
            r.num_prefill_tokens >= 1 && r.num_decode_tokens >= 1,
            "{r:?}"
        );
        assert!(
            r.num_prefill_tokens + r.num_decode_tokens <= max_tokens,
            "{r:?}"
        );
    }
}

/// Mean and coefficient of variation of the inter-arrival gaps (first gap from t = 0).
fn gap_stats(reqs: &[RequestSpec]) -> (f64, f64) {
    let mut prev = 0.0;
    let gaps: Vec<f64> = reqs
        .iter()
        .map(|r| {
            let g = r.arrived_at - prev;
            prev = r.arrived_at;
            g
        })
        .collect();
    let n = gaps.len() as f64;
    let mean = gaps.iter().sum::<f64>() / n;
    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt() / mean)
}

#[test]
fn synthetic_is_deterministic() {
    for compat in [Compat::Default, Compat::Vidur] {
        let a = gen(&synth(42, Some(1000), uniform(), poisson(2.0)), compat);
        let b = gen(&synth(42, Some(1000), uniform(), poisson(2.0)), compat);
        let c = gen(&synth(43, Some(1000), uniform(), poisson(2.0)), compat);
        assert_eq!(a.len(), 1000);
        assert_eq!(a, b);
        assert_ne!(a, c);
        check_valid(&a, 4096);
    }
}

#[test]
fn length_distribution_does_not_move_arrivals() {
    let a = gen(
        &synth(7, Some(500), uniform(), poisson(3.0)),
        Compat::Default,
    );
    let b = gen(&synth(7, Some(500), fixed(), poisson(3.0)), Compat::Default);
    let times = |v: &[RequestSpec]| v.iter().map(|r| r.arrived_at).collect::<Vec<_>>();
    assert_eq!(times(&a), times(&b));
    assert!(b
        .iter()
        .all(|r| (r.num_prefill_tokens, r.num_decode_tokens) == (2048, 512)));
    // First request at the first gap, not at 0.
    assert!(a[0].arrived_at > 0.0);
}

#[test]
fn poisson_rate_default_is_exact_and_compat_is_vidurs_1_052() {
    let qps = 4.0;
    let n = 20_000;
    let d = gen(&synth(1, Some(n), fixed(), poisson(qps)), Compat::Default);
    let (mean, cv) = gap_stats(&d);
    let rate = 1.0 / mean / qps;
    assert!((rate - 1.0).abs() < 0.03, "default rate ratio {rate}");
    assert!((cv - 1.0).abs() < 0.05, "default cv {cv}");

    let v = gen(&synth(1, Some(n), fixed(), poisson(qps)), Compat::Vidur);
    let (mean, cv) = gap_stats(&v);
    let rate = 1.0 / mean / qps;
    assert!((rate - 1.0524).abs() < 0.025, "compat rate ratio {rate}");
    assert!((cv - 0.88).abs() < 0.05, "compat cv {cv}");
    assert!(v
        .windows(2)
        .all(|w| w[1].arrived_at - w[0].arrived_at <= 3.0 / qps + 1e-12));
}

#[test]
fn gamma_mean_and_cv() {
    for cv_cfg in [0.5, 2.0] {
        let cfg = synth(
            3,
            Some(20_000),
            fixed(),
            IntervalConfig::Gamma {
                qps: 5.0,
                cv: cv_cfg,
            },
        );
        let reqs = gen(&cfg, Compat::Default);
        let (mean, cv) = gap_stats(&reqs);
        assert!((mean * 5.0 - 1.0).abs() < 0.05, "gamma mean gap {mean}");
        assert!(
            (cv / cv_cfg - 1.0).abs() < 0.08,
            "gamma cv {cv} vs {cv_cfg}"
        );
    }
}

#[test]
fn static_arrivals_are_all_zero() {
    let reqs = gen(
        &synth(3, Some(10), uniform(), IntervalConfig::Static {}),
        Compat::Default,
    );
    assert_eq!(reqs.len(), 10);
    assert!(reqs.iter().all(|r| r.arrived_at == 0.0));
}

#[test]
fn duration_mode_respects_the_bound() {
    let mut cfg = synth(5, Some(3), fixed(), poisson(10.0));
    if let WorkloadConfig::Synthetic(s) = &mut cfg {
        s.duration_s = Some(100.0); // wins over num_requests
    }
    let reqs = gen(&cfg, Compat::Default);
    assert!(reqs.iter().all(|r| r.arrived_at < 100.0));
    assert!((900..1100).contains(&reqs.len()), "{}", reqs.len());
    // A prefix of the count-mode stream: same arrivals for the same seed.
    let count = gen(
        &synth(5, Some(reqs.len() as u64), fixed(), poisson(10.0)),
        Compat::Default,
    );
    assert_eq!(count, reqs);
}

#[test]
fn zipf_totals_within_range() {
    for scramble in [false, true] {
        let cfg = synth(
            9,
            Some(5000),
            LengthConfig::Zipf {
                theta: 0.6,
                scramble,
                min_tokens: 1024,
                max_tokens: 4096,
                prefill_to_decode_ratio: 20.0,
            },
            poisson(1.0),
        );
        let reqs = gen(&cfg, Compat::Default);
        check_valid(&reqs, 4096);
        for r in &reqs {
            // D = trunc(total/21), P = trunc(total − total/21): P + D ∈ [total − 1, total].
            let t = r.num_prefill_tokens + r.num_decode_tokens;
            assert!((1023..=4096).contains(&t), "{r:?}");
            assert!(r.num_prefill_tokens > 15 * r.num_decode_tokens);
        }
    }
}

#[test]
fn uniform_split_matches_vidur() {
    let reqs = gen(
        &synth(11, Some(2000), uniform(), poisson(1.0)),
        Compat::Default,
    );
    for r in &reqs {
        // total ∈ [1024, 4096]; D = ceil(total/21); P = trunc(total − D).
        let (p, d) = (r.num_prefill_tokens, r.num_decode_tokens);
        assert!((1023..=4096).contains(&(p + d)));
        assert!((49..=196).contains(&d), "{r:?}");
    }
}

#[test]
fn replay_conformance_trace() {
    let file = shared("conformance/cases/vllm_heavy/trace.csv");
    for compat in [Compat::Default, Compat::Vidur] {
        let reqs = gen(&WorkloadConfig::TraceReplay(replay_cfg(&file, 0.4)), compat);
        assert_eq!(reqs.len(), 300);
        assert_eq!(reqs[0].arrived_at, 0.0);
        assert_eq!(reqs[1].arrived_at, 4.314579 * 0.4);
        assert_eq!(
            (reqs[0].num_prefill_tokens, reqs[0].num_decode_tokens),
            (374, 44)
        );
        assert_eq!(
            (reqs[1].num_prefill_tokens, reqs[1].num_decode_tokens),
            (396, 109)
        );
        check_valid(&reqs, 4096);
    }
}

#[test]
fn replay_relative_path_scaling_and_num_requests() {
    let file = shared("data/traces/splitwise_conv.csv");
    let base = file.parent().unwrap();
    let mut cfg = replay_cfg(Path::new("splitwise_conv.csv"), 1.0);
    cfg.num_requests = Some(2);
    cfg.prefill_scale_factor = 0.5;
    cfg.decode_scale_factor = 1.5;
    let reqs = generate(
        &WorkloadConfig::TraceReplay(cfg.clone()),
        Compat::Default,
        base,
    )
    .unwrap();
    // 374·0.5 = 187, 44·1.5 = 66; 396·0.5 = 198, 109·1.5 = 163.5 → 163.
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        (reqs[1].num_prefill_tokens, reqs[1].num_decode_tokens),
        (198, 163)
    );
    assert_eq!(
        (reqs[0].num_prefill_tokens, reqs[0].num_decode_tokens),
        (187, 66)
    );
    // The whole file, clipped (it has prompts up to 14050 tokens).
    cfg.num_requests = None;
    cfg.prefill_scale_factor = 1.0;
    cfg.decode_scale_factor = 1.0;
    let all = generate(
        &WorkloadConfig::TraceReplay(cfg.clone()),
        Compat::Vidur,
        base,
    )
    .unwrap();
    assert_eq!(all.len(), 19366);
    check_valid(&all, 4096);
    cfg.num_requests = Some(20_000);
    let e = generate(&WorkloadConfig::TraceReplay(cfg), Compat::Default, base)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("num_requests = 20000") && e.contains("19366 rows"),
        "{e}"
    );
}

#[test]
fn replay_clipping_both_modes() {
    let file = temp_file(
        "clip.csv",
        b"arrived_at,num_prefill_tokens,num_decode_tokens\n2.0,90,30\n1.0,1,1\n3.0,40,100\n",
    );
    let mut cfg = replay_cfg(&file, 1.0);
    cfg.max_tokens = 100;
    let wl = WorkloadConfig::TraceReplay(cfg);
    let d = gen(&wl, Compat::Default);
    // Sorted by arrival; (90, 30) → (70, 30); (1, 1) fits; (40, 100) → (1, 99) by default.
    // (A 0-token cell is an error, see csvio's tests.)
    let pd = |r: &RequestSpec| (r.arrived_at, r.num_prefill_tokens, r.num_decode_tokens);
    assert_eq!(
        d.iter().map(pd).collect::<Vec<_>>(),
        vec![(1.0, 1, 1), (2.0, 70, 30), (3.0, 1, 99)]
    );
    // Vidur's rule makes the last prompt 40 − 40 = 0: an error naming the line.
    let e = generate(&wl, Compat::Vidur, Path::new("/"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("clip.csv") && e.contains("line 4") && e.contains("num_prefill_tokens = 0"),
        "{e}"
    );
}

#[test]
fn replay_reads_gzip() {
    let plain = b"arrived_at,num_prefill_tokens,num_decode_tokens\n0.5,10,20\n1.5,30,40\n";
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(plain).unwrap();
    let file = temp_file("t.csv.gz", &enc.finish().unwrap());
    let reqs = gen(
        &WorkloadConfig::TraceReplay(replay_cfg(&file, 2.0)),
        Compat::Default,
    );
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        (
            reqs[1].arrived_at,
            reqs[1].num_prefill_tokens,
            reqs[1].num_decode_tokens
        ),
        (3.0, 30, 40)
    );
}

fn trace_lengths(file: &Path) -> LengthConfig {
    LengthConfig::Trace {
        trace_file: file.to_string_lossy().into_owned(),
        prefill_scale_factor: 1.0,
        decode_scale_factor: 1.0,
    }
}

#[test]
fn trace_lengths_are_clipped_shuffled_and_deterministic() {
    let file = shared("data/traces/arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv");
    let mut cfg = synth(42, Some(3000), trace_lengths(&file), poisson(1.0));
    if let WorkloadConfig::Synthetic(s) = &mut cfg {
        s.max_tokens = 2048;
    }
    let a = gen(&cfg, Compat::Default);
    check_valid(&a, 2048);
    assert_eq!(a, gen(&cfg, Compat::Default));
    // Shuffled: the first request is not simply the file's first row (3772, 54).
    let first_rows: Vec<(u32, u32)> = a
        .iter()
        .take(5)
        .map(|r| (r.num_prefill_tokens, r.num_decode_tokens))
        .collect();
    assert_ne!(first_rows[0], clip_pair(3772, 54, 2048));
    // Exhaustion is an error naming the row count.
    let small = temp_file(
        "len3.csv",
        b"num_prefill_tokens,num_decode_tokens\n10,5\n20,6\n30,7\n",
    );
    let e = err(&synth(1, Some(5), trace_lengths(&small), poisson(1.0)));
    assert!(
        e.contains("len3.csv") && e.contains("has 3 rows") && e.contains("num_requests = 5"),
        "{e}"
    );
    let ok = gen(
        &synth(1, Some(3), trace_lengths(&small), poisson(1.0)),
        Compat::Default,
    );
    let mut got: Vec<_> = ok
        .iter()
        .map(|r| (r.num_prefill_tokens, r.num_decode_tokens))
        .collect();
    got.sort();
    assert_eq!(got, vec![(10, 5), (20, 6), (30, 7)]);
}

fn clip_pair(p: u64, d: u64, max: u32) -> (u32, u32) {
    trace::clip_proportional(p, d, max)
}

#[test]
fn interval_trace_seconds_and_datetimes() {
    let secs = temp_file("arr.csv", b"arrived_at\n10.0\n10.5\n12.5\n");
    let iv = |f: &Path, s: f64| IntervalConfig::Trace {
        trace_file: f.to_string_lossy().into_owned(),
        time_scale_factor: s,
    };
    // No count or duration: runs until the trace ends (2 gaps → 2 requests).
    let reqs = gen(&synth(1, None, fixed(), iv(&secs, 2.0)), Compat::Default);
    assert_eq!(
        reqs.iter().map(|r| r.arrived_at).collect::<Vec<_>>(),
        vec![1.0, 5.0]
    );
    // With a larger count it stops when the trace ends.
    assert_eq!(
        gen(
            &synth(1, Some(10), fixed(), iv(&secs, 1.0)),
            Compat::Default
        )
        .len(),
        2
    );

    let dt = temp_file(
        "dt.csv",
        b"func,arrival_time\na,1970-01-04 12:00:00.900\nb,1970-01-04 12:00:01.100\nc,1970-01-04 12:00:03.999\n",
    );
    // Whole seconds since the first (floor of 0, 0.2, 3.099 s): 0, 0, 3 → gaps 0, 3.
    let reqs = gen(&synth(1, None, fixed(), iv(&dt, 1.0)), Compat::Default);
    assert_eq!(
        reqs.iter().map(|r| r.arrived_at).collect::<Vec<_>>(),
        vec![0.0, 3.0]
    );

    let bad = temp_file(
        "dtbad.csv",
        b"arrival_time\n1970-01-04 12:00:00\nyesterday\n",
    );
    let e = err(&synth(1, None, fixed(), iv(&bad, 1.0)));
    assert!(
        e.contains("dtbad.csv") && e.contains("line 3") && e.contains("arrival_time"),
        "{e}"
    );
    let unsorted = temp_file("unsorted.csv", b"arrived_at\n5\n3\n");
    let e = err(&synth(1, None, fixed(), iv(&unsorted, 1.0)));
    assert!(e.contains("line 3") && e.contains("non-decreasing"), "{e}");
    let none = temp_file("nocol.csv", b"time\n5\n");
    let e = err(&synth(1, None, fixed(), iv(&none, 1.0)));
    assert!(
        e.contains("arrived_at") && e.contains("arrival_time") && e.contains("columns found: time"),
        "{e}"
    );
}

#[test]
fn error_missing_column_names_file_and_column() {
    let file = temp_file("nodecode.csv", b"arrived_at,num_prefill_tokens\n0.0,10\n");
    let e = err(&WorkloadConfig::TraceReplay(replay_cfg(&file, 1.0)));
    assert!(e.contains("nodecode.csv"), "{e}");
    assert!(e.contains("missing column `num_decode_tokens`"), "{e}");
    assert!(
        e.contains("columns found: arrived_at, num_prefill_tokens"),
        "{e}"
    );
}

#[test]
fn error_bad_number_names_file_line_and_column() {
    let file = temp_file(
        "badnum.csv",
        b"arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,10,5\n1.0,ten,5\n",
    );
    let e = err(&WorkloadConfig::TraceReplay(replay_cfg(&file, 1.0)));
    assert!(
        e.contains("badnum.csv")
            && e.contains("line 3")
            && e.contains("column `num_prefill_tokens`")
            && e.contains("\"ten\""),
        "{e}"
    );
    for (name, body) in [
        (
            "negarr.csv",
            &b"arrived_at,num_prefill_tokens,num_decode_tokens\n-1.0,10,5\n"[..],
        ),
        (
            "nanarr.csv",
            &b"arrived_at,num_prefill_tokens,num_decode_tokens\nNaN,10,5\n"[..],
        ),
        (
            "short.csv",
            &b"arrived_at,num_prefill_tokens,num_decode_tokens\n1.0,10\n"[..],
        ),
    ] {
        let file = temp_file(name, body);
        let e = err(&WorkloadConfig::TraceReplay(replay_cfg(&file, 1.0)));
        assert!(e.contains(name) && e.contains("line 2"), "{e}");
    }
    let empty = temp_file(
        "header_only.csv",
        b"arrived_at,num_prefill_tokens,num_decode_tokens\n",
    );
    assert!(err(&WorkloadConfig::TraceReplay(replay_cfg(&empty, 1.0))).contains("no data rows"));
    let e = err(&WorkloadConfig::TraceReplay(replay_cfg(
        Path::new("missing.csv"),
        1.0,
    )));
    assert!(
        e.contains("/nonexistent-base/missing.csv")
            && e.contains("workload.trace_replay.trace_file"),
        "{e}"
    );
}

#[test]
fn error_messages_for_bad_config() {
    assert_eq!(
        err(&synth(1, Some(10), fixed(), poisson(-1.0))),
        "workload.synthetic.intervals.poisson.qps must be > 0, got -1"
    );
    assert!(err(&synth(1, Some(10), fixed(), poisson(f64::NAN))).contains("got NaN"));
    let e = err(&synth(
        1,
        Some(10),
        fixed(),
        IntervalConfig::Gamma { qps: 1.0, cv: 0.0 },
    ));
    assert_eq!(
        e,
        "workload.synthetic.intervals.gamma.cv must be > 0, got 0"
    );
    let zipf = |theta| LengthConfig::Zipf {
        theta,
        scramble: false,
        min_tokens: 10,
        max_tokens: 100,
        prefill_to_decode_ratio: 1.0,
    };
    for theta in [1.0, 0.0, -0.5, f64::INFINITY] {
        assert!(err(&synth(1, Some(10), zipf(theta), poisson(1.0))).contains("zipf.theta"));
    }
    let e = err(&synth(
        1,
        Some(10),
        LengthConfig::Uniform {
            min_tokens: 500,
            max_tokens: 100,
            prefill_to_decode_ratio: 1.0,
        },
        poisson(1.0),
    ));
    assert!(
        e.contains("uniform.min_tokens must be <=") && e.contains("got 500"),
        "{e}"
    );
    let e = err(&synth(
        1,
        Some(10),
        LengthConfig::Uniform {
            min_tokens: 500,
            max_tokens: 5000,
            prefill_to_decode_ratio: 1.0,
        },
        poisson(1.0),
    ));
    assert!(e.contains("max_tokens (4096), got 5000"), "{e}");
    let e = err(&synth(
        1,
        Some(10),
        LengthConfig::Fixed {
            prefill_tokens: 4000,
            decode_tokens: 512,
        },
        poisson(1.0),
    ));
    assert!(
        e.contains("fixed.prefill_tokens + decode_tokens") && e.contains("4512"),
        "{e}"
    );
    assert!(err(&synth(1, Some(0), fixed(), poisson(1.0))).contains("num_requests must be > 0"));
    assert!(
        err(&synth(1, None, fixed(), poisson(1.0))).contains("needs num_requests or duration_s")
    );
    let mut cfg = synth(1, None, fixed(), IntervalConfig::Static {});
    if let WorkloadConfig::Synthetic(s) = &mut cfg {
        s.duration_s = Some(10.0);
    }
    assert!(err(&cfg).contains("static"));
    let mut cfg = synth(1, None, fixed(), poisson(0.001));
    if let WorkloadConfig::Synthetic(s) = &mut cfg {
        s.duration_s = Some(1e-6);
    }
    assert!(err(&cfg).contains("no requests"));
    let mut cfg = replay_cfg(Path::new("x.csv"), -2.0);
    assert!(err(&WorkloadConfig::TraceReplay(cfg.clone()))
        .contains("time_scale_factor must be a finite number > 0, got -2"));
    cfg.time_scale_factor = 1.0;
    cfg.max_tokens = 1;
    assert!(err(&WorkloadConfig::TraceReplay(cfg)).contains("max_tokens must be >= 2"));
}

#[test]
fn large_synthetic_generation_is_fast() {
    // Allocation-light hot loop: 1M requests should take well under a second in release.
    let cfg = synth(1, Some(1_000_000), uniform(), poisson(100.0));
    let t0 = std::time::Instant::now();
    let reqs = gen(&cfg, Compat::Default);
    let dt = t0.elapsed();
    assert_eq!(reqs.len(), 1_000_000);
    if !cfg!(debug_assertions) {
        assert!(dt.as_secs_f64() < 2.0, "1M requests took {dt:?}");
    }
}
