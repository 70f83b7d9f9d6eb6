//! Search-space YAML: `SearchSpace::parse` (what `SearchSpace::load` runs on the file's text),
//! then the expansion and feasibility checks `run --dry-run` does before any simulation.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use vidur_search::search::space::Replicas;
use vidur_search::search::{expand::expand, SearchSpace};

/// Spaces with more points than this are not expanded: their size is the user's request, not a
/// loader bug, and enumerating them would only slow the fuzzer down.
const MAX_POINTS: u128 = 20_000;

fn points(s: &SearchSpace) -> u128 {
    let n = |v: usize| v.max(1) as u128;
    let sched: u128 = s
        .schedulers
        .iter()
        .map(|x| {
            n(x.chunk_size.len())
                * n(x.max_tokens_in_batch.len())
                * n(x.max_num_batched_tokens.len())
                * n(x.chunked_prefill_size.len())
                * n(x.max_num_tokens.len())
                * n(x
                    .batch_size_cap
                    .as_ref()
                    .map_or(s.batch_size_cap.len(), Vec::len))
        })
        .sum();
    let replicas = match &s.replicas {
        Replicas::Auto => 1,
        Replicas::List(v) => n(v.len()),
    };
    n(s.models.len())
        * n(s.workloads.len())
        * n(s.clusters.len())
        * n(s.tp.len())
        * n(s.pp.len())
        * sched
        * n(s.router.len())
        * replicas
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let space = SearchSpace::parse(text);
    common::note(&space);
    let Ok(space) = space else {
        return;
    };
    let _ = space.slo_metrics();
    if common::names_special_files(data) || points(&space) > MAX_POINTS {
        return;
    }
    let dir = common::scratch();
    let x = expand(&space, dir);
    common::note(&x);
    if let Ok(x) = x {
        let _ = x.dropped_by_reason();
    }
});
