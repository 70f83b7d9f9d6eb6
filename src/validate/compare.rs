//! Measured against predicted: one row per (point, metric), error statistics overall, per
//! engine and per group (engine × model × precision × GPU), and the verdict against
//! thresholds.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Outcome, PointResult};
use crate::measured::{MeasuredMetrics, MeasuredPoint};

/// A compared metric: its name (as in `comparison.csv`) and how to read it.
pub struct Metric {
    /// Column value in `comparison.csv`, e.g. `ttft_mean_ms`.
    pub name: &'static str,
    /// What a reader sees.
    pub label: &'static str,
    /// The value in a metrics record.
    pub get: fn(&MeasuredMetrics) -> Option<f64>,
}

/// Every metric we compare, in report order.
pub const METRICS: [Metric; 9] = [
    Metric {
        name: "ttft_mean_ms",
        label: "mean TTFT (ms)",
        get: |m| m.ttft_mean_ms,
    },
    Metric {
        name: "tpot_mean_ms",
        label: "mean TPOT (ms)",
        get: |m| m.tpot_mean_ms,
    },
    Metric {
        name: "ttft_p50_ms",
        label: "P50 TTFT (ms)",
        get: |m| m.ttft_p50_ms,
    },
    Metric {
        name: "ttft_p99_ms",
        label: "P99 TTFT (ms)",
        get: |m| m.ttft_p99_ms,
    },
    Metric {
        name: "tpot_p50_ms",
        label: "P50 TPOT (ms)",
        get: |m| m.tpot_p50_ms,
    },
    Metric {
        name: "tpot_p99_ms",
        label: "P99 TPOT (ms)",
        get: |m| m.tpot_p99_ms,
    },
    Metric {
        name: "e2e_p50_s",
        label: "P50 E2E (s)",
        get: |m| m.e2e_p50_s,
    },
    Metric {
        name: "e2e_p99_s",
        label: "P99 E2E (s)",
        get: |m| m.e2e_p99_s,
    },
    Metric {
        name: "output_tok_s",
        label: "output tokens/s",
        get: |m| m.output_tok_s,
    },
];

/// The metric called `name`.
pub fn metric(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.name == name)
}

/// One line of `comparison.csv`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Measured point id.
    pub id: String,
    /// Metric name.
    pub metric: &'static str,
    /// Measured value.
    pub measured: f64,
    /// Predicted value.
    pub predicted: f64,
    /// `(predicted − measured) / measured · 100`.
    pub error_pct: f64,
}

/// The rows of every simulated point, for the metrics both sides have.
pub fn rows(results: &[PointResult]) -> Vec<Row> {
    let mut out = Vec::new();
    for r in results {
        let Outcome::Simulated { predicted, .. } = &r.outcome else {
            continue;
        };
        for m in &METRICS {
            if let (Some(meas), Some(pred)) = ((m.get)(&r.point.metrics), (m.get)(predicted)) {
                if meas > 0.0 && meas.is_finite() && pred.is_finite() {
                    out.push(Row {
                        id: r.point.id.clone(),
                        metric: m.name,
                        measured: meas,
                        predicted: pred,
                        error_pct: (pred - meas) / meas * 100.0,
                    });
                }
            }
        }
    }
    out
}

/// The group a point belongs to: engine × model × precision × GPU.
pub fn group_of(p: &MeasuredPoint) -> String {
    format!(
        "{} · {} · {} · {}",
        p.engine.as_deref().unwrap_or("unknown engine"),
        p.model,
        p.precision,
        p.gpu
    )
}

/// Error statistics of one metric over some rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    /// Rows.
    pub n: usize,
    /// Mean absolute percentage error.
    pub mape_pct: f64,
    /// Median signed error (negative: we predict too low).
    pub median_signed_pct: f64,
    /// Largest absolute error.
    pub max_abs_pct: f64,
}

impl Stats {
    /// Statistics of these signed percentage errors (None when empty).
    pub fn of(errors: &[f64]) -> Option<Stats> {
        if errors.is_empty() {
            return None;
        }
        let n = errors.len();
        let mape = errors.iter().map(|e| e.abs()).sum::<f64>() / n as f64;
        let mut s = errors.to_vec();
        s.sort_by(f64::total_cmp);
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        };
        Some(Stats {
            n,
            mape_pct: mape,
            median_signed_pct: median,
            max_abs_pct: s.iter().map(|e| e.abs()).fold(0.0, f64::max),
        })
    }
}

/// Statistics per metric.
pub type MetricStats = BTreeMap<&'static str, Stats>;

