//! Vidur's cached prediction tables (vidur-behavior.md §7.4–7.6): a folder of `<op>.csv[.gz]`
//! files (feature columns, then `prediction` in ms), exactly as Vidur writes them to its cache
//! and as `../shared/conformance/tables/` ships them. Lookups are O(1) array indexing with
//! Vidur's rounding rules; composing a stage time follows §7.6 term by term so compat mode
//! reproduces Vidur's floating-point sums.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{BatchEntry, ExecutionTimePredictor, PredictorError, StageTime};
use crate::catalog::ModelSpec;
use crate::compat::Compat;

/// Per-token ops, in the order the composition reads them.
const TOKEN_OPS: [&str; 10] = [
    "attn_pre_proj",
    "attn_post_proj",
    "attn_rope",
    "attn_kv_cache_save",
    "mlp_up_proj",
    "mlp_down_proj",
    "mlp_act",
    "input_layernorm",
    "post_attention_layernorm",
    "add",
];

/// Knobs of Vidur's random-forest predictor config that shape lookups.
#[derive(Debug, Clone)]
pub struct VidurTablesOptions {
    /// KV granularity of the attention tables (64).
    pub kv_cache_prediction_granularity: u32,
    /// Decode batching overhead (0.1, GQA models only).
    pub attention_decode_batching_overhead_fraction: f64,
    /// Prefill batching overhead (0.1, GQA models only).
    pub attention_prefill_batching_overhead_fraction: f64,
    /// Added to every all-reduce (0.02 ms).
    pub nccl_cpu_launch_overhead_ms: f64,
    /// Added per device^1.25 to every all-reduce (0.0 ms).
    pub nccl_cpu_skew_overhead_per_device_ms: f64,
}

impl Default for VidurTablesOptions {
    fn default() -> Self {
        VidurTablesOptions {
            kv_cache_prediction_granularity: 64,
            attention_decode_batching_overhead_fraction: 0.1,
            attention_prefill_batching_overhead_fraction: 0.1,
            nccl_cpu_launch_overhead_ms: 0.02,
            nccl_cpu_skew_overhead_per_device_ms: 0.0,
        }
    }
}

/// A 1-D table keyed by `num_tokens` = 1..=len.
#[derive(Debug, Clone)]
struct TokenTable {
    op: &'static str,
    /// values[n-1] = prediction for n tokens.
    values: Vec<f64>,
}

impl TokenTable {
    #[inline]
    fn get(&self, n: u32) -> Result<f64, PredictorError> {
        match self.values.get((n as usize).wrapping_sub(1)) {
            Some(v) => Ok(*v),
            None => Err(PredictorError::OutOfRange {
                op: self.op,
                key: format!("num_tokens={n}"),
                range: format!("num_tokens 1..={}", self.values.len()),
            }),
        }
    }
}

/// A dense 2-D table: rows × cols, NaN where the file had no entry.
#[derive(Debug, Clone)]
struct Grid {
    cols: usize,
    values: Vec<f64>,
}

impl Grid {
    fn get(&self, r: usize, c: usize) -> Option<f64> {
        if c >= self.cols {
            return None;
        }
        self.values
            .get(r * self.cols + c)
            .copied()
            .filter(|v| !v.is_nan())
    }
}

/// Vidur's per-op prediction tables for one model × device × TP (× PP) setting.
#[derive(Debug, Clone)]
pub struct VidurTablesPredictor {
    dir: PathBuf,
    ops: Vec<TokenTable>,
    all_reduce: Option<TokenTable>,
    send_recv: Option<TokenTable>,
    /// attn_decode[batch_size][kv / granularity]; row 0 unused.
    decode: Grid,
    /// attn_prefill[kv / granularity][chunk]; column 0 unused.
    prefill: Grid,
    layers_per_stage: f64,
    num_stages: u32,
    tp: u32,
    decode_overhead: f64,
    prefill_overhead: f64,
    ar_overhead_ms: f64,
    granularity: u32,
    post_attn_norm: bool,
    compat: Compat,
}

/// A parsed table file: its path, header and numeric rows.
type TableFile = (PathBuf, Vec<String>, Vec<Vec<f64>>);

