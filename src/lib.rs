//! vidur-search: a fast, faithful re-creation of Microsoft's Vidur LLM-serving simulator.
//!
//! Data walks one way: [`workload`] (requests) → [`sim`] (cluster, replica schedulers, router,
//! KV memory, [`predictor`]) → [`metrics`] (per-request and per-batch outputs, summary).
//! [`config`] turns user YAML or a Vidur `config.json` dump into a validated [`sim::SimConfig`];
//! [`catalog`] holds model shapes and device specs.
//!
//! The engine has two modes ([`sim::Compat`]): `vidur` reproduces Vidur's semantics exactly
//! (proven by the conformance cases), `default` fixes Vidur's documented bugs.

#![warn(missing_docs)]

pub mod catalog;
pub mod cli;
pub mod config;
pub mod metrics;
pub mod outdir;
pub mod predictor;
pub mod report;
pub mod search;
pub mod sim;
pub mod workload;
