//! PRIMARY KEY, UNIQUE, NOT NULL and CHECK on session tables, and INSERT's conflict clauses.
//! Every answer and message is DuckDB 2.0's for the same statements (run there by hand),
//! except where a comment says otherwise.

use crate::sql::{error, query, session};

/// The table's rows in key order.
async fn contents(s: &mut tarn_engine::SqlSession) -> Vec<Vec<String>> {
    query(s, "SELECT * FROM t ORDER BY ALL").await
}

#[tokio::test]
async fn keys_refuse_a_second_row_and_a_refused_statement_changes_nothing() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE t (a INTEGER PRIMARY KEY, b VARCHAR UNIQUE, c DOUBLE); \
         INSERT INTO t VALUES (1, 'x', 0.5)",
    )
    .await;
    for (sql, message) in [
        // The second row alone is new; the first breaks the key and neither goes in.
        (
            "INSERT INTO t VALUES (2, 'y', 0.0), (1, 'z', 0.0)",
            "Duplicate key \"a: 1\" violates primary key constraint.",
        ),
        (
            "INSERT INTO t VALUES (2, 'x', 0.0)",
            "Duplicate key \"b: x\" violates unique constraint.",
        ),
        // DuckDB words a key repeated within one INSERT differently ("PRIMARY KEY or UNIQUE
        // constraint violation: duplicate key \"3\""); Tarn names the column as for any other.
        (
            "INSERT INTO t VALUES (3, 'p', 0.0), (3, 'q', 0.0)",
            "Duplicate key \"a: 3\" violates primary key constraint.",
        ),
        (
            "INSERT INTO t SELECT a, b || '!', c FROM t",
            "Duplicate key \"a: 1\" violates primary key constraint.",
        ),
        (
            "INSERT INTO t VALUES (NULL, 'n', 0.0)",
            "NOT NULL constraint failed: t.a",
        ),
    ] {
        assert_eq!(
            error(&mut s, sql).await,
            format!("Constraint Error: {message}"),
            "{sql}"
        );
        assert_eq!(contents(&mut s).await, [["1", "x", "0.5"]], "{sql}");
    }
    // A UNIQUE key takes any number of NULLs.
    query(
        &mut s,
        "INSERT INTO t VALUES (2, NULL, 1.0), (3, NULL, 2.0)",
    )
    .await;
    assert_eq!(query(&mut s, "SELECT count(*) FROM t").await, [["3"]]);
    // UPDATE is checked on the rows it leaves: shifting every key is fine, meeting another is not.
    assert_eq!(query(&mut s, "UPDATE t SET a = a + 10").await, [["3"]]);
    assert_eq!(
        error(&mut s, "UPDATE t SET a = 12 WHERE a = 11").await,
        "Constraint Error: Duplicate key \"a: 12\" violates primary key constraint."
    );
    assert_eq!(
        error(&mut s, "UPDATE t SET a = NULL WHERE a = 11").await,
        "Constraint Error: NOT NULL constraint failed: t.a"
    );
    assert_eq!(
        contents(&mut s).await,
        [
            ["11", "x", "0.5"],
            ["12", "NULL", "1.0"],
            ["13", "NULL", "2.0"]
        ]
    );
}

#[tokio::test]
async fn composite_keys_name_every_column() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE t (day DATE, score DOUBLE, label VARCHAR, PRIMARY KEY (day, score)); \
         INSERT INTO t VALUES (DATE '2024-01-01', 1.5, 'a'), (DATE '2024-01-01', 2.5, 'b')",
    )
    .await;
    assert_eq!(
        error(
            &mut s,
            "INSERT INTO t VALUES (DATE '2024-01-02', 1.5, 'c'), (DATE '2024-01-01', 1.5, 'd')"
        )
        .await,
        "Constraint Error: Duplicate key \"day: 2024-01-01, score: 1.5\" violates primary key \
         constraint."
    );
    assert_eq!(query(&mut s, "SELECT count(*) FROM t").await, [["2"]]);
}

#[tokio::test]
async fn not_null_names_the_tables_column() {
    let mut s = session();
    query(&mut s, "CREATE TABLE t (a INTEGER, b INTEGER NOT NULL)").await;
    // Before, the first two named the VALUES list's column: "Column 'column2' is declared as
    // non-nullable but contains null values".
    for sql in [
        "INSERT INTO t VALUES (1, NULL)",
        "INSERT INTO t (b, a) VALUES (NULL, 1)",
        "INSERT INTO t SELECT 1, NULL",
        "INSERT INTO t VALUES (1, 1), (2, NULL)",
    ] {
        assert_eq!(
            error(&mut s, sql).await,
            "Constraint Error: NOT NULL constraint failed: t.b",
            "{sql}"
        );
    }
    query(&mut s, "INSERT INTO t (b, a) VALUES (2, 1)").await;
    assert_eq!(
        error(&mut s, "UPDATE t SET b = NULL").await,
        "Constraint Error: NOT NULL constraint failed: t.b"
    );
    assert_eq!(contents(&mut s).await, [["1", "2"]]);
}

