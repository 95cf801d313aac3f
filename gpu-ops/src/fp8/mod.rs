//! E4M3 block-scaled quantisation and the FP8 GEMM of DeepGEMM (`gemm_fp8_fp8_bf16_nt`) on the
//! CPU: [`reference`], the plain reference, and [`fast`], the path used, checked against it.
//!
//! Quantisation cuts a matrix into groups along K: 1×128 per token for activations, 128×128
//! tiles for weights. Each group is scaled by `amax / 448` (amax clamped to at least 1e-4, 448
//! being E4M3's largest finite value), and its values divided by the scale are rounded to E4M3
//! (round to nearest even, saturating). With UE8M0 the scale is first rounded up to a power of
//! two, as Hopper's and Blackwell's scale formats want. A K that is not a multiple of 128 gives a
//! narrower last group.
//!
//! The GEMM: D[m,n] = Σ over 128-wide K blocks kb of sa[m,kb] · sb[n/128,kb] · (Σ_k∈kb A[m,k]·B[n,k]),
//! the inner sums in f32 over the decoded E4M3 values, as DeepGEMM accumulates each block
//! before scaling it. Both GEMM paths offer the dense form and DeepGEMM's two MoE forms
//! (grouped contiguous and grouped masked) with the same signatures.

use std::sync::LazyLock;

use float8::F8E4M3;

pub mod fast;
pub mod reference;

/// Width (and height, for weight tiles) of a quantisation group.
pub const GROUP: usize = 128;

/// E4M3's largest finite value.
const E4M3_MAX: f32 = 448.0;

/// A quantised matrix: E4M3 bytes, row-major `[rows, cols]`, and one f32 scale per group.
#[derive(Debug, Clone, PartialEq)]
pub struct Fp8Matrix {
    pub rows: usize,
    pub cols: usize,
    pub bits: Vec<u8>,
    /// Per-token: `[rows, cols/128]`; per-block: `[rows/128, cols/128]` (both rounded up).
    pub scales: Vec<f32>,
}

/// The value of every E4M3 byte (the `float8` crate's decoding): the table the reference and
/// the CUDA kernels decode with, and the fast path's bit arithmetic is checked against.
pub(crate) static E4M3_VALUES: LazyLock<[f32; 256]> =
    LazyLock::new(|| std::array::from_fn(|bits| F8E4M3::from_bits(bits as u8).to_f32()));

/// How groups are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// 1×128: one scale per row and K block (activations).
    PerToken,
    /// 128×128: one scale per tile (weights).
    PerBlock,
}

/// K blocks (or 128-row tiles) covering `len`, the last one possibly narrower.
fn blocks(len: usize) -> usize {
    len.div_ceil(GROUP)
}

/// The scale for a group whose largest magnitude is `amax`, and the factor its values are
/// multiplied by before rounding: the scale's reciprocal, as DeepGEMM's casts compute it
/// (dividing by the scale, or multiplying by `448 / amax`, differs in the last bit now and then,
/// and so in the E4M3 byte: 122 of the fixture's 73 728 weight bytes).
fn scale_and_factor(amax: f32, ue8m0: bool) -> (f32, f32) {
    let scale = amax.max(1e-4) / E4M3_MAX;
    let scale = if ue8m0 {
        2f32.powi(scale.log2().ceil() as i32)
    } else {
        scale
    };
    (scale, 1.0 / scale)
}

/// Quantises a row-major `[rows, cols]` matrix.
pub fn quantize(
    values: &[f32],
    rows: usize,
    cols: usize,
    grouping: Grouping,
    ue8m0: bool,
) -> Fp8Matrix {
    check_fill(values, rows, cols);
    let row_groups = match grouping {
        Grouping::PerToken => rows,
        Grouping::PerBlock => blocks(rows),
    };
    let row_span = if grouping == Grouping::PerToken {
        1
    } else {
        GROUP
    };
    let mut scales = vec![0.0; row_groups * blocks(cols)];
    let mut factors = vec![0.0; row_groups * blocks(cols)];
    for rg in 0..row_groups {
        for kb in 0..blocks(cols) {
            let amax = (rg * row_span..((rg + 1) * row_span).min(rows))
                .flat_map(|r| {
                    &values[r * cols + kb * GROUP..r * cols + ((kb + 1) * GROUP).min(cols)]
                })
                .fold(0.0f32, |m, v| m.max(v.abs()));
            let group = rg * blocks(cols) + kb;
            (scales[group], factors[group]) = scale_and_factor(amax, ue8m0);
        }
    }
    let mut bits = vec![0u8; values.len()];
    for (r, (row, out)) in values
        .chunks(cols.max(1))
        .zip(bits.chunks_mut(cols.max(1)))
        .enumerate()
    {
        let factors = &factors[(r / row_span) * blocks(cols)..];
        for ((group, out), factor) in row.chunks(GROUP).zip(out.chunks_mut(GROUP)).zip(factors) {
            for (o, v) in out.iter_mut().zip(group) {
                *o = f32_to_e4m3(v * factor);
            }
        }
    }
    Fp8Matrix {
        rows,
        cols,
        bits,
        scales,
    }
}

