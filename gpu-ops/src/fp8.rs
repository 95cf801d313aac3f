//! E4M3 block-scaled quantisation and the FP8 GEMM of DeepGEMM (`gemm_fp8_fp8_bf16_nt`), on the
//! CPU: the plain reference the fast paths are checked against.
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
//! before scaling it.

use float8::F8E4M3;

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

/// How groups are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// 1×128: one scale per row and K block (activations).
    PerToken,
    /// 128×128: one scale per tile (weights).
    PerBlock,
}

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
    assert_eq!(
        values.len(),
        rows * cols,
        "quantize: values do not fill [{rows}, {cols}]"
    );
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
    let bits = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let (r, c) = (i / cols, i % cols);
            let factor = factors[(r / row_span) * blocks(cols) + c / GROUP];
            F8E4M3::from_f32(v * factor).to_bits()
        })
        .collect();
    Fp8Matrix {
        rows,
        cols,
        bits,
        scales,
    }
}

/// `D = A·Bᵀ` for A quantised per token (`[m, k]`) and B per block (`[n, k]`), in f32 `[m, n]`.
pub fn gemm_fp8_nt(a: &Fp8Matrix, b: &Fp8Matrix) -> Vec<f32> {
    let (a_values, b_values) = (decode(a), decode(b));
    (0..a.rows)
        .flat_map(|row| row_times(a, &a_values, row, b, &b_values))
        .collect()
}

/// DeepGEMM's grouped *contiguous* form (MoE experts): row `m` of A is multiplied by expert
/// `m_indices[m]`'s weights `b[m_indices[m]]`; rows tagged `-1` (the padding that rounds each
/// expert's segment up to 128 rows) come out as zeros. Output `[a.rows, n]`.
pub fn gemm_fp8_grouped_contiguous(a: &Fp8Matrix, b: &[Fp8Matrix], m_indices: &[i32]) -> Vec<f32> {
    assert_eq!(
        m_indices.len(),
        a.rows,
        "m_indices: one expert per row of A"
    );
    let n = b.first().map_or(0, |g| g.rows);
    let a_values = decode(a);
    let b_values: Vec<Vec<f32>> = b.iter().map(decode).collect();
    m_indices
        .iter()
        .enumerate()
        .flat_map(|(row, &group)| match usize::try_from(group) {
            Ok(g) => row_times(a, &a_values, row, &b[g], &b_values[g]),
            Err(_) => vec![0.0; n],
        })
        .collect()
}

/// DeepGEMM's grouped *masked* form: group `g` multiplies the first `masked_m[g]` rows of
/// `a[g]` (`[m_max, k]`) by `b[g]`; the rows past the mask come out as zeros. Output per group
/// `[m_max, n]`.
pub fn gemm_fp8_grouped_masked(
    a: &[Fp8Matrix],
    b: &[Fp8Matrix],
    masked_m: &[usize],
) -> Vec<Vec<f32>> {
    assert!(
        a.len() == b.len() && b.len() == masked_m.len(),
        "one A, B and mask per group"
    );
    a.iter()
        .zip(b)
        .zip(masked_m)
        .map(|((a, b), &valid)| {
            let (a_values, b_values) = (decode(a), decode(b));
            (0..a.rows)
                .flat_map(|row| {
                    if row < valid {
                        row_times(a, &a_values, row, b, &b_values)
                    } else {
                        vec![0.0; b.rows]
                    }
                })
                .collect()
        })
        .collect()
}

fn decode(matrix: &Fp8Matrix) -> Vec<f32> {
    matrix
        .bits
        .iter()
        .map(|&x| F8E4M3::from_bits(x).to_f32())
        .collect()
}

/// One output row: row `row` of A times every row of B, each K block summed in f32 and then
/// scaled by the two groups' scales.
fn row_times(
    a: &Fp8Matrix,
    a_values: &[f32],
    row: usize,
    b: &Fp8Matrix,
    b_values: &[f32],
) -> Vec<f32> {
    assert_eq!(
        a.cols, b.cols,
        "gemm_fp8_nt: A has K={} and B has K={}",
        a.cols, b.cols
    );
    let k = a.cols;
    (0..b.rows)
        .map(|col| {
            (0..blocks(k))
                .map(|kb| {
                    let span = kb * GROUP..((kb + 1) * GROUP).min(k);
                    let partial: f32 = span
                        .map(|i| a_values[row * k + i] * b_values[col * k + i])
                        .sum();
                    partial
                        * a.scales[row * blocks(k) + kb]
                        * b.scales[(col / GROUP) * blocks(k) + kb]
                })
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Deterministic values in [-2, 2) for shapes of any size.
    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| ((i.wrapping_mul(2_654_435_761) ^ seed) % 4000) as f32 / 1000.0 - 2.0)
            .collect()
    }

    #[test]
    fn grouped_forms_equal_the_dense_gemm_per_group() {
        // K = 200 is not a multiple of 128; expert 1 gets no rows at all.
        let (n, k) = (130, 200);
        let experts: Vec<Fp8Matrix> = (0..3)
            .map(|g| quantize(&values(n * k, g), n, k, Grouping::PerBlock, false))
            .collect();
        let a = quantize(&values(5 * k, 9), 5, k, Grouping::PerToken, false);
        let m_indices = [0, 0, 2, -1, 2];
        let contiguous = gemm_fp8_grouped_contiguous(&a, &experts, &m_indices);
        for (row, &g) in m_indices.iter().enumerate() {
            let got = &contiguous[row * n..(row + 1) * n];
            if g < 0 {
                assert!(got.iter().all(|&v| v == 0.0), "padding row {row}");
                continue;
            }
            let single = Fp8Matrix {
                rows: 1,
                cols: k,
                bits: a.bits[row * k..(row + 1) * k].to_vec(),
                scales: a.scales[row * 2..(row + 1) * 2].to_vec(),
            };
            assert_eq!(
                got,
                &gemm_fp8_nt(&single, &experts[g as usize])[..],
                "row {row}"
            );
        }

        let masked =
            gemm_fp8_grouped_masked(&[a.clone(), a.clone(), a.clone()], &experts, &[5, 0, 2]);
        assert_eq!(masked[0], gemm_fp8_nt(&a, &experts[0]));
        assert!(masked[1].iter().all(|&v| v == 0.0));
        assert_eq!(masked[2][..2 * n], gemm_fp8_nt(&a, &experts[2])[..2 * n]);
        assert!(masked[2][2 * n..].iter().all(|&v| v == 0.0));
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
