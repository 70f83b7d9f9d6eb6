//! `best_configs.md`: the top points by QPS per $/h among those meeting every SLO, overall and
//! per GPU SKU (and per model / workload when the space has several). The same rankings feed
//! the HTML page.

use std::collections::HashMap;

use super::summary::{self, Varying};
use super::table::{md_text, Cell, Table};
use super::{fmt_num, fmt_opt, slo_value, ReportOptions};
use crate::search::{PointResult, SearchOutcome, Slo};

/// One ranked list: the top points of a subset.
pub(crate) struct Ranking<'a> {
    /// e.g. `a100-80g`; empty for the overall list.
    pub title: String,
    /// Evaluated points in the subset.
    pub evaluated: Vec<&'a PointResult>,
    /// Feasible points in the subset, best first (all of them, not just the top N).
    pub ranked: Vec<&'a PointResult>,
}

/// A heading with its rankings (`Overall`, `Per GPU SKU`, …).
pub(crate) struct Group<'a> {
    pub heading: String,
    pub rankings: Vec<Ranking<'a>>,
}

/// Overall, per GPU, and per model / workload when those vary.
pub(crate) fn groups(o: &SearchOutcome) -> Vec<Group<'_>> {
    let ranked = o.ranked();
    let subset = |title: String, keep: &dyn Fn(&PointResult) -> bool| Ranking {
        title,
        evaluated: o.points.iter().filter(|p| keep(p)).collect(),
        ranked: ranked.iter().copied().filter(|p| keep(p)).collect(),
    };
    let mut out = vec![Group {
        heading: "Overall".into(),
        rankings: vec![subset(String::new(), &|_| true)],
    }];
    let per = |heading: &str, values: Vec<String>, key: fn(&PointResult) -> &str| Group {
        heading: heading.into(),
        rankings: values
            .into_iter()
            .map(|v| {
                let keep = |p: &PointResult| key(p) == v;
                subset(v.clone(), &keep)
            })
            .collect(),
    };
    // With one GPU SKU the per-GPU table would repeat the overall one.
    let gpus = summary::gpus(o);
    if gpus.len() > 1 {
        out.push(per("Per GPU SKU", gpus, |p| p.config.gpu.as_str()));
    }
    let models = summary::distinct(o.points.iter().map(|p| p.config.model.as_str()));
    if models.len() > 1 {
        out.push(per("Per model", models, |p| p.config.model.as_str()));
    }
    let workloads = summary::distinct(o.points.iter().map(|p| p.config.workload.as_str()));
    if workloads.len() > 1 {
        out.push(per("Per workload", workloads, |p| {
            p.config.workload.as_str()
        }));
    }
    out
}

/// "TTFT P90" for a TTFT P90 ≤ 2 s objective.
pub(crate) fn slo_short(s: &Slo) -> String {
    let l = s.label();
    match l.split_once(" ≤ ") {
        Some((head, _)) => head.to_string(),
        None => l,
    }
}

/// Capacity with the min–max band over seeds when there are several.
fn capacity_cell(p: &PointResult) -> Cell {
    let text = match (p.capacity_qps, p.capacity_min, p.capacity_max) {
        (Some(c), Some(lo), Some(hi)) if p.seeds.len() > 1 => {
            format!("{} ({}–{})", fmt_num(c), fmt_num(lo), fmt_num(hi))
        }
        (c, _, _) => fmt_opt(c),
    };
    Cell::num(text, p.capacity_qps)
}

