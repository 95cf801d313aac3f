//! The evaluation stage's functions on a generated corpus of vectors: semantic dedup
//! (`near_duplicate` in SQL, `near_duplicates` on the DataFrame and as a pipeline stage) against
//! the duplicates the test planted, and `score` against tarn-gpu's head called directly.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    AsArray, FixedSizeListArray, Float32Array, Int64Array, RecordBatch,
};
use datafusion::arrow::datatypes::{DataType, Field, Float32Type, Int64Type, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use safetensors::{Dtype, tensor::TensorView};
use tarn_engine::job::Pipeline;
use tarn_engine::{ReadParquet, Session, SqlSession, TarnConfig};
use tarn_gpu::device::Device;
use tarn_gpu::head::LinearHead;

use crate::sql::{error, query, session};

const DIM: usize = 32;
/// Distinct texts in the corpus; each is a cluster of itself and its planted duplicates.
const CLUSTERS: usize = 200;
/// Cosine similarity from which two vectors are duplicates: the planted near-duplicates are at
/// 0.999 or more from their original, distinct random vectors in 32 dimensions below 0.8.
const THRESHOLD: f64 = 0.98;

/// A fixed pseudo-random sequence in -1..1.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// The corpus as one Parquet file: `id`, `cluster` and `v` (`FLOAT[32]`). Cluster c holds its original vector and c % 4 planted
/// duplicates: exact copies for odd c, slightly moved copies (noise of 1% per coordinate) for
/// even c. Rows are interleaved, so duplicates are not next to their originals.
fn write_corpus(path: &Path) -> usize {
    let mut random = Sequence(42);
    let mut rows: Vec<(i64, Vec<f32>)> = Vec::new();
    for cluster in 0..CLUSTERS {
        let original: Vec<f32> = (0..DIM).map(|_| random.next()).collect();
        rows.push((cluster as i64, original.clone()));
        for _ in 0..cluster % 4 {
            let copy = if cluster % 2 == 1 {
                original.clone()
            } else {
                original.iter().map(|x| x + 0.01 * random.next()).collect()
            };
            rows.push((cluster as i64, copy));
        }
    }
    // Interleave: every 7th row in turn.
    let count = rows.len();
    let order: Vec<usize> = (0..7).flat_map(|start| (start..count).step_by(7)).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("cluster", DataType::Int64, false),
        Field::new(
            "v",
            DataType::FixedSizeList(
                Arc::new(Field::new_list_field(DataType::Float32, true)),
                DIM as i32,
            ),
            true,
        ),
    ]));
    let vectors = FixedSizeListArray::try_new(
        Arc::new(Field::new_list_field(DataType::Float32, true)),
        DIM as i32,
        Arc::new(Float32Array::from_iter_values(
            order.iter().flat_map(|&i| rows[i].1.clone()),
        )),
        None,
    )
    .unwrap();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(0..count as i64)),
            Arc::new(Int64Array::from_iter_values(
                order.iter().map(|&i| rows[i].0),
            )),
            Arc::new(vectors),
        ],
    )
    .unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    count
}

/// Recall (of the planted duplicates, the share dropped) and precision (of the rows dropped,
/// the share that were duplicates), from how many rows were kept and how many clusters they
/// cover: a cluster kept twice is a duplicate missed, a cluster not kept a row dropped wrongly.
/// (Which row of a cluster stays, the original or a copy, is the dedup's choice.)
fn recall_and_precision(
    kept: usize,
    kept_clusters: usize,
    total: usize,
    planted: usize,
) -> (f64, f64) {
    let missed = kept - kept_clusters;
    let (dropped, wrongly) = (total - kept, CLUSTERS - kept_clusters);
    let recall = (planted - missed) as f64 / planted as f64;
    let precision = if dropped == 0 {
        1.0
    } else {
        (dropped - wrongly) as f64 / dropped as f64
    };
    (recall, precision)
}

