// DeepGEMM's FP8 GEMM, D = A·Bᵀ with per-token scales on A and 128×128 block scales on B, in
// the portable form (CUDA cores, any architecture NVRTC targets). Compiled per (N, K): the
// host defines N, K, N_BLOCKS = ceil(N/128), K_BLOCKS = ceil(K/128) and K_SPLITS.
//
// A block of 256 threads computes a 64×64 tile of D (grid x: row tiles, y: column tiles, z:
// groups and K splits); thread (ty, tx) = (t / 16, t % 16) owns
// rows ty + 16i and columns tx + 16j. Each 128-wide K block is summed in f32 into `partial`
// from two 64-wide halves staged in shared memory as decoded values, then multiplied by the
// row's scale and the column tile's scale and added to `acc`, the order DeepGEMM promotes in.
//
// `mode` picks the form (`fp8_gemm_forms.cuh`); in the contiguous form a 64-row tile holds one
// expert.

#define BM 64
#define BN 64
#define BK 64

extern "C" __global__ void __launch_bounds__(256)
fp8_gemm(const u8* __restrict__ a, const float* __restrict__ sa, const u8* __restrict__ b,
         const float* __restrict__ sb, float* __restrict__ d, int m, int mode,
         const int* __restrict__ m_indices, const int* __restrict__ masked_m) {
    __shared__ float a_tile[BM][BK + 1];
    __shared__ float b_tile[BN][BK + 1];
    const int row0 = blockIdx.x * BM, col0 = blockIdx.y * BN;
    const int t = threadIdx.x, ty = t / 16, tx = t % 16;

    const GemmOperands o =
        gemm_operands(a, sa, b, sb, d, m, mode, m_indices, masked_m, row0, BM);

    float acc[4][4] = {};
    if (row0 < o.valid_rows && o.expert >= 0) {
        for (int kb = o.kb_begin; kb < o.kb_end; ++kb) {
            float partial[4][4] = {};
            for (int k0 = kb * 128; k0 < min(kb * 128 + 128, K); k0 += BK) {
                for (int i = t; i < BM * BK; i += 256) {
                    const int r = i / BK, c = i % BK, k = k0 + c;
                    const int row = row0 + r, col = col0 + r;
                    a_tile[r][c] = row < o.valid_rows && k < K
                                       ? e4m3_decode(o.a_rows[(size_t)row * K + k])
                                       : 0.0f;
                    b_tile[r][c] =
                        col < N && k < K ? e4m3_decode(o.b_rows[(size_t)col * K + k]) : 0.0f;
                }
                __syncthreads();
                multiply_tiles<BK, BK + 1>(a_tile, b_tile, ty, tx, partial);
                __syncthreads();
            }
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int row = row0 + ty + 16 * i;
                const float row_scale = row < o.valid_rows ? o.a_scales[row * K_BLOCKS + kb] : 0.0f;
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    const int col = col0 + tx + 16 * j;
                    const float col_scale = col < N ? o.b_scales[(col / 128) * K_BLOCKS + kb] : 0.0f;
                    acc[i][j] += partial[i][j] * row_scale * col_scale;
                }
            }
        }
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int row = row0 + ty + 16 * i;
        if (row >= m) {
            continue;
        }
        const bool live = gemm_row_live(o, row, mode, m_indices);
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int col = col0 + tx + 16 * j;
            if (col < N) {
                o.d_rows[(size_t)row * N + col] = live ? acc[i][j] : 0.0f;
            }
        }
    }
}
