use std::collections::BTreeMap;
use std::path::Path;
use vidur_search::predictor::analytic::curves::Roofline;
use vidur_search::predictor::analytic::fit::*;
use vidur_search::predictor::measured::KernelSet;
fn main() {
    let gpu = std::env::args().nth(1).unwrap();
    let k = KernelSet::load(Path::new(&format!("../shared/data/kernels/{gpu}"))).unwrap();
    let r = Roofline {
        flops: k.system.bf16_flops,
        mem_bw: k.system.mem_bw,
    };
    for (name, rows, pre) in [("prefill", &k.prefill, true), ("decode", &k.decode, false)] {
        let rows: Vec<_> = rows.iter().filter(|a| a.ms > 0.0).copied().collect();
        let (pred, fitq): (
            Box<dyn Fn(&vidur_search::predictor::measured::AttnRow) -> f64>,
            _,
        ) = if pre {
            let f = fit_prefill(&rows, &r);
            println!("{:?}", f);
            let fit = f.fit;
            (Box::new(move |a| prefill_row_ms(&fit, &r, a)), f.quality)
        } else {
            let f = fit_decode(&rows, &r);
            println!("{:?}", f);
            let fit = f.fit;
            (Box::new(move |a| decode_row_ms(&fit, &r, a)), f.quality)
        };
        let _ = fitq;
        for key in ["hd", "b", "len", "hq", "hkv", "grp"] {
            let mut g: BTreeMap<u32, (f64, f64, usize)> = BTreeMap::new();
            for a in &rows {
                let kv = match key {
                    "hd" => a.head_dim,
                    "b" => a.batch,
                    "len" => a.len,
                    "hq" => a.q_heads,
                    "hkv" => a.kv_heads,
                    _ => a.q_heads / a.kv_heads.max(1),
                };
                let e = pred(a) / a.ms - 1.0;
                let x = g.entry(kv).or_default();
                x.0 += e.abs();
                x.1 += e;
                x.2 += 1;
            }
            println!(
                "{name} by {key}: {}",
                g.iter()
                    .map(|(k, v)| format!(
                        "{k}:{:.0}/{:+.0}",
                        v.0 / v.2 as f64 * 100.0,
                        v.1 / v.2 as f64 * 100.0
                    ))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
    }
}
