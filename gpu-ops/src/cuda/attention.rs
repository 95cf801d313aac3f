//! Host side of split-KV attention: MLA decode over a paged cache and dense attention with a
//! key-padding mask, one pair of kernels (`attention.cu`) for both.

use cudarc::driver::{CudaFunction, CudaSlice, DriverError, LaunchConfig, PushKernelArg};

use super::mla::MlaPlan;
use super::program::{Kernels, Program};
use super::{Gpu, driver};
use crate::attention::{AttentionOutput, AttentionShape};
use crate::device::DeviceError;
use crate::mla::{KvBlocks, KvCache, MlaShape, round_to_bf16};

/// Threads per attention block, as `attention.cu`'s THREADS.
const THREADS: u32 = 256;

/// Query rows per split block (one warp each) and keys staged per step, as `attention.cu`'s
/// ROWS and KEYS.
const ROWS: usize = 8;
const KEYS: usize = 8;

/// Shared memory a split block may use without opting in to more.
const SHARED_BYTES: usize = 48 * 1024;

/// The sets of query rows that read the same keys (see `attention.cu`).
struct Sets {
    count: usize,
    /// Query rows per set.
    rows: usize,
}

impl Sets {
    /// Split blocks per split: each takes [`ROWS`] rows of one set.
    fn row_blocks(&self) -> usize {
        self.count * self.rows.div_ceil(ROWS)
    }
}

/// Keys per split at least: below this, a split's fixed cost outweighs its parallelism.
const MIN_SPLIT: usize = 64;

/// The inputs one split-KV run reads, already on the device.
pub(crate) struct Inputs<'a> {
    pub(crate) q: &'a CudaSlice<f32>,
    pub(crate) keys: &'a CudaSlice<f32>,
    /// Dense values, or a placeholder for MLA (its values are the keys' first DV dims).
    pub(crate) values: &'a CudaSlice<f32>,
    /// Whether `values` are real (dense attention stages them beside the keys).
    pub(crate) separate_values: bool,
    /// The paged cache's block table and lengths (placeholders for dense attention).
    pub(crate) block_table: &'a CudaSlice<i32>,
    pub(crate) seqlens: &'a CudaSlice<i32>,
    /// Dense attention's key-padding mask, one byte per key (a placeholder for MLA).
    pub(crate) key_mask: &'a CudaSlice<u8>,
}

/// How one split-KV run divides its work, the kernels it launches, and its partials.
pub(crate) struct Split {
    split_kernel: CudaFunction,
    combine_kernel: CudaFunction,
    /// Query rows, and blocks of [`ROWS`] of them.
    rows: usize,
    row_blocks: usize,
    splits: usize,
    /// Keys per split.
    split_len: i32,
    part_max: CudaSlice<f32>,
    part_sum: CudaSlice<f32>,
    part_acc: CudaSlice<f32>,
}

impl Gpu {
    pub(crate) fn mla_decode(
        &self,
        q: &[f32],
        shape: MlaShape,
        cache: KvCache<'_>,
        softmax_scale: f32,
        causal: bool,
    ) -> Result<AttentionOutput, DeviceError> {
        shape.check(q);
        let max_blocks = cache.pages_per_sequence(shape.batch);
        let longest = cache
            .seqlens
            .iter()
            .map(|&l| l.max(0) as usize)
            .max()
            .unwrap_or(0);
        let blocks = match cache.blocks {
            KvBlocks::F32(values) => values,
            KvBlocks::Bf16(values) => {
                // Tensor cores from sm_80 where a block's shared memory fits; elsewhere, or for
                // widths the kernel does not take, the f32 kernel on the widened cache (and the
                // query rounded, as the result's definition has it).
                let plan = MlaPlan::new(
                    shape,
                    max_blocks,
                    longest,
                    causal,
                    self.multiprocessors,
                    self.shared_bytes_optin,
                );
                if let Some(plan) = plan.filter(|_| self.compute_capability >= (8, 0)) {
                    return self.mla_decode_bf16(
                        &plan,
                        q,
                        values,
                        cache.block_table,
                        cache.seqlens,
                        softmax_scale,
                    );
                }
                let widened: Vec<f32> = values.iter().map(|v| v.to_f32()).collect();
                let cache = KvCache {
                    blocks: KvBlocks::F32(&widened),
                    ..cache
                };
                return self.mla_decode(&round_to_bf16(q), shape, cache, softmax_scale, causal);
            }
        };
        let (program, sets) = paged_program(shape, max_blocks, causal);
        let stream = &self.stream;
        let inputs = Inputs {
            q: &stream.clone_htod(q).map_err(driver)?,
            keys: &stream.clone_htod(blocks).map_err(driver)?,
            values: &stream.alloc_zeros::<f32>(1).map_err(driver)?,
            separate_values: false,
            block_table: &stream.clone_htod(cache.block_table).map_err(driver)?,
            seqlens: &stream.clone_htod(cache.seqlens).map_err(driver)?,
            key_mask: &stream.alloc_zeros::<u8>(1).map_err(driver)?,
        };
        let (d, dv) = (shape.d, shape.dv);
        self.split_attention(&program, &inputs, sets, d, dv, longest, softmax_scale)
    }

