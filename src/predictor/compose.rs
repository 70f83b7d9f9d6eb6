//! Vidur's composition of a stage time from per-layer operator times (vidur-behavior.md §7.6),
//! shared by every predictor that prices operators one by one (analytic, measured profiles).
//! The Vidur-tables predictor keeps its own copy of the sum so its float order stays bit-exact.

use std::sync::OnceLock;

use super::{BatchEntry, ExecutionTimePredictor, PredictorError, StageTime};

/// The per-token operators of one transformer layer, as Vidur profiles them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TokenOp {
    /// QKV projection.
    AttnPreProj,
    /// Attention output projection.
    AttnPostProj,
    /// Rotary embedding.
    AttnRope,
    /// Writing the new K/V into the paged cache.
    AttnKvCacheSave,
    /// MLP up (+ gate) projection.
    MlpUpProj,
    /// MLP down projection.
    MlpDownProj,
    /// MLP activation (SiLU·gate or GeLU).
    MlpAct,
    /// Norm before attention.
    InputLayernorm,
    /// Norm before the MLP.
    PostAttentionLayernorm,
    /// Residual add.
    Add,
}

impl TokenOp {
    /// Every op, in Vidur's profile order.
    pub const ALL: [TokenOp; 10] = [
        TokenOp::AttnPreProj,
        TokenOp::AttnPostProj,
        TokenOp::AttnRope,
        TokenOp::AttnKvCacheSave,
        TokenOp::MlpUpProj,
        TokenOp::MlpDownProj,
        TokenOp::MlpAct,
        TokenOp::InputLayernorm,
        TokenOp::PostAttentionLayernorm,
        TokenOp::Add,
    ];

    /// Vidur's name (`time_stats.<name>.median` in mlp.csv / attention.csv).
    pub fn name(self) -> &'static str {
        match self {
            TokenOp::AttnPreProj => "attn_pre_proj",
            TokenOp::AttnPostProj => "attn_post_proj",
            TokenOp::AttnRope => "attn_rope",
            TokenOp::AttnKvCacheSave => "attn_kv_cache_save",
            TokenOp::MlpUpProj => "mlp_up_proj",
            TokenOp::MlpDownProj => "mlp_down_proj",
            TokenOp::MlpAct => "mlp_act",
            TokenOp::InputLayernorm => "input_layernorm",
            TokenOp::PostAttentionLayernorm => "post_attention_layernorm",
            TokenOp::Add => "add",
        }
    }

    /// Parse a Vidur op name.
    pub fn from_name(name: &str) -> Option<TokenOp> {
        TokenOp::ALL.into_iter().find(|o| o.name() == name)
    }
}

/// Per-layer operator times in milliseconds for one pipeline stage's shard of the model.
/// Implementations apply their own rounding of token counts (Vidur tables round to 8).
pub trait OpModel: Send + Sync {
    /// One layer's time of a per-token op for a batch of `num_tokens` tokens (exact count).
    fn token_op_ms(&self, op: TokenOp, num_tokens: u32) -> Result<f64, PredictorError>;
    /// One layer's attention time for the batch members still prefilling.
    fn attn_prefill_ms(&self, batch: &[BatchEntry]) -> Result<f64, PredictorError>;
    /// One layer's attention time for the batch members decoding.
    fn attn_decode_ms(&self, batch: &[BatchEntry]) -> Result<f64, PredictorError>;
    /// One tensor-parallel all-reduce of `num_tokens` activations, launch overhead included.
    /// Only called when TP > 1.
    fn all_reduce_ms(&self, num_tokens: u32) -> Result<f64, PredictorError>;
    /// One pipeline send/recv of `num_tokens` activations. Only called when PP > 1.
    fn send_recv_ms(&self, num_tokens: u32) -> Result<f64, PredictorError>;
    /// Stage time outside the transformer layers (embedding on the first stage, LM head and
    /// sampling on the last, per-iteration CPU overhead), in ms. Vidur models none of these.
    fn stage_extra_ms(
        &self,
        _batch: &[BatchEntry],
        _stage: u32,
        _num_stages: u32,
    ) -> Result<f64, PredictorError> {
        Ok(0.0)
    }
    /// [`Self::stage_extra_ms`] split into named parts (for breakdowns only; the simulation
    /// uses the sum). The default reports the whole as one `outside_layers` part.
    fn stage_extra_parts_ms(
        &self,
        batch: &[BatchEntry],
        stage: u32,
        num_stages: u32,
    ) -> Result<Vec<(&'static str, f64)>, PredictorError> {
        Ok(vec![(
            "outside_layers",
            self.stage_extra_ms(batch, stage, num_stages)?,
        )])
    }
    /// A one-line description recorded in outputs.
    fn describe(&self) -> String;
}

