//! Rows come out in the order their files hold them, as in DuckDB: a filtered `LIMIT` gives the
//! first matches, `COPY` keeps a file's order, `row_number() OVER ()` numbers rows in file order.
//! The files are several MiB so that each scan is split into more pieces than threads.

use std::path::{Path, PathBuf};

use crate::sql::{error, query, session};
use tarn_engine::SqlSession;

/// Rows in a file of 400 thousand, `n` from 1 up in file order, with an incompressible
/// 32-character `h`, in row groups of 20 thousand (about 16 MiB in all).
const ROWS: usize = 400_000;

/// Writes the numbered file under `dir` and returns its path.
async fn numbered_file(s: &mut SqlSession, dir: &Path) -> PathBuf {
    let path = dir.join("numbered.parquet");
    query(
        s,
        &format!(
            "COPY (SELECT n, md5(n::VARCHAR) AS h FROM generate_series(1, {ROWS}) AS g(n) ORDER BY n) \
             TO '{}' (FORMAT parquet, ROW_GROUP_SIZE 20000)",
            path.display()
        ),
    )
    .await;
    path
}

fn numbers(rows: Vec<Vec<String>>) -> Vec<i64> {
    rows.iter().map(|row| row[0].parse().unwrap()).collect()
}

async fn plan_text(s: &mut SqlSession, sql: &str) -> String {
    query(s, &format!("EXPLAIN {sql}"))
        .await
        .iter()
        .map(|row| row.join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn results_keep_the_order_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    let file = numbered_file(&mut s, dir.path()).await;
    let f = file.display();

    // The first matches, though the later pieces of the file, where every row matches, fill
    // a limit long before the first piece finds its few matches.
    let filtered = format!("SELECT n FROM '{f}' WHERE n % 50000 = 7 OR n > 200000 LIMIT 5");
    assert_eq!(
        numbers(query(&mut s, &filtered).await),
        [7, 50007, 100007, 150007, 200001]
    );
    let plan = plan_text(&mut s, &filtered).await;
    assert!(plan.contains("OrderedConcatExec"), "{plan}");
    assert!(plan.contains("morsels: 8"), "{plan}");
    assert_eq!(
        numbers(
            query(
                &mut s,
                &format!("SELECT n FROM '{f}' LIMIT 3 OFFSET 300000")
            )
            .await
        ),
        [300001, 300002, 300003]
    );

    // A whole result, from a filter over every piece, comes out in file order.
    let every_third = numbers(query(&mut s, &format!("SELECT n FROM '{f}' WHERE n % 3 = 0")).await);
    assert_eq!(every_third.len(), ROWS / 3);
    assert!(every_third.windows(2).all(|w| w[0] + 3 == w[1]));

    // row_number() OVER () numbers the rows in file order.
    let misnumbered = format!(
        "SELECT count(*) FROM (SELECT n, row_number() OVER () AS r FROM '{f}') WHERE n <> r"
    );
    assert_eq!(query(&mut s, &misnumbered).await, [["0"]]);

    // UNION ALL gives its first input's rows, then its second's.
    let union = format!(
        "SELECT n FROM '{f}' WHERE n IN (5, 399999) UNION ALL SELECT n FROM '{f}' WHERE n IN (2, 300000)"
    );
    assert_eq!(numbers(query(&mut s, &union).await), [5, 399999, 2, 300000]);

    // An aggregate's input has no order to keep; nothing is changed there.
    let grouped = plan_text(
        &mut s,
        &format!("SELECT n % 10, count(*) FROM '{f}' GROUP BY 1"),
    )
    .await;
    assert!(!grouped.contains("OrderedConcatExec"), "{grouped}");
}

#[tokio::test]
async fn tables_and_generated_rows_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    let file = numbered_file(&mut s, dir.path()).await;
    query(
        &mut s,
        &format!("CREATE TABLE t AS SELECT * FROM '{}'", file.display()),
    )
    .await;
    query(
        &mut s,
        &format!("INSERT INTO t SELECT n + {ROWS}, h FROM t WHERE n <= 100000"),
    )
    .await;
    let filtered = "SELECT n FROM t WHERE n % 50000 = 7 OR n > 200000 LIMIT 5";
    assert_eq!(
        numbers(query(&mut s, filtered).await),
        [7, 50007, 100007, 150007, 200001]
    );
    let misnumbered = "SELECT count(*), count(*) FILTER (WHERE n <> r) \
                       FROM (SELECT n, row_number() OVER () AS r FROM t)";
    assert_eq!(query(&mut s, misnumbered).await, [["500000", "0"]]);
    // A table written on two threads reads in order on three.
    query(&mut s, "SET threads = 3").await;
    assert_eq!(
        numbers(query(&mut s, "SELECT n FROM t WHERE n % 100000 = 1").await),
        [1, 100001, 200001, 300001, 400001]
    );
    let generated = "SELECT n FROM generate_series(1, 1000000) AS g(n) WHERE n % 7 = 0 LIMIT 3";
    assert_eq!(numbers(query(&mut s, generated).await), [7, 14, 21]);
}

