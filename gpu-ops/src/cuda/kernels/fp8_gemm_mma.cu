// DeepGEMM's FP8 GEMM on tensor cores (sm_89 and newer): the same operands, forms and result
// as `fp8_gemm.cu`, with each 128-wide K block multiplied by `mma.sync ... e4m3.e4m3.f32`
// (16×8×32 per instruction, exact products summed in f32) and promoted into the f32
// accumulator with the row's and the column tile's scales, as DeepGEMM does. Compiled per
// (N, K); the host defines N, K, N_BLOCKS = ceil(N/128), K_BLOCKS = ceil(K/128), K_SPLITS
// and STAGES (the depth of the copy pipeline, below), and uses this kernel only where K is a multiple of 16 (each row's K bytes start 16-byte aligned).
//
// A block of 256 threads (8 warps) computes a 128×128 tile of D: grid x the row tiles, y the
// column tiles (each one B scale block, since the tile is 128 wide), z the groups. Warp w
// owns rows 64·(w / 4) .. +64 and columns 32·(w % 4) .. +32 of the tile: 4×4 mma tiles of
// 16×8. K blocks of A and of B (128×128 bytes each) stream into shared memory through a ring
// of STAGES buffers (dynamic shared memory, STAGES · 2 · 128 · 144 bytes, which the host
// sizes) with `cp.async`, so the copies of the next blocks overlap the tensor cores' work on
// this one; rows are padded to 144 bytes so that the fragment loads (lane g·4 + t reads row g,
// bytes 4t..) hit 32 different banks.
//
// `mode` picks the form (`fp8_gemm_forms.cuh`); in the contiguous form a 128-row tile holds one
// expert.

#define TILE 128
#define ROW_BYTES (TILE + 16)
// 16-byte chunks of one 128×128 operand tile that each thread moves.
#define CHUNKS (TILE * TILE / 16 / 256)

// Starts copying this thread's chunks of a 128×128 byte tile (rows first_row.., K block kb)
// from `rows` (`valid` rows of K bytes) into `tile`; rows past `valid` and bytes past K are
// filled with zero codes (a copy of 0 source bytes).
__device__ __forceinline__ void copy_tile(u8 (*tile)[ROW_BYTES], const u8* __restrict__ rows,
                                          int first_row, int valid, int kb) {
#pragma unroll
    for (int j = 0; j < CHUNKS; ++j) {
        const int i = threadIdx.x + 256 * j;
        const int r = i / (TILE / 16), c = (i % (TILE / 16)) * 16;
        const int row = first_row + r, k = kb * TILE + c;
        const bool inside = row < valid && k < K;
        const u8* source = inside ? rows + (size_t)row * K + k : rows;
        copy_async_16(&tile[r][c], source, inside ? 16 : 0);
    }
}

__device__ __forceinline__ u32 bytes4(const u8 (*tile)[ROW_BYTES], int row, int k) {
    return *reinterpret_cast<const u32*>(&tile[row][k]);
}

