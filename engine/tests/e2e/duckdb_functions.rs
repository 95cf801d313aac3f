//! DuckDB functions DataFusion lacks, over a Parquet file the test writes: each answer is
//! DuckDB 2.0's for the same query (run there by hand), or DuckDB's failure.

use tempfile::TempDir;

use crate::sql::{columns, error, parquet_view, query, rows, session};

/// A session with `t(g BIGINT, x BIGINT, d DECIMAL, s VARCHAR, day DATE)` read from Parquet:
/// two groups, a repeated value in each, a NULL.
async fn table() -> (tarn_engine::SqlSession, TempDir) {
    parquet_view(
        "SELECT * FROM (VALUES \
               (1, 3, 1.0, 'b', DATE '2024-02-10'), \
               (1, 1, 2.0, 'a', DATE '2023-12-31'), \
               (1, 1, 4.0, 'b', DATE '2024-01-31'), \
               (1, 3, 8.0, 'héllo', DATE '2024-02-29'), \
               (2, 10, NULL, 'c', NULL), \
               (2, NULL, 5.0, NULL, DATE '2024-03-15')) \
             AS v(g, x, d, s, day)",
    )
    .await
}

#[tokio::test]
async fn macros_give_duckdbs_answers() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT if(x > 2, 'big', 'small'), mod(x, 2), count_if(x > 1) OVER () FROM t \
             WHERE g = 1 ORDER BY d"
        )
        .await,
        [
            ["big", "1", "2"],
            ["small", "1", "2"],
            ["small", "1", "2"],
            ["big", "1", "2"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT count_if(x > 1), countif(x IS NULL), count_if(x > 1) FILTER (WHERE g = 2), \
             today() = current_date FROM t"
        )
        .await,
        [["3", "1", "1", "true"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT isinf(1e308 * 10), isinf(-1e308 * 10), isinf(d), isfinite(d), \
             isfinite(0.0 / 0.0), isfinite(1e308 * 10) FROM t WHERE x = 10"
        )
        .await,
        [["true", "true", "NULL", "NULL", "false", "false"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT day, last_day(day), dayname(day), monthname(day) FROM t \
             WHERE day IS NOT NULL ORDER BY day"
        )
        .await,
        [
            ["2023-12-31", "2023-12-31", "Sunday", "December"],
            ["2024-01-31", "2024-01-31", "Wednesday", "January"],
            ["2024-02-10", "2024-02-29", "Saturday", "February"],
            ["2024-02-29", "2024-02-29", "Thursday", "February"],
            ["2024-03-15", "2024-03-31", "Friday", "March"],
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT xor(x, 3), even(x), even(-x), even(2.5) FROM t WHERE x IS NOT NULL \
             ORDER BY d NULLS LAST"
        )
        .await,
        [
            ["0", "4.0", "-4.0", "4.0"],
            ["2", "2.0", "-2.0", "4.0"],
            ["2", "2.0", "-2.0", "4.0"],
            ["0", "4.0", "-4.0", "4.0"],
            ["9", "10.0", "-10.0", "4.0"],
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT make_timestamp(2024, 1, 2, 3, 4, 5.5), \
             last_day(TIMESTAMP '2023-04-05 06:07:08')"
        )
        .await,
        [["2024-01-02T03:04:05.500", "2023-04-30"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT regexp_full_match(s, 'a|b'), regexp_full_match(s, 'h.*') FROM t \
             WHERE g = 1 ORDER BY d"
        )
        .await,
        [
            ["true", "false"],
            ["true", "false"],
            ["true", "false"],
            ["false", "true"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT list(x ORDER BY x), arbitrary(g) FROM t WHERE g = 1"
        )
        .await,
        [["[1, 1, 3, 3]", "1"]]
    );
    // approx_top_k counts exactly here: the k most frequent values, NULLs left out.
    assert_eq!(
        query(
            &mut s,
            "SELECT approx_top_k(x, 2), approx_top_k(y, 5) FROM (VALUES (NULL, 'b'), \
             (NULL, 'a'), (NULL, 'b'), (1, 'c'), (2, 'a'), (2, 'b'), (2, 'b')) v(x, y)"
        )
        .await,
        [["[2, 1]", "[b, a, c]"]]
    );
    // regexp_escape quotes every ASCII character but letters, digits and `_` (RE2's
    // QuoteMeta), so the text matches itself as a pattern.
    assert_eq!(
        query(
            &mut s,
            "SELECT regexp_escape('a.b*c+d?e(f)g[h]i{j}k|l^m$n\\o-p/q r#s&té'), \
              regexp_matches('a.b', regexp_escape('a.b')), regexp_matches('axb', regexp_escape('a.b')), \
              pg_typeof('a'), pg_typeof(DATE '2024-01-01'), current_database(), current_schema()"
        )
        .await,
        [[
            r"a\.b\*c\+d\?e\(f\)g\[h\]i\{j\}k\|l\^m\$n\\o\-p\/q\ r\#s\&té",
            "true",
            "false",
            "varchar",
            "date",
            "memory",
            "main"
        ]]
    );
    // The macro names the column as DuckDB does, by the call written.
    let mut names = s.query("SELECT count_if(x > 1) FROM t").await.unwrap();
    let schema = names.remove(0).schema();
    assert_eq!(schema.field(0).name(), "count_if((x > 1))");
}

/// Over a sliding frame the statistics take back the values that leave it (entropy rounded:
/// DuckDB's sum of the terms differs in the last digit).
#[tokio::test]
async fn value_count_statistics_slide_over_window_frames() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT i, mode(v) OVER w, histogram(v) OVER w, quantile_disc(v, 0.5) OVER w, \
             round(entropy(v) OVER w, 12) FROM (VALUES (1, 5), (2, 5), (3, 6), (4, NULL), (5, 6), (6, 7)) \
             t(i, v) WINDOW w AS (ORDER BY i ROWS 2 PRECEDING) ORDER BY i"
        )
        .await,
        [
            ["1", "5", "{5: 1}", "5", "0.0"],
            ["2", "5", "{5: 2}", "5", "0.0"],
            ["3", "5", "{5: 2, 6: 1}", "5", "0.918295834054"],
            ["4", "5", "{5: 1, 6: 1}", "5", "1.0"],
            ["5", "6", "{6: 2}", "6", "0.0"],
            ["6", "6", "{6: 1, 7: 1}", "6", "1.0"],
        ]
    );
}

/// Aggregates whose accumulators cannot take values back (DataFusion's `string_agg`,
/// `bool_or`, `bool_and`, `first`; Tarn's `arg_max`) are computed afresh over a sliding frame,
/// where DataFusion refused the query.
#[tokio::test]
async fn every_aggregate_slides_over_window_frames() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT i, string_agg(s, ',') OVER w, bool_or(v > 5) OVER w, bool_and(v > 4) OVER w, \
             arg_max(s, v) OVER w, first(s) OVER w, \
             string_agg(s, '') OVER (ORDER BY i ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) \
             FROM (VALUES (1, 5, 'a'), (2, 5, 'b'), (3, 6, NULL), (4, NULL, 'd'), (5, 6, 'e'), \
             (6, 7, 'f')) t(i, v, s) \
             WINDOW w AS (ORDER BY i ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) ORDER BY i"
        )
        .await,
        [
            ["1", "a,b", "false", "true", "a", "a", "abdef"],
            ["2", "a,b", "true", "true", "a", "a", "bdef"],
            ["3", "b,d", "true", "true", "b", "b", "def"],
            ["4", "d,e", "true", "true", "e", "NULL", "def"],
            ["5", "d,e,f", "true", "true", "f", "d", "ef"],
            ["6", "e,f", "true", "true", "f", "e", "f"],
        ]
    );
}

/// `corr` and `regr_slope` are NaN where rows have both values but the statistic is undefined
/// (one row, or no spread), NULL where no row has both; DataFusion gave NULL for all. Answers
/// as DuckDB 2.0's, grouped and over a window frame.
#[tokio::test]
async fn undefined_correlations_are_nan() {
    let (mut s, _dir) = parquet_view(
        "SELECT * FROM (VALUES (1, 1.0, 2.0), (1, 1.0, 3.0), (2, 1.0, 1.0), (2, 2.0, 2.0), \
           (3, NULL, 1.0), (4, 1.0, 2.0), (4, 2.0, 4.5), (4, 3.0, 5.0)) v(g, x, y)",
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            "SELECT g, corr(y, x), regr_slope(y, x), regr_intercept(y, x) FROM t GROUP BY g \
             ORDER BY g"
        )
        .await,
        [
            ["1", "NaN", "NaN", "NULL"],
            ["2", "1.0", "1.0", "0.0"],
            ["3", "NULL", "NULL", "NULL"],
            ["4", "0.9332565252573828", "1.5", "0.8333333333333335"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT x, isnan(corr(y, x) OVER (ORDER BY x ROWS BETWEEN 1 PRECEDING AND CURRENT \
             ROW)) FROM t WHERE g = 4 ORDER BY x"
        )
        .await,
        [["1.0", "true"], ["2.0", "false"], ["3.0", "false"]]
    );
}

/// Interpolated quantiles are exact, as DuckDB's: DataFusion's `percentile_cont`, which
/// `quantile_cont` named, rounded the step between two values down to millionths (1.3499985
/// below). A DECIMAL steps in its own units, cut towards the lower value as DuckDB does.
#[tokio::test]
async fn continuous_quantiles_interpolate_exactly() {
    let (mut s, _dir) = parquet_view(
        "SELECT i, CAST(f AS DOUBLE) AS f, m FROM (VALUES (1, 0.0, 1.50), (2, 1.5, 2.25), \
         (3, 10.0, 4.00), (4, 10.0, NULL)) v(i, f, m)",
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            "SELECT quantile_cont(f, 0.3), quantile_cont(m, 0.25), typeof(quantile_cont(m, 0.25)), \
             quantile_cont(i, [0.5, 0.9]) FROM t"
        )
        .await,
        [["1.3499999999999999", "1.87", "DECIMAL(3,2)", "[2.5, 3.7]"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT i, quantile_cont(f, 0.5) OVER (ORDER BY i ROWS 1 PRECEDING) FROM t ORDER BY i"
        )
        .await,
        [["1", "0.0"], ["2", "0.75"], ["3", "5.75"], ["4", "10.0"]]
    );
}

/// The ordered-set forms SQL and DuckDB write: `mode() WITHIN GROUP (ORDER BY x)` and
/// `percentile_disc` / `percentile_cont` of a fraction or a list, with FILTER, as DuckDB 2.0
/// answers them; DataFusion had `percentile_cont` of one fraction only.
#[tokio::test]
async fn ordered_set_aggregates_are_the_quantiles_they_stand_for() {
    let mut s = session();
    assert_eq!(
        query(
            &mut s,
            "SELECT mode() WITHIN GROUP (ORDER BY i % 3), \
             percentile_disc(0.5) WITHIN GROUP (ORDER BY i), \
             percentile_cont([0.25, 0.5]) WITHIN GROUP (ORDER BY i), \
             percentile_disc([0.1, 0.9]) WITHIN GROUP (ORDER BY i), \
             percentile_disc(0.5) WITHIN GROUP (ORDER BY i) FILTER (WHERE i > 4), \
             percentile_cont(0.25) WITHIN GROUP (ORDER BY i DESC) \
             FROM range(10) t(i)"
        )
        .await,
        [["0", "4", "[2.25, 4.5]", "[0, 8]", "7", "6.75"]]
    );
    // From the top, the pick is not the ascending pick at 1 - q: of 0..9, the median from the
    // top is 5 (the fifth value down), where the median from the bottom is 4.
    assert_eq!(
        query(
            &mut s,
            "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY i DESC), \
             percentile_disc(0.5) WITHIN GROUP (ORDER BY i), \
             percentile_disc([0.25, 0.5]) WITHIN GROUP (ORDER BY i DESC), \
             percentile_disc(0.3) WITHIN GROUP (ORDER BY i DESC) FILTER (WHERE i % 3 = 0) \
             FROM range(10) t(i)"
        )
        .await,
        [["5", "4", "[7, 5]", "6"]]
    );
}

/// Ordered aggregates with different orders in one SELECT, which DataFusion refused for
/// `string_agg` ("Conflicting ordering requirements"): the input is sorted for one of them and
/// the others sort their own values. A DISTINCT one computed reversed (over input sorted the
/// other way) keeps its own order.
#[tokio::test]
async fn ordered_aggregates_may_each_have_their_own_order() {
    let mut s = session();
    let rows =
        "(VALUES (1, 1, 'a'), (1, 2, 'b'), (1, 3, 'c'), (1, 4, 'b'), (2, 5, 'z')) t(g, k, v)";
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT string_agg(v, ',' ORDER BY k), string_agg(v, '' ORDER BY k DESC), \
                 list(k ORDER BY v, k DESC), string_agg(DISTINCT v, '|' ORDER BY v) FROM {rows}"
            )
        )
        .await,
        [["a,b,c,b,z", "zbcba", "[1, 4, 2, 3, 5]", "a|b|c|z"]]
    );
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT g, string_agg(v, ',' ORDER BY k DESC), list(v ORDER BY v DESC), \
                 string_agg(DISTINCT v, ',' ORDER BY v) FROM {rows} GROUP BY g ORDER BY g"
            )
        )
        .await,
        [
            ["1", "b,c,b,a", "[c, b, b, a]", "a,b,c"],
            ["2", "z", "[z]", "z"]
        ]
    );
}

