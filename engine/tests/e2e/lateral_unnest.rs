//! DuckDB's lateral unnest in FROM (`FROM t, unnest(t.turns) AS u(turn)`), the way nested
//! training data (conversations, tag lists) is flattened; answers as DuckDB 2.0 gives them
//! (checked by hand on the same rows).

use crate::sql::{columns, error, parquet_view, query, rows};

/// `t(id, tags, turns)`: a conversation per row, as a list of `{role, text}` structs, and a
/// list of tags, empty in row 2 and NULL in row 3.
async fn conversations() -> (tarn_engine::SqlSession, tempfile::TempDir) {
    parquet_view(
        "SELECT * FROM (VALUES \
           (1, ['a', 'b'], [{'role': 'user', 'text': 'hi'}, {'role': 'bot', 'text': 'hello'}]), \
           (2, [], [{'role': 'user', 'text': 'why'}]), \
           (3, NULL, [])) v(id, tags, turns)",
    )
    .await
}

#[tokio::test]
async fn each_element_joins_its_row() {
    let (mut s, _dir) = conversations().await;
    // The comma, CROSS JOIN, JOIN ... ON true and LATERAL spellings are one join; the unnest's
    // name qualifies its column in the SELECT list, WHERE and ORDER BY.
    for from in [
        "t, unnest(t.turns) AS u(turn)",
        "t CROSS JOIN unnest(t.turns) u(turn)",
        "t JOIN LATERAL unnest(turns) AS u(turn) ON true",
        "t AS c, unnest(c.turns) AS u(turn)",
    ] {
        let sql = format!(
            "SELECT id, u.turn.role, turn.text FROM {from} WHERE u.turn.role <> 'x' \
             ORDER BY id, u.turn.text"
        );
        assert_eq!(
            query(&mut s, &sql).await,
            [
                ["1", "bot", "hello"],
                ["1", "user", "hi"],
                ["2", "user", "why"]
            ],
            "{sql}"
        );
    }
    // `*` is the table's columns, then the unnest's, named as DuckDB names them: the alias's
    // column, else the alias, else `unnest`.
    for (from, name) in [
        ("t, unnest(t.tags) AS u(tag)", "tag"),
        ("t, unnest(t.tags) AS u", "u"),
        ("t, unnest(t.tags)", "unnest"),
    ] {
        let batches = s
            .query(&format!("SELECT * EXCLUDE (turns) FROM {from} ORDER BY 3"))
            .await
            .unwrap();
        assert_eq!(columns(&batches), ["id", "tags", name], "{from}");
        assert_eq!(
            rows(&batches),
            [["1", "[a, b]", "a"], ["1", "[a, b]", "b"]],
            "{from}"
        );
    }
    assert_eq!(
        query(
            &mut s,
            "SELECT u.* FROM t, unnest(t.tags) AS u(tag) ORDER BY 1"
        )
        .await,
        [["a"], ["b"]]
    );
}

#[tokio::test]
async fn unnests_chain_and_aggregate() {
    let (mut s, _dir) = conversations().await;
    // A later unnest reads an earlier one's column; two of one table multiply.
    assert_eq!(
        query(
            &mut s,
            "SELECT id, tag, turn.role FROM t, unnest(t.tags) AS a(tag), unnest(t.turns) AS b(turn) \
             ORDER BY ALL"
        )
        .await,
        [
            ["1", "a", "bot"],
            ["1", "a", "user"],
            ["1", "b", "bot"],
            ["1", "b", "user"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT n, count(*) FROM (SELECT [[1, 2], [3]] AS l) t, unnest(t.l) a(x), unnest(x) b(n) \
             GROUP BY n ORDER BY n"
        )
        .await,
        [["1", "1"], ["2", "1"], ["3", "1"]]
    );
    // Joined with another table, by the unnested value.
    assert_eq!(
        query(
            &mut s,
            "SELECT t.id, r.weight FROM t, unnest(t.turns) AS u(turn) \
             JOIN (VALUES ('user', 1), ('bot', 2)) r(role, weight) ON r.role = turn.role \
             ORDER BY 1, 2"
        )
        .await,
        [["1", "1"], ["1", "2"], ["2", "1"]]
    );
}

#[tokio::test]
async fn a_left_join_keeps_rows_without_elements() {
    let (mut s, _dir) = conversations().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT id, tag FROM t LEFT JOIN unnest(t.tags) AS u(tag) ON true ORDER BY id, tag"
        )
        .await,
        [["1", "a"], ["1", "b"], ["2", "NULL"], ["3", "NULL"]]
    );
}

