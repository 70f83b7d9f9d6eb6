//! KV-cache memory planner (vidur-behavior.md §4.2) and per-replica block accounting (§3.1).

use super::config::SchedulerConfig;
use super::request::Request;
use super::SimError;
use crate::catalog::{DeviceSpec, ModelSpec};
use crate::compat::Compat;

/// What the planner decided for one replica.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryPlan {
    /// Requests whose full-length KV fits on one device (Vidur's `get_max_batch_size`).
    pub max_batch_size: u64,
    /// Request slots of the replica.
    pub max_request_slots: u64,
    /// KV blocks of the replica.
    pub num_blocks: u64,
}

/// Plan KV memory for a replica.
///
/// Vidur mode repeats Vidur's planner: all L layers of KV per device, slots multiplied by PP,
/// embeddings ignored, "GB" taken as GiB. Default mode counts only the stage's L/PP layers,
/// includes the embedding / LM-head shard the worst stage holds, and does not multiply by PP
/// (each stage holds KV for every in-flight request, so the replica's slots are what one device
/// fits).
#[allow(clippy::too_many_arguments)] // the planner's inputs are independent quantities
pub fn plan(
    model: &ModelSpec,
    device: &DeviceSpec,
    tp: u32,
    pp: u32,
    memory_margin_fraction: f64,
    max_tokens: u32,
    sched: &SchedulerConfig,
    compat: Compat,
) -> Result<MemoryPlan, SimError> {
    let available = device.total_memory_gb * 1024f64.powi(3) * (1.0 - memory_margin_fraction);
    // 16-bit weights and KV whatever the checkpoint's dtype (vLLM's `dtype=auto` serves FP32
    // checkpoints in FP16/BF16), unless the model is served in FP8: then the linear layers
    // hold 1 byte per weight (embeddings, LM head and norms stay 16-bit in FP8 checkpoints)
    // and an FP8 KV cache 1 byte per element. Vidur mode departs from neither: Vidur knows
    // only 16 bits, and its planner is repeated bit for bit.
    let (weight_bytes, kv_bytes) = if compat.is_vidur() {
        (2.0, 2.0)
    } else {
        (model.precision.weight_bytes(), model.kv_cache_dtype.bytes())
    };
    let kv_per_layer_per_request = 2.0
        * kv_bytes
        * model.head_dim as f64
        * model.num_kv_heads.div_ceil(tp) as f64
        * max_tokens as f64;
    let (param_bytes, kv_per_request) = if compat.is_vidur() {
        (
            2.0 * model.params_per_device(tp, pp) as f64,
            kv_per_layer_per_request * model.num_layers as f64,
        )
    } else {
        // The first stage holds the embedding, the last the LM head; with PP=1 one device holds
        // both (unless tied).
        let copies = if pp == 1 && !model.tie_word_embeddings {
            2
        } else {
            1
        };
        let layers = model.params_per_device(tp, pp) as f64;
        let embeddings = (copies * model.embedding_params_per_device(tp)) as f64;
        (
            weight_bytes * layers + 2.0 * embeddings,
            kv_per_layer_per_request * (model.num_layers / pp) as f64,
        )
    };
    let max_batch_size = ((available - param_bytes) / kv_per_request).floor();
    if max_batch_size < 1.0 {
        return Err(SimError::Config(format!(
            "model {} does not fit on {} with TP={tp} PP={pp}: {:.1} GiB of weights per device leave room for {:.2} requests of {max_tokens} tokens (need at least 1); use more GPUs per replica or a shorter max_tokens",
            model.name,
            device.name,
            param_bytes / 1024f64.powi(3),
            max_batch_size.max(0.0)
        )));
    }
    // Clamped and saturating: a device with absurd memory (say 1e300 GB) must not overflow
    // the slot and block counts; no batch holds more than u32::MAX requests anyway.
    let max_batch_size = max_batch_size.min(f64::from(u32::MAX)) as u64;
    let slots = if compat.is_vidur() {
        max_batch_size.saturating_mul(pp as u64)
    } else {
        max_batch_size
    };
    let max_blocks_per_sequence = (max_tokens / sched.block_size()) as u64;
    let num_blocks = sched
        .num_blocks()
        .unwrap_or(max_blocks_per_sequence.saturating_mul(slots));
    Ok(MemoryPlan {
        max_batch_size,
        max_request_slots: slots,
        num_blocks,
    })
}

