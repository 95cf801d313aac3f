//! DuckDB's statements that change a session's tables where DataFusion has none: ALTER TABLE,
//! temporary tables; answers as DuckDB 2.0 gives them (checked by hand).

use tarn_engine::sql::collect;

use crate::sql::{columns, error, query, rows as rows_of, session};

#[tokio::test]
async fn alter_table_renames_adds_drops_and_retypes() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE docs (id INTEGER, n VARCHAR, junk VARCHAR); \
         INSERT INTO docs VALUES (1, '10', 'a'), (2, '20', 'b')",
    )
    .await;
    query(&mut s, "ALTER TABLE docs RENAME COLUMN n TO tokens").await;
    query(&mut s, "ALTER TABLE docs ALTER COLUMN tokens TYPE BIGINT").await;
    query(&mut s, "ALTER TABLE docs DROP COLUMN junk").await;
    query(
        &mut s,
        "ALTER TABLE docs ADD COLUMN split VARCHAR DEFAULT 'train'",
    )
    .await;
    query(&mut s, "ALTER TABLE docs ADD COLUMN score DOUBLE").await;
    query(&mut s, "ALTER TABLE docs RENAME TO corpus").await;
    let batches = s
        .query("SELECT *, typeof(tokens), typeof(score) FROM corpus ORDER BY id")
        .await
        .unwrap();
    assert_eq!(
        columns(&batches),
        [
            "id",
            "tokens",
            "split",
            "score",
            "typeof(tokens)",
            "typeof(score)"
        ]
    );
    assert_eq!(
        crate::sql::rows(&batches),
        [
            ["1", "10", "train", "NULL", "BIGINT", "DOUBLE"],
            ["2", "20", "train", "NULL", "BIGINT", "DOUBLE"]
        ]
    );
    let gone = error(&mut s, "SELECT * FROM docs").await;
    assert!(gone.contains("docs"), "{gone}");
    // IF [NOT] EXISTS makes a repeat harmless.
    query(
        &mut s,
        "ALTER TABLE corpus DROP COLUMN IF EXISTS junk; \
         ALTER TABLE corpus ADD COLUMN IF NOT EXISTS split VARCHAR; \
         ALTER TABLE IF EXISTS nowhere ADD COLUMN x INTEGER",
    )
    .await;
    assert_eq!(query(&mut s, "SELECT count(*) FROM corpus").await, [["2"]]);
}

#[tokio::test]
async fn a_failed_alter_leaves_the_table_as_it_was() {
    let mut s = session();
    query(&mut s, "CREATE TABLE t AS SELECT 'x' AS a, 1 AS b").await;
    query(&mut s, "CREATE TABLE one AS SELECT 1 AS a").await;
    let every = error(&mut s, "ALTER TABLE one DROP COLUMN a").await;
    assert!(every.contains("cannot drop every column"), "{every}");
    let cast = error(&mut s, "ALTER TABLE t ALTER a SET DATA TYPE INTEGER").await;
    assert!(cast.contains("'x'"), "{cast}");
    assert_eq!(query(&mut s, "SELECT * FROM t").await, [["x", "1"]]);

    let cases = [
        (
            "ALTER TABLE t DROP COLUMN nope",
            "Table \"t\" does not have a column with name \"nope\"",
        ),
        (
            "ALTER TABLE t ADD COLUMN b INTEGER",
            "Column with name b already exists in table \"t\"",
        ),
        (
            "ALTER TABLE t DROP COLUMN a, DROP COLUMN b",
            "one change per statement",
        ),
        (
            "ALTER TABLE nope RENAME TO t2",
            "Table with name nope does not exist",
        ),
        (
            "ALTER TABLE v ADD COLUMN c INTEGER",
            "v is a view or stands for files",
        ),
    ];
    query(&mut s, "CREATE VIEW v AS SELECT 1 AS a").await;
    for (sql, expected) in cases {
        let message = error(&mut s, sql).await;
        assert!(message.contains(expected), "{sql}: {message}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }
    assert_eq!(query(&mut s, "SELECT * FROM t").await, [["x", "1"]]);
}

#[tokio::test]
async fn a_temporary_table_is_a_session_table() {
    let mut s = session();
    query(&mut s, "CREATE TEMP TABLE scratch AS SELECT 42 AS answer").await;
    assert_eq!(query(&mut s, "FROM scratch").await, [["42"]]);
}

/// A generated column is refused where the table would leave it NULL, naming the column and
/// the view that computes it; nothing is created or changed.
#[tokio::test]
async fn a_generated_column_is_refused_not_left_null() {
    let mut s = session();
    let err = error(
        &mut s,
        "CREATE TABLE t(a INT, b INT GENERATED ALWAYS AS (a * 2) VIRTUAL)",
    )
    .await;
    assert_eq!(
        err,
        "Not implemented Error: generated column b is not computed by Tarn's tables: declare \
         the table without it and compute it in a view (SELECT *, a * 2 AS b FROM ...)"
    );
    assert!(error(&mut s, "FROM t").await.contains("t"));
    query(&mut s, "CREATE TABLE t(a INT)").await;
    query(&mut s, "INSERT INTO t VALUES (1)").await;
    let err = error(
        &mut s,
        "ALTER TABLE t ADD COLUMN b INT GENERATED ALWAYS AS (a * 2)",
    )
    .await;
    assert!(err.contains("generated column b"), "{err}");
    assert_eq!(columns(&s.query("FROM t").await.unwrap()), ["a"]);
}
#[tokio::test]
async fn copy_from_appends_a_files_rows_in_column_order() {
    let mut s = session();
    let dir = tempfile::TempDir::new().unwrap();
    let csv = dir.path().join("scores.csv");
    let parquet = dir.path().join("scores.parquet");
    for (path, format) in [(&csv, "csv"), (&parquet, "parquet")] {
        query(
            &mut s,
            &format!(
                "COPY (SELECT * FROM (VALUES (1, 0.5), (2, 0.25)) v(k, score)) TO '{}' \
                 (FORMAT {format})",
                path.display()
            ),
        )
        .await;
    }
    query(&mut s, "CREATE TABLE t (k INTEGER, score DOUBLE)").await;
    let csv = csv.display();
    let parquet = parquet.display();
    assert_eq!(
        query(&mut s, &format!("COPY t FROM '{csv}'")).await,
        [["2"]]
    );
    query(
        &mut s,
        &format!("COPY t FROM '{csv}' (FORMAT csv, HEADER true, DELIMITER ',')"),
    )
    .await;
    query(&mut s, &format!("COPY t FROM '{parquet}'")).await;
    assert_eq!(
        query(
            &mut s,
            "SELECT k, count(*), sum(score) FROM t GROUP BY k ORDER BY k"
        )
        .await,
        [["1", "3", "1.5"], ["2", "3", "0.75"]]
    );
    // Named columns take the file's columns in order; the others are NULL.
    query(
        &mut s,
        "CREATE TABLE wide (score DOUBLE, note VARCHAR, k INTEGER)",
    )
    .await;
    query(&mut s, &format!("COPY wide (k, score) FROM '{parquet}'")).await;
    assert_eq!(
        query(&mut s, "SELECT * FROM wide ORDER BY k").await,
        [["0.5", "NULL", "1"], ["0.25", "NULL", "2"]]
    );
    let mismatch = error(&mut s, &format!("COPY wide FROM '{parquet}'")).await;
    assert!(
        mismatch.contains("COPY wide FROM") && mismatch.contains("do not match the table's"),
        "{mismatch}"
    );
    let option = error(&mut s, &format!("COPY t FROM '{parquet}' (HEADER)")).await;
    assert!(option.contains("options of CSV files"), "{option}");
}

#[tokio::test]
async fn insert_by_name_matches_columns_by_name() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE t (id INTEGER, text VARCHAR, score DOUBLE)",
    )
    .await;
    query(&mut s, "INSERT INTO t BY NAME SELECT 'hi' AS text, 1 AS ID").await;
    query(&mut s, "INSERT INTO t BY POSITION VALUES (2, 'yo', 0.5)").await;
    assert_eq!(
        query(&mut s, "SELECT * FROM t ORDER BY id").await,
        [["1", "hi", "NULL"], ["2", "yo", "0.5"]]
    );
    // A query's own BY is not the table's.
    query(
        &mut s,
        "CREATE TABLE s AS SELECT 'x' AS name; \
         INSERT INTO t SELECT 3, name, 0.0 FROM s GROUP BY name",
    )
    .await;
    assert_eq!(query(&mut s, "SELECT count(*) FROM t").await, [["3"]]);
    let unknown = error(&mut s, "INSERT INTO t BY NAME SELECT 1 AS nope").await;
    assert!(
        unknown.contains("Table \"t\" does not have a column with name \"nope\""),
        "{unknown}"
    );
}

