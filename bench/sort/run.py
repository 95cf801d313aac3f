#!/usr/bin/env python3
"""The GraySort input sorted by tarn, DuckDB and Polars in one run, next to this disk's
sequential write bandwidth.

    pip install -r bench/sort/requirements.txt
    python3 bench/sort/run.py --size 10GB --tarn target/release/tarn

tarn sorts the gensort files themselves (`tarn sort run`), and its output is checked with
`tarn sort validate` against the checksum `tarn sort gen` printed. DuckDB and Polars cannot
read 100-byte records, so they get the same records as Parquet with two columns, `key` (the
first 10 bytes) and `record` (all 100), uncompressed, written before their timers start; each
writes the records ordered by key as Parquet, and its row count is checked. Every time is the
wall-clock time of the whole sort, reading the input and writing the output included, and
throughput is input bytes per second.

The disk's bandwidth is measured first: a file of 4 GB written in 8 MiB blocks and synced,
once around the page cache (O_DIRECT, what the device sustains; tarn writes this way) and once
through it. tarn's sort stage (read a partition's shuffle files, sort, write it synced) is
"within 2x of the disk" when its throughput is at least half the direct bandwidth; the
partition stage before it reads the input and writes the shuffle files.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

RECORD = 100
KEY = 10


def parse_size(text: str) -> int:
    units = {"": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
    number = text.upper().rstrip("BKMGT")
    unit = text.upper()[len(number):]
    return int(float(number) * units[unit])


def write_bandwidth(path: Path, direct: bool, size: int = 4 * 10**9) -> float:
    """Bytes per second writing `size` bytes in 8 MiB blocks, then syncing; around the page
    cache (O_DIRECT, what the device sustains) or through it."""
    import mmap

    block = mmap.mmap(-1, 8 << 20)  # page-aligned, as O_DIRECT needs
    block.write(os.urandom(8 << 20))
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (os.O_DIRECT if direct else 0)
    start = time.perf_counter()
    fd = os.open(path, flags, 0o644)
    written = 0
    while written < size:
        written += os.write(fd, block)
    os.fsync(fd)
    os.close(fd)
    elapsed = time.perf_counter() - start
    path.unlink()
    return written / elapsed


def run(command: list, **kwargs) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, **kwargs)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, command))} failed:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}")
    return elapsed, proc.stdout


def to_parquet(records_dir: Path, out: Path) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True)
    rows_per_group = 1 << 20
    for i, path in enumerate(sorted(p for p in records_dir.iterdir() if p.name.endswith(".dat"))):
        data = np.fromfile(path, dtype=np.uint8).reshape(-1, RECORD)
        schema = pa.schema([("key", pa.binary(KEY)), ("record", pa.binary(RECORD))])
        with pq.ParquetWriter(out / f"part-{i:05}.parquet", schema, compression="none") as w:
            for start in range(0, len(data), rows_per_group):
                chunk = data[start : start + rows_per_group]
                n = len(chunk)
                keys = pa.FixedSizeBinaryArray.from_buffers(
                    pa.binary(KEY), n, [None, pa.py_buffer(np.ascontiguousarray(chunk[:, :KEY]))]
                )
                recs = pa.FixedSizeBinaryArray.from_buffers(
                    pa.binary(RECORD), n, [None, pa.py_buffer(np.ascontiguousarray(chunk))]
                )
                w.write_table(pa.table([keys, recs], schema=schema))


def duckdb_sort(parquet: Path, out: Path, threads: int, memory: str) -> float:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute(f"SET memory_limit = '{memory}'")
    con.execute(f"SET temp_directory = '{out.parent / 'duckdb-tmp'}'")
    start = time.perf_counter()
    con.execute(
        f"COPY (SELECT record FROM read_parquet('{parquet}/*.parquet') ORDER BY key) "
        f"TO '{out}' (FORMAT parquet, COMPRESSION uncompressed)"
    )
    elapsed = time.perf_counter() - start
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
    return elapsed, rows


def polars_sort(parquet: Path, out: Path) -> float:
    import polars as pl

    start = time.perf_counter()
    (
        pl.scan_parquet(f"{parquet}/*.parquet")
        .sort("key")
        .select("record")
        .sink_parquet(out, compression="uncompressed")
    )
    elapsed = time.perf_counter() - start
    rows = pl.scan_parquet(out).select(pl.len()).collect().item()
    return elapsed, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="10GB")
    parser.add_argument("--tarn", default="target/release/tarn")
    parser.add_argument("--dir", default=None, help="work folder (default: ~/.tarn/sort-bench)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--memory-limit", default="16GB")
    parser.add_argument("--skip", nargs="*", default=[], help="engines to leave out")
    args = parser.parse_args()

    size = parse_size(args.size)
    records = size // RECORD
    work = Path(args.dir or Path.home() / ".tarn" / "sort-bench")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    tarn = str(Path(args.tarn).resolve())
    gb = records * RECORD / 1e9

    direct = write_bandwidth(work / "bandwidth.tmp", direct=True)
    buffered = write_bandwidth(work / "bandwidth.tmp", direct=False)
    print(
        f"disk: sequential write {direct / 1e9:.3f} GB/s direct, {buffered / 1e9:.3f} GB/s "
        f"through the page cache (4 GB in 8 MiB blocks, then fsync)"
    )

    inp = work / "input"
    _, gen_out = run([tarn, "sort", "gen", inp, "--records", str(records), "--files", str(args.threads)])
    checksum = gen_out.split("Checksum: ")[1].split()[0]
    print(f"input: {records} records ({gb:.2f} GB) in {args.threads} files, checksum {checksum}")

    results = []
    out = work / "tarn-out"
    seconds, summary = run(
        [tarn, "sort", "run", inp, out, "--memory-limit", args.memory_limit],
        env={**os.environ, "TARN_THREADS": str(args.threads)},
    )
    stages = {
        line.split()[0]: float(line.split()[-1].rstrip("s"))
        for line in summary.splitlines()
        if line.startswith("n0")
    }
    run([tarn, "sort", "validate", out, "--expect-checksum", checksum, "--expect-records", str(records)])
    results.append(("tarn", seconds, "validated, checksum equal"))
    shutil.rmtree(out)

    others = [e for e in ("duckdb", "polars") if e not in args.skip]
    if others:
        parquet = work / "parquet"
        to_parquet(inp, parquet)
        shutil.rmtree(inp)  # the disk holds the input twice otherwise
        for engine in others:
            target = work / f"{engine}-out.parquet"
            if engine == "duckdb":
                seconds, rows = duckdb_sort(parquet, target, args.threads, args.memory_limit)
            else:
                seconds, rows = polars_sort(parquet, target)
            if rows != records:
                sys.exit(f"{engine} wrote {rows} rows, expected {records}")
            results.append((engine, seconds, f"{rows} rows"))
            target.unlink()

    tarn_seconds = results[0][1]
    print()
    print(f"| engine | seconds | GB/s | tarn's speed-up | check |")
    print(f"|---|---:|---:|---:|---|")
    for engine, seconds, check in results:
        print(f"| {engine} | {seconds:.1f} | {gb / seconds:.3f} | {seconds / tarn_seconds:.2f}x | {check} |")
    rate = gb * 1e9 / tarn_seconds
    sort_stage = gb * 1e9 / stages["n01-sort"]
    print()
    print(f"tarn, whole sort: {rate / 1e9:.3f} GB/s; disk direct-write bandwidth / tarn = {direct / rate:.2f}")
    for name, seconds in stages.items():
        stage_rate = gb * 1e9 / seconds
        print(
            f"tarn, stage {name}: {seconds:.1f} s, {stage_rate / 1e9:.3f} GB/s; "
            f"direct bandwidth / stage = {direct / stage_rate:.2f}, "
            f"page-cache bandwidth / stage = {buffered / stage_rate:.2f}"
        )
    print(f"target: tarn >= 2x DuckDB; sort stage within 2x of the disk ({direct / sort_stage:.2f})")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
