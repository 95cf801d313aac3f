//! SQL over every kind of store: the same Parquet files queried from a local folder, from S3 (a
//! real s3s-fs server on loopback), from `memory://` and through a `3fs://` URL give one answer.

use futures::StreamExt;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tarn_fs::Stores;
use tarn_fs::testing::{BUCKET, s3_server};

use crate::sql::{error, query, session};

const TOTALS: &str = "SELECT count(*) AS n, sum(id) AS ids, count(DISTINCT tag) AS tags FROM";

/// Writes three Parquet files under `dir` and returns the answer `TOTALS` gives over them.
async fn local_corpus(dir: &std::path::Path) -> Vec<Vec<String>> {
    let mut sql = session();
    for part in 0..3 {
        let file = dir.join(format!("part-{part}.parquet"));
        query(
            &mut sql,
            &format!(
                "COPY (SELECT {part} * 1000 + i AS id, 'tag' || (i % 7) AS tag \
                 FROM generate_series(1, 1000) t(i)) TO '{}' (FORMAT parquet)",
                file.display()
            ),
        )
        .await;
    }
    let answer = query(&mut sql, &format!("{TOTALS} '{}/*.parquet'", dir.display())).await;
    assert_eq!(answer, [["3000", "4501500", "7"]]);
    answer
}

/// Copies every file of `dir` to `url_prefix` through the storage layer.
async fn upload(dir: &std::path::Path, url_prefix: &str) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let url = format!(
            "{url_prefix}/{}",
            path.file_name().unwrap().to_string_lossy()
        );
        let (store, object) = Stores::global().resolve(&url).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        store.put(&object, PutPayload::from(bytes)).await.unwrap();
    }
}

#[tokio::test]
async fn sql_reads_parquet_from_s3() {
    s3_server();
    let dir = tempfile::tempdir().unwrap();
    let answer = local_corpus(dir.path()).await;
    upload(dir.path(), &format!("s3://{BUCKET}/sql/corpus")).await;
    let mut sql = session();
    let from_s3 = query(
        &mut sql,
        &format!("{TOTALS} 's3://{BUCKET}/sql/corpus/*.parquet'"),
    )
    .await;
    assert_eq!(from_s3, answer);
    let one = query(
        &mut sql,
        &format!("SELECT count(*) FROM read_parquet('s3://{BUCKET}/sql/corpus/part-1.parquet')"),
    )
    .await;
    assert_eq!(one, [["1000"]]);
}

