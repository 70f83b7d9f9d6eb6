//! The hardware catalog: GPUs, node shapes and dated $/GPU-hour prices.
//!
//! The built-in catalog is `data/hardware.yaml`, compiled into the binary
//! ([`HardwareCatalog::embedded`]). Users add SKUs or override fields with a YAML file of the same
//! schema ([`HardwareCatalog::with_overrides`], [`HardwareCatalog::merge`]). Merge rule for an
//! entry whose key names an existing GPU (by name or alias, case-insensitive) or node:
//!
//! * every field given replaces the catalog's value; `null` clears an optional field
//!   (`sm_version`, `sm_count`, `fp8_dense_tflops`);
//! * `aliases` are added to the existing ones;
//! * a given `prices` list replaces the whole list (so `price()` returns yours).
//!
//! An entry with a new key is a new SKU and must give every required field. After a merge the
//! whole catalog is checked again: aliases unique, every `default_node` known, numbers positive,
//! dates `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
//!
//! Lookups ignore ASCII case. [`GpuSpec::device_spec`] and [`NodeShape::node_spec`] give the
//! engine's [`DeviceSpec`] and [`NodeSpec`]; Vidur's own device and node tables
//! ([`DeviceSpec::builtin`], [`NodeSpec::builtin`]) stay separate for the Vidur-compatible paths.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize};

use super::{CatalogError, DeviceSpec, NodeSpec};

/// The embedded catalog's text.
pub const EMBEDDED_YAML: &str = include_str!("../../data/hardware.yaml");
const EMBEDDED_NAME: &str = "<embedded>/data/hardware.yaml";

/// GPU vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vendor {
    /// NVIDIA.
    Nvidia,
    /// AMD.
    Amd,
}

/// GPU micro-architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// NVIDIA Ampere (A100, A40).
    Ampere,
    /// NVIDIA Ada Lovelace (L40, L40S).
    Ada,
    /// NVIDIA Hopper (H100, H200).
    Hopper,
    /// NVIDIA Blackwell (B200).
    Blackwell,
    /// AMD CDNA 3 (MI300X).
    Cdna3,
}

impl Architecture {
    /// Lower-case name, as in the YAML.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Ampere => "ampere",
            Architecture::Ada => "ada",
            Architecture::Hopper => "hopper",
            Architecture::Blackwell => "blackwell",
            Architecture::Cdna3 => "cdna3",
        }
    }
}

/// How the GPUs of a node talk to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// NVLink through NVSwitch: every pair at full NVLink bandwidth.
    Nvlink,
    /// NVLink bridges between GPU pairs; other pairs over PCIe.
    NvlinkPairwise,
    /// PCIe only.
    Pcie,
    /// AMD Infinity Fabric full mesh.
    InfinityFabric,
}

/// What kind of offer a price is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceKind {
    /// On-demand list price.
    OnDemand,
    /// Spot / preemptible.
    Spot,
    /// Reserved / committed use.
    Reserved,
    /// Pre-booked capacity block.
    CapacityBlock,
}

/// One dated $/GPU-hour figure and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// US dollars per GPU per hour.
    pub usd_per_gpu_hour: f64,
    /// Who charges it (or whose survey it is).
    pub provider: String,
    /// When it was seen: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub date: String,
    /// On-demand, spot, ... (unknown when absent).
    #[serde(default)]
    pub kind: Option<PriceKind>,
    /// URL or citation.
    pub source: String,
    /// Free-form remark (e.g. "low end of a range").
    #[serde(default)]
    pub note: Option<String>,
}

