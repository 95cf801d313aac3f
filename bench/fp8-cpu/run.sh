#!/usr/bin/env bash
# bench/fp8-cpu: the CPU FP8 GEMM (tarn-gpu's fast path) in GFLOP/s against the gemm crate's f32
# GEMM on the same shapes and this machine's peak; prints a markdown table (RESULTS.md holds
# the last one).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tarn-target}"
cargo bench --quiet -p tarn-gpu --bench fp8_cpu
