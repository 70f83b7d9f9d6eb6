//! Built-in request-length workloads (`lengths: {builtin: {name: chat}}`): length
//! distributions fitted to the shared traces, so configs run with no trace file beside them.
//! Only fitted figures ship (`data/workloads.yaml`, compiled in), never trace rows.
//!
//! Model. Each built-in is a copula model of the trace's (prefill, decode) pairs:
//! * marginals: a monotone piecewise-linear quantile function of ln(tokens), knots at the fixed
//!   probability levels [`LEVELS`] (the 0 and 1 ends are the trace's min and max). Knots are
//!   quantiles of the trace with each integer k spread over [k − ½, k + ½), so rounding a draw
//!   gives back the atoms of short lengths (9 % of the `code` outputs are exactly 9 tokens);
//! * dependence: a checkerboard copula, the counts of trace rows in a 24 × 24 grid of rank bins
//!   ([`COPULA_EDGES`], finer in the tails). A draw picks a cell with probability ∝ its count,
//!   then uniform ranks inside it.
//!
//! Why not a Gaussian copula (one correlation figure instead of 576 counts): the traces'
//! dependence is not monotone. The conversation trace has Spearman ρ = 0.07, yet its long
//! outputs come almost only with mid-length prompts; a Gaussian copula fitted on ρ put the
//! median P + D 19 % low (KS 0.19). The arxiv rows all satisfy P + D ≤ 4096; the Gaussian
//! copula put p99 of P + D 46 % high. The grid keeps the totals within ~2 % (see the `quality`
//! figures in data/workloads.yaml, measured by `fit-workloads`).

use std::path::Path;
use std::sync::OnceLock;

use rand::RngExt;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Deserialize;

use super::trace::clip_proportional;
use super::WorkloadError;

mod fit;

/// The embedded fit (refit with `vidur-search fit-workloads`).
const EMBEDDED: &str = include_str!("../../data/workloads.yaml");
const EMBEDDED_NAME: &str = "data/workloads.yaml (embedded)";
/// Version of the file layout.
const FORMAT: u32 = 1;

/// Probability levels of the marginal quantile knots: dense in the tails, where p99 lives and
/// where the traces have their long, sparse requests; every 2.5 % in the body.
pub const LEVELS: [f64; 53] = [
    0.0, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2,
    0.225, 0.25, 0.275, 0.3, 0.325, 0.35, 0.375, 0.4, 0.425, 0.45, 0.475, 0.5, 0.525, 0.55, 0.575,
    0.6, 0.625, 0.65, 0.675, 0.7, 0.725, 0.75, 0.775, 0.8, 0.825, 0.85, 0.875, 0.9, 0.925, 0.95,
    0.96, 0.97, 0.98, 0.99, 0.995, 0.9975, 0.999, 1.0,
];

/// Rank-bin edges of the copula grid (24 bins): 5 % bins in the body keep the conversation
/// trace's mid-range clusters, finer tail bins keep arxiv's P + D ≤ 4096 (long outputs only with
/// short prompts).
pub const COPULA_EDGES: [f64; 25] = [
    0.0, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7,
    0.75, 0.8, 0.85, 0.9, 0.95, 0.975, 0.99, 1.0,
];

/// What `fit-workloads` fits: built-in name, aliases, trace file, description.
pub(crate) struct Spec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub file: &'static str,
    pub description: &'static str,
}

pub(crate) const SPECS: [Spec; 3] = [
    Spec {
        name: "chat",
        aliases: &["conversation"],
        file: "splitwise_conv.csv",
        description: "Azure LLM inference conversation trace (Splitwise, 2023)",
    },
    Spec {
        name: "code",
        aliases: &[],
        file: "splitwise_code.csv",
        description: "Azure LLM inference code-completion trace (Splitwise, 2023)",
    },
    Spec {
        name: "summarization",
        aliases: &["arxiv"],
        file: "arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv",
        description: "arXiv summarization, Llama-2 tokenizer, P + D <= 4096 (Vidur's trace)",
    },
];

/// Names of the built-in workloads (aliases not included).
pub fn builtin_names() -> Vec<&'static str> {
    SPECS.iter().map(|s| s.name).collect()
}

/// The built-in workload called `name` (or one of its aliases).
pub fn builtin(name: &str) -> Result<&'static BuiltinLengths, WorkloadError> {
    BuiltinCatalog::embedded()?.get(name)
}

