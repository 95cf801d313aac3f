//! Host side of MLA decode from a bf16 cache on tensor cores (`mla_bf16.cu`), whose partials
//! `attention_combine` merges as it does the f32 kernel's.

use cudarc::driver::sys::CUfunction_attribute;
use cudarc::driver::{LaunchConfig, PushKernelArg};
use half::bf16;
use half::slice::HalfFloatSliceExt;

use super::attention::split_keys;
use super::program::{Kernels, Program};
use super::{Gpu, driver};
use crate::attention::AttentionOutput;
use crate::device::DeviceError;
use crate::mla::MlaShape;

/// Query rows per block, keys per step and threads per block, as `mla_bf16.cu`'s TILE_ROWS,
/// KEYS and THREADS.
const TILE_ROWS: usize = 64;
const KEYS: usize = 32;
const THREADS: u32 = 256;

/// How one decode call runs `mla_bf16.cu`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MlaPlan {
    pub(crate) program: Program,
    /// The split kernel's grid: (row blocks, splits, 1).
    pub(crate) grid: (u32, u32, u32),
    pub(crate) split_len: i32,
    /// Dynamic shared memory per split block: the query tile, the key stages, P and the
    /// warps' exchange.
    pub(crate) shared_bytes: usize,
    /// Query rows, each a block of the combine step.
    pub(crate) rows: usize,
    /// Value dims per query row.
    pub(crate) dv: usize,
}

impl MlaPlan {
    /// The plan for `shape` over a block table of `max_blocks` pages per sequence and at
    /// most `longest` cached tokens, sized to fill about `blocks_wanted` blocks; `None` where
    /// the kernel does not apply (D not a multiple of 16, DV of 32, or a block needing more
    /// than `max_shared_bytes`), or where there is nothing to attend.
    pub(crate) fn new(
        shape: MlaShape,
        max_blocks: usize,
        longest: usize,
        causal: bool,
        blocks_wanted: usize,
        max_shared_bytes: usize,
    ) -> Option<MlaPlan> {
        let MlaShape {
            batch,
            s_q,
            h_q,
            h_kv,
            d,
            dv,
            block_size,
        } = shape;
        // The query tile and the key stages, rows padded by 16 bytes, three stages where they
        // fit (sm_90), else two; then the tile of P (bf16, rows padded alike) and two f32 per
        // row for the warps of a row to exchange maxima and sums.
        let shared_bytes = |stages: usize| {
            (TILE_ROWS + stages * KEYS) * (d + 8) * 2
                + TILE_ROWS * (KEYS + 8) * 2
                + TILE_ROWS * 2 * 4
        };
        let stages = if shared_bytes(3) <= max_shared_bytes {
            3
        } else {
            2
        };
        let rows = batch * s_q * h_q;
        if !d.is_multiple_of(16)
            || !dv.is_multiple_of(32)
            || dv == 0
            || shared_bytes(stages) > max_shared_bytes
            || rows == 0
        {
            return None;
        }
        let row_blocks = batch * h_kv * (s_q * (h_q / h_kv)).div_ceil(TILE_ROWS);
        let (splits, split_len) = split_keys(row_blocks, blocks_wanted, longest);
        let program = Program::new(
            Kernels::MlaBf16,
            &[
                ("D", d as i64),
                ("DV", dv as i64),
                ("H_Q", h_q as i64),
                ("H_KV", h_kv as i64),
                ("S_Q", s_q as i64),
                ("CAUSAL", i64::from(causal && s_q > 1)),
                ("BLOCK_SIZE", block_size as i64),
                ("MAX_BLOCKS", max_blocks as i64),
                ("STAGES", stages as i64),
            ],
        );
        Some(MlaPlan {
            program,
            grid: (row_blocks as u32, splits as u32, 1),
            split_len,
            shared_bytes: shared_bytes(stages),
            rows,
            dv,
        })
    }

    pub(crate) fn splits(&self) -> usize {
        self.grid.1 as usize
    }
}

