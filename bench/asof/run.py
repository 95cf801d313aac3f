#!/usr/bin/env python3
"""ASOF JOIN through `tarn sql` and through DuckDB in one run, on the same Parquet files.

Writes `quotes` (ticker, ts, price: --quotes rows over --tickers tickers) and `trades` (id,
ticker, ts: --trades rows) with DuckDB, then times the inner and the LEFT ASOF join (each a
count and a sum over the matched prices, so both engines return one row) with the same thread
count, checks that both engines agree, and prints the tarn/DuckDB time ratio.

    python3 bench/asof/run.py --tarn target/release/tarn
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
    "inner": "SELECT count(*), round(sum(q.price), 3) FROM '{d}/trades.parquet' t "
    "ASOF JOIN '{d}/quotes.parquet' q ON t.ticker = q.ticker AND t.ts >= q.ts",
    "left": "SELECT count(*), round(sum(q.price), 3) FROM '{d}/trades.parquet' t "
    "ASOF LEFT JOIN '{d}/quotes.parquet' q ON t.ticker = q.ticker AND t.ts >= q.ts",
    "using": "SELECT count(*), round(sum(price), 3) FROM '{d}/trades.parquet' "
    "ASOF JOIN '{d}/quotes.parquet' USING (ticker, ts)",
}


def generate(data: Path, quotes: int, trades: int, tickers: int) -> None:
    con = duckdb.connect()
    con.sql(
        f"COPY (SELECT 'T' || (hash(range, 1) % {tickers}) AS ticker, "
        # Distinct times: where a ticker repeats a time, each engine may pick either quote.
        f"TIMESTAMP '2024-01-01' + to_microseconds(range * 17) AS ts, "
        f"(hash(range, 3) % 100000) / 100.0 AS price FROM range({quotes})) "
        f"TO '{data}/quotes.parquet' (FORMAT parquet)"
    )
    con.sql(
        f"COPY (SELECT range AS id, 'T' || (hash(range, 4) % {tickers}) AS ticker, "
        f"TIMESTAMP '2024-01-01' + to_microseconds(CAST(hash(range, 5) % ({quotes} * 17) AS BIGINT)) AS ts "
        f"FROM range({trades})) TO '{data}/trades.parquet' (FORMAT parquet)"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tarn", default=os.path.expanduser("~/.cache/tarn-target/release/tarn"))
    parser.add_argument("--quotes", type=int, default=5_000_000)
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--tickers", type=int, default=100)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        generate(data, args.quotes, args.trades, args.tickers)
        con = duckdb.connect()
        con.sql(f"SET threads = {args.threads}")
        print(f"ASOF JOIN, {args.quotes} quotes, {args.trades} trades, {args.tickers} tickers, "
              f"{args.threads} threads, DuckDB {duckdb.__version__}, fastest of {args.repeat}")
        print(f"{'query':>6}  {'tarn s':>8}  {'duckdb s':>8}  {'ratio':>6}  result")
        failed = False
        for name, sql in QUERIES.items():
            sql = sql.format(d=data)
            tarn_s, duck_s, tarn_row, duck, agree = race(
                args.tarn, con, sql, args.threads, args.repeat
            )
            failed |= not agree
            print(f"{name:>6}  {tarn_s:8.3f}  {duck_s:8.3f}  {tarn_s / duck_s:6.2f}  "
                  f"{'ok' if agree else f'DIFFERS: tarn {tarn_row}, duckdb {duck}'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
