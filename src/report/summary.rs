//! Figures several reports share: counts, which knobs vary, and which SLO stops points.

use std::collections::BTreeMap;

use crate::search::{CapacityStatus, PointConfig, PointResult, SearchOutcome};

/// Headline counts of a run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Counts {
    pub points: usize,
    pub feasible: usize,
    /// Points that passed every probe up to the search's limit (no measured capacity).
    pub unbounded: usize,
    pub dropped: usize,
    /// Dropped points per reason, most frequent first (ties by name).
    pub dropped_by_reason: Vec<(String, usize)>,
    /// Simulations recorded over all points (cached points keep their count).
    pub sims_recorded: u64,
}

pub(crate) fn counts(o: &SearchOutcome) -> Counts {
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &o.dropped {
        *by_reason.entry(d.reason.as_str()).or_default() += 1;
    }
    Counts {
        points: o.points.len(),
        feasible: o.points.iter().filter(|p| p.feasible()).count(),
        unbounded: o
            .points
            .iter()
            .filter(|p| p.capacity_status == CapacityStatus::Unbounded)
            .count(),
        dropped: o.dropped.len(),
        dropped_by_reason: sorted_counts(by_reason),
        sims_recorded: o.points.iter().map(|p| u64::from(p.sims_run)).sum(),
    }
}

/// Distinct values in first-seen order would depend on expansion order; sorted is stable.
pub(crate) fn distinct<'a>(it: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = it.map(str::to_string).collect();
    v.sort();
    v.dedup();
    v
}

/// GPU SKUs among evaluated points, sorted (also fixes plot colours across files).
pub(crate) fn gpus(o: &SearchOutcome) -> Vec<String> {
    distinct(o.points.iter().map(|p| p.config.gpu.as_str()))
}

/// Distinct (model, workload) pairs among evaluated points, sorted.
pub(crate) fn combos(o: &SearchOutcome) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = o
        .points
        .iter()
        .map(|p| (p.config.model.clone(), p.config.workload.clone()))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Which optional knob columns are worth showing (they take more than one value).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Varying {
    pub model: bool,
    pub workload: bool,
    pub node: bool,
    pub router: bool,
    pub max_tokens: bool,
}

pub(crate) fn varying(o: &SearchOutcome) -> Varying {
    let all: Vec<&PointResult> = o.points.iter().collect();
    let n = |f: &dyn Fn(&PointResult) -> String| {
        let mut v: Vec<String> = all.iter().map(|p| f(p)).collect();
        v.sort();
        v.dedup();
        v.len() > 1
    };
    // The node column only helps when a GPU comes in several node shapes.
    let count = |f: &dyn Fn(&PointResult) -> String| {
        let mut v: Vec<String> = all.iter().map(|p| f(p)).collect();
        v.sort();
        v.dedup();
        v.len()
    };
    let node = count(&|p| format!("{}\u{0}{}", p.config.gpu, p.config.node))
        > count(&|p| p.config.gpu.clone());
    Varying {
        model: n(&|p| p.config.model.clone()),
        workload: n(&|p| p.config.workload.clone()),
        node,
        router: n(&|p| p.config.router.clone()),
        max_tokens: n(&|p| format!("{:?}", p.config.max_tokens_in_batch)),
    }
}

/// `PointConfig::describe()` without the leading "<model> on " (for places that already name
/// the model).
pub(crate) fn describe_short(c: &PointConfig) -> String {
    let d = c.describe();
    match d.strip_prefix(&format!("{} on ", c.model)) {
        Some(rest) => rest.to_string(),
        None => d,
    }
}

/// For points where no load passes: which objectives failed at the lowest load tried (the run
/// that says most about why no load passes). Returns (label, points) most frequent first.
pub(crate) fn violations<'a>(
    points: impl Iterator<Item = &'a PointResult>,
) -> Vec<(String, usize)> {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for p in points.filter(|p| p.capacity_status == CapacityStatus::None) {
        let lowest = p
            .seeds
            .iter()
            .flat_map(|s| s.runs.iter())
            .min_by(|a, b| a.qps.total_cmp(&b.qps));
        let Some(run) = lowest else { continue };
        let failed: Vec<String> = run
            .slos
            .iter()
            .filter(|v| !v.ok)
            .map(|v| v.slo.label())
            .collect();
        if failed.is_empty() {
            if !run.pass {
                *by.entry("goodput target".into()).or_default() += 1;
            }
        } else {
            for f in failed {
                *by.entry(f).or_default() += 1;
            }
        }
    }
    sorted_counts(by)
}

/// For feasible points: the objective closest to its bound at capacity (value ÷ bound), i.e.
/// the one that sets the capacity. Returns (label, points) most frequent first.
pub(crate) fn binding<'a>(points: impl Iterator<Item = &'a PointResult>) -> Vec<(String, usize)> {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for p in points.filter(|p| p.feasible()) {
        let best = p
            .at_capacity
            .iter()
            .filter_map(|v| {
                let val = v.value_s?;
                (v.slo.max_seconds > 0.0).then(|| (v.slo.label(), val / v.slo.max_seconds))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((label, _)) = best {
            *by.entry(label).or_default() += 1;
        }
    }
    sorted_counts(by)
}

fn sorted_counts<K: Into<String>>(m: BTreeMap<K, usize>) -> Vec<(String, usize)> {
    let mut v: Vec<(String, usize)> = m.into_iter().map(|(k, n)| (k.into(), n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata;

    #[test]
    fn counts_and_reasons() {
        let o = testdata::outcome();
        let c = counts(&o);
        assert_eq!(c.points, o.points.len());
        assert!(c.feasible > 0 && c.feasible < c.points);
        assert_eq!(c.dropped_by_reason[0].0, "memory");
        assert_eq!(c.dropped, 3);
    }

    #[test]
    fn violations_and_binding() {
        let o = testdata::outcome();
        let v = violations(o.points.iter());
        assert!(!v.is_empty());
        let b = binding(o.points.iter());
        assert_eq!(
            b.iter().map(|x| x.1).sum::<usize>(),
            counts(&o).feasible,
            "every feasible point has a binding SLO"
        );
    }
}