/// `DEFAULT` in a VALUES row and `DEFAULT VALUES` give each column its default, or NULL without
/// one, in the table's order or the INSERT's (DuckDB 2.0's answers).
#[tokio::test]
async fn insert_fills_default_in_values_rows() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE docs (id INTEGER, split VARCHAR DEFAULT 'train', tokens INTEGER DEFAULT 7 * 2)",
    )
    .await;
    for insert in [
        "INSERT INTO docs VALUES (1, DEFAULT, 2), (DEFAULT, 'test', DEFAULT)",
        "INSERT INTO docs DEFAULT VALUES",
        "INSERT INTO docs (tokens, id) VALUES (DEFAULT, 3)",
        "INSERT INTO docs (ID, \"split\") VALUES (4, DEFAULT)",
    ] {
        query(&mut s, insert).await;
    }
    assert_eq!(
        query(&mut s, "SELECT * FROM docs").await,
        [
            ["1", "train", "2"],
            ["NULL", "test", "14"],
            ["NULL", "train", "14"],
            ["3", "train", "14"],
            ["4", "train", "14"]
        ]
    );
    // A quoted "default" is a column name, as in DuckDB.
    let err = error(&mut s, "INSERT INTO docs VALUES (5, \"default\", 1)").await;
    assert!(err.contains("default"), "{err}");
}

/// `CREATE TABLE AS` optimizes its query and runs it, which optimizes it again: a DATE plus an
/// INTEGER column stays a DATE in both (the second pass once saw DataFusion's day interval as
/// one with a time of day, made the batches TIMESTAMPs, and the table refused them).
#[tokio::test]
async fn create_table_as_keeps_dates_plus_days() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE due AS SELECT DATE '2024-01-30' + x::INTEGER AS day, \
         DATE '2024-01-30' + x AS later, DATE '2024-01-30' + INTERVAL (x) HOUR AS stamp \
         FROM range(3) t(x)",
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            "SELECT typeof(day), typeof(later), typeof(stamp), max(day), max(stamp) FROM due \
             GROUP BY ALL"
        )
        .await,
        [[
            "DATE",
            "DATE",
            "TIMESTAMP",
            "2024-02-01",
            "2024-01-30T02:00:00"
        ]]
    );
}

#[tokio::test]
async fn update_from_takes_values_from_other_tables() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE docs (id INTEGER PRIMARY KEY, label VARCHAR, score DOUBLE); \
         INSERT INTO docs VALUES (1, 'a', 0.5), (2, 'b', 0.25), (3, 'c', 1.0); \
         CREATE TABLE fixes AS SELECT * FROM (VALUES (2, 'B', '0.75'), (3, 'C', '2')) f(id, label, score)",
    )
    .await;
    // Answers (not the messages) as DuckDB 2.0's: a text score is cast to the column's type,
    // unmatched rows stay.
    assert_eq!(
        query(
            &mut s,
            "UPDATE docs SET label = f.label || '!', score = f.score FROM fixes f \
             WHERE docs.id = f.id AND f.label <> 'C'"
        )
        .await,
        [["1"]]
    );
    assert_eq!(
        query(&mut s, "SELECT * FROM docs ORDER BY id").await,
        [["1", "a", "0.5"], ["2", "B!", "0.75"], ["3", "c", "1.0"]]
    );
    // The table may join itself under an alias; `AS d` names the rows updated.
    query(
        &mut s,
        "UPDATE docs AS d SET score = prev.score + 10 FROM docs prev WHERE d.id = prev.id + 1",
    )
    .await;
    assert_eq!(
        query(&mut s, "SELECT id, score FROM docs ORDER BY id").await,
        [["1", "0.5"], ["2", "10.5"], ["3", "10.75"]]
    );
    // A refused UPDATE changes nothing.
    for (sql, message) in [
        (
            "UPDATE docs SET id = f.id FROM fixes f WHERE docs.id = 1 AND f.id = 2",
            "Constraint Error: Duplicate key \"id: 2\" violates primary key constraint.",
        ),
        (
            "UPDATE docs SET score = f.label FROM fixes f WHERE docs.id = f.id",
            "Conversion Error: Could not convert string 'B' to DOUBLE",
        ),
        (
            "UPDATE docs SET rank = 1 FROM fixes",
            "Binder Error: Referenced update column rank not found in table docs",
        ),
    ] {
        assert_eq!(error(&mut s, sql).await, message, "{sql}");
    }
    assert_eq!(
        query(&mut s, "SELECT id, score FROM docs ORDER BY id").await,
        [["1", "0.5"], ["2", "10.5"], ["3", "10.75"]]
    );
}

#[tokio::test]
async fn subquery_conditions_delete_and_update_only_the_rows_they_match() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE docs (id INTEGER PRIMARY KEY, label VARCHAR, score DOUBLE); \
         INSERT INTO docs SELECT i, 'l' || i, i / 10 FROM range(1, 7) t(i); \
         CREATE TABLE flagged AS SELECT * FROM (VALUES (2), (4), (4)) f(id)",
    )
    .await;
    // DataFusion's DML saw no filter in a subquery condition: this DELETE removed every row and
    // this UPDATE changed every row. Answers as DuckDB 2.0's.
    assert_eq!(
        query(
            &mut s,
            "DELETE FROM docs WHERE id IN (SELECT id FROM flagged)"
        )
        .await,
        [["2"]]
    );
    assert_eq!(
        query(
            &mut s,
            "UPDATE docs SET label = upper(label) WHERE id NOT IN (SELECT id + 2 FROM flagged)"
        )
        .await,
        [["3"]]
    );
    assert_eq!(
        query(
            &mut s,
            "UPDATE docs SET score = (SELECT max(score) FROM docs) \
             WHERE EXISTS (SELECT 1 FROM flagged f WHERE f.id + 1 = docs.id)"
        )
        .await,
        [["2"]]
    );
    assert_eq!(
        query(&mut s, "SELECT * FROM docs ORDER BY id").await,
        [
            ["1", "L1", "0.1"],
            ["3", "L3", "0.6"],
            ["5", "L5", "0.6"],
            ["6", "l6", "0.6"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "DELETE FROM docs AS d USING flagged f WHERE d.id = f.id + 1 AND d.score > 0.5"
        )
        .await,
        [["2"]]
    );
    assert_eq!(
        query(&mut s, "SELECT id FROM docs ORDER BY id").await,
        [["1"], ["6"]]
    );
    // A refused statement changes nothing.
    for (sql, message) in [
        (
            "UPDATE docs SET id = (SELECT 6) WHERE id = 1",
            "Constraint Error: Duplicate key \"id: 6\" violates primary key constraint.",
        ),
        (
            "DELETE FROM docs WHERE id IN (SELECT id FROM docs) RETURNING nope",
            "Binder Error: No field named nope. Valid fields are docs.id, docs.label, docs.score.",
        ),
    ] {
        assert_eq!(error(&mut s, sql).await, message, "{sql}");
    }
    assert_eq!(query(&mut s, "TRUNCATE docs").await, [["2"]]);
    query(&mut s, "INSERT INTO docs VALUES (9, 'n', 0)").await;
    assert_eq!(query(&mut s, "SELECT id FROM docs").await, [["9"]]);
}

