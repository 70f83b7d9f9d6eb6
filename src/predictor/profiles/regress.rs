//! Deterministic regressors fitted on profile rows: 1-D curves `time(num_tokens)` for the
//! per-token ops and collectives, and a "ragged grid" 2-D interpolation for attention.
//!
//! Every fit first groups the rows by their x value and averages the targets (Vidur's profiles
//! repeat a few `num_tokens` values; its random forest sees both rows, which averages them too).

/// Which 1-D regressor the profile predictor fits per op.
///
/// Measured by `compare_regressors` in `profiles/compare.rs` (`cargo test --release --lib --
/// --ignored compare_regressors --nocapture`): 408 series (every shared `mlp.csv` × its TPs × 9
/// ops, and every network file × its (collective, num_workers, devices_per_node) groups), every
/// 5th distinct `num_tokens` held out (the largest kept), MAPE (%) over the held-out rows.
/// `forest` is smartcore's random forest (Vidur's default model family; 250 trees, depth 16,
/// seed 0); `poly` minimizes relative error (Vidur's `linear_regression` family).
///
/// ```text
/// op (held-out rows)        linear  pchip  isotonic  lowess5  lowess9  poly3  poly5  forest
/// input_layernorm (2388)      1.31   1.36      1.30     1.42     1.78   6.09   4.78    1.43
/// attn_pre_proj (2388)        2.30   2.32      2.71     2.48     3.06   6.46   6.05    2.35
/// attn_rope (2388)            1.69   1.74      1.83     1.86     2.25   6.16   4.96    1.82
/// attn_post_proj (2388)       2.34   2.37      2.87     2.51     3.15   5.99   5.70    2.55
/// post_attn_layernorm (2232)  1.29   1.33      1.29     1.42     1.81   6.88   5.27    1.43
/// mlp_up_proj (2388)          2.12   2.15      2.49     2.29     2.88   5.55   5.13    2.21
/// mlp_act (2388)              1.47   1.51      1.56     1.64     2.02   5.49   4.53    1.62
/// mlp_down_proj (2388)        2.38   2.41      3.07     2.55     3.30   6.92   6.52    2.59
/// add (2388)                  1.55   1.59      1.59     1.77     2.22   6.18   4.50    1.88
/// all_reduce (3274)           2.90   2.95      3.77     2.92     3.00   7.59   6.37    2.93
/// send_recv (1980)            3.97   4.07      3.78     3.83     3.88   7.18   5.34    4.01
/// all (26590)                 2.12   2.17      2.42     2.25     2.67   6.43   5.41    2.26
/// ```
///
/// `Linear` is best or within 0.2 points of the best on every op, best overall, reproduces
/// every measured median exactly and costs nothing to fit, so it is the default. (Most of the
/// remaining ~2% is run-to-run noise of the held-out medians themselves.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Regressor {
    /// Piecewise-linear interpolation through the measured points (averaged per x).
    #[default]
    Linear,
    /// Monotone piecewise-cubic Hermite interpolation (Fritsch–Carlson, as scipy's PCHIP).
    Pchip,
    /// Isotonic (non-decreasing) least-squares fit by pool-adjacent-violators, then linear
    /// interpolation: removes measurement noise that makes a larger batch look faster.
    Isotonic,
    /// Local linear regression (LOWESS-like, tricube weights) over the `k` nearest points.
    Lowess {
        /// Neighbours per local fit (≥ 2).
        k: usize,
    },
    /// Least-squares polynomial in `x / x_max` of this degree, minimizing relative error (the
    /// family of Vidur's `linear_regression` predictor).
    Poly {
        /// Degree 1..=8.
        degree: usize,
    },
}

impl Regressor {
    /// A short name for descriptions and reports.
    pub fn name(&self) -> String {
        match self {
            Regressor::Linear => "linear".into(),
            Regressor::Pchip => "pchip".into(),
            Regressor::Isotonic => "isotonic".into(),
            Regressor::Lowess { k } => format!("lowess{k}"),
            Regressor::Poly { degree } => format!("poly{degree}"),
        }
    }
}

