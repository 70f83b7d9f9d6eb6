//! Trace-file reading shared by trace replay and the trace length/interval generators
//! (vidur-behavior.md §6.3-§6.5).
//!
//! Vidur reads traces with `pandas.read_csv`. We use the `csv` crate, accept gzip-compressed
//! files transparently (detected by the gzip magic bytes, so `.csv.gz` works whatever its name),
//! and turn every problem into a [`WorkloadError`] naming the file, line and column.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::WorkloadError;

/// Resolves a config-given trace path: relative paths are relative to `base_dir`.
pub(crate) fn resolve(base_dir: &Path, file: &str) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    }
}

/// An open trace CSV with its header.
pub(crate) struct Csv {
    /// Resolved path, for messages.
    pub path: PathBuf,
    reader: csv::Reader<Box<dyn Read>>,
    headers: csv::StringRecord,
    record: csv::StringRecord,
}

impl Csv {
    /// Opens `path` (plain or gzip CSV) and reads the header. `field` is the config field that
    /// named the file, for the error message.
    pub fn open(path: PathBuf, field: &str) -> Result<Csv, WorkloadError> {
        let io_err = |error| WorkloadError::Io {
            field: field.to_string(),
            path: path.clone(),
            error,
        };
        let file = File::open(&path).map_err(io_err)?;
        let mut buf = BufReader::with_capacity(1 << 16, file);
        let gz = buf.fill_buf().map_err(io_err)?.starts_with(&[0x1f, 0x8b]);
        let input: Box<dyn Read> = if gz {
            Box::new(flate2::read::MultiGzDecoder::new(buf))
        } else {
            Box::new(buf)
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            // pandas fills short rows with NaN; we report them as missing values instead of a
            // generic "unequal lengths" error.
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(input);
        let headers = reader.headers().map_err(|e| csv_err(&path, e))?.clone();
        Ok(Csv {
            path,
            reader,
            headers,
            record: csv::StringRecord::new(),
        })
    }

    /// Index of a required column.
    pub fn column(&self, name: &str) -> Result<usize, WorkloadError> {
        self.find(name).ok_or_else(|| self.missing(name))
    }

    /// Index of a column, if present.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }

    /// The missing-column error for `what` (a name or a description of alternatives).
    pub fn missing(&self, what: &str) -> WorkloadError {
        let found = if self.headers.is_empty() {
            "none; the file is empty".to_string()
        } else {
            self.headers.iter().collect::<Vec<_>>().join(", ")
        };
        WorkloadError::MissingColumn {
            path: self.path.clone(),
            column: what.to_string(),
            found,
        }
    }

    /// Advances to the next data row; returns its 1-based line number, or `None` at the end.
    /// Blank lines are skipped by the reader, as pandas does.
    pub fn next_row(&mut self) -> Result<Option<u64>, WorkloadError> {
        match self.reader.read_record(&mut self.record) {
            Ok(true) => Ok(Some(self.record.position().map_or(0, |p| p.line()))),
            Ok(false) => Ok(None),
            Err(e) => Err(csv_err(&self.path, e)),
        }
    }

    /// Raw text of column `col` in the current row.
    pub fn cell(&self, line: u64, col: usize) -> Result<&str, WorkloadError> {
        self.record.get(col).ok_or_else(|| WorkloadError::BadValue {
            path: self.path.clone(),
            line,
            column: self.headers[col].to_string(),
            expected: "a value".into(),
            value: format!("nothing (the row has only {} fields)", self.record.len()),
        })
    }

    /// Column `col` of the current row as a finite number ≥ 0.
    pub fn non_negative(&self, line: u64, col: usize) -> Result<f64, WorkloadError> {
        let s = self.cell(line, col)?;
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
            _ => Err(self.bad(line, col, "a finite number >= 0", s)),
        }
    }

