"""Tarn: Smallpond's DataFrame API on a Rust engine, with no Ray to start.

A Smallpond script runs on Tarn by changing ``import smallpond`` to ``import tarn as smallpond``::

    import tarn as smallpond

    sp = smallpond.init()
    df = sp.read_parquet("prices.parquet")
    df = df.repartition(3, hash_by="ticker")
    df = sp.partial_sql("SELECT ticker, min(price), max(price) FROM {0} GROUP BY ticker", df)
    df.write_parquet("output/")
    print(df.to_pandas())

DataFrames are lazy: verbs build a DAG, actions (``compute``, ``count``, ``take``, ``to_arrow``,
``to_pandas``, ``write_parquet``) run it. Each partition is a task; ``num_executors`` tasks run
at once, in this process, and data moves between stages as Parquet files under
``data_root/job_id/``.

What runs in parallel: SQL (``partial_sql``, ``filter``/``map`` with SQL text, every
``repartition``) runs on the engine's threads without the GIL. A Python callable (``map``,
``filter`` or ``flat_map`` with a function, ``map_batches``) needs the GIL, so calls into Python
run one at a time while the engine keeps reading and writing around them. Every action releases
the GIL while it waits, so other Python threads keep running.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

import pyarrow as pa

from tarn import _tarn

__all__ = ["init", "Session", "DataFrame"]

#: Smallpond's default ``map_batches`` batch size.
DEFAULT_BATCH_SIZE = 122880


def init(
    job_id: Optional[str] = None,
    job_time: Optional[float] = None,
    job_name: Optional[str] = None,
    data_root: Optional[str] = None,
    num_executors: Optional[int] = None,
    cluster: Optional[str] = None,
    **kwargs: Any,
) -> "Session":
    """Starts a session, as ``smallpond.init`` does, without starting any service.

    ``job_id`` names the job (a new id by default; running a job id again skips the tasks that
    finished), ``data_root`` is where its files go (default ``~/.tarn/data``) and
    ``num_executors`` how many tasks run at once (default: the number of cores). Other Tarn
    settings (``memory_limit``, ``threads``, ``max_attempts``, ``temp_directory``) may be given as
    keyword arguments. The ``TARN_*`` environment variables win over the arguments.
    ``job_time`` and ``job_name`` are accepted for compatibility and recorded on the session.
    ``cluster="df://host:port"`` runs the session's SQL and its jobs' stages on a Ballista cluster
    started with ``tarn cluster scheduler`` and ``tarn cluster executor``; ``data_root`` must then
    be a folder every machine shares.
    """
    settings: Dict[str, Any] = dict(kwargs)
    if cluster is not None:
        settings["cluster"] = cluster
    if job_id is not None:
        settings["job_id"] = job_id
    if data_root is not None:
        settings["data_root"] = os.fspath(data_root)
    if num_executors is not None:
        settings["concurrency"] = num_executors
    native = _tarn.Session([(name, str(value)) for name, value in settings.items()])
    return Session(native, job_time=job_time, job_name=job_name)


class Session:
    """Where DataFrames are made; see :func:`init`."""

    def __init__(self, native: "_tarn.Session", job_time: Optional[float] = None, job_name: Optional[str] = None):
        self._native = native
        self.job_time = job_time
        self.job_name = job_name

    @property
    def job_id(self) -> str:
        """The job's id: its files are under ``data_root/job_id``."""
        return self._native.job_id

    @property
    def data_root(self) -> str:
        return self._native.data_root

    def read_parquet(
        self,
        paths: Union[str, Sequence[str]],
        recursive: bool = False,
        columns: Optional[List[str]] = None,
        union_by_name: bool = False,
    ) -> "DataFrame":
        """Parquet files (paths, globs or folders) as a one-partition DataFrame."""
        return DataFrame(self, self._native.read_parquet(_paths(paths), recursive, columns, union_by_name))

    def read_csv(self, paths: Union[str, Sequence[str]], schema: Optional[Dict[str, str]] = None, delim: str = ",") -> "DataFrame":
        """CSV files with a header; ``schema`` maps column names to DuckDB types (``{"a": "BIGINT"}``)."""
        return DataFrame(self, self._native.read_csv(_paths(paths), _schema(schema), delim))

    def read_json(self, paths: Union[str, Sequence[str]], schema: Optional[Dict[str, str]] = None) -> "DataFrame":
        """Newline-delimited JSON files; ``schema`` maps column names to DuckDB types."""
        return DataFrame(self, self._native.read_json(_paths(paths), _schema(schema)))

    def from_items(self, items: Iterable[Any]) -> "DataFrame":
        """A DataFrame from a list of dicts (or of plain values, as a column named ``item``)."""
        rows = [item if isinstance(item, dict) else {"item": item} for item in items]
        return self.from_arrow(pa.Table.from_pylist(rows))

    def from_pandas(self, df: Any) -> "DataFrame":
        """A DataFrame from a pandas DataFrame (through pyarrow)."""
        return self.from_arrow(pa.Table.from_pandas(df, preserve_index=False))

    def from_arrow(self, table: Union[pa.Table, pa.RecordBatch]) -> "DataFrame":
        """A DataFrame over an Arrow table; each record batch can become its own partition."""
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        return DataFrame(self, self._native.read_arrow(table))

    def partial_sql(self, query: str, *inputs: "DataFrame") -> "DataFrame":
        """DuckDB-dialect SQL run on each partition, reading the inputs as ``{0}``, ``{1}``, ...

        The inputs must have the same number of partitions, or one partition (read whole by every
        partition).
        """
        return DataFrame(self, self._native.partial_sql(query, [df._native for df in inputs]))

    def sql(self, query: str) -> pa.Table:
        """Runs statements through the DuckDB-like SQL front end (``FROM 'x.parquet'``, ``COPY``,
        ``SUMMARIZE``, ...) and returns the last one's rows."""
        return self._native.sql(query)

    def wait(self, *dfs: "DataFrame") -> None:
        """Computes every DataFrame given."""
        for df in dfs:
            df.compute()

    def shutdown(self) -> None:
        """Nothing to stop: no service runs. The job's files stay under ``data_root/job_id``."""