/// `range` and `generate_series` over an earlier table's columns are a series per row (a
/// document's chunk numbers), named as the series of literals are; NULL bounds give no rows.
#[tokio::test]
async fn a_series_over_columns_is_a_series_per_row() {
    let (mut s, _dir) = conversations().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT id, c.i FROM t, range(len(t.turns)) AS c(i) ORDER BY ALL"
        )
        .await,
        [["1", "0"], ["1", "1"], ["2", "0"]]
    );
    let batches = s
        .query(
            "SELECT * EXCLUDE (tags, turns) FROM t, generate_series(id, CASE WHEN id < 3 THEN 2 END) \
             ORDER BY ALL",
        )
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["id", "generate_series"]);
    assert_eq!(rows(&batches), [["1", "1"], ["1", "2"], ["2", "2"]]);
    // A series of literals is still the table function, bounds and step as written.
    assert_eq!(
        query(&mut s, "SELECT range FROM range(10, 0, -4) ORDER BY 1").await,
        [["2"], ["6"], ["10"]]
    );
}

/// `WITH ORDINALITY` numbers each list's elements from 1 (a word's position in its document),
/// and any other table function's rows in the order it gives them.
#[tokio::test]
async fn with_ordinality_numbers_elements_within_each_list() {
    let (mut s, dir) = conversations().await;
    for (sql, names, expected) in [
        (
            "SELECT id, u.* FROM t, unnest(t.tags) WITH ORDINALITY AS u(tag, pos) ORDER BY id, pos",
            vec!["id", "tag", "pos"],
            vec![vec!["1", "a", "1"], vec!["1", "b", "2"]],
        ),
        (
            "SELECT id, tag, pos FROM t LEFT JOIN unnest(t.tags) WITH ORDINALITY AS u(tag, pos) \
             ON true ORDER BY id, pos",
            vec!["id", "tag", "pos"],
            vec![
                vec!["1", "a", "1"],
                vec!["1", "b", "2"],
                vec!["2", "NULL", "NULL"],
                vec!["3", "NULL", "NULL"],
            ],
        ),
        (
            "SELECT *, typeof(ordinality) FROM unnest(['x', 'y', 'z']) WITH ORDINALITY \
             WHERE ordinality > 1",
            vec!["unnest", "ordinality", "typeof(\"ordinality\")"],
            vec![vec!["y", "2", "BIGINT"], vec!["z", "3", "BIGINT"]],
        ),
        (
            "SELECT * FROM unnest([7, 8]) WITH ORDINALITY AS w(v)",
            vec!["v", "ordinality"],
            vec![vec!["7", "1"], vec!["8", "2"]],
        ),
        (
            "SELECT * FROM range(10, 13) WITH ORDINALITY AS r",
            vec!["r", "ordinality"],
            vec![vec!["10", "1"], vec!["11", "2"], vec!["12", "3"]],
        ),
    ] {
        let batches = s.query(sql).await.unwrap();
        assert_eq!(columns(&batches), names, "{sql}");
        assert_eq!(rows(&batches), expected, "{sql}");
    }
    // A function of several columns: the file's rows in the file's order.
    let file = dir.path().join("t.parquet");
    let sql = format!(
        "SELECT n.* FROM read_parquet('{}') WITH ORDINALITY AS n(a, b, c, k) WHERE k > 1",
        file.display()
    );
    let batches = s.query(&sql).await.unwrap();
    assert_eq!(columns(&batches), ["a", "b", "c", "k"]);
    assert_eq!(
        rows(&batches),
        [
            ["2", "[]", "[{role: user, text: why}]", "2"],
            ["3", "NULL", "[]", "3"]
        ]
    );
    let err = error(&mut s, "SELECT * FROM unnest([1], [2]) WITH ORDINALITY").await;
    assert!(err.contains("takes one list"), "{err}");
}

