// MLA decode from a bf16 paged KV cache on tensor cores (`mma.sync` bf16, sm_80 and newer):
// the split step of split-KV attention, whose partials `attention_combine` merges. Compiled
// per shape with D, DV, H_Q, H_KV, S_Q, CAUSAL, BLOCK_SIZE, MAX_BLOCKS and STAGES (the depth
// of the key ring, 2 or more) defined; the host uses it where D is a multiple of 16 and DV of
// 32, with as many stages as the device's shared memory holds.
//
// The query rows that read one sequence's KV head (S_Q tokens × H_Q / H_KV heads, token-major
// as in `attention.cu`) are cut into tiles of 64. A block of 8 warps takes one tile and one
// split of the keys (grid x: (seq·H_KV + kv)·ROW_TILES + tile, y: split), so each key of the
// split is read from global memory once for 64 query rows, as FlashMLA does. The tile's
// queries stay in shared memory; the keys stream through a ring of STAGES 32-key steps with
// `cp.async` (the copies of the next steps overlapping the work on this one), and keys past
// the block's last visible position are never read (their rows are zero-filled instead), so
// pages past a sequence's end are never touched.
//
// Warp w takes rows 16·(w / 2) .. +16 of the tile with its partner w ^ 1: the pair splits each
// step's keys for the scores and the value dims for the output, so that its accumulators
// (16 × DV/2 in f32, 128 registers for DV = 512) fit where the whole row would not, and no
// score is computed twice. Per step of KEYS keys a warp
//   1. scores its 16 rows against its half of the keys (S = Q·Kᵀ, D/16 steps of m16n8k16,
//      fragments by `ldmatrix`) and masks the keys its rows may not see;
//   2. shares its rows' maxima with its partner, so both fold the step into the same running
//      max (online softmax, each lane's rows g and g + 8 reduced across the lane's quad), and
//      writes its probabilities P, rounded to bf16, into the pair's tile of P;
//   3. adds P·V over all the step's keys for its half of the value dims (P's fragments from
//      that tile, V = the keys' first DV dims by transposed `ldmatrix`).
// Each warp sums only its own keys' probabilities; the pair adds the two sums at the end.
// Pairs whose rows all lie past the set (three of four where a KV head has 16 query rows, as
// DeepSeek's 128 heads over 8 GPUs do) skip the products but still copy and meet the
// barriers; a pair's warps sit on different quarters of the multiprocessor (w % 4), so that
// where only one pair computes it has two of the four tensor cores.

#define THREADS 256
#define TILE_ROWS 64
#define KEYS 32
// Shared rows, in bf16 elements: padded by 16 bytes so that the 8 rows one `ldmatrix` reads
// fall in different banks.
#define ROW_STRIDE (D + 8)
#define HEADS_PER_SET (H_Q / H_KV)
#define SET_ROWS (S_Q * HEADS_PER_SET)
#define ROW_TILES ((SET_ROWS + TILE_ROWS - 1) / TILE_ROWS)
#define HALF_DV (DV / 2)
#define HALF_KEYS (KEYS / 2)
// The tile of P, in bf16 elements per row, padded as ROW_STRIDE is.
#define P_STRIDE (KEYS + 8)
// 8-wide column tiles of a warp's half of the value dims.
#define DV_TILES (HALF_DV / 8)
#define CHUNKS_PER_ROW (D / 8)

typedef unsigned short u16;

// Keys query token `token` of a sequence with `seqlen` cached tokens may see: [0, visible).
__device__ __forceinline__ int visible_keys(int seqlen, int token) {
    const int s_k = max(seqlen, 0);
    return CAUSAL ? min(max(s_k + token + 1 - S_Q, 0), s_k) : s_k;
}

// Starts copying keys base .. base + KEYS of KV head `kv` into `stage`; keys at `end` or past
// it are zero-filled, not read.
__device__ __forceinline__ void copy_keys(u16* stage, const u16* __restrict__ cache,
                                          const int* __restrict__ pages, int kv, int base,
                                          int end) {
    for (int i = threadIdx.x; i < KEYS * CHUNKS_PER_ROW; i += THREADS) {
        const int key = i / CHUNKS_PER_ROW, chunk = i % CHUNKS_PER_ROW;
        const int pos = base + key;
        const bool inside = pos < end;
        const u16* source = cache;
        if (inside) {
            const size_t row =
                ((size_t)pages[pos / BLOCK_SIZE] * BLOCK_SIZE + pos % BLOCK_SIZE) * H_KV + kv;
            source = cache + row * D + chunk * 8;
        }
        copy_async_16(stage + key * ROW_STRIDE + chunk * 8, source, inside ? 16 : 0);
    }
}