#[tokio::test]
async fn near_duplicate_keeps_one_row_per_planted_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.parquet");
    let total = write_corpus(&corpus);
    let planted: usize = (0..CLUSTERS).map(|c| c % 4).sum();
    assert_eq!(total, CLUSTERS + planted);

    let mut s = session();
    let kept = query(
        &mut s,
        &format!(
            "SELECT count(*), count(DISTINCT cluster)
             FROM (SELECT * FROM '{}' QUALIFY NOT near_duplicate(v, {THRESHOLD}) OVER (ORDER BY v))",
            corpus.display()
        ),
    )
    .await;
    let numbers: Vec<usize> = kept[0].iter().map(|x| x.parse().unwrap()).collect();
    let (recall, precision) = recall_and_precision(numbers[0], numbers[1], total, planted);
    println!("near_duplicate at {THRESHOLD}: recall {recall:.3}, precision {precision:.3}");
    // One row per cluster, and every cluster kept.
    assert_eq!(numbers[..2], [CLUSTERS, CLUSTERS], "{kept:?}");
    assert_eq!((recall, precision), (1.0, 1.0));

    // PARTITION BY dedups each group apart: two groups of clusters give the same rows.
    let grouped = query(
        &mut s,
        &format!(
            "SELECT count(*) FROM (SELECT * FROM '{}'
             QUALIFY NOT near_duplicate(v, {THRESHOLD}) OVER (PARTITION BY cluster % 2 ORDER BY v))",
            corpus.display()
        ),
    )
    .await;
    assert_eq!(grouped, [[CLUSTERS.to_string()]]);

    // At a threshold of 1 only the exact copies go.
    let exact = query(
        &mut s,
        &format!(
            "SELECT count(*) FROM (SELECT * FROM '{}' QUALIFY NOT near_duplicate(v, 1) OVER (ORDER BY v))",
            corpus.display()
        ),
    )
    .await;
    let exact_copies: usize = (0..CLUSTERS).filter(|c| c % 2 == 1).map(|c| c % 4).sum();
    assert_eq!(exact, [[(total - exact_copies).to_string()]]);

    let err = error(
        &mut s,
        "SELECT near_duplicate([1.0, 2.0], 1.5) OVER () FROM (VALUES (1)) t(x)",
    )
    .await;
    assert!(
        err.contains(
            "near_duplicate: the threshold must be a cosine similarity in (0, 1], got 1.5"
        ),
        "{err}"
    );
}

fn config(dir: &Path) -> TarnConfig {
    TarnConfig {
        threads: 2,
        concurrency: 2,
        memory_limit: None,
        data_root: dir.join("data").display().to_string(),
        ..TarnConfig::default()
    }
}

/// The (cluster, vector bits) of each row, sorted.
fn kept_vectors(batches: &[RecordBatch]) -> Vec<(i64, Vec<u32>)> {
    let mut kept: Vec<(i64, Vec<u32>)> = batches
        .iter()
        .flat_map(|b| {
            let clusters = b
                .column_by_name("cluster")
                .unwrap()
                .as_primitive::<Int64Type>();
            let vectors = b.column_by_name("v").unwrap().as_fixed_size_list();
            (0..b.num_rows())
                .map(|i| {
                    let v = vectors.value(i);
                    let bits = v
                        .as_primitive::<Float32Type>()
                        .values()
                        .iter()
                        .map(|x| x.to_bits());
                    (clusters.value(i), bits.collect())
                })
                .collect::<Vec<_>>()
        })
        .collect();
    kept.sort();
    kept
}

#[tokio::test]
async fn near_duplicates_in_a_partitioned_job_and_a_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.parquet");
    write_corpus(&corpus);
    let corpus = corpus.display().to_string();

    // DataFrame: partitioned so that a cluster stays together, then deduplicated per partition.
    let job = Session::new(config(dir.path())).unwrap();
    let docs = job
        .read_parquet(&[&corpus], ReadParquet::default())
        .await
        .unwrap();
    let unique = docs
        .repartition_hash(4, &["cluster"])
        .unwrap()
        .near_duplicates("v", THRESHOLD)
        .await
        .unwrap();
    let kept = kept_vectors(&unique.to_arrow().await.unwrap());
    let clusters: std::collections::BTreeSet<i64> = kept.iter().map(|(c, _)| *c).collect();
    assert_eq!((kept.len(), clusters.len()), (CLUSTERS, CLUSTERS));

    // The same vectors as SQL over the whole file: the least of each cluster. (Rows with equal
    // vectors, the exact copies, may differ in which one stays.)
    let mut s = SqlSession::new(config(dir.path())).unwrap();
    let by_sql = s
        .query(&format!(
            "SELECT cluster, v FROM '{corpus}' QUALIFY NOT near_duplicate(v, {THRESHOLD}) OVER (ORDER BY v)"
        ))
        .await
        .unwrap();
    assert_eq!(kept, kept_vectors(&by_sql));

    let err = docs
        .near_duplicates("vector", 0.9)
        .await
        .err()
        .expect("no such column");
    assert!(
        err.to_string()
            .contains("deduplicate column 'vector' not found"),
        "{err}"
    );

    // The pipeline stage.
    let out = dir.path().join("unique");
    let pipeline = Pipeline::parse(&format!(
        "CREATE STAGE docs AS read_parquet('{corpus}');
         CREATE STAGE parts AS repartition(docs, 3, hash_by => 'cluster');
         CREATE STAGE unique_docs AS near_duplicates(parts, 'v', {THRESHOLD});
         COPY unique_docs TO '{}' (FORMAT parquet);",
        out.display()
    ))
    .unwrap();
    pipeline.run(&job).await.unwrap();
    let written = query(
        &mut s,
        &format!(
            "SELECT count(*), count(DISTINCT cluster) FROM '{}'",
            out.display()
        ),
    )
    .await;
    assert_eq!(written, [[CLUSTERS.to_string(), CLUSTERS.to_string()]]);
}

