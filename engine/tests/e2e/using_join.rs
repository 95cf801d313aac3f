//! `JOIN ... USING (k)`: the merged column `k` is the left side's after an inner or LEFT join,
//! the right side's after a RIGHT join and either side's after a FULL join, wherever the query
//! names it bare; `t.k` keeps each side's own. The way two versions of a dataset are compared
//! (`FULL JOIN USING (id)` then `WHERE ...`). Answers as DuckDB 2.0 gives them on the same rows.

use crate::sql::{columns, error, query, rows, session};

/// Training runs, their evaluations and notes as Parquet files, each with ids the others lack.
async fn runs() -> (tarn_engine::SqlSession, tempfile::TempDir) {
    let dir = tempfile::TempDir::new().unwrap();
    let mut s = session();
    for (name, rows) in [
        (
            "runs",
            "VALUES (1, 'a', 50), (2, 'b', 70), (4, 'd', NULL)) v(id, model, loss",
        ),
        ("evals", "VALUES (2, 90), (3, 40), (4, 80)) v(id, acc"),
        ("notes", "VALUES (3, 'x'), (5, 'y')) v(id, note"),
    ] {
        let path = dir.path().join(format!("{name}.parquet"));
        query(
            &mut s,
            &format!(
                "COPY (SELECT * FROM ({rows})) TO '{}' (FORMAT parquet)",
                path.display()
            ),
        )
        .await;
    }
    (s, dir)
}

fn table(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|row| row.iter().map(|v| v.to_string()).collect())
        .collect()
}

#[tokio::test]
async fn full_and_right_joins_merge_the_column_from_the_side_that_has_the_row() {
    let (mut s, dir) = runs().await;
    let d = dir.path().display();
    let sql = format!(
        "SELECT * FROM '{d}/runs.parquet' FULL JOIN '{d}/evals.parquet' USING (id) ORDER BY id"
    );
    let batches = s.query(&sql).await.unwrap();
    assert_eq!(columns(&batches), ["id", "model", "loss", "acc"]);
    assert_eq!(
        rows(&batches),
        table(&[
            &["1", "a", "50", "NULL"],
            &["2", "b", "70", "90"],
            &["3", "NULL", "NULL", "40"],
            &["4", "d", "NULL", "80"],
        ])
    );
    let right = format!(
        "SELECT id, model, acc FROM '{d}/runs.parquet' RIGHT JOIN '{d}/evals.parquet' \
         USING (id) ORDER BY id"
    );
    assert_eq!(
        query(&mut s, &right).await,
        table(&[&["2", "b", "90"], &["3", "NULL", "40"], &["4", "d", "80"]])
    );
    // Each side's own column stays reachable by its qualifier.
    let own = format!(
        "SELECT runs.id, evals.id, id FROM '{d}/runs.parquet' FULL JOIN '{d}/evals.parquet' \
         USING (id) ORDER BY id"
    );
    assert_eq!(
        query(&mut s, &own).await,
        table(&[
            &["1", "NULL", "1"],
            &["2", "2", "2"],
            &["NULL", "3", "3"],
            &["4", "4", "4"],
        ])
    );
    // `* EXCLUDE` of the merged column leaves it out everywhere.
    let exclude = format!(
        "SELECT * EXCLUDE (id) FROM '{d}/runs.parquet' FULL JOIN '{d}/evals.parquet' \
         USING (id) ORDER BY acc"
    );
    let batches = s.query(&exclude).await.unwrap();
    assert_eq!(columns(&batches), ["model", "loss", "acc"]);
    assert_eq!(
        rows(&batches),
        table(&[
            &["NULL", "NULL", "40"],
            &["d", "NULL", "80"],
            &["b", "70", "90"],
            &["a", "50", "NULL"],
        ])
    );
    // Three sides: the second join meets the first one's merged column.
    let chain = format!(
        "SELECT * FROM '{d}/runs.parquet' FULL JOIN '{d}/evals.parquet' USING (id) \
         FULL JOIN '{d}/notes.parquet' USING (id) ORDER BY id"
    );
    let batches = s.query(&chain).await.unwrap();
    assert_eq!(columns(&batches), ["id", "model", "loss", "acc", "note"]);
    assert_eq!(
        rows(&batches),
        table(&[
            &["1", "a", "50", "NULL", "NULL"],
            &["2", "b", "70", "90", "NULL"],
            &["3", "NULL", "NULL", "40", "x"],
            &["4", "d", "NULL", "80", "NULL"],
            &["5", "NULL", "NULL", "NULL", "y"],
        ])
    );
}

#[tokio::test]
async fn a_bare_merged_column_works_in_every_clause() {
    let (mut s, dir) = runs().await;
    let d = dir.path().display();
    let from = format!("'{d}/runs.parquet' FULL JOIN '{d}/evals.parquet' USING (id)");
    for (clauses, expected) in [
        (
            "id, count(*) AS n FROM {from} WHERE id > 1 GROUP BY id ORDER BY id DESC",
            table(&[&["4", "1"], &["3", "1"], &["2", "1"]]),
        ),
        (
            "id, sum(acc) OVER (ORDER BY id) AS s FROM {from} QUALIFY s > 100 ORDER BY id",
            table(&[&["3", "130"], &["4", "210"]]),
        ),
        (
            "DISTINCT ON (id) id, acc FROM {from} ORDER BY id DESC",
            table(&[&["4", "80"], &["3", "40"], &["2", "90"], &["1", "NULL"]]),
        ),
        ("count(*) FROM {from} HAVING max(id) = 4", table(&[&["4"]])),
        // A later join's ON condition.
        (
            "id, note FROM {from} JOIN '{d}/notes.parquet' n ON n.id = id + 1 ORDER BY id",
            table(&[&["2", "x"], &["4", "y"]]),
        ),
    ] {
        let sql = format!(
            "SELECT {}",
            clauses
                .replace("{from}", &from)
                .replace("{d}", &d.to_string())
        );
        assert_eq!(query(&mut s, &sql).await, expected, "{sql}");
    }
    // An expression over it is named as written.
    let sql = format!("SELECT id + 1, acc FROM {from} ORDER BY 1");
    let batches = s.query(&sql).await.unwrap();
    assert_eq!(columns(&batches), ["(id + 1)", "acc"]);
    assert_eq!(
        rows(&batches),
        table(&[&["2", "NULL"], &["3", "90"], &["4", "40"], &["5", "80"]])
    );
}

