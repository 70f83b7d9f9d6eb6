//! Plain facts read directly from the points: pure groups, failing SLOs, the best GPU per
//! model and workload, and the top-quartile labels of the cost tree.

use std::collections::BTreeMap;

use super::super::format::fmt_num;
use super::super::summary;
use super::features::{categorical_fields, Field};
use crate::search::{PointResult, SearchOutcome};

/// Cap on group facts, so the findings stay a short read.
const MAX_GROUP_FACTS: usize = 6;

/// "miss TTFT P90 ≤ 2 s" when every one of `pts` fails that objective at its lowest load,
/// otherwise the generic phrase.
pub(super) fn miss_phrase(pts: &[&PointResult]) -> String {
    let v = summary::violations(pts.iter().copied());
    match v.first() {
        Some((label, k)) if *k == pts.len() && !pts.is_empty() => format!("miss {label}"),
        _ => "miss at least one SLO".into(),
    }
}

/// Single-knob (and GPU × TP) groups whose points all meet, or all miss, the SLOs.
pub(super) fn group_facts(pts: &[&PointResult]) -> Vec<String> {
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
pub(super) fn best_gpu_facts(o: &SearchOutcome) -> Vec<String> {
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
pub(super) fn top_quartile(feasible: &[&PointResult]) -> Vec<bool> {
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
