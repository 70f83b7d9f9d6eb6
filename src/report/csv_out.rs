//! `results.csv`: one row per evaluated point, every knob and figure, empty cells for "none".
//! Floats are written in Rust's shortest round-trip form so the CSV loses nothing.
//!
//! The columns are defined once, typed, by [`columns`]; the CSV writer here and the Parquet
//! writer (`parquet_out`, behind the `parquet` feature) both render that one table, so the two
//! files always have the same columns in the same order.

use crate::search::{PointResult, SearchOutcome};

/// One column's values, one per point, with the column's type. `None` is an empty CSV cell and
/// a null in Parquet.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    /// Names and ids.
    Str(Vec<String>),
    /// Integer knobs and counts.
    U32(Vec<Option<u32>>),
    /// Measurements and prices.
    F64(Vec<Option<f64>>),
    /// Flags.
    Bool(Vec<bool>),
}

impl Values {
    /// The CSV text of row `i`.
    fn cell(&self, i: usize) -> String {
        fn opt<T: ToString>(x: Option<T>) -> String {
            x.map(|v| v.to_string()).unwrap_or_default()
        }
        match self {
            Values::Str(v) => v[i].clone(),
            Values::U32(v) => opt(v[i]),
            Values::F64(v) => opt(v[i]),
            Values::Bool(v) => v[i].to_string(),
        }
    }
}

/// A named, typed column of the results table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    /// Header name.
    pub(crate) name: String,
    /// One value per point.
    pub(crate) values: Values,
}

fn text(name: &str, pts: &[PointResult], f: impl Fn(&PointResult) -> &str) -> Column {
    Column {
        name: name.into(),
        values: Values::Str(pts.iter().map(|p| f(p).to_string()).collect()),
    }
}

fn int(name: &str, pts: &[PointResult], f: impl Fn(&PointResult) -> Option<u32>) -> Column {
    Column {
        name: name.into(),
        values: Values::U32(pts.iter().map(f).collect()),
    }
}

fn num(name: &str, pts: &[PointResult], f: impl Fn(&PointResult) -> Option<f64>) -> Column {
    Column {
        name: name.into(),
        values: Values::F64(pts.iter().map(f).collect()),
    }
}

fn flag(name: &str, pts: &[PointResult], f: impl Fn(&PointResult) -> bool) -> Column {
    Column {
        name: name.into(),
        values: Values::Bool(pts.iter().map(f).collect()),
    }
}

/// The results table: every column, in file order, one value per point (expansion order).
/// The SLO columns (`<metric>_p<q>_s`) follow the space's SLOs.
pub(crate) fn columns(o: &SearchOutcome) -> Vec<Column> {
    let pts = o.points.as_slice();
    let mut cols = vec![
        text("id", pts, |p| &p.id),
        text("model", pts, |p| &p.config.model),
        text("workload", pts, |p| &p.config.workload),
        text("gpu", pts, |p| &p.config.gpu),
        text("node", pts, |p| &p.config.node),
        int("tp", pts, |p| Some(p.config.tp)),
        int("pp", pts, |p| Some(p.config.pp)),
        int("replicas", pts, |p| Some(p.config.replicas)),
        text("scheduler", pts, |p| &p.config.scheduler),
        int("chunk_size", pts, |p| p.config.chunk_size),
        int("batch_size_cap", pts, |p| Some(p.config.batch_size_cap)),
        int("max_tokens_in_batch", pts, |p| p.config.max_tokens_in_batch),
        text("router", pts, |p| &p.config.router),
        int("concurrency", pts, |p| p.config.concurrency),
        int("num_gpus", pts, |p| Some(p.num_gpus)),
        text("capacity_status", pts, |p| p.capacity_status.name()),
        num("capacity_qps", pts, |p| p.capacity_qps),
        num("capacity_min", pts, |p| p.capacity_min),
        num("capacity_max", pts, |p| p.capacity_max),
        num("limit_qps", pts, |p| p.limit_qps),
    ];
    for (i, s) in o.meta.slos.iter().enumerate() {
        cols.push(num(&format!("{}_s", s.column()), pts, |p| {
            super::format::slo_value(p, s, i).and_then(|v| v.value_s)
        }));
    }
    cols.extend([
        num("goodput_at_capacity", pts, |p| p.goodput_at_capacity),
        num("output_tokens_per_s", pts, |p| p.output_tokens_per_s),
        // Closed-loop points: measured at the concurrency whether or not the SLOs hold.
        num("measured_qps", pts, |p| {
            p.closed_loop.and_then(|c| c.requests_per_s)
        }),
        num("measured_output_tokens_per_s", pts, |p| {
            p.closed_loop.and_then(|c| c.output_tokens_per_s)
        }),
        num("output_tokens_per_s_per_user", pts, |p| {
            p.closed_loop.and_then(|c| c.output_tokens_per_s_per_user)
        }),
        num("output_tokens_per_s_per_gpu", pts, |p| {
            p.closed_loop.and_then(|c| c.output_tokens_per_s_per_gpu)
        }),
        num("in_flight_mean", pts, |p| {
            p.closed_loop.and_then(|c| c.in_flight_mean)
        }),
        num("usd_per_gpu_hour", pts, |p| Some(p.cost.usd_per_gpu_hour)),
        num("usd_per_hour", pts, |p| Some(p.cost.usd_per_hour)),
        num("qps_per_dollar", pts, |p| p.cost.qps_per_dollar),
        num("usd_per_million_output_tokens", pts, |p| {
            p.cost.usd_per_million_output_tokens
        }),
        int("sims_run", pts, |p| Some(p.sims_run)),
        num("wall_s", pts, |p| Some(p.wall_s)),
        flag("feasible", pts, PointResult::feasible),
        text("error", pts, |p| p.error.as_deref().unwrap_or("")),
    ]);
    cols
}