/// Writes a head of `classes` × DIM weights and a bias to `path`.
fn write_head(path: &Path, classes: usize) {
    let mut random = Sequence(7);
    let weight: Vec<u8> = (0..classes * DIM)
        .flat_map(|_| random.next().to_le_bytes())
        .collect();
    let bias: Vec<u8> = (0..classes)
        .flat_map(|c| (c as f32 * 0.5).to_le_bytes())
        .collect();
    safetensors::serialize_to_file(
        [
            (
                "weight",
                TensorView::new(Dtype::F32, vec![classes, DIM], &weight).unwrap(),
            ),
            (
                "bias",
                TensorView::new(Dtype::F32, vec![classes], &bias).unwrap(),
            ),
        ],
        None,
        path,
    )
    .unwrap();
}

#[tokio::test]
async fn score_runs_a_linear_head_over_a_column_of_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.parquet");
    write_corpus(&corpus);
    let (quality, topics) = (
        dir.path().join("quality.safetensors"),
        dir.path().join("topics.safetensors"),
    );
    write_head(&quality, 1);
    write_head(&topics, 3);

    // The first 20 rows' vectors, to score directly.
    let mut s = SqlSession::new(config(dir.path())).unwrap();
    let batches = s
        .query(&format!(
            "SELECT v FROM '{}' WHERE id < 20 ORDER BY id",
            corpus.display()
        ))
        .await
        .unwrap();
    let x: Vec<f32> = batches
        .iter()
        .flat_map(|b| {
            let list = b.column(0).as_fixed_size_list();
            list.values()
                .as_primitive::<Float32Type>()
                .values()
                .to_vec()
        })
        .collect();

    for (path, classes) in [(&quality, 1), (&topics, 3)] {
        let want = LinearHead::load(path)
            .unwrap()
            .scores(&x, &Device::Cpu)
            .unwrap();
        let got = s
            .query(&format!(
                "SELECT score(v, '{}') AS s, arrow_typeof(score(v, '{}')) AS t FROM '{}' WHERE id < 20 ORDER BY id",
                path.display(),
                path.display(),
                corpus.display()
            ))
            .await
            .unwrap();
        let types = got[0].column(1).as_string::<i32>().value(0).to_string();
        let values: Vec<f32> = got
            .iter()
            .flat_map(|b| {
                let column = b.column(0);
                match column.data_type() {
                    DataType::Float32 => column.as_primitive::<Float32Type>().values().to_vec(),
                    _ => column
                        .as_fixed_size_list()
                        .values()
                        .as_primitive::<Float32Type>()
                        .values()
                        .to_vec(),
                }
            })
            .collect();
        if classes == 1 {
            assert_eq!(types, "Float32");
        } else {
            assert_eq!(types, "FixedSizeList(3 x Float32)");
        }
        assert_eq!(values.len(), want.len());
        for (g, w) in values.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0), "{g} vs {w}");
        }
    }

    let mut s = session();
    let nulls = query(
        &mut s,
        &format!("SELECT score(NULL::FLOAT[], '{}')", quality.display()),
    )
    .await;
    assert_eq!(nulls, [["NULL"]]);
    let err = error(
        &mut s,
        &format!("SELECT score([1.0, 2.0], '{}')", quality.display()),
    )
    .await;
    assert!(
        err.contains("score: a vector of 2 values;") && err.contains("scores vectors of 32"),
        "{err}"
    );
    let err = error(
        &mut s,
        "SELECT score([1.0], '/nonexistent/head.safetensors')",
    )
    .await;
    assert!(
        err.contains("score: /nonexistent/head.safetensors: "),
        "{err}"
    );
}

