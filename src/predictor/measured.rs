//! Readers for measured timing data: kernel-table folders (`<gpu>/{gemm,context_attention,
//! generation_attention,allreduce}.csv` + `system.yaml`, NVIDIA AIConfigurator's layout) and
//! Vidur-format profile folders (`compute/<device>/<org>/<model>/mlp.csv`,
//! `network/<sku>/{all_reduce,send_recv}.csv`). Calibration fits and `predictor-accuracy` read
//! them; nothing here is needed to simulate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::analytic::curves::{kv_read_bytes, prefill_flops, Heads};
use super::compose::TokenOp;
use super::PredictorError;

fn err(path: &Path, msg: impl std::fmt::Display) -> PredictorError {
    PredictorError::Table {
        path: path.display().to_string(),
        msg: msg.to_string(),
    }
}

/// One bad cell of a measurement CSV; the table error adds the file and line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum CellError {
    /// Not a number at all.
    #[error("column '{column}': expected a number, found '{found}'")]
    NotANumber { column: String, found: String },
    /// `NaN`: parses as a float but is no usable measurement or key.
    #[error("column '{column}': expected a number, found NaN")]
    NaN { column: String },
    /// A fraction where a count is expected.
    #[error("column '{column}': expected a whole number, found '{found}'")]
    NotWhole { column: String, found: String },
    /// Zero, negative or infinite where a positive quantity is expected (`expected` names it,
    /// e.g. "a latency in ms").
    #[error("column '{column}': expected {expected} > 0, found '{found}'")]
    NotPositive {
        column: String,
        expected: &'static str,
        found: String,
    },
    /// Out of range for what it counts.
    #[error("column '{column}': too large")]
    TooLarge { column: String },
    /// Not a boolean.
    #[error("expected True/False, found '{0}'")]
    NotBool(String),
}

/// The parts of a kernel folder's `system.yaml` a roofline needs.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemSpec {
    /// HBM bandwidth in bytes/s.
    pub mem_bw: f64,
    /// HBM capacity in bytes.
    pub mem_capacity: f64,
    /// Dense BF16 tensor-core FLOP/s.
    pub bf16_flops: f64,
    /// Dense FP8 FLOP/s, when the GPU has FP8.
    pub fp8_flops: Option<f64>,
    /// NVIDIA SM version (80, 90, ...).
    pub sm_version: Option<u32>,
    /// GPUs per node.
    pub num_gpus_per_node: u32,
    /// Intra-node bandwidth per GPU per direction, bytes/s.
    pub intra_node_bw: f64,
    /// Inter-node bandwidth per GPU per direction, bytes/s.
    pub inter_node_bw: f64,
    /// Point-to-point latency in seconds.
    pub p2p_latency: f64,
}

#[derive(Deserialize)]
struct SystemYaml {
    gpu: SystemGpu,
    node: SystemNode,
}
#[derive(Deserialize)]
struct SystemGpu {
    mem_bw: f64,
    mem_capacity: f64,
    bfloat16_tc_flops: f64,
    #[serde(default)]
    fp8_tc_flops: Option<f64>,
    #[serde(default)]
    sm_version: Option<u32>,
}
#[derive(Deserialize)]
struct SystemNode {
    num_gpus_per_node: u32,
    intra_node_bw: f64,
    inter_node_bw: f64,
    #[serde(default)]
    p2p_latency: Option<f64>,
}

impl SystemSpec {
    /// Read a `system.yaml` (other keys are ignored).
    pub fn load(path: &Path) -> Result<SystemSpec, PredictorError> {
        let text = std::fs::read_to_string(path).map_err(|e| err(path, e))?;
        let y: SystemYaml = serde_saphyr::from_str(&text).map_err(|e| {
            err(
                path,
                crate::parse_messages::yaml_message(&e, &path.display().to_string()),
            )
        })?;
        for (field, v) in [
            ("gpu.mem_bw", y.gpu.mem_bw),
            ("gpu.mem_capacity", y.gpu.mem_capacity),
            ("gpu.bfloat16_tc_flops", y.gpu.bfloat16_tc_flops),
            ("node.intra_node_bw", y.node.intra_node_bw),
            ("node.inter_node_bw", y.node.inter_node_bw),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(err(
                    path,
                    format!("field '{field}': must be a finite number > 0, got {v}"),
                ));
            }
        }
        if y.node.num_gpus_per_node == 0 {
            return Err(err(
                path,
                "field 'node.num_gpus_per_node': must be at least 1",
            ));
        }
        Ok(SystemSpec {
            mem_bw: y.gpu.mem_bw,
            mem_capacity: y.gpu.mem_capacity,
            bf16_flops: y.gpu.bfloat16_tc_flops,
            fp8_flops: y.gpu.fp8_tc_flops,
            sm_version: y.gpu.sm_version,
            num_gpus_per_node: y.node.num_gpus_per_node,
            intra_node_bw: y.node.intra_node_bw,
            inter_node_bw: y.node.inter_node_bw,
            p2p_latency: y.node.p2p_latency.unwrap_or(1e-5),
        })
    }
}