/// How well sampled lengths match one trace column (draws not clipped to `max_tokens`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarginalQuality {
    /// Kolmogorov-Smirnov distance between the sampled and the trace CDFs.
    pub ks: f64,
    /// Relative error of the mean, in percent (sampled / trace − 1).
    pub mean_err_pct: f64,
    /// Relative error of the median, in percent.
    pub p50_err_pct: f64,
    /// Relative error of the 90th percentile, in percent.
    pub p90_err_pct: f64,
    /// Relative error of the 99th percentile, in percent.
    pub p99_err_pct: f64,
}

/// Fit quality of one built-in, measured by `fit-workloads` on `samples` seeded draws.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitQuality {
    /// Draws compared with the trace.
    pub samples: u64,
    /// Seed of the draws.
    pub seed: u64,
    /// Spearman rank correlation of (prefill, decode) in the trace.
    pub spearman_trace: f64,
    /// The same in the draws.
    pub spearman_sampled: f64,
    /// Prompt tokens.
    pub prefill: MarginalQuality,
    /// Output tokens.
    pub decode: MarginalQuality,
    /// Prompt + output tokens.
    pub total: MarginalQuality,
}

/// One workload as written in the file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadRepr {
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    description: String,
    source: String,
    rows: u64,
    prefill_tokens: Vec<f64>,
    decode_tokens: Vec<f64>,
    copula_counts: Vec<Vec<u64>>,
    quality: FitQuality,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRepr {
    format: u32,
    generated_by: String,
    fitted_on: String,
    levels: Vec<f64>,
    copula_edges: Vec<f64>,
    workloads: Vec<WorkloadRepr>,
}

/// Why a built-in workloads file (or a fresh fit) is unusable; reported as the message of
/// [`WorkloadError::BuiltinData`], which names the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum BuiltinDataError {
    /// The file layout version is not [`FORMAT`].
    #[error(
        "format {found} is not supported (expected {FORMAT}); refit with `vidur-search fit-workloads`"
    )]
    UnsupportedFormat {
        /// Version in the file.
        found: u32,
    },
    /// `levels` or `copula_edges` is not a probability grid.
    #[error("{grid} must be strictly increasing from 0 to 1 (at least 2 values)")]
    BadGrid {
        /// Which grid.
        grid: &'static str,
    },
    /// A workload name or alias is empty or used twice.
    #[error("workload name {name:?} is empty or repeated")]
    BadName {
        /// The name.
        name: String,
    },
    /// The file lists no workloads.
    #[error("no workloads")]
    NoWorkloads,
    /// A knot column does not have one knot per level.
    #[error("workload {workload}: {column} has {knots} knots, levels has {levels}")]
    KnotCount {
        /// Workload name.
        workload: String,
        /// `prefill_tokens` or `decode_tokens`.
        column: &'static str,
        /// Knots given.
        knots: usize,
        /// Levels in the file.
        levels: usize,
    },
    /// A knot below 1 token or not finite.
    #[error("workload {workload}: {column} knots must be finite and >= 1, got {value}")]
    BadKnot {
        /// Workload name.
        workload: String,
        /// `prefill_tokens` or `decode_tokens`.
        column: &'static str,
        /// The offending knot.
        value: f64,
    },
    /// Knots that go down: the quantile function must be monotone.
    #[error("workload {workload}: {column} knots must not decrease")]
    DecreasingKnots {
        /// Workload name.
        workload: String,
        /// `prefill_tokens` or `decode_tokens`.
        column: &'static str,
    },
    /// The copula grid is not `bins` × `bins`.
    #[error(
        "workload {workload}: copula_counts must be {bins} rows of {bins} counts (one per copula_edges bin)"
    )]
    CopulaShape {
        /// Workload name.
        workload: String,
        /// Bins of `copula_edges`.
        bins: usize,
    },
    /// The counts' sum does not fit a u64.
    #[error("workload {workload}: copula_counts overflow")]
    CopulaOverflow {
        /// Workload name.
        workload: String,
    },
    /// No cell to draw from.
    #[error("workload {workload}: copula_counts are all 0")]
    CopulaEmpty {
        /// Workload name.
        workload: String,
    },
}

/// A ready-to-sample built-in length distribution.
#[derive(Debug, Clone)]
pub struct BuiltinLengths {
    repr: WorkloadRepr,
    levels: Vec<f64>,
    ln_prefill: Vec<f64>,
    ln_decode: Vec<f64>,
    edges: Vec<f64>,
    /// Running sums of the copula counts, row-major (prefill bin × decode bin).
    cum: Vec<u64>,
    bins: usize,
}

