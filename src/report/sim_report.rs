//! The pictures of one simulation (`simulate --output`): `plots/<stem>.png` and `.svg` for the
//! CDFs of TTFT, TPOT, TBT, E2E and scheduling delay, batch size, tokens per batch and KV-cache
//! use over simulated time, and busy time per replica and stage; plus `report.html`, one
//! self-contained page with the run summary (the numbers `simulate` prints) and the plots
//! inlined.
//!
//! Rendering only: the files come back as `(relative path, bytes)` for the metrics writer to
//! place in its staged output folder, so they appear together with the CSVs or not at all.
//! A chart with no data (no completed request, no token metrics) is left out and the page
//! says why, rather than failing the run.

use std::path::PathBuf;

use super::charts::{self, Chart};
use super::html::{dl, figure, page};
use super::plot::PlotError;
use super::table::{esc, Cell, Table};
use super::ReportError;
use crate::metrics::stats::Summary;
use crate::metrics::{BatchMetric, RequestMetric, SimMetrics};

/// One drawn plot of the report.
struct SimPlot {
    stem: &'static str,
    title: String,
    chart: Chart,
}

/// Number shown in the summary, `-` when missing.
fn num(v: Option<f64>, decimals: usize) -> String {
    v.map(|x| format!("{x:.decimals$}"))
        .unwrap_or_else(|| "-".into())
}

/// The latency table (`simulate`'s printed table, plus the count) and the run facts.
fn summary_section(s: &Summary, facts: &[(&str, String)]) -> String {
    let mut t = Table::default();
    for (h, n) in [
        ("metric (s)", false),
        ("count", true),
        ("mean", true),
        ("p50", true),
        ("p90", true),
        ("p99", true),
        ("max", true),
    ] {
        t.column(h, n);
    }
    for (name, d) in s.distributions() {
        let mut row = vec![
            Cell::text(name),
            Cell::num(d.count.to_string(), Some(d.count as f64)),
        ];
        for v in [d.mean, d.p50, d.p90, d.p99, d.max] {
            row.push(Cell::num(num(v, 4), v));
        }
        t.rows.push(row);
    }
    let mut items: Vec<(&str, String)> = facts.to_vec();
    items.extend([
        (
            "requests",
            format!(
                "{} arrived, {} completed, {} unfinished",
                s.requests.arrived, s.requests.completed, s.requests.unfinished
            ),
        ),
        ("simulated time", format!("{:.3} s", s.end_time)),
        (
            "throughput",
            format!(
                "{} req/s, {} output tok/s",
                num(s.throughput.requests_per_s, 3),
                num(s.throughput.output_tokens_per_s, 1)
            ),
        ),
        (
            "utilization",
            format!(
                "memory {}%, busy {}%, MFU {}%",
                num(s.utilization.memory_percent, 1),
                num(s.utilization.busy_percent, 1),
                num(s.utilization.mfu_percent, 1)
            ),
        ),
        ("requests in flight (mean)", num(s.in_flight_mean, 2)),
    ]);
    if s.requests.warmup > 0 {
        items.push((
            "warm-up",
            format!(
                "{} requests simulated, left out of every statistic",
                s.requests.warmup
            ),
        ));
    }
    format!(
        "<h2 id=\"summary\">Summary</h2>\n{}{}<p>tpot = (completion − first token) / output \
         tokens (Vidur); tpot_bench = (e2e − ttft) / (output tokens − 1) (vllm bench serve).</p>\n",
        dl(&items),
        t.to_html(false)
    )
}

