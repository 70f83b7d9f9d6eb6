//! vidur-search: a fast, faithful re-creation of Microsoft's Vidur LLM-serving simulator.
//!
//! Data walks one way: [`workload`] (requests) → [`sim`] (cluster, replica schedulers, router,
//! KV memory, priced by a [`predictor`]) → [`metrics`] (per-request and per-batch outputs,
//! summary) → [`search`] (design-space expansion, capacity searches, cost) and [`validate`]
//! (our error against [`measured`] serving benchmarks, and the overhead fit that closes it) →
//! [`report`] (the files a person reads) → [`cli`] (one file per subcommand). [`config`] turns
//! user YAML or a Vidur `config.json` dump into a validated [`sim::SimConfig`]. [`measured`]
//! reads real measurements and summarizes them with the quantile definition of [`metrics`], so
//! both sides of a comparison are computed alike. The ground floor, imported by the layers
//! above and importing none of them: [`catalog`] (model shapes, device specs), [`compat`] (the
//! engine's semantics flag), [`parse_messages`] (parser errors in our words) and [`outdir`]
//! (output folders).
//!
//! The engine has two modes ([`compat::Compat`]): `vidur` reproduces Vidur's semantics exactly
//! (proven by the conformance cases), `default` fixes Vidur's documented bugs.

#![warn(missing_docs)]

pub mod catalog;
pub mod cli;
pub mod compat;
pub mod config;
pub mod measured;
pub mod metrics;
pub mod outdir;
pub mod parse_messages;
pub mod predictor;
pub mod report;
pub mod search;
pub mod sim;
pub mod validate;
pub mod workload;