/// One GEMM measurement `C[m,n] = A[m,k]·B[k,n]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GemmRow {
    /// Rows (tokens).
    pub m: u32,
    /// Output columns.
    pub n: u32,
    /// Reduction dimension.
    pub k: u32,
    /// Latency in ms.
    pub ms: f64,
}

/// One attention measurement (prefill: `len` = input length; decode: `len` = KV length).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttnRow {
    /// Sequences in the batch.
    pub batch: u32,
    /// Prefill input length, or the KV length a decode step attends to.
    pub len: u32,
    /// Query heads (per device).
    pub q_heads: u32,
    /// KV heads (per device).
    pub kv_heads: u32,
    /// Head dimension.
    pub head_dim: u32,
    /// Latency in ms.
    pub ms: f64,
}

impl AttnRow {
    /// The row's head layout.
    pub fn heads(&self) -> Heads {
        Heads {
            q: self.q_heads as f64,
            kv: self.kv_heads as f64,
            dim: self.head_dim as f64,
        }
    }
}

/// One all-reduce measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectiveRow {
    /// Participating GPUs.
    pub num_gpus: u32,
    /// Message size in bytes.
    pub bytes: f64,
    /// Backend (`vllm_graph`, `vllm_eager`, `nccl`, ...).
    pub backend: String,
    /// Latency in ms.
    pub ms: f64,
}

/// A kernel-table folder for one GPU. Only BF16 rows (BF16 KV cache) are kept.
#[derive(Debug, Clone)]
pub struct KernelSet {
    /// Folder name (`h100_sxm`).
    pub gpu: String,
    /// Folder path.
    pub dir: PathBuf,
    /// Its `system.yaml`.
    pub system: SystemSpec,
    /// BF16 GEMMs.
    pub gemm: Vec<GemmRow>,
    /// Prefill (context) attention.
    pub prefill: Vec<AttnRow>,
    /// Decode (generation) attention.
    pub decode: Vec<AttnRow>,
    /// All-reduce.
    pub allreduce: Vec<CollectiveRow>,
}

