//! Expressions whose answer DataFusion gives differently from DuckDB, on a Parquet file the
//! test writes: each must give DuckDB 2.0's answer (checked against it by hand), or fail where
//! DuckDB fails.

use tempfile::TempDir;

use crate::sql::{columns, error, parquet_view, query, rows, session};

/// A session with `t(i BIGINT, small TINYINT, d DOUBLE, f FLOAT, m DECIMAL(2,1), s VARCHAR,
/// day DATE)` read from a Parquet file.
async fn table() -> (tarn_engine::SqlSession, TempDir) {
    parquet_view(
        "SELECT * FROM (VALUES \
               (9223372036854775807, CAST(100 AS TINYINT), CAST(2.5 AS DOUBLE), CAST(3.5 AS FLOAT), 2.5, 'abc', DATE '2024-05-06'), \
               (-3, CAST(-128 AS TINYINT), CAST(-2.5 AS DOUBLE), CAST(-0.5 AS FLOAT), -3.5, 'xyz', DATE '2023-12-31')) \
             AS v(i, small, d, f, m, s, day)",
    )
    .await
}

#[tokio::test]
async fn caret_and_double_star_are_powers() {
    let (mut s, _dir) = table().await;
    // Not XOR (2 ^ 10 would be 8), above `*`, below a sign, left to right.
    assert_eq!(
        query(
            &mut s,
            "SELECT 2 ^ 10, 2 * 3 ^ 2, -2 ^ 2, 2 ^ 3 ^ 2, 2 ** 3 ** 2"
        )
        .await,
        [["1024.0", "18.0", "4.0", "64.0", "64.0"]]
    );
    assert_eq!(
        query(&mut s, "SELECT typeof(i ^ 2), small ** 2 FROM t ORDER BY i").await,
        [["DOUBLE", "16384.0"], ["DOUBLE", "10000.0"]]
    );
    assert_eq!(
        query(&mut s, "SELECT s ^@ 'ab' FROM t ORDER BY s").await,
        [["true"], ["false"]]
    );
    // Named as written: `**` is not `^` to DuckDB's names.
    assert_eq!(
        columns(&s.query("SELECT 2 ** 10, 2 ^ 10").await.unwrap()),
        ["(2 ** 10)", "(2 ^ 10)"]
    );
    let err = error(&mut s, "SELECT 2 * * 3").await;
    assert!(err.starts_with("Parser Error"), "{err}");
}

#[tokio::test]
async fn integer_overflow_is_an_error() {
    let (mut s, _dir) = table().await;
    for (sql, message) in [
        (
            "SELECT i + 1 FROM t",
            "Overflow in addition of BIGINT (9223372036854775807 + 1)",
        ),
        (
            "SELECT i * 2 FROM t WHERE i > 0",
            "Overflow in multiplication of BIGINT",
        ),
        (
            "SELECT small - CAST(1 AS TINYINT) FROM t",
            "Overflow in subtraction of TINYINT (-128 - 1)",
        ),
        (
            "SELECT count(*) FROM t WHERE i + 1 > 0",
            "Overflow in addition of BIGINT",
        ),
        (
            "SELECT sum(i * 3) FROM t",
            "Overflow in multiplication of BIGINT",
        ),
        (
            "SELECT (i + 1) * 2 FROM t",
            "Overflow in addition of BIGINT (9223372036854775807 + 1)",
        ),
        // Constants are checked before DataFusion folds them.
        (
            "SELECT CAST(10 AS TINYINT) * CAST(20 AS TINYINT)",
            "Overflow in multiplication of TINYINT (10 * 20)",
        ),
        (
            "SELECT 9223372036854775807 + 1",
            "Overflow in addition of BIGINT",
        ),
        // Only the smallest value of a type has no negation (DataFusion gave it back).
        (
            "SELECT -small FROM t",
            "Overflow in negation of TINYINT (-128)",
        ),
        (
            "SELECT -i - 2 FROM t WHERE i > 0",
            "Overflow in subtraction of BIGINT",
        ),
    ] {
        let err = error(&mut s, sql).await;
        assert!(err.starts_with("Out of Range Error: "), "{sql}: {err}");
        assert!(err.contains(message), "{sql}: {err}");
        assert_eq!(err.matches("Overflow").count(), 1, "{sql}: {err}");
    }
    // What fits is computed as before.
    assert_eq!(
        query(&mut s, "SELECT i - 1, small + 27, -i FROM t ORDER BY i").await,
        [
            ["-4", "-101", "3"],
            ["9223372036854775806", "127", "-9223372036854775807"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT i - 1 AS k, count(*) FROM t GROUP BY i - 1 ORDER BY i - 1 DESC"
        )
        .await,
        [["9223372036854775806", "1"], ["-4", "1"]]
    );
}

/// An integer literal is an INTEGER that takes the integer type it meets, as in DuckDB; where a
/// table's types are fixed, rows of literals are cast to them.
#[tokio::test]
async fn integer_literals_are_integers_that_take_the_type_they_meet() {
    let (mut s, dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT typeof(1), typeof(3000000000), typeof(-1), typeof(small + 1), \
             typeof(small + 200), typeof(coalesce(small, 0)), \
             typeof(CASE WHEN small > 0 THEN small ELSE 0 END), typeof([1, 2]), \
             typeof({'a': 1}), typeof(m + 1), typeof(1 + 1), typeof(abs(-1)) FROM t LIMIT 1"
        )
        .await,
        [[
            "INTEGER",
            "BIGINT",
            "INTEGER",
            "TINYINT",
            "INTEGER",
            "TINYINT",
            "TINYINT",
            "INTEGER[]",
            "STRUCT(a INTEGER)",
            "DECIMAL(12,1)",
            "INTEGER",
            "INTEGER"
        ]]
    );
    // Arithmetic in the literal's type overflows where DuckDB's does.
    for (sql, message) in [
        (
            "SELECT 2147483647 + 1",
            "Overflow in addition of INTEGER (2147483647 + 1)",
        ),
        (
            "SELECT small - 1 FROM t",
            "Overflow in subtraction of TINYINT (-128 - 1)",
        ),
    ] {
        let err = error(&mut s, sql).await;
        assert!(err.contains(message), "{sql}: {err}");
    }
    // The types show in the tables CREATE TABLE AS makes and the files COPY writes.
    let file = dir.path().join("literals.parquet");
    for sql in [
        "CREATE TABLE made AS SELECT 1 AS a, 3000000000 AS b, small + 1 AS c, [1] AS l \
         FROM t WHERE small > 0"
            .to_string(),
        format!("COPY made TO '{}' (FORMAT parquet)", file.display()),
    ] {
        query(&mut s, &sql).await;
    }
    let described = format!(
        "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '{}')",
        file.display()
    );
    assert_eq!(
        query(&mut s, &described).await,
        [
            ["a", "INTEGER"],
            ["b", "BIGINT"],
            ["c", "TINYINT"],
            ["l", "INTEGER[]"]
        ]
    );
    for (sql, expected) in [
        // Rows of literals take a table's types.
        (
            "CREATE TABLE wide(x BIGINT, y SMALLINT); \
             INSERT INTO wide VALUES (1, 2), (3000000000, 4); INSERT INTO wide SELECT 5, 6; \
             UPDATE wide SET x = 7 WHERE y = 2; \
             SELECT typeof(x), typeof(y), x, y FROM wide ORDER BY y",
            vec![
                vec!["BIGINT", "SMALLINT", "7", "2"],
                vec!["BIGINT", "SMALLINT", "3000000000", "4"],
                vec!["BIGINT", "SMALLINT", "5", "6"],
            ],
        ),
        // A recursive CTE's terms meet its work table's types.
        (
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) \
             SELECT sum(n) FROM r",
            vec![vec!["6"]],
        ),
        (
            "SELECT typeof(x), x FROM (SELECT 1 AS x UNION ALL SELECT 3000000000) ORDER BY x",
            vec![vec!["BIGINT", "1"], vec!["BIGINT", "3000000000"]],
        ),
        // A VALUES column's NULLs and empty lists take its literals' type.
        (
            "SELECT typeof(a), typeof(b), a, b FROM (VALUES (1, [1]), (NULL, []), (2, NULL)) \
             v(a, b) ORDER BY a",
            vec![
                vec!["INTEGER", "INTEGER[]", "1", "[1]"],
                vec!["INTEGER", "INTEGER[]", "2", "NULL"],
                vec!["INTEGER", "INTEGER[]", "NULL", "[]"],
            ],
        ),
        // A lambda's variable is typed as its list is now.
        (
            "SELECT list_transform([1, 2], lambda x: x + 1) AS l, typeof(l), \
             list_filter(list_filter([1, NULL, 3], lambda x: x IS NOT NULL), lambda x: x > 1)",
            vec![vec!["[2, 3]", "INTEGER[]", "[3]"]],
        ),
        // A decimal literal below 1 counts its leading zero, so its table holds 1.5 too.
        (
            "CREATE TABLE w AS SELECT 0.5 AS weight; INSERT INTO w VALUES (1.5); \
             SELECT typeof(weight), weight FROM w ORDER BY weight",
            vec![vec!["DECIMAL(2,1)", "0.5"], vec!["DECIMAL(2,1)", "1.5"]],
        ),
        // Settings keep BIGINT, and a shift's literal too: `1 << 40` must not wrap around in 32
        // bits (DuckDB refuses it).
        (
            "SELECT round(2.567, 2), [10, 20, 30][2], 1 << 40",
            vec![vec!["2.57", "20", "1099511627776"]],
        ),
    ] {
        assert_eq!(query(&mut s, sql).await, expected, "{sql}");
    }
}

