//! `pareto_<metric>.png` / `.svg`: for each SLO, every feasible point at its capacity as
//! x = QPS per $/h against y = the SLO's metric, coloured by GPU SKU, with the Pareto frontier
//! (max QPS/$, min latency), the SLO bound and the best config marked.
//!
//! Rendering is headless: text is laid out with the DejaVu Sans faces compiled into the binary
//! (registered once per process), the bitmap is encoded to PNG in memory, and both files are
//! handed back to the caller, which writes them atomically and inlines the PNG in the HTML.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::sync::OnceLock;

use plotters::chart::MeshStyle;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

use super::best::slo_short;
use super::format::{fmt_num, fmt_tick, slo_value, slug};
use super::glyphs::GlyphFix;
use super::summary;
use crate::search::{PointResult, SearchOutcome, Slo};

pub(super) const W: u32 = 1000;
pub(super) const H: u32 = 700;
/// Pixels above the chart for the title and subtitle.
const HEADER_H: u32 = 72;
/// Width of the chart part; the rest on the right is the legend panel, so the legend can never
/// sit on top of data.
pub(super) const CHART_W: u32 = 775;
pub(super) const FONT: &str = "sans-serif";

/// One rendered plot.
pub(crate) struct PlotFile {
    /// File stem, e.g. `pareto_ttft`.
    pub stem: String,
    /// Human title (the HTML caption).
    pub title: String,
    /// One (model, workload) of several; false for the combined view.
    pub per_combo: bool,
    pub png: Vec<u8>,
    pub svg: String,
}

/// Registers the embedded DejaVu Sans as "sans-serif" (regular and bold). plotters keeps fonts
/// in a process-global table, so this runs once; the outcome is cached for later callers.
pub(super) fn ensure_font() -> Result<(), PlotError> {
    // The face that failed, cached: the error itself is not Clone.
    static DONE: OnceLock<Result<(), &'static str>> = OnceLock::new();
    DONE.get_or_init(|| {
        register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).map_err(|_| "regular")?;
        register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).map_err(|_| "bold")
    })
    .map_err(PlotError::Font)
}

