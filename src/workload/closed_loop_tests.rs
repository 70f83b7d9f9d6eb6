//! Tests of the closed-loop source against a fake server: concurrency bound, think time and
//! ramp-up spacing, determinism, warm-up, YAML and error messages.

use std::path::Path;

use super::*;

fn cfg(concurrency: u32, num_requests: u64) -> ClosedLoopConfig {
    ClosedLoopConfig {
        concurrency,
        num_requests,
        warmup_requests: 0,
        think_time_s: 0.0,
        ramp_up_s: 0.0,
        max_tokens: 4096,
        lengths: LengthConfig::Fixed {
            prefill_tokens: 1024,
            decode_tokens: 1024,
        },
        seed: 7,
    }
}

fn uniform() -> LengthConfig {
    LengthConfig::Uniform {
        min_tokens: 100,
        max_tokens: 3000,
        prefill_to_decode_ratio: 3.0,
    }
}

fn source(c: &ClosedLoopConfig) -> ClosedLoopSource {
    ClosedLoopSource::new(c, Path::new(".")).unwrap()
}

/// What the fake server saw.
struct Run {
    /// Requests in arrival order.
    arrivals: Vec<RequestSpec>,
    /// Completion time per request id.
    completions: Vec<f64>,
    /// Most requests in flight at once.
    max_in_flight: usize,
}

/// A server with unlimited parallelism where request `id` takes `service(id)` seconds: the
/// engine's loop in miniature (arrivals win ties with completions, completions are reported
/// to the source in time order).
fn drive(src: &mut ClosedLoopSource, service: impl Fn(usize) -> f64) -> Run {
    let mut arrivals: Vec<RequestSpec> = Vec::new();
    let mut completions = Vec::new();
    let mut running: Vec<(f64, usize)> = Vec::new();
    let mut max_in_flight = 0;
    loop {
        let next_done = running
            .iter()
            .enumerate()
            .min_by(|a, b| a.1 .0.total_cmp(&b.1 .0).then(a.1 .1.cmp(&b.1 .1)))
            .map(|(i, &(t, _))| (i, t));
        match (src.next_arrival(), next_done) {
            (Some(a), d) if d.is_none_or(|(_, t)| a <= t) => {
                let r = src.pop().expect("next_arrival announced a request");
                assert_eq!(r.arrived_at, a);
                if let Some(prev) = arrivals.last() {
                    assert!(r.arrived_at >= prev.arrived_at, "arrivals went back");
                }
                let id = arrivals.len();
                arrivals.push(r);
                completions.push(f64::NAN);
                running.push((a + service(id), id));
                max_in_flight = max_in_flight.max(running.len());
                assert_eq!(src.in_flight() as usize, running.len());
            }
            (_, Some((i, t))) => {
                let (_, id) = running.swap_remove(i);
                completions[id] = t;
                src.on_complete(id as u64, t);
            }
            (None, None) => break,
            (Some(_), None) => unreachable!("covered by the first arm"),
        }
    }
    Run {
        arrivals,
        completions,
        max_in_flight,
    }
}

#[test]
fn in_flight_never_exceeds_concurrency_and_every_request_is_issued() {
    for (n, total) in [(1, 10), (5, 200), (32, 640), (50, 20)] {
        let mut c = cfg(n, total);
        c.lengths = uniform();
        c.think_time_s = 0.01;
        c.ramp_up_s = 0.3;
        let mut src = source(&c);
        let run = drive(&mut src, |id| 0.05 + (id * 7919 % 13) as f64 * 0.1);
        assert_eq!(run.arrivals.len() as u64, total, "n = {n}");
        assert!(run.completions.iter().all(|t| t.is_finite()));
        assert!(run.max_in_flight as u64 <= u64::from(n), "n = {n}");
        // Without ramp-up every client starts at 0: the bound is reached.
        c.ramp_up_s = 0.0;
        let run = drive(&mut source(&c), |id| 0.05 + (id * 7919 % 13) as f64 * 0.1);
        assert_eq!(run.max_in_flight as u64, u64::from(n).min(total), "n = {n}");
        assert_eq!(src.remaining(), Some(0));
        assert_eq!(src.in_flight(), 0);
    }
}

