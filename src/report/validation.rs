//! The files `validate` writes: `comparison.csv` (one row per point and metric),
//! `summary.json` (error statistics and the verdict), `report.md` and `report.html` (tables,
//! predicted-vs-measured plots, per-request distributions).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::charts::{self, Chart};
use super::html::{dl, figure, page};
use super::plot::PlotError;
use super::table::{esc, md_text, Cell, Table};
use crate::validate::compare::{self, Row, Stats, Summary, METRICS};
use crate::validate::{Outcome, PointResult};

/// What the report says about the run besides the results.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// Tool and version.
    pub tool: String,
    /// Measurement files read (with format and point counts).
    pub measured: Vec<String>,
    /// Calibration used (`embedded` or a path), with its serving-overheads line.
    pub calibration: String,
    /// How the simulations were set up (requests per client, ...).
    pub setup: String,
}

/// Why a validation output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ValidationReportError {
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// A table could not be serialized.
    #[error("{0}")]
    Encode(String),
    /// A plot could not be drawn (other than for lack of data).
    #[error("{0}")]
    Plot(#[from] PlotError),
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), ValidationReportError> {
    let path = dir.join(name);
    crate::outdir::write_atomic(&path, bytes).map_err(|source| ValidationReportError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// `comparison.csv`: exactly `id,metric,measured,predicted,error_pct`.
pub fn comparison_csv(rows: &[Row]) -> Result<Vec<u8>, ValidationReportError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["id", "metric", "measured", "predicted", "error_pct"])
        .map_err(|e| ValidationReportError::Encode(e.to_string()))?;
    for r in rows {
        w.write_record([
            r.id.clone(),
            r.metric.to_string(),
            format!("{}", r.measured),
            format!("{}", r.predicted),
            format!("{:.3}", r.error_pct),
        ])
        .map_err(|e| ValidationReportError::Encode(e.to_string()))?;
    }
    w.into_inner()
        .map_err(|e| ValidationReportError::Encode(e.to_string()))
}

/// The `summary.json` document.
#[derive(Serialize)]
struct SummaryDoc<'a> {
    run: &'a RunInfo,
    #[serde(flatten)]
    summary: &'a Summary,
}

/// Write `comparison.csv`, `summary.json`, `report.md`, `report.html` and `plots/` into `dir`.
pub fn write_all(
    dir: &Path,
    results: &[PointResult],
    rows: &[Row],
    summary: &Summary,
    info: &RunInfo,
) -> Result<(), ValidationReportError> {
    write(dir, "comparison.csv", &comparison_csv(rows)?)?;
    let doc = serde_json::to_string_pretty(&SummaryDoc { run: info, summary })
        .map_err(|e| ValidationReportError::Encode(e.to_string()))?;
    write(dir, "summary.json", doc.as_bytes())?;
    let sections = sections(results, summary);
    write(
        dir,
        "report.md",
        markdown(&sections, summary, info).as_bytes(),
    )?;
    let plots = draw_plots(results, rows)?;
    let plot_dir = dir.join("plots");
    if !plots.drawn.is_empty() {
        std::fs::create_dir_all(&plot_dir).map_err(|source| ValidationReportError::Io {
            path: plot_dir.display().to_string(),
            source,
        })?;
    }
    for p in &plots.drawn {
        write(&plot_dir, &format!("{}.png", p.stem), &p.chart.png)?;
        write(
            &plot_dir,
            &format!("{}.svg", p.stem),
            p.chart.svg.as_bytes(),
        )?;
    }
    write(
        dir,
        "report.html",
        html(&sections, &plots, summary, info).as_bytes(),
    )?;
    Ok(())
}

fn pct(v: f64) -> String {
    format!("{v:.1}%")
}

fn signed(v: f64) -> String {
    format!("{v:+.1}%")
}

/// The metrics that have statistics somewhere in `stats`, in report order.
fn present<'a>(stats: impl Iterator<Item = &'a compare::MetricStats>) -> Vec<&'static str> {
    let all: Vec<&compare::MetricStats> = stats.collect();
    METRICS
        .iter()
        .map(|m| m.name)
        .filter(|m| all.iter().any(|s| s.contains_key(m)))
        .collect()
}

