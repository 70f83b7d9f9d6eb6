//! Which regressor predicts unmeasured profile points best? Run with
//! `cargo test --release --lib -- --ignored compare_regressors --nocapture` (needs `../shared`).
//!
//! Series: every shared `mlp.csv` × its TPs × the 9 mlp ops (input_layernorm, attn_pre_proj,
//! attn_rope, attn_post_proj, post_attention_layernorm, mlp_up_proj, mlp_act, mlp_down_proj,
//! add), and every network file × its (collective, num_workers, devices_per_node) groups with
//! num_tokens = size / 4096 / 2. Two measurements, both MAPE over the held-out rows:
//! * interpolation: every 5th distinct x (index ≡ 2 mod 5) held out, the largest kept;
//! * extrapolation: fit on x ≤ x_max / 2, predict the rest (compares [`Extrapolation`] rules).
//!
//! The random forest is smartcore's (a dev-dependency only), seeded, with Vidur's grid values
//! n_trees 250, max_depth 16, min_samples_split 2.

use std::path::{Path, PathBuf};

use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

use super::frame::Frame;
use super::regress::{Curve, Extrapolation, Points, Regressor};

fn shared_profiles() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/vidur-profiling");
    assert!(
        p.join("compute").is_dir(),
        "this measurement needs ../shared/data/vidur-profiling beside the repository"
    );
    p
}

fn files(dir: &Path, name: &str, out: &mut Vec<PathBuf>) {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            files(&p, name, out);
        } else if p.file_name().is_some_and(|n| n == name) {
            out.push(p);
        }
    }
}

