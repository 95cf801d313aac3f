//! End-to-end tests of partitioned jobs: every DataFrame verb and repartition mode on Parquet
//! files the tests write, retries, failing user functions and resuming a job.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, AsArray, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use tarn_engine::job::{JobObserver, Pipeline, RangeSplits, TaskStats};
use tarn_engine::{DataFrame, ReadParquet, Session, SqlSession, TarnConfig};

/// 1000 rows over 3 Parquet files: `id` 0..999, `url` with 37 distinct values, `bucket` 0..3.
async fn corpus(dir: &Path) -> String {
    let mut sql = SqlSession::new(config(dir, None)).unwrap();
    for (file, filter) in [
        ("a", "id < 300"),
        ("b", "id >= 300 AND id < 650"),
        ("c", "id >= 650"),
    ] {
        let path = dir.join("corpus").join(format!("{file}.parquet"));
        sql.query(&format!(
            "COPY (SELECT id, 'u' || (id % 37) AS url, id % 4 AS bucket, repeat('x', id % 50) AS text
                   FROM range(0, 1000) t(id) WHERE {filter} ORDER BY id)
             TO '{}' (FORMAT parquet)",
            path.display()
        ))
        .await
        .unwrap();
    }
    dir.join("corpus").display().to_string()
}

fn config(dir: &Path, job_id: Option<&str>) -> TarnConfig {
    TarnConfig {
        threads: 2,
        concurrency: 2,
        memory_limit: None,
        data_root: dir.join("data").display().to_string(),
        job_id: job_id.map(str::to_string),
        ..TarnConfig::default()
    }
}

async fn session_with_corpus() -> (tempfile::TempDir, Session, DataFrame) {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path()).await;
    let session = Session::new(config(dir.path(), None)).unwrap();
    let df = session
        .read_parquet(&[&corpus], ReadParquet::default())
        .await
        .unwrap();
    (dir, session, df)
}

/// A column of every batch, as i64 values.
fn ints(batches: &[RecordBatch], column: &str) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| {
            let array = datafusion::arrow::compute::cast(
                b.column_by_name(column).unwrap(),
                &DataType::Int64,
            )
            .unwrap();
            array.as_primitive::<Int64Type>().values().to_vec()
        })
        .collect()
}

/// One row per partition: `(count, min(column), max(column))`.
async fn partition_stats(df: &DataFrame, column: &str) -> Vec<(i64, i64, i64)> {
    let stats = df
        .partial_sql(&format!(
            "SELECT count(*) AS n, coalesce(min({column}), -1) AS lo, coalesce(max({column}), -1) AS hi FROM {{0}}"
        ))
        .await
        .unwrap()
        .to_arrow()
        .await
        .unwrap();
    let (n, lo, hi) = (ints(&stats, "n"), ints(&stats, "lo"), ints(&stats, "hi"));
    (0..n.len()).map(|i| (n[i], lo[i], hi[i])).collect()
}

#[tokio::test]
async fn repartition_by_files_and_by_rows() {
    let (_dir, _session, df) = session_with_corpus().await;
    let by_files = df.repartition(3).unwrap();
    let stats = partition_stats(&by_files, "id").await;
    assert_eq!(stats, [(300, 0, 299), (350, 300, 649), (350, 650, 999)]);

    // More partitions than files: the extra ones are empty and keep the schema.
    let wide = df.repartition(5).unwrap();
    let counts: Vec<i64> = partition_stats(&wide, "id")
        .await
        .iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(counts.iter().filter(|&&n| n == 0).count(), 2);
    assert_eq!(counts.iter().sum::<i64>(), 1000);
    assert_eq!(wide.to_arrow().await.unwrap()[0].num_columns(), 4);

    let by_rows = df.repartition_by_rows(4).unwrap();
    for (n, _, _) in partition_stats(&by_rows, "id").await {
        // Each of the 2 producers deals its rows round robin: at most one row apart each.
        assert!((248..=252).contains(&n), "{n} rows");
    }
}

