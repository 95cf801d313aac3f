//! DuckDB's `ASOF JOIN`, which pairs each event with the latest (or earliest) row of another
//! table at its time: a trade with the quote in force, a training example with the model
//! checkpoint or label snapshot current when it was logged. Answers as DuckDB 2.0 gives them
//! on the same rows.

use crate::sql::{columns, error, physical_plan, query, rows, session};

/// Trades and quotes as Parquet files, with a repeated quote (AAPL at 10:00:05), NULL tickers
/// and NULL times on both sides.
async fn market() -> (tarn_engine::SqlSession, tempfile::TempDir) {
    let dir = tempfile::TempDir::new().unwrap();
    let mut s = session();
    let trades = "SELECT * FROM (VALUES \
        (1, 'AAPL', TIMESTAMP '2024-03-01 10:00:05', 100), \
        (2, 'AAPL', TIMESTAMP '2024-03-01 10:00:10', 50), \
        (3, 'MSFT', TIMESTAMP '2024-03-01 10:00:01', 10), \
        (4, 'MSFT', TIMESTAMP '2024-03-01 09:59:00', 20), \
        (5, NULL, TIMESTAMP '2024-03-01 10:00:10', 5), \
        (6, 'AAPL', NULL, 7)) v(id, ticker, ts, qty)";
    let quotes = "SELECT * FROM (VALUES \
        ('AAPL', TIMESTAMP '2024-03-01 10:00:00', 180.0), \
        ('AAPL', TIMESTAMP '2024-03-01 10:00:05', 181.0), \
        ('AAPL', TIMESTAMP '2024-03-01 10:00:05', 181.0), \
        ('AAPL', TIMESTAMP '2024-03-01 10:00:08', 182.5), \
        ('MSFT', TIMESTAMP '2024-03-01 10:00:00', 410.0), \
        ('MSFT', TIMESTAMP '2024-03-01 10:00:02', 411.0), \
        (NULL, TIMESTAMP '2024-03-01 10:00:00', 1.0), \
        ('AAPL', NULL, 2.0)) v(ticker, ts, price)";
    for (name, rows) in [("trades", trades), ("quotes", quotes)] {
        let path = dir.path().join(format!("{name}.parquet"));
        let path = path.display();
        query(
            &mut s,
            &format!("COPY ({rows}) TO '{path}' (FORMAT parquet)"),
        )
        .await;
        query(&mut s, &format!("CREATE VIEW {name} AS FROM '{path}'")).await;
    }
    (s, dir)
}

#[tokio::test]
async fn each_row_meets_the_nearest_row_on_the_inequalitys_side() {
    let (mut s, _dir) = market().await;
    let prices = |rows: &[(&str, &str)]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|(id, price)| vec![id.to_string(), price.to_string()])
            .collect()
    };
    for (join, expected) in [
        // The latest quote at or before the trade: the repeated quote gives one row.
        (
            "ASOF JOIN quotes q ON t.ticker = q.ticker AND t.ts >= q.ts",
            prices(&[("1", "181.0"), ("2", "182.5"), ("3", "410.0")]),
        ),
        // Trades with no quote before them, a NULL ticker or a NULL time are kept.
        (
            "ASOF LEFT JOIN quotes q ON t.ticker = q.ticker AND t.ts >= q.ts",
            prices(&[
                ("1", "181.0"),
                ("2", "182.5"),
                ("3", "410.0"),
                ("4", "NULL"),
                ("5", "NULL"),
                ("6", "NULL"),
            ]),
        ),
        // Strictly before: trade 1 no longer meets the quote at its own time.
        (
            "ASOF INNER JOIN quotes q ON t.ticker = q.ticker AND t.ts > q.ts",
            prices(&[("1", "180.0"), ("2", "182.5"), ("3", "410.0")]),
        ),
        // The earliest quote at or after, written with the right side first.
        (
            "ASOF JOIN quotes q ON q.ticker = t.ticker AND q.ts >= t.ts",
            prices(&[("1", "181.0"), ("3", "411.0"), ("4", "410.0")]),
        ),
        (
            "ASOF JOIN quotes q ON t.ticker = q.ticker AND t.ts < q.ts",
            prices(&[("1", "182.5"), ("3", "411.0"), ("4", "410.0")]),
        ),
        // A condition on the right side filters the candidates; one on the left side leaves
        // the failing rows without a match.
        (
            "ASOF LEFT OUTER JOIN quotes q ON t.ticker = q.ticker AND t.ts >= q.ts \
             AND q.price < 181 AND t.qty > 10",
            prices(&[
                ("1", "180.0"),
                ("2", "180.0"),
                ("3", "NULL"),
                ("4", "NULL"),
                ("5", "NULL"),
                ("6", "NULL"),
            ]),
        ),
    ] {
        let sql = format!("SELECT t.id, q.price FROM trades t {join} ORDER BY t.id");
        assert_eq!(query(&mut s, &sql).await, expected, "{sql}");
    }
}

