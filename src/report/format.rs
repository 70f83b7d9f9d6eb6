//! Number formatting and small lookups shared by every report writer, so a number reads the
//! same in best_configs.md, report.html, insights.md and the plots.

use crate::search::{PointResult, Slo, SloValue};

/// The measurement of `slo` at the point's capacity, if any. Matched by value rather than
/// position so a reordered `at_capacity` cannot shift columns.
pub(crate) fn slo_value<'a>(p: &'a PointResult, slo: &Slo, index: usize) -> Option<&'a SloValue> {
    match p.at_capacity.get(index) {
        Some(v) if v.slo == *slo => Some(v),
        _ => p.at_capacity.iter().find(|v| v.slo == *slo),
    }
}

/// A compact human number: about four significant digits, trailing zeros trimmed.
pub(crate) fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `fmt_num` of an option, with an en dash for "none".
pub(crate) fn fmt_opt(x: Option<f64>) -> String {
    x.map(fmt_num).unwrap_or_else(|| "–".into())
}

/// A file-name-safe version of a name: ASCII alphanumerics, `-`, `_` and `.` kept, the rest `-`.
pub(crate) fn slug(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if out.is_empty() {
        "_".into()
    } else {
        out
    }
}

/// "12.3 s" / "4 min 5 s" / "1 h 2 min" for run durations.
pub(crate) fn fmt_duration(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return format!("{s} s");
    }
    if s < 60.0 {
        return format!("{} s", fmt_num(s));
    }
    let total = s.round() as u64;
    let (h, m, sec) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min {sec} s")
    }
}

/// Tick labels: three significant digits, no float noise.
pub(crate) fn fmt_tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        return format!("{v:.1e}");
    }
    let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_compact() {
        assert_eq!(fmt_num(12.3456), "12.35");
        assert_eq!(fmt_num(0.123456), "0.1235");
        assert_eq!(fmt_num(2.0), "2");
        assert_eq!(fmt_num(1234.56), "1235");
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(1.5e7), "1.500e7");
        assert_eq!(fmt_opt(None), "–");
    }

    #[test]
    fn slugs_are_file_safe() {
        assert_eq!(slug("Llama-2-7b/chat v2"), "Llama-2-7b-chat-v2");
        assert_eq!(slug(""), "_");
    }

    #[test]
    fn durations() {
        assert_eq!(fmt_duration(12.34), "12.34 s");
        assert_eq!(fmt_duration(245.0), "4 min 5 s");
        assert_eq!(fmt_duration(3720.0), "1 h 2 min");
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(fmt_tick(0.30000000000000004), "0.3");
        assert_eq!(fmt_tick(12.5), "12.5");
        assert_eq!(fmt_tick(1250.0), "1250");
    }
}