#[tokio::test]
async fn on_conflict_skips_or_updates_the_rows_a_key_matches() {
    let mut s = session();
    // Each statement, the count it reports and the table's rows after it, in key order.
    let steps: [(&str, &str, &[[&str; 2]]); 10] = [
        (
            "CREATE TABLE t (a INTEGER PRIMARY KEY, b INTEGER); INSERT INTO t VALUES (1, 1)",
            "1",
            &[["1", "1"]],
        ),
        (
            "INSERT INTO t VALUES (1, 5), (3, 3) ON CONFLICT DO NOTHING",
            "1",
            &[["1", "1"], ["3", "3"]],
        ),
        // The first row with a key counts; a later one with the same key is dropped.
        (
            "INSERT INTO t VALUES (2, 5), (2, 6) ON CONFLICT DO NOTHING",
            "1",
            &[["1", "1"], ["2", "5"], ["3", "3"]],
        ),
        // A bare column is the table's row; `excluded` is the row the INSERT offered.
        (
            "INSERT INTO t VALUES (1, 5), (4, 4) ON CONFLICT (a) DO UPDATE SET b = excluded.b + b",
            "2",
            &[["1", "6"], ["2", "5"], ["3", "3"], ["4", "4"]],
        ),
        // DO UPDATE ... WHERE updates only the rows where the condition holds.
        (
            "INSERT INTO t VALUES (1, 0), (2, 0) ON CONFLICT DO UPDATE SET b = 9 WHERE t.b > 5",
            "1",
            &[["1", "9"], ["2", "5"], ["3", "3"], ["4", "4"]],
        ),
        // The key itself may be assigned, as long as it stays unique.
        (
            "INSERT INTO t SELECT a, b FROM t WHERE a = 4 ON CONFLICT DO UPDATE SET a = 40",
            "1",
            &[["1", "9"], ["2", "5"], ["3", "3"], ["40", "4"]],
        ),
        (
            "CREATE OR REPLACE TABLE t (a INTEGER PRIMARY KEY, b INTEGER); \
             INSERT INTO t VALUES (1, 1)",
            "1",
            &[["1", "1"]],
        ),
        (
            "INSERT OR REPLACE INTO t VALUES (1, 7), (4, 4), (4, 8)",
            "2",
            &[["1", "7"], ["4", "4"]],
        ),
        (
            "INSERT OR IGNORE INTO t VALUES (1, 0), (5, 5)",
            "1",
            &[["1", "7"], ["4", "4"], ["5", "5"]],
        ),
        (
            "INSERT INTO t VALUES (6, 6) ON CONFLICT DO NOTHING",
            "1",
            &[["1", "7"], ["4", "4"], ["5", "5"], ["6", "6"]],
        ),
    ];
    for (sql, count, rows) in steps {
        assert_eq!(query(&mut s, sql).await, [[count]], "{sql}");
        assert_eq!(contents(&mut s).await, rows, "{sql}");
    }
    assert_eq!(
        error(
            &mut s,
            "INSERT INTO t VALUES (1, 0) ON CONFLICT DO UPDATE SET a = 4"
        )
        .await,
        "Constraint Error: Duplicate key \"a: 4\" violates primary key constraint."
    );
}

#[tokio::test]
async fn a_conflict_on_a_key_the_clause_does_not_name_is_refused() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE t (a INTEGER PRIMARY KEY, b INTEGER UNIQUE, c INTEGER); \
         INSERT INTO t VALUES (4, 1, 0), (5, 2, 0)",
    )
    .await;
    // Without a target, DO NOTHING settles conflicts on every key.
    query(
        &mut s,
        "INSERT INTO t VALUES (6, 2, 0) ON CONFLICT DO NOTHING",
    )
    .await;
    for (sql, message) in [
        (
            "INSERT INTO t VALUES (6, 2, 0) ON CONFLICT (a) DO NOTHING",
            "Constraint Error: Duplicate key \"b: 2\" violates unique constraint.",
        ),
        (
            "INSERT INTO t VALUES (4, 2, 0) ON CONFLICT (a) DO UPDATE SET b = excluded.b",
            "Constraint Error: Duplicate key \"b: 2\" violates unique constraint.",
        ),
        (
            "INSERT INTO t VALUES (4, 2, 0) ON CONFLICT DO UPDATE SET c = 1",
            "Binder Error: Conflict target has to be provided for a DO UPDATE operation \
             when the table has multiple UNIQUE/PRIMARY KEY constraints",
        ),
        (
            "INSERT INTO t VALUES (4, 2, 0) ON CONFLICT (c) DO NOTHING",
            "Binder Error: The specified columns as conflict target are not referenced by \
             a UNIQUE/PRIMARY KEY CONSTRAINT or INDEX",
        ),
        (
            "INSERT INTO t VALUES (4, 2, 0) ON CONFLICT (a) DO UPDATE SET d = 1",
            // DuckDB: "Referenced update column d not found in table!"
            "Binder Error: Referenced column d not found in table t",
        ),
    ] {
        assert_eq!(error(&mut s, sql).await, message, "{sql}");
    }
    assert_eq!(contents(&mut s).await, [["4", "1", "0"], ["5", "2", "0"]]);
    query(&mut s, "CREATE TABLE free (a INTEGER)").await;
    assert_eq!(
        error(&mut s, "INSERT INTO free VALUES (1) ON CONFLICT DO NOTHING").await,
        "Binder Error: There are no UNIQUE/PRIMARY KEY constraints that refer to this \
         table, specify ON CONFLICT columns manually"
    );
}