extern "C" __global__ void __launch_bounds__(256, 1)
fp8_gemm_mma(const u8* __restrict__ a, const float* __restrict__ sa, const u8* __restrict__ b,
             const float* __restrict__ sb, float* __restrict__ d, int m, int mode,
             const int* __restrict__ m_indices, const int* __restrict__ masked_m) {
    DYNAMIC_SHARED(u8, ring, 16);
    // Stage s: A's tile, then B's.
    auto a_tile = [&](int s) { return (u8(*)[ROW_BYTES])(ring + (2 * s) * TILE * ROW_BYTES); };
    auto b_tile = [&](int s) {
        return (u8(*)[ROW_BYTES])(ring + (2 * s + 1) * TILE * ROW_BYTES);
    };
    const int row0 = blockIdx.x * TILE, col0 = blockIdx.y * TILE;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int g = lane / 4, t = lane % 4;
    const int warp_row = (warp / 4) * 64, warp_col = (warp % 4) * 32;

    const GemmOperands o =
        gemm_operands(a, sa, b, sb, d, m, mode, m_indices, masked_m, row0, TILE);

    float acc[4][4][4] = {};
    if (row0 < o.valid_rows && o.expert >= 0) {
        // The block's run of K blocks (all of K unless K is split), blocks 0 .. STAGES-2 of it
        // in flight; one commit group per block (empty past the end) keeps the count that
        // `cp.async.wait_group` waits on.
        const int blocks = o.kb_end - o.kb_begin;
#pragma unroll
        for (int s = 0; s < STAGES - 1; ++s) {
            if (s < blocks) {
                copy_tile(a_tile(s), o.a_rows, row0, o.valid_rows, o.kb_begin + s);
                copy_tile(b_tile(s), o.b_rows, col0, N, o.kb_begin + s);
            }
            copy_async_commit();
        }
        for (int i = 0; i < blocks; ++i) {
            const int kb = o.kb_begin + i;
            // Block i of the run has landed (for every thread, after the barrier), and every warp
            // is done with block i - 1, whose stage the copy below refills.
            copy_async_wait<STAGES - 2>();
            __syncthreads();
            const int next = i + STAGES - 1;
            if (next < blocks) {
                const int s = next % STAGES;
                copy_tile(a_tile(s), o.a_rows, row0, o.valid_rows, o.kb_begin + next);
                copy_tile(b_tile(s), o.b_rows, col0, N, o.kb_begin + next);
            }
            copy_async_commit();
            const u8(*a_stage)[ROW_BYTES] = a_tile(i % STAGES);
            const u8(*b_stage)[ROW_BYTES] = b_tile(i % STAGES);
            float partial[4][4][4] = {};
            // Not unrolled: unrolled, the compiler hoists every step's fragment loads and runs
            // out of registers (the two accumulators already take 128).
#pragma unroll 1
            for (int k = 0; k < TILE; k += 32) {
                u32 bf[4][2];
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    const int c = warp_col + 8 * j + g;
                    bf[j][0] = bytes4(b_stage, c, k + 4 * t);
                    bf[j][1] = bytes4(b_stage, c, k + 16 + 4 * t);
                }
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const int r = warp_row + 16 * i + g;
                    const u32 af[4] = {bytes4(a_stage, r, k + 4 * t), bytes4(a_stage, r + 8, k + 4 * t),
                                       bytes4(a_stage, r, k + 16 + 4 * t),
                                       bytes4(a_stage, r + 8, k + 16 + 4 * t)};
#pragma unroll
                    for (int j = 0; j < 4; ++j) {
                        mma_e4m3(partial[i][j], af, bf[j]);
                    }
                }
            }
            const float col_scale = o.b_scales[blockIdx.y * K_BLOCKS + kb];
#pragma unroll
            for (int i = 0; i < 4; ++i) {
#pragma unroll
                for (int half = 0; half < 2; ++half) {
                    const int row = row0 + warp_row + 16 * i + g + 8 * half;
                    const float row_scale =
                        row < o.valid_rows ? o.a_scales[(size_t)row * K_BLOCKS + kb] : 0.0f;
#pragma unroll
                    for (int j = 0; j < 4; ++j) {
#pragma unroll
                        for (int e = 0; e < 2; ++e) {
                            acc[i][j][2 * half + e] +=
                                partial[i][j][2 * half + e] * row_scale * col_scale;
                        }
                    }
                }
            }
        }
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            const int row = row0 + warp_row + 16 * i + g + 8 * half;
            if (row >= m) {
                continue;
            }
            const bool live = gemm_row_live(o, row, mode, m_indices);
#pragma unroll
            for (int j = 0; j < 4; ++j) {
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const int col = col0 + warp_col + 8 * j + 2 * t + e;
                    if (col < N) {
                        o.d_rows[(size_t)row * N + col] = live ? acc[i][j][2 * half + e] : 0.0f;
                    }
                }
            }
        }
    }
}
