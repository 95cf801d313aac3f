// E4M3 quantisation: one block of 128 threads per group (grid x: row groups, y: K blocks;
// a group is ROW_SPAN rows × up to 128 columns:
// ROW_SPAN is 1 for per-token groups, 128 for per-block tiles), thread t owning column t of it.
// scale = max(amax, 1e-4) / 448, rounded up to a power of two with UE8M0; values times 1/scale
// are rounded to E4M3. Compiled with ROW_SPAN and UE8M0 defined.

extern "C" __global__ void quantize(const float* __restrict__ x, u8* __restrict__ bits,
                                    float* __restrict__ scales, int rows, int cols) {
    __shared__ float warp_amax[4];
    const int group_row = blockIdx.x, kb = blockIdx.y, k_blocks = gridDim.y;
    const int col = kb * 128 + threadIdx.x;
    const int first = group_row * ROW_SPAN;
    const int last = min(first + ROW_SPAN, rows);
    float amax = 0.0f;
    if (col < cols) {
        for (int r = first; r < last; ++r) {
            amax = fmaxf(amax, fabsf(x[(size_t)r * cols + col]));
        }
    }
    amax = warp_max(amax);
    if (threadIdx.x % 32 == 0) {
        warp_amax[threadIdx.x / 32] = amax;
    }
    __syncthreads();
    amax = fmaxf(fmaxf(warp_amax[0], warp_amax[1]), fmaxf(warp_amax[2], warp_amax[3]));
    float scale = fmaxf(amax, 1e-4f) / 448.0f;
    if (UE8M0) {
        int exponent;
        float mantissa = frexpf(scale, &exponent);
        scale = ldexpf(1.0f, mantissa == 0.5f ? exponent - 1 : exponent);
    }
    const float factor = 1.0f / scale;
    if (threadIdx.x == 0) {
        scales[group_row * k_blocks + kb] = scale;
    }
    if (col < cols) {
        for (int r = first; r < last; ++r) {
            bits[(size_t)r * cols + col] = e4m3_encode(x[(size_t)r * cols + col] * factor);
        }
    }
}
