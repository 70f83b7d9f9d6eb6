//! Report writers end to end: a synthetic search outcome (2 GPUs × TP × schedulers, 2 SLOs,
//! 2 seeds, some infeasible, some dropped) written to a temp directory, every file checked.
//! Set VIDUR_KEEP_REPORT=1 to keep the directory for a look at the plots.

use std::fs;
use std::path::{Path, PathBuf};

use vidur_search::report::{write_all, ReportOptions};
use vidur_search::search::{
    CapacityStatus, Cost, DroppedPoint, PointConfig, PointResult, RunMeta, SearchOutcome,
    SeedCapacity, SimRecord, Slo, SloMetric, SloValue,
};

fn slos() -> Vec<Slo> {
    vec![
        Slo {
            metric: SloMetric::Ttft,
            quantile: 0.9,
            max_seconds: 2.0,
        },
        Slo {
            metric: SloMetric::Tbt,
            quantile: 0.99,
            max_seconds: 0.2,
        },
    ]
}

/// Deterministic noise in [0, 1).
fn noise(k: u64) -> f64 {
    let x = k
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn run(seed: u64, qps: f64, vals: [f64; 2]) -> SimRecord {
    let slos: Vec<SloValue> = slos()
        .into_iter()
        .zip(vals)
        .map(|(slo, v)| SloValue {
            slo,
            value_s: Some(v),
            ok: v <= slo.max_seconds,
        })
        .collect();
    SimRecord {
        seed,
        qps,
        pass: slos.iter().all(|v| v.ok),
        slos,
        goodput: 0.98,
        num_requests: 1024,
        num_unfinished: 0,
        stopped_early: false,
        simulated_s: 1024.0 / qps,
        output_tokens_per_s: qps * 250.0,
        wall_s: 0.3,
    }
}

#[allow(clippy::too_many_arguments)]
fn point(
    k: u64,
    model: &str,
    workload: &str,
    gpu: &str,
    price: f64,
    speed: f64,
    tp: u32,
    replicas: u32,
    scheduler: &str,
    chunk: Option<u32>,
) -> PointResult {
    let config = PointConfig {
        model: model.into(),
        workload: workload.into(),
        gpu: gpu.into(),
        node: format!("{gpu}-x8"),
        tp,
        pp: 1,
        replicas,
        scheduler: scheduler.into(),
        chunk_size: chunk,
        batch_size_cap: 128,
        max_tokens_in_batch: (scheduler == "vllm").then_some(4096),
        router: "round_robin".into(),
        concurrency: None,
    };
    let n = noise(k);
    // TP 1 on the slow GPU cannot hold the TBT bound at any load.
    let feasible = !(gpu == "a100-80g" && tp == 1);
    let sched = match chunk {
        Some(c) if c <= 512 => 1.3,
        Some(_) => 1.15,
        None => 1.0,
    };
    let cap = speed * f64::from(replicas) * f64::from(tp).powf(0.75) * sched * (0.85 + 0.3 * n);
    let ttft = 0.25 + 1.6 * noise(k + 7) * if chunk.is_some() { 0.6 } else { 1.0 };
    let tbt = 0.03 + 0.15 * noise(k + 13) / f64::from(tp).sqrt();
    let seeds: Vec<SeedCapacity> = [11u64, 12]
        .iter()
        .map(|&seed| {
            let f = if seed == 11 { 0.95 } else { 1.05 };
            if feasible {
                let at = run(seed, cap * f, [ttft, tbt]);
                SeedCapacity {
                    seed,
                    status: CapacityStatus::Found,
                    limit_qps: Some(cap * 4.0),
                    capacity_qps: Some(cap * f),
                    at_capacity: Some(at.clone()),
                    runs: vec![run(seed, cap * f * 2.0, [ttft * 4.0, tbt * 3.0]), at],
                    closed_loop: None,
                }
            } else {
                SeedCapacity {
                    seed,
                    status: CapacityStatus::None,
                    limit_qps: Some(8.0),
                    capacity_qps: None,
                    at_capacity: None,
                    runs: vec![run(seed, 0.5, [0.6, 0.31]), run(seed, 0.25, [0.5, 0.27])],
                    closed_loop: None,
                }
            }
        })
        .collect();
    let num_gpus = config.num_gpus();
    let usd_per_hour = price * f64::from(num_gpus);
    let capacity = feasible.then_some(cap);
    let tokens = capacity.map(|c| c * 250.0);
    PointResult {
        id: format!("p{k:04}"),
        num_gpus,
        capacity_status: if feasible {
            CapacityStatus::Found
        } else {
            CapacityStatus::None
        },
        limit_qps: Some(capacity.map_or(8.0, |c| c * 4.0)),
        capacity_qps: capacity,
        capacity_min: capacity.map(|c| c * 0.95),
        capacity_max: capacity.map(|c| c * 1.05),
        at_capacity: if feasible {
            slos()
                .into_iter()
                .zip([ttft, tbt])
                .map(|(slo, v)| SloValue {
                    slo,
                    value_s: Some(v),
                    ok: true,
                })
                .collect()
        } else {
            Vec::new()
        },
        goodput_at_capacity: capacity.map(|_| 0.98),
        output_tokens_per_s: tokens,
        cost: Cost {
            usd_per_gpu_hour: price,
            usd_per_hour,
            qps_per_dollar: capacity.map(|c| c / usd_per_hour),
            usd_per_million_output_tokens: tokens.map(|t| usd_per_hour / (t * 3600.0) * 1e6),
        },
        config,
        seeds,
        sims_run: 4,
        wall_s: 1.5 + n,
        error: None,
        closed_loop: None,
    }
}

fn outcome(models: &[&str], workloads: &[&str]) -> SearchOutcome {
    let mut points = Vec::new();
    let mut k = 0;
    for model in models {
        for workload in workloads {
            for (gpu, price, speed) in [("a100-80g", 2.21, 1.1), ("h100-sxm", 3.95, 2.6)] {
                for tp in [1u32, 2, 4] {
                    for replicas in [1u32, 2] {
                        for (sched, chunk) in [
                            ("vllm", None),
                            ("sarathi", Some(512)),
                            ("sarathi", Some(1024)),
                        ] {
                            k += 1;
                            points.push(point(
                                k, model, workload, gpu, price, speed, tp, replicas, sched, chunk,
                            ));
                        }
                    }
                }
            }
        }
    }
    let dropped = vec![
        DroppedPoint {
            config: PointConfig {
                tp: 8,
                replicas: 2,
                ..points[0].config.clone()
            },
            reason: "gpu_budget".into(),
            detail: "16 GPUs > budget of 8".into(),
        },
        DroppedPoint {
            config: PointConfig {
                tp: 3,
                ..points[0].config.clone()
            },
            reason: "tp_divides_heads".into(),
            detail: "32 attention heads are not divisible by TP 3".into(),
        },
    ];
    SearchOutcome {
        meta: RunMeta {
            name: "report-it".into(),
            space_file: "spaces/report-it.yaml".into(),
            space_yaml: "name: report-it\n# see https://example.org/docs <for> details\n".into(),
            engine_version: env!("CARGO_PKG_VERSION").into(),
            predictor: "analytic".into(),
            started_at: "2026-11-23T12:00:00Z".into(),
            wall_s: 321.0,
            jobs: 2,
            num_points: points.len(),
            num_cached: 3,
            num_sims: 4 * points.len() as u64,
            slos: slos(),
            goodput_target: None,
        },
        points,
        dropped,
    }
}

/// A fresh directory under the system temp dir, unique per test and process.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vidur-report-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

fn cleanup(d: &Path) {
    if std::env::var_os("VIDUR_KEEP_REPORT").is_some() {
        eprintln!("kept report in {}", d.display());
    } else {
        let _ = fs::remove_dir_all(d);
    }
}

fn check_common(dir: &Path, o: &SearchOutcome, written: &[PathBuf]) {
    for f in [
        "results.csv",
        "results.json",
        "best_configs.md",
        "insights.md",
        "report.html",
        "pareto_ttft.png",
        "pareto_ttft.svg",
        "pareto_tbt.png",
        "pareto_tbt.svg",
    ] {
        let p = dir.join(f);
        assert!(p.is_file(), "{f} missing");
        assert!(written.contains(&p), "{f} not reported as written");
    }
    for p in written {
        assert!(p.is_file(), "{} reported but missing", p.display());
    }
    // No temp files left behind.
    for e in fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name();
        assert!(
            !name.to_string_lossy().contains(".tmp"),
            "{name:?} left over"
        );
    }

    // CSV: right header, one row per point.
    let mut r = csv::Reader::from_path(dir.join("results.csv")).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let expected_start = [
        "id",
        "model",
        "workload",
        "gpu",
        "node",
        "tp",
        "pp",
        "replicas",
        "scheduler",
        "chunk_size",
        "batch_size_cap",
        "max_tokens_in_batch",
        "router",
        "concurrency",
        "num_gpus",
        "capacity_status",
        "capacity_qps",
        "capacity_min",
        "capacity_max",
        "limit_qps",
        "ttft_p90_s",
        "tbt_p99_s",
        "goodput_at_capacity",
        "output_tokens_per_s",
        "measured_qps",
        "measured_output_tokens_per_s",
        "output_tokens_per_s_per_user",
        "output_tokens_per_s_per_gpu",
        "in_flight_mean",
        "usd_per_gpu_hour",
        "usd_per_hour",
        "qps_per_dollar",
        "usd_per_million_output_tokens",
        "sims_run",
        "wall_s",
        "feasible",
        "error",
    ];
    assert_eq!(header, expected_start);
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), o.points.len());
    #[cfg(feature = "parquet")]
    check_parquet(dir, written, &header, rows.len());

    // JSON round trip.
    let back: SearchOutcome =
        serde_json::from_slice(&fs::read(dir.join("results.json")).unwrap()).unwrap();
    // Exact equality: floats must survive the text round trip bit for bit.
    assert!(
        &back == o,
        "results.json does not deserialize to the same outcome"
    );

    // PNG / SVG sanity.
    for stem in ["pareto_ttft", "pareto_tbt"] {
        let png = fs::read(dir.join(format!("{stem}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{stem}.png magic");
        assert!(
            png.len() > 5_000 && png.len() < 2_000_000,
            "{stem}.png size {}",
            png.len()
        );
        let svg = fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.trim_start().starts_with("<svg") || svg.trim_start().starts_with("<?xml"));
        assert!(svg.contains("</svg>"));
    }

    // HTML: plots inline, nothing fetched from elsewhere.
    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("data:image/png;base64,"));
    for attr in [
        "src=\"http",
        "src='http",
        "href=\"http",
        "url(http",
        "@import",
    ] {
        assert!(!html.contains(attr), "remote resource via {attr}");
    }
    assert!(html.contains("</html>"));
}

