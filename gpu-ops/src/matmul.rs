//! The f32 matrix product every CPU path runs on: the `gemm` crate's kernel (SIMD, packed,
//! AVX-512 where present), in the "NT" form the models use, `D = A·Bᵀ` with B stored row by row
//! as a linear layer's weight is.

use gemm::{Parallelism, gemm};

/// `d` (`rows × n`, row stride `ldd`) = `a` (`rows × k`) · `b`ᵀ (`b` is `n × k`), overwriting d.
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
    assert!(
        a.len() >= rows * k && b.len() >= n * k,
        "matmul: operands too short"
    );
    if rows == 0 || n == 0 {
        return;
    }
    // SAFETY: a is rows × k (row stride k); b read as k × n with column stride k is B's rows;
    // d is the caller's rectangle.
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
            k as isize,
            1,
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
    if k > 0 {
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
    }
    d
}