#[tokio::test]
async fn star_shows_both_sides_and_using_merges_the_keys() {
    let (mut s, _dir) = market().await;
    let batches = s
        .query(
            "SELECT * FROM trades t ASOF JOIN quotes q ON t.ticker = q.ticker AND t.ts >= q.ts \
             ORDER BY ALL LIMIT 1",
        )
        .await
        .unwrap();
    assert_eq!(
        columns(&batches),
        ["id", "ticker", "ts", "qty", "ticker", "ts", "price"]
    );
    assert_eq!(
        rows(&batches),
        [[
            "1",
            "AAPL",
            "2024-03-01T10:00:05",
            "100",
            "AAPL",
            "2024-03-01T10:00:05",
            "181.0"
        ]]
    );
    // USING (keys..., time): the last column is the time, compared with >=, and the keys and
    // the time are the left side's, unqualified.
    let batches = s
        .query("SELECT * FROM trades ASOF JOIN quotes USING (ticker, ts) ORDER BY id")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["id", "ticker", "ts", "qty", "price"]);
    assert_eq!(
        rows(&batches),
        [
            ["1", "AAPL", "2024-03-01T10:00:05", "100", "181.0"],
            ["2", "AAPL", "2024-03-01T10:00:10", "50", "182.5"],
            ["3", "MSFT", "2024-03-01T10:00:01", "10", "410.0"]
        ]
    );
    // An unqualified time is the left side's; the right side's `q.*` has its own.
    assert_eq!(
        query(
            &mut s,
            "SELECT id, ts, q.* FROM trades ASOF JOIN quotes q USING (ticker, ts) \
             WHERE ts > TIMESTAMP '2024-03-01 10:00:02' ORDER BY id"
        )
        .await,
        [
            [
                "1",
                "2024-03-01T10:00:05",
                "AAPL",
                "2024-03-01T10:00:05",
                "181.0"
            ],
            [
                "2",
                "2024-03-01T10:00:10",
                "AAPL",
                "2024-03-01T10:00:08",
                "182.5"
            ]
        ]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT ticker, count(*), max(price) FROM trades ASOF LEFT JOIN quotes \
             USING (ticker, ts) GROUP BY ALL ORDER BY ALL"
        )
        .await,
        [
            ["AAPL", "3", "182.5"],
            ["MSFT", "2", "410.0"],
            ["NULL", "1", "NULL"]
        ]
    );
}

/// On random events, the ASOF join's match is the one a correlated subquery finds (the
/// definition, which runs in quadratic time), for each inequality.
#[tokio::test]
async fn the_match_is_the_nearest_time_by_definition() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE l AS SELECT range AS id, hash(range, 1) % 5 AS k, \
         hash(range, 2) % 2000 AS t FROM range(3000)",
    )
    .await;
    query(
        &mut s,
        "CREATE TABLE r AS SELECT hash(range, 3) % 5 AS k, hash(range, 4) % 2000 AS t \
         FROM range(1000)",
    )
    .await;
    // Times of each kind the join compares differently: integers, and others by their bytes.
    for time in ["BIGINT", "UINTEGER", "DOUBLE", "VARCHAR"] {
        for (side, table) in [("lt", "l"), ("rt", "r")] {
            query(
                &mut s,
                &format!(
                    "CREATE OR REPLACE VIEW {side} AS SELECT * REPLACE (t::{time} AS t) \
                     FROM {table}"
                ),
            )
            .await;
        }
        for (op, nearest, filter) in [
            (">=", "max", "r.t <= l.t"),
            (">", "max", "r.t < l.t"),
            ("<=", "min", "r.t >= l.t"),
            ("<", "min", "r.t > l.t"),
        ] {
            let asof = query(
                &mut s,
                &format!(
                    "SELECT l.id, r.t FROM lt l ASOF LEFT JOIN rt r ON l.k = r.k AND l.t {op} r.t \
                     ORDER BY l.id"
                ),
            )
            .await;
            let definition = query(
                &mut s,
                &format!(
                    "SELECT id, (SELECT {nearest}(r.t) FROM rt r WHERE r.k = l.k AND {filter}) \
                     FROM lt l ORDER BY id"
                ),
            )
            .await;
            assert_eq!(asof.len(), 3000);
            assert_eq!(asof, definition, "{time}: l.t {op} r.t");
        }
    }
    // Without keys, over the whole right side.
    let asof = query(
        &mut s,
        "SELECT l.id, r.t FROM l ASOF JOIN r ON l.t >= r.t ORDER BY l.id",
    )
    .await;
    let definition = query(
        &mut s,
        "SELECT id, (SELECT max(r.t) FROM r WHERE r.t <= l.t) AS m FROM l WHERE m IS NOT NULL \
         ORDER BY id",
    )
    .await;
    assert_eq!(asof, definition);
}

