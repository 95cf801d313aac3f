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
        err.contains("cosine_similarity: vectors of 2 and 1 values"),
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
