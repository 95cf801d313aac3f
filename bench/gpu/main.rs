//! The GPU check (`bench/gpu/run.sh`): every CUDA operator (quantisation, the three FP8 GEMMs
//! on each GEMM kernel the device runs, MLA decode, masked attention, the MoE gate, MiniLM's encoder) against the CPU on fresh
//! random inputs of DeepGEMM's and FlashMLA's test shapes (the CUDA outputs start poisoned, so an
//! element a kernel skips fails the check), then timings: FP8 GEMM in TFLOP/s beside cuBLAS's
//! bf16 GEMM on the same shapes, MLA decode in GB/s of KV cache read (kernel time only: CUDA
//! events around the launches, after one warm-up run that also compiles the kernels), and
//! MiniLM in texts per second (whole `embed` calls: tokenising and copies included).
//! Prints one line per check as it goes and a table last; exits 1 if any check fails.
//! Arguments pick sections by name (`gpu-check gemm mla`); none runs them all.

#[path = "../../gpu-ops/tests/ops/support.rs"]
mod support;
mod synthetic_minilm;

use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use cudarc::cublas::{CudaBlas, result as blas, sys as blas_sys};
use cudarc::driver::{CudaContext, DevicePtr, DevicePtrMut};
use rayon::prelude::*;
use support::{Rng, difference};
use tarn_gpu::attention::{AttentionShape, attention};
use tarn_gpu::cuda::{Fp8Kernel, Gpu};
use tarn_gpu::device::Device;
use tarn_gpu::fp8::{Fp8Matrix, Grouping, fast, quantize};
use tarn_gpu::minilm::{DIMENSIONS, MiniLm, Precision, locate_model};
use tarn_gpu::mla::{KvBlocks, KvCache, MlaShape, bf16, mla_decode};
use tarn_gpu::moe_gate::{GateConfig, ScoreFunc, gate};

/// Timed runs per measurement, after the warm-up.
const RUNS: usize = 5;

/// One comparison of CUDA against the CPU.
struct Check {
    what: String,
    /// 1 - 2Σxy/Σ(x²+y²) (DeepGEMM's and FlashMLA's metric), or differing bytes for
    /// quantisation.
    difference: f64,
    passed: bool,
}

/// One timing.
struct Timing {
    what: String,
    rate: String,
    baseline: String,
}

/// Compares CUDA's output with the CPU's: same length, nothing NaN (poison left unwritten),
/// and the difference below `tolerance`.
fn compare(what: String, gpu: &[f32], cpu: &[f32], tolerance: f64) -> Check {
    let unwritten = gpu
        .iter()
        .zip(cpu)
        .filter(|(g, c)| g.is_nan() && !c.is_nan())
        .count();
    let difference = difference(gpu, cpu);
    let passed = gpu.len() == cpu.len() && unwritten == 0 && difference < tolerance;
    let check = Check {
        what,
        difference,
        passed,
    };
    println!(
        "{} {}: difference {:.2e}{}",
        if check.passed { "ok  " } else { "FAIL" },
        check.what,
        check.difference,
        if unwritten > 0 {
            format!(", {unwritten} elements unwritten")
        } else {
            String::new()
        }
    );
    check
}

fn activations(rng: &mut Rng, m: usize, k: usize) -> Fp8Matrix {
    quantize(&rng.matrix(m, k), m, k, Grouping::PerToken, false)
}

fn weights(rng: &mut Rng, n: usize, k: usize) -> Fp8Matrix {
    quantize(&rng.matrix(n, k), n, k, Grouping::PerBlock, false)
}

/// Mean kernel seconds of `RUNS` runs of `run`, after one warm-up.
fn kernel_seconds(gpu: &Gpu, mut run: impl FnMut()) -> f64 {
    run();
    gpu.take_kernel_seconds();
    for _ in 0..RUNS {
        run();
    }
    gpu.take_kernel_seconds() / RUNS as f64
}