#[test]
fn zero_think_time_keeps_exactly_n_in_flight() {
    let mut src = source(&cfg(8, 100));
    let run = drive(&mut src, |id| 1.0 + (id % 3) as f64 * 0.25);
    // Each completion's follow-up arrives at the same instant, so between the first and the
    // last arrival exactly 8 are in flight at every time.
    let last = run.arrivals.last().unwrap().arrived_at;
    let mut events: Vec<(f64, i32)> = run
        .arrivals
        .iter()
        .map(|r| (r.arrived_at, 1))
        .chain(run.completions.iter().map(|&t| (t, -1)))
        .collect();
    // Arrivals first on ties, as the engine orders them.
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut n = 0;
    for w in events.windows(2) {
        n += w[0].1;
        if w[0].0 < last && w[1].0 > w[0].0 {
            assert_eq!(n, 8, "in flight over [{}, {}]", w[0].0, w[1].0);
        }
    }
}

#[test]
fn follow_ups_arrive_think_time_after_completions() {
    let mut c = cfg(5, 200);
    c.think_time_s = 0.7;
    c.ramp_up_s = 2.0;
    let mut src = source(&c);
    let run = drive(&mut src, |id| 0.05 + (id * 31 % 11) as f64 * 0.2);
    // Arrival times = the clients' starts ∪ {each completion + think} for the first
    // num_requests − clients completions.
    let mut done = run.completions.clone();
    done.sort_by(f64::total_cmp);
    let mut expected: Vec<f64> = (0..5).map(|k| 2.0 * k as f64 / 5.0).collect();
    expected.extend(done.iter().take(195).map(|t| t + 0.7));
    expected.sort_by(f64::total_cmp);
    let got: Vec<f64> = run.arrivals.iter().map(|r| r.arrived_at).collect();
    assert_eq!(got, expected);
}

#[test]
fn fixed_service_gives_rounds_of_n() {
    // Service 2 s, think 0.5 s, 4 clients at t = 0: round k arrives at k · 2.5 s.
    let mut c = cfg(4, 20);
    c.think_time_s = 0.5;
    let mut src = source(&c);
    let run = drive(&mut src, |_| 2.0);
    for (i, r) in run.arrivals.iter().enumerate() {
        let want = (i / 4) as f64 * 2.5;
        assert!(
            (r.arrived_at - want).abs() < 1e-9,
            "request {i}: {}",
            r.arrived_at
        );
    }
}

#[test]
fn ramp_up_spreads_the_clients_evenly() {
    let mut c = cfg(4, 100);
    c.ramp_up_s = 2.0;
    let mut src = source(&c);
    // Service longer than the ramp: the first four arrivals are the clients' starts.
    let run = drive(&mut src, |_| 10.0);
    let first: Vec<f64> = run.arrivals[..4].iter().map(|r| r.arrived_at).collect();
    assert_eq!(first, [0.0, 0.5, 1.0, 1.5]);
    assert_eq!(run.arrivals[4].arrived_at, 10.0);

    // Fewer requests than clients: only that many clients start.
    let mut c = cfg(10, 3);
    c.ramp_up_s = 1.0;
    let run = drive(&mut source(&c), |_| 0.01);
    let t: Vec<f64> = run.arrivals.iter().map(|r| r.arrived_at).collect();
    assert_eq!(t, [0.0, 0.1, 0.2]);
}

#[test]
fn ramp_start_wins_a_tie_with_a_follow_up() {
    // Client 1 starts at 1.0; client 0's request completes at 1.0 and its follow-up is due at
    // 1.0 too: the start was issued first, so it comes first.
    let mut c = cfg(2, 4);
    c.ramp_up_s = 2.0;
    let mut src = source(&c);
    assert_eq!(src.pop().unwrap().arrived_at, 0.0);
    src.on_complete(0, 1.0);
    assert_eq!(src.next_arrival(), Some(1.0));
    assert_eq!(src.pop().unwrap().arrived_at, 1.0);
    assert_eq!(
        src.in_flight(),
        1,
        "the ramp start was handed out, the follow-up waits"
    );
    assert_eq!(src.pop().unwrap().arrived_at, 1.0);
    assert_eq!(src.next_arrival(), None);
}

