//! The profile predictor on Vidur's real profiles (`../shared/data/vidur-profiling`): Llama-2-7B
//! on A100 at TP 1 and TP 2 (a100_pairwise_nvlink). Attention comes from a test fallback (the
//! shared data has no attention.csv). Checks: at measured token counts the per-op times are the
//! measured medians; in between they stay between the neighbours; collectives match their
//! measurements; and the token ops agree with the random-forest tables Vidur itself computed
//! from the same profiles (`../shared/conformance/tables/`).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use vidur_search::catalog::ModelSpec;
use vidur_search::predictor::{
    BatchEntry, ExecutionTimePredictor, OpModel, PredictorError, ProfileOptions, ProfilePredictor,
    TokenOp,
};

use crate::common::shared;

/// Attention at fixed, recognizable costs.
struct FlatAttention;

impl OpModel for FlatAttention {
    fn token_op_ms(&self, _: TokenOp, num_tokens: u32) -> Result<f64, PredictorError> {
        Ok(1e-4 * num_tokens as f64)
    }
    fn attn_prefill_ms(&self, batch: &[BatchEntry]) -> Result<f64, PredictorError> {
        Ok(0.5 * batch.iter().filter(|e| !e.is_prefill_complete).count() as f64)
    }
    fn attn_decode_ms(&self, batch: &[BatchEntry]) -> Result<f64, PredictorError> {
        Ok(0.05 * batch.iter().filter(|e| e.is_prefill_complete).count() as f64)
    }
    fn all_reduce_ms(&self, _: u32) -> Result<f64, PredictorError> {
        unreachable!("attention fallback only")
    }
    fn send_recv_ms(&self, _: u32) -> Result<f64, PredictorError> {
        unreachable!("attention fallback only")
    }
    fn describe(&self) -> String {
        "flat-attention".into()
    }
}

fn opts() -> ProfileOptions {
    ProfileOptions {
        attention_fallback: Some(Arc::new(FlatAttention)),
        ..ProfileOptions::default()
    }
}

fn llama7b() -> ModelSpec {
    ModelSpec::builtin("meta-llama/Llama-2-7b-hf").unwrap()
}

fn load(tp: u32, pp: u32) -> ProfilePredictor {
    load_model(&llama7b(), tp, pp)
}

fn load_model(model: &ModelSpec, tp: u32, pp: u32) -> ProfilePredictor {
    let dir = shared().join("data/vidur-profiling");
    let t = Instant::now();
    let p = ProfilePredictor::load(
        &dir,
        "a100",
        "a100_pairwise_nvlink",
        model,
        tp,
        pp,
        16,
        &opts(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "profiles: {} a100 TP{tp} PP{pp} loaded and fitted in {:.1} ms",
        model.name,
        t.elapsed().as_secs_f64() * 1e3
    );
    p
}

/// CSV rows as header → value maps.
fn read_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        s
    } else {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    rdr.records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect()
}

fn num(row: &BTreeMap<String, String>, col: &str) -> f64 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col}={}", row[col]))
}

const MLP_OPS: [TokenOp; 9] = [
    TokenOp::AttnPreProj,
    TokenOp::AttnPostProj,
    TokenOp::AttnRope,
    TokenOp::MlpUpProj,
    TokenOp::MlpDownProj,
    TokenOp::MlpAct,
    TokenOp::InputLayernorm,
    TokenOp::PostAttentionLayernorm,
    TokenOp::Add,
];

/// Measured medians per op and num_tokens for Llama-2-7B at `tp` (repeats kept as a list).
fn measured(tp: u32) -> BTreeMap<(TokenOp, u32), Vec<f64>> {
    let path = shared().join("data/vidur-profiling/compute/a100/meta-llama/Llama-2-7b-hf/mlp.csv");
    let mut out: BTreeMap<(TokenOp, u32), Vec<f64>> = BTreeMap::new();
    for row in read_rows(&path) {
        if num(&row, "num_tensor_parallel_workers") != tp as f64 {
            continue;
        }
        let n = num(&row, "num_tokens") as u32;
        for op in MLP_OPS {
            out.entry((op, n))
                .or_default()
                .push(num(&row, &format!("time_stats.{}.median", op.name())));
        }
    }
    out
}