/// cuBLAS's bf16 GEMM (f32 accumulation) on the same shape, D = A·Bᵀ, in TFLOP/s; `None`
/// where libcublas is not installed.
fn cublas_bf16_tflops(m: usize, n: usize, k: usize) -> Option<f64> {
    // SAFETY: only tries to load the library.
    if !unsafe { blas_sys::is_culib_present() } {
        return None;
    }
    let ctx = CudaContext::new(0).ok()?;
    let stream = ctx.default_stream();
    let handle = CudaBlas::new(stream.clone()).ok()?;
    // Random bf16 values (not zeros, which run faster): 0x3c00..0x3fff is 0.0078..1.99.
    let mut rng = Rng(7);
    let mut random = |len: usize| -> Vec<u16> {
        (0..len)
            .map(|_| 0x3c00 | (rng.next_u64() as u16 & 0x3ff))
            .collect()
    };
    let a = stream.clone_htod(&random(m * k)).ok()?;
    let b = stream.clone_htod(&random(n * k)).ok()?;
    let mut d = stream.alloc_zeros::<u16>(m * n).ok()?;
    let (alpha, beta) = (1.0f32, 0.0f32);
    let mut run = || {
        let (a_ptr, _a) = a.device_ptr(&stream);
        let (b_ptr, _b) = b.device_ptr(&stream);
        let (d_ptr, _d) = d.device_ptr_mut(&stream);
        // Row-major D[m,n] = A[m,k]·B[n,k]ᵀ is column-major Dᵀ[n,m] = Bᵀᵀ·A: B transposed
        // (k×n, ld k) times A as stored (k×m, ld k).
        // SAFETY: the buffers hold m·k, n·k and m·n bf16 values, as the dimensions say.
        unsafe {
            blas::gemm_ex(
                *handle.handle(),
                blas_sys::cublasOperation_t::CUBLAS_OP_T,
                blas_sys::cublasOperation_t::CUBLAS_OP_N,
                n as i32,
                m as i32,
                k as i32,
                (&alpha as *const f32).cast(),
                b_ptr as *const _,
                blas_sys::cudaDataType::CUDA_R_16BF,
                k as i32,
                a_ptr as *const _,
                blas_sys::cudaDataType::CUDA_R_16BF,
                k as i32,
                (&beta as *const f32).cast(),
                d_ptr as *mut _,
                blas_sys::cudaDataType::CUDA_R_16BF,
                n as i32,
                blas_sys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
                blas_sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
            )
        }
        .is_ok()
    };
    if !run() {
        return None;
    }
    let timing = Some(cudarc::driver::sys::CUevent_flags::CU_EVENT_DEFAULT);
    let start = stream.record_event(timing).ok()?;
    for _ in 0..RUNS {
        run();
    }
    let end = stream.record_event(timing).ok()?;
    end.synchronize().ok()?;
    let seconds = f64::from(start.elapsed_ms(&end).ok()?) / 1e3 / RUNS as f64;
    Some(2.0 * (m * n * k) as f64 / seconds / 1e12)
}

fn quantisation(device: &Device, checks: &mut Vec<Check>) {
    let mut rng = Rng(1);
    for (rows, cols, grouping, ue8m0) in [
        (4096, 7168, Grouping::PerToken, false),
        (4096, 7168, Grouping::PerToken, true),
        (7168, 2048, Grouping::PerBlock, false),
        (24576, 1536, Grouping::PerBlock, true),
        (1, 200, Grouping::PerToken, false),
    ] {
        let values = rng.matrix(rows, cols);
        let cpu = quantize(&values, rows, cols, grouping, ue8m0);
        let gpu = device
            .quantize(&values, rows, cols, grouping, ue8m0)
            .expect("quantize on CUDA");
        let differing = cpu
            .bits
            .iter()
            .zip(&gpu.bits)
            .filter(|(c, g)| c != g)
            .count();
        let passed = cpu.scales == gpu.scales && differing == 0 && gpu.bits.len() == cpu.bits.len();
        let what = format!("quantize {grouping:?} {rows}x{cols} ue8m0={ue8m0}");
        println!(
            "{} {what}: {differing} bytes differ, scales equal: {}",
            if passed { "ok  " } else { "FAIL" },
            cpu.scales == gpu.scales
        );
        checks.push(Check {
            what,
            difference: differing as f64,
            passed,
        });
    }
}

