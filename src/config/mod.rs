//! Configuration loading: our own simulation YAML ([`sim_yaml`]) and Vidur's `config.json`
//! dump ([`vidur_json`]), both resolved into a validated [`crate::sim::SimConfig`] plus a
//! workload and a predictor choice.

pub mod predictor;
pub mod sim_yaml;
pub mod vidur_json;

use std::path::PathBuf;

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    // The OS error is part of the message and not a `source()`: printing the chain
    // (`{:#}`) would otherwise repeat it.
    #[error("{path}: cannot read: {error}")]
    Io {
        /// File path.
        path: PathBuf,
        /// Cause.
        error: std::io::Error,
    },
    /// The file is not valid for its format or schema; `msg` names the line/field.
    #[error("{path}: {msg}")]
    Invalid {
        /// File path.
        path: PathBuf,
        /// What is wrong, with the line/column or field path.
        msg: String,
    },
    /// A field value fails a check the schema cannot express.
    #[error("{path}: {error}")]
    Field {
        /// File path.
        path: PathBuf,
        /// The field and what is wrong with it.
        #[source]
        error: FieldError,
    },
}

/// A field whose value fails a check serde cannot express; the message names the field in the
/// caller's file format.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FieldError {
    /// A tensor-parallel group wider than one node: its all-reduce has no link model.
    #[error(
        "field '{field}': {tp} spans more than one node: node shape '{node}' has {gpus} GPUs (a tensor-parallel group must fit one node; use pipeline stages across nodes)"
    )]
    TpSpansNodes {
        /// The TP field.
        field: String,
        /// Tensor-parallel degree asked for.
        tp: u32,
        /// Node shape name.
        node: String,
        /// GPUs per node.
        gpus: u32,
    },
    /// `predictor.analytic.source` names no measurement source.
    #[error(
        "field 'predictor.analytic.source': unknown source '{name}' (expected {} or {})",
        crate::predictor::analytic::calibration::source::KERNELS,
        crate::predictor::analytic::calibration::source::VIDUR
    )]
    UnknownCalibrationSource {
        /// The value given.
        name: String,
    },
    /// A number that must be finite and >= 0.
    #[error("field '{field}': must be a finite number >= 0, got {value}")]
    NotNonNegative {
        /// Field path.
        field: String,
        /// The value given.
        value: f64,
    },
    /// A count that must be at least 1.
    #[error("field '{field}': must be at least 1")]
    Zero {
        /// Field path.
        field: String,
    },
}

impl ConfigError {
    pub(crate) fn io(path: &std::path::Path, error: std::io::Error) -> Self {
        ConfigError::Io {
            path: path.to_path_buf(),
            error,
        }
    }

    pub(crate) fn invalid(path: &std::path::Path, msg: impl Into<String>) -> Self {
        ConfigError::Invalid {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }

    pub(crate) fn field(path: &std::path::Path, error: FieldError) -> Self {
        ConfigError::Field {
            path: path.to_path_buf(),
            error,
        }
    }
}
