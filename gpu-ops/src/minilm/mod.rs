//! all-MiniLM-L6-v2, the sentence-transformers embedding model, on Tarn's own operators:
//! texts to 384-dimensional L2-normalised vectors, in f32 (within 1e-5 of sentence-transformers)
//! or with its linear layers in FP8 (cosine ≥ 0.995 to the f32 result).
//!
//! Tokenisation is the model's `tokenizer.json` through the `tokenizers` crate with
//! sentence-transformers' settings rather than the file's (which pads to a fixed 128): at most
//! 256 tokens, padded to the longest text of each batch. Texts are sorted by length and run in
//! batches, so that short texts are not padded to long ones, and the embeddings come back in
//! the texts' order.
//!
//! The encoder runs on the [`Device`] `TARN_DEVICE` picks: on the CPU, batches of
//! `CPU_BATCH` in parallel; on CUDA, batches of `GPU_BATCH` one after another with the
//! weights uploaded once when the model loads and kept on the device.

pub(crate) mod encoder;
mod files;
mod gelu;

use std::path::Path;

use rayon::prelude::*;
use tokenizers::Tokenizer;

use crate::device::Device;
use crate::weights::{self, WeightsError};

pub use files::{ModelError, locate_model};

use encoder::{Encoder, HIDDEN};

/// The width of an embedding.
pub const DIMENSIONS: usize = HIDDEN;

/// Tokens per text at most (sentence-transformers' `max_seq_length` for this model).
const MAX_TOKENS: usize = 256;

/// Texts per encoder run on the CPU (each batch on one thread).
const CPU_BATCH: usize = 64;

/// Texts per encoder run on a GPU, whose batches run one at a time.
#[cfg(feature = "cuda")]
const GPU_BATCH: usize = 256;

/// On a GPU, batches are padded to a multiple of this many tokens, so that the attention
/// kernel (compiled per sequence length) is compiled at most `MAX_TOKENS / 32` times.
#[cfg(feature = "cuda")]
const GPU_TOKEN_MULTIPLE: usize = 32;

/// How the linear layers compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    F32,
    /// E4M3 activations (per token) and weights (per 128×128 block), f32 accumulation.
    Fp8,
}

/// Token ids of a batch padded to its longest text, and the mask of real tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct Tokens {
    pub ids: Vec<u32>,
    pub mask: Vec<bool>,
    /// Tokens per text after padding.
    pub len: usize,
}

/// Where the encoder runs.
enum Runner {
    Cpu,
    #[cfg(feature = "cuda")]
    Cuda(Box<crate::cuda::minilm::DeviceEncoder>),
}

/// The loaded model.
pub struct MiniLm {
    tokenizer: Tokenizer,
    encoder: Encoder,
    runner: Runner,
}

impl MiniLm {
    /// Loads `model.safetensors` and `tokenizer.json` from `dir` for the device
    /// `TARN_DEVICE` picks ([`Device::from_env`]).
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        MiniLm::load_on(dir, Device::from_env()?)
    }

    /// Loads the model from `dir` to run on `device` (its weights copied there).
    pub fn load_on(dir: &Path, device: Device) -> Result<Self, ModelError> {
        let weights_path = dir.join("model.safetensors");
        let encoder = Encoder::load(&weights::read(&weights_path)?, &weights_path)?;
        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| WeightsError::new(&tokenizer_path, e))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let runner = match &device {
            Device::Cpu => Runner::Cpu,
            #[cfg(feature = "cuda")]
            Device::Cuda(gpu) => Runner::Cuda(Box::new(
                crate::cuda::minilm::DeviceEncoder::upload(gpu.clone(), &encoder)?,
            )),
        };
        Ok(MiniLm {
            tokenizer,
            encoder,
            runner,
        })
    }

    /// The model [`locate_model`] finds.
    pub fn from_environment() -> Result<Self, ModelError> {
        MiniLm::load(&locate_model()?)
    }

    /// Token ids of each text, at most 256 each, unpadded.
    fn token_ids(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, ModelError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        Ok(encodings.iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// The texts as one batch padded to the longest (what sentence-transformers feeds the
    /// model).
    pub fn tokenize(&self, texts: &[&str]) -> Result<Tokens, ModelError> {
        Ok(pad(&self.token_ids(texts)?, 1))
    }

    /// Hidden states `[texts·len, 384]` of one padded batch after the embeddings and the first
    /// `layers` encoder layers, on the CPU whatever the device: what the layer-by-layer checks
    /// compare.
    pub fn hidden_states(&self, tokens: &Tokens, layers: usize, precision: Precision) -> Vec<f32> {
        self.encoder
            .hidden_states(&tokens.ids, &tokens.mask, tokens.len, layers, precision)
    }

    /// One L2-normalised embedding of [`DIMENSIONS`] values per text, in the texts' order.
    pub fn embed(&self, texts: &[&str], precision: Precision) -> Result<Vec<f32>, ModelError> {
        let ids = self.token_ids(texts)?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let batch_tokens = |batch: &[usize], multiple: usize| {
            pad(
                &batch.iter().map(|&i| ids[i].clone()).collect::<Vec<_>>(),
                multiple,
            )
        };
        let batches: Vec<Vec<f32>> = match &self.runner {
            Runner::Cpu => order
                .par_chunks(CPU_BATCH)
                .map(|batch| {
                    let tokens = batch_tokens(batch, 1);
                    self.encoder
                        .embed(&tokens.ids, &tokens.mask, tokens.len, precision)
                })
                .collect(),
            #[cfg(feature = "cuda")]
            Runner::Cuda(encoder) => order
                .chunks(GPU_BATCH)
                .map(|batch| {
                    let tokens = batch_tokens(batch, GPU_TOKEN_MULTIPLE);
                    encoder.embed(&tokens.ids, &tokens.mask, tokens.len, precision)
                })
                .collect::<Result<_, crate::device::DeviceError>>()?,
        };
        let mut out = vec![0.0f32; texts.len() * DIMENSIONS];
        for (&text, embedding) in order
            .iter()
            .zip(batches.iter().flat_map(|b| b.chunks_exact(DIMENSIONS)))
        {
            out[text * DIMENSIONS..(text + 1) * DIMENSIONS].copy_from_slice(embedding);
        }
        Ok(out)
    }
}

/// Pads token id lists with id 0 (`[PAD]`) to the longest, rounded up to a multiple of
/// `multiple`.
fn pad(ids: &[Vec<u32>], multiple: usize) -> Tokens {
    let longest = ids.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let len = longest.next_multiple_of(multiple);
    let mut tokens = Tokens {
        ids: Vec::with_capacity(ids.len() * len),
        mask: Vec::with_capacity(ids.len() * len),
        len,
    };
    for text in ids {
        tokens
            .ids
            .extend(text.iter().copied().chain(std::iter::repeat(0)).take(len));
        tokens
            .mask
            .extend((0..len).map(|position| position < text.len()));
    }
    tokens
}