/// `row_number()`, `rank()`, `dense_rank()`, `ntile(n)` and `approx_count_distinct(x)` are
/// BIGINT (DataFusion's were UBIGINT), in answers and in the files COPY writes.
#[tokio::test]
async fn counts_are_bigint() {
    let (mut s, dir) = table().await;
    let file = dir.path().join("numbered.parquet");
    let copy = format!(
        "COPY (SELECT row_number() OVER (ORDER BY i) AS id, i FROM t) TO '{}' (FORMAT parquet)",
        file.display()
    );
    query(&mut s, &copy).await;
    let described = format!(
        "SELECT column_type FROM (DESCRIBE SELECT * FROM '{}') WHERE column_name = 'id'",
        file.display()
    );
    for (sql, expected) in [
        (
            "SELECT typeof(row_number() OVER ()), typeof(rank() OVER (ORDER BY i)), \
             typeof(dense_rank() OVER (ORDER BY i)), typeof(ntile(2) OVER ()), \
             typeof(row_number() OVER () - 1) FROM t LIMIT 1",
            vec![vec!["BIGINT", "BIGINT", "BIGINT", "BIGINT", "BIGINT"]],
        ),
        (
            "SELECT approx_count_distinct(s), typeof(approx_count_distinct(s)), \
             approx_count_distinct(s) FILTER (WHERE false) FROM t",
            vec![vec!["2", "BIGINT", "0"]],
        ),
        (
            "SELECT i, row_number() OVER (ORDER BY i) - 1, rank() OVER (ORDER BY small), \
             ntile(2) OVER (ORDER BY i) FROM t ORDER BY i",
            vec![
                vec!["-3", "0", "1", "1"],
                vec!["9223372036854775807", "1", "2", "2"],
            ],
        ),
        // The deduplication idiom still keeps each partition's best row.
        (
            "SELECT i FROM t QUALIFY row_number() OVER (ORDER BY i DESC) = 1",
            vec![vec!["9223372036854775807"]],
        ),
        (described.as_str(), vec![vec!["BIGINT"]]),
    ] {
        assert_eq!(query(&mut s, sql).await, expected, "{sql}");
    }
}

#[tokio::test]
async fn casts_to_integers_round() {
    let (mut s, _dir) = table().await;
    // DECIMAL: half away from zero. DOUBLE and FLOAT: half to even.
    assert_eq!(
        query(
            &mut s,
            "SELECT CAST(m AS INTEGER), CAST(d AS BIGINT), CAST(f AS INTEGER), TRY_CAST(d AS SMALLINT) \
             FROM t ORDER BY i"
        )
        .await,
        [["-4", "-2", "0", "-2"], ["3", "2", "4", "2"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT CAST(3.7 AS INTEGER), CAST(-3.5 AS INTEGER), CAST(2.5::DOUBLE AS INTEGER)"
        )
        .await,
        [["4", "-4", "2"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT roundbankers(2.5), roundbankers(3.5), roundbankers(-0.5)"
        )
        .await,
        [["2.0", "4.0", "-0.0"]]
    );
    // A subquery's column keeps the name the cast gave it.
    assert_eq!(
        query(
            &mut s,
            "SELECT c FROM (SELECT CAST(d AS INTEGER) AS c FROM t) ORDER BY c"
        )
        .await,
        [["-2"], ["2"]]
    );
    let err = error(&mut s, "SELECT CAST(1e20 AS BIGINT)").await;
    assert!(err.contains("1e20"), "{err}");
    // Inside lists and structs, each number as it rounds alone.
    assert_eq!(
        query(
            &mut s,
            "SELECT CAST([1.5, 2.5, -1.5] AS BIGINT[]), \
             CAST({'a': 2.5, 'b': 2.5} AS STRUCT(a INT, b DOUBLE)), \
             CAST([2.5::DOUBLE, 3.5, NULL] AS INT[]), TRY_CAST([[0.5, 1.5]] AS INT[][]), \
             CAST([1.5, 2.5]::DOUBLE[2] AS INT[2])"
        )
        .await,
        [[
            "[2, 3, -2]",
            "{a: 3, b: 2.5}",
            "[2, 4, NULL]",
            "[[1, 2]]",
            "[2, 2]"
        ]]
    );
}

#[tokio::test]
async fn text_casts_to_integers_read_what_duckdb_reads() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE t AS SELECT * FROM (VALUES (1, '12.5'), (2, ' -2.5 '), (3, '1e3'), \
         (4, '1_000'), (5, '0x1F'), (6, '+7'), (7, '99999'), (8, 'abc'), (9, NULL)) v(i, s)",
    )
    .await;
    // DuckDB: 13, -3, 1000, 1000, 31, 7, then NULL for what does not fit a SMALLINT or
    // is no number.
    let cast = query(&mut s, "SELECT TRY_CAST(s AS SMALLINT) FROM t ORDER BY i").await;
    let expected = [
        "13", "-3", "1000", "1000", "31", "7", "NULL", "NULL", "NULL",
    ];
    assert_eq!(cast.concat(), expected);
    assert_eq!(
        query(&mut s, "SELECT CAST(s AS BIGINT) FROM t WHERE i = 7").await,
        [["99999"]]
    );
    let err = error(&mut s, "SELECT CAST(s AS INTEGER) FROM t").await;
    assert!(err.contains("'abc'"), "{err}");
    let err = error(&mut s, "SELECT CAST(s AS TINYINT) FROM t WHERE i = 7").await;
    assert!(err.contains("'99999'"), "{err}");
}

#[tokio::test]
async fn casts_go_only_where_duckdbs_go() {
    let (mut s, _dir) = table().await;
    // Between types DuckDB has no cast for, TRY_CAST is NULL, where DataFusion failed
    // ("Unsupported TRY_CAST") or gave what Arrow's cast gives (a date's day number, an
    // integer's microseconds as a timestamp); BOOLEAN and DECIMAL cast to each other, which
    // Arrow does not. Answers as DuckDB 2.0's.
    assert_eq!(
        query(
            &mut s,
            "SELECT TRY_CAST(day AS BOOLEAN), TRY_CAST(m AS INTERVAL), TRY_CAST(day AS INTEGER), \
             TRY_CAST(i AS TIMESTAMP), TRY_CAST(d AS BLOB), typeof(TRY_CAST(day AS DOUBLE)), \
             CAST(small > 0 AS DECIMAL(4,2)), CAST(m AS BOOLEAN), CAST(m - m AS BOOLEAN) \
             FROM t ORDER BY i"
        )
        .await,
        [
            [
                "NULL", "NULL", "NULL", "NULL", "NULL", "DOUBLE", "0.00", "true", "false"
            ],
            [
                "NULL", "NULL", "NULL", "NULL", "NULL", "DOUBLE", "1.00", "true", "false"
            ]
        ]
    );
    for (sql, message) in [
        (
            "SELECT CAST(day AS BIGINT) FROM t",
            "Conversion Error: Unimplemented type for cast (DATE -> BIGINT)",
        ),
        (
            "SELECT CAST(i AS TIMESTAMP) FROM t",
            "Conversion Error: Unimplemented type for cast (BIGINT -> TIMESTAMP)",
        ),
        (
            "SELECT CAST(DATE '2024-01-02' AS BOOLEAN)",
            "Conversion Error: Unimplemented type for cast (DATE -> BOOLEAN)",
        ),
        (
            "SELECT CAST(m AS BLOB) FROM t",
            "Binder Error: Unimplemented type for cast (DECIMAL(2,1) -> BLOB).",
        ),
    ] {
        assert_eq!(error(&mut s, sql).await, message, "{sql}");
    }
}

/// DuckDB drops the digits `floor`, `ceil` and `trunc` cut from a DECIMAL's type; DataFusion
/// kept them (`-4.0`).
#[tokio::test]
async fn floor_ceil_and_trunc_keep_a_decimals_whole_digits() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT floor(m), ceil(m), trunc(m), trunc(m * 1.25, 1), typeof(floor(m)), \
             CEIL(m) FROM t ORDER BY i"
        )
        .await,
        [
            ["-4", "-3", "-3", "-4.3", "DECIMAL(2,0)", "-3"],
            ["2", "3", "2", "3.1", "DECIMAL(2,0)", "3"]
        ]
    );
}