class DataFrame:
    """A lazy, partitioned table. Verbs return new DataFrames; actions run the job."""

    def __init__(self, session: Session, native: "_tarn.DataFrame"):
        self.session = session
        self._native = native

    def __repr__(self) -> str:
        return f"DataFrame(partitions={self.num_partitions})"

    @property
    def num_partitions(self) -> int:
        return self._native.num_partitions

    def _derive(self, native: "_tarn.DataFrame") -> "DataFrame":
        return DataFrame(self.session, native)

    # ---- verbs ----

    def repartition(
        self,
        npartitions: int,
        hash_by: Union[str, List[str], None] = None,
        by: Optional[str] = None,
        by_rows: bool = False,
        by_expert: Optional[str] = None,
        expert_slots: Optional[int] = None,
    ) -> "DataFrame":
        """Splits into ``npartitions``.

        Plain: by files, without moving data (extra partitions are empty but keep the schema).
        ``hash_by``: by a hash of the columns, adding ``__data_partition__``. ``by``: the column's
        value is the partition (a value outside ``0..npartitions-1`` fails with ``partition key X
        is out of range``). ``by_rows``: rows dealt out evenly. ``by_expert``: the column holds a
        MoE expert id (say, ``moe_route(...)['experts'][1]``); rows per expert are counted, EPLB
        gives each partition ``expert_slots`` experts (default: one more than an even share),
        replicating hot experts, and each expert's rows are dealt over its replicas.
        """
        if by_expert is not None:
            if hash_by is not None or by is not None or by_rows:
                raise ValueError("repartition takes by_expert alone")
            return self._derive(self._native.repartition_by_expert(npartitions, by_expert, expert_slots))
        if isinstance(hash_by, str):
            hash_by = [hash_by]
        return self._derive(self._native.repartition(npartitions, hash_by, by, by_rows))

    def repartition_range(self, npartitions: int, column: str, split_points: Optional[List[Any]] = None) -> "DataFrame":
        """Ranges of ``column``: between ``split_points`` (``npartitions - 1`` ascending values),
        or between quantiles of a sample when they are not given."""
        return self._derive(self._native.repartition_range(npartitions, column, split_points))

    def random_shuffle(self) -> "DataFrame":
        """Rows moved to random partitions, then shuffled within each."""
        return self._derive(self._native.random_shuffle())

    def partial_sort(self, by: Union[str, List[str]]) -> "DataFrame":
        """Each partition sorted by the columns (``"x DESC"`` works too)."""
        return self._derive(self._native.partial_sort([by] if isinstance(by, str) else list(by)))

    def near_duplicates(self, column: str, threshold: float) -> "DataFrame":
        """One row per cluster of near-duplicate vectors within each partition: rows whose
        vectors in ``column`` are joined by cosine similarities of at least ``threshold`` keep
        the one with the least vector (see ``near_duplicate`` in SQL)."""
        return self._derive(self._native.near_duplicates(column, threshold))

    def filter(self, sql_or_func: Union[str, Callable[[Dict[str, Any]], bool]]) -> "DataFrame":
        """Rows for which a SQL condition holds, or for which ``func(row_dict)`` is true."""
        if isinstance(sql_or_func, str):
            return self._derive(self._native.filter_sql(sql_or_func))
        func = sql_or_func

        def keep(table: pa.Table) -> pa.Table:
            mask = [bool(func(row)) for row in table.to_pylist()]
            return table.filter(pa.array(mask, type=pa.bool_()))

        return self.map_batches(keep)

    def map(
        self,
        sql_or_func: Union[str, Callable[[Dict[str, Any]], Dict[str, Any]]],
        *,
        schema: Optional[pa.Schema] = None,
    ) -> "DataFrame":
        """A new select list per partition (``"a + b AS c"``; ``"count(*) AS c"`` gives one row
        per partition), or ``func(row_dict) -> dict`` per row with an optional result schema."""
        if isinstance(sql_or_func, str):
            return self._derive(self._native.map_sql(sql_or_func))
        func = sql_or_func
        return self.map_batches(lambda table: _rows_to_table([func(row) for row in table.to_pylist()], schema))

    def flat_map(
        self,
        sql_or_func: Union[str, Callable[[Dict[str, Any]], Iterable[Dict[str, Any]]]],
        *,
        schema: Optional[pa.Schema] = None,
    ) -> "DataFrame":
        """Like :meth:`map`, but ``func`` returns any number of rows for each row (SQL text may
        use ``unnest``)."""
        if isinstance(sql_or_func, str):
            return self._derive(self._native.map_sql(sql_or_func))
        func = sql_or_func
        return self.map_batches(
            lambda table: _rows_to_table([out for row in table.to_pylist() for out in func(row)], schema)
        )

    def map_batches(self, func: Callable[[pa.Table], pa.Table], *, batch_size: int = DEFAULT_BATCH_SIZE) -> "DataFrame":
        """``func(pyarrow.Table) -> pyarrow.Table`` applied to batches of ``batch_size`` rows."""
        return self._derive(self._native.map_batches(func, batch_size))

    def limit(self, n: int) -> "DataFrame":
        """At most ``n`` rows, in one partition."""
        return self._derive(self._native.limit(n))

    def union(self, other: "DataFrame") -> "DataFrame":
        """This DataFrame's partitions followed by ``other``'s."""
        return self._derive(self._native.union(other._native))

    def recompute(self) -> "DataFrame":
        """Forgets this DataFrame's finished tasks, so the next action runs them again."""
        self._native.recompute()
        return self

    def write_parquet_lazy(self, path: str) -> "_LazyWrite":
        """A DataFrame whose :meth:`compute` writes it to ``path``."""
        return _LazyWrite(self, os.fspath(path))

    def explain(self) -> str:
        """The logical DAG and the task graph."""
        return self._native.explain()

    # ---- actions ----

    def compute(self) -> None:
        """Runs every task this DataFrame needs that has not finished."""
        self._native.compute()

    def is_computed(self) -> bool:
        return self._native.is_computed()

    def count(self) -> int:
        return self._native.count()

    def take(self, n: int) -> List[Dict[str, Any]]:
        """The first ``n`` rows as dicts, partition by partition."""
        return self._native.to_arrow(n).to_pylist()

    def take_all(self) -> List[Dict[str, Any]]:
        return self.to_arrow().to_pylist()

    def to_arrow(self) -> pa.Table:
        """Every row, partitions one after another."""
        return self._native.to_arrow()

    def to_pandas(self) -> Any:
        return self.to_arrow().to_pandas()

    def write_parquet(self, path: str) -> None:
        """Writes Parquet files into the folder ``path`` (which must not exist or be empty), with
        a ``.MANIFEST`` listing them; the folder appears whole or not at all."""
        self._native.write_parquet(os.fspath(path))


class _LazyWrite(DataFrame):
    """The result of :meth:`DataFrame.write_parquet_lazy`."""

    def __init__(self, source: DataFrame, path: str):
        super().__init__(source.session, source._native)
        self._path = path

    def compute(self) -> None:
        if not self.is_computed():
            self._native.write_parquet(self._path)

    def is_computed(self) -> bool:
        return os.path.exists(os.path.join(self._path, ".MANIFEST"))


def _paths(paths: Union[str, os.PathLike, Sequence[Any]]) -> List[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    return [os.fspath(p) for p in paths]


def _schema(schema: Optional[Dict[str, str]]) -> Optional[List[tuple]]:
    return None if schema is None else list(schema.items())


def _rows_to_table(rows: List[Dict[str, Any]], schema: Optional[pa.Schema]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)
