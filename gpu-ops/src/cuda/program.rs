//! CUDA C sources, composed per shape and compiled with NVRTC: DeepGEMM's JIT idea. Each
//! program is a few `#define`s (the shape and the form), the E4M3 table, the shared helpers
//! (`kernels/common.cuh`) and one operator's kernels. Baking the shape in lets NVRTC unroll
//! and fold the index arithmetic; the compiled module is cached per distinct source.

use cudarc::nvrtc::{CompileOptions, Ptx, compile_ptx_with_opts};

use crate::fp8::E4M3_VALUES;

/// One operator's kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernels {
    /// `quantize`: per-token or per-block E4M3 quantisation.
    Quantize,
    /// `fp8_gemm`: the dense, grouped contiguous and grouped masked FP8 GEMM.
    Fp8Gemm,
    /// `fp8_gemm_mma`: the same on FP8 tensor cores (sm_89 and newer).
    Fp8GemmMma,
    /// `fp8_gemm_wgmma`: the same on Hopper's warpgroup tensor cores (sm_90a only).
    Fp8GemmWgmma,
    /// `attention_split` and `attention_combine`: split-KV attention, paged or dense.
    Attention,
    /// `mla_split_bf16` and `attention_combine`: MLA decode from a bf16 cache on tensor cores
    /// (sm_80 and newer).
    MlaBf16,
    /// `moe_gate`: DeepSeek-V3's expert routing.
    MoeGate,
    /// `f32_gemm`: the f32 GEMM of MiniLM's linear layers.
    F32Gemm,
    /// MiniLM's steps between its GEMMs: embeddings, bias and GELU, residual LayerNorm, pooling.
    MiniLm,
}

impl Kernels {
    fn source(self) -> &'static str {
        match self {
            Kernels::Quantize => include_str!("kernels/quantize.cu"),
            Kernels::Fp8Gemm => concat!(
                include_str!("kernels/fp8_gemm_forms.cuh"),
                include_str!("kernels/fp8_gemm.cu")
            ),
            Kernels::Fp8GemmMma => concat!(
                include_str!("kernels/tensor_core.cuh"),
                include_str!("kernels/fp8_gemm_forms.cuh"),
                include_str!("kernels/fp8_gemm_mma.cu")
            ),
            Kernels::Fp8GemmWgmma => concat!(
                include_str!("kernels/tensor_core.cuh"),
                include_str!("kernels/fp8_gemm_forms.cuh"),
                include_str!("kernels/fp8_gemm_wgmma.cu")
            ),
            Kernels::Attention => concat!(
                include_str!("kernels/attention.cu"),
                include_str!("kernels/attention_combine.cuh")
            ),
            Kernels::MlaBf16 => concat!(
                include_str!("kernels/tensor_core.cuh"),
                include_str!("kernels/mla_bf16.cu"),
                include_str!("kernels/attention_combine.cuh")
            ),
            Kernels::MoeGate => include_str!("kernels/moe_gate.cu"),
            Kernels::F32Gemm => include_str!("kernels/f32_gemm.cu"),
            Kernels::MiniLm => include_str!("kernels/minilm.cu"),
        }
    }

    /// The `extern "C"` entry points the program defines.
    pub(crate) fn entries(self) -> &'static [&'static str] {
        match self {
            Kernels::Quantize => &["quantize"],
            Kernels::Fp8Gemm => &["fp8_gemm", "fp8_gemm_reduce"],
            Kernels::Fp8GemmMma => &["fp8_gemm_mma", "fp8_gemm_reduce"],
            Kernels::Fp8GemmWgmma => &["fp8_gemm_wgmma", "fp8_gemm_reduce"],
            Kernels::Attention => &["attention_split", "attention_combine"],
            Kernels::MlaBf16 => &["mla_split_bf16", "attention_combine"],
            Kernels::MoeGate => &["moe_gate"],
            Kernels::F32Gemm => &["f32_gemm"],
            Kernels::MiniLm => &["embed_tokens", "bias_activation", "add_norm", "mean_pool"],
        }
    }
}

/// One operator's kernels specialised for one shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Program {
    pub(crate) kernels: Kernels,
    defines: Vec<(&'static str, i64)>,
}

