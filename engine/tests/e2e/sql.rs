//! End-to-end tests of the DuckDB-like SQL layer on real files the tests write.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use tarn_engine::{SqlSession, TarnConfig};

pub(crate) fn session() -> SqlSession {
    SqlSession::new(TarnConfig {
        threads: 2,
        memory_limit: None,
        ..TarnConfig::default()
    })
    .unwrap()
}

/// Every value as text, row by row, for compact assertions.
pub(crate) fn rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for batch in batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for row in 0..batch.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect(),
            );
        }
    }
    out
}

/// The result's column names.
pub(crate) fn columns(batches: &[RecordBatch]) -> Vec<String> {
    batches[0]
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

pub(crate) async fn query(session: &mut SqlSession, sql: &str) -> Vec<Vec<String>> {
    match session.query(sql).await {
        Ok(batches) => rows(&batches),
        Err(err) => panic!("{sql}: {err}"),
    }
}

/// A session with a view `t` over a Parquet file holding the rows of `rows` (a query), which
/// the test writes in the folder returned.
pub(crate) async fn parquet_view(rows: &str) -> (SqlSession, tempfile::TempDir) {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("t.parquet");
    let mut s = session();
    let path = path.display();
    query(
        &mut s,
        &format!("COPY ({rows}) TO '{path}' (FORMAT parquet)"),
    )
    .await;
    query(&mut s, &format!("CREATE VIEW t AS SELECT * FROM '{path}'")).await;
    (s, dir)
}

pub(crate) async fn error(session: &mut SqlSession, sql: &str) -> String {
    match session.query(sql).await {
        Ok(batches) => panic!("{sql} should fail, gave {:?}", rows(&batches)),
        Err(err) => err.to_string(),
    }
}

fn single(rows: Vec<Vec<String>>) -> String {
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].len(), 1, "{rows:?}");
    rows[0][0].clone()
}

/// Writes `sql`'s result as Parquet at `path` through COPY.
async fn write(session: &mut SqlSession, sql: &str, path: &Path) {
    query(
        session,
        &format!("COPY ({sql}) TO '{}' (FORMAT parquet)", path.display()),
    )
    .await;
}

#[tokio::test]
async fn bare_from_and_friendly_select() {
    let mut s = session();
    query(&mut s, "CREATE TABLE t AS SELECT * FROM (VALUES (1, 'a', 10.5), (2, 'b', NULL), (2, 'c', 3.0)) AS v(id, name, score)").await;
    let batches = s.query("FROM t").await.unwrap();
    assert_eq!(columns(&batches), ["id", "name", "score"]);
    assert_eq!(rows(&batches).len(), 3);

    let batches = s.query("SELECT * EXCLUDE (score) FROM t").await.unwrap();
    assert_eq!(columns(&batches), ["id", "name"]);
    assert_eq!(
        query(
            &mut s,
            "SELECT * REPLACE (upper(name) AS name) FROM t ORDER BY id"
        )
        .await[0],
        ["1", "A", "10.5"]
    );
    // A REPLACE of a column the FROM clause lacks is an error, as in DuckDB (DataFusion passed
    // over it, answering the column unchanged).
    let err = error(&mut s, "SELECT * REPLACE (upper(name) AS nmae) FROM t").await;
    assert!(
        err.contains("Column \"nmae\" in REPLACE list not found in FROM clause"),
        "{err}"
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT id, count(*) FROM t GROUP BY ALL ORDER BY ALL"
        )
        .await,
        [["1", "1"], ["2", "2"]]
    );
    // Over `*`, ORDER BY ALL sorts by position, so that columns called alike (`id` of both
    // sides of a join) are not ambiguous.
    assert_eq!(
        query(
            &mut s,
            "SELECT * FROM t JOIN t u ON t.id = u.id AND t.name < u.name ORDER BY ALL DESC"
        )
        .await,
        [["2", "b", "NULL", "2", "c", "3.0"]]
    );
    assert_eq!(
        query(&mut s, "SELECT name FROM t QUALIFY row_number() OVER (PARTITION BY id ORDER BY name DESC) = 1 ORDER BY name").await,
        [["a"], ["c"]]
    );
    // A QUALIFY condition with no window function of its own filters after the SELECT list's
    // windows: the count is of every row, the sum of each id's.
    assert_eq!(
        query(
            &mut s,
            "SELECT name, count(*) OVER () AS n, sum(score) OVER (PARTITION BY id) AS s FROM t \
             QUALIFY name > 'a' AND id = 2 ORDER BY name"
        )
        .await,
        [["b", "3", "3.0"], ["c", "3", "3.0"]]
    );
    let err = error(&mut s, "SELECT name FROM t QUALIFY id = 2").await;
    assert!(err.contains("QUALIFY"), "{err}");
    let batches = s
        .query("SELECT * RENAME (name AS label) FROM t")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["id", "label", "score"]);
    let err = error(&mut s, "SELECT * RENAME (nope AS x) FROM t").await;
    assert!(err.contains("'nope'"), "{err}");
    let batches = s
        .query("SELECT COLUMNS('^(id|score)$') FROM t")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["id", "score"]);
    let batches = s
        .query("SELECT max(COLUMNS('id|score')) FROM t")
        .await
        .unwrap();
    // Named after the columns, as DuckDB 2 names them.
    assert_eq!(columns(&batches), ["id", "score"]);
    assert_eq!(rows(&batches), [["2", "10.5"]]);
    // A list names columns, in any case; they come in the FROM clause's order.
    let batches = s
        .query("SELECT min(COLUMNS(['SCORE', 'id'])) FROM t")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["id", "score"]);
    assert_eq!(rows(&batches), [["1", "3.0"]]);
    let err = error(&mut s, "SELECT COLUMNS('zzz') FROM t").await;
    assert!(err.contains("COLUMNS('zzz') matches no column"), "{err}");
    let err = error(&mut s, "SELECT max(COLUMNS(['nope'])) FROM t").await;
    assert!(
        err.contains("max(COLUMNS(['nope'])) matches no column"),
        "{err}"
    );
    // Where a name is taken, as written (DuckDB repeats names, which DataFusion refuses).
    let batches = s
        .query("SELECT id, min(COLUMNS(*)) FROM t GROUP BY id")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["id", "min(id)", "name", "score"]);
    // DuckDB 2's division: `/` is IEEE floating point, `//` divides integers to an integer
    // and anything else as DOUBLE, and refuses a zero divisor.
    let batches = s
        .query("SELECT 7 / 2, 7 // 2, 1 / 0, id / 4 AS q, -7 // 2, 7.5 // 2 FROM t WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(
        columns(&batches),
        [
            "(7 / 2)",
            "(7 // 2)",
            "(1 / 0)",
            "q",
            "(-7 // 2)",
            "(7.5 // 2)"
        ]
    );
    assert_eq!(rows(&batches), [["3.5", "3", "inf", "0.25", "-3", "3.75"]]);
    let err = error(&mut s, "SELECT id // 0 FROM t").await;
    assert!(err.contains("Division by zero"), "{err}");
    // A FLOAT divided by an integer or a DECIMAL stays a FLOAT; with a DOUBLE, a DOUBLE.
    assert_eq!(
        query(
            &mut s,
            "SELECT typeof(1.5::FLOAT / id), 1.5::FLOAT / 2, typeof(1.5::FLOAT / 0.5), \
             typeof(1.5::FLOAT / 2.5::DOUBLE) FROM t WHERE id = 1"
        )
        .await,
        [["FLOAT", "0.75", "FLOAT", "DOUBLE"]]
    );
    // DuckDB's default: NULLs last in both directions.
    assert_eq!(
        query(&mut s, "SELECT score FROM t ORDER BY score").await[2],
        ["NULL"]
    );
    assert_eq!(
        query(&mut s, "SELECT score FROM t ORDER BY score DESC").await[2],
        ["NULL"]
    );
}

#[tokio::test]
async fn files_in_from_globs_directories_and_hive_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut s = session();
    std::fs::create_dir_all(root.join("flat")).unwrap();
    write(
        &mut s,
        "SELECT 1 AS id, 'x' AS tag",
        &root.join("flat/a.parquet"),
    )
    .await;
    write(
        &mut s,
        "SELECT 2 AS id, 'y' AS tag",
        &root.join("flat/b.parquet"),
    )
    .await;
    std::fs::write(root.join("flat/_SUCCESS"), b"").unwrap();
    std::fs::write(root.join("flat/.MANIFEST"), b"a.parquet\n").unwrap();

    let file = root.join("flat/a.parquet");
    assert_eq!(
        single(query(&mut s, &format!("SELECT id FROM '{}'", file.display())).await),
        "1"
    );
    let glob = format!("{}/flat/*.parquet", root.display());
    assert_eq!(
        single(query(&mut s, &format!("SELECT sum(id) FROM '{glob}'")).await),
        "3"
    );
    let folder = format!("{}/flat", root.display());
    assert_eq!(
        single(query(&mut s, &format!("SELECT count(*) FROM '{folder}'")).await),
        "2"
    );
    // As in DuckDB, `*` stays inside a folder and `**` crosses folders.
    std::fs::create_dir_all(root.join("flat/nested")).unwrap();
    write(
        &mut s,
        "SELECT 4 AS id, 'z' AS tag",
        &root.join("flat/nested/c.parquet"),
    )
    .await;
    for (pattern, sum) in [
        ("*.parquet", "3"),
        ("*/*.parquet", "4"),
        ("**/*.parquet", "7"),
    ] {
        let sql = format!("SELECT sum(id) FROM '{folder}/{pattern}'");
        assert_eq!(single(query(&mut s, &sql).await), sum, "{pattern}");
    }
    std::fs::remove_dir_all(root.join("flat/nested")).unwrap();
    assert_eq!(
        single(
            query(
                &mut s,
                &format!(
                    "SELECT count(*) FROM read_parquet(['{}', '{}'])",
                    file.display(),
                    root.join("flat/b.parquet").display()
                )
            )
            .await
        ),
        "2"
    );
    let names = query(
        &mut s,
        &format!("SELECT filename, id FROM read_parquet('{glob}', filename => true) ORDER BY id"),
    )
    .await;
    // An absolute path stays whole, wherever the query runs from.
    let shown = |name: &str| root.join(name).display().to_string();
    assert_eq!(
        names,
        [
            [shown("flat/a.parquet"), "1".to_string()],
            [shown("flat/b.parquet"), "2".to_string()]
        ]
    );

    // Hive partitions, typed from their values.
    for (year, month) in [(2023, "jan"), (2024, "jan"), (2024, "feb")] {
        let part = root.join(format!("hive/year={year}/month={month}"));
        std::fs::create_dir_all(&part).unwrap();
        write(
            &mut s,
            &format!("SELECT {year} * 10 AS v"),
            &part.join("data.parquet"),
        )
        .await;
    }
    let hive = format!("{}/hive", root.display());
    let batches = s
        .query(&format!(
            "SELECT year, month, v FROM '{hive}' WHERE year = 2024 ORDER BY month"
        ))
        .await
        .unwrap();
    assert_eq!(batches[0].schema().field(0).data_type(), &DataType::Int64);
    assert_eq!(
        rows(&batches),
        [["2024", "feb", "20240"], ["2024", "jan", "20240"]]
    );
    // A glob may name the keys of the folders it crosses, as DuckDB's may.
    let globbed =
        format!("SELECT year, month, v FROM '{hive}/year=2024/month=*/*.parquet' ORDER BY month");
    assert_eq!(
        query(&mut s, &globbed).await,
        [["2024", "feb", "20240"], ["2024", "jan", "20240"]]
    );
    let globbed = format!("SELECT count(*) FROM '{hive}/year=*/month=j?n/*.parquet'");
    assert_eq!(query(&mut s, &globbed).await, [["2"]]);
    // Keys in the path named are columns too, and come after `file_row_number` and
    // `filename`, as in DuckDB.
    let batches = s
        .query(&format!(
            "FROM read_parquet('{hive}/year=2024/month=jan/data.parquet', filename => true, \
             file_row_number => true)"
        ))
        .await
        .unwrap();
    assert_eq!(
        columns(&batches),
        ["v", "file_row_number", "filename", "year", "month"]
    );
    assert_eq!(rows(&batches)[0][3..], ["2024", "jan"]);
    let batches = s
        .query(&format!(
            "SELECT * FROM '{hive}/year=2024/*/*.parquet' WHERE month = 'feb'"
        ))
        .await
        .unwrap();
    assert_eq!(rows(&batches), [["20240", "2024", "feb"]]);
    let batches = s
        .query(&format!(
            "FROM read_parquet('{hive}/*/*/*.parquet', hive_partitioning => false)"
        ))
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["v"]);
    // Types given for partitions (`hive_types`), or none inferred (`hive_types_autocast`), as
    // DuckDB 2.0 answers.
    let scan = format!("read_parquet('{hive}/*/*/*.parquet'");
    for (options, answer) in [
        (
            ", hive_types => {'year': 'INTEGER'}",
            ["INTEGER", "VARCHAR"],
        ),
        (
            ", hive_types => {'year': 'VARCHAR'}",
            ["VARCHAR", "VARCHAR"],
        ),
        (", hive_types_autocast => false", ["VARCHAR", "VARCHAR"]),
    ] {
        let sql = format!("SELECT DISTINCT typeof(year), typeof(month) FROM {scan}{options})");
        assert_eq!(query(&mut s, &sql).await, [answer], "{sql}");
    }
    for (options, message) in [
        (
            ", hive_types => {'day': 'INTEGER'}",
            "hive_types: 'day' is not a partition of the files (their folders name: year, month)",
        ),
        (
            ", hive_types => {'month': 'DATE'}",
            "Unable to cast 'jan' (from hive partition column 'month') to DATE",
        ),
    ] {
        let err = error(&mut s, &format!("SELECT count(*) FROM {scan}{options})")).await;
        assert!(err.contains(message), "{options}: {err}");
    }
}