#[test]
fn token_ops_reproduce_the_measured_medians() {
    for tp in [1, 2] {
        let p = load(tp, 1);
        let m = measured(tp);
        assert!(m.len() > 2000, "{} measured points", m.len());
        let mut worst = 0.0f64;
        for ((op, n), ys) in &m {
            // Token ops are looked up at ceil_to(T, 8): only multiples of 8 are direct hits.
            if n % 8 != 0 {
                continue;
            }
            let got = p.token_op_ms(*op, *n).unwrap();
            let mean = ys.iter().sum::<f64>() / ys.len() as f64;
            assert!(
                (got - mean).abs() <= 1e-12 * mean,
                "{} TP{tp} at {n}: {got} vs measured {ys:?}",
                op.name()
            );
            for y in ys {
                worst = worst.max((got - y).abs() / y);
            }
        }
        // Repeated measurements of one size differ by a few %; the fit takes their mean.
        eprintln!(
            "TP{tp}: worst deviation from a single measured median {:.2}%",
            100.0 * worst
        );
        assert!(worst < 0.05, "{worst}");
        // Between measured sizes (e.g. 1032 between 1024 and 1040): between the neighbours'
        // (mean) medians.
        for op in MLP_OPS {
            for (lo, hi, q) in [(1024, 1040, 1032), (2048, 2080, 2056), (4064, 4096, 4072)] {
                let mean = |k| m[&(op, k)].iter().sum::<f64>() / m[&(op, k)].len() as f64;
                let (a, b) = (mean(lo), mean(hi));
                let got = p.token_op_ms(op, q).unwrap();
                assert!(
                    got >= a.min(b) - 1e-12 && got <= a.max(b) + 1e-12,
                    "{} TP{tp} at {q}: {got} not within [{a}, {b}]",
                    op.name()
                );
            }
        }
        // T = 1..=8 all price 8 tokens; T = 9 prices 16.
        for op in MLP_OPS {
            let at8 = p.token_op_ms(op, 8).unwrap();
            for t in 1..8 {
                assert_eq!(p.token_op_ms(op, t).unwrap(), at8);
            }
            assert_eq!(
                p.token_op_ms(op, 9).unwrap(),
                p.token_op_ms(op, 16).unwrap()
            );
        }
        // Past the profiled 4096 tokens: proportional extrapolation, no error.
        let at4096 = p.token_op_ms(TokenOp::MlpUpProj, 4096).unwrap();
        let at8192 = p.token_op_ms(TokenOp::MlpUpProj, 8192).unwrap();
        assert!((at8192 / at4096 - 2.0).abs() < 1e-9);
    }
}

#[test]
fn collectives_match_the_measured_network_profiles() {
    let p = load(2, 2);
    let e = llama7b().embedding_dim as f64;
    let net = shared().join("data/vidur-profiling/network/a100_pairwise_nvlink");
    for (file, coll, workers, per_node) in [
        ("all_reduce.csv", "all_reduce", Some(2.0), 2.0),
        // TP·PP = 4 ≤ 4 devices per node: Vidur takes the intra-node rows.
        ("send_recv.csv", "send_recv", None, 2.0),
    ] {
        let mut pts: Vec<(f64, f64)> = read_rows(&net.join(file))
            .iter()
            .filter(|r| {
                r["collective"] == coll
                    && workers.is_none_or(|w| num(r, "num_workers") == w)
                    && num(r, "devices_per_node") == per_node
            })
            .map(|r| {
                (
                    num(r, "size") / e / 2.0,
                    num(r, &format!("time_stats.{coll}.median")),
                )
            })
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(pts.len() > 900, "{file}: {} rows", pts.len());
        // Sizes are 2048 + 8192·k bytes: num_tokens k + 0.25 for E = 4096. A lookup at T8
        // interpolates between the two measured neighbours.
        for t8 in (8..=4096).step_by(8) {
            let got = if coll == "all_reduce" {
                p.all_reduce_ms(t8).unwrap() - 0.02
            } else {
                p.send_recv_ms(t8).unwrap()
            };
            let i = pts.partition_point(|q| q.0 <= t8 as f64);
            let (a, b) = (pts[i - 1].1, pts[i].1);
            assert!(
                got >= a.min(b) - 1e-12 && got <= a.max(b) + 1e-12,
                "{coll} at {t8}: {got} not within [{a}, {b}]"
            );
        }
    }
}