/// MAPE (median signed error) per metric, one row per key.
fn stats_table(first: &str, rows: &[(String, &compare::MetricStats)]) -> Table {
    let metrics = present(rows.iter().map(|(_, s)| *s));
    let mut t = Table::default();
    t.column(first, false);
    t.column("points", true);
    for m in &metrics {
        t.column(compare::metric(m).map_or(*m, |x| x.label), true);
    }
    for (key, s) in rows {
        let n = s.values().map(|x| x.n).max().unwrap_or(0);
        let mut row = vec![
            Cell::text(key.clone()),
            Cell::num(n.to_string(), Some(n as f64)),
        ];
        for m in &metrics {
            row.push(match s.get(m) {
                Some(Stats {
                    mape_pct,
                    median_signed_pct,
                    ..
                }) => Cell::num(
                    format!("{} ({})", pct(*mape_pct), signed(*median_signed_pct)),
                    Some(*mape_pct),
                ),
                None => Cell::text("–"),
            });
        }
        t.rows.push(row);
    }
    t
}

/// One titled table of the report, with a sentence above it.
struct Section {
    anchor: &'static str,
    title: String,
    /// Markdown-safe plain text (no markup).
    intro: String,
    table: Table,
}

/// The report's tables, shared by `report.md` and `report.html`.
fn sections(results: &[PointResult], s: &Summary) -> Vec<Section> {
    let mut out = Vec::new();
    let mut t = Table::default();
    for (h, n) in [
        ("metric", false),
        ("MAPE", true),
        ("allowed", true),
        ("", false),
    ] {
        t.column(h, n);
    }
    for c in &s.checks {
        t.rows.push(vec![
            Cell::text(c.metric),
            Cell::num(c.mape_pct.map_or("not measured".into(), pct), c.mape_pct),
            Cell::num(pct(c.max_mape_pct), Some(c.max_mape_pct)),
            Cell::text(match (c.mape_pct, c.pass) {
                (None, _) => "–",
                (Some(_), true) => "ok",
                (Some(_), false) => "over",
            }),
        ]);
    }
    out.push(Section {
        anchor: "thresholds",
        title: "Thresholds".into(),
        intro: "The verdict: MAPE over every simulated point against the allowed error (change with --threshold METRIC=PERCENT).".into(),
        table: t,
    });
    let rows: Vec<(String, &compare::MetricStats)> =
        std::iter::once(("all".to_string(), &s.overall))
            .chain(s.by_engine.iter().map(|(k, v)| (k.clone(), v)))
            .collect();
    out.push(Section {
        anchor: "engines",
        title: "Per engine".into(),
        intro: "Cells: MAPE (median signed error; negative = we predict too low).".into(),
        table: stats_table("engine", &rows),
    });
    let rows: Vec<(String, &compare::MetricStats)> = s
        .by_engine_unqueued
        .iter()
        .map(|(k, v)| (k.clone(), v))
        .collect();
    out.push(Section {
        anchor: "unqueued",
        title: "Per engine, without queueing-dominated points".into(),
        intro: format!(
            "Left out: {} points whose measured mean TTFT exceeds {}x the TTFT of the same configuration at its lowest concurrency (the client's queue, not the engine, sets their TTFT).",
            s.queueing_dominated.len(),
            compare::QUEUEING_FACTOR
        ),
        table: stats_table("engine", &rows),
    });
    let rows: Vec<(String, &compare::MetricStats)> =
        s.by_group.iter().map(|(k, v)| (k.clone(), v)).collect();
    out.push(Section {
        anchor: "groups",
        title: "Per group".into(),
        intro: "A group is engine · model · precision · GPU.".into(),
        table: stats_table("group", &rows),
    });
    if !s.skipped.is_empty() || !s.failed.is_empty() {
        let mut reasons: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
        for (what, list) in [("not simulable", &s.skipped), ("failed", &s.failed)] {
            for n in list {
                *reasons
                    .entry((n.group.as_str(), what, n.reason.as_str()))
                    .or_default() += 1;
            }
        }
        let mut t = Table::default();
        for (h, n) in [
            ("group", false),
            ("points", true),
            ("", false),
            ("reason", false),
        ] {
            t.column(h, n);
        }
        for ((g, what, r), n) in reasons {
            t.rows.push(vec![
                Cell::text(g),
                Cell::num(n.to_string(), Some(n as f64)),
                Cell::text(what),
                Cell::text(r),
            ]);
        }
        out.push(Section {
            anchor: "skipped",
            title: "Points not compared".into(),
            intro: "Listed, never dropped silently; summary.json names each point.".into(),
            table: t,
        });
    }
    let mut t = Table::default();
    for (h, n) in [
        ("id", false),
        ("TTFT measured (ms)", true),
        ("predicted", true),
        ("error", true),
        ("TPOT measured (ms)", true),
        ("predicted", true),
        ("error", true),
        ("simulation", false),
        ("notes", false),
    ] {
        t.column(h, n);
    }
    for r in results {
        let Outcome::Simulated { predicted, .. } = &r.outcome else {
            continue;
        };
        let mut row = vec![Cell::text(r.point.id.clone())];
        for (m, p) in [
            (r.point.metrics.ttft_mean_ms, predicted.ttft_mean_ms),
            (r.point.metrics.tpot_mean_ms, predicted.tpot_mean_ms),
        ] {
            let num = |v: Option<f64>| {
                v.map_or(Cell::text("–"), |v| Cell::num(format!("{v:.1}"), Some(v)))
            };
            row.push(num(m));
            row.push(num(p));
            row.push(match (m, p) {
                (Some(m), Some(p)) if m != 0.0 => {
                    let e = (p - m) / m * 100.0;
                    Cell::num(signed(e), Some(e))
                }
                _ => Cell::text("–"),
            });
        }
        row.push(Cell::text(r.sim_file.clone().unwrap_or_default()));
        row.push(Cell::text(r.notes.join("; ")));
        t.rows.push(row);
    }
    out.push(Section {
        anchor: "points",
        title: "Points".into(),
        intro: "Every simulated point; rerun one with `vidur-search simulate --config <simulation>` from this folder.".into(),
        table: t,
    });
    out
}

