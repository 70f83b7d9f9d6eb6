//! Serving overheads around the kernels: what a real engine spends per step beyond the GPU
//! time of the forward pass (scheduling, input preparation, output processing, kernel launches)
//! and how much slower its kernels run than measured in isolation.
//!
//! The terms are fitted against end-to-end measurements by `vidur-search calibrate` and stored in
//! the calibration file's `serving` section, one set per engine. [`WithOverheads`] wraps any
//! predictor and adds them to every step:
//!
//! ```text
//! stage time = factor(gpu) · model time                         (every stage)
//!            + step_ms + per_seq_ms · sequences
//!            + per_prefill_token_us · prompt tokens / 1000
//!            + decode_step_ms · [the step decodes]              (first stage only: the CPU
//!                                                                 work happens once per step)
//! ```
//!
//! Every term is non-negative and the factor is at least [`MIN_GPU_FACTOR`]; a missing section
//! means no overheads (Vidur's `skip_cpu_overhead_modeling`), so compat mode never sees them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{BatchEntry, ExecutionTimePredictor, PredictorError, StageTime};

/// Lowest GPU-time factor `calibrate` may fit: an engine's kernels never run faster than the
/// isolated measurements the kernel fits come from (no efficiency above 1). A floor below 1 let
/// the fit trade kernel time for TTFT (0.8 on H100 for vLLM and TRT-LLM), which made TPOT
/// worse in and out of sample and favoured the one measured GPU over every other.
pub const MIN_GPU_FACTOR: f64 = 1.0;
/// Highest GPU-time factor `calibrate` may fit.
pub const MAX_GPU_FACTOR: f64 = 2.0;

/// The engine key used when a calibration has no entry for the engine asked for.
pub const DEFAULT_ENGINE: &str = "default";

/// A serving term outside what is physically plausible.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field} must be {expected}, got {got}")]
pub struct ImplausibleTerm {
    /// The term's path in the calibration file, e.g. `serving.engines.vllm.step_ms`.
    pub field: String,
    /// What it must be.
    pub expected: String,
    /// What it is.
    pub got: f64,
}

/// One engine's overhead terms.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverheadTerms {
    /// CPU time of every step (schedule, prepare inputs, process outputs), ms.
    #[serde(default)]
    pub step_ms: f64,
    /// CPU time per sequence in the step (its slot in the input tensors, its sampled token,
    /// its detokenization and streaming), ms.
    #[serde(default)]
    pub per_seq_ms: f64,
    /// Time per prompt token in the step (input preparation of prefill chunks), µs.
    #[serde(default)]
    pub per_prefill_token_us: f64,
    /// Launch cost of a step that decodes (CUDA-graph replay, sampler launches), ms.
    #[serde(default)]
    pub decode_step_ms: f64,
    /// Model (GPU) time multiplier by GPU name as the calibration names GPUs (`h100`, ...):
    /// how much slower the engine's kernels run than the kernel fits say. Absent GPUs get 1.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub gpu_factor: BTreeMap<String, f64>,
}

impl OverheadTerms {
    /// Whether the terms change nothing.
    pub fn is_zero(&self) -> bool {
        self.step_ms == 0.0
            && self.per_seq_ms == 0.0
            && self.per_prefill_token_us == 0.0
            && self.decode_step_ms == 0.0
            && self.gpu_factor.values().all(|f| *f == 1.0)
    }

    /// Check the terms are physically plausible; the error names the term.
    pub fn check(&self, engine: &str) -> Result<(), ImplausibleTerm> {
        for (name, v) in [
            ("step_ms", self.step_ms),
            ("per_seq_ms", self.per_seq_ms),
            ("per_prefill_token_us", self.per_prefill_token_us),
            ("decode_step_ms", self.decode_step_ms),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ImplausibleTerm {
                    field: format!("serving.engines.{engine}.{name}"),
                    expected: "a non-negative number".into(),
                    got: v,
                });
            }
        }
        for (gpu, f) in &self.gpu_factor {
            if !(MIN_GPU_FACTOR..=MAX_GPU_FACTOR).contains(f) {
                return Err(ImplausibleTerm {
                    field: format!("serving.engines.{engine}.gpu_factor.{gpu}"),
                    expected: format!("in [{MIN_GPU_FACTOR}, {MAX_GPU_FACTOR}]"),
                    got: *f,
                });
            }
        }
        Ok(())
    }

    /// The CPU-side time of one step with these members, ms.
    pub fn step_overhead_ms(&self, batch: &[BatchEntry]) -> f64 {
        let f = StepFeatures::of(batch);
        self.step_ms
            + self.per_seq_ms * f.seqs
            + self.per_prefill_token_us * 1e-3 * f.prefill_tokens
            + self.decode_step_ms * f.decodes
    }
}

