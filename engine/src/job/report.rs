//! What a job tells its caller while it runs and when it ends. The engine prints nothing; the
//! CLI draws progress bars from these events.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What one task produced, as its `.done` record keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStats {
    pub rows: u64,
    /// Bytes of Parquet written.
    pub bytes: u64,
    /// Bytes its operators spilled to disk.
    pub spilled: u64,
    pub attempts: usize,
    /// The boot (see [`tarn_fs::boot_id`]) in which the task wrote its files without syncing
    /// them, as shuffle files are written: after a reboot they may be lost, and the task must
    /// run again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsynced_in_boot: Option<u128>,
}

/// One stage, when it has finished.
#[derive(Debug, Clone, PartialEq)]
pub struct StageReport {
    pub name: String,
    pub tasks: usize,
    /// Tasks skipped because an earlier run of the job had finished them.
    pub skipped: usize,
    pub rows: u64,
    pub bytes: u64,
    pub spilled: u64,
    pub elapsed: Duration,
}

/// A whole job run.
#[derive(Debug, Clone, PartialEq)]
pub struct JobReport {
    pub job_id: String,
    pub stages: Vec<StageReport>,
    pub elapsed: Duration,
}

impl JobReport {
    /// One line per stage and a total, for the end of a run.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for s in &self.stages {
            out.push_str(&format!(
                "{:<16} {:>6} tasks ({} resumed) {:>12} rows {:>10} {:>9} spilled {:>8.2}s\n",
                s.name,
                s.tasks,
                s.skipped,
                s.rows,
                human_bytes(s.bytes),
                human_bytes(s.spilled),
                s.elapsed.as_secs_f64()
            ));
        }
        out.push_str(&format!(
            "job {} finished in {:.2}s",
            self.job_id,
            self.elapsed.as_secs_f64()
        ));
        out
    }
}

/// Bytes in the largest unit that keeps the number at or above 1.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Receives a job's progress. Every method has an empty default.
pub trait JobObserver: Send + Sync {
    /// A stage's inputs are ready; `done` of its `tasks` finished in an earlier run.
    fn stage_started(&self, _stage: &str, _tasks: usize, _done: usize) {}
    /// A task committed its output.
    fn task_finished(&self, _stage: &str, _stats: &TaskStats) {}
    /// Every task of the stage has finished.
    fn stage_finished(&self, _report: &StageReport) {}
}

/// An observer that ignores everything.
pub struct Quiet;

impl JobObserver for Quiet {}