/// How a curve continues past its largest measured x.
///
/// Measured like [`Regressor`] (same series), fitting on `x ≤ x_max / 2` and predicting every
/// row above, MAPE (%) with linear interpolation inside: `Proportional` 4.36, `UpperHalfSlope`
/// 5.11, `LastSegment` 53.5 (the last two points' noise, amplified), `Flat` 31.0 (smartcore's
/// random forest: 31.2, PCHIP + upper-half slope 5.11, poly3 10.6). Per op, `Proportional` wins
/// on all 11 (e.g. mlp_up_proj 3.52 vs 4.50, all_reduce 3.52 vs 3.98), so it is the default:
/// large batches are compute (or bandwidth) bound, time ∝ tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Extrapolation {
    /// Least-squares slope over the points in the upper half of the measured range, anchored at
    /// the curve's value at the largest x (large batches are compute bound: time grows
    /// linearly; the upper half averages out the noise of the last few points).
    UpperHalfSlope,
    /// The slope of the last segment.
    LastSegment,
    /// Proportional: `y(x) = y(x_max) · x / x_max`.
    #[default]
    Proportional,
    /// Flat: `y(x) = y(x_max)` (what a random forest does).
    Flat,
}

/// Points grouped by x (sorted, unique) with the mean target and the row count.
#[derive(Debug, Clone)]
pub(crate) struct Points {
    pub xs: Vec<f64>,
    pub ys: Vec<f64>,
    pub ws: Vec<f64>,
}

impl Points {
    /// Group `(x, y)` rows by x; NaN rows must be removed by the caller.
    pub fn group(rows: impl IntoIterator<Item = (f64, f64)>) -> Points {
        let mut rows: Vec<(f64, f64)> = rows.into_iter().collect();
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut p = Points {
            xs: Vec::new(),
            ys: Vec::new(),
            ws: Vec::new(),
        };
        let mut i = 0;
        while i < rows.len() {
            let x = rows[i].0;
            let mut sum = 0.0;
            let mut n = 0.0;
            while i < rows.len() && rows[i].0 == x {
                sum += rows[i].1;
                n += 1.0;
                i += 1;
            }
            p.xs.push(x);
            p.ys.push(sum / n);
            p.ws.push(n);
        }
        p
    }

    pub fn len(&self) -> usize {
        self.xs.len()
    }
}

/// A fitted 1-D curve.
#[derive(Debug, Clone)]
pub(crate) struct Curve {
    shape: Shape,
    /// The first measured x: the curve is flat below it.
    x_lo: f64,
    /// Extrapolation beyond the last x: value and slope at `x_hi`.
    x_hi: f64,
    y_hi: f64,
    slope_hi: f64,
}

#[derive(Debug, Clone)]
enum Shape {
    /// Knots with values (linear / isotonic).
    Linear { xs: Vec<f64>, ys: Vec<f64> },
    /// Knots, values and derivatives (PCHIP).
    Hermite {
        xs: Vec<f64>,
        ys: Vec<f64>,
        ds: Vec<f64>,
    },
    /// The data for local regressions.
    Lowess {
        xs: Vec<f64>,
        ys: Vec<f64>,
        k: usize,
    },
    /// Polynomial coefficients in `x / scale`.
    Poly { coef: Vec<f64>, scale: f64 },
}

impl Curve {
    /// Fit `kind` on `p` (at least one point).
    pub fn fit(p: &Points, kind: Regressor, extrapolation: Extrapolation) -> Curve {
        assert!(p.len() > 0, "a curve needs at least one point");
        let shape = match kind {
            Regressor::Linear => Shape::Linear {
                xs: p.xs.clone(),
                ys: p.ys.clone(),
            },
            Regressor::Isotonic => Shape::Linear {
                xs: p.xs.clone(),
                ys: isotonic(&p.ys, &p.ws),
            },
            Regressor::Pchip => Shape::Hermite {
                xs: p.xs.clone(),
                ys: p.ys.clone(),
                ds: pchip_slopes(&p.xs, &p.ys),
            },
            Regressor::Lowess { k } => Shape::Lowess {
                xs: p.xs.clone(),
                ys: p.ys.clone(),
                k: k.max(2),
            },
            Regressor::Poly { degree } => {
                let scale = p.xs.last().copied().unwrap_or(1.0).abs().max(1e-12);
                Shape::Poly {
                    coef: poly_fit(p, degree.clamp(1, 8), scale),
                    scale,
                }
            }
        };
        let mut c = Curve {
            shape,
            x_lo: p.xs[0],
            x_hi: *p.xs.last().expect("non-empty"),
            y_hi: 0.0,
            slope_hi: 0.0,
        };
        c.y_hi = c.inside(c.x_hi);
        c.slope_hi = match extrapolation {
            Extrapolation::Flat => 0.0,
            Extrapolation::Proportional => {
                if c.x_hi > 0.0 {
                    c.y_hi / c.x_hi
                } else {
                    0.0
                }
            }
            Extrapolation::LastSegment => {
                let n = p.len();
                if n >= 2 {
                    let x0 = p.xs[n - 2];
                    (c.y_hi - c.inside(x0)) / (c.x_hi - x0)
                } else {
                    0.0
                }
            }
            Extrapolation::UpperHalfSlope => {
                // Fitted values (not raw data) so a smoothing regressor extrapolates its own
                // curve; at least the last two points.
                let half = p.xs[0] + (c.x_hi - p.xs[0]) / 2.0;
                let n = p.len();
                let pts: Vec<(f64, f64)> =
                    p.xs.iter()
                        .enumerate()
                        .filter(|&(i, &x)| x >= half || i + 2 >= n)
                        .map(|(_, &x)| (x, c.inside(x)))
                        .collect();
                ls_slope(&pts)
            }
        };
        c
    }

