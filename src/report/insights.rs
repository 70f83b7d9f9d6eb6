//! `insights.md`: what the evaluated points say about the knobs. Plain facts computed directly
//! from the data (pure groups, failing SLOs, best GPU per model/workload) plus two depth-4
//! decision trees fitted with linfa-trees and printed as if/else rules:
//!
//! 1. label = meets all SLOs, over every evaluated point;
//! 2. label = top-quartile QPS per $/h within its (model, workload), over the feasible points
//!    (QPS/$ of different models is not comparable, hence the per-pair quartile).
//!
//! Features: tp, pp, replicas, batch_size_cap, chunk_size and max_tokens_in_batch as numbers
//! (0 = none); gpu, scheduler, model, workload, router and node one-hot (one 0/1 column per
//! value). Knobs that do not vary are left out: they cannot split anything.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use linfa::prelude::*;
use linfa_trees::DecisionTree;
use ndarray::{Array1, Array2};

use super::summary;
use super::{fmt_num, table::md_text};
use crate::search::{CapacityStatus, PointConfig, PointResult, SearchOutcome};

const MAX_DEPTH: usize = 4;
/// Caps so the findings stay a short read.
const MAX_GROUP_FACTS: usize = 6;
const MAX_LEAF_FACTS: usize = 5;

/// The analysis, rendered to Markdown here and to HTML by the page writer.
pub(crate) struct Insights {
    /// Plain-language findings, each one sentence.
    pub facts: Vec<String>,
    pub trees: Vec<TreeReport>,
}

pub(crate) struct TreeReport {
    pub title: String,
    /// What the two classes mean and over which points.
    pub question: String,
    pub result: TreeResult,
}

pub(crate) enum TreeResult {
    /// Degenerate input or a failed fit: the sentence saying so.
    Skipped(String),
    Fitted(FittedTree),
}

pub(crate) struct FittedTree {
    /// Indented if/else rules with counts and purity per leaf.
    pub rules: String,
    /// (feature, importance) for features the tree uses, largest first.
    pub importances: Vec<(String, f64)>,
    pub accuracy: f64,
    pub n: usize,
    pub leaves: usize,
    /// Sentences read off pure leaves.
    pub leaf_facts: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Tp,
    Pp,
    Replicas,
    BatchCap,
    ChunkSize,
    MaxTokens,
    Gpu,
    Scheduler,
    Model,
    Workload,
    Router,
    Node,
}

impl Field {
    const NUMERIC: [Field; 6] = [
        Field::Tp,
        Field::Pp,
        Field::Replicas,
        Field::BatchCap,
        Field::ChunkSize,
        Field::MaxTokens,
    ];
    const CATEGORICAL: [Field; 6] = [
        Field::Gpu,
        Field::Scheduler,
        Field::Model,
        Field::Workload,
        Field::Router,
        Field::Node,
    ];

    fn name(self) -> &'static str {
        match self {
            Field::Tp => "tp",
            Field::Pp => "pp",
            Field::Replicas => "replicas",
            Field::BatchCap => "batch_size_cap",
            Field::ChunkSize => "chunk_size",
            Field::MaxTokens => "max_tokens_in_batch",
            Field::Gpu => "gpu",
            Field::Scheduler => "scheduler",
            Field::Model => "model",
            Field::Workload => "workload",
            Field::Router => "router",
            Field::Node => "node",
        }
    }

    /// Knobs whose "none" is encoded as 0.
    fn optional(self) -> bool {
        matches!(self, Field::ChunkSize | Field::MaxTokens)
    }

    /// Numeric value (None → 0 for the optional knobs).
    fn num(self, c: &PointConfig) -> f64 {
        f64::from(match self {
            Field::Tp => c.tp,
            Field::Pp => c.pp,
            Field::Replicas => c.replicas,
            Field::BatchCap => c.batch_size_cap,
            Field::ChunkSize => c.chunk_size.unwrap_or(0),
            Field::MaxTokens => c.max_tokens_in_batch.unwrap_or(0),
            _ => 0,
        })
    }

    fn cat(self, c: &PointConfig) -> &str {
        match self {
            Field::Gpu => &c.gpu,
            Field::Scheduler => &c.scheduler,
            Field::Model => &c.model,
            Field::Workload => &c.workload,
            Field::Router => &c.router,
            Field::Node => &c.node,
            _ => "",
        }
    }

    /// The knob's value as shown in group facts.
    fn show(self, c: &PointConfig) -> String {
        if Field::NUMERIC.contains(&self) {
            let v = self.num(c);
            if v == 0.0 && self.optional() {
                "none".into()
            } else {
                format!("{v}")
            }
        } else {
            self.cat(c).to_string()
        }
    }
}