fn dense_gemm(device: &Device, gpu: &Gpu, checks: &mut Vec<Check>, timings: &mut Vec<Timing>) {
    let mut rng = Rng(2);
    // DeepGEMM's shapes (N, K) at three M, timed; then odd shapes, checked only: M = 1, K past
    // a 128 block, K not a multiple of 16 (the portable kernel on any device).
    let deepgemm = [
        (2112, 7168),
        (24576, 1536),
        (32768, 512),
        (7168, 16384),
        (4096, 7168),
        (7168, 2048),
    ];
    let timed = [64, 128, 4096]
        .into_iter()
        .flat_map(|m| deepgemm.map(|(n, k)| (m, n, k, true)));
    let odd = [(1, 130, 208), (77, 200, 200), (300, 2112, 4112)].map(|(m, n, k)| (m, n, k, false));
    for (m, n, k, timed) in timed.chain(odd) {
        let (a, b) = (activations(&mut rng, m, k), weights(&mut rng, n, k));
        let cpu = fast::gemm_fp8_nt(&a, &b);
        let cublas = timed.then(|| {
            cublas_bf16_tflops(m, n, k).map_or("cuBLAS absent".into(), |t| {
                format!("cuBLAS bf16 {t:.1} TFLOP/s")
            })
        });
        for_each_kernel(gpu, |kernel| {
            let got = device.gemm_fp8_nt(&a, &b).expect("FP8 GEMM on CUDA");
            checks.push(compare(
                format!("fp8 gemm {kernel:?} m={m} n={n} k={k}"),
                &got,
                &cpu,
                1e-6,
            ));
            let Some(cublas) = &cublas else { return };
            let seconds = kernel_seconds(gpu, || {
                device.gemm_fp8_nt(&a, &b).expect("FP8 GEMM on CUDA");
            });
            let flops = 2.0 * (m * n * k) as f64;
            timings.push(Timing {
                what: format!("fp8 gemm {kernel:?} {m}x{n}x{k}"),
                rate: format!("{:.1} TFLOP/s", flops / seconds / 1e12),
                baseline: cublas.clone(),
            });
        });
    }
}

/// Runs `run` once with each FP8 GEMM kernel the device has, slowest first, and leaves the
/// default in use.
fn for_each_kernel(gpu: &Gpu, mut run: impl FnMut(Fp8Kernel)) {
    for kernel in gpu.fp8_kernels() {
        gpu.use_fp8_kernel(kernel)
            .expect("a kernel the device runs");
        run(kernel);
    }
    gpu.use_fp8_kernel(gpu.default_fp8_kernel())
        .expect("the default runs");
}

