// The PTX the tensor-core kernels use, one helper per instruction: asynchronous copies into
// shared memory (sm_80), `ldmatrix` and warp-wide `mma.sync` (bf16 from sm_80, E4M3 from
// sm_89). The kernels touch these instructions only through these helpers, so that the
// emulator (`cuda/emulator/emulator.h`, which defines TARN_EMULATOR) can stand in for them
// and the kernels' indexing can be tested on a machine without a GPU.
//
// Fragment layouts (PTX ISA, "Matrix fragments for mma.m16n8k16 / m16n8k32"): in a warp,
// lane = 4·g + t. A (16 rows × K, row-major) gives each lane rows g and g + 8; B (K × 8,
// column-major: 8 rows of K contiguous values) gives each lane column g; C and D give each
// lane rows g and g + 8 by columns 2t and 2t + 1 (c[0], c[1] row g; c[2], c[3] row g + 8).

#ifndef TARN_EMULATOR

// Declares the kernel's dynamic shared memory (sized at launch) as `type name[]`.
#define DYNAMIC_SHARED(type, name, alignment) extern __shared__ __align__(alignment) type name[]

// Starts copying 16 bytes from global memory to shared memory; only the first `bytes` (0 or
// 16) are read, the rest of the 16 are zero-filled.
__device__ __forceinline__ void copy_async_16(void* shared, const void* global, int bytes) {
    const u32 target = (u32)__cvta_generic_to_shared(shared);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(target), "l"(global),
                 "r"(bytes));
}

// Closes the group of copies this thread has started since the last commit.
__device__ __forceinline__ void copy_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::);
}

// Waits until at most `pending` of this thread's committed groups are still in flight.
template <int pending>
__device__ __forceinline__ void copy_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(pending));
}

// Four 8×8 matrices of 16-bit elements from shared memory: lanes 8i .. 8i + 7 give the
// addresses of matrix i's rows (16 bytes each), and lane 4g + t receives in x[i] matrix i's
// row g, elements 2t and 2t + 1.
__device__ __forceinline__ void load_matrix_x4(u32 (&x)[4], const void* row) {
    const u32 address = (u32)__cvta_generic_to_shared(row);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(x[0]), "=r"(x[1]), "=r"(x[2]), "=r"(x[3])
                 : "r"(address));
}

// As `load_matrix_x4`, transposed: lane 4g + t receives in x[i] matrix i's elements at rows
// 2t and 2t + 1 of column g.
__device__ __forceinline__ void load_matrix_x4_transposed(u32 (&x)[4], const void* row) {
    const u32 address = (u32)__cvta_generic_to_shared(row);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(x[0]), "=r"(x[1]), "=r"(x[2]), "=r"(x[3])
                 : "r"(address));
}

// One warp's D[16×8] += A[16×16]·B[16×8] in bf16 with f32 sums. a: (row g, k 2t..), (row
// g + 8, k 2t..), (row g, k 8 + 2t..), (row g + 8, k 8 + 2t..); b: (k 2t.., column g), (k
// 8 + 2t.., column g); each register holds two bf16, the lower k in its low half.
__device__ __forceinline__ void mma_bf16(float (&c)[4], const u32 (&a)[4], const u32 (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// One warp's D[16×8] += A[16×32]·B[8×32]ᵀ in E4M3 with exact products summed in f32. a: rows
// g and g+8, bytes 4t.. and 16+4t..; b: row g of B, bytes 4t.. and 16+4t..
__device__ __forceinline__ void mma_e4m3(float (&c)[4], const u32 (&a)[4], const u32 (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

#endif

// Two f32 rounded to bf16 (nearest, ties to even) in one register, `low` in the low half.
__device__ __forceinline__ u32 pack_bf16(float low, float high) {
    const u32 l = __float_as_uint(low), h = __float_as_uint(high);
    const u32 lr = (l + 0x7fffu + ((l >> 16) & 1u)) >> 16;
    const u32 hr = (h + 0x7fffu + ((h >> 16) & 1u)) >> 16;
    return (hr << 16) | (lr & 0xffffu);
}
