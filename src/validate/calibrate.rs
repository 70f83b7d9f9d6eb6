//! `calibrate`: fit the serving overheads per engine on measured points, check them on real
//! re-simulations, and estimate how they do on a group they were not fitted on.
//!
//! Rounds: simulate every point with the kernels alone (the "before" error) recording step
//! features; fit each engine's terms (and a `default` entry over all points); re-simulate with
//! the fit and refit from the new features until the terms settle ([`MAX_ROUNDS`]); keep the
//! terms whose re-simulated error is lowest. Leave-one-group-out: for every group (engine ×
//! model × precision × GPU), fit on the engine's other groups (or, when it has none, on every
//! other point) and re-simulate the group with those terms.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::compare::{self, group_of, NotCompared};
use super::fit::{self, FeatureObserver, FitPoint};
use super::{run_points, setup, Outcome, PointResult, SetupOptions};
use crate::catalog::HardwareCatalog;
use crate::measured::MeasuredPoint;
use crate::predictor::analytic::calibration::Calibration;
use crate::predictor::analytic::GpuInfo;
use crate::predictor::serving::{
    OverheadTerms, ServingCalibration, ServingProvenance, DEFAULT_ENGINE,
};

/// Refits after the first fit, at most.
pub const MAX_ROUNDS: usize = 3;

/// The metrics the fit targets.
pub const FITTED_METRICS: [&str; 2] = ["ttft_mean_ms", "tpot_mean_ms"];

/// Knobs of a calibration.
#[derive(Debug, Clone)]
pub struct CalibrateOptions {
    /// How the points are simulated (its `calibration` is ignored: rounds write their own).
    pub setup: SetupOptions,
    /// The kernel calibration the overheads sit on (its `serving` section is replaced).
    pub base: Calibration,
    /// Folder for the rounds' simulation files.
    pub work_dir: PathBuf,
    /// Skip the leave-one-group-out estimate (it costs one more simulation per point).
    pub skip_logo: bool,
    /// Measurement files, recorded as provenance.
    pub sources: Vec<String>,
    /// The command line, recorded as provenance.
    pub command: String,
}

/// MAPE (%) of the fitted metrics before, after and left-one-group-out, for one engine.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct EngineErrors {
    /// Points fitted on.
    pub points: usize,
    /// `metric → MAPE` with the kernels alone.
    pub before: BTreeMap<String, f64>,
    /// With the fitted terms.
    pub after: BTreeMap<String, f64>,
    /// Each group predicted with terms fitted without it.
    pub leave_one_group_out: BTreeMap<String, f64>,
}

/// What `calibrate` produced.
#[derive(Debug, Clone)]
pub struct Calibrated {
    /// The base calibration with the fitted `serving` section.
    pub calibration: Calibration,
    /// Errors per engine (and `all`).
    pub errors: BTreeMap<String, EngineErrors>,
    /// Points that could not be used, and why.
    pub not_used: Vec<NotCompared>,
    /// Rounds simulated (besides leave-one-group-out).
    pub rounds: usize,
}

/// The engine key of a point.
fn engine_of(p: &MeasuredPoint) -> String {
    p.engine
        .as_deref()
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| DEFAULT_ENGINE.to_string())
}

/// The GPU's name as the calibration knows it (where the terms' factors are keyed).
fn calibration_gpu(hw: &HardwareCatalog, cal: &Calibration, gpu: &str) -> String {
    match setup::resolve_gpu(hw, gpu)
        .ok()
        .and_then(|n| hw.gpu(&n).ok())
    {
        Some(g) => GpuInfo::from_catalog(g, 8, cal).name,
        None => gpu.to_string(),
    }
}

fn write_calibration(cal: &Calibration, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(cal)?;
    crate::outdir::write_atomic(path, text.as_bytes()).with_context(|| path.display().to_string())
}

fn with_serving(base: &Calibration, engines: BTreeMap<String, OverheadTerms>) -> Calibration {
    let mut c = base.clone();
    c.serving = Some(ServingCalibration {
        engines,
        provenance: ServingProvenance::default(),
    });
    c
}

/// One simulation round: every point under `cal`, with features.
struct Round {
    results: Vec<PointResult>,
    fit_points: Vec<(String, FitPoint)>,
}

