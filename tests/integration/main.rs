//! One integration-test binary (one link step on 2-core CI). Modules: Vidur conformance,
//! engine invariants (proptest), and the CLI end to end.

mod cli;
mod common;
mod conformance;
mod invariants;
mod profiles;
mod schedulers;
