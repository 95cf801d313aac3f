#!/usr/bin/env bash
# bench/gpu: the GPU check. Runs every CUDA operator against the CPU on fresh random inputs of
# DeepGEMM's and FlashMLA's test shapes, then times FP8 GEMM (beside cuBLAS bf16) and MLA
# decode; the table comes last. Needs an NVIDIA GPU; about 2 minutes on an H200 (16 cores for
# the CPU side), most of it the CPU's reference results.
#
#   bench/gpu/run.sh [SECTION...]  build (release, --features cuda) where cargo exists, then run
#                              (all sections, or those whose names contain an argument)
#   bench/gpu/run.sh --build   only build, into bench/gpu/bin/ (git-ignored): for a GPU machine
#                              without Rust, carry that folder and run this script there. That
#                              build targets x86-64-v3 (AVX2), not this CPU (.cargo/config.toml),
#                              in a target folder of its own, since it runs elsewhere
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=bench/gpu/bin/gpu-check
if command -v cargo >/dev/null; then
    if [[ "${1:-}" == "--build" ]]; then
        export RUSTFLAGS="${RUSTFLAGS:--C target-cpu=x86-64-v3}"
        export CARGO_TARGET_DIR="$HOME/.cache/tarn-gpu-portable"
    fi
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tarn-target}"
    built=$(cargo bench -p tarn-gpu --features cuda --bench gpu --no-run --message-format=json 2>/dev/null |
        python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "gpu" and m.get("executable"):
        print(m["executable"])')
    mkdir -p "$(dirname "$bin")" && cp "$built" "$bin"
fi
[[ "${1:-}" == "--build" ]] && { echo "built $bin"; exit 0; }
[[ -x "$bin" ]] || { echo "no $bin: build it with bench/gpu/run.sh --build where cargo exists" >&2; exit 2; }

# libnvrtc and libcublas: the CUDA toolkit's, else those of the nvidia-* Python wheels.
for dir in /usr/local/cuda/lib64 $(python3 -c 'import glob, site
for s in site.getsitepackages(): print(*glob.glob(s + "/nvidia/*/lib"))' 2>/dev/null); do
    [[ -d "$dir" ]] && LD_LIBRARY_PATH="$dir:${LD_LIBRARY_PATH:-}"
done
export LD_LIBRARY_PATH
exec "$bin" "$@"
