//! `embed()`, `cosine_similarity()` and `l2_normalize()` in SQL and in a partitioned job, over
//! Parquet corpora the tests write, with the MiniLM model that scripts/test installs.

use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float32Type};
use tarn_engine::{ReadParquet, Session, TarnConfig};
use tarn_gpu::minilm::{MiniLm, Precision};

use crate::sql::{error, query, session};

#[tokio::test]
async fn embed_ranks_a_corpus_by_meaning() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.parquet");
    let mut s = session();
    query(
        &mut s,
        &format!(
            "COPY (SELECT * FROM (VALUES (1, 'The stock market fell sharply on Monday.'), \
             (2, 'A fast brown fox jumped over the sleepy dog.'), \
             (3, 'Preheat the oven and butter the baking tin.'), \
             (4, NULL)) t(id, text)) TO '{}'",
            corpus.display()
        ),
    )
    .await;
    let table = format!("'{}'", corpus.display());

    // The nearest text to a paraphrase is the one it paraphrases, in f32 and in FP8.
    for precision in ["f32", "fp8"] {
        let nearest = query(
            &mut s,
            &format!(
                "SELECT id FROM {table} WHERE text IS NOT NULL ORDER BY \
                 cosine_similarity(embed(text, '{precision}'), \
                 embed('The quick brown fox jumps over the lazy dog.', '{precision}')) DESC LIMIT 1"
            ),
        )
        .await;
        assert_eq!(nearest, [["2"]], "{precision}");
    }
    // FP8 stays close to f32; NULL text gives a NULL vector; the type is FLOAT[384].
    let rows = query(
        &mut s,
        &format!(
            "SELECT min(cosine_similarity(embed(text), embed(text, 'fp8'))) >= 0.995, \
             count(*) FILTER (WHERE embed(text) IS NULL), \
             max(arrow_typeof(embed(text))) FROM {table}"
        ),
    )
    .await;
    assert_eq!(rows[0][..2], ["true", "1"]);
    assert!(
        rows[0][2].starts_with("FixedSizeList(384"),
        "{}",
        rows[0][2]
    );
    // The first value of sentence-transformers' embedding of the fixture's first sentence.
    let first = query(
        &mut s,
        "SELECT abs(embed('This is an example sentence.')[1] - 0.09812459349632263) < 1e-5",
    )
    .await;
    assert_eq!(first, [["true"]]);
}

#[tokio::test]
async fn vector_functions_and_their_errors() {
    let mut s = session();
    let rows = query(
        &mut s,
        "SELECT l2_normalize([3.0, 4.0]), cosine_similarity([1.0, 0.0], [0.0, 2.0]), \
         round(cosine_similarity([1, 2], [2, 4]), 12), l2_normalize(NULL::FLOAT[])",
    )
    .await;
    assert_eq!(rows, [["[0.6, 0.8]", "0.0", "1.0", "NULL"]]);
    let err = error(&mut s, "SELECT cosine_similarity([1.0, 2.0], [1.0])").await;
    assert!(
        err.contains(
            "cosine_similarity: list dimensions must be equal, got left length '2' and right \
             length '1'"
        ),
        "{err}"
    );
    let err = error(&mut s, "SELECT embed('text', 'int4')").await;
    assert!(
        err.contains("embed: precision 'int4' is not 'f32' or 'fp8'"),
        "{err}"
    );
    let err = error(&mut s, "SELECT embed(42)").await;
    assert!(err.contains("embed: expected text, got Int64"), "{err}");
}

/// DuckDB's distance functions, with DuckDB 2.0's answers.
#[tokio::test]
async fn duckdb_distance_functions_between_vectors() {
    let mut s = session();
    let rows = query(
        &mut s,
        "SELECT list_distance([0.0, 0.0], [3.0, 4.0]), list_inner_product([1, 2], [3, 4]), \
         list_dot_product([1, 2], [3, 4]), list_negative_inner_product([1, 2], [3, 4]), \
         list_cosine_distance([1, 0], [0, 1]), list_cosine_similarity([1.0, 0.0], [1.0, 1.0]), \
         list_distance([], []), list_distance(NULL, [1.0])",
    )
    .await;
    assert_eq!(
        rows,
        [[
            "5.0",
            "11.0",
            "11.0",
            "-11.0",
            "1.0",
            "0.7071067811865475",
            "0.0",
            "NULL"
        ]]
    );
    // FLOAT arrays give a FLOAT; any other numbers a DOUBLE.
    let rows = query(
        &mut s,
        "SELECT array_cosine_similarity([1, 0]::FLOAT[2], [1, 1]::FLOAT[2]), \
         typeof(array_inner_product([1, 2]::FLOAT[2], [3, 4]::FLOAT[2])), \
         array_distance([0, 0]::DOUBLE[2], [3, 4]::DOUBLE[2]), \
         typeof(list_distance([1, 2], [3, 4])), array_negative_dot_product([1, 2], [3, 4])",
    )
    .await;
    assert_eq!(rows, [["0.70710677", "FLOAT", "5.0", "DOUBLE", "-11.0"]]);
    // A zero vector's cosine is NaN, and sorts first when descending (DuckDB's NaN is the
    // greatest value); parallel integer vectors are exactly 1.
    let rows = query(
        &mut s,
        "SELECT x, list_cosine_similarity([x - 1, 2 * (x - 1)], [1, 2]) AS similarity \
         FROM (VALUES (0), (2), (1)) v(x) ORDER BY similarity DESC",
    )
    .await;
    assert_eq!(rows, [["1", "NaN"], ["2", "1.0"], ["0", "-1.0"]]);
    let err = error(&mut s, "SELECT list_distance([1.0], [1.0, 2.0])").await;
    assert!(
        err.ends_with(
            "list_distance: list dimensions must be equal, got left length '1' and right length \
             '2'"
        ),
        "{err}"
    );
    let err = error(&mut s, "SELECT list_distance([1.0, NULL], [1.0, 2.0])").await;
    assert!(
        err.ends_with("list_distance: left argument can not contain NULL values"),
        "{err}"
    );
    let err = error(&mut s, "SELECT array_distance('a', [1])").await;
    assert!(
        err.contains("array_distance: expected two lists of numbers"),
        "{err}"
    );
}

