"""The Python package end to end, on Parquet files the tests write: Smallpond's API and behaviour."""

import os
import socket

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tarn
import tarn as smallpond


@pytest.fixture
def data(tmp_path):
    """Two Parquet files of prices: 60 rows, 6 tickers, and an `id` column 0..59."""
    folder = tmp_path / "prices"
    folder.mkdir()
    tickers = ["AAPL", "MSFT", "GOOG", "AMZN", "META", "NVDA"]
    rows = [{"id": i, "ticker": tickers[i % 6], "price": float(100 + (i * 37) % 53)} for i in range(60)]
    pq.write_table(pa.Table.from_pylist(rows[:25]), folder / "a.parquet")
    pq.write_table(pa.Table.from_pylist(rows[25:]), folder / "b.parquet")
    return tmp_path


@pytest.fixture
def sp(data):
    return tarn.init(data_root=str(data / "jobs"), num_executors=2)


def test_the_smallpond_readme_script_gives_duckdbs_rows(data):
    sp = smallpond.init(data_root=str(data / "jobs"))
    df = sp.read_parquet(str(data / "prices" / "*.parquet"))
    df = df.repartition(3, hash_by="ticker")
    df = sp.partial_sql("SELECT ticker, min(price), max(price) FROM {0} GROUP BY ticker", df)
    df.write_parquet(str(data / "output"))
    got = df.to_pandas().sort_values("ticker").reset_index(drop=True)

    expected = duckdb.sql(
        f"SELECT ticker, min(price), max(price) FROM '{data}/prices/*.parquet' GROUP BY ticker ORDER BY ticker"
    ).df()
    assert list(got.columns) == ["ticker", "min(price)", "max(price)"]
    assert got.values.tolist() == expected.values.tolist()
    assert os.path.exists(data / "output" / ".MANIFEST")
    written = duckdb.sql(f"SELECT count(*) FROM '{data}/output/*.parquet'").fetchall()[0][0]
    assert written == 6


def test_hash_partitioning_adds_the_partition_column(sp, data):
    df = sp.read_parquet(str(data / "prices")).repartition(4, hash_by="ticker")
    assert df.num_partitions == 4
    per_partition = df.map("min(__data_partition__) AS lo, max(__data_partition__) AS hi, count(*) AS n").to_arrow()
    for index, row in enumerate(per_partition.to_pylist()):
        if row["n"]:
            assert row["lo"] == row["hi"] == index
    assert sum(per_partition.column("n").to_pylist()) == 60


def test_partition_by_value_and_out_of_range_keys(sp, data):
    df = sp.read_parquet(str(data / "prices")).map("id, id % 3 AS bucket")
    counts = df.repartition(3, by="bucket").map("min(bucket) AS b, count(*) AS n").take_all()
    assert counts == [{"b": 0, "n": 20}, {"b": 1, "n": 20}, {"b": 2, "n": 20}]
    with pytest.raises(ValueError, match=r"partition key 2 is out of range 0-1"):
        df.repartition(2, by="bucket").compute()


def test_partition_by_expert_spreads_a_hot_expert(sp, data):
    # Expert 0 takes half the rows (30 of 60); experts 1-5 share the rest.
    df = sp.read_parquet(str(data / "prices")).map("id, CASE WHEN id < 30 THEN 0 ELSE id % 5 + 1 END AS expert")
    counts = df.repartition(3, by_expert="expert", expert_slots=3).map("count(*) AS n").to_arrow()
    counts = counts.column("n").to_pylist()
    assert sum(counts) == 60 and max(counts) <= 24, counts
    with pytest.raises(ValueError, match="by_expert alone"):
        df.repartition(3, by="expert", by_expert="expert")


