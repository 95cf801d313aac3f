//! The exact (erf) GELU BERT uses, `x/2 · (1 + erf(x/√2))`, in f32 arithmetic that vectorises.
//!
//! `erf` is Abramowitz & Stegun's 7.1.26 over an `exp` of Tarn's, so that GELU stays within
//! 2e-7 of its f64 value per unit of `x`: a call into a maths library per value (libm's f64
//! `erf`, which calls `exp` in turn) took a fifth of MiniLM's time on the CPU, where these
//! branch-free forms let the compiler run a whole feed-forward row in SIMD lanes. PyTorch's CPU
//! GELU, which sentence-transformers runs, approximates `erf` the same way.

/// GELU of every value in place.
pub(crate) fn gelu_in_place(values: &mut [f32]) {
    values.iter_mut().for_each(|v| *v = gelu(*v));
}

#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `erf(x)` within 1.5e-7 in exact arithmetic; in f32, `1 - poly·e^(-x²)` loses up to 6.5e-7
/// to cancellation as `x` nears 0, where GELU scales the error by `x/2`.
#[inline(always)]
fn erf(x: f32) -> f32 {
    // Past 4, erf is 1 to within f32's precision; clamping keeps `exp` in its range.
    let a = x.abs().min(4.0);
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let magnitude = 1.0 - poly * exp_negative(-a * a);
    magnitude.copysign(x)
}

/// `e^y` for `y` in [-16, 0], to about one f32 rounding: `y = n·ln 2 + r` with `|r| ≤ ln 2 / 2`,
/// `e^r` by its Taylor series to `r⁶` (remainder under 1.2e-7 relative), `2^n` by building the
/// exponent bits.
#[inline(always)]
fn exp_negative(y: f32) -> f32 {
    const LN2_HIGH: f32 = 0.693_145_75;
    const LN2_LOW: f32 = 1.428_606_8e-6;
    let n = crate::rounding::round_to_integer(y * std::f32::consts::LOG2_E);
    let r = (y - n * LN2_HIGH) - n * LN2_LOW;
    let e_r = 1.0
        + r * (1.0
            + r * (1.0 / 2.0
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let two_n = f32::from_bits(((n as i32 + 127) as u32) << 23);
    e_r * two_n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_is_within_its_bound_of_libm_over_the_whole_range() {
        let mut worst = 0.0f64;
        for i in -120_000..=120_000 {
            let x = i as f32 * 1e-4;
            let want = libm::erf(f64::from(x));
            worst = worst.max((f64::from(erf(x)) - want).abs());
        }
        assert!(worst < 7e-7, "largest error {worst}");
        assert_eq!(erf(-9.0), -1.0);
        assert_eq!(erf(f32::INFINITY), 1.0);
    }

    #[test]
    fn exp_matches_the_standard_library_to_about_one_rounding() {
        for i in 0..=160_000 {
            let y = -(i as f32) * 1e-4;
            let (got, want) = (exp_negative(y), f64::from(y).exp());
            assert!(
                (f64::from(got) - want).abs() <= 3e-7 * want,
                "e^{y}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn gelu_matches_the_f64_definition() {
        let mut values: Vec<f32> = (-2000..=2000).map(|i| i as f32 * 0.005).collect();
        let inputs = values.clone();
        gelu_in_place(&mut values);
        for (x, got) in inputs.iter().zip(&values) {
            let x = f64::from(*x);
            let want = 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2));
            let bound = 2e-7 * x.abs().max(1.0);
            assert!(
                (f64::from(*got) - want).abs() < bound,
                "gelu({x}): {got} vs {want}"
            );
        }
    }
}
