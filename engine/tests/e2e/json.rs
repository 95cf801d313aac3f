//! DuckDB's JSON functions over a Parquet column of JSON documents (chat-style training
//! records): each answer is DuckDB 2.0's for the same query, run there by hand.

use tempfile::TempDir;

use crate::sql::{columns, error, parquet_view, query, rows, session};

/// A session with `t(id BIGINT, meta VARCHAR)` read from Parquet; `meta` is JSON text, one
/// document NULL.
async fn records() -> (tarn_engine::SqlSession, TempDir) {
    parquet_view(
        r#"SELECT * FROM (VALUES
             (1, '{"source":"web","lang":"en","score":0.92,"tags":["a","b"],"turns":[{"role":"user","text":"hi"},{"role":"assistant","text":"hello"}]}'),
             (2, '{"source":"book","lang":"de","score":0.5,"tags":[],"turns":[{"role":"user","text":"hallo"}]}'),
             (3, '{"source":"web","lang":"en","score":1,"tags":["c"],"extra":{"n":-3}}'),
             (4, NULL)) AS v(id, meta)"#,
    )
    .await
}

#[tokio::test]
async fn arrows_and_paths_extract_values() {
    let (mut s, _dir) = records().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT id, meta->>'source', meta->'$.score', json_array_length(meta, '$.tags'), \
             meta->>'$.turns[0].text', json_type(meta->'score'), meta->'$.turns[-1]' \
             FROM t ORDER BY id"
        )
        .await,
        [
            [
                "1",
                "web",
                "0.92",
                "2",
                "hi",
                "DOUBLE",
                r#"{"role":"assistant","text":"hello"}"#
            ],
            [
                "2",
                "book",
                "0.5",
                "0",
                "hallo",
                "DOUBLE",
                r#"{"role":"user","text":"hallo"}"#
            ],
            ["3", "web", "1", "1", "NULL", "UBIGINT", "NULL"],
            ["4", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"],
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT meta->>'lang' || '!' AS lang, count(*) FROM t \
             WHERE meta->>'source' = 'web' AND meta->>'lang' IN ('en', 'fr') \
             GROUP BY ALL ORDER BY ALL"
        )
        .await,
        [["en!", "2"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT id, json_valid(meta), json_exists(meta, '$.extra'), \
             json_contains(meta, '{\"role\":\"user\"}'), json_value(meta, '$.tags'), \
             json_value(meta, '/turns/0/role') FROM t ORDER BY id"
        )
        .await,
        [
            ["1", "true", "false", "true", "NULL", r#""user""#],
            ["2", "true", "false", "true", "NULL", r#""user""#],
            ["3", "true", "true", "false", "NULL", "NULL"],
            ["4", "NULL", "NULL", "NULL", "NULL", "NULL"],
        ]
    );
}

#[tokio::test]
async fn wildcard_paths_give_lists() {
    let (mut s, _dir) = records().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT id, json_extract_string(meta, '$.turns[*].text'), json_keys(meta), \
             json_extract(meta, '$..role') FROM t ORDER BY id"
        )
        .await,
        [
            [
                "1",
                "[hi, hello]",
                "[source, lang, score, tags, turns]",
                r#"["user", "assistant"]"#
            ],
            [
                "2",
                "[hallo]",
                "[source, lang, score, tags, turns]",
                r#"["user"]"#
            ],
            ["3", "[]", "[source, lang, score, tags, extra]", "[]"],
            ["4", "NULL", "NULL", "NULL"],
        ]
    );
}

