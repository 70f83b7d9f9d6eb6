//! `vidur-search predict`: the analytic predictor's time for one iteration of a batch given on
//! the command line, split by operator. It prices kernels only: whether the model and the
//! batch's KV cache fit in the GPUs' memory is not checked.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;

use crate::catalog::{self, HardwareCatalog};
use crate::compat::Compat;
use crate::config::predictor::{analytic_kernels, build, calibration};
use crate::config::sim_yaml::{check_tp_fits_node, AnalyticConfig, PredictorConfig};
use crate::predictor::{BatchEntry, ExecutionTimePredictor, StageTime};
use crate::sim::{MetricsOptions, RouterKind, SchedulerConfig, SchedulerKind, SimConfig};

pub(super) const PREDICT_EXAMPLES: &str = "\
Examples:
  # 64 sequences decoding at 1,024 tokens of context, Llama-3.1-8B on one H100:
  vidur-search predict --model meta-llama/Llama-3.1-8B --gpu h100 --decode 64x1024
  # A mixed batch (8 prompts of 512 tokens next to the decodes), TP2, as JSON:
  vidur-search predict --model meta-llama/Llama-3.1-8B --gpu h100 --tp 2 \\
      --prefill 512x8 --decode 64x1024 --json
  # Two pipeline stages, with a calibration fitted by `calibrate-kernels`:
  vidur-search predict --model meta-llama/Llama-3.1-70B --gpu h100 --tp 4 --pp 2 \\
      --decode 32x2048 --calibration my-calibration.json

Only kernel time is priced: memory fit (weights, KV cache) is not checked.";

/// Most batch members `predict` accepts (far beyond any engine's batch), so a typo cannot
/// allocate gigabytes.
const MAX_MEMBERS: u64 = 1 << 20;

/// `predict` arguments.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Model: a built-in or embedded Hugging Face name, or a config.json (or its folder).
    #[arg(long)]
    pub model: String,
    /// GPU: a hardware-catalog name or alias (e.g. h100, a100).
    #[arg(long)]
    pub gpu: String,
    /// Tensor-parallel degree.
    #[arg(long, default_value_t = 1)]
    pub tp: u32,
    /// Pipeline stages.
    #[arg(long, default_value_t = 1)]
    pub pp: u32,
    /// Prompts in the batch: TOKENSxCOUNT (COUNT prompts of TOKENS tokens, whole prefills).
    /// Repeatable.
    #[arg(long, value_name = "TOKENSxCOUNT", value_parser = parse_prefill)]
    pub prefill: Vec<Prefill>,
    /// Decoding sequences in the batch: COUNTxCONTEXT (COUNT sequences, CONTEXT tokens
    /// already in their KV cache). Repeatable.
    #[arg(long, value_name = "COUNTxCONTEXT", value_parser = parse_decode)]
    pub decode: Vec<Decode>,
    /// Calibration file of the analytic predictor (default: the embedded one).
    #[arg(long, value_name = "CAL.json")]
    pub calibration: Option<PathBuf>,
    /// Print a JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `--prefill TOKENSxCOUNT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefill {
    /// Prompt tokens of each.
    pub tokens: u32,
    /// Prompts.
    pub count: u32,
}

/// `--decode COUNTxCONTEXT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decode {
    /// Sequences.
    pub count: u32,
    /// Tokens in each one's KV cache.
    pub context: u32,
}

/// `AxB` with both positive integers.
fn parse_pair(flag: &str, form: &str, s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{flag} {s}: expected {form}, e.g. {}", example(flag));
    let (a, b) = s.trim().split_once(['x', 'X']).ok_or_else(bad)?;
    let num = |v: &str| v.trim().parse::<u32>().ok().filter(|n| *n > 0);
    match (num(a), num(b)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(format!("{} (both numbers positive integers)", bad())),
    }
}

fn example(flag: &str) -> &'static str {
    if flag == "--prefill" {
        "512x8"
    } else {
        "64x1024"
    }
}

fn parse_prefill(s: &str) -> Result<Prefill, String> {
    let (tokens, count) = parse_pair("--prefill", "TOKENSxCOUNT", s)?;
    Ok(Prefill { tokens, count })
}

fn parse_decode(s: &str) -> Result<Decode, String> {
    let (count, context) = parse_pair("--decode", "COUNTxCONTEXT", s)?;
    Ok(Decode { count, context })
}