#[tokio::test]
async fn union_by_name_fills_missing_columns() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    write(
        &mut s,
        "SELECT 1 AS a, 'x' AS b",
        &dir.path().join("one.parquet"),
    )
    .await;
    write(
        &mut s,
        "SELECT 2 AS a, 3.5 AS c",
        &dir.path().join("two.parquet"),
    )
    .await;
    let sql = format!(
        "SELECT a, b, c FROM read_parquet('{}/*.parquet', union_by_name => true) ORDER BY a",
        dir.path().display()
    );
    assert_eq!(
        query(&mut s, &sql).await,
        [["1", "x", "NULL"], ["2", "NULL", "3.5"]]
    );
}

#[tokio::test]
async fn csv_and_json_readers() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("people.csv");
    std::fs::write(&csv, "name|age\nann|31\nbob|42\n").unwrap();
    let mut s = session();
    let sql = format!(
        "SELECT name, age + 1 FROM read_csv('{}', delim => '|') ORDER BY age",
        csv.display()
    );
    assert_eq!(query(&mut s, &sql).await, [["ann", "32"], ["bob", "43"]]);
    let raw = dir.path().join("raw.csv");
    std::fs::write(&raw, "7,x\n8,y\n").unwrap();
    let sql = format!(
        "SELECT arrow_typeof(id), sum(id) FROM read_csv('{}', header => false, columns => {{'id': 'BIGINT', 'label': 'VARCHAR'}}) GROUP BY ALL",
        raw.display()
    );
    assert_eq!(query(&mut s, &sql).await, [["Int64", "15"]]);

    let json = dir.path().join("events.jsonl");
    std::fs::write(
        &json,
        "{\"k\": 1, \"s\": \"a\", \"b\": {\"z\": 1, \"y\": 2}}\n{\"k\": 2, \"s\": \"b\"}\n",
    )
    .unwrap();
    let sql = format!("SELECT sum(k), max(s) FROM read_json('{}')", json.display());
    assert_eq!(query(&mut s, &sql).await, [["3", "b"]]);
    // Columns and struct fields in the file's order, as DuckDB gives them, not sorted.
    let sql = format!("DESCRIBE SELECT * FROM '{}'", json.display());
    let columns: Vec<[String; 2]> = query(&mut s, &sql)
        .await
        .into_iter()
        .map(|row| [row[0].clone(), row[1].clone()])
        .collect();
    assert_eq!(
        columns,
        [
            ["k", "BIGINT"],
            ["s", "VARCHAR"],
            ["b", "STRUCT(z BIGINT, y BIGINT)"]
        ]
    );
    let sql = format!("SELECT count(*) FROM '{}'", json.display());
    assert_eq!(single(query(&mut s, &sql).await), "2");
}

#[tokio::test]
async fn glob_and_parquet_metadata_functions() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    let file = dir.path().join("m.parquet");
    query(
        &mut s,
        &format!(
            "COPY (SELECT * FROM generate_series(1, 1000) AS t(n)) TO '{}' (FORMAT parquet, ROW_GROUP_SIZE 300, COMPRESSION zstd)",
            file.display()
        ),
    )
    .await;
    let files = query(
        &mut s,
        &format!(
            "SELECT file FROM glob('{}/*.parquet')",
            dir.path().display()
        ),
    )
    .await;
    assert_eq!(files.len(), 1);
    assert!(files[0][0].ends_with("m.parquet"));
    let meta = query(
        &mut s,
        &format!(
            "SELECT row_group_id, row_group_num_rows, path_in_schema, stats_min, stats_max, compression FROM parquet_metadata('{}') ORDER BY row_group_id",
            file.display()
        ),
    )
    .await;
    assert_eq!(meta.len(), 4, "{meta:?}");
    // The codec as DuckDB names it, without the level.
    assert_eq!(meta[0], ["0", "300", "n", "1", "300", "ZSTD"]);
    assert_eq!(meta[3], ["3", "100", "n", "901", "1000", "ZSTD"]);
    let schema = query(
        &mut s,
        &format!(
            "SELECT name, type FROM parquet_schema('{}')",
            file.display()
        ),
    )
    .await;
    assert_eq!(schema[1], ["n", "INT64"]);
    // A nested column's path is written as DuckDB 2.0 writes it, its parts joined by ", " (the
    // Arrow writer names a list's items `item`, where DuckDB's names them `element`).
    let nested = dir.path().join("nested.parquet");
    query(
        &mut s,
        &format!(
            "COPY (SELECT {{'a': [1]}} AS st) TO '{}' (FORMAT parquet)",
            nested.display()
        ),
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT path_in_schema FROM parquet_metadata('{}')",
                nested.display()
            ),
        )
        .await,
        [["st, a, list, item"]]
    );
    // One row per file; the footer's length is what the file's last 8 bytes say.
    let bytes = std::fs::read(&file).unwrap();
    let tail = &bytes[bytes.len() - 8..];
    let footer = u32::from_le_bytes(tail[..4].try_into().unwrap());
    assert_eq!(&tail[4..], b"PAR1");
    let files = query(
        &mut s,
        &format!(
            "SELECT num_rows, num_row_groups, format_version, encryption_algorithm, \
             file_size_bytes, footer_size, typeof(footer_size) FROM parquet_file_metadata('{}')",
            file.display()
        ),
    )
    .await;
    assert_eq!(
        files,
        [[
            "1000".to_string(),
            "4".into(),
            "1".into(),
            "NULL".into(),
            bytes.len().to_string(),
            footer.to_string(),
            "UBIGINT".into()
        ]]
    );
    // The Arrow writer stores its schema among the key-value pairs.
    let pairs = query(
        &mut s,
        &format!(
            "SELECT key::VARCHAR, typeof(value), length(value) > 0 \
             FROM parquet_kv_metadata('{}')",
            file.display()
        ),
    )
    .await;
    assert_eq!(pairs, [["ARROW:schema", "BLOB", "true"]]);
    // COPY writes a pipeline's own pairs into the footer, as DuckDB's KV_METADATA does.
    let tagged = dir.path().join("tagged.parquet");
    query(
        &mut s,
        &format!(
            "COPY (SELECT 1 AS n) TO '{}' (FORMAT parquet, KV_METADATA {{origin: 'crawl-7', \
             kept: 0.5}})",
            tagged.display()
        ),
    )
    .await;
    let pairs = query(
        &mut s,
        &format!(
            "SELECT key::VARCHAR, value::VARCHAR FROM parquet_kv_metadata('{}') \
             WHERE key::VARCHAR <> 'ARROW:schema' ORDER BY 1",
            tagged.display()
        ),
    )
    .await;
    assert_eq!(pairs, [["kept", "0.5"], ["origin", "crawl-7"]]);
}

#[tokio::test]
async fn bad_input_gets_one_line_naming_the_culprit() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    let missing = dir.path().join("nope/*.parquet");
    let err = error(&mut s, &format!("SELECT * FROM '{}'", missing.display())).await;
    assert!(err.contains(&missing.display().to_string()), "{err}");

    let corrupt = dir.path().join("bad.parquet");
    std::fs::write(&corrupt, b"this is not parquet at all, just text").unwrap();
    let err = error(&mut s, &format!("SELECT * FROM '{}'", corrupt.display())).await;
    assert!(
        err.contains("bad.parquet") && err.contains("not a valid Parquet file"),
        "{err}"
    );

    let err = error(&mut s, "SELECT 1 +\nFROM WHERE").await;
    assert!(err.contains("Line: 2") && err.contains("Column"), "{err}");
    assert!(!err.contains('\n'), "{err}");

    let err = error(&mut s, "SELECT 'abc' - 1").await;
    assert!(err.contains("'-(VARCHAR, BIGINT)'"), "{err}");
    let err = error(&mut s, "SELECT * FROM no_such_table").await;
    assert!(err.contains("no_such_table"), "{err}");
}

#[tokio::test]
async fn sampling_really_samples() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE big AS SELECT n FROM generate_series(1, 20000) AS t(n)",
    )
    .await;
    let percent: i64 = single(query(&mut s, "SELECT count(*) FROM big USING SAMPLE 10%").await)
        .parse()
        .unwrap();
    assert!((1500..=2500).contains(&percent), "{percent}");
    assert_eq!(
        single(query(&mut s, "SELECT count(*) FROM big USING SAMPLE 50 ROWS").await),
        "50"
    );
    let table: i64 = single(query(&mut s, "SELECT count(*) FROM big TABLESAMPLE 25%").await)
        .parse()
        .unwrap();
    assert!((4000..=6000).contains(&table), "{table}");
    // Sampled rows are a subset, not a rewrite of values.
    assert_eq!(
        single(
            query(
                &mut s,
                "SELECT count(*) FROM (FROM big USING SAMPLE 30 ROWS) WHERE n BETWEEN 1 AND 20000"
            )
            .await
        ),
        "30"
    );
    // A sample of rows when the query reads no column of the relation (DataFusion's top-k
    // failed on batches without columns), and the sampled rows keep their own columns only.
    assert_eq!(
        single(
            query(
                &mut s,
                "SELECT count(*) FROM range(1000) USING SAMPLE 10 ROWS"
            )
            .await
        ),
        "10"
    );
    // After an alias that names the relation's columns, and with a WHERE before it: the
    // sample is of the relation, taken before the filter.
    assert_eq!(
        single(
            query(
                &mut s,
                "SELECT count(*) FROM range(1000) AS r(x) WHERE x >= 0 USING SAMPLE 7 ROWS"
            )
            .await
        ),
        "7"
    );
    let sampled = s
        .query("SELECT * FROM big USING SAMPLE 2 ROWS")
        .await
        .unwrap();
    assert_eq!(columns(&sampled), ["n"]);
    assert_eq!(rows(&sampled).len(), 2);
}

