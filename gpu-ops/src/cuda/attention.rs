//! Host side of split-KV attention: MLA decode over a paged cache and dense attention with a
//! key-padding mask, one pair of kernels (`attention.cu`) for both.

use cudarc::driver::{CudaSlice, LaunchConfig, PushKernelArg};

use super::program::{Kernels, Program};
use super::{Gpu, driver};
use crate::attention::{AttentionOutput, AttentionShape};
use crate::device::DeviceError;
use crate::mla::{KvCache, MlaShape};

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

/// Keys per split at least: below this, a split's fixed cost outweighs its parallelism.
const MIN_SPLIT: usize = 64;

/// The inputs one split-KV run reads, already on the device.
struct Inputs {
    q: CudaSlice<f32>,
    keys: CudaSlice<f32>,
    /// Dense values, or a placeholder for MLA (its values are the keys' first DV dims).
    values: CudaSlice<f32>,
    /// Whether `values` are real (dense attention stages them beside the keys).
    separate_values: bool,
    block_table: CudaSlice<i32>,
    seqlens: CudaSlice<i32>,
    key_mask: CudaSlice<u8>,
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
        let MlaShape {
            batch,
            s_q,
            h_q,
            h_kv,
            d,
            dv,
            block_size,
        } = shape;
        shape.check(q);
        let max_blocks = cache.block_table.len() / batch.max(1);
        let longest = cache
            .seqlens
            .iter()
            .map(|&l| l.max(0) as usize)
            .max()
            .unwrap_or(0);
        let program = Program::new(
            Kernels::Attention,
            &[
                ("D", d as i64),
                ("DV", dv as i64),
                ("H_Q", h_q as i64),
                ("KV_SETS", h_kv as i64),
                ("S_Q", s_q as i64),
                ("CAUSAL", i64::from(causal && s_q > 1)),
                ("PAGED", 1),
                ("BLOCK_SIZE", block_size as i64),
                ("MAX_BLOCKS", max_blocks as i64),
                ("S_K", 0),
            ],
        );
        let stream = &self.stream;
        let inputs = Inputs {
            q: stream.clone_htod(q).map_err(driver)?,
            keys: stream.clone_htod(cache.blocks).map_err(driver)?,
            values: stream.alloc_zeros::<f32>(1).map_err(driver)?,
            separate_values: false,
            block_table: stream.clone_htod(cache.block_table).map_err(driver)?,
            seqlens: stream.clone_htod(cache.seqlens).map_err(driver)?,
            key_mask: stream.alloc_zeros::<u8>(1).map_err(driver)?,
        };
        let sets = Sets {
            count: batch * h_kv,
            rows: s_q * (h_q / h_kv),
        };
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
        let AttentionShape {
            batch,
            s_q,
            s_k,
            heads,
            d,
            dv,
        } = shape;
        shape.check(q, k, v, key_mask);
        let program = Program::new(
            Kernels::Attention,
            &[
                ("D", d as i64),
                ("DV", dv as i64),
                ("H_Q", heads as i64),
                ("KV_SETS", heads as i64),
                ("S_Q", s_q as i64),
                ("CAUSAL", 0),
                ("PAGED", 0),
                ("BLOCK_SIZE", 1),
                ("MAX_BLOCKS", 1),
                ("S_K", s_k as i64),
            ],
        );
        let stream = &self.stream;
        let mask: Vec<u8> = key_mask.iter().map(|&m| u8::from(m)).collect();
        let inputs = Inputs {
            q: stream.clone_htod(q).map_err(driver)?,
            keys: stream.clone_htod(k).map_err(driver)?,
            values: stream.clone_htod(v).map_err(driver)?,
            separate_values: true,
            block_table: stream.alloc_zeros::<i32>(1).map_err(driver)?,
            seqlens: stream.alloc_zeros::<i32>(1).map_err(driver)?,
            key_mask: stream.clone_htod(&mask).map_err(driver)?,
        };
        let sets = Sets {
            count: batch * heads,
            rows: s_q,
        };
        self.split_attention(&program, &inputs, sets, d, dv, s_k, softmax_scale)
    }

    /// Splits every query row's keys (at most `longest`) into enough slices to fill the
    /// device, attends to each slice, and combines them.
    #[allow(clippy::too_many_arguments)]
    fn split_attention(
        &self,
        program: &Program,
        inputs: &Inputs,
        sets: Sets,
        d: usize,
        dv: usize,
        longest: usize,
        softmax_scale: f32,
    ) -> Result<AttentionOutput, DeviceError> {
        let staged_values = if inputs.separate_values { KEYS * dv } else { 0 };
        let shared = ((ROWS + KEYS) * d + staged_values) * 4;
        if shared > SHARED_BYTES {
            return Err(DeviceError::Unsupported(format!(
                "attention with d={d}, dv={dv} needs {shared} bytes of shared memory per block; \
                 the CUDA kernel has {SHARED_BYTES}"
            )));
        }
        let rows = sets.count * sets.rows;
        if rows == 0 || dv == 0 {
            return Ok(AttentionOutput {
                out: Vec::new(),
                lse: vec![f32::INFINITY; rows],
            });
        }
        let row_blocks = sets.count * sets.rows.div_ceil(ROWS);
        let wanted = (2 * self.multiprocessors).div_ceil(row_blocks);
        let splits = wanted.clamp(1, longest.div_ceil(MIN_SPLIT).max(1));
        let split_len = longest.div_ceil(splits) as i32;
        let split_kernel = self.kernel(program, "attention_split")?;
        let combine_kernel = self.kernel(program, "attention_combine")?;
        let stream = &self.stream;
        let mut part_max = self.poisoned::<f32>(rows * splits)?;
        let mut part_sum = self.poisoned::<f32>(rows * splits)?;
        let mut part_acc = self.poisoned::<f32>(rows * splits * dv)?;
        let mut out = self.poisoned::<f32>(rows * dv)?;
        let mut lse = self.poisoned::<f32>(rows)?;
        let splits_arg = splits as i32;
        let block = (THREADS, 1, 1);
        // SAFETY: the arguments match the kernels' parameters; the workspace holds one partial
        // per (row, split) and the outputs one row of DV per query row, as the grids address.
        self.timed(|| unsafe {
            stream
                .launch_builder(&split_kernel)
                .arg(&inputs.q)
                .arg(&inputs.keys)
                .arg(&inputs.values)
                .arg(&inputs.block_table)
                .arg(&inputs.seqlens)
                .arg(&inputs.key_mask)
                .arg(&softmax_scale)
                .arg(&split_len)
                .arg(&mut part_max)
                .arg(&mut part_sum)
                .arg(&mut part_acc)
                .launch(LaunchConfig {
                    grid_dim: (row_blocks as u32, splits as u32, 1),
                    block_dim: block,
                    shared_mem_bytes: 0,
                })?;
            stream
                .launch_builder(&combine_kernel)
                .arg(&part_max)
                .arg(&part_sum)
                .arg(&part_acc)
                .arg(&splits_arg)
                .arg(&mut out)
                .arg(&mut lse)
                .launch(LaunchConfig {
                    grid_dim: (rows as u32, 1, 1),
                    block_dim: block,
                    shared_mem_bytes: 0,
                })
                .map(drop)
        })?;
        Ok(AttentionOutput {
            out: stream.clone_dtoh(&out).map_err(driver)?,
            lse: stream.clone_dtoh(&lse).map_err(driver)?,
        })
    }
}
