//! End-to-end simulation benchmarks (divan):
//! - `conformance_300`: the vllm_heavy conformance case (300 requests) through the same path as
//!   `simulate --vidur-config` (table loading excluded, measured separately as `load_tables`);
//! - `synthetic_16k`: 16,000 chat-like requests on Llama-2-7B, one A100 replica, Sarathi,
//!   near capacity (Poisson 3.3 qps vs ~3.5 qps capacity).
//!
//! Needs `../shared` beside the repository. Run: `cargo bench`.

use std::path::PathBuf;
use std::sync::OnceLock;

use divan::Bencher;
use vidur_search::cli::{prepare, PreparedSim, SimulateArgs};
use vidur_search::metrics::simulate_recorded;
use vidur_search::workload::RequestSpec;

/// A prepared run and its requests, drawn once (the workload source is consumed by drawing).
type Prepared = (PreparedSim, Vec<RequestSpec>);

fn with_requests(mut p: PreparedSim) -> Prepared {
    let requests = p.workload.by_ref().collect();
    (p, requests)
}

fn shared() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    assert!(
        p.is_dir(),
        "benchmarks need ../shared beside the repository ({})",
        p.display()
    );
    p
}

fn vidur_args() -> SimulateArgs {
    let s = shared();
    let case = s.join("conformance/cases/vllm_heavy");
    SimulateArgs {
        vidur_config: Some(case.join("config.json")),
        trace: Some(case.join("trace.csv")),
        vidur_tables: Some(s.join("conformance/tables/llama2-7b_a100_tp1")),
        ..vidur_args_none()
    }
}

fn conformance() -> &'static Prepared {
    static P: OnceLock<Prepared> = OnceLock::new();
    P.get_or_init(|| with_requests(prepare(&vidur_args()).expect("prepare conformance case")))
}

fn synthetic() -> &'static Prepared {
    static P: OnceLock<Prepared> = OnceLock::new();
    P.get_or_init(|| {
        let s = shared();
        let yaml = format!(
            "model: meta-llama/Llama-2-7b-hf\ndevice: a100\nscheduler: {{type: sarathi, chunk_size: 512}}\n\
             workload:\n  synthetic:\n    num_requests: 16000\n    lengths: {{trace: {{trace_file: \"{}\"}}}}\n    intervals: {{poisson: {{qps: 3.3}}}}\n\
             predictor: {{vidur_tables: {{dir: \"{}\"}}}}\nmetrics: {{chrome_trace: false, token_metrics: true}}\n",
            s.join("data/traces/splitwise_conv.csv").display(),
            s.join("conformance/tables/llama2-7b_a100_tp1").display()
        );
        let path = std::env::temp_dir().join("vidur-search-bench-16k.yaml");
        std::fs::write(&path, yaml).unwrap();
        let args = SimulateArgs { config: Some(path), ..vidur_args_none() };
        with_requests(prepare(&args).expect("prepare synthetic case"))
    })
}

fn vidur_args_none() -> SimulateArgs {
    SimulateArgs {
        config: None,
        vidur_config: None,
        trace: None,
        vidur_tables: None,
        calibration_source: None,
        output: None,
        compat: None,
        json: false,
        no_plots: false,
        calibration: None,
    }
}

#[divan::bench(sample_count = 30)]
fn conformance_300(b: Bencher) {
    let (p, requests) = conformance();
    b.bench(|| {
        simulate_recorded(&p.sim, requests, p.predictor.as_ref())
            .unwrap()
            .0
            .num_events
    });
}

#[divan::bench(sample_count = 10)]
fn load_tables(b: Bencher) {
    let args = vidur_args();
    b.bench(|| prepare(&args).unwrap().workload.count());
}

#[divan::bench(sample_count = 5)]
fn synthetic_16k(b: Bencher) {
    let (p, requests) = synthetic();
    b.bench(|| {
        simulate_recorded(&p.sim, requests, p.predictor.as_ref())
            .unwrap()
            .0
            .num_events
    });
}

/// One point's capacity search as the `run` command does it: 4,000 of the synthetic case's
/// requests at unit rate, TTFT P90 ≤ 1 s and TBT P99 ≤ 0.2 s, bisection from 2 QPS.
#[divan::bench(sample_count = 5)]
fn capacity_search(b: Bencher) {
    use vidur_search::search::capacity::{find_capacity, run_probe, ProbeScratch, ProbeSpec};
    use vidur_search::search::result::{Slo, SloMetric};
    use vidur_search::search::space::CapacitySettings;
    let (p, requests) = synthetic();
    let base: Vec<RequestSpec> = requests[..4000]
        .iter()
        .map(|r| RequestSpec {
            arrived_at: r.arrived_at * 3.3,
            ..*r
        })
        .collect();
    let slos = [
        Slo {
            metric: SloMetric::Ttft,
            quantile: 0.9,
            max_seconds: 1.0,
        },
        Slo {
            metric: SloMetric::Tbt,
            quantile: 0.99,
            max_seconds: 0.2,
        },
    ];
    let spec = ProbeSpec {
        sim: &p.sim,
        predictor: p.predictor.as_ref(),
        base: &base,
        seed: 1,
        slos: &slos,
        goodput: None,
    };
    let settings = CapacitySettings::default();
    b.bench(|| {
        let mut scratch = ProbeScratch::default();
        find_capacity(&settings, 2.0, 2.0, f64::INFINITY, |qps| {
            run_probe(&spec, qps, &mut scratch).map(|r| (r.pass, r.qps))
        })
        .unwrap()
        .probes
    });
}

fn main() {
    divan::main();
}
