//! Small, general chart builders (empirical CDFs, predicted-vs-measured scatter, time series,
//! bars) for the simulate and validate reports, drawn with the same page layout, embedded font,
//! palette and PNG + SVG output as the search's Pareto plots ([`super::plot`]).
//!
//! Each builder checks its input first: no (finite) data is a [`PlotError::NoData`] naming the
//! chart, never a panic. Long inputs are thinned so a file stays small: a CDF keeps at most
//! [`MAX_POINTS`] rank-spaced points, a time series the min and max of each of
//! `MAX_POINTS / 2` time buckets (so spikes survive).

use std::ops::Range;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use super::format::fmt_tick;
use super::plot::{
    build_chart, draw_header, ensure_font, log_ticks, padded, render_with, styled_mesh, text_style,
    Drawable, PlotError, CHART_W, FONT, PALETTE,
};

/// Most points drawn per series.
pub(crate) const MAX_POINTS: usize = 2000;

/// One rendered chart.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    /// The PNG file's bytes.
    pub png: Vec<u8>,
    /// The SVG document.
    pub svg: String,
}

/// What a mark draws, in data coordinates (x already in log10 on a log axis).
enum Mark {
    /// A polyline.
    Line(Vec<(f64, f64)>, RGBColor),
    /// A dashed polyline.
    Dashed(Vec<(f64, f64)>, RGBColor),
    /// Filled dots.
    Dots(Vec<(f64, f64)>, RGBColor),
    /// A translucent filled polygon.
    Area(Vec<(f64, f64)>, RGBColor),
    /// A bar from y = 0 to `y` over `x0..x1`.
    Bar(f64, f64, f64, RGBColor),
}

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
enum Key {
    Line,
    Dashed,
    Dot,
    Area,
}

/// A chart, computed before touching a backend so the PNG and the SVG match.
struct Spec {
    title: String,
    subtitle: String,
    x_desc: String,
    y_desc: String,
    x_range: Range<f64>,
    y_range: Range<f64>,
    /// Positions are log10 of x; the grid and labels come from [`log_ticks`].
    log_x: bool,
    /// The same for y.
    log_y: bool,
    /// Category names under bars, by bar centre.
    categories: Vec<(f64, String)>,
    marks: Vec<Mark>,
    legend: Vec<(String, RGBColor, Key)>,
}

impl Drawable for Spec {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        draw(root, self)
    }
}

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn render(spec: &Spec) -> Result<Chart, PlotError> {
    ensure_font()?;
    let (png, svg) = render_with(spec)?;
    Ok(Chart { png, svg })
}

/// Smallest and largest of `v` (all finite), or None when empty.
fn extent(v: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    v.fold(None, |a, x| match a {
        None => Some((x, x)),
        Some((lo, hi)) => Some((lo.min(x), hi.max(x))),
    })
}

