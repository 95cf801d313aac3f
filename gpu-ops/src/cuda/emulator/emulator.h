// Runs Tarn's CUDA kernels on the CPU, for tests on machines without a GPU: the program's CUDA
// C is compiled by the host's C++ compiler after this header, which defines what CUDA would.
// Each launch runs the grid's blocks one after another, each block's threads as OS threads,
// so `__syncthreads` and the warp-wide instructions are real rendezvous. Kernel-scope
// `__shared__` arrays become statics (one block runs at a time); dynamic shared memory is
// poisoned (0xff bytes, NaN) before every block.
//
// The PTX helpers of `tensor_core.cuh` are defined here from the PTX ISA's description of each
// instruction: fragments gathered across the warp for `mma.sync` and `ldmatrix`, and
// `cp.async` copies landing at one of the two extremes the hardware allows (`copies_land_early`):
// late, held back until `cp.async.wait_group` lets them land, so that a kernel reading shared
// memory before it waits reads poison; or early, at once, so that a kernel refilling a buffer
// other warps may still be reading corrupts their reads. `wgmma` reads its operands through
// shared-memory descriptors (K-major, no swizzle) and lands its results at the wait. A
// misaligned `cp.async`, `ldmatrix` or `wgmma` address is recorded and reported by the
// launch. What this cannot show: timing, occupancy, shared-memory bank conflicts, and whether
// the hardware agrees with this reading of the ISA, which only `bench/gpu/run.sh` on a GPU
// settles.

#define TARN_EMULATOR 1

#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

namespace emu {

// One warp's meeting place: each lane posts its operands, all wait, each reads the others'.
struct Warp {
    explicit Warp(std::ptrdiff_t lanes) : sync(lanes) {}
    std::barrier<> sync;
    std::uint64_t words[32];
    const unsigned char* rows[32];
    std::uint32_t fragments[32][6];
};

inline thread_local dim3 thread_index, block_index;
inline dim3 grid_size, block_size;
inline std::unique_ptr<std::barrier<>> block_sync;
inline std::vector<std::unique_ptr<Warp>> warps;
// The block's dynamic shared memory, from `shared_base` (1024-byte aligned, as the largest
// `__align__` a kernel asks of it).
inline std::vector<unsigned char> dynamic_shared;
inline unsigned char* shared_base = nullptr;

// The first fault a launch hit (a misaligned address), reported when it returns.
inline std::mutex fault_lock;
inline std::string fault;

inline void record_fault(const char* what, const void* address) {
    std::lock_guard<std::mutex> guard(fault_lock);
    if (fault.empty()) {
        char text[200];
        std::snprintf(text, sizeof text, "%s at %p (block %u,%u,%u thread %u)", what, address,
                      block_index.x, block_index.y, block_index.z, thread_index.x);
        fault = text;
    }
}

inline unsigned lane() { return thread_index.x % 32; }
inline Warp& warp() { return *warps[thread_index.x / 32]; }

// Copies started with `copy_async_16` and not yet landed: the open group, then the committed
// groups, oldest first.
struct PendingCopy {
    void* shared;
    const void* global;
    int bytes;
};
inline thread_local std::vector<PendingCopy> open_group;
inline thread_local std::vector<std::vector<PendingCopy>> committed_groups;
// Whether copies land as they are started rather than when waited for.
inline bool copies_land_early = false;

inline void land(const PendingCopy& copy) {
    std::memcpy(copy.shared, copy.global, copy.bytes);
    std::memset(static_cast<unsigned char*>(copy.shared) + copy.bytes, 0, 16 - copy.bytes);
}

}  // namespace emu

#define __global__
#define __device__
#define __forceinline__ inline
#define __constant__ const
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) alignas(n)
#define DYNAMIC_SHARED(type, name, alignment) \
    type* name = reinterpret_cast<type*>(emu::shared_base)
#define threadIdx emu::thread_index
#define blockIdx emu::block_index
#define gridDim emu::grid_size
#define blockDim emu::block_size

template <class A, class B>
inline std::common_type_t<A, B> min(A a, B b) {
    return b < a ? b : a;
}
template <class A, class B>
inline std::common_type_t<A, B> max(A a, B b) {
    return a < b ? b : a;
}

