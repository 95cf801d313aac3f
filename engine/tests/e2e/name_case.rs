//! Names found whatever their case, and kept in the case they were given, as DuckDB has them:
//! files whose columns and struct fields have capitals (`Text`, `meta.sourceUrl`) read with
//! any spelling, and aliases (`AS Total`) named as written. Answers as DuckDB 2.0 gives them.

use crate::sql::{columns, query, rows, session};

/// Two records with capitalised columns and struct fields, as JSON tools write them.
const DOCS: &str = "{\"Id\": 1, \"Text\": \"hi\", \"meta\": {\"sourceUrl\": \"http://a\", \
                    \"wordCount\": 3}}\n{\"Id\": 2, \"Text\": \"yo\", \"meta\": {\"sourceUrl\": \
                    \"http://b\", \"wordCount\": 5}}\n";

#[tokio::test]
async fn columns_and_fields_are_found_whatever_their_case() {
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs.json");
    std::fs::write(&docs, DOCS).unwrap();
    let docs = docs.display();
    let mut s = session();
    query(
        &mut s,
        "CREATE TABLE scores AS SELECT 1 AS DocId, 0.5 AS Score UNION ALL SELECT 2, 0.25",
    )
    .await;
    // (query, the columns DuckDB names, its rows)
    type Case<'a> = (String, &'a [&'a str], &'a [&'a [&'a str]]);
    let cases: &[Case] = &[
        (
            format!("SELECT text FROM '{docs}' WHERE TEXT <> 'yo' ORDER BY ID"),
            &["Text"],
            &[&["hi"]],
        ),
        // Quoted names too: DuckDB matches every name regardless of case.
        (
            format!("SELECT \"id\", \"TEXT\" FROM '{docs}' ORDER BY id"),
            &["Id", "Text"],
            &[&["1", "hi"], &["2", "yo"]],
        ),
        // A struct field is named as written, a column by its own name.
        (
            format!(
                "SELECT meta.sourceurl, META.WORDCOUNT FROM '{docs}' d WHERE d.Meta.wordcount > 3"
            ),
            &["sourceurl", "WORDCOUNT"],
            &[&["http://b", "5"]],
        ),
        (
            format!(
                "SELECT total + top FROM (SELECT count(*) AS Total, max(id) AS Top FROM '{docs}')"
            ),
            &["(total + top)"],
            &[&["4"]],
        ),
        (
            format!(
                "SELECT * EXCLUDE (META, text) FROM '{docs}' JOIN scores ON id = docid ORDER BY ID"
            ),
            &["Id", "DocId", "Score"],
            &[&["1", "1", "0.50"], &["2", "2", "0.25"]],
        ),
        (
            format!(
                "SELECT * EXCLUDE (meta) FROM '{docs}' JOIN (SELECT docid AS Id, score FROM scores) \
                 USING (id) ORDER BY score"
            ),
            &["Id", "Text", "Score"],
            &[&["2", "yo", "0.25"], &["1", "hi", "0.50"]],
        ),
        // A struct's field by subscript or struct_extract; a map's key keeps its case.
        (
            format!(
                "SELECT meta['sourceurl'] AS url, struct_extract(meta, 'WORDCOUNT') AS words, \
                 MAP {{'AB': 1}}['ab'] AS missing, {{'Ab': 2}}['aB'] AS given \
                 FROM '{docs}' ORDER BY id"
            ),
            &["url", "words", "missing", "given"],
            &[
                &["http://a", "3", "NULL", "2"],
                &["http://b", "5", "NULL", "2"],
            ],
        ),
    ];
    for (sql, names, expected) in cases {
        let batches = s
            .query(sql)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
        assert_eq!(columns(&batches), *names, "{sql}");
        assert_eq!(rows(&batches), *expected, "{sql}");
    }
}

#[tokio::test]
async fn aliases_keep_their_case_through_tables_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scores.parquet");
    let out = out.display();
    let mut s = session();
    for statement in [
        "CREATE TABLE scores AS SELECT 1 AS DocId, 0.5 AS Score UNION ALL SELECT 2, 0.25",
        "INSERT INTO scores (docid, SCORE) VALUES (3, 1.0)",
        "UPDATE scores SET score = 2 WHERE DOCID = 3",
        "ALTER TABLE scores RENAME COLUMN score TO Weight",
        "ALTER TABLE scores ADD COLUMN Model VARCHAR DEFAULT 'v1'",
        &format!("COPY (SELECT docid, weight * 2 AS Doubled, model FROM scores) TO '{out}'"),
    ] {
        query(&mut s, statement).await;
    }
    let batches = s
        .query("SELECT * FROM scores ORDER BY docid")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["DocId", "Weight", "Model"]);
    assert_eq!(
        rows(&batches),
        [
            ["1", "0.50", "v1"],
            ["2", "0.25", "v1"],
            ["3", "2.00", "v1"]
        ]
    );
    let batches = s
        .query(&format!(
            "SELECT * FROM '{out}' WHERE DOUBLED > 1 ORDER BY doubled"
        ))
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["DocId", "Doubled", "Model"]);
    assert_eq!(rows(&batches), [["3", "4.00", "v1"]]);
    // CTE and table alias columns keep their case too.
    let batches = s
        .query("WITH c(Ab) AS (SELECT 1) SELECT ab, Cd FROM c, (VALUES (2)) v(cD)")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["Ab", "cD"]);
}

