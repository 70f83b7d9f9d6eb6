//! Fitting the serving overheads ([`OverheadTerms`]) to measured points.
//!
//! A step's time is linear in the terms: `factor · model + step_ms + per_seq_ms · seqs +
//! per_prefill_token_us · tokens / 1000 + decode_step_ms · decodes`. A request's TTFT is the sum
//! of the steps that end between its arrival and its first token, and its decode time the sum
//! of the steps after that, so both are linear in the terms too, given the schedule. We
//! simulate each point once, record per request the summed step features over both windows
//! ([`FeatureObserver`]), average them the way the metrics are averaged, and fit the terms to
//! the measured means by minimizing the mean absolute percentage error (argmin Nelder–Mead).
//!
//! The schedule itself does not depend on step times for a closed loop with zero think time on
//! one replica without pipeline stages (arrivals happen at step ends, so the same steps form
//! whatever they cost): there the linear model is exact and one round suffices. Elsewhere
//! (open loops, pipelines) we re-simulate with the fitted terms and refit, a few rounds, and
//! always report errors from real re-simulations, never from the linear model.

use std::collections::{BTreeMap, HashMap};

use crate::measured::MeasuredPoint;
use crate::predictor::analytic::fit::minimize;
use crate::predictor::serving::{OverheadTerms, StepFeatures, MAX_GPU_FACTOR, MIN_GPU_FACTOR};
use crate::predictor::{BatchEntry, StageTime};
use crate::sim::batch::Batch;
use crate::sim::request::Request;
use crate::sim::SimObserver;

/// Features of a stretch of steps: `[model ms, steps, sequences, prompt tokens / 1000,
/// decoding steps]`, the multipliers of `[factor, step_ms, per_seq_ms, per_prefill_token_us,
/// decode_step_ms]`.
pub type Features = [f64; 5];

fn add(a: &mut Features, b: &Features) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

fn sub(a: &Features, b: &Features) -> Features {
    std::array::from_fn(|i| a[i] - b[i])
}

/// Records step features per request while a point simulates (one replica).
#[derive(Debug, Default)]
pub struct FeatureObserver {
    /// The GPU-time factor the simulation runs with (to recover the kernels' own time).
    factor: f64,
    /// Requests with a lower id are warm-up and not averaged.
    warmup: u64,
    cumulative: Features,
    /// Features of the batch in flight, by batch id (recorded at its first stage).
    in_flight: HashMap<u64, Features>,
    at_arrival: Vec<Features>,
    at_first_token: Vec<Option<Features>>,
    ttft: Vec<Features>,
    decode: Vec<(Features, u32)>,
}

impl FeatureObserver {
    /// An observer for a simulation whose predictor scales model time by `factor`.
    pub fn new(factor: f64, warmup: u64) -> Self {
        FeatureObserver {
            factor,
            warmup,
            ..Default::default()
        }
    }

    /// The point's features: mean TTFT features (ms-valued once multiplied by the terms) and
    /// mean benchmark-TPOT features; None if no measured request completed.
    pub fn point_features(&self) -> Option<PointFeatures> {
        let n = self.ttft.len();
        let d: Vec<Features> = self
            .decode
            .iter()
            .filter(|(_, out)| *out > 1)
            .map(|(f, out)| f.map(|x| x / (*out - 1) as f64))
            .collect();
        if n == 0 || d.is_empty() {
            return None;
        }
        let mean = |v: &[Features]| -> Features {
            let mut s = [0.0; 5];
            for f in v {
                add(&mut s, f);
            }
            s.map(|x| x / v.len() as f64)
        };
        Some(PointFeatures {
            ttft: mean(&self.ttft),
            tpot: mean(&d),
        })
    }
}

impl SimObserver for FeatureObserver {
    fn on_request_arrival(&mut self, _t: f64, req: &Request) {
        let i = req.id as usize;
        if self.at_arrival.len() <= i {
            self.at_arrival.resize(i + 1, [0.0; 5]);
            self.at_first_token.resize(i + 1, None);
        }
        self.at_arrival[i] = self.cumulative;
    }

    fn on_stage_schedule(
        &mut self,
        _t: f64,
        _replica: u32,
        stage: u32,
        batch: &Batch,
        entries: &[BatchEntry],
        time: &StageTime,
    ) {
        let f = StepFeatures::of(entries);
        let model_ms = time.model_s * 1e3 / self.factor;
        let e = self.in_flight.entry(batch.id).or_insert([0.0; 5]);
        e[0] += model_ms;
        if stage == 0 {
            e[1] += 1.0;
            e[2] += f.seqs;
            e[3] += f.prefill_tokens * 1e-3;
            e[4] += f.decodes;
        }
    }