    /// The curve at `x`: flat below the first point, extrapolated past the last, never negative.
    pub fn eval(&self, x: f64) -> f64 {
        let v = if x > self.x_hi {
            self.y_hi + self.slope_hi * (x - self.x_hi)
        } else {
            self.inside(x.max(self.x_lo))
        };
        v.max(0.0)
    }

    /// The fitted shape within (and below) the measured range.
    fn inside(&self, x: f64) -> f64 {
        match &self.shape {
            Shape::Linear { xs, ys } => {
                let (i, t) = locate(xs, x);
                if t == 0.0 {
                    ys[i]
                } else {
                    ys[i] + (ys[i + 1] - ys[i]) * t
                }
            }
            Shape::Hermite { xs, ys, ds } => {
                let (i, t) = locate(xs, x);
                if t == 0.0 {
                    return ys[i];
                }
                let h = xs[i + 1] - xs[i];
                let (t2, t3) = (t * t, t * t * t);
                ys[i] * (2.0 * t3 - 3.0 * t2 + 1.0)
                    + h * ds[i] * (t3 - 2.0 * t2 + t)
                    + ys[i + 1] * (-2.0 * t3 + 3.0 * t2)
                    + h * ds[i + 1] * (t3 - t2)
            }
            Shape::Lowess { xs, ys, k } => lowess_at(xs, ys, *k, x),
            Shape::Poly { coef, scale } => {
                let u = x / scale;
                coef.iter().rev().fold(0.0, |acc, c| acc * u + c)
            }
        }
    }
}

/// Segment index and fraction for `x` in sorted knots: `(i, t)` with `x = xs[i] + t·(xs[i+1] −
/// xs[i])`; `t = 0` at or below the first knot, and at or past the last knot (`i` = last).
fn locate(xs: &[f64], x: f64) -> (usize, f64) {
    let n = xs.len();
    if n == 1 || x <= xs[0] {
        return (0, 0.0);
    }
    if x >= xs[n - 1] {
        return (n - 1, 0.0);
    }
    // First knot > x; x lies in [xs[j-1], xs[j]).
    let j = xs.partition_point(|&k| k <= x);
    let i = j - 1;
    (i, (x - xs[i]) / (xs[j] - xs[i]))
}

/// Least-squares slope of `pts` (0 with fewer than two distinct x).
fn ls_slope(pts: &[(f64, f64)]) -> f64 {
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return 0.0;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx > 0.0 {
        sxy / sxx
    } else {
        0.0
    }
}

/// Pool-adjacent-violators: the weighted least-squares non-decreasing fit.
fn isotonic(ys: &[f64], ws: &[f64]) -> Vec<f64> {
    // Blocks of (mean, weight, count).
    let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(ys.len());
    for (&y, &w) in ys.iter().zip(ws) {
        blocks.push((y, w, 1));
        while blocks.len() >= 2 && blocks[blocks.len() - 2].0 > blocks[blocks.len() - 1].0 {
            let (m2, w2, n2) = blocks.pop().expect("two blocks");
            let (m1, w1, n1) = blocks.pop().expect("two blocks");
            let w = w1 + w2;
            blocks.push(((m1 * w1 + m2 * w2) / w, w, n1 + n2));
        }
    }
    blocks
        .into_iter()
        .flat_map(|(m, _, n)| std::iter::repeat_n(m, n))
        .collect()
}