#[tokio::test]
async fn duckdb_function_names() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT year(day), month(day), day(day), dayofweek(day), dayofyear(day), quarter(day), \
             week(day), strftime(day, '%Y/%m/%d') FROM t ORDER BY day"
        )
        .await,
        [
            ["2023", "12", "31", "0", "365", "4", "52", "2023/12/31"],
            ["2024", "5", "6", "1", "127", "2", "19", "2024/05/06"]
        ]
    );
    // ISO weeks: Sunday is day 7; 2023-12-31 is in 2023's week 52.
    assert_eq!(
        query(
            &mut s,
            "SELECT isodow(day), isoyear(day), yearweek(day) FROM t ORDER BY day"
        )
        .await,
        [["7", "2023", "202352"], ["1", "2024", "202419"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT strlen('héllo'), regexp_matches(s, 'b'), prefix(s, 'ab'), suffix(s, 'z'), \
             list_value(1, 2), string_split('a,b', ','), str_split('a', ',') FROM t ORDER BY s"
        )
        .await,
        [
            ["6", "true", "true", "false", "[1, 2]", "[a, b]", "[a]"],
            ["6", "false", "false", "true", "[1, 2]", "[a, b]", "[a]"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT epoch(TIMESTAMP '2024-01-01 00:00:00'), hour(TIMESTAMP '2024-01-01 13:14:15'), \
             strptime('2024-05-06', '%Y-%m-%d'), variance(d) FROM t"
        )
        .await,
        [["1704067200.0", "13", "2024-05-06T00:00:00", "12.5"]]
    );
    // arg_max and its siblings skip rows whose ordering value is NULL.
    assert_eq!(
        query(
            &mut s,
            "SELECT arg_max(s, i), max_by(s, d), arg_min(s, i), min_by(s, d), \
             arg_max(s, CAST(NULL AS INTEGER)), arg_max(s, i) FILTER (WHERE d < 0) FROM t"
        )
        .await,
        [["abc", "abc", "xyz", "xyz", "NULL", "xyz"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT date_diff('month', day, DATE '2024-06-01'), datediff('day', day, TIMESTAMP '2024-05-06 23:59:00'), \
             date_diff('week', day, DATE '2024-01-01') FROM t ORDER BY day"
        )
        .await,
        [["6", "127", "0"], ["1", "0", "-18"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT first(s ORDER BY s), last(s ORDER BY s), approx_count_distinct(s), \
             gen_random_uuid() IS NOT NULL FROM t"
        )
        .await,
        [["abc", "xyz", "2", "true"]]
    );
    // A negative start counts from the end; a negative length takes what is before the start.
    assert_eq!(
        query(
            &mut s,
            "SELECT substring(s, -2), substr(s, 2, -1), substring(s FROM 2 FOR 1), \
             substring('héllo', -4, 2), substring(s, 0, 2) FROM t ORDER BY s"
        )
        .await,
        [["bc", "a", "b", "él", "a"], ["yz", "x", "y", "él", "x"]]
    );
    let err = error(&mut s, "SELECT date_diff('fortnight', day, day) FROM t").await;
    assert!(err.contains("unknown date part 'fortnight'"), "{err}");
    assert_eq!(
        query(&mut s, "SELECT mod(i, 2), mod(7, 3) FROM t ORDER BY i").await,
        [["-1", "1"], ["1", "1"]]
    );
}

#[tokio::test]
async fn columns_are_named_as_duckdb_names_them() {
    let (mut s, _dir) = table().await;
    let batches = s
        .query(
            "SELECT 1 + 2 * 3 - 4, (1 + 2) * 3, i - 1 + 1, i - 1 + 1, year(day), abs(small + 1), \
             greatest((i - 1), i - 2), FLOOR(m), CEIL(m) FROM t",
        )
        .await
        .unwrap();
    let names: Vec<String> = batches[0]
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "((1 + (2 * 3)) - 4)",
            "((1 + 2) * 3)",
            "((i - 1) + 1)",
            "((i - 1) + 1)_1",
            "\"year\"(\"day\")",
            "abs((small + 1))",
            "greatest((i - 1), (i - 2))",
            "floor(m)",
            "ceil(m)"
        ]
    );
    // Function names in lower case, `::` as CAST, tests in parentheses.
    let batches = s
        .query(
            "SELECT SUM(i), Count(DISTINCT s), COALESCE(s, 'x'), i::VARCHAR, i IS NULL, \
             i IN (1, 2), NOT i > 1, i BETWEEN 1 AND 2 FROM t GROUP BY ALL",
        )
        .await
        .unwrap();
    assert_eq!(
        columns(&batches),
        [
            "sum(i)",
            "count(DISTINCT s)",
            "COALESCE(s, 'x')",
            "CAST(i AS VARCHAR)",
            "(i IS NULL)",
            "(i IN (1, 2))",
            "(NOT (i > 1))",
            "(i BETWEEN 1 AND 2)"
        ]
    );
}

#[tokio::test]
async fn struct_fields_take_their_own_names_and_repeated_names_are_numbered() {
    let (mut s, _dir) = table().await;
    // DuckDB names a struct field by its last part (DataFusion: `u.meta[lang]`), and allows a
    // name twice where a DataFusion schema may not: a repeat is numbered, as DuckDB's COPY
    // numbers it.
    let batches = s
        .query(
            "SELECT meta.lang, u.meta.lang, u.i, i, s AS i, meta['lang'] \
             FROM (SELECT {'lang': s} AS meta, i, s FROM t) u ORDER BY i",
        )
        .await
        .unwrap();
    assert_eq!(
        columns(&batches),
        ["lang", "lang_1", "i", "i_1", "i_2", "meta['lang']"]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT meta.lang, i, i FROM (SELECT {'lang': s} AS meta, i FROM t) ORDER BY i"
        )
        .await,
        [
            ["xyz", "-3", "-3"],
            ["abc", "9223372036854775807", "9223372036854775807"]
        ]
    );
}

#[tokio::test]
async fn a_struct_star_gives_its_fields_as_columns() {
    let (mut s, _dir) = table().await;
    let from = "FROM (SELECT {'lang': s, 'n': small} AS meta, i FROM t) u ORDER BY i";
    let batches = s.query(&format!("SELECT meta.*, i {from}")).await.unwrap();
    assert_eq!(columns(&batches), ["lang", "n", "i"]);
    assert_eq!(
        query(&mut s, &format!("SELECT meta.*, i {from}")).await,
        [["xyz", "-128", "-3"], ["abc", "100", "9223372036854775807"]]
    );
    // DuckDB's star options work on a STRUCT's fields, and RENAME on a table's `u.*`.
    assert_eq!(
        query(
            &mut s,
            &format!("SELECT meta.* EXCLUDE (lang) RENAME (n AS small) {from}")
        )
        .await,
        [["-128"], ["100"]]
    );
    assert_eq!(
        query(
            &mut s,
            &format!("SELECT meta.* REPLACE (upper(meta.lang) AS lang) {from}")
        )
        .await,
        [["XYZ", "-128"], ["ABC", "100"]]
    );
    let batches = s
        .query(&format!("SELECT u.* RENAME (i AS k) {from}"))
        .await
        .unwrap();
    assert_eq!(columns(&batches)[1], "k");
    for (sql, message) in [
        ("SELECT i.* FROM t", "i.*: i is a BIGINT, not a STRUCT"),
        (
            "SELECT nope.* FROM t",
            "nope.*: no table or column in the FROM clause is named nope",
        ),
        (
            "SELECT meta.* EXCLUDE (x) FROM (SELECT {'a': 1} AS meta)",
            "meta.* has no field x",
        ),
    ] {
        let err = error(&mut s, sql).await;
        assert!(err.ends_with(message), "{sql}: {err}");
    }
}

#[tokio::test]
async fn select_items_and_where_reuse_earlier_aliases() {
    let (mut s, _dir) = table().await;
    let batches = s
        .query(
            "SELECT length(s) AS n, n > 2 AS long, n * 2, [i, n] AS l, len(l) FROM t \
             WHERE n >= 3 AND long ORDER BY i",
        )
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["n", "long", "(n * 2)", "l", "len(l)"]);
    assert_eq!(
        rows(&batches),
        [
            ["3", "true", "6", "[-3, 3]", "2"],
            ["3", "true", "6", "[9223372036854775807, 3]", "2"]
        ]
    );
    // A column of the FROM clause wins over an alias of the same name, as in DuckDB, and a
    // subquery's names stay its own.
    assert_eq!(
        query(
            &mut s,
            "SELECT i * 0 AS s, s, (SELECT max(s) FROM t) AS m FROM t ORDER BY i"
        )
        .await,
        [["0", "xyz", "xyz"], ["0", "abc", "xyz"]]
    );
    assert_eq!(
        query(&mut s, "SELECT 1 AS a, a + 1 AS b, b + 1").await,
        [["1", "2", "3"]]
    );
}

