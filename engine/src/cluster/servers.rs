//! `tarn cluster scheduler` and `tarn cluster executor`: Ballista's scheduler and executor
//! processes with Tarn's SQL functions, object stores and codecs in them, so that what a client
//! plans with Tarn's session decodes and runs the same way on the cluster.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_config_producer;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::error::DataFusionError;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::SessionConfig;

use super::{ClusterUrl, TarnLogicalCodec, TarnPhysicalCodec};
use crate::config::TarnConfig;
use crate::error::{Result, TarnError};
use crate::sql::{runtime_env, tarn_state};

/// How a scheduler is started.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    pub bind: SocketAddr,
    /// Seconds without a heartbeat after which an executor counts as lost and its tasks run
    /// elsewhere.
    pub executor_timeout_secs: u64,
}

/// How an executor is started.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    pub scheduler: ClusterUrl,
    /// The address its Arrow Flight server (shuffle reads) binds to.
    pub bind: SocketAddr,
    /// The port of its gRPC server.
    pub grpc_port: u16,
    /// Tasks it runs at once.
    pub concurrency: usize,
    /// Where it keeps shuffle files and spills; a fresh temporary folder when `None`.
    pub work_dir: Option<PathBuf>,
    pub heartbeat_interval_secs: u64,
}

/// Refuses an address other machines can reach unless the caller was told to allow one:
/// Ballista's protocol has no authentication.
pub fn check_bind(address: &SocketAddr, allow_remote: bool) -> Result<()> {
    if address.ip().is_loopback() || allow_remote {
        Ok(())
    } else {
        Err(TarnError::Invalid(format!(
            "refusing to listen on {address}: Ballista's protocol has no authentication, so a \
             cluster belongs on a private network; pass --allow-remote to bind there anyway"
        )))
    }
}

/// Runs a scheduler until the process is stopped.
pub async fn run_scheduler(options: SchedulerOptions) -> Result<()> {
    let mut config = SchedulerConfig {
        bind_host: options.bind.ip().to_string(),
        bind_port: options.bind.port(),
        external_host: options.bind.ip().to_string(),
        executor_timeout_seconds: options.executor_timeout_secs,
        no_executors_grace_period_seconds: options.executor_timeout_secs,
        ..SchedulerConfig::default()
    };
    config.override_session_builder = Some(Arc::new(scheduler_session));
    config.override_logical_codec = Some(Arc::new(TarnLogicalCodec::default()));
    config.override_physical_codec = Some(Arc::new(TarnPhysicalCodec::default()));
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(ballista)?;
    start_server(cluster, options.bind, Arc::new(config))
        .await
        .map_err(ballista)
}

/// The scheduler's session for a client's settings: Tarn's functions and rules, and Ballista's
/// rewrite of `NOT IN` subqueries, which its distributed plans need. Ballista's adaptive
/// planner is off: it plans with its own list of physical rules, which would drop Tarn's (the
/// overflow check on integer arithmetic among them), where the static planner uses the
/// session's. The insertion-order rule is left out: Ballista cuts its stages at partition
/// merges, and an ordered merge would hide them and run a whole stage as one task. So is the
/// positional zip, whose sides a cluster does not read in insertion order anyway.
fn scheduler_session(
    config: SessionConfig,
) -> datafusion::error::Result<datafusion::execution::SessionState> {
    let runtime = runtime_env(&plain_runtime(None)).map_err(DataFusionError::from)?;
    let state = tarn_state(config.with_ballista_adaptive_query_planner(false), runtime);
    let rules = ballista_core::optimizer::with_ballista_optimizer_rules(state.optimizers());
    let physical_rules = state
        .physical_optimizers()
        .iter()
        .filter(|rule| !["insertion_order", "positional_zip"].contains(&rule.name()))
        .cloned()
        .collect();
    Ok(SessionStateBuilder::new_from_existing(state)
        .with_optimizer_rules(rules)
        .with_physical_optimizer_rules(physical_rules)
        .build())
}

/// Runs an executor until the process is stopped.
pub async fn run_executor(options: ExecutorOptions) -> Result<()> {
    let work_dir = options.work_dir.clone();
    let functions = tarn_state(
        default_config_producer(),
        runtime_env(&plain_runtime(None))?,
    );
    let config = ExecutorProcessConfig {
        bind_host: options.bind.ip().to_string(),
        external_host: Some(options.bind.ip().to_string()),
        port: options.bind.port(),
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler.host().to_string(),
        scheduler_port: options.scheduler.port(),
        vcores: options.concurrency,
        work_dir: work_dir.as_ref().map(|dir| dir.display().to_string()),
        executor_heartbeat_interval_seconds: options.heartbeat_interval_secs,
        override_function_registry: Some(Arc::new(BallistaFunctionRegistry::from(&functions))),
        // Every task's runtime resolves URLs through Tarn's stores (S3, 3FS, local) and spills
        // into the work folder; Ballista adds its per-task memory pool on top.
        override_runtime_producer: Some(Arc::new(move |_: &SessionConfig| {
            runtime_env(&plain_runtime(work_dir.clone())).map_err(DataFusionError::from)
        })),
        override_logical_codec: Some(Arc::new(TarnLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(TarnPhysicalCodec::default())),
        ..ExecutorProcessConfig::default()
    };
    if let Some(dir) = &options.work_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| TarnError::io("create", dir.display().to_string(), e))?;
    }
    start_executor_process(Arc::new(config))
        .await
        .map_err(ballista)
}

/// Settings for a runtime with no memory limit of its own (Ballista's pool applies).
fn plain_runtime(temp_directory: Option<PathBuf>) -> TarnConfig {
    TarnConfig {
        memory_limit: None,
        temp_directory,
        ..TarnConfig::default()
    }
}

fn ballista(err: ballista_core::error::BallistaError) -> TarnError {
    TarnError::Invalid(format!("cluster: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_binds_without_permission() {
        let local: SocketAddr = "127.0.0.1:50050".parse().unwrap();
        let open: SocketAddr = "0.0.0.0:50050".parse().unwrap();
        assert!(check_bind(&local, false).is_ok());
        let err = check_bind(&open, false).unwrap_err().to_string();
        assert!(err.contains("refusing to listen on 0.0.0.0:50050"), "{err}");
        assert!(err.contains("--allow-remote"), "{err}");
        assert!(check_bind(&open, true).is_ok());
    }
}
