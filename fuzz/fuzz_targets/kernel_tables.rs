//! Kernel tables (AIConfigurator layout: `system.yaml`, `gemm.csv`, `context_attention.csv`,
//! `generation_attention.csv`, `allreduce.csv`), written into a GPU folder on tmpfs and read by
//! `measured::KernelSet::load_all`, then (one input in eight) fitted into a calibration as
//! `calibrate-kernels` does.
//!
//! Input: the five files in that order, separated by lines holding only `%%`.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use vidur_search::predictor::analytic::fit;
use vidur_search::predictor::measured::{KernelSet, ProfileSet};

fuzz_target!(|data: &[u8]| {
    let parts = common::split(data, 5);
    let dir = common::scratch();
    let gpu = dir.join("h100_sxm");
    let names = [
        "system.yaml",
        "gemm.csv",
        "context_attention.csv",
        "generation_attention.csv",
        "allreduce.csv",
    ];
    for (name, bytes) in names.iter().zip(&parts) {
        common::write(&gpu, name, bytes);
    }
    let sets = KernelSet::load_all(dir);
    common::note(&sets);
    let Ok(sets) = sets else {
        return;
    };
    // The fits (Nelder-Mead) cost ~100× the loading; fitting a deterministic eighth of the
    // inputs keeps them covered without starving the loader of executions.
    if data.len() % 8 != 0 {
        return;
    }
    let c = fit::calibrate(
        &sets,
        &ProfileSet::default(),
        fit::DeviceFrame::embedded,
        "fuzz",
        "0",
    );
    common::note(&c);
});