/// One column of the feature matrix.
#[derive(Clone)]
struct Feature {
    field: Field,
    /// `Some(value)` for a one-hot column.
    value: Option<String>,
}

impl Feature {
    fn name(&self) -> String {
        match &self.value {
            Some(v) => format!("{}={v}", self.field.name()),
            None => self.field.name().to_string(),
        }
    }

    fn value_of(&self, c: &PointConfig) -> f64 {
        match &self.value {
            Some(v) => {
                if self.field.cat(c) == v {
                    1.0
                } else {
                    0.0
                }
            }
            None => self.field.num(c),
        }
    }
}

/// Categorical fields that vary among `pts`, without those that only rename an earlier one
/// (a node shape per GPU says nothing the GPU does not).
fn categorical_fields(pts: &[&PointResult]) -> Vec<Field> {
    let mut kept: Vec<Field> = Vec::new();
    for f in Field::CATEGORICAL {
        let n = summary::distinct(pts.iter().map(|p| f.cat(&p.config))).len();
        if n < 2 {
            continue;
        }
        let renames = kept.iter().any(|g| {
            let pairs: Vec<String> = pts
                .iter()
                .map(|p| format!("{}\u{0}{}", g.cat(&p.config), f.cat(&p.config)))
                .collect();
            let pairs = summary::distinct(pairs.iter().map(String::as_str)).len();
            let ng = summary::distinct(pts.iter().map(|p| g.cat(&p.config))).len();
            pairs == n && pairs == ng
        });
        if !renames {
            kept.push(f);
        }
    }
    kept
}

/// Features that vary among `pts`, in a fixed order.
fn features(pts: &[&PointResult]) -> Vec<Feature> {
    let mut out = Vec::new();
    for f in Field::NUMERIC {
        let mut v: Vec<f64> = pts.iter().map(|p| f.num(&p.config)).collect();
        v.sort_by(f64::total_cmp);
        v.dedup();
        if v.len() > 1 {
            out.push(Feature {
                field: f,
                value: None,
            });
        }
    }
    for f in categorical_fields(pts) {
        let vals = summary::distinct(pts.iter().map(|p| f.cat(&p.config)));
        out.extend(vals.into_iter().map(|v| Feature {
            field: f,
            value: Some(v),
        }));
    }
    out
}

/// One condition on a path: the feature and which side of the split.
#[derive(Clone)]
struct Cond {
    feature: usize,
    /// The `x <= split` side (linfa sends `<=` left when fitting).
    left: bool,
    /// The observed value nearest the split on this side, so rules read in values that
    /// exist (`tp ≤ 2` / `tp ≥ 4`, not the midpoint 3).
    bound: f64,
}

fn cond_text(feats: &[Feature], c: &Cond) -> String {
    let f = &feats[c.feature];
    let n = f.field.name();
    match &f.value {
        Some(v) => format!("{n} {} {v}", if c.left { "≠" } else { "=" }),
        None if c.left && c.bound <= 0.0 && f.field.optional() => format!("{n} = none"),
        None if c.left => format!("{n} ≤ {}", c.bound),
        None => format!("{n} ≥ {}", c.bound),
    }
}

