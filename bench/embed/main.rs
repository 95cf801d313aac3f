//! MiniLM embedding throughput on the CPU (`bench/embed/run.sh`): texts and tokens per second
//! for f32 and FP8 linear layers, on synthetic texts of three lengths, best of three runs.

use std::time::Instant;

use tarn_gpu::minilm::{MiniLm, Precision};

fn main() {
    let model = MiniLm::from_environment().unwrap_or_else(|e| panic!("{e}"));
    let words = [
        "data", "river", "model", "quality", "mountain", "token", "weather", "corpus",
    ];
    println!("| words per text | texts | precision | texts/s | tokens/s |");
    println!("|---|---|---|---|---|");
    for (per_text, count) in [(8, 2048), (40, 1024), (200, 256)] {
        let texts: Vec<String> = (0..count)
            .map(|i| {
                (0..per_text)
                    .map(|j| words[(i * 7 + j * 3) % words.len()])
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let tokens: usize = model.tokenize(&texts[..1]).map(|t| t.len).unwrap_or(0) * count;
        for precision in [Precision::F32, Precision::Fp8] {
            let seconds = (0..3)
                .map(|_| {
                    let start = Instant::now();
                    std::hint::black_box(model.embed(&texts, precision).unwrap());
                    start.elapsed().as_secs_f64()
                })
                .fold(f64::INFINITY, f64::min);
            println!(
                "| {per_text} | {count} | {precision:?} | {:.0} | {:.0} |",
                count as f64 / seconds,
                tokens as f64 / seconds
            );
        }
    }
}
