//! `INTERSECT ALL` and `EXCEPT ALL` count duplicates (a row m times on the left and n times on
//! the right is min(m, n) times in the intersection, max(m - n, 0) in the difference), and
//! subqueries name their columns as DuckDB does, and `UNION BY NAME` matches names in any case.
//! Answers as DuckDB 2.0 gives them.

use std::collections::BTreeMap;

use crate::sql::{columns, error, query, rows, session};

#[tokio::test]
async fn intersect_all_and_except_all_count_copies() {
    let mut s = session();
    let left = "SELECT * FROM (VALUES (1, 'x'), (2, NULL), (2, NULL), (2, NULL), (3, 'z')) l(a, b)";
    let right = "SELECT * FROM (VALUES (2, NULL), (2, NULL), (3, 'z'), (3, 'z'), (4, 'w')) r(a, b)";
    assert_eq!(
        query(
            &mut s,
            &format!("{left} INTERSECT ALL {right} ORDER BY ALL")
        )
        .await,
        [["2", "NULL"], ["2", "NULL"], ["3", "z"]]
    );
    assert_eq!(
        query(&mut s, &format!("{left} EXCEPT ALL {right} ORDER BY ALL")).await,
        [["1", "x"], ["2", "NULL"]]
    );
    // Inside a CTE and a subquery, and nested: the inner one first.
    assert_eq!(
        query(
            &mut s,
            &format!(
                "WITH d AS ({left} EXCEPT ALL {right}) \
                 SELECT count(*) FROM (SELECT * FROM d INTERSECT ALL ({left} EXCEPT ALL \
                 SELECT 2, NULL))"
            )
        )
        .await,
        [["2"]]
    );
    // Without ALL the operations stay DataFusion's (one copy of each row).
    assert_eq!(
        query(&mut s, &format!("{left} EXCEPT {right} ORDER BY ALL")).await,
        [["1", "x"]]
    );
    // A set operation's ORDER BY ALL in a subquery sorts it (DataFusion dropped it).
    assert_eq!(
        query(
            &mut s,
            &format!("SELECT a FROM ({left} UNION {right} ORDER BY ALL DESC) LIMIT 3")
        )
        .await,
        [["4"], ["3"], ["2"]]
    );
}

#[tokio::test]
async fn copies_match_the_counting_definition_on_random_multisets() {
    let mut s = session();
    // Small values so that rows repeat on both sides, deterministic without a RNG crate.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % 6
    };
    let rows = |next: &mut dyn FnMut() -> u64, n| -> Vec<u64> { (0..n).map(|_| next()).collect() };
    let left = rows(&mut next, 300);
    let right = rows(&mut next, 200);
    let values = |rows: &[u64]| {
        rows.iter()
            .map(|v| format!("({v})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let count = |rows: &[u64]| {
        let mut counts = BTreeMap::new();
        for v in rows {
            *counts.entry(*v).or_insert(0i64) += 1;
        }
        counts
    };
    let (lc, rc) = (count(&left), count(&right));
    for (op, expected) in [
        (
            "INTERSECT ALL",
            lc.iter()
                .map(|(v, m)| (*v, (*m).min(*rc.get(v).unwrap_or(&0))))
                .collect::<Vec<_>>(),
        ),
        (
            "EXCEPT ALL",
            lc.iter()
                .map(|(v, m)| (*v, (*m - *rc.get(v).unwrap_or(&0)).max(0)))
                .collect(),
        ),
    ] {
        let sql = format!(
            "SELECT v, count(*) FROM (SELECT * FROM (VALUES {}) l(v) {op} \
             SELECT * FROM (VALUES {}) r(v)) GROUP BY v ORDER BY v",
            values(&left),
            values(&right)
        );
        let got = query(&mut s, &sql).await;
        let expected: Vec<Vec<String>> = expected
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(v, n)| vec![v.to_string(), n.to_string()])
            .collect();
        assert_eq!(got, expected, "{op}");
    }
}

/// A VALUES list's columns are `col0`, `col1`, ... wherever their names show, and an alias may
/// rename some of them (DataFusion's names were `column1`, ..., and a short alias failed).
#[tokio::test]
async fn values_lists_name_their_columns_as_duckdb() {
    let mut s = session();
    for (sql, names, expected) in [
        (
            "VALUES (3, 'c'), (1, 'a') ORDER BY col0 LIMIT 1",
            vec!["col0", "col1"],
            vec![vec!["1", "a"]],
        ),
        (
            "SELECT * FROM (VALUES (1, 2)) t(a)",
            vec!["a", "col1"],
            vec![vec!["1", "2"]],
        ),
        (
            "SELECT t.col1 FROM (VALUES (1, 2)) t",
            vec!["col1"],
            vec![vec!["2"]],
        ),
        (
            "WITH v AS (VALUES (1, 2)) SELECT col1 FROM v",
            vec!["col1"],
            vec![vec!["2"]],
        ),
        (
            "SELECT * FROM (VALUES (1, 2)) UNION ALL VALUES (3, 4) ORDER BY col0",
            vec!["col0", "col1"],
            vec![vec!["1", "2"], vec!["3", "4"]],
        ),
        (
            "SELECT 2 IN (VALUES (1), (2)) AS found",
            vec!["found"],
            vec![vec!["true"]],
        ),
    ] {
        let batches = s.query(sql).await.unwrap();
        assert_eq!(columns(&batches), names, "{sql}");
        assert_eq!(rows(&batches), expected, "{sql}");
    }
    query(&mut s, "CREATE TABLE made AS VALUES (1, 'x')").await;
    query(&mut s, "CREATE VIEW shown AS VALUES (2, 'y')").await;
    assert_eq!(
        query(
            &mut s,
            "SELECT col1 FROM made UNION ALL SELECT col1 FROM shown ORDER BY 1"
        )
        .await,
        [["x"], ["y"]]
    );
    // The rows an INSERT takes keep the table's names.
    query(&mut s, "CREATE TABLE kept (a INT, b VARCHAR)").await;
    query(&mut s, "INSERT INTO kept VALUES (5, 'z')").await;
    assert_eq!(
        query(&mut s, "SELECT b FROM kept WHERE a = 5").await,
        [["z"]]
    );
}