def test_near_duplicates_keep_one_row_per_cluster_in_each_partition(sp, data):
    # One direction per ticker (a one-hot vector), with a small extra coordinate on two rows in
    # three: six clusters in all, kept whole by partitioning on the ticker.
    tickers = ["AAPL", "MSFT", "GOOG", "AMZN", "META", "NVDA"]
    one_hot = ", ".join(f"(ticker = '{t}')::DOUBLE" for t in tickers)
    df = sp.read_parquet(str(data / "prices")).map(f"id, ticker, [{one_hot}, (id % 3) * 0.001] AS v")
    unique = df.repartition(3, hash_by="ticker").near_duplicates("v", 0.999)
    rows = unique.to_pandas()
    assert sorted(rows["ticker"]) == ["AAPL", "AMZN", "GOOG", "META", "MSFT", "NVDA"]
    with pytest.raises(ValueError, match="threshold must be a cosine similarity"):
        df.near_duplicates("v", 2.0)


def test_plain_repartition_splits_by_files_and_pads_with_empty_partitions(sp, data):
    df = sp.read_parquet(str(data / "prices")).repartition(4)
    counts = df.map("count(*) AS c").to_arrow().column("c").to_pylist()
    assert counts == [25, 0, 35, 0] or sorted(counts) == [0, 0, 25, 35]
    assert df.to_arrow().schema.names == ["id", "ticker", "price"]
    rows = sp.read_parquet(str(data / "prices")).repartition(4, by_rows=True).map("count(*) AS c").to_arrow()
    assert sorted(rows.column("c").to_pylist()) == [15, 15, 15, 15]


def test_sql_and_callable_map_filter_flat_map(sp, data):
    df = sp.read_parquet(str(data / "prices"))
    assert df.filter("price > 140").count() == sum(1 for i in range(60) if 100 + (i * 37) % 53 > 140)
    assert df.filter(lambda row: row["ticker"] == "AAPL").count() == 10
    doubled = df.map(lambda row: {"id": row["id"], "twice": row["price"] * 2}).to_pandas()
    assert list(doubled.columns) == ["id", "twice"]
    assert doubled["twice"].sum() == pytest.approx(2 * df.to_pandas()["price"].sum())
    schema = pa.schema([("id", pa.int64()), ("copy", pa.int32())])
    copies = df.flat_map(lambda row: [{"id": row["id"], "copy": c} for c in range(3)], schema=schema)
    assert copies.count() == 180
    assert copies.to_arrow().schema == schema


def test_map_batches_gets_pyarrow_tables_of_the_batch_size(sp, data):
    sizes = []

    def add_one(table: pa.Table) -> pa.Table:
        sizes.append(table.num_rows)
        return table.set_column(2, "price", pa.compute.add(table.column("price"), 1.0))

    df = sp.read_parquet(str(data / "prices")).map_batches(add_one, batch_size=7)
    total = df.to_pandas()["price"].sum()
    assert total == pytest.approx(sum(100 + (i * 37) % 53 for i in range(60)) + 60)
    assert max(sizes) == 7 and sum(sizes) == 60


def test_a_python_exception_keeps_its_type_and_names_the_partition(sp, data):
    df = sp.read_parquet(str(data / "prices")).repartition(2)
    with pytest.raises(ZeroDivisionError, match=r"division by zero \(in partition \d"):
        df.map(lambda row: {"x": 1 / 0}).compute()

    def bad(table):
        raise KeyError("no such column")

    with pytest.raises(KeyError, match="in partition"):
        df.map_batches(bad).count()
    with pytest.raises(TypeError, match="must return a pyarrow.Table"):
        df.map_batches(lambda table: 42).count()


def test_actions(sp, data):
    df = sp.read_parquet(str(data / "prices")).partial_sort("id")
    assert not df.is_computed()
    assert df.count() == 60
    assert df.is_computed()
    first = df.take(3)
    assert [row["id"] for row in first] == [0, 1, 2]
    assert len(df.take_all()) == 60
    assert isinstance(df.to_pandas(), pd.DataFrame)
    df.recompute()
    assert not df.is_computed()
    lazy = df.write_parquet_lazy(str(data / "lazy"))
    assert not lazy.is_computed()
    lazy.compute()
    assert lazy.is_computed() and os.path.exists(data / "lazy" / ".MANIFEST")
    assert df.limit(5).count() == 5
    shuffled = df.repartition(2).random_shuffle().to_pandas()
    assert sorted(shuffled["id"]) == list(range(60))
    assert "Task graph" in df.explain()