#[tokio::test]
async fn returning_answers_with_the_rows_a_statement_changed() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE docs (id INTEGER PRIMARY KEY, label VARCHAR, score DOUBLE); \
         CREATE TABLE fixes AS SELECT * FROM (VALUES (2, 'B'), (3, 'C')) f(id, label)",
    )
    .await;
    // Answers and names as DuckDB 2.0's; an upsert gives its updated rows first.
    for (sql, names, rows) in [
        (
            "INSERT INTO docs VALUES (1, 'a', 0.5), (2, 'b', 0.25) RETURNING *",
            vec!["id", "label", "score"],
            vec![vec!["1", "a", "0.5"], vec!["2", "b", "0.25"]],
        ),
        (
            "INSERT INTO docs SELECT 3, 'c', 1.0 RETURNING id * 2 AS twice, upper(label)",
            vec!["twice", "upper(label)"],
            vec![vec!["6", "C"]],
        ),
        (
            "INSERT INTO docs VALUES (4, 'd', 0), (2, 'x', 9) \
             ON CONFLICT DO UPDATE SET score = excluded.score RETURNING id, label, score",
            vec!["id", "label", "score"],
            vec![vec!["2", "b", "9.0"], vec!["4", "d", "0.0"]],
        ),
        (
            "INSERT INTO docs VALUES (2, 'y', 1), (5, 'e', 2) ON CONFLICT DO NOTHING RETURNING id",
            vec!["id"],
            vec![vec!["5"]],
        ),
        (
            "INSERT INTO docs BY NAME SELECT 'f' AS label, 6 AS id RETURNING *",
            vec!["id", "label", "score"],
            vec![vec!["6", "f", "NULL"]],
        ),
        (
            "UPDATE docs SET score = score + 1 WHERE id % 2 = 0 RETURNING id, score",
            vec!["id", "score"],
            vec![vec!["2", "10.0"], vec!["4", "1.0"], vec!["6", "NULL"]],
        ),
        (
            "UPDATE docs AS d SET label = f.label FROM fixes f WHERE d.id = f.id \
             RETURNING d.label, d.id",
            vec!["label", "id"],
            vec![vec!["B", "2"], vec!["C", "3"]],
        ),
        (
            "DELETE FROM docs WHERE score > 5 RETURNING * EXCLUDE (score)",
            vec!["id", "label"],
            vec![vec!["2", "B"]],
        ),
        (
            "DELETE FROM docs WHERE id > 100 RETURNING id",
            vec!["id"],
            vec![],
        ),
    ] {
        let answer = s
            .execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let schema = answer.schema();
        let named: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(named, names, "{sql}");
        assert_eq!(rows_of(&collect(answer).await.unwrap()), rows, "{sql}");
    }
    // A clause that fails, as it is planned or as it runs, leaves the table as it was.
    for (sql, message) in [
        (
            "UPDATE docs SET label = 'z' RETURNING nope",
            "Binder Error: No field named nope. Valid fields are docs.id, docs.label, docs.score.",
        ),
        (
            "DELETE FROM docs RETURNING CAST(label AS INTEGER)",
            "Conversion Error: Could not convert string 'a' to INTEGER",
        ),
        (
            "INSERT INTO docs VALUES (7, 'g', 1) RETURNING CAST(label AS INTEGER)",
            "Conversion Error: Could not convert string 'g' to INTEGER",
        ),
        (
            "CREATE VIEW v AS SELECT 1 AS a; INSERT INTO v VALUES (2) RETURNING a",
            "Invalid Input Error: RETURNING needs a table CREATE TABLE made; v is a view or \
             stands for files",
        ),
    ] {
        assert_eq!(error(&mut s, sql).await, message, "{sql}");
    }
    assert_eq!(
        query(&mut s, "SELECT * FROM docs ORDER BY id").await,
        [
            ["1", "a", "0.5"],
            ["3", "C", "1.0"],
            ["4", "d", "1.0"],
            ["5", "e", "2.0"],
            ["6", "f", "NULL"]
        ]
    );
}

/// A view reads the table its name names now, as DuckDB's views do: after the table is dropped
/// and made again, replaced or altered, and after a rollback. (DataFusion's views kept reading
/// the rows of the table they were made over.)
#[tokio::test]
async fn a_view_reads_the_table_its_name_names_now() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE t AS SELECT 1 AS a; CREATE VIEW v AS SELECT * FROM t; \
         CREATE VIEW w AS SELECT a * 10 AS b FROM v",
    )
    .await;
    // Both views' rows, as one list each.
    let read = async |s: &mut tarn_engine::SqlSession| {
        let v = query(s, "SELECT list(a ORDER BY a) FROM v").await;
        let w = query(s, "SELECT list(b ORDER BY b) FROM w").await;
        [v[0][0].clone(), w[0][0].clone()]
    };
    query(&mut s, "DROP TABLE t; CREATE TABLE t AS SELECT 2 AS a").await;
    assert_eq!(read(&mut s).await, ["[2]", "[20]"]);
    query(
        &mut s,
        "CREATE OR REPLACE TABLE t AS SELECT 3 AS a; INSERT INTO t VALUES (4)",
    )
    .await;
    assert_eq!(read(&mut s).await, ["[3, 4]", "[30, 40]"]);
    query(&mut s, "ALTER TABLE t RENAME COLUMN a TO a").await;
    query(&mut s, "BEGIN; CREATE OR REPLACE TABLE t AS SELECT 9 AS a").await;
    assert_eq!(read(&mut s).await[0], "[9]");
    query(&mut s, "ROLLBACK").await;
    assert_eq!(read(&mut s).await, ["[3, 4]", "[30, 40]"]);
    // Without its table a view fails when read, naming the table, and stays listed; made
    // again, the table is read again.
    query(&mut s, "DROP TABLE t").await;
    for view in ["v", "w"] {
        assert_eq!(
            error(&mut s, &format!("SELECT * FROM {view}")).await,
            "Binder Error: table 'memory.main.t' not found"
        );
    }
    assert_eq!(query(&mut s, "SHOW TABLES").await, [["v"], ["w"]]);
    query(&mut s, "CREATE TABLE t AS SELECT 5 AS a").await;
    assert_eq!(read(&mut s).await, ["[5]", "[50]"]);
    // A view keeps the statement as written: one over a file lists it by its path.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.parquet");
    query(
        &mut s,
        &format!("COPY (SELECT 7 AS id) TO '{}'", file.display()),
    )
    .await;
    let create = format!(
        "CREATE VIEW f AS SELECT id FROM read_parquet('{}')",
        file.display()
    );
    query(&mut s, &create).await;
    assert_eq!(
        query(
            &mut s,
            "SELECT sql FROM duckdb_views() WHERE view_name = 'f'"
        )
        .await,
        [[format!("{create};")]]
    );
}