inline float __int_as_float(int bits) {
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}
inline float __uint_as_float(unsigned bits) {
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}
inline unsigned __float_as_uint(float f) {
    unsigned bits;
    std::memcpy(&bits, &f, 4);
    return bits;
}

inline void __syncthreads() { emu::block_sync->arrive_and_wait(); }

template <class T>
inline T __shfl_xor_sync(unsigned, T value, int offset) {
    static_assert(sizeof(T) <= 8);
    emu::Warp& w = emu::warp();
    std::memcpy(&w.words[emu::lane()], &value, sizeof value);
    w.sync.arrive_and_wait();
    T other;
    std::memcpy(&other, &w.words[emu::lane() ^ offset], sizeof other);
    w.sync.arrive_and_wait();
    return other;
}

inline void copy_async_16(void* shared, const void* global, int bytes) {
    if (reinterpret_cast<std::uintptr_t>(shared) % 16 != 0 ||
        reinterpret_cast<std::uintptr_t>(global) % 16 != 0) {
        emu::record_fault("cp.async address not 16-byte aligned", shared);
    }
    const emu::PendingCopy copy{shared, global, bytes};
    if (emu::copies_land_early) {
        emu::land(copy);
    } else {
        emu::open_group.push_back(copy);
    }
}

inline void copy_async_commit() {
    emu::committed_groups.push_back(std::move(emu::open_group));
    emu::open_group.clear();
}

template <int pending>
inline void copy_async_wait() {
    while (emu::committed_groups.size() > pending) {
        for (const emu::PendingCopy& copy : emu::committed_groups.front()) {
            emu::land(copy);
        }
        emu::committed_groups.erase(emu::committed_groups.begin());
    }
}

namespace emu {

// Every lane posts its row address; lane 4g + t then takes from matrix i (rows 8i .. 8i + 7)
// the two 16-bit elements `element(i, g, t, half)` names, as (row, column) in that matrix.
template <class Element>
inline void load_matrices(std::uint32_t (&x)[4], const void* row, Element element) {
    if (reinterpret_cast<std::uintptr_t>(row) % 16 != 0) {
        record_fault("ldmatrix row address not 16-byte aligned", row);
    }
    Warp& w = warp();
    w.rows[lane()] = static_cast<const unsigned char*>(row);
    w.sync.arrive_and_wait();
    const unsigned g = lane() / 4, t = lane() % 4;
    for (int i = 0; i < 4; ++i) {
        std::uint32_t value = 0;
        for (int half = 0; half < 2; ++half) {
            const auto [r, c] = element(g, t, half);
            std::uint16_t bits;
            std::memcpy(&bits, w.rows[8 * i + r] + 2 * c, 2);
            value |= std::uint32_t(bits) << (16 * half);
        }
        x[i] = value;
    }
    w.sync.arrive_and_wait();
}

// Every lane posts its fragments; lane 4g + t then computes its four results, rows g and
// g + 8 by columns 2t and 2t + 1, from `a(lanes, row, k)` and `b(lanes, k, column)`.
template <int depth, class ReadA, class ReadB>
inline void warp_mma(float (&c)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2],
                     ReadA read_a, ReadB read_b) {
    Warp& w = warp();
    std::memcpy(w.fragments[lane()], a, 16);
    std::memcpy(w.fragments[lane()] + 4, b, 8);
    w.sync.arrive_and_wait();
    const unsigned g = lane() / 4, t = lane() % 4;
    for (int e = 0; e < 4; ++e) {
        const unsigned row = g + 8 * (e / 2), column = 2 * t + e % 2;
        float sum = 0.0f;
        for (int k = 0; k < depth; ++k) {
            sum += read_a(w.fragments, row, k) * read_b(w.fragments, k, column);
        }
        c[e] += sum;
    }
    w.sync.arrive_and_wait();
}

inline float bf16_value(std::uint32_t word, int half) {
    return __uint_as_float(((word >> (16 * half)) & 0xffffu) << 16);
}

