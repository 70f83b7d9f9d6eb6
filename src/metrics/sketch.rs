//! A DDSketch that reproduces Python `ddsketch.DDSketch(relative_accuracy=0.001)` bit for bit
//! (vidur-behavior.md §9.3): `LogarithmicMapping` keys, a dense store, a zero bucket and the
//! "first bucket whose cumulative count exceeds `q·(n−1)`" quantile rule.
//!
//! Vidur stores its batch metrics and the per-token decode latency in these sketches, so its
//! quantiles are approximate (≈0.1%) even for integers: a batch size of 1 reads back as
//! `0.9989999999999999`.

/// Vidur's relative accuracy for every sketch.
pub const VIDUR_RELATIVE_ACCURACY: f64 = 0.001;

/// Python `ddsketch.store.DenseStore`: counts per key, contiguous from `offset`.
#[derive(Debug, Clone, Default)]
struct DenseStore {
    bins: Vec<u64>,
    offset: i32,
    count: u64,
}

impl DenseStore {
    fn add(&mut self, key: i32) {
        if self.bins.is_empty() {
            self.offset = key;
            self.bins.push(0);
        } else if key < self.offset {
            // Grow to the left; rare after the first few values, so a shift is fine.
            let extra = (self.offset - key) as usize;
            self.bins.splice(0..0, std::iter::repeat_n(0, extra));
            self.offset = key;
        } else {
            let idx = (key - self.offset) as usize;
            if idx >= self.bins.len() {
                self.bins.resize(idx + 1, 0);
            }
        }
        self.bins[(key - self.offset) as usize] += 1;
        self.count += 1;
    }

    /// Python `key_at_rank(rank, lower)`: the first key whose running count passes `rank`.
    fn key_at_rank(&self, rank: f64, lower: bool) -> i32 {
        let mut running = 0.0;
        for (i, &c) in self.bins.iter().enumerate() {
            running += c as f64;
            if (lower && running > rank) || (!lower && running >= rank + 1.0) {
                return i as i32 + self.offset;
            }
        }
        self.offset + self.bins.len() as i32 - 1
    }
}

/// A value read back from a sketch. Python returns the int `0` for the zero bucket, which pandas
/// then prints as `0` when a whole column is zero; [`SketchValue::Zero`] keeps that distinction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SketchValue {
    /// The zero bucket (Python int `0`).
    Zero,
    /// A bucket's representative value.
    Value(f64),
}

impl SketchValue {
    /// As a float.
    pub fn as_f64(self) -> f64 {
        match self {
            SketchValue::Zero => 0.0,
            SketchValue::Value(v) => v,
        }
    }
}

/// Python `DDSketch` with a `LogarithmicMapping` and unbounded dense stores.
#[derive(Debug, Clone)]
pub struct DdSketch {
    gamma: f64,
    multiplier: f64,
    min_possible: f64,
    positive: DenseStore,
    negative: DenseStore,
    zero_count: u64,
    count: u64,
}

impl Default for DdSketch {
    fn default() -> Self {
        DdSketch::new(VIDUR_RELATIVE_ACCURACY)
    }
}

impl DdSketch {
    /// A sketch with the given relative accuracy (Vidur uses [`VIDUR_RELATIVE_ACCURACY`]).
    pub fn new(relative_accuracy: f64) -> Self {
        // Same operation order as ddsketch's KeyMapping/LogarithmicMapping constructors.
        let gamma_mantissa = 2.0 * relative_accuracy / (1.0 - relative_accuracy);
        let gamma = 1.0 + gamma_mantissa;
        let multiplier = 1.0 / gamma_mantissa.ln_1p() * 2f64.ln();
        DdSketch {
            gamma,
            multiplier,
            min_possible: f64::MIN_POSITIVE * gamma,
            positive: DenseStore::default(),
            negative: DenseStore::default(),
            zero_count: 0,
            count: 0,
        }
    }

    /// `ceil(log2(v)·multiplier)`; Python's `math.log(v, 2)` is `ln v / ln 2`, not `log2`.
    pub(crate) fn key(&self, v: f64) -> i32 {
        (v.ln() / 2f64.ln() * self.multiplier).ceil() as i32
    }

