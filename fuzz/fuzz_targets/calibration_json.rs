//! Calibration JSON (`predictor: {analytic: {calibration: FILE}}`): `Calibration::load` on a
//! scratch file, then the analytic predictor built from it for two catalog GPUs and a few
//! stage predictions.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use vidur_search::catalog::{hf, HardwareCatalog};
use vidur_search::predictor::analytic::{self, calibration::Calibration, AnalyticOptions, GpuInfo};
use vidur_search::predictor::{BatchEntry, ExecutionTimePredictor};

fn entry(num_tokens: u32, num_processed_tokens: u32, is_prefill_complete: bool) -> BatchEntry {
    BatchEntry {
        num_tokens,
        num_processed_tokens,
        is_prefill_complete,
    }
}

fuzz_target!(|data: &[u8]| {
    let dir = common::scratch();
    let path = common::write(dir, "calibration.json", data);
    let cal = Calibration::load(&path);
    common::note(&cal);
    let Ok(cal) = cal else {
        return;
    };
    let hw = HardwareCatalog::embedded();
    let model = hf::lookup_embedded("meta-llama/Meta-Llama-3-8B")
        .expect("embedded model")
        .spec;
    let batches = [
        vec![entry(1, 100, true), entry(1, 5000, true)],
        vec![entry(64, 0, false), entry(300, 200, false)],
    ];
    for (gpu, network) in [("h100", "h100_dgx"), ("a40", "a40_pairwise_nvlink")] {
        let g = hw.gpu(gpu).expect("catalog GPU");
        let info = GpuInfo::from_catalog(g, 8, &cal);
        let opts = AnalyticOptions {
            network: Some(network.into()),
            ..AnalyticOptions::default()
        };
        let p = analytic::build(&model, &info, 2, 2, &cal, opts);
        common::note(&p);
        let Ok(p) = p else {
            continue;
        };
        for b in &batches {
            let _ = p.predict(b, 0);
        }
    }
});