#[tokio::test]
async fn hash_partitions_keep_each_key_together() {
    let (_dir, session, df) = session_with_corpus().await;
    let hashed = df.repartition_hash(8, &["url"]).unwrap();
    assert_eq!(hashed.partitions(), 8);
    let per_partition = hashed
        .partial_sql("SELECT count(DISTINCT __data_partition__) AS parts, min(__data_partition__) AS p, count(*) AS n FROM {0}")
        .await
        .unwrap()
        .to_arrow()
        .await
        .unwrap();
    // Partition p holds exactly the rows tagged p.
    let tags = ints(&per_partition, "p");
    let sizes = ints(&per_partition, "n");
    for (p, (tag, n)) in tags.iter().zip(&sizes).enumerate() {
        if *n > 0 {
            assert_eq!(*tag, p as i64);
        }
    }
    assert_eq!(sizes.iter().sum::<i64>(), 1000);
    // A url never spans two partitions.
    let rows = hashed.to_arrow().await.unwrap();
    let mut sql = session_sql(&session, rows).await;
    let spread = sql
        .query("SELECT max(c) AS c FROM (SELECT url, count(DISTINCT __data_partition__) AS c FROM t GROUP BY url)")
        .await
        .unwrap();
    assert_eq!(ints(&spread, "c"), [1]);
}

/// A SQL session with `rows` as table `t`.
async fn session_sql(session: &Session, rows: Vec<RecordBatch>) -> SqlSession {
    let sql = SqlSession::new(session.config().clone()).unwrap();
    let schema = rows[0].schema();
    let table = datafusion::datasource::MemTable::try_new(schema, vec![rows]).unwrap();
    sql.context().register_table("t", Arc::new(table)).unwrap();
    sql
}

#[tokio::test]
async fn partition_by_column_value_and_out_of_range_keys() {
    let (_dir, _session, df) = session_with_corpus().await;
    let by_bucket = df.repartition_by(4, "bucket").unwrap();
    let stats = partition_stats(&by_bucket, "bucket").await;
    assert_eq!(stats, [(250, 0, 0), (250, 1, 1), (250, 2, 2), (250, 3, 3)]);

    let err = df
        .repartition_by(3, "bucket")
        .unwrap()
        .compute()
        .await
        .unwrap_err();
    let message = err.to_string();
    // Either producer may meet a 3 first; the message names it, its partition and the cause.
    assert!(message.starts_with("task "), "{message}");
    assert!(
        message.contains("-shuffle") && message.contains(" (partition ")
            && message.ends_with(
                "failed after 1 attempt(s): Invalid Input Error: partition key 3 is out of range 0-2"
            ),
        "{message}"
    );
    assert!(!message.contains('\n'));

    let err = df.repartition_by(3, "url").err().unwrap();
    assert_eq!(
        err.to_string(),
        "Invalid Input Error: partition column 'url' must be an integer, not Utf8View"
    );
    let err = df.repartition_hash(3, &["nope"]).err().unwrap();
    assert!(err.to_string().contains("column 'nope' not found"), "{err}");
}

#[tokio::test]
async fn range_partitions_with_given_and_sampled_split_points() {
    let (_dir, _session, df) = session_with_corpus().await;
    let given = df
        .repartition_range(3, "id", RangeSplits::Points(vec![300.into(), 700.into()]))
        .unwrap();
    assert_eq!(
        partition_stats(&given, "id").await,
        [(300, 0, 299), (400, 300, 699), (300, 700, 999)]
    );

    // Skewed keys: half the rows share one value, the rest are spread out.
    let skewed = df
        .map("CASE WHEN id < 500 THEN 0 ELSE id END AS k")
        .await
        .unwrap();
    let sampled = skewed
        .repartition_range(4, "k", RangeSplits::Sampled)
        .unwrap();
    let stats = partition_stats(&sampled, "k").await;
    assert_eq!(stats.iter().map(|s| s.0).sum::<i64>(), 1000);
    // Ranges are ordered and do not overlap.
    let filled: Vec<_> = stats.iter().filter(|s| s.0 > 0).collect();
    for pair in filled.windows(2) {
        assert!(pair[0].2 < pair[1].1, "{stats:?}");
    }
    // The other half is split evenly by the sampled quantiles.
    let spread: Vec<i64> = stats.iter().skip(1).map(|s| s.0).collect();
    assert!(spread.iter().all(|&n| n > 100), "{stats:?}");

    let err = df
        .repartition_range(3, "id", RangeSplits::Points(vec![300.into()]))
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "Invalid Input Error: 3 partitions need 2 split points, got 1"
    );
}

#[tokio::test]
async fn random_shuffle_keeps_every_row() {
    let (_dir, _session, df) = session_with_corpus().await;
    let shuffled = df.repartition(2).unwrap().random_shuffle().await.unwrap();
    let ids = ints(&shuffled.to_arrow().await.unwrap(), "id");
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
    assert_ne!(ids, sorted, "the order changed");
}

