//! Reading CSV and JSON files as DuckDB reads them: a CSV file's delimiter and a JSON file's
//! layout (an array of records or a record per line) told from the file when not given,
//! `read_csv`'s options for names and types, compressed files (and COPY writing them); and
//! whole files as rows (`read_text`, `read_blob`). Answers as DuckDB 2.0 gives them.

use crate::sql::{columns, error, query, rows as rows_of, session};

/// A pipe-delimited file with a quoted pipe, an empty field and an empty date.
const PIPES: &str =
    "id|name|score|day\n1|alpha|0.5|2024-01-02\n2||NA|2024-01-03\n3|\"ga|mma\"|1.5|\n";

#[tokio::test]
async fn a_csv_files_delimiter_is_told_from_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    let pipes = dir.path().join("p.csv");
    std::fs::write(&pipes, PIPES).unwrap();
    let semicolons = dir.path().join("c.csv");
    std::fs::write(&semicolons, "# made by a tool\nid;note\n1;\"a;b\"\n2;'q'\n").unwrap();
    let mut s = session();
    let p = pipes.display();
    for sql in [
        format!("SELECT * FROM '{p}' ORDER BY id"),
        format!("SELECT * FROM read_csv_auto('{p}') ORDER BY id"),
    ] {
        let batches = s.query(&sql).await.unwrap();
        assert_eq!(columns(&batches), ["id", "name", "score", "day"], "{sql}");
        assert_eq!(
            crate::sql::rows(&batches),
            [
                ["1", "alpha", "0.5", "2024-01-02"],
                ["2", "NULL", "NA", "2024-01-03"],
                ["3", "ga|mma", "1.5", "NULL"]
            ],
            "{sql}"
        );
    }
    // Comment lines are not judged.
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT * FROM read_csv('{}', comment = '#') ORDER BY id",
                semicolons.display()
            )
        )
        .await,
        [["1", "a;b"], ["2", "'q'"]]
    );
}

#[tokio::test]
async fn read_csv_names_and_types_columns_as_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.csv");
    std::fs::write(&path, PIPES).unwrap();
    let p = path.display();
    let mut s = session();
    // Without a header DuckDB counts columns from 0.
    let batches = s
        .query(&format!(
            "SELECT * FROM read_csv('{p}', header = false) LIMIT 1"
        ))
        .await
        .unwrap();
    assert_eq!(
        columns(&batches),
        ["column0", "column1", "column2", "column3"]
    );
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT typeof(a), typeof(b), typeof(day), sum(a) \
                 FROM read_csv('{p}', names = ['a', 'b'], types = {{'day': 'VARCHAR', 'a': 'DOUBLE'}}) \
                 GROUP BY ALL"
            )
        )
        .await
        .iter()
        .map(|row| row.join(" "))
        .collect::<Vec<_>>(),
        ["DOUBLE VARCHAR VARCHAR 6.0"]
    );
    // `names` leaves the columns it does not reach their header's names.
    let batches = s
        .query(&format!(
            "SELECT * FROM read_csv('{p}', names = ['a']) LIMIT 1"
        ))
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["a", "name", "score", "day"]);
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT typeof(id), typeof(day), max(id) FROM read_csv('{p}', all_varchar = true) \
                 GROUP BY ALL"
            )
        )
        .await,
        [["VARCHAR", "VARCHAR", "3"]]
    );
    // A NULL text: the column keeps its type (DataFusion's reader would fail on `NA`), also
    // when each row's file is named.
    for filename in ["false", "true"] {
        assert_eq!(
            query(
                &mut s,
                &format!(
                    "SELECT id, score, typeof(score), score IS NULL FROM read_csv('{p}', \
                     nullstr = 'NA', filename = {filename}) WHERE id > 1 ORDER BY id"
                )
            )
            .await,
            [
                ["2", "NULL", "DOUBLE", "true"],
                ["3", "1.5", "DOUBLE", "false"]
            ]
        );
    }
    let message = error(
        &mut s,
        &format!("SELECT * FROM read_csv('{p}', types = {{'nope': 'INTEGER'}})"),
    )
    .await;
    assert!(message.contains("no column nope"), "{message}");
    let message = error(
        &mut s,
        &format!("SELECT * FROM read_csv('{p}', names = ['a', 'b', 'c', 'd', 'e'])"),
    )
    .await;
    assert!(message.contains("5 names for 4 columns"), "{message}");
}