fn read_table(dir: &Path, op: &str) -> Result<Option<TableFile>, PredictorError> {
    let gz = dir.join(format!("{op}.csv.gz"));
    let plain = dir.join(format!("{op}.csv"));
    let (path, text) = if gz.exists() {
        let f = std::fs::File::open(&gz).map_err(|e| table_err(&gz, e))?;
        let mut s = String::new();
        flate2::read::GzDecoder::new(f)
            .read_to_string(&mut s)
            .map_err(|e| table_err(&gz, e))?;
        (gz, s)
    } else if plain.exists() {
        let s = std::fs::read_to_string(&plain).map_err(|e| table_err(&plain, e))?;
        (plain, s)
    } else {
        return Ok(None);
    };
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .ok_or_else(|| table_err(&path, "empty file"))?
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    if header.last().map(String::as_str) != Some("prediction") {
        return Err(table_err(
            &path,
            format!("line 1: expected the last column to be 'prediction', found {header:?}"),
        ));
    }
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut row = Vec::with_capacity(header.len());
        for (j, field) in line.split(',').enumerate() {
            let v: f64 = field.trim().parse().map_err(|_| {
                table_err(
                    &path,
                    format!(
                        "line {}: column '{}': expected a number, found '{field}'",
                        i + 2,
                        header.get(j).map(String::as_str).unwrap_or("?")
                    ),
                )
            })?;
            row.push(v);
        }
        if row.len() != header.len() {
            return Err(table_err(
                &path,
                format!(
                    "line {}: expected {} fields, found {}",
                    i + 2,
                    header.len(),
                    row.len()
                ),
            ));
        }
        // Checked here, before use: a NaN cell would otherwise read as a missing key, a
        // negative time would run requests backwards, and a fractional key would be truncated.
        let last = row.len() - 1;
        for (j, v) in row.iter().enumerate() {
            let bad = if !v.is_finite() {
                Some(if j == last {
                    "expected a finite time in ms >= 0"
                } else {
                    "expected a finite whole number >= 0"
                })
            } else if j == last && *v < 0.0 {
                Some("expected a time in ms >= 0 (a negative prediction)")
            } else if j < last && (*v < 0.0 || v.fract() != 0.0) {
                Some("expected a whole number >= 0")
            } else {
                None
            };
            if let Some(expected) = bad {
                return Err(table_err(
                    &path,
                    format!(
                        "line {}: column '{}': {expected}, found {v}",
                        i + 2,
                        header[j]
                    ),
                ));
            }
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(table_err(&path, "the table has a header but no data rows"));
    }
    Ok(Some((path, header, rows)))
}

/// Most cells a dense attention table may have (256 MiB): Vidur's own are far smaller, and one
/// stray huge key would otherwise ask for terabytes.
const MAX_GRID_CELLS: usize = 1 << 25;

/// Cells of a `rows × cols` grid, or an error naming the largest `keys` when it would exceed
/// [`MAX_GRID_CELLS`].
fn grid_cells(
    path: &Path,
    rows: usize,
    cols: usize,
    keys: String,
) -> Result<usize, PredictorError> {
    rows.checked_mul(cols)
        .filter(|&n| n <= MAX_GRID_CELLS)
        .ok_or_else(|| {
            table_err(
                path,
                format!(
                    "the largest {keys} would make a dense table of more than {MAX_GRID_CELLS} entries; is a key mistyped?"
                ),
            )
        })
}

fn table_err(path: &Path, msg: impl std::fmt::Display) -> PredictorError {
    PredictorError::Table {
        path: path.display().to_string(),
        msg: msg.to_string(),
    }
}

fn expect_columns(path: &Path, header: &[String], want: &[&str]) -> Result<(), PredictorError> {
    let got: Vec<&str> = header.iter().map(String::as_str).collect();
    if got != want {
        return Err(table_err(
            path,
            format!("line 1: expected columns {want:?}, found {got:?}"),
        ));
    }
    Ok(())
}

