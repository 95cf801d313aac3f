//! A MiniLM model folder for the GPU check where the real one is not installed (the GPU
//! machines reach no package index, and the 90 MB weights are too large to carry): random
//! weights under all-MiniLM-L6-v2's tensor names and shapes, and a word-level tokenizer over
//! words `w0`, `w1`, … with BERT's `[CLS]`/`[SEP]`. Comparing the CUDA encoder with the CPU's
//! needs the model's shapes, not its training; and its speed is the same.

use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use serde_json::json;

use crate::support::Rng;

const HIDDEN: usize = 384;
const FEED_FORWARD: usize = 1536;
const LAYERS: usize = 6;
/// The real vocabulary's size; the tokenizer's words fill it after the four special tokens.
const VOCAB: usize = 30522;
const SPECIAL: [&str; 4] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"];

/// Writes `model.safetensors` and `tokenizer.json` into `dir`.
pub fn write(dir: &Path) {
    let mut rng = Rng(11);
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut add = |name: String, shape: Vec<usize>, spread: f32, centre: f32| {
        let len: usize = shape.iter().product();
        let bytes = (0..len)
            .flat_map(|_| (centre + rng.unit() * spread).to_le_bytes())
            .collect();
        tensors.push((name, shape, bytes));
    };
    // BERT's initialisation scale (0.02 standard deviation) for weights and embeddings.
    let weights = 0.035;
    add(
        "embeddings.word_embeddings.weight".into(),
        vec![VOCAB, HIDDEN],
        weights,
        0.0,
    );
    add(
        "embeddings.position_embeddings.weight".into(),
        vec![512, HIDDEN],
        weights,
        0.0,
    );
    add(
        "embeddings.token_type_embeddings.weight".into(),
        vec![2, HIDDEN],
        weights,
        0.0,
    );
    let norm = |add: &mut dyn FnMut(String, Vec<usize>, f32, f32), name: &str| {
        add(format!("{name}.weight"), vec![HIDDEN], 0.1, 1.0);
        add(format!("{name}.bias"), vec![HIDDEN], 0.02, 0.0);
    };
    let linear =
        |add: &mut dyn FnMut(String, Vec<usize>, f32, f32), name: &str, outputs, inputs| {
            add(
                format!("{name}.weight"),
                vec![outputs, inputs],
                weights,
                0.0,
            );
            add(format!("{name}.bias"), vec![outputs], 0.02, 0.0);
        };
    norm(&mut add, "embeddings.LayerNorm");
    for layer in 0..LAYERS {
        let name = |part: &str| format!("encoder.layer.{layer}.{part}");
        for part in ["query", "key", "value"] {
            linear(
                &mut add,
                &name(&format!("attention.self.{part}")),
                HIDDEN,
                HIDDEN,
            );
        }
        linear(&mut add, &name("attention.output.dense"), HIDDEN, HIDDEN);
        norm(&mut add, &name("attention.output.LayerNorm"));
        linear(&mut add, &name("intermediate.dense"), FEED_FORWARD, HIDDEN);
        linear(&mut add, &name("output.dense"), HIDDEN, FEED_FORWARD);
        norm(&mut add, &name("output.LayerNorm"));
    }
    let views = tensors.iter().map(|(name, shape, bytes)| {
        let view = TensorView::new(Dtype::F32, shape.clone(), bytes).expect("tensor view");
        (name.clone(), view)
    });
    safetensors::serialize_to_file(views, None, &dir.join("model.safetensors"))
        .expect("write model.safetensors");

    let vocab: serde_json::Map<String, serde_json::Value> = SPECIAL
        .iter()
        .map(|s| s.to_string())
        .chain((0..VOCAB - SPECIAL.len()).map(|i| format!("w{i}")))
        .enumerate()
        .map(|(id, word)| (word, json!(id)))
        .collect();
    let tokenizer = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [],
        "normalizer": null,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"},
    });
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).expect("write tokenizer");
}

/// `count` texts of the synthetic words: 8 to 30 words, a tenth 60 to 200, as `bench/embed`
/// draws its sentences.
pub fn texts(count: usize) -> Vec<String> {
    let mut rng = Rng(12);
    (0..count)
        .map(|_| {
            let words = if rng.between(0, 9) == 0 {
                rng.between(60, 200)
            } else {
                rng.between(8, 30)
            };
            (0..words)
                .map(|_| format!("w{}", rng.between(0, VOCAB - SPECIAL.len() - 1)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}
