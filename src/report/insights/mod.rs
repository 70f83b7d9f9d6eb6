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

use super::summary;
use crate::search::{CapacityStatus, PointResult, SearchOutcome};

mod facts;
mod features;
mod render;
mod tree;

pub(crate) use render::{method_note, render_markdown};

use facts::{best_gpu_facts, group_facts, miss_phrase, top_quartile};
use tree::fit_tree;

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

pub(crate) fn analyse(o: &SearchOutcome) -> Insights {
    // Unbounded points met the SLOs at every load tried but have no capacity, and failed points
    // (an evaluation error) carry no verdict at all: they fit neither label of the trees, so
    // they are left out (and said so).
    let pts: Vec<&PointResult> = o
        .points
        .iter()
        .filter(|p| {
            !matches!(
                p.capacity_status,
                CapacityStatus::Unbounded | CapacityStatus::Failed
            )
        })
        .collect();
    let c = summary::counts(o);
    let failed = o
        .points
        .iter()
        .filter(|p| p.capacity_status == CapacityStatus::Failed)
        .count();
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
        if failed > 0 {
            facts.push(format!(
                "{failed} point(s) failed (their evaluation hit an error, given in the results' `error` field; this is no verdict on the configuration) and are left out of the findings below."
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
        question: "Label: meets all SLOs (has a capacity) or not; every evaluated point except unbounded and failed ones.".into(),
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

#[cfg(test)]
mod tests;
