//! The FP8 GEMM made fast on the CPU: values are widened to f32 with their group's scale
//! folded in (bit arithmetic that vectorises), and the product runs through the `gemm` crate's
//! f32 kernel over the whole K. A is widened once; B is widened a panel of [`PANEL`] rows at a
//! time inside each task, into a buffer the worker thread reuses, so a large weight matrix is
//! never materialised in f32 (a fresh buffer of that size costs more in page faults than the
//! conversion). Tasks (up to [`ROW_CHUNK`] rows of A × one panel of B) run on rayon's pool.
//!
//! Folding the scales in first is the same sum as the reference's `Σ_kb sa·sb·(Σ a·b)`,
//! rounded differently: DeepGEMM accumulates each 128-wide block apart because FP8 tensor
//! cores keep few accumulator bits, a limit an f32 FMA does not have.

use std::ops::Range;

use gemm::Parallelism;
use rayon::prelude::*;

use crate::matmul::{SharedOutput, nt_into};

use super::{Fp8Matrix, GROUP, blocks, check_groups, check_k, check_m_indices};

/// Rows of B widened per task: 64 rows of K = 7168 are 1.8 MB, about a core's L2.
const PANEL: usize = 64;

/// Rows of A per task: re-widening a panel per chunk of this many rows costs 1/2048 of the
/// chunk's multiply-adds, and large inputs still split over every core.
const ROW_CHUNK: usize = 1024;

/// `D = A·Bᵀ` for A quantised per token (`[m, k]`) and B per block (`[n, k]`), in f32 `[m, n]`.
pub fn gemm_fp8_nt(a: &Fp8Matrix, b: &Fp8Matrix) -> Vec<f32> {
    check_k(a, b);
    let mut d = vec![0.0; a.rows * b.rows];
    product_into(&widen(a, a.rows), a.rows, b, &mut d);
    d
}

/// DeepGEMM's grouped *contiguous* form: row `m` of A times expert `m_indices[m]`'s weights,
/// rows tagged `-1` zero. Each run of rows with one expert is one dense product.
pub fn gemm_fp8_grouped_contiguous(a: &Fp8Matrix, b: &[Fp8Matrix], m_indices: &[i32]) -> Vec<f32> {
    check_m_indices(a, m_indices);
    let (n, k) = (b.first().map_or(0, |g| g.rows), a.cols);
    let a_values = widen(a, a.rows);
    let mut d = vec![0.0; a.rows * n];
    let mut start = 0;
    for run in m_indices.chunk_by(|x, y| x == y) {
        let rows = start..start + run.len();
        start = rows.end;
        let Ok(expert) = usize::try_from(run[0]) else {
            continue;
        };
        check_k(a, &b[expert]);
        product_into(
            &a_values[rows.start * k..rows.end * k],
            run.len(),
            &b[expert],
            &mut d[rows.start * n..rows.end * n],
        );
    }
    d
}

/// DeepGEMM's grouped *masked* form: group `g` multiplies the first `masked_m[g]` rows of
/// `a[g]` by `b[g]`; the rows past the mask are zeros. Output per group `[m_max, n]`.
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
            check_k(a, b);
            let valid = valid.min(a.rows);
            let mut d = vec![0.0; a.rows * b.rows];
            product_into(&widen(a, valid), valid, b, &mut d[..valid * b.rows]);
            d
        })
        .collect()
}

/// The first `rows` rows of a per-token quantised matrix as f32, scales folded in.
fn widen(a: &Fp8Matrix, rows: usize) -> Vec<f32> {
    let k = a.cols.max(1);
    let mut values = vec![0.0f32; rows * a.cols];
    values
        .par_chunks_mut(k)
        .enumerate()
        .for_each(|(row, out)| widen_row(a, row, 1, out));
    values
}

/// Rows `rows` of a per-block quantised matrix as f32, scales folded in, into `out`.
fn widen_panel(b: &Fp8Matrix, rows: Range<usize>, out: &mut Vec<f32>) {
    let k = b.cols;
    out.resize(rows.len() * k, 0.0);
    for (row, values) in rows.zip(out.chunks_mut(k)) {
        widen_row(b, row, GROUP, values);
    }
}

/// Row `row` of a quantised matrix whose scales are shared by `row_span` rows.
fn widen_row(matrix: &Fp8Matrix, row: usize, row_span: usize, out: &mut [f32]) {
    let k = matrix.cols;
    let bits = &matrix.bits[row * k..(row + 1) * k];
    let scales = &matrix.scales[(row / row_span) * blocks(k)..];
    for ((out, bits), scale) in out.chunks_mut(GROUP).zip(bits.chunks(GROUP)).zip(scales) {
        for (o, &b) in out.iter_mut().zip(bits) {
            *o = e4m3_to_f32(b) * scale;
        }
    }
}

/// E4M3 to f32 by bit arithmetic, branch-free so that the widening loop vectorises (a table
/// lookup is a gather, several times slower). Normal values move their exponent and mantissa
/// into f32's fields (bias 7 → 127); subnormals are `mantissa × 2⁻⁹`; 0x7f and 0xff are NaN.
#[inline(always)]
fn e4m3_to_f32(bits: u8) -> f32 {
    let magnitude = u32::from(bits & 0x7f);
    let sign = if bits & 0x80 != 0 { -1.0f32 } else { 1.0 };
    let normal = f32::from_bits((magnitude << 20) + (120 << 23));
    let subnormal = (magnitude & 0x7) as f32 * (1.0 / 512.0);
    let value = if magnitude < 8 { subnormal } else { normal };
    sign * if magnitude == 0x7f { f32::NAN } else { value }
}

/// `d` (`[rows, n]`) = `a` (`[rows, k]`, widened, scales folded in) times Bᵀ.
fn product_into(a: &[f32], rows: usize, b: &Fp8Matrix, d: &mut [f32]) {
    let (n, k) = (b.rows, b.cols);
    assert!(d.len() >= rows * n);
    if rows == 0 || n == 0 || k == 0 {
        d.fill(0.0);
        return;
    }
    let tasks: Vec<(usize, usize)> = (0..rows)
        .step_by(ROW_CHUNK)
        .flat_map(|row| (0..n).step_by(PANEL).map(move |col| (row, col)))
        .collect();
    let output = SharedOutput(d.as_mut_ptr());
    tasks
        .par_iter()
        .for_each_init(Vec::new, |panel, &(row, col)| {
            let (height, width) = ((rows - row).min(ROW_CHUNK), (n - col).min(PANEL));
            widen_panel(b, col..col + width, panel);
            // SAFETY: the destination is the `height × width` rectangle at (row, col) of the
            // `rows × n` output (row stride n), written by this task alone.
            unsafe {
                nt_into(
                    output.at(row * n + col),
                    n,
                    &a[row * k..],
                    height,
                    panel,
                    width,
                    k,
                    Parallelism::None,
                )
            };
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fp8::E4M3_VALUES;

    #[test]
    fn bit_arithmetic_decodes_every_e4m3_byte_as_the_table_does() {
        for bits in 0..=255u8 {
            let (got, want) = (e4m3_to_f32(bits), E4M3_VALUES[usize::from(bits)]);
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{bits:#04x}: {got} vs {want}"
            );
        }
    }
}
