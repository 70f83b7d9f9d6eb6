//! The profile predictor: per-operator times fitted on a Vidur-format profiling folder
//! (vidur-behavior.md §7.1–7.5), composed into stage times by [`Composed`].
//!
//! The folder holds `compute/<device>/<org>/<model>/mlp.csv` (and `attention.csv` beside it) and
//! `network/<network_device>/{all_reduce,send_recv}.csv`, as Vidur's `data/profiling/` does
//! (`../shared/data/vidur-profiling` ships every file except the attention.csv ones). Rows are
//! read and deduplicated like pandas, filtered exactly as Vidur filters them, and each op gets a
//! deterministic regressor ([`Regressor`], default piecewise-linear) that is evaluated once into
//! O(1) tables over Vidur's prediction grids. Lookups follow Vidur's rules: token ops at
//! `ceil_to(T, 8)`, `attn_kv_cache_save` at the exact `T`, decode at the rounded mean KV, prefill
//! by the sqrt aggregation trick. Keys past the tables are evaluated from the fit (extrapolated)
//! rather than failing as Vidur's KeyError does.
//!
//! When the model has no `attention.csv`, an attention fallback [`OpModel`] (e.g. the analytic
//! predictor) can price `attn_prefill`, `attn_decode` and `attn_kv_cache_save`.

mod attention;
#[cfg(test)]
mod compare;
mod frame;
mod regress;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use attention::{AttentionProfile, AttentionSettings};
use frame::{err, Frame};
use regress::{Curve, Points};
pub use regress::{Extrapolation, Regressor};

use super::{BatchEntry, Composed, OpModel, PredictorError, TokenOp};
use crate::catalog::{ModelSpec, NodeSpec};

/// Knobs of the profile predictor; the defaults are Vidur's.
#[derive(Clone)]
pub struct ProfileOptions {
    /// The regressor fitted per op (default: the best on held-out rows, see [`Regressor`]).
    pub regressor: Regressor,
    /// How fits continue past the largest measured size.
    pub extrapolation: Extrapolation,
    /// Token-op tables cover num_tokens 0..=this (4096; Vidur: `prediction_max_tokens_per_request`,
    /// × `prediction_max_batch_size` for Orca). Larger keys are evaluated from the fit, so this
    /// only trades memory for lookup speed.
    pub max_tokens: u32,
    /// Attention tables cover KV 0..=this in steps of the granularity (Vidur's
    /// `prediction_max_tokens_per_request`, 4096); larger KV is evaluated from the fit.
    pub max_kv_tokens: u32,
    /// Decode table batch sizes 1..=this (Vidur's `prediction_max_batch_size`, 128); larger
    /// batches are evaluated from the fit.
    pub max_batch_size: u32,
    /// Prefill table chunk sizes 1..=this (Vidur's `prediction_max_prefill_chunk_size`, 4096);
    /// larger chunks are evaluated from the fit.
    pub max_prefill_chunk_size: u32,
    /// KV granularity of the attention lookups (64).
    pub kv_cache_prediction_granularity: u32,
    /// Decode batching overhead (0.1, GQA models only).
    pub attention_decode_batching_overhead_fraction: f64,
    /// Prefill batching overhead (0.1, GQA models only).
    pub attention_prefill_batching_overhead_fraction: f64,
    /// Added to every all-reduce (0.02 ms).
    pub nccl_cpu_launch_overhead_ms: f64,
    /// Added per device^1.25 to every all-reduce (0.0 ms).
    pub nccl_cpu_skew_overhead_per_device_ms: f64,
    /// Devices per node, deciding whether send/recv is inter-node (`TP·PP >` this); `None`
    /// takes the built-in node SKU named by `network_device`.
    pub num_devices_per_node: Option<u32>,
    /// Prices attention (`attn_prefill`, `attn_decode`, `attn_kv_cache_save`) when the model
    /// has no `attention.csv`. Without it a missing attention.csv is an error.
    pub attention_fallback: Option<Arc<dyn OpModel>>,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        ProfileOptions {
            regressor: Regressor::default(),
            extrapolation: Extrapolation::default(),
            max_tokens: 4096,
            max_kv_tokens: 4096,
            max_batch_size: 128,
            max_prefill_chunk_size: 4096,
            kv_cache_prediction_granularity: 64,
            attention_decode_batching_overhead_fraction: 0.1,
            attention_prefill_batching_overhead_fraction: 0.1,
            nccl_cpu_launch_overhead_ms: 0.02,
            nccl_cpu_skew_overhead_per_device_ms: 0.0,
            num_devices_per_node: None,
            attention_fallback: None,
        }
    }
}