impl BuiltinLengths {
    /// Validates one workload against the shared grids and precomputes the sampler.
    fn compile(
        repr: WorkloadRepr,
        levels: &[f64],
        edges: &[f64],
    ) -> Result<Self, BuiltinDataError> {
        let workload = || repr.name.clone();
        let ln = |column: &'static str, knots: &[f64]| -> Result<Vec<f64>, BuiltinDataError> {
            if knots.len() != levels.len() {
                return Err(BuiltinDataError::KnotCount {
                    workload: workload(),
                    column,
                    knots: knots.len(),
                    levels: levels.len(),
                });
            }
            if let Some(&value) = knots.iter().find(|k| !(k.is_finite() && **k >= 1.0)) {
                return Err(BuiltinDataError::BadKnot {
                    workload: workload(),
                    column,
                    value,
                });
            }
            if knots.windows(2).any(|p| p[1] < p[0]) {
                return Err(BuiltinDataError::DecreasingKnots {
                    workload: workload(),
                    column,
                });
            }
            Ok(knots.iter().map(|k| k.ln()).collect())
        };
        let ln_prefill = ln("prefill_tokens", &repr.prefill_tokens)?;
        let ln_decode = ln("decode_tokens", &repr.decode_tokens)?;
        let bins = edges.len() - 1;
        let counts = &repr.copula_counts;
        if counts.len() != bins || counts.iter().any(|r| r.len() != bins) {
            return Err(BuiltinDataError::CopulaShape {
                workload: workload(),
                bins,
            });
        }
        let mut cum = Vec::with_capacity(bins * bins);
        let mut total = 0u64;
        for &c in counts.iter().flatten() {
            total = total
                .checked_add(c)
                .ok_or_else(|| BuiltinDataError::CopulaOverflow {
                    workload: workload(),
                })?;
            cum.push(total);
        }
        if total == 0 {
            return Err(BuiltinDataError::CopulaEmpty {
                workload: workload(),
            });
        }
        Ok(BuiltinLengths {
            repr,
            levels: levels.to_vec(),
            ln_prefill,
            ln_decode,
            edges: edges.to_vec(),
            cum,
            bins,
        })
    }

    /// Primary name.
    pub fn name(&self) -> &str {
        &self.repr.name
    }
    /// Other accepted names.
    pub fn aliases(&self) -> &[String] {
        &self.repr.aliases
    }
    /// What the workload is.
    pub fn description(&self) -> &str {
        &self.repr.description
    }
    /// File name of the trace it was fitted on.
    pub fn source(&self) -> &str {
        &self.repr.source
    }
    /// Rows of that trace.
    pub fn rows(&self) -> u64 {
        self.repr.rows
    }
    /// Measured fit quality.
    pub fn quality(&self) -> &FitQuality {
        &self.repr.quality
    }

    /// One `(prefill, decode)` draw, both ≥ 1, clipped to `max_tokens` as the `trace` lengths
    /// are (proportionally, vidur-behavior.md §6.3): a built-in stands in for its trace.
    /// Pass `u32::MAX` for unclipped draws; values below 2 act as 2 (one token each).
    #[inline]
    pub fn sample(&self, rng: &mut Xoshiro256PlusPlus, max_tokens: u32) -> (u32, u32) {
        let max_tokens = max_tokens.max(2);
        // The last running sum is the total (> 0, checked in `compile`), so the cell exists.
        let r = rng.random_range(0..self.cum[self.cum.len() - 1]);
        let cell = self.cum.partition_point(|&c| c <= r);
        let (i, j) = (cell / self.bins, cell % self.bins);
        let within = |b: usize, v: f64| self.edges[b] + (self.edges[b + 1] - self.edges[b]) * v;
        let u1 = within(i, rng.random::<f64>());
        let u2 = within(j, rng.random::<f64>());
        let p = quantile(&self.levels, &self.ln_prefill, u1);
        let d = quantile(&self.levels, &self.ln_decode, u2);
        clip_proportional(p, d, max_tokens)
    }
}

/// The piecewise-linear quantile function through `(levels[k], ln_knots[k])` at `u ∈ [0, 1]`,
/// mapped back to tokens and rounded to the nearest integer ≥ 1.
#[inline]
fn quantile(levels: &[f64], ln_knots: &[f64], u: f64) -> u64 {
    let k = levels
        .partition_point(|&l| l <= u)
        .saturating_sub(1)
        .min(levels.len() - 2);
    let t = ((u - levels[k]) / (levels[k + 1] - levels[k])).clamp(0.0, 1.0);
    let ln = ln_knots[k] + t * (ln_knots[k + 1] - ln_knots[k]);
    // Knots are ≥ 1; an absurd knot saturates the cast and the max_tokens clip bounds it.
    (ln.exp().round() as u64).max(1)
}

