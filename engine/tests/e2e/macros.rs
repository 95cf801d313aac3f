//! DuckDB's `CREATE MACRO`: scalar and table macros a session defines, expanded in the
//! statements after; answers and column names as DuckDB 2.0 gives them (checked by hand).

use crate::sql::{columns, error, parquet_view, query};

/// `t(id, lang, meta)`: three rows, `meta` a struct with a `source` field.
async fn table() -> (tarn_engine::SqlSession, tempfile::TempDir) {
    parquet_view(
        "SELECT id, lang, {'source': src, 'tokens': id * 10} AS meta FROM (VALUES \
           (1, 'en', 'web'), (2, 'fr', 'book'), (3, 'en', 'code')) v(id, lang, src)",
    )
    .await
}

#[tokio::test]
async fn scalar_macros_take_positional_named_and_default_arguments() {
    let (mut s, _dir) = table().await;
    query(&mut s, "CREATE MACRO add2(a, b := 10) AS a + b").await;
    let batches = s
        .query("SELECT add2(id), add2(id, b := 2), add2(b := 3, a := id) AS n FROM t ORDER BY id")
        .await
        .unwrap();
    // The result columns are named after the call, as DuckDB names them.
    assert_eq!(
        columns(&batches),
        ["add2(id)", "add2(id, b := 2)", "n"],
        "column names"
    );
    assert_eq!(
        crate::sql::rows(&batches),
        [["11", "3", "4"], ["12", "4", "5"], ["13", "5", "6"]]
    );
    // A macro's other names are the calling query's columns; `p.field` reaches into a struct
    // argument; a macro may call another, and its arguments may be calls too.
    query(&mut s, "CREATE MACRO tagged(m) AS lang || ':' || m.source").await;
    query(&mut s, "CREATE FUNCTION twice(x) AS add2(x, x)").await;
    assert_eq!(
        query(
            &mut s,
            "SELECT tagged(meta), twice(twice(id)) FROM t WHERE twice(id) > 2 ORDER BY id"
        )
        .await,
        [["fr:book", "8"], ["en:code", "12"]]
    );
    // The body is DuckDB SQL: `/` divides as DuckDB divides, whatever the argument.
    query(&mut s, "CREATE MACRO ratio(a, b) AS a / b").await;
    assert_eq!(
        query(
            &mut s,
            "SELECT ratio(7, 2), ratio(id, 4) FROM t WHERE id = 1"
        )
        .await,
        [["3.5", "0.25"]]
    );
}

#[tokio::test]
async fn table_macros_are_queries_in_from() {
    let (mut s, _dir) = table().await;
    query(
        &mut s,
        "CREATE MACRO in_lang(l, n := 10) AS TABLE \
         SELECT id, meta.source AS source FROM t WHERE lang = l ORDER BY id LIMIT n",
    )
    .await;
    assert_eq!(
        query(&mut s, "SELECT * FROM in_lang('en')").await,
        [["1", "web"], ["3", "code"]]
    );
    assert_eq!(
        query(&mut s, "SELECT x.source FROM in_lang('en', n := 1) x").await,
        [["web"]]
    );
    // Unaliased, the rows are named after the macro.
    assert_eq!(
        query(&mut s, "SELECT in_lang.id FROM in_lang('fr')").await,
        [["2"]]
    );
}

#[tokio::test]
async fn macros_are_replaced_dropped_and_refused_by_name() {
    let (mut s, _dir) = table().await;
    query(&mut s, "CREATE MACRO f(x) AS x + 1").await;
    let again = error(&mut s, "CREATE MACRO f(x) AS x + 2").await;
    assert!(
        again.contains("Macro Function with name \"f\" already exists"),
        "{again}"
    );
    query(&mut s, "CREATE OR REPLACE MACRO F(x) AS x + 2").await;
    assert_eq!(query(&mut s, "SELECT f(1)").await, [["3"]]);

    let cases = [
        ("SELECT f(1, 2)", "macro F(x) takes 1 argument, not 2"),
        ("SELECT f(y := 1)", "macro F(x) has no parameter y"),
        ("SELECT f()", "macro F(x) needs a value for x"),
        (
            "SELECT * FROM f(1)",
            "F is a scalar macro: call it in an expression",
        ),
    ];
    for (sql, expected) in cases {
        let message = error(&mut s, sql).await;
        assert!(message.contains(expected), "{sql}: {message}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }
    query(&mut s, "CREATE MACRO rows_of(n) AS TABLE SELECT n AS v").await;
    let scalar_use = error(&mut s, "SELECT rows_of(1)").await;
    assert!(
        scalar_use.contains("rows_of is a table macro"),
        "{scalar_use}"
    );

    query(&mut s, "CREATE MACRO loop_forever(x) AS loop_forever(x)").await;
    let endless = error(&mut s, "SELECT loop_forever(1)").await;
    assert!(endless.contains("does it call itself?"), "{endless}");

    let defaults = error(&mut s, "CREATE MACRO m(a, b := 1, c) AS a").await;
    assert!(
        defaults.contains("parameter c needs a default, as b before it has one"),
        "{defaults}"
    );

    query(&mut s, "DROP MACRO f").await;
    let gone = error(&mut s, "SELECT f(1)").await;
    assert!(gone.contains("'f'"), "{gone}");
    query(&mut s, "DROP MACRO TABLE IF EXISTS f").await;
    let missing = error(&mut s, "DROP MACRO f").await;
    assert!(
        missing.contains("Macro Function with name f does not exist"),
        "{missing}"
    );
}