impl std::fmt::Debug for ProfileOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileOptions")
            .field("regressor", &self.regressor)
            .field("extrapolation", &self.extrapolation)
            .field("max_tokens", &self.max_tokens)
            .field("max_kv_tokens", &self.max_kv_tokens)
            .field("max_batch_size", &self.max_batch_size)
            .field("max_prefill_chunk_size", &self.max_prefill_chunk_size)
            .field(
                "kv_cache_prediction_granularity",
                &self.kv_cache_prediction_granularity,
            )
            .field(
                "attention_decode_batching_overhead_fraction",
                &self.attention_decode_batching_overhead_fraction,
            )
            .field(
                "attention_prefill_batching_overhead_fraction",
                &self.attention_prefill_batching_overhead_fraction,
            )
            .field(
                "nccl_cpu_launch_overhead_ms",
                &self.nccl_cpu_launch_overhead_ms,
            )
            .field(
                "nccl_cpu_skew_overhead_per_device_ms",
                &self.nccl_cpu_skew_overhead_per_device_ms,
            )
            .field("num_devices_per_node", &self.num_devices_per_node)
            .field(
                "attention_fallback",
                &self.attention_fallback.as_ref().map(|m| m.describe()),
            )
            .finish()
    }
}

/// A fitted curve and its values at 0..=max (index = num_tokens).
#[derive(Debug, Clone)]
pub(crate) struct TokenTable {
    values: Vec<f64>,
    curve: Curve,
}

impl TokenTable {
    fn build(curve: Curve, max: u32) -> TokenTable {
        let values = (0..=max).map(|n| curve.eval(n as f64)).collect();
        TokenTable { values, curve }
    }

    /// The value at `n` tokens: O(1) within the table, the fit past it.
    #[inline]
    pub fn get(&self, n: u32) -> f64 {
        match self.values.get(n as usize) {
            Some(v) => *v,
            None => self.curve.eval(n as f64),
        }
    }
}

/// Where attention times come from.
#[derive(Clone)]
enum Attention {
    Profiled(Box<AttentionProfile>),
    Fallback(Arc<dyn OpModel>),
}

/// Per-operator times fitted on Vidur-format profiles for one model × device × TP × PP.
#[derive(Clone)]
pub struct ProfilePredictor {
    dir: PathBuf,
    device: String,
    network_device: String,
    model: ModelSpec,
    tp: u32,
    pp: u32,
    regressor: Regressor,
    /// Indexed like [`TokenOp::ALL`]; `attn_kv_cache_save` lives with the attention.
    ops: Vec<Option<TokenTable>>,
    all_reduce: Option<TokenTable>,
    send_recv: Option<TokenTable>,
    ar_overhead_ms: f64,
    attention: Attention,
}

impl std::fmt::Debug for ProfilePredictor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&OpModel::describe(self))
    }
}

