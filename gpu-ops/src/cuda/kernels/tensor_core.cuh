// The PTX the tensor-core kernels use, one helper per instruction: asynchronous copies into
// shared memory (sm_80), `ldmatrix` and warp-wide `mma.sync` (bf16 from sm_80, E4M3 from
// sm_89), and Hopper's warpgroup-wide `wgmma` (sm_90a). The kernels touch these instructions only through these helpers, so that the
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

// The descriptor of a K-major operand of `wgmma` in shared memory without swizzling, whose
// first 8-row × 16-byte core matrix (128 contiguous bytes) is at `start`: the next core matrix
// along K is `leading_bytes` further, the next 8 rows `stride_bytes`; addresses and offsets in
// 16-byte units (PTX ISA, "Matrix Descriptor Format").
__device__ __forceinline__ unsigned long long shared_descriptor(const void* start,
                                                                int leading_bytes,
                                                                int stride_bytes) {
    const u32 address = (u32)__cvta_generic_to_shared(start);
    return (unsigned long long)((address & 0x3ffff) >> 4) |
           ((unsigned long long)(leading_bytes >> 4) << 16) |
           ((unsigned long long)(stride_bytes >> 4) << 32);
}

// d (64 rows × 128 columns of f32, wgmma's accumulator layout) = A·Bᵀ over 32 K bytes, plus d
// unless `overwrite`.
__device__ __forceinline__ void wgmma_m64n128k32(float (&d)[64], unsigned long long a,
                                                 unsigned long long b, int overwrite) {
    asm volatile(
        "{\n.reg .pred keep;\nsetp.eq.s32 keep, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, keep, 1, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(a), "l"(b), "r"(overwrite));
}

// Pins the accumulator registers at this point of the program: the compiler sees wgmma's
// results as written when it is issued, so without this it could move reads of them above the
// wait for the tensor cores, or writes below their issue.
__device__ __forceinline__ void fence_registers(float (&d)[64]) {
#pragma unroll
    for (int i = 0; i < 64; ++i) {
        asm volatile("" : "+f"(d[i])::"memory");
    }
}

// Orders this thread's earlier generic-proxy writes to shared memory (the `cp.async` copies
// just waited for) before later reads by the async proxy (`wgmma`).
__device__ __forceinline__ void fence_proxy_async() {
    asm volatile("fence.proxy.async.shared::cta;\n" ::);
}

// Before a warpgroup's first `wgmma`: its accumulator registers are ready to be read.
__device__ __forceinline__ void wgmma_fence() {
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}

// Closes the group of `wgmma`s issued since the last commit.
__device__ __forceinline__ void wgmma_commit() {
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}

// Waits until every committed `wgmma` group has finished: their results are in the registers.
__device__ __forceinline__ void wgmma_wait_all() {
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
}

#endif

// Two f32 rounded to bf16 (nearest, ties to even) in one register, `low` in the low half.
__device__ __forceinline__ u32 pack_bf16(float low, float high) {
    const u32 l = __float_as_uint(low), h = __float_as_uint(high);
    const u32 lr = (l + 0x7fffu + ((l >> 16) & 1u)) >> 16;
    const u32 hr = (h + 0x7fffu + ((h >> 16) & 1u)) >> 16;
    return (hr << 16) | (lr & 0xffffu);
}