/// A path as a short conjunction: bounds on one knob merged, `gpu = a` beating `gpu ≠ b`.
fn path_text(feats: &[Feature], path: &[Cond]) -> String {
    let mut parts = Vec::new();
    let mut fields: Vec<Field> = Vec::new();
    for c in path {
        let f = feats[c.feature].field;
        if !fields.contains(&f) {
            fields.push(f);
        }
    }
    for field in fields {
        let conds: Vec<&Cond> = path
            .iter()
            .filter(|c| feats[c.feature].field == field)
            .collect();
        if Field::NUMERIC.contains(&field) {
            let lo = conds
                .iter()
                .filter(|c| !c.left)
                .map(|c| c.bound)
                .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))));
            let hi = conds
                .iter()
                .filter(|c| c.left)
                .map(|c| c.bound)
                .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.min(v))));
            let n = field.name();
            parts.push(match (lo, hi) {
                (_, Some(h)) if field.optional() && h <= 0.0 => format!("{n} = none"),
                (Some(l), Some(h)) if l == h => format!("{n} = {l}"),
                (Some(l), Some(h)) => format!("{l} ≤ {n} ≤ {h}"),
                (Some(l), None) => format!("{n} ≥ {l}"),
                (None, Some(h)) => format!("{n} ≤ {h}"),
                (None, None) => continue,
            });
        } else {
            let eq = conds
                .iter()
                .find(|c| !c.left)
                .and_then(|c| feats[c.feature].value.clone());
            let n = field.name();
            parts.push(match eq {
                Some(v) => format!("{n} = {v}"),
                None => {
                    let not: Vec<String> = conds
                        .iter()
                        .filter_map(|c| feats[c.feature].value.clone())
                        .collect();
                    if not.len() == 1 {
                        format!("{n} ≠ {}", not[0])
                    } else {
                        format!("{n} not in {{{}}}", not.join(", "))
                    }
                }
            });
        }
    }
    parts.join(" and ")
}

/// A grown tree node holding the training points that reach it.
struct Node {
    idx: Vec<usize>,
    pos: usize,
    split: Option<Split>,
}

struct Split {
    feature: usize,
    /// Gini decrease of this split (parent minus weighted children).
    decrease: f64,
    /// Largest value on the `<=` side and smallest on the other.
    left_max: f64,
    right_min: f64,
    left: Box<Node>,
    right: Box<Node>,
}

impl Node {
    /// Majority label; ties go to the negative class so the output never depends on order.
    fn label(&self) -> bool {
        self.pos * 2 > self.idx.len()
    }
}

/// Grows the tree one linfa stump per node.
///
/// linfa-trees 0.8.1 fits a whole tree correctly only at the root: below it, a candidate split
/// is evaluated only when the row ending a run of equal values (in the global sort order) is
/// in the node, so e.g. a one-hot split inside a subset is silently skipped and the node
/// becomes a leaf. A depth-1 fit on just the node's rows is always a root, so every node gets
/// linfa's exact best Gini split.
struct Grower<'a> {
    x: &'a Array2<f64>,
    y: &'a [bool],
    names: Vec<String>,
}

impl Grower<'_> {
    fn leaf(&self, idx: Vec<usize>) -> Node {
        let pos = idx.iter().filter(|&&i| self.y[i]).count();
        Node {
            idx,
            pos,
            split: None,
        }
    }

    fn grow(&self, idx: Vec<usize>, depth: usize) -> Result<Node, String> {
        let leaf = self.leaf(idx);
        let n = leaf.idx.len();
        if depth >= MAX_DEPTH || n < 2 || leaf.pos == 0 || leaf.pos == n {
            return Ok(leaf);
        }
        let Some((f, s, dec)) = self.stump(&leaf.idx)? else {
            return Ok(leaf);
        };
        let (l, r): (Vec<usize>, Vec<usize>) = leaf.idx.iter().partition(|&&i| self.x[[i, f]] <= s);
        if l.is_empty() || r.is_empty() {
            return Ok(leaf);
        }
        let left_max = l.iter().map(|&i| self.x[[i, f]]).fold(f64::MIN, f64::max);
        let right_min = r.iter().map(|&i| self.x[[i, f]]).fold(f64::MAX, f64::min);
        let (l, r) = (self.grow(l, depth + 1)?, self.grow(r, depth + 1)?);
        // Like linfa's own pruning: a split whose two leaves say the same thing is noise in
        // a rule listing.
        if l.split.is_none() && r.split.is_none() && l.label() == r.label() {
            return Ok(leaf);
        }
        Ok(Node {
            split: Some(Split {
                feature: f,
                decrease: dec,
                left_max,
                right_min,
                left: Box::new(l),
                right: Box::new(r),
            }),
            ..leaf
        })
    }

    /// linfa's best split of `idx` as (feature, value, impurity decrease), None if no split
    /// lowers the Gini impurity.
    fn stump(&self, idx: &[usize]) -> Result<Option<(usize, f64, f64)>, String> {
        let rows = self.x.select(ndarray::Axis(0), idx);
        let ys: Array1<bool> = idx.iter().map(|&i| self.y[i]).collect();
        let ds = Dataset::new(rows, ys).with_feature_names(self.names.clone());
        // A report must not take the run down: linfa is third-party code, so a panic inside
        // the fit becomes a sentence rather than an abort.
        let fitted = catch_unwind(AssertUnwindSafe(|| {
            DecisionTree::<f64, bool>::params()
                .max_depth(Some(1))
                .fit(&ds)
                .map_err(|e| e.to_string())
        }))
        .map_err(|_| "the tree fit failed unexpectedly".to_string())??;
        // split() keeps the chosen split even when linfa prunes two same-label children, and
        // reports a zero decrease when there was no split at all.
        let (f, s, dec) = fitted.root_node().split();
        Ok((dec.is_finite() && dec > 0.0 && f < self.names.len()).then_some((f, s, dec)))
    }
}