#[tokio::test]
async fn a_percentage_limit_keeps_that_share_of_the_rows() {
    let (mut s, _dir) =
        parquet_view("SELECT n AS id, (n * 37) % 101 AS score FROM generate_series(1, 95) AS g(n)")
            .await;
    // floor(95 * 10 / 100) = 9 rows, the best by score after the first 7, as DuckDB keeps
    // them: the share is of the rows before the OFFSET.
    assert_eq!(
        query(
            &mut s,
            "SELECT id, score FROM t ORDER BY score DESC, id LIMIT 10% OFFSET 7"
        )
        .await,
        [
            ["38", "93"],
            ["68", "92"],
            ["27", "90"],
            ["57", "89"],
            ["87", "88"],
            ["16", "87"],
            ["46", "86"],
            ["76", "85"],
            ["5", "84"]
        ]
    );
    // The share is of the rows the query gives (47 pass the filter), inner queries are cut
    // before the queries around them count, and `%` followed by an operand is arithmetic.
    assert_eq!(
        query(
            &mut s,
            "SELECT (SELECT count(*) FROM (SELECT * FROM t WHERE score > 50 LIMIT 20 PERCENT)), \
             (WITH best AS (FROM t ORDER BY score DESC LIMIT 50%) \
              SELECT min(score) FROM (FROM best ORDER BY id LIMIT 10%)), \
             (SELECT count(*) FROM (FROM t LIMIT 0%)), \
             (SELECT count(*) FROM (FROM t LIMIT 100%)), \
             (SELECT max(id) FROM (FROM t ORDER BY id LIMIT 10 % 3))"
        )
        .await,
        [["9", "57", "0", "95", "1"]]
    );
    let err = error(&mut s, "SELECT * FROM t LIMIT 150%").await;
    assert!(
        err.contains("LIMIT 150%: a percentage limit must be between 0% and 100%"),
        "{err}"
    );
}

#[tokio::test]
async fn a_seeded_sample_is_the_same_on_every_run() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("docs.parquet");
    let mut writer = session();
    write(
        &mut writer,
        "SELECT n, n % 7 AS k FROM generate_series(1, 20000) AS t(n)",
        &path,
    )
    .await;
    let path = path.display();
    let sample = |seed: u32| {
        format!(
            "SELECT count(*), sum(n) FROM '{path}' USING SAMPLE 10% (bernoulli, {seed}) \
             WHERE k < 7"
        )
    };
    // One thread or two, the same rows; another seed, other rows; about 10% of them.
    let mut one = SqlSession::new(TarnConfig {
        threads: 1,
        memory_limit: None,
        ..TarnConfig::default()
    })
    .unwrap();
    let mut two = session();
    let first = query(&mut one, &sample(42)).await;
    assert_eq!(query(&mut two, &sample(42)).await, first);
    assert_ne!(query(&mut two, &sample(43)).await, first);
    let count: i64 = first[0][0].parse().unwrap();
    assert!((1500..=2500).contains(&count), "{count}");
    let rows =
        format!("SELECT list(n ORDER BY n) FROM (FROM '{path}' TABLESAMPLE 5 ROWS REPEATABLE (7))");
    assert_eq!(query(&mut one, &rows).await, query(&mut two, &rows).await);
    let bad = error(
        &mut two,
        &format!("FROM '{path}' USING SAMPLE 1% REPEATABLE (x)"),
    )
    .await;
    assert!(bad.contains("REPEATABLE takes a seed"), "{bad}");
}

#[tokio::test]
async fn describe_summarize_and_show_tables() {
    let mut s = session();
    query(&mut s, "CREATE TABLE t AS SELECT * FROM (VALUES (1, 'a'), (3, NULL), (5, 'c'), (7, 'd')) AS v(x, label)").await;
    query(&mut s, "CREATE VIEW w AS SELECT x * 2 AS y FROM t").await;
    assert_eq!(query(&mut s, "SHOW TABLES").await, [["t"], ["w"]]);
    // A table CREATE TABLE AS made declares no NOT NULL, though its x never was NULL, and
    // takes NULLs later, as in DuckDB; a declared NOT NULL is kept.
    let described = query(&mut s, "DESCRIBE t").await;
    assert_eq!(described[0][..3], ["x", "INTEGER", "YES"]);
    assert_eq!(described[1][..3], ["label", "VARCHAR", "YES"]);
    query(
        &mut s,
        "CREATE TABLE scores AS SELECT x, 0.5 AS score FROM t",
    )
    .await;
    query(&mut s, "INSERT INTO scores VALUES (NULL, NULL)").await;
    query(&mut s, "UPDATE scores SET score = NULL WHERE x = 1").await;
    assert_eq!(
        query(
            &mut s,
            "SELECT count(x), count(score), count(*) FROM scores"
        )
        .await,
        [["4", "3", "5"]]
    );
    query(&mut s, "CREATE TABLE declared(k INT NOT NULL)").await;
    query(
        &mut s,
        "CREATE TABLE IF NOT EXISTS declared AS SELECT 1 AS k",
    )
    .await;
    let err = error(&mut s, "INSERT INTO declared VALUES (NULL)").await;
    assert!(
        err.contains("NOT NULL constraint failed: declared.k"),
        "{err}"
    );
    assert_eq!(
        query(&mut s, "DESCRIBE declared").await[0][..3],
        ["k", "INTEGER", "NO"]
    );
    // A table's keys and defaults, as DuckDB 2.0 describes them.
    query(
        &mut s,
        "CREATE SEQUENCE ids; CREATE TABLE keyed(id INT PRIMARY KEY, a INT UNIQUE, \
         b VARCHAR DEFAULT 'x', c BIGINT DEFAULT nextval('ids'), d INT NOT NULL, \
         e DOUBLE DEFAULT 1.5, f INT, UNIQUE (e, f))",
    )
    .await;
    assert_eq!(
        query(&mut s, "DESCRIBE keyed").await,
        [
            ["id", "INTEGER", "NO", "PRI", "NULL", "NULL"],
            ["a", "INTEGER", "YES", "UNI", "NULL", "NULL"],
            ["b", "VARCHAR", "YES", "NULL", "'x'", "NULL"],
            ["c", "BIGINT", "YES", "NULL", "nextval('ids')", "NULL"],
            ["d", "INTEGER", "NO", "NULL", "NULL", "NULL"],
            ["e", "DOUBLE", "YES", "UNI", "1.5", "NULL"],
            ["f", "INTEGER", "YES", "UNI", "NULL", "NULL"],
        ]
    );
    // A query's column holds no NULL only where it passes on such a column as it is, as in
    // DuckDB: a constant, a sum or a grouping key may be NULL to it.
    assert_eq!(
        query(
            &mut s,
            "SELECT column_name, \"null\" FROM (DESCRIBE SELECT k.d AS renamed, k.d + 1, 1 AS one, \
             k.id, o.id AS outer_id FROM (SELECT * FROM keyed WHERE d > 0) AS k \
             LEFT JOIN keyed AS o ON k.a = o.a)"
        )
        .await,
        [
            ["renamed", "NO"],
            ["(k.d + 1)", "YES"],
            ["one", "YES"],
            ["id", "NO"],
            ["outer_id", "YES"],
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT \"null\" FROM (DESCRIBE SELECT d, count(*) FROM keyed GROUP BY d)"
        )
        .await,
        [["YES"], ["YES"]]
    );
    query(&mut s, "DROP TABLE keyed").await;
    query(&mut s, "DROP TABLE scores").await;
    query(&mut s, "DROP TABLE declared").await;
    assert_eq!(
        query(&mut s, "DESCRIBE SELECT x / 2 AS half FROM t").await[0][..2],
        ["half", "DOUBLE"]
    );
    // The schema view names types as DESCRIBE does (DataFusion's named Arrow's: `Int64`).
    query(
        &mut s,
        "CREATE TABLE typed(a INT, b DECIMAL(10, 2), c TIMESTAMP, d VARCHAR[], e STRUCT(f INT))",
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            "SELECT c.column_name, c.data_type FROM memory.information_schema.columns AS c \
             WHERE table_name = 'typed' ORDER BY ordinal_position"
        )
        .await,
        [
            ["a", "INTEGER"],
            ["b", "DECIMAL(10,2)"],
            ["c", "TIMESTAMP"],
            ["d", "VARCHAR[]"],
            ["e", "STRUCT(f INTEGER)"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT data_type FROM information_schema.columns WHERE column_name = 'label'"
        )
        .await,
        [["VARCHAR"]]
    );
    query(&mut s, "DROP TABLE typed").await;

    let batches = s.query("SUMMARIZE t").await.unwrap();
    assert_eq!(
        columns(&batches),
        [
            "column_name",
            "column_type",
            "min",
            "max",
            "approx_unique",
            "avg",
            "std",
            "q25",
            "q50",
            "q75",
            "count",
            "null_percentage"
        ]
    );
    let summary = rows(&batches);
    assert_eq!(summary[0][..6], ["x", "INTEGER", "1", "7", "4", "4.0"]);
    // Quartiles in the column's type, as DuckDB's (one digest per column).
    assert_eq!(summary[0][7..10], ["2", "4", "6"]);
    assert_eq!(summary[0][10], "4");
    assert_eq!(summary[1][..4], ["label", "VARCHAR", "a", "d"]);
    assert_eq!(summary[1][11], "25.00");
    assert_eq!(
        query(&mut s, "SUMMARIZE SELECT y FROM w").await[0][..4],
        ["y", "INTEGER", "2", "14"]
    );
    let floats = query(
        &mut s,
        "SUMMARIZE SELECT x / 2.0 AS h, CAST(x AS DECIMAL(10, 2)) AS d FROM t",
    )
    .await;
    assert_eq!(floats[0][..5], ["h", "DOUBLE", "0.5", "3.5", "4"]);
    assert_eq!(floats[1][..5], ["d", "DECIMAL(10,2)", "1.00", "7.00", "4"]);
    assert_eq!(floats[0][7..10], ["1.0", "2.0", "3.0"]);
    assert_eq!(floats[1][7..10], ["2.00", "4.00", "6.00"]);

    // The statements stand for tables in a query, as in DuckDB: in FROM, in a join and as a
    // CTE; PIVOT as the query it stands for.
    for (sql, expected) in [
        (
            "SELECT column_name FROM (DESCRIBE t) WHERE column_type = 'VARCHAR'",
            vec![vec!["label"]],
        ),
        (
            "SELECT column_name, null_percentage FROM (SUMMARIZE t) WHERE null_percentage > 0",
            vec![vec!["label", "25.00"]],
        ),
        (
            "SELECT a.column_name, b.column_type FROM (DESC SELECT x FROM t) a \
             JOIN (DESCRIBE t) AS b USING (column_name)",
            vec![vec!["x", "INTEGER"]],
        ),
        (
            "WITH names AS (SHOW TABLES) SELECT count(*) FROM names",
            vec![vec!["2"]],
        ),
        // NULL makes no column, as in DuckDB 2.0.
        (
            "SELECT * FROM (PIVOT t ON label USING sum(x)) p",
            vec![vec!["1", "5", "7"]],
        ),
        (
            "SELECT n, sum(v) FROM (UNPIVOT t ON x INTO NAME n VALUE v) GROUP BY n",
            vec![vec!["x", "16"]],
        ),
    ] {
        assert_eq!(query(&mut s, sql).await, expected, "{sql}");
    }
    let err = error(&mut s, "SELECT * FROM (DESCRIBE nosuch)").await;
    assert!(err.contains("nosuch"), "{err}");
    // `SHOW t` describes a table; `SHOW ALL TABLES` lists every schema's, with their columns.
    assert_eq!(
        query(&mut s, "SHOW t").await,
        query(&mut s, "DESCRIBE t").await
    );
    query(&mut s, "CREATE SCHEMA staging").await;
    query(&mut s, "CREATE TABLE staging.raw AS SELECT 'x' AS text").await;
    assert_eq!(
        query(&mut s, "SHOW ALL TABLES").await,
        [
            [
                "memory",
                "main",
                "t",
                "[x, label]",
                "[INTEGER, VARCHAR]",
                "false"
            ],
            ["memory", "main", "w", "[y]", "[INTEGER]", "false"],
            ["memory", "staging", "raw", "[text]", "[VARCHAR]", "false"]
        ]
    );
}

