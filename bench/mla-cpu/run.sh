#!/usr/bin/env bash
# bench/mla-cpu: MLA decode on the CPU, the fast path against the reference in the same run;
# prints a markdown table (RESULTS.md holds the last one).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tarn-target}"
cargo bench --quiet -p tarn-gpu --bench mla_cpu