// E4M3 decoded from its bits (sign, 4 exponent bits of bias 7, 3 mantissa bits; 0x7f is NaN),
// independently of the table the kernels use.
inline float e4m3_value(unsigned bits) {
    const unsigned exponent = (bits >> 3) & 0xfu, mantissa = bits & 0x7u;
    float magnitude;
    if ((bits & 0x7fu) == 0x7fu) {
        magnitude = NAN;
    } else if (exponent == 0) {
        magnitude = std::ldexp(float(mantissa) / 8.0f, -6);
    } else {
        magnitude = std::ldexp(1.0f + float(mantissa) / 8.0f, int(exponent) - 7);
    }
    return bits & 0x80u ? -magnitude : magnitude;
}

inline float e4m3_value(std::uint32_t word, int byte) {
    return e4m3_value((word >> (8 * byte)) & 0xffu);
}

}  // namespace emu

inline void load_matrix_x4(std::uint32_t (&x)[4], const void* row) {
    emu::load_matrices(x, row, [](unsigned g, unsigned t, int half) {
        return std::pair<unsigned, unsigned>{g, 2 * t + half};
    });
}

inline void load_matrix_x4_transposed(std::uint32_t (&x)[4], const void* row) {
    emu::load_matrices(x, row, [](unsigned g, unsigned t, int half) {
        return std::pair<unsigned, unsigned>{2 * t + half, g};
    });
}

inline void mma_bf16(float (&c)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2]) {
    // A (row, k): lane 4·(row % 8) + (k % 8) / 2, register row / 8 + 2·(k / 8), half k % 2.
    // B (k, column): lane 4·column + (k % 8) / 2, register k / 8, half k % 2.
    emu::warp_mma<16>(
        c, a, b,
        [](const std::uint32_t (*f)[6], unsigned row, int k) {
            return emu::bf16_value(f[4 * (row % 8) + (k % 8) / 2][row / 8 + 2 * (k / 8)], k % 2);
        },
        [](const std::uint32_t (*f)[6], int k, unsigned column) {
            return emu::bf16_value(f[4 * column + (k % 8) / 2][4 + k / 8], k % 2);
        });
}

inline void mma_e4m3(float (&c)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2]) {
    // A (row, k): lane 4·(row % 8) + (k % 16) / 4, register row / 8 + 2·(k / 16), byte k % 4.
    // B (k, column): lane 4·column + (k % 16) / 4, register k / 16, byte k % 4.
    emu::warp_mma<32>(
        c, a, b,
        [](const std::uint32_t (*f)[6], unsigned row, int k) {
            return emu::e4m3_value(f[4 * (row % 8) + (k % 16) / 4][row / 8 + 2 * (k / 16)],
                                   k % 4);
        },
        [](const std::uint32_t (*f)[6], int k, unsigned column) {
            return emu::e4m3_value(f[4 * column + (k % 16) / 4][4 + k / 16], k % 4);
        });
}

// `wgmma`: a descriptor holds the operand's offset from the start of dynamic shared memory.
// Each thread of the warpgroup computes its own accumulators (warp w of the warpgroup rows
// 16w + g and 16w + g + 8, columns 8j + 2t and 8j + 2t + 1, register 4j + 2·half + e) from
// shared memory when it waits, not when it issues: a kernel reading the registers before the
// wait, or refilling the operands' shared memory before it, gets wrong results.

inline unsigned long long shared_descriptor(const void* start, int leading_bytes,
                                            int stride_bytes) {
    const std::ptrdiff_t offset = static_cast<const unsigned char*>(start) - emu::shared_base;
    if (offset < 0 || offset >= (1 << 18) || offset % 16 != 0) {
        emu::record_fault("wgmma operand not 16-byte aligned in dynamic shared memory", start);
    }
    return (unsigned long long)((offset & 0x3ffff) >> 4) |
           ((unsigned long long)(leading_bytes >> 4) << 16) |
           ((unsigned long long)(stride_bytes >> 4) << 32);
}

