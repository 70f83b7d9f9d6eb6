//! Model shapes, GPUs, node shapes and prices.
//!
//! * [`ModelSpec`]: Vidur's built-in models (vidur-behavior.md §8.1) and any Hugging Face
//!   `config.json` ([`hf`], with the `data/models/` configs compiled in);
//! * [`HardwareCatalog`]: GPUs, node shapes and dated prices from `data/hardware.yaml` (compiled
//!   in), with user overrides;
//! * [`DeviceSpec`] / [`NodeSpec`]: the engine's device and node views, plus Vidur's own tables
//!   (§8.2, §8.3) for the Vidur-compatible paths.
//!
//! [`resolve_model`], [`resolve_device`] and [`resolve_node`] turn the names in a simulation or
//! search file into those specs.

pub mod devices;
pub mod hardware;
pub mod hf;
pub mod models;

use std::path::Path;

pub use devices::{DeviceSpec, NodeSpec};
pub use hardware::{GpuSpec, HardwareCatalog, NodeShape, Price};
pub use hf::HfModel;
pub use models::ModelSpec;

/// Resolve a `model:` value: one of Vidur's built-in names (Vidur's own values, so
/// Vidur-compatible runs are unchanged); else a path to a `config.json` file, or a folder with
/// one, relative to `base_dir` unless absolute; else an embedded Hugging Face name
/// ([`hf::lookup_embedded`]: case-insensitive, org prefix optional).
pub fn resolve_model(name_or_path: &str, base_dir: &Path) -> Result<ModelSpec, CatalogError> {
    if let Ok(m) = ModelSpec::builtin(name_or_path) {
        return Ok(m);
    }
    let path = Path::new(name_or_path);
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    };
    if let Some(file) = hf::config_file(&path) {
        return hf::from_hf_config(&file).map(|m| m.spec);
    }
    hf::lookup_embedded(name_or_path)
        .map(|m| m.spec)
        .map_err(|_| {
            let mut known: Vec<String> = models::builtin_names().map(str::to_string).collect();
            for n in hf::embedded_names() {
                if !known.iter().any(|k| k.eq_ignore_ascii_case(n)) {
                    known.push(n.to_string());
                }
            }
            CatalogError::UnknownModel {
                name: name_or_path.to_string(),
                known: format!(
                    "{} (or a path to a config.json; {} does not exist)",
                    known.join(", "),
                    path.display()
                ),
            }
        })
}

/// Resolve a `device:` value. With `vidur_compat` set, Vidur's own device names (a40, a100,
/// h100, l40) keep Vidur's values (e.g. H100 at 1000 TFLOPS, A40 with 45 GiB); every other name,
/// and every name without `vidur_compat`, goes through the catalog ([`GpuSpec::device_spec`]).
pub fn resolve_device(
    catalog: &HardwareCatalog,
    name: &str,
    vidur_compat: bool,
) -> Result<DeviceSpec, CatalogError> {
    if vidur_compat {
        if let Ok(d) = DeviceSpec::builtin(name) {
            return Ok(d);
        }
    }
    catalog.gpu(name).map(GpuSpec::device_spec)
}

/// Resolve a `network_device:` value for `device`. A named shape comes from the catalog. With no
/// name, the GPU's `default_node`; with `vidur_compat` and one of Vidur's device names, Vidur's
/// default `<device>_pairwise_nvlink`.
pub fn resolve_node(
    catalog: &HardwareCatalog,
    network_device: Option<&str>,
    device: &str,
    vidur_compat: bool,
) -> Result<NodeSpec, CatalogError> {
    match network_device {
        Some(n) => catalog.node(n).map(NodeShape::node_spec),
        None if vidur_compat && DeviceSpec::builtin(device).is_ok() => {
            Ok(NodeSpec::default_for(device))
        }
        None => catalog.default_node_for(device).map(NodeShape::node_spec),
    }
}