fn verdict(s: &Summary) -> &'static str {
    if s.pass {
        "PASS"
    } else {
        "FAIL"
    }
}

fn counts(s: &Summary) -> String {
    format!(
        "{} measured points: {} simulated, {} not simulable, {} failed.",
        s.points["measured"], s.points["simulated"], s.points["skipped"], s.points["failed"]
    )
}

fn run_facts(info: &RunInfo) -> Vec<(&'static str, String)> {
    vec![
        ("tool", info.tool.clone()),
        ("calibration", info.calibration.clone()),
        ("setup", info.setup.clone()),
        ("measured", info.measured.join("; ")),
    ]
}

/// `report.md`.
fn markdown(sections: &[Section], s: &Summary, info: &RunInfo) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Validation against real measurements: {}\n",
        verdict(s)
    );
    let _ = writeln!(o, "{}\n", counts(s));
    for sec in sections {
        let _ = writeln!(o, "## {}\n\n{}\n", sec.title, md_text(&sec.intro));
        o.push_str(&sec.table.to_markdown());
        o.push('\n');
    }
    o.push_str("## Run\n\n");
    for (k, v) in run_facts(info) {
        let _ = writeln!(o, "- {k}: {}", md_text(&v));
    }
    o
}

/// One drawn plot.
struct ValidationPlot {
    stem: String,
    title: String,
    chart: Chart,
}

/// The plots, and the ones not drawn with why.
struct Plots {
    drawn: Vec<ValidationPlot>,
    /// Plots not drawn (no data), with why.
    skipped: Vec<(String, String)>,
}

/// Each point's group as a legend shows it: engine and model without its organisation, plus
/// precision and GPU only where the simulated points differ in them, so the label fits beside the plot.
fn legend_groups(results: &[PointResult]) -> BTreeMap<&str, String> {
    let drawn = || {
        results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Simulated { .. }))
    };
    let varies = |f: fn(&PointResult) -> &str| {
        let first = drawn().next().map(f);
        drawn().any(|r| Some(f(r)) != first)
    };
    let (precision, gpu) = (varies(|r| &r.point.precision), varies(|r| &r.point.gpu));
    results
        .iter()
        .map(|r| {
            let p = &r.point;
            let mut g = format!(
                "{} · {}",
                p.engine.as_deref().unwrap_or("?"),
                p.model.rsplit('/').next().unwrap_or(&p.model)
            );
            if precision {
                g.push_str(&format!(" · {}", p.precision));
            }
            if gpu {
                g.push_str(&format!(" · {}", p.gpu));
            }
            (p.id.as_str(), g)
        })
        .collect()
}

/// Most points given per-request CDF overlays (each point is two plots).
pub const MAX_CDF_POINTS: usize = 24;