/// Why a plot could not be drawn or encoded.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// An embedded font face (`regular`, `bold`) did not parse.
    #[error("the embedded DejaVu Sans {0} face did not parse")]
    Font(&'static str),
    /// Drawing failed (plotters' errors are generic over the backend, so kept as text).
    #[error("{0}")]
    Draw(String),
    /// Encoding the PNG failed.
    #[error(transparent)]
    Png(#[from] png::EncodingError),
    /// A chart was given nothing (finite) to draw; says which chart and what was missing.
    #[error("nothing to plot: {0}")]
    NoData(String),
}

/// A plot that failed, by its file stem.
#[derive(Debug, thiserror::Error)]
#[error("{stem}: {source}")]
pub(crate) struct PlotFailed {
    /// File stem of the plot (`pareto_ttft`, ...).
    pub stem: String,
    /// The cause.
    #[source]
    pub source: PlotError,
}

/// Colourblind-friendly Tableau colours without red, which is kept for the SLO bound.
pub(super) const PALETTE: [RGBColor; 9] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
const SLO_RED: RGBColor = RGBColor(200, 30, 45);
const FRONTIER: RGBColor = RGBColor(35, 35, 35);
const STAR: RGBColor = RGBColor(255, 196, 0);

struct Series {
    gpu: String,
    color: RGBColor,
    pts: Vec<(f64, f64)>,
}

/// Everything a plot shows, computed before touching a backend so the PNG and the SVG are
/// drawn from the same numbers.
struct Spec {
    title: String,
    subtitle: String,
    x_desc: String,
    y_desc: String,
    series: Vec<Series>,
    frontier: Vec<(f64, f64)>,
    bound: f64,
    bound_label: String,
    /// Best point and its annotation lines.
    best: Option<((f64, f64), Vec<String>)>,
    /// Set when there is nothing to plot: the message shown instead.
    empty: Option<String>,
    /// With a log y axis every y above (points, frontier, bound, best) is log10 of seconds
    /// and `y_ticks` holds the grid: (position, label; None for minor lines).
    log_y: bool,
    y_ticks: Vec<(f64, Option<String>)>,
    x_range: Range<f64>,
    y_range: Range<f64>,
    n_points: usize,
}

/// The plots for every SLO: the combined one and, with several (model, workload) pairs, one
/// per pair. Errors carry the stem of the plot that failed.
pub(crate) fn render_all(o: &SearchOutcome) -> Result<Vec<PlotFile>, PlotFailed> {
    if o.meta.slos.is_empty() {
        return Ok(Vec::new());
    }
    ensure_font().map_err(|source| PlotFailed {
        stem: "pareto".into(),
        source,
    })?;
    let gpus = summary::gpus(o);
    let colors: BTreeMap<&str, RGBColor> = gpus
        .iter()
        .enumerate()
        .map(|(i, g)| (g.as_str(), PALETTE[i % PALETTE.len()]))
        .collect();
    let combos = summary::combos(o);
    let mut used = HashSet::new();
    let mut stem_for = |base: String| {
        let mut s = base.clone();
        let mut k = 2;
        while !used.insert(s.clone()) {
            s = format!("{base}_{k}");
            k += 1;
        }
        s
    };
    let mut out = Vec::new();
    for (i, slo) in o.meta.slos.iter().enumerate() {
        // Name by metric unless another SLO bounds the same metric.
        let shared = o
            .meta
            .slos
            .iter()
            .filter(|s| s.metric == slo.metric)
            .count()
            > 1;
        let key = if shared {
            slug(&slo.column())
        } else {
            slo.metric.name().to_string()
        };
        let mut subsets: Vec<(String, Option<&(String, String)>)> =
            vec![(stem_for(format!("pareto_{key}")), None)];
        if combos.len() > 1 {
            for c in &combos {
                let stem = format!("pareto_{key}_{}_{}", slug(&c.0), slug(&c.1));
                subsets.push((stem_for(stem), Some(c)));
            }
        }
        for (stem, combo) in subsets {
            let pts: Vec<&PointResult> = o
                .points
                .iter()
                .filter(|p| combo.is_none_or(|c| p.config.model == c.0 && p.config.workload == c.1))
                .collect();
            let spec = build_spec(o, slo, i, &pts, combo, &colors);
            let title = format!("{} — {}", spec.title, spec.subtitle);
            let (png, svg) = render(&spec).map_err(|source| PlotFailed {
                stem: stem.clone(),
                source,
            })?;
            out.push(PlotFile {
                per_combo: combo.is_some(),
                stem,
                title,
                png,
                svg,
            });
        }
    }
    out.extend(throughput_plots(o)?);
    Ok(out)
}

/// One configuration family of a concurrency sweep: its label and points
/// (x = output tokens/s per user, y, concurrency, meets the SLOs).
struct Sweep {
    label: String,
    color: RGBColor,
    pts: Vec<(f64, f64, u32, bool)>,
}

/// What a throughput plot shows.
struct TputSpec {
    title: String,
    subtitle: String,
    x_desc: String,
    y_desc: String,
    sweeps: Vec<Sweep>,
    /// Non-dominated points (max x, max y), sorted by x.
    frontier: Vec<(f64, f64)>,
    x_range: Range<f64>,
    y_range: Range<f64>,
}

/// Points on the frontier that maximises both x and y, sorted by x.
fn upper_frontier(pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let flipped: Vec<(f64, f64)> = pts.iter().map(|&(x, y)| (x, -y)).collect();
    pareto_frontier(&flipped)
        .into_iter()
        .map(|(x, y)| (x, -y))
        .collect()
}

/// The serving engineers' plots of a closed-loop sweep, when the outcome has closed-loop
/// points: output tokens/s per user against output tokens/s per GPU
/// (`throughput_per_user_vs_per_gpu`) and per $/h (`throughput_per_user_vs_per_dollar`), one
/// line per configuration family (every knob but the concurrency), points labelled by
/// concurrency, hollow where the SLOs fail.
fn throughput_plots(o: &SearchOutcome) -> Result<Vec<PlotFile>, PlotFailed> {
    let pts: Vec<&PointResult> = o
        .points
        .iter()
        .filter(|p| p.config.concurrency.is_some() && p.closed_loop.is_some())
        .collect();
    if pts.is_empty() {
        return Ok(Vec::new());
    }
    ensure_font().map_err(|source| PlotFailed {
        stem: "throughput_per_user_vs_per_gpu".into(),
        source,
    })?;
    let models = summary::distinct(pts.iter().map(|p| p.config.model.as_str()));
    let workloads = summary::distinct(pts.iter().map(|p| p.config.workload.as_str()));
    let family = |p: &PointResult| {
        let c = crate::search::PointConfig {
            concurrency: None,
            ..p.config.clone()
        };
        let d = if models.len() == 1 {
            summary::describe_short(&c)
        } else {
            c.describe()
        };
        if workloads.len() > 1 {
            format!("{d} · {}", c.workload)
        } else {
            d
        }
    };
    let scope = if models.len() == 1 && workloads.len() == 1 {
        format!("{} · {}", models[0], workloads[0])
    } else {
        format!("{} models × {} workloads", models.len(), workloads.len())
    };
    let mut out = Vec::new();
    for (stem, what, y_desc, y_of) in [
        (
            "throughput_per_user_vs_per_gpu",
            "tokens/s per GPU",
            "output tokens/s per GPU (higher is better)",
            (|p: &PointResult| p.closed_loop?.output_tokens_per_s_per_gpu)
                as fn(&PointResult) -> Option<f64>,
        ),
        (
            "throughput_per_user_vs_per_dollar",
            "tokens/s per $/h",
            "output tokens/s per $/h (higher is better)",
            |p: &PointResult| Some(p.closed_loop?.output_tokens_per_s? / p.cost.usd_per_hour),
        ),
    ] {
        let mut sweeps: Vec<Sweep> = Vec::new();
        for p in &pts {
            let (Some(x), Some(y), Some(n)) = (
                p.closed_loop.and_then(|m| m.output_tokens_per_s_per_user),
                y_of(p),
                p.config.concurrency,
            ) else {
                continue;
            };
            if !(x.is_finite() && y.is_finite()) {
                continue;
            }
            let label = family(p);
            let k = match sweeps.iter().position(|s| s.label == label) {
                Some(k) => k,
                None => {
                    sweeps.push(Sweep {
                        label,
                        color: PALETTE[sweeps.len() % PALETTE.len()],
                        pts: Vec::new(),
                    });
                    sweeps.len() - 1
                }
            };
            sweeps[k].pts.push((x, y, n, p.feasible()));
        }
        for s in &mut sweeps {
            s.pts.sort_by_key(|p| p.2);
        }
        let all: Vec<(f64, f64)> = sweeps
            .iter()
            .flat_map(|s| s.pts.iter().map(|p| (p.0, p.1)))
            .collect();
        let (xmin, xmax) = all.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
            (a.0.min(p.0), a.1.max(p.0))
        });
        let (ymin, ymax) = all.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
            (a.0.min(p.1), a.1.max(p.1))
        });
        let meet = pts.iter().filter(|p| p.feasible()).count();
        let spec = TputSpec {
            title: format!("{}: tokens/s per user vs {what}", o.meta.name),
            subtitle: format!(
                "{scope} · closed-loop concurrency sweep · {meet} of {} points meet all SLOs (filled)",
                pts.len()
            ),
            x_desc: "output tokens/s per user  (output tokens/s ÷ concurrency)".into(),
            y_desc: y_desc.into(),
            frontier: upper_frontier(&all),
            sweeps,
            x_range: if all.is_empty() { 0.0..1.0 } else { padded(0.0, xmax.max(xmin)) },
            y_range: if all.is_empty() { 0.0..1.0 } else { padded(0.0, ymax.max(ymin)) },
        };
        let (png, svg) = render_with(&spec).map_err(|source| PlotFailed {
            stem: stem.to_string(),
            source,
        })?;
        out.push(PlotFile {
            stem: stem.to_string(),
            title: format!("{} — {}", spec.title, spec.subtitle),
            per_combo: false,
            png,
            svg,
        });
    }
    Ok(out)
}

