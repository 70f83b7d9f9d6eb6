//! Load dense decoder-only models from Hugging Face `config.json` files.
//!
//! Supported families (by `model_type`, falling back to `architectures[0]`): llama, mistral,
//! qwen (v1, `QWenLMHeadModel`), qwen2, qwen3, internlm, internlm2, phi (phi-2) and phi3. Any
//! other dense model with llama-style keys is read as a llama-like gated model; mixture-of-experts
//! configs are rejected.
//!
//! The rich result is [`HfModel`]: the engine's [`ModelSpec`] (with the true attention head size,
//! e.g. 128 for Qwen3-32B where `hidden / heads` is 80, and the weight dtype width) plus the
//! family and the bias/norm layout needed for exact parameter counts. A `quantization_config`
//! of an FP8 checkpoint sets the model's default `precision` (and `kv_cache_dtype` when it ships
//! FP8 KV-cache scales); other quantization schemes are rejected.
//!
//! The config files in `data/models/` are compiled into the binary ([`EMBEDDED`]); [`lookup`]
//! selects one by Hugging Face name, or loads any `config.json` given by path, so model names
//! resolve after `cargo install` without a checkout of the repository.

use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{CatalogError, ModelSpec};

/// A model read from a Hugging Face `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct HfModel {
    /// The engine's model shape. `spec.mlp_hidden_dim` is the per-matrix intermediate size
    /// (Qwen v1's `intermediate_size` is halved); `spec.head_dim` is the `head_dim` key if
    /// present, else `hidden_size / num_attention_heads`; `spec.dtype_bytes` comes from
    /// `torch_dtype` (2 when the key is absent).
    pub spec: ModelSpec,
    /// Model family, e.g. `llama`, `qwen3`, `phi`.
    pub family: String,
    /// Biases on the q, k, v projections.
    pub qkv_bias: bool,
    /// Bias on the attention output projection.
    pub o_bias: bool,
    /// Biases on the MLP projections.
    pub mlp_bias: bool,
    /// Norms are LayerNorm with a bias (phi) rather than RMSNorm.
    pub norm_bias: bool,
    /// Per-head RMSNorm on q and k (qwen3).
    pub qk_norm: bool,
    /// Bias on the LM head (phi).
    pub lm_head_bias: bool,
    /// The checkpoint's `quantization_config`, when it has one (it also sets `spec.precision`
    /// and `spec.kv_cache_dtype`, the defaults a simulation of this model uses).
    pub quantization: Option<Quantization>,
}

/// Number format of the linear layers' weights and activations (the GEMMs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// 16-bit (BF16/FP16) weights and activations.
    #[default]
    Bf16,
    /// FP8 (E4M3) weights and activations: 1 byte per weight, FP8 tensor-core GEMMs.
    Fp8,
}

impl Precision {
    /// Bytes per linear-layer weight.
    pub fn weight_bytes(self) -> f64 {
        match self {
            Precision::Bf16 => 2.0,
            Precision::Fp8 => 1.0,
        }
    }

    /// Whether this is the 16-bit default (left out of serialized configs, so their ids do
    /// not change).
    pub fn is_bf16(&self) -> bool {
        *self == Precision::Bf16
    }
}

/// Element type of the KV cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvCacheDtype {
    /// The activations' 16-bit type (vLLM's `kv_cache_dtype=auto`).
    #[default]
    Auto,
    /// FP8: 1 byte per K or V element.
    Fp8,
}

impl KvCacheDtype {
    /// Bytes per K or V element.
    pub fn bytes(self) -> f64 {
        match self {
            KvCacheDtype::Auto => 2.0,
            KvCacheDtype::Fp8 => 1.0,
        }
    }

    /// Whether this is the 16-bit default (left out of serialized configs).
    pub fn is_auto(&self) -> bool {
        *self == KvCacheDtype::Auto
    }
}

/// What a checkpoint's `quantization_config` says, in the terms the simulator prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantization {
    /// `quant_method` as written (`fp8`, `modelopt`, `compressed-tensors`, `fbgemm_fp8`).
    pub method: String,
    /// The linear layers' format.
    pub precision: Precision,
    /// The KV cache's format (FP8 when the checkpoint ships KV-cache scales).
    pub kv_cache_dtype: KvCacheDtype,
}

/// Shorthand for one embedded config: its file name and text.
macro_rules! embed {
    ($file:literal) => {
        ($file, include_str!(concat!("../../data/models/", $file)))
    };
}

/// The `data/models/*.json` configs compiled into the binary: `(file name, JSON text)`. A unit
/// test checks that this list and the folder agree.
pub const EMBEDDED: &[(&str, &str)] = &[
    embed!("Qwen__Qwen-72B.json"),
    embed!("Qwen__Qwen2.5-72B.json"),
    embed!("Qwen__Qwen2.5-7B.json"),
    embed!("Qwen__Qwen3-0.6B.json"),
    embed!("Qwen__Qwen3-32B.json"),
    embed!("Qwen__Qwen3-8B.json"),
    embed!("codellama__CodeLlama-34b-Instruct-hf.json"),
    embed!("internlm__internlm-20b.json"),
    embed!("meta-llama__Llama-2-70b-hf.json"),
    embed!("meta-llama__Llama-2-7b-hf.json"),
    embed!("meta-llama__Llama-3.1-70B.json"),
    embed!("meta-llama__Llama-3.1-8B.json"),
    embed!("meta-llama__Meta-Llama-3-70B.json"),
    embed!("meta-llama__Meta-Llama-3-8B.json"),
    embed!("microsoft__phi-2.json"),
    embed!("mistralai__Mistral-7B-v0.1.json"),
];