impl Gpu {
    /// MLA decode of `q` (rounded to bf16) over a bf16 cache `blocks` by `plan`.
    pub(crate) fn mla_decode_bf16(
        &self,
        plan: &MlaPlan,
        q: &[f32],
        blocks: &[bf16],
        block_table: &[i32],
        seqlens: &[i32],
        softmax_scale: f32,
    ) -> Result<AttentionOutput, DeviceError> {
        let split_kernel = self.kernel(&plan.program, "mla_split_bf16")?;
        let combine_kernel = self.kernel(&plan.program, "attention_combine")?;
        // Over 48 KiB of dynamic shared memory needs the kernel's consent.
        split_kernel
            .set_attribute(
                CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                plan.shared_bytes as i32,
            )
            .map_err(driver)?;
        let stream = &self.stream;
        let q: Vec<u16> = q.iter().map(|&v| bf16::from_f32(v).to_bits()).collect();
        let q = stream.clone_htod(&q).map_err(driver)?;
        let cache = stream
            .clone_htod(blocks.reinterpret_cast())
            .map_err(driver)?;
        let block_table = stream.clone_htod(block_table).map_err(driver)?;
        let seqlens = stream.clone_htod(seqlens).map_err(driver)?;
        let (rows, splits, dv) = (plan.rows, plan.splits(), plan.dv);
        let mut part_max = self.poisoned::<f32>(rows * splits)?;
        let mut part_sum = self.poisoned::<f32>(rows * splits)?;
        let mut part_acc = self.poisoned::<f32>(rows * splits * dv)?;
        let mut out = self.poisoned::<f32>(rows * dv)?;
        let mut lse = self.poisoned::<f32>(rows)?;
        self.timed(|| {
            // SAFETY: the arguments match `mla_split_bf16`'s parameters; the cache holds every
            // block the table names, the workspace one partial per (row, split).
            unsafe {
                stream
                    .launch_builder(&split_kernel)
                    .arg(&q)
                    .arg(&cache)
                    .arg(&block_table)
                    .arg(&seqlens)
                    .arg(&softmax_scale)
                    .arg(&plan.split_len)
                    .arg(&mut part_max)
                    .arg(&mut part_sum)
                    .arg(&mut part_acc)
                    .launch(LaunchConfig {
                        grid_dim: plan.grid,
                        block_dim: (THREADS, 1, 1),
                        shared_mem_bytes: plan.shared_bytes as u32,
                    })?;
            }
            self.launch_combine(
                &combine_kernel,
                [&part_max, &part_sum, &part_acc],
                splits,
                rows,
                &mut out,
                &mut lse,
            )
        })?;
        Ok(AttentionOutput {
            out: stream.clone_dtoh(&out).map_err(driver)?,
            lse: stream.clone_dtoh(&lse).map_err(driver)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cuda::attention::tests::{PagedCase, Partials};
    use crate::cuda::emulator::{Arg, CopyTiming, Emulated, Launch};
    use crate::mla::KvBlocks;

    /// The shared memory a block may opt in to on sm_80 and on sm_90.
    const SM80_SHARED: usize = 163 * 1024;
    const SM90_SHARED: usize = 227 * 1024;

    /// `bits` in 16-byte aligned storage, as `cp.async` needs its sources.
    fn aligned(bits: &[u16]) -> Vec<u128> {
        let mut storage = vec![0u128; bits.len().div_ceil(8)];
        for (i, &b) in bits.iter().enumerate() {
            storage[i / 8] |= u128::from(b) << (16 * (i % 8));
        }
        storage
    }

    /// The split and combine kernels under the emulator against the CPU, on a paged bf16
    /// cache whose pages are out of order and whose unreadable rows are NaN.
    fn check(
        shape: MlaShape,
        seqlens: &[i32],
        causal: bool,
        blocks_wanted: usize,
        max_shared_bytes: usize,
        timing: CopyTiming,
    ) {
        let case = PagedCase::new(shape, seqlens, causal);
        let cache: Vec<bf16> = case.cache.iter().map(|&v| bf16::from_f32(v)).collect();
        let expected = case.expected(KvBlocks::Bf16(&cache));
        let plan = MlaPlan::new(
            shape,
            case.max_blocks,
            case.longest(),
            causal,
            blocks_wanted,
            max_shared_bytes,
        )
        .unwrap();
        let emulated = Emulated::compile(&plan.program);
        let q_bits: Vec<u16> = case
            .q
            .iter()
            .map(|&v| bf16::from_f32(v).to_bits())
            .collect();
        let (q_bits, cache_bits) = (aligned(&q_bits), aligned(cache.reinterpret_cast()));
        let mut partials = Partials::poisoned(plan.rows, plan.splits(), shape.dv);
        let split = Launch {
            grid: plan.grid,
            threads: THREADS,
            shared_bytes: plan.shared_bytes,
        };
        let mut args = vec![
            Arg::from(&q_bits[..]),
            Arg::from(&cache_bits[..]),
            Arg::from(&case.block_table[..]),
            Arg::from(seqlens),
            Arg::F32(case.scale),
            Arg::I32(plan.split_len),
        ];
        args.extend(partials.args());
        // SAFETY: the arguments are `mla_split_bf16`'s, every buffer sized as the plan says.
        unsafe { emulated.launch("mla_split_bf16", split, timing, &args) };
        let got = partials.combine(&emulated, timing);
        let label = format!(
            "{shape:?} seqlens {seqlens:?} causal {causal}, {} splits, {} bytes of shared \
             memory, copies {timing:?}",
            plan.splits(),
            plan.shared_bytes
        );
        case.assert_matches(&label, &got, &expected);
    }

    #[test]
    fn the_tensor_core_kernel_matches_the_cpu_under_the_emulator() {
        let deepseek = MlaShape {
            batch: 3,
            s_q: 2,
            h_q: 16,
            h_kv: 1,
            d: 576,
            dv: 512,
            block_size: 64,
        };
        // An empty sequence, a page and a bit, two and a bit; one split each with sm_80's shared
        // memory (two stages), then several with sm_90's (three).
        check(
            deepseek,
            &[0, 70, 150],
            true,
            1,
            SM80_SHARED,
            CopyTiming::Late,
        );
        check(
            deepseek,
            &[0, 70, 150],
            false,
            12,
            SM90_SHARED,
            CopyTiming::Early,
        );
        // Narrow heads: two KV heads of 40 query heads each, two tiles per set (the second
        // partly past the set), pages of 16 rows.
        let narrow = MlaShape {
            batch: 2,
            s_q: 2,
            h_q: 80,
            h_kv: 2,
            d: 96,
            dv: 64,
            block_size: 16,
        };
        for timing in CopyTiming::BOTH {
            check(narrow, &[45, 130], true, 16, SM90_SHARED, timing);
        }
    }
}