#[tokio::test]
async fn statistics_give_duckdbs_answers() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT g, entropy(x), quantile_disc(x, 0.25), quantile(x, 0.5), \
             product(x), mode(s), histogram(s), quantile_disc(s, 0.5) \
             FROM t GROUP BY g ORDER BY g"
        )
        .await,
        [
            [
                "1",
                "1.0",
                "1",
                "1",
                "9.0",
                "b",
                "{a: 1, b: 2, héllo: 1}",
                "b"
            ],
            ["2", "0.0", "10", "10", "10.0", "c", "{c: 1}", "c"],
        ]
    );
    // DuckDB's formulas in its order of operations; its compiled arithmetic still differs in
    // the last digit or two.
    let moments = query(
        &mut s,
        "SELECT skewness(d), kurtosis(d), kurtosis_pop(d), entropy(s) FROM t WHERE g = 1",
    )
    .await;
    let duckdb = [
        1.1376243669576882,
        0.7576559546313791,
        -1.0989792060491494,
        1.5,
    ];
    for (value, expected) in moments[0].iter().zip(duckdb) {
        let value: f64 = value.parse().unwrap();
        assert!(
            (value - expected).abs() <= 1e-13 * expected.abs(),
            "{moments:?}"
        );
    }
    // No rows: NULL, except entropy's 0; too few values for the moments: NULL.
    assert_eq!(
        query(
            &mut s,
            "SELECT mode(x), entropy(x), histogram(x), quantile_disc(x, 0.5), product(x), \
             skewness(x), kurtosis(x) FROM t WHERE x > 100"
        )
        .await,
        [["NULL", "0.0", "NULL", "NULL", "NULL", "NULL", "NULL"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT skewness(x), kurtosis(x) FROM (VALUES (1), (2), (3)) v(x)"
        )
        .await,
        [["0.0", "NULL"]]
    );
    // A list of quantiles gives a list of answers, in the order asked, or NULL over no values;
    // a discrete quantile is the first value with a share q at or below it (⌈n·q⌉ - 1: 1 of
    // [0, 1] at 0.75, 9 of 3..9 at 0.9). DuckDB 2.0's answers.
    assert_eq!(
        query(
            &mut s,
            "SELECT quantile_disc(x, [0.25, 0.5]), quantile_cont(x, [0.25, 0.5]), \
             typeof(quantile_disc(x, [0.9, 0.1])), quantile_disc(x, [0.9, 0.1]) \
             FILTER (WHERE x > 2), quantile_disc(x, 0.75) FILTER (WHERE x < 2), \
             quantile_cont(x, [0.5]) FILTER (WHERE x < 0) FROM range(10) r(x)"
        )
        .await,
        [["[2, 4]", "[2.25, 4.5]", "BIGINT[]", "[9, 3]", "1", "NULL"]]
    );
    let err = error(&mut s, "SELECT quantile_disc(x, 1.5) FROM t").await;
    assert!(
        err.contains("quantile must be a constant between 0 and 1"),
        "{err}"
    );
    let err = error(&mut s, "SELECT kurtosis(s) FROM t").await;
    assert!(
        err.contains("kurtosis of VARCHAR, not of a number"),
        "{err}"
    );
}

/// DuckDB's top-n aggregates: a list, largest (smallest) first, of the rows whose value and
/// key are not NULL.
#[tokio::test]
async fn top_n_aggregates_give_duckdbs_answers() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT g, max(d, 2), min(x, 3), arg_max(s, d, 2), min_by(s, d, 9), \
             max(x, 2) FILTER (WHERE x < 3) FROM t GROUP BY g ORDER BY g"
        )
        .await,
        [
            [
                "1",
                "[8.0, 4.0]",
                "[1, 1, 3]",
                "[héllo, b]",
                "[b, a, b, héllo]",
                "[1, 1]"
            ],
            ["2", "[5.0]", "[10]", "NULL", "NULL", "NULL"]
        ]
    );
    assert_eq!(
        query(&mut s, "SELECT max(x, 2) FROM t WHERE x > 100").await,
        [["NULL"]]
    );
}

#[tokio::test]
async fn approximate_quantiles_answer_in_the_input_type() {
    let (mut s, _dir) = table().await;
    // Small inputs, where the digest holds every value: DuckDB's answers (its digest
    // interpolates differently between values: 1.5 for d at 0.25, where this gives 1.3).
    assert_eq!(
        query(
            &mut s,
            "SELECT approx_quantile(x, 0.0), approx_quantile(x, 0.5), approx_quantile(d, 1.0), \
             typeof(approx_quantile(x, 0.5)), typeof(approx_quantile(d, 0.5)), \
             reservoir_quantile(x, 0.5) FROM t WHERE g = 1"
        )
        .await,
        [["1", "2", "8.0", "INTEGER", "DECIMAL(2,1)", "1"]]
    );
    // 33,334 values a group: within 0.1% of the exact quantile at 0.9 and 0.01.
    let answers = query(
        &mut s,
        "SELECT g, approx_quantile(x, 0.9), approx_quantile(x, 0.01) \
         FROM (SELECT x % 3 AS g, x FROM range(100000) r(x)) GROUP BY g ORDER BY g",
    )
    .await;
    for row in answers {
        let (high, low): (f64, f64) = (row[1].parse().unwrap(), row[2].parse().unwrap());
        assert!((high - 90000.0).abs() < 100.0, "{row:?}");
        assert!((low - 1000.0).abs() < 100.0, "{row:?}");
    }
    assert_eq!(
        query(
            &mut s,
            "SELECT approx_quantile(x, 0.5) FROM t WHERE x > 100"
        )
        .await,
        [["NULL"]]
    );
    let err = error(&mut s, "SELECT approx_quantile(x, 1.5) FROM t").await;
    assert!(err.contains("constant between 0 and 1"), "{err}");
    // A list of quantiles: one digest, the answers as a list of the input's type (DuckDB's for
    // these small groups, whose x is INTEGER there); an empty group gives NULL, an empty list
    // an empty list.
    assert_eq!(
        query(
            &mut s,
            "SELECT g, approx_quantile(x, [0.0, 0.5, 1.0]), approx_quantile(d, [1.0]), \
             typeof(approx_quantile(x, [0.5])), approx_quantile(x, []::DOUBLE[]) \
             FROM t GROUP BY g ORDER BY g"
        )
        .await,
        [
            ["1", "[1, 2, 3]", "[8.0]", "INTEGER[]", "[]"],
            ["2", "[10, 10, 10]", "[5.0]", "INTEGER[]", "[]"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT approx_quantile(x, [0.5]) FROM t WHERE x > 100"
        )
        .await,
        [["NULL"]]
    );
    let err = error(&mut s, "SELECT approx_quantile(x, [0.5, 2.0]) FROM t").await;
    assert!(err.contains("constant between 0 and 1"), "{err}");
}

#[tokio::test]
async fn compensated_sums_and_float_steps_give_duckdbs_answers() {
    let (mut s, _dir) = table().await;
    // Kahan's sum keeps the ones a plain left-to-right sum rounds away: 1e16 + 1 + 1 is
    // 1e16 + 2; 0.1 + 0.2 + 0.3 is 0.6 (a plain sum gives 0.6000000000000001).
    assert_eq!(
        query(
            &mut s,
            "SELECT fsum(v), sumkahan(v), kahan_sum(v) \
             FROM (VALUES (1e16::DOUBLE), (1::DOUBLE), (1::DOUBLE)) t(v)"
        )
        .await,
        [[
            "1.0000000000000002e16",
            "1.0000000000000002e16",
            "1.0000000000000002e16"
        ]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT g, fsum(d), fsum(x), typeof(fsum(x)) FROM t GROUP BY g ORDER BY g"
        )
        .await,
        [
            ["1", "15.0", "8.0", "DOUBLE"],
            ["2", "5.0", "10.0", "DOUBLE"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT fsum(v) FROM (VALUES (0.1::DOUBLE), (0.2::DOUBLE), (0.3::DOUBLE)) t(v)"
        )
        .await,
        [["0.6"]]
    );
    assert_eq!(
        query(&mut s, "SELECT fsum(x) FROM t WHERE x > 100").await,
        [["NULL"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT nextafter(1.0, 2.0), nextafter(1::FLOAT, 0::FLOAT), \
             typeof(nextafter(1::FLOAT, 2)), typeof(nextafter(1::FLOAT, 2::DOUBLE)), \
             nextafter(0.0, -1.0), nextafter(1.0, 1.0), nextafter(NULL, 1.0), \
             nextafter('inf'::DOUBLE, 0)"
        )
        .await,
        [[
            "1.0000000000000002",
            "0.99999994",
            "FLOAT",
            "DOUBLE",
            "-5e-324",
            "1.0",
            "NULL",
            "1.7976931348623157e308"
        ]]
    );
    let err = error(&mut s, "SELECT fsum(s) FROM t").await;
    assert!(err.contains("fsum of VARCHAR, not of a number"), "{err}");
}

#[tokio::test]
async fn text_functions_give_duckdbs_answers() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT regexp_extract('abc123def', '[0-9]+'), \
             regexp_extract('abc123def', '([a-z]+)([0-9]+)', 2), regexp_extract('abc', 'x'), \
             regexp_extract('ABC', 'b', 0, 'i'), regexp_extract('ab', '(b)(c)?', 2), \
             regexp_extract(NULL, 'x')"
        )
        .await,
        [["123", "123", "", "B", "", "NULL"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT regexp_extract_all('a1b22c333', '[0-9]+'), \
             regexp_extract_all('a1b22', '([a-z])([0-9]+)', 2), regexp_extract_all('abc', 'x'), \
             regexp_split_to_array('a1b22c', '[0-9]+'), string_split_regex('a, b,c', ',\\s*')"
        )
        .await,
        [["[1, 22, 333]", "[1, 22]", "[]", "[a, b, c]", "[a, b, c]"]]
    );
    // Over a column: the pattern compiles once, rows keep their own answers.
    assert_eq!(
        query(
            &mut s,
            "SELECT regexp_extract(s, '[a-z]l+'), len(s) FROM t WHERE g = 1 ORDER BY d"
        )
        .await,
        [["", "1"], ["", "1"], ["", "1"], ["ll", "5"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT len('héllo'), len([1, NULL]), length('x'), length([1, 2]), len(NULL)"
        )
        .await,
        [["5", "2", "1", "2", "NULL"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT levenshtein('é', 'e'), levenshtein('kitten', 'sitting'), editdist3('ab', 'b'), \
             damerau_levenshtein('ca', 'abc'), hamming('abc', 'abd'), mismatches('ab', 'ab')"
        )
        .await,
        [["2", "3", "1", "2", "1", "0"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT jaccard('abc', 'abd'), jaccard('hé', 'ha'), jaro_similarity('dixon', 'dicksonx'), \
             jaro_winkler_similarity('martha', 'marhta'), jaro_winkler_similarity('ab', 'ac'), \
             jaro_winkler_similarity('', '')"
        )
        .await,
        [[
            "0.5",
            "0.25",
            "0.7666666666666666",
            "0.9611111111111111",
            "0.6666666666666666",
            "0.0"
        ]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT sha1('a'), sha1(''::BLOB), sha1(s) FROM t WHERE x = 3 AND d = 8.0"
        )
        .await,
        [[
            "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "35b5ea45c5e41f78b46a937cc74d41dfea920890"
        ]]
    );
    // The MD5 digest as numbers, as DuckDB 2.0 gives them: a stable tenth of the rows is
    // `md5_number_lower(s) % 10 = 0` on every run and in every engine.
    assert_eq!(
        query(
            &mut s,
            "SELECT md5_number(s), md5_number_upper(s), md5_number_lower(s), \
             md5_number_lower(s) % 10, typeof(md5_number_upper(s)), md5_number('abc'::BLOB) \
             FROM t WHERE x = 3 AND d = 8.0"
        )
        .await,
        [[
            "106482194000823313153044729605999055038",
            "17532498558692380862",
            "5772411303335779161",
            "1",
            "UBIGINT",
            "152195979970564155685860391459828531600"
        ]]
    );
    for (sql, message) in [
        ("SELECT hamming('abc', 'ab')", "equal length"),
        ("SELECT jaccard('', 'a')", "an argument is empty"),
        (
            "SELECT regexp_extract('abc', '(')",
            "invalid regular expression '('",
        ),
        (
            "SELECT regexp_extract('abc', 'b', 0, 'q')",
            "unknown regular expression option 'q'",
        ),
    ] {
        let err = error(&mut s, sql).await;
        assert!(err.contains(message), "{sql}: {err}");
    }
}

#[tokio::test]
async fn glob_matches_whole_strings_as_duckdb_does() {
    let (mut s, _dir) = table().await;
    // A column against a constant pattern, NOT GLOB, and GLOB binding looser than `||`.
    assert_eq!(
        query(
            &mut s,
            "SELECT s, s GLOB 'h*o', s NOT GLOB '[a-b]', s GLOB '?', s GLOB 'h' || '*' FROM t \
             WHERE g = 1 ORDER BY d"
        )
        .await,
        [
            ["b", "false", "false", "true", "false"],
            ["a", "false", "false", "true", "false"],
            ["b", "false", "false", "true", "false"],
            ["héllo", "true", "true", "false", "true"]
        ]
    );
    // Patterns from a column; a NULL on either side is NULL.
    assert_eq!(
        query(
            &mut s,
            "SELECT x, p, 'a]c' GLOB p FROM (VALUES (1, 'a[]]c'), (2, 'a[!]]c'), (3, 'a\\]c'), \
             (4, 'a[c'), (5, NULL)) v(x, p) ORDER BY x"
        )
        .await,
        [
            ["1", "a[]]c", "true"],
            ["2", "a[!]]c", "false"],
            ["3", "a\\]c", "true"],
            ["4", "a[c", "false"],
            ["5", "NULL", "NULL"]
        ]
    );
    assert_eq!(
        query(&mut s, "SELECT count(*) FROM t WHERE s GLOB '*l*'").await,
        [["1"]]
    );
    let err = error(&mut s, "SELECT x GLOB '1' FROM t").await;
    assert!(err.contains("GLOB takes strings, not INTEGER"), "{err}");
    // SIMILAR TO matches its regular expression against the whole string too (DataFusion's
    // matched anywhere: `'héllo' SIMILAR TO '[a-z]+'` was true).
    assert_eq!(
        query(
            &mut s,
            "SELECT s, s SIMILAR TO '[a-z]+', s NOT SIMILAR TO 'h.*', s SIMILAR TO 'b|h.*o' \
             FROM t WHERE g = 1 ORDER BY d"
        )
        .await,
        [
            ["b", "true", "true", "true"],
            ["a", "true", "true", "false"],
            ["b", "true", "true", "true"],
            ["héllo", "false", "false", "true"]
        ]
    );
}

/// `[element FOR x IN list IF condition]`, over a column, nested, and beside plain lists.
#[tokio::test]
async fn list_comprehensions_give_duckdbs_answers() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT g, [v * 10 FOR v IN list(x ORDER BY d) IF v % 2 = 1], \
             [upper(w) FOR w IN list(s ORDER BY d)] FROM t GROUP BY g ORDER BY g"
        )
        .await,
        [
            ["1", "[30, 10, 10, 30]", "[B, A, B, HÉLLO]"],
            ["2", "[]", "[NULL, C]"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT [[y + 1 FOR y IN x] FOR x IN [[1, 2], [3]]], [1, 2], [[1], [2, 3]]"
        )
        .await,
        [["[[2, 3], [4]]", "[1, 2]", "[[1], [2, 3]]"]]
    );
}

#[tokio::test]
async fn format_and_printf_give_duckdbs_answers() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT format('{}: {:.2f} on {}', s, CAST(d AS DOUBLE), day), \
             printf('%-6s|%3d|%x', s, x, x * 100) FROM t ORDER BY g, d"
        )
        .await,
        [
            ["b: 1.00 on 2024-02-10", "b     |  3|12c"],
            ["a: 2.00 on 2023-12-31", "a     |  1|64"],
            ["b: 4.00 on 2024-01-31", "b     |  1|64"],
            ["héllo: 8.00 on 2024-02-29", "héllo |  3|12c"],
            ["NULL", "NULL"],
            ["NULL", "c     | 10|3e8"],
        ]
    );
    // A number's text goes right, zeros after its sign, as in fmt.
    assert_eq!(
        query(
            &mut s,
            "SELECT format('{:5}|{:05}|{:>4}|{:^5}', 42, -42, 'ab', 1.5)"
        )
        .await,
        [["   42|-0042|  ab| 1.5 "]]
    );
    for (sql, message) in [
        ("SELECT format('{} {}', 1)", "asks for argument 2 of 1"),
        (
            "SELECT printf('%d', CAST(2.7 AS DOUBLE))",
            "with a spec for an integer",
        ),
        ("SELECT format('{:q}', 1)", "unsupported format spec 'q'"),
        ("SELECT printf('50%')", "a '%' at the end"),
    ] {
        let err = error(&mut s, sql).await;
        assert!(err.contains(message), "{sql}: {err}");
    }
}