/// Every embedded model, parsed once (in [`EMBEDDED`] order).
pub fn embedded_models() -> &'static [HfModel] {
    static MODELS: OnceLock<Vec<HfModel>> = OnceLock::new();
    MODELS.get_or_init(|| {
        EMBEDDED
            .iter()
            .map(|(file, text)| {
                from_hf_json(text, &format!("<embedded>/data/models/{file}"))
                    .expect("embedded model configs are valid (checked by unit tests)")
            })
            .collect()
    })
}

/// The Hugging Face names of the embedded models.
pub fn embedded_names() -> Vec<&'static str> {
    embedded_models()
        .iter()
        .map(|m| m.spec.name.as_str())
        .collect()
}

/// Read a `config.json` file.
pub fn from_hf_config(path: &Path) -> Result<HfModel, CatalogError> {
    let text = std::fs::read_to_string(path).map_err(|error| CatalogError::ConfigIo {
        path: path.display().to_string(),
        error,
    })?;
    from_hf_json(&text, &path.display().to_string())
}

/// Parse `config.json` text; `source_name` names the source in errors and is the model name
/// when the config has no `_name_or_path`.
pub fn from_hf_json(text: &str, source_name: &str) -> Result<HfModel, CatalogError> {
    let value: Value = serde_json::from_str(text).map_err(|e| CatalogError::ConfigJson {
        source_name: source_name.to_string(),
        line: e.line(),
        column: e.column(),
        message: crate::parse_messages::json_message(&e),
    })?;
    let Value::Object(obj) = value else {
        return Err(CatalogError::ConfigInvalid {
            source_name: source_name.to_string(),
            reason: format!("top level should be a JSON object, found {}", kind(&value)),
        });
    };
    Reader {
        obj: &obj,
        src: source_name,
    }
    .model()
}

/// Load `name_or_path`: a path to an existing `config.json` file (or to a folder holding one)
/// is read directly; otherwise the name is matched against the embedded models
/// ([`lookup_embedded`]).
pub fn lookup(name_or_path: &str) -> Result<HfModel, CatalogError> {
    if let Some(file) = config_file(Path::new(name_or_path)) {
        return from_hf_config(&file);
    }
    lookup_embedded(name_or_path)
}

/// The `config.json` that `path` names: the file itself, or `path/config.json` for a folder.
pub(crate) fn config_file(path: &Path) -> Option<std::path::PathBuf> {
    if path.is_file() {
        Some(path.to_path_buf())
    } else if path.is_dir() && path.join("config.json").is_file() {
        Some(path.join("config.json"))
    } else {
        None
    }
}

/// Match `name` against the embedded models' `_name_or_path`: case-insensitive, the org prefix
/// may be left out (`Qwen3-32B`), `Meta-Llama-3-*` and `Llama-3-*` are the same name, and a
/// trailing `-hf` is optional (`meta-llama/Llama-2-7b`).
pub fn lookup_embedded(name: &str) -> Result<HfModel, CatalogError> {
    let wanted = normalize(name);
    embedded_models()
        .iter()
        .find(|m| {
            let have = normalize(&m.spec.name);
            let short = have.rsplit('/').next().unwrap_or(&have);
            have == wanted || (!wanted.contains('/') && short == wanted)
        })
        .cloned()
        .ok_or_else(|| CatalogError::UnknownModel {
            name: name.to_string(),
            known: embedded_names().join(", "),
        })
}

fn normalize(name: &str) -> String {
    let n = name
        .trim()
        .to_ascii_lowercase()
        .replace("meta-llama-3", "llama-3");
    match n.strip_suffix("-hf") {
        Some(stem) => stem.to_string(),
        None => n,
    }
}

fn kind(v: &Value) -> String {
    let s = v.to_string();
    // Cut at a character boundary: a byte index can split a multi-byte character.
    let s = match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    };
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => format!("boolean {s}"),
        Value::Number(_) => format!("number {s}"),
        Value::String(_) => format!("string {s}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

struct Reader<'a> {
    obj: &'a Map<String, Value>,
    src: &'a str,
}