/// `QUALIFY row_number() OVER (PARTITION BY g ORDER BY s) = 1` keeps each partition's first row
/// as DuckDB orders it (NULLS LAST unless asked, a partition of NULLs keeping a row, the NULL
/// key a partition too), planned as a hash aggregate instead of a window; a filter keeping
/// more rows stays a window. Answers as DuckDB 2.0 gives them.
#[tokio::test]
async fn the_first_row_per_partition_is_an_aggregate() {
    let (mut s, _dir) = crate::sql::parquet_view(
        "SELECT * FROM (VALUES (1, 5, 'a'), (1, 9, 'b'), (1, NULL, 'c'), (2, NULL, 'd'), \
         (3, 2, 'e'), (3, 1, 'f'), (NULL, 4, 'g'), (NULL, 3, 'h')) v(g, s, v)",
    )
    .await;
    let firsts = |order: &str| {
        format!(
            "SELECT g, v FROM t QUALIFY row_number() OVER (PARTITION BY g ORDER BY {order}) = 1 \
             ORDER BY g NULLS LAST"
        )
    };
    for (order, expected) in [
        ("s DESC", ["b", "d", "e", "g"]),
        ("s", ["a", "d", "f", "h"]),
        ("s DESC NULLS FIRST", ["c", "d", "e", "g"]),
        ("s NULLS FIRST", ["c", "d", "f", "h"]),
    ] {
        let sql = firsts(order);
        let kept: Vec<String> = query(&mut s, &sql)
            .await
            .into_iter()
            .map(|r| r[1].clone())
            .collect();
        assert_eq!(kept, expected, "{sql}");
        let plan = crate::sql::physical_plan(&mut s, &sql).await;
        assert!(
            !plan.contains("WindowAggExec") && plan.contains("tarn_arg_"),
            "{plan}"
        );
    }
    // Ties broken by a second key, ordered either way; a text ordered against the first key
    // leaves the window, with the same answer.
    let (mut ties, _ties_dir) = crate::sql::parquet_view(
        "SELECT * FROM (VALUES (1, 5, 'a', 1), (1, 9, 'b', 2), (1, 9, 'b2', 3), (1, NULL, 'c', 4), \
         (2, NULL, 'd', 5), (2, NULL, 'd2', 6), (3, 2, 'e', 7), (3, 2, 'f', 8), (NULL, 4, 'g', 9), \
         (NULL, 3, 'h', 10)) v(g, s, v, id)",
    )
    .await;
    for (order, expected, aggregated) in [
        ("s DESC, id", ["b", "d", "e", "g"], true),
        ("s DESC, id DESC", ["b2", "d2", "f", "g"], true),
        ("s, id DESC", ["a", "d2", "f", "h"], true),
        ("s NULLS FIRST, id", ["c", "d", "e", "h"], true),
        ("s DESC, v", ["b", "d", "e", "g"], false),
        ("s DESC, v DESC", ["b2", "d2", "f", "g"], true),
    ] {
        let sql = firsts(order);
        let kept: Vec<String> = query(&mut ties, &sql)
            .await
            .into_iter()
            .map(|r| r[1].clone())
            .collect();
        assert_eq!(kept, expected, "{sql}");
        let plan = crate::sql::physical_plan(&mut ties, &sql).await;
        assert_eq!(!plan.contains("WindowAggExec"), aggregated, "{plan}");
    }
    // The number itself, kept by a subquery, is 1; `rn < 2` keeps the same rows.
    assert_eq!(
        query(
            &mut s,
            "SELECT g, v, rn FROM (SELECT *, row_number() OVER (PARTITION BY g ORDER BY s) AS rn \
             FROM t) WHERE rn < 2 ORDER BY g NULLS LAST"
        )
        .await,
        [
            ["1", "a", "1"],
            ["2", "d", "1"],
            ["3", "f", "1"],
            ["NULL", "h", "1"]
        ]
    );
    let two = "SELECT * FROM t QUALIFY row_number() OVER (PARTITION BY g ORDER BY s) <= 2";
    let plan = crate::sql::physical_plan(&mut s, two).await;
    assert!(plan.contains("WindowAggExec"), "{plan}");
    assert_eq!(
        query(&mut s, &format!("SELECT count(*) FROM ({two})")).await,
        [["7"]]
    );
    // A key that cannot be NULL is compared as itself.
    assert_eq!(
        query(
            &mut s,
            "SELECT x FROM range(10) r(x) \
             QUALIFY row_number() OVER (PARTITION BY x % 3 ORDER BY x DESC) = 1 ORDER BY x"
        )
        .await,
        [["7"], ["8"], ["9"]]
    );
}
