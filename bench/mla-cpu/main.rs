//! MLA decode on the CPU (`bench/mla-cpu/run.sh`): the path `Device::Cpu` runs
//! (`mla_decode_fast`, two f32 matrix products per sequence and KV head) against the plain
//! reference (`mla_decode`, f64 sums one query row at a time; the baseline, measured in the same
//! run), from f32 and bf16 caches, on FlashMLA's head counts with DeepSeek's widths (d = 576,
//! dv = 512, pages of 64). Best of a few runs of the fast path, one of the reference.

// Shared with the tests, which use all of it; this benchmark only some.
#[allow(dead_code)]
#[path = "../../gpu-ops/tests/ops/support.rs"]
mod support;

#[path = "../cpu_timing.rs"]
mod cpu_timing;

use cpu_timing::{best, peak};
use support::Rng;
use tarn_gpu::mla::{KvBlocks, KvCache, MlaShape, bf16, mla_decode, mla_decode_fast};

fn main() {
    let (batch, d, dv, block_size) = (8, 576, 512, 64);
    let mut rng = Rng(9);
    let seqlens: Vec<i32> = (0..batch).map(|_| rng.between(512, 1536) as i32).collect();
    let max_blocks = seqlens
        .iter()
        .map(|&l| l as usize)
        .max()
        .unwrap()
        .div_ceil(block_size);
    let block_table: Vec<i32> = (0..(batch * max_blocks) as i32).collect();
    let blocks: Vec<f32> = (0..batch * max_blocks * block_size * d)
        .map(|_| rng.unit())
        .collect();
    let blocks_bf16: Vec<bf16> = blocks.iter().map(|&v| bf16::from_f32(v)).collect();
    let keys: usize = seqlens.iter().map(|&l| l as usize).sum();
    println!(
        "MLA decode, b={batch}, {keys} cached tokens (mean {}), d={d}, dv={dv}, causal, {} threads\n",
        keys / batch,
        rayon::current_num_threads()
    );
    let (peak_gflops, formula) = peak();
    println!("peak f32: {peak_gflops:.0} GFLOP/s = {formula}\n");
    println!("| cache | s_q | h_q | reference s | fast s | ratio | fast GFLOP/s | fast / peak |");
    println!("|---|---|---|---|---|---|---|---|");
    for s_q in [1, 2] {
        for h_q in [16, 128] {
            let q: Vec<f32> = (0..batch * s_q * h_q * d).map(|_| rng.unit()).collect();
            let shape = MlaShape {
                batch,
                s_q,
                h_q,
                h_kv: 1,
                d,
                dv,
                block_size,
            };
            for (name, kv) in [
                ("f32", KvBlocks::F32(&blocks)),
                ("bf16", KvBlocks::Bf16(&blocks_bf16)),
            ] {
                let cache = KvCache {
                    blocks: kv,
                    block_table: &block_table,
                    seqlens: &seqlens,
                };
                let scale = 1.0 / (d as f32).sqrt();
                let reference = best(1, || {
                    mla_decode(&q, shape, cache, scale, true);
                });
                // One untimed run first: the first call pays for the pool's and the kernels'
                // start-up.
                mla_decode_fast(&q, shape, cache, scale, true);
                let fast = best(5, || {
                    mla_decode_fast(&q, shape, cache, scale, true);
                });
                // Scores and weighted values: 2·(d + dv) flops per query row and key.
                let flops = (2 * (d + dv) * s_q * h_q * keys) as f64;
                let gflops = flops / fast / 1e9;
                println!(
                    "| {name} | {s_q} | {h_q} | {reference:.3} | {fast:.4} | {:.1}x | {gflops:.1} | {:.2} |",
                    reference / fast,
                    gflops / peak_gflops
                );
            }
        }
    }
}