fn grouped_gemms(device: &Device, gpu: &Gpu, checks: &mut Vec<Check>, timings: &mut Vec<Timing>) {
    let mut rng = Rng(3);
    // The last: segments aligned to 64 rows but not 128 (the portable kernel).
    for (groups, m_per_group, k, n) in [
        (4, 8192, 7168, 4096),
        (8, 4096, 7168, 4096),
        (4, 8192, 2048, 7168),
        (3, 192, 2048, 512),
    ] {
        let experts: Vec<Fp8Matrix> = (0..groups).map(|_| weights(&mut rng, n, k)).collect();
        // Each expert's segment: a random number of real rows, the rest -1 padding.
        let m_indices: Vec<i32> = (0..groups)
            .flat_map(|g| {
                let real = rng.between(m_per_group * 7 / 10, m_per_group);
                std::iter::repeat_n(g, real).chain(std::iter::repeat_n(-1, m_per_group - real))
            })
            .collect();
        let a = activations(&mut rng, m_indices.len(), k);
        let cpu = fast::gemm_fp8_grouped_contiguous(&a, &experts, &m_indices);
        let real_rows = m_indices.iter().filter(|&&g| g >= 0).count();
        for_each_kernel(gpu, |kernel| {
            let got = device
                .gemm_fp8_grouped_contiguous(&a, &experts, &m_indices)
                .expect("contiguous GEMM on CUDA");
            checks.push(compare(
                format!("fp8 contiguous {kernel:?} {groups}x{m_per_group} n={n} k={k}"),
                &got,
                &cpu,
                1e-6,
            ));
            let seconds = kernel_seconds(gpu, || {
                device
                    .gemm_fp8_grouped_contiguous(&a, &experts, &m_indices)
                    .expect("contiguous GEMM on CUDA");
            });
            timings.push(Timing {
                what: format!("fp8 contiguous {kernel:?} {groups}x{m_per_group}x{n}x{k}"),
                rate: format!(
                    "{:.1} TFLOP/s",
                    2.0 * (real_rows * n * k) as f64 / seconds / 1e12
                ),
                baseline: String::new(),
            });
        });
    }
    for (groups, m_max, k, n) in [
        (1, 1024, 7168, 4096),
        (2, 512, 7168, 4096),
        (4, 256, 2048, 7168),
    ] {
        let experts: Vec<Fp8Matrix> = (0..groups).map(|_| weights(&mut rng, n, k)).collect();
        let a: Vec<Fp8Matrix> = (0..groups)
            .map(|_| activations(&mut rng, m_max, k))
            .collect();
        let masked_m: Vec<usize> = (0..groups)
            .map(|g| {
                if g == 1 {
                    0
                } else {
                    rng.between(m_max / 2, m_max)
                }
            })
            .collect();
        let cpu = fast::gemm_fp8_grouped_masked(&a, &experts, &masked_m);
        for_each_kernel(gpu, |kernel| {
            let got = device
                .gemm_fp8_grouped_masked(&a, &experts, &masked_m)
                .expect("masked GEMM on CUDA");
            checks.push(compare(
                format!("fp8 masked {kernel:?} {groups}x{m_max} n={n} k={k} {masked_m:?}"),
                &got.concat(),
                &cpu.concat(),
                1e-6,
            ));
        });
    }
}

/// A paged cache for `seqlens` (pages in shuffled order, unused rows NaN) and its table.
fn paged_cache(rng: &mut Rng, seqlens: &[i32], d: usize) -> (Vec<f32>, Vec<i32>) {
    let max_blocks = seqlens
        .iter()
        .map(|&l| (l as usize).div_ceil(64))
        .max()
        .unwrap_or(1)
        .max(1);
    let num_blocks = seqlens.len() * max_blocks;
    let mut table: Vec<i32> = (0..num_blocks as i32).collect();
    for i in (1..table.len()).rev() {
        table.swap(i, rng.between(0, i));
    }
    let mut blocks = vec![f32::NAN; num_blocks * 64 * d];
    for (seq, &len) in seqlens.iter().enumerate() {
        for pos in 0..len as usize {
            let row = table[seq * max_blocks + pos / 64] as usize * 64 + pos % 64;
            for value in &mut blocks[row * d..(row + 1) * d] {
                *value = rng.unit();
            }
        }
    }
    (blocks, table)
}