#[tokio::test]
async fn doubles_meet_decimals_as_doubles() {
    let (mut s, _dir) = table().await;
    // DataFusion would cast the DOUBLE to DECIMAL(30,15): 2.5e-21 would equal 0.0, and 2.5e20
    // would not fit.
    assert_eq!(
        query(
            &mut s,
            "SELECT d * 1e-21 > 0.0, d * 1e-21 = 0.0, d * 1e-21 IN (0.0, 1.0), \
             d * 1e-21 BETWEEN 0.0 AND 1.0, coalesce(d * 1e-21, 0.5), \
             CASE WHEN i > 0 THEN d * 1e-21 ELSE 0.5 END, d * 1e20 > m, typeof(coalesce(d, m)) \
             FROM t ORDER BY i"
        )
        .await,
        [
            [
                "false", "false", "false", "false", "-2.5e-21", "0.5", "false", "DOUBLE"
            ],
            [
                "true", "false", "false", "true", "2.5e-21", "2.5e-21", "true", "DOUBLE"
            ]
        ]
    );
    // A column keeps its name.
    let batches = s.query("SELECT d > 0.5 FROM t").await.unwrap();
    assert_eq!(batches[0].schema().field(0).name(), "(d > 0.5)");
    // A FLOAT meets a DECIMAL as a FLOAT: 0.1 stored as a FLOAT equals the literal 0.1 (as a
    // DOUBLE it would be 0.100000001 > 0.1). List literals unify the same way.
    assert_eq!(
        query(
            &mut s,
            "SELECT 0.1::FLOAT > 0.1, 0.1::FLOAT IN (0.1, 0.2), typeof(coalesce(f, m)), \
             typeof([f, 0.5]), [d * 1e-21, 0.5] FROM t ORDER BY i"
        )
        .await,
        [
            ["false", "true", "FLOAT", "FLOAT[]", "[-2.5e-21, 0.5]"],
            ["false", "true", "FLOAT", "FLOAT[]", "[2.5e-21, 0.5]"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT count(*) FROM (VALUES (0.1::FLOAT), (0.2::FLOAT)) v(score) WHERE score = 0.1"
        )
        .await,
        [["1"]]
    );
    // Rows unify them as DuckDB does too: a float column, DOUBLE or (with only FLOATs) FLOAT,
    // where DataFusion made DECIMAL(30,15), turning 1e-20 into 0 and failing on 1e16.
    assert_eq!(
        query(
            &mut s,
            "SELECT typeof(v), v FROM (VALUES (1e-20::DOUBLE), (0.5), (NULL), (1e16::DOUBLE)) \
             x(v) ORDER BY v"
        )
        .await,
        [
            ["DOUBLE", "1e-20"],
            ["DOUBLE", "0.5"],
            ["DOUBLE", "1e16"],
            ["DOUBLE", "NULL"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT typeof(v), v, w FROM (SELECT d * 1e-21 AS v, 'd' AS w FROM t WHERE i > 0 \
             UNION ALL SELECT m, 'm' FROM t WHERE i > 0 UNION ALL SELECT 2, 'two') ORDER BY v"
        )
        .await,
        [
            ["DOUBLE", "2.5e-21", "d"],
            ["DOUBLE", "2.0", "two"],
            ["DOUBLE", "2.5", "m"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT typeof(v) FROM (VALUES (1.5::FLOAT), (2.5)) x(v) \
             UNION ALL SELECT typeof(v) FROM (SELECT 1.5::FLOAT AS v UNION ALL SELECT m FROM t) \
             LIMIT 2"
        )
        .await,
        [["FLOAT"], ["FLOAT"]]
    );
}

/// `IN` and `EXISTS` subqueries as values in the SELECT list (DataFusion plans them only in
/// WHERE), with SQL's NULLs: no match against a set holding a NULL is NULL, and nothing is in
/// an empty set.
#[tokio::test]
async fn in_and_exists_are_values_in_a_select_list() {
    let (mut s, _dir) = parquet_view(
        "SELECT * FROM (VALUES \
               (9223372036854775807, CAST(100 AS TINYINT), 'abc'), \
               (-3, CAST(-128 AS TINYINT), 'xyz'), \
               (5, NULL, NULL)) AS v(i, small, s)",
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            "SELECT s, s IN (SELECT 'abc') AS a, \
             s IN (SELECT v FROM (VALUES ('q'), (NULL)) AS u(v)) AS b, \
             s NOT IN (SELECT 'zzz') AS c, \
             EXISTS (SELECT 1 FROM t AS o WHERE o.small = t.small AND o.s = 'abc') AS e, \
             s IN (SELECT v FROM (VALUES ('q')) AS u(v) WHERE v <> 'q') AS empty \
             FROM t ORDER BY i"
        )
        .await,
        [
            ["xyz", "false", "NULL", "true", "false", "false"],
            ["NULL", "NULL", "NULL", "NULL", "false", "false"],
            ["abc", "true", "NULL", "true", "true", "false"],
        ]
    );
    // In an aggregate's FILTER, its argument and a group key.
    assert_eq!(
        query(
            &mut s,
            "SELECT s IN (SELECT 'abc') AS k, count(*) FILTER (WHERE s IN (SELECT 'xyz')), \
             max((SELECT max(v) FROM (VALUES (1), (99)) u(v) WHERE v > t.i)) \
             FROM t GROUP BY s IN (SELECT 'abc') ORDER BY k"
        )
        .await,
        [
            ["false", "1", "99"],
            ["true", "0", "NULL"],
            ["NULL", "0", "99"]
        ]
    );
}

/// An `IN` subquery inside a condition, under OR or NOT, keeps SQL's NULL: `s NOT IN (...)` is
/// NULL for a NULL `s` or a subquery holding a NULL, so `a = 5 OR s NOT IN (...)` drops such
/// rows. DataFusion's mark joins answered FALSE there and kept them. Answers as DuckDB 2.0's.
#[tokio::test]
async fn in_subqueries_under_or_and_not_keep_sqls_nulls() {
    let (mut s, _dir) =
        parquet_view("SELECT * FROM (VALUES (1, NULL), (2, 'x'), (3, 'y'), (4, 'z')) AS v(a, s)")
            .await;
    query(
        &mut s,
        "CREATE TABLE seen AS SELECT * FROM (VALUES ('x'), ('z')) AS u(v)",
    )
    .await;
    query(
        &mut s,
        "CREATE TABLE holey AS SELECT * FROM (VALUES ('x'), (NULL)) AS u(v)",
    )
    .await;
    for (condition, expected) in [
        ("a = 9 OR s NOT IN (SELECT v FROM seen)", vec!["3"]),
        ("a = 9 OR NOT (s IN (SELECT v FROM seen))", vec!["3"]),
        (
            "a = 1 OR (a > 2 AND s NOT IN (SELECT v FROM seen))",
            vec!["1", "3"],
        ),
        ("a = 9 OR s NOT IN (SELECT v FROM holey)", vec![]),
        (
            "coalesce(s IN (SELECT v FROM seen), true)",
            vec!["1", "2", "4"],
        ),
        (
            "(s NOT IN (SELECT v FROM holey)) IS NULL",
            vec!["1", "3", "4"],
        ),
        // Reached through AND and OR alone, and as a whole condition, as before.
        ("a = 9 OR s IN (SELECT v FROM holey)", vec!["2"]),
        ("s NOT IN (SELECT v FROM seen)", vec!["3"]),
    ] {
        let sql = format!("SELECT a FROM t WHERE {condition} ORDER BY a");
        let expected: Vec<Vec<&str>> = expected.into_iter().map(|a| vec![a]).collect();
        assert_eq!(query(&mut s, &sql).await, expected, "{sql}");
    }
}

/// `name = value` inside a call is a comparison, as in DuckDB (the parser read it as a named
/// argument, which every scalar and aggregate function refused), and `sum` of a BOOLEAN counts
/// its trues: `sum(label = 1)`, the accuracy `avg(CAST(pred = label AS DOUBLE))`. A table
/// function's `header = true` is still a named setting. Answers as DuckDB 2.0's.
#[tokio::test]
async fn comparisons_inside_calls_are_comparisons() {
    let (mut s, dir) = parquet_view(
        "SELECT * FROM (VALUES (1, 1, 'en'), (0, 1, 'de'), (1, 1, 'en'), (0, 0, NULL)) \
         AS v(pred, label, lang)",
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            "SELECT sum(label = 1), avg(CAST(pred = label AS DOUBLE)), bool_or(lang = 'de'), \
             count(DISTINCT lang = 'en'), count_if(lang = 'en'), coalesce(max(lang) = 'en', false), \
             list(pred = label ORDER BY lang NULLS FIRST, pred) FROM t"
        )
        .await,
        [[
            "3",
            "0.75",
            "true",
            "2",
            "2",
            "true",
            "[true, false, true, true]"
        ]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT lang, sum(pred = 1) FROM t GROUP BY lang ORDER BY lang NULLS LAST"
        )
        .await,
        [["de", "0"], ["en", "2"], ["NULL", "0"]]
    );
    let csv = dir.path().join("flags.csv");
    std::fs::write(&csv, "flag\n1\n").unwrap();
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT flag = 1 FROM read_csv('{}', header = true)",
                csv.display()
            )
        )
        .await,
        [["true"]]
    );
}

