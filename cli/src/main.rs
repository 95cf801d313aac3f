//! `tarn`: the command-line face of Tarn. `tarn sql` is a DuckDB-like SQL shell and runner;
//! `tarn run` runs a partitioned job written as SQL stages; `tarn cluster` runs the Ballista
//! processes that take both onto many machines.

mod cluster;
mod console;
mod dot;
mod progress;
mod render;
mod run;
mod shell;
mod sort;

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tarn_engine::{SqlSession, TarnConfig};

use crate::console::Console;
use crate::render::OutputMode;

#[derive(Parser)]
#[command(
    name = "tarn",
    version,
    about = "Tarn: SQL and partitioned jobs over training data"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run SQL: an interactive shell, or the statements given with -c, -f or on standard input.
    Sql(SqlArgs),
    /// Run a partitioned job written as SQL stages (CREATE STAGE ...; COPY ...).
    Run(run::RunArgs),
    /// The GraySort benchmark: gen, run, validate and bench (gensort/valsort 1.5 compatible).
    Sort(sort::SortArgs),
    /// Cluster mode on Apache Ballista: start a scheduler or an executor, or show a cluster.
    Cluster(cluster::ClusterArgs),
}

#[derive(clap::Args)]
struct SqlArgs {
    /// Statements (and dot commands) to run; may be given several times.
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    commands: Vec<String>,
    /// A file of statements to run.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Keep running after a failing statement (the exit status still reports the failure).
    #[arg(long)]
    keep_going: bool,
    /// Output mode: box, markdown, csv, json, jsonl or line (default: box on a terminal, else csv).
    #[arg(long, value_name = "MODE")]
    mode: Option<String>,
    /// Worker threads (defaults to TARN_THREADS, then the number of cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Memory before operators spill, e.g. 4GB (defaults to TARN_MEMORY_LIMIT, then 80% of RAM).
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<String>,
    /// Run on the Ballista cluster at df://HOST:PORT (defaults to TARN_CLUSTER; else in this
    /// process).
    #[arg(long, value_name = "URL")]
    cluster: Option<String>,
}

/// Has glibc's malloc keep freed memory for the next batch rather than hand it back to the
/// kernel. By default an allocation past a threshold that adapts up to a few MiB gets its own
/// mapping, unmapped when freed, and the heap's top is trimmed at 128 KiB; a query that
/// allocates and frees its batches' buffers then faults in and zeroes fresh pages over and over
/// (TPC-H Q5 at SF1: 53K page faults in six runs, 32K with these limits, and 10% less time over
/// the 22 queries). Memory freed at the top of the heap is returned past 1 GiB.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // 32 MiB is the largest mapping threshold glibc accepts on 64-bit machines.
    const MMAP_THRESHOLD: libc::c_int = 32 << 20;
    const TRIM_THRESHOLD: libc::c_int = 1 << 30;
    // SAFETY: mallopt only sets allocator parameters; it runs before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

fn main() -> ExitCode {
    keep_freed_memory();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TARN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Panics are caught per statement and reported as one error line; the default hook would
    // print a backtrace first. TARN_LOG=debug keeps it for developers.
    if std::env::var("TARN_LOG").is_err() {
        std::panic::set_hook(Box::new(|_| {}));
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Sql(args) => match run_sql(args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(err) => {
                eprintln!("Error: {err}");
                ExitCode::FAILURE
            }
        },
        Command::Run(args) => match run::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("Error: {err}");
                ExitCode::FAILURE
            }
        },
        Command::Sort(args) => sort::run(args).unwrap_or_else(|err| {
            eprintln!("Error: {err}");
            ExitCode::FAILURE
        }),
        Command::Cluster(args) => match cluster::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("Error: {err}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Runs `tarn sql`; `Ok(false)` when a statement failed.
fn run_sql(args: SqlArgs) -> anyhow::Result<bool> {
    let mut config = TarnConfig::from_env()?;
    if let Some(threads) = args.threads {
        config.set("threads", &threads.to_string())?;
    }
    if let Some(limit) = &args.memory_limit {
        config.set("memory_limit", limit)?;
    }
    if let Some(url) = &args.cluster {
        config.set_cluster(url)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.threads)
        .enable_all()
        .build()?;
    let stdin_is_terminal = std::io::stdin().is_terminal();
    let stdout_is_terminal = std::io::stdout().is_terminal();
    let session = runtime.block_on(async { SqlSession::new(config) })?;
    let mode = match &args.mode {
        Some(name) => name.parse::<OutputMode>().map_err(anyhow::Error::msg)?,
        None if stdout_is_terminal => OutputMode::Box,
        None => OutputMode::Csv,
    };
    let mut console = Console::new(session, mode, args.keep_going, stdout_is_terminal);

    let scripted = !args.commands.is_empty() || args.file.is_some();
    if scripted {
        for command in &args.commands {
            if !runtime.block_on(console.run_script(command)) {
                return Ok(false);
            }
        }
        if let Some(file) = &args.file {
            let text = std::fs::read_to_string(file)
                .map_err(|e| anyhow::anyhow!("cannot read '{}': {e}", file.display()))?;
            if !runtime.block_on(console.run_script(&text)) {
                return Ok(false);
            }
        }
        return Ok(console.all_succeeded());
    }
    if !stdin_is_terminal {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        let ok = runtime.block_on(console.run_script(&text));
        return Ok(ok && console.all_succeeded());
    }
    shell::run(&runtime, &mut console)?;
    Ok(true)
}