#[tokio::test]
async fn partition_folders_keep_nulls_and_any_text_as_duckdb_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    let rows = "SELECT * FROM (VALUES ('a b', 1, DATE '2024-01-02'), ('x/y', 2, NULL), \
                (NULL, 3, DATE '2024-01-02'), ('é=%', 4, NULL)) t(s, i, d)";
    let out = dir.path().join("parts");
    query(
        &mut s,
        &format!(
            "COPY ({rows}) TO '{}' (FORMAT parquet, PARTITION_BY (s, d))",
            out.display()
        ),
    )
    .await;
    // DuckDB 2.0 names the folders so: a NULL as Hive's default partition (DataFusion's writer
    // named a NULL date's folder `d=1970-01-01`), every other byte but `-._~` encoded.
    let mut folders: Vec<String> = crate::sort::walk(&out)
        .iter()
        .map(|path| path.strip_prefix(&out).unwrap().display().to_string())
        .collect();
    folders.sort();
    assert_eq!(
        folders,
        [
            "s=%C3%A9%3D%25/d=__HIVE_DEFAULT_PARTITION__/data_0.parquet",
            "s=__HIVE_DEFAULT_PARTITION__/d=2024-01-02/data_0.parquet",
            "s=a%20b/d=2024-01-02/data_0.parquet",
            "s=x%2Fy/d=__HIVE_DEFAULT_PARTITION__/data_0.parquet",
        ]
    );
    // Read back, NULLs are NULL and the dates DATEs, as DuckDB reads the same folders.
    let read = format!(
        "SELECT i, s, d, typeof(d) FROM '{}/**/*.parquet' ORDER BY i",
        out.display()
    );
    assert_eq!(
        query(&mut s, &read).await,
        [
            ["1", "a b", "2024-01-02", "DATE"],
            ["2", "x/y", "NULL", "DATE"],
            ["3", "NULL", "2024-01-02", "DATE"],
            ["4", "é=%", "NULL", "DATE"],
        ]
    );
    let nulls = format!(
        "SELECT count(*) FROM read_parquet('{}/**/*.parquet', hive_types => {{'d': 'DATE'}}) \
         WHERE d IS NULL",
        out.display()
    );
    assert_eq!(query(&mut s, &nulls).await, [["2"]]);
    let numbered = format!(
        "SELECT i, file_row_number, d FROM read_parquet('{}/**/*.parquet', file_row_number => true) \
         WHERE i > 3",
        out.display()
    );
    assert_eq!(query(&mut s, &numbered).await, [["4", "0", "NULL"]]);
}

#[tokio::test]
async fn copy_is_atomic_and_refuses_to_append() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE t AS SELECT n, n % 3 AS bucket FROM generate_series(1, 30) AS g(n)",
    )
    .await;
    let out = dir.path().join("parts");
    let copy = format!(
        "COPY t TO '{}' (FORMAT parquet, PARTITION_BY (bucket), COMPRESSION zstd)",
        out.display()
    );
    assert_eq!(single(query(&mut s, &copy).await), "30");
    assert!(out.join("bucket=0").is_dir() && out.join("bucket=2").is_dir());
    assert_eq!(
        single(query(&mut s, &format!("SELECT count(*) FROM '{}'", out.display())).await),
        "30"
    );

    // A rerun is refused, and leaves the first output as it was.
    let err = error(&mut s, &copy).await;
    assert!(
        err.contains("already exists") && err.contains("OVERWRITE"),
        "{err}"
    );
    query(
        &mut s,
        &format!("{} ", copy.replace("COMPRESSION zstd", "OVERWRITE")),
    )
    .await;
    assert_eq!(
        single(query(&mut s, &format!("SELECT count(*) FROM '{}'", out.display())).await),
        "30"
    );

    // A failing query leaves nothing behind: no target, no staging folder.
    let failed = dir.path().join("failed.parquet");
    let err = error(
        &mut s,
        &format!(
            "COPY (SELECT CAST('x' || n AS INT) FROM t) TO '{}'  (FORMAT parquet)",
            failed.display()
        ),
    )
    .await;
    assert!(!err.is_empty());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("parts")]);

    let csv = dir.path().join("t.csv");
    query(
        &mut s,
        &format!(
            "COPY (SELECT n FROM t WHERE n < 3 ORDER BY n) TO '{}' (HEADER true)",
            csv.display()
        ),
    )
    .await;
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), "n\n1\n2\n");
    // One file replaces a file, as in DuckDB; a failing COPY leaves it as it was.
    let rerun = |filter: &str| {
        format!(
            "COPY (SELECT n FROM t WHERE {filter} ORDER BY n) TO '{}' (HEADER true)",
            csv.display()
        )
    };
    query(&mut s, &rerun("n = 7")).await;
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), "n\n7\n");
    let err = error(&mut s, &rerun("CAST('x' || n AS INT) > 0")).await;
    assert!(!err.is_empty());
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), "n\n7\n");
    let json = dir.path().join("t.json");
    query(
        &mut s,
        &format!(
            "COPY (SELECT n FROM t WHERE n = 1) TO '{}' (FORMAT json)",
            json.display()
        ),
    )
    .await;
    assert_eq!(std::fs::read_to_string(&json).unwrap().trim(), "{\"n\":1}");
}

#[tokio::test]
async fn attach_folder_of_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    write(&mut s, "SELECT 1 AS a", &dir.path().join("first.parquet")).await;
    std::fs::create_dir_all(dir.path().join("second")).unwrap();
    write(
        &mut s,
        "SELECT 2 AS a",
        &dir.path().join("second/p0.parquet"),
    )
    .await;
    write(
        &mut s,
        "SELECT 3 AS a",
        &dir.path().join("second/p1.parquet"),
    )
    .await;
    query(
        &mut s,
        &format!("ATTACH '{}' AS lake", dir.path().display()),
    )
    .await;
    assert_eq!(single(query(&mut s, "SELECT a FROM lake.first").await), "1");
    assert_eq!(
        single(query(&mut s, "SELECT sum(a) FROM lake.second").await),
        "5"
    );
}

/// The physical plan of `sql`, one node per line.
pub(crate) async fn physical_plan(session: &mut SqlSession, sql: &str) -> String {
    query(session, "SET datafusion.explain.physical_plan_only = true").await;
    query(session, "SET datafusion.explain.format = 'indent'").await;
    let plan = query(session, &format!("EXPLAIN {sql}")).await;
    plan[0][1].clone()
}

#[tokio::test]
async fn few_threads_share_one_hash_table_for_a_large_build_side() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE big AS SELECT i AS k FROM range(1000000) t(i);
         CREATE TABLE mid AS SELECT i * 3 AS k FROM range(300000) t(i)",
    )
    .await;
    let join = "SELECT count(*) FROM big JOIN mid USING (k)";
    assert_eq!(single(query(&mut s, join).await), "300000");
    // 300 000 build rows: past DataFusion's 128K-row default, within 20M / 2 threads.
    query(&mut s, "SET threads = 2").await;
    let plan = physical_plan(&mut s, join).await;
    assert!(plan.contains("HashJoinExec: mode=CollectLeft"), "{plan}");
    // On 1000 threads the limit is 20 000 rows (2 MB, the size DataFusion looks at first):
    // both sides are split between threads.
    query(&mut s, "SET threads = 1000").await;
    let plan = physical_plan(&mut s, join).await;
    assert!(plan.contains("HashJoinExec: mode=Partitioned"), "{plan}");
    // A limit the user sets survives a change of threads.
    let setting = "datafusion.optimizer.hash_join_single_partition_threshold_rows";
    query(&mut s, &format!("SET {setting} = 5")).await;
    query(&mut s, "SET threads = 2").await;
    let value =
        format!("SELECT value FROM information_schema.df_settings WHERE name = '{setting}'");
    assert_eq!(single(query(&mut s, &value).await), "5");
}