fn token_table(
    dir: &Path,
    op: &'static str,
    required: bool,
) -> Result<Option<TokenTable>, PredictorError> {
    let Some((path, header, rows)) = read_table(dir, op)? else {
        if required {
            return Err(table_err(
                &dir.join(format!("{op}.csv.gz")),
                "missing prediction table (expected <op>.csv or <op>.csv.gz)",
            ));
        }
        return Ok(None);
    };
    expect_columns(&path, &header, &["num_tokens", "prediction"])?;
    let mut values = vec![f64::NAN; rows.len()];
    for (i, r) in rows.iter().enumerate() {
        let n = r[0];
        if n < 1.0 || n.fract() != 0.0 || n as usize > rows.len() {
            return Err(table_err(
                &path,
                format!(
                    "line {}: num_tokens must be 1..={} without gaps, found {n}",
                    i + 2,
                    rows.len()
                ),
            ));
        }
        values[n as usize - 1] = r[1];
    }
    if let Some(i) = values.iter().position(|v| v.is_nan()) {
        return Err(table_err(
            &path,
            format!(
                "num_tokens {} is missing (keys must be 1..=N without gaps)",
                i + 1
            ),
        ));
    }
    Ok(Some(TokenTable { op, values }))
}

impl VidurTablesPredictor {
    /// Load the tables in `dir` for `model` at the given parallelism.
    pub fn load(
        dir: &Path,
        model: &ModelSpec,
        tp: u32,
        pp: u32,
        opts: &VidurTablesOptions,
        compat: Compat,
    ) -> Result<Self, PredictorError> {
        if !dir.is_dir() {
            return Err(table_err(dir, "prediction-table folder not found"));
        }
        let g = opts.kv_cache_prediction_granularity.max(1);
        let mut ops = Vec::with_capacity(TOKEN_OPS.len());
        for op in TOKEN_OPS {
            // Vidur fills missing norm/add profiles with 0; a missing table is still an error here
            // because the tables Vidur caches always include them.
            ops.push(token_table(dir, op, true)?.expect("required"));
        }
        let all_reduce = token_table(dir, "all_reduce", tp > 1)?;
        let send_recv = token_table(dir, "send_recv", pp > 1)?;

        let (path, header, rows) = read_table(dir, "attn_decode")?.ok_or_else(|| {
            table_err(&dir.join("attn_decode.csv.gz"), "missing prediction table")
        })?;
        expect_columns(
            &path,
            &header,
            &["batch_size", "kv_cache_size", "prediction"],
        )?;
        let max_b = rows.iter().map(|r| r[0] as usize).max().unwrap_or(0);
        let max_kv = rows.iter().map(|r| r[1] as usize).max().unwrap_or(0);
        let cols = (max_kv / g as usize).saturating_add(1);
        let cells = grid_cells(
            &path,
            max_b.saturating_add(1),
            cols,
            format!("batch_size ({max_b}) and kv_cache_size ({max_kv})"),
        )?;
        let mut decode = Grid {
            cols,
            values: vec![f64::NAN; cells],
        };
        for r in &rows {
            let (b, kv) = (r[0] as usize, r[1] as usize);
            if kv.is_multiple_of(g as usize) {
                decode.values[b * cols + kv / g as usize] = r[2];
            }
        }

        let (path, header, rows) = read_table(dir, "attn_prefill")?.ok_or_else(|| {
            table_err(&dir.join("attn_prefill.csv.gz"), "missing prediction table")
        })?;
        expect_columns(
            &path,
            &header,
            &["kv_cache_size", "prefill_chunk_size_squared", "prediction"],
        )?;
        let max_kv = rows.iter().map(|r| r[0] as usize).max().unwrap_or(0);
        let max_c = rows
            .iter()
            .map(|r| (r[1].sqrt().round()) as usize)
            .max()
            .unwrap_or(0);
        let cols = max_c.saturating_add(1);
        let cells = grid_cells(
            &path,
            (max_kv / g as usize).saturating_add(1),
            cols,
            format!("kv_cache_size ({max_kv}) and prefill chunk ({max_c}, the root of prefill_chunk_size_squared)"),
        )?;
        let mut prefill = Grid {
            cols,
            values: vec![f64::NAN; cells],
        };
        for (i, r) in rows.iter().enumerate() {
            let kv = r[0] as usize;
            let c = r[1].sqrt().round() as usize;
            if (c * c) as f64 != r[1] {
                return Err(table_err(
                    &path,
                    format!(
                        "line {}: prefill_chunk_size_squared {} is not a perfect square",
                        i + 2,
                        r[1]
                    ),
                ));
            }
            if kv.is_multiple_of(g as usize) {
                prefill.values[(kv / g as usize) * cols + c] = r[2];
            }
        }

        let (decode_overhead, prefill_overhead) = if model.is_gqa() {
            (
                opts.attention_decode_batching_overhead_fraction,
                opts.attention_prefill_batching_overhead_fraction,
            )
        } else {
            (0.0, 0.0)
        };
        Ok(VidurTablesPredictor {
            dir: dir.to_path_buf(),
            ops,
            all_reduce,
            send_recv,
            decode,
            prefill,
            layers_per_stage: (model.num_layers / pp) as f64,
            num_stages: pp,
            tp,
            decode_overhead,
            prefill_overhead,
            ar_overhead_ms: opts.nccl_cpu_launch_overhead_ms
                + opts.nccl_cpu_skew_overhead_per_device_ms * (tp as f64).powf(1.25),
            granularity: g,
            post_attn_norm: model.post_attn_norm,
            compat,
        })
    }