#[tokio::test]
async fn rollback_puts_back_what_the_transaction_changed() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE t(id INTEGER PRIMARY KEY, v VARCHAR); INSERT INTO t VALUES (1, 'a'), (2, 'b'); \
         CREATE SCHEMA kept",
    )
    .await;
    // Inside, a statement sees the transaction's changes; ROLLBACK undoes rows, tables,
    // schemas, ALTERs and macros, as in DuckDB.
    query(
        &mut s,
        "BEGIN; INSERT INTO t VALUES (3, 'c'); UPDATE t SET v = 'z' WHERE id = 1; \
         DELETE FROM t WHERE id = 2; ALTER TABLE t ADD COLUMN w INTEGER; \
         CREATE TABLE made AS SELECT 1 AS x; CREATE TABLE kept.y AS SELECT 2 AS y; \
         CREATE SCHEMA fresh; DROP SCHEMA kept CASCADE; CREATE MACRO twice(x) AS x * 2",
    )
    .await;
    assert_eq!(
        query(&mut s, "SELECT id, v, w, twice(id) FROM t ORDER BY id").await,
        [["1", "z", "NULL", "2"], ["3", "c", "NULL", "6"]]
    );
    query(&mut s, "ROLLBACK").await;
    assert_eq!(
        query(&mut s, "SELECT * FROM t ORDER BY id").await,
        [["1", "a"], ["2", "b"]]
    );
    assert_eq!(query(&mut s, "SHOW TABLES").await, [["t"]]);
    for (sql, message) in [
        ("SELECT * FROM kept.y", "table 'memory.kept.y' not found"),
        ("SELECT twice(1)", "Invalid function 'twice'"),
        ("CREATE TABLE fresh.z AS SELECT 1", "fresh"),
    ] {
        let err = error(&mut s, sql).await;
        assert!(err.contains(message), "{sql}: {err}");
    }
    // The table's keys came back with its rows.
    let err = error(&mut s, "INSERT INTO t VALUES (2, 'again')").await;
    assert!(err.contains("Duplicate key \"id: 2\""), "{err}");

    // COMMIT keeps; a failed statement aborts the transaction, whose COMMIT rolls back.
    query(
        &mut s,
        "BEGIN TRANSACTION; INSERT INTO t VALUES (5, 'e'); COMMIT",
    )
    .await;
    query(&mut s, "BEGIN; INSERT INTO t VALUES (6, 'f')").await;
    let err = error(&mut s, "INSERT INTO t VALUES (1, 'dup')").await;
    assert!(err.contains("Duplicate key"), "{err}");
    assert_eq!(
        error(&mut s, "SELECT 1").await,
        "TransactionContext Error: Current transaction is aborted (please ROLLBACK)"
    );
    query(&mut s, "COMMIT").await;
    assert_eq!(
        query(&mut s, "SELECT list(id ORDER BY id) FROM t").await,
        [["[1, 2, 5]"]]
    );
    for (sql, message) in [
        ("COMMIT", "cannot commit - no transaction is active"),
        ("ROLLBACK", "cannot rollback - no transaction is active"),
    ] {
        assert_eq!(
            error(&mut s, sql).await,
            format!("TransactionContext Error: {message}")
        );
    }
    query(&mut s, "BEGIN").await;
    assert_eq!(
        error(&mut s, "BEGIN").await,
        "TransactionContext Error: cannot start a transaction within a transaction"
    );
    query(&mut s, "ROLLBACK").await;
}

#[tokio::test]
async fn alter_table_keeps_keys_defaults_and_not_null() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE t (a INTEGER PRIMARY KEY, b INTEGER NOT NULL DEFAULT 5, c INTEGER); \
         ALTER TABLE t ADD COLUMN d INTEGER DEFAULT 7; \
         ALTER TABLE t DROP COLUMN c; \
         INSERT INTO t (a) VALUES (1)",
    )
    .await;
    // Answers and messages as DuckDB 2.0's, except where a comment says otherwise.
    assert_eq!(query(&mut s, "SELECT * FROM t").await, [["1", "5", "7"]]);
    for (sql, message) in [
        (
            "INSERT INTO t VALUES (1, 1, 1)",
            "Constraint Error: Duplicate key \"a: 1\" violates primary key constraint.",
        ),
        (
            "INSERT INTO t (a, b) VALUES (2, NULL)",
            "Constraint Error: NOT NULL constraint failed: t.b",
        ),
        (
            "ALTER TABLE t DROP COLUMN a",
            // DuckDB's is a Catalog Error.
            "Invalid Input Error: Cannot drop column \"a\" because there is a PRIMARY KEY \
             constraint that depends on it",
        ),
        (
            "ALTER TABLE t ALTER COLUMN a TYPE BIGINT",
            // DuckDB's is a Binder Error.
            "Invalid Input Error: Cannot change the type of a column that has a UNIQUE or \
             PRIMARY KEY constraint specified",
        ),
    ] {
        assert_eq!(error(&mut s, sql).await, message, "{sql}");
    }
    // The key follows its column's new name (DuckDB's message still names `a`).
    query(&mut s, "ALTER TABLE t RENAME COLUMN a TO k").await;
    assert_eq!(
        error(&mut s, "INSERT INTO t VALUES (1, 2, 3)").await,
        "Constraint Error: Duplicate key \"k: 1\" violates primary key constraint."
    );
    assert_eq!(query(&mut s, "SELECT * FROM t").await, [["1", "5", "7"]]);
}

/// `ALTER COLUMN ... SET | DROP DEFAULT` and `SET | DROP NOT NULL`, as DuckDB 2.0 answers them
/// (its message for the primary key is a Catalog Error).
#[tokio::test]
async fn alter_column_sets_and_drops_defaults_and_not_null() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE u (k INTEGER PRIMARY KEY, a INTEGER NOT NULL, b INTEGER DEFAULT 3); \
         ALTER TABLE u ALTER a DROP NOT NULL; INSERT INTO u VALUES (1, NULL, DEFAULT); \
         ALTER TABLE u ALTER b DROP DEFAULT; INSERT INTO u (k) VALUES (2); \
         ALTER TABLE u ALTER COLUMN b SET DEFAULT 10 + 1; INSERT INTO u (k, a) VALUES (3, 0)",
    )
    .await;
    let rows = [["1", "NULL", "3"], ["2", "NULL", "NULL"], ["3", "0", "11"]];
    assert_eq!(query(&mut s, "SELECT * FROM u ORDER BY k").await, rows);
    for (sql, message) in [
        (
            "ALTER TABLE u ALTER a SET NOT NULL",
            "Constraint Error: NOT NULL constraint failed: u.a",
        ),
        (
            "ALTER TABLE u ALTER k DROP NOT NULL",
            "Invalid Input Error: column \"k\" is in a primary key",
        ),
    ] {
        assert_eq!(error(&mut s, sql).await, message, "{sql}");
        assert_eq!(
            query(&mut s, "SELECT * FROM u ORDER BY k").await,
            rows,
            "{sql}"
        );
    }
    query(
        &mut s,
        "UPDATE u SET b = 0 WHERE b IS NULL; ALTER TABLE u ALTER b SET NOT NULL",
    )
    .await;
    assert_eq!(
        error(&mut s, "INSERT INTO u (k, a, b) VALUES (4, 4, NULL)").await,
        "Constraint Error: NOT NULL constraint failed: u.b"
    );
    // The key and the defaults stay through the rebuilds.
    assert_eq!(
        error(&mut s, "INSERT INTO u (k) VALUES (3)").await,
        "Constraint Error: Duplicate key \"k: 3\" violates primary key constraint."
    );
}

/// `CREATE INDEX` and `DROP INDEX` run as in DuckDB, with its messages (their prefixes aside),
/// and change no answer: Tarn keeps no index structures. An index goes with its table.
#[tokio::test]
async fn indexes_are_checked_recorded_and_dropped() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE t (a INTEGER, b VARCHAR); CREATE INDEX idx ON t (a); \
         CREATE INDEX IF NOT EXISTS idx ON t (b); CREATE INDEX ab ON t (a, b); \
         INSERT INTO t VALUES (1, 'x'), (2, 'y')",
    )
    .await;
    assert_eq!(query(&mut s, "SELECT b FROM t WHERE a = 2").await, [["y"]]);
    for (sql, message) in [
        (
            "CREATE INDEX idx ON t (b)",
            "Invalid Input Error: Index with name \"idx\" already exists!",
        ),
        (
            "CREATE INDEX other ON t (nope)",
            "Invalid Input Error: Table \"t\" does not have a column named \"nope\"",
        ),
        (
            "CREATE INDEX other ON nope (a)",
            "Invalid Input Error: Table with name nope does not exist!",
        ),
        (
            "CREATE UNIQUE INDEX other ON t (a)",
            "Invalid Input Error: CREATE UNIQUE INDEX is not supported: Tarn keeps no indexes; \
             declare the columns UNIQUE in CREATE TABLE",
        ),
    ] {
        assert_eq!(error(&mut s, sql).await, message, "{sql}");
    }
    query(&mut s, "DROP INDEX idx; DROP INDEX IF EXISTS idx").await;
    assert_eq!(
        error(&mut s, "DROP INDEX idx").await,
        "Invalid Input Error: Index with name idx does not exist!"
    );
    // The table's indexes go with it; a new table takes the names again.
    query(
        &mut s,
        "DROP TABLE t; CREATE TABLE t (a INTEGER); CREATE INDEX ab ON t (a)",
    )
    .await;
    assert_eq!(query(&mut s, "SELECT count(*) FROM t").await, [["0"]]);
}

