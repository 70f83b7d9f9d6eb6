//! A synthetic, plausible search outcome for the report unit tests: 2 GPUs × TP {1, 2, 4} ×
//! 2 schedulers per (model, workload), 2 SLOs, 2 seeds, some points infeasible, some dropped.

use crate::search::{
    CapacityStatus, Cost, DroppedPoint, PointConfig, PointResult, RunMeta, SearchOutcome,
    SeedCapacity, SimRecord, Slo, SloMetric, SloValue,
};

pub(crate) fn slos() -> Vec<Slo> {
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

fn record(seed: u64, qps: f64, ttft: f64, tbt: f64, slos: &[Slo]) -> SimRecord {
    let vals = [ttft, tbt];
    let values: Vec<SloValue> = slos
        .iter()
        .zip(vals)
        .map(|(s, v)| SloValue {
            slo: *s,
            value_s: Some(v),
            ok: v <= s.max_seconds,
        })
        .collect();
    SimRecord {
        seed,
        qps,
        pass: values.iter().all(|v| v.ok),
        slos: values,
        goodput: 0.97,
        num_requests: 512,
        num_unfinished: 0,
        stopped_early: false,
        simulated_s: 512.0 / qps,
        output_tokens_per_s: qps * 210.0,
        wall_s: 0.4,
    }
}

/// One point; `None` capacity makes it infeasible (its lowest run fails `fail_tbt` ? TBT : TTFT).
#[allow(clippy::too_many_arguments)]
fn point(
    model: &str,
    workload: &str,
    gpu: &str,
    price: f64,
    tp: u32,
    scheduler: &str,
    capacity: Option<f64>,
    fail_tbt: bool,
) -> PointResult {
    let slos = slos();
    let chunk_size = (scheduler == "sarathi").then_some(512);
    let config = PointConfig {
        model: model.into(),
        workload: workload.into(),
        gpu: gpu.into(),
        node: format!("{gpu}-x8"),
        tp,
        pp: 1,
        replicas: if tp == 1 { 2 } else { 1 },
        scheduler: scheduler.into(),
        chunk_size,
        batch_size_cap: 128,
        max_tokens_in_batch: (scheduler == "vllm").then_some(4096),
        router: "round_robin".into(),
        concurrency: None,
    };
    let num_gpus = config.num_gpus();
    let ttft = 0.6 + 0.25 * f64::from(tp) + if scheduler == "vllm" { 0.7 } else { 0.2 };
    let tbt = 0.03 + 0.02 * f64::from(tp) + if scheduler == "vllm" { 0.1 } else { 0.02 };
    let seeds: Vec<SeedCapacity> = [1u64, 2]
        .iter()
        .map(|&seed| {
            let jitter = if seed == 1 { 0.96 } else { 1.04 };
            match capacity {
                Some(c) => {
                    let cap = c * jitter;
                    let lo = record(seed, cap * 0.5, ttft * 0.5, tbt * 0.6, &slos);
                    let at = record(seed, cap, ttft, tbt, &slos);
                    let hi = record(seed, cap * 1.3, ttft * 3.0, tbt * 3.0, &slos);
                    SeedCapacity {
                        seed,
                        status: CapacityStatus::Found,
                        limit_qps: Some(cap * 4.0),
                        capacity_qps: Some(cap),
                        at_capacity: Some(at.clone()),
                        runs: vec![lo, hi, at],
                        closed_loop: None,
                    }
                }
                None => {
                    let (a, b) = if fail_tbt { (1.0, 0.35) } else { (4.0, 0.1) };
                    SeedCapacity {
                        seed,
                        status: CapacityStatus::None,
                        limit_qps: Some(8.0),
                        capacity_qps: None,
                        at_capacity: None,
                        runs: vec![
                            record(seed, 0.25, a, b, &slos),
                            record(seed, 1.0, 9.0, 0.9, &slos),
                        ],
                        closed_loop: None,
                    }
                }
            }
        })
        .collect();
    let usd_per_hour = price * f64::from(num_gpus);
    let at_capacity = match capacity {
        Some(_) => slos
            .iter()
            .zip([ttft, tbt])
            .map(|(s, v)| SloValue {
                slo: *s,
                value_s: Some(v),
                ok: true,
            })
            .collect(),
        None => Vec::new(),
    };
    let tokens = capacity.map(|c| c * 210.0);
    PointResult {
        id: format!("{model}-{workload}-{gpu}-tp{tp}-{scheduler}"),
        num_gpus,
        capacity_status: if capacity.is_some() {
            CapacityStatus::Found
        } else {
            CapacityStatus::None
        },
        limit_qps: Some(capacity.map_or(8.0, |c| c * 4.0)),
        capacity_qps: capacity,
        capacity_min: capacity.map(|c| c * 0.96),
        capacity_max: capacity.map(|c| c * 1.04),
        at_capacity,
        goodput_at_capacity: capacity.map(|_| 0.97),
        output_tokens_per_s: tokens,
        cost: Cost {
            usd_per_gpu_hour: price,
            usd_per_hour,
            qps_per_dollar: capacity.map(|c| c / usd_per_hour),
            usd_per_million_output_tokens: tokens.map(|t| usd_per_hour / (t * 3600.0) * 1e6),
        },
        config,
        seeds,
        sims_run: if capacity.is_some() { 6 } else { 4 },
        wall_s: 2.5,
        error: None,
        closed_loop: None,
    }
}

/// Turn `p` into a point whose every probe passed up to its physical limit.
fn make_unbounded(p: &mut PointResult) {
    let slos = slos();
    let limit = 50.0;
    p.capacity_status = CapacityStatus::Unbounded;
    p.limit_qps = Some(limit);
    p.capacity_qps = None;
    p.capacity_min = None;
    p.capacity_max = None;
    p.at_capacity.clear();
    p.goodput_at_capacity = None;
    p.output_tokens_per_s = None;
    p.cost.qps_per_dollar = None;
    p.cost.usd_per_million_output_tokens = None;
    for s in &mut p.seeds {
        s.status = CapacityStatus::Unbounded;
        s.limit_qps = Some(limit);
        s.capacity_qps = None;
        s.at_capacity = None;
        s.runs = [6.25, 12.5, 25.0, limit]
            .iter()
            .map(|&q| record(s.seed, q, 0.3, 0.05, &slos))
            .collect();
    }
}

/// The outcome for the given models × workloads. One point (H100, TP4, vLLM) passed every
/// probe up to its limit (`unbounded`).
pub(crate) fn outcome_for(models: &[&str], workloads: &[&str]) -> SearchOutcome {
    let mut points = Vec::new();
    for (mi, model) in models.iter().enumerate() {
        for workload in workloads {
            let scale = 1.0 / (1.0 + mi as f64);
            for (gpu, price, speed) in [("a100-80g", 2.2, 1.0), ("h100-sxm", 4.0, 2.3)] {
                for tp in [1u32, 2, 4] {
                    for sched in ["vllm", "sarathi"] {
                        let infeasible = gpu == "a100-80g" && tp == 1;
                        let cap = (!infeasible).then(|| {
                            scale
                                * speed
                                * f64::from(tp).powf(0.8)
                                * if sched == "sarathi" { 1.25 } else { 1.0 }
                        });
                        let mut p = point(
                            model,
                            workload,
                            gpu,
                            price,
                            tp,
                            sched,
                            cap,
                            sched == "sarathi",
                        );
                        if gpu == "h100-sxm" && tp == 4 && sched == "vllm" {
                            make_unbounded(&mut p);
                        }
                        points.push(p);
                    }
                }
            }
        }
    }
    let base = &points[0].config;
    let dropped = vec![
        DroppedPoint {
            config: PointConfig {
                tp: 8,
                ..base.clone()
            },
            reason: "memory".into(),
            detail: "KV cache does not fit".into(),
        },
        DroppedPoint {
            config: PointConfig {
                tp: 16,
                ..base.clone()
            },
            reason: "memory".into(),
            detail: "weights do not fit".into(),
        },
        DroppedPoint {
            config: PointConfig {
                tp: 3,
                ..base.clone()
            },
            reason: "tp_divides_heads".into(),
            detail: "32 heads are not divisible by TP 3 <sic> & more".into(),
        },
    ];
    SearchOutcome {
        meta: RunMeta {
            name: "unit <test> space".into(),
            space_file: "spaces/unit.yaml".into(),
            space_yaml: "name: unit\nslos:\n  - {metric: ttft, quantile: 0.9, max_seconds: 2}\n"
                .into(),
            engine_version: "0.1.0".into(),
            predictor: "analytic (test)".into(),
            started_at: "2026-11-23T12:00:00Z".into(),
            wall_s: 42.0,
            jobs: 2,
            num_points: points.len(),
            num_cached: 0,
            num_sims: points.iter().map(|p| u64::from(p.sims_run)).sum(),
            slos: slos(),
            goodput_target: None,
        },
        points,
        dropped,
    }
}

/// One model, one workload.
pub(crate) fn outcome() -> SearchOutcome {
    outcome_for(&["Llama-2-7b"], &["chat"])
}
