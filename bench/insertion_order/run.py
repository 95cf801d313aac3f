#!/usr/bin/env python3
"""What keeping insertion order costs: each query through `tarn sql` with
`preserve_insertion_order` on (the default) and off, and through DuckDB, in one run.

Writes `docs` (id ascending in file order, lang, score, text: --rows rows) with DuckDB, then
times the queries whose answer depends on the order rows are read in, each with the same
thread count, and checks that Tarn with order kept gives DuckDB's answer:

* export: a filtered COPY to Parquet, checked by reading the copy back in file order;
* limit: the first rows matching a rare condition, all near the end of the file;
* numbering: `row_number() OVER ()` over a filter, summed against the ids it numbers;
* rows: a filtered query printing all its rows (a third of the file) as CSV.

    python3 bench/insertion_order/run.py --tarn target/release/tarn
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from versus_duckdb import best  # noqa: E402

QUERIES = {
    "export": "COPY (SELECT * FROM '{d}/docs.parquet' WHERE score < 0.3) TO '{out}' (FORMAT parquet)",
    "limit": "SELECT id FROM '{d}/docs.parquet' WHERE text LIKE '%zz%' LIMIT 5",
    "numbering": "SELECT sum(r * id) FROM (SELECT id, row_number() OVER () AS r "
    "FROM '{d}/docs.parquet' WHERE lang = 'en')",
    "rows": "SELECT id, lang, score FROM '{d}/docs.parquet' WHERE score > 0.66",
}

# The copy's ids, read in file order, that are smaller than the one before: 0 when in order.
OUT_OF_ORDER = (
    "SELECT count(*) FROM (SELECT id, lag(id) OVER () AS before FROM '{out}') WHERE id < before"
)


def generate(data: Path, rows: int) -> None:
    # 'zz' appears only in the last 0.1% of the rows.
    duckdb.connect().sql(
        f"COPY (SELECT n AS id, ['en', 'de', 'fr', 'zh'][(n % 4) + 1] AS lang, "
        f"hash(n) % 1000 / 1000 AS score, "
        f"'doc ' || n || ' ' || md5(n::VARCHAR) || CASE WHEN n > {rows} * 0.999 THEN ' zz' ELSE '' END "
        f"AS text FROM range({rows}) AS r(n) ORDER BY n) TO '{data}/docs.parquet' (FORMAT parquet)"
    )


def tarn_run(tarn: str, sql: str, threads: int, keep_order: bool) -> str:
    setting = f"SET preserve_insertion_order = {str(keep_order).lower()}; "
    command = [tarn, "sql", "--mode", "csv", "--threads", str(threads), "-c", setting + sql]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def answer(name: str, output: str, con, out: Path) -> str:
    """What a query's answer is checked by: the copy's order, or the printed rows."""
    if name == "export":
        return str(con.sql(OUT_OF_ORDER.format(out=out)).fetchall()[0][0])
    lines = output.strip().splitlines()
    return "\n".join(lines[1:] if lines and not lines[0][0].isdigit() else lines)


def duck_rows(con, sql: str) -> str:
    return "\n".join(",".join(str(v) for v in row) for row in con.sql(sql).fetchall())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tarn", default=os.path.expanduser("~/.cache/tarn-target/release/tarn"))
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        generate(data, args.rows)
        con = duckdb.connect()
        con.sql(f"SET threads = {args.threads}")
        failed = 0
        print(f"{'query':>10} {'ordered s':>10} {'unordered s':>12} {'duckdb s':>9} "
              f"{'cost':>6} {'vs duckdb':>10}  result")
        for name, template in QUERIES.items():
            out = data / f"{name}.parquet"
            sql = template.format(d=data, out=out)

            def timed(keep_order: bool):
                out.unlink(missing_ok=True)
                return best(lambda: tarn_run(args.tarn, sql, args.threads, keep_order), 1)

            def repeated(keep_order: bool):
                runs = [timed(keep_order) for _ in range(args.repeat)]
                return min(t for t, _ in runs), runs[-1][1]

            unordered_s, _ = repeated(False)
            ordered_s, output = repeated(True)
            tarn_answer = answer(name, output, con, out)
            out.unlink(missing_ok=True)
            duck_s, duck_output = best(lambda: duck_rows(con, sql), args.repeat)
            duck_answer = answer(name, duck_output, con, out)
            same = tarn_answer == duck_answer
            failed += not same
            verdict = "ok" if same else "DIFFER from DuckDB"
            print(f"{name:>10} {ordered_s:10.3f} {unordered_s:12.3f} {duck_s:9.3f} "
                  f"{ordered_s / unordered_s:6.2f} {ordered_s / duck_s:10.2f}  {verdict}")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