#[tokio::test]
async fn sequences_number_rows_as_duckdbs_do() {
    let mut s = session();
    // Each answer is DuckDB 2.0's, and each message but for its prefix (DuckDB's "Sequence
    // Error", "Catalog Error"); the options may come in any order.
    let steps: [(&str, &[&str]); 5] = [
        (
            "CREATE SEQUENCE ids; SELECT nextval('ids') FROM range(3)",
            &["1", "2", "3"],
        ),
        ("SELECT currval('ids')", &["3"]),
        (
            "CREATE SEQUENCE ring START 1 MAXVALUE 2 CYCLE; SELECT nextval('ring') FROM range(5)",
            &["1", "2", "1", "2", "1"],
        ),
        (
            "CREATE SEQUENCE down INCREMENT BY -5 START WITH -10; \
             SELECT nextval('down') FROM range(2)",
            &["-10", "-15"],
        ),
        // A column's default, as an INSERT leaves it out or writes DEFAULT.
        (
            "CREATE TABLE docs (id BIGINT DEFAULT nextval('ids') PRIMARY KEY, v VARCHAR); \
             INSERT INTO docs (v) VALUES ('a'), ('b'); \
             INSERT INTO docs VALUES (DEFAULT, 'c'); \
             SELECT id FROM docs ORDER BY id",
            &["4", "5", "6"],
        ),
    ];
    for (sql, values) in steps {
        let expected: Vec<Vec<String>> = values.iter().map(|v| vec![v.to_string()]).collect();
        assert_eq!(query(&mut s, sql).await, expected, "{sql}");
    }
    for (sql, message) in [
        (
            "CREATE SEQUENCE capped MAXVALUE 2; SELECT nextval('capped') FROM range(3)",
            "Invalid Input Error: nextval: reached maximum value of sequence \"capped\" (2)",
        ),
        (
            "CREATE SEQUENCE fresh; SELECT currval('fresh')",
            "Invalid Input Error: currval: sequence is not yet defined in this session",
        ),
        (
            "CREATE SEQUENCE ids",
            "Invalid Input Error: Sequence with name ids already exists!",
        ),
        (
            "CREATE SEQUENCE z START 0",
            "Parser Error: START value (0) cannot be less than MINVALUE (1)",
        ),
        (
            "CREATE SEQUENCE z INCREMENT 0",
            "Parser Error: Increment must not be zero",
        ),
        (
            "DROP SEQUENCE ring; SELECT nextval('ring')",
            "Binder Error: Sequence with name ring does not exist!",
        ),
    ] {
        assert_eq!(error(&mut s, sql).await, message, "{sql}");
    }
    // IF NOT EXISTS keeps the sequence where it was; OR REPLACE starts it again.
    query(&mut s, "CREATE SEQUENCE IF NOT EXISTS ids").await;
    assert_eq!(query(&mut s, "SELECT nextval('ids')").await, [["7"]]);
    query(&mut s, "CREATE OR REPLACE SEQUENCE ids START 100").await;
    assert_eq!(query(&mut s, "SELECT nextval('ids')").await, [["100"]]);
}

#[tokio::test]
async fn session_variables_hold_values_for_later_statements() {
    let mut s = session();
    // As DuckDB 2.0 answers: the value is computed once, typed as it was set; names are
    // case-insensitive; an unknown name is NULL.
    query(
        &mut s,
        "SET VARIABLE cutoff = DATE '2024-01-02'; SET VARIABLE Top = (SELECT 2); \
         SET VARIABLE labels = ['a', 'b']",
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            "SELECT count(*), getvariable('top') * 10, getvariable('labels')[2], \
             typeof(getvariable('cutoff')), getvariable('unset') IS NULL \
             FROM range(5) t(i) WHERE DATE '2024-01-01' + CAST(i AS INTEGER) > getvariable('cutoff')"
        )
        .await,
        [["3", "20", "b", "DATE", "true"]]
    );
    query(&mut s, "SET VARIABLE top = 'text'; RESET VARIABLE labels").await;
    assert_eq!(
        query(
            &mut s,
            "SELECT getvariable('top'), getvariable('labels') IS NULL"
        )
        .await,
        [["text", "true"]]
    );
    let err = error(&mut s, "SET VARIABLE many = (SELECT range FROM range(2))").await;
    assert!(err.contains("more than one row"), "{err}");
    let err = error(&mut s, "SELECT getvariable(i::VARCHAR) FROM range(1) t(i)").await;
    assert!(
        err.contains("getvariable takes a variable's name as a constant"),
        "{err}"
    );
}

#[tokio::test]
async fn catalog_functions_list_tables_views_columns_and_settings() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE t(id BIGINT PRIMARY KEY, price DECIMAL(10,2) CHECK (price >= 0), \
         tags VARCHAR[], n INT DEFAULT 1+2 NOT NULL, u VARCHAR UNIQUE, CHECK (n < 100)); \
         CREATE TABLE \"Odd Name\"(\"x y\" INT); CREATE TABLE k(a INT, b INT, PRIMARY KEY(a, b)); \
         CREATE TABLE c AS SELECT 1 AS x, 'a' AS y FROM range(3); \
         CREATE SCHEMA s; CREATE TABLE s.x(\"select\" FLOAT); \
         CREATE VIEW v(q) AS SELECT 1 AS x",
    )
    .await;
    query(&mut s, "ALTER TABLE t RENAME COLUMN n TO m").await;
    // Each answer as DuckDB 2.0 gives it for the same statements (checked by hand).
    let cases: &[(&str, &[&[&str]])] = &[
        (
            "SELECT schema_name, table_name, estimated_size, column_count, index_count, \
             check_constraint_count, has_primary_key, temporary, sql FROM duckdb_tables()",
            &[
                &[
                    "main",
                    "c",
                    "3",
                    "2",
                    "0",
                    "0",
                    "false",
                    "false",
                    "CREATE TABLE c(x INTEGER, y VARCHAR);",
                ],
                &[
                    "main",
                    "k",
                    "0",
                    "2",
                    "1",
                    "0",
                    "true",
                    "false",
                    "CREATE TABLE k(a INTEGER, b INTEGER, PRIMARY KEY(a, b));",
                ],
                &[
                    "main",
                    "Odd Name",
                    "0",
                    "1",
                    "0",
                    "0",
                    "false",
                    "false",
                    "CREATE TABLE \"Odd Name\"(\"x y\" INTEGER);",
                ],
                &[
                    "main",
                    "t",
                    "0",
                    "5",
                    "2",
                    "2",
                    "true",
                    "false",
                    "CREATE TABLE t(id BIGINT PRIMARY KEY, price DECIMAL(10,2), tags VARCHAR[], \
                   m INTEGER DEFAULT((1 + 2)) NOT NULL, u VARCHAR UNIQUE, CHECK((price >= 0)), \
                   CHECK((m < 100)));",
                ],
                &[
                    "s",
                    "x",
                    "0",
                    "1",
                    "0",
                    "0",
                    "false",
                    "false",
                    "CREATE TABLE s.x(\"select\" FLOAT);",
                ],
            ],
        ),
        (
            "SELECT table_name, column_name, column_index, column_default, is_nullable, \
             data_type, numeric_precision, numeric_precision_radix, numeric_scale \
             FROM duckdb_columns WHERE table_name IN ('t', 'v', 'x')",
            &[
                &["t", "id", "1", "NULL", "false", "BIGINT", "64", "2", "0"],
                &[
                    "t",
                    "price",
                    "2",
                    "NULL",
                    "true",
                    "DECIMAL(10,2)",
                    "10",
                    "10",
                    "2",
                ],
                &[
                    "t",
                    "tags",
                    "3",
                    "NULL",
                    "true",
                    "VARCHAR[]",
                    "NULL",
                    "NULL",
                    "NULL",
                ],
                &["t", "m", "4", "(1 + 2)", "false", "INTEGER", "32", "2", "0"],
                &[
                    "t", "u", "5", "NULL", "true", "VARCHAR", "NULL", "NULL", "NULL",
                ],
                &["v", "q", "1", "NULL", "true", "INTEGER", "32", "2", "0"],
                &["x", "select", "1", "NULL", "true", "FLOAT", "24", "2", "0"],
            ],
        ),
        (
            "SELECT view_name, column_count, sql FROM duckdb_views() WHERE NOT internal",
            &[&["v", "1", "CREATE VIEW v (q) AS SELECT 1 AS x;"]],
        ),
        (
            "SELECT schema_name, internal FROM duckdb_schemas() WHERE database_name = 'memory'",
            &[&["main", "true"], &["s", "false"]],
        ),
        (
            "SELECT table_name, ordinal_position FROM information_schema.columns \
             WHERE table_name = 'k' ORDER BY 2",
            &[&["k", "1"], &["k", "2"]],
        ),
        // The database's tables and views alone, not the catalog's own views.
        (
            "SELECT table_schema, table_type, count(*) FROM information_schema.tables \
             GROUP BY ALL ORDER BY ALL",
            &[
                &["main", "BASE TABLE", "4"],
                &["main", "VIEW", "1"],
                &["s", "BASE TABLE", "1"],
            ],
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(query(&mut s, sql).await, *expected, "{sql}");
    }
    // A table made since is listed at once; one dropped is gone.
    query(&mut s, "DROP TABLE c; CREATE TABLE late(a INT)").await;
    assert_eq!(
        query(
            &mut s,
            "SELECT list(table_name) FROM duckdb_tables WHERE schema_name = 'main'"
        )
        .await,
        [["[k, late, Odd Name, t]"]]
    );
}