#[tokio::test]
async fn subqueries_and_lambdas_keep_their_own_names() {
    let (mut s, dir) = runs().await;
    let d = dir.path().display();
    let from = format!("'{d}/runs.parquet' FULL JOIN '{d}/evals.parquet' USING (id)");
    // `id` inside the subquery is the notes' column.
    let sql = format!("SELECT id FROM {from} WHERE id IN (SELECT id FROM '{d}/notes.parquet')");
    assert_eq!(query(&mut s, &sql).await, table(&[&["3"]]));
    let sql = format!(
        "SELECT id, list_transform([1, 2], lambda id: id * 10) AS l FROM {from} \
         WHERE acc IS NOT NULL AND model IS NOT NULL ORDER BY id"
    );
    assert_eq!(
        query(&mut s, &sql).await,
        table(&[&["2", "[10, 20]"], &["4", "[10, 20]"]])
    );
    // Unnamed subqueries on both sides, and the join inside a subquery and a CTE.
    let sql = format!(
        "SELECT * FROM (SELECT id, model FROM '{d}/runs.parquet') \
         FULL JOIN (SELECT id, acc FROM '{d}/evals.parquet') USING (id) ORDER BY id"
    );
    assert_eq!(
        query(&mut s, &sql).await,
        table(&[
            &["1", "a", "NULL"],
            &["2", "b", "90"],
            &["3", "NULL", "40"],
            &["4", "d", "80"],
        ])
    );
    let sql = format!("SELECT count(*) FROM (SELECT * FROM {from}) WHERE id > 2");
    assert_eq!(query(&mut s, &sql).await, table(&[&["2"]]));
    let sql = format!(
        "WITH j AS (SELECT * FROM '{d}/runs.parquet' RIGHT JOIN '{d}/evals.parquet' USING (id)) \
         SELECT id, model FROM j ORDER BY id"
    );
    assert_eq!(
        query(&mut s, &sql).await,
        table(&[&["2", "b"], &["3", "NULL"], &["4", "d"]])
    );
}

#[tokio::test]
async fn an_unnamed_subquery_beside_its_own_table_is_not_ambiguous() {
    let (mut s, dir) = runs().await;
    let d = dir.path().display();
    // Its columns were qualified by the table inside it: `runs.id` twice.
    let sql = format!(
        "SELECT * FROM '{d}/runs.parquet' JOIN (SELECT id, 1 AS one FROM '{d}/runs.parquet') \
         USING (id) WHERE id < 2"
    );
    assert_eq!(query(&mut s, &sql).await, table(&[&["1", "a", "50", "1"]]));
    let sql = "SELECT unnamed_subquery.a, unnamed_subquery2.b FROM (SELECT 1 a), (SELECT 2 b)";
    assert_eq!(query(&mut s, sql).await, table(&[&["1", "2"]]));
}

#[tokio::test]
async fn a_using_column_one_side_lacks_is_named_in_the_error() {
    let (mut s, dir) = runs().await;
    let d = dir.path().display();
    let sql = format!("SELECT * FROM '{d}/runs.parquet' JOIN '{d}/evals.parquet' USING (nope)");
    let message = error(&mut s, &sql).await;
    assert!(message.contains("runs.nope"), "{message}");
}

#[tokio::test]
async fn a_natural_join_is_the_using_join_on_the_shared_names() {
    let (mut s, dir) = runs().await;
    let d = dir.path().display();
    // `runs` and `evals` share `id` alone.
    let sql = format!(
        "SELECT * FROM '{d}/runs.parquet' NATURAL FULL JOIN '{d}/evals.parquet' \
         WHERE id > 1 ORDER BY id"
    );
    let batches = s.query(&sql).await.unwrap();
    assert_eq!(columns(&batches), ["id", "model", "loss", "acc"]);
    assert_eq!(
        rows(&batches),
        table(&[
            &["2", "b", "70", "90"],
            &["3", "NULL", "NULL", "40"],
            &["4", "d", "NULL", "80"],
        ])
    );
    // Two shared names, and a chain.
    let sql = "SELECT * FROM (VALUES (1, 2)) t(a, b) NATURAL LEFT JOIN (VALUES (1, 3), (1, 4)) \
               u(a, c) NATURAL JOIN (VALUES (3, 'x', 1)) w(c, d, a)";
    assert_eq!(query(&mut s, sql).await, table(&[&["1", "2", "3", "x"]]));
    let message = error(
        &mut s,
        "SELECT * FROM (VALUES (1)) t(a) NATURAL JOIN (VALUES (2)) u(b)",
    )
    .await;
    assert!(
        message.contains("NATURAL JOIN: u shares no column name"),
        "{message}"
    );
}
