//! Attention from a Vidur `attention.csv` (vidur-behavior.md §7.1–7.5): features, filters,
//! 2-D fits with O(1) tables over Vidur's prediction grids, and Vidur's per-batch lookup rules.

use std::path::Path;

use super::frame::{err, Frame};
use super::regress::{Curve, Extrapolation, Points, Ragged, Regressor};
use super::TokenTable;
use crate::catalog::ModelSpec;
use crate::predictor::{BatchEntry, PredictorError};

/// What shapes the attention tables and lookups.
pub(crate) struct AttentionSettings {
    pub tp: u32,
    pub block_size: u32,
    pub granularity: u32,
    pub max_kv: u32,
    pub max_batch_size: u32,
    pub max_chunk: u32,
    pub decode_overhead: f64,
    pub prefill_overhead: f64,
    pub regressor: Regressor,
    pub extrapolation: Extrapolation,
    pub max_tokens: u32,
}

/// Fitted attention: decode over (batch size, KV), prefill over (chunk, KV), KV-cache save over
/// tokens.
#[derive(Debug, Clone)]
pub(crate) struct AttentionProfile {
    decode: Ragged,
    prefill: Ragged,
    /// decode_table[b · kv_cols + kv/g] for b in 0..=max_batch_size (row 0 unused).
    decode_table: Vec<f64>,
    /// prefill_table[(kv/g) · chunk_cols + c] for c in 0..=max_chunk.
    prefill_table: Vec<f64>,
    kv_cols: usize,
    chunk_cols: usize,
    pub kv_save: TokenTable,
    granularity: u32,
    decode_overhead: f64,
    prefill_overhead: f64,
}

const FILTER_COLS: [&str; 5] = [
    "n_embd",
    "n_q_head",
    "n_kv_head",
    "block_size",
    "num_tensor_parallel_workers",
];

impl AttentionProfile {
    /// Read `path` and fit the model's rows (Vidur's filter: `n_embd, n_q_head, n_kv_head,
    /// block_size` and TP).
    pub fn load(
        path: &Path,
        model: &ModelSpec,
        s: &AttentionSettings,
    ) -> Result<AttentionProfile, PredictorError> {
        let f = Frame::read(path)?;
        let fc: Vec<usize> = FILTER_COLS
            .iter()
            .map(|c| f.col(c))
            .collect::<Result<_, _>>()?;
        let want = [
            model.embedding_dim as f64,
            model.num_q_heads as f64,
            model.num_kv_heads as f64,
            s.block_size as f64,
            s.tp as f64,
        ];
        let all: Vec<usize> = (0..f.rows.len()).collect();
        let shape: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&r| (0..3).all(|i| f.num(r, fc[i]) == Some(want[i])))
            .collect();
        let named: Vec<(&str, usize)> = FILTER_COLS.iter().copied().zip(fc.clone()).collect();
        if shape.is_empty() {
            return Err(err(
                path,
                format!(
                    "no rows for this model (n_embd={}, n_q_head={}, n_kv_head={}); the file has {}",
                    want[0],
                    want[1],
                    want[2],
                    f.distinct(&all, &named[..3]).join("; ")
                ),
            ));
        }
        let rows: Vec<usize> = shape
            .iter()
            .copied()
            .filter(|&r| f.num(r, fc[3]) == Some(want[3]) && f.num(r, fc[4]) == Some(want[4]))
            .collect();
        if rows.is_empty() {
            return Err(err(
                path,
                format!(
                    "has rows for this model with {} but not with block_size={} and TP {}",
                    f.distinct(&shape, &named[3..]).join("; "),
                    s.block_size,
                    s.tp
                ),
            ));
        }

        let bcol = f.col("batch_size")?;
        let ccol = f.col("prefill_chunk_size")?;
        let kcol = f.col("kv_cache_size")?;
        let feature = |r: usize, c: usize, name: &str| {
            f.num(r, c).ok_or_else(|| {
                err(
                    path,
                    format!(
                        "a row for this model has no numeric '{name}': {}",
                        row_text(&f, r)
                    ),
                )
            })
        };
        let target = |r: usize, name: &str, zero_if_missing: bool| -> Result<f64, PredictorError> {
            let col = format!("time_stats.{name}.median");
            match f.find(&col) {
                None if zero_if_missing => Ok(0.0),
                None => Err(err(path, format!("missing column '{col}'"))),
                Some(c) => match f.time_ms(r, c)? {
                    Some(v) => Ok(v),
                    None if zero_if_missing => Ok(0.0),
                    None => Err(err(
                        path,
                        format!(
                            "line {}: a row for this model has no '{col}': {}",
                            f.lines[r],
                            row_text(&f, r)
                        ),
                    )),
                },
            }
        };
        let mut decode = Vec::new();
        let mut prefill = Vec::new();
        let mut kv_save = Vec::new();
        for &r in &rows {
            let b = feature(r, bcol, "batch_size")?;
            let c = feature(r, ccol, "prefill_chunk_size")?;
            let kv = feature(r, kcol, "kv_cache_size")?;
            // Vidur's derived features: num_tokens = max(chunk, batch), is_decode = chunk == 0.
            kv_save.push((c.max(b), target(r, "attn_kv_cache_save", true)?));
            if c == 0.0 {
                decode.push((b, kv, target(r, "attn_decode", false)?));
            } else {
                prefill.push((c, kv, target(r, "attn_prefill", false)?));
            }
        }
        if decode.is_empty() || prefill.is_empty() {
            return Err(err(
                path,
                format!(
                    "the rows for this model and TP have no {} rows (prefill_chunk_size {})",
                    if decode.is_empty() {
                        "decode"
                    } else {
                        "prefill"
                    },
                    if decode.is_empty() { "== 0" } else { "> 0" }
                ),
            ));
        }
        let decode = Ragged::fit(&decode);
        let prefill = Ragged::fit(&prefill);
        let kv_save = TokenTable::build(
            Curve::fit(&Points::group(kv_save), s.regressor, s.extrapolation),
            s.max_tokens,
        );

