#!/usr/bin/env python3
"""Smallpond's hash-partition job through tarn, DuckDB alone and Smallpond, in one run.

The job: TPC-H `lineitem` → repartition into 8 by `l_orderkey` → per partition
`GROUP BY l_orderkey` → write Parquet. DuckDB runs the same aggregate as one query (no
framework, no shuffle): the floor. Smallpond 0.15 runs in its own virtual environment (it pins
duckdb 1.2.2 and pandas < 3, and starts a local Ray), made on first use:

    python3 bench/partition/run.py --scale 1 --tarn target/release/tarn

tarn runs twice: the `tarn run` binary and the Python package (`tarn-py`, installed with
`pip install ./python-bindings`). Times are wall-clock times of each engine's whole process
(start-up, Ray included), and each output is checked: the same number of groups and the same
total quantity.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PARTITIONS = 8
AGGREGATE = (
    "SELECT l_orderkey, sum(l_quantity) AS quantity, sum(l_extendedprice) AS price, "
    "count(*) AS items FROM {0} GROUP BY l_orderkey"
)
SMALLPOND_VENV = Path.home() / ".cache" / "smallpond-venv"
SMALLPOND_PACKAGES = ["smallpond==0.15.0", "duckdb==1.2.2", "pandas<3"]


def lineitem(scale: str, data_root: Path) -> Path:
    out = data_root / f"sf{scale}"
    path = out / "lineitem.parquet"
    if not path.exists():
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["tpchgen-cli", "parquet", "-s", scale, "--tables", "lineitem", f"--output-dir={out}"],
            check=True,
        )
    return path


def timed(command, **kwargs) -> float:
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, **kwargs)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{command[0]} failed:\n{proc.stderr[-3000:]}")
    return elapsed


def run_tarn(tarn: str, source: Path, out: Path, work: Path, threads: int) -> float:
    pipeline = work / "partition.sql"
    pipeline.write_text(
        f"CREATE STAGE items AS read_parquet('{source}');\n"
        f"CREATE STAGE parts AS repartition(items, {PARTITIONS}, hash_by => 'l_orderkey');\n"
        f"CREATE STAGE totals AS partial_sql('{AGGREGATE}', parts);\n"
        f"COPY totals TO '{out}' (FORMAT parquet);\n"
    )
    env = dict(os.environ, TARN_THREADS=str(threads), TARN_CONCURRENCY=str(threads))
    return timed([tarn, "run", str(pipeline), "--data-root", str(work / "tarn-data")], env=env)


def run_tarn_python(source: Path, out: Path, work: Path, threads: int) -> float:
    """The same job through the Python package (`pip install ./python-bindings`)."""
    script = textwrap.dedent(
        f"""
        import tarn
        sp = tarn.init(data_root="{work / 'tarn-py-data'}", num_executors={threads})
        items = sp.read_parquet("{source}")
        parts = items.repartition({PARTITIONS}, hash_by="l_orderkey")
        totals = sp.partial_sql("{AGGREGATE}", parts)
        totals.write_parquet("{out}")
        """
    )
    env = dict(os.environ, TARN_THREADS=str(threads))
    return timed([sys.executable, "-c", script], env=env)


def run_duckdb(source: Path, out: Path, threads: int) -> float:
    script = textwrap.dedent(
        f"""
        import duckdb
        con = duckdb.connect()
        con.execute("SET threads = {threads}")
        query = "{AGGREGATE}".replace("{{0}}", "'{source}'")
        con.execute(f"COPY ({{query}}) TO '{out}' (FORMAT parquet, PER_THREAD_OUTPUT)")
        """
    )
    return timed([sys.executable, "-c", script])


def smallpond_python() -> str:
    python = SMALLPOND_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(SMALLPOND_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *SMALLPOND_PACKAGES], check=True)
    return str(python)


def run_smallpond(source: Path, out: Path, work: Path, threads: int) -> float:
    script = textwrap.dedent(
        f"""
        import smallpond
        # num_executors=0 (the default) runs Ray on this machine's cores; a positive count
        # launches separate executor processes, which never received tasks here.
        sp = smallpond.init(data_root="{work / 'smallpond-data'}")
        items = sp.read_parquet("{source}")
        parts = items.repartition({PARTITIONS}, hash_by="l_orderkey")
        totals = sp.partial_sql("{AGGREGATE}", parts)
        totals.write_parquet("{out}")
        sp.shutdown()
        """
    )
    return timed([smallpond_python(), "-c", script], cwd=work)


def check(out: Path):
    """(groups, total quantity) of a written folder, read with DuckDB."""
    import duckdb

    files = [str(p) for p in out.rglob("*.parquet")]
    row = duckdb.connect().execute(
        "SELECT count(*), sum(quantity) FROM read_parquet(?)", [files]
    ).fetchone()
    return int(row[0]), float(row[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="1")
    parser.add_argument("--tarn", default=str(ROOT / "target" / "release" / "tarn"))
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--data", default=str(ROOT / "bench" / "tpch" / "data"))
    parser.add_argument("--skip-smallpond", action="store_true")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each engine this many times, interleaved, and keep its fastest")
    args = parser.parse_args()

    source = lineitem(args.scale, Path(args.data))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        runs = [
            ("tarn", lambda out: run_tarn(args.tarn, source, out, work, args.threads)),
            ("tarn-py", lambda out: run_tarn_python(source, out, work, args.threads)),
            ("duckdb", lambda out: run_duckdb(source, out, args.threads)),
        ]
        if not args.skip_smallpond:
            runs.append(("smallpond", lambda out: run_smallpond(source, out, work, args.threads)))
        # Rounds rather than one engine's runs in a row, so that a slow spell of a shared
        # machine falls on every engine alike.
        for round_number in range(args.repeat):
            for name, run in runs:
                out = work / f"out-{name}-{round_number}"
                seconds = run(out)
                best = results.get(name, (float("inf"), None))[0]
                results[name] = (min(seconds, best), check(out))
                shutil.rmtree(out, ignore_errors=True)

    expected = results["duckdb"][1]
    tarn_seconds = results["tarn"][0]
    fastest = f", fastest of {args.repeat}" if args.repeat > 1 else ""
    print(f"hash partition job, TPC-H SF{args.scale} lineitem, {PARTITIONS} partitions, {args.threads} threads{fastest}")
    print(f"{'engine':<10} {'seconds':>8} {'groups':>10} {'time / tarn':>12}")
    failed = False
    for name, (seconds, found) in results.items():
        ok = found[0] == expected[0] and abs(found[1] - expected[1]) <= 1e-6 * abs(expected[1])
        failed |= not ok
        verdict = "" if ok else "  RESULT DIFFERS"
        print(f"{name:<10} {seconds:>8.2f} {found[0]:>10} {seconds / tarn_seconds:>12.2f}{verdict}")
    print(f"tarn / duckdb = {tarn_seconds / results['duckdb'][0]:.2f} (target <= 1.5)")
    if "smallpond" in results:
        print(f"smallpond / tarn = {results['smallpond'][0] / tarn_seconds:.2f} (target >= 5)")
        print(f"smallpond / tarn-py = {results['smallpond'][0] / results['tarn-py'][0]:.2f} (target >= 5)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