impl Program {
    pub(crate) fn new(kernels: Kernels, defines: &[(&'static str, i64)]) -> Program {
        Program {
            kernels,
            defines: defines.to_vec(),
        }
    }

    /// The full CUDA C text, which is also the program's cache key.
    pub(crate) fn source(&self) -> String {
        let mut text: String = self
            .defines
            .iter()
            .map(|(name, value)| format!("#define {name} {value}\n"))
            .collect();
        text.push_str("__constant__ unsigned int E4M3_BITS[256] = {");
        for (i, value) in E4M3_VALUES.iter().enumerate() {
            text.push_str(if i % 8 == 0 { "\n    " } else { " " });
            text.push_str(&format!("0x{:08x}u,", value.to_bits()));
        }
        text.push_str("\n};\n");
        text.push_str(include_str!("kernels/common.cuh"));
        text.push_str(self.kernels.source());
        text
    }

    /// Compiles the program for `arch` (`sm_90`, …), or for its architecture-specific form
    /// (`sm_90a`, which `wgmma` needs) where the kernels use such instructions; the error is
    /// NVRTC's log.
    pub(crate) fn compile(&self, arch: &str) -> Result<Ptx, String> {
        let suffix = if self.kernels == Kernels::Fp8GemmWgmma {
            "a"
        } else {
            ""
        };
        let options = CompileOptions {
            options: vec![
                format!("--gpu-architecture={arch}{suffix}"),
                "--std=c++17".into(),
            ],
            ..Default::default()
        };
        compile_ptx_with_opts(self.source(), options).map_err(|e| match e {
            cudarc::nvrtc::CompileError::CompileError { log, .. } => {
                log.to_string_lossy().trim().to_string()
            }
            other => other.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use super::*;

    /// Assembles `ptx` with `ptxas` for the architecture its `.target` names: NVRTC passes
    /// inline PTX (`mma`, `ldmatrix`, `wgmma`, ...) through unread, so only the assembler (or
    /// the driver, on a GPU) finds a wrong operand in it.
    fn assemble(ptxas: &Path, ptx: &str, kernels: Kernels) {
        let target = ptx
            .lines()
            .find_map(|line| line.strip_prefix(".target "))
            .expect("PTX names its target")
            .trim();
        let dir = tempfile::tempdir().expect("a temporary folder");
        let file = dir.path().join("program.ptx");
        std::fs::write(&file, ptx).expect("write the PTX");
        let output = Command::new(ptxas)
            .arg(format!("-arch={target}"))
            .arg(&file)
            .args(["-o", "/dev/null"])
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", ptxas.display()));
        assert!(
            output.status.success(),
            "{kernels:?} for {target} does not assemble:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Every kernel compiles for Hopper and for Ampere, in each form the host asks for, where
    /// NVRTC is present (no GPU needed), and with `TARN_PTXAS` naming a `ptxas` also
    /// assembles. CI installs both and sets `TARN_REQUIRE_NVRTC=1` so that NVRTC's absence
    /// fails rather than skips.
    #[test]
    fn every_kernel_compiles_with_nvrtc() {
        // SAFETY: only tries to load the library.
        if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
            assert!(
                std::env::var_os("TARN_REQUIRE_NVRTC").is_none(),
                "TARN_REQUIRE_NVRTC is set but libnvrtc.so cannot be loaded (LD_LIBRARY_PATH?)"
            );
            eprintln!("skipped: libnvrtc.so is not installed");
            return;
        }
        let attention = |paged: i64, causal: i64| {
            Program::new(
                Kernels::Attention,
                &[
                    ("D", if paged == 1 { 576 } else { 64 }),
                    ("DV", if paged == 1 { 512 } else { 64 }),
                    ("H_Q", 16),
                    ("KV_SETS", if paged == 1 { 1 } else { 16 }),
                    ("S_Q", 2),
                    ("CAUSAL", causal),
                    ("PAGED", paged),
                    ("BLOCK_SIZE", 64),
                    ("MAX_BLOCKS", 4),
                    ("S_K", 100),
                ],
            )
        };
        let mla_bf16 = |d: i64, dv: i64, h_q: i64, h_kv: i64, s_q: i64| {
            Program::new(
                Kernels::MlaBf16,
                &[
                    ("D", d),
                    ("DV", dv),
                    ("H_Q", h_q),
                    ("H_KV", h_kv),
                    ("S_Q", s_q),
                    ("CAUSAL", i64::from(s_q > 1)),
                    ("BLOCK_SIZE", 64),
                    ("MAX_BLOCKS", 4),
                    ("STAGES", 3),
                ],
            )
        };
        let programs = [
            Program::new(Kernels::Quantize, &[("ROW_SPAN", 1), ("UE8M0", 0)]),
            Program::new(
                Kernels::Fp8GemmWgmma,
                &[
                    ("N", 4096),
                    ("K", 7168),
                    ("N_BLOCKS", 32),
                    ("K_BLOCKS", 56),
                    ("K_SPLITS", 1),
                    ("STAGES", 4),
                ],
            ),
            Program::new(
                Kernels::Fp8GemmWgmma,
                &[
                    ("N", 130),
                    ("K", 208),
                    ("N_BLOCKS", 2),
                    ("K_BLOCKS", 2),
                    ("K_SPLITS", 2),
                    ("STAGES", 2),
                ],
            ),
            Program::new(Kernels::Quantize, &[("ROW_SPAN", 128), ("UE8M0", 1)]),
            Program::new(
                Kernels::Fp8Gemm,
                &[
                    ("N", 4096),
                    ("K", 7168),
                    ("N_BLOCKS", 32),
                    ("K_BLOCKS", 56),
                    ("K_SPLITS", 7),
                ],
            ),
            Program::new(
                Kernels::Fp8Gemm,
                &[
                    ("N", 130),
                    ("K", 200),
                    ("N_BLOCKS", 2),
                    ("K_BLOCKS", 2),
                    ("K_SPLITS", 1),
                ],
            ),
            Program::new(
                Kernels::Fp8GemmMma,
                &[
                    ("N", 4096),
                    ("K", 7168),
                    ("N_BLOCKS", 32),
                    ("K_BLOCKS", 56),
                    ("K_SPLITS", 4),
                    ("STAGES", 3),
                ],
            ),
            Program::new(
                Kernels::Fp8GemmMma,
                &[
                    ("N", 130),
                    ("K", 208),
                    ("N_BLOCKS", 2),
                    ("K_BLOCKS", 2),
                    ("K_SPLITS", 2),
                    ("STAGES", 2),
                ],
            ),
            attention(1, 1),
            attention(0, 0),
            mla_bf16(576, 512, 128, 1, 2),
            mla_bf16(96, 64, 80, 2, 1),
            Program::new(
                Kernels::MoeGate,
                &[
                    ("EXPERTS", 256),
                    ("DIM", 7168),
                    ("N_GROUPS", 8),
                    ("TOPK_GROUPS", 4),
                    ("TOP_K", 8),
                    ("SIGMOID", 1),
                    ("HAS_BIAS", 1),
                ],
            ),
            Program::new(
                Kernels::MoeGate,
                &[
                    ("EXPERTS", 64),
                    ("DIM", 100),
                    ("N_GROUPS", 1),
                    ("TOPK_GROUPS", 1),
                    ("TOP_K", 6),
                    ("SIGMOID", 0),
                    ("HAS_BIAS", 0),
                ],
            ),
            Program::new(Kernels::F32Gemm, &[("N", 1536), ("K", 384)]),
            Program::new(Kernels::F32Gemm, &[("N", 130), ("K", 200)]),
            Program::new(Kernels::MiniLm, &[("HIDDEN", 384)]),
            Program::new(Kernels::MiniLm, &[("HIDDEN", 100)]),
        ];
        for program in &programs {
            // FP8 tensor cores start at sm_89; the host uses that kernel only there.
            // (and wgmma is sm_90a's alone).
            let arches: &[&str] = match program.kernels {
                Kernels::Fp8GemmMma => &["sm_90", "sm_89"],
                Kernels::Fp8GemmWgmma => &["sm_90"],
                _ => &["sm_90", "sm_80"],
            };
            for &arch in arches {
                let ptx = program
                    .compile(arch)
                    .unwrap_or_else(|log| panic!("{:?} for {arch}:\n{log}", program.kernels));
                let text = ptx.to_src();
                for entry in program.kernels.entries() {
                    assert!(
                        text.contains(&format!(".entry {entry}(")),
                        "{entry} missing from the PTX"
                    );
                }
                if let Some(ptxas) = std::env::var_os("TARN_PTXAS") {
                    assemble(Path::new(&ptxas), &text, program.kernels);
                }
            }
        }
    }
}