/// f32 to E4M3 as the `float8` crate rounds (to nearest even, saturating at ±448, NaN to NaN),
/// by bit arithmetic without branches so that quantising a row vectorises: the crate's
/// conversion, called per value, took 14% of MiniLM's FP8 path. Normal results round the f32
/// mantissa to 3 bits in place (a carry moves into the exponent as it should); results under
/// E4M3's smallest normal, 2⁻⁶, are multiples of 2⁻⁹ rounded as integers.
#[inline(always)]
fn f32_to_e4m3(value: f32) -> u8 {
    let bits = value.to_bits();
    let sign = ((bits >> 24) & 0x80) as u8;
    let magnitude = bits & 0x7fff_ffff;
    let rounded = magnitude + 0x7_ffff + ((magnitude >> 20) & 1);
    // Rebias the exponent 127 → 7; clamp at 0x7e (448) so that overflow saturates.
    let normal = (rounded >> 20).saturating_sub(120 << 3).min(0x7e) as u8;
    let subnormal = crate::rounding::round_to_integer(f32::from_bits(magnitude) * 512.0) as u8;
    let code = if magnitude < 0x3c80_0000 {
        subnormal
    } else {
        normal
    };
    let code = if magnitude > 0x7f80_0000 { 0x7f } else { code };
    sign | code
}

/// Panics unless `values` fill `[rows, cols]` (these checks catch a caller's bug, not bad data).
pub(crate) fn check_fill(values: &[f32], rows: usize, cols: usize) {
    assert_eq!(
        values.len(),
        rows * cols,
        "quantize: values do not fill [{rows}, {cols}]"
    );
}

/// Panics unless A and B share K.
pub(crate) fn check_k(a: &Fp8Matrix, b: &Fp8Matrix) {
    assert_eq!(
        a.cols, b.cols,
        "gemm_fp8_nt: A has K={} and B has K={}",
        a.cols, b.cols
    );
}

/// Panics unless every row of A has an expert index.
pub(crate) fn check_m_indices(a: &Fp8Matrix, m_indices: &[i32]) {
    assert_eq!(
        m_indices.len(),
        a.rows,
        "m_indices: one expert per row of A"
    );
}

/// Panics unless there is one A, one B and one mask per group.
pub(crate) fn check_groups(a: &[Fp8Matrix], b: &[Fp8Matrix], masked_m: &[usize]) {
    assert!(
        a.len() == b.len() && b.len() == masked_m.len(),
        "one A, B and mask per group"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_arithmetic_rounds_to_e4m3_as_the_float8_crate_does() {
        let check = |v: f32| {
            let (got, want) = (f32_to_e4m3(v), F8E4M3::from_f32(v).to_bits());
            assert_eq!(
                got,
                want,
                "{v:e} ({:#010x}): {got:#04x} vs {want:#04x}",
                v.to_bits()
            );
        };
        // Every E4M3 value, the midpoints between neighbours (where ties go to even) and the
        // f32 values either side of each, with both signs.
        let finite: Vec<f32> = (0..=0x7eu8).map(|b| E4M3_VALUES[usize::from(b)]).collect();
        for pair in finite.windows(2) {
            let mid = (pair[0] + pair[1]) / 2.0;
            for v in [pair[0], mid, mid.next_down(), mid.next_up(), pair[1]] {
                check(v);
                check(-v);
            }
        }
        // Beyond 448 saturates; infinities and NaN.
        for v in [
            448.0,
            464.0,
            480.0,
            1e6,
            f32::MAX,
            f32::INFINITY,
            f32::NAN,
            1e-30,
            0.0,
        ] {
            check(v);
            check(-v);
        }
        // A sweep over every 9973rd f32 bit pattern of either sign.
        for bits in (0..=u32::MAX).step_by(9973) {
            check(f32::from_bits(bits));
        }
    }

    #[test]
    fn a_group_uses_e4m3s_full_range() {
        // Two groups along K: -64..=63 (amax 64) and 64, 65 (amax 65).
        let values: Vec<f32> = (0..130).map(|i| i as f32 - 64.0).collect();
        let q = quantize(&values, 1, 130, Grouping::PerToken, false);
        assert_eq!(q.scales, [64.0 / 448.0, 65.0 / 448.0]);
        // The largest magnitude in each group lands on ±448 exactly.
        assert_eq!(F8E4M3::from_bits(q.bits[0]).to_f32(), -448.0);
        assert_eq!(F8E4M3::from_bits(q.bits[129]).to_f32(), 448.0);
    }

    #[test]
    fn ue8m0_rounds_the_scale_up_to_a_power_of_two() {
        let q = quantize(&[3.0; 128], 1, 128, Grouping::PerToken, true);
        assert_eq!(q.scales, [1.0 / 128.0]);
        let zeros = quantize(&[0.0; 4], 2, 2, Grouping::PerBlock, false);
        assert_eq!(zeros.scales, [1e-4 / 448.0]);
        assert!(zeros.bits.iter().all(|&b| b == 0));
    }
}
