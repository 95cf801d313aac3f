#!/usr/bin/env bash
# Installs the servers the tests start: s3s-fs, a real S3-compatible server (a Rust crate) that the
# `s3://` tests run on loopback. Kept under ~/.cache/tarn-tools, so a reused machine installs it once.
# Prints the folder to put on PATH.
set -euo pipefail
root="${TARN_TOOLS:-$HOME/.cache/tarn-tools}"
if [[ ! -x "$root/bin/s3s-fs" ]]; then
    # 0.14 is the newest s3s-fs that builds with the Rust toolchain pinned here (1.95).
    CARGO_TARGET_DIR="$root/target" cargo install --quiet --locked s3s-fs --version 0.14.1 \
        --features binary --root "$root" >&2
    rm -rf "$root/target"
fi
echo "$root/bin"
