#!/usr/bin/env bash
# bench/io: makes a 4 GB multi-file Parquet dataset (16 uncompressed files written by DuckDB; what
# is in them does not matter to a read benchmark) and reads it cold five ways.
# Usage: bench/io/run.sh [DATA_DIR]   (default /tmp/tarn-io-bench; kept between runs)
set -euo pipefail
cd "$(dirname "$0")/../.."
data="${1:-/tmp/tarn-io-bench}"
if [[ ! -f "$data/.complete" ]]; then
    rm -rf "$data" && mkdir -p "$data"
    python3 - "$data" <<'PY'
import sys, duckdb
data = sys.argv[1]
rows = 3_200_000  # about 256 MB per file uncompressed
for i in range(16):
    duckdb.sql(f"""COPY (SELECT range AS id, md5(range::VARCHAR) || md5((range * 7)::VARCHAR) AS text,
                            random() AS score FROM range({i * rows}, {(i + 1) * rows}))
                   TO '{data}/part-{i:05}.parquet' (FORMAT parquet, COMPRESSION uncompressed)""")
PY
    touch "$data/.complete"
fi
cargo bench --quiet -p tarn-fs --bench io -- "$data"
