//! `tarn sort`: the GraySort benchmark: `gen` writes gensort records, `run` sorts them as a
//! partitioned job, `validate` checks them as valsort does, `bench` does all three and reports
//! throughput.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use tarn_engine::TarnConfig;
use tarn_engine::config::parse_size;
use tarn_engine::job::{JobObserver, Quiet};
use tarn_engine::sort::{
    self, GenOptions, Generated, RECORD_LEN, RecordFormat, Shuffle, SortOptions, Sorted, Validation,
};

use crate::run::StageBars;

#[derive(clap::Args)]
pub struct SortArgs {
    #[command(subcommand)]
    command: SortCommand,
}

#[derive(clap::Subcommand)]
enum SortCommand {
    /// Write gensort 1.5 records (binary unless --ascii) into FILES files; prints the record
    /// count and the checksum.
    Gen {
        #[arg(value_parser = folder)]
        out_dir: PathBuf,
        /// Records to write (100 bytes each).
        #[arg(long)]
        records: u64,
        /// Files to split the records into.
        #[arg(long, default_value_t = 1)]
        files: usize,
        /// The number of the first record (gensort's -b).
        #[arg(long, default_value_t = 0)]
        start: u64,
        /// Skewed keys (gensort's -s).
        #[arg(long)]
        skew: bool,
        /// Printable records (gensort's -a).
        #[arg(long)]
        ascii: bool,
    },
    /// Sort the record files of IN_DIR into OUT_DIR/part-NNNNN.dat.
    Run {
        #[arg(value_parser = folder)]
        in_dir: PathBuf,
        #[arg(value_parser = folder)]
        out_dir: PathBuf,
        #[command(flatten)]
        job: JobArgs,
    },
    /// Check the order of the record files of DIR (in name order), count records and
    /// duplicate keys and sum the checksum; exit status 1 on disorder or a mismatch.
    Validate {
        #[arg(value_parser = folder)]
        dir: PathBuf,
        /// The checksum the records must have (as gen printed it).
        #[arg(long, value_name = "HEX")]
        expect_checksum: Option<String>,
        /// The number of records there must be.
        #[arg(long, value_name = "N")]
        expect_records: Option<u64>,
    },
    /// Generate, sort and validate SIZE of records and report the throughput of each step.
    Bench {
        /// Input size, e.g. 10GB.
        #[arg(long, default_value = "10GB")]
        size: String,
        /// Where the input and output go, kept afterwards (default: a new folder under the data
        /// root, removed afterwards).
        #[arg(long, value_name = "DIR", value_parser = folder)]
        dir: Option<PathBuf>,
        /// Skewed keys.
        #[arg(long)]
        skew: bool,
        /// Compute nodes in the projection to Smallpond's 110.5 TiB run.
        #[arg(long, default_value_t = 50)]
        nodes: u64,
        /// Cores per node in the projection (default: this machine's).
        #[arg(long, value_name = "N")]
        cores_per_node: Option<u64>,
        #[command(flatten)]
        job: JobArgs,
    },
}

#[derive(clap::Args)]
struct JobArgs {
    /// Partitions, one sorted output file each (default: sized from the memory limit).
    #[arg(long, value_name = "P")]
    partitions: Option<usize>,
    /// Memory the sort may hold, e.g. 4GB (defaults to TARN_MEMORY_LIMIT, then 80% of RAM).
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<String>,
    /// Tasks run at once (defaults to TARN_CONCURRENCY, then the number of cores).
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Where the job keeps its files (default: OUT_DIR/.tarn-sort).
    #[arg(long, value_name = "DIR", value_parser = folder)]
    work_dir: Option<PathBuf>,
    /// Where the shuffle files go: `auto` keeps them in memory (/dev/shm) when the input fits
    /// there next to the sorts, else on disk in the work folder.
    #[arg(long, value_name = "WHERE", default_value = "auto", value_parser = ["auto", "memory", "disk"])]
    shuffle: String,
}

impl JobArgs {
    fn options(&self) -> anyhow::Result<SortOptions> {
        let mut config = TarnConfig::from_env()?;
        if let Some(limit) = &self.memory_limit {
            config.set("memory_limit", limit)?;
        }
        if let Some(n) = self.concurrency {
            config.set("concurrency", &n.to_string())?;
        }
        Ok(SortOptions {
            partitions: self.partitions,
            config,
            work_dir: self.work_dir.clone(),
            shuffle: match self.shuffle.as_str() {
                "memory" => Shuffle::Memory(sort::MEMORY_FOLDER.into()),
                "disk" => Shuffle::Disk,
                _ => Shuffle::Auto,
            },
        })
    }
}

/// A folder argument: a path, `file://` or `3fs://`.
fn folder(url: &str) -> Result<PathBuf, String> {
    sort::record_folder(url).map_err(|e| e.to_string())
}

pub fn run(args: SortArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        SortCommand::Gen {
            out_dir,
            records,
            files,
            start,
            skew,
            ascii,
        } => {
            let options = GenOptions {
                records,
                files,
                start,
                format: RecordFormat { ascii, skew },
            };
            let generated = sort::generate_files(&out_dir, &options)?;
            println!("Records: {}", generated.records);
            println!("Checksum: {}", generated.checksum);
            Ok(ExitCode::SUCCESS)
        }
        SortCommand::Run {
            in_dir,
            out_dir,
            job,
        } => {
            let sorted = sort_files(&in_dir, &out_dir, job.options()?)?;
            println!(
                "sorted {} records into {} files in {}",
                sorted.records,
                sorted.files.len(),
                out_dir.display()
            );
            println!("{}", sorted.job.summary());
            Ok(ExitCode::SUCCESS)
        }
        SortCommand::Validate {
            dir,
            expect_checksum,
            expect_records,
        } => {
            let validation = sort::validate(&dir)?;
            for line in validation.lines() {
                println!("{line}");
            }
            let mismatches = mismatches(&validation, expect_checksum, expect_records);
            for line in &mismatches {
                println!("{line}");
            }
            let ok = validation.in_order() && mismatches.is_empty();
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        SortCommand::Bench {
            size,
            dir,
            skew,
            nodes,
            cores_per_node,
            job,
        } => bench(&size, dir, skew, nodes, cores_per_node, job.options()?),
    }
}