/// `results.csv` for the outcome: the header, then one row per point.
pub(crate) fn render(o: &SearchOutcome) -> Result<Vec<u8>, csv::Error> {
    let cols = columns(o);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(cols.iter().map(|c| c.name.as_str()))?;
    for i in 0..o.points.len() {
        w.write_record(cols.iter().map(|c| c.values.cell(i)))?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata;

    #[test]
    fn one_row_per_point_with_slo_columns() {
        let o = testdata::outcome();
        let bytes = render(&o).unwrap();
        let mut r = csv::Reader::from_reader(bytes.as_slice());
        let h: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        let names: Vec<String> = columns(&o).into_iter().map(|c| c.name).collect();
        assert_eq!(h, names);
        assert!(h.contains(&"ttft_p90_s".to_string()) && h.contains(&"tbt_p99_s".to_string()));
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), o.points.len());
        let cap = h.iter().position(|x| x == "capacity_qps").unwrap();
        let chunk = h.iter().position(|x| x == "chunk_size").unwrap();
        let feas = h.iter().position(|x| x == "feasible").unwrap();
        let status = h.iter().position(|x| x == "capacity_status").unwrap();
        let statuses: Vec<&str> = rows.iter().map(|r| &r[status]).collect();
        for s in ["found", "unbounded", "none"] {
            assert!(statuses.contains(&s), "no {s} row");
        }
        for (row, p) in rows.iter().zip(&o.points) {
            assert_eq!(&row[status], p.capacity_status.name());
            assert_eq!(row.len(), h.len());
            // None → empty cell; Some → exact round trip.
            match p.capacity_qps {
                None => assert_eq!(&row[cap], ""),
                Some(c) => assert_eq!(row[cap].parse::<f64>().unwrap(), c),
            }
            match p.config.chunk_size {
                None => assert_eq!(&row[chunk], ""),
                Some(c) => assert_eq!(row[chunk], c.to_string()),
            }
            assert_eq!(&row[feas], if p.feasible() { "true" } else { "false" });
        }
    }

    #[test]
    fn every_column_has_one_value_per_point() {
        for o in [
            testdata::outcome(),
            testdata::outcome_for(&["a", "b"], &["chat", "code"]),
        ] {
            for c in columns(&o) {
                let n = match &c.values {
                    Values::Str(v) => v.len(),
                    Values::U32(v) => v.len(),
                    Values::F64(v) => v.len(),
                    Values::Bool(v) => v.len(),
                };
                assert_eq!(n, o.points.len(), "{}", c.name);
            }
        }
    }
}