/// White page, title and subtitle; returns the area below the header.
pub(super) fn draw_header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> Result<DrawingArea<DB, Shift>, PlotError> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| PlotError::Draw(x.to_string());
    root.fill(&WHITE).map_err(e)?;
    let font = (FONT, 22).into_font().style(FontStyle::Bold).color(&BLACK);
    root.draw(&Text::new(title.to_string(), (24, 14), font))
        .map_err(e)?;
    root.draw(&Text::new(
        subtitle.to_string(),
        (24, 44),
        text_style(15, RGBColor(80, 80, 80)),
    ))
    .map_err(e)?;
    Ok(root.split_vertically(HEADER_H).1)
}

pub(super) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The plot area inside `area`, with the margins and label room every plot uses.
pub(super) fn build_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    x: Range<f64>,
    y: Range<f64>,
) -> Result<Chart<'_, DB>, PlotError> {
    ChartBuilder::on(area)
        .margin_top(12)
        .margin_left(8)
        .margin_right(16)
        .margin_bottom(8)
        .x_label_area_size(58)
        .y_label_area_size(78)
        .build_cartesian_2d(x, y)
        .map_err(|x| PlotError::Draw(x.to_string()))
}

/// Axis titles, tick labels and grid as every plot draws them; the caller may adjust, then draws.
pub(super) fn styled_mesh<'a, 'b, DB: DrawingBackend>(
    chart: &'b mut Chart<'a, DB>,
    x_desc: &'b str,
    y_desc: &'b str,
) -> MeshStyle<'a, 'b, RangedCoordf64, RangedCoordf64, DB> {
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 14))
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&|v| fmt_tick(*v))
        .y_label_formatter(&|v| fmt_tick(*v))
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215));
    mesh
}