/// One stage's time split by operator, in ms: each entry is an operator's time over all the
/// stage's layers (or, for the parts outside the layers, once). The entries sum to the stage's
/// `model_s` (× 1000) up to float rounding.
#[derive(Debug, Clone, PartialEq)]
pub struct StageBreakdown {
    /// Pipeline stage.
    pub stage: u32,
    /// `(operator, ms)` in a fixed order: the per-token ops ([`TokenOp::name`]),
    /// `attn_prefill`, `attn_decode`, `all_reduce` (TP > 1), `send_recv` (PP > 1, all but the
    /// last stage), then the parts of [`OpModel::stage_extra_parts_ms`].
    pub parts: Vec<(&'static str, f64)>,
}

impl StageBreakdown {
    /// The stage time, ms (the sum of the parts).
    pub fn total_ms(&self) -> f64 {
        self.parts.iter().map(|(_, ms)| ms).sum()
    }
}

/// Turns an [`OpModel`] into an [`ExecutionTimePredictor`] with Vidur's layer composition.
///
/// The part of a layer that depends only on the batch's token count (projections, MLP, norms,
/// all-reduce) is memoized per token count in blocks filled on first use, so a simulation pays
/// for each operator curve once per distinct token count instead of once per batch.
pub struct Composed<M> {
    /// The operator model.
    pub ops: M,
    /// Layers per pipeline stage (`L / PP`).
    pub layers_per_stage: u32,
    /// Pipeline stages.
    pub num_stages: u32,
    /// Tensor-parallel degree.
    pub tp: u32,
    /// Whether the model has a norm before the MLP (false for phi-2's parallel block).
    pub post_attn_norm: bool,
    token_ms: Vec<OnceLock<Box<[f64]>>>,
}

/// Token counts per memo block, and how many blocks (token counts past the last are priced
/// directly).
const BLOCK: u32 = 256;
const NUM_BLOCKS: usize = 256;

impl<M: OpModel> Composed<M> {
    /// Compose `ops` for a stage of `layers_per_stage` layers.
    pub fn new(
        ops: M,
        layers_per_stage: u32,
        num_stages: u32,
        tp: u32,
        post_attn_norm: bool,
    ) -> Self {
        Composed {
            ops,
            layers_per_stage,
            num_stages,
            tp,
            post_attn_norm,
            token_ms: (0..NUM_BLOCKS).map(|_| OnceLock::new()).collect(),
        }
    }

    /// One layer's time for everything that depends only on the token count `t`.
    fn token_part_ms(&self, t: u32) -> Result<f64, PredictorError> {
        let op = |o| self.ops.token_op_ms(o, t);
        let t_ar = if self.tp > 1 {
            self.ops.all_reduce_ms(t)?
        } else {
            0.0
        };
        let attn = op(TokenOp::AttnPreProj)?
            + op(TokenOp::AttnPostProj)?
            + op(TokenOp::AttnRope)?
            + op(TokenOp::AttnKvCacheSave)?
            + t_ar
            + op(TokenOp::InputLayernorm)?;
        let post_ln = if self.post_attn_norm {
            op(TokenOp::PostAttentionLayernorm)?
        } else {
            0.0
        };
        let mlp = op(TokenOp::MlpUpProj)?
            + op(TokenOp::MlpDownProj)?
            + op(TokenOp::MlpAct)?
            + t_ar
            + post_ln;
        Ok(attn + mlp + op(TokenOp::Add)?)
    }

    /// [`Self::token_part_ms`] through the memo.
    fn token_part_cached(&self, t: u32) -> Result<f64, PredictorError> {
        let b = (t / BLOCK) as usize;
        let Some(cell) = self.token_ms.get(b) else {
            return self.token_part_ms(t);
        };
        if let Some(block) = cell.get() {
            return Ok(block[(t % BLOCK) as usize]);
        }
        let first = b as u32 * BLOCK;
        let block = (first..first + BLOCK)
            .map(|n| self.token_part_ms(n))
            .collect::<Result<Box<[f64]>, _>>()?;
        Ok(cell.get_or_init(|| block)[(t % BLOCK) as usize])
    }
}

impl<M: OpModel> Composed<M> {
    /// One layer of the batch (all its operators), in ms.
    fn layer_ms(&self, batch: &[BatchEntry], t: u32) -> Result<f64, PredictorError> {
        Ok(self.token_part_cached(t)?
            + self.ops.attn_decode_ms(batch)?
            + self.ops.attn_prefill_ms(batch)?)
    }