    fn decode_time(&self, batch: &[BatchEntry]) -> Result<f64, PredictorError> {
        let Some((n, kv)) = super::vidur_decode_key(batch, self.granularity) else {
            return Ok(0.0);
        };
        let overhead = 1.0 + self.decode_overhead * (n > 1) as u32 as f64;
        match self
            .decode
            .get(n as usize, (kv / self.granularity) as usize)
        {
            Some(v) => Ok(v * overhead),
            None if !self.compat.is_vidur()
                && n as usize >= self.decode.values.len() / self.decode.cols =>
            {
                // Default mode: a decode batch larger than the table is split into table-sized
                // parts (Vidur raises KeyError here).
                let max_b = self.decode.values.len() / self.decode.cols - 1;
                let mut total = 0.0;
                let mut left = n as usize;
                while left > 0 {
                    let part = left.min(max_b);
                    total += self.decode_lookup(part, kv)?
                        * (1.0 + self.decode_overhead * (part > 1) as u32 as f64);
                    left -= part;
                }
                Ok(total)
            }
            None => self.decode_lookup(n as usize, kv).map(|v| v * overhead),
        }
    }

    fn decode_lookup(&self, n: usize, kv: u32) -> Result<f64, PredictorError> {
        self.decode
            .get(n, (kv / self.granularity) as usize)
            .ok_or_else(|| PredictorError::OutOfRange {
                op: "attn_decode",
                key: format!("(batch_size={n}, kv_cache_size={kv})"),
                range: format!(
                    "batch_size 1..={} and kv_cache_size 0..={} step {}",
                    self.decode.values.len() / self.decode.cols - 1,
                    (self.decode.cols - 1) as u32 * self.granularity,
                    self.granularity
                ),
            })
    }

    fn prefill_lookup(&self, kv: u32, c: u32) -> Result<f64, PredictorError> {
        self.prefill
            .get((kv / self.granularity) as usize, c as usize)
            .ok_or_else(|| PredictorError::OutOfRange {
                op: "attn_prefill",
                key: format!(
                    "(kv_cache_size={kv}, prefill_chunk_size_squared={})",
                    c as u64 * c as u64
                ),
                range: format!(
                    "kv_cache_size 0..={} step {} and prefill_chunk_size 1..={}",
                    (self.prefill.values.len() / self.prefill.cols - 1) as u32 * self.granularity,
                    self.granularity,
                    self.prefill.cols - 1
                ),
            })
    }