/// Read a CSV with a header; `f` maps (header index lookup, record) to an optional row.
fn read_csv<T>(
    path: &Path,
    want: &[&str],
    mut f: impl FnMut(&[usize], &csv::StringRecord) -> Result<Option<T>, CellError>,
) -> Result<Vec<T>, PredictorError> {
    let mut rdr =
        csv::Reader::from_path(path).map_err(|e| err(path, format!("cannot read: {e}")))?;
    let header = rdr.headers().map_err(|e| err(path, e))?.clone();
    let mut idx = Vec::with_capacity(want.len());
    for w in want {
        let i = header.iter().position(|h| h == *w).ok_or_else(|| {
            err(
                path,
                format!(
                    "missing column '{w}' (has: {})",
                    header.iter().collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        idx.push(i);
    }
    let mut out = Vec::new();
    let mut n = 0usize;
    for (line, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| err(path, e))?;
        n += 1;
        if let Some(row) =
            f(&idx, &rec).map_err(|m| err(path, format!("line {}: {m}", line + 2)))?
        {
            out.push(row);
        }
    }
    if n == 0 {
        return Err(err(path, "the table has a header but no data rows"));
    }
    Ok(out)
}

/// A measured latency (ms): finite and > 0. A zero or negative time would put `inf` into
/// accuracy reports and negative times into fits, so it is an error naming the cell.
fn latency(rec: &csv::StringRecord, i: usize, what: &str) -> Result<f64, CellError> {
    let v: f64 = num(rec, i, what)?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(CellError::NotPositive {
            column: what.to_string(),
            expected: "a latency in ms",
            found: rec.get(i).unwrap_or("").trim().to_string(),
        })
    }
}

fn num<T: std::str::FromStr>(
    rec: &csv::StringRecord,
    i: usize,
    what: &str,
) -> Result<T, CellError> {
    let s = rec.get(i).unwrap_or("").trim();
    let v = s.parse::<T>().or_else(|_| {
        // Some writers emit integers as floats ("4096.0"); only exact ones are integers.
        s.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && v.fract() == 0.0)
            .and_then(|v| format!("{}", v as i64).parse::<T>().ok())
            .ok_or(())
    });
    match v {
        // NaN parses as a float; a measurement or key that is NaN is not a number we can use.
        Ok(_) if s.parse::<f64>().is_ok_and(f64::is_nan) => Err(CellError::NaN {
            column: what.to_string(),
        }),
        Ok(v) => Ok(v),
        Err(()) if s.parse::<f64>().is_ok() => Err(CellError::NotWhole {
            column: what.to_string(),
            found: s.to_string(),
        }),
        Err(()) => Err(CellError::NotANumber {
            column: what.to_string(),
            found: s.to_string(),
        }),
    }
}

/// Head sizes of dense multi-/grouped-query attention kept from kernel tables.
pub const DENSE_HEAD_DIMS: [u32; 4] = [64, 80, 128, 256];

/// The H100/H200 attention tables hold two or three rows for most keys (the file is several
/// collections concatenated and the column telling them apart is gone). One of them is often
/// up to 5× faster than the dense causal FLOPs allow at peak (e.g. batch 1, ISL 16384, 32×128
/// heads in 0.48 ms would need 4.5 PFLOP/s), i.e. a windowed or otherwise sparse variant. Keep
/// the slowest row per key: the dense full-context kernel an ordinary model runs.
fn keep_dense(rows: Vec<AttnRow>) -> Vec<AttnRow> {
    let mut best: BTreeMap<(u32, u32, u32, u32, u32), AttnRow> = BTreeMap::new();
    for r in rows {
        let key = (r.batch, r.len, r.q_heads, r.kv_heads, r.head_dim);
        best.entry(key)
            .and_modify(|b| {
                if r.ms > b.ms {
                    *b = r;
                }
            })
            .or_insert(r);
    }
    best.into_values().collect()
}

impl KernelSet {
    /// Load one GPU's folder. Missing tables are errors: accuracy reports must not silently
    /// skip an operator family.
    pub fn load(dir: &Path) -> Result<KernelSet, PredictorError> {
        let gpu = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let system = SystemSpec::load(&dir.join("system.yaml"))?;
        let gemm = read_csv(
            &dir.join("gemm.csv"),
            &["gemm_dtype", "m", "n", "k", "latency_ms"],
            |i, r| {
                if &r[i[0]] != "bfloat16" {
                    return Ok(None);
                }
                Ok(Some(GemmRow {
                    m: num(r, i[1], "m")?,
                    n: num(r, i[2], "n")?,
                    k: num(r, i[3], "k")?,
                    ms: latency(r, i[4], "latency_ms")?,
                }))
            },
        )?;
        let attn = |file: &str, len_col: &'static str, len_add: u32| {
            read_csv(
                &dir.join(file),
                &[
                    "batch_size",
                    len_col,
                    "num_heads",
                    "num_key_value_heads",
                    "head_dim",
                    "attn_dtype",
                    "kv_cache_dtype",
                    "latency_ms",
                ],
                |i, r| {
                    if &r[i[5]] != "bfloat16" || &r[i[6]] != "bfloat16" {
                        return Ok(None);
                    }
                    // Head sizes 192 (prefill) and 512 (decode) are DeepSeek MLA kernels, whose
                    // K/V layout differs from the dense models priced here.
                    let hd: u32 = num(r, i[4], "head_dim")?;
                    if !DENSE_HEAD_DIMS.contains(&hd) {
                        return Ok(None);
                    }
                    Ok(Some(AttnRow {
                        batch: num(r, i[0], "batch_size")?,
                        len: num::<u32>(r, i[1], len_col)?
                            .checked_add(len_add)
                            .ok_or_else(|| CellError::TooLarge {
                                column: len_col.to_string(),
                            })?,
                        q_heads: num(r, i[2], "num_heads")?,
                        kv_heads: num(r, i[3], "num_key_value_heads")?,
                        head_dim: num(r, i[4], "head_dim")?,
                        ms: latency(r, i[7], "latency_ms")?,
                    }))
                },
            )
        };
        let prefill = keep_dense(attn("context_attention.csv", "isl", 0)?);
        // A generation step `s` attends to the s cached tokens plus the new one.
        let decode = keep_dense(attn("generation_attention.csv", "step", 1)?);
        // Rows faster than the spec-sheet peak allows are variants this layout cannot name
        // (see `keep_dense`); a dense kernel cannot beat the roofline.
        let prefill: Vec<AttnRow> = prefill
            .into_iter()
            .filter(|a| {
                let flops = a.batch as f64 * prefill_flops(&a.heads(), a.len as f64, 0.0);
                flops / (a.ms * 1e-3) <= system.bf16_flops
            })
            .collect();
        let decode: Vec<AttnRow> = decode
            .into_iter()
            .filter(|a| {
                let bytes = a.batch as f64 * kv_read_bytes(&a.heads(), a.len as f64);
                bytes / (a.ms * 1e-3) <= system.mem_bw
            })
            .collect();
        let allreduce = read_csv(
            &dir.join("allreduce.csv"),
            &[
                "allreduce_dtype",
                "num_gpus",
                "message_size",
                "backend",
                "latency_ms",
            ],
            |i, r| {
                let bpe = match &r[i[0]] {
                    "bfloat16" | "float16" => 2.0,
                    "float32" => 4.0,
                    _ => return Ok(None),
                };
                Ok(Some(CollectiveRow {
                    num_gpus: num(r, i[1], "num_gpus")?,
                    // message_size counts elements.
                    bytes: latency(r, i[2], "message_size").map_err(|_| {
                        CellError::NotPositive {
                            column: "message_size".into(),
                            expected: "a number of elements",
                            found: r[i[2]].trim().to_string(),
                        }
                    })? * bpe,
                    backend: r[i[3]].to_string(),
                    ms: latency(r, i[4], "latency_ms")?,
                }))
            },
        )?;
        // Rows are filtered (BF16 only, dense head sizes, no faster-than-peak rows); a table
        // left with none would silently drop an operator family from fits and reports.
        for (file, n) in [
            ("gemm.csv", gemm.len()),
            ("context_attention.csv", prefill.len()),
            ("generation_attention.csv", decode.len()),
            ("allreduce.csv", allreduce.len()),
        ] {
            if n == 0 {
                return Err(err(
                    &dir.join(file),
                    "no usable rows (kept: bfloat16 rows; attention with head_dim 64/80/128/256, no faster than the spec-sheet peak)",
                ));
            }
        }
        Ok(KernelSet {
            gpu,
            dir: dir.to_path_buf(),
            system,
            gemm,
            prefill,
            decode,
            allreduce,
        })
    }

    /// Every subfolder of `root` that has a `system.yaml` (or `root` itself when it has one).
    pub fn load_all(root: &Path) -> Result<Vec<KernelSet>, PredictorError> {
        if root.join("system.yaml").is_file() {
            return Ok(vec![KernelSet::load(root)?]);
        }
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
            .map_err(|e| err(root, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("system.yaml").is_file())
            .collect();
        dirs.sort();
        if dirs.is_empty() {
            return Err(err(
                root,
                "no kernel-table folder here: expected <gpu>/system.yaml with gemm.csv, context_attention.csv, generation_attention.csv and allreduce.csv beside it",
            ));
        }
        dirs.iter().map(|d| KernelSet::load(d)).collect()
    }
}

/// The model-shape key columns of a Vidur mlp.csv.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MlpShape {
    /// Query heads.
    pub n_head: u32,
    /// KV heads.
    pub n_kv_head: u32,
    /// Hidden size.
    pub n_embd: u32,
    /// MLP intermediate size.
    pub n_expanded_embd: u32,
    /// Vocabulary.
    pub vocab_size: u32,
    /// SwiGLU-style gated MLP.
    pub use_gated_mlp: bool,
}