/// A leaf with the conditions leading to it.
struct Leaf<'a> {
    path: Vec<Cond>,
    node: &'a Node,
}

struct Printer<'a> {
    feats: &'a [Feature],
    names: (&'a str, &'a str),
    out: String,
}

impl Printer<'_> {
    fn node<'n>(
        &mut self,
        node: &'n Node,
        depth: usize,
        path: &mut Vec<Cond>,
        leaves: &mut Vec<Leaf<'n>>,
    ) {
        let pad = "    ".repeat(depth);
        let Some(sp) = &node.split else {
            let n = node.idx.len();
            let (pos, neg) = (node.pos, n - node.pos);
            let (label, maj) = if node.label() {
                (self.names.0, pos)
            } else {
                (self.names.1, neg)
            };
            let purity = if n == 0 {
                0.0
            } else {
                100.0 * maj as f64 / n as f64
            };
            self.out.push_str(&format!(
                "{pad}→ {label}  [{n} points: {pos} {}, {neg} {}; {purity:.0}% pure]\n",
                self.names.0, self.names.1
            ));
            leaves.push(Leaf {
                path: path.clone(),
                node,
            });
            return;
        };
        let cond = |left: bool| Cond {
            feature: sp.feature,
            left,
            bound: if left { sp.left_max } else { sp.right_min },
        };
        let mut branches = [(cond(true), &sp.left), (cond(false), &sp.right)];
        // One-hot: the "= value" side reads better first.
        if self.feats[sp.feature].value.is_some() {
            branches.swap(0, 1);
        }
        for (k, (c, child)) in branches.into_iter().enumerate() {
            let text = cond_text(self.feats, &c);
            if k == 0 {
                self.out.push_str(&format!("{pad}if {text}:\n"));
            } else {
                self.out.push_str(&format!("{pad}else ({text}):\n"));
            }
            path.push(c);
            self.node(child, depth + 1, path, leaves);
            path.pop();
        }
    }
}

/// Adds each internal node's sample-weighted impurity decrease to its feature.
fn importance(node: &Node, n_total: f64, acc: &mut [f64]) {
    if let Some(sp) = &node.split {
        if let Some(a) = acc.get_mut(sp.feature) {
            *a += node.idx.len() as f64 / n_total * sp.decrease;
        }
        importance(&sp.left, n_total, acc);
        importance(&sp.right, n_total, acc);
    }
}

/// Phrasing of a pure negative leaf, given its points.
type NegVerb<'a> = &'a dyn Fn(&[&PointResult]) -> String;

