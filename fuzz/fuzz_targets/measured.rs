//! Measurement files (`validate --measured`, `calibrate --measured`): `measured::load` on a
//! scratch file (silicon CSV, vllm bench JSON, experiment JSON or per-request CSV, detected
//! from the content), then each point's simulation as `validate` sets it up (without running
//! it).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use vidur_search::catalog::HardwareCatalog;
use vidur_search::measured;
use vidur_search::validate::setup::{self, SetupOptions};

fuzz_target!(|data: &[u8]| {
    let dir = common::scratch();
    let path = common::write(dir, "measured", data);
    let f = measured::load(&path);
    common::note(&f);
    let Ok(f) = f else {
        return;
    };
    let hw = HardwareCatalog::embedded();
    let opts = SetupOptions::default();
    for p in &f.points {
        if setup::unsupported_reason(p, &hw).is_none() {
            let r = setup::build(p, &hw, &opts);
            common::note(&r);
        }
    }
});