impl Reader<'_> {
    /// The first of `keys` that is present and not null.
    fn find(&self, keys: &[&str]) -> Option<(String, &Value)> {
        keys.iter().find_map(|k| match self.obj.get(*k) {
            None | Some(Value::Null) => None,
            Some(v) => Some((k.to_string(), v)),
        })
    }

    fn wrong(&self, key: &str, expected: &str, v: &Value) -> CatalogError {
        CatalogError::ConfigWrongType {
            source_name: self.src.to_string(),
            key: key.to_string(),
            expected: expected.to_string(),
            found: kind(v),
        }
    }

    fn invalid(&self, reason: String) -> CatalogError {
        CatalogError::ConfigInvalid {
            source_name: self.src.to_string(),
            reason,
        }
    }

    fn opt_u32(&self, keys: &[&str]) -> Result<Option<u32>, CatalogError> {
        match self.find(keys) {
            None => Ok(None),
            Some((k, v)) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| self.wrong(&k, "a non-negative 32-bit integer", v)),
        }
    }

    fn req_u32(&self, keys: &[&str]) -> Result<u32, CatalogError> {
        let n = self
            .opt_u32(keys)?
            .ok_or_else(|| CatalogError::ConfigMissingKey {
                source_name: self.src.to_string(),
                key: keys.join("' or '"),
            })?;
        if n == 0 {
            return Err(self.invalid(format!("key '{}' must be positive", keys[0])));
        }
        Ok(n)
    }

    fn opt_bool(&self, keys: &[&str]) -> Result<Option<bool>, CatalogError> {
        match self.find(keys) {
            None => Ok(None),
            Some((k, v)) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.wrong(&k, "a boolean", v)),
        }
    }

    fn opt_str(&self, keys: &[&str]) -> Result<Option<String>, CatalogError> {
        match self.find(keys) {
            None => Ok(None),
            Some((k, v)) => v
                .as_str()
                .map(|s| Some(s.to_string()))
                .ok_or_else(|| self.wrong(&k, "a string", v)),
        }
    }

    fn family(&self) -> Result<String, CatalogError> {
        if let Some(t) = self.opt_str(&["model_type"])? {
            return Ok(t.to_ascii_lowercase());
        }
        let arch = match self.find(&["architectures"]) {
            None => None,
            Some((k, Value::Array(a))) => match a.first() {
                None => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(v) => return Err(self.wrong(&format!("{k}[0]"), "a string", v)),
            },
            Some((k, v)) => return Err(self.wrong(&k, "an array of strings", v)),
        };
        let Some(arch) = arch else {
            return Err(CatalogError::ConfigMissingKey {
                source_name: self.src.to_string(),
                key: "model_type' or 'architectures".into(),
            });
        };
        let a = arch.to_ascii_lowercase();
        Ok(match a.as_str() {
            "qwenlmheadmodel" => "qwen".into(),
            "phiforcausallm" => "phi".into(),
            _ => a
                .trim_end_matches("forcausallm")
                .trim_end_matches("lmheadmodel")
                .to_string(),
        })
    }

    fn dtype_bytes(&self) -> Result<u32, CatalogError> {
        let Some(d) = self.opt_str(&["torch_dtype", "dtype"])? else {
            return Ok(2);
        };
        Ok(match d.to_ascii_lowercase().trim_start_matches("torch.") {
            "float16" | "fp16" | "half" | "bfloat16" | "bf16" => 2,
            "float32" | "fp32" | "float" => 4,
            "int8" | "uint8" | "fp8" | "float8_e4m3fn" | "float8_e5m2" => 1,
            other => return Err(self.invalid(format!("unsupported torch_dtype '{other}'"))),
        })
    }

    /// Read `quantization_config`: FP8 checkpoints (`quant_method` `fp8` as Qwen's and
    /// DeepSeek's, `fbgemm_fp8`, NVIDIA ModelOpt with `quant_algo` FP8, compressed-tensors with
    /// 8-bit float weights) are priced as FP8; any other scheme (AWQ, GPTQ, bitsandbytes,
    /// NVFP4, ...) is an error rather than a silently 16-bit simulation.
    fn quantization(&self) -> Result<Option<Quantization>, CatalogError> {
        let q = match self.find(&["quantization_config"]) {
            None => return Ok(None),
            Some((_, Value::Object(q))) => q,
            Some((k, v)) => return Err(self.wrong(&k, "an object", v)),
        };
        let text = |key: &str| -> Result<Option<String>, CatalogError> {
            match q.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.to_ascii_lowercase())),
                Some(v) => Err(self.wrong(&format!("quantization_config.{key}"), "a string", v)),
            }
        };
        let Some(method) = text("quant_method")? else {
            return Err(CatalogError::ConfigMissingKey {
                source_name: self.src.to_string(),
                key: "quantization_config.quant_method".into(),
            });
        };
        // An 8-bit float scheme in compressed-tensors' terms (`{num_bits: 8, type: float}`).
        let fp8_scheme = |v: Option<&Value>| {
            v.is_some_and(|s| {
                s.get("num_bits").and_then(Value::as_u64) == Some(8)
                    && s.get("type").and_then(Value::as_str) == Some("float")
            })
        };
        let fp8 = |kv: bool| {
            Some(Quantization {
                method: method.clone(),
                precision: Precision::Fp8,
                kv_cache_dtype: if kv {
                    KvCacheDtype::Fp8
                } else {
                    KvCacheDtype::Auto
                },
            })
        };
        let found = match method.as_str() {
            "fp8" | "fbgemm_fp8" => fp8(false),
            "modelopt" => match text("quant_algo")?.as_deref() {
                Some(a) if a.starts_with("fp8") => {
                    fp8(text("kv_cache_quant_algo")?.as_deref() == Some("fp8"))
                }
                _ => None,
            },
            "compressed-tensors" => {
                let groups = q.get("config_groups").and_then(Value::as_object);
                let all_fp8 = groups.is_some_and(|g| {
                    !g.is_empty() && g.values().all(|grp| fp8_scheme(grp.get("weights")))
                });
                all_fp8
                    .then(|| fp8(fp8_scheme(q.get("kv_cache_scheme"))))
                    .flatten()
            }
            _ => None,
        };
        match found {
            Some(f) => Ok(Some(f)),
            None => Err(self.invalid(format!(
                "quantization_config: quant_method '{method}'{} is not modeled (FP8 checkpoints are); \
                 remove quantization_config to simulate the model in 16 bits",
                match text("quant_algo")? {
                    Some(a) => format!(" with quant_algo '{a}'"),
                    None => String::new(),
                }
            ))),
        }
    }

    fn model(&self) -> Result<HfModel, CatalogError> {
        let family = self.family()?;
        for key in ["num_local_experts", "num_experts", "n_routed_experts"] {
            if self.opt_u32(&[key])?.unwrap_or(0) > 1 {
                return Err(self.invalid(format!(
                    "mixture-of-experts models are not supported ('{key}' > 1)"
                )));
            }
        }
        let layers = self.req_u32(&["num_hidden_layers", "n_layer", "num_layers"])?;
        let hidden = self.req_u32(&["hidden_size", "n_embd", "d_model"])?;
        let heads = self.req_u32(&["num_attention_heads", "n_head"])?;
        let kv_heads = match self.opt_u32(&["num_key_value_heads", "multi_query_group_num"])? {
            Some(0) => return Err(self.invalid("num_key_value_heads must be positive".into())),
            Some(n) => n,
            None => heads,
        };
        let vocab = self.req_u32(&["vocab_size", "padded_vocab_size"])?;
        let is_phi2 = family == "phi" || family == "phi-msft" || family == "phi2";
        let inter = match self.opt_u32(&["intermediate_size", "n_inner", "ffn_hidden_size"])? {
            Some(0) => return Err(self.invalid("intermediate_size must be positive".into())),
            Some(n) => n,
            None if is_phi2 => 4 * hidden,
            None => {
                return Err(CatalogError::ConfigMissingKey {
                    source_name: self.src.to_string(),
                    key: "intermediate_size".into(),
                })
            }
        };
        // Qwen v1 stores twice the per-matrix width (w1 and w2 each have intermediate_size / 2).
        let mlp_hidden = if family == "qwen" {
            if inter % 2 != 0 {
                return Err(self.invalid(format!(
                    "qwen intermediate_size {inter} should be even (it is 2x the MLP width)"
                )));
            }
            inter / 2
        } else {
            inter
        };
        let max_pos = self.req_u32(&["max_position_embeddings", "seq_length", "n_positions"])?;
        let head_dim = match self.opt_u32(&["head_dim", "kv_channels"])? {
            Some(0) => return Err(self.invalid("head_dim must be positive".into())),
            Some(d) => d,
            None => {
                if hidden % heads != 0 {
                    return Err(self.invalid(format!(
                        "num_attention_heads {heads} does not divide hidden_size {hidden}"
                    )));
                }
                hidden / heads
            }
        };
        if kv_heads > heads || heads % kv_heads != 0 {
            return Err(self.invalid(format!(
                "num_key_value_heads {kv_heads} does not divide num_attention_heads {heads}"
            )));
        }
        let tied = self.opt_bool(&["tie_word_embeddings"])?.unwrap_or(false);
        let dtype_bytes = self.dtype_bytes()?;
        let quantization = self.quantization()?;
        let name = self
            .opt_str(&["_name_or_path"])?
            .unwrap_or_else(|| self.src.to_string());

        let attention_bias = self.opt_bool(&["attention_bias"])?.unwrap_or(false);
        let internlm_bias = family == "internlm" && self.opt_bool(&["bias"])?.unwrap_or(false);
        let (qkv_bias, o_bias) = match family.as_str() {
            "qwen" | "qwen2" => (true, false),
            _ if is_phi2 => (true, true),
            _ => (
                attention_bias || internlm_bias,
                attention_bias || internlm_bias,
            ),
        };
        let mlp_bias = is_phi2 || self.opt_bool(&["mlp_bias"])?.unwrap_or(false);

        let model = HfModel {
            spec: ModelSpec {
                name,
                num_layers: layers,
                num_q_heads: heads,
                num_kv_heads: kv_heads,
                embedding_dim: hidden,
                head_dim,
                mlp_hidden_dim: mlp_hidden,
                max_position_embeddings: max_pos,
                use_gated_mlp: !is_phi2,
                post_attn_norm: !is_phi2,
                vocab_size: vocab,
                tie_word_embeddings: tied,
                dtype_bytes,
                precision: quantization
                    .as_ref()
                    .map_or_else(Default::default, |q| q.precision),
                kv_cache_dtype: quantization
                    .as_ref()
                    .map_or_else(Default::default, |q| q.kv_cache_dtype),
            },
            qkv_bias,
            o_bias,
            mlp_bias,
            norm_bias: is_phi2,
            qk_norm: family == "qwen3",
            lm_head_bias: is_phi2,
            quantization,
            family,
        };
        // Sizes whose parameter or KV-byte counts could overflow are an error here, once.
        match model.spec.size_error() {
            Some(msg) => Err(self.invalid(msg)),
            None => Ok(model),
        }
    }
}

