#!/usr/bin/env python3
"""The cost of going distributed: TPC-H through the embedded engine, then through a Ballista
cluster of one scheduler and 1, then 2 executors on this machine, in one run.

Every configuration gets the same cores: the embedded run uses all of them as threads, a
cluster of N executors gives each cores/N task slots. Times are the statements' own run times
(tarn's `.timer`), summed over the queries; each query's result is compared with the embedded
run's (floats to 1e-6 relative).

    python3 bench/cluster/run.py --scale 1 --tarn ~/.cache/tarn-release/release/tarn
"""

import argparse
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("tpch", HERE.parent / "tpch" / "run.py")
tpch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tpch)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A scheduler and `executors` executors as `tarn cluster` processes; stopped on exit."""

    def __init__(self, tarn: str, executors: int, slots: int, logs: Path):
        self.tarn, self.processes = tarn, []
        port = free_port()
        self.url = f"df://127.0.0.1:{port}"
        try:
            self.start(port, executors, slots, logs)
        except BaseException:
            self.__exit__()
            raise

    def start(self, port: int, executors: int, slots: int, logs: Path):
        self.spawn(logs / "scheduler.log", ["cluster", "scheduler", "--bind", f"127.0.0.1:{port}"])
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("the scheduler did not start: " + (logs / "scheduler.log").read_text())
                time.sleep(0.05)
        for i in range(executors):
            self.spawn(logs / f"executor{i}.log", [
                "cluster", "executor", "--scheduler", f"127.0.0.1:{port}",
                "--bind", f"127.0.0.1:{free_port()}", "--grpc-port", str(free_port()),
                "--concurrency", str(slots), "--work-dir", str(logs / f"executor{i}"),
            ])
        while True:
            status = subprocess.run([self.tarn, "cluster", "status", self.url], capture_output=True, text=True)
            if status.stdout.startswith(f"{executors} executor(s)"):
                break
            if time.time() > deadline:
                raise RuntimeError(f"executors did not register: {status.stderr}")
            time.sleep(0.2)

    def spawn(self, log: Path, args):
        with open(log, "w") as out:
            self.processes.append(
                subprocess.Popen([self.tarn, *args], stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)
            )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.processes:
            p.kill()
            p.wait()


def run_all(tarn, setup, numbers, threads, cluster=None):
    """Per-query seconds and rows; `cluster` adds `--cluster URL` to every run."""
    results = {}
    for n in numbers:
        query = tpch.HERE / "queries" / f"q{n}.sql"
        args = ["--cluster", cluster] if cluster else []
        results[n] = tpch.run_tarn(tarn, setup, query, threads, 1, extra_args=args)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="1")
    parser.add_argument("--tarn", default=os.environ.get("TARN_BIN", "tarn"))
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--data", type=Path, default=tpch.HERE / "data")
    parser.add_argument("--queries", default="1-22")
    parser.add_argument("--executors", default="1,2", help="cluster sizes to run, e.g. 1,2")
    args = parser.parse_args()

    numbers = []
    for part in args.queries.split(","):
        lo, _, hi = part.partition("-")
        numbers.extend(range(int(lo), int(hi or lo) + 1))
    setup = tpch.views(tpch.generate(args.scale, args.data))

    columns = [("embedded", None)] + [(f"{n} exec", int(n)) for n in args.executors.split(",")]
    runs = {"embedded": run_all(args.tarn, setup, numbers, args.cores)}
    with tempfile.TemporaryDirectory(prefix="tarn-cluster-bench-") as logs:
        for name, executors in columns[1:]:
            folder = Path(logs) / name.replace(" ", "-")
            folder.mkdir()
            slots = max(1, args.cores // executors)
            with Cluster(args.tarn, executors, slots, folder) as cluster:
                runs[name] = run_all(args.tarn, setup, numbers, args.cores, cluster.url)

    print(f"TPC-H SF{args.scale}, {args.cores} cores per configuration (a cluster of N executors: "
          f"cores/N task slots each)")
    print(f"{'query':>5} " + " ".join(f"{name:>10}" for name, _ in columns) + "  result")
    totals = {name: 0.0 for name, _ in columns}
    different = 0
    for n in numbers:
        base_rows = runs["embedded"][n][1]
        cells, problems = [], []
        for name, _ in columns:
            seconds, rows = runs[name][n]
            totals[name] += seconds
            cells.append(f"{seconds:10.3f}")
            if name != "embedded" and rows != base_rows:
                problem = tpch.compare(rows, base_rows)
                if problem:
                    problems.append(f"{name}: {problem}")
        different += bool(problems)
        print(f"{'Q' + str(n):>5} " + " ".join(cells) + "  " + ("; ".join(problems) or "same"))
    print(f"{'total':>5} " + " ".join(f"{totals[name]:10.3f}" for name, _ in columns))
    print(f"{'ratio':>5} " + " ".join(f"{totals[name] / totals['embedded']:10.2f}" for name, _ in columns))
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
