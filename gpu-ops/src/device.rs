//! Where the operators run. [`Device::from_env`] picks CUDA when this build has it and a GPU
//! is found, else the CPU; `TARN_DEVICE=cpu|cuda` forces one (forcing CUDA where there is
//! none is an error, not a silent fallback). The CPU path is each operator's fastest CPU
//! implementation (checked against its reference where the two differ); the CUDA path is checked
//! against the CPU.

use crate::attention::{self, AttentionOutput, AttentionShape};
use crate::fp8::{self, Fp8Matrix, Grouping};
use crate::mla::{self, KvCache, MlaShape};
use crate::moe_gate::{self, GateConfig, GateError, Routing};

#[cfg(feature = "cuda")]
use crate::cuda::Gpu;

/// Why a device could not be used or an operator could not run on it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeviceError {
    #[error("TARN_DEVICE='{0}': expected 'cpu' or 'cuda'")]
    Unknown(String),
    #[error("TARN_DEVICE=cuda: this build has no CUDA support (build it with --features cuda)")]
    NotBuilt,
    #[error("no CUDA device: {0}")]
    NoDevice(String),
    #[error("CUDA driver: {0}")]
    Driver(String),
    #[error("NVRTC could not compile kernel '{kernel}': {log}")]
    Compile { kernel: String, log: String },
    #[error(transparent)]
    Gate(#[from] GateError),
    #[error("{0}")]
    Unsupported(String),
}

/// The processor the operators run on.
#[derive(Debug, Clone)]
pub enum Device {
    Cpu,
    #[cfg(feature = "cuda")]
    Cuda(std::sync::Arc<Gpu>),
}

impl Device {
    /// The device `TARN_DEVICE` names, or the best one present when it is unset.
    pub fn from_env() -> Result<Device, DeviceError> {
        Device::select(std::env::var("TARN_DEVICE").ok().as_deref())
    }