#[tokio::test]
async fn sql_verbs_fuse_into_one_stage() {
    let (_dir, _session, df) = session_with_corpus().await;
    let cleaned = df
        .repartition(3)
        .unwrap()
        .filter("length(text) >= 10")
        .await
        .unwrap()
        .map("id, url, length(text) AS len")
        .await
        .unwrap()
        .partial_sort(&["len DESC", "id"])
        .await
        .unwrap();
    let explain = cleaned.explain();
    assert!(
        explain.contains("sql (3 fused queries), 3 task(s)"),
        "{explain}"
    );
    let rows = cleaned.to_arrow().await.unwrap();
    let lens = ints(&rows, "len");
    assert_eq!(lens.len(), 800);
    assert!(lens.iter().all(|&l| l >= 10));
    // Sorted within each partition: the first partition starts at its longest text.
    assert_eq!(lens[0], 49);
    assert_eq!(cleaned.count().await.unwrap(), 800);

    let err = df.filter("no_such_column > 1").await.err().unwrap();
    assert!(err.to_string().contains("no_such_column"), "{err}");
}

#[tokio::test]
async fn partial_sql_joins_aligned_inputs_and_broadcasts_one() {
    let (dir, session, df) = session_with_corpus().await;
    let names = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("bucket", DataType::Int64, false),
            Field::new("name", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(Int64Array::from(vec![0, 1, 2, 3])),
            Arc::new(datafusion::arrow::array::StringArray::from(vec![
                "a", "b", "c", "d",
            ])),
        ],
    )
    .unwrap();
    let lookup = session.from_arrow(names.schema(), vec![names]).unwrap();
    let parts = df.repartition_hash(4, &["bucket"]).unwrap();
    let joined = session
        .partial_sql(
            "SELECT name, count(*) AS n FROM {0} JOIN {1} USING (bucket) GROUP BY name ORDER BY name",
            &[&parts, &lookup],
        )
        .await
        .unwrap();
    assert_eq!(joined.partitions(), 4);
    assert_eq!(
        ints(&joined.to_arrow().await.unwrap(), "n"),
        [250, 250, 250, 250]
    );

    let other = df.repartition(3).unwrap();
    let err = session
        .partial_sql("SELECT * FROM {0}, {1}", &[&parts, &other])
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "Invalid Input Error: partial_sql inputs must have the same number of partitions (or one), got 4, 3"
    );
    drop(dir);
}

#[tokio::test]
async fn limit_union_take_and_write_parquet() {
    let (dir, session, df) = session_with_corpus().await;
    let limited = df.repartition(3).unwrap().limit(7).await.unwrap();
    assert_eq!(limited.partitions(), 1);
    assert_eq!(limited.count().await.unwrap(), 7);

    let both = df.repartition(3).unwrap().union(&df).unwrap();
    assert_eq!(both.partitions(), 4);
    assert_eq!(both.count().await.unwrap(), 2000);
    assert_eq!(
        both.take(5)
            .await
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>(),
        5
    );

    let out = dir.path().join("out");
    let deduped = df
        .repartition_hash(4, &["url"])
        .unwrap()
        .partial_sql("SELECT url, min(id) AS first_id FROM {0} GROUP BY url")
        .await
        .unwrap();
    deduped.write_parquet(out.to_str().unwrap()).await.unwrap();
    let manifest = std::fs::read_to_string(out.join(".MANIFEST")).unwrap();
    let files: Vec<&str> = manifest.lines().collect();
    assert!(!files.is_empty());
    for file in &files {
        assert!(out.join(file).exists(), "{file}");
    }
    let mut sql = SqlSession::new(session.config().clone()).unwrap();
    let written = sql
        .query(&format!(
            "SELECT count(*) AS n, count(DISTINCT url) AS u FROM '{}'",
            out.display()
        ))
        .await
        .unwrap();
    assert_eq!(ints(&written, "n"), [37]);
    assert_eq!(ints(&written, "u"), [37]);
    // No leftovers next to the output.
    let siblings: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tarn-"))
        .collect();
    assert!(siblings.is_empty(), "{siblings:?}");

    let err = deduped
        .write_parquet(out.to_str().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
}

/// Collects the stats of every task that finished.
#[derive(Default)]
struct Recorder(Mutex<Vec<TaskStats>>);

impl JobObserver for Recorder {
    fn task_finished(&self, _stage: &str, stats: &TaskStats) {
        self.0.lock().unwrap().push(*stats);
    }
}

#[tokio::test]
async fn map_batches_retries_io_errors_and_fails_fast_on_others() {
    let (_dir, session, df) = session_with_corpus().await;
    let recorder = Arc::new(Recorder::default());
    session.set_observer(recorder.clone());
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let doubled = df.map_batches(move |batch| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(Box::new(std::io::Error::other("storage hiccup")) as _);
        }
        let ids = batch
            .column_by_name("id")
            .unwrap()
            .as_primitive::<Int64Type>();
        let doubled: Int64Array = ids.iter().map(|v| v.map(|v| v * 2)).collect();
        let schema = Arc::new(Schema::new(vec![Field::new(
            "twice",
            DataType::Int64,
            true,
        )]));
        Ok(RecordBatch::try_new(schema, vec![Arc::new(doubled)])?)
    });
    let values = ints(&doubled.to_arrow().await.unwrap(), "twice");
    assert_eq!(values.iter().sum::<i64>(), 999 * 1000);
    let stats = recorder.0.lock().unwrap().clone();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].attempts, 2, "the I/O error was retried");

    let failing = df
        .repartition(2)
        .unwrap()
        .map_batches(|_| Err("bad row".into()));
    let err = failing.compute().await.unwrap_err().to_string();
    assert!(
        err.starts_with("task ") && err.contains("failed after 1 attempt(s): Invalid Input Error: map_batches function failed: bad row"),
        "{err}"
    );
    let panicking = df.map_batches(|_| panic!("oops"));
    let err = panicking.compute().await.unwrap_err().to_string();
    assert!(err.contains("panicked: oops"), "{err}");
}

