//! all-MiniLM-L6-v2 against sentence-transformers' own output (`minilm_ref.json`): the same
//! token ids, embeddings within 1e-5 in f32, cosine ≥ 0.995 with FP8 linear layers. The model
//! comes from TARN_MODEL_DIR or the installed PyPI package (scripts/test installs it).

use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;
use tarn_gpu::minilm::{DIMENSIONS, MiniLm, ModelError, Precision};

use crate::fixtures::fixture;

fn model() -> &'static MiniLm {
    static MODEL: OnceLock<MiniLm> = OnceLock::new();
    MODEL.get_or_init(|| MiniLm::from_environment().unwrap_or_else(|e| panic!("{e}")))
}

fn reference() -> Value {
    fixture("minilm_ref.json")
}

fn sentences(reference: &Value) -> Vec<String> {
    reference["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn floats(value: &Value) -> Vec<f32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| match v {
            Value::Array(_) => floats(v),
            number => vec![number.as_f64().unwrap() as f32],
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

fn max_error(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f32::max)
}

#[test]
fn minilm_tokenizes_and_embeds_as_sentence_transformers() {
    let reference = reference();
    let texts = sentences(&reference);
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let tokens = model().tokenize(&texts).unwrap();
    let ids: Vec<u32> = floats(&reference["input_ids"])
        .iter()
        .map(|&v| v as u32)
        .collect();
    let mask: Vec<bool> = floats(&reference["attention_mask"])
        .iter()
        .map(|&v| v == 1.0)
        .collect();
    assert_eq!(tokens.ids, ids, "token ids");
    assert_eq!(tokens.mask, mask, "attention mask");

    // The fixture's `layer0_cls_hidden_first8` is the first text's [CLS] state after the last
    // layer (it matches no earlier layer's output): the encoder before pooling.
    let hidden = model().hidden_states(&tokens, 6, Precision::F32);
    let want = floats(&reference["layer0_cls_hidden_first8"]);
    assert!(
        max_error(&hidden[..8], &want) <= 1e-5,
        "{:?} vs {want:?}",
        &hidden[..8]
    );

    let want = floats(&reference["embeddings"]);
    let got = model().embed(&texts, Precision::F32).unwrap();
    assert!(
        max_error(&got, &want) <= 1e-5,
        "f32 embeddings: max abs error {}",
        max_error(&got, &want)
    );
    let cosines: Vec<f32> = (0..3)
        .flat_map(|i| (0..3).map(move |j| (i, j)))
        .map(|(i, j)| {
            cosine(
                &got[i * DIMENSIONS..][..DIMENSIONS],
                &got[j * DIMENSIONS..][..DIMENSIONS],
            ) as f32
        })
        .collect();
    assert!(
        max_error(&cosines, &floats(&reference["cosine_matrix"])) <= 1e-5,
        "{cosines:?}"
    );

    let fp8 = model().embed(&texts, Precision::Fp8).unwrap();
    for i in 0..3 {
        let similarity = cosine(
            &fp8[i * DIMENSIONS..][..DIMENSIONS],
            &want[i * DIMENSIONS..][..DIMENSIONS],
        );
        assert!(similarity >= 0.995, "fp8 sentence {i}: cosine {similarity}");
    }
}

#[test]
fn batching_and_padding_never_change_an_embedding() {
    // Out of order, with a long text (truncated at 256 tokens) and an empty one, in batches
    // larger than one run: each text's embedding equals the one it gets alone.
    let long = "tokens ".repeat(400);
    let mut texts: Vec<String> = (0..70)
        .map(|i| format!("document number {i} about {}", "data ".repeat(i % 9)))
        .collect();
    texts.insert(5, long);
    texts.insert(9, String::new());
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let together = model().embed(&texts, Precision::F32).unwrap();
    for (i, text) in texts
        .iter()
        .enumerate()
        .step_by(7)
        .chain([(5, &texts[5]), (9, &texts[9])])
    {
        let alone = model().embed(&[text], Precision::F32).unwrap();
        let error = max_error(&together[i * DIMENSIONS..][..DIMENSIONS], &alone);
        assert!(error <= 1e-6, "text {i}: {error}");
    }
    let norm: f32 = together[..DIMENSIONS]
        .iter()
        .map(|v| v * v)
        .sum::<f32>()
        .sqrt();
    assert!(
        (norm - 1.0).abs() < 1e-5,
        "embeddings are unit vectors: {norm}"
    );
}

#[test]
fn a_missing_model_is_one_line_naming_the_folder() {
    let err = match MiniLm::load(Path::new("/nonexistent/minilm")) {
        Err(e) => e,
        Ok(_) => panic!("loaded a model from nowhere"),
    };
    assert!(matches!(err, ModelError::File(_)));
    let line = err.to_string();
    assert!(
        line.starts_with("/nonexistent/minilm/model.safetensors: "),
        "{line}"
    );
    assert!(!line.contains('\n'), "{line}");
}
