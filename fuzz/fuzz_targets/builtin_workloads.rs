//! Built-in workloads YAML (`data/workloads.yaml`, `fit-workloads` output):
//! `BuiltinCatalog::parse`, then a few samples from every workload.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use vidur_search::workload::BuiltinCatalog;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let c = BuiltinCatalog::parse(text, "workloads.yaml");
    common::note(&c);
    let Ok(c) = c else {
        return;
    };
    let _ = c.to_yaml();
    let _ = c.figures_yaml();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    for w in c.workloads() {
        let _ = c.get(w.name());
        for max in [2, 4096, u32::MAX] {
            for _ in 0..16 {
                let _ = w.sample(&mut rng, max);
            }
        }
    }
});