/// PCHIP derivatives (Fritsch–Carlson with scipy's end conditions).
fn pchip_slopes(xs: &[f64], ys: &[f64]) -> Vec<f64> {
    let n = xs.len();
    if n < 2 {
        return vec![0.0; n];
    }
    let h: Vec<f64> = xs.windows(2).map(|w| w[1] - w[0]).collect();
    let m: Vec<f64> = (0..n - 1).map(|i| (ys[i + 1] - ys[i]) / h[i]).collect();
    if n == 2 {
        return vec![m[0], m[0]];
    }
    let mut d = vec![0.0; n];
    for k in 1..n - 1 {
        if m[k - 1] * m[k] > 0.0 {
            let w1 = 2.0 * h[k] + h[k - 1];
            let w2 = h[k] + 2.0 * h[k - 1];
            d[k] = (w1 + w2) / (w1 / m[k - 1] + w2 / m[k]);
        }
    }
    let end = |h0: f64, h1: f64, m0: f64, m1: f64| {
        let d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
        if d.signum() != m0.signum() {
            0.0
        } else if m0.signum() != m1.signum() && d.abs() > 3.0 * m0.abs() {
            3.0 * m0
        } else {
            d
        }
    };
    d[0] = end(h[0], h[1], m[0], m[1]);
    d[n - 1] = end(h[n - 2], h[n - 3], m[n - 2], m[n - 3]);
    d
}