/// One mlp.csv row: per-op median times (ms) at one token count and TP degree.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpRow {
    /// Model shape.
    pub shape: MlpShape,
    /// Tensor-parallel degree.
    pub tp: u32,
    /// Tokens in the batch.
    pub num_tokens: u32,
    /// Median ms per op, in [`TokenOp::ALL`] order; `None` where the column is absent.
    pub median_ms: [Option<f64>; 10],
}

/// One device/model mlp.csv.
#[derive(Debug, Clone)]
pub struct MlpProfile {
    /// Vidur device name (`a100`).
    pub device: String,
    /// Model path under the device folder (`meta-llama/Llama-2-7b-hf`).
    pub model: String,
    /// File path.
    pub path: PathBuf,
    /// Rows.
    pub rows: Vec<MlpRow>,
}

/// One network profile (`all_reduce.csv` or `send_recv.csv`) row.
#[derive(Debug, Clone, PartialEq)]
pub struct NetRow {
    /// Participating workers.
    pub num_workers: u32,
    /// Devices per node used by the measurement.
    pub devices_per_node: u32,
    /// Message size in bytes.
    pub bytes: f64,
    /// Median ms.
    pub ms: f64,
}

/// A network profile file.
#[derive(Debug, Clone)]
pub struct NetProfile {
    /// Node SKU folder name (`a100_dgx`).
    pub sku: String,
    /// `all_reduce` or `send_recv`.
    pub collective: String,
    /// File path.
    pub path: PathBuf,
    /// Rows.
    pub rows: Vec<NetRow>,
}

