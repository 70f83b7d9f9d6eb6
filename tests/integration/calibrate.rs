//! `calibrate` and `validate` end to end: measurements simulated with known serving overheads
//! are fitted back, and `validate` fails before the calibration and passes after it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use vidur_search::measured::{Lengths, Load, MeasuredMetrics, MeasuredPoint};
use vidur_search::predictor::analytic::calibration::Calibration;
use vidur_search::predictor::serving::{OverheadTerms, ServingCalibration};
use vidur_search::validate::{self, Outcome, SetupOptions};

use crate::common::{fresh_dir, run_bin};

/// The silicon CSV header (`../shared/data/measured/aic_silicon_dense.csv`).
const SILICON_HEADER: &str = "id,silicon_data_source,backend,backend_version,model_path,system,precision,mode,isl,osl,gemm_quant_mode,moe_quant_mode,batch_size,tp_size,pp_size,attention_dp_size,moe_tp_size,moe_ep_size,prefill_batch_size,prefill_num_workers,prefill_tp_size,prefill_pp_size,prefill_attention_dp_size,prefill_moe_tp_size,prefill_moe_ep_size,decode_batch_size,decode_num_workers,decode_tp_size,decode_pp_size,decode_attention_dp_size,decode_moe_tp_size,decode_moe_ep_size,silicon_ttft_ms,silicon_tpot_ms";

fn truth() -> OverheadTerms {
    OverheadTerms {
        step_ms: 4.0,
        per_seq_ms: 0.03,
        per_prefill_token_us: 8.0,
        decode_step_ms: 0.0,
        gpu_factor: [("h100".to_string(), 1.15)].into(),
    }
}

fn point(id: String, concurrency: u32, isl: u32, osl: u32, tp: u32) -> MeasuredPoint {
    MeasuredPoint {
        id,
        origin: "synthetic".into(),
        engine: Some("vllm".into()),
        engine_version: Some("0.12.0".into()),
        model: "meta-llama/Llama-3.1-8B".into(),
        gpu: "h100_sxm".into(),
        precision: "bf16".into(),
        kv_cache_dtype: None,
        tp,
        pp: 1,
        unsupported: None,
        load: Load::ClosedLoop {
            concurrency,
            num_requests: None,
        },
        lengths: Lengths::Fixed {
            input: isl,
            output: osl,
        },
        metrics: MeasuredMetrics::default(),
        requests: vec![],
        duration_s: None,
        failed_requests: 0,
    }
}

/// Simulate the points under `cal` and write them as a silicon CSV at `out`.
fn synthesize(cal: &Path, sims: &Path, out: &Path) {
    let mut points = Vec::new();
    for (i, (c, isl, osl, tp)) in [
        (2, 512, 64),
        (8, 512, 64),
        (32, 512, 64),
        (64, 512, 64),
        (4, 2048, 128),
        (16, 2048, 128),
        (48, 2048, 128),
    ]
    .iter()
    .flat_map(|&(c, i, o)| [1u32, 2].map(move |tp| (c, i, o, tp)))
    .enumerate()
    {
        points.push(point(format!("p{i}_c{c}_tp{tp}"), c, isl, osl, tp));
    }
    let opts = SetupOptions {
        requests_per_client: 4,
        calibration: Some(cal.display().to_string()),
        serving: Some(["vllm".to_string()].into()),
        ..Default::default()
    };
    let results = validate::run_points(&points, sims, &opts, |_| ());
    let mut csv = format!("{SILICON_HEADER}\n");
    for (r, _) in results {
        let Outcome::Simulated { predicted, .. } = r.outcome else {
            panic!("{}: {:?}", r.point.id, r.outcome)
        };
        let p = &r.point;
        let (Load::ClosedLoop { concurrency, .. }, Lengths::Fixed { input, output }) =
            (&p.load, &p.lengths)
        else {
            unreachable!()
        };
        let _ = writeln!(
            csv,
            "{},synthetic,vllm,0.12.0,{},h100_sxm,,agg,{input},{output},,,{concurrency},{},1,,1,1,,,,,,,,,,,,,,,{},{}",
            p.id,
            p.model,
            p.tp,
            predicted.ttft_mean_ms.unwrap(),
            predicted.tpot_mean_ms.unwrap()
        );
    }
    std::fs::write(out, csv).unwrap();
}

