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
}
