//! Cluster mode end to end: a Ballista scheduler and two executors started as separate `tarn
//! cluster` processes on loopback, running TPC-H and a partitioned job with the same results
//! as the embedded engine, and a job that loses an executor in the middle.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{contents, done_records, stderr, stdout, tarn, write_corpus};

/// A port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scheduler and executors, each a `tarn cluster` process logging into `logs`; all are
/// killed when this is dropped, also when a test fails.
struct Cluster {
    url: String,
    processes: Vec<Child>,
    executors: Vec<Executor>,
    logs: PathBuf,
}

/// One executor as started: its process's index in `processes`, its Flight address (the one
/// `tarn cluster status` lists) and when it started.
struct Executor {
    process: usize,
    address: String,
    started: Instant,
}

impl Cluster {
    /// A scheduler that counts an executor lost after `executor_timeout` seconds without
    /// heartbeats (they come every second), and `executors` executors of two slots each.
    fn start(executors: usize, executor_timeout: u64, logs: &Path) -> Cluster {
        std::fs::create_dir_all(logs).unwrap();
        let port = free_port();
        let mut cluster = Cluster {
            url: format!("df://127.0.0.1:{port}"),
            processes: Vec::new(),
            executors: Vec::new(),
            logs: logs.to_path_buf(),
        };
        let bind = format!("127.0.0.1:{port}");
        cluster.spawn(
            "scheduler",
            &[
                "cluster",
                "scheduler",
                "--bind",
                &bind,
                "--executor-timeout",
                &executor_timeout.to_string(),
            ],
        );
        let started = Instant::now();
        while TcpStream::connect(&bind).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{}",
                cluster.log("scheduler")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        for i in 0..executors {
            let executor = cluster.spawn_executor(i);
            cluster.executors.push(executor);
        }
        cluster.wait_for_executors(executors);
        cluster
    }

    /// Starts executor `i` on two ports free a moment ago.
    fn spawn_executor(&mut self, i: usize) -> Executor {
        let flight = format!("127.0.0.1:{}", free_port());
        let grpc = free_port().to_string();
        let work = self.logs.join(format!("executor{i}"));
        let scheduler = self.url.trim_start_matches("df://").to_owned();
        let process = self.spawn(
            &format!("executor{i}"),
            &[
                "cluster",
                "executor",
                "--scheduler",
                &scheduler,
                "--bind",
                &flight,
                "--grpc-port",
                &grpc,
                "--concurrency",
                "2",
                "--heartbeat-interval",
                "1",
                "--work-dir",
                work.to_str().unwrap(),
            ],
        );
        Executor {
            process,
            address: flight,
            started: Instant::now(),
        }
    }

    /// Starts `tarn args`, its output going to `<logs>/<name>.log`; returns its index.
    fn spawn(&mut self, name: &str, args: &[&str]) -> usize {
        let log = File::create(self.logs.join(format!("{name}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_tarn"))
            .args(args)
            .env("TARN_LOG", "warn")
            .current_dir(&self.logs)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        self.processes.push(child);
        self.processes.len() - 1
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.logs.join(format!("{name}.log"))).unwrap_or_default()
    }

