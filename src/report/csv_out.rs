//! `results.csv`: one row per evaluated point, every knob and figure, empty cells for "none".
//! Floats are written in Rust's shortest round-trip form so the CSV loses nothing.

use crate::search::SearchOutcome;

/// The header for the outcome's SLOs.
pub(crate) fn header(o: &SearchOutcome) -> Vec<String> {
    let mut h: Vec<String> = [
        "id",
        "model",
        "workload",
        "gpu",
        "node",
        "tp",
        "pp",
        "replicas",
        "scheduler",
        "chunk_size",
        "batch_size_cap",
        "max_tokens_in_batch",
        "router",
        "num_gpus",
        "capacity_qps",
        "capacity_min",
        "capacity_max",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    h.extend(o.meta.slos.iter().map(|s| format!("{}_s", s.column())));
    h.extend(
        [
            "goodput_at_capacity",
            "output_tokens_per_s",
            "usd_per_gpu_hour",
            "usd_per_hour",
            "qps_per_dollar",
            "usd_per_million_output_tokens",
            "sims_run",
            "wall_s",
            "feasible",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    h
}

fn opt<T: ToString>(x: Option<T>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

pub(crate) fn render(o: &SearchOutcome) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header(o))?;
    for p in &o.points {
        let c = &p.config;
        let mut row = vec![
            p.id.clone(),
            c.model.clone(),
            c.workload.clone(),
            c.gpu.clone(),
            c.node.clone(),
            c.tp.to_string(),
            c.pp.to_string(),
            c.replicas.to_string(),
            c.scheduler.clone(),
            opt(c.chunk_size),
            c.batch_size_cap.to_string(),
            opt(c.max_tokens_in_batch),
            c.router.clone(),
            p.num_gpus.to_string(),
            opt(p.capacity_qps),
            opt(p.capacity_min),
            opt(p.capacity_max),
        ];
        for (i, s) in o.meta.slos.iter().enumerate() {
            row.push(opt(super::slo_value(p, s, i).and_then(|v| v.value_s)));
        }
        row.extend([
            opt(p.goodput_at_capacity),
            opt(p.output_tokens_per_s),
            p.cost.usd_per_gpu_hour.to_string(),
            p.cost.usd_per_hour.to_string(),
            opt(p.cost.qps_per_dollar),
            opt(p.cost.usd_per_million_output_tokens),
            p.sims_run.to_string(),
            p.wall_s.to_string(),
            p.feasible().to_string(),
        ]);
        w.write_record(&row)?;
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
        assert_eq!(h, header(&o));
        assert!(h.contains(&"ttft_p90_s".to_string()) && h.contains(&"tbt_p99_s".to_string()));
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), o.points.len());
        let cap = h.iter().position(|x| x == "capacity_qps").unwrap();
        let feas = h.iter().position(|x| x == "feasible").unwrap();
        for (row, p) in rows.iter().zip(&o.points) {
            assert_eq!(row.len(), h.len());
            // None → empty cell; Some → exact round trip.
            match p.capacity_qps {
                None => assert_eq!(&row[cap], ""),
                Some(c) => assert_eq!(row[cap].parse::<f64>().unwrap(), c),
            }
            assert_eq!(&row[feas], if p.feasible() { "true" } else { "false" });
        }
    }
}