def test_sources(sp, data):
    items = sp.from_items([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    assert items.take_all() == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert sp.from_items([1, 2, 3]).map("sum(item) AS s").take_all() == [{"s": 6}]
    frame = pd.DataFrame({"k": [3, 1, 2]})
    assert sp.from_pandas(frame).partial_sort("k").to_pandas()["k"].tolist() == [1, 2, 3]
    assert sp.from_arrow(pa.table({"v": [1.5]})).count() == 1

    (data / "a.csv").write_text("k;name\n1;x\n2;y\n")
    csv = sp.read_csv(str(data / "a.csv"), schema={"k": "BIGINT", "name": "VARCHAR"}, delim=";")
    assert csv.take_all() == [{"k": 1, "name": "x"}, {"k": 2, "name": "y"}]
    (data / "a.json").write_text('{"k": 1}\n{"k": 2}\n')
    assert sp.read_json(str(data / "a.json"), schema={"k": "INTEGER"}).map("sum(k) AS s").take_all() == [{"s": 3}]

    narrow = sp.read_parquet([str(data / "prices" / "a.parquet")], columns=["price", "id"])
    assert narrow.to_arrow().schema.names == ["price", "id"]
    with pytest.raises(OSError, match="no files found that match"):
        sp.read_parquet(str(data / "missing" / "*.parquet"))
    with pytest.raises(ValueError, match="column 'nope' not found"):
        sp.read_parquet(str(data / "prices"), columns=["nope"])


def test_partial_sql_over_two_inputs_and_bad_sql(sp, data):
    prices = sp.read_parquet(str(data / "prices")).repartition(3, hash_by="ticker")
    names = sp.from_items([{"ticker": "AAPL", "name": "Apple"}, {"ticker": "MSFT", "name": "Microsoft"}])
    joined = sp.partial_sql("SELECT name, count(*) AS n FROM {0} JOIN {1} USING (ticker) GROUP BY name", prices, names)
    assert sorted((r["name"], r["n"]) for r in joined.take_all()) == [("Apple", 10), ("Microsoft", 10)]
    with pytest.raises(ValueError, match="no_such_column"):
        prices.filter("no_such_column > 1")
    with pytest.raises(ValueError, match="same number of partitions"):
        sp.partial_sql("SELECT * FROM {0}, {1}", prices, prices.repartition(2))


def test_session_sql_and_settings(sp, data, monkeypatch):
    table = sp.sql(f"SELECT count(*) AS n FROM '{data}/prices/*.parquet'")
    assert table.to_pylist() == [{"n": 60}]
    assert sp.sql("SELECT 1 AS x WHERE false").schema.names == ["x"]
    monkeypatch.setenv("TARN_DATA_ROOT", str(data / "from-env"))
    session = tarn.init(data_root=str(data / "from-argument"), job_id="job-7")
    assert session.data_root == str(data / "from-env")
    assert session.job_id == "job-7"
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with pytest.raises(Exception, match=f"cannot reach the cluster scheduler at df://127.0.0.1:{port}"):
        tarn.init(cluster=f"df://127.0.0.1:{port}")
    with pytest.raises(ValueError, match="unknown setting 'colour'"):
        tarn.init(colour="blue")


def test_a_job_keeps_its_data_in_an_object_store(data):
    """`data_root` may be an object-store URL: the job's shuffle files and records are objects,
    and a second run of the same job finds its tasks done there."""
    root = f"memory://py-{os.getpid()}/jobs"

    def run():
        sp = tarn.init(data_root=root, job_id="in-store", num_executors=2)
        df = sp.read_parquet(str(data / "prices" / "*.parquet")).repartition(3, hash_by="ticker")
        return sp.partial_sql("SELECT ticker, count(*) AS n FROM {0} GROUP BY ticker", df)

    first = run()
    assert sorted(first.to_arrow().column("n").to_pylist()) == [10] * 6
    assert first.is_computed()
    again = run()
    assert again.is_computed(), "the records of the first run are in the store"
    again.write_parquet(str(data / "from-store"))
    assert duckdb.sql(f"SELECT sum(n) FROM '{data}/from-store/*.parquet'").fetchall() == [(60,)]
    assert not (data / "jobs").exists()