    pub(crate) fn attention(
        &self,
        q: &[f32],
        k: &[f32],
        v: &[f32],
        key_mask: &[bool],
        shape: AttentionShape,
        softmax_scale: f32,
    ) -> Result<AttentionOutput, DeviceError> {
        shape.check(q, k, v, key_mask);
        let stream = &self.stream;
        let mask: Vec<u8> = key_mask.iter().map(|&m| u8::from(m)).collect();
        let unused = stream.alloc_zeros::<i32>(1).map_err(driver)?;
        let inputs = Inputs {
            q: &stream.clone_htod(q).map_err(driver)?,
            keys: &stream.clone_htod(k).map_err(driver)?,
            values: &stream.clone_htod(v).map_err(driver)?,
            separate_values: true,
            block_table: &unused,
            seqlens: &unused,
            key_mask: &stream.clone_htod(&mask).map_err(driver)?,
        };
        let (program, sets) = dense_program(shape);
        self.split_attention(
            &program,
            &inputs,
            sets,
            shape.d,
            shape.dv,
            shape.s_k,
            softmax_scale,
        )
    }

    /// Plans split-KV dense attention of `shape` with a key-padding mask: the launches
    /// [`Gpu::launch_split`] makes (`None` when there is nothing to attend).
    pub(crate) fn plan_dense_attention(
        &self,
        shape: AttentionShape,
    ) -> Result<Option<Split>, DeviceError> {
        let (program, sets) = dense_program(shape);
        self.plan_split(&program, sets, shape.d, shape.dv, shape.s_k, true)
    }

    /// Splits every query row's keys (at most `longest`) into enough slices to fill the
    /// device, attends to each slice, and combines them.
    #[allow(clippy::too_many_arguments)]
    fn split_attention(
        &self,
        program: &Program,
        inputs: &Inputs<'_>,
        sets: Sets,
        d: usize,
        dv: usize,
        longest: usize,
        softmax_scale: f32,
    ) -> Result<AttentionOutput, DeviceError> {
        let rows = sets.count * sets.rows;
        let Some(mut split) =
            self.plan_split(program, sets, d, dv, longest, inputs.separate_values)?
        else {
            return Ok(AttentionOutput {
                out: Vec::new(),
                lse: vec![f32::INFINITY; rows],
            });
        };
        let mut out = self.poisoned::<f32>(rows * dv)?;
        let mut lse = self.poisoned::<f32>(rows)?;
        self.timed(|| self.launch_split(&mut split, inputs, softmax_scale, &mut out, &mut lse))?;
        let stream = &self.stream;
        Ok(AttentionOutput {
            out: stream.clone_dtoh(&out).map_err(driver)?,
            lse: stream.clone_dtoh(&lse).map_err(driver)?,
        })
    }

    /// Splits every query row's keys (at most `longest`) into enough slices to fill the
    /// device, and allocates the partials; `None` when there are no rows or no value dims.
    fn plan_split(
        &self,
        program: &Program,
        sets: Sets,
        d: usize,
        dv: usize,
        longest: usize,
        separate_values: bool,
    ) -> Result<Option<Split>, DeviceError> {
        let staged_values = if separate_values { KEYS * dv } else { 0 };
        let shared = ((ROWS + KEYS) * d + staged_values) * 4;
        if shared > SHARED_BYTES {
            return Err(DeviceError::Unsupported(format!(
                "attention with d={d}, dv={dv} needs {shared} bytes of shared memory per block; \
                 the CUDA kernel has {SHARED_BYTES}"
            )));
        }
        let rows = sets.count * sets.rows;
        if rows == 0 || dv == 0 {
            return Ok(None);
        }
        let row_blocks = sets.row_blocks();
        let (splits, split_len) = split_keys(row_blocks, 2 * self.multiprocessors, longest);
        Ok(Some(Split {
            split_kernel: self.kernel(program, "attention_split")?,
            combine_kernel: self.kernel(program, "attention_combine")?,
            rows,
            row_blocks,
            splits,
            split_len,
            part_max: self.poisoned::<f32>(rows * splits)?,
            part_sum: self.poisoned::<f32>(rows * splits)?,
            part_acc: self.poisoned::<f32>(rows * splits * dv)?,
        }))
    }

