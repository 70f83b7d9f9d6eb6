//! `best_configs.md`: the top points by QPS per $/h among those meeting every SLO, overall and
//! per GPU SKU (and per model / workload when the space has several). The same rankings feed
//! the HTML page.

use std::collections::HashMap;

use super::format::{fmt_num, fmt_opt, slo_value};
use super::summary::{self, Varying};
use super::table::{md_text, Cell, Table};
use super::ReportOptions;
use crate::search::{CapacityStatus, PointResult, SearchOutcome, Slo};

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
    let closed_loop = o.points.iter().any(|p| p.config.concurrency.is_some());
    if closed_loop {
        t.column("concurrency", true);
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
        if closed_loop {
            for h in ["out tok/s/user", "out tok/s/GPU", "in flight"] {
                t.column(h, true);
            }
        }
        t.column("capacity status", false);
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
        if closed_loop {
            row.push(Cell::num(
                c.concurrency
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "–".into()),
                c.concurrency.map(f64::from),
            ));
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
            if closed_loop {
                let m = p.closed_loop;
                for v in [
                    m.and_then(|m| m.output_tokens_per_s_per_user),
                    m.and_then(|m| m.output_tokens_per_s_per_gpu),
                    m.and_then(|m| m.in_flight_mean),
                ] {
                    row.push(Cell::num(fmt_opt(v), v));
                }
            }
            row.push(Cell::text(p.capacity_status.name()));
        }
        t.rows.push(row);
    }
    t
}

/// Evaluated points with no measured capacity, `failed` ones first (they need a fix), then
/// `unbounded` ones (the surprising kind), each with its status and reason. None when every
/// point has a capacity.
pub(crate) fn unranked_table(o: &SearchOutcome) -> Option<Table> {
    let mut pts: Vec<&PointResult> = o.points.iter().filter(|p| !p.feasible()).collect();
    if pts.is_empty() {
        return None;
    }
    pts.sort_by_key(|p| match p.capacity_status {
        CapacityStatus::Failed => 0,
        CapacityStatus::Unbounded => 1,
        CapacityStatus::None | CapacityStatus::Found => 2,
    });
    let mut t = Table::default();
    t.column("configuration", false);
    t.column("status", false);
    t.column("why", false);
    for p in pts {
        let why = p.status_reason().unwrap_or_else(|| {
            // `found` with a zero capacity: cannot happen in a run, but say so if it does.
            "capacity is zero".into()
        });
        let why = why
            .split_once(": ")
            .map_or(why.clone(), |(_, rest)| rest.to_string());
        t.rows.push(vec![
            Cell::text(p.config.describe()),
            Cell::text(p.capacity_status.name()),
            Cell::text(why),
        ]);
    }
    Some(t)
}

/// One paragraph introducing [`unranked_table`].
pub(crate) fn unranked_note(o: &SearchOutcome) -> String {
    let c = summary::counts(o);
    let failed = o.failed().len();
    let none = c.points - c.feasible - c.unbounded - failed;
    let n = c.points - c.feasible;
    let (has, is) = if n == 1 {
        ("has", "is")
    } else {
        ("have", "are")
    };
    let mut s = format!(
        "{n} evaluated point{} {has} no measured capacity and {is} not ranked or plotted.",
        if n == 1 { "" } else { "s" }
    );
    if c.unbounded > 0 {
        s.push_str(&format!(
            " {} {} `unbounded`: every probe met the SLOs up to the search's physical limit, so \
             the workload is too short (or the SLOs too loose) to load them; raise \
             `num_requests` or tighten the SLOs to measure them.",
            c.unbounded,
            if c.unbounded == 1 { "is" } else { "are" }
        ));
    }
    if none > 0 {
        s.push_str(&format!(
            " {none} {} `none`: even the lowest load tried misses an SLO.",
            if none == 1 { "is" } else { "are" }
        ));
    }
    if failed > 0 {
        s.push_str(&format!(
            " {failed} `failed`: evaluating {} raised the error shown; failed points are not \
             cached, so re-running retries them.",
            if failed == 1 { "it" } else { "them" }
        ));
    }
    s
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
    let closed = if o.points.iter().any(|p| p.config.concurrency.is_some()) {
        " For a closed-loop point (a concurrency) the capacity is the throughput measured at \
         that concurrency, and its SLO values are measured there."
    } else {
        ""
    };
    format!(
        "Ranked by QPS per $/h (capacity QPS ÷ the point's hourly price) among {slos}.{band} \
         SLO columns are the measured values at capacity, in seconds.{closed}"
    )
}