/// A predicted-vs-measured scatter per metric compared, and for points with per-request data,
/// CDF overlays of measured and predicted TTFT and TPOT.
fn draw_plots(results: &[PointResult], rows: &[Row]) -> Result<Plots, ValidationReportError> {
    let group = legend_groups(results);
    let mut plots = Plots {
        drawn: Vec::new(),
        skipped: Vec::new(),
    };
    let mut keep = |stem: String, title: String, r: Result<Chart, PlotError>| match r {
        Ok(chart) => {
            plots.drawn.push(ValidationPlot { stem, title, chart });
            Ok(())
        }
        Err(PlotError::NoData(why)) => {
            plots.skipped.push((stem, why));
            Ok(())
        }
        Err(e) => Err(ValidationReportError::Plot(e)),
    };
    for m in &METRICS {
        let pts: Vec<(f64, f64, String)> = rows
            .iter()
            .filter(|r| r.metric == m.name)
            .map(|r| {
                (
                    r.measured,
                    r.predicted,
                    group.get(r.id.as_str()).cloned().unwrap_or_default(),
                )
            })
            .collect();
        if pts.is_empty() {
            continue;
        }
        let title = format!("Predicted vs measured {}", m.label);
        let r = charts::scatter_vs(&title, m.label, &pts);
        keep(format!("scatter_{}", m.name), title, r)?;
    }
    let with_requests: Vec<(&PointResult, &Vec<crate::measured::RequestRecord>)> = results
        .iter()
        .filter(|r| !r.point.requests.is_empty())
        .filter_map(|r| match &r.outcome {
            Outcome::Simulated { requests, .. } => Some((r, requests)),
            _ => None,
        })
        .collect();
    for (r, predicted) in with_requests.iter().take(MAX_CDF_POINTS) {
        let stem = crate::validate::setup::file_stem(&r.point.id);
        type Get = fn(&crate::measured::RequestRecord) -> Option<f64>;
        let ttft: Get = |q| Some(q.ttft_s * 1e3);
        let tpot: Get = |q| q.tpot_s().map(|t| t * 1e3);
        for (what, label, get) in [("ttft", "TTFT (ms)", ttft), ("tpot", "TPOT (ms)", tpot)] {
            let series = [
                (
                    "measured",
                    r.point
                        .requests
                        .iter()
                        .filter_map(get)
                        .collect::<Vec<f64>>(),
                ),
                ("predicted", predicted.iter().filter_map(get).collect()),
            ];
            let title = format!("{}: CDF of {label}", r.point.id);
            let c = charts::cdf(&title, label, &series, false);
            keep(format!("cdf_{what}_{stem}"), title, c)?;
        }
    }
    if with_requests.len() > MAX_CDF_POINTS {
        plots.skipped.push((
            "cdf_*".into(),
            format!(
                "{} more points have per-request data; CDFs are drawn for the first {MAX_CDF_POINTS}",
                with_requests.len() - MAX_CDF_POINTS
            ),
        ));
    }
    Ok(plots)
}

/// `report.html`: the same tables, sortable, with the plots inlined.
fn html(sections: &[Section], plots: &Plots, s: &Summary, info: &RunInfo) -> String {
    let mut body = format!(
        "<p><strong>{}</strong> · {}</p>\n",
        verdict(s),
        esc(&counts(s))
    );
    let facts = run_facts(info);
    let facts: Vec<(&str, String)> = facts.iter().map(|(k, v)| (*k, v.clone())).collect();
    body.push_str(&dl(&facts));
    let mut nav: Vec<(&str, &str)> = Vec::new();
    for sec in sections.iter().filter(|x| x.anchor != "points") {
        body.push_str(&section_html(sec));
        nav.push((sec.anchor, sec.title.as_str()));
    }
    body.push_str("<h2 id=\"plots\">Plots</h2>\n");
    nav.push(("plots", "Plots"));
    if !plots.skipped.is_empty() {
        body.push_str("<p>Not drawn:</p>\n<ul>\n");
        for (stem, why) in &plots.skipped {
            body.push_str(&format!("<li>{}: {}</li>\n", esc(stem), esc(why)));
        }
        body.push_str("</ul>\n");
    }
    for p in &plots.drawn {
        body.push_str(&figure(
            &p.chart.png,
            &p.title,
            &format!("plots/{}", p.stem),
        ));
    }
    if let Some(sec) = sections.iter().find(|x| x.anchor == "points") {
        body.push_str(&section_html(sec));
        nav.push((sec.anchor, sec.title.as_str()));
    }
    page(
        &format!("Validation against real measurements: {}", verdict(s)),
        &nav,
        &body,
    )
}

fn section_html(sec: &Section) -> String {
    format!(
        "<h2 id=\"{}\">{}</h2>\n<p>{}</p>\n{}",
        sec.anchor,
        esc(&sec.title),
        esc(&sec.intro),
        sec.table.to_html(true)
    )
}