#[tokio::test]
async fn a_json_array_of_records_reads_like_newline_delimited_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arr.json");
    std::fs::write(
        &path,
        "[\n  {\"id\": 1, \"tags\": [\"a\"]},\n  {\"id\": 2, \"tags\": []}\n]\n",
    )
    .unwrap();
    let p = path.display();
    let mut s = session();
    for sql in [
        format!("SELECT id, len(tags) FROM '{p}' ORDER BY id"),
        format!("SELECT id, len(tags) FROM read_json('{p}', format = 'array') ORDER BY id"),
    ] {
        assert_eq!(query(&mut s, &sql).await, [["1", "1"], ["2", "0"]], "{sql}");
    }
    let message = error(
        &mut s,
        &format!("SELECT * FROM read_json('{p}', format = 'newline_delimited')"),
    )
    .await;
    assert!(message.contains("arr.json"), "{message}");
}

/// `sample_size`: how many rows of each file type inference reads, as in DuckDB. A CSV code
/// column that is numeric for its first 1,500 rows and text after them reads as VARCHAR when
/// every row is sampled; a JSON field first seen in row 1,501 is a column only then.
#[tokio::test]
async fn sample_size_sets_how_many_rows_type_inference_reads() {
    let dir = tempfile::tempdir().unwrap();
    let codes: Vec<String> = (0..1500)
        .map(|i| i.to_string())
        .chain(["A7".into()])
        .collect();
    let csv = dir.path().join("codes.csv");
    std::fs::write(&csv, format!("code\n{}\n", codes.join("\n"))).unwrap();
    let mut s = session();
    let read_csv = |sample: i64| format!("read_csv('{}', sample_size = {sample})", csv.display());
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT typeof(code), count(*), max(code) FROM {} GROUP BY ALL",
                read_csv(-1)
            )
        )
        .await,
        [["VARCHAR", "1501", "A7"]]
    );
    // A sample of the first rows takes the column as a number, and the text fails to read.
    let message = error(&mut s, &format!("SELECT max(code) FROM {}", read_csv(100))).await;
    assert!(message.contains("A7"), "{message}");
    let message = error(&mut s, &format!("SELECT * FROM {}", read_csv(0))).await;
    assert!(
        message.contains("sample_size must be a number of rows"),
        "{message}"
    );

    let json = dir.path().join("late.jsonl");
    let mut lines: Vec<String> = (0..1500).map(|i| format!("{{\"id\": {i}}}")).collect();
    lines.push("{\"id\": 1500, \"extra\": \"late\"}".into());
    std::fs::write(&json, lines.join("\n")).unwrap();
    let read_json =
        |sample: i64| format!("read_json('{}', sample_size = {sample})", json.display());
    assert_eq!(
        query(
            &mut s,
            &format!("SELECT count(extra), max(extra) FROM {}", read_json(-1))
        )
        .await,
        [["1", "late"]]
    );
    let message = error(
        &mut s,
        &format!("SELECT count(extra) FROM {}", read_json(100)),
    )
    .await;
    assert!(message.contains("extra"), "{message}");
}