/// A table of points. `full` adds the id and the remaining figures (the HTML results table);
/// otherwise it is a best-configs table. `rank` maps a point (by address) to its overall rank.
pub(crate) fn config_table(
    o: &SearchOutcome,
    pts: &[&PointResult],
    full: bool,
    rank: &HashMap<usize, usize>,
) -> Table {
    let v: Varying = summary::varying(o);
    let mut t = Table::default();
    t.column("#", true);
    if full {
        t.column("id", false);
    }
    if v.model {
        t.column("model", false);
    }
    if v.workload {
        t.column("workload", false);
    }
    t.column("GPU", false);
    if v.node {
        t.column("node", false);
    }
    for h in ["GPUs", "TP", "PP", "replicas"] {
        t.column(h, true);
    }
    t.column("scheduler", false);
    t.column("batch cap", true);
    if v.max_tokens {
        t.column("max tokens/batch", true);
    }
    if v.router {
        t.column("router", false);
    }
    t.column("capacity QPS", true);
    for s in &o.meta.slos {
        t.column(format!("{} (s)", slo_short(s)), true);
    }
    t.column("$/h", true);
    t.column("QPS per $/h", true);
    t.column("$/1M out tok", true);
    if full {
        for h in ["goodput", "out tok/s", "sims", "wall (s)"] {
            t.column(h, true);
        }
        t.column("meets SLOs", false);
    }
    for p in pts {
        let c = &p.config;
        let r = rank.get(&(*p as *const PointResult as usize)).copied();
        let mut row = vec![Cell::num(
            r.map(|r| r.to_string()).unwrap_or_else(|| "–".into()),
            r.map(|r| r as f64),
        )];
        if full {
            row.push(Cell::text(p.id.clone()));
        }
        if v.model {
            row.push(Cell::text(c.model.clone()));
        }
        if v.workload {
            row.push(Cell::text(c.workload.clone()));
        }
        row.push(Cell::text(c.gpu.clone()));
        if v.node {
            row.push(Cell::text(c.node.clone()));
        }
        for n in [p.num_gpus, c.tp, c.pp, c.replicas] {
            row.push(Cell::num(n.to_string(), Some(f64::from(n))));
        }
        row.push(Cell::text(c.scheduler_label()));
        row.push(Cell::num(
            c.batch_size_cap.to_string(),
            Some(f64::from(c.batch_size_cap)),
        ));
        if v.max_tokens {
            row.push(Cell::num(
                c.max_tokens_in_batch
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| "–".into()),
                c.max_tokens_in_batch.map(f64::from),
            ));
        }
        if v.router {
            row.push(Cell::text(c.router.clone()));
        }
        row.push(capacity_cell(p));
        for (i, s) in o.meta.slos.iter().enumerate() {
            let val = slo_value(p, s, i).and_then(|x| x.value_s);
            row.push(Cell::num(fmt_opt(val), val));
        }
        row.push(Cell::num(
            fmt_num(p.cost.usd_per_hour),
            Some(p.cost.usd_per_hour),
        ));
        row.push(Cell::num(
            fmt_opt(p.cost.qps_per_dollar),
            p.cost.qps_per_dollar,
        ));
        row.push(Cell::num(
            fmt_opt(p.cost.usd_per_million_output_tokens),
            p.cost.usd_per_million_output_tokens,
        ));
        if full {
            row.push(Cell::num(
                fmt_opt(p.goodput_at_capacity),
                p.goodput_at_capacity,
            ));
            row.push(Cell::num(
                fmt_opt(p.output_tokens_per_s),
                p.output_tokens_per_s,
            ));
            row.push(Cell::num(
                p.sims_run.to_string(),
                Some(f64::from(p.sims_run)),
            ));
            row.push(Cell::num(fmt_num(p.wall_s), Some(p.wall_s)));
            row.push(Cell::text(if p.feasible() { "yes" } else { "no" }));
        }
        t.rows.push(row);
    }
    t
}

/// Overall rank (1-based) of every feasible point, keyed by address.
pub(crate) fn rank_map(o: &SearchOutcome) -> HashMap<usize, usize> {
    o.ranked()
        .into_iter()
        .enumerate()
        .map(|(i, p)| (p as *const PointResult as usize, i + 1))
        .collect()
}

/// What the ranking means, in one paragraph (shared with the HTML page).
pub(crate) fn ranking_note(o: &SearchOutcome) -> String {
    let slos = if o.meta.slos.is_empty() {
        "the space sets no SLOs, so every point with a capacity qualifies".to_string()
    } else {
        let l: Vec<String> = o.meta.slos.iter().map(Slo::label).collect();
        format!("points that meet every SLO ({})", l.join("; "))
    };
    let max_seeds = o.points.iter().map(|p| p.seeds.len()).max().unwrap_or(0);
    let band = if max_seeds > 1 {
        format!(
            " Capacity is the median over seeds, with the min–max band over {max_seeds} seeds in brackets."
        )
    } else {
        String::new()
    };
    format!(
        "Ranked by QPS per $/h (capacity QPS ÷ the point's hourly price) among {slos}.{band} \
         SLO columns are the measured values at capacity, in seconds."
    )
}