#[tokio::test]
async fn current_setting_reads_what_set_changed() {
    let mut s = session();
    query(
        &mut s,
        "SET threads = 3; SET memory_limit = '1GB'; SET preserve_insertion_order = false",
    )
    .await;
    // As DuckDB 2.0 answers, names and types included; an alias names the same setting.
    let batches = s
        .query(
            "SELECT current_setting('threads'), typeof(current_setting('Worker_Threads')), \
             current_setting('memory_limit'), current_setting('preserve_insertion_order')",
        )
        .await
        .unwrap();
    assert_eq!(
        columns(&batches),
        [
            "current_setting('threads')",
            "typeof(current_setting('Worker_Threads'))",
            "current_setting('memory_limit')",
            "current_setting('preserve_insertion_order')"
        ]
    );
    assert_eq!(rows_of(&batches), [["3", "BIGINT", "953.6 MiB", "false"]]);
    assert_eq!(
        query(
            &mut s,
            "SELECT name, value, input_type, aliases FROM duckdb_settings() \
             WHERE name IN ('threads', 'memory_limit', 'datafusion.execution.target_partitions')"
        )
        .await,
        [
            [
                "datafusion.execution.target_partitions",
                "3",
                "VARCHAR",
                "[]"
            ],
            ["memory_limit", "953.6 MiB", "VARCHAR", "[max_memory]"],
            ["threads", "3", "BIGINT", "[worker_threads]"],
        ]
    );
    for (sql, message) in [
        (
            "SELECT current_setting('thread')",
            "unrecognized configuration parameter \"thread\" (did you mean \"threads\"",
        ),
        (
            "SELECT current_setting(name) FROM duckdb_settings()",
            "\"current_setting\" must be a constant expression",
        ),
        (
            "SELECT * FROM duckdb_tables(1)",
            "duckdb_tables() takes no arguments",
        ),
    ] {
        let err = error(&mut s, sql).await;
        assert!(err.contains(message), "{sql}: {err}");
    }
}

/// `duckdb_functions()` lists what a session can call, a row per name and kind, with DuckDB's
/// columns: aliases with what they stand for, documented descriptions and parameters, built-in
/// macros with their bodies, and no function Tarn keeps for its own plans.
#[tokio::test]
async fn duckdb_functions_lists_what_a_session_can_call() {
    let mut s = session();
    let listed = query(
        &mut s,
        "SELECT function_name, alias_of, function_type, parameters, stability, \
         has_side_effects FROM duckdb_functions() \
         WHERE function_name IN ('upper', 'sum', 'row_number', 'random', 'list_pack', \
         'read_parquet', 'range') ORDER BY ALL",
    )
    .await;
    assert_eq!(
        listed,
        [
            [
                "list_pack",
                "make_array",
                "scalar",
                "[expression_n]",
                "CONSISTENT",
                "false"
            ],
            ["random", "NULL", "scalar", "NULL", "VOLATILE", "true"],
            [
                "range",
                "NULL",
                "scalar",
                "[start, end, step]",
                "CONSISTENT",
                "false"
            ],
            ["range", "NULL", "table", "NULL", "NULL", "NULL"],
            ["read_parquet", "NULL", "table", "NULL", "NULL", "NULL"],
            [
                "row_number",
                "NULL",
                "window",
                "NULL",
                "CONSISTENT",
                "false"
            ],
            [
                "sum",
                "NULL",
                "aggregate",
                "[expression]",
                "CONSISTENT",
                "false"
            ],
            ["upper", "NULL", "scalar", "[str]", "CONSISTENT", "false"],
        ]
    );
    let macros = query(
        &mut s,
        "SELECT function_type, macro_definition FROM duckdb_functions() \
         WHERE function_name = 'count_if'",
    )
    .await;
    assert_eq!(macros.len(), 1);
    assert_eq!(macros[0][0], "macro");
    assert!(macros[0][1].contains("count("), "{macros:?}");
    let unique = query(
        &mut s,
        "SELECT count(*), count(DISTINCT (function_name, function_type)), \
         count(*) FILTER (function_name LIKE 'tarn\\_%' ESCAPE '\\'), \
         count(*) FILTER (function_name = 'upper' AND description LIKE 'Converts a string%') \
         FROM duckdb_functions()",
    )
    .await;
    assert!(unique[0][0].parse::<usize>().unwrap() > 500, "{unique:?}");
    assert_eq!(unique[0][0], unique[0][1]);
    assert_eq!(unique[0][2..], ["0", "1"]);
}

/// `pragma_table_info('t')` lists a table's or view's columns as DuckDB 2.0 does: numbered from
/// 0, with NOT NULL, default and primary key.
#[tokio::test]
async fn pragma_table_info_lists_a_tables_columns() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE docs (id INT PRIMARY KEY, lang VARCHAR NOT NULL DEFAULT 'en', \
         emb DOUBLE[], url VARCHAR UNIQUE); CREATE VIEW langs AS SELECT DISTINCT lang FROM docs",
    )
    .await;
    assert_eq!(
        query(&mut s, "SELECT * FROM pragma_table_info('Docs')").await,
        [
            ["0", "id", "INTEGER", "true", "NULL", "true"],
            ["1", "lang", "VARCHAR", "true", "'en'", "false"],
            ["2", "emb", "DOUBLE[]", "false", "NULL", "false"],
            ["3", "url", "VARCHAR", "false", "NULL", "false"],
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT name, notnull FROM pragma_table_info('langs')"
        )
        .await,
        [["lang", "false"]]
    );
    let err = error(&mut s, "SELECT * FROM pragma_table_info('nope')").await;
    assert!(err.contains("Table with name nope does not exist"), "{err}");
}