/// `ignore_errors`: a row with a field its column's type cannot read is left out, as DuckDB
/// leaves it out; without the option the read fails naming the value.
#[tokio::test]
async fn ignore_errors_leaves_out_the_rows_a_type_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dirty.csv");
    std::fs::write(
        &path,
        "id,score,day\n1,0.5,2024-01-01\n2,oops,2024-01-02\n3,1.5,not a day\n4,,2024-01-04\n\
         x,2.5,2024-01-05\n",
    )
    .unwrap();
    let p = path.display();
    let mut s = session();
    let types = "types = {'id': 'INTEGER', 'score': 'DOUBLE', 'day': 'DATE'}";
    assert_eq!(
        query(
            &mut s,
            &format!("SELECT * FROM read_csv('{p}', ignore_errors = true, {types}) ORDER BY id")
        )
        .await,
        [["1", "0.5", "2024-01-01"], ["4", "NULL", "2024-01-04"]]
    );
    // Inferred types read every row (the columns with text in them are VARCHAR).
    assert_eq!(
        query(
            &mut s,
            &format!("SELECT count(*) FROM read_csv('{p}', ignore_errors = true)")
        )
        .await,
        [["5"]]
    );
    let err = error(&mut s, &format!("SELECT * FROM read_csv('{p}', {types})")).await;
    assert!(err.contains("'x'") || err.contains("oops"), "{err}");
}

#[tokio::test]
async fn file_row_number_and_filename_say_where_each_row_comes_from() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    // Two files of several row groups each, so the numbers run across row groups, restart per
    // file, and survive a filter the scan applies.
    for (name, start) in [("a", 0), ("b", 1000)] {
        let path = dir.path().join(format!("{name}.parquet"));
        query(
            &mut s,
            &format!(
                "COPY (SELECT {start} + n AS id FROM range(2500) AS r(n) ORDER BY n) \
                 TO '{}' (FORMAT parquet, ROW_GROUP_SIZE 1000)",
                path.display()
            ),
        )
        .await;
    }
    let glob = dir.path().join("*.parquet");
    let glob = glob.display();
    let batches = s
        .query(&format!(
            "SELECT * FROM read_parquet('{glob}', file_row_number = true, filename = true) \
             WHERE id % 1000 = 999 ORDER BY id, file_row_number"
        ))
        .await
        .unwrap();
    assert_eq!(columns(&batches), ["id", "file_row_number", "filename"]);
    let numbered: Vec<[String; 2]> = crate::sql::rows(&batches)
        .into_iter()
        .map(|row| [row[0].clone(), row[1].clone()])
        .collect();
    assert_eq!(
        numbered,
        [
            ["999", "999"],
            ["1999", "999"],
            ["1999", "1999"],
            ["2999", "1999"]
        ]
        .map(|r| r.map(String::from))
    );
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT count(*), count(*) FILTER (WHERE file_row_number <> id - \
                 CASE WHEN filename LIKE '%b.parquet' THEN 1000 ELSE 0 END) \
                 FROM read_parquet('{glob}', file_row_number = true, filename = true)"
            )
        )
        .await,
        [["5000", "0"]]
    );
    let err = error(
        &mut s,
        &format!("SELECT * FROM read_csv('{glob}', file_row_number = true)"),
    )
    .await;
    assert!(err.contains("file_row_number"), "{err}");
    // DuckDB's path functions take the file's name apart.
    let folder = dir.path().display().to_string();
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT parse_filename(filename), parse_filename(filename, true), \
                 parse_dirpath(filename) = '{folder}', parse_dirname(filename), \
                 parse_path(filename)[-1], count(*) \
                 FROM read_parquet('{glob}', filename = true) GROUP BY ALL ORDER BY ALL"
            )
        )
        .await,
        [
            ["a.parquet", "a", "true", "/", "a.parquet", "2500"],
            ["b.parquet", "b", "true", "/", "b.parquet", "2500"]
        ]
    );
}