/// The batch the flags describe: prefills first (whole prompts, nothing cached), then decodes
/// (one token each on top of CONTEXT cached ones).
fn batch(prefill: &[Prefill], decode: &[Decode]) -> Result<Vec<BatchEntry>> {
    let members: u64 = prefill.iter().map(|p| p.count as u64).sum::<u64>()
        + decode.iter().map(|d| d.count as u64).sum::<u64>();
    if members == 0 {
        bail!("the batch is empty: give at least one --prefill TOKENSxCOUNT or --decode COUNTxCONTEXT");
    }
    if members > MAX_MEMBERS {
        bail!("the batch has {members} members; at most {MAX_MEMBERS} are accepted");
    }
    let tokens: u64 = prefill
        .iter()
        .map(|p| p.tokens as u64 * p.count as u64)
        .sum::<u64>()
        + decode.iter().map(|d| d.count as u64).sum::<u64>();
    if tokens > u32::MAX as u64 {
        bail!("the batch has {tokens} tokens; at most {} fit", u32::MAX);
    }
    let mut out = Vec::with_capacity(members as usize);
    for p in prefill {
        out.extend((0..p.count).map(|_| BatchEntry {
            num_tokens: p.tokens,
            num_processed_tokens: 0,
            is_prefill_complete: false,
        }));
    }
    for d in decode {
        out.extend((0..d.count).map(|_| BatchEntry {
            num_tokens: 1,
            num_processed_tokens: d.context,
            is_prefill_complete: true,
        }));
    }
    Ok(out)
}