/// A row of values in a subquery's rows, `WHERE (a, b) [NOT] IN (SELECT x, y ...)`, with SQL's
/// row comparison: a pair with a NULL is equal to nothing, and `NOT IN` keeps a row only where
/// every subquery row differs for certain. Answers as DuckDB 2.0 gives them.
#[tokio::test]
async fn rows_of_values_in_a_subquerys_rows() {
    let (mut s, _dir) = parquet_view(
        "SELECT * FROM (VALUES (1, NULL), (2, 3), (4, 5), (1, 7), (6, NULL)) AS v(a, b)",
    )
    .await;
    query(
        &mut s,
        "CREATE TABLE seen AS SELECT * FROM (VALUES (1, NULL), (2, 3), (9, 9)) AS u(x, y)",
    )
    .await;
    for (condition, expected) in [
        ("(a, b) IN (SELECT x, y FROM seen)", vec![vec!["2", "3"]]),
        (
            "(a, b) NOT IN (SELECT x, y FROM seen)",
            vec![vec!["4", "5"], vec!["6", "NULL"]],
        ),
        (
            "(a, b) NOT IN (SELECT x, y FROM seen WHERE y IS NOT NULL)",
            vec![
                vec!["1", "7"],
                vec!["1", "NULL"],
                vec!["4", "5"],
                vec!["6", "NULL"],
            ],
        ),
        (
            "a > 1 AND (a + 1, b) IN (SELECT x + 1, y FROM seen)",
            vec![vec!["2", "3"]],
        ),
        // The subquery's columns may have the outer ones' names.
        (
            "(a, b) IN (SELECT x AS a, y AS b FROM seen WHERE x > 1)",
            vec![vec!["2", "3"]],
        ),
    ] {
        let sql = format!("SELECT a, b FROM t WHERE {condition} ORDER BY a, b");
        assert_eq!(query(&mut s, &sql).await, expected, "{sql}");
    }
    // A row expression is a STRUCT, so it can be counted as one value.
    assert_eq!(
        query(&mut s, "SELECT count(DISTINCT (a % 2, b IS NULL)) FROM t").await,
        [["4"]]
    );
    for (sql, message) in [
        (
            "SELECT (a, b) IN (SELECT x, y FROM seen) FROM t",
            "(a, b) IN (SELECT ...) is supported as a condition of WHERE",
        ),
        (
            "SELECT * FROM t WHERE (a, b) IN (SELECT x FROM seen)",
            "a subquery of 1 columns cannot hold a row of 2 values",
        ),
    ] {
        let err = error(&mut s, sql).await;
        assert!(err.contains(message), "{sql}: {err}");
    }
}

/// A subquery correlated with a VALUES list or literals, whose integers are INTEGERs as in
/// DuckDB: its keys meet the outer ones in that type (they were compared as BIGINTs against
/// INTEGERs, which matched nothing or failed).
#[tokio::test]
async fn subqueries_meet_literal_rows_in_their_types() {
    let mut s = session();
    for (sql, expected) in [
        (
            "SELECT * FROM (VALUES (1, 2), (3, 4)) t(x, y) WHERE (x, y) IN (SELECT 1, 2)",
            vec![vec!["1", "2"]],
        ),
        (
            "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) t(x, y) \
             WHERE (x, y) IN (SELECT 2::BIGINT, 'b')",
            vec![vec!["2", "b"]],
        ),
        (
            "SELECT * FROM (VALUES (1, 2), (3, 4)) t(x, y) \
             WHERE EXISTS (SELECT 1 FROM (SELECT 3 AS p, 4 AS q) u WHERE u.p = t.x AND u.q = t.y)",
            vec![vec!["3", "4"]],
        ),
        (
            "SELECT x, (SELECT count(*) FROM (VALUES (1), (2)) u(p) WHERE p = t.x) FROM \
             (VALUES (1), (5)) t(x) ORDER BY x",
            vec![vec!["1", "1"], vec!["5", "0"]],
        ),
    ] {
        assert_eq!(query(&mut s, sql).await, expected, "{sql}");
    }
}

/// Scalar subqueries correlated by inequalities (DataFusion decorrelates only equalities and
/// failed on these): each outer value gets the subquery's answer over the rows it meets, and
/// the answer over no rows where it meets none (0 for `count`, NULL otherwise). A NULL outer
/// value meets no row.
#[tokio::test]
async fn subqueries_correlated_by_inequalities() {
    let (mut s, _dir) =
        parquet_view("SELECT * FROM (VALUES (1, 10), (5, 50), (2, 20), (NULL, 70)) AS v(y, z)")
            .await;
    s.query("CREATE TABLE o AS SELECT * FROM (VALUES (1), (2), (7), (2), (NULL)) v(x)")
        .await
        .unwrap();
    assert_eq!(
        query(
            &mut s,
            "SELECT x, (SELECT count(*) FROM t WHERE y >= x) AS c, \
             (SELECT max(z) FROM t WHERE y > x AND z < 45) AS m, \
             (SELECT sum(z) + count(*) FROM t WHERE y < x) AS d, \
             (SELECT list(z ORDER BY z) FROM t WHERE y > x) AS l, \
             EXISTS (SELECT 1 FROM t WHERE y > x) AS e \
             FROM o ORDER BY x"
        )
        .await,
        [
            ["1", "3", "20", "NULL", "[20, 50]", "true"],
            ["2", "2", "NULL", "11", "[50]", "true"],
            ["2", "2", "NULL", "11", "[50]", "true"],
            ["7", "0", "NULL", "83", "NULL", "false"],
            ["NULL", "0", "NULL", "NULL", "NULL", "false"],
        ]
    );
    // IN in a SELECT list with such a condition (three-valued: NULL where the set holds a
    // NULL), and a correlated derived table below the correlated WHERE.
    assert_eq!(
        query(
            &mut s,
            "SELECT x, x IN (SELECT y FROM t WHERE z > x * 10) AS i, \
             (SELECT count(*) FROM (SELECT * FROM t WHERE z > o.x * 5) q WHERE q.y < o.x + 4) \
             AS c FROM o ORDER BY x"
        )
        .await,
        [
            ["1", "NULL", "2"],
            ["2", "NULL", "2"],
            ["2", "NULL", "2"],
            ["7", "false", "1"],
            ["NULL", "false", "0"],
        ]
    );
    // A condition on the outer row alone, which DataFusion does not decorrelate either.
    assert_eq!(
        query(
            &mut s,
            "SELECT x, EXISTS (SELECT 1 WHERE x = 2), (SELECT count(*) FROM t WHERE o.x = 7) \
             FROM o ORDER BY x"
        )
        .await,
        [
            ["1", "false", "0"],
            ["2", "true", "0"],
            ["2", "true", "0"],
            ["7", "false", "4"],
            ["NULL", "false", "0"],
        ]
    );
    // In WHERE, and with an equality beside the inequality.
    assert_eq!(
        query(
            &mut s,
            "SELECT x FROM o WHERE (SELECT count(*) FROM t WHERE y > x) = 0 \
             OR x < (SELECT max(y) FROM t WHERE y > x AND y = x + 3) ORDER BY x"
        )
        .await,
        [["2"], ["2"], ["7"], ["NULL"]]
    );
}

