"""Tarn's SQL front end against DuckDB itself, live, on the statements of `duckdb_parity/*.sql`.

Each line of a corpus file is setup statements and a query, separated by `;` (a `;` inside a
string is not allowed; lines starting with `--` are comments). Both engines run the line in a
fresh session. The query's column names must be the same, and so must its values, each compared
as that engine's `CAST(... AS VARCHAR)` writes it: the query is wrapped in a cast of every column
to VARCHAR on both sides, so what is compared is the value, not a client library's rendering
(a float to within its last bits, which a parallel aggregate's order of sums may change).
Rows compare in order where the query orders them, as a multiset otherwise; an error on one side
must be an error on the other.

The corpus holds the kinds of statement Tarn was made to answer as DuckDB does: numbers, casts
and dates at their extremes, window frames, lists, structs and maps, aggregates under grouping
sets, JSON, lateral joins. Its lines came from seeded random generators and were kept where the
two engines agreed; a line that fails is a regression (or a DuckDB upgrade: `duckdb` is pinned in
`bench/requirements.txt`). Add a line once Tarn answers it as DuckDB does.
"""

import math
import pathlib

import duckdb
import pytest

import tarn

CORPUS = pathlib.Path(__file__).parent / "duckdb_parity"


def corpus_lines():
    """(file:line, statements) for every line of the corpus."""
    for path in sorted(CORPUS.glob("*.sql")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            line = line.strip()
            if line and not line.startswith("--"):
                statements = [s.strip() for s in line.rstrip(";").split(";") if s.strip()]
                yield pytest.param(statements, id=f"{path.stem}:{number}")


def as_text(query, names):
    """`query` with every column cast to VARCHAR, read through positional names."""
    aliases = [f'"c{i}"' for i in range(len(names))]
    casts = ", ".join(f"CAST({alias} AS VARCHAR)" for alias in aliases)
    return f"SELECT {casts} FROM ({query}) AS _parity({', '.join(aliases)})"


def ordered(query):
    """Whether the query's own ORDER BY sets the order of its rows (one in parentheses, in a
    window or a subquery, does not)."""
    depth, outside = 0, []
    for char in query:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0:
            outside.append(char)
    return "ORDER BY" in "".join(outside).upper()


def duckdb_answer(statements):
    """("ok", names, rows) or ("error", message) from DuckDB."""
    con = duckdb.connect()
    con.execute("SET threads = 2")
    try:
        for statement in statements[:-1]:
            con.execute(statement)
        names = con.sql(statements[-1]).columns
        rows = con.execute(as_text(statements[-1], names)).fetchall()
        return "ok", list(names), [list(row) for row in rows]
    except duckdb.Error as err:
        return "error", str(err).splitlines()[0]
    finally:
        con.close()


def tarn_answer(statements, data_root):
    """("ok", names, rows) or ("error", message) from Tarn. The answer's rows are cast to text as
    they came, read back in one piece (a query wrapped around a subquery's ORDER BY may drop it
    in DataFusion, where DuckDB keeps it)."""
    session = tarn.init(data_root=data_root, threads=2)
    try:
        if statements[:-1]:
            session.sql("; ".join(statements[:-1]))
        answer = session.sql(statements[-1])
        names = answer.column_names
        rows = answer.rename_columns([f"c{i}" for i in range(len(names))]).combine_chunks()
        texts = session.partial_sql(as_text("SELECT * FROM {0}", names), session.from_arrow(rows))
        return "ok", list(names), [list(row.values()) for row in texts.to_arrow().to_pylist()]
    except Exception as err:  # Tarn raises one exception type per error class
        return "error", str(err).splitlines()[0]


def alike(rows, duck_rows):
    """Whether the rows hold the same values, floats allowed to differ in their last bits: a
    parallel aggregate adds its threads' partial sums in the order they finish, so `regr_slope`
    of one group may end in ...417 in one run and ...42 in the next, in DuckDB as in Tarn."""

    def same(a, b):
        if a == b:
            return True
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-12)
        except (TypeError, ValueError):
            return False

    return len(rows) == len(duck_rows) and all(
        len(row) == len(duck_row) and all(map(same, row, duck_row))
        for row, duck_row in zip(rows, duck_rows)
    )


@pytest.mark.parametrize("statements", list(corpus_lines()))
def test_tarn_answers_as_duckdb_does(statements, tmp_path):
    duck = duckdb_answer(statements)
    mine = tarn_answer(statements, str(tmp_path))
    if duck[0] == "error" or mine[0] == "error":
        assert duck[0] == mine[0], f"DuckDB: {duck}\nTarn:   {mine}"
        return
    _, duck_names, duck_rows = duck
    _, names, rows = mine
    assert names == duck_names
    if not ordered(statements[-1]):
        duck_rows, rows = sorted(duck_rows, key=repr), sorted(rows, key=repr)
    if not alike(rows, duck_rows):
        assert rows == duck_rows
