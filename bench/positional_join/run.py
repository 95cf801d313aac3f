#!/usr/bin/env python3
"""POSITIONAL JOIN through `tarn sql` and through DuckDB in one run, on the same Parquet files,
against the join a user would write without it in Tarn, in the same run.

Writes `docs` (id, text: --rows rows) and `scores` (score: three quarters as many rows,
computed from docs in its order), then pairs them three ways with the same thread count:

* zip: `docs POSITIONAL JOIN scores`, which Tarn runs as a zip of the two scans;
* numbered: the same pairing written out as a FULL JOIN of both sides numbered by
  `row_number() OVER ()`, which Tarn runs as a hash join (the positional join's plan before
  the zip);
* DuckDB's POSITIONAL JOIN.

Each query counts the pairs and the pairs whose score is not the doc's (0 when paired right);
the answers must be DuckDB's. Prints the times, the peak memory of each Tarn process, and the
ratios.

    python3 bench/positional_join/run.py --tarn target/release/tarn
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

PAIRS = (
    "count(*), count(score), count(*) FILTER (WHERE score <> (id * 7) % 1000)"
)
QUERIES = {
    "zip": f"SELECT {PAIRS} FROM '{{d}}/docs.parquet' POSITIONAL JOIN '{{d}}/scores.parquet'",
    "numbered": f"SELECT {PAIRS} FROM "
    "(SELECT *, row_number() OVER () AS p FROM '{d}/docs.parquet') AS docs FULL JOIN "
    "(SELECT *, row_number() OVER () AS q FROM '{d}/scores.parquet') AS scores ON p = q",
}


def generate(data: Path, rows: int) -> None:
    con = duckdb.connect()
    con.sql(
        f"COPY (SELECT range AS id, 'doc ' || range || ' ' || md5(range::VARCHAR) AS text "
        f"FROM range({rows})) TO '{data}/docs.parquet' (FORMAT parquet)"
    )
    con.sql(
        f"COPY (SELECT (id * 7) % 1000 AS score FROM '{data}/docs.parquet' "
        f"LIMIT {rows * 3 // 4}) TO '{data}/scores.parquet' (FORMAT parquet)"
    )


def tarn_run(tarn: str, sql: str, threads: int) -> tuple[float, int, str]:
    """Seconds, peak resident KiB and the answer row of one `tarn sql` process."""
    command = [tarn, "sql", "--mode", "csv", "--threads", str(threads), "-c", sql]
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        if status != 0:
            raise SystemExit(f"tarn failed on: {sql}")
        out.seek(0)
        return seconds, usage.ru_maxrss, out.read().strip().splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tarn", default=os.path.expanduser("~/.cache/tarn-target/release/tarn"))
    parser.add_argument("--rows", type=int, default=16_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        generate(data, args.rows)
        con = duckdb.connect()
        con.sql(f"SET threads = {args.threads}")
        duck_sql = QUERIES["zip"].format(d=data)
        duck_times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            duck = ",".join(str(v) for v in con.sql(duck_sql).fetchall()[0])
            duck_times.append(time.perf_counter() - start)
        duck_s = min(duck_times)
        print(f"{args.rows} docs, {args.rows * 3 // 4} scores, {args.threads} threads")
        print(f"{'query':>10} {'tarn s':>8} {'peak MiB':>9} {'duckdb s':>9} {'vs duckdb':>10}  result")
        times = {}
        failed = 0
        for name, template in QUERIES.items():
            runs = [tarn_run(args.tarn, template.format(d=data), args.threads)
                    for _ in range(args.repeat)]
            seconds = min(s for s, _, _ in runs)
            peak = max(kib for _, kib, _ in runs) / 1024
            times[name] = seconds
            same = runs[-1][2] == duck
            failed += not same
            verdict = "ok" if same else f"DIFFER from DuckDB: {runs[-1][2]} vs {duck}"
            print(f"{name:>10} {seconds:8.3f} {peak:9.0f} {duck_s:9.3f} "
                  f"{seconds / duck_s:10.2f}  {verdict}")
        print(f"zip / numbered: {times['zip'] / times['numbered']:.2f}")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
