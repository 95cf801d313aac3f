//! What the tests and the benchmarks (`bench/gpu`, `bench/fp8-cpu`, which include this file)
//! share: reproducible random inputs (SplitMix64, no dependency) and the upstream comparison
//! metric.

/// SplitMix64: reproducible inputs from a seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: usize, high: usize) -> usize {
        low + (self.next_u64() % (high - low + 1) as u64) as usize
    }

    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    /// `rows × cols` values, each row with its own magnitude (so rows get different scales).
    pub fn matrix(&mut self, rows: usize, cols: usize) -> Vec<f32> {
        (0..rows)
            .flat_map(|_| {
                let magnitude = 10f32.powf(self.unit() * 2.0);
                (0..cols)
                    .map(|_| self.unit() * magnitude)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// DeepGEMM's and FlashMLA's test metric: 1 - 2Σxy / Σ(x² + y²); 0 for equal vectors.
pub fn difference(x: &[f32], y: &[f32]) -> f64 {
    let (mut xy, mut squares) = (0.0f64, 0.0f64);
    for (a, b) in x.iter().zip(y) {
        let (a, b) = (f64::from(*a), f64::from(*b));
        xy += a * b;
        squares += a * a + b * b;
    }
    if squares == 0.0 {
        return 0.0;
    }
    1.0 - 2.0 * xy / squares
}