/// The build-side metric DataFusion counts when a join looks keys up in an array indexed by key.
async fn array_lookups(session: &SqlSession, sql: &str) -> usize {
    let plan = session
        .context()
        .sql(sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    datafusion::physical_plan::collect(Arc::clone(&plan), session.context().task_ctx())
        .await
        .unwrap();
    let mut created = 0;
    let mut nodes = vec![plan];
    while let Some(node) = nodes.pop() {
        if let Some(metrics) = node.metrics() {
            created += metrics
                .sum_by_name("array_map_created_count")
                .map_or(0, |value| value.as_usize());
        }
        nodes.extend(node.children().into_iter().cloned());
    }
    created
}

#[tokio::test]
async fn a_join_on_a_sparse_integer_key_looks_keys_up_by_index() {
    let mut s = session();
    query(&mut s, "SET threads = 2").await;
    query(
        &mut s,
        "CREATE TABLE facts AS SELECT i AS k, i % 7 AS v FROM range(600000) t(i);
         CREATE TABLE picked AS SELECT i * 997 AS k FROM range(200) t(i)",
    )
    .await;
    // 200 keys over a range of 198 403: DataFusion alone takes its hash table (the keys fill
    // 0.1% of the range, under its 15%); Tarn's range limit on 2 threads is 4M keys.
    // sum(v) is the sum of 997 i % 7 over i < 200: 599.
    let join = "SELECT count(*), sum(v) FROM facts JOIN picked USING (k)";
    assert_eq!(array_lookups(&s, join).await, 1);
    assert_eq!(query(&mut s, join).await, [["200", "599"]]);
    let setting = "datafusion.execution.perfect_hash_join_small_build_threshold";
    let value =
        format!("SELECT value FROM information_schema.df_settings WHERE name = '{setting}'");
    assert_eq!(single(query(&mut s, &value).await), (4 << 20).to_string());
    // A 64 MB memory limit allows 4 MB of arrays: 500 000 keys on 2 threads.
    query(&mut s, "SET memory_limit = '64MB'").await;
    assert_eq!(single(query(&mut s, &value).await), "500000");
    // Keys wider than the limit go back to the hash table, with the same answer.
    query(&mut s, "SET threads = 1000").await;
    assert_eq!(single(query(&mut s, &value).await), "1024");
    assert_eq!(array_lookups(&s, join).await, 0);
    assert_eq!(query(&mut s, join).await, [["200", "599"]]);
    // A limit the user sets survives a change of settings.
    query(&mut s, &format!("SET {setting} = 77")).await;
    query(&mut s, "SET threads = 2").await;
    assert_eq!(single(query(&mut s, &value).await), "77");
}

#[tokio::test]
async fn settings_and_spilling() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    query(&mut s, "SET threads = 2").await;
    assert_eq!(s.config().threads, 2);
    let err = error(&mut s, "SET threads = 0").await;
    assert!(err.contains("threads"), "{err}");
    query(
        &mut s,
        &format!(
            "SET temp_directory = '{}'",
            dir.path().join("spill").display()
        ),
    )
    .await;
    query(&mut s, "SET memory_limit = '64MB'").await;
    assert_eq!(s.config().memory_limit, Some(64_000_000));
    // Sorting 6M rows (96 MB of data) under a 64 MB limit must spill and still be right.
    let sorted = dir.path().join("sorted.parquet");
    let copy = format!(
        "COPY (SELECT n, (n * 7919) % 3000017 AS k FROM generate_series(1, 6000000) AS t(n) ORDER BY k DESC) TO '{}' (FORMAT parquet)",
        sorted.display()
    );
    assert_eq!(single(query(&mut s, &copy).await), "6000000");
    // Read the file in order with the Parquet reader itself: every k is <= the one before.
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&sorted).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
    let mut previous = i64::MAX;
    let mut seen = 0;
    for batch in reader {
        let batch = batch.unwrap();
        for k in batch.column(1).as_primitive::<Int64Type>().values() {
            assert!(*k <= previous, "row {seen}: {k} after {previous}");
            previous = *k;
            seen += 1;
        }
    }
    assert_eq!(seen, 6_000_000);
    let counted = s
        .query("SELECT count(*) FROM (SELECT n % 3000000 AS k, count(*), max(n) FROM generate_series(1, 6000000) AS t(n) GROUP BY k)")
        .await
        .unwrap();
    assert_eq!(
        counted[0].column(0).as_primitive::<Int64Type>().value(0),
        3000000
    );
    // Other names go to DataFusion.
    query(&mut s, "SET datafusion.execution.batch_size = 4096").await;
    let err = error(&mut s, "SET memory_limit = 'lots'").await;
    assert!(err.contains("memory_limit"), "{err}");
    assert!(counted[0].column(0).null_count() == 0);
}

#[tokio::test]
async fn explain_analyze_is_a_tree_with_rows_per_operator() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE t AS SELECT n, n % 3 AS k FROM generate_series(1, 1000) AS g(n)",
    )
    .await;
    let plan = query(
        &mut s,
        "EXPLAIN ANALYZE SELECT k, count(*) FROM t WHERE n > 100 GROUP BY k",
    )
    .await;
    assert!(plan[0][0].starts_with("ProjectionExec"), "{plan:?}");
    assert_eq!(
        plan[0][1], "3",
        "the root produced the three groups: {plan:?}"
    );
    let filter = plan
        .iter()
        .find(|row| row[0].contains("FilterExec"))
        .expect("a filter operator");
    assert!(
        filter[0].contains("└─ ") || filter[0].contains("├─ "),
        "{filter:?}"
    );
    assert_eq!(filter[1], "900");
    assert!(filter[2].ends_with(" ms"), "{filter:?}");
    assert!(plan.last().unwrap()[0].starts_with("Total wall time"));
}

#[tokio::test]
async fn pivot_and_unpivot_like_duckdb() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE sales AS SELECT * FROM (VALUES ('nl', 2023, 10), ('nl', 2024, 20), ('nl', 2024, 5), ('de', 2023, 7)) v(country, year, amount)",
    )
    .await;
    let batches = s
        .query("PIVOT sales ON year USING sum(amount)")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["country", "2023", "2024"]);
    assert_eq!(rows(&batches), [["de", "7", "NULL"], ["nl", "10", "25"]]);

    let batches = s
        .query("PIVOT sales ON year IN (2024) USING sum(amount) AS total, count(*) AS n GROUP BY country ORDER BY country DESC")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["country", "2024_total", "2024_n"]);
    assert_eq!(rows(&batches), [["nl", "25", "2"], ["de", "NULL", "0"]]);

    query(
        &mut s,
        "CREATE TABLE wide AS SELECT * FROM (VALUES ('a', 1, NULL), ('b', 3, 4)) v(k, q1, q2)",
    )
    .await;
    let batches = s
        .query("UNPIVOT wide ON q1, q2 INTO NAME quarter VALUE amount")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["k", "quarter", "amount"]);
    let mut got = rows(&batches);
    got.sort();
    assert_eq!(got, [["a", "q1", "1"], ["b", "q1", "3"], ["b", "q2", "4"]]);
    let err = error(&mut s, "UNPIVOT wide ON q9 INTO NAME a VALUE b").await;
    assert!(err.contains("'q9'"), "{err}");
    // COLUMNS(...) lists the columns, INTO defaults to DuckDB's names, ORDER BY and LIMIT apply.
    for on in ["COLUMNS(* EXCLUDE (k))", "COLUMNS('^q')", "q1, q2"] {
        let batches = s
            .query(&format!("UNPIVOT wide ON {on} ORDER BY value DESC LIMIT 2"))
            .await
            .unwrap();
        assert_eq!(columns(&batches), ["k", "name", "value"], "{on}");
        assert_eq!(rows(&batches), [["b", "q2", "4"], ["b", "q1", "3"]], "{on}");
    }
    let batches = s
        .query("FROM wide UNPIVOT (amount FOR quarter IN (COLUMNS('q'))) ORDER BY ALL")
        .await
        .unwrap();
    assert_eq!(
        rows(&batches),
        [["a", "q1", "1"], ["b", "q1", "3"], ["b", "q2", "4"]]
    );
    // The SQL-standard forms inside FROM, with DuckDB's names and answers.
    let batches = s
        .query(
            "SELECT * FROM sales PIVOT (sum(amount) AS total, count(*) AS n \
             FOR year IN (2023 AS old, 2024)) AS p WHERE p.country <> 'xx' ORDER BY country",
        )
        .await
        .unwrap();
    assert_eq!(
        columns(&batches),
        ["country", "old_total", "old_n", "2024_total", "2024_n"]
    );
    assert_eq!(
        rows(&batches),
        [["de", "7", "1", "NULL", "0"], ["nl", "10", "1", "25", "2"]]
    );
    let batches = s
        .query("FROM wide UNPIVOT INCLUDE NULLS (amount FOR quarter IN (q1, q2)) ORDER BY ALL")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["k", "quarter", "amount"]);
    assert_eq!(
        rows(&batches),
        [
            ["a", "q1", "1"],
            ["a", "q2", "NULL"],
            ["b", "q1", "3"],
            ["b", "q2", "4"]
        ]
    );
    // A pivot of a pivot: the inner one is planned first.
    let batches = s
        .query(
            "SELECT * FROM (SELECT * FROM sales PIVOT (sum(amount) FOR year IN (2023, 2024))) \
             UNPIVOT (amount FOR year IN (\"2023\", \"2024\")) ORDER BY ALL",
        )
        .await
        .unwrap();
    assert_eq!(
        rows(&batches),
        [
            ["de", "2023", "7"],
            ["nl", "2023", "10"],
            ["nl", "2024", "25"]
        ]
    );
    // Names in any case, as identifiers are: neither is taken for a group key.
    assert_eq!(
        query(
            &mut s,
            "SELECT * FROM sales PIVOT (sum(Amount) FOR YEAR IN (2024)) ORDER BY 1"
        )
        .await,
        [["de", "NULL"], ["nl", "25"]]
    );
    assert_eq!(
        rows(
            &s.query("PIVOT sales ON Year IN (2024) USING sum(AMOUNT)")
                .await
                .unwrap()
        ),
        [["de", "NULL"], ["nl", "25"]]
    );
    let err = error(
        &mut s,
        "SELECT * FROM sales PIVOT (sum(amount) FOR year IN (ANY))",
    )
    .await;
    assert!(
        err.ends_with("PIVOT: IN takes a list of values, as IN (2023, 2024)"),
        "{err}"
    );
}

/// The logical plan of `sql`, one node per line.
async fn logical_plan(session: &mut SqlSession, sql: &str) -> Vec<String> {
    query(session, "SET datafusion.explain.logical_plan_only = true").await;
    query(session, "SET datafusion.explain.format = 'indent'").await;
    let plan = query(session, &format!("EXPLAIN {sql}")).await;
    plan[0][1].lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn decorrelated_subqueries_filter_early_and_keep_their_answers() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE customers AS SELECT * FROM (VALUES (1, 'ann'), (2, 'bob')) AS t(cust, name);
         CREATE TABLE orders AS SELECT * FROM (VALUES (10, 1), (11, 1), (12, 2), (13, NULL)) AS t(okey, cust);
         CREATE TABLE items AS SELECT * FROM (VALUES (10, 5), (10, 7), (11, 3), (12, 20), (13, 30), (NULL, 50)) AS t(okey, qty);
         CREATE TABLE parts AS SELECT * FROM (VALUES (1, 'x'), (2, 'y'), (3, 'x')) AS t(part, brand);
         CREATE TABLE part_items AS SELECT * FROM (VALUES (1, 1), (1, 3), (2, 1), (2, 9), (3, 4), (3, 4), (NULL, 1)) AS t(part, qty)",
    )
    .await;

    // TPC-H Q18's shape: the HAVING-selected keys filter `orders` before it meets `items`.
    let big_orders = "SELECT name, o.okey, sum(qty) FROM customers c, orders o, items i
        WHERE o.okey IN (SELECT okey FROM items GROUP BY okey HAVING sum(qty) > 10)
          AND c.cust = o.cust AND o.okey = i.okey
        GROUP BY ALL ORDER BY ALL";
    assert_eq!(
        query(&mut s, big_orders).await,
        [["ann", "10", "12"], ["bob", "12", "20"]]
    );
    let plan = logical_plan(&mut s, big_orders).await;
    let line = |needle: &str| plan.iter().position(|l| l.contains(needle)).unwrap();
    assert!(
        line("LeftSemi Join") > line("Inner Join"),
        "the semi join runs below the inner joins:\n{}",
        plan.join("\n")
    );

    // TPC-H Q17's shape: only the parts of brand 'x' are averaged.
    let small_quantities = "SELECT sum(pi.qty), count(*) FROM part_items pi, parts p
        WHERE pi.part = p.part AND p.brand = 'x'
          AND pi.qty < (SELECT avg(qty) FROM part_items WHERE part = p.part)";
    assert_eq!(query(&mut s, small_quantities).await, [["1", "1"]]);
    let plan = logical_plan(&mut s, small_quantities).await;
    assert_parts_reduced(
        &plan,
        "the subquery's aggregate reads only the filtered parts",
    );

    // TPC-H Q20's shape: the filtered parts reach the outer rows through a semi join.
    query(
        &mut s,
        "CREATE TABLE stock AS SELECT * FROM (VALUES (1, 5), (1, 3), (2, 20), (3, 9), (3, 8), (4, 1)) AS t(part, avail)",
    )
    .await;
    let well_stocked = "SELECT part, avail FROM stock
        WHERE part IN (SELECT part FROM parts WHERE brand = 'x')
          AND avail > (SELECT sum(qty) FROM part_items WHERE part_items.part = stock.part)
        ORDER BY ALL";
    assert_eq!(query(&mut s, well_stocked).await, [["1", "5"], ["3", "9"]]);
    let plan = logical_plan(&mut s, well_stocked).await;
    assert_parts_reduced(
        &plan,
        "the subquery's aggregate reads only the parts of brand 'x'",
    );
}

