//! Tarn's half of `bench/embed/run.sh`: embeds the texts of a file (one per line) with MiniLM in
//! f32 and in FP8, the fastest of `repeat` runs each, and prints one JSON line per precision.
//! The f32 and FP8 embeddings are written beside (`OUT.f32`, `OUT.fp8`: little-endian f32, 384
//! per text) so that the comparison script can check them against sentence-transformers'.
//!
//! `cargo bench -p tarn-gpu --bench embed -- TEXTS OUT [REPEAT]`; the thread count is rayon's
//! (`RAYON_NUM_THREADS`).

use std::time::Instant;

use tarn_gpu::minilm::{MiniLm, Precision, locate_model};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(texts_path), Some(out)) = (args.first(), args.get(1)) else {
        eprintln!("usage: embed TEXTS OUT [REPEAT]");
        std::process::exit(2);
    };
    let repeat: usize = args
        .get(2)
        .map_or(3, |r| r.parse().expect("REPEAT: a count"));
    let dir = locate_model().unwrap_or_else(|e| panic!("{e}"));
    let model = MiniLm::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(texts_path).unwrap_or_else(|e| panic!("{texts_path}: {e}"));
    let texts: Vec<&str> = text.lines().collect();
    println!("{{\"model_dir\": {:?}}}", dir.display().to_string());
    for (precision, name) in [(Precision::F32, "f32"), (Precision::Fp8, "fp8")] {
        let mut best = f64::INFINITY;
        let mut embeddings = Vec::new();
        for _ in 0..repeat {
            let start = Instant::now();
            embeddings = model.embed(&texts, precision).unwrap();
            best = best.min(start.elapsed().as_secs_f64());
        }
        let bytes: Vec<u8> = embeddings.iter().flat_map(|v| v.to_le_bytes()).collect();
        let path = format!("{out}.{name}");
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
        println!(
            "{{\"precision\": \"{name}\", \"texts\": {}, \"seconds\": {best:.4}, \"threads\": {}}}",
            texts.len(),
            rayon::current_num_threads()
        );
    }
}
