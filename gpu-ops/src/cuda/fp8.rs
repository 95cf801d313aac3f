//! Host side of the FP8 kernels: quantisation and the three GEMM forms.

use cudarc::driver::sys::CUfunction_attribute;
use cudarc::driver::{CudaFunction, CudaSlice, DriverError, LaunchConfig, PushKernelArg};

use super::program::{Kernels, Program};
use super::{Gpu, driver};
use crate::device::DeviceError;
use crate::fp8::{self, Fp8Matrix, GROUP, Grouping, check_fill, check_groups, check_m_indices};

/// Rows (and columns) of D per block of the portable GEMM, as `fp8_gemm.cu`'s BM and BN.
const PORTABLE_TILE: usize = 64;
/// Rows (and columns) of D per block of the tensor-core GEMMs, as `fp8_gemm_mma.cu`'s and
/// `fp8_gemm_wgmma.cu`'s TILE.
const TENSOR_TILE: usize = 128;

/// The FP8 GEMM kernels, slowest first. A GEMM runs on the device's default
/// ([`Fp8Kernel::default_for`], or the one [`Gpu::use_fp8_kernel`] picked) where its shape
/// allows (K a multiple of 16, grouped-contiguous experts aligned to 128 rows), else on
/// `Portable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fp8Kernel {
    /// `fp8_gemm.cu`: CUDA cores, any device.
    Portable,
    /// `fp8_gemm_mma.cu`: `mma.sync` on FP8 tensor cores, sm_89 and newer.
    Mma,
    /// `fp8_gemm_wgmma.cu`: Hopper's warpgroup `wgmma`, sm_90 only.
    Wgmma,
}

impl Fp8Kernel {
    /// The kernel GEMMs run on by default on a device of `compute_capability`: `Mma` where
    /// FP8 tensor cores exist. Not yet `Wgmma` on sm_90: that kernel compiles (a test checks
    /// it with NVRTC) but has not yet passed the GPU check against the CPU (`bench/gpu`, which
    /// compares every kernel the device runs); it becomes the default there once it has.
    pub fn default_for(compute_capability: (i32, i32)) -> Fp8Kernel {
        if compute_capability >= (8, 9) {
            Fp8Kernel::Mma
        } else {
            Fp8Kernel::Portable
        }
    }

    /// This kernel's program for B's `n` and `k` with K cut into `k_splits` runs: its entry
    /// point, the side of the square tile of D each block computes, and the dynamic shared
    /// memory each block takes (per stage of its copy pipeline a 128×128 byte tile of A and
    /// one of B; `mma`'s rows padded to 144 bytes against bank conflicts).
    pub(crate) fn plan(self, n: usize, k: usize, k_splits: usize) -> Fp8GemmPlan {
        let mut defines = vec![
            ("N", n as i64),
            ("K", k as i64),
            ("N_BLOCKS", n.div_ceil(GROUP) as i64),
            ("K_BLOCKS", k.div_ceil(GROUP) as i64),
            ("K_SPLITS", k_splits as i64),
        ];
        let (kernels, entry, stages, shared_bytes) = match self {
            Fp8Kernel::Portable => (Kernels::Fp8Gemm, "fp8_gemm", 0, 0),
            Fp8Kernel::Mma => (
                Kernels::Fp8GemmMma,
                "fp8_gemm_mma",
                3,
                3 * 2 * TENSOR_TILE * (TENSOR_TILE + 16),
            ),
            Fp8Kernel::Wgmma => (
                Kernels::Fp8GemmWgmma,
                "fp8_gemm_wgmma",
                4,
                4 * 2 * TENSOR_TILE * TENSOR_TILE,
            ),
        };
        if stages > 0 {
            defines.push(("STAGES", stages as i64));
        }
        Fp8GemmPlan {
            program: Program::new(kernels, &defines),
            entry,
            tile: self.tile(),
            shared_bytes,
            k_splits,
        }
    }

    /// Rows and columns of D each block of this kernel computes.
    fn tile(self) -> usize {
        if self == Fp8Kernel::Portable {
            PORTABLE_TILE
        } else {
            TENSOR_TILE
        }
    }