/// A Vidur-format profile folder.
#[derive(Debug, Clone, Default)]
pub struct ProfileSet {
    /// Every mlp.csv found.
    pub mlp: Vec<MlpProfile>,
    /// Every network csv found.
    pub network: Vec<NetProfile>,
}

fn parse_bool(s: &str) -> Result<bool, CellError> {
    match s.trim() {
        "True" | "true" | "1" => Ok(true),
        "False" | "false" | "0" => Ok(false),
        o => Err(CellError::NotBool(o.to_string())),
    }
}

/// Read one Vidur mlp.csv.
pub fn load_mlp(path: &Path, device: &str, model: &str) -> Result<MlpProfile, PredictorError> {
    let mut want: Vec<String> = [
        "n_head",
        "n_kv_head",
        "n_embd",
        "n_expanded_embd",
        "vocab_size",
        "use_gated_mlp",
        "num_tokens",
        "num_tensor_parallel_workers",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut rdr = csv::Reader::from_path(path).map_err(|e| err(path, e))?;
    let header = rdr.headers().map_err(|e| err(path, e))?.clone();
    let op_cols: Vec<Option<usize>> = TokenOp::ALL
        .iter()
        .map(|o| {
            let c = format!("time_stats.{}.median", o.name());
            header.iter().position(|h| h == c)
        })
        .collect();
    if op_cols.iter().all(Option::is_none) {
        return Err(err(path, "no time_stats.<op>.median columns"));
    }
    let mut key = Vec::new();
    for w in want.drain(..) {
        key.push(
            header
                .iter()
                .position(|h| h == w)
                .ok_or_else(|| err(path, format!("missing column '{w}'")))?,
        );
    }
    let mut rows = Vec::new();
    for (line, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| err(path, e))?;
        let row = (|| -> Result<MlpRow, CellError> {
            let mut median_ms = [None; 10];
            for (slot, c) in median_ms.iter_mut().zip(&op_cols) {
                if let Some(c) = c {
                    let s = rec.get(*c).unwrap_or("").trim();
                    if !s.is_empty() {
                        let v = s.parse::<f64>().map_err(|_| CellError::NotANumber {
                            column: header[*c].to_string(),
                            found: s.to_string(),
                        })?;
                        if !(v.is_finite() && v > 0.0) {
                            return Err(CellError::NotPositive {
                                column: header[*c].to_string(),
                                expected: "a latency in ms",
                                found: s.to_string(),
                            });
                        }
                        *slot = Some(v);
                    }
                }
            }
            Ok(MlpRow {
                shape: MlpShape {
                    n_head: num(&rec, key[0], "n_head")?,
                    n_kv_head: num(&rec, key[1], "n_kv_head")?,
                    n_embd: num(&rec, key[2], "n_embd")?,
                    n_expanded_embd: num(&rec, key[3], "n_expanded_embd")?,
                    vocab_size: num(&rec, key[4], "vocab_size")?,
                    use_gated_mlp: parse_bool(&rec[key[5]])?,
                },
                num_tokens: num(&rec, key[6], "num_tokens")?,
                tp: num(&rec, key[7], "num_tensor_parallel_workers")?,
                median_ms,
            })
        })()
        .map_err(|m| err(path, format!("line {}: {m}", line + 2)))?;
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(err(path, "the table has a header but no data rows"));
    }
    Ok(MlpProfile {
        device: device.to_string(),
        model: model.to_string(),
        path: path.to_path_buf(),
        rows,
    })
}

