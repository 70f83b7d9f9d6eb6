//! Built-in workloads end to end: the shipped `data/workloads.yaml` is what refitting the shared
//! traces gives (library and CLI, byte for byte), draws match the traces' statistics, and a
//! simulation YAML naming a built-in runs with no trace file.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use vidur_search::cli::{prepare, SimulateArgs};
use vidur_search::workload::{builtin, builtin_names, BuiltinCatalog};

use crate::common::{bin, shared};

const REFIT: &str =
    "vidur-search fit-workloads --traces ../shared/data/traces --out data/workloads.yaml";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    crate::common::fresh_dir("workloads", name)
}

fn traces() -> PathBuf {
    shared().join("data/traces")
}

/// The first differing line, for a readable failure.
fn first_diff(a: &str, b: &str) -> String {
    match a.lines().zip(b.lines()).position(|(x, y)| x != y) {
        Some(i) => format!(
            "line {}:\n  shipped: {}\n  refit:   {}",
            i + 1,
            a.lines().nth(i).unwrap_or(""),
            b.lines().nth(i).unwrap_or("")
        ),
        None => format!(
            "lengths differ ({} vs {} lines)",
            a.lines().count(),
            b.lines().count()
        ),
    }
}

#[test]
fn shipped_workloads_are_what_the_shared_traces_refit_to() {
    let shipped_text = std::fs::read_to_string(repo().join("data/workloads.yaml")).unwrap();
    let shipped = BuiltinCatalog::parse(&shipped_text, "data/workloads.yaml").unwrap();
    // The library fit, with the shipped provenance: the whole file, byte for byte.
    let fresh = BuiltinCatalog::fit(&traces(), &shipped.generated_by, &shipped.fitted_on).unwrap();
    let fresh_text = fresh.to_yaml();
    assert!(
        fresh_text == shipped_text,
        "data/workloads.yaml is stale: rerun `{REFIT}`; first difference at {}",
        first_diff(&shipped_text, &fresh_text)
    );

    // The CLI: same figures; a second run keeps the date and rewrites the same bytes.
    let out = tmp("refit").join("w.yaml");
    let run = || {
        let o = bin()
            .args(["fit-workloads", "--traces"])
            .arg(traces())
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            std::fs::read_to_string(&out).unwrap(),
        )
    };
    let (_, first) = run();
    let cli = BuiltinCatalog::parse(&first, "w.yaml").unwrap();
    assert_eq!(cli.figures_yaml(), shipped.figures_yaml());
    let (stdout, second) = run();
    assert_eq!(first, second);
    assert!(stdout.contains("unchanged:"), "{stdout}");
    for name in builtin_names() {
        assert!(stdout.contains(name), "{stdout}");
    }
}

/// `(prefill, decode)` rows of a trace CSV (integers as the fit reads them).
fn read_trace(path: &Path) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (cp, cd) = (col("num_prefill_tokens"), col("num_decode_tokens"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let v = |c: usize| (f[c].trim().parse::<f64>().unwrap() as u64).max(1);
            (v(cp), v(cd))
        })
        .collect()
}

struct Stats {
    mean: f64,
    p50: f64,
    p90: f64,
}

fn stats(mut v: Vec<u64>) -> Stats {
    v.sort_unstable();
    let q = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1] as f64;
    Stats {
        mean: v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64,
        p50: q(0.5),
        p90: q(0.9),
    }
}

