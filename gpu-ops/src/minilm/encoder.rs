//! The BERT encoder of all-MiniLM-L6-v2 on Tarn's operators: embeddings (word + position +
//! token type 0) and LayerNorm, then six layers of multi-head self-attention with the key
//! padding mask and a GELU feed-forward block, each followed by a residual LayerNorm
//! (eps 1e-12). Linear layers run through the f32 GEMM, or quantised to E4M3 (activations per
//! token, weights per 128×128 block) through the FP8 GEMM; attention through
//! [`attention_fast`].

use std::path::Path;
use std::sync::OnceLock;

use super::Precision;
use super::files::ModelError;
use super::gelu::gelu_in_place;
use crate::attention::{AttentionShape, attention_fast};
use crate::fp8::{Fp8Matrix, Grouping, fast, quantize};
use crate::matmul::matmul_nt;
use crate::weights::Tensors;

/// Hidden width.
pub(crate) const HIDDEN: usize = 384;
pub(crate) const HEADS: usize = 12;
pub(crate) const HEAD_DIM: usize = HIDDEN / HEADS;
const FEED_FORWARD: usize = 1536;
const LAYERS: usize = 6;
const VOCAB: usize = 30522;
const POSITIONS: usize = 512;
const NORM_EPS: f64 = 1e-12;

/// `y = x·Wᵀ + b`, with W kept in f32 and, for the FP8 path, quantised per block on its first
/// use (so that a model only ever run in f32 never pays for it).
pub(crate) struct Linear {
    pub(crate) weight: Vec<f32>,
    weight_fp8: OnceLock<Fp8Matrix>,
    pub(crate) bias: Vec<f32>,
    pub(crate) outputs: usize,
    pub(crate) inputs: usize,
}

impl Linear {
    fn load(
        tensors: &Tensors,
        name: &str,
        outputs: usize,
        inputs: usize,
    ) -> Result<Self, ModelError> {
        let weight = tensors.f32(&format!("{name}.weight"), outputs * inputs)?;
        Ok(Linear {
            weight_fp8: OnceLock::new(),
            bias: tensors.f32(&format!("{name}.bias"), outputs)?,
            weight,
            outputs,
            inputs,
        })
    }

    /// The weight quantised to E4M3 per 128×128 block.
    pub(crate) fn weight_fp8(&self) -> &Fp8Matrix {
        self.weight_fp8.get_or_init(|| {
            quantize(
                &self.weight,
                self.outputs,
                self.inputs,
                Grouping::PerBlock,
                false,
            )
        })
    }

    fn apply(&self, x: &[f32], rows: usize, precision: Precision) -> Vec<f32> {
        let mut y = match precision {
            Precision::F32 => matmul_nt(x, rows, &self.weight, self.outputs, self.inputs),
            Precision::Fp8 => {
                let x = quantize(x, rows, self.inputs, Grouping::PerToken, false);
                fast::gemm_fp8_nt(&x, self.weight_fp8())
            }
        };
        for row in y.chunks_exact_mut(self.outputs) {
            for (v, b) in row.iter_mut().zip(&self.bias) {
                *v += b;
            }
        }
        y
    }
}

/// LayerNorm over the hidden width.
pub(crate) struct Norm {
    pub(crate) gamma: Vec<f32>,
    pub(crate) beta: Vec<f32>,
}

impl Norm {
    fn load(tensors: &Tensors, name: &str) -> Result<Self, ModelError> {
        Ok(Norm {
            gamma: tensors.f32(&format!("{name}.weight"), HIDDEN)?,
            beta: tensors.f32(&format!("{name}.bias"), HIDDEN)?,
        })
    }

    /// Normalises every row of `x` in place (mean and variance in f64).
    fn apply(&self, x: &mut [f32]) {
        for row in x.chunks_exact_mut(HIDDEN) {
            let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / HIDDEN as f64;
            let variance = row
                .iter()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum::<f64>()
                / HIDDEN as f64;
            let inverse = 1.0 / (variance + NORM_EPS).sqrt();
            for ((v, g), b) in row.iter_mut().zip(&self.gamma).zip(&self.beta) {
                *v = ((f64::from(*v) - mean) * inverse) as f32 * g + b;
            }
        }
    }
}

pub(crate) struct Layer {
    pub(crate) query: Linear,
    pub(crate) key: Linear,
    pub(crate) value: Linear,
    pub(crate) attention_output: Linear,
    pub(crate) attention_norm: Norm,
    pub(crate) intermediate: Linear,
    pub(crate) output: Linear,
    pub(crate) output_norm: Norm,
}

impl Layer {
    fn load(tensors: &Tensors, layer: usize) -> Result<Self, ModelError> {
        let name = |part: &str| format!("encoder.layer.{layer}.{part}");
        let square = |part: &str| Linear::load(tensors, &name(part), HIDDEN, HIDDEN);
        Ok(Layer {
            query: square("attention.self.query")?,
            key: square("attention.self.key")?,
            value: square("attention.self.value")?,
            attention_output: square("attention.output.dense")?,
            attention_norm: Norm::load(tensors, &name("attention.output.LayerNorm"))?,
            intermediate: Linear::load(tensors, &name("intermediate.dense"), FEED_FORWARD, HIDDEN)?,
            output: Linear::load(tensors, &name("output.dense"), HIDDEN, FEED_FORWARD)?,
            output_norm: Norm::load(tensors, &name("output.LayerNorm"))?,
        })
    }

