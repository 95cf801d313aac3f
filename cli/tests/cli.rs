//! The `tarn` binary end to end: -c, -f, standard input, exit status, dot commands, modes.

#[path = "cli/cluster.rs"]
mod cluster;

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
         CREATE TABLE t(id INTEGER, name VARCHAR);\n[{\"answer\":42}]\n"
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
    // Read when the test runs, not baked in when it compiles: clones share one target folder,
    // and a test binary built in another clone would point at that clone.
    let crate_dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = crate_dir.parent().unwrap();
    let out = tarn(&["sql", "-f", "examples/quickstart.sql"], None, root);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("n_tokens") && text.contains("quality"),
        "{text}"
    );
    assert!(text.contains("│ en ") && text.contains("│ fr "), "{text}");
    // Semantic search: the water question's nearest topic is rivers and lakes.
    let (rivers, mountains) = (
        text.find("│ rivers and lakes"),
        text.find("│ mountain weather"),
    );
    assert!(rivers.is_some() && rivers < mountains, "{text}");
}

#[test]
fn corpus_pipeline_example_runs() {
    // examples/corpus_pipeline.sql as written, but writing into a temporary folder.
    let crate_dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = crate_dir.parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let pipeline = std::fs::read_to_string(root.join("examples/corpus_pipeline.sql"))
        .unwrap()
        .replace("'corpus_pipeline/'", &format!("'{}/'", out_dir.display()));
    let path = dir.path().join("pipeline.sql");
    std::fs::write(&path, pipeline).unwrap();
    let data = dir.path().join("data");
    let out = tarn(
        &[
            "run",
            path.to_str().unwrap(),
            "--data-root",
            data.to_str().unwrap(),
        ],
        None,
        root,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // Every document kept once, near-duplicates gone, each with its expert and a score.
    let check = tarn(
        &[
            "sql",
            "-c",
            &format!(
                "SELECT count(*) > 0 AND count(*) < 500, count(*) = count(DISTINCT id),
                        count(model_quality) = count(*), min(expert) >= 0 AND max(expert) < 8
                 FROM '{}/*.parquet'",
                out_dir.display()
            ),
        ],
        None,
        root,
    );
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(
        stdout(&check).ends_with("true,true,true,true\n"),
        "{}",
        stdout(&check)
    );
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

/// Writes 200 000 rows with 5 000 distinct urls as `corpus.parquet` in `dir`.
fn write_corpus(dir: &std::path::Path) {
    let out = tarn(
        &[
            "sql",
            "-c",
            "COPY (SELECT i AS id, 'u' || (i % 5000) AS url, repeat('x', i % 90) AS text
                   FROM range(0, 200000) t(i)) TO 'corpus.parquet' (FORMAT parquet)",
        ],
        None,
        dir,
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

const DEDUP_PIPELINE: &str = "
CREATE STAGE docs AS read_parquet('corpus.parquet');
CREATE STAGE parts AS repartition(docs, 300, hash_by => 'url');
CREATE STAGE dedup AS partial_sql('SELECT url, min(id) AS id, max(length(text)) AS len FROM {0} GROUP BY url', parts);
COPY dedup TO 'OUT' (FORMAT parquet);
";

/// Every row of a written folder, sorted, as CSV.
fn contents(dir: &std::path::Path, folder: &str) -> String {
    let query = format!("SELECT * FROM '{folder}' ORDER BY ALL");
    let out = tarn(&["sql", "-c", &query], None, dir);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn run_resumes_a_killed_job_without_losing_or_repeating_rows() {
    let dir = tempfile::tempdir().unwrap();
    write_corpus(dir.path());
    std::fs::write(
        dir.path().join("a.sql"),
        DEDUP_PIPELINE.replace("OUT", "whole"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.sql"),
        DEDUP_PIPELINE.replace("OUT", "resumed"),
    )
    .unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();

    let whole = tarn(
        &["run", "a.sql", "--data-root", data, "--job-id", "whole"],
        None,
        dir.path(),
    );
    assert!(whole.status.success(), "{}", stderr(&whole));

    // One task at a time, so the job is surely in the middle of its second stage when killed.
    let args = [
        "run",
        "b.sql",
        "--data-root",
        data,
        "--job-id",
        "killed",
        "--concurrency",
        "1",
    ];
    let finished_before_kill = kill_when_done(
        &args,
        dir.path(),
        &dir.path().join("data/killed/tasks/n02-sql"),
        20,
    );
    assert!(
        finished_before_kill < 300,
        "the job ended before it was killed"
    );
    assert!(
        !dir.path().join("resumed").exists(),
        "no output appears before the job ends"
    );

    let rerun = tarn(&args, None, dir.path());
    assert!(rerun.status.success(), "{}", stderr(&rerun));
    let summary = stdout(&rerun);
    // The shuffle had finished: its one producer (concurrency 1) is not run again.
    assert!(summary.contains("1 tasks (1 resumed)"), "{summary}");
    assert!(
        summary.contains(&format!("300 tasks ({finished_before_kill} resumed)")),
        "{summary}"
    );
    let expected = contents(dir.path(), "whole");
    assert_eq!(expected.lines().count(), 5001);
    assert_eq!(contents(dir.path(), "resumed"), expected);
}

#[test]
fn run_reports_pipeline_errors_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    write_corpus(dir.path());
    std::fs::write(
        dir.path().join("p.sql"),
        "CREATE STAGE docs AS read_parquet('corpus.parquet');\n\
         CREATE STAGE parts AS repartition(docs, 4, by => 'id');\n\
         COPY parts TO 'out' (FORMAT parquet);\n",
    )
    .unwrap();
    let out = tarn(&["run", "p.sql", "--data-root", "data"], None, dir.path());
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("is out of range 0-3"), "{err}");
    assert!(!dir.path().join("out").exists());
}

/// The files of `dir` whose names end in `.done`.
fn done_records(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".done")
            })
            .count()
        })
        .unwrap_or(0)
}

