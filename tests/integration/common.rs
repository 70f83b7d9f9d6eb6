//! Shared helpers: paths to `../shared` (missing data fails loudly) and a test predictor.

use std::io::Read;
use std::path::{Path, PathBuf};

use vidur_search::predictor::{BatchEntry, ExecutionTimePredictor, PredictorError, StageTime};

/// `../shared`, or a panic explaining that the tests need it.
pub fn shared() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    assert!(
        p.join("conformance/cases").is_dir(),
        "these tests need the read-only shared data beside the repository at {} (conformance/, data/); it is missing",
        p.display()
    );
    p
}

/// A predictor with known, smooth costs: a fixed per-stage launch cost, a per-token cost and a
/// KV-read cost. Lets tests reason about times without tables.
pub struct LinearPredictor {
    pub base_s: f64,
    pub per_token_s: f64,
    pub per_kv_token_s: f64,
}

impl ExecutionTimePredictor for LinearPredictor {
    fn predict(&self, batch: &[BatchEntry], _stage: u32) -> Result<StageTime, PredictorError> {
        let tokens: u64 = batch.iter().map(|e| e.num_tokens as u64).sum();
        let kv: u64 = batch.iter().map(|e| e.num_processed_tokens as u64).sum();
        let t = self.base_s + self.per_token_s * tokens as f64 + self.per_kv_token_s * kv as f64;
        Ok(StageTime {
            total_s: t,
            model_s: t,
        })
    }
    fn describe(&self) -> String {
        "linear-test".into()
    }
}

/// An empty folder `<test tmp>/<group>/<name>`, emptied first if an earlier run left it.
pub fn fresh_dir(group: &str, name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(group)
        .join(name);
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// The vidur-search binary built for these tests.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_vidur-search"))
}

/// Run the binary with `args`: its exit code and its stdout then stderr as one text.
pub fn run_bin(args: &[&str]) -> (Option<i32>, String) {
    let out = bin().args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// A CSV file (gzipped when it ends in `.gz`): header and rows as strings.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(
            std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        )
        .read_to_string(&mut s)
        .unwrap();
        s
    } else {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header = rdr.headers().unwrap().iter().map(str::to_string).collect();
    let rows = rdr
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// The table set a case used. Each case's TABLES names one; the folder name also encodes the
/// parallelism it was computed for (`_tp2_pp2`). If that contradicts the TP/PP in the case's
/// config.json, Vidur cannot have used it (its predictor trains per TP): fall back to the set
/// for the config's TP and say so.
pub fn tables_for(case: &Path, tables_root: &Path) -> PathBuf {
    let named = std::fs::read_to_string(case.join("TABLES"))
        .expect("TABLES file")
        .trim()
        .to_string();
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("config.json")).unwrap()).unwrap();
    let rc = &cfg["cluster_config"]["replica_config"];
    let (tp, pp) = (
        rc["tensor_parallel_size"].as_u64().unwrap(),
        rc["num_pipeline_stages"].as_u64().unwrap(),
    );
    let parts: Vec<&str> = named.split('_').collect();
    let num = |prefix: &str| {
        parts
            .iter()
            .find_map(|p| p.strip_prefix(prefix).and_then(|n| n.parse::<u64>().ok()))
    };
    let (ttp, tpp) = (num("tp").unwrap_or(1), num("pp").unwrap_or(1));
    if (ttp, tpp) == (tp, pp) {
        return tables_root.join(named);
    }
    let base: Vec<&str> = parts
        .iter()
        .copied()
        .filter(|p| !p.starts_with("tp") && !p.starts_with("pp"))
        .collect();
    let fallback = format!("{}_tp{tp}", base.join("_"));
    eprintln!(
        "note: {}: TABLES names '{named}' (TP{ttp} PP{tpp}) but config.json says TP{tp} PP{pp}, which is what Vidur ran; using '{fallback}'",
        case.display()
    );
    let p = tables_root.join(&fallback);
    assert!(p.is_dir(), "no table set {fallback} for {}", case.display());
    p
}