/// Read a Vidur network profile (`all_reduce.csv` / `send_recv.csv`).
pub fn load_network(
    path: &Path,
    sku: &str,
    collective: &str,
) -> Result<NetProfile, PredictorError> {
    let col = format!("time_stats.{collective}.median");
    let rows = read_csv(
        path,
        &[
            &col,
            "num_workers",
            "devices_per_node",
            "size",
            "collective",
        ],
        |i, r| {
            if &r[i[4]] != collective {
                return Ok(None);
            }
            Ok(Some(NetRow {
                ms: latency(r, i[0], &format!("time_stats.{collective}.median"))?,
                num_workers: num(r, i[1], "num_workers")?,
                devices_per_node: num(r, i[2], "devices_per_node")?,
                bytes: num(r, i[3], "size")?,
            }))
        },
    )?;
    Ok(NetProfile {
        sku: sku.to_string(),
        collective: collective.to_string(),
        path: path.to_path_buf(),
        rows,
    })
}

impl ProfileSet {
    /// Walk a Vidur profile folder: `compute/<device>/**/mlp.csv` and `network/<sku>/*.csv`.
    pub fn load(root: &Path) -> Result<ProfileSet, PredictorError> {
        let compute = root.join("compute");
        let network = root.join("network");
        if !compute.is_dir() && !network.is_dir() {
            return Err(err(
                root,
                "not a Vidur profile folder: expected compute/<device>/<org>/<model>/mlp.csv or network/<sku>/all_reduce.csv",
            ));
        }
        let mut set = ProfileSet::default();
        if compute.is_dir() {
            for dev in sorted_dirs(&compute)? {
                let device = file_name(&dev);
                let mut stack = vec![dev.clone()];
                let mut found: BTreeMap<PathBuf, ()> = BTreeMap::new();
                while let Some(d) = stack.pop() {
                    if d.join("mlp.csv").is_file() {
                        found.insert(d.join("mlp.csv"), ());
                    }
                    stack.extend(sorted_dirs(&d)?);
                }
                for path in found.into_keys() {
                    let model = path
                        .parent()
                        .and_then(|p| p.strip_prefix(&dev).ok())
                        .map(|p| p.to_string_lossy().replace('\\', "/"))
                        .unwrap_or_default();
                    set.mlp.push(load_mlp(&path, &device, &model)?);
                }
            }
        }
        if network.is_dir() {
            for sku_dir in sorted_dirs(&network)? {
                let sku = file_name(&sku_dir);
                for c in ["all_reduce", "send_recv"] {
                    let p = sku_dir.join(format!("{c}.csv"));
                    if p.is_file() {
                        set.network.push(load_network(&p, &sku, c)?);
                    }
                }
            }
        }
        Ok(set)
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn sorted_dirs(p: &Path) -> Result<Vec<PathBuf>, PredictorError> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(p)
        .map_err(|e| err(p, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_latencies_are_checked() {
        let r = csv::StringRecord::from(vec!["4096", "4096.0", "4096.5", "NaN", "0", "-1", "0.25"]);
        assert_eq!(num::<u32>(&r, 0, "m"), Ok(4096));
        assert_eq!(num::<u32>(&r, 1, "m"), Ok(4096));
        assert!(num::<u32>(&r, 2, "m")
            .unwrap_err()
            .to_string()
            .contains("whole number"));
        assert!(num::<f64>(&r, 3, "x")
            .unwrap_err()
            .to_string()
            .contains("NaN"));
        assert!(num::<u32>(&r, 3, "x").is_err());
        for i in [3, 4, 5] {
            let e = latency(&r, i, "latency_ms").unwrap_err().to_string();
            assert!(e.contains("column 'latency_ms'"), "{e}");
        }
        assert_eq!(latency(&r, 6, "latency_ms"), Ok(0.25));
    }
}
