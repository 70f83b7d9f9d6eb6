//! The search-space YAML (`vidur-search run SPACE.yaml`), field by field in the README. These
//! are the serde types: unknown fields are errors, and every error names the file, line and
//! column (serde-saphyr) or the field path (checks after parsing).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::result::{Slo, SloMetric};
use super::SearchError;
use crate::compat::Compat;
use crate::config::sim_yaml::PredictorConfig;
use crate::sim::{RouterKind, SchedulerKind};
use crate::workload::LengthConfig;

/// The whole search space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSpace {
    /// Name: the output folder is `reports/<name>/` unless `--output` says otherwise.
    pub name: String,
    /// Free text shown in the report.
    #[serde(default)]
    pub description: Option<String>,
    /// Models: a catalog / Hugging Face name, or a path to a `config.json` (relative to this
    /// file).
    pub models: Vec<String>,
    /// Workloads: request lengths, arrival process, number of requests.
    pub workloads: Vec<WorkloadSpec>,
    /// Clusters: GPU SKU, node shape, GPU budget.
    pub clusters: Vec<ClusterSpec>,
    /// Tensor-parallel degrees (default `[1]`).
    #[serde(default = "one_list")]
    pub tp: Vec<u32>,
    /// Pipeline-stage counts (default `[1]`).
    #[serde(default = "one_list")]
    pub pp: Vec<u32>,
    /// Replica counts, or `auto` (default): as many as the cluster's GPU budget allows.
    #[serde(default)]
    pub replicas: Replicas,
    /// Replica schedulers with their knobs (default `[{type: vllm_v1}]`; `[{type: sarathi}]`,
    /// Vidur's default, with `compat: vidur`).
    #[serde(default)]
    pub schedulers: Vec<SchedulerSpec>,
    /// Batch-size caps (max running requests per replica) for schedulers that do not list their
    /// own (default `[128]`).
    #[serde(default = "default_caps")]
    pub batch_size_cap: Vec<u32>,
    /// Global routers (default `[round_robin]`).
    #[serde(default = "default_routers")]
    pub router: Vec<RouterKind>,
    /// Latency objectives; a point's capacity is the largest QPS meeting all of them.
    pub slos: Vec<Slo>,
    /// Optional goodput target: the share of requests that must meet every SLO individually.
    #[serde(default)]
    pub goodput: Option<f64>,
    /// Capacity-search settings.
    #[serde(default)]
    pub capacity: CapacitySettings,
    /// Simulation limits.
    #[serde(default)]
    pub limits: Limits,
    /// $/GPU-hour overrides by GPU name or alias (default: the catalog's newest price).
    #[serde(default)]
    pub prices: BTreeMap<String, f64>,
    /// User hardware file (relative to this file) merged into the built-in catalog.
    #[serde(default)]
    pub hardware: Option<String>,
    /// Workload seeds; several give a min/median/max capacity band (default `[42]`).
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Execution-time predictor (default: analytic with the embedded calibration).
    #[serde(default)]
    pub predictor: PredictorConfig,
    /// Engine semantics (default `default`).
    #[serde(default)]
    pub compat: Compat,
    /// Share of GPU memory held back from the KV cache (default 0.1).
    #[serde(default = "default_margin")]
    pub memory_margin_fraction: f64,
}

/// One workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Name used in results and file names.
    pub name: String,
    /// Request lengths: `{builtin: {name: chat}}`, `{trace: {trace_file: ...}}`, `{zipf: ...}`,
    /// `{uniform: ...}` or `{fixed: ...}` (as in a simulation YAML).
    pub lengths: LengthConfig,
    /// Arrival process; its rate is what the capacity search varies (default `poisson`).
    #[serde(default)]
    pub arrival: Arrival,
    /// Requests per simulation (default 2000).
    #[serde(default = "default_requests")]
    pub num_requests: u64,
    /// Longest request (prompt + output) in tokens; also sizes the KV planner (default 4096).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
}

/// Arrival process of a workload.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Arrival {
    /// Exponential gaps.
    #[default]
    Poisson,
    /// Gamma gaps with this coefficient of variation (> 1 is burstier than Poisson).
    Gamma {
        /// Coefficient of variation of the gaps.
        cv: f64,
    },
    /// Closed loop: `concurrency` clients each keep one request in flight (as
    /// `vllm bench serve --max-concurrency` does). Each concurrency is its own point, measured
    /// by one simulation per seed instead of a capacity search.
    ClosedLoop(ClosedLoopArrival),
}

