// DeepGEMM's FP8 GEMM on Hopper's warpgroup tensor cores (`wgmma`, sm_90a): the same
// operands, forms and result as `fp8_gemm.cu`. Compiled per (N, K) for sm_90a; the host
// defines N, K, N_BLOCKS = ceil(N/128), K_BLOCKS = ceil(K/128), K_SPLITS and STAGES, and uses
// this kernel only where K is a multiple of 16 (each row's K bytes start 16-byte aligned).
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

// Starts copying this thread's chunks of a 128×128 byte tile (rows first_row.., K block kb)
// from `rows` (`valid` rows of K bytes) into `tile`; rows past `valid` and bytes past K are
// filled with zero codes (a copy of 0 source bytes).
__device__ __forceinline__ void copy_tile(u8* tile, const u8* __restrict__ rows, int first_row,
                                          int valid, int kb) {
#pragma unroll
    for (int j = 0; j < CHUNKS; ++j) {
        const int i = threadIdx.x + 256 * j;
        const int r = i / (TILE / 16), c = i % (TILE / 16);
        const int row = first_row + r, k = kb * TILE + c * 16;
        const bool inside = row < valid && k < K;
        const u8* source = inside ? rows + (size_t)row * K + k : rows;
        copy_async_16(tile + core_offset(r, c), source, inside ? 16 : 0);
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
        // The block's run of K blocks (all of K unless K is split), blocks 0 .. STAGES-2 of it
        // in flight; one commit group per block (empty past the end) keeps the count that
        // `cp.async.wait_group` waits on.
        const int blocks = o.kb_end - o.kb_begin;
#pragma unroll
        for (int s = 0; s < STAGES - 1; ++s) {
            if (s < blocks) {
                copy_tile(ring + 2 * s * TILE_BYTES, o.a_rows, row0, o.valid_rows, o.kb_begin + s);
                copy_tile(ring + (2 * s + 1) * TILE_BYTES, o.b_rows, col0, N, o.kb_begin + s);
            }
            copy_async_commit();
        }
        float partial[64] = {};
        for (int i = 0; i < blocks; ++i) {
            const int kb = o.kb_begin + i;
            // Block i of the run has landed and is visible to the tensor cores (the async proxy)
            // for every thread after the barrier; every warpgroup is done with block i - 1, whose
            // stage the copy below refills.
            copy_async_wait<STAGES - 2>();
            fence_proxy_async();
            __syncthreads();
            const int next = i + STAGES - 1;
            if (next < blocks) {
                const int s = next % STAGES;
                const int kb_next = o.kb_begin + next;
                copy_tile(ring + 2 * s * TILE_BYTES, o.a_rows, row0, o.valid_rows, kb_next);
                copy_tile(ring + (2 * s + 1) * TILE_BYTES, o.b_rows, col0, N, kb_next);
            }
            copy_async_commit();
            const u8* a_stage = ring + 2 * (i % STAGES) * TILE_BYTES + warpgroup * 8 * 1024;
            const u8* b_stage = ring + (2 * (i % STAGES) + 1) * TILE_BYTES;
            fence_registers(partial);
            wgmma_fence();
#pragma unroll
            for (int step = 0; step < TILE / 32; ++step) {
                // 32 K bytes are two core matrices.
                wgmma_m64n128k32(partial, shared_descriptor(a_stage + step * 256, 128, 1024),
                                 shared_descriptor(b_stage + step * 256, 128, 1024), step == 0);
            }
            wgmma_commit();
            wgmma_wait_all();
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