impl HfModel {
    /// Parameters of one transformer layer held by one of `tp` tensor-parallel ranks: attention
    /// q/k/v/o (with the true head size; KV heads replicated when `tp` exceeds them), MLP,
    /// biases and norms (norms and row-parallel biases replicated).
    pub fn layer_params_per_device(&self, tp: u32) -> u64 {
        let s = &self.spec;
        let e = s.embedding_dim as u64;
        let hd = s.head_dim as u64;
        let q = s.num_q_heads.div_ceil(tp) as u64;
        let kv = s.num_kv_heads.div_ceil(tp) as u64;
        let f = s.mlp_hidden_dim.div_ceil(tp) as u64;
        let mut n = e * hd * (q + 2 * kv) + q * hd * e;
        if self.qkv_bias {
            n += hd * (q + 2 * kv);
        }
        if self.o_bias {
            n += e;
        }
        let mats = if s.use_gated_mlp { 3 } else { 2 };
        n += mats * e * f;
        if self.mlp_bias {
            n += (mats - 1) * f + e;
        }
        let norms = if s.post_attn_norm { 2 } else { 1 };
        n += norms * e * if self.norm_bias { 2 } else { 1 };
        if self.qk_norm {
            n += 2 * hd;
        }
        n
    }

    fn vocab_rows(&self, tp: u32) -> u64 {
        self.spec.vocab_size.div_ceil(tp) as u64
    }