fn mla(device: &Device, gpu: &Gpu, checks: &mut Vec<Check>, timings: &mut Vec<Timing>) {
    let mut rng = Rng(4);
    let (d, dv) = (576, 512);
    // Checked against the CPU on a smaller batch (the CPU reference is exact, not fast), timed
    // on FlashMLA's: b = 128, mean s_k 4096. Each from an f32 cache (CUDA cores) and from a bf16
    // one (tensor cores, as FlashMLA reads it).
    for (batch, mean_len, timed) in [(16, 1024, false), (128, 4096, true)] {
        for s_q in [1, 2] {
            for h_q in [16, 64, 128] {
                let seqlens: Vec<i32> = (0..batch)
                    .map(|i| {
                        if i == 3 {
                            0
                        } else {
                            rng.between(mean_len / 2, mean_len * 3 / 2) as i32
                        }
                    })
                    .collect();
                let (blocks, block_table) = paged_cache(&mut rng, &seqlens, d);
                let blocks_bf16: Vec<bf16> = blocks.iter().map(|&v| bf16::from_f32(v)).collect();
                let q: Vec<f32> = (0..batch * s_q * h_q * d).map(|_| rng.unit()).collect();
                let shape = MlaShape {
                    batch,
                    s_q,
                    h_q,
                    h_kv: 1,
                    d,
                    dv,
                    block_size: 64,
                };
                let scale = 1.0 / (d as f32).sqrt();
                for (kind, kv, value_bytes) in [
                    ("f32", KvBlocks::F32(&blocks), 4),
                    ("bf16", KvBlocks::Bf16(&blocks_bf16), 2),
                ] {
                    let cache = KvCache {
                        blocks: kv,
                        block_table: &block_table,
                        seqlens: &seqlens,
                    };
                    if !timed {
                        let max_blocks = block_table.len() / batch;
                        // The CPU reference, one sequence per thread.
                        let cpu: Vec<_> = (0..batch)
                            .into_par_iter()
                            .map(|seq| {
                                let one = KvCache {
                                    blocks: kv,
                                    block_table: &block_table
                                        [seq * max_blocks..(seq + 1) * max_blocks],
                                    seqlens: &seqlens[seq..seq + 1],
                                };
                                let q = &q[seq * s_q * h_q * d..(seq + 1) * s_q * h_q * d];
                                mla_decode(q, MlaShape { batch: 1, ..shape }, one, scale, true)
                            })
                            .collect();
                        let cpu_out: Vec<f32> = cpu.iter().flat_map(|o| o.out.clone()).collect();
                        let cpu_lse: Vec<f32> = cpu.iter().flat_map(|o| o.lse.clone()).collect();
                        let got = device
                            .mla_decode(&q, shape, cache, scale, true)
                            .expect("MLA on CUDA");
                        let what = format!(
                            "mla decode {kind} KV b={batch} s_q={s_q} h_q={h_q} mean s_k={mean_len}"
                        );
                        checks.push(compare(format!("{what} out"), &got.out, &cpu_out, 1e-5));
                        let finite = |v: &[f32]| {
                            v.iter()
                                .map(|x| if x.is_infinite() { 0.0 } else { *x })
                                .collect::<Vec<_>>()
                        };
                        let same_empties = got
                            .lse
                            .iter()
                            .zip(&cpu_lse)
                            .all(|(g, c)| g.is_infinite() == c.is_infinite());
                        let mut lse = compare(
                            format!("{what} lse"),
                            &finite(&got.lse),
                            &finite(&cpu_lse),
                            1e-5,
                        );
                        lse.passed &= same_empties;
                        checks.push(lse);
                    } else {
                        let seconds = kernel_seconds(gpu, || {
                            device
                                .mla_decode(&q, shape, cache, scale, true)
                                .expect("MLA on CUDA");
                        });
                        let keys: usize = seqlens.iter().map(|&l| l as usize).sum();
                        let bytes = (keys * d + q.len()) * value_bytes + batch * s_q * h_q * dv * 4;
                        timings.push(Timing {
                            what: format!(
                                "mla decode b={batch} s_q={s_q} h_q={h_q} s_k~{mean_len} ({kind} KV)"
                            ),
                            rate: format!("{:.0} GB/s", bytes as f64 / seconds / 1e9),
                            baseline: format!("{:.3} ms", seconds * 1e3),
                        });
                    }
                }
            }
        }
    }
}