/// A closed-loop concurrency sweep (`arrival: {closed_loop: {concurrency: [8, 16, 32]}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosedLoopArrival {
    /// Concurrencies to measure, one point each (≥ 1, no repeats).
    pub concurrency: Vec<u32>,
    /// Delay between a completion and the client's next request, s (default 0).
    #[serde(default)]
    pub think_time_s: f64,
    /// Requests left out of the metrics at the start (default: see
    /// [`ClosedLoopArrival::warmup_for`]).
    #[serde(default)]
    pub warmup_requests: Option<u64>,
    /// Clients start spread evenly over this many seconds (default 0).
    #[serde(default)]
    pub ramp_up_s: f64,
}

impl ClosedLoopArrival {
    /// Warm-up requests of a run of `num_requests` at `concurrency`: the explicit value, else
    /// max(⌈10 % of the requests⌉, the concurrency) — every client's first request is warm-up,
    /// so the measurement starts with the loop full — but never more than half the requests.
    /// Always below `num_requests`.
    pub fn warmup_for(&self, num_requests: u64, concurrency: u32) -> u64 {
        let w = self.warmup_requests.unwrap_or_else(|| {
            num_requests
                .div_ceil(10)
                .max(u64::from(concurrency))
                .min(num_requests / 2)
        });
        w.min(num_requests.saturating_sub(1))
    }
}

/// One cluster: which GPUs and how many.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// GPU name or alias in the hardware catalog.
    pub gpu: String,
    /// Node shape (default: the GPU's default node).
    #[serde(default)]
    pub node: Option<String>,
    /// GPU budget: points needing more are dropped.
    pub max_gpus: u32,
}

/// A scheduler and the knob values to try.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSpec {
    /// `vllm`, `orca`, `sarathi`, `lightllm` or `faster_transformer`.
    #[serde(rename = "type")]
    pub kind: SchedulerKind,
    /// Sarathi chunk sizes (default `[512]`; only for sarathi).
    #[serde(default)]
    pub chunk_size: Vec<u32>,
    /// Batch-size caps for this scheduler (default: the space's `batch_size_cap`).
    #[serde(default)]
    pub batch_size_cap: Option<Vec<u32>>,
    /// vLLM token budgets per batch (default `[max_tokens of the workload]`; only for vllm).
    #[serde(default)]
    pub max_tokens_in_batch: Vec<u32>,
    /// vLLM V1 step token budgets (`--max-num-batched-tokens`; default vLLM's for the GPU, 8192
    /// or 2048 on A100; only for vllm_v1).
    #[serde(default)]
    pub max_num_batched_tokens: Vec<u32>,
    /// SGLang prefill chunk sizes (`--chunked-prefill-size`; default `[8192]`; only for sglang).
    #[serde(default)]
    pub chunked_prefill_size: Vec<u32>,
    /// TensorRT-LLM step token budgets (`max_num_tokens`; default `[8192]`; only for trtllm).
    #[serde(default)]
    pub max_num_tokens: Vec<u32>,
}

impl SchedulerSpec {
    /// The scheduler with no knobs listed: its defaults.
    pub fn of(kind: SchedulerKind) -> Self {
        SchedulerSpec {
            kind,
            chunk_size: vec![],
            batch_size_cap: None,
            max_tokens_in_batch: vec![],
            max_num_batched_tokens: vec![],
            chunked_prefill_size: vec![],
            max_num_tokens: vec![],
        }
    }

    /// The step-token-budget knob this scheduler's list fills, with its field name: the engine
    /// models' budgets and vLLM's `max_tokens_in_batch` (Sarathi's chunk size is listed apart).
    pub fn token_budgets(&self) -> [(&'static str, SchedulerKind, &[u32]); 4] {
        [
            (
                "max_tokens_in_batch",
                SchedulerKind::Vllm,
                &self.max_tokens_in_batch,
            ),
            (
                "max_num_batched_tokens",
                SchedulerKind::VllmV1,
                &self.max_num_batched_tokens,
            ),
            (
                "chunked_prefill_size",
                SchedulerKind::Sglang,
                &self.chunked_prefill_size,
            ),
            (
                "max_num_tokens",
                SchedulerKind::Trtllm,
                &self.max_num_tokens,
            ),
        ]
    }
}

/// Replica counts.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Replicas {
    /// As many as the GPU budget allows: `max_gpus / (tp · pp)`.
    #[default]
    Auto,
    /// These counts (points over the budget are dropped).
    List(Vec<u32>),
}

