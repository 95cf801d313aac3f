#!/usr/bin/env bash
# Installs what the tests need beside Rust and Python packages, under ~/.cache/tarn-tools so a
# reused machine installs each once:
#  * s3s-fs, a real S3-compatible server (a Rust crate) that the `s3://` tests run on loopback;
#  * NVRTC 13.0 (the nvidia-cuda-nvrtc wheel, the library only), with which the CUDA kernels'
#    compile test runs on machines without a GPU;
#  * ptxas 13.0 (from the nvidia-cuda-nvcc wheel), with which that test also assembles the
#    kernels' PTX, inline tensor-core instructions included.
# Prints three lines: the folder to put on PATH, the one to put on LD_LIBRARY_PATH, and ptxas.
set -euo pipefail
root="${TARN_TOOLS:-$HOME/.cache/tarn-tools}"
if [[ ! -x "$root/bin/s3s-fs" ]]; then
    # 0.14 is the newest s3s-fs that builds with the Rust toolchain pinned here (1.95).
    CARGO_TARGET_DIR="$root/target" cargo install --quiet --locked s3s-fs --version 0.14.1 \
        --features binary --root "$root" >&2
    rm -rf "$root/target"
fi
nvrtc="$root/nvrtc/nvidia/cu13/lib"
if [[ ! -e "$nvrtc/libnvrtc.so.13" ]]; then
    python3 -m pip install --quiet --disable-pip-version-check --no-deps \
        --target "$root/nvrtc" "nvidia-cuda-nvrtc==13.0.*" >&2
fi
ptxas="$root/nvcc/nvidia/cu13/bin/ptxas"
if [[ ! -x "$ptxas" ]]; then
    python3 -m pip install --quiet --disable-pip-version-check --no-deps \
        --target "$root/nvcc" "nvidia-cuda-nvcc==13.0.*" >&2
fi
echo "$root/bin"
echo "$nvrtc"
echo "$ptxas"