#[tokio::test]
async fn base64_epochs_structs_and_series_columns() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT s, to_base64(CAST(s AS BLOB)), \
             CAST(from_base64(to_base64(CAST(s AS BLOB))) AS VARCHAR) \
             FROM t WHERE s IN ('a', 'c') ORDER BY s"
        )
        .await,
        [["a", "YQ==", "a"], ["c", "Yw==", "c"]]
    );
    let err = error(&mut s, "SELECT from_base64('YWI')").await;
    assert!(
        err.contains("Could not decode string \"YWI\" as base64"),
        "{err}"
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT day, epoch_ms(day), \
             epoch_us(CAST(day AS TIMESTAMP) + INTERVAL 1500 MICROSECOND), \
             epoch_ms(epoch_ms(day) - 1) FROM t WHERE g = 1 AND day < DATE '2024-02-01' \
             ORDER BY day"
        )
        .await,
        [
            [
                "2023-12-31",
                "1703980800000",
                "1703980800001500",
                "2023-12-30T23:59:59.999"
            ],
            [
                "2024-01-31",
                "1706659200000",
                "1706659200001500",
                "2024-01-30T23:59:59.999"
            ],
        ]
    );
    // Rounded down, as DuckDB counts: half a millisecond before 1970 is -1 ms.
    assert_eq!(
        query(
            &mut s,
            "SELECT epoch_ms(TIMESTAMP '1969-12-31 23:59:59.9995'), \
             epoch_ns(TIMESTAMP '2024-01-02 03:04:05.678')"
        )
        .await,
        [["-1", "1704164645678000000"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT struct_pack(key := s, n := x).key AS k, {'g': g, 'x': x}.x AS x \
             FROM t WHERE g = 2 ORDER BY x"
        )
        .await,
        [["c", "10"], ["NULL", "NULL"]]
    );
    // A column passed bare names its field, as in DuckDB (before: "Invalid function").
    assert_eq!(
        query(
            &mut s,
            "SELECT struct_pack(t.g, s, n := x) AS p FROM t WHERE g = 2 ORDER BY x"
        )
        .await,
        [["{g: 2, s: c, n: 10}"], ["{g: 2, s: NULL, n: NULL}"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT range, range * 2 AS twice FROM range(3) ORDER BY range"
        )
        .await,
        [["0", "0"], ["1", "2"], ["2", "4"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT t FROM generate_series(1, 5, 2) AS t ORDER BY t"
        )
        .await,
        [["1"], ["3"], ["5"]]
    );
}

#[tokio::test]
async fn date_sub_counts_whole_periods_and_date_add_gives_timestamps() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT day, date_sub('month', DATE '2023-11-30', day), \
             date_diff('month', DATE '2023-11-30', day), \
             date_sub('week', day, DATE '2024-03-01'), date_add(day, INTERVAL 1 MONTH) \
             FROM t WHERE g = 1 ORDER BY day"
        )
        .await,
        [
            ["2023-12-31", "1", "1", "8", "2024-01-31T00:00:00"],
            ["2024-01-31", "2", "2", "4", "2024-02-29T00:00:00"],
            ["2024-02-10", "2", "3", "2", "2024-03-10T00:00:00"],
            ["2024-02-29", "3", "3", "0", "2024-03-29T00:00:00"],
        ]
    );
}

/// `list_sum` adds in the list's own kind of number (DataFusion's summed every list as DOUBLE);
/// `strip_accents` drops combining marks; digests are hex text.
#[tokio::test]
async fn list_sums_accents_and_digests() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT g, list_sum(list(x)), list_sum(list(d)), list_sum(list(x::DOUBLE / 2)) \
             FROM t GROUP BY g ORDER BY g"
        )
        .await,
        [["1", "8", "15.0", "4.0"], ["2", "10", "5.0", "5.0"]]
    );
    let err = error(&mut s, "SELECT list_sum([9223372036854775807, 1])").await;
    assert!(err.contains("Overflow in list_sum of BIGINT"), "{err}");
    // nfc_normalize composes a letter and its combining accent into one character.
    assert_eq!(
        query(
            &mut s,
            "SELECT strip_accents(s), nfc_normalize(strip_accents(s) || chr(769)) = 'hellò', \
             nfc_normalize('e' || chr(769)) = 'é', length('e' || chr(769)), \
             length(nfc_normalize('e' || chr(769))) FROM t WHERE s LIKE 'h%'"
        )
        .await,
        [["hello", "false", "true", "2", "1"]]
    );
    // A digest is hex text, as DuckDB gives it (DataFusion's sha256 gave the bytes).
    assert_eq!(
        query(
            &mut s,
            "SELECT sha256(s), md5(s) FROM t WHERE s = 'a' LIMIT 1"
        )
        .await,
        [[
            "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
            "0cc175b9c0f1b6a831c399e269772661"
        ]]
    );
}

/// `x[a:b]` slices strings by character as well as lists, DuckDB's way (1-based, both ends
/// included, negative from the end, a bound left out is the start or the end).
#[tokio::test]
async fn slices_take_strings_and_lists() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT s, s[2:3], s[-2:], s[:1] FROM t WHERE g = 1 ORDER BY d"
        )
        .await,
        [
            ["b", "", "b", "b"],
            ["a", "", "a", "a"],
            ["b", "", "b", "b"],
            ["héllo", "él", "lo", "h"],
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT list_sort(list(x))[2:], list_sort(list(x))[:-2], list_slice('hello', -3, -1) \
             FROM t WHERE g = 1"
        )
        .await,
        [["[1, 3, 3]", "[1, 1, 3]", "llo"]]
    );
}

#[tokio::test]
async fn age_counts_years_months_and_days() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT day, CAST(age(day, DATE '2023-11-30') AS VARCHAR), \
             CAST(age(DATE '2023-11-30', day) AS VARCHAR) FROM t WHERE g = 1 ORDER BY day"
        )
        .await,
        [
            ["2023-12-31", "1 month 1 day", "-1 month -1 day"],
            ["2024-01-31", "2 months 1 day", "-2 months -1 day"],
            ["2024-02-10", "2 months 10 days", "-2 months -10 days"],
            ["2024-02-29", "2 months 29 days", "-2 months -29 days"],
        ]
    );
}

/// An aggregate over each list's elements: `list_aggregate(list, 'name')` and DuckDB's
/// shorthands; and lists sort their NULLs last, as DuckDB's do.
#[tokio::test]
async fn list_aggregates_and_list_sorts() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT g, list_min(list(x)), list_aggregate(list(x), 'max'), list_count(list(x)), \
             list_string_agg(list_sort(list(s))), \
             list_aggregate(list_sort(list(s)), 'string_agg', ' '), list_median(list(d)), \
             list_mode(list(x)) FROM t GROUP BY g ORDER BY g"
        )
        .await,
        [
            ["1", "1", "3", "4", "a,b,b,héllo", "a b b héllo", "3.0", "3"],
            ["2", "10", "10", "1", "c", "c", "5.0", "10"],
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT list_sort(['b', NULL, 'a']), list_sort(['b', NULL, 'a'], 'DESC'), \
             list_reverse_sort([2, NULL, 1])"
        )
        .await,
        [["[a, b, NULL]", "[b, a, NULL]", "[2, 1, NULL]"]]
    );
    // Every shorthand DuckDB 2.0 has, with its answers.
    assert_eq!(
        query(
            &mut s,
            "SELECT list_bit_and([1, 2, 2, 5]), list_bit_or([1, 2, 2, 5]), \
             list_bit_xor([1, 2, 2, 5]), list_histogram([1, 2, 2, 5]), \
             list_kurtosis_pop([1, 2, 2, 5]), list_mad([1, 2, 2, 5]), list_sem([1, 2, 2, 5])"
        )
        .await,
        [[
            "0",
            "7",
            "4",
            "{1: 1, 2: 2, 5: 1}",
            "-0.8148148148148149",
            "0.5",
            "0.7499999999999999"
        ]]
    );
    let err = error(&mut s, "SELECT list_aggregate([1, 2], 'nope')").await;
    assert!(
        err.contains("no aggregate function is named 'nope'"),
        "{err}"
    );
}