/// Every chart of the run; charts without data are returned as `(stem, reason)` instead.
/// Charts left out: `(stem, why)`.
type Skipped = Vec<(&'static str, String)>;

fn draw_all(m: &SimMetrics) -> Result<(Vec<SimPlot>, Skipped), ReportError> {
    let mut plots = Vec::new();
    let mut skipped = Vec::new();
    let mut keep = |stem: &'static str, title: String, r: Result<Chart, PlotError>| match r {
        Ok(chart) => {
            plots.push(SimPlot { stem, title, chart });
            Ok(())
        }
        Err(PlotError::NoData(why)) => {
            skipped.push((stem, why));
            Ok(())
        }
        Err(source) => Err(ReportError::Plot {
            path: PathBuf::from(format!("plots/{stem}.png")),
            source,
        }),
    };
    let request = |metric: RequestMetric| -> Vec<f64> {
        m.request_metric_values(metric).map(|(_, v)| v).collect()
    };
    for (stem, what, values) in [
        (
            "ttft_cdf",
            "TTFT (s)",
            request(RequestMetric::PrefillE2eTime),
        ),
        (
            "tpot_cdf",
            "TPOT (s per output token)",
            request(RequestMetric::DecodeTimeExecutionPlusPreemptionNormalized),
        ),
        (
            "tbt_cdf",
            "TBT, inter-token gap (s)",
            m.tbt().exact().to_vec(),
        ),
        (
            "e2e_cdf",
            "E2E latency (s)",
            request(RequestMetric::E2eTime),
        ),
        (
            "scheduling_delay_cdf",
            "scheduling delay (s)",
            request(RequestMetric::SchedulingDelay),
        ),
    ] {
        let title = format!("CDF of {what}");
        let series = [("completed requests", values)];
        let series = if stem == "tbt_cdf" {
            [("decode tokens", series[0].1.clone())]
        } else {
            series
        };
        let r = charts::cdf(&title, what, &series, false);
        keep(stem, title, r)?;
    }
    let times = m.batch_end_times();
    for (stem, what, metric) in [
        (
            "batch_size_over_time",
            "requests per batch",
            BatchMetric::Size,
        ),
        (
            "batch_tokens_over_time",
            "tokens per batch",
            BatchMetric::NumTokens,
        ),
    ] {
        let pts: Vec<(f64, f64)> = times
            .iter()
            .copied()
            .zip(m.batch_metric(metric).exact().iter().copied())
            .collect();
        let title = format!("{} over time", capitalize(what));
        let r = charts::time_series(&title, what, &[("all replicas, at batch end", pts)], false);
        keep(stem, title, r)?;
    }
    let setup = m.setup();
    let kv: Vec<(String, Vec<(f64, f64)>)> = (0..setup.num_replicas)
        .map(|r| (format!("replica {r}"), m.memory_series(r).to_vec()))
        .collect();
    let title = "KV-cache use over time".to_string();
    let r = charts::time_series(&title, "KV-cache blocks in use (%)", &kv, true);
    keep("kv_cache_over_time", title, r)?;
    let mut busy = Vec::new();
    for r in 0..setup.num_replicas {
        for s in 0..setup.num_stages {
            if let Some(v) = m.busy_stats(r, s).weighted_mean {
                busy.push((format!("r{r} s{s}"), v));
            }
        }
    }
    let title = "Busy time per replica (r) and stage (s)".to_string();
    let r = if busy.is_empty() {
        Err(PlotError::NoData(format!("{title}: no stage ran a batch")))
    } else {
        charts::bars(&title, "busy time (% of the run)", &busy)
    };
    keep("busy_time", title, r)?;
    Ok((plots, skipped))
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The report files of one simulation, as `(path relative to the output folder, bytes)`:
/// `plots/<stem>.png` and `.svg` per chart, then `report.html` headed `title` with `facts`
/// (model, config source...) above the summary. Errors name the plot that failed to draw.
pub fn simulation_report_files(
    metrics: &SimMetrics,
    title: &str,
    facts: &[(&str, String)],
) -> Result<Vec<(String, Vec<u8>)>, ReportError> {
    let (plots, skipped) = draw_all(metrics)?;
    let mut body = summary_section(&metrics.summary(), facts);
    body.push_str("<h2 id=\"plots\">Plots</h2>\n");
    if !skipped.is_empty() {
        body.push_str("<p>Not drawn:</p>\n<ul>\n");
        for (stem, why) in &skipped {
            body.push_str(&format!("<li>{}: {}</li>\n", esc(stem), esc(why)));
        }
        body.push_str("</ul>\n");
    }
    let mut files = Vec::with_capacity(2 * plots.len() + 1);
    for p in &plots {
        body.push_str(&figure(
            &p.chart.png,
            &p.title,
            &format!("plots/{}", p.stem),
        ));
    }
    let html = page(title, &[("summary", "Summary"), ("plots", "Plots")], &body);
    for p in plots {
        files.push((format!("plots/{}.png", p.stem), p.chart.png));
        files.push((format!("plots/{}.svg", p.stem), p.chart.svg.into_bytes()));
    }
    files.push(("report.html".to_string(), html.into_bytes()));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{predictor, sim_yaml};

    /// The first 150 requests of the Llama-2-7B Sarathi example.
    fn example_run() -> SimMetrics {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("data/examples/llama2-7b-sarathi.yaml");
        let run = sim_yaml::load(&path).unwrap();
        let reqs: Vec<_> = crate::workload::source(&run.workload, run.sim.compat, &run.base_dir)
            .unwrap()
            .take(150)
            .collect();
        let p = predictor::for_run(&run).unwrap();
        crate::metrics::simulate_recorded(&run.sim, &reqs, p.as_ref())
            .unwrap()
            .1
    }

    #[test]
    fn capitalizes_first_letter() {
        assert_eq!(capitalize("tokens per batch"), "Tokens per batch");
        assert_eq!(capitalize(""), "");
    }

    #[test]
    fn report_has_every_plot_and_the_summary() {
        let m = example_run();
        let files = simulation_report_files(&m, "sim <run>", &[("config", "a&b".into())]).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        for stem in [
            "ttft_cdf",
            "tpot_cdf",
            "e2e_cdf",
            "scheduling_delay_cdf",
            "batch_size_over_time",
            "batch_tokens_over_time",
            "kv_cache_over_time",
            "busy_time",
        ] {
            assert!(
                names.contains(&format!("plots/{stem}.png").as_str()),
                "{stem}"
            );
            assert!(
                names.contains(&format!("plots/{stem}.svg").as_str()),
                "{stem}"
            );
        }
        let (_, html) = files.last().unwrap();
        let html = std::str::from_utf8(html).unwrap();
        assert!(html.contains("<h1>sim &lt;run&gt;</h1>") && html.contains("a&amp;b"));
        assert!(html.contains("data:image/png;base64,iVBORw0KGgo"));
        assert!(!html.contains("http://") && !html.contains("https://"));
        let completed = m.summary().requests.completed;
        assert!(completed > 0);
        assert!(html.contains(&format!("{completed} completed")));
        // TBT is drawn exactly when token metrics were recorded.
        assert_eq!(
            names.contains(&"plots/tbt_cdf.png"),
            !m.tbt().exact().is_empty()
        );
    }
}
