// Shared by every Tarn kernel. The host prepends `E4M3_BITS`, the f32 bit patterns of the 256
// E4M3 codes taken from the CPU implementation's table, so both paths decode alike. No CUDA
// header is included: NVRTC ships none for FP8, and these few helpers are all the kernels need.

typedef unsigned char u8;
typedef unsigned int u32;

#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif

__device__ __forceinline__ float e4m3_decode(u8 bits) {
    return __uint_as_float(E4M3_BITS[bits]);
}

// Rounds to the nearest E4M3 value, ties to the even code, saturating at ±448 (what
// `cvt.rn.satfinite.e4m3x2.f32` does on sm_89 and newer, written out for every architecture).
__device__ u8 e4m3_encode(float x) {
    if (x != x) {
        return 0x7f;
    }
    u8 sign = x < 0.0f ? 0x80 : 0x00;
    float a = fabsf(x);
    if (a >= 448.0f) {
        return sign | 0x7e;
    }
    // The largest code in 0..=0x7e whose value is <= a (codes ascend with their values).
    int low = 0, high = 0x7e;
    while (low < high) {
        int mid = (low + high + 1) / 2;
        if (e4m3_decode((u8)mid) <= a) {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    int code = low;
    if (code < 0x7e) {
        float below = a - e4m3_decode((u8)code);
        float above = e4m3_decode((u8)(code + 1)) - a;
        if (above < below || (above == below && (code & 1))) {
            code += 1;
        }
    }
    return sign | (u8)code;
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset /= 2) {
        v += __shfl_xor_sync(0xffffffffu, v, offset);
    }
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int offset = 16; offset > 0; offset /= 2) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    }
    return v;
}

// The GEMMs' inner step: thread (ty, tx) of a 16×16 grid adds to its 4×4 outputs (rows
// ty + 16i, columns tx + 16j of a 64×64 tile) the products over the `depth` columns of a
// staged A tile and B tile (64 rows each, `stride` floats apart).
template <int depth, int stride>
__device__ __forceinline__ void multiply_tiles(const float (*a_tile)[stride],
                                               const float (*b_tile)[stride], int ty, int tx,
                                               float (&acc)[4][4]) {
#pragma unroll 8
    for (int c = 0; c < depth; ++c) {
        float av[4], bv[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            av[i] = a_tile[ty + 16 * i][c];
            bv[i] = b_tile[tx + 16 * i][c];
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) {
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                acc[i][j] += av[i] * bv[j];
            }
        }
    }
}
