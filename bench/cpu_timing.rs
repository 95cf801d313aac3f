//! What the CPU benchmarks (`bench/fp8-cpu`, `bench/mla-cpu`) share: the best of a few timed
//! runs, and this machine's peak f32 rate to set GFLOP/s against.

use std::time::Instant;

/// Best seconds of `runs` runs.
pub fn best(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Peak f32 GFLOP/s: cores × clock × FLOP per cycle (two FMA units × lanes × 2). The clock is
/// the nominal one /proc/cpuinfo reports; turbo can exceed it.
pub fn peak() -> (f64, String) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let mhz = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("cpu MHz")?
                .split(':')
                .nth(1)?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(0.0);
    let lanes = if cpuinfo.contains("avx512f") {
        16.0
    } else if cpuinfo.contains("avx2") {
        8.0
    } else {
        4.0
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let flops_per_cycle = 2.0 * lanes * 2.0;
    (
        cores * mhz / 1e3 * flops_per_cycle,
        format!(
            "{cores} cores × {:.2} GHz × {flops_per_cycle} FLOP/cycle (2 FMA units × {lanes} f32 lanes × 2)",
            mhz / 1e3
        ),
    )
}
