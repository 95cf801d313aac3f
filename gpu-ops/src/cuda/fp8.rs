//! Host side of the FP8 kernels: quantisation and the three GEMM forms.

use cudarc::driver::{LaunchConfig, PushKernelArg};

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

impl Gpu {
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
        let span = match grouping {
            Grouping::PerToken => 1,
            Grouping::PerBlock => GROUP,
        };
        let (row_groups, k_blocks) = (rows.div_ceil(span), cols.div_ceil(GROUP));
        let program = Program::new(
            Kernels::Quantize,
            &[("ROW_SPAN", span as i64), ("UE8M0", i64::from(ue8m0))],
        );
        let kernel = self.kernel(&program, "quantize")?;
        let stream = &self.stream;
        let x = stream.clone_htod(values).map_err(driver)?;
        let mut bits = self.poisoned::<u8>(rows * cols)?;
        let mut scales = self.poisoned::<f32>(row_groups * k_blocks)?;
        let (rows_arg, cols_arg) = (rows as i32, cols as i32);
        let config = LaunchConfig {
            grid_dim: (row_groups as u32, k_blocks as u32, 1),
            block_dim: (128, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: the arguments match `quantize`'s parameters; the buffers hold rows × cols
        // values and bytes and one scale per group, as the grid covers.
        self.timed(|| unsafe {
            stream
                .launch_builder(&kernel)
                .arg(&x)
                .arg(&mut bits)
                .arg(&mut scales)
                .arg(&rows_arg)
                .arg(&cols_arg)
                .launch(config)
                .map(drop)
        })?;
        Ok(Fp8Matrix {
            rows,
            cols,
            bits: stream.clone_dtoh(&bits).map_err(driver)?,
            scales: stream.clone_dtoh(&scales).map_err(driver)?,
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
        let (n_blocks, k_blocks) = (n.div_ceil(GROUP), k.div_ceil(GROUP));
        let program = Program::new(
            Kernels::Fp8Gemm,
            &[
                ("N", n as i64),
                ("K", k as i64),
                ("N_BLOCKS", n_blocks as i64),
                ("K_BLOCKS", k_blocks as i64),
            ],
        );
        let kernel = self.kernel(&program, "fp8_gemm")?;
        let stream = &self.stream;
        let upload_bits = |m: &[Fp8Matrix]| {
            stream.clone_htod(
                &m.iter()
                    .flat_map(|x| x.bits.iter().copied())
                    .collect::<Vec<u8>>(),
            )
        };
        let upload_scales = |m: &[Fp8Matrix]| {
            stream.clone_htod(
                &m.iter()
                    .flat_map(|x| x.scales.iter().copied())
                    .collect::<Vec<f32>>(),
            )
        };
        let (a_bits, a_scales) = (
            upload_bits(a).map_err(driver)?,
            upload_scales(a).map_err(driver)?,
        );
        let (b_bits, b_scales) = (
            upload_bits(b).map_err(driver)?,
            upload_scales(b).map_err(driver)?,
        );
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
        let indices = stream.clone_htod(&indices).map_err(driver)?;
        let masks = stream.clone_htod(&masks).map_err(driver)?;
        let m_arg = m as i32;
        let config = LaunchConfig {
            grid_dim: (
                m.div_ceil(TILE) as u32,
                n.div_ceil(TILE) as u32,
                groups as u32,
            ),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: the arguments match `fp8_gemm`'s parameters; A holds `groups × m` rows and B
        // its experts of N × K, as the grid and mode address them (expert ids checked above).
        self.timed(|| unsafe {
            stream
                .launch_builder(&kernel)
                .arg(&a_bits)
                .arg(&a_scales)
                .arg(&b_bits)
                .arg(&b_scales)
                .arg(&mut d)
                .arg(&m_arg)
                .arg(&mode)
                .arg(&indices)
                .arg(&masks)
                .launch(config)
                .map(drop)
        })?;
        stream.clone_dtoh(&d).map_err(driver)
    }
}
