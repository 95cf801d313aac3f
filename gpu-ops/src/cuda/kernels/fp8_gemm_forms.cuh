// What the three FP8 GEMM kernels (`fp8_gemm`, `fp8_gemm_mma`, `fp8_gemm_wgmma`) share: where a
// block's operands start in each GEMM form, and which of its rows of D hold results. The host
// prepends this to those programs, which define N, K, N_BLOCKS and K_BLOCKS.
//
// `mode`: 0 dense (one group); 1 grouped contiguous (row r uses expert m_indices[r], -1 rows
// are zero; a block's rows hold one expert, which the host checks); 2 grouped masked (group
// g's A and D start at row g·m, and only its first masked_m[g] rows are computed, the rest
// zero).
//
// Split K (the host defines K_SPLITS, 1 for none): where the tiles of D are too few to fill the
// device, the K blocks are cut into K_SPLITS runs of K_BLOCKS_PER_SPLIT, grid z = groups ·
// K_SPLITS, and split s sums its run into its own copy of D at d + s·(groups·m·N), which
// `fp8_gemm_reduce` then adds up into D. The sum of each run's scaled blocks is the sum over
// all of K, in another order.

#define K_BLOCKS_PER_SPLIT ((K_BLOCKS + K_SPLITS - 1) / K_SPLITS)

// One block's view of the operands: its group's rows of A (codes and per-token scales), its
// expert's B (codes and 128×128 block scales, K_BLOCKS per 128 columns) and its group's rows of D.
struct GemmOperands {
    const u8* a_rows;
    const float* a_scales;
    const u8* b_rows;
    const float* b_scales;
    float* d_rows;
    // Rows of A below this hold data (the group's masked_m, else m).
    int valid_rows;
    // The block's expert; -1 when every one of its rows is padding.
    int expert;
    // The block's run of K blocks: kb_begin .. kb_end.
    int kb_begin, kb_end;
};

__device__ __forceinline__ GemmOperands gemm_operands(const u8* a, const float* sa, const u8* b,
                                                      const float* sb, float* d, int m, int mode,
                                                      const int* m_indices,
                                                      const int* masked_m, int row0,
                                                      int tile_rows) {
    const int group = blockIdx.z / K_SPLITS, split = blockIdx.z % K_SPLITS;
    const size_t d_copy = (size_t)split * (gridDim.z / K_SPLITS) * m * N;
    size_t first_row = 0;
    int valid_rows = m, expert = 0;
    if (mode == 2) {
        first_row = (size_t)group * m;
        valid_rows = min(masked_m[group], m);
        expert = group;
    } else if (mode == 1) {
        expert = -1;
        for (int r = row0; r < min(row0 + tile_rows, m) && expert < 0; ++r) {
            expert = m_indices[r];
        }
    }
    const size_t b_expert = (size_t)max(expert, 0);
    return GemmOperands{a + first_row * K,
                        sa + first_row * K_BLOCKS,
                        b + b_expert * N * K,
                        sb + b_expert * N_BLOCKS * K_BLOCKS,
                        d + d_copy + first_row * N,
                        valid_rows,
                        expert,
                        split * K_BLOCKS_PER_SPLIT,
                        min(K_BLOCKS, (split + 1) * K_BLOCKS_PER_SPLIT)};
}

// Whether `row` (< m) of the block's D holds a result rather than a zero: a row with data, of
// an expert, and in the contiguous form not padding.
__device__ __forceinline__ bool gemm_row_live(const GemmOperands& o, int row, int mode,
                                              const int* m_indices) {
    return row < o.valid_rows && o.expert >= 0 && (mode != 1 || m_indices[row] >= 0);
}

// D = the sum of the K_SPLITS copies `parts` of D (`count` values each), when K was split.
extern "C" __global__ void __launch_bounds__(256)
fp8_gemm_reduce(const float* __restrict__ parts, float* __restrict__ d, int count) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < count; i += gridDim.x * blockDim.x) {
        float sum = 0.0f;
#pragma unroll
        for (int s = 0; s < K_SPLITS; ++s) {
            sum += parts[(size_t)s * count + i];
        }
        d[i] = sum;
    }
}