/// Fits and prints one tree. `verbs` = phrasing of pure positive / negative leaves.
fn fit_tree(
    pts: &[&PointResult],
    labels: &[bool],
    names: (&str, &str),
    verbs: (&str, NegVerb<'_>),
) -> TreeResult {
    let n = pts.len();
    let pos = labels.iter().filter(|&&b| b).count();
    if n == 0 {
        return TreeResult::Skipped("There are no points to learn from.".into());
    }
    if pos == 0 || pos == n {
        let which = if pos == n { names.0 } else { names.1 };
        return TreeResult::Skipped(format!(
            "All {n} points are \"{which}\": there is nothing for a tree to separate."
        ));
    }
    let feats = features(pts);
    if feats.is_empty() {
        return TreeResult::Skipped(
            "No knob varies among these points, so no rule can separate them.".into(),
        );
    }
    let data: Vec<f64> = pts
        .iter()
        .flat_map(|p| feats.iter().map(|f| f.value_of(&p.config)))
        .collect();
    let x = match Array2::from_shape_vec((n, feats.len()), data) {
        Ok(x) => x,
        Err(e) => return TreeResult::Skipped(format!("Could not build the feature matrix: {e}.")),
    };
    let grower = Grower {
        x: &x,
        y: labels,
        names: feats.iter().map(Feature::name).collect(),
    };
    let root = match grower.grow((0..n).collect(), 0) {
        Ok(r) => r,
        Err(e) => return TreeResult::Skipped(format!("The tree could not be fitted: {e}.")),
    };
    let mut p = Printer {
        feats: &feats,
        names,
        out: String::new(),
    };
    let mut leaves = Vec::new();
    p.node(&root, 0, &mut Vec::new(), &mut leaves);
    let correct: usize = leaves
        .iter()
        .map(|l| l.node.pos.max(l.node.idx.len() - l.node.pos))
        .sum();
    let mut acc = vec![0.0; feats.len()];
    importance(&root, n as f64, &mut acc);
    let total: f64 = acc.iter().sum();
    let mut importances: Vec<(String, f64)> = acc
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite() && **v > 0.0 && total > 0.0)
        .map(|(i, v)| (feats[i].name(), v / total))
        .collect();
    importances.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    // Pure, non-trivial leaves become sentences, biggest first.
    let min_n = 2usize.max(n.div_ceil(20));
    let mut pure: Vec<&Leaf> = leaves
        .iter()
        .filter(|l| !l.path.is_empty() && l.node.idx.len() >= min_n)
        .filter(|l| l.node.pos == 0 || l.node.pos == l.node.idx.len())
        .collect();
    pure.sort_by_key(|l| std::cmp::Reverse(l.node.idx.len()));
    let leaf_facts = pure
        .into_iter()
        .take(MAX_LEAF_FACTS)
        .map(|l| {
            let verb = if l.node.pos > 0 {
                verbs.0.to_string()
            } else {
                let members: Vec<&PointResult> = l.node.idx.iter().map(|&i| pts[i]).collect();
                (verbs.1)(&members)
            };
            format!(
                "All {} points with {} {verb}.",
                l.node.idx.len(),
                path_text(&feats, &l.path)
            )
        })
        .collect();
    TreeResult::Fitted(FittedTree {
        leaves: leaves.len(),
        rules: p.out,
        importances,
        accuracy: correct as f64 / n as f64,
        n,
        leaf_facts,
    })
}

/// "miss TTFT P90 ≤ 2 s" when every one of `pts` fails that objective at its lowest load,
/// otherwise the generic phrase.
fn miss_phrase(pts: &[&PointResult]) -> String {
    let v = summary::violations(pts.iter().copied());
    match v.first() {
        Some((label, k)) if *k == pts.len() && !pts.is_empty() => format!("miss {label}"),
        _ => "miss at least one SLO".into(),
    }
}