fn stats_by_metric<'a>(rows: impl Iterator<Item = &'a Row>) -> MetricStats {
    let mut by: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for r in rows {
        by.entry(r.metric).or_default().push(r.error_pct);
    }
    by.into_iter()
        .filter_map(|(m, e)| Stats::of(&e).map(|s| (m, s)))
        .collect()
}

/// A threshold on a metric's MAPE.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold {
    /// Metric name.
    pub metric: &'static str,
    /// Largest acceptable MAPE, %.
    pub max_mape_pct: f64,
}

/// The seeds' tolerances: TTFT and TPOT means within 10%, P99s within 15%.
pub fn default_thresholds() -> Vec<Threshold> {
    [
        ("ttft_mean_ms", 10.0),
        ("tpot_mean_ms", 10.0),
        ("ttft_p99_ms", 15.0),
        ("tpot_p99_ms", 15.0),
        ("e2e_p99_s", 15.0),
    ]
    .into_iter()
    .map(|(m, v)| Threshold {
        metric: metric(m).expect("known metric").name,
        max_mape_pct: v,
    })
    .collect()
}

/// Parse `METRIC=PCT` (`--threshold ttft_mean_ms=8`).
pub fn parse_threshold(s: &str) -> Result<Threshold, String> {
    let (m, v) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}': expected METRIC=PERCENT, e.g. ttft_mean_ms=10"))?;
    let metric = metric(m.trim()).ok_or_else(|| {
        format!(
            "'{s}': unknown metric '{m}' (one of {})",
            METRICS
                .iter()
                .map(|m| m.name)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let v: f64 = v
        .trim()
        .parse()
        .map_err(|_| format!("'{s}': '{v}' is not a number"))?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(format!("'{s}': the percentage must be >= 0"));
    }
    Ok(Threshold {
        metric: metric.name,
        max_mape_pct: v,
    })
}

/// One threshold checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Metric.
    pub metric: &'static str,
    /// Allowed MAPE.
    pub max_mape_pct: f64,
    /// Observed MAPE (None: no point has the metric, so it is not checked).
    pub mape_pct: Option<f64>,
    /// Whether it holds.
    pub pass: bool,
}

/// A point not compared, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotCompared {
    /// Point id.
    pub id: String,
    /// Group.
    pub group: String,
    /// Why.
    pub reason: String,
}

/// Everything `summary.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Points read, simulated, skipped, failed.
    pub points: BTreeMap<&'static str, usize>,
    /// Error per metric over every simulated point.
    pub overall: MetricStats,
    /// Per engine.
    pub by_engine: BTreeMap<String, MetricStats>,
    /// Per engine, over points where queueing does not dominate TTFT: measured mean TTFT at
    /// most [`QUEUEING_FACTOR`] × the lowest-concurrency TTFT of the same configuration.
    pub by_engine_unqueued: BTreeMap<String, MetricStats>,
    /// Per group (engine | model | precision | GPU).
    pub by_group: BTreeMap<String, MetricStats>,
    /// Thresholds checked.
    pub checks: Vec<Check>,
    /// Whether at least one point was compared and every threshold holds.
    pub pass: bool,
    /// Points listed but not simulated.
    pub skipped: Vec<NotCompared>,
    /// Points whose simulation failed.
    pub failed: Vec<NotCompared>,
    /// Queueing-dominated point ids (left out of `by_engine_unqueued`).
    pub queueing_dominated: Vec<String>,
}

/// TTFT above this multiple of the lowest-concurrency TTFT of a configuration is mostly
/// waiting in the engine's queue.
pub const QUEUEING_FACTOR: f64 = 5.0;

/// Ids of closed-loop points whose measured mean TTFT exceeds [`QUEUEING_FACTOR`] × the TTFT at
/// the lowest concurrency of the same configuration (engine, version, model, precision, GPU,
/// TP, PP, lengths).
pub fn queueing_dominated(points: &[&MeasuredPoint]) -> Vec<String> {
    use crate::measured::Load;
    let key = |p: &MeasuredPoint| {
        format!(
            "{:?}|{:?}|{}|{}|{}|{}|{}|{:?}",
            p.engine, p.engine_version, p.model, p.precision, p.gpu, p.tp, p.pp, p.lengths
        )
    };
    let mut lowest: BTreeMap<String, (u32, f64)> = BTreeMap::new();
    for p in points {
        if let (Load::ClosedLoop { concurrency, .. }, Some(t)) = (&p.load, p.metrics.ttft_mean_ms) {
            let e = lowest.entry(key(p)).or_insert((*concurrency, t));
            if *concurrency < e.0 {
                *e = (*concurrency, t);
            }
        }
    }
    points
        .iter()
        .filter(|p| match (&p.load, p.metrics.ttft_mean_ms) {
            (Load::ClosedLoop { .. }, Some(t)) => lowest
                .get(&key(p))
                .is_some_and(|l| t > QUEUEING_FACTOR * l.1),
            _ => false,
        })
        .map(|p| p.id.clone())
        .collect()
}