    fn on_batch_end(&mut self, t: f64, _replica: u32, batch: &Batch, requests: &[Request], _: f64) {
        if let Some(f) = self.in_flight.remove(&batch.id) {
            add(&mut self.cumulative, &f);
        }
        for &id in &batch.requests {
            let r = &requests[id as usize];
            let i = id as usize;
            if r.is_prefill_complete
                && r.prefill_completed_at == t
                && i < self.at_first_token.len()
                && self.at_first_token[i].is_none()
            {
                self.at_first_token[i] = Some(self.cumulative);
                if r.id as u64 >= self.warmup {
                    self.ttft.push(sub(&self.cumulative, &self.at_arrival[i]));
                }
            }
        }
    }

    fn on_request_completed(&mut self, _t: f64, req: &Request) {
        let i = req.id as usize;
        if req.id as u64 >= self.warmup {
            if let Some(Some(first)) = self.at_first_token.get(i) {
                self.decode
                    .push((sub(&self.cumulative, first), req.initial_decode_tokens));
            }
        }
    }
}

/// A point's mean-TTFT and mean-TPOT features.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointFeatures {
    /// Mean TTFT = terms · this (ms).
    pub ttft: Features,
    /// Mean benchmark TPOT = terms · this (ms).
    pub tpot: Features,
}

/// One point to fit: its features, measured means and GPU.
#[derive(Debug, Clone)]
pub struct FitPoint {
    /// Point id.
    pub id: String,
    /// GPU as the calibration names it.
    pub gpu: String,
    /// Features from the simulation.
    pub features: PointFeatures,
    /// Measured mean TTFT, ms.
    pub ttft_ms: Option<f64>,
    /// Measured mean TPOT, ms.
    pub tpot_ms: Option<f64>,
}

/// Points a GPU needs before its own time factor is fitted (fewer: factor 1).
pub const MIN_POINTS_FOR_GPU_FACTOR: usize = 10;

fn dot(terms: &[f64; 5], f: &Features) -> f64 {
    terms.iter().zip(f).map(|(a, b)| a * b).sum()
}

/// The terms of `x` (the optimizer's free variables; see [`fit_terms`]).
fn decode_params(x: &[f64], gpus: &[String]) -> OverheadTerms {
    let factor =
        |v: f64| MIN_GPU_FACTOR + (MAX_GPU_FACTOR - MIN_GPU_FACTOR) * (0.5 + 0.5 * v.tanh());
    OverheadTerms {
        step_ms: x[0].abs(),
        per_seq_ms: x[1].abs() * 0.01,
        per_prefill_token_us: x[2].abs(),
        decode_step_ms: x[3].abs(),
        gpu_factor: gpus
            .iter()
            .enumerate()
            .map(|(i, g)| (g.clone(), factor(x[4 + i])))
            .collect(),
    }
}

/// Predicted mean TTFT and TPOT (ms) of a point under `terms`.
pub fn predict(terms: &OverheadTerms, p: &FitPoint) -> (f64, f64) {
    let factor = terms.gpu_factor.get(&p.gpu).copied().unwrap_or(1.0);
    let t = [
        factor,
        terms.step_ms,
        terms.per_seq_ms,
        terms.per_prefill_token_us,
        terms.decode_step_ms,
    ];
    (dot(&t, &p.features.ttft), dot(&t, &p.features.tpot))
}

/// Mean absolute percentage error of TTFT and TPOT means over `points` under `terms`
/// (the two metrics weigh the same).
pub fn mape(terms: &OverheadTerms, points: &[&FitPoint]) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for p in points {
        let (ttft, tpot) = predict(terms, p);
        for (pred, meas) in [(ttft, p.ttft_ms), (tpot, p.tpot_ms)] {
            if let Some(m) = meas.filter(|m| *m > 0.0) {
                s += ((pred - m) / m).abs();
                n += 1;
            }
        }
    }
    if n == 0 {
        0.0
    } else {
        100.0 * s / n as f64
    }
}

