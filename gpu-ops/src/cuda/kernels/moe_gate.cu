// DeepSeek-V3's MoE gate, one block of 256 threads per token, in f64 like the CPU reference so
// that both choose the same experts. Compiled per shape and settings: EXPERTS, DIM, N_GROUPS,
// TOPK_GROUPS, TOP_K, SIGMOID (1: sigmoid, 0: softmax), HAS_BIAS.
//
// The warps compute the logits x·Wᵀ (one expert per warp at a time, lanes striding DIM); one
// thread then activates them, adds the bias for choosing only, keeps the TOPK_GROUPS best
// groups (a group's score is its best expert, or the sum of its best two with a bias), picks
// the TOP_K best eligible experts, and writes their ids and weights (unbiased scores,
// normalised for the sigmoid, times route_scale). Ties go to the lower index, NaN sorts last:
// the CPU's rule.

#define GROUP_SIZE (EXPERTS / N_GROUPS)

// Whether `value` at `index` ranks above `best` at `best_index` (-1: nothing yet).
__device__ __forceinline__ bool ranks_above(double value, int index, double best,
                                            int best_index) {
    if (best_index < 0) {
        return true;
    }
    if (value != value) {
        return false;
    }
    return best != best || value > best || (value == best && index < best_index);
}

extern "C" __global__ void __launch_bounds__(256)
moe_gate(const float* __restrict__ x, const float* __restrict__ weight,
         const float* __restrict__ bias, float route_scale, int* __restrict__ experts,
         float* __restrict__ weights) {
    __shared__ float row[DIM];
    __shared__ double scores[EXPERTS];
    __shared__ double selection[EXPERTS];
    const int token = blockIdx.x, t = threadIdx.x, warp = t / 32, lane = t % 32;
    for (int i = t; i < DIM; i += 256) {
        row[i] = x[(size_t)token * DIM + i];
    }
    __syncthreads();
    for (int e = warp; e < EXPERTS; e += 8) {
        double dot = 0.0;
        for (int i = lane; i < DIM; i += 32) {
            dot += (double)row[i] * (double)weight[(size_t)e * DIM + i];
        }
        for (int offset = 16; offset > 0; offset /= 2) {
            dot += __shfl_xor_sync(0xffffffffu, dot, offset);
        }
        if (lane == 0) {
            scores[e] = dot;
        }
    }
    __syncthreads();
    if (t != 0) {
        return;
    }

    if (SIGMOID) {
        for (int e = 0; e < EXPERTS; ++e) {
            scores[e] = 1.0 / (1.0 + exp(-scores[e]));
        }
    } else {
        double max = -INFINITY, sum = 0.0;
        for (int e = 0; e < EXPERTS; ++e) {
            max = fmax(max, scores[e]);
        }
        for (int e = 0; e < EXPERTS; ++e) {
            scores[e] = exp(scores[e] - max);
            sum += scores[e];
        }
        for (int e = 0; e < EXPERTS; ++e) {
            scores[e] /= sum;
        }
    }
    for (int e = 0; e < EXPERTS; ++e) {
        selection[e] = HAS_BIAS ? scores[e] + (double)bias[e] : scores[e];
    }

    if (N_GROUPS > 1) {
        double group_scores[N_GROUPS];
        for (int g = 0; g < N_GROUPS; ++g) {
            int first = -1, second = -1;
            for (int i = g * GROUP_SIZE; i < (g + 1) * GROUP_SIZE; ++i) {
                if (ranks_above(selection[i], i, first < 0 ? 0.0 : selection[first], first)) {
                    second = first;
                    first = i;
                } else if (ranks_above(selection[i], i, second < 0 ? 0.0 : selection[second],
                                       second)) {
                    second = i;
                }
            }
            group_scores[g] = HAS_BIAS && second >= 0 ? selection[first] + selection[second]
                                                      : selection[first];
        }
        bool kept[N_GROUPS] = {};
        for (int pick = 0; pick < TOPK_GROUPS; ++pick) {
            int best = -1;
            for (int g = 0; g < N_GROUPS; ++g) {
                if (!kept[g] && ranks_above(group_scores[g], g, best < 0 ? 0.0 : group_scores[best], best)) {
                    best = g;
                }
            }
            kept[best] = true;
        }
        for (int e = 0; e < EXPERTS; ++e) {
            if (!kept[e / GROUP_SIZE]) {
                selection[e] = -INFINITY;
            }
        }
    }

    int chosen[TOP_K];
    double total = 0.0;
    for (int pick = 0; pick < TOP_K; ++pick) {
        int best = -1;
        for (int e = 0; e < EXPERTS; ++e) {
            bool taken = false;
            for (int p = 0; p < pick; ++p) {
                taken |= chosen[p] == e;
            }
            if (!taken && ranks_above(selection[e], e, best < 0 ? 0.0 : selection[best], best)) {
                best = e;
            }
        }
        chosen[pick] = best;
        total += scores[best];
    }
    for (int pick = 0; pick < TOP_K; ++pick) {
        const double weight_value = SIGMOID ? scores[chosen[pick]] / total : scores[chosen[pick]];
        experts[(size_t)token * TOP_K + pick] = chosen[pick];
        weights[(size_t)token * TOP_K + pick] = (float)(weight_value * (double)route_scale);
    }
}
