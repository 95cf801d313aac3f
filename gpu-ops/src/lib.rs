//! Tarn's numeric operators for model stages, on plain buffers (no Arrow, no DataFusion).
//!
//! Each operator's CPU implementation is the reference, written to follow DeepSeek's published
//! code step by step and checked against the vectors in `../shared/testdata/gpu/`; where a
//! faster CPU path exists it is checked against the reference, and the CUDA kernels ([`cuda`],
//! feature `cuda`) against the CPU. [`device::Device`] picks where they run (`TARN_DEVICE`).
//!
//! * [`fp8`]: E4M3 block-scaled quantisation and DeepGEMM's FP8 GEMM (`gemm_fp8_fp8_bf16_nt`).
//! * [`attention`]: the softmax both attentions share, and dense attention with a key-padding
//!   mask (encoders).
//! * [`mla`]: FlashMLA's decode attention over a paged KV cache.
//! * [`moe_gate`]: DeepSeek-V3's MoE gate (`Gate.forward`): which experts each token goes to, and
//!   with what weight.
//! * [`minilm`]: the all-MiniLM-L6-v2 sentence embedding model on these operators.
//! * [`dedup`]: semantic deduplication, near-duplicate clusters by blocked cosine similarity.
//! * [`head`]: a linear classification head on the FP8 GEMM, for scoring texts.
//! * [`eplb`]: DeepSeek's expert-parallel load balancer (`rebalance_experts`): where to put
//!   replicas of hot experts so that every GPU carries a fair share of the load.

pub mod attention;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod dedup;
pub mod device;
pub mod eplb;
pub mod fp8;
pub mod head;
pub mod matmul;
pub mod minilm;
pub mod mla;
pub mod moe_gate;
mod rounding;
mod topk;
pub mod weights;
