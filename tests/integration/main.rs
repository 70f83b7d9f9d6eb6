//! One integration-test binary (one link step on 2-core CI). Modules: Vidur conformance,
//! engine invariants (proptest), the CLI end to end, and model/hardware catalog resolution.

mod analytic;
mod catalog;
mod cli;
mod common;
mod conformance;
mod invariants;
mod profiles;
mod schedulers;