/// Single-knob (and GPU × TP) groups whose points all meet, or all miss, the SLOs.
fn group_facts(pts: &[&PointResult]) -> Vec<String> {
    let n = pts.len();
    let feasible = pts.iter().filter(|p| p.feasible()).count();
    if n == 0 || feasible == 0 || feasible == n {
        return Vec::new();
    }
    // (field, value) → members; BTreeMap for a stable order.
    let mut groups: BTreeMap<(&'static str, String), Vec<&PointResult>> = BTreeMap::new();
    for f in Field::NUMERIC.iter().chain(categorical_fields(pts).iter()) {
        let shown: Vec<String> = pts.iter().map(|p| f.show(&p.config)).collect();
        if summary::distinct(shown.iter().map(String::as_str)).len() < 2 {
            continue;
        }
        for p in pts {
            groups
                .entry((f.name(), f.show(&p.config)))
                .or_default()
                .push(p);
        }
    }
    let pure = |g: &[&PointResult]| {
        let k = g.iter().filter(|p| p.feasible()).count();
        g.len() >= 2 && (k == 0 || k == g.len())
    };
    let mut singles: Vec<(usize, String)> = Vec::new();
    let mut pure_single: Vec<(&str, String)> = Vec::new();
    for ((field, value), g) in &groups {
        if !pure(g) {
            continue;
        }
        pure_single.push((field, value.clone()));
        let k = g.iter().filter(|p| p.feasible()).count();
        let s = if k == 0 {
            format!(
                "No point with {field} = {value} meets all SLOs (0 of {}); they {}.",
                g.len(),
                miss_phrase(g)
            )
        } else {
            format!(
                "Every point with {field} = {value} meets all SLOs ({} of {}).",
                g.len(),
                g.len()
            )
        };
        singles.push((g.len(), s));
    }
    // GPU × TP pairs that are pure while neither knob alone is.
    let mut pairs: BTreeMap<(String, u32), Vec<&PointResult>> = BTreeMap::new();
    for p in pts {
        pairs
            .entry((p.config.gpu.clone(), p.config.tp))
            .or_default()
            .push(p);
    }
    for ((gpu, tp), g) in &pairs {
        let covered = pure_single
            .iter()
            .any(|(f, v)| (*f == "gpu" && v == gpu) || (*f == "tp" && *v == tp.to_string()));
        if covered || !pure(g) || g.len() == n {
            continue;
        }
        let k = g.iter().filter(|p| p.feasible()).count();
        let s = if k == 0 {
            format!(
                "All {} points with TP={tp} on {gpu} {}.",
                g.len(),
                miss_phrase(g)
            )
        } else {
            format!(
                "All {} points with TP={tp} on {gpu} meet all SLOs.",
                g.len()
            )
        };
        singles.push((g.len(), s));
    }
    singles.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    singles
        .into_iter()
        .take(MAX_GROUP_FACTS)
        .map(|(_, s)| s)
        .collect()
}

/// Per (model, workload): the GPU with the best QPS/$ and how far ahead of the next GPU it is.
fn best_gpu_facts(o: &SearchOutcome) -> Vec<String> {
    let ranked = o.ranked();
    let mut out = Vec::new();
    for (model, workload) in summary::combos(o) {
        let here: Vec<&PointResult> = ranked
            .iter()
            .copied()
            .filter(|p| p.config.model == model && p.config.workload == workload)
            .collect();
        let Some(best) = here.first() else { continue };
        let Some(best_q) = best.cost.qps_per_dollar else {
            continue;
        };
        let mut s = format!(
            "For {model} / {workload}, the best QPS per $/h is on {} ({}, {} QPS per $/h)",
            best.config.gpu,
            summary::describe_short(&best.config),
            fmt_num(best_q)
        );
        let runner = here.iter().find(|p| p.config.gpu != best.config.gpu);
        match runner.and_then(|r| Some((r, r.cost.qps_per_dollar?))) {
            Some((r, q)) if q > 0.0 => s.push_str(&format!(
                ", {}× the best {} point ({}).",
                fmt_num(best_q / q),
                r.config.gpu,
                fmt_num(q)
            )),
            _ => s.push('.'),
        }
        out.push(s);
    }
    out
}

/// Top-quartile labels per (model, workload) among `feasible`: the ⌈n/4⌉ best QPS/$ (ties
/// with the cut-off included).
fn top_quartile(feasible: &[&PointResult]) -> Vec<bool> {
    let mut by: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for p in feasible {
        by.entry((&p.config.model, &p.config.workload))
            .or_default()
            .push(p.cost.qps_per_dollar.unwrap_or(0.0));
    }
    let cut: BTreeMap<(&str, &str), f64> = by
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_by(|a, b| b.total_cmp(a));
            let i = v.len().div_ceil(4).saturating_sub(1);
            (k, v.get(i).copied().unwrap_or(f64::INFINITY))
        })
        .collect();
    feasible
        .iter()
        .map(|p| {
            let c = cut
                .get(&(p.config.model.as_str(), p.config.workload.as_str()))
                .copied()
                .unwrap_or(f64::INFINITY);
            p.cost.qps_per_dollar.unwrap_or(0.0) >= c
        })
        .collect()
}