/// A GPU SKU.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuSpec {
    /// Canonical name, e.g. `h100-sxm`.
    pub name: String,
    /// Other names it answers to, e.g. `h100`.
    pub aliases: Vec<String>,
    /// Vendor.
    pub vendor: Vendor,
    /// Micro-architecture.
    pub architecture: Architecture,
    /// CUDA compute capability × 10 (80, 86, 89, 90, 100); `None` for AMD.
    pub sm_version: Option<u32>,
    /// Streaming multiprocessors (GEMM wave quantization in the analytic predictor); optional,
    /// `None` where unknown.
    pub sm_count: Option<u32>,
    /// Dense BF16/FP16 tensor TFLOPS.
    pub bf16_dense_tflops: f64,
    /// Dense FP8 tensor TFLOPS; `None` where the GPU has no FP8 tensor cores.
    pub fp8_dense_tflops: Option<f64>,
    /// Device memory in GiB (2^30 bytes) that the memory planner may use.
    pub memory_gib: f64,
    /// Memory bandwidth, GB/s (1e9 bytes/s).
    pub memory_bandwidth_gb_per_s: f64,
    /// Scale-up link (NVLink, Infinity Fabric, else PCIe) bandwidth per GPU per direction, GB/s.
    pub intra_node_bandwidth_gb_per_s: f64,
    /// Point-to-point latency inside a node, microseconds.
    pub intra_node_latency_us: f64,
    /// Network bandwidth between nodes per GPU per direction, GB/s.
    pub inter_node_bandwidth_gb_per_s: f64,
    /// Host PCIe bandwidth per direction, GB/s.
    pub pcie_bandwidth_gb_per_s: f64,
    /// Node shape used when none is named.
    pub default_node: String,
    /// Dated prices, in file order.
    pub prices: Vec<Price>,
}

impl GpuSpec {
    /// The engine's device view: BF16 TFLOPS and memory (GiB).
    pub fn device_spec(&self) -> DeviceSpec {
        DeviceSpec {
            name: self.name.clone(),
            fp16_tflops: self.bf16_dense_tflops,
            total_memory_gb: self.memory_gib,
        }
    }

    /// The newest price: latest `date` (a less precise date sorts before precise ones in the
    /// same period, e.g. `2024` < `2024-02-07`); among equal dates the first listed.
    pub fn latest_price(&self) -> Option<&Price> {
        let mut best: Option<&Price> = None;
        for p in &self.prices {
            if best.is_none_or(|b| date_key(&p.date) > date_key(&b.date)) {
                best = Some(p);
            }
        }
        best
    }

    /// Whether `name` is this GPU's name or one of its aliases (ASCII case ignored).
    pub fn answers_to(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// A node shape: how many GPUs share a node and how they are linked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeShape {
    /// Name (Vidur's network-device names where it has them, e.g. `a100_pairwise_nvlink`).
    pub name: String,
    /// GPUs per node.
    pub num_gpus_per_node: u32,
    /// Link kind.
    pub link: LinkKind,
    /// Whether every GPU pair has the fast link (false for pairwise NVLink).
    pub all_pairs_connected: bool,
}

impl NodeShape {
    /// The engine's node view.
    pub fn node_spec(&self) -> NodeSpec {
        NodeSpec {
            name: self.name.clone(),
            num_devices_per_node: self.num_gpus_per_node,
        }
    }
}

/// The catalog: GPUs and node shapes, sorted by name.
#[derive(Debug, Clone, PartialEq)]
pub struct HardwareCatalog {
    raw: RawFile,
    gpus: Vec<GpuSpec>,
    nodes: Vec<NodeShape>,
}

impl HardwareCatalog {
    /// The built-in catalog (`data/hardware.yaml`, compiled in).
    pub fn embedded() -> HardwareCatalog {
        static CATALOG: OnceLock<HardwareCatalog> = OnceLock::new();
        CATALOG
            .get_or_init(|| {
                HardwareCatalog::from_yaml(EMBEDDED_YAML, EMBEDDED_NAME)
                    .expect("the embedded hardware catalog is valid (checked by unit tests)")
            })
            .clone()
    }

    /// A complete catalog from YAML text (no built-in entries); `source_name` names it in errors.
    pub fn from_yaml(text: &str, source_name: &str) -> Result<HardwareCatalog, CatalogError> {
        let mut cat = HardwareCatalog {
            raw: RawFile::default(),
            gpus: Vec::new(),
            nodes: Vec::new(),
        };
        cat.merge(text, source_name)?;
        Ok(cat)
    }

    /// The built-in catalog with the user file at `path` merged in (see the module docs).
    pub fn with_overrides(path: &Path) -> Result<HardwareCatalog, CatalogError> {
        let mut cat = HardwareCatalog::embedded();
        cat.merge_file(path)?;
        Ok(cat)
    }

