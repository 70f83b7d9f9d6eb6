//! The point cache that makes a killed run resumable.
//!
//! Each finished point is written to `<output>/cache/<id>.json`, where `id` ([`point_id`])
//! hashes everything that determines its simulations (engine version, point knobs, resolved
//! engine config, workload, SLOs, capacity settings, seeds, predictor and calibration version,
//! family warm start). Files are written with [`write_atomic`], so a kill -9 at any moment
//! leaves either the whole file or none. Prices are not part of the key: a cached point is
//! re-priced from the current prices. Points whose evaluation failed are never stored, so a
//! re-run retries them.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::expand::Point;
use super::result::{PointConfig, PointResult, Slo};
use super::space::{CapacitySettings, SearchSpace, WorkloadSpec};
use super::{SearchError, ENGINE_VERSION};
use crate::config::sim_yaml::PredictorConfig;
use crate::outdir::write_atomic;
use crate::sim::SimConfig;

/// What a point's cache id hashes. Field names and order are the cache format: changing them
/// invalidates every existing cache.
#[derive(Serialize)]
struct CacheKey<'a> {
    engine: &'a str,
    point: &'a PointConfig,
    sim: &'a SimConfig,
    workload: &'a WorkloadSpec,
    max_requests: Option<u64>,
    slos: &'a [Slo],
    goodput: Option<f64>,
    capacity: &'a CapacitySettings,
    seeds: &'a [u64],
    predictor: &'a PredictorConfig,
    calibration_version: &'a str,
    /// The family warm start changes the probe sequence, so it is part of the key.
    warm_start: Option<f64>,
}

/// FNV-1a, 64 bits, as 16 hex digits: stable across platforms and releases (std's hasher is not).
fn fnv64(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A stable hash of `value`'s JSON (e.g. a calibration's contents, whose version string a
/// refit keeps).
pub fn content_hash<T: Serialize>(value: &T) -> String {
    fnv64(&serde_json::to_vec(value).expect("plain data serializes"))
}

/// The cache id of point `p` of `space`, searched with `warm` as its family warm start, under
/// a calibration identified by `calibration_version`.
pub fn point_id(
    space: &SearchSpace,
    p: &Point,
    calibration_version: &str,
    warm: Option<f64>,
) -> String {
    content_hash(&CacheKey {
        engine: ENGINE_VERSION,
        point: &p.config,
        sim: &p.sim,
        workload: &space.workloads[p.workload],
        max_requests: space.limits.max_requests,
        slos: &space.slos,
        goodput: space.goodput,
        capacity: &space.capacity,
        seeds: &space.seeds,
        predictor: &space.predictor,
        calibration_version,
        warm_start: warm,
    })
}

/// The cache folder of one output folder (`<output>/cache`).
#[derive(Debug, Clone)]
pub struct PointCache {
    dir: PathBuf,
}

impl PointCache {
    /// Creates `<output>/cache` if missing and removes the temporary files a killed run left
    /// mid-write (they were never renamed into place).
    pub fn open(output: &Path) -> Result<PointCache, SearchError> {
        let dir = output.join("cache");
        std::fs::create_dir_all(&dir).map_err(|source| SearchError::Io {
            path: dir.clone(),
            source,
        })?;
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().contains(".tmp") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(PointCache { dir })
    }

    fn file(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// The cached result with this id, if a whole, matching entry exists. An unreadable or
    /// foreign entry is a miss: the point is recomputed and the entry overwritten.
    pub fn get(&self, id: &str) -> Option<PointResult> {
        std::fs::read(self.file(id))
            .ok()
            .and_then(|b| serde_json::from_slice::<PointResult>(&b).ok())
            .filter(|r| r.id == id)
    }

    /// Stores a point's result under its id.
    pub fn put(&self, r: &PointResult) -> Result<(), SearchError> {
        let file = self.file(&r.id);
        let bytes = serde_json::to_vec_pretty(r).expect("plain data serializes");
        write_atomic(&file, &bytes).map_err(|source| SearchError::Io { path: file, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv64_is_the_reference_fnv1a() {
        // Published FNV-1a 64 test vectors: cache ids must never change with a refactor.
        assert_eq!(fnv64(b""), "cbf29ce484222325");
        assert_eq!(fnv64(b"a"), "af63dc4c8601ec8c");
        assert_eq!(fnv64(b"foobar"), "85944171f73967e8");
    }
}