/// `dateformat` and `timestampformat`: a text column whose values all read in a format is a
/// DATE or a TIMESTAMP, one they do not all fit stays VARCHAR, and a column typed DATE is read
/// in the format, a value that does not fit failing the read (naming it, its column and its
/// file) or, with `ignore_errors`, leaving its row out.
#[tokio::test]
async fn dates_and_times_in_a_given_format_are_typed_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let dates = dir.path().join("dmy.csv");
    std::fs::write(
        &dates,
        "id,day,seen,note\n1,05/01/2024,05/01/2024 10:30,a\n2,31/12/2023,31/12/2023 23:59,b\n\
         3,,01/02/2024 00:00,c\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "id,day\n1,05/01/2024\n2,someday\n3,31/12/2023\n").unwrap();
    let (dates, bad) = (dates.display(), bad.display());
    let mut s = session();
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT *, typeof(day), typeof(seen) FROM read_csv('{dates}', \
                 dateformat = '%d/%m/%Y', timestampformat = '%d/%m/%Y %H:%M') ORDER BY id"
            )
        )
        .await,
        [
            [
                "1",
                "2024-01-05",
                "2024-01-05T10:30:00",
                "a",
                "DATE",
                "TIMESTAMP"
            ],
            [
                "2",
                "2023-12-31",
                "2023-12-31T23:59:00",
                "b",
                "DATE",
                "TIMESTAMP"
            ],
            ["3", "NULL", "2024-02-01T00:00:00", "c", "DATE", "TIMESTAMP"]
        ]
    );
    // 31/12 is no month/day: the column stays text.
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT DISTINCT typeof(day), typeof(seen) \
                 FROM read_csv('{dates}', date_format = '%m/%d/%Y')"
            )
        )
        .await,
        [["VARCHAR", "VARCHAR"]]
    );
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT id, day, typeof(day) FROM read_csv('{bad}', dateformat = '%d/%m/%Y') \
                 ORDER BY id"
            )
        )
        .await,
        [
            ["1", "05/01/2024", "VARCHAR"],
            ["2", "someday", "VARCHAR"],
            ["3", "31/12/2023", "VARCHAR"]
        ]
    );
    let typed = format!("read_csv('{bad}', dateformat = '%d/%m/%Y', types = {{'day': 'DATE'}}");
    assert_eq!(
        query(
            &mut s,
            &format!("SELECT id, day FROM {typed}, ignore_errors = true) ORDER BY id")
        )
        .await,
        [["1", "2024-01-05"], ["3", "2023-12-31"]]
    );
    // One line naming the value, the column, the file and the reading.
    let err = error(&mut s, &format!("SELECT id, day FROM {typed})")).await;
    assert_eq!(
        err,
        format!(
            "Conversion Error: 'someday' in column day of '{bad}' cannot be read as DATE in \
             the format '%d/%m/%Y'"
        )
    );
    let err = error(
        &mut s,
        &format!("SELECT * FROM read_csv('{bad}', nullstr = 'NA', types = {{'id': 'BIGINT', 'day': 'INTEGER'}})"),
    )
    .await;
    assert_eq!(
        err,
        format!(
            "Conversion Error: '05/01/2024' in column day of '{bad}' cannot be read as INTEGER"
        )
    );
}

#[tokio::test]
async fn read_text_and_read_blob_give_a_row_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(docs.join("a.txt"), "first doc\nline two").unwrap();
    std::fs::write(docs.join("b.txt"), "héllo").unwrap();
    std::fs::write(docs.join("c.txt"), "").unwrap();
    std::fs::write(docs.join("latin1.bin"), b"caf\xe9").unwrap();
    let mut s = session();
    let d = docs.display();
    let batches = s
        .query(&format!(
            "SELECT replace(filename, '{d}/', '') AS name, content, size, \
             typeof(last_modified) FROM read_text('{d}/*.txt') ORDER BY name"
        ))
        .await
        .unwrap();
    assert_eq!(
        crate::sql::rows(&batches),
        [
            [
                "a.txt",
                "first doc\nline two",
                "18",
                "TIMESTAMP WITH TIME ZONE"
            ],
            ["b.txt", "héllo", "6", "TIMESTAMP WITH TIME ZONE"],
            ["c.txt", "", "0", "TIMESTAMP WITH TIME ZONE"],
        ]
    );
    // Bytes as they are; and a query that reads no content reads no file, so the file that is
    // no UTF-8 text is listed by `read_text` too.
    assert_eq!(
        query(
            &mut s,
            &format!("SELECT content, octet_length(content) FROM read_blob('{d}/latin1.bin')")
        )
        .await,
        [["636166e9", "4"]]
    );
    assert_eq!(
        query(
            &mut s,
            &format!("SELECT count(*), sum(size) FROM read_text(['{d}/*.txt', '{d}/*.bin'])")
        )
        .await,
        [["4", "28"]]
    );
    let err = error(&mut s, &format!("SELECT content FROM read_text('{d}/*')")).await;
    assert!(
        err.contains("read_text: '") && err.contains("latin1.bin' is not valid UTF-8 text"),
        "{err}"
    );
    let err = error(&mut s, &format!("SELECT * FROM read_text('{d}/*.md')")).await;
    assert!(
        err.contains("no files found") && err.contains("*.md"),
        "{err}"
    );
}