/// (series label, op, points).
fn series() -> Vec<(String, String, Points)> {
    let root = shared_profiles();
    let mut out = Vec::new();
    let mut mlps = Vec::new();
    files(&root.join("compute"), "mlp.csv", &mut mlps);
    for path in mlps {
        let f = Frame::read(&path).unwrap();
        let tok = f.col("num_tokens").unwrap();
        let tpc = f.col("num_tensor_parallel_workers").unwrap();
        let mut tps: Vec<f64> = (0..f.rows.len()).filter_map(|r| f.num(r, tpc)).collect();
        tps.sort_by(f64::total_cmp);
        tps.dedup();
        for tp in tps {
            for op in [
                "input_layernorm",
                "attn_pre_proj",
                "attn_rope",
                "attn_post_proj",
                "post_attention_layernorm",
                "mlp_up_proj",
                "mlp_act",
                "mlp_down_proj",
                "add",
            ] {
                let Some(c) = f.find(&format!("time_stats.{op}.median")) else {
                    continue;
                };
                let p = Points::group((0..f.rows.len()).filter_map(|r| {
                    if f.num(r, tpc) != Some(tp) {
                        return None;
                    }
                    Some((f.num(r, tok)?, f.num(r, c)?))
                }));
                if p.len() >= 10 && p.ys.iter().all(|&y| y > 0.0) {
                    let label = format!("{} tp{tp}", path.strip_prefix(&root).unwrap().display());
                    out.push((label, op.to_string(), p));
                }
            }
        }
    }
    let mut nets = Vec::new();
    files(&root.join("network"), "all_reduce.csv", &mut nets);
    files(&root.join("network"), "send_recv.csv", &mut nets);
    for path in nets {
        let f = Frame::read(&path).unwrap();
        let (cc, wc, dc, sc) = (
            f.col("collective").unwrap(),
            f.col("num_workers").unwrap(),
            f.col("devices_per_node").unwrap(),
            f.col("size").unwrap(),
        );
        let mut groups: Vec<(String, f64, f64)> = Vec::new();
        for r in &f.rows {
            let g = (
                r[cc].to_string(),
                r[wc].num().unwrap(),
                r[dc].num().unwrap(),
            );
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        for (coll, w, d) in groups {
            let Some(yc) = f.find(&format!("time_stats.{coll}.median")) else {
                continue;
            };
            let p = Points::group(f.rows.iter().filter_map(|r| {
                if r[cc].to_string() != coll || r[wc].num() != Some(w) || r[dc].num() != Some(d) {
                    return None;
                }
                Some((r[sc].num()? / 4096.0 / 2.0, r[yc].num()?))
            }));
            if p.len() >= 10 && p.ys.iter().all(|&y| y > 0.0) {
                let label = format!("{} w{w} d{d}", path.strip_prefix(&root).unwrap().display());
                out.push((label, coll, p));
            }
        }
    }
    out
}

fn subset(p: &Points, keep: impl Fn(usize) -> bool) -> Points {
    let idx: Vec<usize> = (0..p.len()).filter(|&i| keep(i)).collect();
    Points {
        xs: idx.iter().map(|&i| p.xs[i]).collect(),
        ys: idx.iter().map(|&i| p.ys[i]).collect(),
        ws: idx.iter().map(|&i| p.ws[i]).collect(),
    }
}

#[derive(Clone, Copy, Debug)]
enum Candidate {
    Ours(Regressor, Extrapolation),
    Forest,
}

fn predict(c: Candidate, train: &Points, xs: &[f64]) -> Vec<f64> {
    match c {
        Candidate::Ours(r, e) => {
            let curve = Curve::fit(train, r, e);
            xs.iter().map(|&x| curve.eval(x)).collect()
        }
        Candidate::Forest => {
            let x = DenseMatrix::from_2d_vec(&train.xs.iter().map(|&x| vec![x]).collect()).unwrap();
            let params = RandomForestRegressorParameters::default()
                .with_n_trees(250)
                .with_max_depth(16)
                .with_min_samples_split(2)
                .with_seed(0);
            let rf = RandomForestRegressor::fit(&x, &train.ys, params).unwrap();
            let q = DenseMatrix::from_2d_vec(&xs.iter().map(|&x| vec![x]).collect()).unwrap();
            rf.predict(&q).unwrap()
        }
    }
}

fn name(c: Candidate) -> String {
    match c {
        Candidate::Ours(r, Extrapolation::UpperHalfSlope) => r.name(),
        Candidate::Ours(r, e) => format!("{}/{e:?}", r.name()),
        Candidate::Forest => "forest".into(),
    }
}

/// Per op and overall: MAPE (%) of each candidate over the held-out points, as a text table
/// (the caller prints it).
fn report(
    title: &str,
    all: &[(String, String, Points)],
    cands: &[Candidate],
    split: impl Fn(&Points) -> (Points, Points),
) -> String {
    let mut out = String::new();
    let mut ops: Vec<&str> = all.iter().map(|s| s.1.as_str()).collect();
    ops.dedup();
    let mut uniq: Vec<&str> = Vec::new();
    for o in ops {
        if !uniq.contains(&o) {
            uniq.push(o);
        }
    }
    out.push_str(&format!("\n{title}\n"));
    out.push_str(&format!("{:<26}", "op (held-out points)"));
    for c in cands {
        out.push_str(&format!("{:>14}", name(*c)));
    }
    out.push('\n');
    let mut tot = vec![(0.0, 0usize); cands.len()];
    for op in &uniq {
        let mut acc = vec![(0.0, 0usize); cands.len()];
        for (_, _, p) in all.iter().filter(|s| s.1 == *op) {
            let (train, test) = split(p);
            for (k, &c) in cands.iter().enumerate() {
                let pred = predict(c, &train, &test.xs);
                for (y, yh) in test.ys.iter().zip(pred) {
                    acc[k].0 += ((yh - y) / y).abs();
                    acc[k].1 += 1;
                }
            }
        }
        out.push_str(&format!("{:<26}", format!("{op} ({})", acc[0].1)));
        for (k, a) in acc.iter().enumerate() {
            out.push_str(&format!("{:>14.2}", 100.0 * a.0 / a.1 as f64));
            tot[k].0 += a.0;
            tot[k].1 += a.1;
        }
        out.push('\n');
    }
    out.push_str(&format!("{:<26}", format!("all ({})", tot[0].1)));
    for a in &tot {
        out.push_str(&format!("{:>14.2}", 100.0 * a.0 / a.1 as f64));
    }
    out.push('\n');
    out
}

#[test]
#[ignore = "measurement over ../shared; run by hand with --ignored --nocapture"]
fn compare_regressors() {
    let all = series();
    println!("{} series", all.len());
    let up = Extrapolation::UpperHalfSlope;
    let interp = [
        Candidate::Ours(Regressor::Linear, up),
        Candidate::Ours(Regressor::Pchip, up),
        Candidate::Ours(Regressor::Isotonic, up),
        Candidate::Ours(Regressor::Lowess { k: 5 }, up),
        Candidate::Ours(Regressor::Lowess { k: 9 }, up),
        Candidate::Ours(Regressor::Poly { degree: 3 }, up),
        Candidate::Ours(Regressor::Poly { degree: 5 }, up),
        Candidate::Forest,
    ];
    print!(
        "{}",
        report(
            "interpolation: every 5th measured x held out (MAPE %)",
            &all,
            &interp,
            |p| {
                let n = p.len();
                let test = |i: usize| i % 5 == 2 && i + 1 < n;
                (subset(p, |i| !test(i)), subset(p, test))
            },
        )
    );
    let extra = [
        Candidate::Ours(Regressor::Linear, Extrapolation::UpperHalfSlope),
        Candidate::Ours(Regressor::Linear, Extrapolation::LastSegment),
        Candidate::Ours(Regressor::Linear, Extrapolation::Proportional),
        Candidate::Ours(Regressor::Linear, Extrapolation::Flat),
        Candidate::Ours(Regressor::Pchip, Extrapolation::UpperHalfSlope),
        Candidate::Ours(Regressor::Poly { degree: 3 }, Extrapolation::UpperHalfSlope),
        Candidate::Forest,
    ];
    print!(
        "{}",
        report(
            "extrapolation: fit on x <= x_max/2, predict above (MAPE %)",
            &all,
            &extra,
            |p| {
                let half = p.xs[p.len() - 1] / 2.0;
                (
                    subset(p, |i| p.xs[i] <= half),
                    subset(p, |i| p.xs[i] > half),
                )
            },
        )
    );
}
