// DeepGEMM's FP8 GEMM, D = A·Bᵀ with per-token scales on A and 128×128 block scales on B, in
// the portable form (CUDA cores, any architecture NVRTC targets). Compiled per (N, K): the
// host defines N, K, N_BLOCKS = ceil(N/128) and K_BLOCKS = ceil(K/128).
//
// A block of 256 threads computes a 64×64 tile of D (grid x: row tiles, y: column tiles); thread (ty, tx) = (t / 16, t % 16) owns
// rows ty + 16i and columns tx + 16j. Each 128-wide K block is summed in f32 into `partial`
// from two 64-wide halves staged in shared memory as decoded values, then multiplied by the
// row's scale and the column tile's scale and added to `acc`, the order DeepGEMM promotes in.
//
// `mode` picks the form: 0 dense (grid.z = 1); 1 grouped contiguous (row r uses expert
// m_indices[r], -1 rows are zero; a 64-row tile holds one expert, which the host checks); 2
// grouped masked (grid.z = groups; group g's A and D start at row g·m, and only its first
// masked_m[g] rows are computed, the rest zero).

#define BM 64
#define BN 64
#define BK 64

extern "C" __global__ void __launch_bounds__(256)
fp8_gemm(const u8* __restrict__ a, const float* __restrict__ sa, const u8* __restrict__ b,
         const float* __restrict__ sb, float* __restrict__ d, int m, int mode,
         const int* __restrict__ m_indices, const int* __restrict__ masked_m) {
    __shared__ float a_tile[BM][BK + 1];
    __shared__ float b_tile[BN][BK + 1];
    const int group = blockIdx.z;
    const int row0 = blockIdx.x * BM, col0 = blockIdx.y * BN;
    const int t = threadIdx.x, ty = t / 16, tx = t % 16;

    size_t first_row = 0;
    int valid_rows = m, expert = 0;
    if (mode == 2) {
        first_row = (size_t)group * m;
        valid_rows = min(masked_m[group], m);
        expert = group;
    } else if (mode == 1) {
        expert = -1;
        for (int r = row0; r < min(row0 + BM, m) && expert < 0; ++r) {
            expert = m_indices[r];
        }
    }
    const u8* a_rows = a + first_row * K;
    const float* a_scales = sa + first_row * K_BLOCKS;
    const u8* b_rows = b + (size_t)max(expert, 0) * N * K;
    const float* b_scales = sb + (size_t)max(expert, 0) * N_BLOCKS * K_BLOCKS;
    float* d_rows = d + first_row * N;

    float acc[4][4] = {};
    if (row0 < valid_rows && expert >= 0) {
        for (int kb = 0; kb < K_BLOCKS; ++kb) {
            float partial[4][4] = {};
            for (int k0 = kb * 128; k0 < min(kb * 128 + 128, K); k0 += BK) {
                for (int i = t; i < BM * BK; i += 256) {
                    const int r = i / BK, c = i % BK, k = k0 + c;
                    const int row = row0 + r, col = col0 + r;
                    a_tile[r][c] = row < valid_rows && k < K
                                       ? e4m3_decode(a_rows[(size_t)row * K + k])
                                       : 0.0f;
                    b_tile[r][c] =
                        col < N && k < K ? e4m3_decode(b_rows[(size_t)col * K + k]) : 0.0f;
                }
                __syncthreads();
                multiply_tiles<BK, BK + 1>(a_tile, b_tile, ty, tx, partial);
                __syncthreads();
            }
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int row = row0 + ty + 16 * i;
                const float row_scale = row < valid_rows ? a_scales[row * K_BLOCKS + kb] : 0.0f;
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    const int col = col0 + tx + 16 * j;
                    const float col_scale = col < N ? b_scales[(col / 128) * K_BLOCKS + kb] : 0.0f;
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
        const bool live =
            row < valid_rows && expert >= 0 && (mode != 1 || m_indices[row] >= 0);
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int col = col0 + tx + 16 * j;
            if (col < N) {
                d_rows[(size_t)row * N + col] = live ? acc[i][j] : 0.0f;
            }
        }
    }
}
