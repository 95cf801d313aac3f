//! What a cluster is doing, read from its scheduler's REST API (served on the scheduler's
//! port): the executors that registered and the jobs it knows, with their progress.

use std::io::{Read, Write};
use std::time::Duration;

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
pub fn status(url: &ClusterUrl) -> Result<ClusterStatus> {
    Ok(ClusterStatus {
        executors: executors(url)?,
        jobs: get(url, "jobs")?,
    })
}

/// The executors registered with the scheduler at `url`.
pub fn executors(url: &ClusterUrl) -> Result<Vec<ExecutorStatus>> {
    get(url, "executors")
}

/// `GET /api/<what>` as one HTTP/1.0 exchange: the answers are small JSON documents, and the
/// scheduler shares its port with gRPC, so a plain socket is all this needs.
fn get<T: for<'de> Deserialize<'de>>(url: &ClusterUrl, what: &str) -> Result<T> {
    let failed = |why: String| {
        TarnError::Invalid(format!(
            "cluster status: GET {}/api/{what}: {why}",
            url.scheduler_url()
        ))
    };
    let mut stream = url.connect()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| failed(e.to_string()))?;
    let request = format!(
        "GET /api/{what} HTTP/1.0\r\nHost: {}:{}\r\nAccept: application/json\r\n\r\n",
        url.host(),
        url.port()
    );
    let mut response = Vec::new();
    stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.read_to_end(&mut response))
        .map_err(|e| failed(e.to_string()))?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| failed("the answer is not HTTP".into()))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(failed(status.to_string()));
    }
    serde_json::from_str(body).map_err(|e| failed(e.to_string()))
}
