//! Chrome trace recording (vidur-behavior.md §2.3): one complete ("X") slice per batch stage,
//! written as `chrome_trace.json = {"traceEvents": [...]}` for Perfetto or chrome://tracing.
//!
//! Slices are stored compactly (member ids and token counts in two shared vectors) and only
//! formatted when the file is written.

use std::io::{self, Write};

use super::pyfmt::push_py_float;
use crate::sim::batch::Batch;

#[derive(Debug, Clone, Copy)]
struct Slice {
    batch_id: u64,
    replica: u32,
    stage: u32,
    end: f64,
    exec: f64,
    first: usize,
    len: u32,
}

/// The recorded stage slices of a run.
#[derive(Debug, Default, Clone)]
pub struct ChromeTrace {
    slices: Vec<Slice>,
    ids: Vec<u32>,
    tokens: Vec<u32>,
}

impl ChromeTrace {
    /// Record the stage of `batch` that ran on `replica`/`stage` from `end − exec` to `end`.
    pub fn record(&mut self, end: f64, replica: u32, stage: u32, batch: &Batch, exec: f64) {
        self.slices.push(Slice {
            batch_id: batch.id,
            replica,
            stage,
            end,
            exec,
            first: self.ids.len(),
            len: batch.requests.len() as u32,
        });
        self.ids.extend_from_slice(&batch.requests);
        self.tokens.extend_from_slice(&batch.num_tokens);
    }

    /// Number of slices recorded.
    pub fn len(&self) -> usize {
        self.slices.len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.slices.is_empty()
    }

    /// Write `{"traceEvents": [...]}`: process/thread name metadata for every replica and stage,
    /// then Vidur's slice records (floats printed like Python's `json.dumps`).
    pub fn write_json<W: Write>(
        &self,
        w: &mut W,
        num_replicas: u32,
        num_stages: u32,
    ) -> io::Result<()> {
        w.write_all(b"{\"traceEvents\": [")?;
        let mut first = true;
        let mut sep = |w: &mut W| -> io::Result<()> {
            if !std::mem::take(&mut first) {
                w.write_all(b",\n")?;
            } else {
                w.write_all(b"\n")?;
            }
            Ok(())
        };
        for r in 0..num_replicas {
            sep(w)?;
            write!(w, "{{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": {r}, \"args\": {{\"name\": \"replica {r}\"}}}}")?;
            for s in 0..num_stages {
                sep(w)?;
                write!(
                    w,
                    "{{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": {r}, \"tid\": {s}, \
                     \"args\": {{\"name\": \"stage {s}\"}}}}"
                )?;
            }
        }
        let mut line = String::with_capacity(256);
        let mut list = String::with_capacity(64);
        for sl in &self.slices {
            let ids = &self.ids[sl.first..sl.first + sl.len as usize];
            let toks = &self.tokens[sl.first..sl.first + sl.len as usize];
            line.clear();
            py_list(&mut list, ids);
            line.push_str("{\"name\": \"");
            line.push_str(&list);
            line.push_str("\", \"ph\": \"X\", \"ts\": ");
            push_py_float(&mut line, (sl.end - sl.exec) * 1e6);
            line.push_str(", \"dur\": ");
            push_py_float(&mut line, sl.exec * 1e6);
            line.push_str(&format!(
                ", \"pid\": {}, \"tid\": {}, \"args\": {{\"batch_id\": {}, \"batch_size\": {}, \"request_ids\": ",
                sl.replica, sl.stage, sl.batch_id, sl.len
            ));
            line.push_str(&list);
            line.push_str(", \"num_tokens\": ");
            py_list(&mut list, toks);
            line.push_str(&list);
            line.push_str("}}");
            sep(w)?;
            w.write_all(line.as_bytes())?;
        }
        w.write_all(b"\n]}\n")
    }
}

/// Python `str(list_of_ints)`: `[0, 1]`.
fn py_list(out: &mut String, xs: &[u32]) {
    use std::fmt::Write as _;
    out.clear();
    out.push('[');
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{x}");
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_is_valid_json_with_vidur_fields() {
        let mut t = ChromeTrace::default();
        let b = Batch {
            id: 7,
            replica: 0,
            requests: vec![0, 1],
            num_tokens: vec![5, 1],
            ..Default::default()
        };
        t.record(2.5, 0, 1, &b, 0.5);
        let mut buf = Vec::new();
        t.write_json(&mut buf, 1, 2).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        let ev = v["traceEvents"].as_array().unwrap();
        assert_eq!(ev.len(), 1 + 2 + 1);
        let x = &ev[3];
        assert_eq!(x["name"], "[0, 1]");
        assert_eq!(x["ph"], "X");
        assert_eq!(x["ts"], 2_000_000.0);
        assert_eq!(x["dur"], 500_000.0);
        assert_eq!((x["pid"].as_u64(), x["tid"].as_u64()), (Some(0), Some(1)));
        assert_eq!(x["args"]["batch_id"], 7);
        assert_eq!(x["args"]["batch_size"], 2);
        assert_eq!(x["args"]["request_ids"], serde_json::json!([0, 1]));
        assert_eq!(x["args"]["num_tokens"], serde_json::json!([5, 1]));
        assert_eq!(ev[2]["args"]["name"], "stage 1");
    }
}