/// Starts `tarn args` and kills it (SIGKILL) once `done_dir` holds `count` `.done` records;
/// returns how many it holds after the process has died.
fn kill_when_done(
    args: &[&str],
    dir: &std::path::Path,
    done_dir: &std::path::Path,
    count: usize,
) -> usize {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tarn"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while done_records(done_dir) < count {
        assert!(
            started.elapsed().as_secs() < 120,
            "tarn {args:?} never finished {count} tasks in {}",
            done_dir.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    done_records(done_dir)
}

#[test]
fn sort_gen_run_validate_and_resume_after_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let generated = tarn(
        &["sort", "gen", "in", "--records", "1000", "--files", "2"],
        None,
        dir.path(),
    );
    assert!(generated.status.success(), "{}", stderr(&generated));
    // gensort 1.5 prints this checksum for its first 1000 records.
    assert_eq!(stdout(&generated), "Records: 1000\nChecksum: 1ea6370b955\n");
    let unsorted = tarn(&["sort", "validate", "in"], None, dir.path());
    assert_eq!(unsorted.status.code(), Some(1));
    assert!(stdout(&unsorted).starts_with("First unordered record is record "));
    // Records live on a local disk or a 3FS mount: an object-store URL is refused, not taken
    // for a folder named `s3:`.
    let in_s3 = tarn(
        &["sort", "gen", "s3://bucket/in", "--records", "10"],
        None,
        dir.path(),
    );
    assert_eq!(in_s3.status.code(), Some(2));
    assert!(
        stderr(&in_s3).contains(
            "'s3://bucket/in': tarn sort reads and writes records on a local disk or a 3FS mount"
        ),
        "{}",
        stderr(&in_s3)
    );
    assert!(!dir.path().join("s3:").exists());

    let big = tarn(
        &["sort", "gen", "big", "--records", "600000", "--skew"],
        None,
        dir.path(),
    );
    let checksum = stdout(&big)
        .lines()
        .nth(1)
        .unwrap()
        .replace("Checksum: ", "");
    // One task at a time over many partitions, so the sort stage is surely under way when
    // the process is killed.
    let args = [
        "sort",
        "run",
        "big",
        "out",
        "--partitions",
        "60",
        "--concurrency",
        "1",
    ];
    let done_dir = dir.path().join("out/.tarn-sort/sort/tasks/n01-sort");
    let sorted_before_kill = kill_when_done(&args, dir.path(), &done_dir, 3);
    assert!(
        sorted_before_kill < 60,
        "the sort ended before it was killed"
    );
    assert!(
        !dir.path().join("out/part-00000.dat").exists(),
        "no output appears before the sort ends"
    );

    let rerun = tarn(&args, None, dir.path());
    assert!(rerun.status.success(), "{}", stderr(&rerun));
    let summary = stdout(&rerun);
    assert!(
        summary.contains(&format!("60 tasks ({sorted_before_kill} resumed)")),
        "{summary}"
    );
    assert!(!dir.path().join("out/.tarn-sort").exists());
    let validate = tarn(
        &[
            "sort",
            "validate",
            "out",
            "--expect-checksum",
            &checksum,
            "--expect-records",
            "600000",
        ],
        None,
        dir.path(),
    );
    assert!(validate.status.success(), "{}", stdout(&validate));
    assert!(stdout(&validate).ends_with("SUCCESS - all records are in order\n"));

    let wrong = tarn(
        &["sort", "validate", "out", "--expect-records", "7"],
        None,
        dir.path(),
    );
    assert_eq!(wrong.status.code(), Some(1));
    assert!(stdout(&wrong).contains("ERROR - 600000 records, expected 7"));
}

/// The README's first S3 line, against a real S3-compatible server: the binary writes a corpus to
/// S3 with COPY and counts it back through a glob.
#[test]
fn sql_counts_parquet_in_s3() {
    tarn_fs::testing::s3_server();
    let dir = tempfile::tempdir().unwrap();
    let bucket = tarn_fs::testing::BUCKET;
    let out = tarn(
        &[
            "sql",
            "-c",
            &format!(
                "COPY (SELECT i, i % 3 AS b FROM range(0, 5000) t(i)) \
                 TO 's3://{bucket}/cli/corpus' (FORMAT parquet, PARTITION_BY (b));"
            ),
        ],
        None,
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = tarn(
        &[
            "sql",
            "-c",
            &format!("SELECT count(*) FROM 's3://{bucket}/cli/corpus/*/*.parquet'"),
        ],
        None,
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "count_star()\n5000\n");
}
