//! MERGE INTO: change sets applied to a session table. Every answer and message is DuckDB 2.0's
//! for the same statements (run there by hand), except where a comment says otherwise.

use crate::sql::{error, query, session};

const PEOPLE: &str = "CREATE TABLE people (id INTEGER, name VARCHAR, salary FLOAT); \
     INSERT INTO people VALUES (1, 'John', 92000.0), (2, 'Anna', 100000.0)";

async fn people(s: &mut tarn_engine::SqlSession) -> Vec<Vec<String>> {
    query(s, "SELECT * FROM people ORDER BY id").await
}

#[tokio::test]
async fn merge_updates_matched_rows_and_inserts_the_others() {
    let mut s = session();
    query(&mut s, PEOPLE).await;
    // A whole row by position: UPDATE and INSERT with no values take the source's row.
    let merged = query(
        &mut s,
        "MERGE INTO people USING (SELECT unnest([3, 1]) AS id, unnest(['Sarah', 'John']) AS name, \
         unnest([95000.0, 105000.0]) AS salary) AS upserts ON (upserts.id = people.id) \
         WHEN MATCHED THEN UPDATE WHEN NOT MATCHED THEN INSERT",
    )
    .await;
    assert_eq!(merged, [["2"]]);
    assert_eq!(
        people(&mut s).await,
        [
            ["1", "John", "105000.0"],
            ["2", "Anna", "100000.0"],
            ["3", "Sarah", "95000.0"]
        ]
    );
    // A change set of some columns: USING (id), SET, INSERT BY NAME (the rest NULL), and the
    // source a Parquet file.
    let dir = tempfile::tempdir().unwrap();
    let changes = dir.path().join("changes.parquet");
    query(
        &mut s,
        &format!(
            "COPY (SELECT * FROM (VALUES (2, 'Ann'), (4, 'Dan')) v(id, name)) TO '{}'",
            changes.display()
        ),
    )
    .await;
    query(
        &mut s,
        &format!(
            "MERGE INTO people AS p USING '{}' AS c USING (id) \
             WHEN MATCHED THEN UPDATE SET name = upper(c.name) \
             WHEN NOT MATCHED THEN INSERT BY NAME",
            changes.display()
        ),
    )
    .await;
    assert_eq!(
        people(&mut s).await,
        [
            ["1", "John", "105000.0"],
            ["2", "ANN", "100000.0"],
            ["3", "Sarah", "95000.0"],
            ["4", "Dan", "NULL"]
        ]
    );
}

#[tokio::test]
async fn the_first_clause_that_holds_acts_on_a_row() {
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE stock (sku VARCHAR, qty INTEGER DEFAULT 7, note VARCHAR); \
         INSERT INTO stock VALUES ('a', 5, NULL), ('b', 0, NULL), ('c', 2, NULL), ('d', 9, NULL)",
    )
    .await;
    let merged = query(
        &mut s,
        "WITH delta AS (SELECT * FROM (VALUES ('a', -5), ('b', 3), ('c', -1), ('e', 4), \
         ('f', 0)) v(sku, change)) \
         MERGE INTO stock USING delta ON delta.sku = stock.sku \
         WHEN MATCHED AND stock.qty + delta.change <= 0 THEN DELETE \
         WHEN MATCHED THEN UPDATE SET qty = qty + change, note = 'moved' \
         WHEN NOT MATCHED AND delta.change = 0 THEN DO NOTHING \
         WHEN NOT MATCHED THEN INSERT (sku, note) VALUES (delta.sku, 'new ' || delta.change) \
         WHEN NOT MATCHED BY SOURCE THEN UPDATE SET note = 'untouched'",
    )
    .await;
    // a deleted; b, c updated; e inserted (qty its default); f left out; d untouched.
    assert_eq!(merged, [["5"]]);
    assert_eq!(
        query(&mut s, "SELECT * FROM stock ORDER BY sku").await,
        [
            ["b", "3", "moved"],
            ["c", "1", "moved"],
            ["d", "9", "untouched"],
            ["e", "7", "new 4"]
        ]
    );
    // A clause may read only the side its rows have.
    assert_eq!(
        error(
            &mut s,
            "MERGE INTO stock USING (SELECT 'z' AS sku) u ON u.sku = stock.sku \
             WHEN NOT MATCHED BY SOURCE THEN UPDATE SET note = u.sku"
        )
        .await,
        "Binder Error: Referenced table \"u\" not found! (WHEN NOT MATCHED BY SOURCE clauses \
         have no source row)"
    );
    // RETURNING answers with the changed rows and what was done to each (in Tarn, updated rows
    // first, then deleted ones, each in the table's order, then inserted ones).
    assert_eq!(
        query(
            &mut s,
            "MERGE INTO stock s USING (SELECT 'b' AS sku UNION ALL SELECT 'q') u USING (sku) \
             WHEN MATCHED THEN DELETE WHEN NOT MATCHED THEN INSERT DEFAULT VALUES \
             RETURNING merge_action, *"
        )
        .await,
        [
            ["DELETE", "b", "3", "moved"],
            ["INSERT", "NULL", "7", "NULL"]
        ]
    );
}