/// DuckDB's distance operators: `<=>` the cosine distance, `<->` the Euclidean one, above the
/// comparisons and below `+`, as in DuckDB 2.0; the nearest neighbours by either.
#[tokio::test]
async fn distance_operators_rank_the_nearest_vectors() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE docs AS SELECT * FROM (VALUES (1, [1.0, 0.0]::FLOAT[2]), \
         (2, [0.0, 1.0]::FLOAT[2]), (3, [3.0, 3.5]::FLOAT[2])) v(id, emb)",
    )
    .await;
    let batches = s
        .query(
            "SELECT id, emb <=> [1.0, 1.0]::FLOAT[2], typeof(emb <-> [1.0, 1.0]::FLOAT[2]) \
             FROM docs ORDER BY emb <=> [1.0, 1.0]::FLOAT[2], id LIMIT 1",
        )
        .await
        .unwrap();
    assert_eq!(
        crate::sql::columns(&batches),
        [
            "id",
            "(emb <=> CAST(list_value(1.0, 1.0) AS FLOAT[2]))",
            "typeof((emb <-> CAST(list_value(1.0, 1.0) AS FLOAT[2])))"
        ]
    );
    // Summed in f64 and rounded once (DuckDB's FLOAT arithmetic gives 0.0029454827).
    assert_eq!(crate::sql::rows(&batches), [["3", "0.0029455144", "FLOAT"]]);
    assert_eq!(
        query(
            &mut s,
            "SELECT id FROM docs WHERE emb <-> [0.0, 0.0]::FLOAT[2] < 1 + 0.5 ORDER BY id"
        )
        .await,
        [["1"], ["2"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT [1, 2, 3] <=> [3, 2, 1], [0, 0] <-> [3, 4], [1] <=> NULL"
        )
        .await,
        [["0.2857142857142857", "5.0", "NULL"]]
    );
    let err = error(&mut s, "SELECT [1, 2] <-> [1, 2, 3]").await;
    assert!(err.contains("list dimensions must be equal"), "{err}");
}

#[tokio::test]
async fn a_partitioned_job_embeds_each_partition() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.parquet");
    let mut s = session();
    query(
        &mut s,
        &format!(
            "COPY (SELECT id, 'note ' || id || ' on ' || CASE id % 3 WHEN 0 THEN 'rivers' \
             WHEN 1 THEN 'weather' ELSE 'cooking' END AS text FROM range(0, 30) t(id)) TO '{}'",
            corpus.display()
        ),
    )
    .await;
    let session = Session::new(TarnConfig {
        threads: 2,
        concurrency: 2,
        memory_limit: None,
        data_root: dir.path().join("data").display().to_string(),
        ..TarnConfig::default()
    })
    .unwrap();
    let embedded = session
        .read_parquet(&[corpus.to_str().unwrap()], ReadParquet::default())
        .await
        .unwrap()
        .repartition_by_rows(3)
        .unwrap()
        .map("id, text, embed(text) AS v")
        .await
        .unwrap()
        .to_arrow()
        .await
        .unwrap();
    let model = MiniLm::from_environment().unwrap();
    let mut seen = 0;
    for batch in &embedded {
        let texts = cast(batch.column_by_name("text").unwrap(), &DataType::Utf8).unwrap();
        let texts = texts.as_string::<i32>();
        let texts: Vec<&str> = texts.iter().map(Option::unwrap).collect();
        let want = model.embed(&texts, Precision::F32).unwrap();
        let vectors = batch.column_by_name("v").unwrap().as_fixed_size_list();
        let got = vectors.values().as_primitive::<Float32Type>().values();
        let error = got
            .iter()
            .zip(&want)
            .map(|(g, w)| (g - w).abs())
            .fold(0.0, f32::max);
        assert!(error <= 1e-6 && got.len() == want.len(), "{error}");
        seen += batch.num_rows();
    }
    assert_eq!(seen, 30);
}
