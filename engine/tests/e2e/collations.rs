//! `COLLATE`: text that compares, sorts and groups without regard to case (`nocase`) or
//! accents (`noaccent`), as DuckDB does; answers as DuckDB 2.0 gives them on the same rows.
//! Tokens and language tags in training data are matched this way.

use crate::sql::{error, parquet_view, query, session};

/// Names differing in case and accents, in a Parquet file (whose text the scan reads as string
/// views) behind the view `t`.
async fn names() -> (tarn_engine::SqlSession, tempfile::TempDir) {
    parquet_view("SELECT * FROM (VALUES (1, 'Abc'), (2, 'abc'), (3, 'ABD'), (4, 'Élan'), (5, 'elan')) v(id, x)").await
}

fn ids(rows: &[&str]) -> Vec<Vec<String>> {
    rows.iter().map(|row| vec![row.to_string()]).collect()
}

#[tokio::test]
async fn comparisons_follow_the_collation() {
    let (mut s, _dir) = names().await;
    for (condition, expected) in [
        ("x COLLATE NOCASE = 'abc'", ids(&["1", "2"])),
        ("x = 'abc' COLLATE NOCASE", ids(&["1", "2"])),
        ("x COLLATE NOCASE <> 'abc'", ids(&["3", "4", "5"])),
        ("x COLLATE NOCASE > 'abc'", ids(&["3", "4", "5"])),
        ("x COLLATE NOCASE IN ('abc', 'abd')", ids(&["1", "2", "3"])),
        (
            "x COLLATE NOCASE BETWEEN 'abc' AND 'abd'",
            ids(&["1", "2", "3"]),
        ),
        ("x COLLATE NOCASE LIKE 'ab%'", ids(&["1", "2", "3"])),
        ("x COLLATE NOACCENT = 'Elan'", ids(&["4"])),
        ("x COLLATE NOACCENT.NOCASE = 'ELAN'", ids(&["4", "5"])),
        (
            "x COLLATE NOCASE IS NOT DISTINCT FROM 'ABC'",
            ids(&["1", "2"]),
        ),
        // `||` keeps its operand's collation.
        ("x COLLATE NOCASE || '!' = 'ABC!'", ids(&["1", "2"])),
        // A cast to text keeps it too; POSIX (or C, or BINARY) compares bytes again.
        (
            "CAST(x COLLATE NOCASE AS VARCHAR) = 'ABC'",
            ids(&["1", "2"]),
        ),
        ("(x COLLATE NOCASE) COLLATE POSIX = 'abc'", ids(&["2"])),
        ("x COLLATE NOCASE IN (SELECT 'ABC')", ids(&["1", "2"])),
        (
            "x NOT IN (SELECT 'ABC' COLLATE NOCASE)",
            ids(&["3", "4", "5"]),
        ),
    ] {
        let sql = format!("SELECT id FROM t WHERE {condition} ORDER BY id");
        assert_eq!(query(&mut s, &sql).await, expected, "{sql}");
    }
    // The value itself is unchanged.
    assert_eq!(
        query(&mut s, "SELECT x COLLATE NOCASE FROM t WHERE id = 1").await,
        ids(&["Abc"])
    );
}