/// The model-shape columns of mlp.csv, with the model's values.
fn model_keys(model: &ModelSpec) -> [(&'static str, f64); 6] {
    [
        ("n_head", model.num_q_heads as f64),
        ("n_kv_head", model.num_kv_heads as f64),
        ("n_embd", model.embedding_dim as f64),
        ("n_expanded_embd", model.mlp_hidden_dim as f64),
        ("vocab_size", model.vocab_size as f64),
        ("use_gated_mlp", model.use_gated_mlp as u32 as f64),
    ]
}

/// Names of the entries of `dir` that are folders (or files when `files`), sorted.
fn entries(dir: &Path, files: bool) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().is_file() == files)
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "nothing".into()
    } else {
        v.join(", ")
    }
}

fn fmt_num(v: f64) -> String {
    format!("{v}")
}

impl ProfilePredictor {
    /// Fit the profiles in `dir` for `model` on `device` (compute) and `network_device`
    /// (collectives) at TP `tp` and PP `pp`; `block_size` filters attention.csv.
    #[allow(clippy::too_many_arguments)]
    pub fn load(
        dir: &Path,
        device: &str,
        network_device: &str,
        model: &ModelSpec,
        tp: u32,
        pp: u32,
        block_size: u32,
        opts: &ProfileOptions,
    ) -> Result<Self, PredictorError> {
        if tp == 0 || pp == 0 {
            return Err(err(
                dir,
                format!("TP and PP must be ≥ 1 (got TP {tp}, PP {pp})"),
            ));
        }
        if !dir.is_dir() {
            return Err(err(dir, "profile folder not found"));
        }
        let compute = dir.join("compute");
        let dev_dir = compute.join(device);
        if !dev_dir.is_dir() {
            return Err(err(
                &dev_dir,
                format!(
                    "no compute profiles for device '{device}' (compute/ has: {})",
                    list(&entries(&compute, false))
                ),
            ));
        }
        let model_dir = dev_dir.join(&model.name);
        if !model_dir.is_dir() {
            let mut models = Vec::new();
            for org in entries(&dev_dir, false) {
                for m in entries(&dev_dir.join(&org), false) {
                    models.push(format!("{org}/{m}"));
                }
            }
            return Err(err(
                &model_dir,
                format!(
                    "no compute profiles for model '{}' on '{device}' (compute/{device}/ has: {})",
                    model.name,
                    list(&models)
                ),
            ));
        }
        let mlp_path = model_dir.join("mlp.csv");
        if !mlp_path.is_file() {
            return Err(err(
                &mlp_path,
                format!(
                    "missing mlp.csv (the folder has: {})",
                    list(&entries(&model_dir, true))
                ),
            ));
        }
        let points = mlp_points(&Frame::read(&mlp_path)?, model, tp)?;
        let fit = |p: &Points| Curve::fit(p, opts.regressor, opts.extrapolation);
        let ops: Vec<Option<TokenTable>> = points
            .iter()
            .map(|p| {
                p.as_ref()
                    .map(|p| TokenTable::build(fit(p), opts.max_tokens))
            })
            .collect();

        let attn_path = model_dir.join("attention.csv");
        let attention = if attn_path.is_file() {
            let s = AttentionSettings {
                tp,
                block_size,
                granularity: opts.kv_cache_prediction_granularity.max(1),
                max_kv: opts.max_kv_tokens,
                max_batch_size: opts.max_batch_size,
                max_chunk: opts.max_prefill_chunk_size,
                decode_overhead: opts.attention_decode_batching_overhead_fraction,
                prefill_overhead: opts.attention_prefill_batching_overhead_fraction,
                regressor: opts.regressor,
                extrapolation: opts.extrapolation,
                max_tokens: opts.max_tokens,
            };
            Attention::Profiled(Box::new(AttentionProfile::load(&attn_path, model, &s)?))
        } else if let Some(fb) = &opts.attention_fallback {
            Attention::Fallback(fb.clone())
        } else {
            return Err(err(
                &attn_path,
                "missing attention.csv (Vidur's attention profile; pass an attention fallback \
                 predictor to price attention without it)",
            ));
        };

        let net_dir = dir.join("network").join(network_device);
        let net_file = |name: &str| -> Result<Frame, PredictorError> {
            if !net_dir.is_dir() {
                return Err(err(
                    &net_dir,
                    format!(
                        "no network profiles for '{network_device}' (network/ has: {})",
                        list(&entries(&dir.join("network"), false))
                    ),
                ));
            }
            let p = net_dir.join(name);
            if !p.is_file() {
                return Err(err(
                    &p,
                    format!(
                        "missing {name} (network/{network_device}/ has: {})",
                        list(&entries(&net_dir, true))
                    ),
                ));
            }
            Frame::read(&p)
        };
        let e = model.embedding_dim as f64;
        let all_reduce = if tp > 1 {
            let f = net_file("all_reduce.csv")?;
            let p = network_points(&f, "all_reduce", Some(tp), tp, e, "")?;
            Some(TokenTable::build(fit(&p), opts.max_tokens))
        } else {
            None
        };
        let send_recv = if pp > 1 {
            let per_node = match opts.num_devices_per_node {
                Some(n) => n,
                None => {
                    NodeSpec::builtin(network_device)
                        .map_err(|e| {
                            err(
                                &net_dir,
                                format!(
                                "{e}; set ProfileOptions::num_devices_per_node to decide whether \
                                 send/recv crosses nodes"
                            ),
                            )
                        })?
                        .num_devices_per_node
                }
            };
            let multi_node = tp * pp > per_node;
            let f = net_file("send_recv.csv")?;
            let why = format!(
                " (TP·PP = {} {} {per_node} devices per node: {})",
                tp * pp,
                if multi_node { ">" } else { "≤" },
                if multi_node {
                    "inter-node"
                } else {
                    "intra-node"
                }
            );
            let p = network_points(
                &f,
                "send_recv",
                None,
                if multi_node { 1 } else { 2 },
                e,
                &why,
            )?;
            Some(TokenTable::build(fit(&p), opts.max_tokens))
        } else {
            None
        };

        Ok(ProfilePredictor {
            dir: dir.to_path_buf(),
            device: device.to_string(),
            network_device: network_device.to_string(),
            model: model.clone(),
            tp,
            pp,
            regressor: opts.regressor,
            ops,
            all_reduce,
            send_recv,
            ar_overhead_ms: opts.nccl_cpu_launch_overhead_ms
                + opts.nccl_cpu_skew_overhead_per_device_ms * (tp as f64).powf(1.25),
            attention,
        })
    }

