//! End-to-end tests of the recorder on a tiny hand-driven run (vidur-behavior.md §9): the hooks
//! are called in the engine's order and the written files are read back.

use std::path::PathBuf;

use super::*;

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("vidur-metrics-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        Scratch(p)
    }
    fn read(&self, rel: &str) -> String {
        let p = self.0.join(rel);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A setup measuring every request; its MFU inputs are placeholders (the driven runs below set
/// MFU values directly through `record_stage_start`).
fn setup(compat: Compat, num_replicas: u32, num_stages: u32) -> RecorderSetup {
    RecorderSetup {
        num_replicas,
        num_stages,
        compat,
        options: MetricsOptions::default(),
        mfu: MfuModel {
            params_per_device: 1.0,
            attn_coeff: 0.0,
            device_flops: 1.0,
        },
        warmup_requests: 0,
    }
}

/// Drives Request/Batch state and the recorder hooks like the engine does (1 stage per replica).
struct Driver {
    rec: Recorder,
    reqs: Vec<Request>,
    next_batch: u64,
}

impl Driver {
    fn with_setup(setup: RecorderSetup, reqs: Vec<Request>) -> Self {
        let n = reqs.len();
        Driver {
            rec: Recorder::new(setup, n),
            reqs,
            next_batch: 0,
        }
    }

    fn arrive(&mut self, id: u32) {
        let r = &self.reqs[id as usize];
        self.rec.on_request_arrival(r.arrived_at, r);
    }

    /// One iteration on replica 0: formed at `t0`, stage runs `[start, end]`.
    #[allow(clippy::too_many_arguments)]
    fn iteration(
        &mut self,
        members: &[(u32, u32)],
        t0: f64,
        mem_sched: f64,
        start: f64,
        end: f64,
        mem_end: f64,
    ) {
        let mut b = Batch {
            id: self.next_batch,
            replica: 0,
            requests: members.iter().map(|m| m.0).collect(),
            num_tokens: members.iter().map(|m| m.1).collect(),
            scheduled_at: t0,
            ..Default::default()
        };
        self.next_batch += 1;
        b.finalize(&self.reqs);
        for &(id, _) in members {
            self.reqs[id as usize].on_batch_schedule(t0);
        }
        self.rec.on_replica_schedule(t0, 0, mem_sched);
        for &(id, _) in members {
            self.reqs[id as usize].on_batch_stage_schedule(start);
        }
        self.rec.record_stage_start(start, 0, 0, 10.0);
        let exec = end - start;
        for &(id, _) in members {
            self.reqs[id as usize].on_batch_stage_end(end, exec, exec);
        }
        self.rec.on_stage_end(end, 0, 0, &b, exec);
        for &(id, n) in members {
            self.reqs[id as usize].on_batch_end(end, n);
        }
        self.rec.on_batch_end(end, 0, &b, &self.reqs, mem_end);
    }
}

/// req0 (P4 D3) and req1 (P2 D1) complete; req2 (P8 D2) is still decoding at the end (12 s).
fn tiny_run(compat: Compat) -> SimMetrics {
    tiny_run_with(setup(compat, 1, 1))
}

fn tiny_run_with(setup: RecorderSetup) -> SimMetrics {
    let reqs = vec![
        Request::new(0, 0.0, 4, 3),
        Request::new(1, 0.5, 2, 1),
        Request::new(2, 10.0, 8, 2),
    ];
    let mut d = Driver::with_setup(setup, reqs);
    d.arrive(0);
    d.iteration(&[(0, 4)], 0.0, 40.0, 0.0, 1.0, 40.0);
    d.arrive(1);
    d.iteration(&[(0, 1), (1, 2)], 1.0, 60.0, 1.0, 2.0, 50.0);
    d.iteration(&[(0, 1)], 2.5, 50.0, 2.5, 3.0, 0.0);
    d.arrive(2);
    d.iteration(&[(2, 8)], 10.0, 30.0, 10.0, 11.0, 30.0);
    d.rec.finish(&d.reqs, 12.0)
}

#[test]
fn recorded_values() {
    let m = tiny_run(Compat::Vidur);
    assert_eq!(m.completions(), &[(2.0, 1), (3.0, 0)]);
    assert_eq!(m.tbt().exact(), &[1.0, 1.0]);
    assert_eq!(m.prefill_completions(), &[(1.0, 4), (2.0, 2), (11.0, 8)]);
    assert_eq!(m.decode_completions(), &[(2.0, 1), (3.0, 1)]);
    assert_eq!(
        m.batch_metric(BatchMetric::Size).exact(),
        &[1.0, 2.0, 1.0, 1.0]
    );
    assert_eq!(
        m.batch_metric(BatchMetric::NumTokens).exact(),
        &[4.0, 3.0, 1.0, 8.0]
    );
    assert_eq!(
        m.batch_metric(BatchMetric::NumPrefillTokens).exact(),
        &[4.0, 2.0, 0.0, 8.0]
    );
    assert_eq!(
        m.batch_metric(BatchMetric::NumDecodeTokens).exact(),
        &[0.0, 1.0, 1.0, 0.0]
    );
    assert_eq!(
        m.batch_metric(BatchMetric::ExecutionTime).exact(),
        &[1.0, 1.0, 0.5, 1.0]
    );
    assert_eq!(
        m.batch_metric(BatchMetric::Size).sketch_quantile(0.0),
        Some(0.9989999999999999)
    );

    let r0 = m.request_row(0).unwrap().times.unwrap();
    assert_eq!(r0.request_e2e_time, 3.0);
    assert_eq!(r0.request_execution_time, 2.5);
    assert_eq!(r0.request_preemption_time, 0.5);
    assert_eq!(r0.prefill_e2e_time, 1.0);
    assert!(m.request_row(2).unwrap().times.is_none());
    assert_eq!(m.request_row(1).unwrap().inter_arrival_delay, Some(0.5));
    assert_eq!(m.request_row(0).unwrap().inter_arrival_delay, None);

    // Vidur's memory "weighted mean" is the plain mean of every put, the initial 0 included:
    // (0 + 40 + 40 + 60 + 50 + 50 + 0 + 30 + 30) / 9.
    assert_eq!(
        m.memory_stats(0),
        MeterStats {
            min: Some(0.0),
            max: Some(60.0),
            weighted_mean: Some(300.0 / 9.0)
        }
    );
    assert_eq!(m.busy_stats(0, 0).weighted_mean, Some(25.0));
    assert_eq!(m.mfu_stats(0, 0).weighted_mean, Some(2.5));

    // Default mode counts [0, first event] and extends to the end time.
    let d = tiny_run(Compat::Default);
    assert_eq!(d.memory_stats(0).weighted_mean, Some(210.0 / 12.0));
    assert_eq!(d.busy_stats(0, 0).weighted_mean, Some(350.0 / 12.0));
}

#[test]
fn summary_values() {
    let s = tiny_run(Compat::Default).summary();
    assert_eq!(
        s.requests,
        RequestCounts {
            arrived: 3,
            completed: 2,
            unfinished: 1,
            warmup: 0,
        }
    );
    assert_eq!(
        (s.ttft.count, s.ttft.p50, s.ttft.max),
        (2, Some(1.25), Some(1.5))
    );
    assert_eq!((s.tbt.count, s.tbt.mean), (2, Some(1.0)));
    assert_eq!(s.e2e.mean, Some(2.25));
    assert_eq!(s.throughput.span_s, 12.0);
    assert_eq!(s.throughput.requests_per_s, Some(2.0 / 12.0));
    assert_eq!(s.throughput.output_tokens_per_s, Some(4.0 / 12.0));
    assert_eq!(s.throughput.total_tokens_per_s, Some(10.0 / 12.0));
    assert_eq!(s.utilization.busy_percent, Some(350.0 / 12.0));

    let empty = Recorder::new(setup(Compat::Default, 1, 1), 0)
        .finish(&[], 0.0)
        .summary();
    let json = serde_json::to_value(&empty).unwrap();
    assert!(json["ttft"]["p99"].is_null());
    assert!(json["throughput"]["requests_per_s"].is_null());
}

#[test]
fn written_files_vidur_mode() {
    let dir = Scratch::new("vidur");
    let m = tiny_run(Compat::Vidur);
    m.write_outputs_with(&dir.0, &serde_json::json!({"compat": "vidur"}))
        .unwrap();

    let csv = dir.read("request_metrics.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], REQUEST_METRICS_HEADER);
    assert_eq!(
        lines[1],
        "0,3.0,1.0,2.5,0.8333333333333334,2.5,0.8333333333333334,0.5,0.0,3.0,1.0,1.0,1.0,0.25,\
         0.6666666666666666,,7.0,4.0,3.0,1.3333333333333333,0.0"
    );
    assert_eq!(
        lines[2],
        "1,1.5,1.5,1.0,1.0,1.0,1.0,0.0,0.5,1.0,1.0,1.5,1.0,0.5,0.0,0.5,3.0,2.0,1.0,2.0,0.0"
    );
    // Unfinished: empty time columns and restarts; pandas made the restarts column float.
    assert_eq!(lines[3], "2,,,,,,,,,,,,,,,9.5,10.0,8.0,2.0,4.0,");
    assert_eq!(lines.len(), 4);

    assert_eq!(
        dir.read("plots/prefill_e2e_time.csv"),
        ",Request Id,prefill_e2e_time,cdf\n1,0,1.0,0.5\n0,1,1.5,1.0\n"
    );

    let bs = dir.read("plots/batch_size.csv");
    let rows: Vec<&str> = bs.lines().collect();
    assert_eq!(rows.len(), 102);
    assert_eq!(rows[0], ",cdf,batch_size");
    assert_eq!(rows[1], "0,0.0,0.9989999999999999");
    let top = m
        .batch_metric(BatchMetric::Size)
        .sketch_quantile(1.0)
        .unwrap();
    assert_eq!(rows[101], format!("100,1.0,{}", py_float(top)));
    assert!(rows[58].starts_with("57,0.5700000000000001,"));
    // Decode tokens: 0,1,1,0 → the zero bucket for low ranks prints as a float.
    assert!(dir
        .read("plots/batch_num_decode_tokens.csv")
        .lines()
        .nth(1)
        .unwrap()
        .ends_with(",0.0"));
    assert_eq!(
        dir.read("plots/decode_token_execution_plus_preemption_time.csv")
            .lines()
            .count(),
        102
    );

    assert_eq!(
        dir.read("plots/request_arrival_time_series.csv"),
        ",Time (sec),request_arrival\n0,0.0,1\n1,0.5,2\n2,10.0,3\n"
    );
    assert_eq!(
        dir.read("plots/request_completion_time_series.csv"),
        ",Time (sec),request_completion\n0,2.0,1\n1,3.0,2\n"
    );
    assert_eq!(
        dir.read("plots/prefill_completion_time_series.csv"),
        ",Time (sec),prefill_completion\n0,1.0,4.0\n1,2.0,6.0\n2,11.0,14.0\n"
    );
    assert_eq!(
        dir.read("plots/decode_completion_time_series.csv"),
        ",Time (sec),decode_completion\n0,2.0,1\n1,3.0,2\n"
    );

    assert_eq!(
        dir.read("plots/replica_1_memory_usage.json"),
        "{\"replica_1_memory_usage_min\": 0, \"replica_1_memory_usage_max\": 60.0, \
         \"replica_1_memory_usage_weighted_mean\": 33.333333333333336}"
    );
    assert_eq!(
        dir.read("plots/replica_1_stage_1_busy_time_percent.json"),
        "{\"replica_1_stage_1_busy_time_percent_min\": 0, \"replica_1_stage_1_busy_time_percent_max\": 100, \
         \"replica_1_stage_1_busy_time_percent_weighted_mean\": 25.0}"
    );
    assert_eq!(
        dir.read("plots/replica_1_stage_1_mfu.json"),
        "{\"replica_1_stage_1_mfu_min\": 0, \"replica_1_stage_1_mfu_max\": 10.0, \
         \"replica_1_stage_1_mfu_weighted_mean\": 2.5}"
    );

    let trace: serde_json::Value = serde_json::from_str(&dir.read("chrome_trace.json")).unwrap();
    let slices: Vec<&serde_json::Value> = trace["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X")
        .collect();
    assert_eq!(slices.len(), 4);
    assert_eq!(slices[1]["name"], "[0, 1]");
    assert_eq!(slices[1]["ts"], 1e6);

    let summary: serde_json::Value = serde_json::from_str(&dir.read("summary.json")).unwrap();
    assert_eq!(summary["run"]["compat"], "vidur");
    assert_eq!(summary["requests"]["completed"], 2);
    assert_eq!(summary["end_time"], 12.0);
}

#[test]
fn written_files_default_mode() {
    let dir = Scratch::new("default");
    tiny_run(Compat::Default).write_outputs(&dir.0).unwrap();
    let csv = dir.read("request_metrics.csv");
    // Integer restarts even with unfinished requests.
    assert!(csv.lines().nth(1).unwrap().ends_with(",0"));
    let bs = dir.read("plots/batch_size.csv");
    let rows: Vec<&str> = bs.lines().collect();
    assert_eq!(rows[1], "0,0.0,1.0");
    // numpy gives 1.7000000000000002 too: index 0.9·3 = 2.7, t = 0.7000000000000002.
    assert_eq!(rows[91], "90,0.9,1.7000000000000002");
    assert_eq!(rows[101], "100,1.0,2.0");
    assert!(dir
        .read("plots/replica_0_memory_usage.json")
        .contains("\"replica_0_memory_usage_weighted_mean\": 17.5"));
    assert!(dir
        .0
        .join("plots/replica_0_stage_0_busy_time_percent.json")
        .exists());
    assert!(
        serde_json::from_str::<serde_json::Value>(&dir.read("summary.json")).unwrap()["run"]
            .is_null()
    );
}

#[test]
fn vidur_meter_files_are_index_shifted() {
    let setup = |compat| setup(compat, 3, 2);
    for (compat, mem_file, busy_file) in [
        // Replica id 0 → slot 2 → file replica_3; stage 1 → slot 0 → stage_1.
        (
            Compat::Vidur,
            "replica_3_memory_usage",
            "replica_3_stage_1_busy_time_percent",
        ),
        (
            Compat::Default,
            "replica_0_memory_usage",
            "replica_0_stage_1_busy_time_percent",
        ),
    ] {
        let mut rec = Recorder::new(setup(compat), 0);
        rec.on_replica_schedule(1.0, 0, 50.0);
        rec.on_replica_schedule(2.0, 0, 50.0);
        let b = Batch::default();
        rec.record_stage_start(1.0, 0, 1, 5.0);
        rec.on_stage_end(2.0, 0, 1, &b, 1.0);
        let m = rec.finish(&[], 3.0);
        assert_eq!(m.memory_stats(0).max, Some(50.0));
        assert_eq!(m.memory_stats(1).max, Some(0.0));
        assert_eq!(m.busy_stats(0, 1).max, Some(100.0));
        assert_eq!(
            m.busy_stats(0, 0).max,
            if compat.is_vidur() { None } else { Some(0.0) }
        );
        let dir = Scratch::new(if compat.is_vidur() {
            "shift-v"
        } else {
            "shift-d"
        });
        m.write_outputs(&dir.0).unwrap();
        assert!(
            dir.read(&format!("plots/{mem_file}.json"))
                .contains("_max\": 50.0"),
            "{compat:?}"
        );
        assert!(
            dir.read(&format!("plots/{busy_file}.json"))
                .contains("_max\": 100,"),
            "{compat:?}"
        );
    }
}

#[test]
fn warmup_requests_are_simulated_but_not_measured() {
    let m = tiny_run_with(RecorderSetup {
        warmup_requests: 1,
        ..setup(Compat::Default, 1, 1)
    });
    // req0 is warm-up: its row, completion, prefill, and both TBT gaps (all its own) go.
    let ids: Vec<u32> = m.request_rows().iter().map(|r| r.id).collect();
    assert_eq!(ids, [1, 2]);
    assert_eq!(m.completions(), &[(2.0, 1)]);
    assert!(m.tbt().exact().is_empty());
    assert_eq!(m.prefill_completions(), &[(2.0, 2), (11.0, 8)]);
    // The batch metrics still describe the whole run.
    assert_eq!(m.batch_metric(BatchMetric::Size).exact().len(), 4);
    let s = m.summary();
    assert_eq!(
        s.requests,
        RequestCounts {
            arrived: 2,
            completed: 1,
            unfinished: 1,
            warmup: 1,
        }
    );
    assert_eq!((s.ttft.count, s.ttft.mean), (1, Some(1.5)));
    assert_eq!(s.e2e.count, 1);
    // Throughput from the first measured arrival (0.5 s) to the end (12 s).
    assert_eq!(s.throughput.span_s, 11.5);
    assert_eq!(s.throughput.output_tokens_per_s, Some(1.0 / 11.5));

    let dir = Scratch::new("warmup");
    m.write_outputs(&dir.0).unwrap();
    assert_eq!(dir.read("request_metrics.csv").lines().count(), 3);
    assert_eq!(
        dir.read("plots/request_arrival_time_series.csv"),
        ",Time (sec),request_arrival\n0,0.5,1\n1,10.0,2\n"
    );

    // Without warm-up nothing is excluded.
    assert_eq!(tiny_run(Compat::Default).summary().requests.warmup, 0);
}

#[test]
fn in_flight_mean_is_time_weighted_over_the_window() {
    // In flight: 1 on [0, 0.5], 2 on [0.5, 2], 1 on [2, 3], 0 on [3, 10] (last arrival).
    let s = tiny_run(Compat::Default).summary();
    assert_eq!(s.in_flight_mean, Some(4.5 / 10.0));
    // From the first measured arrival (0.5 s): 2·1.5 + 1·1 over 9.5 s.
    let m = tiny_run_with(RecorderSetup {
        warmup_requests: 1,
        ..setup(Compat::Default, 1, 1)
    });
    assert_eq!(m.in_flight_mean(), Some(4.0 / 9.5));
    let json = serde_json::to_value(m.summary()).unwrap();
    assert_eq!(json["in_flight_mean"], 4.0 / 9.5);

    // A closed loop of 3 clients: each completion brings the next arrival at the same instant
    // (completion first, as the engine orders them); Little's law gives exactly 3.
    let mut f = InFlight::default();
    for t in [0.0, 0.0, 0.0] {
        f.arrive(t, true);
    }
    for t in [0.7, 1.1, 1.9, 2.3, 2.8, 4.0] {
        f.complete(t);
        f.arrive(t, true);
    }
    // The tail after the last arrival drains and is outside the window.
    f.complete(4.5);
    assert_eq!(f.mean(), Some(3.0));
    // Warm-up arrivals open no window; one measured arrival alone is an empty one.
    let mut g = InFlight::default();
    g.arrive(0.0, false);
    assert_eq!(g.mean(), None);
    g.arrive(1.0, true);
    assert_eq!(g.mean(), None);
    // The warm-up request still counts while in flight: 2 on [1, 3].
    g.arrive(3.0, true);
    assert_eq!(g.mean(), Some(2.0));
}

#[test]
fn bench_tpot_beside_vidur_tpot() {
    let s = tiny_run(Compat::Default).summary();
    // req0: TTFT 1, E2E 3, 3 output tokens → (3 − 1) / 2; req1 has one output token.
    assert_eq!((s.tpot_bench.count, s.tpot_bench.mean), (1, Some(1.0)));
    // Vidur's TPOT counts both: req0 (3 − 1) / 3 and req1 (2 − 2) / 1.
    assert_eq!(s.tpot.count, 2);
    assert_eq!(s.tpot.max, Some(2.0 / 3.0));
    let names: Vec<&str> = s.distributions().iter().map(|d| d.0).collect();
    assert_eq!(&names[..3], ["ttft", "tpot", "tpot_bench"]);
}

#[test]
fn mfu_from_the_priced_batch() {
    let model = MfuModel {
        params_per_device: 3.0,
        attn_coeff: 2.0,
        device_flops: 1000.0,
    };
    let entries = [
        BatchEntry {
            num_tokens: 4,
            num_processed_tokens: 0,
            is_prefill_complete: false,
        },
        BatchEntry {
            num_tokens: 1,
            num_processed_tokens: 10,
            is_prefill_complete: true,
        },
    ];
    // 2·5 tokens·3 params + 2·4·4 + 2·1·11 = 84 FLOPs over 0.5 s, per 1000 FLOP/s, in %.
    assert_eq!(model.percent(&entries, 0.5), 84.0 / 0.5 * 100.0 / 1000.0);
    assert_eq!(model.percent(&entries, 0.0), 0.0);

    let mut rec = Recorder::new(
        RecorderSetup {
            mfu: model,
            ..setup(Compat::Default, 1, 1)
        },
        0,
    );
    let time = StageTime {
        total_s: 0.5,
        model_s: 0.4,
    };
    let b = Batch::default();
    rec.on_stage_schedule(1.0, 0, 0, &b, &entries, &time);
    rec.on_stage_end(1.5, 0, 0, &b, 0.5);
    let m = rec.finish(&[], 2.0);
    assert_eq!(m.mfu_stats(0, 0).max, Some(16.8));
    assert_eq!(m.busy_stats(0, 0).max, Some(100.0));
}