/// Overlaid empirical CDFs, one per `(label, values)` series, each in its own colour with a
/// legend entry (count in brackets). Non-finite values are dropped; with `log_x` so are values
/// ≤ 0, and the x axis is logarithmic.
pub(crate) fn cdf<S: AsRef<str>>(
    title: &str,
    x_label: &str,
    series: &[(S, Vec<f64>)],
    log_x: bool,
) -> Result<Chart, PlotError> {
    let mut marks = Vec::new();
    let mut legend = Vec::new();
    let mut total = 0;
    for (i, (label, values)) in series.iter().enumerate() {
        let mut v: Vec<f64> = values
            .iter()
            .copied()
            .filter(|x| x.is_finite() && (!log_x || *x > 0.0))
            .collect();
        if v.is_empty() {
            continue;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        total += n;
        // Rank-spaced sample, first and last value kept; the curve is a step at each value.
        let keep = n.min(MAX_POINTS / 2);
        let mut pts = Vec::with_capacity(2 * keep + 1);
        let mut prev_p = 0.0;
        for k in 0..keep {
            let idx = if keep == 1 {
                n - 1
            } else {
                k * (n - 1) / (keep - 1)
            };
            let x = if log_x { v[idx].log10() } else { v[idx] };
            let p = (idx + 1) as f64 / n as f64;
            pts.push((x, prev_p));
            pts.push((x, p));
            prev_p = p;
        }
        let c = color(i);
        marks.push(Mark::Line(pts, c));
        legend.push((format!("{} ({n})", label.as_ref()), c, Key::Line));
    }
    if marks.is_empty() {
        return Err(PlotError::NoData(format!(
            "{title}: no {}values in any series",
            if log_x { "positive finite " } else { "finite " }
        )));
    }
    let (lo, hi) = extent(marks.iter().flat_map(|m| match m {
        Mark::Line(p, _) => p.iter().map(|q| q.0).collect::<Vec<_>>(),
        _ => Vec::new(),
    }))
    .unwrap_or((0.0, 1.0));
    let x_range = if log_x {
        let pad = ((hi - lo) * 0.04).max(0.05);
        lo - pad..hi + pad
    } else {
        padded(lo, hi)
    };
    render(&Spec {
        title: title.to_string(),
        subtitle: format!(
            "empirical CDF · {} series · {total} values{}",
            legend.len(),
            if log_x { " · log x axis" } else { "" }
        ),
        x_desc: x_label.to_string(),
        y_desc: "fraction of values ≤ x".into(),
        x_range,
        y_range: 0.0..1.02,
        log_x,
        log_y: false,
        categories: Vec::new(),
        marks,
        legend,
    })
}

/// Predicted (y) against measured (x) `(measured, predicted, group)` points, one colour per
/// group, with the y = x line and a ±10 % band around it. Non-finite points are dropped.
pub(crate) fn scatter_vs<S: AsRef<str>>(
    title: &str,
    metric_label: &str,
    points: &[(f64, f64, S)],
) -> Result<Chart, PlotError> {
    let pts: Vec<(f64, f64, &str)> = points
        .iter()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .map(|p| (p.0, p.1, p.2.as_ref()))
        .collect();
    let Some((lo, hi)) = extent(pts.iter().flat_map(|p| [p.0, p.1])) else {
        return Err(PlotError::NoData(format!(
            "{title}: no point with a finite measured and predicted value"
        )));
    };
    // Values spanning more than a decade or so (TTFT from tens of ms to a minute) are read on
    // log axes, where the ±10 % band has the same width everywhere.
    let log = lo > 0.0 && hi / lo > 20.0;
    let to = |v: f64| if log { v.log10() } else { v };
    let range = if log {
        let (a, b) = (lo.log10(), hi.log10());
        let pad = ((b - a) * 0.04).max(0.05);
        a - pad..b + pad
    } else {
        padded(lo.min(0.0), hi)
    };
    let (a, b) = (range.start, range.end);
    let band: Vec<(f64, f64)> = if log {
        let (d, u) = (0.9f64.log10(), 1.1f64.log10());
        vec![(a, a + d), (b, b + d), (b, b + u), (a, a + u)]
    } else {
        vec![(a, a * 0.9), (b, b * 0.9), (b, b * 1.1), (a, a * 1.1)]
    };
    let band = band.into_iter().map(|(x, y)| (x, y.clamp(a, b))).collect();
    let mut marks = vec![
        Mark::Area(band, RGBColor(160, 160, 160)),
        Mark::Dashed(vec![(a, a), (b, b)], RGBColor(35, 35, 35)),
    ];
    let mut legend = Vec::new();
    let mut groups: Vec<&str> = Vec::new();
    for p in &pts {
        if !groups.contains(&p.2) {
            groups.push(p.2);
        }
    }
    let mut within = 0;
    for (i, g) in groups.iter().enumerate() {
        let gp: Vec<(f64, f64)> = pts
            .iter()
            .filter(|p| p.2 == *g)
            .map(|p| (p.0, p.1))
            .collect();
        within += gp
            .iter()
            .filter(|p| (p.1 - p.0).abs() <= 0.1 * p.0.abs())
            .count();
        legend.push((format!("{g} ({})", gp.len()), color(i), Key::Dot));
        marks.push(Mark::Dots(
            gp.into_iter().map(|(x, y)| (to(x), to(y))).collect(),
            color(i),
        ));
    }
    legend.push((
        "predicted = measured".into(),
        RGBColor(35, 35, 35),
        Key::Dashed,
    ));
    legend.push(("±10 %".into(), RGBColor(160, 160, 160), Key::Area));
    render(&Spec {
        title: title.to_string(),
        subtitle: format!(
            "{} points · {within} within ±10 % of measured{}",
            pts.len(),
            if log { " · log axes" } else { "" }
        ),
        x_desc: format!("measured {metric_label}"),
        y_desc: format!("predicted {metric_label}"),
        x_range: range.clone(),
        y_range: range,
        log_x: log,
        log_y: log,
        categories: Vec::new(),
        marks,
        legend,
    })
}

/// At most [`MAX_POINTS`] of `pts` (sorted by x): the lowest and highest y of each of
/// `MAX_POINTS / 2` equal x buckets, in x order.
fn thin(pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if pts.len() <= MAX_POINTS {
        return pts.to_vec();
    }
    let (x0, x1) = (pts[0].0, pts[pts.len() - 1].0);
    let buckets = MAX_POINTS / 2;
    let width = (x1 - x0) / buckets as f64;
    let mut out = Vec::with_capacity(MAX_POINTS);
    let mut i = 0;
    while i < pts.len() {
        let b = if width > 0.0 {
            (((pts[i].0 - x0) / width) as usize).min(buckets - 1)
        } else {
            0
        };
        let mut j = i;
        let (mut lo, mut hi) = (i, i);
        while j < pts.len() {
            let bj = if width > 0.0 {
                (((pts[j].0 - x0) / width) as usize).min(buckets - 1)
            } else {
                0
            };
            if bj != b {
                break;
            }
            if pts[j].1 < pts[lo].1 {
                lo = j;
            }
            if pts[j].1 > pts[hi].1 {
                hi = j;
            }
            j += 1;
        }
        let (first, second) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        out.push(pts[first]);
        if second != first {
            out.push(pts[second]);
        }
        i = j;
    }
    out
}

/// Series over simulated time, `(label, [(t, y)])`, one colour each; `step` holds each value
/// until the next point (a level such as KV-cache use) instead of joining points. Points are
/// sorted by time, non-finite ones dropped, and each series thinned to [`MAX_POINTS`].
pub(crate) fn time_series<S: AsRef<str>>(
    title: &str,
    y_label: &str,
    series: &[(S, Vec<(f64, f64)>)],
    step: bool,
) -> Result<Chart, PlotError> {
    let mut marks = Vec::new();
    let mut legend = Vec::new();
    let mut all = Vec::new();
    for (i, (label, pts)) in series.iter().enumerate() {
        let mut p: Vec<(f64, f64)> = pts
            .iter()
            .copied()
            .filter(|q| q.0.is_finite() && q.1.is_finite())
            .collect();
        if p.is_empty() {
            continue;
        }
        p.sort_by(|a, b| a.0.total_cmp(&b.0));
        let n = p.len();
        let p = thin(&p);
        all.extend(p.iter().copied());
        // A thinned series has a point per pixel column or more, where steps add nothing but
        // sub-pixel segments that rasterize with gaps.
        let line = if step && n <= MAX_POINTS {
            let mut s = Vec::with_capacity(2 * p.len());
            for w in p.windows(2) {
                s.push(w[0]);
                s.push((w[1].0, w[0].1));
            }
            s.extend(p.last().copied());
            s
        } else {
            p
        };
        let c = color(i);
        marks.push(Mark::Line(line, c));
        legend.push((format!("{} ({n})", label.as_ref()), c, Key::Line));
    }
    let (Some((x0, x1)), Some((y0, y1))) = (
        extent(all.iter().map(|p| p.0)),
        extent(all.iter().map(|p| p.1)),
    ) else {
        return Err(PlotError::NoData(format!(
            "{title}: no finite (time, value) point in any series"
        )));
    };
    render(&Spec {
        title: title.to_string(),
        subtitle: format!(
            "over simulated time · {} series{}",
            legend.len(),
            if step {
                " · each value held until the next"
            } else {
                ""
            }
        ),
        x_desc: "simulated time (s)".into(),
        y_desc: y_label.to_string(),
        x_range: padded(x0.min(0.0), x1),
        y_range: padded(y0.min(0.0), y1),
        log_x: false,
        log_y: false,
        categories: Vec::new(),
        marks,
        legend,
    })
}

/// One bar per `(label, value)`, labelled underneath. Non-finite values are an error: a bar
/// chart with a silently missing bar would mislead.
pub(crate) fn bars<S: AsRef<str>>(
    title: &str,
    y_label: &str,
    bars: &[(S, f64)],
) -> Result<Chart, PlotError> {
    if bars.is_empty() {
        return Err(PlotError::NoData(format!("{title}: no bars")));
    }
    if let Some((l, v)) = bars.iter().find(|b| !b.1.is_finite()) {
        return Err(PlotError::NoData(format!(
            "{title}: bar '{}' has no finite value ({v})",
            l.as_ref()
        )));
    }
    let (lo, hi) = extent(bars.iter().map(|b| b.1)).unwrap_or((0.0, 1.0));
    let n = bars.len();
    let c = color(0);
    render(&Spec {
        title: title.to_string(),
        subtitle: format!(
            "{n} bar{} · min {} · max {}",
            if n == 1 { "" } else { "s" },
            fmt_tick(lo),
            fmt_tick(hi)
        ),
        x_desc: String::new(),
        y_desc: y_label.to_string(),
        x_range: 0.0..n as f64,
        y_range: padded(lo.min(0.0), hi.max(0.0)),
        log_x: false,
        log_y: false,
        categories: bars
            .iter()
            .enumerate()
            .map(|(i, b)| (i as f64 + 0.5, b.0.as_ref().to_string()))
            .collect(),
        marks: bars
            .iter()
            .enumerate()
            .map(|(i, b)| Mark::Bar(i as f64 + 0.15, i as f64 + 0.85, b.1, c))
            .collect(),
        legend: Vec::new(),
    })
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, spec: &Spec) -> Result<(), PlotError> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| PlotError::Draw(x.to_string());
    let body = draw_header(root, &spec.title, &spec.subtitle)?;
    let (area, legend_area) = body.split_horizontally(CHART_W);
    let mut chart = build_chart(&area, spec.x_range.clone(), spec.y_range.clone())?;
    let mut mesh = styled_mesh(&mut chart, &spec.x_desc, &spec.y_desc);
    if spec.log_x || !spec.categories.is_empty() {
        // Drawn below: log ticks or category names.
        mesh.x_labels(0).disable_x_mesh();
    }
    if spec.log_y {
        mesh.y_labels(0).disable_y_mesh();
    }
    mesh.draw().map_err(e)?;
    let (pxr, pyr) = chart.plotting_area().get_pixel_range();
    if spec.log_y {
        let lo = 10f64.powf(spec.y_range.start);
        let hi = 10f64.powf(spec.y_range.end);
        let label = text_style(14, BLACK).pos(Pos::new(HPos::Right, VPos::Center));
        for (v, l) in log_ticks(lo, hi) {
            if v < spec.y_range.start || v > spec.y_range.end {
                continue;
            }
            let (_, py) = chart.backend_coord(&(spec.x_range.start, v));
            let grid = if l.is_some() { 215 } else { 240 };
            root.draw(&PathElement::new(
                vec![(pxr.start, py), (pxr.end, py)],
                RGBColor(grid, grid, grid).stroke_width(1),
            ))
            .map_err(e)?;
            if let Some(l) = l {
                root.draw(&Text::new(l, (pxr.start - 6, py), label.clone()))
                    .map_err(e)?;
            }
        }
    }
    if spec.log_x {
        let lo = 10f64.powf(spec.x_range.start);
        let hi = 10f64.powf(spec.x_range.end);
        let label = text_style(14, BLACK).pos(Pos::new(HPos::Center, VPos::Top));
        for (v, l) in log_ticks(lo, hi) {
            if v < spec.x_range.start || v > spec.x_range.end {
                continue;
            }
            let (px, _) = chart.backend_coord(&(v, spec.y_range.start));
            let grid = if l.is_some() { 215 } else { 240 };
            root.draw(&PathElement::new(
                vec![(px, pyr.start), (px, pyr.end)],
                RGBColor(grid, grid, grid).stroke_width(1),
            ))
            .map_err(e)?;
            if let Some(l) = l {
                root.draw(&Text::new(l, (px, pyr.end + 6), label.clone()))
                    .map_err(e)?;
            }
        }
    }
    if !spec.categories.is_empty() {
        let label = text_style(13, BLACK).pos(Pos::new(HPos::Center, VPos::Top));
        // Every k-th name when there are too many to fit side by side.
        let step = spec.categories.len().div_ceil(16).max(1);
        for (x, name) in spec.categories.iter().step_by(step) {
            let (px, _) = chart.backend_coord(&(*x, spec.y_range.start));
            root.draw(&Text::new(name.clone(), (px, pyr.end + 6), label.clone()))
                .map_err(e)?;
        }
    }
    for m in &spec.marks {
        match m {
            Mark::Line(p, c) => {
                // plotters fills wide polylines segment by segment, which leaves gaps where
                // thousands of sub-pixel segments zigzag; a 1 px line is drawn exactly.
                let width = if p.len() > 500 { 1 } else { 2 };
                chart
                    .draw_series(LineSeries::new(p.iter().copied(), c.stroke_width(width)))
                    .map_err(e)?;
            }
            Mark::Dashed(p, c) => {
                chart
                    .draw_series(DashedLineSeries::new(
                        p.iter().copied(),
                        10,
                        6,
                        c.stroke_width(2),
                    ))
                    .map_err(e)?;
            }
            Mark::Dots(p, c) => {
                let style = c.mix(0.85).filled();
                chart
                    .draw_series(p.iter().map(|&q| Circle::new(q, 4, style)))
                    .map_err(e)?;
            }
            Mark::Area(p, c) => {
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        p.clone(),
                        c.mix(0.25).filled(),
                    )))
                    .map_err(e)?;
            }
            Mark::Bar(x0, x1, y, c) => {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(*x0, 0.0), (*x1, *y)],
                        c.mix(0.85).filled(),
                    )))
                    .map_err(e)?;
            }
        }
    }
    legend(root, &legend_area, spec)
}