    /// Column `col` of the current row as a token count: a whole number ≥ 1. A count written as
    /// a float (`12.0`, as pandas writes integer columns that had a missing value) is accepted
    /// when it is exact; `12.5`, `0` and negatives are errors, not silently truncated or
    /// raised to 1.
    pub fn tokens(&self, line: u64, col: usize) -> Result<f64, WorkloadError> {
        let s = self.cell(line, col)?;
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 1.0 && v.fract() == 0.0 => Ok(v),
            _ => Err(self.bad(line, col, "a whole number of tokens >= 1", s)),
        }
    }

    /// A [`WorkloadError::BadValue`] for column `col` of the current row.
    pub fn bad(&self, line: u64, col: usize, expected: &str, value: &str) -> WorkloadError {
        WorkloadError::BadValue {
            path: self.path.clone(),
            line,
            column: self.headers[col].to_string(),
            expected: expected.to_string(),
            value: value.to_string(),
        }
    }

    /// A [`WorkloadError::Trace`] about this file.
    pub fn trace_err(&self, msg: impl Into<String>) -> WorkloadError {
        WorkloadError::Trace {
            path: self.path.clone(),
            msg: msg.into(),
        }
    }
}

fn csv_err(path: &Path, e: csv::Error) -> WorkloadError {
    let line = e.position().map_or(0, |p| p.line());
    if line == 0 {
        // No position: the bytes themselves could not be read (e.g. a broken gzip stream).
        return WorkloadError::Trace {
            path: path.to_path_buf(),
            msg: format!("cannot read: {e}"),
        };
    }
    WorkloadError::Csv {
        path: path.to_path_buf(),
        line,
        msg: e.to_string(),
    }
}

/// Parses `YYYY-mm-dd HH:MM:SS[.fffffffff]` (a `T` separator is accepted too) into
/// microseconds since 1970-01-01 (proleptic Gregorian, no time zone), the format of Vidur's
/// `arrival_time` column (vidur-behavior.md §6.4). `None` if malformed.
pub(crate) fn parse_datetime_us(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b' ' || b[10] == b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = &b[r];
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(part.iter().fold(0i64, |a, &c| a * 10 + i64::from(c - b'0')))
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut micros = 0i64;
    if b.len() > 19 {
        // Optional fraction: '.', 1-9 digits; we keep microseconds (flooring the rest).
        let frac = &b[20..];
        if b[19] != b'.'
            || frac.is_empty()
            || frac.len() > 9
            || !frac.iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        for i in 0..6 {
            micros = micros * 10 + frac.get(i).map_or(0, |&c| i64::from(c - b'0'));
        }
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d < 1
        || d > mdays[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || sec > 59
    {
        return None;
    }
    // Days from civil (H. Hinnant's algorithm); y ≥ 0 here so plain division is floor division.
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60_000_000 + sec * 1_000_000 + micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_cells_are_whole_positive_numbers() {
        let dir = std::env::temp_dir().join(format!("csvio-tokens-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.csv");
        std::fs::write(&p, "n\n12\n12.0\n12.5\n0\n-3\nNaN\n1e3\n").unwrap();
        let mut csv = Csv::open(p, "f").unwrap();
        let mut got = Vec::new();
        while let Some(line) = csv.next_row().unwrap() {
            got.push(csv.tokens(line, 0).map_err(|e| e.to_string()));
        }
        assert_eq!(got[0], Ok(12.0));
        assert_eq!(got[1], Ok(12.0));
        assert_eq!(got[6], Ok(1000.0));
        for (i, bad) in [(2, "12.5"), (3, "0"), (4, "-3"), (5, "NaN")] {
            let e = got[i].clone().unwrap_err();
            assert!(
                e.contains(&format!("line {}", i + 2))
                    && e.contains("column `n`")
                    && e.contains("whole number of tokens")
                    && e.contains(bad),
                "{e}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime_us("1970-01-01 00:00:00"), Some(0));
        assert_eq!(
            parse_datetime_us("1970-01-04 12:00:01.5"),
            Some((3 * 86400 + 43201) * 1_000_000 + 500_000)
        );
        assert_eq!(
            parse_datetime_us("2000-03-01T00:00:00"),
            Some(951_868_800 * 1_000_000)
        );
        assert_eq!(
            parse_datetime_us("2024-02-29 23:59:59.123456789"),
            Some(1_709_251_199_123_456)
        );
        assert_eq!(parse_datetime_us("2023-02-29 00:00:00"), None);
        assert_eq!(parse_datetime_us("2023-01-01 24:00:00"), None);
        assert_eq!(parse_datetime_us("2023-01-01 00:00:00."), None);
        assert_eq!(parse_datetime_us("12.5"), None);
    }
}
