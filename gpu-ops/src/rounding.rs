//! Rounding to an integer in f32 arithmetic, for loops that must vectorise.

/// `x` rounded to an integer (ties to even) for `|x| < 2²²`: adding and taking away 1.5·2²³
/// leaves no fraction bits, and unlike `f32::round` (a call into libm where the baseline x86-64
/// has no rounding instruction) it vectorises.
#[inline(always)]
pub(crate) fn round_to_integer(x: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0;
    (x + SHIFT) - SHIFT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_to_nearest_with_ties_to_even() {
        for (x, want) in [
            (0.5, 0.0),
            (1.5, 2.0),
            (2.5, 2.0),
            (-0.5, 0.0),
            (-1.5, -2.0),
        ] {
            assert_eq!(round_to_integer(x), want, "{x}");
        }
        for i in -40_000..40_000 {
            let x = i as f32 * 0.013;
            assert_eq!(round_to_integer(x), x.round_ties_even(), "{x}");
        }
    }
}