impl Serialize for Replicas {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Replicas::Auto => s.serialize_str("auto"),
            Replicas::List(v) => v.serialize(s),
        }
    }
}

// Hand-written so a bad value keeps its exact line/column (an untagged enum would not).
impl<'de> Deserialize<'de> for Replicas {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Replicas;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`auto` or a list of replica counts")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Replicas, E> {
                if v == "auto" {
                    Ok(Replicas::Auto)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Replicas, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = seq.next_element::<u32>()? {
                    v.push(x);
                }
                Ok(Replicas::List(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// How each point's capacity is searched (see `search::capacity`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacitySettings {
    /// First QPS probed (default: an estimate from the predictor's saturated throughput).
    #[serde(default)]
    pub start_qps: Option<f64>,
    /// Stop when the bracket [pass, fail] is narrower than this share of the passing QPS, in
    /// percent (default 2.5).
    #[serde(default = "default_precision")]
    pub precision_pct: f64,
    /// Simulations per point and seed at most (default 20).
    #[serde(default = "default_iterations")]
    pub max_iterations: u32,
    /// Give up below this QPS: the point meets the SLOs at no load worth serving (default 0.01).
    #[serde(default = "default_min_qps")]
    pub min_qps: f64,
}

impl Default for CapacitySettings {
    fn default() -> Self {
        CapacitySettings {
            start_qps: None,
            precision_pct: default_precision(),
            max_iterations: default_iterations(),
            min_qps: default_min_qps(),
        }
    }
}

/// Per-simulation limits.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Stop each simulation after this much simulated time; requests unfinished then count as
    /// SLO violations (default: none; overloaded runs stop as soon as the SLOs cannot hold).
    #[serde(default)]
    pub time_limit_s: Option<f64>,
    /// Cap on every workload's `num_requests` (e.g. for a quick look).
    #[serde(default)]
    pub max_requests: Option<u64>,
}

fn one_list() -> Vec<u32> {
    vec![1]
}
fn default_caps() -> Vec<u32> {
    vec![128]
}
fn default_routers() -> Vec<RouterKind> {
    vec![RouterKind::RoundRobin]
}
fn default_seeds() -> Vec<u64> {
    vec![42]
}
fn default_margin() -> f64 {
    0.1
}
fn default_requests() -> u64 {
    2000
}
fn default_max_tokens() -> u32 {
    4096
}
fn default_precision() -> f64 {
    2.5
}
fn default_iterations() -> u32 {
    20
}
fn default_min_qps() -> f64 {
    0.01
}

/// A loaded, checked space and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedSpace {
    /// The space.
    pub space: SearchSpace,
    /// The file as given.
    pub path: PathBuf,
    /// Its text (kept for the report).
    pub text: String,
    /// Folder relative paths resolve against.
    pub base_dir: PathBuf,
}

/// `field[i]` repeats `field[j]`: an error naming both entries.
/// Why a search-space text does not parse or check.
#[derive(Debug, thiserror::Error)]
pub enum SpaceError {
    /// The YAML does not parse or has a wrong type or unknown key (the message has the line and
    /// column).
    #[error("{0}")]
    Yaml(String),
    /// A value check serde cannot express failed; the message names the field.
    #[error("{0}")]
    Field(String),
    /// The `predictor` section is invalid.
    #[error(transparent)]
    Predictor(#[from] crate::config::FieldError),
}

fn no_duplicates<T: PartialEq + Serialize>(field: &str, v: &[T]) -> Result<(), SpaceError> {
    for (i, x) in v.iter().enumerate() {
        if let Some(j) = v[..i].iter().position(|y| y == x) {
            // The value as the file would write it (JSON flow style is valid YAML).
            let shown = serde_json::to_string(x).unwrap_or_default();
            return Err(SpaceError::Field(format!(
                "field '{field}[{i}]': repeats {field}[{j}] ({shown}); list each value once"
            )));
        }
    }
    Ok(())
}

impl SearchSpace {
    /// Parse and check a space file.
    pub fn load(path: &Path) -> Result<LoadedSpace, SearchError> {
        let text = std::fs::read_to_string(path).map_err(|source| SearchError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let space = Self::parse(&text).map_err(|e| {
            // The YAML snippet names the text `<input>`; name the file instead.
            let e = match e {
                SpaceError::Yaml(m) => {
                    SpaceError::Yaml(m.replace("<input>", &path.display().to_string()))
                }
                e => e,
            };
            SearchError::Space {
                path: path.to_path_buf(),
                msg: e.to_string(),
                source: Box::new(e),
            }
        })?;
        Ok(LoadedSpace {
            space,
            path: path.to_path_buf(),
            text,
            base_dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        })
    }

    /// Parse and check YAML text; the message names the line/column or the field.
    pub fn parse(text: &str) -> Result<SearchSpace, SpaceError> {
        let mut space: SearchSpace = serde_saphyr::from_str(text)
            .map_err(|e| SpaceError::Yaml(crate::parse_messages::yaml_message(&e, "<input>")))?;
        if space.schedulers.is_empty() {
            space.schedulers = vec![SchedulerSpec::of(
                crate::sim::SchedulerConfig::default_for(space.compat).kind(),
            )];
        }
        space.check()?;
        Ok(space)
    }

    /// Value checks serde cannot express.
    fn check(&self) -> Result<(), SpaceError> {
        let nonempty = |field: &str, n: usize| {
            if n == 0 {
                Err(SpaceError::Field(format!(
                    "field '{field}': needs at least one entry"
                )))
            } else {
                Ok(())
            }
        };
        if self.name.trim().is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(SpaceError::Field(format!(
                "field 'name': '{}' must be a non-empty file-name-safe string (letters, digits, '-', '_', '.')",
                self.name
            )));
        }
        nonempty("models", self.models.len())?;
        nonempty("workloads", self.workloads.len())?;
        nonempty("clusters", self.clusters.len())?;
        nonempty("tp", self.tp.len())?;
        nonempty("pp", self.pp.len())?;
        nonempty("schedulers", self.schedulers.len())?;
        nonempty("batch_size_cap", self.batch_size_cap.len())?;
        nonempty("router", self.router.len())?;
        nonempty("slos", self.slos.len())?;
        nonempty("seeds", self.seeds.len())?;
        let positive = |field: String, v: &[u32]| match v.iter().find(|&&x| x == 0) {
            Some(_) => Err(SpaceError::Field(format!(
                "field '{field}': values must be at least 1"
            ))),
            None => Ok(()),
        };
        // A repeated value would simulate the same points twice and count them twice in the
        // report; it is almost always a typo for another value.
        no_duplicates("models", &self.models)?;
        no_duplicates("tp", &self.tp)?;
        no_duplicates("pp", &self.pp)?;
        no_duplicates("batch_size_cap", &self.batch_size_cap)?;
        no_duplicates("router", &self.router)?;
        no_duplicates("seeds", &self.seeds)?;
        no_duplicates("clusters", &self.clusters)?;
        no_duplicates("schedulers", &self.schedulers)?;
        no_duplicates("slos", &self.slos)?;
        if let Replicas::List(v) = &self.replicas {
            no_duplicates("replicas", v)?;
        }
        for (i, s) in self.schedulers.iter().enumerate() {
            no_duplicates(&format!("schedulers[{i}].chunk_size"), &s.chunk_size)?;
            if let Some(c) = &s.batch_size_cap {
                no_duplicates(&format!("schedulers[{i}].batch_size_cap"), c)?;
            }
        }
        for (i, a) in self.slos.iter().enumerate() {
            if let Some(j) = self.slos[..i]
                .iter()
                .position(|b| b.metric == a.metric && b.quantile == a.quantile)
            {
                return Err(SpaceError::Field(format!(
                    "field 'slos[{i}]': bounds the same metric and quantile as slos[{j}]; keep one bound per metric and quantile"
                )));
            }
        }
        positive("tp".into(), &self.tp)?;
        positive("pp".into(), &self.pp)?;
        positive("batch_size_cap".into(), &self.batch_size_cap)?;
        if let Replicas::List(v) = &self.replicas {
            nonempty("replicas", v.len())?;
            positive("replicas".into(), v)?;
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, w) in self.workloads.iter().enumerate() {
            if !names.insert(&w.name) {
                return Err(SpaceError::Field(format!(
                    "field 'workloads[{i}].name': '{}' is used twice",
                    w.name
                )));
            }
            if w.num_requests == 0 {
                return Err(SpaceError::Field(format!(
                    "field 'workloads[{i}].num_requests': must be at least 1"
                )));
            }
            if w.max_tokens == 0 {
                return Err(SpaceError::Field(format!(
                    "field 'workloads[{i}].max_tokens': must be at least 1"
                )));
            }
            if let Arrival::Gamma { cv } = w.arrival {
                if !(cv.is_finite() && cv > 0.0) {
                    return Err(SpaceError::Field(format!(
                        "field 'workloads[{i}].arrival.gamma.cv': must be a finite number > 0, got {cv}"
                    )));
                }
            }
            if let Arrival::ClosedLoop(c) = &w.arrival {
                let f = |k: &str| format!("workloads[{i}].arrival.closed_loop.{k}");
                nonempty(&f("concurrency"), c.concurrency.len())?;
                positive(f("concurrency"), &c.concurrency)?;
                no_duplicates(&f("concurrency"), &c.concurrency)?;
                for (k, v) in [("think_time_s", c.think_time_s), ("ramp_up_s", c.ramp_up_s)] {
                    if !(v.is_finite() && v >= 0.0) {
                        return Err(SpaceError::Field(format!(
                            "field '{}': must be a finite number >= 0, got {v}",
                            f(k)
                        )));
                    }
                }
                if let Some(n) = c.warmup_requests {
                    if n >= w.num_requests {
                        return Err(SpaceError::Field(format!(
                            "field '{}': must be below num_requests ({}, which counts the warm-up too), got {n}",
                            f("warmup_requests"),
                            w.num_requests
                        )));
                    }
                }
            }
        }
        for (i, c) in self.clusters.iter().enumerate() {
            if c.max_gpus == 0 {
                return Err(SpaceError::Field(format!(
                    "field 'clusters[{i}].max_gpus': must be at least 1"
                )));
            }
        }
        for (i, s) in self.schedulers.iter().enumerate() {
            let f = |k: &str| format!("schedulers[{i}].{k}");
            if !s.chunk_size.is_empty() && s.kind != SchedulerKind::Sarathi {
                return Err(SpaceError::Field(format!(
                    "field '{}': only the sarathi scheduler has a chunk size",
                    f("chunk_size")
                )));
            }
            for (name, kind, v) in s.token_budgets() {
                if !v.is_empty() && s.kind != kind {
                    return Err(SpaceError::Field(format!(
                        "field '{}': only the {} scheduler takes {name} (this one is {})",
                        f(name),
                        kind.name(),
                        s.kind.name()
                    )));
                }
                positive(f(name), v)?;
                no_duplicates(&f(name), v)?;
            }
            if s.kind.is_engine_model() && self.compat.is_vidur() {
                return Err(SpaceError::Field(format!(
                    "field '{}': the engine models run with compat: default only (compat: vidur reproduces Vidur's own schedulers)",
                    f("type")
                )));
            }
            positive(f("chunk_size"), &s.chunk_size)?;
            if let Some(c) = &s.batch_size_cap {
                nonempty(&f("batch_size_cap"), c.len())?;
                positive(f("batch_size_cap"), c)?;
            }
        }
        for (i, s) in self.slos.iter().enumerate() {
            if !(s.quantile > 0.0 && s.quantile <= 1.0) {
                return Err(SpaceError::Field(format!(
                    "field 'slos[{i}].quantile': must be in (0, 1], got {}",
                    s.quantile
                )));
            }
            if !(s.max_seconds.is_finite() && s.max_seconds > 0.0) {
                return Err(SpaceError::Field(format!(
                    "field 'slos[{i}].max_seconds': must be a finite number > 0, got {}",
                    s.max_seconds
                )));
            }
        }
        if let Some(g) = self.goodput {
            if !(g > 0.0 && g <= 1.0) {
                return Err(SpaceError::Field(format!(
                    "field 'goodput': must be in (0, 1], got {g}"
                )));
            }
        }
        let c = &self.capacity;
        if let Some(q) = c.start_qps {
            if !(q.is_finite() && q > 0.0) {
                return Err(SpaceError::Field(format!(
                    "field 'capacity.start_qps': must be > 0, got {q}"
                )));
            }
        }
        if !(c.precision_pct > 0.0 && c.precision_pct < 100.0) {
            return Err(SpaceError::Field(format!(
                "field 'capacity.precision_pct': must be in (0, 100), got {}",
                c.precision_pct
            )));
        }
        if c.max_iterations < 2 {
            return Err(SpaceError::Field(
                "field 'capacity.max_iterations': must be at least 2".into(),
            ));
        }
        if !(c.min_qps.is_finite() && c.min_qps > 0.0) {
            return Err(SpaceError::Field(format!(
                "field 'capacity.min_qps': must be > 0, got {}",
                c.min_qps
            )));
        }
        if let Some(t) = self.limits.time_limit_s {
            if !(t.is_finite() && t > 0.0) {
                return Err(SpaceError::Field(format!(
                    "field 'limits.time_limit_s': must be > 0, got {t}"
                )));
            }
        }
        if self.limits.max_requests == Some(0) {
            return Err(SpaceError::Field(
                "field 'limits.max_requests': must be at least 1".into(),
            ));
        }
        for (k, v) in &self.prices {
            if !(v.is_finite() && *v > 0.0) {
                return Err(SpaceError::Field(format!(
                    "field 'prices.{k}': must be a price > 0 in $/GPU-hour, got {v}"
                )));
            }
        }
        self.predictor.check()?;
        if !(0.0..1.0).contains(&self.memory_margin_fraction) {
            return Err(SpaceError::Field(format!(
                "field 'memory_margin_fraction': must be in [0, 1), got {}",
                self.memory_margin_fraction
            )));
        }
        Ok(())
    }