#[tokio::test]
async fn copy_writes_compressed_and_formatted_text_that_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let mut s = session();
    // The compression follows the extension (or COMPRESSION), as in DuckDB, and the files
    // read back through it.
    query(
        &mut s,
        &format!(
            "COPY (SELECT range AS id, 'doc ' || range AS text FROM range(3)) TO '{d}/a.csv.gz'; \
             COPY (SELECT range AS id FROM range(4)) TO '{d}/b.jsonl.zst'; \
             COPY (SELECT 1 AS id) TO '{d}/c.csv' (COMPRESSION gzip)"
        ),
    )
    .await;
    let gzip_magic = [0x1f, 0x8b];
    assert_eq!(
        std::fs::read(dir.path().join("a.csv.gz")).unwrap()[..2],
        gzip_magic
    );
    assert_eq!(
        std::fs::read(dir.path().join("c.csv")).unwrap()[..2],
        gzip_magic
    );
    let zstd_magic = [0x28, 0xb5, 0x2f, 0xfd];
    assert_eq!(
        std::fs::read(dir.path().join("b.jsonl.zst")).unwrap()[..4],
        zstd_magic
    );
    assert_eq!(
        query(
            &mut s,
            &format!("SELECT * FROM '{d}/a.csv.gz' ORDER BY id DESC LIMIT 1")
        )
        .await,
        [["2", "doc 2"]]
    );
    assert_eq!(
        query(&mut s, &format!("SELECT sum(id) FROM '{d}/b.jsonl.zst'")).await,
        [["6"]]
    );
    // CSV's QUOTE, NULLSTR, DATEFORMAT and TIMESTAMPFORMAT, as DuckDB writes them.
    query(
        &mut s,
        &format!(
            "COPY (SELECT 'x,y' AS a, NULL AS b, DATE '2024-03-05' AS d, \
             TIMESTAMP '2024-03-05 07:08:09' AS t) TO '{d}/f.csv' (QUOTE '''', NULLSTR 'NA', \
             DATEFORMAT '%d/%m/%Y', TIMESTAMPFORMAT '%Y%m%d %H%M')"
        ),
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(dir.path().join("f.csv")).unwrap(),
        "a,b,d,t\n'x,y',NA,05/03/2024,20240305 0708\n"
    );
    // JSON as one array, byte for byte as DuckDB writes it, which reads back.
    query(
        &mut s,
        &format!(
            "COPY (SELECT range AS a, 'x' AS b FROM range(2)) TO '{d}/i.json' (FORMAT json, ARRAY true)"
        ),
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(dir.path().join("i.json")).unwrap(),
        "[\n\t{\"a\":0,\"b\":\"x\"},\n\t{\"a\":1,\"b\":\"x\"}\n]\n"
    );
    assert_eq!(
        query(
            &mut s,
            &format!("SELECT sum(a) FROM read_json('{d}/i.json')")
        )
        .await,
        [["1"]]
    );
    for (sql, message) in [
        (
            format!("COPY (SELECT 1) TO '{d}/j.json.gz' (ARRAY true)"),
            "ARRAY writes one uncompressed JSON file",
        ),
        (
            format!("COPY (SELECT 1) TO '{d}/g.parquet' (NULLSTR 'NA')"),
            "NULLSTR, DATEFORMAT and TIMESTAMPFORMAT are CSV options",
        ),
        (
            format!("COPY (SELECT 1) TO '{d}/h.csv' (COMPRESSION snappy)"),
            "COMPRESSION 'snappy' is not one for CSV or JSON files",
        ),
    ] {
        let err = error(&mut s, &sql).await;
        assert!(err.contains(message), "{sql}: {err}");
    }
}