/// The legend panel right of the chart, one line per entry.
fn legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    area: &DrawingArea<DB, Shift>,
    spec: &Spec,
) -> Result<(), PlotError> {
    if spec.legend.is_empty() {
        return Ok(());
    }
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| PlotError::Draw(x.to_string());
    let (xr, yr) = area.get_pixel_range();
    let x = xr.start + 8;
    let mut y = yr.start + 20;
    let head = (FONT, 15).into_font().style(FontStyle::Bold).color(&BLACK);
    root.draw(&Text::new("Legend", (x, y), head)).map_err(e)?;
    y += 32;
    let item = text_style(14, BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    for (label, c, key) in &spec.legend {
        match key {
            Key::Line => root
                .draw(&PathElement::new(
                    vec![(x, y), (x + 18, y)],
                    c.stroke_width(3),
                ))
                .map_err(e)?,
            Key::Dashed => {
                for k in 0..2 {
                    root.draw(&PathElement::new(
                        vec![(x + k * 11, y), (x + k * 11 + 7, y)],
                        c.stroke_width(2),
                    ))
                    .map_err(e)?;
                }
            }
            Key::Dot => root
                .draw(&Circle::new((x + 9, y), 6, c.mix(0.85).filled()))
                .map_err(e)?,
            Key::Area => root
                .draw(&Rectangle::new(
                    [(x, y - 7), (x + 18, y + 7)],
                    c.mix(0.25).filled(),
                ))
                .map_err(e)?,
        }
        root.draw(&Text::new(label.clone(), (x + 26, y), item.clone()))
            .map_err(e)?;
        y += 24;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_SIG: &[u8] = b"\x89PNG\r\n\x1a\n";

    fn check(c: &Chart, title: &str) {
        assert!(c.png.starts_with(PNG_SIG) && c.png.len() > 1000);
        assert!(c.svg.contains(title), "SVG lacks the title {title}");
        assert!(c.svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn cdf_overlays_series() {
        let measured: Vec<f64> = (1..=500).map(|i| f64::from(i) * 0.01).collect();
        let predicted: Vec<f64> = measured.iter().map(|v| v * 1.1).collect();
        let s = [("measured", measured), ("predicted", predicted)];
        let c = cdf("TTFT CDF", "TTFT (s)", &s, false).unwrap();
        check(&c, "TTFT CDF");
        assert!(c.svg.contains("measured (500)") && c.svg.contains("predicted (500)"));
        let log = cdf("TTFT log CDF", "TTFT (s)", &s, true).unwrap();
        check(&log, "TTFT log CDF");
    }

    #[test]
    fn cdf_thins_long_series() {
        let v: Vec<f64> = (0..100_000).map(f64::from).collect();
        let c = cdf("big", "x", &[("all", v)], false).unwrap();
        check(&c, "big");
        assert!(c.svg.contains("all (100000)"));
    }

    #[test]
    fn scatter_counts_points_within_band() {
        let pts = [
            (1.0, 1.05, "a"),
            (2.0, 2.5, "a"),
            (3.0, 2.9, "b"),
            (f64::NAN, 1.0, "b"),
        ];
        let c = scatter_vs("TTFT predicted vs measured", "TTFT p50 (s)", &pts).unwrap();
        check(&c, "TTFT predicted vs measured");
        assert!(c.svg.contains("3 points · 2 within ±10 %"));
        assert!(c.svg.contains("a (2)") && c.svg.contains("b (1)"));
    }

    #[test]
    fn time_series_steps_and_thins() {
        let pts: Vec<(f64, f64)> = (0..50_000)
            .map(|i| (f64::from(i) * 0.001, f64::from(i % 97)))
            .collect();
        assert!(thin(&pts).len() <= MAX_POINTS);
        // The peak of every bucket survives thinning.
        assert_eq!(thin(&pts).iter().map(|p| p.1).fold(0.0, f64::max), 96.0);
        let c = time_series("KV-cache use", "%", &[("replica 0", pts)], true).unwrap();
        check(&c, "KV-cache use");
    }

    #[test]
    fn bars_render_labels() {
        let c = bars("Busy time", "busy %", &[("r0 s0", 80.0), ("r1 s0", 40.5)]).unwrap();
        check(&c, "Busy time");
        assert!(c.svg.contains("r1 s0"));
    }

    #[test]
    fn empty_input_is_an_error() {
        let none: [(&str, Vec<f64>); 0] = [];
        for r in [
            cdf("c", "x", &none, false).map(|_| ()),
            cdf("c", "x", &[("neg", vec![-1.0, 0.0])], true).map(|_| ()),
            scatter_vs::<&str>("s", "m", &[]).map(|_| ()),
            time_series::<&str>("t", "y", &[("e", vec![])], false).map(|_| ()),
            bars::<&str>("b", "y", &[]).map(|_| ()),
            bars("b", "y", &[("x", f64::NAN)]).map(|_| ()),
        ] {
            let err = r.unwrap_err();
            assert!(matches!(err, PlotError::NoData(_)), "{err}");
            assert!(err.to_string().starts_with("nothing to plot: "));
        }
    }
}
