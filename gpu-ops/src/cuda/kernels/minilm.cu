// The element-wise and per-row steps of MiniLM's encoder around its GEMMs and attention
// (`minilm/encoder.rs` is the CPU form). Compiled with HIDDEN (the model width) defined.
//
// Per-row kernels run one block of ROW_THREADS threads per row (token or text); thread t holds
// columns t + ROW_THREADS·i in registers.

#define ROW_THREADS 128
#define PER_THREAD ((HIDDEN + ROW_THREADS - 1) / ROW_THREADS)
// BERT's LayerNorm epsilon, as encoder.rs's NORM_EPS.
#define NORM_EPS 1e-12f

// The sum of `v` over the block; every thread gets it.
__device__ float block_sum(float v) {
    __shared__ float warps[ROW_THREADS / 32];
    v = warp_sum(v);
    if (threadIdx.x % 32 == 0) {
        warps[threadIdx.x / 32] = v;
    }
    __syncthreads();
    float total = 0.0f;
#pragma unroll
    for (int w = 0; w < ROW_THREADS / 32; ++w) {
        total += warps[w];
    }
    __syncthreads();
    return total;
}

// LayerNorm of the row this block holds in `v`, written to `out`: mean, then the variance of
// the deviations (two passes, as the CPU does in f64).
__device__ void normalize_row(const float (&v)[PER_THREAD], const float* __restrict__ gamma,
                              const float* __restrict__ beta, float* __restrict__ out) {
    float sum = 0.0f;
#pragma unroll
    for (int i = 0; i < PER_THREAD; ++i) {
        const int col = threadIdx.x + ROW_THREADS * i;
        sum += col < HIDDEN ? v[i] : 0.0f;
    }
    const float mean = block_sum(sum) / HIDDEN;
    float squares = 0.0f;
#pragma unroll
    for (int i = 0; i < PER_THREAD; ++i) {
        const int col = threadIdx.x + ROW_THREADS * i;
        const float deviation = v[i] - mean;
        squares += col < HIDDEN ? deviation * deviation : 0.0f;
    }
    const float inverse = 1.0f / sqrtf(block_sum(squares) / HIDDEN + NORM_EPS);
#pragma unroll
    for (int i = 0; i < PER_THREAD; ++i) {
        const int col = threadIdx.x + ROW_THREADS * i;
        if (col < HIDDEN) {
            out[col] = (v[i] - mean) * inverse * gamma[col] + beta[col];
        }
    }
}

// x[row] = LayerNorm(word[ids[row]] + position[row % len] + token_type): the embeddings.
extern "C" __global__ void __launch_bounds__(ROW_THREADS)
embed_tokens(const unsigned int* __restrict__ ids, const float* __restrict__ words,
             const float* __restrict__ positions, const float* __restrict__ token_type,
             const float* __restrict__ gamma, const float* __restrict__ beta, int len,
             float* __restrict__ x) {
    const size_t row = blockIdx.x;
    const float* word = words + (size_t)ids[row] * HIDDEN;
    const float* position = positions + (row % len) * HIDDEN;
    float v[PER_THREAD];
#pragma unroll
    for (int i = 0; i < PER_THREAD; ++i) {
        const int col = threadIdx.x + ROW_THREADS * i;
        v[i] = col < HIDDEN ? word[col] + position[col] + token_type[col] : 0.0f;
    }
    normalize_row(v, gamma, beta, x + row * HIDDEN);
}

// y += bias (per column of `cols`), then the exact erf GELU when `gelu` is set; one thread per
// element.
extern "C" __global__ void bias_activation(float* __restrict__ y, const float* __restrict__ bias,
                                           int cols, size_t total, int gelu) {
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) {
        return;
    }
    float v = y[i] + bias[i % cols];
    if (gelu) {
        v = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    }
    y[i] = v;
}

// x[row] = LayerNorm(x[row] + residual[row]): the residual connection and its norm, in place.
extern "C" __global__ void __launch_bounds__(ROW_THREADS)
add_norm(float* __restrict__ x, const float* __restrict__ residual,
         const float* __restrict__ gamma, const float* __restrict__ beta) {
    const size_t row = blockIdx.x;
    float v[PER_THREAD];
#pragma unroll
    for (int i = 0; i < PER_THREAD; ++i) {
        const int col = threadIdx.x + ROW_THREADS * i;
        v[i] = col < HIDDEN ? x[row * HIDDEN + col] + residual[row * HIDDEN + col] : 0.0f;
    }
    normalize_row(v, gamma, beta, x + row * HIDDEN);
}

// out[text] = the mean of the text's real tokens' states (mask), L2-normalised: the sentence
// embedding. One block per text of `len` tokens.
extern "C" __global__ void __launch_bounds__(ROW_THREADS)
mean_pool(const float* __restrict__ x, const u8* __restrict__ mask, int len,
          float* __restrict__ out) {
    const size_t text = blockIdx.x;
    float v[PER_THREAD] = {};
    int count = 0;
    for (int token = 0; token < len; ++token) {
        if (!mask[text * len + token]) {
            continue;
        }
        ++count;
        const float* state = x + (text * len + token) * HIDDEN;
#pragma unroll
        for (int i = 0; i < PER_THREAD; ++i) {
            const int col = threadIdx.x + ROW_THREADS * i;
            v[i] += col < HIDDEN ? state[col] : 0.0f;
        }
    }
    float squares = 0.0f;
#pragma unroll
    for (int i = 0; i < PER_THREAD; ++i) {
        v[i] /= fmaxf((float)count, 1e-9f);
        squares += v[i] * v[i];
    }
    const float norm = fmaxf(sqrtf(block_sum(squares)), 1e-12f);
#pragma unroll
    for (int i = 0; i < PER_THREAD; ++i) {
        const int col = threadIdx.x + ROW_THREADS * i;
        if (col < HIDDEN) {
            out[text * HIDDEN + col] = v[i] / norm;
        }
    }
}