#[tokio::test]
async fn a_refused_merge_changes_nothing() {
    let mut s = session();
    query(&mut s, PEOPLE).await;
    query(
        &mut s,
        "CREATE TABLE keyed (id INTEGER PRIMARY KEY, v INTEGER NOT NULL); \
         INSERT INTO keyed VALUES (1, 1)",
    )
    .await;
    let head = "MERGE INTO people USING";
    for (sql, message) in [
        (
            format!(
                "{head} (SELECT 1 AS id UNION ALL SELECT 1) u ON u.id = people.id \
                 WHEN MATCHED THEN UPDATE SET salary = 0"
            ),
            "Invalid Input Error: MERGE INTO command cannot affect the same target row more \
             than once. A target row matched more than one source row; ensure the source rows \
             are deduplicated or the ON condition is unique.",
        ),
        (
            format!(
                "{head} (SELECT 1 AS id, 3 AS id2) u ON u.id = people.id \
                 WHEN MATCHED AND u.id2 = 3 THEN ERROR 'row ' || u.id || ' is frozen'"
            ),
            "Constraint Error: Merge error condition WHEN MATCHED: row 1 is frozen",
        ),
        (
            format!("{head} (SELECT 1 AS id) u ON u.id = people.id WHEN MATCHED THEN UPDATE SET *"),
            "Binder Error: Data provided for UPDATE did not match column count in table - \
             expected 3 columns but got 1",
        ),
        (
            format!(
                "{head} (SELECT 9 AS id) u ON u.id = people.id \
                 WHEN NOT MATCHED THEN INSERT VALUES (u.id, 'x')"
            ),
            "Binder Error: table \"people\" has 3 columns but 2 values were supplied",
        ),
        (
            format!(
                "{head} (SELECT 1 AS id) u ON u.id = people.id \
                 WHEN MATCHED THEN UPDATE SET nope = 1"
            ),
            "Binder Error: Referenced update column nope not found in table!",
        ),
        (
            format!(
                "{head} (SELECT 1 AS id) u ON u.id = people.id \
                 WHEN MATCHED THEN DELETE WHEN MATCHED THEN UPDATE SET salary = 1"
            ),
            "Parser Error: Unconditional WHEN MATCHED clause was already defined - any \
             following WHEN MATCHED clause would be unreachable",
        ),
        // Tarn's conversion message is DataFusion's.
        (
            format!(
                "{head} (SELECT 2 AS id) u ON u.id = people.id \
                 WHEN MATCHED THEN UPDATE SET salary = 'abc'"
            ),
            "Conversion Error: Could not convert string 'abc' to FLOAT",
        ),
        (
            "MERGE INTO keyed USING (SELECT 1 AS id, 5 AS v) u ON u.v = keyed.id \
             WHEN NOT MATCHED THEN INSERT VALUES (u.id, u.v)"
                .to_string(),
            "Constraint Error: Duplicate key \"id: 1\" violates primary key constraint.",
        ),
        (
            "MERGE INTO keyed USING (SELECT 1 AS id) u ON u.id = keyed.id \
             WHEN MATCHED THEN UPDATE SET v = NULL"
                .to_string(),
            "Constraint Error: NOT NULL constraint failed: keyed.v",
        ),
        // DuckDB: "Binder Error: Can only merge into base tables!"
        (
            "MERGE INTO 'changes.parquet' USING people ON true WHEN MATCHED THEN DELETE"
                .to_string(),
            "Invalid Input Error: MERGE changes the tables CREATE TABLE made; 'changes.parquet' \
             is a view or stands for files",
        ),
    ] {
        let err = error(&mut s, &sql).await;
        assert_eq!(err, message, "{sql}");
        assert_eq!(
            people(&mut s).await,
            [["1", "John", "92000.0"], ["2", "Anna", "100000.0"]],
            "{sql}"
        );
        assert_eq!(query(&mut s, "FROM keyed").await, [["1", "1"]], "{sql}");
    }
    // Inside a transaction, ROLLBACK undoes a MERGE.
    query(
        &mut s,
        "BEGIN; MERGE INTO people USING people AS again ON again.id = people.id \
         WHEN MATCHED THEN UPDATE SET salary = again.salary * 2; ROLLBACK",
    )
    .await;
    assert_eq!(
        people(&mut s).await,
        [["1", "John", "92000.0"], ["2", "Anna", "100000.0"]]
    );
}