/// `results.parquet` (feature `parquet`): written, reported, a Parquet file, and the CSV's
/// table when read back.
#[cfg(feature = "parquet")]
fn check_parquet(dir: &Path, written: &[PathBuf], csv_header: &[String], csv_rows: usize) {
    use polars::prelude::{ParquetReader, SerReader};

    let p = dir.join("results.parquet");
    assert!(p.is_file(), "results.parquet missing");
    assert!(
        written.contains(&p),
        "results.parquet not reported as written"
    );
    let bytes = fs::read(&p).unwrap();
    assert!(bytes.starts_with(b"PAR1"), "results.parquet magic");
    let df = ParquetReader::new(fs::File::open(&p).unwrap())
        .finish()
        .unwrap();
    assert_eq!(df.height(), csv_rows);
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, csv_header);
}

#[test]
fn report_files_for_a_mixed_outcome() {
    let dir = temp_dir("mixed");
    let o = outcome(&["Llama-2-7b-hf"], &["chat"]);
    let written = write_all(&dir, &o, &ReportOptions::default()).unwrap();
    check_common(&dir, &o, &written);

    let md = fs::read_to_string(dir.join("best_configs.md")).unwrap();
    assert!(
        md.contains("## Overall") && md.contains("### a100-80g") && md.contains("### h100-sxm")
    );
    let best = o.ranked()[0];
    assert!(md.contains(&format!("| 1 | {} |", best.config.gpu)));

    let ins = fs::read_to_string(dir.join("insights.md")).unwrap();
    assert!(ins.contains("```text") && ins.contains("if "), "{ins}");
    assert!(ins.contains("% pure]"));

    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    // A URL in the space YAML is text, escaped, not a resource.
    assert!(html.contains("see https://example.org/docs &lt;for&gt; details"));
    assert!(html.contains("gpu_budget") && html.contains("tp_divides_heads"));
    cleanup(&dir);
}