    /// Attends to each split and combines them into `out` (a row of DV per query row) and
    /// `lse` (one per query row).
    pub(crate) fn launch_split(
        &self,
        split: &mut Split,
        inputs: &Inputs<'_>,
        softmax_scale: f32,
        out: &mut CudaSlice<f32>,
        lse: &mut CudaSlice<f32>,
    ) -> Result<(), DriverError> {
        // SAFETY: the arguments match `attention_split`'s parameters; the workspace holds one
        // partial per (row, split), as the grid addresses.
        unsafe {
            self.stream
                .launch_builder(&split.split_kernel)
                .arg(inputs.q)
                .arg(inputs.keys)
                .arg(inputs.values)
                .arg(inputs.block_table)
                .arg(inputs.seqlens)
                .arg(inputs.key_mask)
                .arg(&softmax_scale)
                .arg(&split.split_len)
                .arg(&mut split.part_max)
                .arg(&mut split.part_sum)
                .arg(&mut split.part_acc)
                .launch(LaunchConfig {
                    grid_dim: (split.row_blocks as u32, split.splits as u32, 1),
                    block_dim: (THREADS, 1, 1),
                    shared_mem_bytes: 0,
                })?;
        }
        self.launch_combine(
            &split.combine_kernel,
            [&split.part_max, &split.part_sum, &split.part_acc],
            split.splits,
            split.rows,
            out,
            lse,
        )
    }

    /// Merges the partials (max, sum, accumulators) of `rows` query rows over `splits` splits
    /// into `out` and `lse` with `attention_combine`.
    pub(crate) fn launch_combine(
        &self,
        combine_kernel: &CudaFunction,
        [part_max, part_sum, part_acc]: [&CudaSlice<f32>; 3],
        splits: usize,
        rows: usize,
        out: &mut CudaSlice<f32>,
        lse: &mut CudaSlice<f32>,
    ) -> Result<(), DriverError> {
        let splits = splits as i32;
        // SAFETY: the arguments match `attention_combine`'s parameters; the partials hold
        // `splits` slots per row, the outputs a row of DV and one lse per query row.
        unsafe {
            self.stream
                .launch_builder(combine_kernel)
                .arg(part_max)
                .arg(part_sum)
                .arg(part_acc)
                .arg(&splits)
                .arg(out)
                .arg(lse)
                .launch(LaunchConfig {
                    grid_dim: (rows as u32, 1, 1),
                    block_dim: (THREADS, 1, 1),
                    shared_mem_bytes: 0,
                })
                .map(drop)
        }
    }
}

/// Cuts every query row's keys (at most `longest`) into splits so that `row_blocks` blocks
/// per split make about `blocks_wanted` blocks in all, no split under [`MIN_SPLIT`] keys:
/// the number of splits and the keys per split.
pub(crate) fn split_keys(row_blocks: usize, blocks_wanted: usize, longest: usize) -> (usize, i32) {
    let splits = blocks_wanted
        .div_ceil(row_blocks.max(1))
        .clamp(1, longest.div_ceil(MIN_SPLIT).max(1));
    (splits, longest.div_ceil(splits) as i32)
}

/// MLA decode's program for `shape` over a block table of `max_blocks` pages per sequence, and
/// its sets of query rows (a sequence's KV head each).
fn paged_program(shape: MlaShape, max_blocks: usize, causal: bool) -> (Program, Sets) {
    let program = Program::new(
        Kernels::Attention,
        &[
            ("D", shape.d as i64),
            ("DV", shape.dv as i64),
            ("H_Q", shape.h_q as i64),
            ("KV_SETS", shape.h_kv as i64),
            ("S_Q", shape.s_q as i64),
            ("CAUSAL", i64::from(causal && shape.s_q > 1)),
            ("PAGED", 1),
            ("BLOCK_SIZE", shape.block_size as i64),
            ("MAX_BLOCKS", max_blocks as i64),
            ("S_K", 0),
        ],
    );
    let sets = Sets {
        count: shape.batch * shape.h_kv,
        rows: shape.s_q * (shape.h_q / shape.h_kv),
    };
    (program, sets)
}

