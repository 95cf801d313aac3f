//! tarn-gpu's tests, one binary: the operators against the upstream fixtures, and the fast
//! paths against the references on random shapes.

mod fixtures;
mod properties;
mod rng;

/// DeepGEMM's and FlashMLA's test metric: 1 - 2Σxy / Σ(x² + y²); 0 for equal vectors.
fn difference(x: &[f32], y: &[f32]) -> f64 {
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