    /// `Some("cpu")`, `Some("cuda")`, or `None` for the best one present.
    pub fn select(choice: Option<&str>) -> Result<Device, DeviceError> {
        match choice.map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) if c.eq_ignore_ascii_case("cpu") => Ok(Device::Cpu),
            Some(c) if c.eq_ignore_ascii_case("cuda") => Device::cuda(),
            Some(other) => Err(DeviceError::Unknown(other.to_string())),
            None => Ok(Device::cuda().unwrap_or(Device::Cpu)),
        }
    }

    #[cfg(feature = "cuda")]
    fn cuda() -> Result<Device, DeviceError> {
        Gpu::shared().map(Device::Cuda)
    }

    #[cfg(not(feature = "cuda"))]
    fn cuda() -> Result<Device, DeviceError> {
        Err(DeviceError::NotBuilt)
    }

    /// `cpu`, or the GPU's name and architecture.
    pub fn describe(&self) -> String {
        match self {
            Device::Cpu => "cpu".to_string(),
            #[cfg(feature = "cuda")]
            Device::Cuda(gpu) => gpu.describe(),
        }
    }

    /// E4M3 quantisation ([`fp8::quantize`]).
    pub fn quantize(
        &self,
        values: &[f32],
        rows: usize,
        cols: usize,
        grouping: Grouping,
        ue8m0: bool,
    ) -> Result<Fp8Matrix, DeviceError> {
        match self {
            Device::Cpu => Ok(fp8::quantize(values, rows, cols, grouping, ue8m0)),
            #[cfg(feature = "cuda")]
            Device::Cuda(gpu) => gpu.quantize(values, rows, cols, grouping, ue8m0),
        }
    }

    /// The dense FP8 GEMM ([`fp8::fast::gemm_fp8_nt`]).
    pub fn gemm_fp8_nt(&self, a: &Fp8Matrix, b: &Fp8Matrix) -> Result<Vec<f32>, DeviceError> {
        match self {
            Device::Cpu => Ok(fp8::fast::gemm_fp8_nt(a, b)),
            #[cfg(feature = "cuda")]
            Device::Cuda(gpu) => gpu.gemm_fp8_nt(a, b),
        }
    }

    /// The grouped contiguous FP8 GEMM ([`fp8::fast::gemm_fp8_grouped_contiguous`]). On CUDA,
    /// each 64-row tile must hold one expert's rows (and padding), as DeepGEMM's 128-row
    /// alignment gives.
    pub fn gemm_fp8_grouped_contiguous(
        &self,
        a: &Fp8Matrix,
        b: &[Fp8Matrix],
        m_indices: &[i32],
    ) -> Result<Vec<f32>, DeviceError> {
        match self {
            Device::Cpu => Ok(fp8::fast::gemm_fp8_grouped_contiguous(a, b, m_indices)),
            #[cfg(feature = "cuda")]
            Device::Cuda(gpu) => gpu.gemm_fp8_grouped_contiguous(a, b, m_indices),
        }
    }

    /// The grouped masked FP8 GEMM ([`fp8::fast::gemm_fp8_grouped_masked`]).
    pub fn gemm_fp8_grouped_masked(
        &self,
        a: &[Fp8Matrix],
        b: &[Fp8Matrix],
        masked_m: &[usize],
    ) -> Result<Vec<Vec<f32>>, DeviceError> {
        match self {
            Device::Cpu => Ok(fp8::fast::gemm_fp8_grouped_masked(a, b, masked_m)),
            #[cfg(feature = "cuda")]
            Device::Cuda(gpu) => gpu.gemm_fp8_grouped_masked(a, b, masked_m),
        }
    }

    /// MLA decode attention over a paged KV cache ([`mla::mla_decode`]; on the CPU through
    /// [`mla::mla_decode_fast`]).
    pub fn mla_decode(
        &self,
        q: &[f32],
        shape: MlaShape,
        cache: KvCache<'_>,
        softmax_scale: f32,
        causal: bool,
    ) -> Result<AttentionOutput, DeviceError> {
        match self {
            Device::Cpu => Ok(mla::mla_decode_fast(q, shape, cache, softmax_scale, causal)),
            #[cfg(feature = "cuda")]
            Device::Cuda(gpu) => gpu.mla_decode(q, shape, cache, softmax_scale, causal),
        }
    }

    /// DeepSeek-V3's MoE gate ([`moe_gate::gate`]).
    pub fn moe_gate(
        &self,
        x: &[f32],
        dim: usize,
        weight: &[f32],
        bias: Option<&[f32]>,
        config: &GateConfig,
    ) -> Result<Routing, DeviceError> {
        match self {
            Device::Cpu => Ok(moe_gate::gate(x, dim, weight, bias, config)?),
            #[cfg(feature = "cuda")]
            Device::Cuda(gpu) => gpu.gate(x, dim, weight, bias, config),
        }
    }

    /// Dense attention with a key-padding mask ([`attention::attention_fast`] on the CPU).
    pub fn attention(
        &self,
        q: &[f32],
        k: &[f32],
        v: &[f32],
        key_mask: &[bool],
        shape: AttentionShape,
        softmax_scale: f32,
    ) -> Result<AttentionOutput, DeviceError> {
        match self {
            Device::Cpu => Ok(attention::attention_fast(
                q,
                k,
                v,
                key_mask,
                shape,
                softmax_scale,
            )),
            #[cfg(feature = "cuda")]
            Device::Cuda(gpu) => gpu.attention(q, k, v, key_mask, shape, softmax_scale),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tarn_device_names_cpu_or_cuda_and_nothing_else() {
        assert!(matches!(Device::select(Some(" CPU ")), Ok(Device::Cpu)));
        let unknown = Device::select(Some("tpu")).unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "TARN_DEVICE='tpu': expected 'cpu' or 'cuda'"
        );
        // Unset picks whatever is present and never fails.
        assert!(Device::select(None).is_ok());
        assert!(Device::select(Some("")).is_ok());
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn forcing_cuda_without_it_is_an_error_not_a_fallback() {
        let err = Device::select(Some("cuda")).unwrap_err();
        assert_eq!(err, DeviceError::NotBuilt);
        assert!(matches!(Device::select(None), Ok(Device::Cpu)));
    }
}