fn draw_tput<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    spec: &TputSpec,
) -> Result<(), PlotError> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| PlotError::Draw(x.to_string());
    let body = draw_header(root, &spec.title, &spec.subtitle)?;
    let (area, legend_area) = body.split_horizontally(CHART_W);
    let mut chart = build_chart(&area, spec.x_range.clone(), spec.y_range.clone())?;
    styled_mesh(&mut chart, &spec.x_desc, &spec.y_desc)
        .draw()
        .map_err(e)?;
    chart
        .draw_series(DashedLineSeries::new(
            spec.frontier.clone(),
            8,
            5,
            FRONTIER.mix(0.7).stroke_width(2),
        ))
        .map_err(e)?;
    let label = text_style(12, RGBColor(60, 60, 60)).pos(Pos::new(HPos::Left, VPos::Bottom));
    for s in &spec.sweeps {
        chart
            .draw_series(LineSeries::new(
                s.pts.iter().map(|p| (p.0, p.1)),
                s.color.mix(0.8).stroke_width(2),
            ))
            .map_err(e)?;
        for &(x, y, n, ok) in &s.pts {
            let style = if ok {
                s.color.filled()
            } else {
                s.color.stroke_width(2)
            };
            chart
                .draw_series([Circle::new((x, y), 5, style)])
                .map_err(e)?;
            let (px, py) = chart.backend_coord(&(x, y));
            root.draw(&Text::new(n.to_string(), (px + 6, py - 4), label.clone()))
                .map_err(e)?;
        }
    }
    // Legend: one line per family, then the frontier and the marker meaning.
    let (lx, ly) = legend_area.get_pixel_range();
    let (x, mut y) = (lx.start + 8, ly.start + 20);
    let item = text_style(13, BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    let small = text_style(11, RGBColor(60, 60, 60)).pos(Pos::new(HPos::Left, VPos::Center));
    for s in &spec.sweeps {
        root.draw(&PathElement::new(
            vec![(x, y), (x + 18, y)],
            s.color.stroke_width(2),
        ))
        .map_err(e)?;
        root.draw(&Circle::new((x + 9, y), 4, s.color.filled()))
            .map_err(e)?;
        // Two lines ("2×h100-sxm" / "TP2 PP1 ×1, sarathi-512, cap 256"): one is too wide for
        // the panel.
        let (head, tail) = s.label.split_once(": ").unwrap_or((s.label.as_str(), ""));
        root.draw(&Text::new(head.to_string(), (x + 24, y), item.clone()))
            .map_err(e)?;
        if !tail.is_empty() {
            y += 16;
            root.draw(&Text::new(tail.to_string(), (x + 24, y), small.clone()))
                .map_err(e)?;
        }
        y += 26;
    }
    y += 8;
    root.draw(&PathElement::new(
        vec![(x, y), (x + 18, y)],
        FRONTIER.mix(0.7).stroke_width(2),
    ))
    .map_err(e)?;
    root.draw(&Text::new("Pareto frontier", (x + 24, y), item.clone()))
        .map_err(e)?;
    y += 30;
    let note = text_style(12, RGBColor(90, 90, 90));
    for l in [
        "numbers: concurrency",
        "filled: meets all SLOs",
        "hollow: misses an SLO",
    ] {
        root.draw(&Text::new(l, (x, y), note.clone())).map_err(e)?;
        y += 17;
    }
    Ok(())
}

/// Points on the frontier that maximises x and minimises y, sorted by x.
fn pareto_frontier(pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut v = pts.to_vec();
    // Best x first; among equal x the lowest y dominates the rest.
    v.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.total_cmp(&b.1)));
    let mut front: Vec<(f64, f64)> = Vec::new();
    for p in v {
        if front.last().is_none_or(|l| p.1 < l.1) {
            front.push(p);
        }
    }
    front.reverse();
    front
}

/// Log-axis grid between `lo` and `hi` seconds: 1-2-5 × 10^k labelled, other integer
/// multiples as minor lines; positions in log10.
pub(super) fn log_ticks(lo: f64, hi: f64) -> Vec<(f64, Option<String>)> {
    let mut out = Vec::new();
    let (k0, k1) = (lo.log10().floor() as i32 - 1, hi.log10().ceil() as i32 + 1);
    for k in k0..=k1 {
        for m in 1..=9 {
            let v = f64::from(m) * 10f64.powi(k);
            // A little slack so the padded ends still get their line.
            if v < lo / 1.2 || v > hi * 1.2 {
                continue;
            }
            let label = matches!(m, 1 | 2 | 5).then(|| fmt_tick(v));
            out.push((v.log10(), label));
        }
    }
    out
}

/// Padded linear axis range; a single value gets a ±10 % window.
pub(super) fn padded(lo: f64, hi: f64) -> Range<f64> {
    let span = hi - lo;
    let pad = if span > 0.0 {
        span * 0.08
    } else if hi != 0.0 {
        hi.abs() * 0.1
    } else {
        1.0
    };
    let start = if lo >= 0.0 {
        (lo - pad).max(0.0)
    } else {
        lo - pad
    };
    start..hi + pad
}

