//! Vidur's `SeriesAverageMeter` (vidur-behavior.md §9.6): a time-weighted mean of a step
//! function plus its min and max, used for memory, busy-time and MFU utilization.
//!
//! Vidur quirk 1 (§12 item 15): `if not last_x` returns early, so while the previous x is 0 the
//! segment is not counted; the first segment `[0, first event]` is therefore dropped. With
//! [`SeriesAverageMeter::new`]`(true)` the quirk is kept; with `false` every segment counts.

use super::pyfmt::PyNum;

/// min, max and time-weighted mean of a meter (`None` where Python would have `inf` or divide by 0).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MeterStats {
    /// Smallest value put.
    pub min: Option<f64>,
    /// Largest value put.
    pub max: Option<f64>,
    /// `Σ y_prev·(x − x_prev) / Σ (x − x_prev)` over the counted segments.
    pub weighted_mean: Option<f64>,
}

/// A step-function averager over `(x, y)` points put in x order.
#[derive(Debug, Clone)]
pub struct SeriesAverageMeter {
    vidur_quirk: bool,
    /// Every put weighs 1 instead of its time span (Vidur's memory meter, see `count_weighted`).
    count_weighted: bool,
    min: Option<PyNum>,
    max: Option<PyNum>,
    /// Previous point; Vidur starts it at `(0, 0)`.
    last: Option<(f64, f64)>,
    area: f64,
    span: f64,
}

impl SeriesAverageMeter {
    /// An empty meter; `vidur_quirk` keeps Vidur's dropped-first-segment behavior.
    pub fn new(vidur_quirk: bool) -> Self {
        SeriesAverageMeter {
            vidur_quirk,
            count_weighted: false,
            min: None,
            max: None,
            last: None,
            area: 0.0,
            span: 0.0,
        }
    }

    /// A meter whose mean weighs every put equally, initial `(0, 0)` included. Vidur's
    /// `memory_usage_weighted_mean` is this plain mean, not a time-weighted one: the
    /// conformance cases reproduce to the last digit only with it (vllm_heavy: 48.1232 here,
    /// 68.81 time-weighted).
    pub fn count_weighted() -> Self {
        SeriesAverageMeter {
            count_weighted: true,
            ..SeriesAverageMeter::new(true)
        }
    }

    /// Put a float value.
    pub fn put(&mut self, x: f64, y: f64) {
        self.put_num(x, PyNum::Float(y));
    }

    /// Put a value that Vidur passes as a Python int (it prints as `0` / `100` in the JSON).
    pub fn put_int(&mut self, x: f64, y: i64) {
        self.put_num(x, PyNum::Int(y));
    }

    fn put_num(&mut self, x: f64, y: PyNum) {
        // Python `min(cur, y)` / `max(cur, y)`: a tie keeps the current value (and its type).
        if self.min.is_none_or(|m| y.value() < m.value()) {
            self.min = Some(y);
        }
        if self.max.is_none_or(|m| y.value() > m.value()) {
            self.max = Some(y);
        }
        let y = y.value();
        if self.count_weighted {
            self.area += y;
            self.span += 1.0;
            self.last = Some((x, y));
            return;
        }
        let prev = if self.vidur_quirk {
            // Vidur: last_x starts at 0 and a falsy last_x skips the segment.
            match self.last {
                Some((lx, ly)) if lx != 0.0 => Some((lx, ly)),
                _ => None,
            }
        } else {
            self.last
        };
        if let Some((lx, ly)) = prev {
            self.area += ly * (x - lx);
            self.span += x - lx;
        }
        self.last = Some((x, y));
    }

    /// Extend the last value to `x` without touching min/max (used to close a run at its end time).
    pub fn extend_to(&mut self, x: f64) {
        if self.count_weighted {
            return;
        }
        if let Some((lx, ly)) = self.last {
            if x > lx {
                self.area += ly * (x - lx);
                self.span += x - lx;
                self.last = Some((x, ly));
            }
        }
    }

