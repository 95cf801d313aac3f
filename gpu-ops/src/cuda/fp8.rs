//! Host side of the FP8 kernels: quantisation and the three GEMM forms.

use cudarc::driver::{CudaFunction, CudaSlice, DriverError, LaunchConfig, PushKernelArg};

use super::program::{Kernels, Program};
use super::{Gpu, driver};
use crate::device::DeviceError;
use crate::fp8::{self, Fp8Matrix, GROUP, Grouping, check_fill, check_groups, check_m_indices};

/// Rows (and columns) of D per GEMM block, as `fp8_gemm.cu`'s BM and BN.
const TILE: usize = 64;

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

    /// The FP8 GEMM kernel for B's shape.
    pub(crate) fn fp8_gemm_kernel(&self, n: usize, k: usize) -> Result<CudaFunction, DeviceError> {
        let program = Program::new(
            Kernels::Fp8Gemm,
            &[
                ("N", n as i64),
                ("K", k as i64),
                ("N_BLOCKS", n.div_ceil(GROUP) as i64),
                ("K_BLOCKS", k.div_ceil(GROUP) as i64),
            ],
        );
        self.kernel(&program, "fp8_gemm")
    }

    /// Runs `kernel` (compiled for B's N and K) over `operands` into `d` (groups × m × N).
    pub(crate) fn launch_fp8_gemm(
        &self,
        kernel: &CudaFunction,
        operands: &GemmOperands<'_>,
        d: &mut CudaSlice<f32>,
    ) -> Result<(), DriverError> {
        let m = operands.m as i32;
        let config = LaunchConfig {
            grid_dim: (
                operands.m.div_ceil(TILE) as u32,
                operands.n.div_ceil(TILE) as u32,
                operands.groups as u32,
            ),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: the arguments match `fp8_gemm`'s parameters; A holds `groups × m` rows and B
        // its experts of N × K, as the grid and mode address them (expert ids checked by the
        // callers).
        unsafe {
            self.stream
                .launch_builder(kernel)
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
        )
    }

    pub(crate) fn gemm_fp8_grouped_contiguous(
        &self,
        a: &Fp8Matrix,
        b: &[Fp8Matrix],
        m_indices: &[i32],
    ) -> Result<Vec<f32>, DeviceError> {
        check_m_indices(a, m_indices);
        for (tile, rows) in m_indices.chunks(TILE).enumerate() {
            let mut experts = rows.iter().filter(|&&e| e >= 0);
            if let Some(first) = experts.next() {
                if let Some(other) = experts.find(|&e| e != first) {
                    return Err(DeviceError::Unsupported(format!(
                        "m_indices: rows {}..{} mix experts {first} and {other}; the CUDA grouped \
                         GEMM needs each expert's rows aligned to {TILE} (DeepGEMM pads to 128)",
                        tile * TILE,
                        tile * TILE + rows.len()
                    )));
                }
                if *first as usize >= b.len() {
                    return Err(DeviceError::Unsupported(format!(
                        "m_indices: expert {first} of {} experts",
                        b.len()
                    )));
                }
            }
        }
        self.gemm(std::slice::from_ref(a), b, Form::Contiguous(m_indices))
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
        let d = self.gemm(a, b, Form::Masked(masked_m))?;
        Ok(d.chunks(m_max * n).map(<[f32]>::to_vec).collect())
    }

    /// Runs `fp8_gemm` over A's groups stacked by rows and B's experts stacked likewise.
    fn gemm(
        &self,
        a: &[Fp8Matrix],
        b: &[Fp8Matrix],
        form: Form<'_>,
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
        let kernel = self.fp8_gemm_kernel(n, k)?;
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