/// A sentence for a subset without feasible points, naming the objectives that failed.
pub(crate) fn none_feasible_sentence(what: &str, evaluated: &[&PointResult]) -> String {
    let unbounded = evaluated
        .iter()
        .filter(|p| p.capacity_status == CapacityStatus::Unbounded)
        .count();
    let mut s = if unbounded == 0 {
        format!("No {what} meets all SLOs ({} evaluated).", evaluated.len())
    } else {
        format!(
            "No {what} has a measured capacity ({} evaluated, {unbounded} of them unbounded: \
             they meet the SLOs at every load up to the search's limit).",
            evaluated.len()
        )
    };
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
        s.push_str(if c.unbounded == 0 {
            "**No evaluated point meets all SLOs.** "
        } else {
            "**No evaluated point has a measured capacity.** "
        });
        let all: Vec<&PointResult> = o.points.iter().collect();
        s.push_str(&md_text(&none_feasible_sentence("point", &all)));
        s.push_str(&format!(
            " {} more were dropped before simulation.{}\n",
            c.dropped,
            if c.unbounded == 0 {
                " Relax the SLOs or add larger configurations."
            } else {
                ""
            }
        ));
        push_unranked_md(o, &mut s);
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
    push_unranked_md(o, &mut s);
    s
}

/// The "Not ranked" section of best_configs.md, when some point has no capacity.
fn push_unranked_md(o: &SearchOutcome, s: &mut String) {
    if let Some(t) = unranked_table(o) {
        s.push_str("\n## Not ranked\n\n");
        s.push_str(&md_text(&unranked_note(o)));
        s.push_str("\n\n");
        s.push_str(&t.to_markdown());
    }
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
        let (ranked, _) = md.split_once("## Not ranked").unwrap();
        let rows = ranked
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
    fn unbounded_and_none_points_are_listed_not_ranked() {
        let o = testdata::outcome();
        let md = render_markdown(&o, &ReportOptions { top_n: 100 });
        let (ranked, unranked) = md
            .split_once("## Not ranked")
            .expect("a Not ranked section");
        let unbounded = o
            .points
            .iter()
            .find(|p| p.capacity_status == CapacityStatus::Unbounded)
            .unwrap();
        let d = md_text(&unbounded.config.describe());
        assert!(!ranked.contains(&d), "an unbounded point is ranked");
        let row = unranked.lines().find(|l| l.contains(&d)).unwrap();
        assert!(row.contains("| unbounded |") && row.contains("physical limit of 50 QPS"));
        let none = o
            .points
            .iter()
            .filter(|p| p.capacity_status == CapacityStatus::None);
        for p in none {
            let row = unranked
                .lines()
                .find(|l| l.contains(&md_text(&p.config.describe())))
                .unwrap();
            assert!(
                row.contains("| none |") && row.contains("every probe failed, down to 0.25 QPS")
            );
        }
        assert!(o
            .ranked()
            .iter()
            .all(|p| p.capacity_status == CapacityStatus::Found));
    }

    #[test]
    fn failed_points_are_listed_first_with_their_error_and_never_ranked() {
        let mut o = testdata::outcome();
        let p = o.points.iter_mut().find(|p| p.feasible()).unwrap();
        p.capacity_status = CapacityStatus::Failed;
        p.error = Some("simulation failed: table 'mlp_up_proj' has no entry".into());
        p.capacity_qps = None;
        p.cost.qps_per_dollar = None;
        let d = md_text(&p.config.describe());
        let md = render_markdown(&o, &ReportOptions { top_n: 100 });
        let (ranked, unranked) = md.split_once("## Not ranked").unwrap();
        assert!(!ranked.contains(&d), "a failed point is ranked");
        let first_row = unranked
            .lines()
            .find(|l| l.starts_with("| ") && !l.starts_with("| configuration"))
            .unwrap();
        assert!(first_row.contains(&d) && first_row.contains("| failed |"));
        assert!(first_row.contains("simulation failed: table 'mlp_up_proj' has no entry"));
        assert!(
            unranked.contains("1 \\`failed\\`") && unranked.contains("retries"),
            "{unranked}"
        );
        // The other unranked points are still counted under their own status.
        assert!(unranked.contains("1 is \\`unbounded\\`"), "{unranked}");
    }

    #[test]
    fn says_when_nothing_is_feasible() {
        let mut o = testdata::outcome();
        for p in &mut o.points {
            p.capacity_qps = None;
            p.capacity_status = CapacityStatus::None;
        }
        let md = render_markdown(&o, &ReportOptions::default());
        assert!(md.contains("No evaluated point meets all SLOs"));
        assert!(md.contains("## Not ranked"));
        o.points.clear();
        let md = render_markdown(&o, &ReportOptions::default());
        assert!(md.contains("No point was evaluated"));
    }
}