/// A WHERE condition on the right side applies to the matches, while one on the left side alone
/// goes down to the left side's scan.
#[tokio::test]
async fn where_conditions_filter_the_matches() {
    let (mut s, _dir) = market().await;
    let sql = "SELECT t.id, q.price FROM trades t ASOF JOIN quotes q \
               ON t.ticker = q.ticker AND t.ts >= q.ts WHERE q.price < 182 AND t.qty > 10 \
               ORDER BY t.id";
    // Trade 2's match is the quote at 182.5: filtering the quotes first would give it 181.0.
    assert_eq!(query(&mut s, sql).await, [["1", "181.0"]]);
    let physical = physical_plan(&mut s, sql).await;
    let (above, below) = physical.split_once("AsofJoinExec").unwrap();
    assert!(above.contains("price@"), "{physical}");
    assert!(below.contains("predicate=qty@3 > 10"), "{physical}");
    assert!(!below.contains("price@2 <"), "{physical}");
}

/// Where the right side repeats a time, a left row meets the first of those rows in the right
/// side's order, whichever way the inequality points.
#[tokio::test]
async fn repeated_times_give_the_first_row() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE t AS SELECT * FROM (VALUES (1, 10), (1, 15), (1, 20), (1, 5)) v(k, ts)",
    )
    .await;
    for (order, expected) in [
        ("ASC", [["10", "a"], ["15", "a"], ["20", "d"]]),
        ("DESC", [["10", "c"], ["15", "c"], ["20", "e"]]),
    ] {
        query(
            &mut s,
            &format!(
                "CREATE OR REPLACE TABLE q AS SELECT * FROM (VALUES (1, 10, 'a'), (1, 10, 'b'), \
                 (1, 10, 'c'), (1, 20, 'd'), (1, 20, 'e')) v(k, ts, name) ORDER BY name {order}"
            ),
        )
        .await;
        let at_or_after = "SELECT t.ts, q.name FROM t ASOF JOIN q ON t.k = q.k AND t.ts >= q.ts \
                           ORDER BY t.ts";
        assert_eq!(query(&mut s, at_or_after).await, expected, "{order}");
        let before = "SELECT t.ts, q.name FROM t ASOF JOIN q ON t.k = q.k AND t.ts < q.ts \
                      ORDER BY t.ts";
        let first = &expected[0][1];
        let later = &expected[2][1];
        assert_eq!(
            query(&mut s, before).await,
            [["5", first], ["10", later], ["15", later]],
            "{order}"
        );
    }
}