/// Fit the terms to `points`, starting from `start`. GPUs with at least
/// [`MIN_POINTS_FOR_GPU_FACTOR`] points get their own time factor.
pub fn fit_terms(points: &[&FitPoint], start: &OverheadTerms) -> OverheadTerms {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for p in points {
        *count.entry(p.gpu.as_str()).or_default() += 1;
    }
    let gpus: Vec<String> = count
        .into_iter()
        .filter(|(_, n)| *n >= MIN_POINTS_FOR_GPU_FACTOR)
        .map(|(g, _)| g.to_string())
        .collect();
    // The start stays off the bounds: at a bound tanh is flat and the simplex never leaves it
    // (a factor starting at the floor of 1 would stay there whatever the data say).
    let inv_factor = |f: f64| {
        let u = ((f - MIN_GPU_FACTOR) / (MAX_GPU_FACTOR - MIN_GPU_FACTOR)).clamp(0.1, 0.9);
        (2.0 * u - 1.0).atanh()
    };
    let mut x0 = vec![
        start.step_ms.max(0.5),
        (start.per_seq_ms / 0.01).max(0.5),
        start.per_prefill_token_us.max(0.5),
        start.decode_step_ms.max(0.5),
    ];
    for g in &gpus {
        x0.push(inv_factor(start.gpu_factor.get(g).copied().unwrap_or(1.0)));
    }
    let best = minimize(x0, |x| mape(&decode_params(x, &gpus), points));
    let mut t = decode_params(&best, &gpus);
    // Round to what the file shows, so a rerun reproduces the same numbers.
    let r = |v: f64| (v * 1e6).round() / 1e6;
    t.step_ms = r(t.step_ms);
    t.per_seq_ms = r(t.per_seq_ms);
    t.per_prefill_token_us = r(t.per_prefill_token_us);
    t.decode_step_ms = r(t.decode_step_ms);
    for f in t.gpu_factor.values_mut() {
        *f = r(*f);
    }
    t
}

/// A measured point's mean TTFT and TPOT, ms.
pub fn measured_means(p: &MeasuredPoint) -> (Option<f64>, Option<f64>) {
    (p.metrics.ttft_mean_ms, p.metrics.tpot_mean_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(id: &str, model_ms: f64, seqs: f64, tokens_k: f64, truth: &OverheadTerms) -> FitPoint {
        let features = PointFeatures {
            ttft: [model_ms * 3.0, 3.0, seqs * 3.0, tokens_k, 3.0],
            tpot: [model_ms, 1.0, seqs, 0.1 * tokens_k, 1.0],
        };
        let mut p = FitPoint {
            id: id.into(),
            gpu: "h100".into(),
            features,
            ttft_ms: None,
            tpot_ms: None,
        };
        let (a, b) = predict(truth, &p);
        p.ttft_ms = Some(a);
        p.tpot_ms = Some(b);
        p
    }

    #[test]
    fn known_terms_are_recovered_from_exact_features() {
        let truth = OverheadTerms {
            step_ms: 3.0,
            per_seq_ms: 0.05,
            per_prefill_token_us: 20.0,
            decode_step_ms: 0.0,
            gpu_factor: [("h100".to_string(), 1.2)].into(),
        };
        let pts: Vec<FitPoint> = (0..24)
            .map(|i| {
                let i = i as f64;
                // Model time, sequences and prompt tokens vary independently, so every
                // term is identifiable (a batch size that grew with model time would not be).
                point(
                    &format!("p{i}"),
                    5.0 + 2.0 * i,
                    4.0 + 8.0 * ((3.0 * i) % 7.0),
                    1.0 + 3.0 * (i % 5.0),
                    &truth,
                )
            })
            .collect();
        let refs: Vec<&FitPoint> = pts.iter().collect();
        let before = mape(&OverheadTerms::default(), &refs);
        let got = fit_terms(&refs, &OverheadTerms::default());
        let after = mape(&got, &refs);
        assert!(before > 20.0, "{before}");
        assert!(after < 0.5, "after {after}: {got:?}");
        assert!((got.gpu_factor["h100"] - 1.2).abs() < 0.02, "{got:?}");
        // Every step here decodes, so only the sum of the step and decode-step costs counts.
        assert!(
            (got.step_ms + got.decode_step_ms - 3.0).abs() < 0.2,
            "{got:?}"
        );
        assert!((got.per_seq_ms - 0.05).abs() < 0.005, "{got:?}");
        assert!((got.per_prefill_token_us - 20.0).abs() < 1.0, "{got:?}");
    }
}