#[tokio::test]
async fn values_are_written_as_json() {
    let (mut s, _dir) = records().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT json_object('id', id, 'lang', meta->>'lang', \
             'n', json_extract(meta, '$.extra.n')::BIGINT) FROM t ORDER BY id"
        )
        .await,
        [
            [r#"{"id":1,"lang":"en","n":null}"#],
            [r#"{"id":2,"lang":"de","n":null}"#],
            [r#"{"id":3,"lang":"en","n":-3}"#],
            [r#"{"id":4,"lang":null,"n":null}"#],
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT to_json({'id': id, 'tags': json_extract_string(meta, '$.tags[*]'), \
             'at': TIMESTAMP '2024-05-06 07:08:09.25'}) FROM t WHERE id IN (2, 4) ORDER BY id"
        )
        .await,
        [
            [r#"{"id":2,"tags":[],"at":"2024-05-06 07:08:09.25"}"#],
            [r#"{"id":4,"tags":null,"at":"2024-05-06 07:08:09.25"}"#],
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT json_array(1, 'a', NULL, true, 1.5, [1, 2]), to_json(NULL), json_object(), \
             json('{ \"b\" : 1, \"a\" : [ ] }'), CAST('{ \"x\" : 1 }' AS JSON) -> 'x'"
        )
        .await,
        [[
            r#"[1,"a",null,true,1.5,[1,2]]"#,
            "NULL",
            "{}",
            r#"{"b":1,"a":[]}"#,
            "1"
        ]]
    );
}

#[tokio::test]
async fn an_arrow_is_a_lambda_only_where_a_function_takes_one() {
    let (mut s, _dir) = records().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT list_transform([1, 2], x -> x * 2), json_type(meta -> '$.tags'), \
             json(meta->'$.turns[0]') FROM t WHERE id = 1"
        )
        .await,
        [["[2, 4]", "ARRAY", r#"{"role":"user","text":"hi"}"#]]
    );
}

#[tokio::test]
async fn bad_json_and_bad_paths_are_named() {
    let (mut s, _dir) = records().await;
    let err = error(&mut s, "SELECT json_extract('{\"a\":1} x', '$.a')").await;
    assert!(err.contains("malformed JSON at byte 8"), "{err}");
    assert!(err.contains(r#"Input: "{"a":1} x""#), "{err}");
    let err = error(&mut s, "SELECT meta->'$.turns[' FROM t").await;
    assert!(err.contains("JSON path error near '['"), "{err}");
    let err = error(&mut s, "SELECT json_keys(meta, '$.turns[*]') FROM t").await;
    assert!(err.contains("json_keys: a path with a wildcard"), "{err}");
    let err = error(&mut s, "SELECT json_extract(id, '$') FROM t").await;
    assert!(err.contains("the JSON must be text, not INTEGER"), "{err}");
    let err = error(&mut s, "SELECT json_object('a') FROM t").await;
    assert!(err.contains("keys and values in pairs"), "{err}");
}

#[tokio::test]
async fn json_text_becomes_typed_structs_and_lists() {
    let (mut s, _dir) = records().await;
    // The structure names the type; a missing key is NULL, a value that does not fit (-3 for
    // UTINYINT) NULL alone.
    assert_eq!(
        query(
            &mut s,
            r#"SELECT id, r.source, r.score, len(r.turns), r.turns[1].text, r.extra.n
               FROM (SELECT id, json_transform(meta, '{"source": "VARCHAR", "score": "DOUBLE",
                       "turns": [{"role": "VARCHAR", "text": "VARCHAR"}],
                       "extra": {"n": "UTINYINT"}}') AS r FROM t)
               ORDER BY id"#
        )
        .await,
        [
            ["1", "web", "0.92", "2", "hi", "NULL"],
            ["2", "book", "0.5", "1", "hallo", "NULL"],
            ["3", "web", "1.0", "NULL", "NULL", "NULL"],
            ["4", "NULL", "NULL", "NULL", "NULL", "NULL"]
        ]
    );
    // A cast of text to a list reads it as JSON.
    assert_eq!(
        query(
            &mut s,
            "SELECT id, CAST(meta->'tags' AS VARCHAR[]), len(CAST(meta->'tags' AS VARCHAR[])) \
             FROM t ORDER BY id"
        )
        .await,
        [
            ["1", "[a, b]", "2"],
            ["2", "[]", "0"],
            ["3", "[c]", "1"],
            ["4", "NULL", "NULL"]
        ]
    );
    let message = error(
        &mut s,
        r#"SELECT json_transform_strict(meta, '{"extra": {"n": "UTINYINT"}}') FROM t"#,
    )
    .await;
    assert!(message.contains("cannot read -3 as UTINYINT"), "{message}");
    let message = error(&mut s, "SELECT json_transform(meta, 'INTEGER') FROM t").await;
    assert!(
        message.contains("the structure is a constant string"),
        "{message}"
    );
}

/// JSON objects with keys of their own (per-label scores) cast to a MAP, a type DataFusion's
/// SQL planner lacks; a NULL of a MAP type too.
#[tokio::test]
async fn json_objects_cast_to_maps() {
    let (mut s, _dir) = parquet_view(
        r#"SELECT * FROM (VALUES (1, '{"scores": {"toxic": 0.1, "spam": "0.7"}}'),
           (2, '{"scores": {}}'), (3, NULL)) v(id, meta)"#,
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            "SELECT id, CAST(meta->'scores' AS MAP(VARCHAR, DOUBLE)) AS m FROM t ORDER BY id"
        )
        .await,
        [["1", "{toxic: 0.1, spam: 0.7}"], ["2", "{}"], ["3", "NULL"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT CAST(meta->'scores' AS MAP(VARCHAR, DOUBLE))['spam'] FROM t WHERE id = 1"
        )
        .await,
        [["0.7"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT map_concat(NULL::MAP(VARCHAR, INTEGER), MAP {'a': 1})"
        )
        .await,
        [["{a: 1}"]]
    );
    let err = error(&mut s, "SELECT CAST('oops' AS MAP(VARCHAR, INTEGER))").await;
    assert!(
        err.contains(
            "CAST to MAP(VARCHAR, INTEGER): 'oops' is neither JSON nor DuckDB's text for the type"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn duckdb_text_casts_to_lists_structs_and_maps() {
    let (mut s, _dir) = records().await;
    // As DuckDB 2.0 reads its own text for nested values (checked by hand), and so what casts to
    // text and CSV files write reads back.
    let cases = [
        (
            "CAST('[a, b c, NULL, ''NULL'', '''']' AS VARCHAR[])",
            "[a, b c, NULL, 'NULL', '']",
        ),
        (
            r#"CAST('["x, y", ''it\''s'']' AS VARCHAR[])"#,
            r"['x, y', 'it\'s']",
        ),
        (
            "CAST('{''a'': 1, ''b'': q}' AS STRUCT(a INT, b VARCHAR))",
            "{'a': 1, 'b': q}",
        ),
        (
            "CAST('{a: 1}' AS STRUCT(a INT, b VARCHAR))",
            "{'a': 1, 'b': NULL}",
        ),
        (
            "CAST('(1, a)' AS STRUCT(x INT, y VARCHAR))",
            "{'x': 1, 'y': a}",
        ),
        (
            "CAST('{k1=1, k2=NULL}' AS MAP(VARCHAR, INT))",
            "{k1=1, k2=NULL}",
        ),
        (
            "CAST('[{''a'': [1]}, NULL]' AS STRUCT(a INT[])[])",
            "[{'a': [1]}, NULL]",
        ),
        ("TRY_CAST('[1, x]' AS INT[])", "[1, NULL]"),
        ("CAST('[2024-01-02, NULL]' AS DATE[])", "[2024-01-02, NULL]"),
    ];
    for (cast, text) in cases {
        let sql = format!("SELECT CAST({cast} AS VARCHAR)");
        assert_eq!(query(&mut s, &sql).await, [[text]], "{cast}");
    }
    let round_trip = "SELECT CAST(CAST(x AS VARCHAR) AS STRUCT(a INT, b VARCHAR[], c TIMESTAMP, \
                      d DECIMAL(5,2), m MAP(INT, DATE))) = x FROM (SELECT {'a': 1, 'b': ['it''s', \
                      'x, y', NULL, 'NULL', ''], 'c': TIMESTAMP '2024-01-02 03:04:05.5', \
                      'd': 1.25, 'm': MAP {1: DATE '2024-01-01'}} AS x)";
    assert_eq!(query(&mut s, round_trip).await, [["true"]]);
    for (cast, message) in [
        ("CAST('[1, x]' AS INT[])", r#"cannot read "x" as INTEGER"#),
        (
            "CAST('[1, 2' AS INT[])",
            "'[1, 2' is neither JSON nor DuckDB's text for the type",
        ),
        (
            "CAST('{''zz'': 2}' AS STRUCT(a INT))",
            "is neither JSON nor DuckDB's text",
        ),
    ] {
        let err = error(&mut s, &format!("SELECT {cast}")).await;
        assert!(err.contains(message), "{cast}: {err}");
    }
    // An INSERT casts text into its table's nested columns alike (DataFusion's INSERT refused
    // text for a STRUCT or a MAP), however the rows come.
    query(
        &mut s,
        "CREATE TABLE nested(id INT, s STRUCT(a INT, b VARCHAR), m MAP(VARCHAR, INT), l INT[])",
    )
    .await;
    for insert in [
        "INSERT INTO nested VALUES (1, '{''a'': 1, ''b'': x y}', '{k=1}', '[1, 2]')",
        "INSERT INTO nested SELECT 2, '{\"a\": 2}', '{\"k\": 2}', NULL",
        "INSERT INTO nested (m, id) SELECT '{}', 3",
    ] {
        query(&mut s, insert).await;
    }
    assert_eq!(
        query(&mut s, "SELECT * FROM nested ORDER BY id").await,
        [
            ["1", "{a: 1, b: x y}", "{k: 1}", "[1, 2]"],
            ["2", "{a: 2, b: NULL}", "{k: 2}", "NULL"],
            ["3", "NULL", "{}", "NULL"],
        ]
    );
    let err = error(&mut s, "INSERT INTO nested (s) VALUES ('{''zz'': 2}')").await;
    assert!(err.contains("is neither JSON nor DuckDB's text"), "{err}");
}

#[tokio::test]
async fn json_each_and_json_tree_walk_each_documents_values() {
    let (mut s, _dir) = records().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT m.key, count(*) AS docs FROM t, json_each(t.meta) AS m GROUP BY m.key \
             ORDER BY docs DESC, m.key"
        )
        .await,
        [
            ["lang", "3"],
            ["score", "3"],
            ["source", "3"],
            ["tags", "3"],
            ["turns", "2"],
            ["extra", "1"]
        ]
    );
    // The walk's own `id` is named apart from the table's (DuckDB shows both as `id`).
    let batches = s
        .query("SELECT t.id, m.* FROM t, json_each(t.meta, '$.tags') AS m ORDER BY ALL")
        .await
        .unwrap();
    assert_eq!(
        crate::sql::columns(&batches),
        [
            "id", "key", "value", "type", "atom", "id_1", "parent", "fullkey", "path"
        ]
    );
    assert_eq!(
        crate::sql::rows(&batches),
        [
            [
                "1",
                "0",
                "\"a\"",
                "VARCHAR",
                "\"a\"",
                "9",
                "NULL",
                "$.tags[0]",
                "$.tags"
            ],
            [
                "1",
                "1",
                "\"b\"",
                "VARCHAR",
                "\"b\"",
                "10",
                "NULL",
                "$.tags[1]",
                "$.tags"
            ],
            [
                "3",
                "0",
                "\"c\"",
                "VARCHAR",
                "\"c\"",
                "9",
                "NULL",
                "$.tags[0]",
                "$.tags"
            ]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT t.id, fullkey, type, atom FROM t, json_tree(t.meta, '$.turns') \
             WHERE json_tree.type <> 'OBJECT' ORDER BY t.id, json_tree.id"
        )
        .await,
        [
            ["1", "$.turns", "ARRAY", "NULL"],
            ["1", "$.turns[0].role", "VARCHAR", "\"user\""],
            ["1", "$.turns[0].text", "VARCHAR", "\"hi\""],
            ["1", "$.turns[1].role", "VARCHAR", "\"assistant\""],
            ["1", "$.turns[1].text", "VARCHAR", "\"hello\""],
            ["2", "$.turns", "ARRAY", "NULL"],
            ["2", "$.turns[0].role", "VARCHAR", "\"user\""],
            ["2", "$.turns[0].text", "VARCHAR", "\"hallo\""]
        ]
    );
    // A constant document needs no table.
    assert_eq!(
        query(&mut s, "SELECT * FROM json_each('[10, \"x\", null]')").await,
        [
            ["0", "10", "UBIGINT", "10", "1", "NULL", "$[0]", "$"],
            ["1", "\"x\"", "VARCHAR", "\"x\"", "2", "NULL", "$[1]", "$"],
            ["2", "null", "NULL", "NULL", "3", "NULL", "$[2]", "$"]
        ]
    );
    for (sql, message) in [
        (
            "SELECT * FROM json_each('{\"a\":1}', '$[*]')",
            "Wildcard JSON path not supported in json_each/json_tree",
        ),
        (
            "SELECT * FROM json_each('{bad')",
            "json_each: malformed JSON at byte 1",
        ),
        (
            "SELECT * FROM t, json_tree(t.id)",
            "json_tree: the JSON and its path must be text, not INTEGER",
        ),
    ] {
        let err = error(&mut s, sql).await;
        assert!(err.contains(message), "{sql}: {err}");
    }
}

/// A table's name as a value is its row as a STRUCT, as in DuckDB: `to_json(t)` writes each
/// row as one JSON object; a column of that name is still the column.
#[tokio::test]
async fn a_table_name_is_its_row() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE docs(id INT, \"Body Text\" VARCHAR, tags VARCHAR[]); \
         INSERT INTO docs VALUES (1, 'x', ['a']), (2, NULL, [])",
    )
    .await;
    let batches = s
        .query("SELECT to_json(d), d FROM docs d ORDER BY d.id")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["to_json(d)", "d"]);
    assert_eq!(
        rows(&batches),
        [
            [
                r#"{"id":1,"Body Text":"x","tags":["a"]}"#,
                "{id: 1, Body Text: x, tags: [a]}"
            ],
            [
                r#"{"id":2,"Body Text":null,"tags":[]}"#,
                "{id: 2, Body Text: NULL, tags: []}"
            ],
        ]
    );
    assert_eq!(
        query(&mut s, "SELECT t FROM (SELECT 7 AS t) t").await,
        [["7"]]
    );
}
