-- The corpus-cleaning job of examples/clean_corpus.rs, as a pipeline for `tarn run`:
--   tarn run examples/clean_corpus.sql
-- read → hash-partition by URL → one document per URL (the best by quality) → length filter → write.
CREATE STAGE docs AS read_parquet('examples/data/corpus.parquet');
CREATE STAGE by_url AS repartition(docs, 16, hash_by => 'url');
CREATE STAGE unique_docs AS partial_sql('
    SELECT * EXCLUDE (__data_partition__) FROM {0}
    QUALIFY row_number() OVER (PARTITION BY url ORDER BY quality DESC, id) = 1', by_url);
CREATE STAGE long_docs AS filter(unique_docs, 'length(text) >= 35');
COPY long_docs TO 'clean_corpus/' (FORMAT parquet);