#[tokio::test]
async fn export_and_import_database_keep_a_sessions_tables() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("db").display().to_string();
    let mut s = session();
    query(
        &mut s,
        "CREATE SEQUENCE ids START 10; \
         CREATE TABLE t(id BIGINT DEFAULT nextval('ids') PRIMARY KEY, s VARCHAR DEFAULT 'x', \
         n INT CHECK (n > 0), l INT[], st STRUCT(a INT, b VARCHAR), d DECIMAL(10,2), ts TIMESTAMP); \
         INSERT INTO t(s, n, l, st, d, ts) VALUES ('a', 5, [1, 2], {'a': 1, 'b': 'q'}, 1.25, \
         TIMESTAMP '2024-01-02 03:04:05'), (NULL, 7, NULL, NULL, NULL, NULL); \
         CREATE SCHEMA raw; CREATE TABLE raw.\"my docs\" AS SELECT i, 'd' || i AS txt FROM range(3) t(i); \
         CREATE VIEW z AS SELECT id, n * 2 AS n2 FROM t; CREATE VIEW a_v AS SELECT * FROM z WHERE n2 > 10; \
         CREATE MACRO add1(x, y := 1) AS x + y; \
         CREATE MACRO top(k) AS TABLE SELECT * FROM t ORDER BY id LIMIT k",
    )
    .await;
    query(&mut s, &format!("EXPORT DATABASE '{folder}'")).await;
    let again = error(&mut s, &format!("EXPORT DATABASE '{folder}'")).await;
    assert!(again.contains("already exists"), "{again}");

    // A new session gets the same tables (rows, types, keys, defaults, checks), views, macros and
    // sequences (going on from where they were).
    let mut copy = session();
    query(&mut copy, &format!("IMPORT DATABASE '{folder}'")).await;
    let same = "SELECT *, typeof(l), typeof(st), typeof(d) FROM t ORDER BY id";
    assert_eq!(query(&mut copy, same).await, query(&mut s, same).await);
    let cases: &[(&str, &[&[&str]])] = &[
        (
            "SELECT * FROM raw.\"my docs\" ORDER BY i",
            &[&["0", "d0"], &["1", "d1"], &["2", "d2"]],
        ),
        ("SELECT * FROM a_v", &[&["11", "14"]]),
        (
            "SELECT add1(1), add1(1, 5), (SELECT count(*) FROM top(1))",
            &[&["2", "6", "1"]],
        ),
        (
            "INSERT INTO t(n) VALUES (3) RETURNING id, s",
            &[&["12", "x"]],
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(query(&mut copy, sql).await, *expected, "{sql}");
    }
    for (sql, message) in [
        (
            "INSERT INTO t(id, n) VALUES (10, 1)",
            "Duplicate key \"id: 10\"",
        ),
        ("INSERT INTO t(n) VALUES (0)", "CHECK((n > 0))"),
    ] {
        let err = error(&mut copy, sql).await;
        assert!(err.contains(message), "{sql}: {err}");
    }

    // An import that fails leaves the session as it was, sequences included, and names the
    // statement; once the clash is gone it runs.
    let mut clash = session();
    query(&mut clash, "CREATE TABLE t(a INT)").await;
    let err = error(&mut clash, &format!("IMPORT DATABASE '{folder}'")).await;
    assert!(err.contains("schema.sql: `CREATE TABLE t("), "{err}");
    let left = "SELECT count(*) FROM duckdb_tables() WHERE table_name <> 't'";
    assert_eq!(query(&mut clash, left).await, [["0"]]);
    query(&mut clash, "DROP TABLE t").await;
    query(&mut clash, &format!("IMPORT DATABASE '{folder}'")).await;
    assert_eq!(query(&mut clash, "SELECT nextval('ids')").await, [["12"]]);

    // CSV files keep the values too, read back into the declared types: nested ones as
    // DuckDB's text of them, which the import casts back.
    let nested_csv = dir.path().join("nested_csv").display().to_string();
    query(
        &mut s,
        &format!("EXPORT DATABASE '{nested_csv}' (FORMAT csv)"),
    )
    .await;
    let mut from_nested_csv = session();
    query(
        &mut from_nested_csv,
        &format!("IMPORT DATABASE '{nested_csv}'"),
    )
    .await;
    let same = "SELECT * FROM t ORDER BY id";
    assert_eq!(
        query(&mut from_nested_csv, same).await,
        query(&mut s, same).await
    );
    let csv = dir.path().join("csv").display().to_string();
    let mut flat = session();
    query(
        &mut flat,
        "CREATE TABLE f(id INT PRIMARY KEY, s VARCHAR, d DECIMAL(10,2), ts TIMESTAMP, day DATE); \
         INSERT INTO f VALUES (1, 'a,b \"q\"', 1.25, TIMESTAMP '2024-01-02 03:04:05', \
         DATE '2024-02-29'), (2, NULL, NULL, NULL, NULL)",
    )
    .await;
    query(&mut flat, &format!("EXPORT DATABASE '{csv}' (FORMAT csv)")).await;
    assert!(std::path::Path::new(&csv).join("f.csv").exists());
    let mut from_csv = session();
    query(&mut from_csv, &format!("IMPORT DATABASE '{csv}'")).await;
    let same = "SELECT *, typeof(d), typeof(ts), typeof(day) FROM f ORDER BY id";
    assert_eq!(
        query(&mut from_csv, same).await,
        query(&mut flat, same).await
    );
}

#[tokio::test]
async fn use_and_set_schema_choose_where_unqualified_names_resolve() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE t AS SELECT 'main' AS at; CREATE SCHEMA staging; \
         CREATE TABLE staging.t AS SELECT 'staging' AS at",
    )
    .await;
    assert_eq!(
        query(&mut s, "SELECT at, current_schema() FROM t").await,
        [["main", "main"]]
    );
    // Names resolve in the schema USE chose, and CREATE TABLE makes its tables there.
    query(&mut s, "USE staging; CREATE TABLE made AS SELECT 1 AS x").await;
    assert_eq!(
        query(
            &mut s,
            "SELECT at, current_schema(), current_setting('schema') FROM t"
        )
        .await,
        [["staging", "staging", "staging"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'made'"
        )
        .await,
        [["staging"]]
    );
    assert_eq!(query(&mut s, "SELECT at FROM main.t").await, [["main"]]);
    // `USE memory` goes back to `main`; SET schema and SET search_path choose one too, the
    // database named or not, its case as the user likes.
    query(&mut s, "USE memory").await;
    assert_eq!(query(&mut s, "SELECT at FROM t").await, [["main"]]);
    for choose in [
        "SET schema = 'staging'",
        "SET search_path = 'memory.staging'",
        "USE memory.STAGING",
    ] {
        query(&mut s, "USE main").await;
        query(&mut s, choose).await;
        assert_eq!(
            query(&mut s, "SELECT at FROM t").await,
            [["staging"]],
            "{choose}"
        );
    }
    for (sql, message) in [
        (
            "USE nope",
            "Binder Error: SET schema: No catalog + schema named \"nope\" found.",
        ),
        (
            "SET search_path = 'nope'",
            "Binder Error: SET search_path: No catalog + schema named \"nope\" found.",
        ),
        (
            "SET schema = 'staging,main'",
            "Invalid Input Error: SET schema: 'staging,main' names several schemas; a search \
             path of several is SET search_path",
        ),
        (
            "SET search_path = 'main,nope'",
            "Binder Error: SET search_path: No catalog + schema named \"nope\" found.",
        ),
        (
            "USE a.b.c",
            "Parser Error: Expected \"USE database\" or \"USE database.schema\"",
        ),
    ] {
        assert_eq!(error(&mut s, sql).await, message, "{sql}");
    }
    // A refused choice leaves the schema as it was.
    assert_eq!(
        query(&mut s, "SELECT current_schema()").await,
        [["staging"]]
    );
}

