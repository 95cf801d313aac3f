//! MiniLM's encoder on the GPU with its weights kept on the device: [`DeviceEncoder`] uploads
//! them once (f32, and the E4M3 blocks the CPU quantised) and then runs every batch there, so
//! a batch costs one copy of its token ids in and one of its embeddings out. The steps are the
//! CPU encoder's (`minilm/encoder.rs`): linear layers through `f32_gemm` or per-token
//! quantisation and `fp8_gemm`, attention through the split-KV kernels with the key-padding
//! mask, and `minilm.cu` for the embeddings, bias and GELU, residual LayerNorms and pooling.

use std::sync::Arc;

use cudarc::driver::{CudaFunction, CudaSlice, DriverError, LaunchConfig, PushKernelArg};

use super::attention::Inputs;
use super::fp8::{DeviceFp8, GemmOperands};
use super::program::{Kernels, Program};
use super::{Gpu, driver};
use crate::attention::AttentionShape;
use crate::device::DeviceError;
use crate::fp8::Grouping;
use crate::minilm::Precision;
use crate::minilm::encoder::{Encoder, HEAD_DIM, HEADS, HIDDEN, Layer, Linear, Norm};

/// Threads per block of `minilm.cu`'s per-row kernels (its ROW_THREADS) and of its
/// element-wise one.
const ROW_THREADS: u32 = 128;
const ELEMENT_THREADS: u32 = 256;

/// A linear layer's weights on the device.
struct DeviceLinear {
    weight: CudaSlice<f32>,
    weight_fp8: DeviceFp8,
    bias: CudaSlice<f32>,
    outputs: usize,
    inputs: usize,
}

struct DeviceNorm {
    gamma: CudaSlice<f32>,
    beta: CudaSlice<f32>,
}

struct DeviceLayer {
    query: DeviceLinear,
    key: DeviceLinear,
    value: DeviceLinear,
    attention_output: DeviceLinear,
    attention_norm: DeviceNorm,
    intermediate: DeviceLinear,
    output: DeviceLinear,
    output_norm: DeviceNorm,
}

/// The encoder's weights on one GPU.
pub(crate) struct DeviceEncoder {
    gpu: Arc<Gpu>,
    words: CudaSlice<f32>,
    positions: CudaSlice<f32>,
    token_type: CudaSlice<f32>,
    embedding_norm: DeviceNorm,
    layers: Vec<DeviceLayer>,
    /// Stands for the arguments a dense launch does not read (the FP8 GEMM's expert indices,
    /// attention's block table).
    unused: CudaSlice<i32>,
}

/// The kernels one batch launches.
struct Steps {
    embed_tokens: CudaFunction,
    bias_activation: CudaFunction,
    add_norm: CudaFunction,
    mean_pool: CudaFunction,
}

impl DeviceEncoder {
    /// Copies `encoder`'s weights to `gpu`.
    pub(crate) fn upload(gpu: Arc<Gpu>, encoder: &Encoder) -> Result<Self, DeviceError> {
        let copy = |values: &[f32]| gpu.stream.clone_htod(values).map_err(driver);
        let linear = |linear: &Linear| -> Result<DeviceLinear, DeviceError> {
            Ok(DeviceLinear {
                weight: copy(&linear.weight)?,
                weight_fp8: gpu.upload_fp8(linear.weight_fp8())?,
                bias: copy(&linear.bias)?,
                outputs: linear.outputs,
                inputs: linear.inputs,
            })
        };
        let norm = |norm: &Norm| -> Result<DeviceNorm, DeviceError> {
            Ok(DeviceNorm {
                gamma: copy(&norm.gamma)?,
                beta: copy(&norm.beta)?,
            })
        };
        let layer = |layer: &Layer| -> Result<DeviceLayer, DeviceError> {
            Ok(DeviceLayer {
                query: linear(&layer.query)?,
                key: linear(&layer.key)?,
                value: linear(&layer.value)?,
                attention_output: linear(&layer.attention_output)?,
                attention_norm: norm(&layer.attention_norm)?,
                intermediate: linear(&layer.intermediate)?,
                output: linear(&layer.output)?,
                output_norm: norm(&layer.output_norm)?,
            })
        };
        Ok(DeviceEncoder {
            words: copy(&encoder.words)?,
            positions: copy(&encoder.positions)?,
            token_type: copy(&encoder.token_type)?,
            embedding_norm: norm(&encoder.embedding_norm)?,
            layers: encoder.layers.iter().map(layer).collect::<Result<_, _>>()?,
            unused: gpu.stream.alloc_zeros::<i32>(1).map_err(driver)?,
            gpu,
        })
    }

