#!/usr/bin/env python3
"""Keeping the best record per group, through `tarn sql` and through DuckDB in one run.

Writes `docs` (cluster, id, text, score: --rows rows over --clusters clusters, the scores of a
cluster distinct, so each cluster has one best document) with DuckDB, then times each query
with the same thread count, checks that both engines agree, and prints the tarn/DuckDB ratio.
The queries are the two ways a curation pipeline deduplicates: `arg_max` of the whole record
(a STRUCT), of a LIST, of one column, and the window form `QUALIFY row_number() ... = 1`.

    python3 bench/dedup/run.py --tarn target/release/tarn
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from versus_duckdb import race  # noqa: E402

QUERIES = {
    "arg_max struct": "SELECT count(*), sum(b.id), sum(length(b.text)) FROM (SELECT cluster, "
    "arg_max({{'id': id, 'text': text}}, score) AS b FROM '{d}/docs.parquet' GROUP BY cluster)",
    "arg_max list": "SELECT count(*), sum(b[1]) FROM (SELECT cluster, "
    "arg_max([id], score) AS b FROM '{d}/docs.parquet' GROUP BY cluster)",
    "arg_max column": "SELECT count(*), sum(b) FROM (SELECT cluster, "
    "arg_max(id, score) AS b FROM '{d}/docs.parquet' GROUP BY cluster)",
    "qualify": "SELECT count(*), sum(id), sum(length(text)) FROM (SELECT * FROM "
    "'{d}/docs.parquet' QUALIFY row_number() OVER (PARTITION BY cluster ORDER BY score DESC) = 1)",
}


def generate(data: Path, rows: int, clusters: int) -> None:
    # n and n + clusters share a cluster; their scores differ, as (n * p) % q is distinct for
    # n below q (a prime above rows).
    duckdb.connect().sql(
        f"COPY (SELECT n % {clusters} AS cluster, n AS id, "
        f"'document ' || n || ' ' || repeat('x', (n % 50)::INT) AS text, "
        f"(n * 7919) % 2000003 AS score FROM range({rows}) AS r(n)) "
        f"TO '{data}/docs.parquet' (FORMAT parquet)"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tarn", default=os.path.expanduser("~/.cache/tarn-target/release/tarn"))
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--clusters", type=int, default=500_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.rows >= 2_000_003:
        sys.exit("--rows must stay below 2000003, the modulus that keeps scores distinct")
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        generate(data, args.rows, args.clusters)
        con = duckdb.connect()
        con.sql(f"SET threads = {args.threads}")
        failed = 0
        print(f"{'query':>15} {'tarn s':>9} {'duckdb s':>9} {'ratio':>7}  result")
        for name, template in QUERIES.items():
            sql = template.format(d=data)
            tarn_s, duck_s, tarn_row, duck_row, same = race(
                args.tarn, con, sql, args.threads, args.repeat
            )
            failed += not same
            verdict = "ok" if same else f"DIFFER tarn {tarn_row} duckdb {duck_row}"
            print(f"{name:>15} {tarn_s:9.3f} {duck_s:9.3f} {tarn_s / duck_s:7.2f}  {verdict}")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