fn build_spec(
    o: &SearchOutcome,
    slo: &Slo,
    slo_index: usize,
    pts: &[&PointResult],
    combo: Option<&(String, String)>,
    colors: &BTreeMap<&str, RGBColor>,
) -> Spec {
    let short = slo_short(slo);
    let models = summary::distinct(pts.iter().map(|p| p.config.model.as_str()));
    let workloads = summary::distinct(pts.iter().map(|p| p.config.workload.as_str()));
    let scope = match (combo, models.len(), workloads.len()) {
        (Some(c), _, _) => format!("{} · {}", c.0, c.1),
        (None, 1, 1) => format!("{} · {}", models[0], workloads[0]),
        _ => format!(
            "all {} models × {} workloads",
            models.len(),
            workloads.len()
        ),
    };
    let feasible: Vec<&PointResult> = pts.iter().copied().filter(|p| p.feasible()).collect();
    let xy = |p: &PointResult| -> Option<(f64, f64)> {
        let x = p.cost.qps_per_dollar?;
        let y = slo_value(p, slo, slo_index)?.value_s?;
        (x.is_finite() && y.is_finite()).then_some((x, y))
    };
    let mut by_gpu: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for p in &feasible {
        if let Some(v) = xy(p) {
            by_gpu.entry(p.config.gpu.as_str()).or_default().push(v);
        }
    }
    let all: Vec<(f64, f64)> = by_gpu.values().flatten().copied().collect();
    let bound = slo.max_seconds;
    let ymin = all.iter().map(|p| p.1).fold(bound, f64::min);
    let ymax = all.iter().map(|p| p.1).fold(bound, f64::max);
    let xmin = all.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let xmax = all.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    // Log only when it helps (> 20× spread) and is defined (all positive). plotters' log axis
    // labels only powers of ten, so the chart stays linear over log10 values and draws its
    // own 1-2-5 grid.
    let log_y = ymin > 0.0 && ymax / ymin > 20.0;
    let ty = |y: f64| if log_y { y.log10() } else { y };
    let series = by_gpu
        .into_iter()
        .map(|(g, pts)| Series {
            gpu: g.to_string(),
            color: colors.get(g).copied().unwrap_or(BLACK),
            pts: pts.into_iter().map(|(x, y)| (x, ty(y))).collect(),
        })
        .collect();
    // The best among these points: rank 1 of the outcome's ranking restricted to them.
    let best = o
        .ranked()
        .into_iter()
        .find(|p| pts.iter().any(|q| std::ptr::eq(*q, *p)))
        .and_then(|p| {
            let (x, y) = xy(p)?;
            let d = if models.len() == 1 {
                summary::describe_short(&p.config)
            } else {
                p.config.describe()
            };
            Some((
                (x, ty(y)),
                vec![
                    format!("best: {d}"),
                    format!("{} QPS per $/h, {} {} s", fmt_num(x), short, fmt_num(y)),
                ],
            ))
        });
    let empty = if all.is_empty() {
        Some(if feasible.is_empty() {
            "No point meets all SLOs: nothing to plot.".to_string()
        } else {
            format!("No feasible point has a {short} value and a price: nothing to plot.")
        })
    } else {
        None
    };
    Spec {
        title: format!("{}: {short} vs cost efficiency", o.meta.name),
        subtitle: format!(
            "{scope} · {} of {} points meet all SLOs · y at each point's capacity",
            feasible.len(),
            pts.len()
        ),
        x_desc: "QPS per $/h  (capacity QPS ÷ hourly price, higher is better)".into(),
        y_desc: format!(
            "{short} at capacity (s{})",
            if log_y { ", log scale" } else { "" }
        ),
        frontier: pareto_frontier(&all)
            .into_iter()
            .map(|(x, y)| (x, ty(y)))
            .collect(),
        series,
        bound: ty(bound),
        bound_label: format!("SLO: {}", slo.label()),
        best,
        empty,
        log_y,
        y_ticks: if log_y {
            log_ticks(ymin, ymax)
        } else {
            Vec::new()
        },
        x_range: if all.is_empty() {
            0.0..1.0
        } else {
            padded(xmin, xmax)
        },
        y_range: if log_y {
            let (lo, hi) = (ymin.log10(), ymax.log10());
            let pad = (hi - lo) * 0.07;
            lo - pad..hi + pad
        } else {
            padded(ymin, ymax)
        },
        n_points: all.len(),
    }
}

/// Draws the spec into a PNG (in memory) and an SVG string.
fn render(spec: &Spec) -> Result<(Vec<u8>, String), PlotError> {
    render_with(spec)
}

/// A plot description that can draw itself on any backend (PNG and SVG come from one spec).
pub(super) trait Drawable {
    /// Draws the whole picture on `root`.
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>;
}

impl Drawable for Spec {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        draw(root, self)
    }
}

impl Drawable for TputSpec {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        draw_tput(root, self)
    }
}

/// Draws `spec` into a PNG (in memory) and an SVG string.
pub(super) fn render_with<T: Drawable>(spec: &T) -> Result<(Vec<u8>, String), PlotError> {
    let mut rgb = vec![255u8; (W * H * 3) as usize];
    {
        let root = GlyphFix(BitMapBackend::with_buffer(&mut rgb, (W, H))).into_drawing_area();
        spec.draw_on(&root)?;
        root.present().map_err(|e| PlotError::Draw(e.to_string()))?;
    }
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, W, H);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header()?;
        w.write_image_data(&rgb)?;
        w.finish()?;
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        spec.draw_on(&root)?;
        root.present().map_err(|e| PlotError::Draw(e.to_string()))?;
    }
    Ok((png_bytes, svg))
}