    /// Runs to cut K's `k_blocks` 128-wide blocks into so that `tiles` blocks of D fill about
    /// `multiprocessors` (one block each, as the tensor-core kernels' shared memory allows):
    /// at most one per two K blocks and 16 in all, and all of one length, so none is empty.
    /// Small-M products (M = 64 against 2112 columns: 17 tiles on 132 multiprocessors) need
    /// this; others run unsplit.
    pub(crate) fn k_splits(tiles: usize, k_blocks: usize, multiprocessors: usize) -> usize {
        let wanted = (multiprocessors / tiles.max(1)).clamp(1, (k_blocks / 2).clamp(1, 16));
        k_blocks.div_ceil(k_blocks.div_ceil(wanted).max(1)).max(1)
    }
}

/// How an FP8 GEMM kernel runs for one shape of B.
pub(crate) struct Fp8GemmPlan {
    pub(crate) program: Program,
    pub(crate) entry: &'static str,
    /// Rows and columns of D per block.
    pub(crate) tile: usize,
    /// Dynamic shared memory per block.
    pub(crate) shared_bytes: usize,
    /// Runs K is cut into; above 1 the blocks write one copy of D per run, which
    /// `fp8_gemm_reduce` adds up.
    pub(crate) k_splits: usize,
}

impl Fp8GemmPlan {
    /// The launch for `groups` groups of `m` rows of A against N = `n`.
    pub(crate) fn grid(&self, m: usize, n: usize, groups: usize) -> (u32, u32, u32) {
        (
            m.div_ceil(self.tile) as u32,
            n.div_ceil(self.tile) as u32,
            (groups * self.k_splits) as u32,
        )
    }
}

/// A compiled FP8 GEMM kernel, the side of the square tile of D each of its blocks computes
/// (the launch grid follows from it) and the dynamic shared memory each block takes.
pub(crate) struct Fp8GemmKernel {
    function: CudaFunction,
    /// `fp8_gemm_reduce`, for a split K.
    reduce: CudaFunction,
    plan: Fp8GemmPlan,
}

/// Which GEMM form `fp8_gemm` runs (its `mode` argument).
#[derive(Clone, Copy)]
enum Form<'a> {
    Dense,
    Contiguous(&'a [i32]),
    Masked(&'a [usize]),
}

/// A quantised matrix on the device: E4M3 codes and one scale per group, laid out as
/// [`Fp8Matrix`]'s.
pub(crate) struct DeviceFp8 {
    bits: CudaSlice<u8>,
    scales: CudaSlice<f32>,
    rows: usize,
    cols: usize,
}

/// Rows per scale group.
fn span(grouping: Grouping) -> usize {
    match grouping {
        Grouping::PerToken => 1,
        Grouping::PerBlock => GROUP,
    }
}

/// One FP8 GEMM launch: A's groups stacked by rows, B's experts likewise, and the form.
pub(crate) struct GemmOperands<'a> {
    pub(crate) a: &'a DeviceFp8,
    pub(crate) b: &'a DeviceFp8,
    /// Rows of B per expert.
    pub(crate) n: usize,
    /// Rows of A per group (all of A for the dense and contiguous forms).
    pub(crate) m: usize,
    pub(crate) groups: usize,
    /// `fp8_gemm`'s `mode`: 0 dense, 1 grouped contiguous, 2 grouped masked.
    pub(crate) mode: i32,
    pub(crate) m_indices: &'a CudaSlice<i32>,
    pub(crate) masked_m: &'a CudaSlice<i32>,
}

impl Gpu {
    /// Poisoned device buffers for a `rows × cols` matrix quantised with `grouping`.
    pub(crate) fn fp8_buffers(
        &self,
        rows: usize,
        cols: usize,
        grouping: Grouping,
    ) -> Result<DeviceFp8, DeviceError> {
        Ok(DeviceFp8 {
            bits: self.poisoned::<u8>(rows * cols)?,
            scales: self.poisoned::<f32>(rows.div_ceil(span(grouping)) * cols.div_ceil(GROUP))?,
            rows,
            cols,
        })
    }

