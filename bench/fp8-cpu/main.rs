//! The CPU FP8 GEMM's speed (`bench/fp8-cpu/run.sh`): the fast path in GFLOP/s on DeepGEMM's
//! and MiniLM's shapes, beside the f32 GEMM on the same shapes (`matmul_nt`: the `gemm` crate's
//! kernels, which both paths run on; the baseline, measured in the same run) and this machine's
//! peak f32 rate, and beside the plain reference on the smallest shapes. Best of a few runs
//! each. M from 1 to 64 shows the few-row products (a handful of tokens against a weight).

// Shared with the tests, which use all of it; this benchmark only some.
#[allow(dead_code)]
#[path = "../../gpu-ops/tests/ops/support.rs"]
mod support;

#[path = "../cpu_timing.rs"]
mod cpu_timing;

use cpu_timing::{best, peak};
use support::Rng;
use tarn_gpu::fp8::{Grouping, fast, quantize, reference};
use tarn_gpu::matmul::matmul_nt;

fn main() {
    let (peak_gflops, formula) = peak();
    println!("peak f32: {peak_gflops:.0} GFLOP/s = {formula}\n");
    println!(
        "| m | n | k | fp8 fast GFLOP/s | f32 gemm GFLOP/s | fast / f32 | fast / peak | reference GFLOP/s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let shapes = [
        (1, 4096, 7168),
        (4, 4096, 7168),
        (5, 4096, 7168),
        (16, 4096, 7168),
        (32, 4096, 7168),
        (64, 4096, 7168),
        (128, 2112, 7168),
        (128, 4096, 7168),
        (128, 7168, 2048),
        (1024, 4096, 7168),
        (2048, 384, 384),
        (2048, 1536, 384),
        (2048, 384, 1536),
    ];
    for (m, n, k) in shapes {
        let mut rng = Rng(1);
        let (x, w) = (rng.matrix(m, k), rng.matrix(n, k));
        let a = quantize(&x, m, k, Grouping::PerToken, false);
        let b = quantize(&w, n, k, Grouping::PerBlock, false);
        let flops = 2.0 * (m * n * k) as f64;
        let runs = if flops > 2e10 { 2 } else { 5 };
        let fast_s = best(runs, || {
            std::hint::black_box(fast::gemm_fp8_nt(&a, &b));
        });
        let f32_s = best(runs, || {
            std::hint::black_box(matmul_nt(&x, m, &w, n, k));
        });
        let reference = if flops <= 2e9 {
            let s = best(1, || {
                std::hint::black_box(reference::gemm_fp8_nt(&a, &b));
            });
            format!("{:.1}", flops / s / 1e9)
        } else {
            "-".to_string()
        };
        let (fast_gflops, f32_gflops) = (flops / fast_s / 1e9, flops / f32_s / 1e9);
        println!(
            "| {m} | {n} | {k} | {fast_gflops:.1} | {f32_gflops:.1} | {:.2} | {:.0}% | {reference} |",
            fast_gflops / f32_gflops,
            100.0 * fast_gflops / peak_gflops
        );
    }
}