/// A timestamp, a float or an interval cast to text, or joined to text, reads as DuckDB writes
/// it (Arrow's cast wrote `2024-01-02T03:04:05.500`, `1e-7`, `PT3S`).
#[tokio::test]
async fn timestamps_and_floats_become_duckdbs_text() {
    let (mut s, _dir) = parquet_view(
        "SELECT * FROM (VALUES (TIMESTAMP '2024-01-02 03:04:05.5'), (TIMESTAMP '1999-12-31 23:59:59'), \
         (NULL)) AS v(ts)",
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            "SELECT CAST(ts AS VARCHAR), 'at ' || ts, TRY_CAST(ts AS TEXT) FROM t \
             WHERE ts IS NULL OR ts < TIMESTAMP '2024-1-2 3:05' ORDER BY ts"
        )
        .await,
        [
            [
                "1999-12-31 23:59:59",
                "at 1999-12-31 23:59:59",
                "1999-12-31 23:59:59"
            ],
            [
                "2024-01-02 03:04:05.5",
                "at 2024-01-02 03:04:05.5",
                "2024-01-02 03:04:05.5"
            ],
            ["NULL", "NULL", "NULL"],
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT CAST(1e20::DOUBLE AS VARCHAR), 'p=' || 1e-7::DOUBLE, \
             CAST(1e15::DOUBLE AS TEXT), CAST(0.0 / 0.0 AS VARCHAR)"
        )
        .await,
        [["1e+20", "p=1e-07", "1000000000000000.0", "-nan"]]
    );
    // Intervals too, and a difference of timestamps (a duration to DataFusion).
    assert_eq!(
        query(
            &mut s,
            "SELECT CAST(ts - TIMESTAMP '2024-01-01' AS VARCHAR), \
             'after ' || (ts - TIMESTAMP '2024-01-02'), \
             CAST(INTERVAL '14 months' + INTERVAL 36 HOUR AS VARCHAR) FROM t ORDER BY ts"
        )
        .await,
        [
            [
                "-8766 days -00:00:01",
                "after -8767 days -00:00:01",
                "1 year 2 months 36:00:00"
            ],
            [
                "1 day 03:04:05.5",
                "after 03:04:05.5",
                "1 year 2 months 36:00:00"
            ],
            ["NULL", "NULL", "1 year 2 months 36:00:00"],
        ]
    );
}

/// `COPY ... (FORMAT csv)` writes values as DuckDB's CSV writer does: timestamps, floats,
/// intervals, lists and structs as DuckDB's text (Arrow's writer wrote `2024-01-02T03:04:05.500`
/// and refused lists). JSON keeps numbers, lists and structs as JSON, times as DuckDB's text.
#[tokio::test]
async fn copy_writes_csv_and_json_values_as_duckdb_does() {
    let dir = tempfile::TempDir::new().unwrap();
    let mut s = crate::sql::session();
    let row = "SELECT TIMESTAMP '2024-01-02 03:04:05.5' ts, 1e20::DOUBLE f, [1, NULL] l, \
               {'a': 'x'} s, INTERVAL 1 DAY i, DATE '2024-01-02' d, 1.50 dec, 'q' k";
    let csv = dir.path().join("a.csv");
    query(
        &mut s,
        &format!("COPY ({row}) TO '{}' (FORMAT csv)", csv.display()),
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        "ts,f,l,s,i,d,dec,k\n\
         2024-01-02 03:04:05.5,1e+20,\"[1, NULL]\",{'a': x},1 day,2024-01-02,1.50,q\n"
    );
    let json = dir.path().join("a.json");
    query(
        &mut s,
        &format!("COPY ({row}) TO '{}' (FORMAT json)", json.display()),
    )
    .await;
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(written["ts"], "2024-01-02 03:04:05.5");
    assert_eq!(written["i"], "1 day");
    assert_eq!(written["f"], 1e20);
    assert_eq!(written["l"], serde_json::json!([1, null]));
    assert_eq!(written["s"], serde_json::json!({"a": "x"}));
}

/// A window frame over dates or timestamps in DuckDB's interval form, `INTERVAL 1 DAY` (which
/// DataFusion took only quoted, `INTERVAL '1 day'`).
#[tokio::test]
async fn window_frames_take_intervals_as_duckdb_writes_them() {
    let (mut s, _dir) = parquet_view(
        "SELECT * FROM (VALUES (1, TIMESTAMP '2024-01-01 00:00'), (2, TIMESTAMP '2024-01-01 01:00'), \
         (4, TIMESTAMP '2024-01-02 03:00')) AS v(x, ts)",
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            "SELECT x, sum(x) OVER (ORDER BY ts RANGE BETWEEN INTERVAL 1 DAY PRECEDING AND \
             CURRENT ROW), count(*) OVER (ORDER BY ts RANGE BETWEEN INTERVAL 90 MINUTE \
             PRECEDING AND INTERVAL 1 HOUR FOLLOWING) FROM t ORDER BY ts"
        )
        .await,
        [["1", "1", "2"], ["2", "3", "2"], ["4", "4", "1"]]
    );
}

/// A TIMESTAMP is microseconds, as DuckDB's: years 1 to 9999 (the sentinel `9999-12-31`
/// overflowed nanoseconds), and a Parquet file holds it as microseconds, which Spark and
/// BigQuery read (they refuse nanoseconds). `now()` and `to_timestamp(seconds)` are
/// TIMESTAMPTZs; text read as a time is a TIMESTAMP; a file's nanoseconds stay TIMESTAMP_NS and
/// meet TIMESTAMPs.
#[tokio::test]
async fn timestamps_are_microseconds_as_duckdbs() {
    let dir = TempDir::new().unwrap();
    let mut s = session();
    for (sql, expected) in [
        (
            "SELECT TIMESTAMP '9999-12-31 23:59:59.999999', CAST('1500-01-01' AS TIMESTAMP), \
             CAST(DATE '9999-12-31' AS TIMESTAMP)",
            vec![
                "9999-12-31T23:59:59.999999",
                "1500-01-01T00:00:00",
                "9999-12-31T00:00:00",
            ],
        ),
        (
            "SELECT typeof(TIMESTAMP '2024-01-01'), typeof(strptime('2024', '%Y')), \
             typeof(strptime('1.500000000', '%S.%n')), typeof(now()), typeof(current_timestamp)",
            vec![
                "TIMESTAMP",
                "TIMESTAMP",
                "TIMESTAMP_NS",
                "TIMESTAMP WITH TIME ZONE",
                "TIMESTAMP WITH TIME ZONE",
            ],
        ),
        (
            "SELECT now() = current_timestamp, now() > TIMESTAMP '2024-01-01', \
             CAST(now() AS DATE) = current_date",
            vec!["true", "true", "true"],
        ),
        // Epoch seconds are an instant, kept to the microsecond; text is read as before.
        (
            "SELECT CAST(to_timestamp(1700000000.5) AS VARCHAR), typeof(to_timestamp(0)), \
             typeof(to_timestamp('2024-01-02 03:04:05'))",
            vec![
                "2023-11-14 22:13:20.5+00",
                "TIMESTAMP WITH TIME ZONE",
                "TIMESTAMP_NS",
            ],
        ),
        (
            "SELECT count(*), min(t), typeof(min(t)) FROM generate_series(TIMESTAMP '2024-01-01', \
             TIMESTAMP '2024-01-02', INTERVAL 6 HOUR) AS g(t)",
            vec!["5", "2024-01-01T00:00:00", "TIMESTAMP"],
        ),
        (
            "SELECT max(t), typeof(t) FROM range(TIMESTAMPTZ '2024-01-01 00:00:00+00', \
             TIMESTAMPTZ '2024-01-01 03:00:00+00', INTERVAL 1 HOUR) AS r(t) GROUP BY ALL",
            vec!["2024-01-01T02:00:00Z", "TIMESTAMP WITH TIME ZONE"],
        ),
    ] {
        assert_eq!(query(&mut s, sql).await, [expected], "{sql}");
    }
    let csv = dir.path().join("times.csv");
    std::fs::write(
        &csv,
        "id,at\n1,2024-01-01 10:00:00\n2,9999-12-31 00:00:00\n",
    )
    .unwrap();
    let file = dir.path().join("times.parquet");
    query(
        &mut s,
        &format!(
            "COPY (SELECT at, at + INTERVAL 1 SECOND AS later FROM '{}') TO '{}'",
            csv.display(),
            file.display()
        ),
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT name, logical_type LIKE '%MICROS%' FROM parquet_schema('{}') \
                 WHERE name <> 'arrow_schema'",
                file.display()
            )
        )
        .await,
        [["at", "true"], ["later", "true"]]
    );
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT typeof(at), max(later) FROM '{}' GROUP BY ALL",
                file.display()
            )
        )
        .await,
        [["TIMESTAMP", "9999-12-31T00:00:01"]]
    );
}

#[tokio::test]
async fn a_date_plus_a_time_of_day_is_a_timestamp() {
    let (mut s, _dir) = table().await;
    // DataFusion kept the DATE and dropped the time: 2024-05-06 for the first column.
    assert_eq!(
        query(
            &mut s,
            "SELECT CAST(day + INTERVAL 90 MINUTE AS VARCHAR), \
             CAST(INTERVAL '1 second' + day AS VARCHAR), \
             CAST(day - INTERVAL '1 second' AS VARCHAR), \
             typeof(day + INTERVAL 1 HOUR) \
             FROM t ORDER BY day"
        )
        .await,
        [
            [
                "2023-12-31 01:30:00",
                "2023-12-31 00:00:01",
                "2023-12-30 23:59:59",
                "TIMESTAMP"
            ],
            [
                "2024-05-06 01:30:00",
                "2024-05-06 00:00:01",
                "2024-05-05 23:59:59",
                "TIMESTAMP"
            ]
        ]
    );
    // A date column compared with such a sum is compared as a timestamp.
    assert_eq!(
        query(
            &mut s,
            "SELECT count(*) FROM t WHERE day < DATE '2024-05-05' + INTERVAL 25 HOUR"
        )
        .await,
        [["2"]]
    );
    // Whole days and months keep the DATE (DuckDB: the same midnight as a TIMESTAMP).
    assert_eq!(
        query(
            &mut s,
            "SELECT typeof(day + INTERVAL 1 MONTH) FROM t LIMIT 1"
        )
        .await,
        [["DATE"]]
    );
}

