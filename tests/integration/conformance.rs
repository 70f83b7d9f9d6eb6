//! Vidur conformance: every case in `../shared/conformance/cases/` is run through the CLI
//! (`simulate --vidur-config ... --trace ... --vidur-tables ...`) and its outputs compared with
//! Vidur's: per request, every time column of request_metrics.csv within max(1e-6 s, 0.1%) for
//! at least 99% of requests and identical restart counts; batch-metric CDFs within 1%.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{bin, read_csv, shared, tables_for};

const TIME_COLUMNS: usize = 14;

struct CaseResult {
    name: String,
    worst_rel: Vec<f64>,
    within: Vec<usize>,
    n: usize,
    restarts_equal: bool,
    cdf_worst: BTreeMap<String, f64>,
}

fn run_case(case: &Path, tables_root: &Path, out_root: &Path) -> CaseResult {
    let name = case.file_name().unwrap().to_string_lossy().to_string();
    let out = out_root.join(&name);
    let _ = std::fs::remove_dir_all(&out);
    let status = bin()
        .arg("simulate")
        .arg("--vidur-config")
        .arg(case.join("config.json"))
        .arg("--trace")
        .arg(case.join("trace.csv"))
        .arg("--vidur-tables")
        .arg(tables_for(case, tables_root))
        .arg("--output")
        .arg(&out)
        .output()
        .expect("run vidur-search");
    assert!(
        status.status.success(),
        "{name}: simulate failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );

    let (vh, vrows) = read_csv(&case.join("request_metrics.csv"));
    let (oh, orows) = read_csv(&out.join("request_metrics.csv"));
    assert_eq!(
        vh, oh,
        "{name}: request_metrics.csv columns differ from Vidur's"
    );
    assert_eq!(vrows.len(), orows.len(), "{name}: request count differs");
    let restarts = vh.iter().position(|c| c == "request_num_restarts").unwrap();
    let mut worst_rel = vec![0.0; TIME_COLUMNS];
    let mut within = vec![0usize; TIME_COLUMNS];
    let mut restarts_equal = true;
    for (v, o) in vrows.iter().zip(&orows) {
        assert_eq!(v[0], o[0], "{name}: request ids out of order");
        for j in 0..TIME_COLUMNS {
            let (a, b) = (&v[j + 1], &o[j + 1]);
            if a.is_empty() || b.is_empty() {
                if a.is_empty() == b.is_empty() {
                    within[j] += 1;
                }
                continue;
            }
            let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
            let diff = (a - b).abs();
            let rel = diff / a.abs().max(f64::MIN_POSITIVE);
            if diff <= 1e-6 || rel <= 1e-3 {
                within[j] += 1;
            }
            if diff > 1e-6 {
                worst_rel[j] = f64::max(worst_rel[j], rel);
            }
        }
        let (a, b) = (&v[restarts], &o[restarts]);
        if a.parse::<f64>().ok() != b.parse::<f64>().ok() {
            restarts_equal = false;
        }
    }

    let mut cdf_worst = BTreeMap::new();
    for metric in [
        "batch_execution_time",
        "batch_num_tokens",
        "batch_num_prefill_tokens",
        "batch_num_decode_tokens",
        "batch_size",
        "decode_token_execution_plus_preemption_time",
    ] {
        let (_, v) = read_csv(&case.join("plots").join(format!("{metric}.csv.gz")));
        let (_, o) = read_csv(&out.join("plots").join(format!("{metric}.csv")));
        assert_eq!(
            v.len(),
            o.len(),
            "{name}: {metric} CDF has {} rows, Vidur's {}",
            o.len(),
            v.len()
        );
        let mut worst: f64 = 0.0;
        for (a, b) in v.iter().zip(&o) {
            let (a, b): (f64, f64) = (a[2].parse().unwrap(), b[2].parse().unwrap());
            let rel = if a == b {
                0.0
            } else {
                (a - b).abs() / a.abs().max(b.abs())
            };
            worst = worst.max(rel);
        }
        cdf_worst.insert(metric.to_string(), worst);
    }
    // Utilization meters (with Vidur's index-shifted file names) must match too.
    for entry in std::fs::read_dir(case.join("plots")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let file = path.file_name().unwrap();
        let want: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let ours = out.join("plots").join(file);
        let got: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&ours)
                .unwrap_or_else(|e| panic!("{name}: {}: {e}", ours.display())),
        )
        .unwrap();
        for (k, w) in want.as_object().unwrap() {
            let (w, g) = (w.as_f64().unwrap(), got[k].as_f64().unwrap_or(f64::NAN));
            let rel = if w == g {
                0.0
            } else {
                (w - g).abs() / w.abs().max(g.abs())
            };
            cdf_worst.insert(format!("{}:{k}", file.to_string_lossy()), rel);
        }
    }
    CaseResult {
        name,
        worst_rel,
        within,
        n: vrows.len(),
        restarts_equal,
        cdf_worst,
    }
}

#[test]
fn conformance_cases_match_vidur() {
    let shared = shared();
    let cases_dir = shared.join("conformance/cases");
    let tables = shared.join("conformance/tables");
    let out_root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("conformance");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&cases_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(
        !cases.is_empty(),
        "no conformance cases under {}",
        cases_dir.display()
    );

    let results: Vec<CaseResult> = cases
        .iter()
        .map(|c| run_case(c, &tables, &out_root))
        .collect();
    println!(
        "{:<16} {:>5} {:>11} {:>11} {:>9} {:>11}",
        "case", "n", "min ok %", "worst rel", "restarts", "worst CDF"
    );
    let mut failures = Vec::new();
    for r in &results {
        let min_ok = r
            .within
            .iter()
            .map(|w| *w as f64 / r.n as f64)
            .fold(1.0, f64::min);
        let worst = r.worst_rel.iter().cloned().fold(0.0, f64::max);
        let cdf = r.cdf_worst.values().cloned().fold(0.0, f64::max);
        println!(
            "{:<16} {:>5} {:>10.2}% {:>11.2e} {:>9} {:>10.3}%",
            r.name,
            r.n,
            min_ok * 100.0,
            worst,
            if r.restarts_equal { "equal" } else { "DIFFER" },
            cdf * 100.0
        );
        if min_ok < 0.99 {
            failures.push(format!(
                "{}: only {:.1}% of requests within tolerance in some column ({:?})",
                r.name,
                min_ok * 100.0,
                r.within
            ));
        }
        if !r.restarts_equal {
            failures.push(format!("{}: request_num_restarts differ", r.name));
        }
        for (m, w) in &r.cdf_worst {
            if *w > 0.01 {
                failures.push(format!("{}: {m} CDF off by {:.2}%", r.name, w * 100.0));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "conformance failures:\n{}",
        failures.join("\n")
    );
}
