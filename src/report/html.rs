//! `report.html`: one self-contained page (inline CSS and JS, PNG plots as base64 data URIs,
//! no external resource) with the summary, plots, best configs, insights, all results, dropped
//! points, the space YAML and the run metadata. All text goes through [`esc`].

use std::collections::BTreeMap;

use base64::Engine as _;

use super::best::{self, rank_map};
use super::format::{fmt_duration, fmt_num, fmt_opt, slo_value};
use super::insights::{self, Insights, TreeResult};
use super::plot::PlotFile;
use super::summary;
use super::table::{esc, Cell, Table};
use super::ReportOptions;
use crate::search::{PointResult, SearchOutcome};

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0 auto;max-width:1200px;padding:0 24px 48px;color:#222;line-height:1.45}
h1{margin-top:28px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:40px}
nav a{margin-right:14px}
table{border-collapse:collapse;margin:10px 0 18px;font-size:13px}
th,td{border:1px solid #d6d6d6;padding:3px 7px;white-space:nowrap}
th{background:#f2f2f2;text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
table.sortable th{cursor:pointer}table.sortable th:hover{background:#e4e4e4}
tbody tr:nth-child(even){background:#fafafa}
.scroll{overflow-x:auto}
figure{margin:18px 0}figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:13px;color:#555}
pre{background:#f6f6f6;border:1px solid #e0e0e0;padding:10px;overflow-x:auto;font-size:13px}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:4px 18px}dl.meta dt{font-weight:600}dl.meta dd{margin:0}
.best{background:#fff8dc;border:1px solid #e8d48a;padding:10px 14px;border-radius:4px}
.warn{background:#fdecea;border:1px solid #f5c2bd;padding:10px 14px;border-radius:4px}
"#;

/// Click a header to sort by it (numbers by their data-v key, missing values last).
const SCRIPT: &str = r#"
document.querySelectorAll('table.sortable th').forEach(function (th) {
  th.addEventListener('click', function () {
    var body = th.closest('table').tBodies[0];
    var i = Array.prototype.indexOf.call(th.parentNode.children, th);
    var asc = th.dataset.dir !== 'asc';
    th.dataset.dir = asc ? 'asc' : 'desc';
    var rows = Array.from(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[i], y = b.cells[i], vx = x.dataset.v, vy = y.dataset.v, r;
      if (vx !== undefined && vy !== undefined) { r = parseFloat(vx) - parseFloat(vy); }
      else if (vx !== undefined) { return -1; }
      else if (vy !== undefined) { return 1; }
      else { r = x.textContent.localeCompare(y.textContent); }
      return asc ? r : -r;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"#;

/// Definition list of `(term, value)`, both escaped.
pub(super) fn dl(items: &[(&str, String)]) -> String {
    let mut s = String::from("<dl class=\"meta\">\n");
    for (k, v) in items {
        s.push_str(&format!("<dt>{}</dt><dd>{}</dd>\n", esc(k), esc(v)));
    }
    s.push_str("</dl>\n");
    s
}

fn best_box(o: &SearchOutcome, p: &PointResult) -> String {
    let mut parts = vec![
        format!("capacity {} QPS", fmt_opt(p.capacity_qps)),
        format!("${}/h", fmt_num(p.cost.usd_per_hour)),
        format!("{} QPS per $/h", fmt_opt(p.cost.qps_per_dollar)),
        format!(
            "${} per 1M output tokens",
            fmt_opt(p.cost.usd_per_million_output_tokens)
        ),
    ];
    for (i, s) in o.meta.slos.iter().enumerate() {
        let v = slo_value(p, s, i).and_then(|v| v.value_s);
        parts.push(format!(
            "{} {} s (≤ {})",
            best::slo_short(s),
            fmt_opt(v),
            fmt_num(s.max_seconds)
        ));
    }
    format!(
        "<p class=\"best\"><b>Best configuration:</b> {}<br>{}</p>\n",
        esc(&p.config.describe()),
        esc(&parts.join(" · "))
    )
}

fn summary_section(o: &SearchOutcome) -> String {
    let c = summary::counts(o);
    let mut s = String::from("<h2 id=\"summary\">Summary</h2>\n");
    match o.ranked().first() {
        Some(p) => s.push_str(&best_box(o, p)),
        None if c.points == 0 => s.push_str(&format!(
            "<p class=\"warn\"><b>No point was evaluated</b> ({} dropped before simulation).</p>\n",
            c.dropped
        )),
        None => {
            let all: Vec<&PointResult> = o.points.iter().collect();
            s.push_str(&format!(
                "<p class=\"warn\"><b>No evaluated point has a measured capacity.</b> {}</p>\n",
                esc(&best::none_feasible_sentence("point", &all))
            ));
        }
    }
    if c.unbounded > 0 {
        s.push_str(&format!(
            "<p class=\"warn\"><b>{} point{} unbounded</b>: they meet every SLO up to the search's physical limit, so this workload cannot measure their capacity (see <a href=\"#unranked\">Not ranked</a>).</p>\n",
            c.unbounded,
            if c.unbounded == 1 { " is" } else { "s are" }
        ));
    }
    let reasons = if c.dropped_by_reason.is_empty() {
        String::new()
    } else {
        let r: Vec<String> = c
            .dropped_by_reason
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        format!(" ({})", r.join(", "))
    };
    let slos: Vec<String> = o.meta.slos.iter().map(|s| s.label()).collect();
    s.push_str(&dl(&[
        (
            "Points evaluated",
            format!("{} ({} from cache)", c.points, o.meta.num_cached),
        ),
        ("With a capacity (ranked)", c.feasible.to_string()),
        (
            "Unbounded (pass up to the search's limit)",
            c.unbounded.to_string(),
        ),
        (
            "Miss an SLO at every load",
            (c.points - c.feasible - c.unbounded - o.failed().len()).to_string(),
        ),
        (
            "Failed (an error; see Not ranked)",
            o.failed().len().to_string(),
        ),
        (
            "Dropped before simulation",
            format!("{}{reasons}", c.dropped),
        ),
        (
            "Simulations",
            format!(
                "{} this run ({} recorded over all points)",
                o.meta.num_sims, c.sims_recorded
            ),
        ),
        (
            "Wall time",
            format!("{} on {} jobs", fmt_duration(o.meta.wall_s), o.meta.jobs),
        ),
        (
            "SLOs",
            if slos.is_empty() {
                "none".into()
            } else {
                slos.join("; ")
            },
        ),
    ]));
    s
}

fn plots_section(plots: &[PlotFile]) -> String {
    let mut s = String::from("<h2 id=\"plots\">Pareto plots</h2>\n");
    if plots.is_empty() {
        s.push_str("<p>The space sets no SLOs, so there is no latency to plot.</p>\n");
    }
    let figure = |p: &PlotFile| figure(&p.png, &p.title, &p.stem);
    for p in plots.iter().filter(|p| !p.per_combo) {
        s.push_str(&figure(p));
    }
    // Per (model, workload) views can be many; fold them away under the combined ones.
    let per: Vec<&PlotFile> = plots.iter().filter(|p| p.per_combo).collect();
    if !per.is_empty() {
        s.push_str(&format!(
            "<details><summary>One plot per model and workload ({} plots)</summary>\n",
            per.len()
        ));
        for p in per {
            s.push_str(&figure(p));
        }
        s.push_str("</details>\n");
    }
    s
}

/// A plot inlined as a base64 PNG, captioned with `title` and links to `<href_stem>.svg` and
/// `.png` (relative to the page).
pub(super) fn figure(png: &[u8], title: &str, href_stem: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "<figure><img src=\"data:image/png;base64,{}\" alt=\"{}\" width=\"1000\" height=\"700\">\
         <figcaption>{} · <a href=\"{}.svg\">SVG</a> · <a href=\"{}.png\">PNG</a></figcaption></figure>\n",
        b64.encode(png),
        esc(title),
        esc(title),
        esc(href_stem),
        esc(href_stem)
    )
}

fn best_section(o: &SearchOutcome, opts: &ReportOptions) -> String {
    let mut s = String::from("<h2 id=\"best\">Best configurations</h2>\n");
    s.push_str(&format!("<p>{}</p>\n", esc(&best::ranking_note(o))));
    if o.ranked().is_empty() {
        s.push_str("<p>No point meets all SLOs, so there is nothing to rank.</p>\n");
        return s;
    }
    let rank = rank_map(o);
    for g in best::groups(o) {
        s.push_str(&format!("<h3>{}</h3>\n", esc(&g.heading)));
        for r in &g.rankings {
            if !r.title.is_empty() {
                s.push_str(&format!("<h4>{}</h4>\n", esc(&r.title)));
            }
            if r.ranked.is_empty() {
                let what = format!("{} point", r.title);
                s.push_str(&format!(
                    "<p>{}</p>\n",
                    esc(&best::none_feasible_sentence(&what, &r.evaluated))
                ));
                continue;
            }
            let top: Vec<&PointResult> = r.ranked.iter().copied().take(opts.top_n).collect();
            s.push_str(&format!(
                "<p>Top {} of {} feasible ({} evaluated); # is the overall rank.</p>\n<div class=\"scroll\">",
                top.len(),
                r.ranked.len(),
                r.evaluated.len()
            ));
            s.push_str(&best::config_table(o, &top, false, &rank).to_html(false));
            s.push_str("</div>\n");
        }
    }
    s
}

fn insights_section(ins: &Insights) -> String {
    let mut s = String::from("<h2 id=\"insights\">Insights</h2>\n<ul>\n");
    for f in &ins.facts {
        s.push_str(&format!("<li>{}</li>\n", esc(f)));
    }
    s.push_str("</ul>\n");
    for (k, t) in ins.trees.iter().enumerate() {
        s.push_str(&format!(
            "<h3>Tree {}: {}</h3>\n<p>{}</p>\n",
            k + 1,
            esc(&t.title),
            esc(&t.question)
        ));
        match &t.result {
            TreeResult::Skipped(why) => s.push_str(&format!("<p>{}</p>\n", esc(why))),
            TreeResult::Fitted(f) => {
                s.push_str(&format!(
                    "<p>{} points, {} leaves, training accuracy {:.0}%.</p>\n<pre>{}</pre>\n",
                    f.n,
                    f.leaves,
                    100.0 * f.accuracy,
                    esc(&f.rules)
                ));
                if !f.importances.is_empty() {
                    let parts: Vec<String> = f
                        .importances
                        .iter()
                        .map(|(n, v)| format!("{n} {v:.2}"))
                        .collect();
                    s.push_str(&format!(
                        "<p>Feature importance: {}</p>\n",
                        esc(&parts.join(", "))
                    ));
                }
                if !f.leaf_facts.is_empty() {
                    s.push_str("<ul>\n");
                    for l in &f.leaf_facts {
                        s.push_str(&format!("<li>{}</li>\n", esc(l)));
                    }
                    s.push_str("</ul>\n");
                }
            }
        }
    }
    s.push_str(&format!(
        "<p><small>{}</small></p>\n",
        esc(&insights::method_note())
    ));
    s
}

fn results_section(o: &SearchOutcome) -> String {
    let mut s = String::from("<h2 id=\"results\">All results</h2>\n");
    if o.points.is_empty() {
        s.push_str("<p>No point was evaluated.</p>\n");
        return s;
    }
    s.push_str(&format!(
        "<p>{} points; click a header to sort. The same data is in results.csv and results.json.</p>\n<div class=\"scroll\">",
        o.points.len()
    ));
    let all: Vec<&PointResult> = o.points.iter().collect();
    s.push_str(&best::config_table(o, &all, true, &rank_map(o)).to_html(true));
    s.push_str("</div>\n");
    s
}

fn unranked_section(o: &SearchOutcome) -> String {
    let Some(t) = best::unranked_table(o) else {
        return "<h2 id=\"unranked\">Not ranked</h2>\n<p>Every evaluated point has a measured capacity.</p>\n".into();
    };
    format!(
        "<h2 id=\"unranked\">Not ranked</h2>\n<p>{}</p>\n<div class=\"scroll\">{}</div>\n",
        esc(&best::unranked_note(o)),
        t.to_html(false)
    )
}

fn dropped_section(o: &SearchOutcome) -> String {
    let mut s = String::from("<h2 id=\"dropped\">Dropped points</h2>\n");
    if o.dropped.is_empty() {
        s.push_str("<p>No point was dropped before simulation.</p>\n");
        return s;
    }
    let mut by: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for d in &o.dropped {
        by.entry(d.reason.as_str()).or_default().push(d);
    }
    for (reason, ds) in by {
        let mut t = Table::default();
        t.column("configuration", false);
        t.column("why", false);
        for d in &ds {
            t.rows.push(vec![
                Cell::text(d.config.describe()),
                Cell::text(d.detail.clone()),
            ]);
        }
        s.push_str(&format!(
            "<details><summary><b>{}</b> ({} point{})</summary>\n<div class=\"scroll\">{}</div></details>\n",
            esc(reason),
            ds.len(),
            if ds.len() == 1 { "" } else { "s" },
            t.to_html(false)
        ));
    }
    s
}

fn meta_section(o: &SearchOutcome) -> String {
    let m = &o.meta;
    let mut s = String::from("<h2 id=\"space\">Search space</h2>\n");
    s.push_str(&format!(
        "<p>{}</p>\n<pre>{}</pre>\n",
        esc(&m.space_file),
        esc(&m.space_yaml)
    ));
    s.push_str("<h2 id=\"meta\">Run metadata</h2>\n");
    s.push_str(&dl(&[
        ("Engine version", m.engine_version.clone()),
        ("Predictor", m.predictor.clone()),
        ("Started at", m.started_at.clone()),
        ("Wall time", fmt_duration(m.wall_s)),
        ("Jobs", m.jobs.to_string()),
        ("Points evaluated", m.num_points.to_string()),
        ("From cache", m.num_cached.to_string()),
        ("Simulations this run", m.num_sims.to_string()),
        (
            "Goodput target",
            m.goodput_target
                .map(fmt_num)
                .unwrap_or_else(|| "none".into()),
        ),
    ]));
    s
}

pub(crate) fn render(
    o: &SearchOutcome,
    opts: &ReportOptions,
    plots: &[PlotFile],
    ins: &Insights,
) -> String {
    let title = format!("vidur-search: {}", o.meta.name);
    let mut s = String::new();
    s.push_str(&summary_section(o));
    s.push_str(&plots_section(plots));
    s.push_str(&best_section(o, opts));
    s.push_str(&unranked_section(o));
    s.push_str(&insights_section(ins));
    s.push_str(&results_section(o));
    s.push_str(&dropped_section(o));
    s.push_str(&meta_section(o));
    page(
        &title,
        &[
            ("summary", "Summary"),
            ("plots", "Plots"),
            ("best", "Best configs"),
            ("unranked", "Not ranked"),
            ("insights", "Insights"),
            ("results", "All results"),
            ("dropped", "Dropped"),
            ("space", "Space"),
            ("meta", "Metadata"),
        ],
        &s,
    )
}

/// A whole self-contained page: `title` as the heading, a navigation bar of `(anchor, text)`
/// links, then `body` (already HTML), with the shared inline CSS and table-sorting script.
pub(super) fn page(title: &str, nav: &[(&str, &str)], body: &str) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n<nav>",
        esc(title),
        esc(title)
    );
    for (anchor, text) in nav {
        s.push_str(&format!("<a href=\"#{}\">{}</a>", esc(anchor), esc(text)));
    }
    s.push_str("</nav>\n");
    s.push_str(body);
    s.push_str(&format!("<script>{SCRIPT}</script>\n</body>\n</html>\n"));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{insights, plot, testdata};

    #[test]
    fn page_is_self_contained_and_escaped() {
        let o = testdata::outcome();
        let plots = plot::render_all(&o).unwrap();
        let page = render(
            &o,
            &ReportOptions::default(),
            &plots,
            &insights::analyse(&o),
        );
        assert!(page.contains("data:image/png;base64,iVBORw0KGgo"));
        assert!(!page.contains("http://") && !page.contains("https://"));
        // The space name and a drop detail carry markup characters.
        assert!(page.contains("unit &lt;test&gt; space"));
        assert!(page.contains("&lt;sic&gt; &amp; more"));
        assert!(!page.contains("<test>"));
        assert!(page.contains("class=\"sortable\""));
        assert!(page.contains("Best configuration:"));
        assert!(page.contains("tp_divides_heads"));
        // The unbounded point is listed with its reason, not ranked.
        let (_, unranked) = page.split_once("id=\"unranked\"").unwrap();
        assert!(unranked.contains("physical limit of 50 QPS"));
        assert!(page.contains("1 point is unbounded"));
    }
}
