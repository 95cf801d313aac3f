//! The f32 matrix product every CPU path runs on: the `gemm` crate's kernel (SIMD, packed,
//! AVX-512 where present), in the "NT" form the models use, `D = A·Bᵀ` with B stored row by row
//! as a linear layer's weight is.

use gemm::{Parallelism, gemm};
use rayon::prelude::*;

/// Below this many rows of A, a single-threaded product runs [`THIN`] rows at a time. The
/// `gemm` crate has a kernel for up to 4 rows; from 5 rows on, at K = 7168 and N = 4096, it
/// takes 46-48 ms on 2 cores whatever the rows from 5 to 64 (4 rows: 3.2 ms). Products of 4 rows
/// are faster up to a few hundred rows (`bench/fp8-cpu`, FP8 GEMM: 16 rows 19 → 129 GFLOP/s,
/// 128 rows 94 → 168; equal at 512). The small-M kernel does not spread over threads (asked
/// to, it ran at 5 GFLOP/s), so [`matmul_nt`] splits such a product's columns over the pool
/// itself.
const THIN_BELOW: usize = 256;

/// Rows of A per product below [`THIN_BELOW`]: the most the `gemm` crate's small-M kernel takes.
const THIN: usize = 4;

/// The shallowest K a product runs thin at: measured faster from K = 384 (a linear layer) up.
/// MiniLM's attention products (K = 32 for the scores, at most 256 for the weighted sum) were
/// not: the embedding benchmark ran 4% slower with them thin (within this machine's noise, but
/// no gain), so they keep the general kernel.
const THIN_DEPTH: usize = 384;

/// Rows of B per task when [`matmul_nt`] splits a thin product's columns over the pool: 64 rows
/// of K = 7168 are 1.8 MB, about a core's L2.
const PANEL: usize = 64;

/// Whether a product of `rows` rows of depth `k` runs thin: [`THIN`] rows at a time, and in
/// [`matmul_nt`] split by columns over the pool.
fn runs_thin(rows: usize, k: usize) -> bool {
    rows < THIN_BELOW && k >= THIN_DEPTH
}

/// An output matrix shared by tasks that each write their own rectangle of it.
pub(crate) struct SharedOutput(pub(crate) *mut f32);

// SAFETY: the tasks write disjoint rectangles, and the output outlives them (they run inside
// the call that borrows it mutably).
unsafe impl Sync for SharedOutput {}

impl SharedOutput {
    pub(crate) fn at(&self, offset: usize) -> *mut f32 {
        // SAFETY: callers pass offsets inside the output.
        unsafe { self.0.add(offset) }
    }
}

/// `d` (`rows × n`, row stride `ldd`) = `a` (`rows × k`) · `b`ᵀ (`b` is `n × k`), overwriting d.
/// Single-threaded, a thin product ([`runs_thin`]) runs [`THIN`] rows at a time.
///
/// # Safety
/// `d` must point at a `rows × n` rectangle with row stride `ldd` that nothing else touches
/// during the call.
#[allow(clippy::too_many_arguments)] // a BLAS call's shape: pointers, sizes, strides
pub(crate) unsafe fn nt_into(
    d: *mut f32,
    ldd: usize,
    a: &[f32],
    rows: usize,
    b: &[f32],
    n: usize,
    k: usize,
    parallelism: Parallelism,
) {
    let thin = runs_thin(rows, k) && matches!(parallelism, Parallelism::None);
    let step = if thin { THIN } else { rows };
    for first in (0..rows).step_by(step) {
        let rows_here = (rows - first).min(step);
        // SAFETY: d's rows first.. lie in the caller's rectangle.
        unsafe {
            nt_general_into(
                d.add(first * ldd),
                ldd,
                &a[first * k..],
                rows_here,
                b,
                n,
                k,
                parallelism,
            )
        };
    }
}

/// As [`nt_into`], in one call of the `gemm` crate's general kernel however few the rows: for
/// products whose B is used once, such as attention's keys, which the thin path would read
/// once per [`THIN`] rows (MLA decode's 16 × 576 × 1024 scores: 3.2 ms general, 5.4 thin).
///
/// # Safety
/// As [`nt_into`].
#[allow(clippy::too_many_arguments)] // a BLAS call's shape: pointers, sizes, strides
pub(crate) unsafe fn nt_general_into(
    d: *mut f32,
    ldd: usize,
    a: &[f32],
    rows: usize,
    b: &[f32],
    n: usize,
    k: usize,
    parallelism: Parallelism,
) {
    assert!(
        a.len() >= rows * k && b.len() >= n * k,
        "matmul: operands too short"
    );
    if rows == 0 || n == 0 {
        return;
    }
    // SAFETY: b read as k × n with column stride k is B's rows; the rest as the caller's.
    unsafe { product(d, ldd, a, rows, (b, k, 1), n, k, parallelism) }
}

/// `d` (`rows × n`, row stride `ldd`) = `a` (`rows × k`) · `b` (`k × n`, row stride `ldb`, so
/// that `b` may be the first `n` columns of wider rows), overwriting d; single-threaded.
///
/// # Safety
/// `d` must point at a `rows × n` rectangle with row stride `ldd` that nothing else touches
/// during the call.
#[allow(clippy::too_many_arguments)] // a BLAS call's shape: pointers, sizes, strides
pub(crate) unsafe fn nn_into(
    d: *mut f32,
    ldd: usize,
    a: &[f32],
    rows: usize,
    b: &[f32],
    ldb: usize,
    n: usize,
    k: usize,
) {
    assert!(
        a.len() >= rows * k && (k == 0 || b.len() >= (k - 1) * ldb + n),
        "matmul: operands too short"
    );
    if rows == 0 || n == 0 {
        return;
    }
    // SAFETY: b is k × n with row stride ldb; the rest as the caller's.
    unsafe { product(d, ldd, a, rows, (b, 1, ldb), n, k, Parallelism::None) }
}

