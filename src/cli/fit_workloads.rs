//! `vidur-search fit-workloads`: refit the built-in request-length workloads from traces.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::check_dir;
use crate::workload;

pub(super) const FIT_WORKLOADS_EXAMPLES: &str = "\
Examples:
  # Refit the embedded built-in workloads from the shared traces:
  vidur-search fit-workloads --traces ../shared/data/traces --out data/workloads.yaml";

/// `fit-workloads` arguments.
#[derive(Debug, Args)]
pub struct FitWorkloadsArgs {
    /// Folder holding splitwise_conv.csv, splitwise_code.csv and
    /// arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv.
    #[arg(long)]
    pub traces: PathBuf,
    /// Output YAML (the embedded file is data/workloads.yaml).
    #[arg(long)]
    pub out: PathBuf,
    /// Fit date to record (YYYY-MM-DD). Default: the date already in --out when the figures are
    /// unchanged (so a refit rewrites the same bytes), else today (UTC).
    #[arg(long)]
    pub date: Option<String>,
}
/// `--date` of `fit-workloads`: a real calendar date written YYYY-MM-DD.
fn check_date(d: &str) -> Result<()> {
    let b = d.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    let num = |r: std::ops::Range<usize>| d[r].parse::<u32>().unwrap_or(0);
    let valid = shape && {
        let (y, m, day) = (num(0..4), num(5..7), num(8..10));
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let days = match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => 0,
        };
        (1..=days).contains(&day)
    };
    if !valid {
        bail!("--date must be a calendar date written YYYY-MM-DD (e.g. 2025-01-31), got {d:?}");
    }
    Ok(())
}

/// Run `fit-workloads`.
pub fn fit_workloads(args: &FitWorkloadsArgs) -> Result<i32> {
    if let Some(d) = &args.date {
        check_date(d)?;
    }
    check_dir("--traces", &args.traces)?;
    let start = Instant::now();
    let generated_by = format!(
        "vidur-search {} fit-workloads --traces {} --out {}",
        env!("CARGO_PKG_VERSION"),
        args.traces.display(),
        args.out.display()
    );
    let mut cat = workload::BuiltinCatalog::fit(&args.traces, &generated_by, "")?;
    // Keep the recorded date when only the date would change: same figures, same bytes.
    let previous = std::fs::read_to_string(&args.out)
        .ok()
        .and_then(|t| workload::BuiltinCatalog::parse(&t, "").ok());
    cat.fitted_on = match (&args.date, &previous) {
        (Some(d), _) => d.clone(),
        (None, Some(p)) if p.figures_yaml() == cat.figures_yaml() => p.fitted_on.clone(),
        _ => today_utc(),
    };
    let text = cat.to_yaml();
    let unchanged = std::fs::read_to_string(&args.out).is_ok_and(|t| t == text);
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.out, &text).with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "{:<14} {:<8} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8}",
        "workload", "tokens", "rows", "KS", "mean%", "p50%", "p90%", "p99%"
    );
    for w in cat.workloads() {
        let q = w.quality();
        for (what, m) in [
            ("prefill", &q.prefill),
            ("decode", &q.decode),
            ("total", &q.total),
        ] {
            println!(
                "{:<14} {:<8} {:>7} {:>7.4} {:>+8.2} {:>+8.2} {:>+8.2} {:>+8.2}",
                w.name(),
                what,
                w.rows(),
                m.ks,
                m.mean_err_pct,
                m.p50_err_pct,
                m.p90_err_pct,
                m.p99_err_pct
            );
        }
        println!(
            "{:<14} spearman trace {:+.4}, sampled {:+.4} ({} draws vs {})",
            w.name(),
            q.spearman_trace,
            q.spearman_sampled,
            q.samples,
            w.source()
        );
    }
    println!(
        "{} {} in {:.1} s",
        if unchanged { "unchanged:" } else { "wrote" },
        args.out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(0)
}

/// Today's UTC date as YYYY-MM-DD.
fn today_utc() -> String {
    crate::search::runner::now_rfc3339()[..10].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_real_calendar_dates() {
        for ok in ["2025-01-31", "2024-02-29", "2000-02-29", "1999-12-01"] {
            assert!(check_date(ok).is_ok(), "{ok}");
        }
        for bad in [
            "2025-13-45",
            "2025-02-29",
            "1900-02-29",
            "2025-04-31",
            "2025-00-10",
            "2025-01-00",
            "2025-1-31",
            "20250131",
            "2025-01-3x",
        ] {
            let e = check_date(bad).unwrap_err().to_string();
            assert!(e.contains("--date") && e.contains(bad), "{bad}: {e}");
        }
    }
}
