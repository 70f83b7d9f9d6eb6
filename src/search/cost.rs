//! What a point costs at its capacity: $/h of its GPUs, capacity QPS per $/h (the ranking key)
//! and $ per million output tokens. Prices are not part of the point cache's key, so cached
//! points are re-priced with this on every run.

use super::result::Cost;

/// Cost figures of a point of `num_gpus` GPUs at `usd_per_gpu_hour`, serving `capacity` QPS
/// and `output_tokens_per_s` (both from its run at capacity). Without a positive capacity
/// only the hourly prices are set.
pub fn at_capacity(
    num_gpus: u32,
    usd_per_gpu_hour: f64,
    capacity: Option<f64>,
    output_tokens_per_s: Option<f64>,
) -> Cost {
    let usd_per_hour = num_gpus as f64 * usd_per_gpu_hour;
    let cap = capacity.filter(|c| *c > 0.0);
    Cost {
        usd_per_gpu_hour,
        usd_per_hour,
        qps_per_dollar: cap.map(|c| c / usd_per_hour),
        usd_per_million_output_tokens: output_tokens_per_s
            .filter(|t| cap.is_some() && *t > 0.0)
            .map(|t| usd_per_hour / (t * 3600.0) * 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_follow_capacity_and_tokens() {
        // 4 GPUs at $2.5/h: $10/h; 5 QPS → 0.5 QPS per $/h; 1000 tok/s = 3.6M tok/h → $2.78/1M.
        let c = at_capacity(4, 2.5, Some(5.0), Some(1000.0));
        assert_eq!(c.usd_per_hour, 10.0);
        assert_eq!(c.qps_per_dollar, Some(0.5));
        let per_m = c.usd_per_million_output_tokens.unwrap();
        assert!((per_m - 10.0 / 3.6).abs() < 1e-12, "{per_m}");
    }

    #[test]
    fn no_capacity_has_only_hourly_prices() {
        for cap in [None, Some(0.0)] {
            let c = at_capacity(2, 3.0, cap, Some(500.0));
            assert_eq!((c.usd_per_gpu_hour, c.usd_per_hour), (3.0, 6.0));
            assert_eq!(c.qps_per_dollar, None);
            assert_eq!(c.usd_per_million_output_tokens, None);
        }
        let c = at_capacity(2, 3.0, Some(1.0), Some(0.0));
        assert_eq!(c.usd_per_million_output_tokens, None);
    }
}