/// Local linear fit at `x` over the `k` nearest points with tricube weights.
fn lowess_at(xs: &[f64], ys: &[f64], k: usize, x: f64) -> f64 {
    let n = xs.len();
    if n == 1 {
        return ys[0];
    }
    let k = k.min(n);
    // Grow a window [lo, hi) of k nearest points around x.
    let mut hi = xs.partition_point(|&v| v < x);
    let mut lo = hi;
    while hi - lo < k {
        if lo == 0 {
            hi += 1;
        } else if hi == n || (x - xs[lo - 1]) <= (xs[hi] - x) {
            lo -= 1;
        } else {
            hi += 1;
        }
    }
    let dmax = (x - xs[lo]).abs().max((xs[hi - 1] - x).abs()) * 1.0001 + 1e-12;
    let (mut sw, mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for i in lo..hi {
        let u = ((xs[i] - x).abs() / dmax).min(1.0);
        let w = (1.0 - u * u * u).powi(3);
        let dx = xs[i] - x;
        sw += w;
        sx += w * dx;
        sy += w * ys[i];
        sxx += w * dx * dx;
        sxy += w * dx * ys[i];
    }
    let det = sw * sxx - sx * sx;
    if det.abs() <= 1e-12 * sw * sxx.max(1e-300) {
        return sy / sw;
    }
    // Intercept of the local line at dx = 0.
    (sxx * sy - sx * sxy) / det
}

/// Weighted least squares for a polynomial in `x / scale` minimizing relative error
/// (weights 1/y), by Householder QR.
fn poly_fit(p: &Points, degree: usize, scale: f64) -> Vec<f64> {
    let cols = (degree + 1).min(p.len());
    let rows = p.len();
    let mut a = vec![0.0; rows * cols];
    let mut b = vec![0.0; rows];
    for i in 0..rows {
        let w = if p.ys[i].abs() > 0.0 {
            1.0 / p.ys[i].abs()
        } else {
            1.0
        };
        let u = p.xs[i] / scale;
        let mut pw = 1.0;
        for j in 0..cols {
            a[i * cols + j] = pw * w;
            pw *= u;
        }
        b[i] = p.ys[i] * w;
    }
    let mut coef = lstsq(&mut a, &mut b, rows, cols);
    coef.resize(degree + 1, 0.0);
    coef
}

/// Least squares `min |A x − b|` for a row-major `rows × cols` A (rows ≥ cols) by Householder QR.
fn lstsq(a: &mut [f64], b: &mut [f64], rows: usize, cols: usize) -> Vec<f64> {
    for j in 0..cols {
        let norm: f64 = (j..rows)
            .map(|i| a[i * cols + j].powi(2))
            .sum::<f64>()
            .sqrt();
        if norm == 0.0 {
            continue;
        }
        let alpha = if a[j * cols + j] > 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = (j..rows).map(|i| a[i * cols + j]).collect();
        v[0] -= alpha;
        let vnorm2: f64 = v.iter().map(|x| x * x).sum();
        if vnorm2 == 0.0 {
            continue;
        }
        for c in j..cols {
            let dot: f64 = (j..rows).map(|i| v[i - j] * a[i * cols + c]).sum();
            let f = 2.0 * dot / vnorm2;
            for i in j..rows {
                a[i * cols + c] -= f * v[i - j];
            }
        }
        let dot: f64 = (j..rows).map(|i| v[i - j] * b[i]).sum();
        let f = 2.0 * dot / vnorm2;
        for i in j..rows {
            b[i] -= f * v[i - j];
        }
    }
    let mut x = vec![0.0; cols];
    for j in (0..cols).rev() {
        let s: f64 = (j + 1..cols).map(|c| a[j * cols + c] * x[c]).sum();
        let d = a[j * cols + j];
        x[j] = if d.abs() > 1e-300 {
            (b[j] - s) / d
        } else {
            0.0
        };
    }
    x
}

/// Attention's 2-D profiles: rows keyed by one feature (chunk size for prefill, batch size for
/// decode), each a piecewise-linear curve over the KV-cache size, continued past its largest KV
/// with the upper-half slope (attention time is affine in KV with a large intercept, so the
/// proportional rule of the token ops does not fit here); between rows, linear in the key. Keys
/// below the first row take the first row; past the last row the last two rows extrapolate
/// linearly.
#[derive(Debug, Clone)]
pub(crate) struct Ragged {
    keys: Vec<f64>,
    rows: Vec<Curve>,
}

impl Ragged {
    /// Fit from `(key, x, y)` rows (at least one).
    pub fn fit(data: &[(f64, f64, f64)]) -> Ragged {
        let mut keys: Vec<f64> = data.iter().map(|r| r.0).collect();
        keys.sort_by(f64::total_cmp);
        keys.dedup();
        let rows = keys
            .iter()
            .map(|&k| {
                let p = Points::group(data.iter().filter(|r| r.0 == k).map(|r| (r.1, r.2)));
                Curve::fit(&p, Regressor::Linear, Extrapolation::UpperHalfSlope)
            })
            .collect();
        Ragged { keys, rows }
    }

    /// The row pair and weight for `key`: value = `(1 − t)·row[i] + t·row[j]`.
    pub fn weights(&self, key: f64) -> (usize, usize, f64) {
        let n = self.keys.len();
        if n == 1 || key <= self.keys[0] {
            return (0, 0, 0.0);
        }
        if key >= self.keys[n - 1] {
            let t = (key - self.keys[n - 2]) / (self.keys[n - 1] - self.keys[n - 2]);
            return (n - 2, n - 1, t);
        }
        let j = self.keys.partition_point(|&k| k <= key);
        let i = j - 1;
        (i, j, (key - self.keys[i]) / (self.keys[j] - self.keys[i]))
    }

    /// Combine two row values with weight `t` (the same arithmetic for tables and direct calls).
    #[inline]
    pub fn blend(v0: f64, v1: f64, t: f64) -> f64 {
        if t == 0.0 {
            v0
        } else {
            (v0 + (v1 - v0) * t).max(0.0)
        }
    }

    /// One row's curve at `x`.
    pub fn row(&self, i: usize, x: f64) -> f64 {
        self.rows[i].eval(x)
    }

    pub fn num_rows(&self) -> usize {
        self.keys.len()
    }

    /// The surface at `(key, x)`.
    pub fn eval(&self, key: f64, x: f64) -> f64 {
        let (i, j, t) = self.weights(key);
        let v0 = self.row(i, x);
        if t == 0.0 {
            return v0;
        }
        Ragged::blend(v0, self.row(j, x), t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(v: &[(f64, f64)]) -> Points {
        Points::group(v.iter().copied())
    }

    #[test]
    fn group_averages_repeated_x() {
        let p = pts(&[(2.0, 1.0), (1.0, 5.0), (2.0, 3.0)]);
        assert_eq!(p.xs, vec![1.0, 2.0]);
        assert_eq!(p.ys, vec![5.0, 2.0]);
        assert_eq!(p.ws, vec![1.0, 2.0]);
    }

    #[test]
    fn linear_interpolates_clamps_and_extrapolates() {
        let p = pts(&[(1.0, 1.0), (3.0, 3.0), (5.0, 7.0)]);
        let c = Curve::fit(&p, Regressor::Linear, Extrapolation::LastSegment);
        assert_eq!(c.eval(0.0), 1.0);
        assert_eq!(c.eval(1.0), 1.0);
        assert_eq!(c.eval(2.0), 2.0);
        assert_eq!(c.eval(4.0), 5.0);
        assert_eq!(c.eval(5.0), 7.0);
        assert_eq!(c.eval(6.0), 9.0);
        let c = Curve::fit(&p, Regressor::Linear, Extrapolation::UpperHalfSlope);
        // Upper half: x >= 3 → points (3,3), (5,7): slope 2.
        assert_eq!(c.eval(7.0), 11.0);
        let c = Curve::fit(&p, Regressor::Linear, Extrapolation::Proportional);
        assert_eq!(c.eval(10.0), 14.0);
        let c = Curve::fit(&p, Regressor::Linear, Extrapolation::Flat);
        assert_eq!(c.eval(10.0), 7.0);
    }

    #[test]
    fn single_point_is_constant() {
        let p = pts(&[(4.0, 2.5)]);
        for kind in [
            Regressor::Linear,
            Regressor::Pchip,
            Regressor::Isotonic,
            Regressor::Lowess { k: 5 },
            Regressor::Poly { degree: 3 },
        ] {
            let c = Curve::fit(&p, kind, Extrapolation::UpperHalfSlope);
            let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
            assert!(close(c.eval(1.0), 2.5), "{kind:?}");
            assert!(close(c.eval(100.0), 2.5), "{kind:?}");
            let c = Curve::fit(&p, kind, Extrapolation::Proportional);
            assert!(close(c.eval(8.0), 5.0), "{kind:?}");
        }
    }

    #[test]
    fn isotonic_pools_violators() {
        assert_eq!(
            isotonic(&[1.0, 3.0, 2.0, 4.0], &[1.0; 4]),
            vec![1.0, 2.5, 2.5, 4.0]
        );
        assert_eq!(isotonic(&[3.0, 1.0], &[1.0, 3.0]), vec![1.5, 1.5]);
    }

    #[test]
    fn pchip_and_poly_reproduce_lines() {
        let p = pts(&(1..20)
            .map(|i| (i as f64, 2.0 * i as f64 + 1.0))
            .collect::<Vec<_>>());
        for kind in [
            Regressor::Pchip,
            Regressor::Poly { degree: 1 },
            Regressor::Poly { degree: 4 },
            Regressor::Lowess { k: 4 },
        ] {
            let c = Curve::fit(&p, kind, Extrapolation::UpperHalfSlope);
            for x in [1.0, 2.5, 7.25, 19.0, 30.0] {
                assert!(
                    (c.eval(x) - (2.0 * x + 1.0)).abs() < 1e-9,
                    "{kind:?} at {x}: {}",
                    c.eval(x)
                );
            }
        }
    }

    #[test]
    fn pchip_is_monotone_on_monotone_data() {
        let p = pts(&[(0.0, 0.0), (1.0, 0.1), (2.0, 0.1), (3.0, 5.0), (4.0, 5.1)]);
        let c = Curve::fit(&p, Regressor::Pchip, Extrapolation::default());
        let mut prev = -1.0;
        for i in 0..=400 {
            let v = c.eval(i as f64 / 100.0);
            assert!(v >= prev - 1e-12, "{i}: {v} < {prev}");
            prev = v;
        }
    }

    #[test]
    fn ragged_blends_rows() {
        // Rows at key 1 (y = x) and key 3 (y = 2x, only up to x = 2).
        let data = [
            (1.0, 0.0, 0.0),
            (1.0, 4.0, 4.0),
            (3.0, 0.0, 0.0),
            (3.0, 2.0, 4.0),
        ];
        let r = Ragged::fit(&data);
        assert_eq!(r.eval(1.0, 2.0), 2.0);
        assert_eq!(r.eval(2.0, 2.0), 3.0);
        assert_eq!(r.eval(3.0, 4.0), 8.0); // extrapolated in x
        assert_eq!(r.eval(0.5, 2.0), 2.0); // below the first row: the first row
        assert_eq!(r.eval(5.0, 2.0), 6.0); // past the last row: linear in the key
    }
}