pub(crate) fn analyse(o: &SearchOutcome) -> Insights {
    // Unbounded points met the SLOs at every load tried but have no capacity: they fit neither
    // label of the trees, so they are left out (and said so).
    let pts: Vec<&PointResult> = o
        .points
        .iter()
        .filter(|p| p.capacity_status != CapacityStatus::Unbounded)
        .collect();
    let c = summary::counts(o);
    let mut facts = Vec::new();
    if c.points == 0 {
        facts.push(format!(
            "No point was evaluated ({} dropped before simulation), so there is nothing to learn.",
            c.dropped
        ));
    } else {
        facts.push(format!(
            "{} of {} evaluated points meet all SLOs{}.",
            c.feasible,
            c.points,
            if c.dropped > 0 {
                format!("; {} more were dropped before simulation", c.dropped)
            } else {
                String::new()
            }
        ));
        if c.unbounded > 0 {
            facts.push(format!(
                "{} point(s) are unbounded (they meet every SLO up to the search's physical limit, so the workload cannot measure their capacity) and are left out of the findings below.",
                c.unbounded
            ));
        }
        facts.extend(group_facts(&pts));
        let v = summary::violations(pts.iter().copied());
        if !v.is_empty() {
            let parts: Vec<String> = v.iter().map(|(l, n)| format!("{l} ({n})")).collect();
            facts.push(format!(
                "Points without capacity fail, at the lowest load tried: {}.",
                parts.join(", ")
            ));
        }
        let b = summary::binding(pts.iter().copied());
        if let Some((label, n)) = b.first() {
            facts.push(format!(
                "At capacity, {label} is the binding objective (closest to its bound) for {n} of {} feasible points.",
                c.feasible
            ));
        }
        facts.extend(best_gpu_facts(o));
    }

    let labels: Vec<bool> = pts.iter().map(|p| p.feasible()).collect();
    let tree1 = TreeReport {
        title: "What makes a point meet the SLOs".into(),
        question: "Label: meets all SLOs (has a capacity) or not; every evaluated point.".into(),
        result: fit_tree(
            &pts,
            &labels,
            ("meets SLOs", "misses SLOs"),
            ("meet all SLOs", &|g| miss_phrase(g)),
        ),
    };
    let feasible: Vec<&PointResult> = pts.iter().copied().filter(|p| p.feasible()).collect();
    let result2 = if feasible.len() < 4 {
        TreeResult::Skipped(format!(
            "Only {} point(s) meet the SLOs; a top-quartile tree needs at least 4.",
            feasible.len()
        ))
    } else {
        let labels2 = top_quartile(&feasible);
        fit_tree(
            &feasible,
            &labels2,
            ("top quartile", "below"),
            (
                "are in the top QPS-per-$/h quartile of their model and workload",
                &|_| "are below the top QPS-per-$/h quartile".to_string(),
            ),
        )
    };
    let tree2 = TreeReport {
        title: "What makes a point cost-efficient".into(),
        question: "Label: QPS per $/h in the top quartile of its (model, workload), among the points that meet the SLOs.".into(),
        result: result2,
    };
    Insights {
        facts,
        trees: vec![tree1, tree2],
    }
}

/// The method paragraph (shared with the HTML page).
pub(crate) fn method_note() -> String {
    format!(
        "Trees: Gini CART, max depth {MAX_DEPTH}, each split chosen by a linfa-trees depth-1 \
         fit on the node's points (linfa 0.8.1's own recursion skips valid splits below the \
         root), sibling leaves with the same label merged. Fitted on the evaluated points: \
         training accuracy is shown, and with few points a tree describes this run rather \
         than predicting new points. Features: tp, pp, replicas, batch_size_cap, chunk_size \
         and max_tokens_in_batch as numbers (0 = none); gpu, scheduler, model, workload, \
         router and node one-hot (one 0/1 column per value); knobs that do not vary are left \
         out. Leaf counts are the points reaching the leaf. Importance is the sample-weighted \
         Gini decrease per feature, normalised to sum to 1."
    )
}

