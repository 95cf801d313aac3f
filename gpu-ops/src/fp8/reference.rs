//! The FP8 GEMM written for clarity: every output element is its K blocks' f32 sums, each
//! scaled by its two groups' scales, exactly as the formula reads. The fast path
//! ([`super::fast`]) is checked against it.

use super::{E4M3_VALUES, Fp8Matrix, GROUP, blocks, check_groups, check_k, check_m_indices};

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
    check_m_indices(a, m_indices);
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
    check_groups(a, b, masked_m);
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
        .map(|&x| E4M3_VALUES[usize::from(x)])
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
    check_k(a, b);
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
    use crate::fp8::{Grouping, quantize};

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
}
