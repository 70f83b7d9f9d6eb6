//! Dense decoder-only model shapes. The built-ins are Vidur's model table (§8.1), with Vidur's
//! recorded values (e.g. Llama-2 vocab 32768) so compat mode matches it.

use serde::{Deserialize, Serialize};

use super::CatalogError;

/// The shape of a dense decoder-only transformer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Hugging Face name.
    pub name: String,
    /// Transformer layers (L).
    pub num_layers: u32,
    /// Query heads (Hq).
    pub num_q_heads: u32,
    /// Key/value heads (Hkv).
    pub num_kv_heads: u32,
    /// Hidden size (E).
    pub embedding_dim: u32,
    /// Attention head size. `E / Hq` for Vidur's built-ins, but not in general (Qwen3-32B:
    /// E / Hq = 80, head_dim = 128).
    pub head_dim: u32,
    /// MLP intermediate size (F).
    pub mlp_hidden_dim: u32,
    /// Maximum context length.
    pub max_position_embeddings: u32,
    /// Gated MLP (SwiGLU: up, gate, down) rather than two matrices.
    pub use_gated_mlp: bool,
    /// Norm after attention (false for phi-2's parallel block).
    pub post_attn_norm: bool,
    /// Vocabulary size.
    pub vocab_size: u32,
    /// Whether input embedding and LM head share weights.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Bytes per weight and KV-cache element (2 for FP16/BF16).
    #[serde(default = "two")]
    pub dtype_bytes: u32,
    /// Number format of the linear layers as served (default bf16; fp8 from an FP8
    /// checkpoint's `quantization_config` or a simulation's `precision: fp8`).
    #[serde(default, skip_serializing_if = "super::hf::Precision::is_bf16")]
    pub precision: super::hf::Precision,
    /// KV-cache element type as served (default `auto`, 16-bit).
    #[serde(default, skip_serializing_if = "super::hf::KvCacheDtype::is_auto")]
    pub kv_cache_dtype: super::hf::KvCacheDtype,
}

fn two() -> u32 {
    2
}

impl ModelSpec {
    /// Why the shape is too large to count, or None. Parameter, weight-byte and KV-byte counts
    /// are u64 arithmetic on these sizes, so loaders reject shapes where it could overflow: more
    /// than 2^53 weight bytes (9 PB) or 2^32 KV-cache bytes per token, beyond any cluster. The
    /// bound is taken in f64 over generous upper bounds of every term (biases and norms
    /// included), so it holds for the Hugging Face counts too.
    pub fn size_error(&self) -> Option<String> {
        let f = f64::from;
        let e = f(self.embedding_dim);
        let qkv = (f(self.num_q_heads) + f(self.num_kv_heads)) * f(self.head_dim);
        let ff = f(self.mlp_hidden_dim);
        let per_layer = 4.0 * e * qkv + 3.0 * e * ff + 16.0 * (e + ff + qkv);
        let params =
            f(self.num_layers) * per_layer + f(self.vocab_size) * (2.0 * e + 1.0) + 2.0 * e;
        let bytes = f(self.dtype_bytes.max(2));
        let kv_per_token =
            2.0 * f(self.num_layers) * f(self.num_kv_heads) * f(self.head_dim) * bytes;
        (params * bytes > 2f64.powi(53) || kv_per_token > 2f64.powi(32)).then(|| {
            format!(
                "the model is implausibly large (about {params:.2e} parameters, {kv_per_token:.2e} \
                 KV-cache bytes per token from {} layers, hidden size {}, intermediate size {}, \
                 vocabulary {}, {} heads of {}); check these sizes",
                self.num_layers,
                self.embedding_dim,
                self.mlp_hidden_dim,
                self.vocab_size,
                self.num_q_heads,
                self.head_dim
            )
        })
    }

    /// Grouped-query attention (fewer KV heads than query heads).
    pub fn is_gqa(&self) -> bool {
        self.num_q_heads > self.num_kv_heads
    }

    /// Weights per device of one transformer layer's shard, counted as Vidur's ParamCounter
    /// does (no norms, no biases). Vidur uses `E / Hq` as the head size; [`ModelSpec::head_dim`]
    /// equals it for every Vidur model, and is the true size otherwise.
    pub fn params_per_layer_per_device(&self, tp: u32) -> u64 {
        let e = self.embedding_dim as u64;
        let hd = self.head_dim as u64;
        let q = (self.num_q_heads / tp) as u64;
        let kv = self.num_kv_heads.div_ceil(tp) as u64;
        let f = self.mlp_hidden_dim as u64;
        let mlp_mats = if self.use_gated_mlp { 3 } else { 2 };
        e * hd * (q + 2 * kv) + e * hd * q + mlp_mats * e * f / tp as u64
    }

    /// Vidur's per-device parameter count: `per_layer · (L // PP)`, embeddings excluded.
    pub fn params_per_device(&self, tp: u32, pp: u32) -> u64 {
        self.params_per_layer_per_device(tp) * (self.num_layers / pp) as u64
    }

    /// Embedding-table parameters per device (one copy, vocab sharded over TP).
    pub fn embedding_params_per_device(&self, tp: u32) -> u64 {
        (self.vocab_size as u64 * self.embedding_dim as u64).div_ceil(tp as u64)
    }