#[tokio::test]
async fn subqueries_and_ctes_name_their_columns_as_duckdb() {
    let mut s = session();
    // DataFusion named both `Int64(1)` and refused them as one name twice.
    let batches = s.query("SELECT * FROM (SELECT 1, 1)").await.unwrap();
    assert_eq!(columns(&batches), ["1", "1_1"]);
    assert_eq!(
        query(&mut s, "WITH t(a, b) AS (SELECT 1, 1) SELECT a + b FROM t").await,
        [["2"]]
    );
    assert_eq!(
        query(
            &mut s,
            "WITH RECURSIVE fib(n, a, b) AS (SELECT 1, 0, 1 UNION ALL \
             SELECT n + 1, b, a + b FROM fib WHERE n < 10) SELECT max(b) FROM fib"
        )
        .await,
        [["55"]]
    );
    let batches = s
        .query("SELECT * FROM (SELECT sum(x), count(*) FROM range(4) t(x))")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["sum(x)", "count_star()"]);
    for (sql, names) in [
        (
            "SELECT COUNT(*) FILTER (WHERE x > 1) FROM range(4) t(x)",
            vec!["count_star() FILTER (WHERE (x > 1))"],
        ),
        (
            "SELECT count(*) OVER (), count(*) OVER (ORDER BY x) FROM range(4) t(x)",
            vec!["count() OVER ()", "count() OVER (ORDER BY x)"],
        ),
        (
            "SELECT count(*) + 1, bar(count(*), 0, 100, 20) FROM range(4) t(x)",
            vec!["(count_star() + 1)", "bar(count_star(), 0, 100, 20)"],
        ),
    ] {
        let batches = s.query(sql).await.unwrap();
        assert_eq!(columns(&batches), names, "{sql}");
    }
    // A `*` that repeats a name of the result's select list: the repeats numbered as in
    // DuckDB's subqueries and files (DataFusion refused the query).
    s.query("CREATE TABLE r AS SELECT 1 AS id, 2 AS x")
        .await
        .unwrap();
    for (sql, names) in [
        ("SELECT id, * FROM r", vec!["id", "id_1", "x"]),
        ("SELECT *, ID FROM r", vec!["id", "x", "ID_1"]),
        ("SELECT id, *, id FROM r", vec!["id", "id_1", "x", "id_2"]),
        (
            "SELECT a.id, * FROM r AS a JOIN r AS b ON a.id = b.id",
            vec!["id", "id_1", "x", "id_2", "x_1"],
        ),
        ("SELECT *, x * 2 AS y FROM r", vec!["id", "x", "y"]),
        // An alias naming fewer columns renames the first ones and keeps the rest's names.
        ("SELECT * FROM r AS q(key)", vec!["key", "x"]),
        (
            "SELECT * FROM (SELECT * FROM r, (VALUES (3, 4)) v(\"Mixed Case\", w)) s(a, b)",
            vec!["a", "b", "Mixed Case", "w"],
        ),
        (
            "WITH c AS (SELECT 1 AS p, 2 AS q) SELECT * FROM c AS d(z)",
            vec!["z", "q"],
        ),
    ] {
        let batches = s.query(sql).await.unwrap();
        assert_eq!(columns(&batches), names, "{sql}");
    }
    assert_eq!(
        query(
            &mut s,
            "SELECT key, t.x FROM r AS t(key) JOIN (SELECT 1 AS key, 5 AS c) u USING (key)"
        )
        .await,
        [["1", "2"]]
    );
    let err = error(&mut s, "SELECT * FROM (SELECT 1 AS a) t(x, y)").await;
    assert!(err.contains("1 columns"), "{err}");
}

/// `UNION BY NAME` matches names whatever their case, as DuckDB 2.0 does, the first spelling
/// naming the column; inner unions are matched before those around them.
#[tokio::test]
async fn union_by_name_matches_names_in_any_case() {
    let mut s = session();
    let sql = "SELECT 'x' AS Col1, 1 AS b UNION ALL BY NAME SELECT 'y' AS col1, 'z' AS COL2";
    let batches = s.query(sql).await.unwrap();
    assert_eq!(columns(&batches), ["Col1", "b", "COL2"]);
    assert_eq!(rows(&batches), [["x", "1", "NULL"], ["y", "NULL", "z"]]);
    let nested = "SELECT * FROM (SELECT 'x' AS col1 UNION BY NAME SELECT 'y' AS Col1 \
                  UNION BY NAME SELECT 'x' AS COL1) ORDER BY 1";
    let batches = s.query(nested).await.unwrap();
    assert_eq!(columns(&batches), ["col1"]);
    assert_eq!(rows(&batches), [["x"], ["y"]]);
    query(
        &mut s,
        "CREATE TABLE docs AS SELECT 1 AS DocId, 'a' AS Text",
    )
    .await;
    let tables = "SELECT * FROM docs UNION ALL BY NAME SELECT 'b' AS text, 2 AS docid ORDER BY 1";
    let batches = s.query(tables).await.unwrap();
    assert_eq!(columns(&batches), ["DocId", "Text"]);
    assert_eq!(rows(&batches), [["1", "a"], ["2", "b"]]);
}