#[tokio::test]
async fn a_rerun_of_the_same_job_skips_finished_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path()).await;
    let run = |job: &'static str, partitions: usize| {
        let corpus = corpus.clone();
        let config = config(dir.path(), Some(job));
        async move {
            let session = Session::new(config).unwrap();
            let df = session
                .read_parquet(&[&corpus], ReadParquet::default())
                .await
                .unwrap();
            let parts = df.repartition_hash(partitions, &["url"]).unwrap();
            let counted = parts
                .partial_sql("SELECT url, count(*) AS n FROM {0} GROUP BY url")
                .await
                .unwrap();
            counted.compute().await
        }
    };
    let first = run("job-1", 4).await.unwrap();
    assert!(first.stages.iter().all(|s| s.skipped == 0));
    let err = run("job-1", 5).await.unwrap_err().to_string();
    assert!(
        err.contains("job 'job-1' already ran stage n01-shuffle")
            && err.ends_with("use a new job id"),
        "{err}"
    );
    let second = run("job-1", 4).await.unwrap();
    assert!(
        second.stages.iter().all(|s| s.skipped == s.tasks),
        "{second:?}"
    );
    assert_eq!(
        first.stages.iter().map(|s| s.rows).collect::<Vec<_>>(),
        second.stages.iter().map(|s| s.rows).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn sources_from_csv_json_and_memory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), "k;v\n1;x\n2;y\n").unwrap();
    std::fs::write(dir.path().join("a.json"), "{\"k\": 1}\n{\"k\": 5}\n").unwrap();
    let session = Session::new(config(dir.path(), None)).unwrap();
    let csv = session
        .read_csv(&[dir.path().join("a.csv").to_str().unwrap()], None, b';')
        .await
        .unwrap();
    assert_eq!(ints(&csv.to_arrow().await.unwrap(), "k"), [1, 2]);
    let json = session
        .read_json(&[dir.path().join("a.json").to_str().unwrap()], None)
        .await
        .unwrap();
    assert_eq!(ints(&json.to_arrow().await.unwrap(), "k"), [1, 5]);
    let err = session
        .read_parquet(&["/no/such/place/*.parquet"], ReadParquet::default())
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "IO Error: no files found that match '/no/such/place/*.parquet'"
    );
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, false)])),
        vec![Arc::new(Int64Array::from(vec![3, 1, 2]))],
    )
    .unwrap();
    let memory = session
        .from_arrow(batch.schema(), vec![batch.clone(), batch])
        .unwrap();
    let parts = memory.repartition(2).unwrap();
    let sums = parts
        .partial_sql("SELECT sum(k) AS s FROM {0}")
        .await
        .unwrap()
        .to_arrow()
        .await
        .unwrap();
    assert_eq!(ints(&sums, "s"), [6, 6]);
    assert!(sums[0].column(0).null_count() == 0);
}

