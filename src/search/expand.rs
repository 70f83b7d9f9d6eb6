//! Expansion of a space into points (the Cartesian product of every dimension) and the
//! feasibility filter: a point that cannot run is dropped with a reason, before any simulation.

use std::path::Path;

use super::result::{DroppedPoint, PointConfig};
use super::space::{Arrival, Replicas, SearchSpace};
use super::SearchError;
use crate::catalog::{self, GpuSpec, HardwareCatalog, ModelSpec};
use crate::config::sim_yaml::resolve;
use crate::sim::config::DEFAULT_CHUNK_SIZE;
use crate::sim::{memory, MetricsOptions, SchedulerConfig, SchedulerKind, SimConfig};

/// A point ready to simulate.
#[derive(Debug, Clone)]
pub struct Point {
    /// The knobs, as reported.
    pub config: PointConfig,
    /// Index into the space's workloads.
    pub workload: usize,
    /// Engine configuration (seed and time limit filled in per run).
    pub sim: SimConfig,
    /// The GPU's catalog entry.
    pub gpu: GpuSpec,
    /// $/GPU-hour (override or the catalog's newest price).
    pub usd_per_gpu_hour: f64,
}

/// The expanded space.
#[derive(Debug, Clone, Default)]
pub struct Expansion {
    /// Points to simulate, in expansion order.
    pub points: Vec<Point>,
    /// Points dropped, with why.
    pub dropped: Vec<DroppedPoint>,
}

