//! Trace CSVs (plain and gzip): every reader of them, through `workload::generate` on a
//! scratch file: trace replay (both compat modes) and the trace length and interval generators.
//!
//! The first input byte picks the reader and options; the rest is the file.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use vidur_search::compat::Compat;
use vidur_search::workload::{
    self, IntervalConfig, LengthConfig, SyntheticConfig, TraceReplayConfig, WorkloadConfig,
};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let dir = common::scratch();
    // Bit 0: gzip the file (a valid stream; raw gzip-magic inputs reach the decoder anyway).
    let file = if mode & 1 == 1 {
        common::gzip(body)
    } else {
        body.to_vec()
    };
    common::write(dir, "trace.csv", &file);
    let compat = if mode & 2 == 2 {
        Compat::Vidur
    } else {
        Compat::Default
    };
    let max_tokens = if mode & 4 == 4 { 2 } else { 4096 };
    let scale = if mode & 8 == 8 { 0.5 } else { 1.0 };
    let trace_file = "trace.csv".to_string();
    let cfg = match (mode >> 4) % 4 {
        0 => WorkloadConfig::TraceReplay(TraceReplayConfig {
            trace_file,
            prefill_scale_factor: scale,
            decode_scale_factor: 1.0,
            time_scale_factor: scale,
            max_tokens,
            num_requests: None,
        }),
        1 => WorkloadConfig::TraceReplay(TraceReplayConfig {
            trace_file,
            prefill_scale_factor: 1.0,
            decode_scale_factor: scale,
            time_scale_factor: 1.0,
            max_tokens,
            num_requests: Some(3),
        }),
        // Lengths and arrivals both from the trace, until it ends.
        2 => WorkloadConfig::Synthetic(SyntheticConfig {
            seed: 1,
            num_requests: None,
            duration_s: None,
            max_tokens,
            lengths: LengthConfig::Trace {
                trace_file: trace_file.clone(),
                prefill_scale_factor: scale,
                decode_scale_factor: 1.0,
            },
            intervals: IntervalConfig::Trace {
                trace_file,
                time_scale_factor: scale,
            },
        }),
        _ => WorkloadConfig::Synthetic(SyntheticConfig {
            seed: 1,
            num_requests: Some(3),
            duration_s: None,
            max_tokens,
            lengths: LengthConfig::Trace {
                trace_file,
                prefill_scale_factor: 1.0,
                decode_scale_factor: scale,
            },
            intervals: IntervalConfig::Poisson { qps: 10.0 },
        }),
    };
    common::note(&workload::generate(&cfg, compat, dir));
});