    fn final_norm(&self) -> u64 {
        self.spec.embedding_dim as u64 * if self.norm_bias { 2 } else { 1 }
    }

    fn lm_head_per_device(&self, tp: u32) -> u64 {
        let rows = self.vocab_rows(tp);
        rows * self.spec.embedding_dim as u64 + if self.lm_head_bias { rows } else { 0 }
    }

    /// Total parameters: embeddings, LM head (unless tied), every layer, final norm.
    pub fn params_total(&self) -> u64 {
        let embed = self.spec.vocab_size as u64 * self.spec.embedding_dim as u64;
        let head = if self.spec.tie_word_embeddings {
            0
        } else {
            self.lm_head_per_device(1)
        };
        embed
            + head
            + self.spec.num_layers as u64 * self.layer_params_per_device(1)
            + self.final_norm()
    }

    /// Parameters on the most loaded device with `tp`-way tensor and `pp`-way pipeline
    /// parallelism. Each stage holds `ceil(L / pp)` layers; the first stage also holds the
    /// embedding, the last the final norm and LM head (a tied LM head still needs its own copy
    /// of the matrix when the last stage is not the first).
    pub fn params_per_device(&self, tp: u32, pp: u32) -> u64 {
        let tp = tp.max(1);
        let pp = pp.max(1);
        let layers = self.spec.num_layers.div_ceil(pp) as u64 * self.layer_params_per_device(tp);
        let embed = self.vocab_rows(tp) * self.spec.embedding_dim as u64;
        let last = self.final_norm() + self.lm_head_per_device(tp);
        if pp == 1 {
            let head = if self.spec.tie_word_embeddings {
                self.final_norm()
            } else {
                last
            };
            layers + embed + head
        } else {
            layers + embed.max(last)
        }
    }

    /// Weight bytes on the most loaded device (see [`HfModel::params_per_device`]).
    pub fn weight_bytes_per_device(&self, tp: u32, pp: u32) -> u64 {
        self.params_per_device(tp, pp) * self.spec.dtype_bytes as u64
    }

    /// KV-cache bytes one token takes on one device: `2 (K, V) · ceil(L / pp) ·
    /// ceil(Hkv / tp) · head_dim · dtype_bytes`.
    pub fn kv_bytes_per_token_per_device(&self, tp: u32, pp: u32) -> u64 {
        2 * self.spec.num_layers.div_ceil(pp.max(1)) as u64
            * self.spec.num_kv_heads.div_ceil(tp.max(1)) as u64
            * self.spec.head_dim as u64
            * self.spec.dtype_bytes as u64
    }

    /// The same model with a different element width (e.g. 1 for FP8 weights and KV cache).
    pub fn with_dtype_bytes(mut self, bytes: u32) -> HfModel {
        self.spec.dtype_bytes = bytes;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/models")
    }

    fn get(name: &str) -> HfModel {
        lookup(name).unwrap()
    }