        let g = s.granularity.max(1);
        let kv_cols = (s.max_kv / g) as usize + 1;
        let kv_grid: Vec<f64> = (0..kv_cols).map(|i| (i as u32 * g) as f64).collect();
        // Decode: rows b = 0..=max_b (0 unused), columns kv.
        let max_b = s.max_batch_size.max(1) as usize;
        let mut decode_table = vec![0.0; (max_b + 1) * kv_cols];
        let bw: Vec<_> = (0..=max_b).map(|b| decode.weights(b as f64)).collect();
        for (k, &x) in kv_grid.iter().enumerate() {
            let vals: Vec<f64> = (0..decode.num_rows()).map(|i| decode.row(i, x)).collect();
            for (b, &(i, j, t)) in bw.iter().enumerate().skip(1) {
                decode_table[b * kv_cols + k] = Ragged::blend(vals[i], vals[j], t);
            }
        }
        // Prefill: rows kv, columns chunk c = 0..=max_chunk.
        let chunk_cols = s.max_chunk.max(1) as usize + 1;
        let cw: Vec<_> = (0..chunk_cols).map(|c| prefill.weights(c as f64)).collect();
        let mut prefill_table = vec![0.0; kv_cols * chunk_cols];
        for (k, &x) in kv_grid.iter().enumerate() {
            let vals: Vec<f64> = (0..prefill.num_rows()).map(|i| prefill.row(i, x)).collect();
            let out = &mut prefill_table[k * chunk_cols..(k + 1) * chunk_cols];
            for (o, &(i, j, t)) in out.iter_mut().zip(&cw) {
                *o = Ragged::blend(vals[i], vals[j], t);
            }
        }
        let gqa = model.is_gqa();
        Ok(AttentionProfile {
            decode,
            prefill,
            decode_table,
            prefill_table,
            kv_cols,
            chunk_cols,
            kv_save,
            granularity: g,
            decode_overhead: if gqa { s.decode_overhead } else { 0.0 },
            prefill_overhead: if gqa { s.prefill_overhead } else { 0.0 },
        })
    }

    /// The decode surface at (batch size, KV): the table on Vidur's grid, the fit elsewhere.
    pub fn decode_at(&self, n: u32, kv: u32) -> f64 {
        let (b, k) = (n as usize, (kv / self.granularity) as usize);
        if kv.is_multiple_of(self.granularity) && b >= 1 && k < self.kv_cols {
            if let Some(v) = self.decode_table.get(b * self.kv_cols + k) {
                return *v;
            }
        }
        self.decode.eval(n as f64, kv as f64)
    }

    /// The prefill surface at (KV, chunk).
    pub fn prefill_at(&self, kv: u32, c: u32) -> f64 {
        let (k, c_ix) = ((kv / self.granularity) as usize, c as usize);
        if kv.is_multiple_of(self.granularity) && k < self.kv_cols && c_ix < self.chunk_cols {
            return self.prefill_table[k * self.chunk_cols + c_ix];
        }
        self.prefill.eval(c as f64, kv as f64)
    }

    /// Vidur's decode rule: `kv = ceil_to(int(mean(processed)), g)`, the batch as one lookup,
    /// `× (1 + overhead·[n > 1])` (overhead only for GQA models).
    pub fn decode_ms(&self, batch: &[BatchEntry]) -> f64 {
        let Some((n, kv)) = crate::predictor::vidur_decode_key(batch, self.granularity) else {
            return 0.0;
        };
        self.decode_at(n, kv) * (1.0 + self.decode_overhead * (n > 1) as u32 as f64)
    }

    /// Vidur's prefill rule (the "sqrt aggregation trick"): summed KV rounded up per request,
    /// `C = round(sqrt(Σ chunk²))` with ties to even, `× (1 + overhead·[n > 1])` (GQA only).
    pub fn prefill_ms(&self, batch: &[BatchEntry]) -> f64 {
        let Some((n, kv_sum, c)) = crate::predictor::vidur_prefill_key(batch, self.granularity)
        else {
            return 0.0;
        };
        self.prefill_at(kv_sum, c) * (1.0 + self.prefill_overhead * (n > 1) as u32 as f64)
    }
}

fn row_text(f: &Frame, r: usize) -> String {
    f.header
        .iter()
        .zip(&f.rows[r])
        .filter(|(h, _)| !h.starts_with("time_stats."))
        .map(|(h, c)| format!("{h}={c}"))
        .collect::<Vec<_>>()
        .join(", ")
}
