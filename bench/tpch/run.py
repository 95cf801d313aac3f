#!/usr/bin/env python3
"""TPC-H through `tarn sql` and through DuckDB in one run.

Generates the data with tpchgen-cli (Parquet), runs the 22 queries in queries/ through both
engines with the same thread count, prints per-query times and the tarn/DuckDB ratio, and with
--check compares every result (floats to 1e-6 relative) and exits non-zero on any difference.

    python3 bench/tpch/run.py --scale 0.1 --check      # the correctness test CI runs
    python3 bench/tpch/run.py --scale 1 --tarn target/release/tarn --repeat 3   # the speed figure
"""

import argparse
import datetime
import decimal
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TABLES = ["customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier"]


def generate(scale: str, data_root: Path) -> Path:
    out = data_root / f"sf{scale}"
    if all((out / f"{t}.parquet").exists() for t in TABLES):
        return out
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tpchgen-cli", "parquet", "-s", scale, f"--output-dir={out}"], check=True)
    return out


def views(data: Path) -> str:
    return "".join(f"CREATE VIEW {t} AS SELECT * FROM '{data}/{t}.parquet';\n" for t in TABLES)


def settings(assignments) -> str:
    """`SET` statements for `NAME=VALUE` assignments, to run before a tarn query."""
    return "".join(f"SET {assignment};\n" for assignment in assignments)


def query_numbers(spec: str) -> list:
    """The query numbers a list such as `1-22` or `1,3,18` names."""
    numbers = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        numbers.extend(range(int(lo), int(hi or lo) + 1))
    return numbers


def normalize(value):
    """One comparable form for both engines: numbers as floats, dates as ISO text."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, decimal.Decimal)):
        return float(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return str(value)


def run_tarn(tarn: str, setup: str, query_file: Path, threads: int, repeat: int, extra_args=()):
    """Returns (seconds, rows): the fastest of `repeat` runs in one process, each the summed
    statement times the shell's timer reports, as DuckDB's runs share one connection."""
    proc = subprocess.run(
        [tarn, "sql", *extra_args, "--mode", "jsonl", "--threads", str(threads), "-c", setup,
         "-c", ".timer on", *(["-c", query_file.read_text()] * repeat)],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "tarn failed")
    times = [float(m) for m in re.findall(r"Run Time \(s\): real ([0-9.]+)", proc.stderr)]
    per_run = len(times) // repeat
    seconds = min(sum(times[i * per_run:(i + 1) * per_run]) for i in range(repeat))
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    rows = [json.loads(line) for line in lines[:len(lines) // repeat]]
    return seconds, rows


def run_duckdb(con, query_file: Path):
    statements = [s for s in query_file.read_text().split(";") if s.strip()]
    start = time.perf_counter()
    result = None
    for statement in statements:
        cursor = con.execute(statement)
        if statement.strip().upper().startswith("SELECT"):
            columns = [d[0] for d in cursor.description]
            result = [dict(zip(columns, row)) for row in cursor.fetchall()]
    return time.perf_counter() - start, result


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    return a == b


def compare(tarn_rows, duck_rows):
    """None when equal, else a description of the first difference."""
    if len(tarn_rows) != len(duck_rows):
        return f"{len(tarn_rows)} rows vs DuckDB's {len(duck_rows)}"
    for i, (t, d) in enumerate(zip(tarn_rows, duck_rows)):
        t_values = [normalize(t.get(k)) for k in d.keys()]
        d_values = [normalize(v) for v in d.values()]
        if len(t) != len(d):
            return f"row {i}: columns {list(t)} vs {list(d)}"
        for column, tv, dv in zip(d.keys(), t_values, d_values):
            if not same(tv, dv):
                return f"row {i} column {column}: {tv!r} vs DuckDB's {dv!r}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="0.1")
    parser.add_argument("--tarn", default=os.environ.get("TARN_BIN", "tarn"))
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--check", action="store_true", help="compare results with DuckDB's")
    parser.add_argument("--queries", default="1-22", help="e.g. 1-22 or 1,3,18")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each query this many times in each engine and keep the fastest")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for tarn only, e.g. datafusion.execution.parquet.pushdown_filters=true")
    args = parser.parse_args()

    import duckdb  # imported late so --help works without it

    numbers = query_numbers(args.queries)

    data = generate(args.scale, args.data)
    setup = views(data)
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    con.execute(setup)
    tarn_setup = settings(args.set) + setup

    fastest = f", fastest of {args.repeat}" if args.repeat > 1 else ""
    print(f"TPC-H SF{args.scale}, {args.threads} threads, DuckDB {duckdb.__version__}{fastest}")
    print(f"{'query':>5} {'tarn s':>9} {'duckdb s':>9} {'ratio':>7}  result")
    passed = failed = 0
    total_tarn = total_duck = 0.0
    worst = (0.0, None)
    for n in numbers:
        query = HERE / "queries" / f"q{n}.sql"
        duck_runs = [run_duckdb(con, query) for _ in range(args.repeat)]
        duck_s, duck_rows = min(s for s, _ in duck_runs), duck_runs[0][1]
        try:
            tarn_s, tarn_rows = run_tarn(args.tarn, tarn_setup, query, args.threads, args.repeat)
            problem = compare(tarn_rows, duck_rows) if args.check else None
        except RuntimeError as err:
            tarn_s, problem = float("nan"), f"error: {err}"
        ratio = tarn_s / duck_s if duck_s > 0 else float("nan")
        if not math.isnan(ratio) and ratio > worst[0]:
            worst = (ratio, n)
        total_tarn += 0 if math.isnan(tarn_s) else tarn_s
        total_duck += duck_s
        status = "ok" if problem is None else f"DIFFERENT: {problem}"
        if args.check:
            passed += problem is None
            failed += problem is not None
        print(f"{'Q' + str(n):>5} {tarn_s:9.3f} {duck_s:9.3f} {ratio:7.2f}  {status}", flush=True)
    print(f"{'total':>5} {total_tarn:9.3f} {total_duck:9.3f} {total_tarn / total_duck:7.2f}  worst: Q{worst[1]} at {worst[0]:.2f}x")
    if args.check:
        print(f"tpch: {passed} passed, {failed} failed")
        return 1 if failed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