#[tokio::test]
async fn not_in_builds_on_the_smaller_side_and_keeps_its_null_rules() {
    let mut s = session();
    query(
        &mut s,
        "SET threads = 2;
         CREATE TABLE docs AS SELECT CASE WHEN i % 100 = 7 THEN NULL ELSE i END AS id FROM range(10000) t(i);
         CREATE TABLE seen AS SELECT * FROM (VALUES (1), (2), (3), (20000)) AS t(id);
         CREATE TABLE seen_and_null AS SELECT * FROM (VALUES (1), (NULL)) AS t(id)",
    )
    .await;
    let unseen = |subquery: &str| {
        format!("SELECT count(*), count(id) FROM docs WHERE id NOT IN ({subquery})")
    };
    // 10 000 ids, 100 of them NULL; three of the others seen.
    let plain = unseen("SELECT id FROM seen");
    assert_eq!(query(&mut s, &plain).await, [["9897", "9897"]]);
    let plan = physical_plan(&mut s, &plain).await;
    assert!(
        plan.contains("NotInJoinExec") && plan.contains("join_type=RightAnti"),
        "the hash table holds the four seen ids, not the 10 000 docs:\n{plan}"
    );
    // A NULL among the subquery's ids makes every comparison unknown: no row is kept.
    let with_null = unseen("SELECT id FROM seen_and_null");
    assert_eq!(query(&mut s, &with_null).await, [["0", "0"]]);
    // An empty subquery keeps every row, those with a NULL id too.
    let empty = unseen("SELECT id FROM seen WHERE id > 30000");
    assert_eq!(query(&mut s, &empty).await, [["10000", "9900"]]);
    // The other way round the outer side is the smaller one, and DataFusion's null-aware join
    // stays: `docs` holds NULLs, so no seen id is kept.
    let reversed = "SELECT count(*) FROM seen WHERE id NOT IN (SELECT id FROM docs)";
    assert_eq!(single(query(&mut s, reversed).await), "0");
    let plan = physical_plan(&mut s, reversed).await;
    assert!(!plan.contains("NotInJoinExec"), "{plan}");
    let reversed = "SELECT id FROM seen WHERE id NOT IN (SELECT id FROM docs WHERE id IS NOT NULL)";
    assert_eq!(query(&mut s, reversed).await, [["20000"]]);
    // EXPLAIN ANALYZE shows the join's work on the hash join the node wraps.
    assert_eq!(
        wrapped_join_rows(&mut s, &plain, "NotInJoinExec").await,
        "9897"
    );
}

/// The rows EXPLAIN ANALYZE of `sql` counts on the hash join below the node named `wrapper`.
async fn wrapped_join_rows(s: &mut SqlSession, sql: &str, wrapper: &str) -> String {
    let analyzed = query(s, &format!("EXPLAIN ANALYZE {sql}")).await;
    let wrapped = analyzed
        .iter()
        .skip_while(|row| !row[0].contains(wrapper))
        .nth(1)
        .unwrap_or_else(|| panic!("no node below {wrapper}: {analyzed:?}"));
    assert!(wrapped[0].contains("HashJoinExec"), "{analyzed:?}");
    wrapped[1].clone()
}

#[tokio::test]
async fn a_join_drops_probe_rows_whose_key_the_build_side_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let (facts, dims) = (
        dir.path().join("facts.parquet"),
        dir.path().join("dims.parquet"),
    );
    let mut s = session();
    // 200 000 facts with keys 0..49 999; 1 000 dims, every 50th key, plus a NULL key.
    query(
        &mut s,
        &format!(
            "SET threads = 2;
             COPY (SELECT CAST(i % 50000 AS INT) AS k, i AS v FROM range(200000) t(i)) TO '{}';
             COPY (SELECT CAST(i * 50 AS INT) AS k, 'd' || i AS name FROM range(1000) t(i)
                   UNION ALL SELECT NULL, 'none') TO '{}'",
            facts.display(),
            dims.display()
        ),
    )
    .await;
    let joined = format!(
        "SELECT count(*), sum(v), count(DISTINCT name) FROM '{}' f JOIN '{}' d ON f.k = d.k",
        facts.display(),
        dims.display()
    );
    let plan = physical_plan(&mut s, &joined).await;
    assert!(
        plan.contains("KeyFilteredJoinExec"),
        "the dims' keys fill 2% of their range:\n{plan}"
    );
    // The facts with a key divisible by 50: i = 0, 50, ..., 199 950.
    assert_eq!(
        query(&mut s, &joined).await,
        [["4000", "399900000", "1000"]]
    );
    let semi = format!(
        "SELECT count(*), count(DISTINCT k) FROM '{}' WHERE k IN (SELECT k FROM '{}')",
        facts.display(),
        dims.display()
    );
    assert_eq!(query(&mut s, &semi).await, [["4000", "1000"]]);
    // A join that answers with unmatched probe rows keeps them all.
    let outer = format!(
        "SELECT count(*), count(name) FROM '{}' f FULL JOIN '{}' d ON f.k = d.k",
        facts.display(),
        dims.display()
    );
    assert_eq!(query(&mut s, &outer).await, [["200001", "4001"]]);
    // EXPLAIN ANALYZE shows the join's rows on the hash join the node wraps.
    assert_eq!(
        wrapped_join_rows(&mut s, &joined, "KeyFilteredJoinExec").await,
        "4000"
    );
}

#[tokio::test]
async fn an_aggregate_on_a_bounded_integer_key_finds_groups_by_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let facts = dir.path().join("facts.parquet");
    let mut s = session();
    // Keys 0..4999, each 20 times, and 7 rows with a NULL key; v counts the rows.
    query(
        &mut s,
        &format!(
            "SET threads = 2;
             COPY (SELECT CAST(i % 5000 AS INT) AS k, i AS v FROM range(100000) t(i)
                   UNION ALL SELECT NULL, i FROM range(7) t(i))
             TO '{}' (FORMAT parquet)",
            facts.display()
        ),
    )
    .await;
    let grouped = format!(
        "SELECT k, count(*) AS n, sum(v) AS total, avg(v) AS mean, min(v) AS low, max(v) AS high
         FROM '{}' GROUP BY k",
        facts.display()
    );
    let plan = physical_plan(&mut s, &grouped).await;
    assert!(
        plan.contains("DirectAggregateExec") && plan.contains("slots=5000 from 0"),
        "the statistics bound k to 0..4999:\n{plan}"
    );
    // Key k's rows hold v = k + 5000j for j in 0..20.
    let checked = format!(
        "SELECT count(*),
                count(*) FILTER (WHERE n = 20 AND total = 20 * k + 950000
                                 AND mean = k + 47500 AND low = k AND high = k + 95000),
                max(n) FILTER (WHERE k IS NULL), max(total) FILTER (WHERE k IS NULL),
                typeof(max(k))
         FROM ({grouped})"
    );
    assert_eq!(
        query(&mut s, &checked).await,
        [["5001", "5000", "7", "21", "INTEGER"]]
    );
    // A key computed from a column has no bounds in the statistics: DataFusion's hash
    // aggregate takes it, with the same answer.
    let computed = format!(
        "SELECT count(*), sum(n) FROM (SELECT k + 1 AS k1, count(*) AS n FROM '{}' GROUP BY k1)",
        facts.display()
    );
    assert!(
        !physical_plan(&mut s, &computed)
            .await
            .contains("DirectAggregateExec")
    );
    assert_eq!(query(&mut s, &computed).await, [["5001", "100007"]]);
    // EXPLAIN ANALYZE counts the partial groups on the node that made them.
    let analyzed = query(&mut s, &format!("EXPLAIN ANALYZE {grouped}")).await;
    let node = analyzed
        .iter()
        .find(|row| row[0].contains("DirectAggregateExec"))
        .expect("the direct aggregate");
    let partial_groups: u64 = node[1].parse().unwrap();
    assert!((5001..=10002).contains(&partial_groups), "{analyzed:?}");
}

#[tokio::test]
async fn an_aggregate_on_string_keys_finds_groups_by_the_keys_packed_into_words() {
    let dir = tempfile::tempdir().unwrap();
    let facts = dir.path().join("facts.parquet");
    let mut s = session();
    // s: a one-letter string, a string of exactly 12 bytes (the most a view holds inline), an
    // empty one, three longer than 12 bytes sharing their first 12, and NULL; n: 0..4 or NULL;
    // w: 20000 short strings.
    query(
        &mut s,
        &format!(
            "SET threads = 2;
             COPY (SELECT CASE i % 5 WHEN 0 THEN 'A' WHEN 1 THEN 'exactly12byt' WHEN 2 THEN ''
                                     WHEN 3 THEN 'longer than twelve bytes ' || (i % 3)
                                     END AS s,
                          CASE WHEN i % 7 = 0 THEN NULL ELSE CAST(i % 4 AS INT) END AS n,
                          'w' || (i % 20000) AS w,
                          i AS v
                   FROM range(100000) t(i))
             TO '{}' (FORMAT parquet)",
            facts.display()
        ),
    )
    .await;
    // 7 strings (NULL among them) by 5 values of n (NULL among them).
    assert_eq!(
        packed_against_reference(&mut s, &facts, "s, n").await,
        ["35", "0", "0", "VARCHAR INTEGER"]
    );
    // Each w's five rows (i = w + 20000j) have one n, and NULL for the 5 w in 7 where one of
    // them is a multiple of 7: 34286 groups, more than a partition keeps packed, so each hands
    // the rest of its rows to DataFusion's aggregate.
    assert_eq!(
        packed_against_reference(&mut s, &facts, "w, n").await,
        ["34286", "0", "0", "VARCHAR INTEGER"]
    );
}

/// Groups `facts` by `keys` (two of its columns) through packed keys and through DataFusion's
/// own grouping: the groups, the rows each has that the other lacks, and the keys' types.
async fn packed_against_reference(s: &mut SqlSession, facts: &Path, keys: &str) -> Vec<String> {
    let grouped = format!(
        "SELECT {keys}, count(*) AS rows, sum(v) AS total, max(v) AS high FROM '{}'
         GROUP BY {keys}",
        facts.display()
    );
    let plan = physical_plan(s, &grouped).await;
    assert!(plan.contains("packed keys"), "{plan}");
    // Five keys are more than are packed: DataFusion's own grouping answers, the reference.
    // The three added keys are false on every row, so they split no group.
    let reference = format!(
        "SELECT {keys}, count(*) AS rows, sum(v) AS total, max(v) AS high FROM '{}'
         GROUP BY {keys}, v < -1, v < -2, v < -3",
        facts.display()
    );
    assert!(!physical_plan(s, &reference).await.contains("packed keys"));
    let (first, second) = keys.split_once(", ").unwrap();
    let differing = format!(
        "SELECT (SELECT count(*) FROM ({grouped})),
                (SELECT count(*) FROM (({grouped}) EXCEPT ({reference}))),
                (SELECT count(*) FROM (({reference}) EXCEPT ({grouped}))),
                (SELECT typeof(max({first})) || ' ' || typeof(max({second})) FROM ({grouped}))"
    );
    query(s, &differing).await.remove(0)
}

