#!/usr/bin/env python3
"""Two tarn builds (or one build with and without a setting) on the same TPC-H queries.

Runs A and B in turn, each `--rounds` times per query (a process per round, the faster of two
runs in it, so the first run's cold caches do not count), and keeps each side's fastest, so that
the machine's drift over minutes falls on both sides alike; prints per-query times and B/A.
Identical binaries differ by up to ±6% per query on the 2-core development machine, so read the
total and repeat a query before trusting one ratio.

    python3 bench/tpch/ab.py --a /tmp/tarn-before --b target/release/tarn --scale 1
    python3 bench/tpch/ab.py --a target/release/tarn --b target/release/tarn \\
        --b-set datafusion.execution.batch_size=4096 --queries 1,6
"""

import argparse
import os
import sys
from pathlib import Path

from run import HERE, generate, query_numbers, run_tarn, settings, views


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="the baseline tarn binary")
    parser.add_argument("--b", required=True, help="the tarn binary measured against it")
    parser.add_argument("--a-set", action="append", default=[], metavar="NAME=VALUE", help="a setting for A")
    parser.add_argument("--b-set", action="append", default=[], metavar="NAME=VALUE", help="a setting for B")
    parser.add_argument("--scale", default="1")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--queries", default="1-22", help="e.g. 1-22 or 1,3,18")
    parser.add_argument("--rounds", type=int, default=3, help="alternations per query")
    args = parser.parse_args()

    tables = views(generate(args.scale, args.data))
    sides = [
        (args.a, settings(args.a_set) + tables),
        (args.b, settings(args.b_set) + tables),
    ]
    print(f"TPC-H SF{args.scale}, {args.threads} threads, fastest of {args.rounds} alternations")
    print(f"{'query':>5} {'A s':>8} {'B s':>8} {'B/A':>6}")
    total_a = total_b = 0.0
    for n in query_numbers(args.queries):
        query = HERE / "queries" / f"q{n}.sql"
        best = [float("inf"), float("inf")]
        for _ in range(args.rounds):
            for side, (tarn, setup) in enumerate(sides):
                seconds, _ = run_tarn(tarn, setup, query, args.threads, 2)
                best[side] = min(best[side], seconds)
        total_a += best[0]
        total_b += best[1]
        print(f"{'Q' + str(n):>5} {best[0]:8.3f} {best[1]:8.3f} {best[1] / best[0]:6.3f}", flush=True)
    print(f"{'total':>5} {total_a:8.3f} {total_b:8.3f} {total_b / total_a:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
