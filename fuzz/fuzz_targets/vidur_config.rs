//! Vidur `config.json` dumps: `config::vidur_json::load` on a scratch file, then its memory plan
//! and the first requests of the workload it describes.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use vidur_search::config::vidur_json;
use vidur_search::workload;

fuzz_target!(|data: &[u8]| {
    if common::names_special_files(data) {
        return;
    }
    let dir = common::scratch();
    let path = common::write(dir, "config.json", data);
    let run = vidur_json::load(&path, None);
    common::note(&run);
    let Ok(run) = run else {
        return;
    };
    // The memory plan every simulation starts with (KV slots and blocks from the sizes).
    let s = &run.sim;
    let _ = vidur_search::sim::memory::plan(
        &s.model,
        &s.device,
        s.tensor_parallel_size,
        s.num_pipeline_stages,
        s.memory_margin_fraction,
        s.max_tokens,
        &s.scheduler,
        s.compat,
    );
    // The source is lazy: the first requests of any workload, however large, are cheap.
    if let Ok(src) = workload::source(&run.workload, run.sim.compat, &run.base_dir) {
        for r in src.take(2_000) {
            std::hint::black_box(r);
        }
    }
});