pub(crate) fn render_markdown(o: &SearchOutcome, ins: &Insights) -> String {
    let mut s = format!("# Insights: {}\n\n## Findings\n\n", md_text(&o.meta.name));
    for f in &ins.facts {
        s.push_str(&format!("- {}\n", md_text(f)));
    }
    for (k, t) in ins.trees.iter().enumerate() {
        s.push_str(&format!(
            "\n## Tree {}: {}\n\n{}\n\n",
            k + 1,
            t.title,
            md_text(&t.question)
        ));
        match &t.result {
            TreeResult::Skipped(why) => {
                s.push_str(&md_text(why));
                s.push('\n');
            }
            TreeResult::Fitted(f) => {
                s.push_str(&format!(
                    "{} points, {} leaves, training accuracy {:.0}%.\n\n```text\n{}```\n",
                    f.n,
                    f.leaves,
                    100.0 * f.accuracy,
                    f.rules
                ));
                if !f.importances.is_empty() {
                    s.push_str("\nFeature importance:\n\n");
                    for (name, v) in &f.importances {
                        s.push_str(&format!("- {}: {:.2}\n", md_text(name), v));
                    }
                }
                if !f.leaf_facts.is_empty() {
                    s.push_str("\nRead off the tree:\n\n");
                    for l in &f.leaf_facts {
                        s.push_str(&format!("- {}\n", md_text(l)));
                    }
                }
            }
        }
    }
    s.push_str(&format!("\n## Method\n\n{}\n", method_note()));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata;

    #[test]
    fn feasibility_tree_finds_the_a100_tp1_rule() {
        let o = testdata::outcome();
        let ins = analyse(&o);
        let TreeResult::Fitted(f) = &ins.trees[0].result else {
            panic!("tree 1 should fit");
        };
        // The synthetic data is separable: a100 with TP 1 is the only infeasible group.
        assert_eq!(f.accuracy, 1.0, "{}", f.rules);
        assert!(f.rules.contains("if "), "{}", f.rules);
        assert!(f.rules.contains("100% pure"));
        assert!(
            ins.facts
                .iter()
                .any(|s| s.contains("TP=1 on a100-80g") || s.contains("tp = 1")),
            "{:?}",
            ins.facts
        );
        assert!(!f.importances.is_empty());
        let md = render_markdown(&o, &ins);
        assert!(md.contains("## Tree 1") && md.contains("```text"));
    }

    #[test]
    fn quartile_labels_per_pair() {
        let o = testdata::outcome_for(&["m1", "m2"], &["w"]);
        let feasible: Vec<&PointResult> = o.points.iter().filter(|p| p.feasible()).collect();
        let l = top_quartile(&feasible);
        // 10 feasible per model → 3 top points each.
        assert_eq!(l.iter().filter(|&&b| b).count(), 6);
    }

    #[test]
    fn degenerate_inputs_give_sentences() {
        let mut o = testdata::outcome();
        o.points.retain(|p| p.feasible());
        let ins = analyse(&o);
        assert!(
            matches!(&ins.trees[0].result, TreeResult::Skipped(s) if s.contains("nothing for a tree"))
        );
        for p in &mut o.points {
            p.capacity_qps = None;
        }
        let ins = analyse(&o);
        assert!(matches!(&ins.trees[0].result, TreeResult::Skipped(_)));
        assert!(matches!(&ins.trees[1].result, TreeResult::Skipped(s) if s.contains("at least 4")));
        o.points.clear();
        let ins = analyse(&o);
        assert!(ins.facts[0].contains("No point was evaluated"));
        let md = render_markdown(&o, &ins);
        assert!(md.contains("## Tree 2"));
    }

    #[test]
    fn paths_merge_bounds() {
        let feats = vec![
            Feature {
                field: Field::Tp,
                value: None,
            },
            Feature {
                field: Field::Gpu,
                value: Some("a100".into()),
            },
            Feature {
                field: Field::Gpu,
                value: Some("h100".into()),
            },
        ];
        let path = vec![
            Cond {
                feature: 0,
                left: false,
                bound: 2.0,
            },
            Cond {
                feature: 0,
                left: true,
                bound: 4.0,
            },
            Cond {
                feature: 1,
                left: true,
                bound: 0.0,
            },
            Cond {
                feature: 2,
                left: true,
                bound: 0.0,
            },
        ];
        assert_eq!(
            path_text(&feats, &path),
            "2 ≤ tp ≤ 4 and gpu not in {a100, h100}"
        );
        assert_eq!(cond_text(&feats, &path[0]), "tp ≥ 2");
        assert_eq!(cond_text(&feats, &path[2]), "gpu ≠ a100");
        let chunk = [Feature {
            field: Field::ChunkSize,
            value: None,
        }];
        let none = Cond {
            feature: 0,
            left: true,
            bound: 0.0,
        };
        assert_eq!(cond_text(&chunk, &none), "chunk_size = none");
        assert_eq!(path_text(&chunk, &[none]), "chunk_size = none");
    }
}