#[tokio::test]
async fn a_computed_column_may_share_its_tables_column_names() {
    let (mut s, _dir) = conversations().await;
    // DataFusion refused the derived table the unnest moves into: two columns `id`.
    for (sql, names, expected) in [
        (
            "SELECT * EXCLUDE (turns) FROM t, unnest(t.tags) AS u(id) ORDER BY ALL",
            vec!["id", "tags", "id_1"],
            vec![vec!["1", "[a, b]", "a"], vec!["1", "[a, b]", "b"]],
        ),
        (
            "SELECT t.* EXCLUDE (turns) FROM t, unnest(t.tags) AS u(tag) ORDER BY ALL",
            vec!["id", "tags"],
            vec![vec!["1", "[a, b]"], vec!["1", "[a, b]"]],
        ),
        (
            "SELECT u.id, t.id, u.id || '!' FROM t, unnest(t.tags) AS u(id) \
             WHERE u.id <> 'b' ORDER BY ALL",
            vec!["id", "id_1", "(u.id || '!')"],
            vec![vec!["a", "1", "a!"]],
        ),
        (
            "SELECT s.* FROM t, LATERAL (SELECT t.id * 10 AS id) s ORDER BY ALL",
            vec!["id"],
            vec![vec!["10"], vec!["20"], vec!["30"]],
        ),
    ] {
        let batches = s.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(columns(&batches), names, "{sql}");
        assert_eq!(rows(&batches), expected, "{sql}");
    }
    // A bare name both have is ambiguous, as in DuckDB, where the table's column would win;
    // in a subquery it is the subquery's own.
    assert_eq!(
        error(
            &mut s,
            "SELECT id FROM t, unnest(t.tags) AS u(id) WHERE id <> 'b'"
        )
        .await,
        "Binder Error: Ambiguous reference to column name \"id\" (use: 't.id' or 'u.id')"
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT (SELECT max(id) FROM t) AS top, u.id FROM t, unnest(t.tags) AS u(id) \
             ORDER BY ALL"
        )
        .await,
        [["3", "a"], ["3", "b"]]
    );
}

#[tokio::test]
async fn a_recursive_unnest_opens_structs_in_subqueries_too() {
    let (mut s, _dir) = conversations().await;
    for sql in [
        "SELECT t.id, x.role, x.text FROM t, LATERAL (SELECT unnest(t.turns, recursive := true)) x \
         ORDER BY ALL",
        "SELECT * FROM (SELECT id, unnest(turns, recursive := true) FROM t) s ORDER BY ALL",
    ] {
        let batches = s.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(columns(&batches), ["id", "role", "text"], "{sql}");
        assert_eq!(
            rows(&batches),
            [
                ["1", "bot", "hello"],
                ["1", "user", "hi"],
                ["2", "user", "why"]
            ],
            "{sql}"
        );
    }
}

