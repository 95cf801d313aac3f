#!/usr/bin/env python3
"""COPY into Parquet shards through `tarn sql`, by size against by row groups, in one run.

`FILE_SIZE_BYTES` shards are written one after another by Tarn's shard writer
(`engine/src/sql/copy_files.rs`, one Parquet encoder); `ROW_GROUPS_PER_FILE` shards by
DataFusion's writer, which encodes a file's columns in parallel. Both write the same rows from
the same Parquet input into files of about the same size, so the ratio is what sizing by bytes
costs. DuckDB's `FILE_SIZE_BYTES` on the same input is timed too. Every output is read back and
its row count and checksum compared with the input's.

    python3 bench/copy_shards/run.py --tarn target/release/tarn
"""

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import duckdb

CHECK = "SELECT count(*), sum(hash(id, text)) FROM read_parquet('{path}')"


def generate(data: Path, rows: int) -> Path:
    source = data / "corpus.parquet"
    duckdb.sql(
        f"COPY (SELECT range AS id, md5(range::VARCHAR) || ' ' || md5((range * 7)::VARCHAR) "
        f"AS text, random() AS score FROM range({rows})) TO '{source}' (FORMAT parquet)"
    )
    return source


def tarn_copy(tarn: str, sql: str, threads: int) -> float:
    start = time.perf_counter()
    subprocess.run(
        [tarn, "sql", "--threads", str(threads), "-c", sql],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def files_of(folder: Path) -> tuple[int, float]:
    sizes = [f.stat().st_size for f in folder.glob("*.parquet")]
    return len(sizes), sum(sizes) / len(sizes) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tarn", required=True)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        source = generate(data, args.rows)
        expected = duckdb.sql(CHECK.format(path=source)).fetchall()
        # Row groups of 122,880 rows (DuckDB's) are about 8 MB here: 4 of them make shards
        # about the size of FILE_SIZE_BYTES '32MB'.
        writers = {
            "tarn FILE_SIZE_BYTES": "FILE_SIZE_BYTES '32MB', ROW_GROUP_SIZE 122880",
            "tarn ROW_GROUPS_PER_FILE": "ROW_GROUPS_PER_FILE 4, ROW_GROUP_SIZE 122880",
        }
        best: dict[str, float] = {}
        shape: dict[str, tuple[int, float]] = {}
        for round_ in range(args.rounds):
            for name, options in writers.items():
                out = data / f"{name.split()[1]}-{round_}"
                sql = f"COPY (FROM '{source}') TO '{out}' (FORMAT parquet, {options})"
                seconds = tarn_copy(args.tarn, sql, args.threads)
                assert duckdb.sql(CHECK.format(path=f"{out}/*.parquet")).fetchall() == expected
                best[name] = min(best.get(name, seconds), seconds)
                shape[name] = files_of(out)
            out = data / f"duckdb-{round_}"
            con = duckdb.connect()
            con.execute(f"SET threads = {args.threads}")
            start = time.perf_counter()
            con.execute(
                f"COPY (FROM '{source}') TO '{out}' (FORMAT parquet, FILE_SIZE_BYTES '32MB')"
            )
            seconds = time.perf_counter() - start
            best["duckdb FILE_SIZE_BYTES"] = min(best.get("duckdb FILE_SIZE_BYTES", seconds), seconds)
            shape["duckdb FILE_SIZE_BYTES"] = files_of(out)
        baseline = best["tarn ROW_GROUPS_PER_FILE"]
        print(f"{args.rows:,} rows, {args.threads} threads, fastest of {args.rounds}")
        print(f"{'writer':28} {'seconds':>8} {'files':>6} {'MB/file':>8} {'ratio':>6}")
        for name, seconds in best.items():
            files, size = shape[name]
            print(f"{name:28} {seconds:8.2f} {files:6} {size:8.1f} {seconds / baseline:6.2f}")


if __name__ == "__main__":
    main()