/// A replica's KV block accounting (Vidur's allocation map, kept on the requests themselves).
#[derive(Debug, Clone)]
pub struct BlockManager {
    /// Total blocks.
    pub num_blocks: u64,
    /// Blocks allocated now.
    pub allocated: u64,
    /// Requests with an allocation-map entry.
    pub map_len: u32,
    /// Highest `allocated` seen.
    pub peak_allocated: u64,
}

impl BlockManager {
    /// A manager with `num_blocks` free blocks.
    pub fn new(num_blocks: u64) -> Self {
        BlockManager {
            num_blocks,
            allocated: 0,
            map_len: 0,
            peak_allocated: 0,
        }
    }

    /// Free blocks.
    #[inline]
    pub fn free_blocks(&self) -> u64 {
        self.num_blocks - self.allocated
    }

    /// `free ≥ n`.
    #[inline]
    pub fn can_allocate(&self, n: u64) -> bool {
        self.free_blocks() >= n
    }

    /// Give `n` more blocks to `req`. Exceeding capacity is an engine bug, reported as such.
    #[inline]
    pub fn allocate(&mut self, req: &mut Request, n: u64) -> Result<(), SimError> {
        if !req.in_allocation_map {
            req.in_allocation_map = true;
            req.blocks = 0;
            self.map_len += 1;
        }
        req.blocks += n as u32;
        self.allocated += n;
        if self.allocated > self.num_blocks {
            return Err(SimError::Invariant(format!(
                "KV blocks in use ({}) exceed capacity ({}) after allocating for request {}",
                self.allocated, self.num_blocks, req.id
            )));
        }
        self.peak_allocated = self.peak_allocated.max(self.allocated);
        Ok(())
    }

    /// Release all of `req`'s blocks (no-op if it has none).
    #[inline]
    pub fn free(&mut self, req: &mut Request) {
        if req.in_allocation_map {
            self.allocated -= req.blocks as u64;
            self.map_len -= 1;
            req.blocks = 0;
            req.in_allocation_map = false;
        }
    }