/// Runs the sort job with progress bars on a terminal.
fn sort_files(in_dir: &Path, out_dir: &Path, options: SortOptions) -> anyhow::Result<Sorted> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.config.threads)
        .enable_all()
        .build()?;
    let observer: Arc<dyn JobObserver> = if std::io::stderr().is_terminal() {
        Arc::new(StageBars::default())
    } else {
        Arc::new(Quiet)
    };
    Ok(runtime.block_on(sort::sort(in_dir, out_dir, options, observer))?)
}

/// The `--expect-*` checks that failed, as error lines.
fn mismatches(
    validation: &Validation,
    checksum: Option<String>,
    records: Option<u64>,
) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(expected) = checksum {
        let expected = expected
            .trim()
            .trim_start_matches("0x")
            .to_ascii_lowercase();
        let expected = expected.trim_start_matches('0');
        let actual = validation.checksum.to_string();
        if actual.trim_start_matches('0') != expected {
            lines.push(format!(
                "ERROR - checksum {actual} does not match the expected {expected}"
            ));
        }
    }
    if let Some(expected) = records
        && validation.records != expected
    {
        lines.push(format!(
            "ERROR - {} records, expected {expected}",
            validation.records
        ));
    }
    lines
}

/// Smallpond's published GraySort run, which the bench projects onto.
const SMALLPOND_BYTES: f64 = 110.5 * 1024.0 * 1024.0 * 1024.0 * 1024.0;
const SMALLPOND_SECONDS: f64 = 30.0 * 60.0 + 14.0;

fn bench(
    size: &str,
    dir: Option<PathBuf>,
    skew: bool,
    nodes: u64,
    cores_per_node: Option<u64>,
    options: SortOptions,
) -> anyhow::Result<ExitCode> {
    let bytes = parse_size(size)
        .map_err(anyhow::Error::msg)?
        .ok_or_else(|| anyhow::anyhow!("--size must be a size such as 10GB"))?;
    let records = bytes / RECORD_LEN as u64;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let owned = dir.is_none();
    let dir = match dir {
        Some(dir) => dir,
        None => match options.config.data_folder() {
            Some(root) => root.join(format!("sort-bench-{}", std::process::id())),
            None => anyhow::bail!(
                "tarn sort bench writes its records to a local disk or 3FS mount, and data_root \
                 '{}' is an object store: pass --dir",
                options.config.data_root
            ),
        },
    };

    let (input, output) = (dir.join("input"), dir.join("output"));

    let started = Instant::now();
    let generated: Generated = sort::generate_files(
        &input,
        &GenOptions {
            records,
            files: cores as usize,
            start: 0,
            format: RecordFormat { ascii: false, skew },
        },
    )?;
    let gen_time = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let sorted = sort_files(&input, &output, options)?;
    let sort_time = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let validation = sort::validate(&output)?;
    let validate_time = started.elapsed().as_secs_f64();
    let mismatches = mismatches(
        &validation,
        Some(generated.checksum.to_string()),
        Some(generated.records),
    );

    let bytes = (records * RECORD_LEN as u64) as f64;
    println!(
        "tarn sort bench: {} records ({:.2} GB{}), {} partitions, {cores} cores",
        records,
        bytes / 1e9,
        if skew { ", skewed keys" } else { "" },
        sorted.partitions
    );
    println!(
        "{:<16} {:>9} {:>9} {:>9} {:>14}",
        "step", "seconds", "GB/s", "TB/min", "GB/s per core"
    );
    let row = |name: &str, seconds: f64| {
        let rate = bytes / seconds;
        println!(
            "{name:<16} {seconds:>9.2} {:>9.3} {:>9.4} {:>14.3}",
            rate / 1e9,
            rate * 60.0 / 1e12,
            rate / 1e9 / cores as f64
        );
    };
    row("gen", gen_time);
    for stage in &sorted.job.stages {
        row(&format!("  {}", stage.name), stage.elapsed.as_secs_f64());
    }
    row("sort", sort_time);
    row("validate", validate_time);
    for line in validation.lines().iter().chain(&mismatches) {
        println!("{line}");
    }

    let per_core = bytes / sort_time / cores as f64;
    let node_cores = cores_per_node.unwrap_or(cores);
    let projected = SMALLPOND_BYTES / (per_core * (node_cores * nodes) as f64);
    println!(
        "projection: T = 110.5 TiB / (r × C × N) with r = {:.3} GB/s per core (the sort step \
         here), C = {node_cores} cores per node, N = {nodes} nodes: {:.1} min ({:.2} TiB/min); \
         Smallpond took {:.1} min (3.66 TiB/min) on 50 compute and 25 storage nodes",
        per_core / 1e9,
        projected / 60.0,
        SMALLPOND_BYTES / projected * 60.0 / 1024f64.powi(4),
        SMALLPOND_SECONDS / 60.0
    );
    println!(
        "assumes the rate grows linearly with cores and nodes, and that storage and network \
         carry the shuffle and the output as fast as the cores sort (this disk did here)"
    );
    if owned {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("cannot remove '{}': {e}", dir.display()))?;
    }
    Ok(if validation.in_order() && mismatches.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