    fn prefill_time(&self, batch: &[BatchEntry]) -> Result<f64, PredictorError> {
        let g = self.granularity;
        let Some((n, kv_sum, c)) = super::vidur_prefill_key(batch, g) else {
            return Ok(0.0);
        };
        let overhead = 1.0 + self.prefill_overhead * (n > 1) as u32 as f64;
        match self.prefill_lookup(kv_sum, c) {
            Ok(v) => Ok(v * overhead),
            Err(e) if self.compat.is_vidur() || n == 1 => Err(e),
            Err(_) => {
                // Default mode: when the aggregate overflows the table (two partial prefills
                // whose KV sums past its end; Vidur raises KeyError), sum per-request lookups.
                let mut total = 0.0;
                for e in batch.iter().filter(|e| !e.is_prefill_complete) {
                    total +=
                        self.prefill_lookup(e.num_processed_tokens.div_ceil(g) * g, e.num_tokens)?;
                }
                Ok(total * overhead)
            }
        }
    }
}

impl ExecutionTimePredictor for VidurTablesPredictor {
    fn predict(&self, batch: &[BatchEntry], stage: u32) -> Result<StageTime, PredictorError> {
        let t: u32 = batch.iter().map(|e| e.num_tokens).sum();
        let t8 = t.div_ceil(8) * 8;
        let [pre, post, rope, _kv_save, up, down, act, in_ln, post_ln, add] = &self.ops[..] else {
            unreachable!("ten per-token tables are loaded")
        };
        // attn_kv_cache_save is looked up with the exact token count, everything else with T8.
        let kv_save = self.ops[3].get(t)?;
        let t_ar = match &self.all_reduce {
            Some(ar) if self.tp > 1 => ar.get(t8)? + self.ar_overhead_ms,
            _ => 0.0,
        };
        let t_pp = match &self.send_recv {
            Some(sr) if self.num_stages > 1 && stage + 1 < self.num_stages => sr.get(t8)?,
            _ => 0.0,
        };
        let attn_layer = pre.get(t8)?
            + post.get(t8)?
            + rope.get(t8)?
            + kv_save
            + self.decode_time(batch)?
            + self.prefill_time(batch)?
            + t_ar
            + in_ln.get(t8)?;
        let post_ln = if self.post_attn_norm {
            post_ln.get(t8)?
        } else {
            0.0
        };
        let mlp_layer = up.get(t8)? + down.get(t8)? + act.get(t8)? + t_ar + post_ln;
        let block = attn_layer + mlp_layer + add.get(t8)?;
        let model_s = (block * self.layers_per_stage + t_pp) * 1e-3;
        // CPU overheads are not modeled (Vidur's default skip_cpu_overhead_modeling=True).
        Ok(StageTime {
            total_s: model_s + 0.0 * 1e-3,
            model_s,
        })
    }

    fn describe(&self) -> String {
        format!("vidur-tables:{}", self.dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_error(name: &str, text: &str) -> String {
        let dir = std::env::temp_dir().join(format!("vidur-tables-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.csv")), text).unwrap();
        let e = read_table(&dir, name).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        e
    }

    #[test]
    fn bad_cells_are_errors_naming_line_and_column() {
        let e = table_error("add", "num_tokens,prediction\n1,0.01\n2,NaN\n");
        assert!(
            e.contains("add.csv")
                && e.contains("line 3")
                && e.contains("'prediction'")
                && e.contains("NaN"),
            "{e}"
        );
        let e = table_error("mlp_act", "num_tokens,prediction\n1,-0.5\n");
        assert!(e.contains("line 2") && e.contains("negative"), "{e}");
        let e = table_error(
            "attn_decode",
            "batch_size,kv_cache_size,prediction\n1,64,0.1\n1,nan,0.2\n",
        );
        assert!(
            e.contains("line 3") && e.contains("'kv_cache_size'") && e.contains("NaN"),
            "{e}"
        );
        let e = table_error("attn_rope", "num_tokens,prediction\n1.5,0.1\n");
        assert!(
            e.contains("line 2") && e.contains("'num_tokens'") && e.contains("whole number"),
            "{e}"
        );
        let e = table_error("attn_post_proj", "num_tokens,prediction\n");
        assert!(
            e.contains("attn_post_proj.csv") && e.contains("no data rows"),
            "{e}"
        );
    }
}