fn dense_attention(device: &Device, checks: &mut Vec<Check>) {
    let mut rng = Rng(5);
    // MiniLM's encoder: 12 heads of 32, sequences up to 256 tokens padded to the longest.
    let (batch, s, heads, d) = (32, 256, 12, 32);
    let lengths: Vec<usize> = (0..batch).map(|_| rng.between(1, s)).collect();
    let q: Vec<f32> = (0..batch * s * heads * d).map(|_| rng.unit()).collect();
    let k: Vec<f32> = (0..batch * s * heads * d).map(|_| rng.unit()).collect();
    let v: Vec<f32> = (0..batch * s * heads * d).map(|_| rng.unit()).collect();
    let mask: Vec<bool> = lengths
        .iter()
        .flat_map(|&len| (0..s).map(move |j| j < len))
        .collect();
    let shape = AttentionShape {
        batch,
        s_q: s,
        s_k: s,
        heads,
        d,
        dv: d,
    };
    let scale = 1.0 / (d as f32).sqrt();
    let cpu = attention(&q, &k, &v, &mask, shape, scale);
    let got = device
        .attention(&q, &k, &v, &mask, shape, scale)
        .expect("attention on CUDA");
    checks.push(compare(
        format!("masked attention b={batch} s={s} heads={heads} d={d}"),
        &got.out,
        &cpu.out,
        1e-5,
    ));
}

fn moe_gate(device: &Device, checks: &mut Vec<Check>) {
    let mut rng = Rng(6);
    // DeepSeek-V3's gate (256 experts in 8 groups, sigmoid, bias) and a softmax gate without
    // groups (DeepSeek-V2-Lite's 64 experts, top 6).
    let cases = [
        (
            4096,
            7168,
            256,
            GateConfig {
                top_k: 8,
                n_groups: 8,
                topk_groups: 4,
                score: ScoreFunc::Sigmoid,
                route_scale: 2.5,
            },
            true,
        ),
        (
            4096,
            2048,
            64,
            GateConfig {
                top_k: 6,
                n_groups: 1,
                topk_groups: 1,
                score: ScoreFunc::Softmax,
                route_scale: 1.0,
            },
            false,
        ),
    ];
    for (tokens, dim, experts, config, with_bias) in cases {
        let x: Vec<f32> = (0..tokens * dim).map(|_| rng.unit()).collect();
        let weight: Vec<f32> = (0..experts * dim).map(|_| rng.unit() * 0.05).collect();
        let bias: Vec<f32> = (0..experts).map(|_| rng.unit() * 0.1).collect();
        let bias = with_bias.then_some(&bias[..]);
        // The CPU reference, 64 tokens per task.
        let cpu: Vec<_> = x
            .par_chunks(64 * dim)
            .map(|rows| gate(rows, dim, &weight, bias, &config).expect("gate on the CPU"))
            .collect();
        let cpu_experts: Vec<u32> = cpu.iter().flat_map(|r| r.experts.clone()).collect();
        let cpu_weights: Vec<f32> = cpu.iter().flat_map(|r| r.weights.clone()).collect();
        let got = device
            .moe_gate(&x, dim, &weight, bias, &config)
            .expect("gate on CUDA");
        let wrong = got
            .experts
            .iter()
            .zip(&cpu_experts)
            .filter(|(g, c)| g != c)
            .count();
        let worst = got
            .weights
            .iter()
            .zip(&cpu_weights)
            .map(|(g, c)| (g - c).abs())
            .fold(0.0f32, f32::max);
        let passed = wrong == 0 && worst <= 1e-6 && got.experts.len() == cpu_experts.len();
        let what = format!(
            "moe gate {tokens} tokens, dim {dim}, {experts} experts, {:?}",
            config.score
        );
        println!(
            "{} {what}: {wrong} experts differ, weights within {worst:.1e}",
            if passed { "ok  " } else { "FAIL" }
        );
        checks.push(Check {
            what,
            difference: f64::from(worst),
            passed,
        });
    }
}

