//! The `tarn` binary end to end: -c, -f, standard input, exit status, dot commands, modes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn tarn(args: &[&str], stdin: Option<&str>, dir: &std::path::Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tarn"))
        .args(args)
        .current_dir(dir)
        .env("TARN_THREADS", "2")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn commands_print_csv_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let out = tarn(
        &["sql", "-c", "SELECT 1 AS a, 'x' AS b; SELECT 2 AS c"],
        None,
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "a,b\n1,x\nc\n2\n");
}

#[test]
fn first_error_stops_unless_keep_going() {
    let dir = tempfile::tempdir().unwrap();
    let script = "SELECT 1 AS a;\nSELECT * FROM missing_table;\nSELECT 3 AS c;\n";
    let out = tarn(&["sql"], Some(script), dir.path());
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "a\n1\n");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("Error: ") && err.contains("missing_table"),
        "{err}"
    );

    let out = tarn(&["sql", "--keep-going"], Some(script), dir.path());
    assert!(
        !out.status.success(),
        "a failure still sets the exit status"
    );
    assert_eq!(stdout(&out), "a\n1\nc\n3\n");
}

#[test]
fn files_dot_commands_and_modes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("setup.sql"),
        "-- make a table\nCREATE TABLE t AS SELECT * FROM (VALUES (1, 'one'), (2, 'two')) v(id, name);\n",
    )
    .unwrap();
    let script = "\
.read setup.sql
.tables
.mode markdown
SELECT * FROM t ORDER BY id;
.mode jsonl
SELECT name FROM t WHERE id = 2;
.mode line
SELECT id, name FROM t WHERE id = 1;
.output result.json
.mode json
FROM t ORDER BY id;
.output
.schema t
.timer on
SELECT 42 AS answer;
";
    std::fs::write(dir.path().join("script.sql"), script).unwrap();
    let out = tarn(&["sql", "-f", "script.sql"], None, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "t\n| id | name |\n|---:|---|\n| 1 | one |\n| 2 | two |\n{\"name\":\"two\"}\n  id = 1\nname = one\n\
         CREATE TABLE t(id BIGINT, name VARCHAR);\n[{\"answer\":42}]\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("result.json")).unwrap(),
        "[{\"id\":1,\"name\":\"one\"},{\"id\":2,\"name\":\"two\"}]\n"
    );
    assert!(
        stderr(&out).contains("Run Time (s): real"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn quickstart_example_runs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let out = tarn(&["sql", "-f", "examples/quickstart.sql"], None, root);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("n_tokens") && text.contains("quality"),
        "{text}"
    );
    assert!(text.contains("│ en ") && text.contains("│ fr "), "{text}");
}

#[test]
fn bad_input_is_one_line_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.parquet"), b"PAR1 garbage").unwrap();
    for (sql, expected) in [
        ("SELECT * FROM 'bad.parquet'", "bad.parquet"),
        ("SELECT * FROM 'nothing/*.parquet'", "nothing/*.parquet"),
        ("SELEC 1", "Line: 1"),
        (".mode fancy", "unknown output mode 'fancy'"),
        ("COPY (SELECT 1) TO 'x' (FORMAT avro)", "avro"),
    ] {
        let out = tarn(&["sql", "-c", sql], None, dir.path());
        assert!(!out.status.success(), "{sql}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{sql}: {err}");
        assert!(err.contains(expected), "{sql}: {err}");
        assert!(!err.contains("panicked"), "{sql}: {err}");
    }
}
