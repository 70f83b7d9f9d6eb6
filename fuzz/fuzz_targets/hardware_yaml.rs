//! Hardware YAML: `HardwareCatalog::from_yaml` and a merge into the built-in catalog (what
//! `with_overrides` does with a user file), then every entry's derived specs and lookups.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use vidur_search::catalog::HardwareCatalog;

fn exercise(c: &HardwareCatalog) {
    for g in c.gpus() {
        let _ = g.device_spec();
        let _ = g.latest_price();
        let _ = c.gpu(&g.name);
        let _ = c.default_node_for(&g.name);
        let _ = c.price(&g.name);
    }
    for n in c.nodes() {
        let _ = n.node_spec();
        let _ = c.node(&n.name);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let c = HardwareCatalog::from_yaml(text, "hardware.yaml");
    common::note(&c);
    if let Ok(c) = c {
        exercise(&c);
    }
    let mut c = HardwareCatalog::embedded();
    let r = c.merge(text, "hardware.yaml");
    common::note(&r);
    if r.is_ok() {
        exercise(&c);
    }
});