    /// Whether attention comes from the attention fallback (no attention.csv).
    pub fn attention_from_fallback(&self) -> bool {
        matches!(self.attention, Attention::Fallback(_))
    }

    /// The regressor the op curves were fitted with.
    pub fn regressor(&self) -> Regressor {
        self.regressor
    }

    /// Wrap in Vidur's layer composition for this model, TP and PP.
    pub fn into_composed(self) -> Composed<ProfilePredictor> {
        let (layers, pp, tp, post_ln) = (
            self.model.num_layers / self.pp,
            self.pp,
            self.tp,
            self.model.post_attn_norm,
        );
        Composed::new(self, layers, pp, tp, post_ln)
    }
}

/// mlp.csv → per-op points over num_tokens (indexed like [`TokenOp::ALL`]; `None` for
/// attn_kv_cache_save, which comes from attention.csv), with Vidur's filter and norm/add fill.
fn mlp_points(
    f: &Frame,
    model: &ModelSpec,
    tp: u32,
) -> Result<Vec<Option<Points>>, PredictorError> {
    let keys = model_keys(model);
    let kc: Vec<usize> = keys
        .iter()
        .map(|(n, _)| f.col(n))
        .collect::<Result<_, _>>()?;
    let tok = f.col("num_tokens")?;
    let tpc = f.col("num_tensor_parallel_workers")?;
    let all: Vec<usize> = (0..f.rows.len()).collect();
    let shape: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&r| {
            keys.iter()
                .zip(&kc)
                .all(|((_, v), &c)| f.num(r, c) == Some(*v))
        })
        .collect();
    if shape.is_empty() {
        let named: Vec<(&str, usize)> = keys.iter().map(|k| k.0).zip(kc.clone()).collect();
        return Err(err(
            &f.path,
            format!(
                "no rows for this model's shape ({}); the file has {}",
                keys.iter()
                    .map(|(n, v)| format!("{n}={}", fmt_num(*v)))
                    .collect::<Vec<_>>()
                    .join(", "),
                list(&f.distinct(&all, &named))
            ),
        ));
    }
    let rows: Vec<usize> = shape
        .iter()
        .copied()
        .filter(|&r| f.num(r, tpc) == Some(tp as f64))
        .collect();
    if rows.is_empty() {
        let mut tps: Vec<f64> = shape.iter().filter_map(|&r| f.num(r, tpc)).collect();
        tps.sort_by(f64::total_cmp);
        tps.dedup();
        let tps: Vec<String> = tps.into_iter().map(fmt_num).collect();
        return Err(err(
            &f.path,
            format!("mlp.csv has TP {} but not {tp} for this model", list(&tps)),
        ));
    }
    let mut xs = Vec::with_capacity(rows.len());
    for &r in &rows {
        xs.push(f.num(r, tok).filter(|x| *x >= 0.0).ok_or_else(|| {
            err(
                &f.path,
                format!(
                    "line {}: column 'num_tokens': expected a number >= 0 (a row for TP {tp})",
                    f.lines[r]
                ),
            )
        })?);
    }
    let mut out = Vec::with_capacity(TokenOp::ALL.len());
    for op in TokenOp::ALL {
        if op == TokenOp::AttnKvCacheSave {
            out.push(None);
            continue;
        }
        let name = format!("time_stats.{}.median", op.name());
        // Vidur fills missing norm and add medians (column or cells) with 0.
        let zero_fill = matches!(
            op,
            TokenOp::InputLayernorm | TokenOp::PostAttentionLayernorm | TokenOp::Add
        );
        let col = match f.find(&name) {
            Some(c) => Some(c),
            None if zero_fill => None,
            None => return Err(err(&f.path, format!("missing column '{name}'"))),
        };
        let mut pts = Vec::with_capacity(rows.len());
        for (&r, &x) in rows.iter().zip(&xs) {
            let y = match col.map(|c| f.time_ms(r, c)).transpose()? {
                None => 0.0,
                Some(Some(v)) => v,
                Some(None) if zero_fill => 0.0,
                Some(None) => {
                    return Err(err(
                        &f.path,
                        format!(
                            "line {}: column '{name}' is empty or NaN (num_tokens={x}, TP {tp}); expected a time in ms > 0",
                            f.lines[r]
                        ),
                    ))
                }
            };
            pts.push((x, y));
        }
        out.push(Some(Points::group(pts)));
    }
    Ok(out)
}