#[tokio::test]
async fn sorts_windows_and_groups_follow_the_collation() {
    let (mut s, _dir) = names().await;
    assert_eq!(
        query(&mut s, "SELECT x FROM t ORDER BY x COLLATE NOCASE, x").await,
        ids(&["Abc", "abc", "ABD", "elan", "Élan"])
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT x FROM t ORDER BY x COLLATE NOACCENT.NOCASE DESC, id DESC LIMIT 3"
        )
        .await,
        ids(&["elan", "Élan", "ABD"])
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT x, row_number() OVER (PARTITION BY x COLLATE NOCASE ORDER BY id) \
             FROM t ORDER BY id"
        )
        .await,
        vec![
            vec!["Abc", "1"],
            vec!["abc", "2"],
            vec!["ABD", "1"],
            vec!["Élan", "1"],
            vec!["elan", "1"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT string_agg(x, ',' ORDER BY x COLLATE NOCASE DESC, x) FROM t WHERE id <= 3"
        )
        .await,
        ids(&["ABD,Abc,abc"])
    );
    assert_eq!(
        query(&mut s, "SELECT count(DISTINCT x COLLATE NOCASE) FROM t").await,
        ids(&["4"])
    );
    // A group's text is one of its values, still collated for what reads the groups.
    let groups = "SELECT x COLLATE NOCASE AS k, count(*) AS n, min(id) AS first FROM t GROUP BY 1";
    assert_eq!(
        query(
            &mut s,
            &format!("SELECT lower(k), n, k IN ('Abc', 'abc') FROM ({groups}) ORDER BY first")
        )
        .await,
        vec![
            vec!["abc", "2", "true"],
            vec!["abd", "1", "false"],
            vec!["élan", "1", "false"],
            vec!["elan", "1", "false"]
        ]
    );
    assert_eq!(
        query(&mut s, &format!("SELECT n FROM ({groups}) WHERE k = 'ABC'")).await,
        ids(&["2"])
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT count(*) FROM (SELECT DISTINCT x COLLATE NOACCENT.NOCASE FROM t)"
        )
        .await,
        ids(&["3"])
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT count(*) FROM (SELECT x COLLATE NOCASE FROM t UNION SELECT 'ELAN')"
        )
        .await,
        ids(&["4"])
    );
}

#[tokio::test]
async fn the_collation_follows_the_value() {
    let (mut s, dir) = names().await;
    query(
        &mut s,
        "CREATE VIEW folded AS SELECT id, x COLLATE NOCASE AS x FROM t",
    )
    .await;
    query(&mut s, "CREATE TABLE kept AS SELECT * FROM folded").await;
    for sql in [
        "SELECT count(*) FROM (SELECT x COLLATE NOCASE AS y FROM t) WHERE y = 'ABC'",
        "WITH c AS (SELECT x COLLATE NOCASE AS y FROM t) SELECT count(*) FROM c WHERE y = 'ABC'",
        "SELECT count(*) FROM folded WHERE x = 'ABC'",
        "SELECT count(*) FROM kept WHERE x = 'ABC'",
        "SELECT count(*) FROM folded a JOIN t b ON a.x = b.x WHERE a.id = 1",
    ] {
        assert_eq!(query(&mut s, sql).await, ids(&["2"]), "{sql}");
    }
    // A written file compares bytes, as DuckDB's do: it keeps no collation.
    let path = dir.path().join("folded.parquet");
    let path = path.display();
    query(&mut s, &format!("COPY folded TO '{path}'")).await;
    assert_eq!(
        query(
            &mut s,
            &format!("SELECT count(*) FROM '{path}' WHERE x = 'ABC'")
        )
        .await,
        ids(&["0"])
    );
    let file = std::fs::File::open(dir.path().join("folded.parquet")).unwrap();
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap();
    let field = reader.schema().field_with_name("x").unwrap().clone();
    assert!(field.metadata().is_empty(), "{field:?}");
}

#[tokio::test]
async fn errors_name_the_collation() {
    let (mut s, _dir) = names().await;
    for (sql, message) in [
        (
            "SELECT x COLLATE de = 'a' FROM t",
            "Collation with name de does not exist",
        ),
        (
            "SELECT id COLLATE NOCASE FROM t",
            "collations are only supported for type VARCHAR, not INTEGER",
        ),
        (
            "SELECT x COLLATE NOCASE = x COLLATE NOACCENT FROM t",
            "cannot compare text collated nocase with text collated noaccent",
        ),
        (
            "SELECT x COLLATE NOCASE, count(*) FROM t GROUP BY ROLLUP (x COLLATE NOCASE)",
            "cannot be grouped in GROUPING SETS, ROLLUP or CUBE",
        ),
    ] {
        let err = error(&mut s, sql).await;
        assert!(err.contains(message), "{sql}: {err}");
    }
    // A table's column would not keep its collation, so declaring one is refused.
    let mut s = session();
    let err = error(&mut s, "CREATE TABLE u (s VARCHAR COLLATE NOCASE)").await;
    assert!(
        err.contains("column s cannot keep a collation (NOCASE)"),
        "{err}"
    );
    query(&mut s, "CREATE TABLE u (s VARCHAR)").await;
    let err = error(&mut s, "ALTER TABLE u ADD COLUMN v VARCHAR COLLATE NOCASE").await;
    assert!(err.contains("column v cannot keep a collation"), "{err}");
}