#[tokio::test]
async fn dates_of_any_year_meet_timestamps_and_truncate() {
    // DataFusion met a DATE and a TIMESTAMP in nanoseconds, which hold only 1677 to 2262, and
    // truncated in nanoseconds: with the `0001-01-01` sentinel, each of these failed.
    let (mut s, _dir) = parquet_view(
        "SELECT * FROM (VALUES \
               (1, DATE '0001-01-01', TIMESTAMP '2024-01-01 10:00:00', 'month'), \
               (2, DATE '2024-01-01', TIMESTAMP '2024-01-01 00:00:00', 'year'), \
               (3, DATE '1500-05-05', TIMESTAMP '1500-05-05 10:20:30.5', NULL)) \
             AS v(id, d, ts, part)",
    )
    .await;
    for (sql, expected) in [
        (
            "SELECT id, d < ts, d = ts, d IN (ts, TIMESTAMP '0001-01-01'), \
             d BETWEEN TIMESTAMP '0001-01-01' AND ts FROM t ORDER BY id",
            vec![
                vec!["1", "true", "false", "true", "true"],
                vec!["2", "false", "true", "true", "true"],
                vec!["3", "true", "false", "false", "true"],
            ],
        ),
        (
            "SELECT id, coalesce(d, ts), greatest(d, ts), CASE WHEN id = 1 THEN d ELSE ts END, \
             typeof(coalesce(d, ts)) FROM t ORDER BY id",
            vec![
                vec![
                    "1",
                    "0001-01-01T00:00:00",
                    "2024-01-01T10:00:00",
                    "0001-01-01T00:00:00",
                    "TIMESTAMP",
                ],
                vec![
                    "2",
                    "2024-01-01T00:00:00",
                    "2024-01-01T00:00:00",
                    "2024-01-01T00:00:00",
                    "TIMESTAMP",
                ],
                vec![
                    "3",
                    "1500-05-05T00:00:00",
                    "1500-05-05T10:20:30.500",
                    "1500-05-05T10:20:30.500",
                    "TIMESTAMP",
                ],
            ],
        ),
        // A UNION's column of DATEs and TIMESTAMPs.
        (
            "SELECT d FROM t WHERE id = 1 UNION ALL SELECT ts FROM t WHERE id = 3 ORDER BY 1",
            vec![vec!["0001-01-01T00:00:00"], vec!["1500-05-05T10:20:30.500"]],
        ),
        // A date plus a time of day, either way round.
        (
            "SELECT d + TIME '10:30:00.25', TIME '23:59:59' + d, typeof(d + TIME '10:00') \
             FROM t WHERE id = 1",
            vec![vec![
                "0001-01-01T10:30:00.250",
                "0001-01-01T23:59:59",
                "TIMESTAMP",
            ]],
        ),
        // date_trunc: a DATE gives a TIMESTAMP, the part may differ by row, a NULL part gives
        // NULL; DuckDB's parts and their other names.
        (
            "SELECT id, date_trunc('month', d), date_trunc('week', ts), date_trunc(part, d), \
             last_day(d), typeof(date_trunc('day', d)) FROM t ORDER BY id",
            vec![
                vec![
                    "1",
                    "0001-01-01T00:00:00",
                    "2024-01-01T00:00:00",
                    "0001-01-01T00:00:00",
                    "0001-01-31",
                    "TIMESTAMP",
                ],
                vec![
                    "2",
                    "2024-01-01T00:00:00",
                    "2024-01-01T00:00:00",
                    "2024-01-01T00:00:00",
                    "2024-01-31",
                    "TIMESTAMP",
                ],
                vec![
                    "3",
                    "1500-05-01T00:00:00",
                    "1500-04-30T00:00:00",
                    "NULL",
                    "1500-05-31",
                    "TIMESTAMP",
                ],
            ],
        ),
        (
            "SELECT date_trunc('isoyear', DATE '2021-01-02'), datetrunc('centuries', ts), \
             date_trunc('yrs', ts), date_trunc('ms', ts), date_trunc('epoch', ts), \
             date_trunc('doy', ts) FROM t WHERE id = 3",
            vec![vec![
                "2019-12-30T00:00:00",
                "1500-01-01T00:00:00",
                "1500-01-01T00:00:00",
                "1500-05-05T10:20:30.500",
                "1500-05-05T10:20:30",
                "1500-05-05T00:00:00",
            ]],
        ),
        // A TIMESTAMPTZ stays one, cut in its zone (UTC); DuckDB's other timestamp units are
        // types too.
        (
            "SELECT CAST(date_trunc('hour', TIMESTAMPTZ '2024-05-05 10:20:00+02') AS VARCHAR), \
             typeof('2024-05-05'::TIMESTAMP_NS), typeof('2024-05-05'::TIMESTAMP_MS), \
             typeof('2024-05-05'::TIMESTAMP_S), '2024-5-5 10:00'::TIMESTAMP_MS",
            vec![vec![
                "2024-05-05 08:00:00+00",
                "TIMESTAMP_NS",
                "TIMESTAMP_MS",
                "TIMESTAMP_S",
                "2024-05-05T10:00:00",
            ]],
        ),
        // And typed literals of them, padded as the casts are.
        (
            "SELECT TIMESTAMP_MS '2024-05-06 10:11:12.345', typeof(TIMESTAMP_S '2024-5-6 10:11'), \
             TIMESTAMP_NS '2024-05-06 10:11:12.123456789' > TIMESTAMP '2024-05-06'",
            vec![vec!["2024-05-06T10:11:12.345", "TIMESTAMP_S", "true"]],
        ),
    ] {
        assert_eq!(query(&mut s, sql).await, expected, "{sql}");
    }
    let err = error(&mut s, "SELECT date_trunc('fortnight', d) FROM t").await;
    assert!(
        err.contains("date_trunc: unknown date part 'fortnight'"),
        "{err}"
    );
    let err = error(&mut s, "SELECT date_trunc('hour', TIME '10:00')").await;
    assert!(
        err.contains("date_trunc cuts a DATE or a TIMESTAMP, not TIME"),
        "{err}"
    );
}

#[tokio::test]
async fn distinct_aggregates_count_negative_zero_as_zero() {
    // ceil(-0.5) is -0.0; beside another aggregate, DataFusion's DISTINCT counted it apart from
    // 0.0 (3 and 1.0 + 0.0 + -0.0 would have been the answers).
    let (mut s, _dir) = parquet_view(
        "SELECT CAST(x AS DOUBLE) AS x, g \
         FROM (VALUES (-0.5, 1), (0.0, 1), (1.0, 1), (-0.7, 2)) AS v(x, g)",
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            "SELECT count(*), count(DISTINCT ceil(x)), sum(DISTINCT ceil(x)) FROM t"
        )
        .await,
        [["4", "2", "1.0"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT g, count(*), count(DISTINCT ceil(x)) FROM t GROUP BY g ORDER BY g"
        )
        .await,
        [["1", "3", "2"], ["2", "1", "1"]]
    );
}

#[tokio::test]
async fn sign_is_a_tinyint() {
    let (mut s, _dir) = table().await;
    // DataFusion's signum gave DOUBLEs, and NaN for NaN.
    assert_eq!(
        query(
            &mut s,
            "SELECT sign(i), sign(small), sign(m), sign(d), sign(CAST('nan' AS DOUBLE)), \
             sign(-0.0), sign(NULL), typeof(sign(d)) FROM t ORDER BY i"
        )
        .await,
        [
            ["-1", "-1", "-1", "-1", "0", "0", "NULL", "TINYINT"],
            ["1", "1", "1", "1", "0", "0", "NULL", "TINYINT"]
        ]
    );
}