    #[test]
    fn every_shipped_config_is_embedded_and_loads() {
        let mut files = Vec::new();
        for e in std::fs::read_dir(dir()).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                let m = from_hf_config(&p).unwrap();
                let want = p.file_stem().unwrap().to_str().unwrap().replace("__", "/");
                assert_eq!(m.spec.name, want, "{}", p.display());
                assert_eq!(m.spec.dtype_bytes, 2);
                // Selectable by its own name, from the embedded copy.
                assert_eq!(get(&m.spec.name), m);
                files.push(p.file_name().unwrap().to_str().unwrap().to_string());
            }
        }
        files.sort();
        let mut embedded: Vec<_> = EMBEDDED.iter().map(|e| e.0.to_string()).collect();
        embedded.sort();
        assert_eq!(files, embedded, "add new data/models files to hf::EMBEDDED");
        assert!(files.len() >= 16, "only {} configs", files.len());
    }

    #[test]
    fn required_models_resolve_by_name() {
        for (name, layers) in [
            ("meta-llama/Llama-2-7b-hf", 32),
            ("meta-llama/Llama-2-7b", 32),
            ("meta-llama/Llama-2-70b-hf", 80),
            ("codellama/CodeLlama-34b-Instruct-hf", 48),
            ("meta-llama/Llama-3-8B", 32),
            ("meta-llama/Meta-Llama-3-70B", 80),
            ("meta-llama/Llama-3.1-8B", 32),
            ("META-LLAMA/LLAMA-3.1-70B", 80),
            ("Qwen/Qwen-72B", 80),
            ("qwen/qwen2.5-7b", 28),
            ("Qwen/Qwen2.5-72B", 80),
            ("Qwen/Qwen3-0.6B", 28),
            ("Qwen/Qwen3-8B", 36),
            ("Qwen/Qwen3-32B", 64),
            ("internlm/internlm-20b", 60),
            ("mistralai/Mistral-7B-v0.1", 32),
            ("microsoft/phi-2", 32),
            ("phi-2", 32),
        ] {
            assert_eq!(get(name).spec.num_layers, layers, "{name}");
        }
    }

    #[test]
    fn shapes_match_builtin_table() {
        for name in [
            "meta-llama/Llama-2-7b-hf",
            "meta-llama/Llama-2-70b-hf",
            "codellama/CodeLlama-34b-Instruct-hf",
            "meta-llama/Meta-Llama-3-8B",
            "meta-llama/Meta-Llama-3-70B",
            "internlm/internlm-20b",
            "microsoft/phi-2",
            "Qwen/Qwen-72B",
        ] {
            let hf = get(name).spec;
            let b = ModelSpec::builtin(name).unwrap();
            // Vidur records Llama-2 vocab as 32768; everything else must agree.
            assert_eq!(
                ModelSpec {
                    vocab_size: b.vocab_size,
                    max_position_embeddings: b.max_position_embeddings,
                    ..hf
                },
                b,
                "{name}"
            );
        }
    }

    #[test]
    fn hand_computed_param_counts() {
        // Llama-2-7B: E=4096, F=11008, V=32000, L=32, MHA.
        //   embed + head = 2·32000·4096            =   262,144,000
        //   per layer: attn 4·4096²  = 67,108,864; MLP 3·4096·11008 = 135,266,304;
        //              norms 2·4096 = 8,192        →   202,383,360 · 32 = 6,476,267,520
        //   final norm                             =         4,096
        //   total                                  = 6,738,415,616
        assert_eq!(
            get("meta-llama/Llama-2-7b-hf").params_total(),
            6_738_415_616
        );
        // Llama-3-8B: E=4096, F=14336, V=128256, Hkv=8 (hd 128).
        //   embed + head = 2·128256·4096           = 1,050,673,152
        //   per layer: q,o 2·4096² = 33,554,432; k,v 2·4096·1024 = 8,388,608;
        //              MLP 3·4096·14336 = 176,160,768; norms 8,192 → 218,112,000 · 32
        //                                          = 6,979,584,000
        //   final norm 4,096                       → 8,030,261,248
        assert_eq!(get("Meta-Llama-3-8B").params_total(), 8_030_261_248);
        // Llama-2-70B: E=8192, F=28672, V=32000, L=80, Hkv=8.
        //   embed + head = 2·32000·8192            =   524,288,000
        //   per layer: q,o 2·8192² = 134,217,728; k,v 2·8192·1024 = 16,777,216;
        //              MLP 3·8192·28672 = 704,643,072; norms 16,384 → 855,654,400 · 80
        //                                          = 68,452,352,000
        //   final norm 8,192                       → 68,976,648,192
        assert_eq!(
            get("meta-llama/Llama-2-70b-hf").params_total(),
            68_976_648_192
        );
        // Qwen3-0.6B: E=1024, hd=128, Hq=16, Hkv=8, F=3072, V=151936, L=28, tied.
        //   embed (tied, once) = 151936·1024       =   155,582,464
        //   per layer: q 1024·2048 = 2,097,152; k,v 2·1024·1024 = 2,097,152; o 2,097,152;
        //              MLP 3·1024·3072 = 9,437,184; norms 2·1024 + q/k norm 2·128 = 2,304
        //                                          → 15,730,944 · 28 = 440,466,432
        //   final norm 1,024                       →   596,049,920
        let q3 = get("Qwen/Qwen3-0.6B");
        assert_eq!(q3.spec.head_dim, 128);
        assert!(q3.spec.tie_word_embeddings);
        assert_eq!(q3.params_total(), 596_049_920);
        // phi-2: E=2560, F=10240, V=51200, L=32, LayerNorm, biases everywhere, parallel block.
        //   embed 131,072,000; LM head + bias 131,072,000 + 51,200
        //   per layer: qkv 3·2560²+3·2560 = 19,668,480; dense 2560²+2560 = 6,556,160;
        //              fc1 2560·10240+10240 = 26,224,640; fc2 10240·2560+2560 = 26,216,960;
        //              ln 2·2560 = 5,120 → 78,671,360 · 32 = 2,517,483,520
        //   final ln 5,120                        → 2,779,683,840
        assert_eq!(get("microsoft/phi-2").params_total(), 2_779_683_840);
    }

    #[test]
    fn per_device_weights() {
        let m = get("meta-llama/Llama-2-7b-hf");
        assert_eq!(m.weight_bytes_per_device(1, 1), 2 * 6_738_415_616);
        // PP=2: 16 layers + (final norm 4096 + LM head 131,072,000) on the last stage.
        assert_eq!(
            m.params_per_device(1, 2),
            16 * 202_383_360 + 4_096 + 131_072_000
        );
        // TP=2: per layer 4·4096·2048 + 3·4096·5504 + 8192 = 101,195,776.
        assert_eq!(m.layer_params_per_device(2), 101_195_776);
        assert_eq!(
            m.params_per_device(2, 1),
            32 * 101_195_776 + 2 * 16_000 * 4096 + 4096
        );
        // Qwen3-0.6B tied, PP=1: embedding counted once.
        let q = get("Qwen/Qwen3-0.6B");
        assert_eq!(q.params_per_device(1, 1), q.params_total());
    }

    #[test]
    fn hand_computed_kv_bytes() {
        // 2 · 32 layers · 32 heads · 128 · 2 bytes.
        let l2 = get("meta-llama/Llama-2-7b-hf");
        assert_eq!(l2.kv_bytes_per_token_per_device(1, 1), 524_288);
        assert_eq!(l2.kv_bytes_per_token_per_device(2, 2), 131_072);
        // 2 · 32 · 8 · 128 · 2.
        let l3 = get("meta-llama/Llama-3-8B");
        assert_eq!(l3.kv_bytes_per_token_per_device(1, 1), 131_072);
        // TP=16 > 8 KV heads: one replicated head per device.
        assert_eq!(l3.kv_bytes_per_token_per_device(16, 1), 2 * 32 * 128 * 2);
        assert_eq!(
            l3.clone()
                .with_dtype_bytes(1)
                .kv_bytes_per_token_per_device(1, 1),
            65_536
        );
        // Qwen3-8B: 2 · 36 · 8 · 128 (true head_dim, not 4096/32) · 2.
        assert_eq!(
            get("qwen/qwen3-8b").kv_bytes_per_token_per_device(1, 1),
            147_456
        );
        // Qwen3-32B: hidden/heads is 80 but head_dim is 128.
        let q32 = get("Qwen3-32B");
        assert_eq!(
            (
                q32.spec.embedding_dim / q32.spec.num_q_heads,
                q32.spec.head_dim
            ),
            (80, 128)
        );
    }

    #[test]
    fn family_quirks() {
        let q = get("Qwen/Qwen-72B");
        assert_eq!(
            (
                q.family.as_str(),
                q.spec.mlp_hidden_dim,
                q.spec.num_kv_heads
            ),
            ("qwen", 24576, 64)
        );
        let p = get("microsoft/phi-2");
        assert!(!p.spec.use_gated_mlp && !p.spec.post_attn_norm);
        assert!(get("Qwen/Qwen2.5-7B").spec.use_gated_mlp);
        assert_eq!(get("Llama-3.1-70B").spec.max_position_embeddings, 131_072);
    }

    #[test]
    fn lookup_by_path_and_unknown_name() {
        let p = dir().join("mistralai__Mistral-7B-v0.1.json");
        let m = lookup(p.to_str().unwrap()).unwrap();
        assert_eq!(m.spec.num_kv_heads, 8);
        // A folder holding a config.json.
        let tmp = std::env::temp_dir().join(format!("vidur-search-hf-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join("config.json"), GOOD).unwrap();
        assert_eq!(lookup(tmp.to_str().unwrap()).unwrap().spec.num_layers, 2);
        std::fs::remove_dir_all(&tmp).unwrap();
        let err = lookup("nope/nope").unwrap_err().to_string();
        assert!(err.contains("unknown model 'nope/nope'"), "{err}");
        assert!(err.contains("Qwen/Qwen3-8B"), "{err}");
    }

    const GOOD: &str = r#"{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100,
        "max_position_embeddings": 256}"#;

    #[test]
    fn minimal_config_and_defaults() {
        let m = from_hf_json(GOOD, "mini.json").unwrap();
        assert_eq!(m.spec.name, "mini.json");
        assert_eq!(
            (m.spec.num_kv_heads, m.spec.head_dim, m.spec.dtype_bytes),
            (4, 16, 2)
        );
        assert!(!m.spec.tie_word_embeddings);
    }

    #[test]
    fn quantization_config_sets_the_served_precision() {
        let with = |q: &str| {
            let text = GOOD.replace(
                "\"vocab_size\"",
                &format!("\"quantization_config\": {q}, \"vocab_size\""),
            );
            from_hf_json(&text, "q.json")
        };
        let plain = from_hf_json(GOOD, "q.json").unwrap();
        assert_eq!(plain.quantization, None);
        assert_eq!(
            (plain.spec.precision, plain.spec.kv_cache_dtype),
            (Precision::Bf16, KvCacheDtype::Auto)
        );
        // Qwen/Qwen3-32B-FP8: block-scaled FP8 weights, 16-bit KV cache.
        let qwen = with(
            r#"{"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                "weight_block_size": [128, 128]}"#,
        )
        .unwrap();
        assert_eq!(
            (qwen.spec.precision, qwen.spec.kv_cache_dtype),
            (Precision::Fp8, KvCacheDtype::Auto)
        );
        assert_eq!(qwen.quantization.unwrap().method, "fp8");
        // nvidia/...-FP8 (ModelOpt) with FP8 KV-cache scales.
        let nv = with(
            r#"{"quant_method": "modelopt", "quant_algo": "FP8", "kv_cache_quant_algo": "FP8"}"#,
        )
        .unwrap();
        assert_eq!(
            (nv.spec.precision, nv.spec.kv_cache_dtype),
            (Precision::Fp8, KvCacheDtype::Fp8)
        );
        // compressed-tensors FP8 (RedHatAI/...-FP8-dynamic), no KV scheme.
        let ct = with(
            r#"{"quant_method": "compressed-tensors", "config_groups": {"group_0":
                {"weights": {"num_bits": 8, "type": "float"}}}}"#,
        )
        .unwrap();
        assert_eq!(
            (ct.spec.precision, ct.spec.kv_cache_dtype),
            (Precision::Fp8, KvCacheDtype::Auto)
        );
        // 4-bit schemes are not priced: an error naming the method, not a 16-bit simulation.
        let err = with(r#"{"quant_method": "awq", "bits": 4}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("quant_method 'awq'") && err.contains("q.json"),
            "{err}"
        );
        let err = with(r#"{"quant_method": "modelopt", "quant_algo": "NVFP4"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("quant_algo 'nvfp4'"), "{err}");
        let err = with(r#"{"bits": 4}"#).unwrap_err().to_string();
        assert!(err.contains("quantization_config.quant_method"), "{err}");
        let err = with("4").unwrap_err().to_string();
        assert!(err.contains("quantization_config"), "{err}");
    }

    #[test]
    fn clear_errors() {
        let missing = GOOD.replace(r#""num_hidden_layers": 2,"#, "");
        let err = from_hf_json(&missing, "cfg.json").unwrap_err().to_string();
        assert!(
            err.contains("cfg.json") && err.contains("missing required key 'num_hidden_layers"),
            "{err}"
        );

        let wrong = GOOD.replace(r#""hidden_size": 64"#, r#""hidden_size": "64""#);
        let err = from_hf_json(&wrong, "cfg.json").unwrap_err().to_string();
        assert!(
            err.contains("'hidden_size'") && err.contains("integer") && err.contains("string"),
            "{err}"
        );

        let err = from_hf_json("{\n  \"hidden_size\": 64,\n  oops\n}", "bad.json").unwrap_err();
        match &err {
            CatalogError::ConfigJson { line, column, .. } => assert_eq!((*line, *column), (3, 3)),
            e => panic!("{e}"),
        }
        assert!(
            err.to_string().contains("bad.json: invalid JSON at line 3"),
            "{err}"
        );

        let odd = GOOD.replace(r#""num_attention_heads": 4"#, r#""num_attention_heads": 5"#);
        let err = from_hf_json(&odd, "cfg.json").unwrap_err().to_string();
        assert!(err.contains("does not divide hidden_size"), "{err}");

        let gqa = GOOD.replace(
            "\"vocab_size\"",
            "\"num_key_value_heads\": 3, \"vocab_size\"",
        );
        let err = from_hf_json(&gqa, "cfg.json").unwrap_err().to_string();
        assert!(err.contains("num_key_value_heads 3"), "{err}");

        let moe = GOOD.replace("\"vocab_size\"", "\"num_local_experts\": 8, \"vocab_size\"");
        assert!(from_hf_json(&moe, "m")
            .unwrap_err()
            .to_string()
            .contains("mixture-of-experts"));

        let err = from_hf_json("[1]", "arr.json").unwrap_err().to_string();
        assert!(err.contains("JSON object"), "{err}");

        let err = from_hf_config(Path::new("/no/such/file.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read"), "{err}");
    }
}