/// Rows an `ASOF LEFT JOIN` leaves unmatched get NULLs, also where the right side's columns
/// hold no NULL of their own.
#[tokio::test]
async fn unmatched_rows_get_nulls_from_any_right_side() {
    let mut s = session();
    assert_eq!(
        query(
            &mut s,
            "SELECT t.k, q.v FROM (VALUES (NULL::INT, 5), (1, 3), (2, 1)) t(k, ts) \
             ASOF LEFT JOIN (VALUES (NULL::INT, 2, 'a'), (1, 3, 'b')) q(k, ts, v) \
             ON t.k = q.k AND t.ts >= q.ts ORDER BY ALL"
        )
        .await,
        [["1", "b"], ["2", "NULL"], ["NULL", "NULL"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT t.k, q.v FROM (VALUES (1, 5)) t(k, ts) ASOF LEFT JOIN \
             (SELECT * FROM (VALUES (1, 2, 'a')) x(k, ts, v) WHERE k > 5) q \
             ON t.k = q.k AND t.ts >= q.ts"
        )
        .await,
        [["1", "NULL"]]
    );
}

/// Everything joined before an ASOF join is its left side; its keys may come from any of
/// those tables.
#[tokio::test]
async fn the_left_side_may_be_a_join() {
    let (mut s, _dir) = market().await;
    assert_eq!(
        query(
            &mut s,
            "SELECT t.id, u.qty, q.price FROM trades t JOIN trades u ON t.id = u.id + 1 \
             ASOF LEFT JOIN quotes q ON u.ticker = q.ticker AND t.ts >= q.ts ORDER BY t.id"
        )
        .await,
        [
            ["2", "100", "182.5"],
            ["3", "50", "180.0"],
            ["4", "10", "NULL"],
            ["5", "20", "411.0"],
            ["6", "5", "NULL"]
        ]
    );
}

/// A bare name in the condition is the column of the one side that has it, as in DuckDB:
/// the match condition, the keys and the filters of either side may all be written bare.
#[tokio::test]
async fn bare_names_in_the_condition_are_the_sides_columns() {
    let (mut s, _dir) = market().await;
    query(
        &mut s,
        "CREATE VIEW fills AS SELECT id, ticker AS symbol, ts AS filled, qty FROM trades",
    )
    .await;
    let qualified = query(
        &mut s,
        "SELECT f.id, q.price FROM fills f ASOF LEFT JOIN quotes q \
         ON f.symbol = q.ticker AND f.filled >= q.ts AND f.qty > 10 AND q.price > 181 \
         ORDER BY f.id",
    )
    .await;
    assert_eq!(
        qualified,
        [
            ["1", "NULL"],
            ["2", "182.5"],
            ["3", "NULL"],
            ["4", "NULL"],
            ["5", "NULL"],
            ["6", "NULL"]
        ]
    );
    for sql in [
        "SELECT f.id, q.price FROM fills f ASOF LEFT JOIN quotes q \
         ON symbol = ticker AND filled >= ts AND qty > 10 AND price > 181 ORDER BY f.id",
        // Names are matched in any case; the inequality may be written either way round.
        "SELECT fills.id, quotes.price FROM fills ASOF LEFT JOIN quotes \
         ON TICKER = Symbol AND ts <= FILLED AND qty > 10 AND price > 181 ORDER BY fills.id",
        // A CTE is planned under the statement's WITH clause.
        "WITH f AS (FROM fills) SELECT f.id, q.price FROM f ASOF LEFT JOIN quotes q \
         ON symbol = ticker AND filled >= ts AND qty > 10 AND price > 181 ORDER BY f.id",
    ] {
        assert_eq!(query(&mut s, sql).await, qualified, "{sql}");
    }
}

#[tokio::test]
async fn conditions_it_cannot_join_on_are_one_line() {
    let (mut s, _dir) = market().await;
    for (sql, expected) in [
        (
            "SELECT * FROM trades t ASOF JOIN quotes q ON t.ticker = q.ticker",
            "an ASOF JOIN needs exactly one inequality (such as t.ts >= q.ts) in its condition, \
             found 0",
        ),
        (
            "SELECT * FROM trades t ASOF JOIN quotes q ON t.ts >= q.ts AND t.ts <= q.ts",
            "found 2",
        ),
        (
            "SELECT * FROM trades t ASOF JOIN quotes q ON ticker = q.ticker AND t.ts >= q.ts",
            "ambiguous reference to column name `ticker` in the ASOF JOIN's condition (use \
             t.ticker or q.ticker)",
        ),
        (
            "SELECT * FROM trades t ASOF JOIN quotes q ON t.ticker = q.ticker AND t.ts >= stamp",
            "`stamp` in the ASOF JOIN's condition is no column of t or q",
        ),
        (
            "SELECT * FROM trades t ASOF JOIN quotes q ON t.ts >= q.ts AND t.qty <> q.price",
            "`t.qty <> q.price` cannot be part of it",
        ),
        (
            "SELECT * FROM trades t ASOF RIGHT JOIN quotes q ON t.ts >= q.ts",
            "ASOF RIGHT JOIN is not supported",
        ),
        (
            "SELECT * FROM trades t JOIN trades u USING (id) ASOF JOIN quotes q USING (ts)",
            "an ASOF JOIN ... USING takes one table on its left; write the join to q with ON",
        ),
        (
            "SELECT * FROM trades t ASOF JOIN quotes q ON t.ticker = q.ticker AND t.ts >= q.price",
            "an ASOF JOIN cannot compare t.ts (TIMESTAMP) with q.price (DECIMAL(4,1))",
        ),
    ] {
        let message = error(&mut s, sql).await;
        assert!(message.contains(expected), "{sql}: {message}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }
}