    /// One encoder layer over `x` (`[batch·len, HIDDEN]`) in place.
    fn apply(
        &self,
        x: &mut Vec<f32>,
        mask: &[bool],
        batch: usize,
        len: usize,
        precision: Precision,
    ) {
        let rows = batch * len;
        let q = self.query.apply(x, rows, precision);
        let k = self.key.apply(x, rows, precision);
        let v = self.value.apply(x, rows, precision);
        // [batch·len, HIDDEN] is [b, s, heads, head_dim] already.
        let shape = AttentionShape {
            batch,
            s_q: len,
            s_k: len,
            heads: HEADS,
            d: HEAD_DIM,
            dv: HEAD_DIM,
        };
        let context = attention_fast(&q, &k, &v, mask, shape, 1.0 / (HEAD_DIM as f32).sqrt()).out;
        let mut attended = self.attention_output.apply(&context, rows, precision);
        add(&mut attended, x);
        self.attention_norm.apply(&mut attended);
        let mut hidden = self.intermediate.apply(&attended, rows, precision);
        gelu_in_place(&mut hidden);
        let mut out = self.output.apply(&hidden, rows, precision);
        add(&mut out, &attended);
        self.output_norm.apply(&mut out);
        *x = out;
    }
}

fn add(into: &mut [f32], other: &[f32]) {
    into.iter_mut().zip(other).for_each(|(a, b)| *a += b);
}

/// The encoder's weights.
pub(crate) struct Encoder {
    pub(crate) words: Vec<f32>,
    pub(crate) positions: Vec<f32>,
    pub(crate) token_type: Vec<f32>,
    pub(crate) embedding_norm: Norm,
    pub(crate) layers: Vec<Layer>,
}

impl Encoder {
    pub(crate) fn load(bytes: &[u8], path: &Path) -> Result<Self, ModelError> {
        let tensors = Tensors::parse(bytes, path)?;
        let token_types = tensors.f32("embeddings.token_type_embeddings.weight", 2 * HIDDEN)?;
        Ok(Encoder {
            words: tensors.f32("embeddings.word_embeddings.weight", VOCAB * HIDDEN)?,
            positions: tensors.f32("embeddings.position_embeddings.weight", POSITIONS * HIDDEN)?,
            token_type: token_types[..HIDDEN].to_vec(),
            embedding_norm: Norm::load(&tensors, "embeddings.LayerNorm")?,
            layers: (0..LAYERS)
                .map(|layer| Layer::load(&tensors, layer))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The hidden states (`[batch·len, HIDDEN]`) after the embeddings and the first `layers`
    /// encoder layers, for `ids` padded to `len` per sequence.
    pub(crate) fn hidden_states(
        &self,
        ids: &[u32],
        mask: &[bool],
        len: usize,
        layers: usize,
        precision: Precision,
    ) -> Vec<f32> {
        assert!(len <= POSITIONS, "at most {POSITIONS} tokens");
        let batch = ids.len() / len.max(1);
        let mut x = Vec::with_capacity(ids.len() * HIDDEN);
        for (i, &id) in ids.iter().enumerate() {
            let word = &self.words[id as usize * HIDDEN..][..HIDDEN];
            let position = &self.positions[(i % len) * HIDDEN..][..HIDDEN];
            x.extend(
                word.iter()
                    .zip(position)
                    .zip(&self.token_type)
                    .map(|((w, p), t)| w + p + t),
            );
        }
        self.embedding_norm.apply(&mut x);
        for layer in &self.layers[..layers.min(LAYERS)] {
            layer.apply(&mut x, mask, batch, len, precision);
        }
        x
    }

    /// Sentence embeddings: the last hidden states averaged over each sequence's real tokens,
    /// then L2-normalised (`[batch, HIDDEN]`).
    pub(crate) fn embed(
        &self,
        ids: &[u32],
        mask: &[bool],
        len: usize,
        precision: Precision,
    ) -> Vec<f32> {
        let hidden = self.hidden_states(ids, mask, len, LAYERS, precision);
        let mut out = Vec::with_capacity(ids.len() / len.max(1) * HIDDEN);
        for (states, mask) in hidden
            .chunks_exact(len * HIDDEN)
            .zip(mask.chunks_exact(len))
        {
            let mut sum = vec![0.0f64; HIDDEN];
            let mut count = 0.0f64;
            for (state, _) in states.chunks_exact(HIDDEN).zip(mask).filter(|(_, m)| **m) {
                sum.iter_mut()
                    .zip(state)
                    .for_each(|(s, v)| *s += f64::from(*v));
                count += 1.0;
            }
            let mean: Vec<f64> = sum.iter().map(|s| s / count.max(1e-9)).collect();
            let norm = mean.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
            out.extend(mean.iter().map(|v| (v / norm) as f32));
        }
        out
    }
}