/// A name that is not in a catalog, or a model config that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Unknown model name.
    #[error("unknown model '{name}'; known models: {known}")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// Comma-separated list of known names.
        known: String,
    },
    /// Unknown device name.
    #[error("unknown device '{name}'; known devices: {known}")]
    UnknownDevice {
        /// The name asked for.
        name: String,
        /// Comma-separated list of known names.
        known: String,
    },
    /// Unknown node SKU.
    #[error("unknown network device '{name}'; known network devices: {known}")]
    UnknownNode {
        /// The name asked for.
        name: String,
        /// Comma-separated list of known names.
        known: String,
    },
    /// A model config file could not be read. (The OS error is in the message, not a
    /// `source()`, so printing the chain does not repeat it.)
    #[error("{path}: cannot read model config: {error}")]
    ConfigIo {
        /// The file asked for.
        path: String,
        /// The underlying I/O error.
        error: std::io::Error,
    },
    /// A hardware catalog file could not be read.
    #[error("{path}: cannot read hardware file: {error}")]
    HardwareIo {
        /// The file asked for.
        path: String,
        /// The underlying I/O error.
        error: std::io::Error,
    },
    /// A model config is not valid JSON.
    #[error("{source_name}: invalid JSON at line {line}, column {column}: {message}")]
    ConfigJson {
        /// File or source the text came from.
        source_name: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A required key is missing from a model config.
    #[error("{source_name}: missing required key '{key}'")]
    ConfigMissingKey {
        /// File or source the text came from.
        source_name: String,
        /// The key (with accepted aliases, if any).
        key: String,
    },
    /// A key in a model config has the wrong JSON type.
    #[error("{source_name}: key '{key}' should be {expected}, found {found}")]
    ConfigWrongType {
        /// File or source the text came from.
        source_name: String,
        /// The key.
        key: String,
        /// What was expected, e.g. "a non-negative integer".
        expected: String,
        /// The value that was found.
        found: String,
    },
    /// A hardware catalog file is not valid YAML for the schema (the message has the line).
    #[error("{source_name}: {message}")]
    Hardware {
        /// File or source the text came from.
        source_name: String,
        /// What the parser said, with line and column.
        message: String,
    },
    /// A hardware catalog entry is incomplete or inconsistent.
    #[error("{source_name}: {entry}: {reason}")]
    HardwareEntry {
        /// File merged last (or `<embedded>/data/hardware.yaml`).
        source_name: String,
        /// The entry, e.g. `gpus.h100-sxm` or `nodes.a100_dgx`.
        entry: String,
        /// What is wrong.
        reason: String,
    },
    /// A model config is well-formed but describes an impossible or unsupported model.
    #[error("{source_name}: {reason}")]
    ConfigInvalid {
        /// File or source the text came from.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vidur_builtin_names_keep_vidur_values() {
        let here = Path::new(".");
        for name in [
            "meta-llama/Llama-2-7b-hf",
            "meta-llama/Meta-Llama-3-8B",
            "meta-llama/Llama-3-70B",
            "internlm/internlm2-20b",
            "microsoft/phi-2",
            "Qwen/Qwen-72B",
        ] {
            assert_eq!(
                resolve_model(name, here).unwrap(),
                ModelSpec::builtin(name).unwrap(),
                "{name}"
            );
        }
        // Vidur's value, not the HF config's 32000.
        let l2 = resolve_model("meta-llama/Llama-2-7b-hf", here).unwrap();
        assert_eq!(l2.vocab_size, 32768);
        // Every built-in has head_dim = E / Hq, as Vidur computes it.
        for n in models::builtin_names() {
            let m = ModelSpec::builtin(n).unwrap();
            assert_eq!(m.head_dim, m.embedding_dim / m.num_q_heads, "{n}");
            assert_eq!(m.dtype_bytes, 2, "{n}");
        }
    }

    #[test]
    fn embedded_hf_names_resolve() {
        let here = Path::new(".");
        let q = resolve_model("Qwen/Qwen3-32B", here).unwrap();
        assert_eq!(
            (q.head_dim, q.num_q_heads, q.embedding_dim),
            (128, 64, 5120)
        );
        assert_eq!(resolve_model("qwen3-32b", here).unwrap(), q);
        let l = resolve_model("meta-llama/Llama-3.1-70B", here).unwrap();
        assert_eq!((l.num_layers, l.max_position_embeddings), (80, 131_072));
        assert_eq!(
            resolve_model("mistralai/mistral-7b-v0.1", here)
                .unwrap()
                .num_kv_heads,
            8
        );
    }

    #[test]
    fn unknown_model_lists_builtin_and_embedded_names() {
        let err = resolve_model("acme/llm-1b", Path::new("/base"))
            .unwrap_err()
            .to_string();
        for n in [
            "unknown model 'acme/llm-1b'",
            "internlm/internlm2-20b",
            "Qwen/Qwen3-32B",
            "/base/acme/llm-1b does not exist",
        ] {
            assert!(err.contains(n), "{err}");
        }
        // Names in both lists appear once.
        assert_eq!(err.matches("meta-llama/Llama-2-7b-hf").count(), 1, "{err}");
    }

    #[test]
    fn devices_and_nodes_by_mode() {
        let cat = HardwareCatalog::embedded();
        let h100 = resolve_device(&cat, "h100", true).unwrap();
        assert_eq!((h100.name.as_str(), h100.fp16_tflops), ("h100", 1000.0));
        let h100 = resolve_device(&cat, "h100", false).unwrap();
        assert_eq!((h100.name.as_str(), h100.fp16_tflops), ("h100-sxm", 989.0));
        // Names Vidur lacks go through the catalog in both modes.
        for vidur in [false, true] {
            let d = resolve_device(&cat, "B200", vidur).unwrap();
            assert_eq!((d.fp16_tflops, d.total_memory_gb), (2250.0, 180.0));
        }
        assert!(resolve_device(&cat, "tpu", true)
            .unwrap_err()
            .to_string()
            .contains("mi300x"));

        assert_eq!(
            resolve_node(&cat, None, "a100", true).unwrap().name,
            "a100_pairwise_nvlink"
        );
        assert_eq!(
            resolve_node(&cat, None, "a100", false).unwrap().name,
            "a100_dgx"
        );
        assert_eq!(
            resolve_node(&cat, None, "h200", true).unwrap().name,
            "h200_hgx"
        );
        let n = resolve_node(&cat, Some("L40S_PCIE"), "l40s", false).unwrap();
        assert_eq!((n.name.as_str(), n.num_devices_per_node), ("l40s_pcie", 8));
        assert!(resolve_node(&cat, None, "tpu", false).is_err());
    }
}