    /// `allocated · 100 / num_blocks`.
    #[inline]
    pub fn memory_usage_percent(&self) -> f64 {
        self.allocated as f64 * 100.0 / self.num_blocks as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::config::SchedulerKind;

    /// Worked values from vidur-behavior.md §4.2 (Vidur mode).
    #[test]
    fn vidur_planner_matches_worked_values() {
        let cases = [
            ("meta-llama/Llama-2-7b-hf", "a100", 1, 1, 29, 29, 7424),
            ("meta-llama/Llama-2-7b-hf", "a100", 1, 2, 32, 64, 16384),
            ("meta-llama/Llama-2-7b-hf", "h100", 2, 1, 65, 65, 16640),
            ("meta-llama/Llama-2-7b-hf", "a40", 1, 1, 14, 14, 3584),
            ("meta-llama/Llama-2-70b-hf", "a100", 4, 1, 128, 128, 32768),
            ("meta-llama/Llama-2-70b-hf", "a100", 2, 2, 64, 128, 32768),
            (
                "codellama/CodeLlama-34b-Instruct-hf",
                "a100",
                2,
                1,
                109,
                109,
                27904,
            ),
            ("Qwen/Qwen-72B", "a100", 4, 1, 15, 15, 3840),
            ("meta-llama/Meta-Llama-3-8B", "a100", 1, 1, 118, 118, 30208),
            ("internlm/internlm-20b", "a100", 2, 1, 23, 23, 5888),
            ("microsoft/phi-2", "a100", 1, 1, 53, 53, 13568),
        ];
        let sched = SchedulerConfig::new(SchedulerKind::Sarathi);
        for (m, d, tp, pp, mbs, slots, blocks) in cases {
            let model = ModelSpec::builtin(m).unwrap();
            let dev = DeviceSpec::builtin(d).unwrap();
            let p = plan(&model, &dev, tp, pp, 0.1, 4096, &sched, Compat::Vidur).unwrap();
            assert_eq!(
                (p.max_batch_size, p.max_request_slots, p.num_blocks),
                (mbs, slots, blocks),
                "{m} {d} {tp}x{pp}"
            );
        }
    }

    #[test]
    fn default_planner_counts_stage_layers_and_embeddings() {
        let model = ModelSpec::builtin("meta-llama/Meta-Llama-3-8B").unwrap();
        let dev = DeviceSpec::builtin("a100").unwrap();
        let sched = SchedulerConfig::new(SchedulerKind::Sarathi);
        let v = plan(&model, &dev, 1, 1, 0.1, 4096, &sched, Compat::Vidur).unwrap();
        let d = plan(&model, &dev, 1, 1, 0.1, 4096, &sched, Compat::Default).unwrap();
        // Two 128256×4096 fp16 tables (~1.96 GiB) cost about 3 request slots of 0.5 GiB.
        assert_eq!(v.max_batch_size - d.max_batch_size, 4);
        let d2 = plan(&model, &dev, 1, 2, 0.1, 4096, &sched, Compat::Default).unwrap();
        assert!(d2.max_request_slots > 2 * d.max_request_slots);
    }

    #[test]
    fn fp8_halves_layer_weights_and_kv_but_not_embeddings() {
        use crate::catalog::hf::{KvCacheDtype, Precision};
        let bf16 = crate::catalog::hf::lookup("Qwen/Qwen3-32B").unwrap().spec;
        let fp8 = ModelSpec {
            precision: Precision::Fp8,
            ..bf16.clone()
        };
        let fp8_kv = ModelSpec {
            kv_cache_dtype: KvCacheDtype::Fp8,
            ..fp8.clone()
        };
        let dev = DeviceSpec::builtin("h100").unwrap();
        let sched = SchedulerConfig::new(SchedulerKind::Sarathi);
        let gib = 1024f64.powi(3);
        let available = dev.total_memory_gb * gib * 0.9;
        let run = |m: &ModelSpec, c: Compat| plan(m, &dev, 2, 1, 0.1, 4096, &sched, c).unwrap();
        // Qwen3-32B at TP2, by hand: layers 64 · (5120·128·(32 + 2·4) + 32·128·5120 +
        // 3·5120·12800) params, two untied 151936·5120 tables split in 2.
        let layers =
            64.0 * (5120.0 * 128.0 * 40.0 + 32.0 * 128.0 * 5120.0 + 3.0 * 5120.0 * 12800.0);
        let embed = 2.0 * 151936.0 * 5120.0 / 2.0;
        // K and V of 4 heads of 128 over 64 layers and 4096 tokens.
        let kv = 2.0 * 4.0 * 128.0 * 64.0 * 4096.0;
        let slots =
            |wb: f64, kb: f64| ((available - wb * layers - 2.0 * embed) / (kb * kv)).floor() as u64;
        assert_eq!(run(&bf16, Compat::Default).max_batch_size, slots(2.0, 2.0));
        assert_eq!(run(&fp8, Compat::Default).max_batch_size, slots(1.0, 2.0));
        assert_eq!(
            run(&fp8_kv, Compat::Default).max_batch_size,
            slots(1.0, 1.0)
        );
        assert!(slots(1.0, 2.0) > slots(2.0, 2.0) && slots(1.0, 1.0) > 2 * slots(1.0, 2.0) - 2);
        // Vidur mode keeps Vidur's 16-bit planner.
        assert_eq!(run(&fp8_kv, Compat::Vidur), run(&bf16, Compat::Vidur));
    }

    #[test]
    fn model_that_does_not_fit_is_a_clear_error() {
        let model = ModelSpec::builtin("meta-llama/Llama-2-70b-hf").unwrap();
        let dev = DeviceSpec::builtin("a100").unwrap();
        let sched = SchedulerConfig::new(SchedulerKind::Sarathi);
        let err = plan(&model, &dev, 1, 1, 0.1, 4096, &sched, Compat::Vidur)
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not fit"), "{err}");
    }
}
