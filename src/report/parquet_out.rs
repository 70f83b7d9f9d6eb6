//! `results.parquet` (cargo feature `parquet`): the table of `results.csv`, same columns in the
//! same order, typed: String for names and ids, UInt32 for integer knobs and counts, Float64
//! for measurements and prices (null where the CSV cell is empty), Boolean for `feasible`.
//! Written with eager polars (no `lazy`), zstd-compressed (polars' default).

use polars::prelude::{Column as PlColumn, DataFrame, ParquetWriter, PolarsResult};

use super::csv_out::{columns, Values};
use crate::search::SearchOutcome;

/// The results table as a polars frame, one row per point.
pub(crate) fn frame(o: &SearchOutcome) -> PolarsResult<DataFrame> {
    let cols: Vec<PlColumn> = columns(o)
        .into_iter()
        .map(|c| {
            let name = c.name.as_str().into();
            match c.values {
                Values::Str(v) => PlColumn::new(name, v),
                Values::U32(v) => PlColumn::new(name, v),
                Values::F64(v) => PlColumn::new(name, v),
                Values::Bool(v) => PlColumn::new(name, v),
            }
        })
        .collect();
    DataFrame::new(o.points.len(), cols)
}

/// The bytes of `results.parquet` for the outcome.
pub(crate) fn render(o: &SearchOutcome) -> PolarsResult<Vec<u8>> {
    let mut df = frame(o)?;
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(&mut df)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::Cursor;

    use polars::prelude::{DataType, ParquetReader, SerReader};

    use super::*;
    use crate::report::{csv_out, testdata, write_all, ReportOptions};

    #[test]
    fn parquet_reads_back_as_the_csv() {
        let o = testdata::outcome();
        let dir = std::env::temp_dir().join(format!("vidur-report-parquet-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let written = write_all(&dir, &o, &ReportOptions::default()).unwrap();
        let path = dir.join("results.parquet");
        assert!(written.contains(&path), "results.parquet not reported");
        let bytes = fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
        assert!(!dir.join("results.parquet.tmp").exists());

        let df = ParquetReader::new(Cursor::new(bytes)).finish().unwrap();
        assert_eq!(df.height(), o.points.len());

        // Same columns, same order, as the CSV header.
        let csv_bytes = fs::read(dir.join("results.csv")).unwrap();
        let mut r = csv::Reader::from_reader(csv_bytes.as_slice());
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        let names: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(names, header);
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        let at = |name: &str| header.iter().position(|h| h == name).unwrap();

        // Types.
        for (name, dtype) in [
            ("id", DataType::String),
            ("tp", DataType::UInt32),
            ("chunk_size", DataType::UInt32),
            ("capacity_qps", DataType::Float64),
            ("ttft_p90_s", DataType::Float64),
            ("wall_s", DataType::Float64),
            ("feasible", DataType::Boolean),
        ] {
            assert_eq!(df.column(name).unwrap().dtype(), &dtype, "{name}");
        }

        // Values equal to the CSV's, nulls where its cells are empty.
        let ids = df.column("id").unwrap().str().unwrap();
        let tp = df.column("tp").unwrap().u32().unwrap();
        let chunk = df.column("chunk_size").unwrap().u32().unwrap();
        let cap = df.column("capacity_qps").unwrap().f64().unwrap();
        let ttft = df.column("ttft_p90_s").unwrap().f64().unwrap();
        let feasible = df.column("feasible").unwrap().bool().unwrap();
        let mut nulls = 0;
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(ids.get(i), Some(&row[at("id")]));
            assert_eq!(
                tp.get(i).map(|x| x.to_string()).as_deref(),
                Some(&row[at("tp")])
            );
            let text = |x: Option<String>| x.unwrap_or_default();
            assert_eq!(
                text(chunk.get(i).map(|x| x.to_string())),
                row[at("chunk_size")]
            );
            assert_eq!(
                text(cap.get(i).map(|x| x.to_string())),
                row[at("capacity_qps")]
            );
            assert_eq!(
                text(ttft.get(i).map(|x| x.to_string())),
                row[at("ttft_p90_s")]
            );
            assert_eq!(
                feasible.get(i).map(|x| x.to_string()).as_deref(),
                Some(&row[at("feasible")])
            );
            nulls += usize::from(cap.get(i).is_none());
        }
        assert!(nulls > 0, "the synthetic outcome has infeasible points");
        assert_eq!(cap.null_count(), nulls);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn frame_of_an_empty_outcome_keeps_the_columns() {
        let mut o = testdata::outcome();
        o.points.clear();
        let df = frame(&o).unwrap();
        assert_eq!(df.height(), 0);
        assert_eq!(df.width(), csv_out::columns(&o).len());
        let back = ParquetReader::new(Cursor::new(render(&o).unwrap()))
            .finish()
            .unwrap();
        assert_eq!(back.height(), 0);
        assert_eq!(back.get_column_names(), df.get_column_names());
        assert_eq!(back.column("feasible").unwrap().dtype(), &DataType::Boolean);
    }
}