/// A set of built-in workloads with its provenance (the content of `data/workloads.yaml`).
#[derive(Debug, Clone)]
pub struct BuiltinCatalog {
    /// The command that wrote the file.
    pub generated_by: String,
    /// Fit date (YYYY-MM-DD).
    pub fitted_on: String,
    levels: Vec<f64>,
    edges: Vec<f64>,
    workloads: Vec<BuiltinLengths>,
}

impl BuiltinCatalog {
    /// The compiled-in catalog (parsed once).
    pub fn embedded() -> Result<&'static BuiltinCatalog, WorkloadError> {
        static CATALOG: OnceLock<Result<BuiltinCatalog, WorkloadError>> = OnceLock::new();
        match CATALOG.get_or_init(|| BuiltinCatalog::parse(EMBEDDED, EMBEDDED_NAME)) {
            Ok(c) => Ok(c),
            Err(e) => Err(WorkloadError::BuiltinData {
                file: EMBEDDED_NAME.into(),
                msg: match e {
                    WorkloadError::BuiltinData { msg, .. } => msg.clone(),
                    other => other.to_string(),
                },
            }),
        }
    }

    /// Parses and validates a workloads YAML; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<BuiltinCatalog, WorkloadError> {
        let err = |e: BuiltinDataError| WorkloadError::BuiltinData {
            file: file.to_string(),
            msg: e.to_string(),
        };
        // WorkloadError::BuiltinData holds text, so the YAML error travels as its message.
        let repr: FileRepr =
            serde_saphyr::from_str(text).map_err(|e| WorkloadError::BuiltinData {
                file: file.to_string(),
                msg: e.to_string(),
            })?;
        if repr.format != FORMAT {
            return Err(err(BuiltinDataError::UnsupportedFormat {
                found: repr.format,
            }));
        }
        check_grid("levels", &repr.levels).map_err(err)?;
        check_grid("copula_edges", &repr.copula_edges).map_err(err)?;
        let mut seen: Vec<&str> = Vec::new();
        for w in &repr.workloads {
            for n in std::iter::once(&w.name).chain(&w.aliases) {
                if n.is_empty() || seen.contains(&n.as_str()) {
                    return Err(err(BuiltinDataError::BadName { name: n.clone() }));
                }
                seen.push(n);
            }
        }
        let workloads = repr
            .workloads
            .into_iter()
            .map(|w| BuiltinLengths::compile(w, &repr.levels, &repr.copula_edges))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        if workloads.is_empty() {
            return Err(err(BuiltinDataError::NoWorkloads));
        }
        Ok(BuiltinCatalog {
            generated_by: repr.generated_by,
            fitted_on: repr.fitted_on,
            levels: repr.levels,
            edges: repr.copula_edges,
            workloads,
        })
    }

    /// Fits every built-in on the traces in `traces_dir` (deterministic: same traces, same
    /// figures). `generated_by` and `fitted_on` are recorded as given.
    pub fn fit(
        traces_dir: &Path,
        generated_by: &str,
        fitted_on: &str,
    ) -> Result<BuiltinCatalog, WorkloadError> {
        fit::fit_all(traces_dir, generated_by, fitted_on)
    }

    /// The workloads, in file order.
    pub fn workloads(&self) -> &[BuiltinLengths] {
        &self.workloads
    }

    /// The workload called `name` (or one of its aliases).
    pub fn get(&self, name: &str) -> Result<&BuiltinLengths, WorkloadError> {
        self.workloads
            .iter()
            .find(|w| w.repr.name == name || w.repr.aliases.iter().any(|a| a == name))
            .ok_or_else(|| WorkloadError::UnknownBuiltin {
                name: name.to_string(),
                known: self.known_names(),
            })
    }

    /// `chat (alias conversation), code, ...` for messages.
    pub fn known_names(&self) -> String {
        let names: Vec<String> = self
            .workloads
            .iter()
            .map(|w| match w.repr.aliases.as_slice() {
                [] => w.repr.name.clone(),
                a => format!("{} (alias {})", w.repr.name, a.join(", ")),
            })
            .collect();
        names.join(", ")
    }

    /// The file text: a header comment, the provenance, then [`Self::figures_yaml`].
    pub fn to_yaml(&self) -> String {
        let mut s = String::new();
        s.push_str(HEADER);
        s.push_str(&format!("format: {FORMAT}\n"));
        s.push_str(&format!("generated_by: {}\n", yaml_str(&self.generated_by)));
        s.push_str(&format!("fitted_on: {}\n", yaml_str(&self.fitted_on)));
        s.push_str(&self.figures_yaml());
        s
    }

    /// Everything but the provenance lines: equal strings mean equal fits.
    pub fn figures_yaml(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "levels: {}\n",
            flow(&self.levels, "  ", |v| v.to_string())
        ));
        s.push_str(&format!(
            "copula_edges: {}\n",
            flow(&self.edges, "  ", |v| v.to_string())
        ));
        s.push_str("workloads:\n");
        for w in &self.workloads {
            let r = &w.repr;
            s.push_str(&format!("  - name: {}\n", yaml_str(&r.name)));
            let aliases: Vec<String> = r.aliases.iter().map(|a| yaml_str(a)).collect();
            s.push_str(&format!("    aliases: [{}]\n", aliases.join(", ")));
            s.push_str(&format!("    description: {}\n", yaml_str(&r.description)));
            s.push_str(&format!("    source: {}\n", yaml_str(&r.source)));
            s.push_str(&format!("    rows: {}\n", r.rows));
            for (key, knots) in [
                ("prefill_tokens", &r.prefill_tokens),
                ("decode_tokens", &r.decode_tokens),
            ] {
                s.push_str(&format!(
                    "    {key}: {}\n",
                    flow(knots, "      ", |v| fixed(*v, 2))
                ));
            }
            s.push_str("    copula_counts:\n");
            for row in &r.copula_counts {
                let cells: Vec<String> = row.iter().map(u64::to_string).collect();
                s.push_str(&format!("      - [{}]\n", cells.join(", ")));
            }
            let q = &r.quality;
            s.push_str("    quality:\n");
            s.push_str(&format!("      samples: {}\n", q.samples));
            s.push_str(&format!("      seed: {}\n", q.seed));
            s.push_str(&format!(
                "      spearman_trace: {}\n",
                fixed(q.spearman_trace, 4)
            ));
            s.push_str(&format!(
                "      spearman_sampled: {}\n",
                fixed(q.spearman_sampled, 4)
            ));
            for (key, m) in [
                ("prefill", &q.prefill),
                ("decode", &q.decode),
                ("total", &q.total),
            ] {
                s.push_str(&format!(
                    "      {key}: {{ks: {}, mean_err_pct: {}, p50_err_pct: {}, p90_err_pct: {}, p99_err_pct: {}}}\n",
                    fixed(m.ks, 4),
                    fixed(m.mean_err_pct, 2),
                    fixed(m.p50_err_pct, 2),
                    fixed(m.p90_err_pct, 2),
                    fixed(m.p99_err_pct, 2)
                ));
            }
        }
        s
    }
}