#[test]
fn same_config_same_requests_and_lengths_follow_the_synthetic_stream() {
    let mut c = cfg(6, 300);
    c.lengths = uniform();
    c.think_time_s = 0.1;
    let service = |id: usize| 0.3 + (id % 5) as f64 * 0.1;
    let a = drive(&mut source(&c), service).arrivals;
    let b = drive(&mut source(&c), service).arrivals;
    assert_eq!(a, b);
    c.seed = 8;
    let other = drive(&mut source(&c), service).arrivals;
    assert_ne!(
        a.iter().map(|r| r.num_prefill_tokens).collect::<Vec<_>>(),
        other
            .iter()
            .map(|r| r.num_prefill_tokens)
            .collect::<Vec<_>>()
    );
    // Request i in arrival order gets the i-th length draw of a synthetic workload with the
    // same seed, whatever the arrival times.
    let synth = generate(
        &WorkloadConfig::Synthetic(SyntheticConfig {
            seed: 7,
            num_requests: Some(300),
            duration_s: None,
            max_tokens: 4096,
            lengths: uniform(),
            intervals: IntervalConfig::Poisson { qps: 1.0 },
        }),
        Compat::Default,
        Path::new("."),
    )
    .unwrap();
    let lens = |v: &[RequestSpec]| {
        v.iter()
            .map(|r| (r.num_prefill_tokens, r.num_decode_tokens))
            .collect::<Vec<_>>()
    };
    assert_eq!(lens(&a), lens(&synth));
}

#[test]
fn warmup_count_is_reported() {
    let mut c = cfg(32, 640);
    c.warmup_requests = 64;
    assert_eq!(source(&c).warmup_requests(), 64);
    assert_eq!(WorkloadConfig::ClosedLoop(c.clone()).warmup_requests(), 64);
    assert_eq!(WorkloadConfig::ClosedLoop(c).max_tokens(), 4096);
    let open = WorkloadConfig::Synthetic(SyntheticConfig {
        seed: 1,
        num_requests: Some(5),
        duration_s: None,
        max_tokens: 2048,
        lengths: uniform(),
        intervals: IntervalConfig::Static {},
    });
    assert_eq!(open.warmup_requests(), 0);
}

#[test]
fn yaml_parses_with_defaults_and_rejects_unknown_fields() {
    let w: WorkloadConfig = serde_saphyr::from_str(
        "closed_loop: {concurrency: 32, num_requests: 640, warmup_requests: 64, \
         lengths: {fixed: {prefill_tokens: 1024, decode_tokens: 1024}}, seed: 7}",
    )
    .unwrap();
    let mut want = cfg(32, 640);
    want.warmup_requests = 64;
    assert_eq!(w, WorkloadConfig::ClosedLoop(want));

    let w: WorkloadConfig = serde_saphyr::from_str(
        "closed_loop: {concurrency: 2, num_requests: 9, think_time_s: 0.5, ramp_up_s: 3, \
         max_tokens: 8192, lengths: {builtin: {name: chat}}}",
    )
    .unwrap();
    let WorkloadConfig::ClosedLoop(c) = w else {
        panic!("not a closed loop: {w:?}")
    };
    assert_eq!(
        (
            c.warmup_requests,
            c.think_time_s,
            c.ramp_up_s,
            c.max_tokens,
            c.seed
        ),
        (0, 0.5, 3.0, 8192, 42)
    );

    let e = serde_saphyr::from_str::<WorkloadConfig>(
        "closed_loop: {concurrency: 2, num_requests: 9, qps: 3, lengths: {builtin: {name: chat}}}",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("qps"), "{e}");
}