#[tokio::test]
async fn byte_counts_as_text_and_bit_counts() {
    let (mut s, _dir) = table().await;
    // x is an INTEGER, as the literals it was made from are: -1 has 32 bits set.
    assert_eq!(
        query(
            &mut s,
            "SELECT DISTINCT x, format_bytes(x * 100000), formatReadableDecimalSize(x * 100000), \
             bit_count(x), bit_count(-x) FROM t ORDER BY x NULLS LAST"
        )
        .await,
        [
            ["1", "97.6 KiB", "100.0 kB", "1", "32"],
            ["3", "292.9 KiB", "300.0 kB", "2", "31"],
            ["10", "976.5 KiB", "1.0 MB", "2", "30"],
            ["NULL", "NULL", "NULL", "NULL", "NULL"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT formatReadableSize(1048575), typeof(bit_count(5)), bit_count(-1::INTEGER)"
        )
        .await,
        [["1023.9 KiB", "TINYINT", "32"]]
    );
    let err = error(&mut s, "SELECT bit_count(s) FROM t").await;
    assert!(
        err.contains("bit_count takes an integer, not VARCHAR"),
        "{err}"
    );
}

#[tokio::test]
async fn hash_gives_duckdbs_values() {
    let (mut s, _dir) = table().await;
    // Columns of each kind, several arguments, a list first and after another argument, a
    // struct; the NULLs of the last two rows hash as DuckDB's NULL.
    assert_eq!(
        query(
            &mut s,
            "SELECT hash(x), hash(s), hash(d), hash(day), hash(x, s, day), hash([x, g]), \
             hash(g, [x, g]), hash({'a': s, 'b': x}) FROM t ORDER BY g, x, s"
        )
        .await,
        [
            [
                "4717996019076358352",
                "12561829011207016135",
                "8094069980479725634",
                "6711929604252312080",
                "18322869418730705711",
                "523193599206204019",
                "8874347166203244119",
                "6250315044274023003"
            ],
            [
                "4717996019076358352",
                "10660095401860160745",
                "2155763871152627524",
                "2183004377672426692",
                "6284657777305168640",
                "523193599206204019",
                "8874347166203244119",
                "5738721732452590384"
            ],
            [
                "8131803788478518982",
                "10660095401860160745",
                "5527453332085100658",
                "2893350678146360376",
                "16661468213552471125",
                "12383815058506325952",
                "9754067923610631716",
                "9080454309083501862"
            ],
            [
                "8131803788478518982",
                "14288971387244111244",
                "8725895727554725203",
                "1784348991188818161",
                "14809097794769021779",
                "12383815058506325952",
                "9754067923610631716",
                "3426862498299660845"
            ],
            [
                "5527453332085100658",
                "10469962452217487573",
                "13787848793156543929",
                "13787848793156543929",
                "15711215818991160273",
                "12973036163171886471",
                "1560143363234591127",
                "5506957470585322909"
            ],
            [
                "13787848793156543929",
                "13787848793156543929",
                "16591920051293924751",
                "457028780826551909",
                "5262089445742151660",
                "6881420704371884526",
                "16590431596246642750",
                "18212156630472451589"
            ]
        ]
    );
    // An INTEGER's -1 is mixed as 32 bits, a BIGINT's as 64; -0 is 0 and NaN one NaN; 40 days
    // hash as 1 month 10 days; a list or struct after the first argument is folded in element
    // by element (a NULL list adds nothing); a NULL struct hashes as its NULL fields.
    assert_eq!(
        query(
            &mut s,
            "SELECT hash(1), hash(-1::INTEGER), hash(-1::BIGINT), hash(NULL), \
             hash('hello world, this is long'), hash(-0.0::DOUBLE), hash('nan'::DOUBLE), \
             hash(1.5), hash(1, 'a', NULL, [1, 2]), hash(INTERVAL '40 days'), \
             hash(NULL::STRUCT(a INT, b INT)), hash(1, NULL::INTEGER[]), \
             hash(1, {'a': 2, 'b': 3}), hash(1, 2, 3), typeof(hash(1))"
        )
        .await,
        [[
            "4717996019076358352",
            "4739667815145166545",
            "4939931809569846361",
            "13787848793156543929",
            "6355252319569398347",
            "0",
            "9170934016072976158",
            "920453014978087379",
            "6622974239039878121",
            "994387204874416290",
            "18212156630472451589",
            "4717996019076358352",
            "12722334483198565868",
            "12722334483198565868",
            "UBIGINT"
        ]]
    );
    // DuckDB's words.
    let err = error(&mut s, "SELECT hash()").await;
    assert!(
        err.ends_with(
            "No function matches the given name and argument types 'hash()'. You might need to \
             add explicit type casts."
        ),
        "{err}"
    );
}

#[tokio::test]
async fn list_reduce_folds_lists_as_duckdb_does() {
    let (mut s, _dir) = table().await;
    // Per group: the position parameter, a captured column, an initial value; a NULL element
    // makes the fold NULL, and so does a NULL list (no rows pass the FILTER).
    assert_eq!(
        query(
            &mut s,
            "SELECT g, list_reduce(list(x ORDER BY d), lambda a, b, i: a * 10 + b + i * g), \
             list_reduce(list(s ORDER BY d), lambda a, b: a || '-' || b, 'start'), \
             list_reduce(list(x ORDER BY d) FILTER (WHERE x > 100), lambda a, b: a + b, 0) \
             FROM t GROUP BY g ORDER BY g"
        )
        .await,
        [
            ["1", "3347", "start-b-a-b-héllo", "NULL"],
            ["2", "NULL", "NULL", "NULL"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT list_reduce([1], lambda a, b: a + b), \
             list_reduce([]::INTEGER[], lambda a, b: a + b, 5), \
             array_reduce([[1, 2], [3]], lambda a, b: list_concat(a, b)), \
             reduce([1.5, 2.5], lambda a, b: a + b), list_apply([1, 2], lambda x: x * 10), \
             filter([1, 2, 3], lambda x: x > 1)"
        )
        .await,
        [["1", "5", "[1, 2, 3]", "4.0", "[10, 20]", "[2, 3]"]]
    );
    let err = error(&mut s, "SELECT list_reduce([], lambda a, b: a + b)").await;
    assert!(
        err.contains("Cannot perform list_reduce on an empty input list"),
        "{err}"
    );
    let err = error(
        &mut s,
        "SELECT list_reduce([1, 2], lambda a, b: a::VARCHAR || b::VARCHAR)",
    )
    .await;
    assert!(
        err.contains(
            "No common super type between list element type BIGINT and lambda return type VARCHAR"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn list_transform_and_filter_take_the_position_as_duckdb_does() {
    let (mut s, _dir) = table().await;
    // The position is 1-based in each list; a captured column repeats per element; a NULL
    // list stays NULL and an empty one empty.
    assert_eq!(
        query(
            &mut s,
            "SELECT list_transform(l, lambda x, i: x + i + k), list_filter(l, lambda x, i: i > 1) \
             FROM (VALUES ([1, 2], 10), (NULL, 20), ([], 30), ([5], 40)) v(l, k)"
        )
        .await,
        [
            ["[12, 14]", "[2]"],
            ["NULL", "NULL"],
            ["[]", "[]"],
            ["[46]", "[]"]
        ]
    );
    // Nested lambdas each see their own position; a filter's NULL or 0 drops the element, a
    // number other than 0 keeps it; fixed-size lists (embeddings) transform as lists.
    assert_eq!(
        query(
            &mut s,
            "SELECT list_transform([[1, 2], [3]], lambda x, i: \
               list_transform(x, lambda y, j: y * 10 + j + i)), \
             list_filter([1, NULL, 3], lambda x, i: i > 1), \
             list_filter([1, 0, 3], lambda x: x), list_filter([1, 2], lambda x: NULL), \
             array_apply(['a', 'b'], lambda s, i: s || i), \
             list_transform([1.5, 2.5]::FLOAT[2], lambda x: x * 2), \
             [x * 2 FOR x IN [1, 2, 3] IF x > 1]"
        )
        .await,
        [[
            "[[12, 23], [33]]",
            "[NULL, 3]",
            "[1, 3]",
            "[]",
            "[a1, b2]",
            "[3.0, 5.0]",
            "[4, 6]"
        ]]
    );
    // Filtering rows of a table with the position of each value in its group's list.
    assert_eq!(
        query(
            &mut s,
            "SELECT g, list_filter(list(x ORDER BY d), lambda v, i: i % 2 = 1) \
             FROM t GROUP BY g ORDER BY g"
        )
        .await,
        [["1", "[3, 1]"], ["2", "[NULL]"]]
    );
    let err = error(&mut s, "SELECT list_filter(['a', 'b'], lambda x: x)").await;
    assert!(err.contains("'a'"), "{err}");
    // DuckDB's answers: list_where keeps the elements the mask marks (NULL past the list's end),
    // list_grade_up gives the places in sorted order, ties in place order, NULLs last.
    assert_eq!(
        query(
            &mut s,
            "SELECT list_where(l, m), list_where([1, 2], [true, true, true]),              list_where(NULL::INT[], [true]), list_grade_up([3, NULL, 1, 3]),              list_grade_up([3, NULL, 1, 3], 'desc'), array_grade_up(['b', 'a']),              list_grade_up([])              FROM (VALUES (['a', 'b', 'c'], [false, true, true])) v(l, m)"
        )
        .await,
        [[
            "[b, c]",
            "[1, 2, NULL]",
            "NULL",
            "[3, 1, 4, 2]",
            "[1, 4, 3, 2]",
            "[2, 1]",
            "[]"
        ]]
    );
}

#[tokio::test]
async fn method_calls_semi_and_anti_joins_and_list_distincts() {
    let (mut s, _dir) = table().await;
    // `value.method(args)` on columns, qualified columns, literals and chained calls.
    assert_eq!(
        query(
            &mut s,
            "SELECT s.upper(), t.s.upper().length(), day.year(), 'Ab'.lower(), \
             list(x ORDER BY d).list_filter(lambda v: v > 1).list_transform(lambda v: v * 10) \
             FROM t WHERE g = 1 GROUP BY ALL ORDER BY 1"
        )
        .await,
        [
            ["A", "1", "2023", "ab", "[]"],
            ["B", "1", "2024", "ab", "[30]"],
            ["HÉLLO", "5", "2024", "ab", "[30]"]
        ]
    );
    // SEMI keeps each row of the left side once however many matches it has; ANTI the rest.
    assert_eq!(
        query(
            &mut s,
            "SELECT x, s FROM t SEMI JOIN (VALUES (3), (3), (10)) k(x) USING (x) ORDER BY x, s"
        )
        .await,
        [["3", "b"], ["3", "héllo"], ["10", "c"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT count(*) FROM t ANTI JOIN (VALUES (3)) k(v) ON t.x = k.v"
        )
        .await,
        [["4"]]
    );
    // DuckDB's distinct list values leave NULL out; one-argument encode gives the UTF-8
    // bytes of a string.
    assert_eq!(
        query(
            &mut s,
            "SELECT list_sort(list_distinct([3, 1, NULL, 3])), list_unique([1, 1, NULL, 2]), \
             list_unique([]::INTEGER[]), list_unique(NULL::INTEGER[]), typeof(encode('é')), \
             encode('héllo')::VARCHAR"
        )
        .await,
        [["[1, 3]", "2", "0", "NULL", "BLOB", "h\\xC3\\xA9llo"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT struct_extract({'a': s, 'b': {'c': x}}, 'b').struct_extract('c') FROM t \
             WHERE g = 2 ORDER BY 1"
        )
        .await,
        [["10"], ["NULL"]]
    );
}

#[tokio::test]
async fn try_gives_null_where_an_expression_fails() {
    let (mut s, _dir) = table().await;
    // A failing cast inside arithmetic (evaluated again row by row), a cast alone (a TRY_CAST),
    // invalid JSON in some rows; rows that do not fail keep their values.
    assert_eq!(
        query(
            &mut s,
            "SELECT d, TRY(CAST(CASE WHEN g = 1 THEN x::VARCHAR ELSE 'bad' END AS INTEGER) * 2), \
             TRY(CAST(s AS INTEGER)), TRY(CAST('7' AS INTEGER)), \
             TRY(json_extract(CASE WHEN x = 3 THEN '{\"k\": 1}' ELSE '{bad' END, '$.k')) \
             FROM t ORDER BY d NULLS LAST"
        )
        .await,
        [
            ["1.0", "6", "NULL", "7", "1"],
            ["2.0", "2", "NULL", "7", "NULL"],
            ["4.0", "2", "NULL", "7", "NULL"],
            ["5.0", "NULL", "NULL", "7", "NULL"],
            ["8.0", "6", "NULL", "7", "1"],
            ["NULL", "NULL", "NULL", "7", "NULL"]
        ]
    );
    // Without TRY the same expression fails the query.
    let err = error(
        &mut s,
        "SELECT CAST(CASE WHEN g = 1 THEN x::VARCHAR ELSE 'bad' END AS INTEGER) * 2 FROM t",
    )
    .await;
    assert!(err.contains("'bad'"), "{err}");
}

#[tokio::test]
async fn complements_unsigned_casts_code_points_and_bare_filters() {
    let (mut s, _dir) = table().await;
    // `~` keeps its operand's type (x is an INTEGER, as in DuckDB's own table).
    assert_eq!(
        query(
            &mut s,
            "SELECT DISTINCT x, ~x, ~x::UTINYINT, typeof(~x), typeof(~x::UTINYINT) FROM t \
             ORDER BY x NULLS LAST"
        )
        .await,
        [
            ["1", "-2", "254", "INTEGER", "UTINYINT"],
            ["3", "-4", "252", "INTEGER", "UTINYINT"],
            ["10", "-11", "245", "INTEGER", "UTINYINT"],
            ["NULL", "NULL", "NULL", "INTEGER", "UTINYINT"]
        ]
    );
    let err = error(&mut s, "SELECT ~s FROM t").await;
    assert!(err.ends_with("~ takes an integer, not VARCHAR."), "{err}");
    assert_eq!(
        query(
            &mut s,
            "SELECT s, unicode(s), ord(s) FROM t WHERE g = 1 ORDER BY s"
        )
        .await,
        [
            ["a", "97", "97"],
            ["b", "98", "98"],
            ["b", "98", "98"],
            ["héllo", "104", "104"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT unicode(''), typeof(x::UINTEGER), typeof([1, 2]::UBIGINT[]), \
             TRY_CAST(-x AS USMALLINT), (x::UINT16 + 1)::VARCHAR FROM t WHERE x = 10"
        )
        .await,
        [["-1", "UINTEGER", "UBIGINT[]", "NULL", "11"]]
    );
    // DuckDB's FILTER may leave out its WHERE.
    assert_eq!(
        query(
            &mut s,
            "SELECT g, count(*) FILTER (x > 1), sum(x) FILTER (x > 1 AND s <> 'a'), \
             list(s ORDER BY s) FILTER (d > 1) FROM t GROUP BY g ORDER BY g"
        )
        .await,
        [["1", "2", "6", "[a, b, héllo]"], ["2", "1", "10", "[NULL]"]]
    );
}

#[tokio::test]
async fn hex_digits_of_numbers_strings_and_blobs() {
    let (mut s, _dir) = table().await;
    // DuckDB's answers: upper case, a negative number as a BIGINT's bits, bytes two digits each.
    assert_eq!(
        query(
            &mut s,
            "SELECT DISTINCT x, hex(x), to_hex(-x), hex(s), hex(encode(s)) FROM t WHERE g = 1 \
             ORDER BY x, 4"
        )
        .await,
        [
            ["1", "1", "FFFFFFFFFFFFFFFF", "61", "61"],
            ["1", "1", "FFFFFFFFFFFFFFFF", "62", "62"],
            ["3", "3", "FFFFFFFFFFFFFFFD", "62", "62"],
            ["3", "3", "FFFFFFFFFFFFFFFD", "68C3A96C6C6F", "68C3A96C6C6F"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT hex(hash('a')), unhex('616263'), from_hex('6'), typeof(unhex('61')), \
             unhex(hex(s)) = s::BLOB FROM t WHERE x = 10"
        )
        .await,
        // (BLOBs print here as Arrow writes them: hex.)
        [["AE5494EE2630CEC7", "616263", "06", "BLOB", "true"]]
    );
    let err = error(&mut s, "SELECT unhex('6z')").await;
    assert!(err.ends_with("Invalid input for hex digit: z"), "{err}");
    // Text beyond ASCII is no BLOB unless escaped; `encode` gives its UTF-8 bytes.
    let err = error(&mut s, "SELECT hex(s::BLOB) FROM t WHERE x = 3").await;
    assert!(
        err.contains("conversion of string \"héllo\". All non-ascii characters must be escaped"),
        "{err}"
    );
}

#[tokio::test]
async fn unnest_in_from_is_a_table_of_the_list() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT x, x * 2 FROM unnest([3, 1, NULL]) AS t(x) ORDER BY x NULLS LAST"
        )
        .await,
        [["1", "2"], ["3", "6"], ["NULL", "NULL"]]
    );
    // Named `unnest` without an alias, after the alias without its column, as in DuckDB; a
    // list of lists gives lists.
    let batches = s
        .query("SELECT * FROM unnest([[1, 2], [3]])")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["unnest"]);
    let batches = s
        .query("SELECT * FROM unnest([[1, 2], [3]]) u")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["u"]);
    assert_eq!(rows(&batches), [["[1, 2]"], ["[3]"]]);
}

#[tokio::test]
async fn named_windows_are_written_out_wherever_they_are_used() {
    let (mut s, _dir) = table().await;
    // `w2` builds on `w`: before, its partitions were lost and the sums ran across groups.
    assert_eq!(
        query(
            &mut s,
            "SELECT g, d, sum(d) OVER w2 FROM t \
             WINDOW w AS (PARTITION BY g), w2 AS (w ORDER BY d) ORDER BY g, d"
        )
        .await,
        [
            ["1", "1.0", "1.0"],
            ["1", "2.0", "3.0"],
            ["1", "4.0", "7.0"],
            ["1", "8.0", "15.0"],
            ["2", "5.0", "5.0"],
            ["2", "NULL", "5.0"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT g, d, count(*) OVER (w ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t \
             WINDOW w AS (PARTITION BY g ORDER BY d) ORDER BY g, d"
        )
        .await,
        [
            ["1", "1.0", "1"],
            ["1", "2.0", "2"],
            ["1", "4.0", "2"],
            ["1", "8.0", "2"],
            ["2", "5.0", "1"],
            ["2", "NULL", "2"]
        ]
    );
    // QUALIFY, and a subquery with a window of the same name as the outer one's.
    assert_eq!(
        query(
            &mut s,
            "SELECT g, d FROM t WINDOW w AS (PARTITION BY g ORDER BY d DESC) \
             QUALIFY rank() OVER w = 1 ORDER BY g"
        )
        .await,
        [["1", "8.0"], ["2", "5.0"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT g, (SELECT max(y) OVER w FROM range(3) u(y) WINDOW w AS (ORDER BY y DESC) \
             LIMIT 1) FROM t WINDOW w AS (PARTITION BY g) QUALIFY count(*) OVER w = 2"
        )
        .await,
        [["2", "2"], ["2", "2"]]
    );
    for (sql, message) in [
        (
            "SELECT count(*) OVER (w ROWS 1 PRECEDING) FROM t \
             WINDOW w AS (ORDER BY d ROWS 1 PRECEDING)",
            "Parser Error: cannot copy window \"w\" because it has a frame clause",
        ),
        (
            "SELECT count(*) OVER (w ORDER BY x) FROM t WINDOW w AS (ORDER BY d)",
            "Parser Error: Cannot override ORDER BY clause of window \"w\"",
        ),
        (
            "SELECT count(*) OVER v FROM t WINDOW w AS (ORDER BY d)",
            "Parser Error: window \"v\" does not exist",
        ),
        (
            "SELECT count(*) OVER w FROM t WINDOW w AS (ORDER BY d), W AS (ORDER BY x)",
            "Parser Error: window \"W\" is already defined",
        ),
    ] {
        assert_eq!(error(&mut s, sql).await, message, "{sql}");
    }
}

#[tokio::test]
async fn first_last_and_arbitrary_work_over_windows() {
    let (mut s, _dir) = table().await;
    // DuckDB's names for first_value/last_value, which DataFusion knew only as aggregates.
    assert_eq!(
        query(
            &mut s,
            "SELECT d, first(x) OVER w, last(x) OVER w, arbitrary(s) OVER w FROM t WHERE g = 1 \
             WINDOW w AS (ORDER BY d ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) ORDER BY d"
        )
        .await,
        [
            ["1.0", "3", "3", "b"],
            ["2.0", "3", "1", "b"],
            ["4.0", "1", "1", "a"],
            ["8.0", "1", "3", "b"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT split('a b', ' '), first(x), last(x) FROM t WHERE g = 2"
        )
        .await,
        [["[a, b]", "10", "NULL"]]
    );
}

#[tokio::test]
async fn fields_of_list_elements_in_lambdas_and_after_indexes() {
    // Chat turns as a list of structs, as conversation corpora store them.
    let (mut s, _dir) = parquet_view(
        "SELECT * FROM (VALUES \
           (1, [{'role': 'user', 'text': 'hi', 'meta': {'lang': 'en'}}, \
                {'role': 'assistant', 'text': 'hello', 'meta': {'lang': 'en'}}]), \
           (2, [{'role': 'user', 'text': 'hallo', 'meta': {'lang': 'de'}}])) AS v(id, turns)",
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            "SELECT id, list_transform(turns, lambda t: t.text), \
             list_filter(turns, t -> t.role = 'assistant'), turns[1].meta.lang, \
             list_transform(turns, lambda t: upper(t.meta.lang))[1] FROM t ORDER BY id"
        )
        .await,
        [
            [
                "1",
                "[hi, hello]",
                "[{role: assistant, text: hello, meta: {lang: en}}]",
                "en",
                "EN"
            ],
            ["2", "[hallo]", "[]", "de", "DE"]
        ]
    );
}

#[tokio::test]
async fn time_bucket_lays_buckets_out_as_duckdb() {
    let (mut s, _dir) = table().await;
    // Weeks from a Monday, months from the first; a DATE stays a DATE.
    assert_eq!(
        query(
            &mut s,
            "SELECT time_bucket(INTERVAL '1 week', day) AS w, time_bucket(INTERVAL '1 month', day), \
             typeof(w), count(*) FROM t WHERE day IS NOT NULL GROUP BY ALL ORDER BY ALL"
        )
        .await,
        [
            ["2023-12-25", "2023-12-01", "DATE", "1"],
            ["2024-01-29", "2024-01-01", "DATE", "1"],
            ["2024-02-05", "2024-02-01", "DATE", "1"],
            ["2024-02-26", "2024-02-01", "DATE", "1"],
            ["2024-03-11", "2024-03-01", "DATE", "1"]
        ]
    );
    // Timestamps: an offset, an origin; NULL anywhere is NULL.
    assert_eq!(
        query(
            &mut s,
            "SELECT time_bucket(INTERVAL '90 minute', TIMESTAMP '2024-03-05 10:00'), \
             time_bucket(INTERVAL '1 month', TIMESTAMP '2024-03-02 10:00', INTERVAL '3 day'), \
             time_bucket(INTERVAL '6 hour', TIMESTAMP '2024-01-01 01:00', TIMESTAMP '2024-01-01 03:00'), \
             time_bucket(NULL::INTERVAL, TIMESTAMP '2024-01-01')"
        )
        .await,
        [[
            "2024-03-05T09:00:00",
            "2024-02-04T00:00:00",
            "2023-12-31T21:00:00",
            "NULL"
        ]]
    );
    let mixed = error(
        &mut s,
        "SELECT time_bucket(INTERVAL '1 month 2 day', TIMESTAMP '2024-01-01')",
    )
    .await;
    assert!(mixed.contains("cannot mix months with days"), "{mixed}");
}

#[tokio::test]
async fn list_select_and_regexp_split_to_table() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT list_select([10, 20, 30], [3, 1, 9]), regexp_split_to_table('a1b22c', '[0-9]+') AS p"
        )
        .await,
        [["[30, 10, NULL]", "a"], ["[30, 10, NULL]", "b"], ["[30, 10, NULL]", "c"]]
    );
}

#[tokio::test]
async fn unnest_of_a_struct_column_is_a_column_per_field() {
    let (mut s, _dir) =
        parquet_view("SELECT 1 AS id, {'source': 'web', 'tokens': 7} AS meta, [1, 2] AS l").await;
    let batches = s
        .query("SELECT id, unnest(meta), unnest(t.meta) FROM t")
        .await
        .unwrap();
    assert_eq!(
        columns(&batches),
        ["id", "source", "tokens", "source_1", "tokens_1"]
    );
    assert_eq!(rows(&batches), [["1", "web", "7", "web", "7"]]);
    // A list column still unnests into rows.
    assert_eq!(
        query(&mut s, "SELECT unnest(l) FROM t").await,
        [["1"], ["2"]]
    );
}

/// DuckDB's MAP type, which DataFusion's planner lacks, in tables, casts and files, and
/// subscripts of maps whose keys are INTEGERs or VARCHAR views (DataFusion's compared them with
/// a constant of another type and failed).
#[tokio::test]
async fn map_types_hold_maps_in_tables_casts_and_files() {
    let dir = TempDir::new().unwrap();
    let mut s = session();
    let file = dir.path().join("maps.parquet");
    let script = format!(
        "CREATE TABLE t(id INTEGER, m MAP(VARCHAR, INTEGER), n MAP(INTEGER, VARCHAR[]), \
           s STRUCT(tags MAP(VARCHAR, DOUBLE)));
         INSERT INTO t VALUES (1, MAP {{'a': 1, 'b': 2}}, MAP {{7: ['x', 'y']}}, {{'tags': MAP {{'q': 0.5}}}}),
           (2, NULL, MAP {{}}, NULL), (3, MAP {{}}, NULL, {{'tags': NULL}});
         COPY t TO '{}'",
        file.display()
    );
    for statement in script.split(';') {
        s.query(statement).await.unwrap();
    }
    assert_eq!(
        query(&mut s, "SELECT column_name, column_type FROM (DESCRIBE t)").await,
        [
            ["id", "INTEGER"],
            ["m", "MAP(VARCHAR, INTEGER)"],
            ["n", "MAP(INTEGER, VARCHAR[])"],
            ["s", "STRUCT(tags MAP(VARCHAR, DOUBLE))"]
        ]
    );
    let expected = [
        ["1", "1", "NULL", "[x, y]", "0.5", "2"],
        ["2", "NULL", "NULL", "NULL", "NULL", "NULL"],
        ["3", "NULL", "NULL", "NULL", "NULL", "0"],
    ];
    for table in ["t".to_string(), format!("'{}'", file.display())] {
        let sql = format!(
            "SELECT id, m['a'], m['zz'], n[7], s.tags['q'], cardinality(m) FROM {table} ORDER BY id"
        );
        assert_eq!(query(&mut s, &sql).await, expected, "{sql}");
    }
    assert_eq!(
        query(
            &mut s,
            "SELECT CAST(m AS MAP(VARCHAR, DOUBLE))['b'], m[k], TRY_CAST(NULL AS MAP(INT, INT)), \
             typeof(m::MAP(VARCHAR, BIGINT)) FROM t, (VALUES ('a')) v(k) WHERE id = 1"
        )
        .await,
        [["2.0", "1", "NULL", "MAP(VARCHAR, BIGINT)"]]
    );
    // `map(keys, values)` is still the function.
    assert_eq!(
        query(&mut s, "SELECT map(['k'], [id])['k'] FROM t WHERE id = 3").await,
        [["3"]]
    );
}

#[tokio::test]
async fn a_null_list_concatenated_or_selected_from_gives_null() {
    // DataFusion read the NULL list as empty: `[7]` for the first row. The function skips it.
    let (mut s, _dir) =
        parquet_view("SELECT * FROM (VALUES (1, CAST(NULL AS INT[])), (2, [1, 2])) v(id, l)").await;
    assert_eq!(
        query(
            &mut s,
            "SELECT id, l || [7], [7] || l, list_concat(l, [7]) FROM t ORDER BY id"
        )
        .await,
        [
            ["1", "NULL", "NULL", "[7]"],
            ["2", "[1, 2, 7]", "[7, 1, 2]", "[1, 2, 7]"]
        ]
    );
    // The function skips NULL lists, so NULL lists alone give an empty one (DataFusion gave
    // NULL); a NULL without a type takes the lists' type (DataFusion refused it).
    assert_eq!(
        query(
            &mut s,
            "SELECT id, list_concat(l, l), list_concat(l, NULL), list_concat([1.5], NULL), \
             list_concat(NULL, NULL) FROM t ORDER BY id"
        )
        .await,
        [
            ["1", "[]", "[]", "[1.5]", "NULL"],
            ["2", "[1, 2, 1, 2]", "[1, 2]", "[1.5]", "NULL"]
        ]
    );
    // Selecting from a NULL list is NULL too (it gave a list of NULLs), as DuckDB 2.0 gives it.
    assert_eq!(
        query(
            &mut s,
            "SELECT id, list_select(l, [2, 1, 3]), list_where(l, [true]) FROM t ORDER BY id"
        )
        .await,
        [["1", "NULL", "NULL"], ["2", "[2, 1, NULL]", "[1]"]]
    );
}

#[tokio::test]
async fn map_from_entries_builds_maps_from_key_value_structs() {
    // The entries as written in Parquet, one list NULL; the struct's field names do not matter.
    let (mut s, _dir) = parquet_view(
        "SELECT * FROM (VALUES (1, [{'k': 'x', 'v': [1, 2]}, {'k': 'y', 'v': NULL}]), (2, NULL), \
           (3, [])) v(id, entries)",
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            "SELECT id, map_from_entries(entries) AS m, m['x'], map_keys(m) FROM t ORDER BY id"
        )
        .await,
        [
            ["1", "{x: [1, 2], y: NULL}", "[1, 2]", "[x, y]"],
            ["2", "NULL", "NULL", "NULL"],
            ["3", "{}", "NULL", "[]"]
        ]
    );
    assert_eq!(
        query(&mut s, "SELECT map_from_entries([(1, 'a'), (2, 'b')])[2]").await,
        [["b"]]
    );
    for (sql, expected) in [
        (
            "SELECT map_from_entries([(1, 'a'), (1, 'b')])",
            "map_from_entries: map keys must be unique",
        ),
        (
            "SELECT map_from_entries([(NULL, 'a')])",
            "map_from_entries: a map key cannot be NULL",
        ),
        (
            "SELECT map_from_entries([{'a': 1, 'b': 2, 'c': 3}])",
            "map_from_entries takes a list of (key, value) structs, not STRUCT(a BIGINT, b \
             BIGINT, c BIGINT)[]",
        ),
    ] {
        let message = error(&mut s, sql).await;
        assert!(message.contains(expected), "{sql}: {message}");
    }
}

#[tokio::test]
async fn list_overlap_operator_and_compensated_mean() {
    let (mut s, _dir) = parquet_view(
        "SELECT * FROM (VALUES (0, [0, 1], 0.1), (1, [2], 0.2), (2, NULL, 0.3), (3, [3, 2], NULL)) \
           v(id, tags, score)",
    )
    .await;
    // `a && b`: the lists share an element (DuckDB's list_has_any), binding tighter than NOT.
    assert_eq!(
        query(
            &mut s,
            "SELECT id, tags && [2, 9], NOT tags && [0] FROM t WHERE tags && [2] OR id = 0 \
             ORDER BY id"
        )
        .await,
        [
            ["0", "false", "false"],
            ["1", "true", "true"],
            ["3", "true", "true"]
        ]
    );
    assert_eq!(
        query(&mut s, "SELECT favg(score), typeof(favg(id)) FROM t").await,
        [["0.19999999999999998", "DOUBLE"]]
    );
}

#[tokio::test]
async fn strptime_reads_duckdbs_formats_with_its_defaults() {
    let (mut s, _dir) = parquet_view(
        "SELECT * FROM (VALUES ('2024-03-05 10', 1), ('05/03/2024', 2), ('junk', 3), (NULL, 4)) \
           v(text, id)",
    )
    .await;
    // The first format that fits; the hour DataFusion's to_timestamp dropped; NULL for junk.
    assert_eq!(
        query(
            &mut s,
            "SELECT id, try_strptime(text, ['%Y-%m-%d %H', '%d/%m/%Y']) FROM t ORDER BY id"
        )
        .await,
        [
            ["1", "2024-03-05T10:00:00"],
            ["2", "2024-03-05T00:00:00"],
            ["3", "NULL"],
            ["4", "NULL"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT strptime('10:30', '%H:%M'), strptime('2024-03-05 10:30:00.250', '%Y-%m-%d %H:%M:%S.%g')"
        )
        .await,
        [["1900-01-01T10:30:00", "2024-03-05T10:30:00.250"]]
    );
    let message = error(&mut s, "SELECT strptime(text, '%Y-%m-%d %H') FROM t").await;
    assert!(
        message.contains("'05/03/2024' does not fit the format '%Y-%m-%d %H'"),
        "{message}"
    );
}

#[tokio::test]
async fn a_number_times_an_interval_steps_a_time_series() {
    let (mut s, _dir) = parquet_view("SELECT * FROM range(3) v(i)").await;
    // A date plus a computed number of days is a DATE, in a filter too (DataFusion's interval
    // analysis of the filter failed on it).
    assert_eq!(
        query(
            &mut s,
            "SELECT i, DATE '2024-01-31' - i, typeof(i + DATE '2024-01-31') FROM t \
             WHERE DATE '2024-01-01' + i > DATE '2024-01-02'"
        )
        .await,
        [["2", "2024-01-29", "DATE"]]
    );
    // DuckDB's three spellings of i hours, and a month that keeps to the month's end.
    assert_eq!(
        query(
            &mut s,
            "SELECT TIMESTAMP '2024-01-01' + INTERVAL (i) HOUR, \
                    TIMESTAMP '2024-01-01' + i * INTERVAL 1 HOUR, \
                    TIMESTAMP '2024-01-01' + to_hours(i), \
                    DATE '2024-01-31' + INTERVAL 1 MONTH * i \
             FROM t ORDER BY i"
        )
        .await,
        [
            [
                "2024-01-01T00:00:00",
                "2024-01-01T00:00:00",
                "2024-01-01T00:00:00",
                "2024-01-31T00:00:00"
            ],
            [
                "2024-01-01T01:00:00",
                "2024-01-01T01:00:00",
                "2024-01-01T01:00:00",
                "2024-02-29T00:00:00"
            ],
            [
                "2024-01-01T02:00:00",
                "2024-01-01T02:00:00",
                "2024-01-01T02:00:00",
                "2024-03-31T00:00:00"
            ]
        ]
    );
    // DuckDB's answers: a fraction carries into the smaller parts.
    assert_eq!(
        query(
            &mut s,
            "SELECT CAST(INTERVAL 1 MONTH * 1.5 AS VARCHAR), CAST(to_seconds(1.5) AS VARCHAR), \
                    CAST(to_weeks(2) AS VARCHAR), CAST(-1 * INTERVAL '1 day 1 hour' AS VARCHAR)"
        )
        .await,
        [[
            "1 month 15 days",
            "00:00:01.5",
            "14 days",
            "-1 day -01:00:00"
        ]]
    );
    let message = error(&mut s, "SELECT to_days(3000000000)").await;
    assert!(
        message.contains("interval out of range: 3000000000"),
        "{message}"
    );
    let message = error(&mut s, "SELECT 'a' * INTERVAL 1 DAY").await;
    assert!(message.contains("not by VARCHAR"), "{message}");
}

#[tokio::test]
async fn ignore_nulls_inside_the_call_fills_gaps() {
    let (mut s, _dir) = parquet_view(
        "SELECT * FROM (VALUES (1, 8), (2, NULL), (3, NULL), (4, 10), (5, 0)) v(t, x)",
    )
    .await;
    // DuckDB's forward and backward fills and the previous non-NULL value.
    assert_eq!(
        query(
            &mut s,
            "WITH f AS MATERIALIZED (SELECT * FROM t) \
             SELECT t, last_value(x IGNORE NULLS) OVER (ORDER BY t ROWS BETWEEN UNBOUNDED \
               PRECEDING AND CURRENT ROW), \
             first_value(x IGNORE NULLS) OVER (ORDER BY t ROWS BETWEEN CURRENT ROW AND \
               UNBOUNDED FOLLOWING), \
             lag(x IGNORE NULLS) OVER (ORDER BY t) FROM f ORDER BY t"
        )
        .await,
        [
            ["1", "8", "8", "NULL"],
            ["2", "8", "10", "8"],
            ["3", "8", "10", "8"],
            ["4", "10", "10", "8"],
            ["5", "0", "0", "10"]
        ]
    );
}

#[tokio::test]
async fn bar_draws_a_histogram() {
    let (mut s, _dir) = table().await;
    // DuckDB's answers: x out of 4 in 8 characters, eighths as partial blocks.
    assert_eq!(
        query(
            &mut s,
            "SELECT g, bar(count(*), 0, 5, 8), bar(NULL, 0, 1) FROM t GROUP BY g ORDER BY g"
        )
        .await,
        [["1", "██████▍ ", "NULL"], ["2", "███▏    ", "NULL"]]
    );
    let message = error(&mut s, "SELECT bar(1, 0, 2, 1001)").await;
    assert!(
        message.contains("width must be from 1 to 1000"),
        "{message}"
    );
}

/// `map_concat`, `mad`, `generate_subscripts` and `date_part` of a list, with DuckDB's answers.
#[tokio::test]
async fn map_concat_mad_subscripts_and_parts_answer_as_duckdb() {
    let (mut s, _dir) = parquet_view(
        "SELECT * FROM (VALUES (1, 1, [4, 5], MAP {'a': 1}), (1, 5, [6], NULL), \
         (1, 6, [], MAP {'z': 7, 'y': 8}), (2, 3, NULL, MAP {})) v(g, x, l, m)",
    )
    .await;
    // A key keeps its first place and takes the last value; a NULL map adds nothing.
    assert_eq!(
        query(
            &mut s,
            "SELECT x, map_concat(m, MAP {'z': x}, m) FROM t ORDER BY x"
        )
        .await,
        [
            ["1", "{a: 1, z: 1}"],
            ["3", "{z: 3}"],
            ["5", "{z: 5}"],
            ["6", "{z: 7, y: 8}"]
        ]
    );
    let err = error(&mut s, "SELECT map_concat(m, MAP {'b': 2.5}) FROM t").await;
    assert!(err.contains("map_concat: the maps differ in type"), "{err}");
    // mad: the median of the distances from the median (1, 5, 6: median 5, distances 4, 0, 1).
    assert_eq!(
        query(
            &mut s,
            "SELECT g, mad(x), mad(y) FROM (SELECT g, x, x::DECIMAL(4,1) AS y FROM t) GROUP BY g ORDER BY g"
        )
        .await,
        [["1", "1.0", "1.0"], ["2", "0.0", "0.0"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT x, generate_subscripts(l, 1) AS i FROM t ORDER BY x, i"
        )
        .await,
        [["1", "1"], ["1", "2"], ["5", "1"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT date_part(['year', 'Month', 'dow'], TIMESTAMP '2024-03-05 10:00')"
        )
        .await,
        [["{year: 2024, month: 3, dow: 2}"]]
    );
    // Date parts are BIGINT, as in DuckDB (DataFusion's are INTEGER); epoch stays DOUBLE.
    assert_eq!(
        query(
            &mut s,
            "SELECT typeof(year(day)), typeof(date_part('month', day)), \
             typeof(extract(hour FROM day::TIMESTAMP)), typeof(epoch(day::TIMESTAMP)), \
             typeof(date_part(['year', 'dow'], day)), year(day) = 2024 \
             FROM (SELECT DATE '2024-03-05' AS day)"
        )
        .await,
        [[
            "BIGINT",
            "BIGINT",
            "BIGINT",
            "DOUBLE",
            "STRUCT(\"year\" BIGINT, dow BIGINT)",
            "true"
        ]]
    );
    // A list's length and a string position are BIGINT and a list position an INTEGER, as in
    // DuckDB (DataFusion's are UBIGINT, INTEGER and UBIGINT); a literal beside one takes its type.
    assert_eq!(
        query(
            &mut s,
            "SELECT typeof(array_length([1, 2])), typeof(len([1])), \
             typeof(list_position([1, 2], 2)), typeof(instr('abc', 'b')), \
             typeof(position('b' IN 'abc')), typeof(bit_length('abc')), \
             typeof(array_length([1, 2]) - 1), array_length([1, 2]) - 1, \
             list_position([5, 6], 6) + 1"
        )
        .await,
        [[
            "BIGINT", "BIGINT", "INTEGER", "BIGINT", "BIGINT", "BIGINT", "BIGINT", "1", "3"
        ]]
    );
}

#[tokio::test]
async fn struct_insert_time_parts_and_text_bytes() {
    let (mut s, _dir) = table().await;
    // struct_insert adds fields after the struct's own; a NULL struct's fields are NULL beside
    // the new ones, as in DuckDB.
    assert_eq!(
        query(
            &mut s,
            "SELECT struct_insert(m, score := m.x * 2, tag := 'k') FROM \
             (SELECT CASE WHEN x > 1 THEN {'x': x, 's': s} END AS m, d FROM t WHERE g = 1) \
             ORDER BY d"
        )
        .await,
        [
            ["{x: 3, s: b, score: 6, tag: k}"],
            ["{x: NULL, s: NULL, score: NULL, tag: k}"],
            ["{x: NULL, s: NULL, score: NULL, tag: k}"],
            ["{x: 3, s: héllo, score: 6, tag: k}"]
        ]
    );
    let err = error(&mut s, "SELECT struct_insert({'a': 1}, a := 2)").await;
    assert!(err.contains("Duplicate struct entry name \"a\""), "{err}");
    // make_time takes fractional seconds; encode and decode are a text's UTF-8 bytes and back.
    assert_eq!(
        query(
            &mut s,
            "SELECT make_time(1, 2, 3.25), make_time(23, 59, 59), decode(encode('héllo')), \
             hex(encode('é'))"
        )
        .await,
        [["01:02:03.250", "23:59:59", "héllo", "C3A9"]]
    );
    let err = error(&mut s, "SELECT decode(unhex('FF'))").await;
    assert!(err.contains("UTF-8"), "{err}");
    // map_contains asks for a key; format groups digits by thousands with `,`.
    assert_eq!(
        query(
            &mut s,
            "SELECT map_contains(m, 'a'), map_contains(m, 'z'), \
             map_contains(NULL::MAP(VARCHAR, INT), 'a'), format('{:,} rows, {:,.1f} MB', 1234567, 9876.54) \
             FROM (SELECT map(['a', 'b'], [1, 2]) AS m)"
        )
        .await,
        [["true", "false", "NULL", "1,234,567 rows, 9,876.5 MB"]]
    );
}

#[tokio::test]
async fn regexp_extract_names_its_groups_as_struct_fields() {
    let (mut s, _dir) = table().await;
    // Each group under its name; '' for each when nothing matches; NULL for a NULL text.
    assert_eq!(
        query(
            &mut s,
            "SELECT regexp_extract(f, '([a-z]+)-(\\d+)', ['stem', 'shard']), \
             regexp_extract(f, '([a-z]+)-(\\d+)', ['stem', 'shard'], 'i').shard \
             FROM (VALUES ('web-0012.parquet'), ('CODE-7'), ('none'), (NULL)) v(f)"
        )
        .await,
        [
            ["{stem: web, shard: 0012}", "0012"],
            ["{stem: , shard: }", "7"],
            ["{stem: , shard: }", ""],
            ["NULL", "NULL"]
        ]
    );
    let err = error(
        &mut s,
        "SELECT regexp_extract('a-1', '([a-z]+)-(\\d+)', ['a', 'b', 'c'])",
    )
    .await;
    assert!(
        err.contains("Not enough capturing groups (2) for provided names (3)"),
        "{err}"
    );
    let err = error(&mut s, "SELECT regexp_extract(s, '(a)', [s]) FROM t").await;
    assert!(
        err.contains("regexp_extract's group names must be a constant list of texts"),
        "{err}"
    );
}

#[tokio::test]
async fn arg_max_keeps_a_whole_record_per_group() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docs.parquet");
    let mut s = crate::sql::session();
    // 20000 documents in 5000 clusters, in row groups of 4096, so that the threads' partial
    // answers merge; a cluster's scores are distinct, so its best document is one.
    query(
        &mut s,
        &format!(
            "COPY (SELECT n % 5000 AS cluster, n AS id, 'doc ' || n AS text, \
             (n * 7919) % 10007 AS score FROM range(20000) AS r(n)) \
             TO '{}' (FORMAT parquet, ROW_GROUP_SIZE 4096)",
            path.display()
        ),
    )
    .await;
    let docs = path.display();
    let by_aggregate = query(
        &mut s,
        &format!(
            "SELECT count(*), sum(best.id), sum(length(best.text)), sum(worst[1]) FROM \
             (SELECT cluster, arg_max({{'id': id, 'text': text}}, score) AS best, \
              min_by([id], score) AS worst FROM '{docs}' GROUP BY cluster)"
        ),
    )
    .await;
    let by_window = query(
        &mut s,
        &format!(
            "SELECT count(*), sum(b.id), sum(length(b.text)), sum(w.id) FROM \
             (SELECT * FROM '{docs}' \
              QUALIFY row_number() OVER (PARTITION BY cluster ORDER BY score DESC) = 1) b \
             JOIN (SELECT * FROM '{docs}' \
              QUALIFY row_number() OVER (PARTITION BY cluster ORDER BY score) = 1) w \
             USING (cluster)"
        ),
    )
    .await;
    assert_eq!(by_aggregate, by_window);
    assert_eq!(by_aggregate[0][0], "5000");
    // As in DuckDB, a row whose value or ordering value is NULL is skipped; a group with no
    // other row gives NULL; over a window, a frame growing from the partition's start works.
    assert_eq!(
        query(
            &mut s,
            "SELECT g, arg_max(v, k), min_by(v, k), arg_max(v, k) FILTER (WHERE v <> 'b') \
             FROM (VALUES (1, 'a', 3), (1, 'b', 5), (1, 'c', NULL), (2, NULL, 9), (2, 'e', 1), \
             (3, 'f', NULL)) t(g, v, k) GROUP BY g ORDER BY g"
        )
        .await,
        [
            ["1", "b", "a", "a"],
            ["2", "e", "e", "e"],
            ["3", "NULL", "NULL", "NULL"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT k, arg_max(v, k) OVER (ORDER BY k), arg_min(v, k) OVER () \
             FROM (VALUES ('a', 3), ('b', 5), ('c', 4)) t(v, k) ORDER BY k"
        )
        .await,
        [["3", "a", "a"], ["4", "c", "a"], ["5", "b", "a"]]
    );
}

/// `arg_max(k, k)` is `max(k)` and `arg_min(k, k)` is `min(k)`, per group and over all rows,
/// for every type of ordering value: numbers, dates and times are kept as values of their type,
/// any other type in Arrow's row format (text here), and both must order as `max` does (NaN
/// above all numbers, NULL skipped).
#[tokio::test]
async fn arg_max_orders_values_of_every_type() {
    let mut s = crate::sql::session();
    let keys = [
        ("tiny", "(b % 100)::TINYINT"),
        ("small", "b::SMALLINT"),
        ("int", "b::INTEGER"),
        ("big", "b::BIGINT * 1000000"),
        ("utiny", "(abs(b) % 200)::UTINYINT"),
        ("usmall", "abs(b)::USMALLINT"),
        ("uint", "abs(b)::UINTEGER"),
        ("ubig", "abs(b)::UBIGINT"),
        ("f", "b::FLOAT / 7"),
        ("d", "CASE WHEN n = 77 THEN 'nan'::DOUBLE ELSE b / 7.0 END"),
        ("day", "DATE '2000-01-01' + b::INTEGER"),
        ("ts", "TIMESTAMP '2000-01-01' + INTERVAL (b) SECOND"),
        (
            "tstz",
            "(TIMESTAMP '2000-01-01' + INTERVAL (b) SECOND)::TIMESTAMPTZ",
        ),
        ("dec", "(b / 1000)::DECIMAL(12, 3)"),
        ("text", "'k' || b"),
        ("sparse", "CASE WHEN n % 5 = 0 THEN NULL ELSE b END"),
    ];
    let columns: Vec<String> = keys
        .iter()
        .map(|(name, e)| format!("{e} AS {name}"))
        .collect();
    query(
        &mut s,
        &format!(
            "CREATE TABLE keys AS SELECT n % 7 AS g, {} FROM \
             (SELECT n, (n * 7919) % 10007 - 5000 AS b FROM range(3000) r(n))",
            columns.join(", ")
        ),
    )
    .await;
    for (name, _) in keys {
        let wrong = format!(
            "SELECT count(*) FILTER (WHERE a IS DISTINCT FROM m OR i IS DISTINCT FROM mi) \
             FROM (SELECT g, arg_max({name}, {name}) AS a, max({name}) AS m, \
                   arg_min({name}, {name}) AS i, min({name}) AS mi FROM keys GROUP BY g)"
        );
        assert_eq!(query(&mut s, &wrong).await, [["0"]], "{name}");
        let all = format!(
            "SELECT arg_max({name}, {name}) IS NOT DISTINCT FROM max({name}), \
             arg_min({name}, {name}) IS NOT DISTINCT FROM min({name}) FROM keys"
        );
        assert_eq!(query(&mut s, &all).await, [["true", "true"]], "{name}");
    }
    // Row 77 (group 0) holds the NaN, which wins there.
    assert_eq!(
        query(&mut s, "SELECT isnan(arg_max(d, d)) FROM keys WHERE g = 0").await,
        [["true"]]
    );
}

#[tokio::test]
async fn fixed_size_arrays_blob_sizes_hugeint_quotients_and_geometric_means() {
    let (mut s, _dir) = table().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT DISTINCT x, array_value(x, x * 2), typeof(array_value(x, x * 2)), \
             x::HUGEINT // 2, (-x)::HUGEINT // 3 FROM t ORDER BY x NULLS LAST"
        )
        .await,
        [
            ["1", "[1, 2]", "INTEGER[2]", "0", "0"],
            ["3", "[3, 6]", "INTEGER[2]", "1", "-1"],
            ["10", "[10, 20]", "INTEGER[2]", "5", "-3"],
            ["NULL", "[NULL, NULL]", "INTEGER[2]", "NULL", "NULL"]
        ]
    );
    let err = error(&mut s, "SELECT x::HUGEINT // 0 FROM t").await;
    assert!(err.contains("Division by zero"), "{err}");
    assert_eq!(
        query(
            &mut s,
            "SELECT DISTINCT s, octet_length(s::BLOB), strlen(s), typeof(octet_length(s::BLOB)), \
             octet_length(from_base64('/w==')) FROM t WHERE s <> 'héllo' ORDER BY s"
        )
        .await,
        [
            ["a", "1", "1", "BIGINT", "1"],
            ["b", "1", "1", "BIGINT", "1"],
            ["c", "1", "1", "BIGINT", "1"]
        ]
    );
    // Text cast to BLOB reads `\xHH` escapes, as DuckDB does; a BLOB stays as it is.
    assert_eq!(
        query(
            &mut s,
            "SELECT octet_length('\\xAA\\xBB'::BLOB), hex(CAST('\\x41\\x4a!' AS BLOB)), \
             hex(CAST(s AS BLOB)::BLOB) FROM t WHERE s = 'a' LIMIT 1"
        )
        .await,
        [["2", "414A21", "61"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT hex(TRY_CAST('\\x41' AS BLOB)), TRY_CAST('a\\q' AS BLOB) IS NULL"
        )
        .await,
        [["41", "true"]]
    );
    // A BLOB column holds them: DataFusion knew the type only as BYTEA (and DuckDB's other
    // type names, in a table's columns as in casts).
    query(
        &mut s,
        "CREATE TABLE blobs(b BLOB, u UTINYINT, h HUGEINT); \
         INSERT INTO blobs VALUES ('\\xAA!'::BLOB, 200, 12345678901234567890123)",
    )
    .await;
    assert_eq!(
        query(
            &mut s,
            "SELECT hex(b), typeof(b), typeof(u), h // 1000 FROM blobs"
        )
        .await,
        [["AA21", "BLOB", "UTINYINT", "12345678901234567890"]]
    );
    let err = error(&mut s, r"SELECT 'a\q'::BLOB").await;
    assert!(
        err.contains(
            r#"Invalid hex escape code encountered in string -> blob conversion of string "a\q""#
        ),
        "{err}"
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT g, round(geomean(x), 12), round(geometric_mean(d), 12) FROM t GROUP BY g \
             ORDER BY g"
        )
        .await,
        [
            ["1", "1.732050807569", "2.828427124746"],
            ["2", "10.0", "5.0"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT list_pack(1, 2), list_pack(x) FROM t WHERE x = 10"
        )
        .await,
        [["[1, 2]", "[10]"]]
    );
}

#[tokio::test]
async fn unnest_goes_down_as_many_levels_as_asked() {
    let (mut s, _dir) = parquet_view(
        "SELECT * FROM (VALUES (1, [[1, 2], [3]], [{'a': 1, 'b': {'c': 'x', 'd': 2.5}}]), \
         (2, [[4], []], [{'a': 2, 'b': {'c': 'y', 'd': NULL}}, {'a': 3, 'b': NULL}])) v(id, l, s)",
    )
    .await;
    let every_level = [["1", "1"], ["1", "2"], ["1", "3"], ["2", "4"]];
    assert_eq!(
        query(
            &mut s,
            "SELECT id, unnest(l, recursive := true) AS v FROM t ORDER BY id, v"
        )
        .await,
        every_level
    );
    let batches = s
        .query("SELECT id, unnest(l, max_depth := 2) FROM t ORDER BY ALL")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["id", "unnest(l, max_depth := 2)"]);
    assert_eq!(rows(&batches), every_level);
    assert_eq!(
        query(
            &mut s,
            "SELECT id, unnest(l, max_depth := 1) FROM t ORDER BY ALL"
        )
        .await,
        [["1", "[1, 2]"], ["1", "[3]"], ["2", "[]"], ["2", "[4]"]]
    );
    // A STRUCT at the bottom is a column per field, a STRUCT field a column per its fields.
    let batches = s
        .query("SELECT id, unnest(s, recursive := true) FROM t ORDER BY ALL")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["id", "a", "c", "d"]);
    assert_eq!(
        rows(&batches),
        [
            ["1", "1", "x", "2.5"],
            ["2", "2", "y", "NULL"],
            ["2", "3", "NULL", "NULL"]
        ]
    );
    let err = error(&mut s, "SELECT unnest(l, max_depth := 0) FROM t").await;
    assert!(err.contains("max_depth must be 1 or more"), "{err}");
}

/// Long date periods, times' fractions, strftime's specifiers, DuckDB's splitting, URL and grapheme functions,
/// LIKE's escapes and strings quoted inside nested values: each call's text is DuckDB 2.0's.
#[tokio::test]
async fn periods_formats_splits_and_patterns_answer_as_duckdb() {
    let mut s = crate::sql::session();
    let cases = [
        (r#"date_part('century', DATE '2000-12-31')"#, r#"20"#),
        (r#"century(DATE '2001-01-01')"#, r#"21"#),
        (r#"EXTRACT(decade FROM DATE '1999-06-01')"#, r#"199"#),
        (r#"millennium(TIMESTAMP '2001-01-01 10:00')"#, r#"3"#),
        (r#"era(DATE '2024-01-01')"#, r#"1"#),
        (
            r#"date_trunc('decade', DATE '2024-05-05')"#,
            r#"2020-01-01 00:00:00"#,
        ),
        (
            r#"date_trunc('century', TIMESTAMP '2024-05-05 10:00')"#,
            r#"2000-01-01 00:00:00"#,
        ),
        (
            r#"date_trunc('millennium', DATE '2024-05-05')"#,
            r#"2000-01-01 00:00:00"#,
        ),
        (
            r#"date_diff('century', DATE '1999-12-31', DATE '2001-01-01')"#,
            r#"1"#,
        ),
        (
            r#"date_sub('decade', DATE '2000-05-01', DATE '2010-04-01')"#,
            r#"0"#,
        ),
        (
            r#"date_diff('millennium', DATE '1999-12-31', DATE '2001-01-01')"#,
            r#"1"#,
        ),
        (
            r#"strftime(TIMESTAMP '2024-03-05 07:08:09.123456', '%S.%f|%g|%n')"#,
            r#"09.123456|123|123456000"#,
        ),
        (
            r#"strftime(TIMESTAMP '2024-03-05 07:08:09', '%c|%x|%X|%z|%Z|%%f')"#,
            r#"2024-03-05 07:08:09|2024-03-05|07:08:09|+00||%f"#,
        ),
        (
            r#"strftime('%d/%m/%Y', DATE '2024-03-05')"#,
            r#"05/03/2024"#,
        ),
        (
            r#"make_timestamp(1700000000000000)"#,
            r#"2023-11-14 22:13:20"#,
        ),
        (r#"make_time(1, 2, 3.5)"#, r#"01:02:03.5"#),
        (r#"TIME '01:02:03.120'"#, r#"01:02:03.12"#),
        (r#"TIME '01:02:03'"#, r#"01:02:03"#),
        (
            r#"make_timestamp_ns(1700000000000000123)"#,
            r#"2023-11-14 22:13:20.000000123"#,
        ),
        (r#"split_part('a,b,c', ',', 0)"#, r#""#),
        (r#"split_part('a,b,c', ',', -1)"#, r#"c"#),
        (r#"split_part('abc', '', 2)"#, r#"b"#),
        (r#"split_part('a,b', ',', 5)"#, r#""#),
        (r#"string_split('', ',')"#, r#"['']"#),
        (r#"string_split('héllo', '')"#, r#"[h, é, l, l, o]"#),
        (r#"str_split('a,b,', ',')"#, r#"[a, b, '']"#),
        (r#"len(string_split('', ' '))"#, r#"1"#),
        (r#"ucase('abé')"#, r#"ABÉ"#),
        (r#"lcase('ÀB')"#, r#"àb"#),
        (r#"url_encode('ä/b?c=d e~')"#, r#"%C3%A4%2Fb%3Fc%3Dd%20e~"#),
        (r#"url_decode('%C3%A4+b%20c')"#, r#"ä+b c"#),
        (r#"length_grapheme('🇨🇦é')"#, r#"2"#),
        (r#"like_escape('a_c', 'a$_c', '$')"#, r#"true"#),
        (r#"not_like_escape('abc', 'a$_c', '$')"#, r#"true"#),
        (r#"ilike_escape('A%C', 'a#%c', '#')"#, r#"true"#),
        (r#"'C:\data\x' LIKE 'C:\data\%'"#, r#"true"#),
        (r#"'a_c' LIKE 'a$_c' ESCAPE '$'"#, r#"true"#),
        (r#"'a$c' LIKE 'a$$c' ESCAPE '$'"#, r#"true"#),
        (r#"'ab' ~~ 'a\%'"#, r#"false"#),
        (r#"'a\b' ILIKE 'A\B'"#, r#"true"#),
        (r#"fdiv(-7, 2)"#, r#"-4.0"#),
        (r#"fmod(-7.5, 2)"#, r#"0.5"#),
        (r#"round_even(2.5, 0) = 2"#, r#"true"#),
        (
            r#"['', 'a b', ',', 'x''y', ' s', 'NULL', NULL]"#,
            r#"['', a b, ',', 'x\'y', ' s', 'NULL', NULL]"#,
        ),
        (r#"{'a': '', 'b': 'x,y'}"#, r#"{'a': '', 'b': 'x,y'}"#),
        (r#"MAP {'': 'k'}"#, r#"{''=k}"#),
    ];
    for (call, duckdb) in cases {
        let text = query(&mut s, &format!("SELECT CAST(({call}) AS VARCHAR)")).await;
        assert_eq!(text, [[duckdb]], "{call}");
    }
    let err = error(
        &mut s,
        "SELECT s LIKE p ESCAPE '#' FROM (VALUES ('a', 'a')) t(s, p)",
    )
    .await;
    assert!(err.contains("ESCAPE '#' takes a constant pattern"), "{err}");
    let err = error(&mut s, "SELECT url_decode('%FF')").await;
    assert!(err.contains(r#"url_decode: "%FF""#), "{err}");
}

#[tokio::test]
async fn subscripts_repeats_digits_structs_json_and_zones_answer_as_duckdb() {
    let (mut s, _dir) = table().await;
    // A string column's subscripts, and `any_value` in an order.
    assert_eq!(
        query(
            &mut s,
            "SELECT s[1], s[-2], array_extract(s, 2) FROM t WHERE g = 2 OR d IN (1, 8) ORDER BY d"
        )
        .await,
        [
            ["b", "", ""],
            ["NULL", "NULL", "NULL"],
            ["h", "l", "é"],
            ["c", "", ""]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT g, any_value(x ORDER BY d DESC), any_value(s ORDER BY day) FROM t \
             GROUP BY g ORDER BY g"
        )
        .await,
        [["1", "3", "a"], ["2", "10", "c"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT g, repeat(list(x ORDER BY d), g), struct_keys({'g': g, 's': s})[2] \
             FROM t GROUP BY g, s ORDER BY g, s"
        )
        .await,
        [
            ["1", "[1]", "s"],
            ["1", "[3, 1]", "s"],
            ["1", "[3]", "s"],
            ["2", "[10, 10]", "s"],
            ["2", "[NULL, NULL]", "s"]
        ]
    );
    // Weighted means and standard errors for evaluation metrics; DuckDB's names for
    // string_agg, whose separator is a comma unless given.
    assert_eq!(
        query(
            &mut s,
            "SELECT g, weighted_avg(x, w), round(sem(x), 12), string_agg(s), group_concat(s), \
             listagg(s, '|') FROM (VALUES (1, 1, 1, 'a'), (1, 3, 3, 'b'), (1, NULL, 5, 'c'), \
             (1, 5, NULL, NULL), (2, 2, 0, 'x')) t(g, x, w, s) GROUP BY g ORDER BY g"
        )
        .await,
        [
            ["1", "2.5", "0.942809041582", "a,b,c", "a,b,c", "a|b|c"],
            ["2", "NaN", "0.0", "x", "x", "x"]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT listagg(s ORDER BY s DESC) FROM (VALUES ('a'), ('c'), ('b')) t(s)"
        )
        .await,
        [["c,b,a"]]
    );
    // `error(message)` fails the query where a row reaches it.
    let err = error(
        &mut s,
        "SELECT CASE WHEN x > 1 THEN error('too big: ' || x) ELSE x END FROM range(3) t(x)",
    )
    .await;
    assert!(err.ends_with("too big: 2"), "{err}");
    assert_eq!(
        query(
            &mut s,
            "SELECT count(CASE WHEN x > 5 THEN error('too big') ELSE x END) FROM range(3) t(x)"
        )
        .await,
        [["3"]]
    );
    let cases = [
        (r#"'hello'[2]"#, r#"e"#),
        (r#"'hello'[-1]"#, r#"o"#),
        (r#"'hello'[0]"#, r#""#),
        (r#"'hello'[9]"#, r#""#),
        (r#"'héllo'[2]"#, r#"é"#),
        (r#"array_extract('hello', -2)"#, r#"l"#),
        (r#"list_extract('abc', 1)"#, r#"a"#),
        (r#"[10, 20, 30][2]"#, r#"20"#),
        (r#"MAP {'a': 1}['a']"#, r#"1"#),
        (r#"bin(5)"#, r#"101"#),
        (r#"bin(-1)"#, &"1".repeat(64)),
        (r#"to_binary(255::UTINYINT)"#, r#"11111111"#),
        (r#"bin('AB')"#, r#"0100000101000010"#),
        (r#"unbin('0100000101000010')"#, r#"AB"#),
        (r#"from_binary('101')"#, r#"\x05"#),
        (r#"unbin('')"#, r#""#),
        (r#"json_quote('a"b')"#, r#""a\"b""#),
        (r#"json_quote([1, 2])"#, r#"[1,2]"#),
        (
            r#"json_pretty('{"a": [1, {"b": null}, []], "c": {}}')"#,
            "{\n    \"a\": [\n        1,\n        {\n            \"b\": null\n        },\n        \
             []\n    ],\n    \"c\": {}\n}",
        ),
        (
            r#"json_structure('{"a": [1, -2], "b": [{"c": 1}, {"d": "x"}], "e": [1, "x"]}')"#,
            r#"{"a":["HUGEINT"],"b":[{"c":"UBIGINT","d":"VARCHAR"}],"e":["JSON"]}"#,
        ),
        (
            r#"json_extract('{"a": 1, "b": [2, "x"]}', ['$.a', '$.b', '$.z'])"#,
            r#"[1, [2,"x"], NULL]"#,
        ),
        (
            r#"json_extract('{"a": ["x", {"b": 1}]}', '$.a[*]')"#,
            r#"["x", {"b":1}]"#,
        ),
        (
            r#"json_extract_string('{"a": "x"}', ['a', '$.a'])"#,
            r#"[x, x]"#,
        ),
        (
            r#"json_exists('{"a": 1}', ['$.a', '$.b'])"#,
            r#"[true, false]"#,
        ),
        (
            r#"json_type('{"a": [1]}', ['$.a', '$.a[0]'])"#,
            r#"[ARRAY, UBIGINT]"#,
        ),
        (r#"typeof(json_extract('{"a": 1}', ['$.a']))"#, r#"JSON[]"#),
        (r#"repeat([1, NULL], 2)"#, r#"[1, NULL, 1, NULL]"#),
        (r#"repeat(['a'], 0)"#, r#"[]"#),
        (r#"repeat('ab', 2)"#, r#"abab"#),
        (r#"struct_keys({'a': 1, 'b': {'c': 2}})"#, r#"[a, b]"#),
        (
            r#"struct_concat({'a': 1}, NULL::STRUCT(b INT), {'c': 'x'})"#,
            r#"{'a': 1, 'b': NULL, 'c': x}"#,
        ),
        (r#"to_base(255, 2, 10)"#, r#"0011111111"#),
        (r#"to_base(35, 36)"#, r#"Z"#),
        (
            r#"'2024-01-01 10:00:00+02'::TIMESTAMPTZ"#,
            r#"2024-01-01 08:00:00+00"#,
        ),
        (
            r#"typeof(TIMESTAMPTZ '2024-01-01 10:00:00')"#,
            r#"TIMESTAMP WITH TIME ZONE"#,
        ),
        (
            r#"date_trunc('day', TIMESTAMPTZ '2024-01-01 10:00:00+02')"#,
            r#"2024-01-01 00:00:00+00"#,
        ),
        (
            r#"TIMESTAMPTZ '2024-01-01 10:00:00+02' + INTERVAL 1 HOUR"#,
            r#"2024-01-01 09:00:00+00"#,
        ),
        (
            r#"make_timestamptz(2024, 1, 2, 3, 4, 5.5)"#,
            r#"2024-01-02 03:04:05.5+00"#,
        ),
        (
            r#"TIMESTAMPTZ '2024-01-01 08:00:00+00' = TIMESTAMP '2024-01-01 08:00:00'"#,
            r#"true"#,
        ),
        (r#"[TIME '01:02:03']"#, r#"['01:02:03']"#),
        (r#"ceiling(1.2)"#, r#"2"#),
        (r#"days_in_month(DATE '2024-02-10')"#, r#"29"#),
        (r#"to_quarters(2)"#, r#"6 months"#),
        (r#"map_contains_value(MAP {'a': 1}, 1)"#, r#"true"#),
        (r#"map_extract_value(MAP {'a': 1}, 'a')"#, r#"1"#),
        (r#"weekday(DATE '2024-01-07')"#, r#"0"#),
        (
            r#"json_merge_patch('{"a": 1, "b": 2}', '{"b": null, "c": 3}')"#,
            r#"{"a":1,"c":3}"#,
        ),
        (
            r#"json_merge_patch('{"a": 1}', '{"a": {"x": 1}}', '{"a": {"y": 2}}')"#,
            r#"{"a":{"x":1,"y":2}}"#,
        ),
        (
            r#"json_strip_nulls('{"a": null, "b": [1, null], "c": {"d": null}}')"#,
            r#"{"b":[1,null],"c":{}}"#,
        ),
        (r#"length(uuidv7()) = length(uuidv4())"#, r#"true"#),
        (r#"map_extract(MAP {'a': 1, 'b': NULL}, 'b')"#, r#"[NULL]"#),
        (r#"map_extract(MAP {'a': 1}, 'z')"#, r#"[]"#),
        (r#"element_at(MAP {1: 'x', 2: 'y'}, 2)"#, r#"[y]"#),
        (
            r#"{'t': TIMESTAMP '2024-01-01 08:00:00'}"#,
            r#"{'t': '2024-01-01 08:00:00'}"#,
        ),
    ];
    for (call, duckdb) in cases {
        let text = query(&mut s, &format!("SELECT CAST(({call}) AS VARCHAR)")).await;
        assert_eq!(text, [[duckdb]], "{call}");
    }
    for (sql, message) in [
        ("SELECT unbin('12')", "Invalid input for binary digit: 2"),
        (
            "SELECT json_extract('{}', ['$.a[*]'])",
            "json_extract: a list of paths cannot hold a wildcard",
        ),
        (
            "SELECT struct_concat({'a': 1}, {'a': 2})",
            "struct_concat: Arguments contain duplicate STRUCT entry \"a\"",
        ),
        (
            "SELECT to_base(-1, 16)",
            "'to_base' number must be greater than or equal to 0",
        ),
    ] {
        let err = error(&mut s, sql).await;
        assert!(err.contains(message), "{sql}: {err}");
    }
}

/// `setseed` makes the session's `random()` draw the same values again, as DuckDB's does.
#[tokio::test]
async fn setseed_repeats_the_random_values() {
    let mut s = session();
    let draws = "SELECT list(random() ORDER BY x) FROM range(5) t(x)";
    query(&mut s, "SELECT setseed(0.42)").await;
    let first = query(&mut s, draws).await;
    let unseeded_again = query(&mut s, draws).await;
    query(&mut s, "SELECT setseed(0.42)").await;
    assert_eq!(query(&mut s, draws).await, first);
    assert_ne!(unseeded_again, first, "the generator goes on after a draw");
    query(&mut s, "SELECT setseed(-0.42)").await;
    assert_ne!(query(&mut s, draws).await, first);
    let err = error(&mut s, "SELECT setseed(1.5)").await;
    assert!(
        err.contains("SETSEED accepts seed values between -1.0 and 1.0"),
        "{err}"
    );
}
