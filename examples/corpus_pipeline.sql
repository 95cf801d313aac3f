-- The model stages of a corpus pipeline, for `tarn run` (from the repository root):
--   tarn run examples/corpus_pipeline.sql
-- read → embed (MiniLM) → route to experts (MoE gate) → partition by expert (EPLB spreads hot
-- experts) → drop near-duplicates within each expert → score (a linear quality head) → write.
-- examples/data/make_heads.py wrote the router and the head (untrained, pseudo-random weights).
CREATE STAGE docs AS read_parquet('examples/data/corpus.parquet');
CREATE STAGE embedded AS map(docs, '*, embed(text) AS embedding');
CREATE STAGE routed AS map(embedded,
    '*, moe_route(embedding, ''examples/data/router.safetensors'', top_k => 2)[''experts''][1] AS expert');
CREATE STAGE by_expert AS repartition(routed, 4, by_expert => 'expert');
CREATE STAGE unique_docs AS near_duplicates(by_expert, 'embedding', 0.95);
CREATE STAGE scored AS map(unique_docs,
    'id, url, lang, text, expert, score(embedding, ''examples/data/quality_head.safetensors'') AS model_quality');
COPY scored TO 'corpus_pipeline/' (FORMAT parquet);