fn ranks(v: &[u64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by_key(|&i| v[i]);
    let mut r = vec![0.0; v.len()];
    let mut s = 0;
    while s < idx.len() {
        let mut e = s + 1;
        while e < idx.len() && v[idx[e]] == v[idx[s]] {
            e += 1;
        }
        for &i in &idx[s..e] {
            r[i] = (s + e - 1) as f64 / 2.0;
        }
        s = e;
    }
    r
}

fn spearman(rows: &[(u64, u64)]) -> f64 {
    let x = ranks(&rows.iter().map(|r| r.0).collect::<Vec<_>>());
    let y = ranks(&rows.iter().map(|r| r.1).collect::<Vec<_>>());
    let m = (rows.len() as f64 - 1.0) / 2.0;
    let (mut xy, mut xx, mut yy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(&y) {
        xy += (a - m) * (b - m);
        xx += (a - m) * (a - m);
        yy += (b - m) * (b - m);
    }
    xy / (xx * yy).sqrt()
}

#[test]
fn draws_match_their_traces() {
    let cat = BuiltinCatalog::embedded().unwrap();
    assert_eq!(cat.workloads().len(), builtin_names().len());
    for w in cat.workloads() {
        let trace = read_trace(&traces().join(w.source()));
        assert_eq!(trace.len() as u64, w.rows(), "{}", w.name());
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(17);
        let draws: Vec<(u64, u64)> = (0..20_000)
            .map(|_| {
                let (p, d) = builtin(w.name()).unwrap().sample(&mut rng, u32::MAX);
                (p.into(), d.into())
            })
            .collect();
        type Col = fn(&(u64, u64)) -> u64;
        let cols: [(&str, Col); 3] = [
            ("prefill", |r| r.0),
            ("decode", |r| r.1),
            ("total", |r| r.0 + r.1),
        ];
        for (what, f) in cols {
            let s = stats(draws.iter().map(f).collect());
            let t = stats(trace.iter().map(f).collect());
            for (stat, a, b) in [
                ("mean", s.mean, t.mean),
                ("p50", s.p50, t.p50),
                ("p90", s.p90, t.p90),
            ] {
                let err = a / b - 1.0;
                assert!(
                    err.abs() < 0.10,
                    "{} {what} {stat}: sampled {a:.1} vs trace {b:.1} ({:+.1}%)",
                    w.name(),
                    err * 100.0
                );
            }
        }
        let (rt, rs) = (spearman(&trace), spearman(&draws));
        assert!(
            rt.signum() == rs.signum() && (rt - rs).abs() < 0.03,
            "{}: Spearman trace {rt:.4} vs sampled {rs:.4}",
            w.name()
        );
    }
}

#[test]
fn a_sim_yaml_naming_a_builtin_simulates() {
    let dir = tmp("sim");
    let path = dir.join("chat.yaml");
    std::fs::write(
        &path,
        "\
model: meta-llama/Llama-2-7b-hf
device: a100
scheduler: {type: sarathi, chunk_size: 512, batch_size_cap: 64}
workload:
  synthetic:
    seed: 3
    num_requests: 200
    max_tokens: 4096
    lengths: {builtin: {name: chat}}
    intervals: {poisson: {qps: 2.0}}
",
    )
    .unwrap();
    let args = SimulateArgs {
        config: Some(path.clone()),
        vidur_config: None,
        trace: None,
        vidur_tables: None,
        calibration_source: None,
        output: None,
        no_plots: false,
        calibration: None,
        compat: None,
        json: false,
    };
    let mut prep = prepare(&args).unwrap();
    let requests: Vec<_> = prep.workload.by_ref().collect();
    assert_eq!(requests.len(), 200);
    let p: Vec<u32> = requests.iter().map(|r| r.num_prefill_tokens).collect();
    assert!(requests
        .iter()
        .all(|r| r.num_prefill_tokens + r.num_decode_tokens <= 4096));
    // Conversation lengths: varied, prompts around a thousand tokens on average.
    let mean_p = p.iter().map(|&x| f64::from(x)).sum::<f64>() / 200.0;
    assert!((500.0..2000.0).contains(&mean_p), "{mean_p}");
    assert!(p.iter().any(|&x| x != p[0]));
    let (_, metrics) =
        vidur_search::metrics::simulate_recorded(&prep.sim, &requests, prep.predictor.as_ref())
            .unwrap();
    let s = metrics.summary();
    assert_eq!(s.requests.completed, 200);

    // A misspelt name fails with the known names, through the same path.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("name: chat", "name: chta")).unwrap();
    let e = format!("{:#}", prepare(&args).err().unwrap());
    assert!(
        e.contains("builtin.name") && e.contains("chat (alias conversation)"),
        "{e}"
    );
}