/// A network CSV → points over num_tokens = size / E / 2 for `collective` rows with
/// `num_workers == workers` (when given) and `devices_per_node == per_node`.
fn network_points(
    f: &Frame,
    collective: &str,
    workers: Option<u32>,
    per_node: u32,
    embedding_dim: f64,
    why: &str,
) -> Result<Points, PredictorError> {
    let cc = f.col("collective")?;
    let wc = f.col("num_workers")?;
    let dc = f.col("devices_per_node")?;
    let sc = f.col("size")?;
    let name = format!("time_stats.{collective}.median");
    let yc = f.col(&name)?;
    let coll: Vec<usize> = (0..f.rows.len())
        .filter(|&r| matches!(&f.rows[r][cc], frame::Cell::Str(s) if s == collective))
        .collect();
    let rows: Vec<usize> = coll
        .iter()
        .copied()
        .filter(|&r| {
            workers.is_none_or(|w| f.num(r, wc) == Some(w as f64))
                && f.num(r, dc) == Some(per_node as f64)
        })
        .collect();
    if rows.is_empty() {
        let want = match workers {
            Some(w) => format!("num_workers={w}, devices_per_node={per_node}"),
            None => format!("devices_per_node={per_node}"),
        };
        return Err(err(
            &f.path,
            format!(
                "no {collective} rows with {want}{why}; the file has {}",
                list(&f.distinct(&coll, &[("num_workers", wc), ("devices_per_node", dc)]))
            ),
        ));
    }
    let mut pts = Vec::with_capacity(rows.len());
    for &r in &rows {
        let (Some(size), Some(y)) = (f.num(r, sc).filter(|s| *s > 0.0), f.time_ms(r, yc)?) else {
            return Err(err(
                &f.path,
                format!(
                    "line {}: a {collective} row has an empty, NaN or non-positive 'size' or '{name}'",
                    f.lines[r]
                ),
            ));
        };
        pts.push((size / embedding_dim / 2.0, y));
    }
    Ok(Points::group(pts))
}