#[tokio::test]
async fn an_unnest_that_cannot_move_is_refused_in_one_line() {
    let (mut s, _dir) = conversations().await;
    // The table is the NULL side of an outer join: moving the unnest would change the rows.
    let err = error(
        &mut s,
        "SELECT * FROM (VALUES (9)) o(k) LEFT JOIN t ON t.id = o.k, unnest(t.tags) AS u(tag)",
    )
    .await;
    assert!(
        err.contains("cannot read t.tags from a table before it"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// `docs(id, lang, score)`: three languages, one without documents in `langs`, and `langs`
/// naming one language twice and one with no documents.
async fn documents() -> (tarn_engine::SqlSession, tempfile::TempDir) {
    let (mut s, dir) = parquet_view(
        "SELECT * FROM (VALUES (1, 'en', 0.9), (2, 'en', 0.7), (3, 'en', 0.8), (4, 'de', 0.5), \
           (5, 'de', 0.6), (6, 'fr', 0.1)) v(id, lang, score)",
    )
    .await;
    query(
        &mut s,
        "CREATE TABLE langs AS SELECT * FROM (VALUES ('en'), ('de'), ('en'), ('xx')) v(lang)",
    )
    .await;
    (s, dir)
}

/// The top rows per outer row (`LATERAL (... ORDER BY ... LIMIT n)`), which DataFusion cannot
/// decorrelate through the LIMIT; answers as DuckDB 2.0 gives them.
#[tokio::test]
async fn a_lateral_limit_takes_the_top_rows_of_each_outer_row() {
    let (mut s, _dir) = documents().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT l.lang, x.id FROM langs l, LATERAL (SELECT id FROM t WHERE t.lang = l.lang \
             ORDER BY score DESC LIMIT 2) x ORDER BY ALL"
        )
        .await,
        [
            ["de", "4"],
            ["de", "5"],
            ["en", "1"],
            ["en", "1"],
            ["en", "3"],
            ["en", "3"]
        ]
    );
    // OFFSET, a local condition, the equality written either way round, LEFT JOIN keeping the
    // language without documents, and `x.*` without the rewrite's helper columns.
    let batches = s
        .query(
            "SELECT l.lang, x.* FROM (SELECT DISTINCT lang FROM langs) l LEFT JOIN LATERAL \
             (SELECT id, score FROM t WHERE l.lang = t.lang AND t.score > 0.55 \
              ORDER BY score DESC LIMIT 5 OFFSET 1) x ON true ORDER BY ALL",
        )
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["lang", "id", "score"]);
    assert_eq!(
        rows(&batches),
        [
            ["de", "NULL", "NULL"],
            ["en", "2", "0.7"],
            ["en", "3", "0.8"],
            ["xx", "NULL", "NULL"]
        ]
    );
    // A LATERAL subquery meeting its outer row other than by an equality is refused in one
    // line that says what works.
    let err = error(
        &mut s,
        "SELECT l.lang, x.id FROM langs l, LATERAL (SELECT id FROM t WHERE t.lang > l.lang \
         ORDER BY id LIMIT 1) x",
    )
    .await;
    assert!(
        err.contains("only in equalities of its WHERE clause"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// A LATERAL subquery without a FROM clause computes columns from each row of the table before
/// it (DataFusion decorrelates outer references in filters only, not in a select list).
#[tokio::test]
async fn a_lateral_select_list_computes_from_each_row() {
    let (mut s, _dir) = parquet_view(
        "SELECT * FROM (VALUES (1, 10, [1, 2]), (2, 20, []), (3, 30, [3])) v(k, x, l)",
    )
    .await;
    let batches = s
        .query("SELECT * EXCLUDE (l) FROM t, LATERAL (SELECT t.x + 1 AS y, t.k * 10) s ORDER BY k")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["k", "x", "y", "(t.k * 10)"]);
    assert_eq!(
        rows(&batches),
        [
            ["1", "10", "11", "10"],
            ["2", "20", "21", "20"],
            ["3", "30", "31", "30"]
        ]
    );
    let batches = s
        .query("SELECT s.* FROM t CROSS JOIN LATERAL (SELECT x + k AS z) s(w) ORDER BY 1")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["w"]);
    assert_eq!(rows(&batches), [["11"], ["22"], ["33"]]);
    assert_eq!(
        query(
            &mut s,
            "SELECT k, e FROM t, LATERAL (SELECT unnest(t.l) AS e) s ORDER BY ALL"
        )
        .await,
        [["1", "1"], ["1", "2"], ["3", "3"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT k, s.d FROM t LEFT JOIN LATERAL (SELECT x // 10 AS d) s ON true \
             WHERE d > 1 ORDER BY ALL"
        )
        .await,
        [["2", "2"], ["3", "3"]]
    );
}
