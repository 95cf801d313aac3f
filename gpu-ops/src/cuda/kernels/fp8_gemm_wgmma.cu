// DeepGEMM's FP8 GEMM on Hopper's warpgroup tensor cores (`wgmma`, sm_90a): the same
// operands, forms and result as `fp8_gemm.cu`. Compiled per (N, K) for sm_90a; the host
// defines N, K, N_BLOCKS = ceil(N/128), K_BLOCKS = ceil(K/128) and STAGES, and uses this kernel
// only where K is a multiple of 16 (each row's K bytes start 16-byte aligned).
//
// A block of 256 threads, two warpgroups, computes a 128×128 tile of D (grid x the row tiles,
// y the column tiles, each one B scale block, z the groups); warpgroup w owns rows 64w .. +64.
// K blocks of A and of B (128×128 bytes each) stream into shared memory through a ring of
// STAGES buffers (dynamic shared memory, STAGES · 32 KiB, which the host sizes) with
// `cp.async`, stored in wgmma's no-swizzle K-major layout: 8-row × 16-byte core matrices of 128
// contiguous bytes, the 8 of one row group side by side (K neighbours 128 bytes apart, row
// groups 1024). Per K block each warpgroup issues four m64n128k32 wgmmas into `partial`
// (the first overwrites it), waits, and promotes `partial` into `acc` with the row's and the
// column tile's scales, as DeepGEMM does (Hopper's FP8 accumulation keeps too few bits for a
// whole K).
//
// `mode` picks the form (`fp8_gemm_forms.cuh`); in the contiguous form a 128-row tile holds one
// expert.

#define TILE 128
#define TILE_BYTES (TILE * TILE)
// 16-byte chunks of one 128×128 operand tile that each thread moves.
#define CHUNKS (TILE_BYTES / 16 / 256)

// Byte offset of (row, 16-byte chunk c) of a tile in the core-matrix layout.
__device__ __forceinline__ int core_offset(int row, int c) {
    return ((row / 8) * (TILE / 16) + c) * 128 + (row % 8) * 16;
}

// Starts copying this thread's chunks of a 128×128 byte tile (rows first_row.., bytes k0..)
// from `rows` (`valid` rows of K bytes) into `tile`; rows past `valid` and bytes past K are
// filled with zero codes (a copy of 0 source bytes).
__device__ __forceinline__ void copy_tile(u8* tile, const u8* __restrict__ rows, int first_row,
                                          int valid, int k0) {
#pragma unroll
    for (int j = 0; j < CHUNKS; ++j) {
        const int i = threadIdx.x + 256 * j;
        const int r = i / (TILE / 16), c = i % (TILE / 16);
        const int row = first_row + r, k = k0 + c * 16;
        const bool inside = row < valid && k < K;
        const u8* source = inside ? rows + (size_t)row * K + k : rows;
        copy_async_16(tile + core_offset(r, c), source, inside ? 16 : 0);
    }
}