#[tokio::test]
async fn declared_columns_and_struct_fields_keep_their_case() {
    let mut s = session();
    for statement in [
        "CREATE TABLE docs(DocId INT PRIMARY KEY, Score DOUBLE CHECK (score >= 0), \
         Meta STRUCT(sourceUrl VARCHAR, \"x y\" INT))",
        // A struct's fields are cast to the column's regardless of case.
        "INSERT INTO docs VALUES (1, 0.5, {'SOURCEURL': 'http://a', 'X Y': 1})",
        "INSERT INTO docs VALUES (1, 0.7, NULL) ON CONFLICT (docid) DO UPDATE SET score = excluded.SCORE",
    ] {
        query(&mut s, statement).await;
    }
    // Structs compared or combined match their fields regardless of case too, and a name a
    // column and an alias share but for case is the column's.
    assert_eq!(
        query(
            &mut s,
            "SELECT {'a': 1} = {'A': 1}, docid AS \"DOCID\" FROM docs \
             UNION ALL SELECT {'A': 2} = {'a': 3}, 2 ORDER BY 2"
        )
        .await,
        [["true", "1"], ["false", "2"]]
    );
    let broken = s.query("INSERT INTO docs VALUES (2, -1, NULL)").await;
    assert_eq!(
        broken.unwrap_err().to_string(),
        "Constraint Error: CHECK constraint failed on table \"docs\" with expression \
         CHECK((score >= 0))"
    );
    // As DuckDB 2.0 answers each.
    let batches = s
        .query("SELECT docid, score, meta.sourceurl, meta FROM docs")
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["DocId", "Score", "sourceurl", "Meta"]);
    assert_eq!(
        rows(&batches),
        [["1", "0.7", "http://a", "{sourceUrl: http://a, x y: 1}"]]
    );
    assert_eq!(
        query(
            &mut s,
            "SELECT column_name, column_type FROM (DESCRIBE docs)"
        )
        .await,
        [
            ["DocId", "INTEGER"],
            ["Score", "DOUBLE"],
            ["Meta", "STRUCT(sourceUrl VARCHAR, \"x y\" INTEGER)"]
        ]
    );
    assert_eq!(
        query(&mut s, "SELECT sql FROM duckdb_tables()").await,
        [[
            "CREATE TABLE docs(DocId INTEGER PRIMARY KEY, Score DOUBLE, Meta STRUCT(sourceUrl \
             VARCHAR, \"x y\" INTEGER), CHECK((score >= 0)));"
        ]]
    );
}

/// Relations that spell a column differently (`Id` in one, `ID` in the other) join on it by
/// USING, NATURAL or qualified names, each side's name found among its own columns.
#[tokio::test]
async fn a_column_two_relations_spell_differently_is_each_ones_own() {
    let mut s = session();
    query(&mut s, "CREATE TABLE docs AS SELECT 1 AS Id, 'a' AS x").await;
    query(
        &mut s,
        "CREATE TABLE labels AS SELECT 1 AS ID, 'b' AS y UNION ALL SELECT 2, 'c'",
    )
    .await;
    let sub = "(SELECT 1 AS Id, 'a' AS x) d JOIN (SELECT 1 AS ID, 'b' AS y) l";
    // (query, the columns DuckDB names, its rows)
    type Case<'a> = (String, &'a [&'a str], &'a [&'a [&'a str]]);
    let cases: &[Case] = &[
        (
            "SELECT * FROM docs JOIN labels USING (id)".into(),
            &["Id", "x", "y"],
            &[&["1", "a", "b"]],
        ),
        (
            "SELECT * FROM docs NATURAL JOIN labels WHERE id = 1".into(),
            &["Id", "x", "y"],
            &[&["1", "a", "b"]],
        ),
        (
            "SELECT id, x, y FROM docs FULL JOIN labels USING (ID) ORDER BY 1".into(),
            &["id", "x", "y"],
            &[&["1", "a", "b"], &["2", "NULL", "c"]],
        ),
        (
            "SELECT d.*, l.* EXCLUDE (id) FROM docs d RIGHT JOIN labels l ON d.id = l.id \
             ORDER BY l.iD"
                .into(),
            &["Id", "x", "y"],
            &[&["1", "a", "b"], &["NULL", "NULL", "c"]],
        ),
        (
            format!("SELECT * FROM {sub} USING (id)"),
            &["Id", "x", "y"],
            &[&["1", "a", "b"]],
        ),
        (
            format!("SELECT l.Id AS label, d.ID AS doc FROM {sub} ON d.id = l.id"),
            &["label", "doc"],
            &[&["1", "1"]],
        ),
    ];
    for (sql, names, answer) in cases {
        let batches = s.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(columns(&batches), *names, "{sql}");
        assert_eq!(rows(&batches), *answer, "{sql}");
    }
}