/// A sentence for a subset without feasible points, naming the objectives that failed.
pub(crate) fn none_feasible_sentence(what: &str, evaluated: &[&PointResult]) -> String {
    let mut s = format!("No {what} meets all SLOs ({} evaluated).", evaluated.len());
    let v = summary::violations(evaluated.iter().copied());
    if !v.is_empty() {
        let parts: Vec<String> = v.iter().map(|(l, n)| format!("{l} ({n})")).collect();
        s.push_str(&format!(
            " At the lowest load tried they miss: {}.",
            parts.join(", ")
        ));
    }
    s
}

pub(crate) fn render_markdown(o: &SearchOutcome, opts: &ReportOptions) -> String {
    let c = summary::counts(o);
    let rank = rank_map(o);
    let mut s = format!("# Best configurations: {}\n\n", md_text(&o.meta.name));
    s.push_str(&md_text(&ranking_note(o)));
    s.push_str("\n\n");
    if c.points == 0 {
        s.push_str(&format!(
            "**No point was evaluated** ({} dropped before simulation), so there is nothing to rank.\n",
            c.dropped
        ));
        return s;
    }
    if c.feasible == 0 {
        s.push_str("**No evaluated point meets all SLOs.** ");
        let all: Vec<&PointResult> = o.points.iter().collect();
        s.push_str(&md_text(&none_feasible_sentence("point", &all)));
        s.push_str(&format!(
            " {} more were dropped before simulation. Relax the SLOs or add larger configurations.\n",
            c.dropped
        ));
        return s;
    }
    s.push_str(&format!(
        "{} of {} evaluated points meet all SLOs ({} dropped before simulation).\n",
        c.feasible, c.points, c.dropped
    ));
    for g in groups(o) {
        s.push_str(&format!("\n## {}\n", g.heading));
        for r in &g.rankings {
            if !r.title.is_empty() {
                s.push_str(&format!("\n### {}\n", md_text(&r.title)));
            }
            s.push('\n');
            if r.ranked.is_empty() {
                let what = format!("{} point", r.title);
                s.push_str(&md_text(&none_feasible_sentence(&what, &r.evaluated)));
                s.push('\n');
                continue;
            }
            let top: Vec<&PointResult> = r.ranked.iter().copied().take(opts.top_n).collect();
            s.push_str(&format!(
                "Top {} of {} feasible ({} evaluated); # is the overall rank.\n\n",
                top.len(),
                r.ranked.len(),
                r.evaluated.len()
            ));
            s.push_str(&config_table(o, &top, false, &rank).to_markdown());
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata;

    #[test]
    fn overall_and_per_gpu_tables() {
        let o = testdata::outcome();
        let md = render_markdown(&o, &ReportOptions { top_n: 3 });
        assert!(md.contains("## Overall") && md.contains("### a100-80g"));
        assert!(md.contains("### h100-sxm"));
        assert!(
            !md.contains("## Per model"),
            "one model: no per-model section"
        );
        // Overall top 3 + 2 GPUs × top 3 = 9 data rows with a rank.
        let rows = md
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| #"))
            .count();
        assert_eq!(rows, 9);
        assert!(md.contains("TTFT P90 (s)"));
        // Band over two seeds.
        assert!(md.contains('–'));
        // The best overall is rank 1 in the first table.
        let best = o.ranked()[0];
        let first_row = md.lines().find(|l| l.starts_with("| 1 |")).unwrap();
        assert!(first_row.contains(&best.config.gpu));
    }

    #[test]
    fn several_models_get_sections() {
        let o = testdata::outcome_for(&["m1", "m2"], &["w1", "w2"]);
        let md = render_markdown(&o, &ReportOptions::default());
        assert!(md.contains("## Per model") && md.contains("## Per workload"));
        assert!(md.contains("| model |"));
    }

    #[test]
    fn says_when_nothing_is_feasible() {
        let mut o = testdata::outcome();
        for p in &mut o.points {
            p.capacity_qps = None;
        }
        let md = render_markdown(&o, &ReportOptions::default());
        assert!(md.contains("No evaluated point meets all SLOs"));
        o.points.clear();
        let md = render_markdown(&o, &ReportOptions::default());
        assert!(md.contains("No point was evaluated"));
    }
}