/// Asserts that `plan` semi-joins `part_items` with a key set below its aggregate by part.
fn assert_parts_reduced(plan: &[String], why: &str) {
    let line = |needle: &str| plan.iter().position(|l| l.contains(needle));
    assert!(
        line("LeftSemi Join: part_items.part = __tarn_join_keys.part")
            > line("Aggregate: groupBy=[[part_items.part]]"),
        "{why}:\n{}",
        plan.join("\n")
    );
}

#[tokio::test]
async fn joins_run_smallest_first_whatever_order_the_query_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let facts = dir.path().join("facts.parquet");
    let mut s = session();
    query(
        &mut s,
        &format!(
            "COPY (SELECT i AS id, i % 100 AS supp, i % 7 AS qty FROM range(5000) t(i)) TO '{}';
             CREATE TABLE suppliers AS SELECT i AS supp, i % 25 AS nation FROM range(100) t(i);
             CREATE TABLE nations AS SELECT i AS nation, 'n' || i AS name FROM range(25) t(i)",
            facts.display()
        ),
    )
    .await;
    // Named fact table first, as TPC-H Q5 and Q7 do: DataFusion alone would join all 5000
    // facts to the suppliers before the one nation in 25 is chosen.
    let sql = format!(
        "SELECT count(*), sum(qty) FROM '{}' f, suppliers s, nations n
         WHERE f.supp = s.supp AND s.nation = n.nation AND n.name = 'n3' AND f.qty + s.nation > 5",
        facts.display()
    );
    let kept: Vec<i64> = (0..5000)
        .filter(|i| (i % 100) % 25 == 3 && i % 7 + 3 > 5)
        .map(|i| i % 7)
        .collect();
    let expected = [kept.len().to_string(), kept.iter().sum::<i64>().to_string()];
    assert_eq!(query(&mut s, &sql).await, [expected]);

    let plan = logical_plan(&mut s, &sql).await;
    let join_on = |key: &str| {
        plan.iter()
            .position(|l| l.contains("Inner Join") && l.contains(key))
            .unwrap_or_else(|| panic!("no join on {key}:\n{}", plan.join("\n")))
    };
    assert!(
        join_on(".nation = ") > join_on(".supp = "),
        "nations and suppliers are joined first, below the join with the facts:\n{}",
        plan.join("\n")
    );
}

#[tokio::test]
async fn tables_equal_through_a_third_may_join_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| {
        dir.path()
            .join(format!("{name}.parquet"))
            .display()
            .to_string()
    };
    let mut s = session();
    query(
        &mut s,
        &format!(
            "COPY (SELECT i % 2000 AS part, i % 50 AS supp FROM range(20000) t(i)) TO '{}';
             COPY (SELECT i AS part, CASE WHEN i % 10 = 0 THEN 'green' ELSE 'blue' END || i AS name
                   FROM range(2000) t(i)) TO '{}';
             COPY (SELECT i // 4 AS part, (i * 13) % 50 AS supp, i AS cost FROM range(8000) t(i)) TO '{}'",
            path("lines"),
            path("parts"),
            path("partsupps")
        ),
    )
    .await;
    // TPC-H Q9's shape: parts and partsupps are equated only through the lines.
    let sql = format!(
        "SELECT count(*), sum(cost) FROM '{}' p, '{}' l, '{}' ps
         WHERE p.part = l.part AND ps.part = l.part AND ps.supp = l.supp AND p.name LIKE '%green%'",
        path("parts"),
        path("lines"),
        path("partsupps")
    );
    let mut costs = std::collections::HashMap::<(i64, i64), Vec<i64>>::new();
    for i in 0..8000i64 {
        costs.entry((i / 4, (i * 13) % 50)).or_default().push(i);
    }
    let matched: Vec<i64> = (0..20000i64)
        .map(|i| (i % 2000, i % 50))
        .filter(|(part, _)| part % 10 == 0)
        .flat_map(|key| costs.get(&key).cloned().unwrap_or_default())
        .collect();
    let expected = [
        matched.len().to_string(),
        matched.iter().sum::<i64>().to_string(),
    ];
    assert_eq!(query(&mut s, &sql).await, [expected]);

    let plan = logical_plan(&mut s, &sql).await;
    let line = |needle: &dyn Fn(&str) -> bool| plan.iter().position(|l| needle(l));
    let parts_with_partsupps = line(&|l| {
        l.contains("Inner Join: p.part = ps.part") || l.contains("Inner Join: ps.part = p.part")
    });
    let with_lines = line(&|l| l.contains("Inner Join") && l.contains("l.supp"));
    assert!(
        parts_with_partsupps.is_some() && parts_with_partsupps > with_lines,
        "the green parts meet their partsupps before the lines:\n{}",
        plan.join("\n")
    );
}

#[tokio::test]
async fn filters_evaluate_their_cheapest_conditions_first() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE items AS SELECT i AS id, 'mode' || (i % 7) AS mode, i % 365 AS shipped, i % 300 AS due
         FROM range(3000) t(i)",
    )
    .await;
    // Written as TPC-H Q12 writes it: the string test first, the selective day range last.
    let sql = "SELECT count(*) FROM items
        WHERE mode IN ('mode1', 'mode3') AND mode NOT LIKE '%9' AND shipped < due
          AND shipped >= 60 AND shipped < 152";
    let expected = (0..3000)
        .filter(|i| {
            let (mode, shipped, due) = (i % 7, i % 365, i % 300);
            (mode == 1 || mode == 3) && shipped < due && (60..152).contains(&shipped)
        })
        .count();
    assert_eq!(query(&mut s, sql).await, [[expected.to_string()]]);

    let plan = logical_plan(&mut s, sql).await;
    let filter = plan
        .iter()
        .find(|l| l.trim_start().starts_with("Filter:"))
        .unwrap_or_else(|| panic!("no filter:\n{}", plan.join("\n")));
    let at = |needle: &str| {
        filter
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} is not in {filter}"))
    };
    assert!(
        at("items.shipped >= ") < at("items.shipped < items.due")
            && at("items.shipped < items.due") < at("items.mode = ")
            && at("items.mode = ") < at("NOT LIKE"),
        "number constants, then number columns, then strings, then patterns: {filter}"
    );
}

#[tokio::test]
async fn number_literals_have_duckdbs_types() {
    let mut s = session();
    // A decimal literal is exact, as in DuckDB (its leading zero a digit: DECIMAL(3,2)); one with
    // an exponent is a DOUBLE.
    assert_eq!(
        query(
            &mut s,
            "SELECT 0.1 + 0.2, arrow_typeof(0.25), 1e3, arrow_typeof(2.5e-1), 0.1::DOUBLE + 0.2"
        )
        .await,
        [[
            "0.3",
            "Decimal128(3, 2)",
            "1000.0",
            "Float64",
            "0.30000000000000004"
        ]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT typeof(1e3), typeof('x'), typeof(DATE '2024-01-01')"
        )
        .await,
        [["DOUBLE", "VARCHAR", "DATE"]]
    );
    // Exponents past any DECIMAL's scale, as DuckDB reads them.
    assert_eq!(
        query(&mut s, "SELECT 1e308 * 10, -2.5E-320 < 0, 1e-400").await,
        [["inf", "true", "0.0"]]
    );
    // The 128-bit integers are DECIMAL(38, 0): a sum past BIGINT's range is exact.
    assert_eq!(
        query(
            &mut s,
            "SELECT sum(x::HUGEINT), arrow_typeof(sum(x::HUGEINT)), \
             CAST('123456789012345678901234567890' AS INT128) + 1, [1, 2]::UHUGEINT[] \
             FROM (VALUES (9223372036854775807), (9223372036854775807)) v(x)"
        )
        .await,
        [[
            "18446744073709551614",
            "Decimal128(38, 0)",
            "123456789012345678901234567891",
            "[1, 2]"
        ]]
    );
}

#[tokio::test]
async fn avg_of_a_decimal_is_duckdbs_double() {
    let mut s = session();
    // Each expected value is what DuckDB 1.2 answers: the exact sum divided once.
    let values = "(VALUES (1, 0.01), (1, 0.02), (1, 0.04), (2, 5.50), (2, NULL)) t(g, x)";
    assert_eq!(
        query(
            &mut s,
            &format!("SELECT g, avg(x), arrow_typeof(avg(x)) FROM {values} GROUP BY g ORDER BY g")
        )
        .await,
        [
            ["1", "0.023333333333333334", "Float64"],
            ["2", "5.5", "Float64"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT avg(x), avg(DISTINCT x) FROM (VALUES (1.10), (2.25), (2.25)) t(x)"
        )
        .await,
        [["1.8666666666666665", "1.675"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT avg(x) OVER (ORDER BY x ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
             FROM (VALUES (1.10), (2.25), (3.00)) t(x) ORDER BY x"
        )
        .await,
        [["1.1"], ["1.675"], ["2.625"]]
    );
}

#[tokio::test]
async fn columns_are_chosen_by_a_condition_on_their_names() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE f AS SELECT 1 AS id, 0.5 AS score_a, 0.7 AS score_b, 'x' AS text",
    )
    .await;
    // DuckDB's answers: `* LIKE` and its kin keep the FROM clause's order.
    for (sql, expected) in [
        ("SELECT * LIKE 'score_%' FROM f", vec!["score_a", "score_b"]),
        ("SELECT * ILIKE 'SCORE_A' FROM f", vec!["score_a"]),
        ("SELECT * NOT LIKE 'score%' FROM f", vec!["id", "text"]),
        ("SELECT * SIMILAR TO 's.*_b' FROM f", vec!["score_b"]),
        ("SELECT * GLOB '*t' FROM f", vec!["text"]),
        (
            "SELECT COLUMNS(lambda c: c IN ('text', 'id')) FROM f",
            vec!["id", "text"],
        ),
        (
            "SELECT max(COLUMNS(lambda c: c LIKE 's%')) FROM f",
            vec!["score_a", "score_b"],
        ),
    ] {
        let batches = s.query(sql).await.unwrap();
        assert_eq!(columns(&batches), expected, "{sql}");
    }
    assert_eq!(
        query(
            &mut s,
            "SELECT COLUMNS(lambda c: regexp_matches(c, '^score')) * 10 FROM f"
        )
        .await,
        [["5.0", "7.0"]]
    );
    let err = error(&mut s, "SELECT * LIKE 'zz%' FROM f").await;
    assert!(err.contains("* LIKE 'zz%' matches no column"), "{err}");
}

#[tokio::test]
async fn columns_can_take_every_column_but_some() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE t AS SELECT * FROM (VALUES (1, 'a', 3.0), (2, 'c', 10.5)) v(id, name, score)",
    )
    .await;
    // In any case, as identifiers are.
    let batches = s
        .query("SELECT max(COLUMNS(* EXCLUDE (NAME))) FROM t")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["id", "score"]);
    assert_eq!(rows(&batches), [["2", "10.5"]]);
    let err = error(&mut s, "SELECT COLUMNS(* EXCLUDE (nope)) FROM t").await;
    assert!(err.contains("no column nope to exclude"), "{err}");
}

