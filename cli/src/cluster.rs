//! `tarn cluster`: start a Ballista scheduler or executor with Tarn's functions, stores and
//! codecs in it, or show what a cluster is doing.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Subcommand;
use comfy_table::Table;
use tarn_engine::cluster::servers::{
    ExecutorOptions, SchedulerOptions, check_bind, run_executor, run_scheduler,
};
use tarn_engine::cluster::{ClusterUrl, status};

#[derive(clap::Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Start a scheduler; clients connect with `--cluster df://HOST:PORT`.
    Scheduler {
        /// Address to listen on (gRPC and the REST API share it).
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: SocketAddr,
        /// Allow an address other machines can reach. Ballista's protocol has no
        /// authentication: keep the cluster on a private network.
        #[arg(long)]
        allow_remote: bool,
        /// Seconds without a heartbeat before an executor counts as lost and its tasks run
        /// elsewhere.
        #[arg(long, value_name = "SECS", default_value_t = 30)]
        executor_timeout: u64,
    },
    /// Start an executor that runs the scheduler's tasks.
    Executor {
        /// The scheduler: HOST:PORT or df://HOST:PORT.
        #[arg(long, value_name = "HOST:PORT")]
        scheduler: String,
        /// Address of its Arrow Flight server, which other executors read shuffle data from.
        #[arg(long, default_value = "127.0.0.1:50051")]
        bind: SocketAddr,
        /// Port of its gRPC server.
        #[arg(long, value_name = "PORT", default_value_t = 50052)]
        grpc_port: u16,
        /// Allow an address other machines can reach (no authentication; private networks only).
        #[arg(long)]
        allow_remote: bool,
        /// Tasks it runs at once (default: the number of cores).
        #[arg(long, value_name = "N")]
        concurrency: Option<usize>,
        /// Where it keeps shuffle files and spills (default: a new temporary folder).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// Seconds between heartbeats to the scheduler.
        #[arg(long, value_name = "SECS", default_value_t = 5)]
        heartbeat_interval: u64,
    },
    /// List a cluster's executors and jobs.
    Status {
        /// The scheduler, df://HOST:PORT.
        url: String,
    },
}

pub fn run(args: ClusterArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Ballista's planner recurses deeply on large plans, as its own binaries allow for.
        .thread_stack_size(32 << 20)
        .build()?;
    match args.command {
        ClusterCommand::Scheduler {
            bind,
            allow_remote,
            executor_timeout,
        } => {
            check_bind(&bind, allow_remote)?;
            eprintln!("tarn cluster scheduler listening on df://{bind}");
            runtime.block_on(run_scheduler(SchedulerOptions {
                bind,
                executor_timeout_secs: executor_timeout,
            }))?;
        }
        ClusterCommand::Executor {
            scheduler,
            bind,
            grpc_port,
            allow_remote,
            concurrency,
            work_dir,
            heartbeat_interval,
        } => {
            check_bind(&bind, allow_remote)?;
            let scheduler = if scheduler.starts_with("df://") {
                ClusterUrl::parse(&scheduler)?
            } else {
                ClusterUrl::parse(&format!("df://{scheduler}"))?
            };
            scheduler.connect()?;
            let concurrency = concurrency
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            eprintln!(
                "tarn cluster executor on {bind}, {concurrency} task slots, scheduler {scheduler}"
            );
            runtime.block_on(run_executor(ExecutorOptions {
                scheduler,
                bind,
                grpc_port,
                concurrency,
                work_dir,
                heartbeat_interval_secs: heartbeat_interval,
            }))?;
        }
        ClusterCommand::Status { url } => {
            let url = ClusterUrl::parse(&url)?;
            let status = status::status(&url)?;
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let mut executors = Table::new();
            executors.set_header(["executor", "address", "task slots", "last heartbeat"]);
            for e in &status.executors {
                executors.add_row([
                    e.id.clone(),
                    format!("{}:{}", e.host, e.port),
                    e.specification.vcores.to_string(),
                    e.last_seen.map_or("-".into(), |at| {
                        format!("{:.1}s ago", now_ms.saturating_sub(at) as f64 / 1000.0)
                    }),
                ]);
            }
            println!("{} executor(s)\n{executors}", status.executors.len());
            let mut jobs = Table::new();
            jobs.set_header(["job", "name", "status", "stages done", "progress"]);
            for j in &status.jobs {
                jobs.add_row([
                    j.job_id.clone(),
                    j.job_name.clone(),
                    j.status.clone(),
                    format!("{}/{}", j.completed_stages, j.num_stages),
                    format!("{}%", j.percent_complete),
                ]);
            }
            println!("{} job(s)\n{jobs}", status.jobs.len());
        }
    }
    Ok(())
}