impl OpModel for ProfilePredictor {
    fn token_op_ms(&self, op: TokenOp, num_tokens: u32) -> Result<f64, PredictorError> {
        if op == TokenOp::AttnKvCacheSave {
            // Vidur looks attn_kv_cache_save up with the exact token count.
            return match &self.attention {
                Attention::Profiled(a) => Ok(a.kv_save.get(num_tokens)),
                Attention::Fallback(m) => m.token_op_ms(op, num_tokens),
            };
        }
        if num_tokens == 0 {
            return Ok(0.0);
        }
        let t8 = num_tokens.div_ceil(8) * 8;
        let table = self.ops[op as usize]
            .as_ref()
            .expect("every op but attn_kv_cache_save has a table");
        Ok(table.get(t8))
    }

    fn attn_prefill_ms(&self, batch: &[BatchEntry]) -> Result<f64, PredictorError> {
        match &self.attention {
            Attention::Profiled(a) => Ok(a.prefill_ms(batch)),
            Attention::Fallback(m) => m.attn_prefill_ms(batch),
        }
    }

    fn attn_decode_ms(&self, batch: &[BatchEntry]) -> Result<f64, PredictorError> {
        match &self.attention {
            Attention::Profiled(a) => Ok(a.decode_ms(batch)),
            Attention::Fallback(m) => m.attn_decode_ms(batch),
        }
    }

    fn all_reduce_ms(&self, num_tokens: u32) -> Result<f64, PredictorError> {
        match &self.all_reduce {
            Some(t) => Ok(t.get(num_tokens.div_ceil(8) * 8) + self.ar_overhead_ms),
            None => Err(err(
                &self.dir,
                format!(
                    "all_reduce was not loaded (TP {}); it needs TP > 1",
                    self.tp
                ),
            )),
        }
    }

    fn send_recv_ms(&self, num_tokens: u32) -> Result<f64, PredictorError> {
        match &self.send_recv {
            Some(t) => Ok(t.get(num_tokens.div_ceil(8) * 8)),
            None => Err(err(
                &self.dir,
                format!("send_recv was not loaded (PP {}); it needs PP > 1", self.pp),
            )),
        }
    }

    fn describe(&self) -> String {
        let attention = match &self.attention {
            Attention::Profiled(_) => "attention.csv".to_string(),
            Attention::Fallback(m) => format!("fallback {}", m.describe()),
        };
        let mut net = String::new();
        if self.tp > 1 || self.pp > 1 {
            net = format!(", network {}", self.network_device);
        }
        format!(
            "profiles:{} ({} {} TP{} PP{}{net}; regressor {}; attention: {attention})",
            self.dir.display(),
            self.device,
            self.model.name,
            self.tp,
            self.pp,
            self.regressor.name()
        )
    }
}

#[cfg(test)]
mod tests;
