//! What a cluster is doing, read from its scheduler's REST API (served on the scheduler's
//! port): the executors that registered and the jobs it knows, with their progress.

use serde::Deserialize;

use super::ClusterUrl;
use crate::error::{Result, TarnError};

/// One executor, as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ExecutorStatus {
    pub id: String,
    pub host: String,
    pub port: u16,
    /// When its last heartbeat came, in milliseconds since the Unix epoch.
    pub last_seen: Option<u64>,
    pub specification: Specification,
}

/// An executor's resources.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Specification {
    /// Tasks it runs at once.
    pub vcores: u32,
}

/// One job the scheduler knows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JobStatus {
    pub job_id: String,
    pub job_name: String,
    /// `Queued`, `Running`, `Completed` or `Failed`.
    pub status: String,
    pub num_stages: usize,
    pub completed_stages: usize,
    pub percent_complete: u8,
}

/// Executors and jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterStatus {
    pub executors: Vec<ExecutorStatus>,
    pub jobs: Vec<JobStatus>,
}

/// Asks the scheduler at `url`.
pub async fn status(url: &ClusterUrl) -> Result<ClusterStatus> {
    url.check_reachable()?;
    Ok(ClusterStatus {
        executors: get(url, "executors").await?,
        jobs: get(url, "jobs").await?,
    })
}

async fn get<T: for<'de> Deserialize<'de>>(url: &ClusterUrl, what: &str) -> Result<T> {
    let address = format!("{}/api/{what}", url.scheduler_url());
    let failed = |why: String| TarnError::Invalid(format!("cluster status: GET {address}: {why}"));
    let response = reqwest::get(&address)
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(response.status().to_string()));
    }
    let body = response.text().await.map_err(|e| failed(e.to_string()))?;
    serde_json::from_str(&body).map_err(|e| failed(e.to_string()))
}