/// Dense attention's program for `shape` and its sets of query rows (a sequence's head each).
fn dense_program(shape: AttentionShape) -> (Program, Sets) {
    let program = Program::new(
        Kernels::Attention,
        &[
            ("D", shape.d as i64),
            ("DV", shape.dv as i64),
            ("H_Q", shape.heads as i64),
            ("KV_SETS", shape.heads as i64),
            ("S_Q", shape.s_q as i64),
            ("CAUSAL", 0),
            ("PAGED", 0),
            ("BLOCK_SIZE", 1),
            ("MAX_BLOCKS", 1),
            ("S_K", shape.s_k as i64),
        ],
    );
    let sets = Sets {
        count: shape.batch * shape.heads,
        rows: shape.s_q,
    };
    (program, sets)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cuda::emulator::support::{Rng, difference};
    use crate::cuda::emulator::{Arg, CopyTiming, Emulated, Launch};
    use crate::mla::{KvBlocks, mla_decode};

    /// A decode call for the emulator tests: random queries, and a paged cache whose pages
    /// are scattered over its blocks and whose rows no sequence may read are NaN.
    pub(crate) struct PagedCase {
        pub(crate) shape: MlaShape,
        pub(crate) seqlens: Vec<i32>,
        pub(crate) causal: bool,
        pub(crate) q: Vec<f32>,
        pub(crate) cache: Vec<f32>,
        pub(crate) block_table: Vec<i32>,
        pub(crate) max_blocks: usize,
        pub(crate) scale: f32,
    }

    impl PagedCase {
        pub(crate) fn new(shape: MlaShape, seqlens: &[i32], causal: bool) -> PagedCase {
            let MlaShape {
                batch,
                s_q,
                h_q,
                h_kv,
                d,
                block_size,
                ..
            } = shape;
            let mut rng = Rng(11);
            let longest = seqlens.iter().map(|&l| l as usize).max().unwrap();
            let max_blocks = longest.div_ceil(block_size);
            let num_blocks = batch * max_blocks;
            // Sequence i's page j is cache block (i·max_blocks + j)·7 mod num_blocks.
            assert!(!num_blocks.is_multiple_of(7), "7 must permute the blocks");
            let block_table: Vec<i32> = (0..num_blocks)
                .map(|i| ((i * 7) % num_blocks) as i32)
                .collect();
            let row = h_kv * d;
            let mut cache = vec![f32::NAN; num_blocks * block_size * row];
            for (seq, &len) in seqlens.iter().enumerate() {
                for pos in 0..len as usize {
                    let block = block_table[seq * max_blocks + pos / block_size] as usize;
                    let at = (block * block_size + pos % block_size) * row;
                    for value in &mut cache[at..at + row] {
                        *value = rng.unit();
                    }
                }
            }
            PagedCase {
                shape,
                seqlens: seqlens.to_vec(),
                causal,
                q: (0..batch * s_q * h_q * d).map(|_| rng.unit()).collect(),
                cache,
                block_table,
                max_blocks,
                scale: 1.0 / (d as f32).sqrt(),
            }
        }

        pub(crate) fn longest(&self) -> usize {
            self.seqlens.iter().map(|&l| l as usize).max().unwrap()
        }

        /// The CPU's result over `blocks` (this case's cache, in f32 or bf16).
        pub(crate) fn expected(&self, blocks: KvBlocks<'_>) -> AttentionOutput {
            let cache = KvCache {
                blocks,
                block_table: &self.block_table,
                seqlens: &self.seqlens,
            };
            mla_decode(&self.q, self.shape, cache, self.scale, self.causal)
        }

        /// Panics unless `got` has every output written and matches `expected` by FlashMLA's
        /// metric, with the same sequences seeing no key (lse +inf).
        pub(crate) fn assert_matches(
            &self,
            label: &str,
            got: &AttentionOutput,
            expected: &AttentionOutput,
        ) {
            assert!(
                got.out.iter().all(|v| v.is_finite()),
                "{label}: out not all written"
            );
            let out_difference = difference(&got.out, &expected.out);
            assert!(
                out_difference < 1e-5,
                "{label}: out differs by {out_difference}"
            );
            for (got, want) in got.lse.iter().zip(&expected.lse) {
                assert!(
                    got == want || (got - want).abs() < 1e-4 * want.abs().max(1.0),
                    "{label}: lse {got} against {want}"
                );
            }
        }
    }

    /// A split step's partials, poisoned (NaN) until a kernel writes them.
    pub(crate) struct Partials {
        max: Vec<f32>,
        sum: Vec<f32>,
        acc: Vec<f32>,
        splits: usize,
        rows: usize,
        dv: usize,
    }

    impl Partials {
        pub(crate) fn poisoned(rows: usize, splits: usize, dv: usize) -> Partials {
            Partials {
                max: vec![f32::NAN; rows * splits],
                sum: vec![f32::NAN; rows * splits],
                acc: vec![f32::NAN; rows * splits * dv],
                splits,
                rows,
                dv,
            }
        }

        /// The split kernels' last three arguments.
        pub(crate) fn args(&mut self) -> [Arg; 3] {
            [
                Arg::from(&mut self.max[..]),
                Arg::from(&mut self.sum[..]),
                Arg::from(&mut self.acc[..]),
            ]
        }

        /// Runs `emulated`'s `attention_combine` over the partials.
        pub(crate) fn combine(&self, emulated: &Emulated, timing: CopyTiming) -> AttentionOutput {
            let mut out = vec![f32::NAN; self.rows * self.dv];
            let mut lse = vec![f32::NAN; self.rows];
            let launch = Launch {
                grid: (self.rows as u32, 1, 1),
                threads: THREADS,
                shared_bytes: 0,
            };
            let args = [
                Arg::from(&self.max[..]),
                Arg::from(&self.sum[..]),
                Arg::from(&self.acc[..]),
                Arg::I32(self.splits as i32),
                Arg::from(&mut out[..]),
                Arg::from(&mut lse[..]),
            ];
            // SAFETY: `attention_combine`'s arguments; the partials hold `splits` slots per
            // row, the outputs a row of DV and one lse per query row.
            unsafe { emulated.launch("attention_combine", launch, timing, &args) };
            AttentionOutput { out, lse }
        }
    }

    /// The f32 split kernel and the combine under the emulator against the CPU: MLA decode
    /// over a paged f32 cache, two KV heads of six query heads (two blocks of 8 rows per set,
    /// the second partly empty), causal, an empty sequence, several splits.
    #[test]
    fn the_split_kernels_match_the_cpu_under_the_emulator() {
        let shape = MlaShape {
            batch: 3,
            s_q: 2,
            h_q: 12,
            h_kv: 2,
            d: 40,
            dv: 32,
            block_size: 8,
        };
        let seqlens = [0, 19, 37];
        let case = PagedCase::new(shape, &seqlens, true);
        let expected = case.expected(KvBlocks::F32(&case.cache));
        let (program, sets) = paged_program(shape, case.max_blocks, true);
        let emulated = Emulated::compile(&program);
        let row_blocks = sets.row_blocks();
        for blocks_wanted in [1, 4 * row_blocks] {
            let (splits, split_len) = split_keys(row_blocks, blocks_wanted, case.longest());
            let rows = sets.count * sets.rows;
            let mut partials = Partials::poisoned(rows, splits, shape.dv);
            let launch = Launch {
                grid: (row_blocks as u32, splits as u32, 1),
                threads: THREADS,
                shared_bytes: 0,
            };
            let mut args = vec![
                Arg::from(&case.q[..]),
                Arg::from(&case.cache[..]),
                Arg::from(&[0.0f32][..]),
                Arg::from(&case.block_table[..]),
                Arg::from(&seqlens[..]),
                Arg::from(&[0u8][..]),
                Arg::F32(case.scale),
                Arg::I32(split_len),
            ];
            args.extend(partials.args());
            // SAFETY: `attention_split`'s arguments (the values and mask unused when paged),
            // every buffer sized as the grid addresses it.
            unsafe { emulated.launch("attention_split", launch, CopyTiming::Late, &args) };
            let got = partials.combine(&emulated, CopyTiming::Late);
            case.assert_matches(&format!("{splits} splits"), &got, &expected);
        }
    }
}