/// What a Vidur table prices.
enum Priced {
    Op(TokenOp),
    AllReduce,
    SendRecv,
}

impl Priced {
    fn name(&self) -> &'static str {
        match self {
            Priced::Op(o) => o.name(),
            Priced::AllReduce => "all_reduce",
            Priced::SendRecv => "send_recv",
        }
    }

    /// Our time for `t` tokens, without the all-reduce launch overhead (Vidur adds it after
    /// the table lookup).
    fn ms(&self, p: &ProfilePredictor, t: u32) -> f64 {
        match self {
            Priced::Op(o) => p.token_op_ms(*o, t).unwrap(),
            Priced::AllReduce => p.all_reduce_ms(t).unwrap() - 0.02,
            Priced::SendRecv => p.send_recv_ms(t).unwrap(),
        }
    }
}

/// Our token ops against the random-forest tables Vidur computed from the same profiles.
#[test]
fn token_ops_agree_with_vidurs_own_predictions() {
    for (set, model, tp, pp) in [
        ("llama2-7b_a100_tp1", "meta-llama/Llama-2-7b-hf", 1, 1),
        ("llama2-7b_a100_tp2_pp2", "meta-llama/Llama-2-7b-hf", 2, 2),
        ("llama3-8b_a100_tp1", "meta-llama/Meta-Llama-3-8B", 1, 1),
    ] {
        let p = load_model(&ModelSpec::builtin(model).unwrap(), tp, pp);
        let dir = shared().join("conformance/tables").join(set);
        let mut ops: Vec<Priced> = MLP_OPS.iter().map(|&o| Priced::Op(o)).collect();
        if tp > 1 {
            ops.extend([Priced::AllReduce, Priced::SendRecv]);
        }
        let mut report = Vec::new();
        for priced in &ops {
            let name = priced.name();
            let rows = read_rows(&dir.join(format!("{name}.csv.gz")));
            let (mut sum, mut n, mut worst) = (0.0, 0usize, 0.0f64);
            for r in &rows {
                let t = num(r, "num_tokens") as u32;
                if !t.is_multiple_of(8) {
                    continue;
                }
                let vidur = num(r, "prediction");
                let ape = (priced.ms(&p, t) - vidur).abs() / vidur;
                sum += ape;
                worst = worst.max(ape);
                n += 1;
            }
            let mape = 100.0 * sum / n as f64;
            report.push(format!("{name} {mape:.2}% (worst {:.1}%)", 100.0 * worst));
            assert!(n > 100, "{set}/{name}: {n} rows");
            assert!(
                mape < 3.0,
                "{set}/{name}: MAPE {mape:.2}% vs Vidur's predictions"
            );
        }
        eprintln!(
            "{set}: ours vs Vidur's random forest: {}",
            report.join(", ")
        );
    }
}

#[test]
fn composed_stage_times_use_the_profiles_and_the_fallback() {
    let p = load(2, 1);
    assert!(p.attention_from_fallback());
    let d = ExecutionTimePredictor::describe(&p.clone().into_composed());
    assert!(
        d.contains("profiles:")
            && d.contains("meta-llama/Llama-2-7b-hf")
            && d.contains("attention: fallback flat-attention"),
        "{d}"
    );
    let c = p.clone().into_composed();
    let batch = [
        BatchEntry {
            num_tokens: 100,
            num_processed_tokens: 0,
            is_prefill_complete: false,
        },
        BatchEntry {
            num_tokens: 1,
            num_processed_tokens: 700,
            is_prefill_complete: true,
        },
    ];
    let got = c.predict(&batch, 0).unwrap().total_s;
    // 32 layers × (ops at 104 tokens + attention 0.5 + 0.05 + kv save 0.0101 + 2 all-reduces).
    let op = |o| p.token_op_ms(o, 101).unwrap();
    let ar = p.all_reduce_ms(101).unwrap();
    let block: f64 = MLP_OPS.iter().map(|&o| op(o)).sum::<f64>() + 0.5 + 0.05 + 0.0101 + 2.0 * ar;
    assert!((got - 32.0 * block * 1e-3).abs() < 1e-12, "{got}");
    // A 7B layer at ~100 tokens on A100 TP2: the measured ops sum to a few tenths of a ms.
    assert!(got > 5e-3 && got < 0.1, "{got}");
}
