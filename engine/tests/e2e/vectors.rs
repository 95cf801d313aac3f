//! `embed()`, `cosine_similarity()` and `l2_normalize()` in SQL, over a Parquet corpus the test
//! writes, with the MiniLM model that scripts/test installs.

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