/// Regular text of `size` px in `color`, in the embedded face.
pub(super) fn text_style(size: u32, color: RGBColor) -> TextStyle<'static> {
    (FONT, size).into_font().color(&color)
}

/// A 5-point star centred on `c` (pixel coordinates).
fn star(c: (i32, i32), outer: f64, inner: f64) -> Vec<(i32, i32)> {
    (0..10)
        .map(|k| {
            let r = if k % 2 == 0 { outer } else { inner };
            let a = -std::f64::consts::FRAC_PI_2 + f64::from(k) * std::f64::consts::PI / 5.0;
            (
                c.0 + (r * a.cos()).round() as i32,
                c.1 + (r * a.sin()).round() as i32,
            )
        })
        .collect()
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, spec: &Spec) -> Result<(), PlotError> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| PlotError::Draw(x.to_string());
    let body = draw_header(root, &spec.title, &spec.subtitle)?;
    let (chart_area, legend_area) = body.split_horizontally(CHART_W);
    if let Some(msg) = &spec.empty {
        let (xr, yr) = chart_area.get_pixel_range();
        let style = text_style(20, RGBColor(90, 90, 90)).pos(Pos::new(HPos::Center, VPos::Center));
        root.draw(&Text::new(
            msg.clone(),
            (
                (xr.start + xr.end + (W as i32 - CHART_W as i32)) / 2,
                (yr.start + yr.end) / 2,
            ),
            style,
        ))
        .map_err(e)?;
        return Ok(());
    }
    chart(root, &chart_area, spec)?;
    legend(root, &legend_area, spec)
}

fn chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    area: &DrawingArea<DB, Shift>,
    spec: &Spec,
) -> Result<(), PlotError> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| PlotError::Draw(x.to_string());
    let mut chart = build_chart(area, spec.x_range.clone(), spec.y_range.clone())?;
    let mut mesh = styled_mesh(&mut chart, &spec.x_desc, &spec.y_desc);
    if spec.log_y {
        // The y grid and labels come from y_ticks below.
        mesh.y_labels(0).disable_y_mesh();
    }
    mesh.draw().map_err(e)?;
    let (pxr, pyr) = chart.plotting_area().get_pixel_range();
    let label14 = text_style(14, BLACK).pos(Pos::new(HPos::Right, VPos::Center));
    for (v, label) in &spec.y_ticks {
        if *v < spec.y_range.start || *v > spec.y_range.end {
            continue;
        }
        let (_, py) = chart.backend_coord(&(spec.x_range.start, *v));
        let grid = if label.is_some() { 215 } else { 240 };
        root.draw(&PathElement::new(
            vec![(pxr.start, py), (pxr.end, py)],
            RGBColor(grid, grid, grid).stroke_width(1),
        ))
        .map_err(e)?;
        if let Some(l) = label {
            root.draw(&PathElement::new(
                vec![(pxr.start - 5, py), (pxr.start, py)],
                BLACK.stroke_width(1),
            ))
            .map_err(e)?;
            root.draw(&Text::new(l.clone(), (pxr.start - 8, py), label14.clone()))
                .map_err(e)?;
        }
    }

    let (x0, x1) = (spec.x_range.start, spec.x_range.end);
    chart
        .draw_series(DashedLineSeries::new(
            vec![(x0, spec.bound), (x1, spec.bound)],
            10,
            6,
            SLO_RED.stroke_width(2),
        ))
        .map_err(e)?;
    for s in &spec.series {
        let style = s.color.mix(0.85).filled();
        chart
            .draw_series(s.pts.iter().map(|&p| Circle::new(p, 5, style)))
            .map_err(e)?;
    }
    if spec.frontier.len() > 1 {
        chart
            .draw_series(LineSeries::new(
                spec.frontier.clone(),
                FRONTIER.mix(0.8).stroke_width(2),
            ))
            .map_err(e)?;
    }
    // Frontier points get a dark ring so single-point fronts are visible too.
    chart
        .draw_series(
            spec.frontier
                .iter()
                .map(|&p| Circle::new(p, 7, FRONTIER.mix(0.8).stroke_width(1))),
        )
        .map_err(e)?;

    // Annotations in pixel space on the root, where text can be measured and kept inside the
    // plotting area.
    let label_style = text_style(14, SLO_RED);
    let (_, by) = chart.backend_coord(&(x0, spec.bound));
    let (lw, lh) = root
        .estimate_text_size(&spec.bound_label, &label_style)
        .map_err(e)?;
    let (lw, lh) = (lw as i32, lh as i32);
    // Above the line, left end; below it when the line hugs the top.
    let ly = if by - lh - 8 > pyr.start {
        by - lh - 6
    } else {
        by + 6
    };
    let lx = pxr.start + 8;
    root.draw(&Rectangle::new(
        [(lx - 3, ly - 2), (lx + lw + 3, ly + lh + 3)],
        WHITE.mix(0.85).filled(),
    ))
    .map_err(e)?;
    root.draw(&Text::new(spec.bound_label.clone(), (lx, ly), label_style))
        .map_err(e)?;

    if let Some((p, lines)) = &spec.best {
        let c = chart.backend_coord(p);
        let style = text_style(14, BLACK);
        let mut w = 0;
        let line_h = 18;
        for l in lines {
            let (tw, _) = root.estimate_text_size(l, &style).map_err(e)?;
            w = w.max(tw as i32);
        }
        let size = (w + 14, line_h * lines.len() as i32 + 10);
        // Everything the box should not hide: the points, the frontier, the SLO line and label.
        let mut avoid: Vec<(i32, i32)> = spec
            .series
            .iter()
            .flat_map(|s| s.pts.iter())
            .map(|q| chart.backend_coord(q))
            .collect();
        for seg in spec.frontier.windows(2) {
            let (a, b) = (chart.backend_coord(&seg[0]), chart.backend_coord(&seg[1]));
            avoid.extend((0..=24).map(|k| {
                let t = f64::from(k) / 24.0;
                (
                    a.0 + (f64::from(b.0 - a.0) * t) as i32,
                    a.1 + (f64::from(b.1 - a.1) * t) as i32,
                )
            }));
        }
        avoid.extend((pxr.start..pxr.end).step_by(12).map(|x| (x, by)));
        let label_box = ((lx - 3, ly - 2), (lx + lw + 3, ly + lh + 3));
        let (bx, byy) = place_box(c, size, (&pxr, &pyr), &avoid, label_box);
        let (bw, bh) = size;
        // Leader from the star to the nearest point of the box.
        let near = (c.0.clamp(bx, bx + bw), c.1.clamp(byy, byy + bh));
        root.draw(&PathElement::new(
            vec![c, near],
            RGBColor(90, 90, 90).stroke_width(1),
        ))
        .map_err(e)?;
        root.draw(&Rectangle::new(
            [(bx, byy), (bx + bw, byy + bh)],
            WHITE.mix(0.92).filled(),
        ))
        .map_err(e)?;
        root.draw(&Rectangle::new(
            [(bx, byy), (bx + bw, byy + bh)],
            RGBColor(120, 120, 120).stroke_width(1),
        ))
        .map_err(e)?;
        for (k, l) in lines.iter().enumerate() {
            root.draw(&Text::new(
                l.clone(),
                (bx + 7, byy + 6 + line_h * k as i32),
                style.clone(),
            ))
            .map_err(e)?;
        }
        root.draw(&Polygon::new(star(c, 13.0, 5.5), STAR.filled()))
            .map_err(e)?;
        let mut outline = star(c, 13.0, 5.5);
        if let Some(&first) = outline.first() {
            outline.push(first);
        }
        root.draw(&PathElement::new(outline, BLACK.stroke_width(1)))
            .map_err(e)?;
    }
    Ok(())
}