namespace emu {

struct PendingWgmma {
    float* d;
    unsigned long long a, b;
    int overwrite;
};
inline thread_local std::vector<PendingWgmma> pending_wgmmas;

// Byte (row, k) of a K-major operand without swizzling: 8-row × 16-byte core matrices, the
// next along K `leading` bytes on, the next 8 rows `stride` bytes on.
inline unsigned char k_major_byte(unsigned long long descriptor, int row, int k) {
    if (descriptor >> 49) {
        record_fault("wgmma descriptor with a swizzle or base offset", nullptr);
    }
    const std::size_t start = (descriptor & 0x3fff) << 4;
    const std::size_t leading = ((descriptor >> 16) & 0x3fff) << 4;
    const std::size_t stride = ((descriptor >> 32) & 0x3fff) << 4;
    return shared_base[start + (row / 8) * stride + (k / 16) * leading + (row % 8) * 16 + k % 16];
}

}  // namespace emu

inline void wgmma_m64n128k32(float (&d)[64], unsigned long long a, unsigned long long b,
                             int overwrite) {
    emu::pending_wgmmas.push_back({d, a, b, overwrite});
}

inline void fence_proxy_async() {}
inline void wgmma_fence() {}
inline void wgmma_commit() {}
inline void fence_registers(float (&)[64]) {}

inline void wgmma_wait_all() {
    const int w = (threadIdx.x / 32) % 4, g = emu::lane() / 4, t = emu::lane() % 4;
    for (const emu::PendingWgmma& op : emu::pending_wgmmas) {
        for (int j = 0; j < 16; ++j) {
            for (int half = 0; half < 2; ++half) {
                for (int e = 0; e < 2; ++e) {
                    const int row = 16 * w + g + 8 * half, column = 8 * j + 2 * t + e;
                    float sum = 0.0f;
                    for (int k = 0; k < 32; ++k) {
                        sum += emu::e4m3_value(emu::k_major_byte(op.a, row, k)) *
                               emu::e4m3_value(emu::k_major_byte(op.b, column, k));
                    }
                    float& out = op.d[4 * j + 2 * half + e];
                    out = (op.overwrite ? 0.0f : out) + sum;
                }
            }
        }
    }
    emu::pending_wgmmas.clear();
}

namespace emu {

template <class... P, std::size_t... I>
void call(void (*kernel)(P...), void** args, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_cv_t<P>*>(args[I])...);
}

// Runs `kernel` over `grid` blocks of `threads` threads with `shared` bytes of dynamic shared
// memory, its arguments pointed to by `args` as cuLaunchKernel takes them, its copies landing
// `early` or late. Returns the first fault, or null.
template <class... P>
const char* launch(void (*kernel)(P...), const unsigned* grid, unsigned threads,
                   std::size_t shared, bool early, void** args) {
    copies_land_early = early;
    grid_size = {grid[0], grid[1], grid[2]};
    block_size = {threads, 1, 1};
    fault.clear();
    for (unsigned z = 0; z < grid[2]; ++z) {
        for (unsigned y = 0; y < grid[1]; ++y) {
            for (unsigned x = 0; x < grid[0]; ++x) {
                dynamic_shared.assign(shared + 1024, 0xff);
                shared_base = dynamic_shared.data() + (-reinterpret_cast<std::uintptr_t>(
                                                          dynamic_shared.data()) &
                                                      1023);
                block_sync = std::make_unique<std::barrier<>>(threads);
                warps.clear();
                for (unsigned first = 0; first < threads; first += 32) {
                    warps.push_back(std::make_unique<Warp>(std::min(32u, threads - first)));
                }
                std::vector<std::thread> block;
                for (unsigned t = 0; t < threads; ++t) {
                    block.emplace_back([=] {
                        thread_index = {t, 0, 0};
                        block_index = {x, y, z};
                        call(kernel, args, std::index_sequence_for<P...>{});
                        // A thread that has finished no longer holds up the others' barriers.
                        block_sync->arrive_and_drop();
                        warp().sync.arrive_and_drop();
                        open_group.clear();
                        committed_groups.clear();
                        pending_wgmmas.clear();
                    });
                }
                for (std::thread& thread : block) {
                    thread.join();
                }
            }
        }
    }
    return fault.empty() ? nullptr : fault.c_str();
}

}  // namespace emu