// The shared-memory matrix descriptor of a K-major operand whose first core matrix is at
// `start`: no swizzle, K neighbours 128 bytes apart (leading byte offset), row groups 1024
// (stride byte offset); addresses and offsets in 16-byte units.
__device__ __forceinline__ unsigned long long descriptor(const u8* start) {
    const u32 address = (u32)__cvta_generic_to_shared(start);
    return (unsigned long long)((address & 0x3ffff) >> 4) |
           ((unsigned long long)(128 >> 4) << 16) | ((unsigned long long)(1024 >> 4) << 32);
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

extern "C" __global__ void __launch_bounds__(256, 1)
fp8_gemm_wgmma(const u8* __restrict__ a, const float* __restrict__ sa, const u8* __restrict__ b,
               const float* __restrict__ sb, float* __restrict__ d, int m, int mode,
               const int* __restrict__ m_indices, const int* __restrict__ masked_m) {
    // Stage s: A's tile at 2s·TILE_BYTES, B's after it.
    DYNAMIC_SHARED(u8, ring, 1024);
    const int row0 = blockIdx.x * TILE, col0 = blockIdx.y * TILE;
    const int warpgroup = threadIdx.x / 128, warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
    const int g = lane / 4, t = lane % 4;
    // This thread's rows of the tile: warp_row + g and warp_row + g + 8.
    const int warp_row = warpgroup * 64 + warp * 16;

    const GemmOperands o =
        gemm_operands(a, sa, b, sb, d, m, mode, m_indices, masked_m, row0, TILE);

    float acc[64] = {};
    if (row0 < o.valid_rows && o.expert >= 0) {
        // Blocks 0 .. STAGES-2 in flight; one commit group per block (empty past the end) keeps
        // the count that `cp.async.wait_group` waits on.
#pragma unroll
        for (int s = 0; s < STAGES - 1; ++s) {
            if (s < K_BLOCKS) {
                copy_tile(ring + 2 * s * TILE_BYTES, o.a_rows, row0, o.valid_rows, s * TILE);
                copy_tile(ring + (2 * s + 1) * TILE_BYTES, o.b_rows, col0, N, s * TILE);
            }
            copy_async_commit();
        }
        float partial[64] = {};
        for (int kb = 0; kb < K_BLOCKS; ++kb) {
            // Block kb has landed and is visible to the tensor cores (the async proxy) for
            // every thread after the barrier; every warpgroup is done with block kb - 1, whose
            // stage the copy below refills.
            copy_async_wait<STAGES - 2>();
            asm volatile("fence.proxy.async.shared::cta;\n" ::);
            __syncthreads();
            const int next = kb + STAGES - 1;
            if (next < K_BLOCKS) {
                const int s = next % STAGES;
                copy_tile(ring + 2 * s * TILE_BYTES, o.a_rows, row0, o.valid_rows, next * TILE);
                copy_tile(ring + (2 * s + 1) * TILE_BYTES, o.b_rows, col0, N, next * TILE);
            }
            copy_async_commit();
            const u8* a_stage = ring + 2 * (kb % STAGES) * TILE_BYTES + warpgroup * 8 * 1024;
            const u8* b_stage = ring + (2 * (kb % STAGES) + 1) * TILE_BYTES;
            fence_registers(partial);
            asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
            for (int step = 0; step < TILE / 32; ++step) {
                // 32 K bytes are two core matrices.
                wgmma_m64n128k32(partial, descriptor(a_stage + step * 256),
                                 descriptor(b_stage + step * 256), step == 0);
            }
            asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
            asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
            fence_registers(partial);
            const float col_scale = o.b_scales[blockIdx.y * K_BLOCKS + kb];
#pragma unroll
            for (int half = 0; half < 2; ++half) {
                const int row = row0 + warp_row + g + 8 * half;
                const float row_scale =
                    row < o.valid_rows ? o.a_scales[(size_t)row * K_BLOCKS + kb] : 0.0f;
#pragma unroll
                for (int j = 0; j < 16; ++j) {
#pragma unroll
                    for (int e = 0; e < 2; ++e) {
                        acc[4 * j + 2 * half + e] +=
                            partial[4 * j + 2 * half + e] * row_scale * col_scale;
                    }
                }
            }
        }
    }
    // Accumulator layout: register 4j + 2·half + e holds row g + 8·half, column 8j + 2t + e.
#pragma unroll
    for (int half = 0; half < 2; ++half) {
        const int row = row0 + warp_row + g + 8 * half;
        if (row >= m) {
            continue;
        }
        const bool live = gemm_row_live(o, row, mode, m_indices);
#pragma unroll
        for (int j = 0; j < 16; ++j) {
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const int col = col0 + 8 * j + 2 * t + e;
                if (col < N) {
                    o.d_rows[(size_t)row * N + col] = live ? acc[4 * j + 2 * half + e] : 0.0f;
                }
            }
        }
    }
}
