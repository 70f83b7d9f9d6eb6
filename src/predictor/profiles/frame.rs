//! A tiny data frame for Vidur's profile CSVs: read like `pandas.read_csv(path)
//! .drop_duplicates()` (numbers parsed, `True`/`False` as 1/0, empty and NaN cells missing,
//! exact duplicate rows dropped keeping the first), then filtered by column values.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::super::PredictorError;

/// One parsed cell.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Num(f64),
    Str(String),
    Missing,
}

impl Cell {
    fn parse(s: &str) -> Cell {
        match s {
            "" | "NaN" | "nan" | "NA" | "N/A" | "null" | "NULL" | "None" => Cell::Missing,
            "True" | "true" | "TRUE" => Cell::Num(1.0),
            "False" | "false" | "FALSE" => Cell::Num(0.0),
            _ => match s.parse::<f64>() {
                Ok(v) if v.is_nan() => Cell::Missing,
                Ok(v) => Cell::Num(v),
                Err(_) => Cell::Str(s.to_string()),
            },
        }
    }

    /// A hashable identity for duplicate detection (pandas compares values, and NaN equals NaN).
    fn key(&self) -> Key {
        match self {
            Cell::Num(v) => Key::Num(if *v == 0.0 { 0 } else { v.to_bits() }),
            Cell::Str(s) => Key::Str(s.clone()),
            Cell::Missing => Key::Missing,
        }
    }

    pub fn num(&self) -> Option<f64> {
        match self {
            Cell::Num(v) => Some(*v),
            _ => None,
        }
    }
}

#[derive(Hash, PartialEq, Eq)]
enum Key {
    Num(u64),
    Str(String),
    Missing,
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Num(v) => write!(f, "{v}"),
            Cell::Str(s) => write!(f, "{s}"),
            Cell::Missing => write!(f, "NaN"),
        }
    }
}

/// A CSV file's header and deduplicated rows.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub path: PathBuf,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// 1-based file line of each kept row (header = 1), for messages.
    pub lines: Vec<u64>,
}

pub(crate) fn err(path: &Path, msg: impl std::fmt::Display) -> PredictorError {
    PredictorError::Table {
        path: path.display().to_string(),
        msg: msg.to_string(),
    }
}

impl Frame {
    /// Read and deduplicate `path`.
    pub fn read(path: &Path) -> Result<Frame, PredictorError> {
        let text = std::fs::read_to_string(path).map_err(|e| err(path, e))?;
        Frame::parse(path, &text)
    }

