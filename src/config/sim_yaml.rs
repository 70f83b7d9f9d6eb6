//! Our simulation YAML (being written).