/// Texts the MiniLM check compares on, and texts its timing embeds.
const MINILM_CHECKED: usize = 2_000;
const MINILM_TIMED: usize = 10_000;

/// The smallest cosine between the texts' embeddings on the GPU and on the CPU, both less the
/// CPU's mean embedding: random weights give every text a large shared component (a random
/// deep transformer's tokens grow alike), which would hide differences in the rest.
fn smallest_centred_cosine(gpu: &[f32], cpu: &[f32]) -> f32 {
    let texts = (cpu.len() / DIMENSIONS).max(1);
    let mut mean = vec![0.0f32; DIMENSIONS];
    for row in cpu.chunks_exact(DIMENSIONS) {
        mean.iter_mut()
            .zip(row)
            .for_each(|(m, v)| *m += v / texts as f32);
    }
    gpu.chunks_exact(DIMENSIONS)
        .zip(cpu.chunks_exact(DIMENSIONS))
        .map(|(g, c)| {
            let (mut dot, mut gg, mut cc) = (0.0f64, 0.0f64, 0.0f64);
            for ((g, c), m) in g.iter().zip(c).zip(&mean) {
                let (g, c) = (f64::from(g - m), f64::from(c - m));
                dot += g * c;
                gg += g * g;
                cc += c * c;
            }
            (dot / (gg * cc).sqrt().max(1e-30)) as f32
        })
        .fold(f32::INFINITY, f32::min)
}