/// Summarize `results` (with their `rows`) against `thresholds`.
pub fn summarize(results: &[PointResult], rows: &[Row], thresholds: &[Threshold]) -> Summary {
    let by_id: BTreeMap<&str, &MeasuredPoint> = results
        .iter()
        .map(|r| (r.point.id.as_str(), &r.point))
        .collect();
    let all: Vec<&MeasuredPoint> = results.iter().map(|r| &r.point).collect();
    let queued = queueing_dominated(&all);
    let engine = |id: &str| {
        by_id[id]
            .engine
            .clone()
            .unwrap_or_else(|| "unknown engine".into())
    };
    let mut by_engine = BTreeMap::new();
    let mut by_engine_unqueued = BTreeMap::new();
    let mut by_group = BTreeMap::new();
    let engines: std::collections::BTreeSet<String> = rows.iter().map(|r| engine(&r.id)).collect();
    for e in engines {
        let mine = || rows.iter().filter(|r| engine(&r.id) == e);
        by_engine.insert(e.clone(), stats_by_metric(mine()));
        let unq = stats_by_metric(mine().filter(|r| !queued.contains(&r.id)));
        by_engine_unqueued.insert(e.clone(), unq);
    }
    let groups: std::collections::BTreeSet<String> = rows
        .iter()
        .map(|r| group_of(by_id[r.id.as_str()]))
        .collect();
    for g in groups {
        let s = stats_by_metric(rows.iter().filter(|r| group_of(by_id[r.id.as_str()]) == g));
        by_group.insert(g, s);
    }
    let overall = stats_by_metric(rows.iter());
    let checks: Vec<Check> = thresholds
        .iter()
        .map(|t| {
            let mape = overall.get(t.metric).map(|s| s.mape_pct);
            Check {
                metric: t.metric,
                max_mape_pct: t.max_mape_pct,
                mape_pct: mape,
                pass: mape.is_none_or(|m| m <= t.max_mape_pct),
            }
        })
        .collect();
    let not_compared = |want_failed: bool| {
        results
            .iter()
            .filter_map(|r| match (&r.outcome, want_failed) {
                (Outcome::Skipped(why), false) | (Outcome::Failed(why), true) => {
                    Some(NotCompared {
                        id: r.point.id.clone(),
                        group: group_of(&r.point),
                        reason: why.clone(),
                    })
                }
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let skipped = not_compared(false);
    let failed = not_compared(true);
    let mut points = BTreeMap::new();
    points.insert("measured", results.len());
    points.insert("simulated", results.len() - skipped.len() - failed.len());
    points.insert("skipped", skipped.len());
    points.insert("failed", failed.len());
    // Nothing compared is nothing shown to be within the thresholds.
    let pass = points["simulated"] > 0 && checks.iter().all(|c| c.pass);
    Summary {
        points,
        pass,
        overall,
        by_engine,
        by_engine_unqueued,
        by_group,
        checks,
        skipped,
        failed,
        queueing_dominated: queued,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_give_mape_and_signed_median() {
        let s = Stats::of(&[-10.0, 20.0, -30.0]).unwrap();
        assert_eq!(s.n, 3);
        assert!((s.mape_pct - 20.0).abs() < 1e-12);
        assert_eq!(s.median_signed_pct, -10.0);
        assert_eq!(s.max_abs_pct, 30.0);
        assert!(Stats::of(&[]).is_none());
    }

    #[test]
    fn thresholds_parse_with_clear_errors() {
        let t = parse_threshold("ttft_mean_ms=8").unwrap();
        assert_eq!((t.metric, t.max_mape_pct), ("ttft_mean_ms", 8.0));
        assert!(parse_threshold("ttft=8")
            .unwrap_err()
            .contains("unknown metric"));
        assert!(parse_threshold("ttft_mean_ms")
            .unwrap_err()
            .contains("METRIC=PERCENT"));
        assert!(parse_threshold("ttft_mean_ms=x")
            .unwrap_err()
            .contains("not a number"));
    }
}