    /// Stage `stage` given the layer time.
    fn stage_time(
        &self,
        batch: &[BatchEntry],
        t: u32,
        layer_ms: f64,
        stage: u32,
    ) -> Result<StageTime, PredictorError> {
        let t_pp = if self.num_stages > 1 && stage + 1 < self.num_stages {
            self.ops.send_recv_ms(t)?
        } else {
            0.0
        };
        let extra = self.ops.stage_extra_ms(batch, stage, self.num_stages)?;
        let model_s = (layer_ms * self.layers_per_stage as f64 + t_pp + extra) * 1e-3;
        Ok(StageTime {
            total_s: model_s,
            model_s,
        })
    }
}

impl<M: OpModel> Composed<M> {
    /// The time of every stage for `batch`, split by operator. Priced by the same operator
    /// calls as [`ExecutionTimePredictor::predict_stages`] (but summed in another order, so the
    /// totals agree up to float rounding); not used by the simulation.
    pub fn breakdown(&self, batch: &[BatchEntry]) -> Result<Vec<StageBreakdown>, PredictorError> {
        let t: u32 = batch.iter().map(|e| e.num_tokens).sum();
        let layers = self.layers_per_stage as f64;
        let mut per_layer: Vec<(&'static str, f64)> = Vec::new();
        for op in TokenOp::ALL {
            if op == TokenOp::PostAttentionLayernorm && !self.post_attn_norm {
                continue;
            }
            per_layer.push((op.name(), self.ops.token_op_ms(op, t)?));
        }
        per_layer.push(("attn_prefill", self.ops.attn_prefill_ms(batch)?));
        per_layer.push(("attn_decode", self.ops.attn_decode_ms(batch)?));
        if self.tp > 1 {
            // Two all-reduces per layer: after attention and after the MLP.
            per_layer.push(("all_reduce", 2.0 * self.ops.all_reduce_ms(t)?));
        }
        (0..self.num_stages)
            .map(|stage| {
                let mut parts: Vec<(&'static str, f64)> =
                    per_layer.iter().map(|&(n, ms)| (n, ms * layers)).collect();
                if self.num_stages > 1 && stage + 1 < self.num_stages {
                    parts.push(("send_recv", self.ops.send_recv_ms(t)?));
                }
                parts.extend(
                    self.ops
                        .stage_extra_parts_ms(batch, stage, self.num_stages)?
                        .into_iter()
                        .filter(|&(_, ms)| ms != 0.0),
                );
                Ok(StageBreakdown { stage, parts })
            })
            .collect()
    }
}

impl<M: OpModel> ExecutionTimePredictor for Composed<M> {
    fn predict(&self, batch: &[BatchEntry], stage: u32) -> Result<StageTime, PredictorError> {
        let t: u32 = batch.iter().map(|e| e.num_tokens).sum();
        let layer = self.layer_ms(batch, t)?;
        self.stage_time(batch, t, layer, stage)
    }

    fn predict_stages(
        &self,
        batch: &[BatchEntry],
        out: &mut [StageTime],
    ) -> Result<(), PredictorError> {
        let t: u32 = batch.iter().map(|e| e.num_tokens).sum();
        let layer = self.layer_ms(batch, t)?;
        for (s, o) in out.iter_mut().enumerate() {
            *o = self.stage_time(batch, t, layer, s as u32)?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.ops.describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{resolve_model, HardwareCatalog};
    use crate::predictor::analytic::{self, calibration::Calibration, AnalyticOptions, GpuInfo};

    #[test]
    fn breakdown_sums_to_the_stage_times() {
        let cal = Calibration::embedded();
        let hw = HardwareCatalog::embedded();
        let g = hw.gpu("h100").unwrap();
        let model = resolve_model("meta-llama/Llama-3.1-8B", std::path::Path::new("")).unwrap();
        let info = GpuInfo::from_catalog(g, 8, &cal);
        let entry = |num_tokens, num_processed_tokens, is_prefill_complete| BatchEntry {
            num_tokens,
            num_processed_tokens,
            is_prefill_complete,
        };
        let batches = [
            vec![entry(1, 1024, true); 64],
            vec![entry(512, 0, false); 8],
            vec![
                entry(300, 200, false),
                entry(1, 77, true),
                entry(1, 5000, true),
            ],
        ];
        for (tp, pp) in [(1, 1), (2, 1), (1, 2), (4, 4)] {
            let opts = AnalyticOptions {
                iteration_overhead_ms: 0.25,
                ..Default::default()
            };
            let c = analytic::build(&model, &info, tp, pp, &cal, opts).unwrap();
            for batch in &batches {
                let mut want = vec![StageTime::default(); pp as usize];
                c.predict_stages(batch, &mut want).unwrap();
                let got = c.breakdown(batch).unwrap();
                assert_eq!(got.len(), pp as usize);
                for (s, (b, w)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(b.stage, s as u32);
                    let w = w.model_s * 1e3;
                    assert!(
                        (b.total_ms() - w).abs() <= 1e-9 * w,
                        "TP{tp} PP{pp} stage {s}: {} vs {w}",
                        b.total_ms()
                    );
                    let has = |n| b.parts.iter().any(|(p, _)| *p == n);
                    assert_eq!(has("all_reduce"), tp > 1);
                    assert_eq!(has("send_recv"), s + 1 < pp as usize);
                    assert_eq!(has("embedding"), s == 0);
                    assert_eq!(has("lm_head_sampling"), s + 1 == pp as usize);
                    assert!(has("iteration_overhead"));
                }
            }
        }
    }
}
