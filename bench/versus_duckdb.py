"""One query timed through `tarn sql` and through DuckDB, for the bench scripts whose queries
give one row: the fastest of `repeat` runs of each, and whether the two rows agree.

The scripts run as `python3 bench/<name>/run.py` and import this from the folder above theirs.
"""

import subprocess
import time


def best(run, repeat: int):
    """The fastest time of `repeat` calls of `run`, and what the last call returned."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def race(tarn: str, con, sql: str, threads: int, repeat: int):
    """`sql` in both engines (DuckDB through `con`, set to the same threads): the two times,
    Tarn's row as CSV text, DuckDB's row, and whether they are the same."""
    duck_s, duck = best(lambda: con.sql(sql).fetchall()[0], repeat)
    command = [tarn, "sql", "--mode", "csv", "--threads", str(threads), "-c", sql]
    tarn_s, out = best(
        lambda: subprocess.run(command, check=True, capture_output=True, text=True).stdout,
        repeat,
    )
    tarn_row = out.strip().splitlines()[-1]
    return tarn_s, duck_s, tarn_row, duck, tarn_row == ",".join(str(v) for v in duck)