    /// The representative value of bucket `key`.
    pub fn value_of_key(&self, key: i32) -> f64 {
        2f64.powf(key as f64 / self.multiplier) * (2.0 / (1.0 + self.gamma))
    }

    /// Add one value.
    pub fn add(&mut self, v: f64) {
        if v > self.min_possible {
            let k = self.key(v);
            self.positive.add(k);
        } else if v < -self.min_possible {
            let k = self.key(-v);
            self.negative.add(k);
        } else {
            self.zero_count += 1;
        }
        self.count += 1;
    }

    /// Number of values added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Python `get_quantile_value(q)`: `None` when empty or `q` is outside [0, 1].
    pub fn quantile_value(&self, q: f64) -> Option<SketchValue> {
        if !(0.0..=1.0).contains(&q) || self.count == 0 {
            return None;
        }
        let rank = q * (self.count - 1) as f64;
        let neg = self.negative.count as f64;
        if rank < neg {
            let reversed = neg - rank - 1.0;
            let k = self.negative.key_at_rank(reversed, false);
            Some(SketchValue::Value(-self.value_of_key(k)))
        } else if rank < self.zero_count as f64 + neg {
            Some(SketchValue::Zero)
        } else {
            let k = self
                .positive
                .key_at_rank(rank - self.zero_count as f64 - neg, true);
            Some(SketchValue::Value(self.value_of_key(k)))
        }
    }

    /// [`Self::quantile_value`] as a float.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.quantile_value(q).map(SketchValue::as_f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_vidur_values() {
        // From conformance/cases/vllm_heavy/plots/batch_size.csv.gz (batch sizes 1, 127, 128).
        for (v, expect) in [
            (1.0, 0.9989999999999999),
            (127.0, 127.10342371406671),
            (128.0, 128.12432962288904),
        ] {
            let mut s = DdSketch::default();
            s.add(v);
            assert_eq!(s.quantile(0.5), Some(expect), "value {v}");
        }
    }

    /// Every nonzero value in Vidur's sketch CSVs must be a bucket value of our mapping, bit for bit.
    #[test]
    fn vidur_sketch_files_are_bucket_values() {
        let s = DdSketch::default();
        let mut checked = 0;
        for name in [
            "batch_execution_time",
            "batch_num_tokens",
            "batch_num_prefill_tokens",
            "batch_num_decode_tokens",
            "batch_size",
            "decode_token_execution_plus_preemption_time",
        ] {
            let text = crate::metrics::read_shared_gz(&format!(
                "conformance/cases/vllm_heavy/plots/{name}.csv.gz"
            ));
            for line in text.lines().skip(1) {
                let v: f64 = line.rsplit(',').next().unwrap().parse().unwrap();
                if v != 0.0 {
                    assert_eq!(s.value_of_key(s.key(v)), v, "{name}: {line}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 300);
    }

    #[test]
    fn quantile_rule_and_zero_bucket() {
        let mut s = DdSketch::default();
        for v in [0.0, 0.0, 1.0, 2.0, 3.0] {
            s.add(v);
        }
        assert_eq!(s.count(), 5);
        // rank = q·4: ranks < 2 are in the zero bucket.
        assert_eq!(s.quantile_value(0.0), Some(SketchValue::Zero));
        assert_eq!(s.quantile_value(0.49), Some(SketchValue::Zero));
        assert_eq!(s.quantile(0.5), Some(0.9989999999999999));
        let top = s.quantile(1.0).unwrap();
        assert!((top - 3.0).abs() / 3.0 < 0.001);
        assert_eq!(s.quantile(1.1), None);
        assert_eq!(DdSketch::default().quantile(0.5), None);
    }

    #[test]
    fn keys_grow_left_and_right() {
        let mut s = DdSketch::default();
        for v in [100.0, 0.01, 5.0, -2.0] {
            s.add(v);
        }
        let q: Vec<f64> = [0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0]
            .iter()
            .map(|&q| s.quantile(q).unwrap())
            .collect();
        for (got, want) in q.iter().zip([-2.0, 0.01, 5.0, 100.0]) {
            assert!(((got - want) / want).abs() < 0.001, "{got} vs {want}");
        }
    }
}