    /// Parse CSV text (`path` names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Frame, PredictorError> {
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(text.as_bytes());
        let header: Vec<String> = rdr
            .headers()
            .map_err(|e| err(path, format!("line 1: {e}")))?
            .iter()
            .map(|s| s.trim().to_string())
            .collect();
        if header.iter().all(String::is_empty) {
            return Err(err(path, "empty file (no header line)"));
        }
        let mut rows = Vec::new();
        let mut lines = Vec::new();
        let mut seen = HashSet::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| err(path, e))?;
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            if rec.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            if rec.len() != header.len() {
                return Err(err(
                    path,
                    format!(
                        "line {line}: expected {} fields (as in the header), found {}",
                        header.len(),
                        rec.len()
                    ),
                ));
            }
            let row: Vec<Cell> = rec.iter().map(|f| Cell::parse(f.trim())).collect();
            if seen.insert(row.iter().map(Cell::key).collect::<Vec<_>>()) {
                rows.push(row);
                lines.push(line);
            }
        }
        if rows.is_empty() {
            return Err(err(path, "the table has a header but no data rows"));
        }
        Ok(Frame {
            path: path.to_path_buf(),
            header,
            rows,
            lines,
        })
    }

    /// The index of column `name`, if present.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The index of column `name`, or an error naming the file and the column.
    pub fn col(&self, name: &str) -> Result<usize, PredictorError> {
        self.find(name)
            .ok_or_else(|| err(&self.path, format!("missing column '{name}'")))
    }

    /// A measured time (ms) in column `col` of row `row`: `Ok(None)` when the cell is empty or
    /// NaN (pandas reads both as missing), an error naming the line and column when it is not
    /// a number or not > 0.
    pub fn time_ms(&self, row: usize, col: usize) -> Result<Option<f64>, PredictorError> {
        match &self.rows[row][col] {
            Cell::Missing => Ok(None),
            Cell::Num(v) if v.is_finite() && *v > 0.0 => Ok(Some(*v)),
            c => Err(err(
                &self.path,
                format!(
                    "line {}: column '{}': expected a time in ms > 0, found {c}",
                    self.lines[row], self.header[col]
                ),
            )),
        }
    }

    /// A numeric cell (`None` when missing or not a number).
    pub fn num(&self, row: usize, col: usize) -> Option<f64> {
        self.rows[row][col].num()
    }

    /// The distinct values of `cols` over `rows`, formatted `a=1, b=2`, in first-seen order.
    pub fn distinct(&self, rows: &[usize], cols: &[(&str, usize)]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for &r in rows {
            let s = cols
                .iter()
                .map(|(n, c)| format!("{n}={}", self.rows[r][*c]))
                .collect::<Vec<_>>()
                .join(", ");
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_drops_exact_duplicates_like_pandas() {
        let text = "a,b,c\n1,True,x\n1.0,True,x\n1,False,x\n,NaN,y\n,,y\n2,1,y\n\n";
        let f = Frame::parse(Path::new("t.csv"), text).unwrap();
        // 1 == 1.0 as numbers, True parses as 1, empty and NaN are both missing.
        assert_eq!(f.rows.len(), 4);
        assert_eq!(
            f.rows[0],
            vec![Cell::Num(1.0), Cell::Num(1.0), Cell::Str("x".into())]
        );
        assert_eq!(f.rows[1][1], Cell::Num(0.0));
        assert_eq!(f.rows[2][0], Cell::Missing);
        assert_eq!(f.rows[3][1], Cell::Num(1.0));
    }

    #[test]
    fn an_index_column_keeps_otherwise_equal_rows() {
        // Vidur's network CSVs start with an unnamed index column: pandas keeps it, so rows that
        // differ only there are not duplicates.
        let text = ",v\n0,5\n1,5\n";
        let f = Frame::parse(Path::new("t.csv"), text).unwrap();
        assert_eq!(f.rows.len(), 2);
        assert_eq!(f.find(""), Some(0));
    }

    #[test]
    fn times_are_checked_with_their_line() {
        let f = Frame::parse(Path::new("t.csv"), "t\n0.5\n\n0.5\nNaN\n0\n-2\n").unwrap();
        // The duplicate 0.5 is dropped; lines count the blank line and the header.
        assert_eq!(f.lines, vec![2, 5, 6, 7]);
        assert_eq!(f.time_ms(0, 0).unwrap(), Some(0.5));
        assert_eq!(f.time_ms(1, 0).unwrap(), None);
        for r in [2, 3] {
            let e = f.time_ms(r, 0).unwrap_err().to_string();
            assert!(
                e.contains(&format!("line {}", f.lines[r])) && e.contains("column 't'"),
                "{e}"
            );
        }
        let e = Frame::parse(Path::new("t.csv"), "a,b\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no data rows"), "{e}");
    }

    #[test]
    fn ragged_lines_are_errors_with_line_numbers() {
        let e = Frame::parse(Path::new("t.csv"), "a,b\n1,2\n3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.csv") && e.contains("line 3"), "{e}");
        let e = Frame::parse(Path::new("t.csv"), "a\n1\n").unwrap();
        assert!(e
            .col("b")
            .unwrap_err()
            .to_string()
            .contains("missing column 'b'"));
    }
}