/// Where to put the best-config annotation box of `size` for the star at `c`: scanning the
/// plotting area on a grid, the spot covering the fewest `avoid` pixels, then the closest to
/// the star; never over the star itself or the SLO label.
fn place_box(
    c: (i32, i32),
    size: (i32, i32),
    area: (&Range<i32>, &Range<i32>),
    avoid: &[(i32, i32)],
    label: ((i32, i32), (i32, i32)),
) -> (i32, i32) {
    let (bw, bh) = size;
    let (xr, yr) = area;
    let (x_lo, x_hi) = (xr.start + 4, (xr.end - 4 - bw).max(xr.start + 4));
    let (y_lo, y_hi) = (yr.start + 4, (yr.end - 4 - bh).max(yr.start + 4));
    let overlaps = |a: ((i32, i32), (i32, i32)), b: ((i32, i32), (i32, i32))| {
        a.0 .0 < b.1 .0 && b.0 .0 < a.1 .0 && a.0 .1 < b.1 .1 && b.0 .1 < a.1 .1
    };
    let star_box = ((c.0 - 16, c.1 - 16), (c.0 + 16, c.1 + 16));
    let mut best = (u64::MAX, (x_lo, y_lo));
    for x in (x_lo..=x_hi).step_by(8) {
        for y in (y_lo..=y_hi).step_by(8) {
            let rect = ((x - 6, y - 6), (x + bw + 6, y + bh + 6));
            if overlaps(rect, star_box) || overlaps(rect, label) {
                continue;
            }
            let covered = avoid
                .iter()
                .filter(|p| {
                    p.0 > rect.0 .0 && p.0 < rect.1 .0 && p.1 > rect.0 .1 && p.1 < rect.1 .1
                })
                .count() as u64;
            let near = (c.0.clamp(x, x + bw), c.1.clamp(y, y + bh));
            let dist = (f64::from(near.0 - c.0).hypot(f64::from(near.1 - c.1))) as u64;
            let cost = covered * 10_000 + dist;
            if cost < best.0 {
                best = (cost, (x, y));
            }
        }
    }
    best.1
}