#[tokio::test]
async fn copy_shards_by_row_groups_or_threads() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    let shards = dir.path().join("shards");
    let rows = "SELECT i, i % 7 AS k FROM range(100000) t(i)";
    let count = query(
        &mut s,
        &format!(
            "COPY ({rows}) TO '{}' (FORMAT parquet, ROW_GROUP_SIZE 10000, ROW_GROUPS_PER_FILE 2)",
            shards.display()
        ),
    )
    .await;
    assert_eq!(count, [["100000"]]);
    // A new file once one holds two row groups' rows (checked per batch of rows).
    let files = query(
        &mut s,
        &format!(
            "SELECT count(*), sum(num_rows), max(num_rows) <= 20000 + 8192 \
             FROM parquet_file_metadata('{}/*.parquet')",
            shards.display()
        ),
    )
    .await;
    let file_count: usize = files[0][0].parse().unwrap();
    assert!((4..=5).contains(&file_count), "{files:?}");
    assert_eq!(files[0][1..], ["100000", "true"]);
    let threads = dir.path().join("threads");
    query(
        &mut s,
        &format!(
            "COPY ({rows}) TO '{}' (FORMAT parquet, PER_THREAD_OUTPUT)",
            threads.display()
        ),
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT count(*), sum(num_rows) FROM parquet_file_metadata('{}/*.parquet')",
                threads.display()
            )
        )
        .await,
        [["2", "100000"]]
    );
    // Files are named as DuckDB names them, in the order of their rows.
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT list(parse_filename(file) ORDER BY file) FROM glob('{}/*')",
                threads.display()
            )
        )
        .await,
        [["[data_0.parquet, data_1.parquet]"]]
    );
}

#[tokio::test]
async fn copy_append_adds_files_beside_a_folders_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    let local = dir.path().join("days").display().to_string();
    for target in [local.as_str(), "memory://appends/days"] {
        let copy = |day: i32, options: &str| {
            format!(
                "COPY (SELECT {day} AS day, {day} % 2 AS odd) TO '{target}' \
                 (FORMAT parquet, PARTITION_BY (odd){options})"
            )
        };
        query(&mut s, &copy(1, "")).await;
        let refused = error(&mut s, &copy(2, "")).await;
        assert!(refused.contains("already exists"), "{refused}");
        query(&mut s, &copy(2, ", APPEND")).await;
        query(
            &mut s,
            &copy(3, ", APPEND, FILENAME_PATTERN 'run_{uuidv7}'"),
        )
        .await;
        // As DuckDB 2.0 answers: the first run's files as they were, each appended run's
        // under a UUID, in the partition its rows belong to.
        assert_eq!(
            query(
                &mut s,
                &format!(
                    "SELECT odd, list(day ORDER BY day), \
                     list(regexp_replace(parse_filename(filename), '[0-9a-f-]{{36}}', 'UUID') \
                     ORDER BY day) FROM read_parquet('{target}/*/*.parquet', filename => true) \
                     GROUP BY odd ORDER BY odd"
                )
            )
            .await,
            [
                ["0", "[2]", "[UUID.parquet]"],
                ["1", "[1, 3]", "[data_0.parquet, run_UUID.parquet]"]
            ],
            "{target}"
        );
    }
    let file = dir.path().join("one.parquet");
    query(
        &mut s,
        &format!("COPY (SELECT 1 AS a) TO '{}'", file.display()),
    )
    .await;
    for (options, message) in [
        ("APPEND", "APPEND adds files to a folder"),
        (
            "APPEND, FILENAME_PATTERN 'a_{i}'",
            "APPEND needs a {uuid} in FILENAME_PATTERN",
        ),
        (
            "APPEND, OVERWRITE",
            "OVERWRITE and APPEND cannot both be given",
        ),
    ] {
        let sql = format!("COPY (SELECT 2 AS a) TO '{}' ({options})", file.display());
        let err = error(&mut s, &sql).await;
        assert!(err.contains(message), "{options}: {err}");
    }
    assert_eq!(
        query(&mut s, &format!("SELECT a FROM '{}'", file.display())).await,
        [["1"]]
    );
}

#[tokio::test]
async fn copy_shards_by_size_under_a_file_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    let rows = "SELECT i, md5(i::VARCHAR) AS h FROM range(200000) t(i)";
    let shards = dir.path().join("shards");
    query(
        &mut s,
        &format!(
            "COPY ({rows}) TO '{}' (FORMAT parquet, FILE_SIZE_BYTES '1MB', \
             FILENAME_PATTERN 'part_{{i}}')",
            shards.display()
        ),
    )
    .await;
    // About 1 MB each (a file closes at the first batch past that), in the order of the rows.
    let files = query(
        &mut s,
        &format!(
            "SELECT parse_filename(file_name), num_rows FROM parquet_file_metadata('{}/*') \
             ORDER BY file_name",
            shards.display()
        ),
    )
    .await;
    assert!(files.len() >= 5, "{files:?}");
    for (n, file) in files.iter().enumerate() {
        assert_eq!(file[0], format!("part_{n}.parquet"));
    }
    // Every file but the last (the smallest) holds about 1 MB.
    let mut sizes: Vec<u64> = std::fs::read_dir(&shards)
        .unwrap()
        .map(|f| f.unwrap().metadata().unwrap().len())
        .collect();
    sizes.sort_unstable();
    for size in &sizes[1..] {
        assert!((600_000..1_500_000).contains(size), "{sizes:?}");
    }
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT count(*), count(DISTINCT i), bool_and(h = md5(i::VARCHAR)) \
                 FROM '{}/*.parquet'",
                shards.display()
            )
        )
        .await,
        [["200000", "200000", "true"]]
    );
    // A UUID in the pattern keeps the files' numbers in row order.
    let named = dir.path().join("named");
    query(
        &mut s,
        &format!(
            "COPY ({rows}) TO '{}' (FORMAT parquet, FILE_SIZE_BYTES '500KB', \
             FILENAME_PATTERN 'part_{{i}}_{{uuid}}')",
            named.display()
        ),
    )
    .await;
    let numbers = query(
        &mut s,
        &format!(
            "SELECT list(split_part(parse_filename(filename), '_', 2)::INT ORDER BY min_i) FROM \
             (SELECT filename, min(i) AS min_i FROM read_parquet('{}/*.parquet', filename => true) \
             GROUP BY filename)",
            named.display()
        ),
    )
    .await;
    let count = std::fs::read_dir(&named).unwrap().count();
    assert!(count > 10, "{count} files");
    let in_order: Vec<String> = (0..count).map(|n| n.to_string()).collect();
    assert_eq!(numbers, [[format!("[{}]", in_order.join(", "))]]);
    // Also fewer row groups than the size allows, whichever comes first.
    let groups = dir.path().join("groups");
    query(
        &mut s,
        &format!(
            "COPY ({rows}) TO '{}' (FORMAT parquet, FILE_SIZE_BYTES '1GB', ROW_GROUP_SIZE 50000, \
             ROW_GROUPS_PER_FILE 1)",
            groups.display()
        ),
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT count(*), max(num_rows) FROM parquet_file_metadata('{}/*')",
                groups.display()
            )
        )
        .await,
        [["4", "50000"]]
    );
    // With PARTITION_BY, each partition's folder has its own shards, numbered from 0; a NULL
    // key has its folder too, and every row reads back under its key.
    let parts = dir.path().join("parts");
    query(
        &mut s,
        &format!(
            "COPY (SELECT *, CASE WHEN i % 10 = 0 THEN NULL ELSE i % 2 END AS odd FROM ({rows})) \
             TO '{}' (FORMAT parquet, FILE_SIZE_BYTES '500KB', PARTITION_BY (odd))",
            parts.display()
        ),
    )
    .await;
    let mut folders: Vec<String> = std::fs::read_dir(&parts)
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(
        folders,
        ["odd=0", "odd=1", "odd=__HIVE_DEFAULT_PARTITION__"]
    );
    for folder in &folders {
        let mut files: Vec<String> = std::fs::read_dir(parts.join(folder))
            .unwrap()
            .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort_by(|a, b| (a.len(), a).cmp(&(b.len(), b)));
        assert!(files.len() > 1, "{folder}: {files:?}");
        let numbered: Vec<String> = (0..files.len())
            .map(|n| format!("data_{n}.parquet"))
            .collect();
        assert_eq!(files, numbered, "{folder}");
    }
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT odd, count(*), bool_and(h = md5(i::VARCHAR)), \
                 bool_and(odd IS NOT DISTINCT FROM CASE WHEN i % 10 = 0 THEN NULL ELSE i % 2 END) \
                 FROM '{}/**/*.parquet' GROUP BY ALL ORDER BY ALL",
                parts.display()
            )
        )
        .await,
        [
            ["0", "80000", "true", "true"],
            ["1", "100000", "true", "true"],
            ["NULL", "20000", "true", "true"]
        ]
    );
    for (options, message) in [
        (
            "FORMAT csv, FILE_SIZE_BYTES '1MB'",
            "FILE_SIZE_BYTES writes Parquet",
        ),
        (
            "FORMAT parquet, FILE_SIZE_BYTES 0",
            "FILE_SIZE_BYTES takes a size above 0",
        ),
        (
            "FORMAT parquet, FILENAME_PATTERN 'a/b'",
            "'a/b' is not a file name",
        ),
    ] {
        let target = dir.path().join("refused");
        let err = error(
            &mut s,
            &format!("COPY ({rows}) TO '{}' ({options})", target.display()),
        )
        .await;
        assert!(err.contains(message), "{options}: {err}");
        assert!(!target.exists(), "{options}");
    }
}

#[tokio::test]
async fn quoted_text_survives_the_passes_that_rewrite_tokens() {
    let mut s = session();
    query(&mut s, "CREATE TABLE people(id INT, name VARCHAR); INSERT INTO people VALUES (1, 'O''Brien'), (2, 'x\"y')").await;
    // Each pass that rewrites DuckDB syntax before parsing wrote a string's quote back undoubled.
    let cases = [
        "SELECT count(*) FILTER (WHERE name = 'O''Brien') FROM people",
        "SELECT name FROM people WHERE name = 'O''Brien' LIMIT 100%",
        "SELECT name FROM people USING SAMPLE 100% WHERE name = 'O''Brien'",
        "SELECT first(name IGNORE NULLS) FROM people WHERE name = 'O''Brien'",
        "SELECT a.name FROM people a ASOF JOIN people b ON a.id >= b.id WHERE a.name = 'O''Brien'",
        "SELECT CAST({'n': name} AS STRUCT(n VARCHAR, m MAP(INT, INT))).n FROM people WHERE name = 'O''Brien'",
        "SELECT \"n\"\"q\" FROM (SELECT name AS \"n\"\"q\" FROM people WHERE name = 'O''Brien') LIMIT 100%",
    ];
    for sql in cases {
        let answer = query(&mut s, sql).await;
        assert!(
            answer == [["1"]] || answer == [["O'Brien"]],
            "{sql}: {answer:?}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("names.csv");
    query(
        &mut s,
        &format!(
            "COPY (SELECT name FROM people WHERE name = 'O''Brien') TO '{}'",
            file.display()
        ),
    )
    .await;
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "name\nO'Brien\n");
    query(
        &mut s,
        "INSERT INTO people BY NAME SELECT 'it''s' AS name, 3 AS id",
    )
    .await;
    assert_eq!(
        query(&mut s, "SELECT name FROM people WHERE id = 3").await,
        [["it's"]]
    );
}