#[tokio::test]
async fn sums_are_exact_and_an_overflow_of_a_sum_or_average_is_an_error() {
    // 10^38 - 1 twice: DataFusion's sum wrapped around to a negative number.
    let (mut s, _dir) = parquet_view(
        "SELECT k, CAST(x AS DECIMAL(38,0)) AS x, CAST(m AS DECIMAL(15,2)) AS m FROM (VALUES \
               (1, '99999999999999999999999999999999999999', 1.25), \
               (1, '99999999999999999999999999999999999999', NULL), \
               (2, '1', NULL), \
               (1, '-5', -0.5)) AS v(k, x, m)",
    )
    .await;
    assert_eq!(
        query(&mut s, "SELECT k, sum(m) FROM t GROUP BY k ORDER BY k").await,
        [["1", "0.75"], ["2", "NULL"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT sum(m), sum(x) FILTER (WHERE k = 2), sum(x) FILTER (WHERE x < 0) FROM t"
        )
        .await,
        [["0.75", "1", "-5"]]
    );
    // DuckDB sums integers as HUGEINT; Tarn's BIGINT sum fails rather than wrap to -2^63.
    let big = "(VALUES (1, 9223372036854775807), (1, 1)) AS v(k, i)";
    for (sql, input) in [
        ("SELECT sum(x) FROM t".to_string(), "DECIMAL(38,0)"),
        (
            "SELECT k, sum(x) FROM t GROUP BY k".to_string(),
            "DECIMAL(38,0)",
        ),
        (format!("SELECT sum(i) FROM {big}"), "BIGINT"),
        (format!("SELECT k, sum(i) FROM {big} GROUP BY k"), "BIGINT"),
    ] {
        let err = error(&mut s, &sql).await;
        assert_eq!(
            err,
            format!("Out of Range Error: Overflow in sum of {input}"),
            "{sql}"
        );
    }
    for sql in ["SELECT avg(x) FROM t", "SELECT k, avg(x) FROM t GROUP BY k"] {
        let err = error(&mut s, sql).await;
        assert_eq!(
            err, "Out of Range Error: Overflow in avg of a DECIMAL: the sum leaves 128 bits",
            "{sql}"
        );
    }
    assert_eq!(
        query(
            &mut s,
            &format!("SELECT k, sum(i - 2) FROM {big} GROUP BY k")
        )
        .await,
        [["1", "9223372036854775804"]]
    );
}

/// Aggregates and groups that differ only by a cast, which DataFusion names alike
/// (apache/datafusion#18975) and DuckDB answers.
#[tokio::test]
async fn aggregates_and_groups_that_differ_by_a_cast() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE t AS SELECT * FROM (VALUES (TIMESTAMP '2024-01-01 10:00', 1.25), \
         (TIMESTAMP '2024-01-01 11:00', 2.5), (TIMESTAMP '2024-01-02 09:00', 4.0)) v(ts, x)",
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            "SELECT min(ts), min(ts::DATE), sum(x), sum(x::INTEGER), sum(CAST(x AS DOUBLE)) FROM t"
        )
        .await,
        [["2024-01-01T10:00:00", "2024-01-01", "7.75", "8", "7.75"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT ts::DATE AS d, count(*) FROM t GROUP BY ts, ts::DATE ORDER BY ts::DATE, ts"
        )
        .await,
        [
            ["2024-01-01", "1"],
            ["2024-01-01", "1"],
            ["2024-01-02", "1"]
        ]
    );
}

/// NaN is above every number, as in DuckDB: `max` is NaN wherever one was seen and `min` only
/// where nothing else was, in groups too (DataFusion's grouped `max` took whatever value came
/// after a NaN: -3 for 1, NaN, -3).
#[tokio::test]
async fn max_and_min_put_nan_above_every_number() {
    let mut s = session();
    let rows = "(VALUES (1, 1.0::DOUBLE), (1, 'nan'::DOUBLE), (1, -3.0::DOUBLE), \
        (2, 'nan'::DOUBLE), (2, 5.0::DOUBLE), (3, 'nan'::DOUBLE), (4, NULL)) t(g, d)";
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT g, max(d), min(d), max(d::FLOAT), min(d::FLOAT) FROM {rows} \
                 GROUP BY g ORDER BY g"
            )
        )
        .await,
        [
            ["1", "NaN", "-3.0", "NaN", "-3.0"],
            ["2", "NaN", "5.0", "NaN", "5.0"],
            ["3", "NaN", "NaN", "NaN", "NaN"],
            ["4", "NULL", "NULL", "NULL", "NULL"]
        ]
    );
    assert_eq!(
        query(&mut s, &format!("SELECT max(d), min(d) FROM {rows}")).await,
        [["NaN", "-3.0"]]
    );
    // A negative number's square root is NaN (DuckDB 2.0), in a column and as a constant; NaN
    // is above 4.
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT g, sqrt(d), sqrt(-4), typeof(sqrt(d::FLOAT)) FROM {rows} \
                 WHERE g = 1 OR d > 4 ORDER BY g, d"
            )
        )
        .await,
        [
            ["1", "NaN", "NaN", "DOUBLE"],
            ["1", "1.0", "NaN", "DOUBLE"],
            ["1", "NaN", "NaN", "DOUBLE"],
            ["2", "2.23606797749979", "NaN", "DOUBLE"],
            ["2", "NaN", "NaN", "DOUBLE"],
            ["3", "NaN", "NaN", "DOUBLE"]
        ]
    );
}

/// `IS [NOT] DISTINCT FROM` binds tighter than `AND` and `OR`, as in DuckDB (sqlparser took all
/// of `b OR c` as the right side of `a IS DISTINCT FROM b OR c`).
#[tokio::test]
async fn is_distinct_from_binds_tighter_than_and_and_or() {
    let mut s = session();
    assert_eq!(
        query(
            &mut s,
            "SELECT 1 IS DISTINCT FROM 2 OR false, true OR 1 IS DISTINCT FROM 1, \
             1 IS NOT DISTINCT FROM 1 AND false, NULL IS NOT DISTINCT FROM NULL, \
             1 IS DISTINCT FROM 1 + 1"
        )
        .await,
        [["true", "true", "false", "true", "true"]]
    );
}

/// `x op ANY (SELECT ...)` and `x op ALL (SELECT ...)` in a select list, which DataFusion
/// planned and then refused to run there, with SQL's NULLs: ANY over no rows is false, ALL
/// true; a NULL among the values, or a NULL `x`, makes a comparison no value satisfies NULL.
#[tokio::test]
async fn quantified_comparisons_answer_in_a_select_list() {
    let mut s = session();
    assert_eq!(
        query(
            &mut s,
            "SELECT x, x > ANY (SELECT 1 UNION ALL SELECT 2), x >= ALL (SELECT 1 UNION ALL \
             SELECT 2), x <> ALL (SELECT NULL::INT UNION ALL SELECT 1), \
             x < SOME (SELECT * FROM (VALUES (NULL), (2)) v(y)), x = ANY (SELECT 1 WHERE false), \
             x = ALL (SELECT 1 WHERE false) \
             FROM (VALUES (0), (1), (2), (NULL)) t(x) ORDER BY x NULLS LAST"
        )
        .await,
        [
            ["0", "false", "false", "NULL", "true", "false", "true"],
            ["1", "false", "false", "false", "true", "false", "true"],
            ["2", "true", "true", "NULL", "NULL", "false", "true"],
            ["NULL", "NULL", "NULL", "NULL", "NULL", "false", "true"]
        ]
    );
    // Correlated with the outer row.
    query(
        &mut s,
        "CREATE TABLE t AS SELECT * FROM range(4) t(id); \
         CREATE TABLE o AS SELECT 1 AS id UNION ALL SELECT 3",
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            "SELECT id, id > ANY (SELECT o.id FROM o WHERE o.id < t.id + 2) FROM t ORDER BY id"
        )
        .await,
        [["0", "false"], ["1", "false"], ["2", "true"], ["3", "true"]]
    );
}

/// A number tested for truth is true unless zero, and any value beside `||` is its text, as
/// DuckDB casts them; DataFusion found no common type for either.
#[tokio::test]
async fn numbers_have_truth_and_values_have_text_where_duckdb_casts_them() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT small, small IS TRUE, small - small IS NOT TRUE, d IS FALSE, \
             CAST(NULL AS INT) IS NOT FALSE, small IS UNKNOWN, small AND i > 0, 0 OR m \
             FROM t ORDER BY i"
        )
        .await,
        [
            [
                "-128", "true", "true", "false", "true", "false", "false", "true"
            ],
            [
                "100", "true", "true", "false", "true", "false", "true", "true"
            ],
        ]
    );
    assert_eq!(
        columns(
            &s.query("SELECT small IS TRUE, small IS NOT UNKNOWN FROM t")
                .await
                .unwrap()
        ),
        [
            "(CAST(small AS BOOLEAN) IS NOT DISTINCT FROM true)",
            "(small IS NOT NULL)"
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT 1 || 2, m || '/' || d, day || small, true || NULL, s || i FROM t ORDER BY i"
        )
        .await,
        [
            ["12", "-3.5/-2.5", "2023-12-31-128", "NULL", "xyz-3"],
            [
                "12",
                "2.5/2.5",
                "2024-05-06100",
                "NULL",
                "abc9223372036854775807"
            ],
        ]
    );
    // Lists are concatenated, not their text.
    assert_eq!(
        query(&mut s, "SELECT [small] || [1] FROM t ORDER BY i").await,
        [["[-128, 1]"], ["[100, 1]"]]
    );
}