/// The `gemm` crate's call for `d` (`rows × n`, row stride `ldd`) = `a` (`rows × k`, row-major)
/// · B, where B's element (i, j) is `b[j·col_stride + i·row_stride]`.
///
/// # Safety
/// `b` must hold every element so addressed, and `d` point at a `rows × n` rectangle with row
/// stride `ldd` that nothing else touches during the call.
#[allow(clippy::too_many_arguments)] // a BLAS call's shape: pointers, sizes, strides
unsafe fn product(
    d: *mut f32,
    ldd: usize,
    a: &[f32],
    rows: usize,
    (b, col_stride, row_stride): (&[f32], usize, usize),
    n: usize,
    k: usize,
    parallelism: Parallelism,
) {
    // SAFETY: a is rows × k (row stride k); b and d as the caller vouches.
    unsafe {
        gemm(
            rows,
            n,
            k,
            d,
            1,
            ldd as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            col_stride as isize,
            row_stride as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// `a` (`rows × k`) · `b`ᵀ (`b` is `n × k`) as a new `rows × n` matrix, on every core.
pub fn matmul_nt(a: &[f32], rows: usize, b: &[f32], n: usize, k: usize) -> Vec<f32> {
    let mut d = vec![0.0f32; rows * n];
    if k == 0 {
        return d;
    }
    if !runs_thin(rows, k) {
        // SAFETY: d is rows × n, owned here.
        unsafe {
            nt_into(
                d.as_mut_ptr(),
                n,
                a,
                rows,
                b,
                n,
                k,
                Parallelism::Rayon(rayon::current_num_threads()),
            )
        };
        return d;
    }
    let output = SharedOutput(d.as_mut_ptr());
    (0..n.div_ceil(PANEL)).into_par_iter().for_each(|panel| {
        let (col, width) = (panel * PANEL, PANEL.min(n - panel * PANEL));
        // SAFETY: the destination is the rows × width rectangle at column col of d (row stride
        // n), written by this task alone.
        unsafe {
            nt_into(
                output.at(col),
                n,
                a,
                rows,
                &b[col * k..],
                width,
                k,
                Parallelism::None,
            )
        };
    });
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A·Bᵀ summed in f64, the product's exact value to compare with.
    fn naive(a: &[f32], rows: usize, b: &[f32], n: usize, k: usize) -> Vec<f64> {
        let mut d = vec![0.0; rows * n];
        for r in 0..rows {
            for c in 0..n {
                d[r * n + c] = (0..k)
                    .map(|i| f64::from(a[r * k + i]) * f64::from(b[c * k + i]))
                    .sum();
            }
        }
        d
    }

    /// Values in -1..1 from a fixed sequence (no RNG crate needed for a product test).
    fn values(len: usize, salt: u64) -> Vec<f32> {
        (0..len as u64)
            .map(|i| {
                let x = (i + salt).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
                x as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    #[test]
    fn thin_and_wide_products_equal_the_exact_product() {
        // Rows on both sides of the 4-row kernel and of THIN_BELOW, K on both sides of
        // THIN_DEPTH, N around one PANEL.
        for (rows, n, k) in [
            (1, 65, 384),
            (5, 130, 700),
            (17, 64, 384),
            (255, 63, 400),
            (256, 65, 384),
            (300, 7, 383),
            (9, 130, 32),
        ] {
            let (a, b) = (values(rows * k, 1), values(n * k, 2));
            let exact = naive(&a, rows, &b, n, k);
            let pooled = matmul_nt(&a, rows, &b, n, k);
            let mut single = vec![f32::NAN; rows * n];
            // SAFETY: `single` is rows × n, owned here.
            unsafe {
                nt_into(
                    single.as_mut_ptr(),
                    n,
                    &a,
                    rows,
                    &b,
                    n,
                    k,
                    Parallelism::None,
                )
            };
            for (what, got) in [("matmul_nt", &pooled), ("nt_into", &single)] {
                for (i, (g, e)) in got.iter().zip(&exact).enumerate() {
                    assert!(
                        (f64::from(*g) - e).abs() <= 1e-4 * (k as f64).sqrt(),
                        "{what} {rows}x{n}x{k}, element {i}: {g} vs {e}"
                    );
                }
            }
        }
    }

    /// `nn_into` reads B as the first `n` columns of wider rows (MLA's values are its keys'
    /// first dims): the product equals A·B over those columns only.
    #[test]
    fn a_product_with_the_leading_columns_of_wider_rows() {
        let (rows, n, k, ldb) = (5, 7, 33, 12);
        let (a, wide) = (values(rows * k, 3), values(k * ldb, 4));
        // B as n × k rows, for the exact NT product.
        let b_rows: Vec<f32> = (0..n)
            .flat_map(|j| (0..k).map(move |i| (i, j)))
            .map(|(i, j)| wide[i * ldb + j])
            .collect();
        let exact = naive(&a, rows, &b_rows, n, k);
        let mut got = vec![f32::NAN; rows * n];
        // SAFETY: `got` is rows × n, owned here.
        unsafe { nn_into(got.as_mut_ptr(), n, &a, rows, &wide, ldb, n, k) };
        for (i, (g, e)) in got.iter().zip(&exact).enumerate() {
            assert!((f64::from(*g) - e).abs() <= 1e-4, "element {i}: {g} vs {e}");
        }
    }
}