fn simulate_round(
    points: &[MeasuredPoint],
    cal: &Calibration,
    name: &str,
    opts: &CalibrateOptions,
) -> Result<Round> {
    let hw = HardwareCatalog::embedded();
    let cal_path = opts.work_dir.join(format!("{name}.json"));
    write_calibration(cal, &cal_path)?;
    let sims = opts.work_dir.join(name);
    std::fs::create_dir_all(&sims).with_context(|| sims.display().to_string())?;
    let setup = SetupOptions {
        calibration: Some(cal_path.display().to_string()),
        serving: cal.serving.as_ref().map(ServingCalibration::engine_names),
        ..opts.setup.clone()
    };
    let serving = cal.serving.clone().unwrap_or_default();
    let factor = |p: &MeasuredPoint| {
        let gpu = calibration_gpu(&hw, cal, &p.gpu);
        serving
            .terms(Some(&engine_of(p)))
            .and_then(|(_, t)| t.gpu_factor.get(&gpu).copied())
            .unwrap_or(1.0)
    };
    // Points without an engine use the default entry, which the setup selects by naming none.
    let out = run_points(points, &sims, &setup, |p| {
        FeatureObserver::new(factor(p), 0)
    });
    let mut results = Vec::new();
    let mut fit_points = Vec::new();
    for (r, obs) in out {
        if let (Outcome::Simulated { .. }, Some(obs)) = (&r.outcome, &obs) {
            if let Some(features) = obs.point_features() {
                let (ttft_ms, tpot_ms) = fit::measured_means(&r.point);
                fit_points.push((
                    engine_of(&r.point),
                    FitPoint {
                        id: r.point.id.clone(),
                        gpu: calibration_gpu(&hw, cal, &r.point.gpu),
                        features,
                        ttft_ms,
                        tpot_ms,
                    },
                ));
            }
        }
        results.push(r);
    }
    Ok(Round {
        results,
        fit_points,
    })
}

/// MAPE per fitted metric of the simulated `results`, for the points `keep` selects.
fn true_errors(
    results: &[PointResult],
    keep: impl Fn(&MeasuredPoint) -> bool,
) -> BTreeMap<String, f64> {
    let mine: Vec<PointResult> = results.iter().filter(|r| keep(&r.point)).cloned().collect();
    let rows = compare::rows(&mine);
    FITTED_METRICS
        .iter()
        .filter_map(|m| {
            let e: Vec<f64> = rows
                .iter()
                .filter(|r| r.metric == *m)
                .map(|r| r.error_pct)
                .collect();
            compare::Stats::of(&e).map(|s| (m.to_string(), s.mape_pct))
        })
        .collect()
}

fn fit_all(
    fit_points: &[(String, FitPoint)],
    start: &BTreeMap<String, OverheadTerms>,
) -> BTreeMap<String, OverheadTerms> {
    let mut engines: BTreeMap<String, Vec<&FitPoint>> = BTreeMap::new();
    for (e, p) in fit_points {
        engines.entry(e.clone()).or_default().push(p);
    }
    let all: Vec<&FitPoint> = fit_points.iter().map(|(_, p)| p).collect();
    let zero = OverheadTerms::default();
    let mut out = BTreeMap::new();
    for (e, pts) in &engines {
        out.insert(
            e.clone(),
            fit::fit_terms(pts, start.get(e).unwrap_or(&zero)),
        );
    }
    // The default entry covers engines without their own; fitted on every point.
    out.insert(
        DEFAULT_ENGINE.to_string(),
        fit::fit_terms(&all, start.get(DEFAULT_ENGINE).unwrap_or(&zero)),
    );
    out
}

/// Relative change between two fits (largest over terms and engines).
fn change(a: &BTreeMap<String, OverheadTerms>, b: &BTreeMap<String, OverheadTerms>) -> f64 {
    let mut worst: f64 = 0.0;
    for (e, x) in a {
        let Some(y) = b.get(e) else {
            return f64::INFINITY;
        };
        let pairs = [
            (x.step_ms, y.step_ms),
            (x.per_seq_ms, y.per_seq_ms),
            (x.per_prefill_token_us, y.per_prefill_token_us),
            (x.decode_step_ms, y.decode_step_ms),
        ];
        for (u, v) in pairs {
            worst = worst.max((u - v).abs() / u.abs().max(v.abs()).max(1e-3));
        }
        for (g, f) in &x.gpu_factor {
            worst = worst.max((f - y.gpu_factor.get(g).copied().unwrap_or(1.0)).abs());
        }
    }
    worst
}

fn mean_error(e: &BTreeMap<String, f64>) -> f64 {
    if e.is_empty() {
        f64::INFINITY
    } else {
        e.values().sum::<f64>() / e.len() as f64
    }
}