#[tokio::test]
async fn copy_writes_rows_in_the_order_it_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    let file = numbered_file(&mut s, dir.path()).await;
    let even = dir.path().join("even.parquet");
    query(
        &mut s,
        &format!(
            "COPY (SELECT n, h FROM '{}' WHERE n % 2 = 0) TO '{}' (FORMAT parquet)",
            file.display(),
            even.display()
        ),
    )
    .await;
    // The k-th row of the copy (from 0) is 2k + 2.
    let misplaced = |path: &Path| {
        format!(
            "SELECT count(*), count(*) FILTER (WHERE n <> 2 * file_row_number + 2) \
             FROM read_parquet('{}', file_row_number = true)",
            path.display()
        )
    };
    assert_eq!(query(&mut s, &misplaced(&even)).await, [["200000", "0"]]);
    // Under a small memory limit the pieces waiting their turn take at most an eighth of it,
    // and the writer has the rest.
    query(&mut s, "SET memory_limit = '16MB'").await;
    let small = dir.path().join("even_small.parquet");
    query(
        &mut s,
        &format!(
            "COPY (SELECT n, h FROM '{}' WHERE n % 2 = 0) TO '{}' (FORMAT parquet)",
            file.display(),
            small.display()
        ),
    )
    .await;
    assert_eq!(query(&mut s, &misplaced(&small)).await, [["200000", "0"]]);
    query(&mut s, "SET memory_limit = '-1'").await;

    // CSV is read in pieces too, each from its first whole line.
    let csv = dir.path().join("numbered.csv");
    query(
        &mut s,
        &format!(
            "COPY (SELECT * FROM '{}') TO '{}'",
            file.display(),
            csv.display()
        ),
    )
    .await;
    let tail = format!(
        "SELECT n FROM read_csv('{}') WHERE n % 50000 = 1 LIMIT 8",
        csv.display()
    );
    assert_eq!(
        numbers(query(&mut s, &tail).await),
        [1, 50001, 100001, 150001, 200001, 250001, 300001, 350001]
    );
}

#[tokio::test]
async fn files_of_a_glob_are_read_in_name_order_and_a_lists_in_its_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    let parts = dir.path().join("parts");
    std::fs::create_dir(&parts).unwrap();
    // Written last to first, so that neither creation order nor size gives the name order.
    for (name, from) in [("c", 300_001), ("b", 100_001), ("a", 1)] {
        query(
            &mut s,
            &format!(
                "COPY (SELECT n, md5(n::VARCHAR) AS h FROM generate_series({from}, {}) AS g(n) ORDER BY n) \
                 TO '{}' (FORMAT parquet, ROW_GROUP_SIZE 20000)",
                from + 99_999,
                parts.join(format!("{name}.parquet")).display()
            ),
        )
        .await;
    }
    let all = numbers(
        query(
            &mut s,
            &format!(
                "SELECT n FROM '{}/*.parquet' WHERE n % 7 = 0",
                parts.display()
            ),
        )
        .await,
    );
    let expected: Vec<i64> = (1..=100_000)
        .chain(100_001..=200_000)
        .chain(300_001..=400_000)
        .filter(|n| n % 7 == 0)
        .collect();
    assert_eq!(all, expected);
    // A list of files is read in the order given, as in DuckDB; the glob beside it in name
    // order.
    let listed = numbers(
        query(
            &mut s,
            &format!(
                "SELECT n FROM read_parquet(['{0}/c.parquet', '{0}/[ab].parquet']) WHERE n % 7 = 0",
                parts.display()
            ),
        )
        .await,
    );
    let expected: Vec<i64> = (300_001..=400_000)
        .chain(1..=200_000)
        .filter(|n| n % 7 == 0)
        .collect();
    assert_eq!(listed, expected);
    // A file named twice is read twice, as in DuckDB (DataFusion's listing reads it once).
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT count(*) FROM read_parquet(['{0}/a.parquet', '{0}/a.parquet', '{0}/[ab].parquet'])",
                parts.display()
            ),
        )
        .await,
        [["400000"]]
    );
}

