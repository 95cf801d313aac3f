// D = A·Bᵀ in f32: the linear layers of MiniLM's f32 path. A is [m, K] and B [N, K], both
// row-major (B a weight matrix as PyTorch stores it). Compiled per (N, K): the host defines N
// and K.
//
// The tiling is fp8_gemm's without the scales: a block of 256 threads computes a 64×64 tile of
// D (grid x: row tiles, y: column tiles); thread (ty, tx) = (t / 16, t % 16) owns rows
// ty + 16i and columns tx + 16j, summing 32-wide slices of K staged in shared memory (rows
// padded by one so that the 16 columns a warp reads fall in different banks).

#define TILE 64
#define DEPTH 32

extern "C" __global__ void __launch_bounds__(256)
f32_gemm(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ d,
         int m) {
    __shared__ float a_tile[TILE][DEPTH + 1];
    __shared__ float b_tile[TILE][DEPTH + 1];
    const int row0 = blockIdx.x * TILE, col0 = blockIdx.y * TILE;
    const int t = threadIdx.x, ty = t / 16, tx = t % 16;
    float acc[4][4] = {};
    for (int k0 = 0; k0 < K; k0 += DEPTH) {
        for (int i = t; i < TILE * DEPTH; i += 256) {
            const int r = i / DEPTH, c = i % DEPTH, k = k0 + c;
            const int row = row0 + r, col = col0 + r;
            a_tile[r][c] = row < m && k < K ? a[(size_t)row * K + k] : 0.0f;
            b_tile[r][c] = col < N && k < K ? b[(size_t)col * K + k] : 0.0f;
        }
        __syncthreads();
        multiply_tiles<DEPTH, DEPTH + 1>(a_tile, b_tile, ty, tx, acc);
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int row = row0 + ty + 16 * i;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int col = col0 + tx + 16 * j;
            if (row < m && col < N) {
                d[(size_t)row * N + col] = acc[i][j];
            }
        }
    }
}