    /// Sentence embeddings (`[batch, HIDDEN]`, L2-normalised) of `ids` padded to `len` per
    /// text, as [`Encoder::embed`] computes them.
    pub(crate) fn embed(
        &self,
        ids: &[u32],
        mask: &[bool],
        len: usize,
        precision: Precision,
    ) -> Result<Vec<f32>, DeviceError> {
        let gpu = &self.gpu;
        let stream = &gpu.stream;
        let rows = ids.len();
        let batch = rows / len.max(1);
        if batch == 0 {
            return Ok(Vec::new());
        }
        let program = Program::new(Kernels::MiniLm, &[("HIDDEN", HIDDEN as i64)]);
        let steps = Steps {
            embed_tokens: gpu.kernel(&program, "embed_tokens")?,
            bias_activation: gpu.kernel(&program, "bias_activation")?,
            add_norm: gpu.kernel(&program, "add_norm")?,
            mean_pool: gpu.kernel(&program, "mean_pool")?,
        };
        let ids = stream.clone_htod(ids).map_err(driver)?;
        let mask: Vec<u8> = mask.iter().map(|&m| u8::from(m)).collect();
        let mask = stream.clone_htod(&mask).map_err(driver)?;
        let len_arg = len as i32;
        let mut x = gpu.poisoned::<f32>(rows * HIDDEN)?;
        // SAFETY: the arguments match `embed_tokens`'s parameters; the tokenizer's ids index
        // the word table, positions stay below `len` ≤ 512, x holds a row per token.
        unsafe {
            stream
                .launch_builder(&steps.embed_tokens)
                .arg(&ids)
                .arg(&self.words)
                .arg(&self.positions)
                .arg(&self.token_type)
                .arg(&self.embedding_norm.gamma)
                .arg(&self.embedding_norm.beta)
                .arg(&len_arg)
                .arg(&mut x)
                .launch(rows_config(rows))
        }
        .map_err(driver)?;
        let shape = AttentionShape {
            batch,
            s_q: len,
            s_k: len,
            heads: HEADS,
            d: HEAD_DIM,
            dv: HEAD_DIM,
        };
        for layer in &self.layers {
            x = self.layer(layer, &x, &mask, shape, precision, &steps)?;
        }
        let mut out = gpu.poisoned::<f32>(batch * HIDDEN)?;
        // SAFETY: the arguments match `mean_pool`'s parameters; x holds `len` rows per text,
        // the mask a byte per token, out a row per text.
        unsafe {
            stream
                .launch_builder(&steps.mean_pool)
                .arg(&x)
                .arg(&mask)
                .arg(&len_arg)
                .arg(&mut out)
                .launch(rows_config(batch))
        }
        .map_err(driver)?;
        stream.clone_dtoh(&out).map_err(driver)
    }

    /// One encoder layer: the hidden states after it.
    fn layer(
        &self,
        layer: &DeviceLayer,
        x: &CudaSlice<f32>,
        mask: &CudaSlice<u8>,
        shape: AttentionShape,
        precision: Precision,
        steps: &Steps,
    ) -> Result<CudaSlice<f32>, DeviceError> {
        let gpu = &self.gpu;
        let rows = shape.batch * shape.s_q;
        let q = self.linear(&layer.query, x, rows, precision, false, steps)?;
        let k = self.linear(&layer.key, x, rows, precision, false, steps)?;
        let v = self.linear(&layer.value, x, rows, precision, false, steps)?;
        let mut context = gpu.poisoned::<f32>(rows * HIDDEN)?;
        let mut lse = gpu.poisoned::<f32>(rows * HEADS)?;
        let mut split = gpu
            .plan_dense_attention(shape)?
            .expect("a batch has rows and value dims");
        let inputs = Inputs {
            q: &q,
            keys: &k,
            values: &v,
            separate_values: true,
            block_table: &self.unused,
            seqlens: &self.unused,
            key_mask: mask,
        };
        let scale = 1.0 / (HEAD_DIM as f32).sqrt();
        gpu.launch_split(&mut split, &inputs, scale, &mut context, &mut lse)
            .map_err(driver)?;
        let mut attended = self.linear(
            &layer.attention_output,
            &context,
            rows,
            precision,
            false,
            steps,
        )?;
        self.add_norm(&mut attended, x, &layer.attention_norm, rows, steps)
            .map_err(driver)?;
        let hidden = self.linear(&layer.intermediate, &attended, rows, precision, true, steps)?;
        let mut out = self.linear(&layer.output, &hidden, rows, precision, false, steps)?;
        self.add_norm(&mut out, &attended, &layer.output_norm, rows, steps)
            .map_err(driver)?;
        Ok(out)
    }