    /// The SLO metrics the space bounds, deduplicated, in order.
    pub fn slo_metrics(&self) -> Vec<SloMetric> {
        let mut v: Vec<SloMetric> = Vec::new();
        for s in &self.slos {
            if !v.contains(&s.metric) {
                v.push(s.metric);
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "name: t\nmodels: [meta-llama/Llama-2-7b-hf]\nworkloads: [{name: w, lengths: {fixed: {prefill_tokens: 10, decode_tokens: 5}}}]\nclusters: [{gpu: a100, max_gpus: 8}]\nschedulers: [{type: sarathi, chunk_size: [256]}]\nslos: [{metric: ttft, quantile: 0.9, max_seconds: 1.0}]\n";

    #[test]
    fn repeated_list_values_are_errors_naming_the_entry() {
        assert!(SearchSpace::parse(BASE).is_ok());
        for (extra, field) in [
            ("tp: [1, 2, 1]\n", "'tp[2]': repeats tp[0] (1)"),
            ("pp: [2, 2]\n", "'pp[1]'"),
            ("replicas: [1, 1]\n", "'replicas[1]'"),
            ("batch_size_cap: [8, 8]\n", "'batch_size_cap[1]'"),
            (
                "router: [lor, random, lor]\n",
                "'router[2]': repeats router[0] (\"lor\")",
            ),
            ("seeds: [1, 1]\n", "'seeds[1]'"),
        ] {
            let e = SearchSpace::parse(&format!("{BASE}{extra}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(field), "{extra}: {e}");
        }
        let e = SearchSpace::parse(&BASE.replace("[256]", "[256, 256]"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("'schedulers[0].chunk_size[1]'"), "{e}");
        let e = SearchSpace::parse(
            &BASE.replace("models: [meta-llama/Llama-2-7b-hf]", "models: [a, b, a]"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("'models[2]'"), "{e}");
        let e = SearchSpace::parse(&BASE.replace(
            "max_seconds: 1.0}]",
            "max_seconds: 1.0}, {metric: ttft, quantile: 0.9, max_seconds: 2.0}]",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("'slos[1]'") && e.contains("slos[0]"), "{e}");
        let e = SearchSpace::parse(&format!("{BASE}seeds: [1]\nseeds: [2]\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("duplicate key `seeds`") && !e.contains("Options"),
            "{e}"
        );
    }

    #[test]
    fn engine_models_are_the_default_and_take_only_their_own_knobs() {
        let no_schedulers = BASE.replace("schedulers: [{type: sarathi, chunk_size: [256]}]\n", "");
        let s = SearchSpace::parse(&no_schedulers).unwrap();
        assert_eq!(s.schedulers, [SchedulerSpec::of(SchedulerKind::VllmV1)]);
        let s = SearchSpace::parse(&format!("{no_schedulers}compat: vidur\n")).unwrap();
        assert_eq!(s.schedulers, [SchedulerSpec::of(SchedulerKind::Sarathi)]);

        let with = |sched: &str| {
            SearchSpace::parse(&BASE.replace("{type: sarathi, chunk_size: [256]}", sched))
        };
        let s = with("{type: vllm_v1, max_num_batched_tokens: [2048, 8192]}").unwrap();
        assert_eq!(s.schedulers[0].max_num_batched_tokens, [2048, 8192]);
        with("{type: sglang, chunked_prefill_size: [4096]}").unwrap();
        with("{type: trtllm, max_num_tokens: [8192], batch_size_cap: [256]}").unwrap();
        for (sched, want) in [
            (
                "{type: sglang, max_num_batched_tokens: [2048]}",
                "'schedulers[0].max_num_batched_tokens': only the vllm_v1 scheduler takes max_num_batched_tokens (this one is sglang)",
            ),
            (
                "{type: vllm_v1, max_num_tokens: [2048]}",
                "'schedulers[0].max_num_tokens': only the trtllm scheduler",
            ),
            (
                "{type: vllm, chunked_prefill_size: [2048]}",
                "'schedulers[0].chunked_prefill_size': only the sglang scheduler",
            ),
            (
                "{type: trtllm, max_num_tokens: [0]}",
                "'schedulers[0].max_num_tokens': values must be at least 1",
            ),
            (
                "{type: vllm_v1, max_num_batched_tokens: [512, 512]}",
                "'schedulers[0].max_num_batched_tokens[1]': repeats",
            ),
        ] {
            let e = with(sched).unwrap_err().to_string();
            assert!(e.contains(want), "{sched}: {e}");
        }
        let e = SearchSpace::parse(&format!(
            "{}compat: vidur\n",
            BASE.replace("{type: sarathi, chunk_size: [256]}", "{type: trtllm}")
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("'schedulers[0].type': the engine models run with compat: default only"),
            "{e}"
        );
    }

    #[test]
    fn closed_loop_arrival_parses_and_checks_its_fields() {
        let with = |arrival: &str| {
            SearchSpace::parse(&BASE.replace(
                "decode_tokens: 5}}}]",
                &format!("decode_tokens: 5}}}}, num_requests: 100, arrival: {arrival}}}]"),
            ))
        };
        let s = with("{closed_loop: {concurrency: [8, 16], think_time_s: 0.5}}").unwrap();
        let Arrival::ClosedLoop(c) = &s.workloads[0].arrival else {
            panic!("not closed loop: {:?}", s.workloads[0].arrival);
        };
        assert_eq!(c.concurrency, [8, 16]);
        assert_eq!(
            (c.think_time_s, c.ramp_up_s, c.warmup_requests),
            (0.5, 0.0, None)
        );
        // Default warm-up: 10 %, at least the concurrency, at most half the requests.
        assert_eq!(c.warmup_for(100, 8), 10);
        assert_eq!(c.warmup_for(100, 16), 16);
        assert_eq!(c.warmup_for(100, 80), 50);
        assert_eq!(c.warmup_for(1, 8), 0);
        for (arrival, want) in [
            ("{closed_loop: {concurrency: []}}", "'workloads[0].arrival.closed_loop.concurrency': needs at least one entry"),
            ("{closed_loop: {concurrency: [4, 0]}}", "'workloads[0].arrival.closed_loop.concurrency': values must be at least 1"),
            ("{closed_loop: {concurrency: [4, 4]}}", "'workloads[0].arrival.closed_loop.concurrency[1]': repeats"),
            ("{closed_loop: {concurrency: [4], think_time_s: -1}}", "'workloads[0].arrival.closed_loop.think_time_s'"),
            ("{closed_loop: {concurrency: [4], ramp_up_s: .nan}}", "'workloads[0].arrival.closed_loop.ramp_up_s'"),
            ("{closed_loop: {concurrency: [4], warmup_requests: 100}}", "'workloads[0].arrival.closed_loop.warmup_requests': must be below num_requests (100"),
        ] {
            let e = with(arrival).unwrap_err().to_string();
            assert!(e.contains(want), "{arrival}: {e}");
        }
        // Serde errors keep the line and column.
        let e = with("{closed_loop: {concurrency: [4], clients: 3}}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("clients") && e.contains("line"), "{e}");
        let e = with("{closed_loop: {concurrency: [-4]}}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line"), "{e}");
    }
}