/// Fit the serving overheads to `points`.
pub fn calibrate(points: &[MeasuredPoint], opts: &CalibrateOptions) -> Result<Calibrated> {
    std::fs::create_dir_all(&opts.work_dir).with_context(|| opts.work_dir.display().to_string())?;
    let mut base = opts.base.clone();
    base.serving = None;
    let round0 = simulate_round(points, &base, "round0", opts)?;
    if round0.fit_points.is_empty() {
        anyhow::bail!(
            "none of the {} measured points could be simulated with a measured mean TTFT or TPOT; nothing to fit (see the reasons with `validate`)",
            points.len()
        );
    }
    let engines: Vec<String> = {
        let mut e: Vec<String> = round0.fit_points.iter().map(|(e, _)| e.clone()).collect();
        e.sort();
        e.dedup();
        e
    };
    let errors_by_engine = |results: &[PointResult]| -> BTreeMap<String, BTreeMap<String, f64>> {
        let mut m: BTreeMap<String, BTreeMap<String, f64>> = engines
            .iter()
            .map(|e| (e.clone(), true_errors(results, |p| &engine_of(p) == e)))
            .collect();
        m.insert("all".into(), true_errors(results, |_| true));
        m
    };
    let before = errors_by_engine(&round0.results);

    let mut terms = fit_all(&round0.fit_points, &BTreeMap::new());
    // The best round so far: its terms, its errors per engine and the features it saw.
    type Round = (
        BTreeMap<String, OverheadTerms>,
        BTreeMap<String, BTreeMap<String, f64>>,
        Vec<(String, FitPoint)>,
    );
    let mut best: Option<Round> = None;
    let mut rounds = 1;
    for r in 1..=MAX_ROUNDS {
        let cal = with_serving(&base, terms.clone());
        let round = simulate_round(points, &cal, &format!("round{r}"), opts)?;
        rounds += 1;
        let after = errors_by_engine(&round.results);
        let better = best
            .as_ref()
            .is_none_or(|(_, b, _)| mean_error(&after["all"]) < mean_error(&b["all"]));
        if better {
            best = Some((terms.clone(), after, round.fit_points.clone()));
        }
        let next = fit_all(&round.fit_points, &terms);
        let moved = change(&terms, &next);
        terms = next;
        if moved < 0.01 {
            break;
        }
    }
    let (terms, after, features) = best.expect("at least one round ran");

    let mut logo: BTreeMap<String, Vec<PointResult>> = BTreeMap::new();
    if !opts.skip_logo {
        let groups: std::collections::BTreeSet<String> =
            round0.results.iter().map(|r| group_of(&r.point)).collect();
        for (gi, g) in groups.iter().enumerate() {
            let in_group: Vec<MeasuredPoint> = points
                .iter()
                .filter(|p| &group_of(p) == g)
                .cloned()
                .collect();
            let Some(engine) = in_group.first().map(engine_of) else {
                continue;
            };
            let same_engine: Vec<&FitPoint> = features
                .iter()
                .filter(|(e, p)| e == &engine && in_group.iter().all(|q| q.id != p.id))
                .map(|(_, p)| p)
                .collect();
            let train: Vec<&FitPoint> = if same_engine.is_empty() {
                features
                    .iter()
                    .filter(|(_, p)| in_group.iter().all(|q| q.id != p.id))
                    .map(|(_, p)| p)
                    .collect()
            } else {
                same_engine
            };
            if train.is_empty() {
                continue;
            }
            let t = fit::fit_terms(
                &train,
                terms.get(&engine).unwrap_or(&OverheadTerms::default()),
            );
            let engines = [(engine.clone(), t.clone()), (DEFAULT_ENGINE.to_string(), t)].into();
            let cal = with_serving(&base, engines);
            let round = simulate_round(&in_group, &cal, &format!("logo{gi}"), opts)?;
            logo.entry(engine).or_default().extend(round.results);
        }
    }

    let mut errors = BTreeMap::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (e, _) in &features {
        *counts.entry(e.clone()).or_default() += 1;
    }
    let all_logo: Vec<PointResult> = logo.values().flatten().cloned().collect();
    for key in engines.iter().cloned().chain(["all".to_string()]) {
        let logo_err = if key == "all" {
            true_errors(&all_logo, |_| true)
        } else {
            logo.get(&key)
                .map(|r| true_errors(r, |_| true))
                .unwrap_or_default()
        };
        errors.insert(
            key.clone(),
            EngineErrors {
                points: if key == "all" {
                    features.len()
                } else {
                    counts.get(&key).copied().unwrap_or(0)
                },
                before: before.get(&key).cloned().unwrap_or_default(),
                after: after.get(&key).cloned().unwrap_or_default(),
                leave_one_group_out: logo_err,
            },
        );
    }

    let mut error_pct = BTreeMap::new();
    for (e, er) in &errors {
        let mut m = BTreeMap::new();
        for (k, v) in &er.before {
            m.insert(format!("{k}_before"), round2(*v));
        }
        for (k, v) in &er.after {
            m.insert(format!("{k}_after"), round2(*v));
        }
        for (k, v) in &er.leave_one_group_out {
            m.insert(format!("{k}_leave_one_group_out"), round2(*v));
        }
        error_pct.insert(e.clone(), m);
    }
    let mut calibration = with_serving(&base, terms);
    if let Some(s) = calibration.serving.as_mut() {
        s.provenance = ServingProvenance {
            generated_by: format!(
                "{} ({})",
                opts.command,
                concat!("vidur-search ", env!("CARGO_PKG_VERSION"))
            ),
            measured: opts.sources.clone(),
            points: counts,
            error_pct,
        };
    }
    let not_used = compare::summarize(&round0.results, &[], &[])
        .skipped
        .into_iter()
        .chain(compare::summarize(&round0.results, &[], &[]).failed)
        .collect();
    Ok(Calibrated {
        calibration,
        errors,
        not_used,
        rounds,
    })
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}