fn err(c: &ClosedLoopConfig) -> String {
    match ClosedLoopSource::new(c, Path::new(".")) {
        Ok(_) => panic!("accepted {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_values_are_errors_naming_the_field() {
    let base = cfg(4, 10);
    let cases: Vec<(ClosedLoopConfig, &str)> = vec![
        (
            ClosedLoopConfig {
                concurrency: 0,
                ..base.clone()
            },
            "workload.closed_loop.concurrency must be >= 1, got 0",
        ),
        (
            ClosedLoopConfig {
                num_requests: 0,
                ..base.clone()
            },
            "workload.closed_loop.num_requests must be >= 1, got 0",
        ),
        (
            ClosedLoopConfig {
                warmup_requests: 10,
                ..base.clone()
            },
            "workload.closed_loop.warmup_requests must be < num_requests (10, which counts the \
             warm-up too), got 10",
        ),
        (
            ClosedLoopConfig {
                think_time_s: -1.0,
                ..base.clone()
            },
            "workload.closed_loop.think_time_s must be a finite number >= 0, got -1",
        ),
        (
            ClosedLoopConfig {
                think_time_s: f64::NAN,
                ..base.clone()
            },
            "workload.closed_loop.think_time_s must be a finite number >= 0, got NaN",
        ),
        (
            ClosedLoopConfig {
                ramp_up_s: f64::INFINITY,
                ..base.clone()
            },
            "workload.closed_loop.ramp_up_s must be a finite number >= 0, got inf",
        ),
        (
            ClosedLoopConfig {
                max_tokens: 1,
                ..base.clone()
            },
            "workload.closed_loop.max_tokens must be >= 2",
        ),
        (
            ClosedLoopConfig {
                max_tokens: 2000,
                ..base.clone()
            },
            "workload.closed_loop.lengths.fixed.prefill_tokens + decode_tokens must be <= the \
             workload's max_tokens (2000), got 2048",
        ),
        (
            ClosedLoopConfig {
                lengths: LengthConfig::Builtin {
                    name: "nope".into(),
                },
                ..base.clone()
            },
            "workload.closed_loop.lengths.builtin.name must name a built-in workload",
        ),
        (
            ClosedLoopConfig {
                lengths: LengthConfig::Trace {
                    trace_file: "/nonexistent/lengths.csv".into(),
                    prefill_scale_factor: 1.0,
                    decode_scale_factor: 1.0,
                },
                ..base.clone()
            },
            "workload.closed_loop.lengths.trace.trace_file: cannot open trace file",
        ),
    ];
    for (c, want) in cases {
        let e = err(&c);
        assert!(e.starts_with(want), "got {e:?}, want {want:?}");
    }
}

#[test]
fn a_length_trace_shorter_than_num_requests_is_an_error() {
    let dir = std::env::temp_dir().join(format!("vidur-closed-loop-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("three_rows.csv");
    std::fs::write(
        &file,
        "num_prefill_tokens,num_decode_tokens\n10,5\n20,6\n30,7\n",
    )
    .unwrap();
    let mut c = cfg(2, 4);
    c.lengths = LengthConfig::Trace {
        trace_file: file.to_string_lossy().into_owned(),
        prefill_scale_factor: 1.0,
        decode_scale_factor: 1.0,
    };
    let e = err(&c);
    assert!(
        e.contains("has 3 rows but the workload needs more requests (num_requests = 4)"),
        "{e}"
    );
    c.num_requests = 3;
    let run = drive(&mut source(&c), |_| 1.0);
    let mut lens: Vec<u32> = run.arrivals.iter().map(|r| r.num_prefill_tokens).collect();
    lens.sort_unstable();
    assert_eq!(lens, [10, 20, 30]);
}

#[test]
fn generate_refuses_a_closed_loop() {
    let e = generate(
        &WorkloadConfig::ClosedLoop(cfg(4, 10)),
        Compat::Default,
        Path::new("."),
    )
    .unwrap_err();
    assert!(matches!(e, WorkloadError::ClosedLoopAhead(_)), "{e:?}");
    assert!(
        e.to_string().starts_with(
            "a closed-loop workload depends on the simulation; it cannot be generated ahead of it"
        ),
        "{e}"
    );
}

#[test]
fn iterating_without_completions_yields_the_first_requests_only() {
    let src = source_of(&WorkloadConfig::ClosedLoop(cfg(4, 10)));
    assert_eq!(src.size_hint(), (1, Some(10)));
    let all: Vec<RequestSpec> = src.collect();
    assert_eq!(all.len(), 4);
    assert!(all.iter().all(|r| r.arrived_at == 0.0));
}

fn source_of(c: &WorkloadConfig) -> WorkloadSource {
    super::source(c, Compat::Default, Path::new(".")).unwrap()
}

#[test]
fn workload_source_forwards_completions() {
    let mut src = source_of(&WorkloadConfig::ClosedLoop(cfg(1, 3)));
    assert_eq!(src.pop().unwrap().arrived_at, 0.0);
    assert_eq!(src.next_arrival(), None);
    src.on_complete(0, 2.5);
    assert_eq!(src.next_arrival(), Some(2.5));
}

#[test]
fn stray_and_early_completions_cannot_break_the_contract() {
    let mut c = cfg(2, 10);
    c.ramp_up_s = 4.0;
    let mut src = source(&c);
    // Nothing in flight: ignored, no client is added.
    src.on_complete(0, 0.0);
    assert_eq!(src.pop().unwrap().arrived_at, 0.0);
    assert_eq!(src.pop().unwrap().arrived_at, 2.0);
    assert_eq!(src.next_arrival(), None);
    // A completion dated before the last arrival: the follow-up still does not go back.
    src.on_complete(0, 1.0);
    assert_eq!(src.next_arrival(), Some(2.0));
    src.on_complete(1, 3.0);
    src.on_complete(1, 3.0);
    assert_eq!(src.in_flight(), 0);
    assert_eq!(src.pop().unwrap().arrived_at, 2.0);
    assert_eq!(src.pop().unwrap().arrived_at, 3.0);
    assert_eq!(src.next_arrival(), None);
}