/// MiniLM's encoder with its weights on the GPU against the CPU's: the installed model if there
/// is one, else random weights of its shapes ([`synthetic_minilm`]). f32 within 1e-5 of the CPU
/// in every coordinate, FP8 at a centred cosine ([`smallest_centred_cosine`]) ≥ 0.999 for every
/// text (FP8 against f32 is 0.990 there); then texts per second, the whole `embed` call timed (tokenising included), beside the
/// CPU's on this machine's cores.
fn minilm(device: &Device, checks: &mut Vec<Check>, timings: &mut Vec<Timing>) {
    let synthetic = std::env::temp_dir().join(format!("tarn-gpu-check-{}", std::process::id()));
    let (dir, weights) = match locate_model() {
        Ok(dir) => (dir, "all-MiniLM-L6-v2"),
        Err(_) => {
            std::fs::create_dir_all(&synthetic).expect("temporary folder");
            synthetic_minilm::write(&synthetic);
            (synthetic.clone(), "synthetic weights")
        }
    };
    let on_gpu = MiniLm::load_on(&dir, device.clone()).expect("MiniLM on CUDA");
    let on_cpu = MiniLm::load_on(&dir, Device::Cpu).expect("MiniLM on the CPU");
    let _ = std::fs::remove_dir_all(&synthetic);
    let texts = synthetic_minilm::texts(MINILM_TIMED);
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let checked = &texts[..MINILM_CHECKED];
    for (precision, name) in [(Precision::F32, "f32"), (Precision::Fp8, "fp8")] {
        let started = Instant::now();
        let cpu = on_cpu.embed(checked, precision).expect("embed on the CPU");
        let cpu_rate = checked.len() as f64 / started.elapsed().as_secs_f64();
        let gpu = on_gpu.embed(checked, precision).expect("embed on CUDA");
        let largest = gpu
            .iter()
            .zip(&cpu)
            .map(|(g, c)| {
                if g.is_nan() {
                    f32::INFINITY
                } else {
                    (g - c).abs()
                }
            })
            .fold(0.0f32, f32::max);
        let smallest_cosine = smallest_centred_cosine(&gpu, &cpu);
        let passed = gpu.len() == cpu.len()
            && match precision {
                Precision::F32 => largest <= 1e-5,
                Precision::Fp8 => smallest_cosine >= 0.999,
            };
        let what = format!("MiniLM embed {name}, {MINILM_CHECKED} texts ({weights})");
        println!(
            "{} {what}: largest difference {largest:.2e}, smallest cosine {smallest_cosine:.6}",
            if passed { "ok  " } else { "FAIL" }
        );
        checks.push(Check {
            what,
            difference: f64::from(largest),
            passed,
        });
        // A warm-up (every sequence length's attention kernel compiled), then the best of 2.
        on_gpu.embed(&texts, precision).expect("embed on CUDA");
        let best = (0..2)
            .map(|_| {
                let started = Instant::now();
                on_gpu.embed(&texts, precision).expect("embed on CUDA");
                started.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        timings.push(Timing {
            what: format!("MiniLM embed {name}, {MINILM_TIMED} texts"),
            rate: format!("{:.0} texts/s", texts.len() as f64 / best),
            baseline: format!(
                "CPU, {} threads: {cpu_rate:.0} texts/s",
                rayon::current_num_threads()
            ),
        });
    }
}

/// One part of the check: its checks and timings go into the two lists.
type Section<'a> = &'a dyn Fn(&mut Vec<Check>, &mut Vec<Timing>);

/// Runs one section; an error inside it (the operators' errors end in a panic here) becomes
/// one failed check, so the sections after it still run and report: a GPU is lent for minutes,
/// and one broken kernel must not hide the state of the others.
fn guarded(
    name: &str,
    started: Instant,
    checks: &mut Vec<Check>,
    timings: &mut Vec<Timing>,
    run: Section,
) {
    println!("-- {name} (at {:.0} s)", started.elapsed().as_secs_f64());
    if std::panic::catch_unwind(AssertUnwindSafe(|| run(checks, timings))).is_err() {
        println!("FAIL {name}: stopped by the error above");
        checks.push(Check {
            what: format!("{name}: stopped by an error"),
            difference: f64::NAN,
            passed: false,
        });
    }
}

fn main() -> ExitCode {
    let started = Instant::now();
    let device = match Device::select(Some("cuda")) {
        Ok(device) => device,
        Err(e) => {
            eprintln!("gpu check: {e}");
            return ExitCode::from(2);
        }
    };
    let Device::Cuda(gpu) = &device else {
        unreachable!("selected CUDA")
    };
    let gpu: Arc<Gpu> = gpu.clone();
    println!("device: {}", device.describe());
    let (mut checks, mut timings) = (Vec::new(), Vec::new());
    let sections: [(&str, Section); 7] = [
        ("quantisation", &|c, _| quantisation(&device, c)),
        ("fp8 gemm", &|c, t| dense_gemm(&device, &gpu, c, t)),
        ("grouped fp8 gemm", &|c, t| {
            grouped_gemms(&device, &gpu, c, t)
        }),
        ("mla decode", &|c, t| mla(&device, &gpu, c, t)),
        ("masked attention", &|c, _| dense_attention(&device, c)),
        ("moe gate", &|c, _| moe_gate(&device, c)),
        ("MiniLM", &|c, t| minilm(&device, c, t)),
    ];
    // Arguments name the sections to run (any part of their names); none runs all.
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    for (name, run) in sections {
        if !wanted.is_empty() && !wanted.iter().any(|w| name.contains(w.as_str())) {
            continue;
        }
        guarded(name, started, &mut checks, &mut timings, run);
    }

    let failed = checks.iter().filter(|c| !c.passed).count();
    println!("\n| check | difference | result |\n|---|---|---|");
    for check in &checks {
        println!(
            "| {} | {:.2e} | {} |",
            check.what,
            check.difference,
            if check.passed { "ok" } else { "FAIL" }
        );
    }
    println!(
        "\n| timing ({}) | rate | baseline |\n|---|---|---|",
        device.describe()
    );
    for timing in &timings {
        println!(
            "| {} | {} | {} |",
            timing.what, timing.rate, timing.baseline
        );
    }
    println!(
        "\n{} checks, {failed} failed; {:.0} s in all",
        checks.len(),
        started.elapsed().as_secs_f64()
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
