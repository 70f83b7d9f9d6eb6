//! `simulate --output` pictures: `report.html` and `plots/*.png`/`*.svg` beside the CSVs, none
//! of them with `--no-plots`, and reruns into the same folder in either mode.

use std::path::{Path, PathBuf};

use crate::common::bin;

const STEMS: [&str; 9] = [
    "ttft_cdf",
    "tpot_cdf",
    "tbt_cdf",
    "e2e_cdf",
    "scheduling_delay_cdf",
    "batch_size_over_time",
    "batch_tokens_over_time",
    "kv_cache_over_time",
    "busy_time",
];

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/examples/llama2-7b-sarathi.yaml")
}

fn simulate(cfg: &Path, out: &Path, extra: &[&str]) {
    let r = bin()
        .args(["simulate", "--config"])
        .arg(cfg)
        .arg("--output")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        r.status.success(),
        "simulate {extra:?} failed: {}",
        String::from_utf8_lossy(&r.stderr)
    );
}

/// Names of the files in `dir` with extension `ext`, sorted.
fn with_ext(dir: &Path, ext: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(ext))
        .collect();
    v.sort();
    v
}

#[test]
fn simulate_writes_report_and_plots_unless_no_plots() {
    let d = crate::common::fresh_dir("sim_report", "example");
    let out = d.join("out");
    simulate(&example(), &out, &[]);
    let plots = out.join("plots");
    for stem in STEMS {
        let png = std::fs::read(plots.join(format!("{stem}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{stem}.png");
        let svg = std::fs::read_to_string(plots.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{stem}.svg");
    }
    assert_eq!(with_ext(&plots, ".png").len(), STEMS.len());
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let completed = summary["requests"]["completed"].as_u64().unwrap();
    assert!(completed > 0);
    assert!(
        html.contains(&format!("{completed} completed")),
        "summary numbers"
    );
    assert!(html.contains("meta-llama/Llama-2-7b-hf"), "model name");
    assert_eq!(
        html.matches("data:image/png;base64,").count(),
        STEMS.len(),
        "one inlined picture per plot"
    );
    assert!(!html.contains("http://") && !html.contains("https://"));
    // The CSVs are still there.
    assert!(plots.join("prefill_e2e_time.csv").is_file());

    // Rerun into the same folder without pictures: none of them survive, CSVs stay.
    simulate(&example(), &out, &["--no-plots"]);
    assert!(!out.join("report.html").exists());
    assert!(with_ext(&plots, ".png").is_empty() && with_ext(&plots, ".svg").is_empty());
    assert!(plots.join("prefill_e2e_time.csv").is_file());
    assert!(out.join("summary.json").is_file());

    // And back: a folder holding pictures is accepted as an earlier output.
    simulate(&example(), &out, &[]);
    simulate(&example(), &out, &[]);
    assert!(out.join("report.html").is_file());
    assert_eq!(with_ext(&plots, ".svg").len(), STEMS.len());
}

#[test]
fn busy_bars_and_kv_lines_cover_every_replica() {
    let d = crate::common::fresh_dir("sim_report", "replicas");
    let cfg = d.join("two.yaml");
    std::fs::write(
        &cfg,
        "model: meta-llama/Llama-2-7b-hf\ndevice: a100\nnum_replicas: 2\n\
         scheduler: {type: sarathi, chunk_size: 512}\n\
         workload:\n  synthetic:\n    seed: 3\n    num_requests: 60\n    \
         lengths: {fixed: {prefill_tokens: 300, decode_tokens: 20}}\n    \
         intervals: {poisson: {qps: 3.0}}\n\
         metrics: {token_metrics: false}\n",
    )
    .unwrap();
    let out = d.join("out");
    simulate(&cfg, &out, &[]);
    let plots = out.join("plots");
    let busy = std::fs::read_to_string(plots.join("busy_time.svg")).unwrap();
    assert!(
        busy.contains("r0 s0") && busy.contains("r1 s0"),
        "busy bars"
    );
    let kv = std::fs::read_to_string(plots.join("kv_cache_over_time.svg")).unwrap();
    assert!(
        kv.contains("replica 0") && kv.contains("replica 1"),
        "KV lines"
    );
    // Without token metrics there is no TBT to draw; the page says so.
    assert!(!plots.join("tbt_cdf.png").exists());
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Not drawn") && html.contains("tbt_cdf"));
}