impl Expansion {
    /// Dropped points counted by reason, most frequent first.
    pub fn dropped_by_reason(&self) -> Vec<(String, usize)> {
        let mut m = std::collections::BTreeMap::<&str, usize>::new();
        for d in &self.dropped {
            *m.entry(&d.reason).or_default() += 1;
        }
        let mut v: Vec<(String, usize)> = m.into_iter().map(|(k, n)| (k.to_string(), n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }
}

/// One scheduler variant: kind plus knob values (None: the scheduler's default).
struct SchedVariant {
    kind: SchedulerKind,
    chunk: Option<u32>,
    cap: Option<u32>,
    max_tokens_in_batch: Option<u32>,
}

fn sched_variants(space: &SearchSpace, max_tokens: u32) -> Vec<SchedVariant> {
    let mut out = Vec::new();
    for s in &space.schedulers {
        // The engine models keep their engine's request cap unless the scheduler lists caps;
        // Vidur's schedulers take the space's list, as Vidur's explorer does.
        let caps: Vec<Option<u32>> = match (&s.batch_size_cap, s.kind.is_engine_model()) {
            (Some(c), _) => c.iter().map(|&c| Some(c)).collect(),
            (None, true) => vec![None],
            (None, false) => space.batch_size_cap.iter().map(|&c| Some(c)).collect(),
        };
        let chunks: Vec<Option<u32>> = match s.kind {
            SchedulerKind::Sarathi if s.chunk_size.is_empty() => vec![Some(DEFAULT_CHUNK_SIZE)],
            SchedulerKind::Sarathi => s.chunk_size.iter().map(|&c| Some(c)).collect(),
            _ => vec![None],
        };
        // Vidur's explorer sets vLLM's token budget to the workload's longest request, so a
        // full prompt always fits one batch; the engine models keep their engine's default.
        let listed = s
            .token_budgets()
            .into_iter()
            .find(|(_, kind, v)| *kind == s.kind && !v.is_empty())
            .map(|(_, _, v)| v.iter().map(|&b| Some(b)).collect::<Vec<_>>());
        let budgets: Vec<Option<u32>> = match (listed, s.kind) {
            (Some(v), _) => v,
            (None, SchedulerKind::Vllm | SchedulerKind::Lightllm) => vec![Some(max_tokens)],
            (None, _) => vec![None],
        };
        for &chunk in &chunks {
            for &budget in &budgets {
                for &cap in &caps {
                    out.push(SchedVariant {
                        kind: s.kind,
                        chunk,
                        cap,
                        max_tokens_in_batch: budget,
                    });
                }
            }
        }
    }
    out
}

/// Expand `space` (relative paths resolve against `base_dir`).
pub fn expand(space: &SearchSpace, base_dir: &Path) -> Result<Expansion, SearchError> {
    let hardware = match &space.hardware {
        Some(h) => HardwareCatalog::with_overrides(&resolve(base_dir, h))
            .map_err(|e| SearchError::field("hardware", e.to_string()))?,
        None => HardwareCatalog::embedded(),
    };
    let models: Vec<ModelSpec> = space
        .models
        .iter()
        .enumerate()
        .map(|(i, m)| {
            catalog::resolve_model(m, base_dir)
                .map_err(|e| SearchError::field(format!("models[{i}]"), e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    // Two spellings of one model (`Llama-3-8B`, `meta-llama/Meta-Llama-3-8B`) would give
    // identical points twice.
    for (i, m) in models.iter().enumerate() {
        if let Some(j) = models[..i].iter().position(|o| o.name == m.name) {
            return Err(SearchError::field(
                format!("models[{i}]"),
                format!(
                    "'{}' is the same model as models[{j}] ('{}'); list each model once",
                    space.models[i], space.models[j]
                ),
            ));
        }
    }
    let vidur = space.compat.is_vidur();
    let mut clusters: Vec<(
        &super::space::ClusterSpec,
        GpuSpec,
        catalog::DeviceSpec,
        catalog::NodeSpec,
        f64,
    )> = Vec::new();
    for (i, c) in space.clusters.iter().enumerate() {
        let f = |k: &str| format!("clusters[{i}].{k}");
        let gpu = hardware
            .gpu(&c.gpu)
            .map_err(|e| SearchError::field(f("gpu"), e.to_string()))?
            .clone();
        let device = catalog::resolve_device(&hardware, &c.gpu, vidur)
            .map_err(|e| SearchError::field(f("gpu"), e.to_string()))?;
        let node = catalog::resolve_node(&hardware, c.node.as_deref(), &c.gpu, vidur)
            .map_err(|e| SearchError::field(f("node"), e.to_string()))?;
        let price = match price_override(space, &gpu) {
            Some(p) => p,
            None => gpu
                .latest_price()
                .map(|p| p.usd_per_gpu_hour)
                .ok_or_else(|| {
                    SearchError::field(
                        "prices",
                        format!(
                            "the catalog has no price for GPU '{}': add one under `prices:`",
                            gpu.name
                        ),
                    )
                })?,
        };
        if let Some(j) = clusters.iter().position(|(o, g, _, n, _)| {
            o.max_gpus == c.max_gpus && g.name == gpu.name && n.name == node.name
        }) {
            return Err(SearchError::field(
                format!("clusters[{i}]"),
                format!(
                    "the same cluster as clusters[{j}] ({} × {} on {}); list each cluster once",
                    c.max_gpus, gpu.name, node.name
                ),
            ));
        }
        clusters.push((c, gpu, device, node, price));
    }
    let mut priced: Vec<(&str, String)> = Vec::new();
    for k in space.prices.keys() {
        let Ok(g) = hardware.gpu(k) else {
            return Err(SearchError::field(
                format!("prices.{k}"),
                format!("'{k}' is not a GPU in the hardware catalog"),
            ));
        };
        if let Some((other, _)) = priced.iter().find(|(_, n)| *n == g.name) {
            return Err(SearchError::field(
                format!("prices.{k}"),
                format!(
                    "'{k}' and '{other}' name the same GPU ({}); give its price once",
                    g.name
                ),
            ));
        }
        priced.push((k, g.name.clone()));
    }

    let mut out = Expansion::default();
    for model in &models {
        for (wi, w) in space.workloads.iter().enumerate() {
            let variants = sched_variants(space, w.max_tokens);
            // A closed-loop sweep makes one point per concurrency; open-loop workloads one.
            let concurrencies: Vec<Option<u32>> = match &w.arrival {
                Arrival::ClosedLoop(c) => c.concurrency.iter().map(|&n| Some(n)).collect(),
                _ => vec![None],
            };
            for (cluster, gpu, device, node, price) in &clusters {
                for &tp in &space.tp {
                    for &pp in &space.pp {
                        let replica_counts: Vec<u32> = match &space.replicas {
                            // In u64: TP × PP of two large list values overflows u32.
                            Replicas::Auto => vec![
                                (u64::from(cluster.max_gpus) / (u64::from(tp) * u64::from(pp)))
                                    as u32,
                            ],
                            Replicas::List(v) => v.clone(),
                        };
                        for v in &variants {
                            for &router in &space.router {
                                for (&replicas, &concurrency) in replica_counts
                                    .iter()
                                    .flat_map(|r| concurrencies.iter().map(move |c| (r, c)))
                                {
                                    let mut sched = SchedulerConfig::new(v.kind);
                                    if let Some(cap) = v.cap {
                                        // Vidur's cap is per micro-batch, as in its explorer: a
                                        // replica runs up to `cap · pp` requests over its
                                        // stages (saturating: a cap past u32 is no cap). The
                                        // engines' caps are per engine, whatever PP.
                                        sched.set_batch_size_cap(if v.kind.is_engine_model() {
                                            cap
                                        } else {
                                            cap.saturating_mul(pp)
                                        });
                                    }
                                    if let (SchedulerConfig::Sarathi(c), Some(chunk)) =
                                        (&mut sched, v.chunk)
                                    {
                                        c.chunk_size = chunk;
                                    }
                                    if let Some(b) = v.max_tokens_in_batch {
                                        sched.set_token_budget(b);
                                    }
                                    sched.resolve_device_defaults(device);
                                    let config = PointConfig {
                                        model: model.name.clone(),
                                        workload: w.name.clone(),
                                        gpu: gpu.name.clone(),
                                        node: node.name.clone(),
                                        tp,
                                        pp,
                                        replicas,
                                        scheduler: v.kind.name().to_string(),
                                        chunk_size: v.chunk,
                                        // Vidur's caps as listed (per micro-batch); the engine
                                        // models' as they run, their default included.
                                        batch_size_cap: v.cap.unwrap_or(sched.batch_size_cap()),
                                        max_tokens_in_batch: sched.token_budget(),
                                        router: router_name(router).to_string(),
                                        concurrency,
                                    };
                                    let sim = SimConfig {
                                        model: model.clone(),
                                        device: device.clone(),
                                        node: node.clone(),
                                        tensor_parallel_size: tp,
                                        num_pipeline_stages: pp,
                                        num_replicas: replicas.max(1),
                                        memory_margin_fraction: space.memory_margin_fraction,
                                        max_tokens: w.max_tokens,
                                        scheduler: sched,
                                        router,
                                        seed: 0,
                                        time_limit_s: space.limits.time_limit_s,
                                        compat: space.compat,
                                        // The search attaches no recorder.
                                        metrics: MetricsOptions {
                                            chrome_trace: false,
                                            token_metrics: false,
                                        },
                                    };
                                    match infeasible(&config, &sim, cluster.max_gpus) {
                                        Some((reason, detail)) => out.dropped.push(DroppedPoint {
                                            config,
                                            reason: reason.to_string(),
                                            detail,
                                        }),
                                        None => out.points.push(Point {
                                            config,
                                            workload: wi,
                                            sim,
                                            gpu: gpu.clone(),
                                            usd_per_gpu_hour: *price,
                                        }),
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

fn price_override(space: &SearchSpace, gpu: &GpuSpec) -> Option<f64> {
    space
        .prices
        .iter()
        .find(|(k, _)| {
            gpu.name.eq_ignore_ascii_case(k)
                || gpu.aliases.iter().any(|a| a.eq_ignore_ascii_case(k))
        })
        .map(|(_, &v)| v)
}

fn router_name(r: crate::sim::RouterKind) -> &'static str {
    match r {
        crate::sim::RouterKind::RoundRobin => "round_robin",
        crate::sim::RouterKind::Lor => "lor",
        crate::sim::RouterKind::Random => "random",
    }
}

/// Why a point cannot run (reason class, explanation), or None.
fn infeasible(c: &PointConfig, sim: &SimConfig, max_gpus: u32) -> Option<(&'static str, String)> {
    let m = &sim.model;
    let (tp, pp) = (c.tp, c.pp);
    // In u64: the product of large list values overflows u32.
    let gpus = u64::from(c.replicas.max(1)) * u64::from(tp) * u64::from(pp);
    if c.replicas == 0 || gpus > u64::from(max_gpus) {
        return Some((
            "gpu_budget",
            format!(
                "needs {gpus} GPUs (TP{tp} × PP{pp} × {} replicas), the cluster has {max_gpus}",
                c.replicas.max(1)
            ),
        ));
    }
    if !m.num_q_heads.is_multiple_of(tp)
        || !(m.num_kv_heads.is_multiple_of(tp) || tp.is_multiple_of(m.num_kv_heads))
        || !m.embedding_dim.is_multiple_of(tp)
    {
        return Some((
            "tp_divides_heads",
            format!(
                "TP{tp} does not split {} query / {} KV heads (hidden {}) evenly",
                m.num_q_heads, m.num_kv_heads, m.embedding_dim
            ),
        ));
    }
    if !m.num_layers.is_multiple_of(pp) {
        return Some((
            "pp_divides_layers",
            format!("PP{pp} does not divide the {} layers", m.num_layers),
        ));
    }
    if tp > sim.node.num_devices_per_node {
        return Some((
            "tp_fits_node",
            format!(
                "TP{tp} spans more than one {}-GPU node ({})",
                sim.node.num_devices_per_node, sim.node.name
            ),
        ));
    }
    if let Err(e) = memory::plan(
        m,
        &sim.device,
        tp,
        pp,
        sim.memory_margin_fraction,
        sim.max_tokens,
        &sim.scheduler,
        sim.compat,
    ) {
        return Some((
            "memory",
            e.to_string()
                .trim_start_matches("invalid configuration: ")
                .to_string(),
        ));
    }
    if let Err(e) = sim.validate() {
        return Some(("scheduler_knobs", e.to_string()));
    }
    None
}