/// A search path of several schemas, as DuckDB reads it: an unqualified name is the table of
/// the first schema of the path that has it, then of `main`; CREATE makes its tables in the
/// first, and a CTE's name is the CTE's.
#[tokio::test]
async fn a_search_path_resolves_names_in_its_schemas_in_turn() {
    let mut s = session();
    query(
        &mut s,
        "CREATE SCHEMA a; CREATE SCHEMA b; CREATE TABLE a.x AS SELECT 'a.x' AS v; \
         CREATE TABLE b.x AS SELECT 'b.x' AS v; CREATE TABLE b.y AS SELECT 'b.y' AS v; \
         CREATE TABLE z AS SELECT 'main.z' AS v; SET search_path = 'a, B'",
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            "SELECT x.v, y.v, z.v, current_schema(), current_setting('search_path') \
             FROM x, y, z"
        )
        .await,
        [["a.x", "b.y", "main.z", "a", "a,b"]]
    );
    // A table made from one of a later schema is made in the first; from then on the name is
    // that one.
    query(
        &mut s,
        "CREATE TABLE y AS SELECT v || ' copied' AS v FROM y",
    )
    .await;
    assert_eq!(query(&mut s, "FROM y").await, [["b.y copied"]]);
    assert_eq!(query(&mut s, "FROM b.y").await, [["b.y"]]);
    // Writes, views and DROP find the table the same way.
    query(
        &mut s,
        "DROP TABLE y; INSERT INTO y VALUES ('added'); UPDATE y SET v = upper(v); \
         DELETE FROM y WHERE v = 'B.Y'; CREATE VIEW shown AS SELECT v FROM y",
    )
    .await;
    assert_eq!(query(&mut s, "FROM a.shown").await, [["ADDED"]]);
    assert_eq!(
        query(&mut s, "WITH z AS (SELECT 'cte' AS v) SELECT v FROM z").await,
        [["cte"]]
    );
    query(&mut s, "DROP TABLE y").await;
    assert_eq!(
        error(&mut s, "SELECT * FROM y").await.lines().count(),
        1,
        "a name no schema of the path has is one error line"
    );
    // USE sets a path of one schema; `main` is still looked in last.
    query(&mut s, "USE b").await;
    assert_eq!(
        query(
            &mut s,
            "SELECT x.v, z.v, current_setting('search_path') FROM x, z"
        )
        .await,
        [["b.x", "main.z", "b"]]
    );
}

#[tokio::test]
async fn comments_on_tables_views_and_columns_are_kept_and_shown() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE docs (id INTEGER, body VARCHAR); CREATE VIEW long_docs AS \
         SELECT * FROM docs WHERE length(body) > 100; \
         COMMENT ON TABLE docs IS 'one row per crawled page'; \
         COMMENT ON COLUMN docs.body IS 'text, utf-8'; COMMENT ON VIEW long_docs IS 'for training'; \
         COMMENT ON COLUMN long_docs.id IS 'page id'",
    )
    .await;
    let shown = "SELECT table_name, comment FROM duckdb_tables() UNION ALL \
                 SELECT view_name, comment FROM duckdb_views() UNION ALL \
                 SELECT table_name || '.' || column_name, comment FROM duckdb_columns() \
                 ORDER BY 1";
    assert_eq!(
        query(&mut s, shown).await,
        [
            ["docs", "one row per crawled page"],
            ["docs.body", "text, utf-8"],
            ["docs.id", "NULL"],
            ["long_docs", "for training"],
            ["long_docs.body", "NULL"],
            ["long_docs.id", "page id"],
        ]
    );
    // The information schema shows them as DuckDB's does, in its last column.
    assert_eq!(
        query(
            &mut s,
            "SELECT table_name, table_type, is_insertable_into, TABLE_COMMENT \
             FROM information_schema.tables ORDER BY 1"
        )
        .await,
        [
            ["docs", "BASE TABLE", "YES", "one row per crawled page"],
            ["long_docs", "VIEW", "NO", "for training"],
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT table_name, column_name, ordinal_position, data_type, column_comment \
             FROM information_schema.columns WHERE column_comment IS NOT NULL ORDER BY 1"
        )
        .await,
        [
            ["docs", "body", "2", "VARCHAR", "text, utf-8"],
            ["long_docs", "id", "1", "INTEGER", "page id"],
        ]
    );
    // ALTER TABLE carries them (a renamed column's under its new name), and so does the view
    // planned again over the rebuilt table; IS NULL removes one.
    query(
        &mut s,
        "ALTER TABLE docs RENAME COLUMN body TO text; ALTER TABLE docs ADD COLUMN lang VARCHAR; \
         COMMENT ON COLUMN long_docs.id IS NULL",
    )
    .await;
    assert_eq!(
        query(&mut s, shown).await,
        [
            ["docs", "one row per crawled page"],
            ["docs.id", "NULL"],
            ["docs.lang", "NULL"],
            ["docs.text", "text, utf-8"],
            ["long_docs", "for training"],
            ["long_docs.body", "NULL"],
            ["long_docs.id", "NULL"],
        ]
    );
    // A table made again under the name has none.
    query(&mut s, "CREATE OR REPLACE TABLE docs AS SELECT 1 AS id").await;
    assert_eq!(
        query(&mut s, "SELECT comment FROM duckdb_tables()").await,
        [["NULL"]]
    );
    for (sql, message) in [
        (
            "COMMENT ON TABLE nope IS 'x'",
            "Binder Error: Table with name nope does not exist!",
        ),
        (
            "COMMENT ON COLUMN docs.nope IS 'x'",
            "Binder Error: Table \"docs\" does not have a column with name \"nope\"",
        ),
        (
            "COMMENT ON VIEW docs IS 'x'",
            "Binder Error: docs is not a view: COMMENT ON TABLE comments on a table",
        ),
        (
            "COMMENT ON SCHEMA main IS 'x'",
            "Invalid Input Error: COMMENT ON SCHEMA is not supported: Tarn keeps comments on \
             tables, views and columns",
        ),
    ] {
        assert_eq!(error(&mut s, sql).await, message, "{sql}");
    }
}

#[tokio::test]
async fn a_view_over_files_reads_the_files_written_since() {
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().display();
    let mut s = session();
    query(
        &mut s,
        &format!(
            "COPY (SELECT 1 AS x) TO '{shards}/a.parquet'; \
             CREATE VIEW plain AS SELECT * FROM '{shards}/*.parquet'; \
             CREATE VIEW named AS SELECT x, parse_filename(filename) AS file \
             FROM read_parquet('{shards}/*.parquet', filename = true); \
             CREATE VIEW over_named AS SELECT count(*) AS files FROM named"
        ),
    )
    .await;
    assert_eq!(query(&mut s, "SELECT * FROM over_named").await, [["1"]]);
    // A shard written after the views were made is read by each, a view over a view included.
    query(
        &mut s,
        &format!("COPY (SELECT 2 AS x) TO '{shards}/b.parquet'"),
    )
    .await;
    assert_eq!(query(&mut s, "SELECT sum(x) FROM plain").await, [["3"]]);
    assert_eq!(
        query(&mut s, "SELECT x, file FROM named ORDER BY x").await,
        [["1", "a.parquet"], ["2", "b.parquet"]]
    );
    assert_eq!(query(&mut s, "SELECT * FROM over_named").await, [["2"]]);
    // The files gone, the view fails naming them, and reads again once there are some.
    std::fs::remove_file(dir.path().join("a.parquet")).unwrap();
    std::fs::remove_file(dir.path().join("b.parquet")).unwrap();
    let gone = error(&mut s, "SELECT * FROM named").await;
    assert!(gone.contains("no files found"), "{gone}");
    query(
        &mut s,
        &format!("COPY (SELECT 5 AS x) TO '{shards}/c.parquet'"),
    )
    .await;
    assert_eq!(query(&mut s, "SELECT * FROM over_named").await, [["1"]]);
}
