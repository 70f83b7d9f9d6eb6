//! One integration-test binary (one link step on 2-core CI). Modules: Vidur conformance,
//! engine invariants (proptest), the CLI end to end, model/hardware catalog resolution, and the
//! built-in workloads, the design-space search and the report writers.

mod analytic;
mod bad_inputs;
mod calibrate;
mod catalog;
mod cli;
mod closed_loop;
mod common;
mod conformance;
mod engines;
mod fp8;
mod fuzz_regressions;
mod invariants;
mod measured;
mod outputs;
mod predict;
mod profiles;
mod report;
mod schedulers;
mod search;
mod sim_report;
mod validate;
mod workloads;