/// What the overhead terms multiply in one step: sequences, prompt tokens, and whether it
/// decodes (1 or 0).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepFeatures {
    /// Sequences in the step.
    pub seqs: f64,
    /// Prompt tokens processed in the step.
    pub prefill_tokens: f64,
    /// 1 when any member decodes, else 0.
    pub decodes: f64,
}

impl StepFeatures {
    /// The features of a batch.
    pub fn of(batch: &[BatchEntry]) -> StepFeatures {
        let mut f = StepFeatures {
            seqs: batch.len() as f64,
            ..Default::default()
        };
        for e in batch {
            if e.is_prefill_complete {
                f.decodes = 1.0;
            } else {
                f.prefill_tokens += e.num_tokens as f64;
            }
        }
        f
    }
}

/// Where fitted terms came from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServingProvenance {
    /// The tool and command that fitted them.
    #[serde(default)]
    pub generated_by: String,
    /// Measurement files and how many of their points were used.
    #[serde(default)]
    pub measured: Vec<String>,
    /// Points fitted on, by engine.
    #[serde(default)]
    pub points: BTreeMap<String, usize>,
    /// Error before and after the fit and the leave-one-group-out estimate, by engine and
    /// metric (MAPE, %).
    #[serde(default)]
    pub error_pct: BTreeMap<String, BTreeMap<String, f64>>,
}

/// The `serving` section of a calibration file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServingCalibration {
    /// Terms by engine (`vllm`, `sglang`, `trtllm`, ...) and [`DEFAULT_ENGINE`] for the rest.
    pub engines: BTreeMap<String, OverheadTerms>,
    /// How they were obtained.
    #[serde(default)]
    pub provenance: ServingProvenance,
}

impl ServingCalibration {
    /// The terms for `engine` (its own, else the default entry), if any.
    pub fn terms(&self, engine: Option<&str>) -> Option<(&str, &OverheadTerms)> {
        engine
            .and_then(|e| self.engines.get_key_value(e))
            .or_else(|| self.engines.get_key_value(DEFAULT_ENGINE))
            .map(|(k, t)| (k.as_str(), t))
    }

    /// The engines with terms (with [`DEFAULT_ENGINE`] if the calibration has that entry).
    pub fn engine_names(&self) -> std::collections::BTreeSet<String> {
        self.engines.keys().cloned().collect()
    }

    /// Check every engine's terms.
    pub fn check(&self) -> Result<(), ImplausibleTerm> {
        self.engines.iter().try_for_each(|(e, t)| t.check(e))
    }
}

/// A predictor with serving overheads added (see the module doc).
pub struct WithOverheads<P> {
    inner: P,
    terms: OverheadTerms,
    factor: f64,
    label: String,
}

impl<P: ExecutionTimePredictor> WithOverheads<P> {
    /// Wrap `inner` with `terms` for GPU `gpu` (the calibration's name for it); `engine` is
    /// recorded in [`ExecutionTimePredictor::describe`].
    pub fn new(inner: P, terms: &OverheadTerms, gpu: &str, engine: &str) -> Self {
        let factor = terms.gpu_factor.get(gpu).copied().unwrap_or(1.0);
        WithOverheads {
            inner,
            terms: terms.clone(),
            factor,
            label: format!(
                "{engine} overheads: step {:.3} ms, per seq {:.4} ms, per prompt token {:.3} us, decode step {:.3} ms, GPU factor {factor:.3}",
                terms.step_ms, terms.per_seq_ms, terms.per_prefill_token_us, terms.decode_step_ms
            ),
        }
    }

    fn adjust(&self, batch: &[BatchEntry], stage: u32, t: &mut StageTime) {
        let extra_model = t.model_s * (self.factor - 1.0);
        t.model_s += extra_model;
        t.total_s += extra_model;
        if stage == 0 {
            t.total_s += self.terms.step_overhead_ms(batch) * 1e-3;
        }
    }
}