/// How Smallpond reads paths: a folder is its own files unless `recursive`, while a glob
/// decides for itself, each `*` staying within one folder.
#[tokio::test]
async fn folders_read_their_subfolders_only_when_recursive_and_globs_decide_for_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("parts");
    let mut sql = SqlSession::new(config(dir.path(), None)).unwrap();
    for (file, id) in [
        ("top", 1),
        ("k=a/one", 2),
        ("k=b/two", 3),
        ("k=b/deep/three", 4),
    ] {
        let path = root.join(format!("{file}.parquet"));
        sql.query(&format!(
            "COPY (SELECT {id}::BIGINT AS id) TO '{}' (FORMAT parquet)",
            path.display()
        ))
        .await
        .unwrap();
    }
    let session = Session::new(config(dir.path(), None)).unwrap();
    let root = root.display().to_string();
    for (path, recursive, expected) in [
        (root.clone(), false, vec![1]),
        (root.clone(), true, vec![1, 2, 3, 4]),
        (format!("{root}/*/*.parquet"), false, vec![2, 3]),
        (format!("{root}/k=*/*.parquet"), false, vec![2, 3]),
        (format!("{root}/**/*.parquet"), false, vec![1, 2, 3, 4]),
    ] {
        let options = ReadParquet {
            recursive,
            ..ReadParquet::default()
        };
        let df = session.read_parquet(&[&path], options).await.unwrap();
        let mut ids = ints(&df.to_arrow().await.unwrap(), "id");
        ids.sort();
        assert_eq!(ids, expected, "{path} (recursive: {recursive})");
    }
}

#[tokio::test]
async fn recompute_forgets_finished_tasks() {
    let (_dir, _session, df) = session_with_corpus().await;
    let counted = df
        .repartition(3)
        .unwrap()
        .partial_sql("SELECT count(*) AS n FROM {0}")
        .await
        .unwrap();
    assert!(!counted.is_computed().await.unwrap());
    counted.compute().await.unwrap();
    assert!(counted.is_computed().await.unwrap());
    let again = counted.compute().await.unwrap();
    assert_eq!(again.stages[0].skipped, 3);
    counted.recompute().await.unwrap();
    assert!(!counted.is_computed().await.unwrap());
    let fresh = counted.compute().await.unwrap();
    assert_eq!(fresh.stages[0].skipped, 0);
    assert_eq!(
        ints(&counted.to_arrow().await.unwrap(), "n"),
        [300, 350, 350]
    );
}

#[tokio::test]
async fn repartition_by_expert_spreads_a_hot_expert_over_partitions() {
    // Expert 0 gets half the rows; the others share the rest.
    let (_dir, _session, df) = session_with_corpus().await;
    let routed = df
        .map("id, CASE WHEN id < 500 THEN 0 ELSE id % 7 + 1 END AS expert")
        .await
        .unwrap();
    let placed = routed
        .repartition_by_expert(4, "expert", Some(3))
        .await
        .unwrap();
    assert!(
        placed
            .explain()
            .contains("by expert expert (8 experts, 12 replicas)"),
        "{}",
        placed.explain()
    );
    let stats = partition_stats(&placed, "id").await;
    assert_eq!(stats.iter().map(|s| s.0).sum::<i64>(), 1000, "{stats:?}");
    // By the expert alone (expert % 4), one partition would hold 500+ rows; EPLB evens them out.
    let largest = stats.iter().map(|s| s.0).max().unwrap();
    assert!(largest <= 300, "{stats:?}");

    let err = routed
        .map("id, expert - 1 AS expert")
        .await
        .unwrap()
        .repartition_by_expert(4, "expert", None)
        .await
        .err()
        .expect("a negative expert");
    assert!(err.to_string().contains("expert -1 is negative"), "{err}");
}

#[tokio::test]
async fn a_pipeline_repartitions_by_expert() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path()).await;
    let out = dir.path().join("sizes");
    let pipeline = Pipeline::parse(&format!(
        "CREATE STAGE docs AS read_parquet('{corpus}');
         CREATE STAGE routed AS map(docs, 'id, CASE WHEN id < 500 THEN 0 ELSE id % 7 + 1 END AS expert');
         CREATE STAGE parts AS repartition(routed, 4, by_expert => 'expert', expert_slots => 3);
         CREATE STAGE sizes AS map(parts, 'count(*) AS n');
         COPY sizes TO '{}' (FORMAT parquet);",
        out.display()
    ))
    .unwrap();
    let session = Session::new(config(dir.path(), None)).unwrap();
    pipeline.run(&session).await.unwrap();
    let mut sql = SqlSession::new(config(dir.path(), None)).unwrap();
    let sizes = sql
        .query(&format!("SELECT sum(n), max(n) FROM '{}'", out.display()))
        .await
        .unwrap();
    let (total, largest) = (ints(&sizes, "sum(n)"), ints(&sizes, "max(n)"));
    assert_eq!(total, [1000]);
    assert!(largest[0] <= 300, "{largest:?}");
}