    /// Look a built-in model up by its Hugging Face name (case-insensitive; Vidur's older
    /// `Meta-Llama-3-*` names and the newer `Llama-3-*` names both work).
    pub fn builtin(name: &str) -> Result<ModelSpec, CatalogError> {
        let wanted = name.to_ascii_lowercase();
        BUILTIN
            .iter()
            .find(|m| m.0.iter().any(|n| n.to_ascii_lowercase() == wanted))
            .map(|m| m.1())
            .ok_or_else(|| CatalogError::UnknownModel {
                name: name.to_string(),
                known: builtin_names().collect::<Vec<_>>().join(", "),
            })
    }
}

/// The built-in models' names (Vidur's, one per model).
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|m| m.0[0])
}

#[allow(clippy::too_many_arguments)]
fn llama_like(
    name: &str,
    l: u32,
    hq: u32,
    hkv: u32,
    e: u32,
    f: u32,
    max_pos: u32,
    vocab: u32,
) -> ModelSpec {
    ModelSpec {
        name: name.to_string(),
        num_layers: l,
        num_q_heads: hq,
        num_kv_heads: hkv,
        embedding_dim: e,
        head_dim: e / hq,
        mlp_hidden_dim: f,
        max_position_embeddings: max_pos,
        use_gated_mlp: true,
        post_attn_norm: true,
        vocab_size: vocab,
        tie_word_embeddings: false,
        dtype_bytes: 2,
        precision: Default::default(),
        kv_cache_dtype: Default::default(),
    }
}

type Builtin = (&'static [&'static str], fn() -> ModelSpec);

const BUILTIN: &[Builtin] = &[
    (&["meta-llama/Llama-2-7b-hf"], || {
        llama_like(
            "meta-llama/Llama-2-7b-hf",
            32,
            32,
            32,
            4096,
            11008,
            4096,
            32768,
        )
    }),
    (&["meta-llama/Llama-2-70b-hf"], || {
        llama_like(
            "meta-llama/Llama-2-70b-hf",
            80,
            64,
            8,
            8192,
            28672,
            4096,
            32768,
        )
    }),
    (&["codellama/CodeLlama-34b-Instruct-hf"], || {
        llama_like(
            "codellama/CodeLlama-34b-Instruct-hf",
            48,
            64,
            8,
            8192,
            22016,
            16384,
            32768,
        )
    }),
    (
        &["meta-llama/Meta-Llama-3-8B", "meta-llama/Llama-3-8B"],
        || {
            llama_like(
                "meta-llama/Meta-Llama-3-8B",
                32,
                32,
                8,
                4096,
                14336,
                4096,
                128256,
            )
        },
    ),
    (
        &["meta-llama/Meta-Llama-3-70B", "meta-llama/Llama-3-70B"],
        || {
            llama_like(
                "meta-llama/Meta-Llama-3-70B",
                80,
                64,
                8,
                8192,
                28672,
                8192,
                128256,
            )
        },
    ),
    (&["internlm/internlm-20b"], || {
        llama_like(
            "internlm/internlm-20b",
            60,
            40,
            40,
            5120,
            13824,
            4096,
            103168,
        )
    }),
    (&["internlm/internlm2-20b"], || {
        llama_like(
            "internlm/internlm2-20b",
            48,
            48,
            8,
            6144,
            16384,
            32768,
            92544,
        )
    }),
    (&["microsoft/phi-2"], || ModelSpec {
        use_gated_mlp: false,
        post_attn_norm: false,
        ..llama_like("microsoft/phi-2", 32, 32, 32, 2560, 10240, 2048, 51200)
    }),
    (&["Qwen/Qwen-72B"], || {
        llama_like("Qwen/Qwen-72B", 80, 64, 64, 8192, 24576, 32768, 152064)
    }),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked values from vidur-behavior.md §4.2.
    #[test]
    fn param_counts_match_vidur() {
        let cases = [
            ("meta-llama/Llama-2-7b-hf", 1, 1, 6_476_005_376u64),
            ("meta-llama/Llama-2-7b-hf", 1, 2, 3_238_002_688),
            ("meta-llama/Llama-2-70b-hf", 4, 1, 17_112_760_320),
            ("codellama/CodeLlama-34b-Instruct-hf", 2, 1, 16_609_443_840),
            ("Qwen/Qwen-72B", 4, 1, 17_448_304_640),
            ("meta-llama/Meta-Llama-3-8B", 1, 1, 6_979_321_856),
            ("internlm/internlm-20b", 2, 1, 9_515_827_200),
            ("microsoft/phi-2", 1, 1, 2_516_582_400),
        ];
        for (name, tp, pp, want) in cases {
            let m = ModelSpec::builtin(name).unwrap();
            assert_eq!(m.params_per_device(tp, pp), want, "{name} tp{tp} pp{pp}");
        }
    }

    #[test]
    fn unknown_model_lists_known_names() {
        let err = ModelSpec::builtin("nope/nope").unwrap_err().to_string();
        assert!(err.contains("unknown model 'nope/nope'"), "{err}");
        assert!(err.contains("meta-llama/Llama-2-7b-hf"), "{err}");
    }
}