impl<P: ExecutionTimePredictor> ExecutionTimePredictor for WithOverheads<P> {
    fn predict(&self, batch: &[BatchEntry], stage: u32) -> Result<StageTime, PredictorError> {
        let mut t = self.inner.predict(batch, stage)?;
        self.adjust(batch, stage, &mut t);
        Ok(t)
    }

    fn predict_stages(
        &self,
        batch: &[BatchEntry],
        out: &mut [StageTime],
    ) -> Result<(), PredictorError> {
        self.inner.predict_stages(batch, out)?;
        for (s, t) in out.iter_mut().enumerate() {
            self.adjust(batch, s as u32, t);
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("{}; {}", self.inner.describe(), self.label)
    }
}

impl ExecutionTimePredictor for Box<dyn ExecutionTimePredictor> {
    fn predict(&self, batch: &[BatchEntry], stage: u32) -> Result<StageTime, PredictorError> {
        (**self).predict(batch, stage)
    }

    fn predict_stages(
        &self,
        batch: &[BatchEntry],
        out: &mut [StageTime],
    ) -> Result<(), PredictorError> {
        (**self).predict_stages(batch, out)
    }

    fn describe(&self) -> String {
        (**self).describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Flat;
    impl ExecutionTimePredictor for Flat {
        fn predict(&self, _: &[BatchEntry], _: u32) -> Result<StageTime, PredictorError> {
            Ok(StageTime {
                total_s: 0.010,
                model_s: 0.010,
            })
        }
        fn describe(&self) -> String {
            "flat".into()
        }
    }

    fn entry(tokens: u32, done: bool) -> BatchEntry {
        BatchEntry {
            num_tokens: tokens,
            num_processed_tokens: 100,
            is_prefill_complete: done,
        }
    }

    #[test]
    fn overheads_add_cpu_time_once_and_scale_every_stage() {
        let terms = OverheadTerms {
            step_ms: 2.0,
            per_seq_ms: 0.1,
            per_prefill_token_us: 10.0,
            decode_step_ms: 1.0,
            gpu_factor: [("h100".to_string(), 1.5)].into(),
        };
        let p = WithOverheads::new(Flat, &terms, "h100", "vllm");
        let batch = [entry(500, false), entry(1, true), entry(1, true)];
        let mut out = [StageTime::default(); 2];
        p.predict_stages(&batch, &mut out).unwrap();
        // 10 ms × 1.5 + 2 + 3 × 0.1 + 500 × 0.01 + 1.
        assert!((out[0].total_s * 1e3 - (15.0 + 2.0 + 0.3 + 5.0 + 1.0)).abs() < 1e-9);
        assert!((out[0].model_s * 1e3 - 15.0).abs() < 1e-9);
        assert!((out[1].total_s * 1e3 - 15.0).abs() < 1e-9);
        assert_eq!(p.predict(&batch, 0).unwrap(), out[0]);
        // Another GPU keeps factor 1; a prefill-only step pays no decode launch.
        let q = WithOverheads::new(Flat, &terms, "a100", "vllm");
        let t = q.predict(&[entry(100, false)], 0).unwrap();
        assert!((t.total_s * 1e3 - (10.0 + 2.0 + 0.1 + 1.0)).abs() < 1e-9);
    }

    #[test]
    fn implausible_terms_are_rejected_by_name() {
        let mut t = OverheadTerms {
            step_ms: -1.0,
            ..Default::default()
        };
        assert!(t.check("vllm").unwrap_err().field == "serving.engines.vllm.step_ms");
        t.step_ms = 1.0;
        t.gpu_factor.insert("h100".into(), 0.5);
        assert!(t.check("vllm").unwrap_err().field == "serving.engines.vllm.gpu_factor.h100");
    }

    #[test]
    fn engine_terms_fall_back_to_the_default_entry() {
        let mut s = ServingCalibration::default();
        assert!(s.terms(Some("vllm")).is_none());
        s.engines
            .insert(DEFAULT_ENGINE.into(), OverheadTerms::default());
        s.engines.insert(
            "sglang".into(),
            OverheadTerms {
                step_ms: 1.0,
                ..Default::default()
            },
        );
        assert_eq!(s.terms(Some("vllm")).unwrap().0, DEFAULT_ENGINE);
        assert_eq!(s.terms(Some("sglang")).unwrap().1.step_ms, 1.0);
        assert_eq!(s.terms(None).unwrap().0, DEFAULT_ENGINE);
    }
}