    /// The current statistics.
    pub fn stats(&self) -> MeterStats {
        MeterStats {
            min: self.min.map(PyNum::value),
            max: self.max.map(PyNum::value),
            weighted_mean: (self.span > 0.0).then(|| self.area / self.span),
        }
    }

    /// The JSON object Vidur's `print_stats(name)` writes, formatted like Python's `json.dumps`.
    pub(crate) fn to_vidur_json(&self, name: &str) -> String {
        let num = |v: Option<PyNum>| v.map_or_else(|| "null".to_string(), |n| n.repr());
        let mean = self
            .stats()
            .weighted_mean
            .map_or_else(|| "null".to_string(), |m| PyNum::Float(m).repr());
        format!(
            "{{\"{name}_min\": {}, \"{name}_max\": {}, \"{name}_weighted_mean\": {}}}",
            num(self.min),
            num(self.max),
            mean
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vidur_quirk_drops_first_segment() {
        // Memory meter: put(0, 0) then events at 2, 4, 6.
        let mut m = SeriesAverageMeter::new(true);
        m.put_int(0.0, 0);
        m.put(2.0, 50.0);
        m.put(4.0, 10.0);
        m.put(6.0, 0.0);
        // Only [2,4] (50) and [4,6] (10) count: (100 + 20) / 4.
        assert_eq!(
            m.stats(),
            MeterStats {
                min: Some(0.0),
                max: Some(50.0),
                weighted_mean: Some(30.0)
            }
        );
        assert_eq!(
            m.to_vidur_json("replica_1_memory_usage"),
            "{\"replica_1_memory_usage_min\": 0, \"replica_1_memory_usage_max\": 50.0, \
             \"replica_1_memory_usage_weighted_mean\": 30.0}"
        );
    }

    #[test]
    fn vidur_quirk_busy_meter_starting_at_zero() {
        // A stage that starts at t=0 loses its first busy segment too.
        let mut m = SeriesAverageMeter::new(true);
        m.put_int(0.0, 100);
        m.put_int(1.0, 0);
        m.put_int(2.0, 100);
        m.put_int(3.0, 0);
        // Counted: [1,2] at 0 and [2,3] at 100.
        assert_eq!(m.stats().weighted_mean, Some(50.0));
        assert_eq!(
            m.to_vidur_json("b"),
            "{\"b_min\": 0, \"b_max\": 100, \"b_weighted_mean\": 50.0}"
        );
    }

    #[test]
    fn default_mode_counts_every_segment() {
        let mut m = SeriesAverageMeter::new(false);
        m.put_int(0.0, 0);
        m.put(2.0, 50.0);
        m.put(4.0, 10.0);
        m.put(6.0, 0.0);
        // [0,2] at 0 counts: 120 / 6.
        assert_eq!(m.stats().weighted_mean, Some(20.0));
        m.extend_to(8.0);
        assert_eq!(m.stats().weighted_mean, Some(15.0));

        let mut b = SeriesAverageMeter::new(false);
        b.put_int(0.0, 100);
        b.put_int(1.0, 0);
        b.put_int(2.0, 100);
        b.put_int(3.0, 0);
        assert_eq!(b.stats().weighted_mean, Some(200.0 / 3.0));
    }

    #[test]
    fn empty_meter_and_ties_keep_int() {
        let m = SeriesAverageMeter::new(true);
        assert_eq!(
            m.stats(),
            MeterStats {
                min: None,
                max: None,
                weighted_mean: None
            }
        );
        assert_eq!(
            m.to_vidur_json("x"),
            "{\"x_min\": null, \"x_max\": null, \"x_weighted_mean\": null}"
        );
        let mut t = SeriesAverageMeter::new(true);
        t.put_int(0.0, 0);
        t.put(1.0, 0.0);
        assert_eq!(
            t.to_vidur_json("x"),
            "{\"x_min\": 0, \"x_max\": 0, \"x_weighted_mean\": null}"
        );
    }
}