#[tokio::test]
async fn a_missing_bucket_is_one_error_naming_the_url() {
    s3_server();
    let mut sql = session();
    let err = error(
        &mut sql,
        "SELECT * FROM 's3://no-such-bucket/corpus/*.parquet'",
    )
    .await;
    assert!(
        err.starts_with("IO Error: list 's3://no-such-bucket/corpus/"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
}

#[tokio::test]
async fn copy_writes_files_and_partitioned_folders_to_s3() {
    s3_server();
    let dir = tempfile::tempdir().unwrap();
    let answer = local_corpus(dir.path()).await;
    let mut sql = session();
    let local = format!("'{}/*.parquet'", dir.path().display());
    let file = format!("s3://{BUCKET}/copy/all.parquet");
    let copied = query(
        &mut sql,
        &format!("COPY (SELECT * FROM {local}) TO '{file}' (FORMAT parquet)"),
    )
    .await;
    assert_eq!(copied, [["3000"]]);
    assert_eq!(query(&mut sql, &format!("{TOTALS} '{file}'")).await, answer);

    // One file replaces an object, as DuckDB's COPY replaces a file.
    let again = format!("COPY (SELECT 1 AS x) TO '{file}' (FORMAT parquet)");
    assert_eq!(query(&mut sql, &again).await, [["1"]]);
    assert_eq!(
        query(&mut sql, &format!("SELECT * FROM '{file}'")).await,
        [["1"]]
    );

    let folder = format!("s3://{BUCKET}/copy/by_tag");
    query(
        &mut sql,
        &format!("COPY (SELECT * FROM {local}) TO '{folder}' (FORMAT parquet, PARTITION_BY (tag))"),
    )
    .await;
    let per_tag = query(
        &mut sql,
        &format!("SELECT count(*) FROM read_parquet('{folder}/*/*.parquet', hive_partitioning => true) WHERE tag = 'tag3'"),
    )
    .await;
    assert_eq!(per_tag, [["429"]]);
    // A folder of objects is not replaced by one file.
    let over_folder = error(
        &mut sql,
        &format!("COPY (SELECT 1 AS x) TO '{folder}' (FORMAT parquet)"),
    )
    .await;
    assert!(over_folder.contains("already exists"), "{over_folder}");
    // OVERWRITE replaces the folder's objects: none of the old partitions is left.
    query(
        &mut sql,
        &format!("COPY (SELECT 1 AS id, 'only' AS tag) TO '{folder}' (FORMAT parquet, PARTITION_BY (tag), OVERWRITE)"),
    )
    .await;
    let tags = query(
        &mut sql,
        &format!("SELECT DISTINCT tag FROM read_parquet('{folder}/*/*.parquet', hive_partitioning => true)"),
    )
    .await;
    assert_eq!(tags, [["only"]]);
}

#[tokio::test]
async fn a_folder_is_listed_afresh_by_every_query() {
    let dir = tempfile::tempdir().unwrap();
    local_corpus(dir.path()).await;
    let mut sql = session();
    let glob = format!("'{}/*.parquet'", dir.path().display());
    assert_eq!(
        query(&mut sql, &format!("SELECT count(*) FROM {glob}")).await,
        [["3000"]]
    );
    let extra = dir.path().join("part-9.parquet");
    query(
        &mut sql,
        &format!(
            "COPY (SELECT 1 AS id, 'x' AS tag) TO '{}' (FORMAT parquet)",
            extra.display()
        ),
    )
    .await;
    assert_eq!(
        query(&mut sql, &format!("SELECT count(*) FROM {glob}")).await,
        [["3001"]]
    );
}

/// Shards written by different tools hold a column in different widths; the folder reads as the
/// widest (DuckDB reads it as its first file's types, and fails where a value does not fit).
#[tokio::test]
async fn files_whose_numbers_differ_in_width_read_as_the_wider() {
    let dir = tempfile::tempdir().unwrap();
    let mut sql = session();
    let glob = format!("'{}/*.parquet'", dir.path().display());
    for (file, columns) in [
        ("a", "1 AS id, 1.5::FLOAT AS score"),
        ("b", "3000000000 AS id, 2 AS score"),
    ] {
        let path = dir.path().join(format!("{file}.parquet"));
        let copy = format!(
            "COPY (SELECT {columns}) TO '{}' (FORMAT parquet)",
            path.display()
        );
        query(&mut sql, &copy).await;
    }
    assert_eq!(
        query(
            &mut sql,
            &format!("SELECT id, score, typeof(id), typeof(score) FROM {glob} ORDER BY id")
        )
        .await,
        [
            ["1", "1.5", "BIGINT", "FLOAT"],
            ["3000000000", "2.0", "BIGINT", "FLOAT"]
        ]
    );
    assert_eq!(
        query(
            &mut sql,
            &format!("SELECT count(*) FROM {glob} WHERE id > 2")
        )
        .await,
        [["1"]]
    );
    let text = dir.path().join("c.parquet");
    query(
        &mut sql,
        &format!(
            "COPY (SELECT 'a' AS id) TO '{}' (FORMAT parquet)",
            text.display()
        ),
    )
    .await;
    let err = error(&mut sql, &format!("SELECT * FROM {glob}")).await;
    assert!(
        err.contains("column 'id' is BIGINT in some files and VARCHAR in others"),
        "{err}"
    );
}

#[tokio::test]
async fn sql_reads_parquet_from_memory() {
    let dir = tempfile::tempdir().unwrap();
    let answer = local_corpus(dir.path()).await;
    upload(dir.path(), "memory://e2e/corpus").await;
    let mut sql = session();
    let from_memory = query(
        &mut sql,
        &format!("{TOTALS} 'memory://e2e/corpus/*.parquet'"),
    )
    .await;
    assert_eq!(from_memory, answer);
}

#[tokio::test]
async fn a_3fs_url_reads_under_the_mount() {
    // A folder stands in for the mount point: 3fs:// URLs are paths under it.
    let mount = tempfile::tempdir().unwrap();
    let data = mount.path().join("datasets/corpus");
    std::fs::create_dir_all(&data).unwrap();
    let answer = local_corpus(&data).await;
    // SAFETY: no other test reads TARN_3FS_MOUNT.
    unsafe { std::env::set_var("TARN_3FS_MOUNT", mount.path()) };
    let mut sql = session();
    let via_3fs = query(
        &mut sql,
        &format!("{TOTALS} '3fs://datasets/corpus/*.parquet'"),
    )
    .await;
    assert_eq!(via_3fs, answer);
    query(
        &mut sql,
        "COPY (SELECT * FROM '3fs://datasets/corpus/*.parquet') TO '3fs://out/all.parquet' (FORMAT parquet)",
    )
    .await;
    let copied = query(
        &mut sql,
        &format!(
            "{TOTALS} '{}'",
            mount.path().join("out/all.parquet").display()
        ),
    )
    .await;
    assert_eq!(copied, answer);
}

#[tokio::test]
async fn a_partitioned_job_reads_its_source_from_s3() {
    s3_server();
    let dir = tempfile::tempdir().unwrap();
    local_corpus(dir.path()).await;
    upload(dir.path(), &format!("s3://{BUCKET}/job/corpus")).await;
    let job = tarn_engine::Session::new(tarn_engine::TarnConfig {
        threads: 2,
        concurrency: 2,
        memory_limit: None,
        data_root: dir.path().join("data").display().to_string(),
        ..tarn_engine::TarnConfig::default()
    })
    .unwrap();
    // The trailing slash names a folder without asking for an object first: s3s-fs answers a HEAD
    // of a folder with 500 where S3 says 404 (after which DataFusion lists the prefix).
    let source = format!("s3://{BUCKET}/job/corpus/");
    let per_tag = job
        .read_parquet(&[&source], tarn_engine::ReadParquet::default())
        .await
        .unwrap()
        .repartition_hash(4, &["tag"])
        .unwrap()
        .partial_sql("SELECT tag, count(*) AS n FROM {0} GROUP BY tag")
        .await
        .unwrap();
    let out = dir.path().join("out");
    per_tag.write_parquet(out.to_str().unwrap()).await.unwrap();
    let mut sql = session();
    let totals = query(
        &mut sql,
        &format!("SELECT count(*), sum(n) FROM '{}/*.parquet'", out.display()),
    )
    .await;
    assert_eq!(totals, [["7", "3000"]]);
}

/// Runs a three-stage job (hash shuffle by `tag`, per-partition counts, a range shuffle on the
/// counts with sampled split points) over the local corpus in `dir/corpus`, with its data under
/// `data_root` as job `job_id`, and writes the result to `out`. Returns the job's report.
async fn counts_job(
    dir: &std::path::Path,
    data_root: &str,
    job_id: &str,
    out: &str,
) -> tarn_engine::Result<tarn_engine::job::JobReport> {
    let job = tarn_engine::Session::new(tarn_engine::TarnConfig {
        threads: 2,
        concurrency: 2,
        memory_limit: None,
        data_root: data_root.to_string(),
        job_id: Some(job_id.to_string()),
        ..tarn_engine::TarnConfig::default()
    })?;
    let corpus = format!("{}/corpus/*.parquet", dir.display());
    job.read_parquet(&[&corpus], tarn_engine::ReadParquet::default())
        .await?
        .repartition_hash(4, &["tag"])?
        .partial_sql("SELECT tag, count(*) AS n, sum(id) AS ids FROM {0} GROUP BY tag")
        .await?
        .repartition_range(2, "n", tarn_engine::job::RangeSplits::Sampled)?
        .write_parquet(out)
        .await
}

/// The totals of a published folder and the number of files its `.MANIFEST` lists.
async fn published(folder: &str) -> (Vec<Vec<String>>, usize) {
    let mut sql = session();
    let totals = query(
        &mut sql,
        &format!("SELECT count(*), sum(n), sum(ids) FROM '{folder}/*.parquet'"),
    )
    .await;
    let (store, manifest) = Stores::global()
        .resolve(&format!("{folder}/.MANIFEST"))
        .unwrap();
    let listed = store.get(&manifest).await.unwrap().bytes().await.unwrap();
    (totals, String::from_utf8_lossy(&listed).lines().count())
}

#[tokio::test]
async fn a_partitioned_job_keeps_its_data_in_s3() {
    s3_server();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("corpus")).unwrap();
    local_corpus(&dir.path().join("corpus")).await;
    let local_out = dir.path().join("local-out").display().to_string();
    counts_job(
        dir.path(),
        &dir.path().join("data").display().to_string(),
        "local",
        &local_out,
    )
    .await
    .unwrap();
    let expected = published(&local_out).await;
    assert_eq!(expected.0, [["7", "3000", "4501500"]]);

    let data_root = format!("s3://{BUCKET}/jobs");
    let s3_out = format!("s3://{BUCKET}/job-out/counts");
    let first = counts_job(dir.path(), &data_root, "on-s3", &s3_out)
        .await
        .unwrap();
    assert!(first.stages.iter().all(|s| s.skipped == 0), "{first:?}");
    assert_eq!(published(&s3_out).await, expected);
    // Every task's files and record are objects under the job's prefix.
    let (store, prefix) = Stores::global()
        .resolve(&format!("{data_root}/on-s3/tasks"))
        .unwrap();
    let records: Vec<_> = store.list(Some(&prefix)).collect().await;
    let tasks: usize = first.stages.iter().map(|s| s.tasks).sum();
    assert_eq!(records.len(), tasks, "one .done record per task");

    // The same job again finds every task done in S3; its output goes to a local folder.
    let again_out = dir.path().join("again").display().to_string();
    let second = counts_job(dir.path(), &data_root, "on-s3", &again_out)
        .await
        .unwrap();
    assert!(
        second.stages.iter().all(|s| s.skipped == s.tasks),
        "{second:?}"
    );
    assert_eq!(published(&again_out).await, expected);

    // A published object folder is never written over.
    let err = counts_job(dir.path(), &data_root, "on-s3", &s3_out)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("target '{s3_out}' already exists")),
        "{err}"
    );
}

#[tokio::test]
async fn a_partitioned_job_keeps_its_data_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("corpus")).unwrap();
    local_corpus(&dir.path().join("corpus")).await;
    let out = dir.path().join("out").display().to_string();
    let report = counts_job(dir.path(), "memory://jobs/root", "in-memory", &out)
        .await
        .unwrap();
    assert_eq!(report.stages.len(), 3, "{report:?}");
    assert_eq!(published(&out).await.0, [["7", "3000", "4501500"]]);
    assert!(
        !dir.path().join("data").exists(),
        "nothing is kept in the local data folder"
    );
}
