// Split-KV attention, shared by MLA decode over a paged cache (PAGED = 1) and dense attention
// with a key-padding mask (PAGED = 0): the GPU form of the CPU's `Partial` (over, combine,
// finish). Compiled per shape with D, DV, H_Q, KV_SETS, S_Q, CAUSAL, PAGED, and BLOCK_SIZE
// and MAX_BLOCKS (paged) or S_K (dense) defined.
//
// Query rows that read the same keys form a set: for MLA the S_Q tokens × H_Q / H_KV heads of
// one sequence's KV head (KV_SETS = H_KV), for dense attention the S_Q tokens of one
// sequence's head (KV_SETS = H_Q). Query row q = (seq·S_Q + token)·H_Q + head, as the outputs
// are laid out.
//
// `attention_split`: one block of 8 warps per (8 rows of a set, split of the keys), one warp
// per row. Each step stages 8 keys (and values) in shared memory once for all 8 rows, each
// warp scores them against its row (lanes stride the D dims) and folds them into its DV
// accumulators (lanes stride DV) with the running max and sum: online softmax. A key is read
// only when some row of the block may see it (below the sequence's length, the causal bound
// of the block's last token, and the mask), so pages past a sequence's end are never touched;
// a row that may not see a staged key scores it -inf. The partial (max, sum, unnormalised
// accumulators) goes to the workspace.
//
// `attention_combine` (attention_combine.cuh) merges each row's splits.

#define THREADS 256
#define ROWS (THREADS / 32)
#define KEYS 8
#define HEADS_PER_SET (H_Q / KV_SETS)
#define SET_ROWS (S_Q * HEADS_PER_SET)
#define BLOCKS_PER_SET ((SET_ROWS + ROWS - 1) / ROWS)
#define DV_PER_LANE ((DV + 31) / 32)

// The key row of set `kv` (the KV head, or the head for dense attention) at `pos`.
__device__ __forceinline__ const float* key_row(const float* keys, const int* block_table,
                                                int seq, int pos, int kv) {
#if PAGED
    const int block = block_table[seq * MAX_BLOCKS + pos / BLOCK_SIZE];
    return keys + ((size_t)(block * BLOCK_SIZE + pos % BLOCK_SIZE) * KV_SETS + kv) * D;
#else
    return keys + ((size_t)(seq * S_K + pos) * H_Q + kv) * D;
#endif
}

__device__ __forceinline__ bool key_unmasked(const u8* key_mask, int seq, int pos) {
#if PAGED
    return true;
#else
    return key_mask[seq * S_K + pos] != 0;
#endif
}

// Keys this query row may see: [0, visible).
__device__ __forceinline__ int visible_keys(const int* seqlens, int seq, int token) {
#if PAGED
    const int s_k = max(seqlens[seq], 0);
#else
    const int s_k = S_K;
#endif
    return CAUSAL ? min(max(s_k + token + 1 - S_Q, 0), s_k) : s_k;
}

extern "C" __global__ void __launch_bounds__(THREADS)
attention_split(const float* __restrict__ q, const float* __restrict__ keys,
                const float* __restrict__ values, const int* __restrict__ block_table,
                const int* __restrict__ seqlens, const u8* __restrict__ key_mask, float scale,
                int split_len, float* __restrict__ part_max, float* __restrict__ part_sum,
                float* __restrict__ part_acc) {
    __shared__ float query[ROWS][D];
    __shared__ float staged_keys[KEYS][D];
#if !PAGED
    __shared__ float staged_values[KEYS][DV];
#endif
    __shared__ bool staged[KEYS];
    const int set = blockIdx.x / BLOCKS_PER_SET, first_row = (blockIdx.x % BLOCKS_PER_SET) * ROWS;
    const int seq = set / KV_SETS, kv = set % KV_SETS;
    const int split = blockIdx.y, splits = gridDim.y;
    const int t = threadIdx.x, warp = t / 32, lane = t % 32;

    const int set_row = first_row + warp;
    const bool live = set_row < SET_ROWS;
    const int token = set_row / HEADS_PER_SET;
    const int head = kv * HEADS_PER_SET + set_row % HEADS_PER_SET;
    const int row = (seq * S_Q + token) * H_Q + head;
    const int visible = live ? visible_keys(seqlens, seq, token) : 0;
    // The block's last live row has its latest token, so it sees the most keys.
    const int last_token = (min(first_row + ROWS, SET_ROWS) - 1) / HEADS_PER_SET;
    const int begin = split * split_len;
    const int end = min(begin + split_len, visible_keys(seqlens, seq, last_token));

    if (live) {
        for (int i = lane; i < D; i += 32) {
            query[warp][i] = q[(size_t)row * D + i];
        }
    }

    float running_max = -INFINITY, running_sum = 0.0f;
    float acc[DV_PER_LANE] = {};
    for (int base = begin; base < end; base += KEYS) {
        __syncthreads();
        if (t < KEYS) {
            staged[t] = base + t < end && key_unmasked(key_mask, seq, base + t);
        }
        __syncthreads();
        for (int i = t; i < KEYS * D; i += THREADS) {
            const int key = i / D, dim = i % D;
            staged_keys[key][dim] =
                staged[key] ? key_row(keys, block_table, seq, base + key, kv)[dim] : 0.0f;
        }
#if !PAGED
        for (int i = t; i < KEYS * DV; i += THREADS) {
            const int key = i / DV, dim = i % DV;
            staged_values[key][dim] =
                staged[key] ? values[((size_t)(seq * S_K + base + key) * H_Q + kv) * DV + dim]
                            : 0.0f;
        }
#endif
        __syncthreads();
        float scores[KEYS];
        float step_max = -INFINITY;
#pragma unroll
        for (int key = 0; key < KEYS; ++key) {
            float dot = 0.0f;
            for (int i = lane; i < D; i += 32) {
                dot += query[warp][i] * staged_keys[key][i];
            }
            dot = warp_sum(dot);
            scores[key] = staged[key] && base + key < visible ? dot * scale : -INFINITY;
            step_max = fmaxf(step_max, scores[key]);
        }
        if (step_max == -INFINITY) {
            continue;
        }
        const float new_max = fmaxf(running_max, step_max);
        const float rescale = expf(running_max - new_max);
        running_sum *= rescale;
        float weights[KEYS];
#pragma unroll
        for (int key = 0; key < KEYS; ++key) {
            weights[key] = scores[key] == -INFINITY ? 0.0f : expf(scores[key] - new_max);
            running_sum += weights[key];
        }
#pragma unroll
        for (int j = 0; j < DV_PER_LANE; ++j) {
            const int dim = lane + 32 * j;
            float value = acc[j] * rescale;
            if (dim < DV) {
#pragma unroll
                for (int key = 0; key < KEYS; ++key) {
#if PAGED
                    value += weights[key] * staged_keys[key][dim];
#else
                    value += weights[key] * staged_values[key][dim];
#endif
                }
            }
            acc[j] = value;
        }
        running_max = new_max;
    }

    if (!live) {
        return;
    }
    const size_t slot = (size_t)row * splits + split;
    if (lane == 0) {
        part_max[slot] = running_max;
        part_sum[slot] = running_sum;
    }
#pragma unroll
    for (int j = 0; j < DV_PER_LANE; ++j) {
        const int dim = lane + 32 * j;
        if (dim < DV) {
            part_acc[slot * DV + dim] = acc[j];
        }
    }
}