    /// Waits until `tarn cluster status` lists `count` executors. One that has not registered
    /// within 15 s may have lost a port to another process between `free_port` and its bind
    /// (the tests run side by side): it starts again on new ones.
    fn wait_for_executors(&mut self, count: usize) {
        let started = Instant::now();
        loop {
            let out = tarn(&["cluster", "status", &self.url], None, &self.logs);
            let listed = stdout(&out);
            if listed.starts_with(&format!("{count} executor(s)")) {
                return;
            }
            let logs: Vec<String> = (0..self.executors.len())
                .map(|i| self.log(&format!("executor{i}")))
                .collect();
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "{count} executors never registered: {listed}{}\n{}",
                stderr(&out),
                logs.join("\n")
            );
            for i in 0..self.executors.len() {
                let executor = &self.executors[i];
                if !listed.contains(&executor.address)
                    && executor.started.elapsed() > Duration::from_secs(15)
                {
                    let process = &mut self.processes[executor.process];
                    let _ = process.kill();
                    let _ = process.wait();
                    self.executors[i] = self.spawn_executor(i);
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn kill_executor(&mut self, i: usize) {
        let process = &mut self.processes[self.executors[i].process];
        process.kill().unwrap();
        process.wait().unwrap();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for process in &mut self.processes {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

/// Writes TPC-H at scale factor 0.1 (tpchgen-cli, which the test command installs) into `dir`.
fn tpch_data(dir: &Path) {
    let status = Command::new("tpchgen-cli")
        .args(["parquet", "-s", "0.1", "--output-dir"])
        .arg(dir)
        .status()
        .expect("tpchgen-cli runs (scripts/test installs it from bench/requirements.txt)");
    assert!(status.success());
}

const TPCH_TABLES: [&str; 8] = [
    "customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier",
];

/// Rows as JSON values, numbers rounded to 9 significant digits: a cluster sums floats in
/// another order than one process does.
fn rows(jsonl: &str) -> Vec<Value> {
    fn round(value: Value) -> Value {
        match value {
            Value::Number(n) if n.is_f64() => {
                let f = n.as_f64().unwrap();
                Value::String(format!("{f:.9e}"))
            }
            Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, round(v))).collect())
            }
            other => other,
        }
    }
    jsonl
        .lines()
        .map(|line| round(serde_json::from_str(line).unwrap()))
        .collect()
}

/// Runs `pipeline` (which copies its result to `OUT`) in this process into `local/`, and writes
/// the same pipeline, copying to `remote/`, as `remote.sql` for a cluster run.
fn run_locally_and_write_remote(pipeline: &str, dir: &Path) {
    std::fs::write(dir.join("local.sql"), pipeline.replace("OUT", "local")).unwrap();
    std::fs::write(dir.join("remote.sql"), pipeline.replace("OUT", "remote")).unwrap();
    let local = tarn(&["run", "local.sql", "--data-root", "data"], None, dir);
    assert!(local.status.success(), "{}", stderr(&local));
}

#[test]
fn cluster_runs_tpch_and_jobs_like_the_embedded_engine() {
    // Before the cluster starts, so that its processes get the S3 server's `AWS_*` variables.
    tarn_fs::testing::s3_server();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("tpch");
    tpch_data(&data);
    let cluster = Cluster::start(2, 30, &dir.path().join("cluster"));

    let views: String = TPCH_TABLES
        .iter()
        .map(|t| {
            format!(
                "CREATE VIEW {t} AS SELECT * FROM '{}/{t}.parquet';\n",
                data.display()
            )
        })
        .collect();
    let queries = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/tpch/queries");
    for q in 1..=22 {
        let query = queries.join(format!("q{q}.sql"));
        let query = query.to_str().unwrap();
        let embedded = tarn(
            &["sql", "--mode", "jsonl", "-c", &views, "-f", query],
            None,
            dir.path(),
        );
        assert!(embedded.status.success(), "q{q}: {}", stderr(&embedded));
        let clustered = tarn(
            &[
                "sql",
                "--cluster",
                &cluster.url,
                "--mode",
                "jsonl",
                "-c",
                &views,
                "-f",
                query,
            ],
            None,
            dir.path(),
        );
        assert!(
            clustered.status.success(),
            "q{q} on the cluster: {}",
            stderr(&clustered)
        );
        let expected = rows(&stdout(&embedded));
        assert!(!expected.is_empty(), "q{q} gave no rows");
        assert_eq!(rows(&stdout(&clustered)), expected, "q{q}");
    }

    // Tables made on the client (CREATE TABLE AS, glob(), range()) travel inside the plans,
    // LIMIT holds over them, ASOF joins, USING joins and LATERAL ... LIMIT (rewritten into SQL
    // before planning) run there, and the executors have Tarn's functions (MiniLM embeddings,
    // vector maths, DuckDB's division, JSON casts, intervals times numbers, integer arithmetic
    // checked for overflow, collations, an aggregate recomputed over a sliding frame).
    let script = format!(
        "CREATE TABLE small AS SELECT n_nationkey AS k, n_name AS name FROM nation WHERE n_regionkey = 1;
         SELECT count(*) AS n, min(name) AS first FROM small JOIN customer ON c_nationkey = k;
         SELECT * FROM small LIMIT 2;
         SELECT * FROM (VALUES (1), (2), (3)) t(x) LIMIT 1;
         SELECT count(*) AS n, sum(x) AS total FROM range(1000) r(x);
         SELECT name, round(cosine_similarity(embed(name), embed('AMERICA')), 4) AS sim, k / 2 AS half
           FROM small ORDER BY k;
         SELECT count(*) AS shipped, max(l.l_shipdate) AS latest FROM orders o
           ASOF JOIN lineitem l ON o.o_orderkey = l.l_orderkey AND o.o_orderdate >= l.l_shipdate;
         SELECT count(*) AS top, sum(x.c_custkey) AS keys FROM nation n, LATERAL (SELECT c_custkey
           FROM customer c WHERE c.c_nationkey = n.n_nationkey ORDER BY c_acctbal DESC LIMIT 2) x;
         SELECT count(*) AS nations, max(k) AS top FROM small
           FULL JOIN (SELECT n_nationkey AS k FROM nation WHERE n_regionkey = 2) USING (k);
         SELECT sum(len(CAST(to_json([k, k]) AS BIGINT[]))) AS items,
           max(DATE '2024-01-01' + INTERVAL (k) DAY) AS latest FROM small;
         SELECT count(*) AS cased, count(DISTINCT n_name COLLATE NOCASE) AS names FROM nation
           WHERE n_name COLLATE NOCASE IN ('brazil', 'Canada');
         SELECT count(*) AS files FROM glob('{}/*.parquet');
         SELECT sum(k * 3) AS triple, max(k - 1) AS below FROM small;
         SELECT n_nationkey AS k, string_agg(n_name, ',') OVER (ORDER BY n_nationkey
           ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS near FROM nation ORDER BY k LIMIT 3;",
        data.display()
    );
    let embedded = tarn(&["sql", "-c", &views, "-c", &script], None, dir.path());
    let clustered = tarn(
        &[
            "sql",
            "--cluster",
            &cluster.url,
            "-c",
            &views,
            "-c",
            &script,
        ],
        None,
        dir.path(),
    );
    assert!(clustered.status.success(), "{}", stderr(&clustered));
    assert_eq!(stdout(&clustered), stdout(&embedded));
    let embedded = stdout(&embedded);
    assert!(
        embedded.contains("k,name\n1,ARGENTINA\n2,BRAZIL\nx\n1\nn,total\n1000,499500\n"),
        "{embedded}"
    );
    assert!(embedded.contains("cased,names\n2,2\n"), "{embedded}");
    assert!(
        embedded.ends_with(
            "files\n8\ntriple,below\n141,23\n\
             k,near\n0,\"ALGERIA,ARGENTINA\"\n1,\"ALGERIA,ARGENTINA,BRAZIL\"\n\
             2,\"ARGENTINA,BRAZIL,CANADA\"\n"
        ),
        "{embedded}"
    );
    let overflow = tarn(
        &[
            "sql",
            "--cluster",
            &cluster.url,
            "-c",
            &views,
            "-c",
            "SELECT max(c_custkey * 9223372036854775807) FROM customer",
        ],
        None,
        dir.path(),
    );
    assert!(!overflow.status.success());
    assert!(
        stderr(&overflow).contains("Out of Range Error: Overflow in multiplication of BIGINT"),
        "{}",
        stderr(&overflow)
    );

    // A partitioned job: its stages run as Ballista tasks, its files under the shared data root.
    write_corpus(dir.path());
    let pipeline = "
        CREATE STAGE docs AS read_parquet('corpus.parquet');
        CREATE STAGE parts AS repartition(docs, 12, hash_by => 'url');
        CREATE STAGE dedup AS partial_sql('SELECT url, min(id) AS id, max(length(text)) AS len FROM {0} GROUP BY url', parts);
        COPY dedup TO 'OUT' (FORMAT parquet);";
    run_locally_and_write_remote(pipeline, dir.path());
    let remote = tarn(
        &[
            "run",
            "remote.sql",
            "--data-root",
            "data",
            "--job-id",
            "on-cluster",
            "--cluster",
            &cluster.url,
        ],
        None,
        dir.path(),
    );
    assert!(remote.status.success(), "{}", stderr(&remote));
    assert!(stdout(&remote).contains("12 tasks"), "{}", stdout(&remote));
    let expected = contents(dir.path(), "local");
    assert_eq!(expected.lines().count(), 5001);
    assert_eq!(contents(dir.path(), "remote"), expected);

    // The same job with its data in S3: the executors read their inputs and commit there.
    std::fs::write(
        dir.path().join("s3.sql"),
        pipeline.replace("OUT", "from-s3"),
    )
    .unwrap();
    let data_root = format!("s3://{}/cluster-jobs", tarn_fs::testing::BUCKET);
    let on_s3 = tarn(
        &[
            "run",
            "s3.sql",
            "--data-root",
            &data_root,
            "--job-id",
            "on-s3",
            "--cluster",
            &cluster.url,
        ],
        None,
        dir.path(),
    );
    assert!(on_s3.status.success(), "{}", stderr(&on_s3));
    assert_eq!(contents(dir.path(), "from-s3"), expected);
    let records = tarn_fs::testing::s3_root()
        .join(tarn_fs::testing::BUCKET)
        .join("cluster-jobs/on-s3/tasks/n02-sql");
    assert_eq!(done_records(&records), 12, "the records are in S3");

    // Both executors ran tasks of the job, and the scheduler lists its stages as jobs.
    let status = tarn(&["cluster", "status", &cluster.url], None, dir.path());
    let status = stdout(&status);
    assert!(status.starts_with("2 executor(s)"), "{status}");
    assert!(status.contains("tarn on-cluster n02-sql"), "{status}");
    assert!(status.contains("Completed"), "{status}");
}

#[test]
fn a_job_survives_losing_an_executor() {
    let dir = tempfile::tempdir().unwrap();
    write_corpus(dir.path());
    // A lost executor is noticed within 6 s instead of the default 30.
    let mut cluster = Cluster::start(2, 6, &dir.path().join("cluster"));
    // Tasks that take a while each, so that the kill lands in the middle of the stage.
    let pipeline = "
        CREATE STAGE docs AS read_parquet('corpus.parquet');
        CREATE STAGE parts AS repartition(docs, 16, hash_by => 'url');
        CREATE STAGE slow AS partial_sql('SELECT url, count(*) AS n, sum(length(regexp_replace(repeat(text, 40), ''x+'', ''y'', ''g''))) AS work FROM {0} GROUP BY url', parts);
        COPY slow TO 'OUT' (FORMAT parquet);";
    run_locally_and_write_remote(pipeline, dir.path());

    let job = Command::new(env!("CARGO_BIN_EXE_tarn"))
        .args([
            "run",
            "remote.sql",
            "--data-root",
            "data",
            "--job-id",
            "lossy",
            "--cluster",
            &cluster.url,
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let done = dir.path().join("data/lossy/tasks/n02-sql");
    let started = Instant::now();
    while done_records(&done) < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no task of the stage finished"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    cluster.kill_executor(1);
    let killed_at = done_records(&done);
    assert!(killed_at < 16, "the stage ended before the kill");

    let out = job.wait_with_output().unwrap();
    // Ballista notices the lost executor by its missing heartbeats and runs its tasks (and any
    // shuffle output it held) again on the executor that is left: the job succeeds whole.
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        cluster.log("scheduler")
    );
    assert_eq!(done_records(&done), 16);
    let expected = contents(dir.path(), "local");
    assert_eq!(expected.lines().count(), 5001);
    assert_eq!(contents(dir.path(), "remote"), expected);
}

#[test]
fn a_missing_or_empty_cluster_and_an_open_bind_are_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let nowhere = format!("df://127.0.0.1:{}", free_port());
    let out = tarn(
        &["sql", "--cluster", &nowhere, "-c", "SELECT 1"],
        None,
        dir.path(),
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("cannot reach the cluster scheduler at {nowhere}")),
        "{err}"
    );

    let cluster = Cluster::start(0, 30, &dir.path().join("cluster"));
    std::fs::write(
        dir.path().join("p.sql"),
        "CREATE STAGE s AS read_parquet('x.parquet'); COPY s TO 'out' (FORMAT parquet);",
    )
    .unwrap();
    let out = tarn(
        &["run", "p.sql", "--cluster", &cluster.url],
        None,
        dir.path(),
    );
    let err = stderr(&out);
    assert!(!out.status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("the cluster at {} has no executors", cluster.url)),
        "{err}"
    );

    let out = tarn(
        &["cluster", "scheduler", "--bind", "0.0.0.0:0"],
        None,
        dir.path(),
    );
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0") && err.contains("--allow-remote"),
        "{err}"
    );
}
