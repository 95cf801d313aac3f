#!/usr/bin/env python3
"""What a PRIMARY KEY costs an INSERT, through `tarn sql` and through DuckDB in one run.

Each workload is a script that makes a table and fills it; it runs on a table with a primary
key and on the same table without one, in Tarn and in DuckDB (fresh each run), and both
engines' last rows must agree. Printed: the times, Tarn's keyed/free ratio (what checking the
key costs) and Tarn's keyed time over DuckDB's.

    python3 bench/keys/run.py --tarn ~/.cache/tarn-release/release/tarn
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


def workloads(rows: int, singles: int) -> dict:
    """Name -> (script with {key} where the key goes); each script's last statement gives one row."""
    create = "CREATE TABLE t (a BIGINT{key}, b VARCHAR);\n"
    bulk = f"INSERT INTO t SELECT range, 'row ' || range FROM range({rows});\n"
    upsert = (
        f"INSERT INTO t SELECT range * 2, 'new' FROM range({rows // 10}) "
        "ON CONFLICT DO UPDATE SET b = excluded.b;\n"
    )
    return {
        "bulk insert": create + bulk + "SELECT count(*), max(a) FROM t;",
        "upsert 10%": create + bulk + upsert + "SELECT count(*), count(*) FILTER (b = 'new') FROM t;",
        "row at a time": create
        + "".join(f"INSERT INTO t VALUES ({i}, 'row {i}');\n" for i in range(singles))
        + "SELECT count(*), max(a) FROM t;",
    }


def run_tarn(tarn: str, script: Path, threads: int) -> str:
    command = [tarn, "sql", "--mode", "csv", "--threads", str(threads), "-f", str(script)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


def run_duckdb(script: str, threads: int) -> str:
    con = duckdb.connect()
    con.sql(f"SET threads = {threads}")
    statements = [s for s in script.split(";\n") if s.strip()]
    for statement in statements[:-1]:
        con.execute(statement)
    return ",".join(str(v) for v in con.sql(statements[-1]).fetchall()[0])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tarn", default=os.path.expanduser("~/.cache/tarn-target/release/tarn"))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--singles", type=int, default=5_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    failed = 0
    print(f"{'workload':>14} {'keyed s':>8} {'free s':>8} {'key cost':>8} {'duckdb s':>9} {'vs duckdb':>9}  result")
    with tempfile.TemporaryDirectory() as folder:
        for name, template in workloads(args.rows, args.singles).items():
            times = {}
            for kind, key in [("keyed", " PRIMARY KEY"), ("free", "")]:
                if "ON CONFLICT" in template and kind == "free":
                    continue
                script = Path(folder) / f"{kind}.sql"
                script.write_text(template.format(key=key))
                times[kind] = best(lambda: run_tarn(args.tarn, script, args.threads), args.repeat)
            keyed_script = template.format(key=" PRIMARY KEY")
            duck_s, duck_row = best(lambda: run_duckdb(keyed_script, args.threads), args.repeat)
            keyed_s, tarn_row = times["keyed"]
            same = tarn_row == duck_row
            failed += not same
            free = times.get("free")
            free_s = f"{free[0]:8.3f}" if free else f"{'-':>8}"
            cost = f"{keyed_s / free[0]:8.2f}" if free else f"{'-':>8}"
            verdict = "ok" if same else f"DIFFER tarn {tarn_row} duckdb {duck_row}"
            print(
                f"{name:>14} {keyed_s:8.3f} {free_s} {cost} {duck_s:9.3f} "
                f"{keyed_s / duck_s:9.2f}  {verdict}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