    /// `y = x·Wᵀ + b` for `rows` rows of x, then GELU when `gelu` is set.
    fn linear(
        &self,
        linear: &DeviceLinear,
        x: &CudaSlice<f32>,
        rows: usize,
        precision: Precision,
        gelu: bool,
        steps: &Steps,
    ) -> Result<CudaSlice<f32>, DeviceError> {
        let gpu = &self.gpu;
        let (n, k) = (linear.outputs, linear.inputs);
        let mut y = gpu.poisoned::<f32>(rows * n)?;
        match precision {
            Precision::F32 => {
                let program = Program::new(Kernels::F32Gemm, &[("N", n as i64), ("K", k as i64)]);
                let kernel = gpu.kernel(&program, "f32_gemm")?;
                let m = rows as i32;
                let config = LaunchConfig {
                    grid_dim: (rows.div_ceil(64) as u32, n.div_ceil(64) as u32, 1),
                    block_dim: (256, 1, 1),
                    shared_mem_bytes: 0,
                };
                // SAFETY: the arguments match `f32_gemm`'s parameters; x holds rows × K
                // values, the weight N × K, y rows × N, as the grid of 64×64 tiles covers.
                unsafe {
                    gpu.stream
                        .launch_builder(&kernel)
                        .arg(x)
                        .arg(&linear.weight)
                        .arg(&mut y)
                        .arg(&m)
                        .launch(config)
                }
                .map_err(driver)?;
            }
            Precision::Fp8 => {
                let quantize = gpu.quantize_kernel(Grouping::PerToken, false)?;
                let gemm = gpu.fp8_gemm_kernel((rows, n, k), 1, true)?;
                let mut xq = gpu.fp8_buffers(rows, k, Grouping::PerToken)?;
                gpu.launch_quantize(&quantize, x, Grouping::PerToken, &mut xq)
                    .map_err(driver)?;
                let operands = GemmOperands {
                    a: &xq,
                    b: &linear.weight_fp8,
                    n,
                    m: rows,
                    groups: 1,
                    mode: 0,
                    m_indices: &self.unused,
                    masked_m: &self.unused,
                };
                gpu.launch_fp8_gemm(&gemm, &operands, &mut y)
                    .map_err(driver)?;
            }
        }
        let total = rows * n;
        let (cols, gelu) = (n as i32, i32::from(gelu));
        let config = LaunchConfig {
            grid_dim: (total.div_ceil(ELEMENT_THREADS as usize) as u32, 1, 1),
            block_dim: (ELEMENT_THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: the arguments match `bias_activation`'s parameters; y holds `total` values
        // in rows of `cols`, the bias one per column.
        unsafe {
            gpu.stream
                .launch_builder(&steps.bias_activation)
                .arg(&mut y)
                .arg(&linear.bias)
                .arg(&cols)
                .arg(&total)
                .arg(&gelu)
                .launch(config)
        }
        .map_err(driver)?;
        Ok(y)
    }

    /// `x = LayerNorm(x + residual)` over `rows` rows.
    fn add_norm(
        &self,
        x: &mut CudaSlice<f32>,
        residual: &CudaSlice<f32>,
        norm: &DeviceNorm,
        rows: usize,
        steps: &Steps,
    ) -> Result<(), DriverError> {
        // SAFETY: the arguments match `add_norm`'s parameters; x and the residual hold `rows`
        // rows of HIDDEN, the norm's vectors HIDDEN values.
        unsafe {
            self.gpu
                .stream
                .launch_builder(&steps.add_norm)
                .arg(x)
                .arg(residual)
                .arg(&norm.gamma)
                .arg(&norm.beta)
                .launch(rows_config(rows))
                .map(drop)
        }
    }
}

/// One block of [`ROW_THREADS`] per row.
fn rows_config(rows: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (rows as u32, 1, 1),
        block_dim: (ROW_THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}
