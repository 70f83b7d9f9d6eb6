//! Devices and node SKUs as Vidur knows them (§8.2, §8.3).

use serde::{Deserialize, Serialize};

use super::CatalogError;

/// A GPU as the engine sees it: peak FP16 throughput and memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    /// Short name (`a100`, `h100`, ...).
    pub name: String,
    /// Dense FP16/BF16 TFLOPS.
    pub fp16_tflops: f64,
    /// HBM capacity in GiB (Vidur calls it GB but multiplies by 1024³).
    pub total_memory_gb: f64,
}

/// A node SKU: how many devices share the fast intra-node link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Vidur network-device name (`a100_pairwise_nvlink`, ...).
    pub name: String,
    /// Devices per node.
    pub num_devices_per_node: u32,
}

const DEVICES: &[(&str, f64, f64)] = &[
    ("a40", 150.0, 45.0),
    ("a100", 312.0, 80.0),
    ("h100", 1000.0, 80.0),
    ("l40", 181.0, 48.0),
];

const NODES: &[(&str, u32)] = &[
    ("a40_pairwise_nvlink", 8),
    ("a100_pairwise_nvlink", 4),
    ("h100_pairwise_nvlink", 4),
    ("a100_dgx", 8),
    ("h100_dgx", 8),
    ("l40_pcie", 8),
];

impl DeviceSpec {
    /// A built-in device by Vidur name.
    pub fn builtin(name: &str) -> Result<DeviceSpec, CatalogError> {
        DEVICES
            .iter()
            .find(|d| d.0.eq_ignore_ascii_case(name))
            .map(|d| DeviceSpec {
                name: d.0.to_string(),
                fp16_tflops: d.1,
                total_memory_gb: d.2,
            })
            .ok_or_else(|| CatalogError::UnknownDevice {
                name: name.to_string(),
                known: DEVICES.iter().map(|d| d.0).collect::<Vec<_>>().join(", "),
            })
    }
}

impl NodeSpec {
    /// A built-in node SKU by Vidur network-device name.
    pub fn builtin(name: &str) -> Result<NodeSpec, CatalogError> {
        NODES
            .iter()
            .find(|n| n.0.eq_ignore_ascii_case(name))
            .map(|n| NodeSpec {
                name: n.0.to_string(),
                num_devices_per_node: n.1,
            })
            .ok_or_else(|| CatalogError::UnknownNode {
                name: name.to_string(),
                known: NODES.iter().map(|n| n.0).collect::<Vec<_>>().join(", "),
            })
    }

    /// The default node SKU for a device (Vidur's pairwise-NVLink boxes where it has them).
    pub fn default_for(device: &str) -> NodeSpec {
        let name = format!("{}_pairwise_nvlink", device.to_ascii_lowercase());
        NodeSpec::builtin(&name).unwrap_or(NodeSpec {
            name,
            num_devices_per_node: 8,
        })
    }
}