const HEADER: &str = "\
# Built-in request-length workloads (`lengths: {builtin: {name: chat}}`), compiled into
# vidur-search. Written by `vidur-search fit-workloads` (command in generated_by) from the trace
# files named in `source`; figures only, no trace rows. Do not edit by hand: refit (a test checks
# that refitting reproduces this file byte for byte).
#
# prefill_tokens / decode_tokens: quantile knots, in tokens, at the probability `levels`
#   (sampling interpolates linearly in ln(tokens) and rounds); the ends are the trace's min/max.
# copula_counts[i][j]: trace rows whose prefill rank falls in copula bin i and decode rank in bin
#   j, bins bounded by `copula_edges` (rank fractions); a draw picks a cell by count, then uniform
#   ranks inside it.
# quality: `samples` seeded draws (not clipped to max_tokens) against the trace: KS distance and
#   relative errors of mean, p50, p90, p99 (nearest-rank), for prefill, decode and their total.
";

/// A grid of probabilities: starts at 0, ends at 1, strictly increasing.
fn check_grid(grid: &'static str, g: &[f64]) -> Result<(), BuiltinDataError> {
    let ok =
        g.len() >= 2 && g[0] == 0.0 && g[g.len() - 1] == 1.0 && g.windows(2).all(|p| p[0] < p[1]);
    if ok {
        Ok(())
    } else {
        Err(BuiltinDataError::BadGrid { grid })
    }
}

/// `v` with `digits` decimals, never `-0.00`.
fn fixed(v: f64, digits: usize) -> String {
    let s = format!("{v:.digits$}");
    if s.starts_with('-') && s[1..].bytes().all(|b| b == b'0' || b == b'.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// A flow sequence, 12 values per line (continuation lines indented by `indent`).
fn flow<T>(values: &[T], indent: &str, f: impl Fn(&T) -> String) -> String {
    let items: Vec<String> = values.iter().map(f).collect();
    let lines: Vec<String> = items.chunks(12).map(|c| c.join(", ")).collect();
    format!("[{}]", lines.join(&format!(",\n{indent}")))
}

/// A double-quoted YAML scalar (JSON string syntax is valid YAML).
fn yaml_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests;
