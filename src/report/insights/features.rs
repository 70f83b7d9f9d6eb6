//! The feature matrix: which knobs vary among the points, as numbers or one-hot columns, and
//! how a condition on them reads in a rule.

use super::super::summary;
use crate::search::{PointConfig, PointResult};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
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
    pub(super) const NUMERIC: [Field; 6] = [
        Field::Tp,
        Field::Pp,
        Field::Replicas,
        Field::BatchCap,
        Field::ChunkSize,
        Field::MaxTokens,
    ];
    pub(super) const CATEGORICAL: [Field; 6] = [
        Field::Gpu,
        Field::Scheduler,
        Field::Model,
        Field::Workload,
        Field::Router,
        Field::Node,
    ];

    pub(super) fn name(self) -> &'static str {
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
    pub(super) fn optional(self) -> bool {
        matches!(self, Field::ChunkSize | Field::MaxTokens)
    }

    /// Numeric value (None → 0 for the optional knobs).
    pub(super) fn num(self, c: &PointConfig) -> f64 {
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

    pub(super) fn cat(self, c: &PointConfig) -> &str {
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
    pub(super) fn show(self, c: &PointConfig) -> String {
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
pub(super) struct Feature {
    pub(super) field: Field,
    /// `Some(value)` for a one-hot column.
    pub(super) value: Option<String>,
}

impl Feature {
    pub(super) fn name(&self) -> String {
        match &self.value {
            Some(v) => format!("{}={v}", self.field.name()),
            None => self.field.name().to_string(),
        }
    }

    pub(super) fn value_of(&self, c: &PointConfig) -> f64 {
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
pub(super) fn categorical_fields(pts: &[&PointResult]) -> Vec<Field> {
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
pub(super) fn features(pts: &[&PointResult]) -> Vec<Feature> {
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
pub(super) struct Cond {
    pub(super) feature: usize,
    /// The `x <= split` side (linfa sends `<=` left when fitting).
    pub(super) left: bool,
    /// The observed value nearest the split on this side, so rules read in values that
    /// exist (`tp ≤ 2` / `tp ≥ 4`, not the midpoint 3).
    pub(super) bound: f64,
}

pub(super) fn cond_text(feats: &[Feature], c: &Cond) -> String {
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
pub(super) fn path_text(feats: &[Feature], path: &[Cond]) -> String {
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
