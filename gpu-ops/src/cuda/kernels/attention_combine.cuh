// The combine step of split-KV attention, shared by `attention.cu` and `mla_bf16.cu`: one
// block of THREADS threads per query row merges the row's partials (slot row·splits + split:
// the largest scaled score, Σ exp(score - max), and DV unnormalised accumulators; a split
// that saw no key has sum 0), normalises, and writes out [row, DV] and lse [(seq·H_Q + head)·
// S_Q + token], where row = (seq·S_Q + token)·H_Q + head. No visible key gives zeros and +inf.

extern "C" __global__ void __launch_bounds__(THREADS)
attention_combine(const float* __restrict__ part_max, const float* __restrict__ part_sum,
                  const float* __restrict__ part_acc, int splits, float* __restrict__ out,
                  float* __restrict__ lse) {
    const int row = blockIdx.x;
    const int head = row % H_Q, token = (row / H_Q) % S_Q, seq = row / (H_Q * S_Q);
    const size_t first = (size_t)row * splits;
    float max_all = -INFINITY;
    for (int s = 0; s < splits; ++s) {
        if (part_sum[first + s] > 0.0f) {
            max_all = fmaxf(max_all, part_max[first + s]);
        }
    }
    float total = 0.0f;
    if (max_all != -INFINITY) {
        for (int s = 0; s < splits; ++s) {
            if (part_sum[first + s] > 0.0f) {
                total += part_sum[first + s] * expf(part_max[first + s] - max_all);
            }
        }
    }
    for (int dim = threadIdx.x; dim < DV; dim += THREADS) {
        float value = 0.0f;
        if (max_all != -INFINITY) {
            for (int s = 0; s < splits; ++s) {
                if (part_sum[first + s] > 0.0f) {
                    value += part_acc[(first + s) * DV + dim] *
                             expf(part_max[first + s] - max_all);
                }
            }
            value /= total;
        }
        out[(size_t)row * DV + dim] = value;
    }
    if (threadIdx.x == 0) {
        lse[(seq * H_Q + head) * S_Q + token] =
            max_all == -INFINITY ? INFINITY : max_all + logf(total);
    }
}
