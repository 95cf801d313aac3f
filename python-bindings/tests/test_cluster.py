"""Cluster mode from Python: `tarn.init(cluster=...)` against a scheduler and an executor started
as `tarn cluster` processes on loopback, with the same results as the in-process run."""

import importlib.util
import os
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tarn


def tarn_binary() -> str:
    """TARN_BIN, else the test build's binary, else `tarn` on PATH."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache" / "tarn-target"))
    for candidate in (os.environ.get("TARN_BIN"), target / "debug" / "tarn", shutil.which("tarn")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    pytest.fail("no tarn binary: build it (cargo build -p tarn-cli) or set TARN_BIN")


def cluster_harness():
    """bench/cluster/run.py's `Cluster`: `tarn cluster` processes on loopback, stopped on exit."""
    path = Path(__file__).resolve().parents[2] / "bench" / "cluster" / "run.py"
    spec = importlib.util.spec_from_file_location("cluster_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Cluster


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and one executor with two task slots."""
    logs = tmp_path / "cluster"
    logs.mkdir()
    with cluster_harness()(tarn_binary(), executors=1, slots=2, logs=logs) as running:
        yield running.url


def test_a_job_and_sql_on_the_cluster_match_the_local_run(cluster, tmp_path):
    rows = [{"id": i, "ticker": ["AAPL", "MSFT", "GOOG"][i % 3], "price": float(i % 17)} for i in range(300)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "prices.parquet")

    def job(session):
        df = session.read_parquet(str(tmp_path / "prices.parquet")).repartition(4, hash_by="ticker")
        df = session.partial_sql("SELECT ticker, count(*) AS n, sum(price) AS total FROM {0} GROUP BY ticker", df)
        return sorted(df.to_arrow().to_pylist(), key=lambda r: r["ticker"])

    local = job(tarn.init(data_root=str(tmp_path / "local")))
    remote = tarn.init(data_root=str(tmp_path / "shared"), cluster=cluster)
    assert job(remote) == local
    assert len(local) == 3 and sum(r["n"] for r in local) == 300

    query = f"SELECT ticker, max(price) AS top FROM '{tmp_path}/prices.parquet' GROUP BY ticker ORDER BY ticker"
    expected = duckdb.sql(query).fetchall()
    assert [tuple(r.values()) for r in remote.sql(query).to_pylist()] == expected