#[test]
fn report_files_for_several_models_and_workloads() {
    let dir = temp_dir("multi");
    let o = outcome(&["Llama-2-7b-hf", "Llama-2-70b-hf"], &["chat", "arxiv"]);
    let written = write_all(&dir, &o, &ReportOptions { top_n: 5 }).unwrap();
    check_common(&dir, &o, &written);
    assert!(dir.join("pareto_ttft_Llama-2-70b-hf_arxiv.png").is_file());
    assert!(dir.join("pareto_tbt_Llama-2-7b-hf_chat.svg").is_file());
    let md = fs::read_to_string(dir.join("best_configs.md")).unwrap();
    assert!(md.contains("## Per model") && md.contains("## Per workload"));
    cleanup(&dir);
}

#[test]
fn report_files_when_nothing_meets_the_slos() {
    let dir = temp_dir("none-feasible");
    let mut o = outcome(&["Llama-2-7b-hf"], &["chat"]);
    o.points.retain(|p| !p.feasible());
    assert!(!o.points.is_empty());
    let written = write_all(&dir, &o, &ReportOptions::default()).unwrap();
    check_common(&dir, &o, &written);
    let md = fs::read_to_string(dir.join("best_configs.md")).unwrap();
    assert!(md.contains("No evaluated point meets all SLOs"), "{md}");
    assert!(md.contains("TBT P99"), "names the failing SLO: {md}");
    let ins = fs::read_to_string(dir.join("insights.md")).unwrap();
    assert!(ins.contains("nothing for a tree to separate"), "{ins}");
    cleanup(&dir);
}

#[test]
fn report_files_when_no_point_was_evaluated() {
    let dir = temp_dir("empty");
    let mut o = outcome(&["Llama-2-7b-hf"], &["chat"]);
    o.points.clear();
    o.meta.num_points = 0;
    let written = write_all(&dir, &o, &ReportOptions::default()).unwrap();
    check_common(&dir, &o, &written);
    let md = fs::read_to_string(dir.join("best_configs.md")).unwrap();
    assert!(md.contains("No point was evaluated"));
    // Writing twice over the same directory replaces the files cleanly.
    write_all(&dir, &o, &ReportOptions::default()).unwrap();
    cleanup(&dir);
}

#[test]
fn report_error_names_the_file() {
    // A regular file where the directory should be.
    let base = temp_dir("err");
    fs::create_dir_all(&base).unwrap();
    let blocker = base.join("not-a-dir");
    fs::write(&blocker, b"x").unwrap();
    let o = outcome(&["m"], &["w"]);
    let err = write_all(&blocker.join("sub"), &o, &ReportOptions::default()).unwrap_err();
    assert!(err.to_string().contains("not-a-dir"), "{err}");
    let _ = fs::remove_dir_all(&base);
}