    /// Uploads a matrix quantised on the host.
    pub(crate) fn upload_fp8(&self, matrix: &Fp8Matrix) -> Result<DeviceFp8, DeviceError> {
        let stream = &self.stream;
        Ok(DeviceFp8 {
            bits: stream.clone_htod(&matrix.bits).map_err(driver)?,
            scales: stream.clone_htod(&matrix.scales).map_err(driver)?,
            rows: matrix.rows,
            cols: matrix.cols,
        })
    }

    /// The quantisation kernel for one grouping.
    pub(crate) fn quantize_kernel(
        &self,
        grouping: Grouping,
        ue8m0: bool,
    ) -> Result<CudaFunction, DeviceError> {
        let program = Program::new(
            Kernels::Quantize,
            &[
                ("ROW_SPAN", span(grouping) as i64),
                ("UE8M0", i64::from(ue8m0)),
            ],
        );
        self.kernel(&program, "quantize")
    }

    /// Quantises `x` (on the device, `out`'s shape) into `out` with `kernel`, compiled for
    /// `grouping`.
    pub(crate) fn launch_quantize(
        &self,
        kernel: &CudaFunction,
        x: &CudaSlice<f32>,
        grouping: Grouping,
        out: &mut DeviceFp8,
    ) -> Result<(), DriverError> {
        let row_groups = out.rows.div_ceil(span(grouping));
        let k_blocks = out.cols.div_ceil(GROUP);
        let (rows, cols) = (out.rows as i32, out.cols as i32);
        let config = LaunchConfig {
            grid_dim: (row_groups as u32, k_blocks as u32, 1),
            block_dim: (128, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: the arguments match `quantize`'s parameters; x and the codes hold rows ×
        // cols values and the scales one per group, as the grid covers.
        unsafe {
            self.stream
                .launch_builder(kernel)
                .arg(x)
                .arg(&mut out.bits)
                .arg(&mut out.scales)
                .arg(&rows)
                .arg(&cols)
                .launch(config)
                .map(drop)
        }
    }

    /// The FP8 GEMM kernels this device runs, slowest first (the default among them:
    /// [`Fp8Kernel::default_for`]).
    pub fn fp8_kernels(&self) -> Vec<Fp8Kernel> {
        let mut kernels = vec![Fp8Kernel::Portable];
        if self.compute_capability >= (8, 9) {
            kernels.push(Fp8Kernel::Mma);
        }
        if self.compute_capability == (9, 0) {
            kernels.push(Fp8Kernel::Wgmma);
        }
        kernels
    }

    /// The kernel GEMMs run on unless [`Gpu::use_fp8_kernel`] picks another.
    pub fn default_fp8_kernel(&self) -> Fp8Kernel {
        Fp8Kernel::default_for(self.compute_capability)
    }

    /// Runs the FP8 GEMMs on `kernel` from now on (where shapes allow), instead of the default:
    /// for the GPU check, which compares and times each.
    pub fn use_fp8_kernel(&self, kernel: Fp8Kernel) -> Result<(), DeviceError> {
        if !self.fp8_kernels().contains(&kernel) {
            return Err(DeviceError::Unsupported(format!(
                "the {kernel:?} FP8 GEMM does not run on {}",
                self.describe()
            )));
        }
        *self.fp8_kernel.lock().expect("kernel choice lock") = kernel;
        Ok(())
    }

    /// The FP8 GEMM kernel for `groups` groups of `m` rows of A against B's shape: the
    /// chosen tensor-core one where K keeps rows 16-byte aligned and the caller's rows fit
    /// 128-row tiles (`tensor_tiles_fit`: each grouped-contiguous tile one expert), else the
    /// portable one; K split where the tiles of D are too few to fill the device.
    pub(crate) fn fp8_gemm_kernel(
        &self,
        (m, n, k): (usize, usize, usize),
        groups: usize,
        tensor_tiles_fit: bool,
    ) -> Result<Fp8GemmKernel, DeviceError> {
        let chosen = *self.fp8_kernel.lock().expect("kernel choice lock");
        let kernel = if k.is_multiple_of(16) && tensor_tiles_fit {
            chosen
        } else {
            Fp8Kernel::Portable
        };
        let tile = kernel.tile();
        let tiles = m.div_ceil(tile) * n.div_ceil(tile) * groups;
        // The reduce step indexes D with an i32.
        let k_splits = if groups * m * n <= i32::MAX as usize {
            Fp8Kernel::k_splits(tiles, k.div_ceil(GROUP), self.multiprocessors)
        } else {
            1
        };
        let plan = kernel.plan(n, k, k_splits);
        let function = self.kernel(&plan.program, plan.entry)?;
        let reduce = self.kernel(&plan.program, "fp8_gemm_reduce")?;
        if plan.shared_bytes > 0 {
            // Over 48 KiB of dynamic shared memory needs the kernel's consent.
            function
                .set_attribute(
                    CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    plan.shared_bytes as i32,
                )
                .map_err(driver)?;
        }
        Ok(Fp8GemmKernel {
            function,
            reduce,
            plan,
        })
    }

    /// Runs `kernel` (compiled for B's N and K) over `operands` into `d` (groups × m × N):
    /// straight into `d`, or with K split into one copy of D per run, added up into `d`.
    pub(crate) fn launch_fp8_gemm(
        &self,
        kernel: &Fp8GemmKernel,
        operands: &GemmOperands<'_>,
        d: &mut CudaSlice<f32>,
    ) -> Result<(), DriverError> {
        let splits = kernel.plan.k_splits;
        if splits == 1 {
            return self.launch_fp8_gemm_into(kernel, operands, d);
        }
        let count = operands.groups * operands.m * operands.n;
        // SAFETY: the split blocks write every value of every copy (zeros where no row lives)
        // before the reduce step reads them.
        let mut parts = unsafe { self.stream.alloc::<f32>(splits * count) }?;
        self.launch_fp8_gemm_into(kernel, operands, &mut parts)?;
        let count = count as i32;
        // SAFETY: the arguments match `fp8_gemm_reduce`'s parameters: `parts` holds K_SPLITS
        // copies of `count` values, `d` one.
        unsafe {
            self.stream
                .launch_builder(&kernel.reduce)
                .arg(&parts)
                .arg(d)
                .arg(&count)
                .launch(LaunchConfig {
                    grid_dim: ((count as u32).div_ceil(256).clamp(1, 65535), 1, 1),
                    block_dim: (256, 1, 1),
                    shared_mem_bytes: 0,
                })
                .map(drop)
        }
    }

    /// Runs the GEMM kernel itself, writing D (or with K split, its copies) into `d`.
    fn launch_fp8_gemm_into(
        &self,
        kernel: &Fp8GemmKernel,
        operands: &GemmOperands<'_>,
        d: &mut CudaSlice<f32>,
    ) -> Result<(), DriverError> {
        let m = operands.m as i32;
        let config = LaunchConfig {
            grid_dim: kernel.plan.grid(operands.m, operands.n, operands.groups),
            block_dim: (256, 1, 1),
            shared_mem_bytes: kernel.plan.shared_bytes as u32,
        };
        // SAFETY: the arguments match the GEMM kernels' parameters; A holds `groups × m` rows
        // and B its experts of N × K, as the grid and mode address them (expert ids checked by
        // the callers), and `d` a copy of D per split of K.
        unsafe {
            self.stream
                .launch_builder(&kernel.function)
                .arg(&operands.a.bits)
                .arg(&operands.a.scales)
                .arg(&operands.b.bits)
                .arg(&operands.b.scales)
                .arg(d)
                .arg(&m)
                .arg(&operands.mode)
                .arg(operands.m_indices)
                .arg(operands.masked_m)
                .launch(config)
                .map(drop)
        }
    }

    pub(crate) fn quantize(
        &self,
        values: &[f32],
        rows: usize,
        cols: usize,
        grouping: Grouping,
        ue8m0: bool,
    ) -> Result<Fp8Matrix, DeviceError> {
        if rows == 0 || cols == 0 {
            return Ok(fp8::quantize(values, rows, cols, grouping, ue8m0));
        }
        check_fill(values, rows, cols);
        let kernel = self.quantize_kernel(grouping, ue8m0)?;
        let stream = &self.stream;
        let x = stream.clone_htod(values).map_err(driver)?;
        let mut out = self.fp8_buffers(rows, cols, grouping)?;
        self.timed(|| self.launch_quantize(&kernel, &x, grouping, &mut out))?;
        Ok(Fp8Matrix {
            rows,
            cols,
            bits: stream.clone_dtoh(&out.bits).map_err(driver)?,
            scales: stream.clone_dtoh(&out.scales).map_err(driver)?,
        })
    }

    pub(crate) fn gemm_fp8_nt(
        &self,
        a: &Fp8Matrix,
        b: &Fp8Matrix,
    ) -> Result<Vec<f32>, DeviceError> {
        self.gemm(
            std::slice::from_ref(a),
            std::slice::from_ref(b),
            Form::Dense,
            true,
        )
    }

    pub(crate) fn gemm_fp8_grouped_contiguous(
        &self,
        a: &Fp8Matrix,
        b: &[Fp8Matrix],
        m_indices: &[i32],
    ) -> Result<Vec<f32>, DeviceError> {
        check_m_indices(a, m_indices);
        let tensor_tiles_fit = one_expert_per_tile(m_indices, TENSOR_TILE, b.len()).is_ok();
        if !tensor_tiles_fit {
            one_expert_per_tile(m_indices, PORTABLE_TILE, b.len())?;
        }
        self.gemm(
            std::slice::from_ref(a),
            b,
            Form::Contiguous(m_indices),
            tensor_tiles_fit,
        )
    }

    pub(crate) fn gemm_fp8_grouped_masked(
        &self,
        a: &[Fp8Matrix],
        b: &[Fp8Matrix],
        masked_m: &[usize],
    ) -> Result<Vec<Vec<f32>>, DeviceError> {
        check_groups(a, b, masked_m);
        let m_max = a.first().map_or(0, |g| g.rows);
        assert!(
            a.iter().all(|g| g.rows == m_max),
            "masked groups share m_max"
        );
        let n = b.first().map_or(0, |g| g.rows);
        if m_max * n == 0 {
            return Ok(vec![Vec::new(); a.len()]);
        }
        let d = self.gemm(a, b, Form::Masked(masked_m), true)?;
        Ok(d.chunks(m_max * n).map(<[f32]>::to_vec).collect())
    }

    /// Runs the FP8 GEMM over A's groups stacked by rows and B's experts stacked likewise;
    /// `tensor_tiles_fit` as [`Gpu::fp8_gemm_kernel`]'s.
    fn gemm(
        &self,
        a: &[Fp8Matrix],
        b: &[Fp8Matrix],
        form: Form<'_>,
        tensor_tiles_fit: bool,
    ) -> Result<Vec<f32>, DeviceError> {
        let (Some(first_a), Some(first_b)) = (a.first(), b.first()) else {
            return Ok(Vec::new());
        };
        let (m, n, k) = (first_a.rows, first_b.rows, first_b.cols);
        assert!(
            a.iter().chain(b).all(|x| x.cols == k) && b.iter().all(|x| x.rows == n),
            "gemm_fp8_nt: every A and B must have K={k}, every B N={n}"
        );
        let total_rows: usize = a.iter().map(|g| g.rows).sum();
        if total_rows == 0 || n == 0 || k == 0 {
            return Ok(vec![0.0; total_rows * n]);
        }
        let groups = if let Form::Masked(_) = form {
            a.len()
        } else {
            1
        };
        let kernel = self.fp8_gemm_kernel((m, n, k), groups, tensor_tiles_fit)?;
        let stream = &self.stream;
        let stack = |m: &[Fp8Matrix]| -> Result<DeviceFp8, DeviceError> {
            self.upload_fp8(&Fp8Matrix {
                rows: m.iter().map(|x| x.rows).sum(),
                cols: k,
                bits: m.iter().flat_map(|x| x.bits.iter().copied()).collect(),
                scales: m.iter().flat_map(|x| x.scales.iter().copied()).collect(),
            })
        };
        let (a_stacked, b_stacked) = (stack(a)?, stack(b)?);
        let mut d = self.poisoned::<f32>(total_rows * n)?;
        let (mode, groups, indices, masks): (i32, usize, Vec<i32>, Vec<i32>) = match form {
            Form::Dense => (0, 1, vec![0], vec![0]),
            Form::Contiguous(m_indices) => (1, 1, m_indices.to_vec(), vec![0]),
            Form::Masked(masked_m) => (
                2,
                a.len(),
                vec![0],
                masked_m.iter().map(|&v| v.min(m) as i32).collect(),
            ),
        };
        let m_indices = stream.clone_htod(&indices).map_err(driver)?;
        let masked_m = stream.clone_htod(&masks).map_err(driver)?;
        let operands = GemmOperands {
            a: &a_stacked,
            b: &b_stacked,
            n,
            m,
            groups,
            mode,
            m_indices: &m_indices,
            masked_m: &masked_m,
        };
        self.timed(|| self.launch_fp8_gemm(&kernel, &operands, &mut d))?;
        stream.clone_dtoh(&d).map_err(driver)
    }
}

/// Checks that every `tile` rows of a grouped-contiguous A belong to one expert (or are
/// padding), as the CUDA kernels need: a block's rows share one B.
fn one_expert_per_tile(m_indices: &[i32], tile: usize, experts: usize) -> Result<(), DeviceError> {
    for (index, rows) in m_indices.chunks(tile).enumerate() {
        let mut tagged = rows.iter().filter(|&&e| e >= 0);
        if let Some(first) = tagged.next() {
            if let Some(other) = tagged.find(|&e| e != first) {
                return Err(DeviceError::Unsupported(format!(
                    "m_indices: rows {}..{} mix experts {first} and {other}; the CUDA grouped \
                     GEMM needs each expert's rows aligned to {tile} (DeepGEMM pads to 128)",
                    index * tile,
                    index * tile + rows.len()
                )));
            }
            if *first as usize >= experts {
                return Err(DeviceError::Unsupported(format!(
                    "m_indices: expert {first} of {experts} experts"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_of_one_expert_pass_and_mixed_tiles_name_their_rows() {
        // Experts 0 and 1 in segments of 128 rows, each padded with -1 after 100 real rows.
        let aligned: Vec<i32> = (0..2)
            .flat_map(|e| std::iter::repeat_n(e, 100).chain(std::iter::repeat_n(-1, 28)))
            .collect();
        assert!(one_expert_per_tile(&aligned, 128, 2).is_ok());
        assert!(one_expert_per_tile(&aligned, 64, 2).is_ok());

        // Segments of 192 rows fit 64-row tiles but not 128-row ones.
        let by_64: Vec<i32> = (0..2).flat_map(|e| std::iter::repeat_n(e, 192)).collect();
        assert!(one_expert_per_tile(&by_64, 64, 2).is_ok());
        let error = one_expert_per_tile(&by_64, 128, 2).unwrap_err().to_string();
        assert!(
            error.contains("rows 128..256 mix experts 0 and 1"),
            "{error}"
        );

        let error = one_expert_per_tile(&aligned, 128, 1)
            .unwrap_err()
            .to_string();
        assert!(error.contains("expert 1 of 1 experts"), "{error}");
    }

    #[test]
    fn tensor_cores_are_the_default_from_sm_89() {
        assert_eq!(Fp8Kernel::default_for((8, 0)), Fp8Kernel::Portable);
        assert_eq!(Fp8Kernel::default_for((8, 6)), Fp8Kernel::Portable);
        assert_eq!(Fp8Kernel::default_for((8, 9)), Fp8Kernel::Mma);
        assert_eq!(Fp8Kernel::default_for((9, 0)), Fp8Kernel::Mma);
        assert_eq!(Fp8Kernel::default_for((10, 0)), Fp8Kernel::Mma);
    }

    /// Each kernel gives the CPU's result under the emulator, over
    /// partial row, column and K tiles, dense and masked (one group with fewer valid rows,
    /// one with none).
    #[test]
    fn the_gemm_kernels_match_the_cpu_under_the_emulator() {
        use crate::cuda::emulator::support::{Rng, difference};
        use crate::cuda::emulator::{Arg, CopyTiming, Emulated, Launch};
        use crate::fp8::fast;

        let (m, n, k) = (130, 200, 272);
        let mut rng = Rng(7);
        let quantize = |rows, grouping, rng: &mut Rng| {
            fp8::quantize(&rng.matrix(rows, k), rows, k, grouping, false)
        };
        let groups = [
            quantize(m, Grouping::PerToken, &mut rng),
            quantize(m, Grouping::PerToken, &mut rng),
        ];
        let experts = [
            quantize(n, Grouping::PerBlock, &mut rng),
            quantize(n, Grouping::PerBlock, &mut rng),
        ];
        let masked_m = [97usize, 0];
        let mut expected = fast::gemm_fp8_nt(&groups[0], &experts[0]);
        for group in fast::gemm_fp8_grouped_masked(&groups, &experts, &masked_m) {
            expected.extend(group);
        }
        let stack = |matrices: &[Fp8Matrix]| -> (Vec<u8>, Vec<f32>) {
            (
                matrices.iter().flat_map(|x| x.bits.clone()).collect(),
                matrices.iter().flat_map(|x| x.scales.clone()).collect(),
            )
        };
        let (a_bits, a_scales) = stack(&groups);
        let (b_bits, b_scales) = stack(&experts);
        let masks: Vec<i32> = masked_m.iter().map(|&v| v as i32).collect();
        for kernel in [Fp8Kernel::Portable, Fp8Kernel::Mma, Fp8Kernel::Wgmma] {
            // Unsplit, and K's three blocks cut into runs of two and one.
            for k_splits in [1, 2] {
                let plan = kernel.plan(n, k, k_splits);
                let emulated = Emulated::compile(&plan.program);
                for timing in CopyTiming::BOTH {
                    let mut d = vec![f32::NAN; 3 * m * n];
                    let (dense, masked) = d.split_at_mut(m * n);
                    for (mode, groups, out) in [(0, 1, dense), (2, 2, masked)] {
                        let mut parts = vec![f32::NAN; k_splits * out.len()];
                        let launch = Launch {
                            grid: plan.grid(m, n, groups),
                            threads: 256,
                            shared_bytes: plan.shared_bytes,
                        };
                        let target = if k_splits == 1 {
                            &mut *out
                        } else {
                            &mut parts[..]
                        };
                        let args = [
                            Arg::from(&a_bits[..]),
                            Arg::from(&a_scales[..]),
                            Arg::from(&b_bits[..]),
                            Arg::from(&b_scales[..]),
                            Arg::from(target),
                            Arg::I32(m as i32),
                            Arg::I32(mode),
                            Arg::from(&[0i32][..]),
                            Arg::from(&masks[..]),
                        ];
                        // SAFETY: the arguments are `fp8_gemm`'s, A holds two groups of m rows,
                        // B two experts of n rows, the target a copy of D per split.
                        unsafe { emulated.launch(plan.entry, launch, timing, &args) };
                        if k_splits > 1 {
                            let reduce = Launch {
                                grid: (out.len().div_ceil(256) as u32, 1, 1),
                                threads: 256,
                                shared_bytes: 0,
                            };
                            let args = [
                                Arg::from(&parts[..]),
                                Arg::from(&mut *out),
                                Arg::I32(out.len() as i32),
                            ];
                            // SAFETY: `fp8_gemm_reduce`'s arguments, sized as it reads them.
                            unsafe { emulated.launch("fp8_gemm_reduce", reduce, timing, &args) };
                        }
                    }
                    let diff = difference(&d, &expected);
                    assert!(
                        d.iter().all(|v| v.is_finite()) && diff < 1e-9,
                        "{kernel:?}, K in {k_splits} runs, copies landing {timing:?}: \
                         difference {diff}"
                    );
                }
            }
        }
    }

    #[test]
    fn k_is_split_only_where_the_tiles_leave_the_device_idle() {
        // M = 64 against N = 2112 (17 tiles of 128) and K = 7168 (56 blocks), 132 SMs: 7 runs
        // of 8 blocks.
        assert_eq!(Fp8Kernel::k_splits(17, 56, 132), 7);
        // Enough tiles already, or too little K to cut.
        assert_eq!(Fp8Kernel::k_splits(132, 56, 132), 1);
        assert_eq!(Fp8Kernel::k_splits(1, 1, 132), 1);
        // Never more than 16 runs, nor runs of fewer than two blocks, nor an empty one: 5 blocks
        // wanting 2 runs get runs of 3 and 2.
        assert_eq!(Fp8Kernel::k_splits(1, 1000, 132), 16);
        assert_eq!(Fp8Kernel::k_splits(1, 5, 132), 2);
        assert_eq!(Fp8Kernel::k_splits(2, 56, 132), 14);
    }
}