#[tokio::test]
async fn a_failure_in_a_later_piece_fails_the_query_unless_a_limit_stops_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    let file = numbered_file(&mut s, dir.path()).await;
    let cast = format!(
        "SELECT CAST(CASE WHEN n = 390000 THEN 'x' ELSE n::VARCHAR END AS INT) AS n FROM '{}'",
        file.display()
    );
    let out = dir.path().join("out.parquet");
    let err = error(
        &mut s,
        &format!("COPY ({cast}) TO '{}' (FORMAT parquet)", out.display()),
    )
    .await;
    assert!(err.contains("'x'"), "{err}");
    assert!(!out.exists(), "a failed COPY leaves no file");
    // The failing row is in the last piece; the first five rows never need it.
    assert_eq!(
        numbers(query(&mut s, &format!("{cast} LIMIT 5")).await),
        [1, 2, 3, 4, 5]
    );
}

#[tokio::test]
async fn insertion_order_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    let file = numbered_file(&mut s, dir.path()).await;
    let filtered = format!("SELECT n FROM '{}' WHERE n % 1000 = 7", file.display());
    query(&mut s, "SET preserve_insertion_order = false").await;
    assert!(!s.config().preserve_insertion_order);
    let plan = plan_text(&mut s, &filtered).await;
    assert!(!plan.contains("OrderedConcatExec"), "{plan}");
    let mut unordered = numbers(query(&mut s, &filtered).await);
    unordered.sort();
    assert_eq!(
        unordered,
        (7..=ROWS as i64).step_by(1000).collect::<Vec<_>>()
    );
    let err = error(&mut s, "SET preserve_insertion_order = 'sometimes'").await;
    assert!(err.contains("preserve_insertion_order"), "{err}");
    query(&mut s, "SET preserve_insertion_order = true").await;
    assert!(
        plan_text(&mut s, &filtered)
            .await
            .contains("OrderedConcatExec")
    );
}

