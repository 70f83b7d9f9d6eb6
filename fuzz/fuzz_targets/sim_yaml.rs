//! Simulation YAML: `config::sim_yaml::load` on a scratch file, then the calibration and
//! predictor the config names, its memory plan and the first requests of its workload, as
//! `simulate` does.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use vidur_search::config::{predictor, sim_yaml};
use vidur_search::workload;

fuzz_target!(|data: &[u8]| {
    if common::names_special_files(data) {
        return;
    }
    let dir = common::scratch();
    let path = common::write(dir, "sim.yaml", data);
    let run = sim_yaml::load(&path);
    common::note(&run);
    let Ok(run) = run else {
        return;
    };
    if let Ok(cal) = predictor::calibration(&run.predictor, &run.base_dir) {
        let _ = predictor::build(
            &run.predictor,
            &run.sim,
            run.gpu.as_ref(),
            &cal,
            &run.base_dir,
        );
    }
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