#[tokio::test]
async fn a_csv_files_header_is_sniffed_as_duckdb_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    // Answers as DuckDB 2.0 gives them for the same files: a first line of values like the
    // rest is a row (reading it as a header lost it), one that is not is the header.
    // (file name, its text, the columns read, the rows read)
    type Case<'a> = (&'a str, &'a str, &'a [&'a str], &'a [&'a [&'a str]]);
    let cases: &[Case] = &[
        ("ids", "0\n1\n2\n", &["column0"], &[&["0"], &["1"], &["2"]]),
        (
            "pairs",
            "1,a\n2,b\n",
            &["column0", "column1"],
            &[&["1", "a"], &["2", "b"]],
        ),
        (
            "dated",
            "1.5|2024-01-01\n2.5|2024-01-02\n",
            &["column0", "column1"],
            &[&["1.5", "2024-01-01"], &["2.5", "2024-01-02"]],
        ),
        ("named", "id,name\n1,a\n", &["id", "name"], &[&["1", "a"]]),
        ("numbered", "n\n1\n2\n", &["n"], &[&["1"], &["2"]]),
        (
            "words",
            "name\nbob\nalice\n",
            &["name"],
            &[&["bob"], &["alice"]],
        ),
    ];
    for (name, text, names, rows) in cases {
        let path = dir.path().join(format!("{name}.csv"));
        std::fs::write(&path, text).unwrap();
        let batches = s
            .query(&format!("FROM '{}'", path.display()))
            .await
            .unwrap();
        assert_eq!(columns(&batches), *names, "{name}");
        assert_eq!(rows_of(&batches), *rows, "{name}");
    }
    // Said outright, the header is as told.
    let path = dir.path().join("ids.csv");
    assert_eq!(
        query(
            &mut s,
            &format!(
                "SELECT count(*) FROM read_csv('{}', header = true)",
                path.display()
            )
        )
        .await,
        [["2"]]
    );
}

#[tokio::test]
async fn column_types_are_read_as_duckdb_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs.json");
    std::fs::write(
        &docs,
        "{\"Id\": 1, \"meta\": {\"sourceUrl\": \"http://a\", \"wordCount\": 3}}\n",
    )
    .unwrap();
    let tags = dir.path().join("tags.csv");
    std::fs::write(&tags, "id,tags,when\n1,\"[a, b]\",2024-01-02 03:04:05+00\n").unwrap();
    let mut s = session();
    // Nested types, and struct fields in the case they are written (the JSON's keys), as in
    // DuckDB 2.0.
    let json = format!(
        "SELECT *, typeof(meta) FROM read_json('{}', columns => {{'Id': 'INTEGER', \
         'meta': 'STRUCT(sourceUrl VARCHAR, wordCount BIGINT)'}})",
        docs.display()
    );
    assert_eq!(
        query(&mut s, &json).await,
        [[
            "1",
            "{sourceUrl: http://a, wordCount: 3}",
            "STRUCT(sourceUrl VARCHAR, wordCount BIGINT)"
        ]]
    );
    let csv = format!(
        "SELECT id, tags, CAST(\"when\" AS VARCHAR), typeof(tags), typeof(\"when\") \
         FROM read_csv('{}', types => {{'tags': 'VARCHAR[]', 'when': 'TIMESTAMPTZ'}})",
        tags.display()
    );
    assert_eq!(
        query(&mut s, &csv).await,
        [[
            "1",
            "[a, b]",
            "2024-01-02 03:04:05+00",
            "VARCHAR[]",
            "TIMESTAMP WITH TIME ZONE"
        ]]
    );
    let err = crate::sql::error(
        &mut s,
        &format!(
            "SELECT * FROM read_csv('{}', types => {{'id': 'INTEGR'}})",
            tags.display()
        ),
    )
    .await;
    assert!(err.contains("unknown type 'INTEGR'"), "{err}");
}