#[test]
fn calibrate_recovers_known_overheads_and_validate_passes_only_after() {
    let dir = fresh_dir("calibrate", "recovery");
    let mut cal = Calibration::embedded();
    cal.serving = Some(ServingCalibration {
        engines: [("vllm".to_string(), truth())].into(),
        provenance: Default::default(),
    });
    let truth_path = dir.join("truth.json");
    std::fs::write(&truth_path, serde_json::to_string(&cal).unwrap()).unwrap();
    let sims = dir.join("sims");
    std::fs::create_dir_all(&sims).unwrap();
    let measured = dir.join("measured.csv");
    synthesize(&truth_path, &sims, &measured);

    let run = run_bin;
    let m = measured.to_str().unwrap();
    let before = dir.join("before");
    let (code, text) = run(&[
        "validate",
        "--measured",
        m,
        "--requests-per-client",
        "4",
        "--no-serving-overheads",
        "--output",
        before.to_str().unwrap(),
    ]);
    assert_eq!(
        code,
        Some(1),
        "kernels alone must miss the overheads: {text}"
    );

    let fitted = dir.join("fitted.json");
    let (code, text) = run(&[
        "calibrate",
        "--measured",
        m,
        "--requests-per-client",
        "4",
        "--output",
        fitted.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{text}");
    let got = Calibration::load(&fitted).unwrap();
    let t = &got.serving.as_ref().unwrap().engines["vllm"];
    let want = truth();
    assert!((t.gpu_factor["h100"] - 1.15).abs() < 0.04, "{t:?}\n{text}");
    // Every step of these runs decodes, so the per-step and decode-step costs are one
    // constant: the sum is what the data determines.
    assert!(
        (t.step_ms + t.decode_step_ms - want.step_ms).abs() < 0.6,
        "{t:?}\n{text}"
    );
    assert!(
        (t.per_seq_ms - want.per_seq_ms).abs() < 0.012,
        "{t:?}\n{text}"
    );
    assert!(
        (t.per_prefill_token_us - want.per_prefill_token_us).abs() < 3.0,
        "{t:?}\n{text}"
    );

    let after = dir.join("after");
    let (code, text) = run(&[
        "validate",
        "--measured",
        m,
        "--requests-per-client",
        "4",
        "--calibration",
        fitted.to_str().unwrap(),
        "--output",
        after.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{text}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(after.join("summary.json")).unwrap())
            .unwrap();
    let mape = |m: &str| summary["overall"][m]["mape_pct"].as_f64().unwrap();
    assert!(
        mape("tpot_mean_ms") < 2.0 && mape("ttft_mean_ms") < 5.0,
        "{summary}"
    );
    let header = std::fs::read_to_string(after.join("comparison.csv")).unwrap();
    assert!(header.starts_with("id,metric,measured,predicted,error_pct\n"));
    let rows: BTreeMap<String, usize> = header.lines().skip(1).fold(BTreeMap::new(), |mut m, l| {
        *m.entry(l.split(',').nth(1).unwrap().to_string())
            .or_default() += 1;
        m
    });
    assert_eq!(rows["ttft_mean_ms"], 14, "{rows:?}");
    assert_eq!(rows["tpot_mean_ms"], 14, "{rows:?}");
    assert!(after.join("sims").read_dir().unwrap().count() >= 14);
}

/// `data/calibration/serving.json` is the serving-overhead fit on the shared measurements that
/// the binary ships; a change to the engine models or the kernel fits must refit it.
#[test]
fn the_shipped_serving_overheads_are_the_fit_of_the_shared_measurements() {
    let dir = fresh_dir("calibrate", "shipped");
    let out = dir.join("serving.json");
    let measured = crate::common::shared().join("data/measured/aic_silicon_dense.csv");
    let (code, text) = run_bin(&[
        "calibrate",
        "--measured",
        measured.to_str().unwrap(),
        "--serving-only",
        "--no-cross-validation",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{text}");
    let read = |p: &Path| -> ServingCalibration {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let fresh = read(&out);
    let shipped =
        read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/calibration/serving.json"));
    let stale = "data/calibration/serving.json is stale: rerun `vidur-search calibrate --measured ../shared/data/measured/aic_silicon_dense.csv --serving-only --output data/calibration/serving.json`";
    assert_eq!(
        fresh.engines.keys().collect::<Vec<_>>(),
        shipped.engines.keys().collect::<Vec<_>>(),
        "{stale}"
    );
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
    for (e, f) in &fresh.engines {
        let s = &shipped.engines[e];
        let same = close(f.step_ms, s.step_ms)
            && close(f.per_seq_ms, s.per_seq_ms)
            && close(f.per_prefill_token_us, s.per_prefill_token_us)
            && close(f.decode_step_ms, s.decode_step_ms)
            && f.gpu_factor.len() == s.gpu_factor.len()
            && f.gpu_factor
                .iter()
                .all(|(g, v)| s.gpu_factor.get(g).is_some_and(|w| close(*v, *w)));
        assert!(same, "{stale}\n{e}: fitted {f:?}\nshipped {s:?}");
    }
}