#[tokio::test]
async fn a_positional_join_pairs_rows_by_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE t1 AS FROM (VALUES (1), (2), (3)) t(x); \
         CREATE TABLE t2 AS FROM (VALUES ('a', 10), ('b', 20)) t(s, v)",
    )
    .await;
    // DuckDB's answers: the shorter side is padded with NULLs, rows come in position order.
    let null = || "NULL".to_string();
    assert_eq!(
        query(&mut s, "SELECT * FROM t1 POSITIONAL JOIN t2").await,
        [["1", "a", "10"], ["2", "b", "20"], ["3", &null(), &null()]]
    );
    assert_eq!(
        query(&mut s, "SELECT t2.*, x FROM t1 POSITIONAL JOIN t2").await,
        [["a", "10", "1"], ["b", "20", "2"], [&null(), &null(), "3"]]
    );
    assert_eq!(
        query(&mut s, "SELECT count(*), sum(v) FROM t1 POSITIONAL JOIN t2").await,
        [["3", "30"]]
    );
    assert_eq!(
        query(&mut s, "SELECT * FROM t2 POSITIONAL JOIN t1 WHERE x > 1").await,
        [["b", "20", "2"], [&null(), &null(), "3"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT * FROM t1 POSITIONAL JOIN t2 ORDER BY x DESC LIMIT 2"
        )
        .await,
        [["3", &null(), &null()], ["2", "b", "20"]]
    );
    assert_eq!(
        query(&mut s, "SELECT * FROM t1 AS a POSITIONAL JOIN t1 AS b").await,
        [["1", "1"], ["2", "2"], ["3", "3"]]
    );

    // Scores computed for a file in its order, paired back with it.
    let file = numbered_file(&mut s, dir.path()).await;
    let scores = dir.path().join("scores.parquet");
    query(
        &mut s,
        &format!(
            "COPY (SELECT n * 10 AS score FROM '{}' WHERE n <= 300000) TO '{}'",
            file.display(),
            scores.display()
        ),
    )
    .await;
    let paired = format!(
        "SELECT count(*), count(score), count(*) FILTER (WHERE score <> n * 10) \
         FROM '{}' AS docs POSITIONAL JOIN '{}' AS scores",
        file.display(),
        scores.display()
    );
    assert_eq!(query(&mut s, &paired).await, [["400000", "300000", "0"]]);
    // The sides are zipped as they stream, not joined by hashing one of them, so the pair
    // needs far less memory than a side holds (16 MiB), with an aggregate or a limit above.
    let plan = plan_text(&mut s, &paired).await;
    assert!(
        plan.contains("PositionalZipExec") && !plan.contains("HashJoinExec"),
        "{plan}"
    );
    query(&mut s, "SET memory_limit = '4MB'").await;
    assert_eq!(query(&mut s, &paired).await, [["400000", "300000", "0"]]);
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT n, score FROM '{}' POSITIONAL JOIN '{}' LIMIT 3 OFFSET 299998",
                file.display(),
                scores.display()
            )
        )
        .await,
        [
            ["299999", "2999990"],
            ["300000", "3000000"],
            ["300001", &null()]
        ]
    );
    query(&mut s, "SET memory_limit = '-1'").await;

    let err = error(&mut s, "SELECT * FROM t1 POSITIONAL JOIN t2 ON t1.x = t2.v").await;
    assert!(err.contains("no ON or USING"), "{err}");
    let err = error(
        &mut s,
        "SELECT * FROM t1 POSITIONAL JOIN t2 POSITIONAL JOIN t1 AS t3",
    )
    .await;
    assert!(err.contains("one POSITIONAL JOIN"), "{err}");
}

/// A subquery's or a CTE's ORDER BY is kept where its order shows, as DuckDB keeps it (DataFusion
/// drops it), and costs no sort where nothing above needs the order.
#[tokio::test]
async fn a_subquerys_order_shows_above_it() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE docs AS SELECT n AS id, (n * 37) % 101 AS score \
         FROM generate_series(1, 1000) g(n)",
    )
    .await;
    let best = "WITH ranked AS (SELECT id, score FROM docs ORDER BY score DESC, id) \
                SELECT id, score FROM ranked LIMIT 3";
    assert_eq!(
        query(&mut s, best).await,
        [["30", "100"], ["131", "100"], ["232", "100"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT id, row_number() OVER () AS r \
             FROM (SELECT id FROM docs WHERE score = 100 ORDER BY id DESC) LIMIT 2"
        )
        .await,
        [["939", "1"], ["838", "2"]]
    );
    // What reads rows in order without asking for an order: a list and a string_agg (on more
    // rows than a batch, which a round-robin split would deal out), a positional join's sides.
    assert_eq!(
        query(
            &mut s,
            "SELECT list(n) = range(100000, 0, -1), string_agg(n::VARCHAR, ',')[1:13]              FROM (SELECT n FROM generate_series(1, 100000) g(n) ORDER BY n DESC)"
        )
        .await,
        [["true", "100000,99999,"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT * FROM (SELECT id FROM docs WHERE score = 100 ORDER BY id DESC) a              POSITIONAL JOIN (SELECT id FROM docs WHERE score = 99 ORDER BY id) b LIMIT 3"
        )
        .await,
        [["939", "60"], ["838", "161"], ["737", "262"]]
    );
    let counted = "SELECT count(*), sum(score) FROM (SELECT * FROM docs ORDER BY score)";
    assert_eq!(query(&mut s, counted).await, [["1000", "50044"]]);
    assert!(!plan_text(&mut s, counted).await.contains("SortExec"));
    // Without insertion order, DataFusion's planning drops the subquery's sort.
    query(&mut s, "SET preserve_insertion_order = false").await;
    assert!(!plan_text(&mut s, best).await.contains("SortExec"));
}
