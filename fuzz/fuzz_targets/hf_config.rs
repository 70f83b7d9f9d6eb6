//! Hugging Face `config.json`: `catalog::hf::from_hf_json` (what `from_hf_config` runs on the
//! file's text), then the sizes the feasibility checks derive from it.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use vidur_search::catalog::hf;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let m = hf::from_hf_json(text, "config.json");
    common::note(&m);
    let Ok(m) = m else {
        return;
    };
    let _ = m.params_total();
    for (tp, pp) in [(1, 1), (2, 1), (8, 4)] {
        let _ = m.layer_params_per_device(tp);
        let _ = m.params_per_device(tp, pp);
        let _ = m.weight_bytes_per_device(tp, pp);
        let _ = m.kv_bytes_per_token_per_device(tp, pp);
    }
});