/// The legend panel right of the chart: GPU colours, then the line and marker meanings.
fn legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    area: &DrawingArea<DB, Shift>,
    spec: &Spec,
) -> Result<(), PlotError> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| PlotError::Draw(x.to_string());
    let (xr, yr) = area.get_pixel_range();
    let x = xr.start + 8;
    let mut y = yr.start + 20;
    let head = (FONT, 15).into_font().style(FontStyle::Bold).color(&BLACK);
    let item = text_style(14, BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    root.draw(&Text::new("GPU SKU", (x, y), head.clone()))
        .map_err(e)?;
    y += 32;
    for s in &spec.series {
        root.draw(&Circle::new((x + 8, y), 6, s.color.mix(0.85).filled()))
            .map_err(e)?;
        let label = format!("{} ({})", s.gpu, s.pts.len());
        root.draw(&Text::new(label, (x + 24, y), item.clone()))
            .map_err(e)?;
        y += 24;
    }
    y += 14;
    root.draw(&Text::new("Marks", (x, y), head)).map_err(e)?;
    y += 32;
    root.draw(&PathElement::new(
        vec![(x, y), (x + 18, y)],
        FRONTIER.mix(0.8).stroke_width(2),
    ))
    .map_err(e)?;
    root.draw(&Circle::new(
        (x + 9, y),
        7,
        FRONTIER.mix(0.8).stroke_width(1),
    ))
    .map_err(e)?;
    root.draw(&Text::new("Pareto frontier", (x + 24, y), item.clone()))
        .map_err(e)?;
    y += 26;
    for k in 0..2 {
        let sx = x + k * 11;
        root.draw(&PathElement::new(
            vec![(sx, y), (sx + 7, y)],
            SLO_RED.stroke_width(2),
        ))
        .map_err(e)?;
    }
    root.draw(&Text::new("SLO bound", (x + 24, y), item.clone()))
        .map_err(e)?;
    y += 26;
    root.draw(&Polygon::new(star((x + 9, y), 10.0, 4.2), STAR.filled()))
        .map_err(e)?;
    let mut outline = star((x + 9, y), 10.0, 4.2);
    if let Some(&first) = outline.first() {
        outline.push(first);
    }
    root.draw(&PathElement::new(outline, BLACK.stroke_width(1)))
        .map_err(e)?;
    root.draw(&Text::new("best QPS per $/h", (x + 24, y), item.clone()))
        .map_err(e)?;
    y += 36;
    let note = text_style(13, RGBColor(90, 90, 90));
    for l in [
        format!("{} feasible points shown", spec.n_points),
        "(count per GPU in brackets)".to_string(),
    ] {
        root.draw(&Text::new(l, (x, y), note.clone())).map_err(e)?;
        y += 18;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata;

    #[test]
    fn frontier_keeps_non_dominated_points() {
        let pts = [
            (1.0, 1.0),
            (2.0, 2.0),
            (2.0, 3.0),
            (1.5, 2.5),
            (3.0, 2.5),
            (0.5, 0.5),
        ];
        assert_eq!(
            pareto_frontier(&pts),
            vec![(0.5, 0.5), (1.0, 1.0), (2.0, 2.0), (3.0, 2.5)]
        );
        assert!(pareto_frontier(&[]).is_empty());
    }

    #[test]
    fn upper_frontier_maximises_both_axes() {
        let pts = [(1.0, 5.0), (2.0, 4.0), (1.5, 3.0), (3.0, 1.0), (0.5, 5.0)];
        assert_eq!(
            upper_frontier(&pts),
            vec![(1.0, 5.0), (2.0, 4.0), (3.0, 1.0)]
        );
    }

    #[test]
    fn open_loop_outcomes_get_no_throughput_plots() {
        let o = testdata::outcome();
        assert!(throughput_plots(&o).unwrap().is_empty());
    }

    #[test]
    fn one_plot_per_slo_and_per_combo() {
        let o = testdata::outcome();
        let plots = render_all(&o).unwrap();
        let stems: Vec<&str> = plots.iter().map(|p| p.stem.as_str()).collect();
        assert_eq!(stems, ["pareto_ttft", "pareto_tbt"]);
        for p in &plots {
            assert!(p.png.starts_with(b"\x89PNG\r\n\x1a\n"));
            assert!(p.svg.contains("</svg>"));
        }
        let o = testdata::outcome_for(&["m1", "m2"], &["w"]);
        let plots = render_all(&o).unwrap();
        assert_eq!(plots.len(), 2 * 3);
        assert!(plots.iter().any(|p| p.stem == "pareto_tbt_m2_w"));
    }

    #[test]
    fn shared_metric_names_by_column() {
        let mut o = testdata::outcome();
        let mut extra = o.meta.slos[0];
        extra.quantile = 0.5;
        o.meta.slos.push(extra);
        let stems: Vec<String> = render_all(&o)
            .unwrap()
            .into_iter()
            .map(|p| p.stem)
            .collect();
        assert_eq!(stems, ["pareto_ttft_p90", "pareto_tbt", "pareto_ttft_p50"]);
    }
}