    /// Merge the YAML file at `path` into this catalog.
    pub fn merge_file(&mut self, path: &Path) -> Result<(), CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|error| CatalogError::HardwareIo {
            path: path.display().to_string(),
            error,
        })?;
        self.merge(&text, &path.display().to_string())
    }

    /// Merge YAML text (same schema as `data/hardware.yaml`) into this catalog; `source_name`
    /// names it in errors. On error the catalog is unchanged.
    pub fn merge(&mut self, text: &str, source_name: &str) -> Result<(), CatalogError> {
        let patch: RawFile = serde_saphyr::from_str(text).map_err(|e| CatalogError::Hardware {
            source_name: source_name.to_string(),
            message: crate::parse_messages::yaml_message(&e, source_name),
        })?;
        let mut raw = self.raw.clone();
        for (key, g) in patch.gpus {
            let existing = raw.gpus.iter_mut().find(|(k, r)| {
                k.eq_ignore_ascii_case(&key)
                    || r.aliases
                        .iter()
                        .flatten()
                        .any(|a| a.eq_ignore_ascii_case(&key))
            });
            match existing {
                Some((_, r)) => r.apply(g),
                None => {
                    raw.gpus.insert(key, g);
                }
            }
        }
        for (key, n) in patch.nodes {
            match raw
                .nodes
                .iter_mut()
                .find(|(k, _)| k.eq_ignore_ascii_case(&key))
            {
                Some((_, r)) => r.apply(n),
                None => {
                    raw.nodes.insert(key, n);
                }
            }
        }
        let (gpus, nodes) = raw.build(source_name)?;
        *self = HardwareCatalog { raw, gpus, nodes };
        Ok(())
    }

    /// Every GPU, sorted by name.
    pub fn gpus(&self) -> &[GpuSpec] {
        &self.gpus
    }

    /// Every node shape, sorted by name.
    pub fn nodes(&self) -> &[NodeShape] {
        &self.nodes
    }

    /// A GPU by name or alias (ASCII case ignored); the error lists the known names.
    pub fn gpu(&self, name: &str) -> Result<&GpuSpec, CatalogError> {
        self.gpus
            .iter()
            .find(|g| g.answers_to(name.trim()))
            .ok_or_else(|| CatalogError::UnknownDevice {
                name: name.to_string(),
                known: self
                    .gpus
                    .iter()
                    .map(|g| {
                        if g.aliases.is_empty() {
                            g.name.clone()
                        } else {
                            format!("{} ({})", g.name, g.aliases.join(", "))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// A node shape by name (ASCII case ignored); the error lists the known names.
    pub fn node(&self, name: &str) -> Result<&NodeShape, CatalogError> {
        self.nodes
            .iter()
            .find(|n| n.name.eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| CatalogError::UnknownNode {
                name: name.to_string(),
                known: self
                    .nodes
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The default node shape of a GPU (by name or alias).
    pub fn default_node_for(&self, gpu: &str) -> Result<&NodeShape, CatalogError> {
        let g = self.gpu(gpu)?;
        self.node(&g.default_node)
    }

    /// The newest price of a GPU (see [`GpuSpec::latest_price`]); `Ok(None)` if it has none.
    pub fn price(&self, gpu: &str) -> Result<Option<&Price>, CatalogError> {
        Ok(self.gpu(gpu)?.latest_price())
    }
}

/// `YYYY[-MM[-DD]]` as a sortable key (missing parts are 0).
fn date_key(date: &str) -> (u32, u32, u32) {
    let mut it = date.split('-').map(|p| p.parse::<u32>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

fn valid_date(date: &str) -> bool {
    let parts: Vec<&str> = date.split('-').collect();
    let widths = [4, 2, 2];
    if parts.is_empty() || parts.len() > 3 {
        return false;
    }
    let digits = parts
        .iter()
        .zip(widths)
        .all(|(p, w)| p.len() == w && p.bytes().all(|b| b.is_ascii_digit()));
    let (_, m, d) = date_key(date);
    digits
        && (parts.len() < 2 || (1..=12).contains(&m))
        && (parts.len() < 3 || (1..=31).contains(&d))
}

/// `Option<Option<T>>` that tells a missing key (`None`) from an explicit `null` (`Some(None)`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The file schema; every field optional so one type serves full catalogs and overrides.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    gpus: BTreeMap<String, RawGpu>,
    #[serde(default)]
    nodes: BTreeMap<String, RawNode>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGpu {
    aliases: Option<Vec<String>>,
    vendor: Option<Vendor>,
    architecture: Option<Architecture>,
    #[serde(default, deserialize_with = "nullable")]
    sm_version: Option<Option<u32>>,
    #[serde(default, deserialize_with = "nullable")]
    sm_count: Option<Option<u32>>,
    bf16_dense_tflops: Option<f64>,
    #[serde(default, deserialize_with = "nullable")]
    fp8_dense_tflops: Option<Option<f64>>,
    memory_gib: Option<f64>,
    memory_bandwidth_gb_per_s: Option<f64>,
    intra_node_bandwidth_gb_per_s: Option<f64>,
    intra_node_latency_us: Option<f64>,
    inter_node_bandwidth_gb_per_s: Option<f64>,
    pcie_bandwidth_gb_per_s: Option<f64>,
    default_node: Option<String>,
    prices: Option<Vec<Price>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    num_gpus_per_node: Option<u32>,
    link: Option<LinkKind>,
    all_pairs_connected: Option<bool>,
}

/// `dst = src` for every field `src` gives.
macro_rules! replace_given {
    ($dst:ident, $src:ident; $($f:ident),*) => {
        $( if $src.$f.is_some() { $dst.$f = $src.$f; } )*
    };
}

impl RawGpu {
    fn apply(&mut self, p: RawGpu) {
        if let Some(extra) = p.aliases {
            let aliases = self.aliases.get_or_insert_with(Vec::new);
            for a in extra {
                if !aliases.iter().any(|x| x.eq_ignore_ascii_case(&a)) {
                    aliases.push(a);
                }
            }
        }
        replace_given!(self, p; vendor, architecture, sm_version, sm_count, bf16_dense_tflops,
            fp8_dense_tflops, memory_gib, memory_bandwidth_gb_per_s,
            intra_node_bandwidth_gb_per_s, intra_node_latency_us, inter_node_bandwidth_gb_per_s,
            pcie_bandwidth_gb_per_s, default_node, prices);
    }
}

impl RawNode {
    fn apply(&mut self, p: RawNode) {
        replace_given!(self, p; num_gpus_per_node, link, all_pairs_connected);
    }
}

impl RawFile {
    /// Check the merged entries and build the typed catalog; errors name `source_name` (the
    /// file merged last) and the entry.
    fn build(&self, source_name: &str) -> Result<(Vec<GpuSpec>, Vec<NodeShape>), CatalogError> {
        let bad = |entry: String, reason: String| CatalogError::HardwareEntry {
            source_name: source_name.to_string(),
            entry,
            reason,
        };
        let mut nodes = Vec::new();
        for (name, n) in &self.nodes {
            let entry = format!("nodes.{name}");
            let missing = |f: &str| bad(entry.clone(), format!("missing required field '{f}'"));
            let num = n
                .num_gpus_per_node
                .ok_or_else(|| missing("num_gpus_per_node"))?;
            if num == 0 {
                return Err(bad(entry, "num_gpus_per_node must be at least 1".into()));
            }
            nodes.push(NodeShape {
                name: name.clone(),
                num_gpus_per_node: num,
                link: n.link.ok_or_else(|| missing("link"))?,
                all_pairs_connected: n
                    .all_pairs_connected
                    .ok_or_else(|| missing("all_pairs_connected"))?,
            });
        }
        let mut gpus: Vec<GpuSpec> = Vec::new();
        for (name, g) in &self.gpus {
            let entry = format!("gpus.{name}");
            let missing = |f: &str| bad(entry.clone(), format!("missing required field '{f}'"));
            let positive = |f: &str, v: Option<f64>| -> Result<f64, CatalogError> {
                let v = v.ok_or_else(|| missing(f))?;
                if v.is_finite() && v > 0.0 {
                    Ok(v)
                } else {
                    Err(bad(
                        entry.clone(),
                        format!("'{f}' must be a positive number, got {v}"),
                    ))
                }
            };
            let vendor = g.vendor.ok_or_else(|| missing("vendor"))?;
            let sm_version = g.sm_version.ok_or_else(|| missing("sm_version"))?;
            if vendor == Vendor::Nvidia && sm_version.is_none() {
                return Err(bad(entry, "an NVIDIA GPU needs an sm_version".into()));
            }
            let fp8 = match g.fp8_dense_tflops {
                None => return Err(missing("fp8_dense_tflops")),
                Some(None) => None,
                Some(Some(v)) => Some(positive("fp8_dense_tflops", Some(v))?),
            };
            let default_node = g
                .default_node
                .clone()
                .ok_or_else(|| missing("default_node"))?;
            if !nodes
                .iter()
                .any(|n| n.name.eq_ignore_ascii_case(&default_node))
            {
                return Err(bad(
                    entry,
                    format!(
                        "default_node '{default_node}' is not a known node shape ({})",
                        nodes
                            .iter()
                            .map(|n| n.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            let prices = g.prices.clone().unwrap_or_default();
            for (i, p) in prices.iter().enumerate() {
                if !(p.usd_per_gpu_hour.is_finite() && p.usd_per_gpu_hour > 0.0) {
                    return Err(bad(
                        format!("{entry}.prices[{i}]"),
                        format!(
                            "usd_per_gpu_hour must be positive, got {}",
                            p.usd_per_gpu_hour
                        ),
                    ));
                }
                if !valid_date(&p.date) {
                    return Err(bad(
                        format!("{entry}.prices[{i}]"),
                        format!("date '{}' should be YYYY, YYYY-MM or YYYY-MM-DD", p.date),
                    ));
                }
            }
            let spec = GpuSpec {
                name: name.clone(),
                aliases: g.aliases.clone().unwrap_or_default(),
                vendor,
                architecture: g.architecture.ok_or_else(|| missing("architecture"))?,
                sm_version,
                sm_count: g.sm_count.flatten(),
                bf16_dense_tflops: positive("bf16_dense_tflops", g.bf16_dense_tflops)?,
                fp8_dense_tflops: fp8,
                memory_gib: positive("memory_gib", g.memory_gib)?,
                memory_bandwidth_gb_per_s: positive(
                    "memory_bandwidth_gb_per_s",
                    g.memory_bandwidth_gb_per_s,
                )?,
                intra_node_bandwidth_gb_per_s: positive(
                    "intra_node_bandwidth_gb_per_s",
                    g.intra_node_bandwidth_gb_per_s,
                )?,
                intra_node_latency_us: positive("intra_node_latency_us", g.intra_node_latency_us)?,
                inter_node_bandwidth_gb_per_s: positive(
                    "inter_node_bandwidth_gb_per_s",
                    g.inter_node_bandwidth_gb_per_s,
                )?,
                pcie_bandwidth_gb_per_s: positive(
                    "pcie_bandwidth_gb_per_s",
                    g.pcie_bandwidth_gb_per_s,
                )?,
                default_node,
                prices,
            };
            for n in std::iter::once(&spec.name).chain(&spec.aliases) {
                if let Some(other) = gpus.iter().find(|o| o.answers_to(n)) {
                    return Err(bad(
                        entry,
                        format!("name or alias '{n}' is already used by gpus.{}", other.name),
                    ));
                }
            }
            gpus.push(spec);
        }
        Ok((gpus, nodes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat() -> HardwareCatalog {
        HardwareCatalog::embedded()
    }

    #[test]
    fn embedded_catalog_loads_with_every_sku() {
        let c = cat();
        for (name, canonical) in [
            ("a100", "a100-80gb-sxm"),
            ("A100-80GB", "a100-80gb-sxm"),
            ("a40", "a40"),
            ("h100", "h100-sxm"),
            ("H100-SXM", "h100-sxm"),
            ("h200", "h200-sxm"),
            ("b200", "b200"),
            ("l40s", "l40s"),
            ("l40", "l40"),
            ("MI300X", "mi300x"),
        ] {
            assert_eq!(c.gpu(name).unwrap().name, canonical, "{name}");
        }
        for n in [
            "a100_dgx",
            "h100_dgx",
            "h200_hgx",
            "b200_hgx",
            "mi300x_oam",
            "a100_pairwise_nvlink",
            "h100_pairwise_nvlink",
            "a40_pairwise_nvlink",
            "l40s_pcie",
            "l40_pcie",
        ] {
            c.node(n).unwrap();
        }
        // Every GPU's default node resolves (checked when building, too).
        for g in c.gpus() {
            c.default_node_for(&g.name).unwrap();
        }
    }

    #[test]
    fn embedded_values() {
        let c = cat();
        let h200 = c.gpu("h200").unwrap();
        assert_eq!(
            (
                h200.bf16_dense_tflops,
                h200.fp8_dense_tflops,
                h200.memory_gib
            ),
            (989.0, Some(1978.0), 141.0)
        );
        assert_eq!(h200.memory_bandwidth_gb_per_s, 4800.0);
        assert_eq!(h200.intra_node_bandwidth_gb_per_s, 450.0);
        assert_eq!(
            (h200.vendor, h200.architecture, h200.sm_version),
            (Vendor::Nvidia, Architecture::Hopper, Some(90))
        );
        let a100 = c.gpu("a100").unwrap();
        assert_eq!(a100.fp8_dense_tflops, None);
        assert_eq!(c.gpu("a40").unwrap().fp8_dense_tflops, None);
        let mi = c.gpu("mi300x").unwrap();
        assert_eq!(
            (mi.vendor, mi.sm_version, mi.architecture),
            (Vendor::Amd, None, Architecture::Cdna3)
        );
        assert_eq!(c.gpu("b200").unwrap().sm_version, Some(100));
        assert_eq!(c.gpu("l40s").unwrap().architecture, Architecture::Ada);
        // The engine's device view of the A100 equals Vidur's a100 (same numbers).
        let d = a100.device_spec();
        let v = DeviceSpec::builtin("a100").unwrap();
        assert_eq!(
            (d.fp16_tflops, d.total_memory_gb),
            (v.fp16_tflops, v.total_memory_gb)
        );
        assert_eq!(d.name, "a100-80gb-sxm");
        // Node shapes.
        let dgx = c.default_node_for("h100").unwrap();
        assert_eq!(
            (
                dgx.name.as_str(),
                dgx.num_gpus_per_node,
                dgx.link,
                dgx.all_pairs_connected
            ),
            ("h100_dgx", 8, LinkKind::Nvlink, true)
        );
        let pw = c.node("A100_PAIRWISE_NVLINK").unwrap();
        assert_eq!(
            (pw.num_gpus_per_node, pw.link, pw.all_pairs_connected),
            (4, LinkKind::NvlinkPairwise, false)
        );
        assert_eq!(
            c.default_node_for("mi300x").unwrap().link,
            LinkKind::InfinityFabric
        );
        // Vidur's node table agrees on the GPU counts of the shapes it has.
        for n in [
            "a40_pairwise_nvlink",
            "a100_pairwise_nvlink",
            "h100_pairwise_nvlink",
            "a100_dgx",
            "h100_dgx",
            "l40_pcie",
        ] {
            assert_eq!(
                c.node(n).unwrap().node_spec(),
                NodeSpec::builtin(n).unwrap(),
                "{n}"
            );
        }
    }

    #[test]
    fn prices() {
        let c = cat();
        // Vidur's 2024 CoreWeave triple is in the catalog.
        for (g, usd) in [("a100", 2.21), ("h100", 4.25), ("a40", 1.28)] {
            assert!(
                c.gpu(g)
                    .unwrap()
                    .prices
                    .iter()
                    .any(|p| p.provider == "CoreWeave"
                        && p.date == "2024-02-07"
                        && p.usd_per_gpu_hour == usd),
                "{g}"
            );
        }
        // Latest date wins; ties go to the first listed.
        let h100 = c.price("h100").unwrap().unwrap();
        assert_eq!(
            (h100.provider.as_str(), h100.usd_per_gpu_hour),
            ("Lambda", 2.99)
        );
        assert_eq!(c.price("a40").unwrap().unwrap().usd_per_gpu_hour, 1.28);
        assert_eq!(c.price("a100").unwrap().unwrap().usd_per_gpu_hour, 2.21);
        assert_eq!(c.price("h200").unwrap().unwrap().usd_per_gpu_hour, 2.25);
        assert_eq!(c.price("b200").unwrap().unwrap().usd_per_gpu_hour, 3.75);
        assert_eq!(c.price("mi300x").unwrap().unwrap().usd_per_gpu_hour, 1.99);
        assert_eq!(c.price("l40s").unwrap(), None);
        assert!(c.price("tpu").is_err());
        // Every price is dated and cited.
        for g in c.gpus() {
            for p in &g.prices {
                assert!(
                    valid_date(&p.date) && !p.source.is_empty() && !p.provider.is_empty(),
                    "{}",
                    g.name
                );
            }
        }
    }

    #[test]
    fn dates() {
        for d in ["2024", "2024-02", "2024-02-07"] {
            assert!(valid_date(d), "{d}");
        }
        for d in [
            "",
            "24",
            "2024-2",
            "2024-13",
            "2024-02-32",
            "2024-02-07-01",
            "Feb 2024",
        ] {
            assert!(!valid_date(d), "{d}");
        }
        assert!(date_key("2024") < date_key("2024-02-07"));
        assert!(date_key("2024-02-07") < date_key("2024-03"));
    }

    #[test]
    fn unknown_gpu_and_node_list_known_names() {
        let c = cat();
        let err = c.gpu("tpu-v5").unwrap_err().to_string();
        assert!(err.contains("unknown device 'tpu-v5'"), "{err}");
        for n in [
            "a100-80gb-sxm (a100, a100-80gb)",
            "h200-sxm",
            "mi300x",
            "l40s",
        ] {
            assert!(err.contains(n), "{err}");
        }
        let err = c.node("nvl72").unwrap_err().to_string();
        assert!(
            err.contains("unknown network device 'nvl72'") && err.contains("h200_hgx"),
            "{err}"
        );
    }

    #[test]
    fn override_price_and_field_and_add_alias() {
        let mut c = cat();
        c.merge(
            "gpus:\n  H100:\n    aliases: [hopper80]\n    bf16_dense_tflops: 1000\n    prices:\n      - {usd_per_gpu_hour: 1.75, provider: MyCloud, date: \"2025-01\", source: contract}\n",
            "mine.yaml",
        )
        .unwrap();
        let h = c.gpu("hopper80").unwrap();
        assert_eq!(h.name, "h100-sxm");
        assert_eq!(h.aliases, ["h100", "h100-80gb", "hopper80"]);
        assert_eq!(h.bf16_dense_tflops, 1000.0);
        assert_eq!(h.memory_gib, 80.0, "fields not given are kept");
        assert_eq!(h.prices.len(), 1, "a given price list replaces the old one");
        assert_eq!(c.price("h100").unwrap().unwrap().provider, "MyCloud");
        // null clears an optional field; other GPUs are untouched.
        c.merge(
            "gpus:\n  h200-sxm:\n    fp8_dense_tflops: null\n",
            "m2.yaml",
        )
        .unwrap();
        assert_eq!(c.gpu("h200").unwrap().fp8_dense_tflops, None);
        assert_eq!(c.gpu("b200").unwrap().fp8_dense_tflops, Some(4500.0));
        // Node fields too.
        c.merge("nodes:\n  h100_dgx: {num_gpus_per_node: 4}\n", "m3.yaml")
            .unwrap();
        assert_eq!(c.node("h100_dgx").unwrap().num_gpus_per_node, 4);
        assert_eq!(c.node("h100_dgx").unwrap().link, LinkKind::Nvlink);
    }

    const NEW_SKU: &str = "gpus:
  mi325x:
    aliases: [MI325]
    vendor: amd
    architecture: cdna3
    sm_version: null
    bf16_dense_tflops: 1307
    fp8_dense_tflops: 2615
    memory_gib: 256
    memory_bandwidth_gb_per_s: 6000
    intra_node_bandwidth_gb_per_s: 448
    intra_node_latency_us: 10
    inter_node_bandwidth_gb_per_s: 50
    pcie_bandwidth_gb_per_s: 64
    default_node: mi325x_oam
    prices:
      - {usd_per_gpu_hour: 2.5, provider: Example, date: 2025-06-01, kind: reserved, source: quote}
nodes:
  mi325x_oam: {num_gpus_per_node: 8, link: infinity_fabric, all_pairs_connected: true}
";

    #[test]
    fn add_a_sku_from_a_file() {
        let dir = std::env::temp_dir().join(format!("vidur-search-hw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("hw.yaml");
        std::fs::write(&p, NEW_SKU).unwrap();
        let c = HardwareCatalog::with_overrides(&p).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let g = c.gpu("mi325").unwrap();
        assert_eq!((g.memory_gib, g.sm_version), (256.0, None));
        assert_eq!(c.default_node_for("mi325x").unwrap().name, "mi325x_oam");
        assert_eq!(
            c.price("mi325x").unwrap().unwrap().kind,
            Some(PriceKind::Reserved)
        );
        assert_eq!(g.device_spec().total_memory_gb, 256.0);
        // The built-ins are still there.
        assert_eq!(c.gpus().len(), cat().gpus().len() + 1);
        // A catalog from this text alone has only the new SKU.
        assert_eq!(
            HardwareCatalog::from_yaml(NEW_SKU, "x")
                .unwrap()
                .gpus()
                .len(),
            1
        );
    }

    #[test]
    fn bad_files_name_the_file_and_line() {
        let mut c = cat();
        let before = c.clone();
        let err = c
            .merge("gpus:\n  h100:\n    bf16_tflops: 1000\n", "mine.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mine.yaml")
                && err.contains("line 3")
                && err.contains("unknown field `bf16_tflops`"),
            "{err}"
        );
        let err = c
            .merge("gpus:\n  h100:\n    memory_gib: lots\n", "mine.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mine.yaml") && err.contains("line 3"), "{err}");
        let err = c
            .merge("nodes:\n  x:\n    link: ethernet\n", "mine.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mine.yaml") && err.contains("line 3"), "{err}");
        assert_eq!(c, before, "a failed merge changes nothing");

        let p = Path::new("/no/such/hardware.yaml");
        let err = HardwareCatalog::with_overrides(p).unwrap_err().to_string();
        assert!(err.contains("/no/such/hardware.yaml"), "{err}");
    }

    #[test]
    fn bad_entries_are_rejected() {
        let mut c = cat();
        let new = NEW_SKU.replace("    memory_gib: 256\n", "");
        let err = c.merge(&new, "mine.yaml").unwrap_err().to_string();
        assert!(
            err.contains("mine.yaml")
                && err.contains("gpus.mi325x")
                && err.contains("'memory_gib'"),
            "{err}"
        );
        let new = NEW_SKU.replace("default_node: mi325x_oam", "default_node: nowhere");
        let err = c.merge(&new, "mine.yaml").unwrap_err().to_string();
        assert!(err.contains("default_node 'nowhere'"), "{err}");
        let new = NEW_SKU.replace("[MI325]", "[h100]");
        let err = c.merge(&new, "mine.yaml").unwrap_err().to_string();
        assert!(
            err.contains("'h100' is already used by gpus.h100-sxm"),
            "{err}"
        );
        let new = NEW_SKU.replace("date: 2025-06-01", "date: June 2025");
        let err = c.merge(&new, "mine.yaml").unwrap_err().to_string();
        assert!(
            err.contains("gpus.mi325x.prices[0]") && err.contains("YYYY"),
            "{err}"
        );
        let err = c
            .merge("gpus:\n  a40: {memory_gib: -1}\n", "m")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'memory_gib' must be a positive number"),
            "{err}"
        );
        let err = c
            .merge("gpus:\n  a40: {sm_version: null}\n", "m")
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs an sm_version"), "{err}");
        let err = c
            .merge(
                "nodes:\n  x: {num_gpus_per_node: 0, link: pcie, all_pairs_connected: true}\n",
                "m",
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("nodes.x") && err.contains("at least 1"),
            "{err}"
        );
    }
}