/// One stage's priced time.
struct Stage {
    ms: f64,
    parts: Vec<(&'static str, f64)>,
}

/// Run `predict`.
pub fn predict(args: &PredictArgs) -> Result<i32> {
    let entries = batch(&args.prefill, &args.decode)?;
    let here = Path::new("");
    let model = catalog::resolve_model(&args.model, here).context("--model")?;
    let hw = HardwareCatalog::embedded();
    let gpu = hw.gpu(&args.gpu).context("--gpu")?;
    let sim = SimConfig {
        model,
        device: catalog::resolve_device(&hw, &args.gpu, false).context("--gpu")?,
        node: catalog::resolve_node(&hw, None, &args.gpu, false).context("--gpu")?,
        tensor_parallel_size: args.tp,
        num_pipeline_stages: args.pp,
        num_replicas: 1,
        memory_margin_fraction: 0.1,
        max_tokens: 4096,
        scheduler: SchedulerConfig::new(SchedulerKind::Vllm),
        router: RouterKind::default(),
        seed: 0,
        time_limit_s: None,
        compat: Compat::Default,
        metrics: MetricsOptions::default(),
    };
    sim.validate().map_err(|e| {
        anyhow!(
            "{}",
            e.to_string()
                .replace("tensor_parallel_size", "--tp")
                .replace("num_pipeline_stages", "--pp")
        )
    })?;
    check_tp_fits_node(&sim, "--tp")
        .map_err(|e| anyhow!("{}", e.to_string().replace("field '--tp': ", "--tp ")))?;
    let mut pc = PredictorConfig::Analytic(AnalyticConfig::default());
    if let Some(p) = &args.calibration {
        pc.set_calibration(p)?;
    }
    let cal = calibration(&pc, here).context("--calibration")?;
    // The whole predictor (serving overheads included when the calibration has them) gives the
    // stage times; its kernel part gives the breakdown, the difference is the overheads.
    let full = build(&pc, &sim, Some(gpu), &cal, here)?;
    let PredictorConfig::Analytic(a) = &pc else {
        unreachable!("built as analytic above")
    };
    let (kernels, _) = analytic_kernels(a, &sim, gpu, &cal)?;
    let mut totals = vec![StageTime::default(); args.pp as usize];
    full.predict_stages(&entries, &mut totals)?;
    let stages: Vec<Stage> = kernels
        .breakdown(&entries)?
        .into_iter()
        .zip(&totals)
        .map(|(b, t)| {
            let ms = t.total_s * 1e3;
            let mut parts = b.parts;
            let overheads = ms - parts.iter().map(|(_, v)| v).sum::<f64>();
            if overheads.abs() > 1e-9 * ms.abs().max(1.0) {
                parts.push(("serving_overheads", overheads));
            }
            Stage { ms, parts }
        })
        .collect();
    let iteration_ms: f64 = stages.iter().map(|s| s.ms).sum();
    let describe = full.describe();
    if args.json {
        let json = serde_json::json!({
            "model": sim.model.name,
            "gpu": gpu.name,
            "tp": args.tp,
            "pp": args.pp,
            "iteration_ms": iteration_ms,
            "stages": stages.iter().enumerate().map(|(i, s)| serde_json::json!({
                "stage": i,
                "ms": s.ms,
                "breakdown": s.parts.iter()
                    .map(|(n, v)| (n.to_string(), serde_json::json!(v)))
                    .collect::<serde_json::Map<_, _>>(),
            })).collect::<Vec<_>>(),
            "predictor": describe,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!(
            "{}",
            table(
                args,
                &sim.model.name,
                &gpu.name,
                &stages,
                iteration_ms,
                &describe
            )
        );
    }
    Ok(0)
}

/// The human-readable report.
fn table(
    args: &PredictArgs,
    model: &str,
    gpu: &str,
    stages: &[Stage],
    iteration_ms: f64,
    describe: &str,
) -> String {
    let mut batch: Vec<String> = args
        .prefill
        .iter()
        .map(|p| format!("{} prefills of {} tokens", p.count, p.tokens))
        .collect();
    batch.extend(
        args.decode
            .iter()
            .map(|d| format!("{} decodes at {} context", d.count, d.context)),
    );
    let mut out = String::new();
    let _ = writeln!(out, "{model} on {gpu}, TP{} PP{}", args.tp, args.pp);
    let _ = writeln!(out, "batch: {}", batch.join(", "));
    let _ = writeln!(out, "predictor: {describe}");
    for (i, s) in stages.iter().enumerate() {
        let _ = writeln!(out);
        if stages.len() > 1 {
            let _ = writeln!(out, "stage {i}: {:.3} ms", s.ms);
        }
        let _ = writeln!(out, "  {:<26} {:>10} {:>7}", "operator", "ms", "share");
        for (name, ms) in &s.parts {
            let share = if s.ms > 0.0 { 100.0 * ms / s.ms } else { 0.0 };
            let _ = writeln!(out, "  {name:<26} {ms:>10.4} {share:>6.1}%");
        }
    }
    let _ = writeln!(out);
    if stages.len() > 1 {
        let times: Vec<String> = stages.iter().map(|s| format!("{:.3}", s.ms)).collect();
        let _ = writeln!(out, "stage times: {} ms", times.join(", "));
    }
    let _ = writeln!(
        out,
        "iteration (sum over stages, one micro-batch's latency): {iteration_ms:.3} ms"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn pairs_parse_and_errors_name_the_form() {
        assert_eq!(
            parse_prefill("512x8"),
            Ok(Prefill {
                tokens: 512,
                count: 8
            })
        );
        assert_eq!(
            parse_decode("64x1024"),
            Ok(Decode {
                count: 64,
                context: 1024
            })
        );
        for bad in [
            "64",
            "64x",
            "x1024",
            "0x1024",
            "64x-1",
            "64xabc",
            "64x1024x2",
        ] {
            let e = parse_decode(bad).unwrap_err();
            assert!(
                e.starts_with(&format!(
                    "--decode {bad}: expected COUNTxCONTEXT, e.g. 64x1024"
                )),
                "{e}"
            );
        }
        let e = parse_prefill("512").unwrap_err();
        assert!(e.contains("expected TOKENSxCOUNT, e.g. 512x8"), "{e}");
    }

    #[test]
    fn flags_build_the_batch() {
        let cli = crate::cli::Cli::try_parse_from([
            "vidur-search",
            "predict",
            "--model",
            "m",
            "--gpu",
            "h100",
            "--prefill",
            "512x2",
            "--decode",
            "3x100",
            "--decode",
            "1x7",
        ])
        .unwrap();
        let crate::cli::Command::Predict(a) = cli.command else {
            panic!("not predict")
        };
        assert_eq!((a.tp, a.pp, a.json), (1, 1, false));
        let b = batch(&a.prefill, &a.decode).unwrap();
        assert_eq!(b.len(), 6);
        assert_eq!(b.iter().map(|e| e.num_tokens).sum::<u32>(), 1024 + 4);
        assert!(b[..2]
            .iter()
            .all(|e| !e.is_prefill_complete && e.num_processed_tokens == 0));
        assert_eq!(b[4].num_processed_tokens, 100);
        assert!(b[2..].iter().all(|e| e.is_prefill_complete));
        let e = batch(&[], &[]).unwrap_err().to_string();
        assert!(e.contains("the batch is empty"), "{e}");
        let e = crate::cli::Cli::try_parse_from([
            "vidur-search",
            "predict",
            "--model",
            "m",
            "--gpu",
            "h100",
            "--decode",
            "64",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("--decode 64: expected COUNTxCONTEXT"), "{e}");
    }
}