#[tokio::test]
async fn copy_from_is_checked_against_the_key() {
    let mut s = session();
    let dir = tempfile::TempDir::new().unwrap();
    let csv = dir.path().join("rows.csv");
    let csv = csv.display();
    query(
        &mut s,
        &format!("COPY (SELECT * FROM (VALUES (1, 2), (1, 3)) v(a, b)) TO '{csv}'"),
    )
    .await;
    query(&mut s, "CREATE TABLE t (a INTEGER PRIMARY KEY, b INTEGER)").await;
    assert_eq!(
        error(&mut s, &format!("COPY t FROM '{csv}'")).await,
        "Constraint Error: Duplicate key \"a: 1\" violates primary key constraint."
    );
    assert_eq!(query(&mut s, "SELECT count(*) FROM t").await, [["0"]]);
}

/// CHECK conditions, column or table ones, which DataFusion refused to create: a row for which
/// one is false fails the statement and changes nothing; NULL passes. They follow a renamed
/// table or column and the other ALTER TABLE changes, as in DuckDB.
#[tokio::test]
async fn check_conditions_refuse_rows_and_follow_the_table() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE t (a INTEGER CHECK (a > 0), b DECIMAL(10,2), CHECK (b >= 0 AND a < 100)); \
         INSERT INTO t VALUES (1, 2.50), (NULL, 0)",
    )
    .await;
    let failed = |expression: &str| {
        format!(
            "Constraint Error: CHECK constraint failed on table \"t\" with expression {expression}"
        )
    };
    for (sql, message) in [
        (
            "INSERT INTO t VALUES (2, 1), (-2, 1)",
            failed("CHECK((a > 0))"),
        ),
        (
            "INSERT INTO t SELECT 200, 1",
            failed("CHECK(((b >= 0) AND (a < 100)))"),
        ),
        (
            "UPDATE t SET b = -1 WHERE a = 1",
            failed("CHECK(((b >= 0) AND (a < 100)))"),
        ),
        (
            "ALTER TABLE t ALTER COLUMN a TYPE BIGINT",
            "Cannot change the type of a column that has a CHECK constraint specified".to_string(),
        ),
        (
            "ALTER TABLE t DROP COLUMN b",
            "Cannot drop column \"b\" because there is a CHECK constraint that depends on it"
                .to_string(),
        ),
    ] {
        let err = error(&mut s, sql).await;
        assert!(err.ends_with(&message), "{sql}: {err}");
    }
    assert_eq!(contents(&mut s).await, [["1", "2.50"], ["NULL", "0.00"]]);
    // A renamed column and a new one keep the conditions.
    query(
        &mut s,
        "ALTER TABLE t RENAME COLUMN a TO k; ALTER TABLE t ADD COLUMN c INTEGER",
    )
    .await;
    let err = error(&mut s, "INSERT INTO t VALUES (-1, 1, 1)").await;
    assert!(err.ends_with(&failed("CHECK((k > 0))")), "{err}");
    // A renamed table keeps them; a table made again under the name has none.
    query(&mut s, "ALTER TABLE t RENAME TO u").await;
    let err = error(&mut s, "INSERT INTO u VALUES (-1, 1, 1)").await;
    assert!(
        err.contains("CHECK constraint failed on table \"u\""),
        "{err}"
    );
    query(
        &mut s,
        "CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (-1); DROP TABLE u; \
         CREATE TABLE u (a INTEGER); INSERT INTO u VALUES (-1)",
    )
    .await;
    assert_eq!(query(&mut s, "SELECT * FROM u").await, [["-1"]]);
}
