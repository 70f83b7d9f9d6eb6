//! Python/pandas number formatting for Vidur-compatible outputs (vidur-behavior.md §9): pandas
//! `to_csv` and `json.dumps` print floats with Python's shortest round-trip `repr`
//! (`418.0`, `9.655710091695406e-05`, `1e+16`).

use std::fmt::Write;

/// A number as Python would hold it: ints print without a decimal point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PyNum {
    /// A Python int.
    Int(i64),
    /// A Python float.
    Float(f64),
}

impl PyNum {
    /// The numeric value.
    pub(crate) fn value(self) -> f64 {
        match self {
            PyNum::Int(i) => i as f64,
            PyNum::Float(f) => f,
        }
    }

    /// Python `repr` (also what `json.dumps` writes, except for non-finite floats).
    pub(crate) fn repr(self) -> String {
        match self {
            PyNum::Int(i) => i.to_string(),
            PyNum::Float(f) => py_float(f),
        }
    }
}

/// Python `repr(float)`. Rust's `{:?}` uses the same shortest digits and the same switch to
/// scientific notation (exponent < −4 or ≥ 16); only the exponent spelling differs
/// (`1e-5` vs `1e-05`, `1e16` vs `1e+16`).
pub fn py_float(v: f64) -> String {
    let mut s = String::with_capacity(24);
    push_py_float(&mut s, v);
    s
}

/// Append Python `repr(float)` of `v` to `out`.
pub fn push_py_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("nan");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "inf" } else { "-inf" });
        return;
    }
    let start = out.len();
    let _ = write!(out, "{v:?}");
    if let Some(epos) = out[start..].find('e').map(|p| p + start) {
        let exp: i32 = out[epos + 1..].parse().expect("float exponent");
        out.truncate(epos);
        let _ = write!(
            out,
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python_repr() {
        for (v, s) in [
            (418.0, "418.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.7258316000000002, "1.7258316000000002"),
            (9.655710091695406e-05, "9.655710091695406e-05"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (1.5e-300, "1.5e-300"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.25e22, "1.25e+22"),
            (0.5700000000000001, "0.5700000000000001"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(py_float(v), s);
        }
        assert_eq!(PyNum::Int(100).repr(), "100");
    }

    /// Every number pandas wrote in a Vidur `request_metrics.csv` round-trips through our repr.
    #[test]
    fn roundtrips_vidur_request_metrics() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/conformance/cases/sarathi_heavy/request_metrics.csv");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "missing Vidur reference file {} ({e}); the shared/ checkout is required",
                path.display()
            )
        });
        let mut n = 0;
        for line in text.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            // Column 0 (id) and the last (restarts) are ints; the rest are floats or empty.
            for cell in &cells[1..cells.len() - 1] {
                if !cell.is_empty() {
                    assert_eq!(py_float(cell.parse().unwrap()), *cell);
                    n += 1;
                }
            }
        }
        assert!(n > 1000);
    }
}
