//! Model shapes and device specs the engine needs (vidur-behavior.md §8).

pub mod devices;
pub mod hf;
pub mod models;

pub use devices::{DeviceSpec, NodeSpec};
pub use hf::HfModel;
pub use models::ModelSpec;

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
    /// A model config file could not be read.
    #[error("cannot read model config '{path}': {source}")]
    ConfigIo {
        /// The file asked for.
        path: String,
        /// The underlying I/O error.
        source: std::io::Error,
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
    /// A model config is well-formed but describes an impossible or unsupported model.
    #[error("{source_name}: {reason}")]
    ConfigInvalid {
        /// File or source the text came from.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
}

/// Architecture, peaks and link speed of a device the calibration meets by name only (a Vidur
/// profile folder such as `compute/a40/`): the frame its efficiencies are relative to.
pub fn device_frame(name: &str) -> Option<crate::predictor::analytic::fit::DeviceFrame> {
    use crate::predictor::analytic::curves::Roofline;
    // Spec sheets: A100-80GB SXM, H100 SXM, A40 (NVLink bridge 112.5 GB/s both ways).
    let (arch, flops, bw, link) = match name.to_ascii_lowercase().as_str() {
        "a100" => ("ampere", 312e12, 2.039e12, 300.0),
        "h100" => ("hopper", 989e12, 3.35e12, 450.0),
        "h200" => ("hopper", 989e12, 4.8e12, 450.0),
        "a40" => ("ampere", 149.7e12, 696e9, 56.25),
        _ => return None,
    };
    Some(crate::predictor::analytic::fit::DeviceFrame {
        name: name.to_ascii_lowercase(),
        arch: arch.into(),
        roofline: Roofline { flops, mem_bw: bw },
        intra_node_bw_gbps: link,
    })
}
