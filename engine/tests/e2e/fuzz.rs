//! Property test of the statement layer: no text, however malformed, makes it panic. Inputs are
//! built from SQL fragments (so they reach the parser, the rewrites and the planner, not only the
//! tokenizer) plus arbitrary characters. Bounded by a fixed number of cases, so CI time is fixed.

use futures::FutureExt;
use proptest::prelude::*;
use tarn_engine::sql::TABLE_FUNCTIONS;
use tarn_engine::{SqlSession, TarnConfig};

const FRAGMENTS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "ALL",
    "ORDER BY",
    "QUALIFY",
    "USING SAMPLE",
    "TABLESAMPLE",
    "DESCRIBE",
    "SUMMARIZE",
    "COPY",
    "TO",
    "ATTACH",
    "AS",
    "SET",
    "EXPLAIN ANALYZE",
    "SHOW TABLES",
    "EXCLUDE",
    "REPLACE",
    "*",
    "(",
    ")",
    ",",
    ";",
    "=",
    "=>",
    ":=",
    "%",
    "ROWS",
    "PERCENT",
    "1",
    "0",
    "-1",
    "2.5",
    "'x'",
    "'t.parquet'",
    "'*.csv'",
    "'/nonexistent/'",
    "t",
    "a",
    "b",
    "count(*)",
    "sum(a)",
    "{'a': 'INT'}",
    "['p', 'q']",
    "FORMAT parquet",
    "PARTITION_BY (a)",
    "OVERWRITE",
    "memory_limit",
    "threads",
    "NULL",
    "CAST",
    "VARCHAR",
    "JOIN",
    "ON",
    "LIMIT",
    "UNION",
    "WITH",
    "VALUES",
    "\"",
    "'",
    "--",
    "/*",
    "\n",
];

fn statement() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        6 => proptest::sample::select(FRAGMENTS).prop_map(str::to_string),
        2 => proptest::sample::select(TABLE_FUNCTIONS).prop_map(str::to_string),
        1 => "[ -~]{0,6}",
    ];
    proptest::collection::vec(fragment, 0..14).prop_map(|parts| parts.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn statements_never_panic(text in statement()) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let outcome = runtime.block_on(async {
            let mut session = SqlSession::new(TarnConfig { threads: 2, memory_limit: None, ..TarnConfig::default() }).unwrap();
            session
                .query("CREATE TABLE t AS SELECT * FROM (VALUES (1, 'x'), (2, NULL)) v(a, b)")
                .await
                .unwrap();
            std::panic::AssertUnwindSafe(session.query(&text)).catch_unwind().await
        });
        prop_assert!(outcome.is_ok(), "panicked on {text:?}");
    }
}