extern "C" __global__ void __launch_bounds__(THREADS, 1)
mla_split_bf16(const u16* __restrict__ q, const u16* __restrict__ cache,
               const int* __restrict__ block_table, const int* __restrict__ seqlens,
               float scale, int split_len, float* __restrict__ part_max,
               float* __restrict__ part_sum, float* __restrict__ part_acc) {
    DYNAMIC_SHARED(u16, shared, 16);
    // The query tile, the ring of key stages, the tile of P, then each row's value from each
    // warp of its pair (its step max, and at the end its sum).
    u16* query = shared;
    auto stage = [&](int step) {
        return shared + (TILE_ROWS + KEYS * (step % STAGES)) * ROW_STRIDE;
    };
    u16* probabilities = shared + (TILE_ROWS + KEYS * STAGES) * ROW_STRIDE;
    float* exchange = (float*)(probabilities + TILE_ROWS * P_STRIDE);

    const int set = blockIdx.x / ROW_TILES, first_row = (blockIdx.x % ROW_TILES) * TILE_ROWS;
    const int seq = set / H_KV, kv = set % H_KV;
    const int split = blockIdx.y, splits = gridDim.y;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int g = lane / 4, t = lane % 4;
    // The warp's half of the pair: its keys of each step and its value dims.
    const int side = warp % 2;
    const int warp_row = 16 * (warp / 2), key0 = HALF_KEYS * side, dim0 = HALF_DV * side;
    const bool computes = first_row + warp_row < SET_ROWS;
    const int seqlen = seqlens[seq];
    const int* pages = block_table + (size_t)seq * MAX_BLOCKS;

    // The block's last live row has its latest token, so it sees the most keys.
    const int last_token = (min(first_row + TILE_ROWS, SET_ROWS) - 1) / HEADS_PER_SET;
    const int begin = split * split_len;
    const int end = min(begin + split_len, visible_keys(seqlen, last_token));
    const int steps = end > begin ? (end - begin + KEYS - 1) / KEYS : 0;

    // Keys this lane's rows g and g + 8 see in this split: below `limit` (none for rows past
    // the set).
    int limit[2];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
        const int set_row = first_row + warp_row + g + 8 * half;
        limit[half] =
            set_row < SET_ROWS ? min(visible_keys(seqlen, set_row / HEADS_PER_SET), end) : 0;
    }

    if (steps > 0) {
        // The tile's queries (zeros past the set), in the same group as the first keys.
        for (int i = threadIdx.x; i < TILE_ROWS * CHUNKS_PER_ROW; i += THREADS) {
            const int r = i / CHUNKS_PER_ROW, chunk = i % CHUNKS_PER_ROW;
            const int set_row = first_row + r;
            const bool live = set_row < SET_ROWS;
            const u16* source = q;
            if (live) {
                const int token = set_row / HEADS_PER_SET;
                const int head = kv * HEADS_PER_SET + set_row % HEADS_PER_SET;
                source = q + ((size_t)(seq * S_Q + token) * H_Q + head) * D + chunk * 8;
            }
            copy_async_16(query + r * ROW_STRIDE + chunk * 8, source, live ? 16 : 0);
        }
    }
    // Steps 0 .. STAGES-2 in flight (the queries with the first); one commit group per step,
    // empty past the last, keeps the count that `cp.async.wait_group` waits on.
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (s < steps) {
            copy_keys(stage(s), cache, pages, kv, begin + s * KEYS, end);
        }
        copy_async_commit();
    }

    float running_max[2] = {-INFINITY, -INFINITY}, running_sum[2] = {0.0f, 0.0f};
    float acc[DV_TILES][4] = {};
    for (int step = 0; step < steps; ++step) {
        const int base = begin + step * KEYS;
        // This step's keys (and the queries) have landed, for every thread after the barrier,
        // and every warp is done with the previous step, whose stage the copy below refills.
        copy_async_wait<STAGES - 2>();
        __syncthreads();
        const int next = step + STAGES - 1;
        if (next < steps) {
            copy_keys(stage(next), cache, pages, kv, begin + next * KEYS, end);
        }
        copy_async_commit();
        const u16* keys = stage(step);

        // The warp's scores, then its probabilities, across the barrier between phases 1 and 2.
        float score[HALF_KEYS / 8][4] = {};
        if (computes) {
            // 1. S = Q·Kᵀ: 16 rows × the warp's HALF_KEYS keys, column tiles of 8 keys, masked.
#pragma unroll 4
            for (int k = 0; k < D; k += 16) {
                u32 a[4];
                load_matrix_x4(a, query + (warp_row + lane % 8 + 8 * (lane / 8 % 2)) * ROW_STRIDE +
                                      k + 8 * (lane / 16));
#pragma unroll
                for (int pair = 0; pair < HALF_KEYS / 16; ++pair) {
                    u32 b[4];
                    load_matrix_x4(b, keys + (key0 + 16 * pair + lane % 8 + 8 * (lane / 16)) *
                                                 ROW_STRIDE +
                                          k + 8 * (lane / 8 % 2));
                    const u32 first[2] = {b[0], b[1]}, second[2] = {b[2], b[3]};
                    mma_bf16(score[2 * pair], a, first);
                    mma_bf16(score[2 * pair + 1], a, second);
                }
            }
#pragma unroll
            for (int half = 0; half < 2; ++half) {
                float step_max = -INFINITY;
#pragma unroll
                for (int j = 0; j < HALF_KEYS / 8; ++j) {
#pragma unroll
                    for (int e = 0; e < 2; ++e) {
                        const int pos = base + key0 + 8 * j + 2 * t + e;
                        float& s = score[j][2 * half + e];
                        s = pos < limit[half] ? s * scale : -INFINITY;
                        step_max = fmaxf(step_max, s);
                    }
                }
                step_max = fmaxf(step_max, __shfl_xor_sync(0xffffffffu, step_max, 1));
                step_max = fmaxf(step_max, __shfl_xor_sync(0xffffffffu, step_max, 2));
                if (t == 0) {
                    exchange[side * TILE_ROWS + warp_row + g + 8 * half] = step_max;
                }
            }
        }
        __syncthreads();

        if (computes) {
            // 2. Online softmax over the step, rows g (half 0) and g + 8 (half 1), with the max of
            // both warps' keys, so that the pair's running maxima stay equal.
            float rescale[2];
#pragma unroll
            for (int half = 0; half < 2; ++half) {
                const int row = warp_row + g + 8 * half;
                const float new_max = fmaxf(running_max[half],
                                            fmaxf(exchange[row], exchange[TILE_ROWS + row]));
                // Nothing seen yet: the accumulators are zero and stay so.
                rescale[half] = new_max == -INFINITY ? 1.0f : expf(running_max[half] - new_max);
                float sum = 0.0f;
#pragma unroll
                for (int j = 0; j < HALF_KEYS / 8; ++j) {
#pragma unroll
                    for (int e = 0; e < 2; ++e) {
                        float& s = score[j][2 * half + e];
                        s = s == -INFINITY ? 0.0f : expf(s - new_max);
                        sum += s;
                    }
                    *(u32*)(probabilities + row * P_STRIDE + key0 + 8 * j + 2 * t) =
                        pack_bf16(score[j][2 * half], score[j][2 * half + 1]);
                }
                running_sum[half] = running_sum[half] * rescale[half] + sum;
                running_max[half] = new_max;
            }
#pragma unroll
            for (int j = 0; j < DV_TILES; ++j) {
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    acc[j][e] *= rescale[e / 2];
                }
            }
        }
        // Both halves of P are written; the next step's barrier keeps them (and the maxima)
        // until both warps have read them.
        __syncthreads();

        if (computes) {
            // 3. O += P·V over the warp's value dims, 16 keys at a time.
#pragma unroll
            for (int kk = 0; kk < KEYS / 16; ++kk) {
                u32 p[4];
                load_matrix_x4(p, probabilities +
                                      (warp_row + lane % 8 + 8 * (lane / 8 % 2)) * P_STRIDE +
                                      16 * kk + 8 * (lane / 16));
#pragma unroll
                for (int pair = 0; pair < DV_TILES / 2; ++pair) {
                    u32 b[4];
                    load_matrix_x4_transposed(
                        b, keys + (16 * kk + lane % 8 + 8 * (lane / 8 % 2)) * ROW_STRIDE + dim0 +
                               16 * pair + 8 * (lane / 16));
                    const u32 first[2] = {b[0], b[1]}, second[2] = {b[2], b[3]};
                    mma_bf16(acc[2 * pair], p, first);
                    mma_bf16(acc[2 * pair + 1], p, second);
                }
            }
        }
    }

    // Each row's sum over both warps' keys: the second warp of the pair hands its own over.
    // (Its last reads of `exchange` were before the last step's second barrier.)
    float sum[2];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
        sum[half] = running_sum[half];
        sum[half] += __shfl_xor_sync(0xffffffffu, sum[half], 1);
        sum[half] += __shfl_xor_sync(0xffffffffu, sum[half], 2);
        if (side == 1 && t == 0) {
            exchange[warp_row + g + 8 * half] = sum[half];
        }
    }
    __syncthreads();
#pragma unroll
    for (int half = 0; half < 2; ++half) {
        const int set_row = first_row + warp_row + g + 8 * half;
        if (set_row >= SET_ROWS) {
            continue;
        }
        const int token = set_row / HEADS_PER_SET;
        const int head = kv * HEADS_PER_SET + set_row % HEADS_PER_SET;
        const size_t slot = ((size_t)(seq * S_Q + token) * H_Q + head) * splits + split;
        if (side == 0 && t == 0) {
            part_max[slot] = running_max[half];
            part_sum[slot] = sum[half] + exchange[warp_row + g + 8 * half];
        }
#pragma unroll
        for (int j = 0; j < DV_TILES; ++j) {
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                part_acc[slot * DV + dim0 + 8 * j + 2 * t + e] = acc[j][2 * half + e];
            }
        }
    }
}
