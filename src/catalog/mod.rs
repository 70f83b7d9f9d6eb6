//! Model shapes and device specs the engine needs (vidur-behavior.md §8).

pub mod devices;
pub mod models;

pub use devices::{DeviceSpec, NodeSpec};
pub use models::ModelSpec;

/// A name that is not in a catalog.
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
}
