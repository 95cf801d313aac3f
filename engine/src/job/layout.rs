//! Where a job keeps its files, and the renames that make a task's output visible.
//!
//! ```text
//! <data_root>/<job_id>/
//!   data/<stage>/p=<partition>/t<task>.parquet   committed output, read by later stages
//!   data/<stage>/_schema.parquet                 the stage's schema, for empty partitions
//!   tasks/<stage>/<task>.done                    the task finished and its files are in data/
//!   tasks/<stage>/<task>.committing              the files a commit is moving, until .done
//!   attempts/<stage>/<task>.<attempt>/           where one attempt writes; never read
//!   stages/<stage>.json                          what the stage was planned as
//! ```
//!
//! An attempt writes only inside its own folder. Committing moves its files into `data/` by
//! rename and then writes the `.done` record, so a task either has its record and all of its
//! files, or it runs again. A commit cut short (the process killed between renames) leaves a
//! `.committing` list, and the next commit of that task first removes the files it names, so
//! no stale file survives next to the new ones.
//!
//! Shuffle files are written without `fsync` (as Spark writes them): they are read once, soon,
//! from the page cache, and syncing them cost a tenth of a partition job. A crashed process
//! loses nothing; a crashed machine may lose their contents, so their `.done` record names the
//! boot they were written in and is ignored in any other boot, which runs the task again.

use std::fs;
use std::path::{Path, PathBuf};

use super::report::TaskStats;
use crate::error::{Result, TarnError};

/// The file name a task's output gets in each partition folder.
pub fn task_file(task: usize) -> String {
    format!("t{task:05}.parquet")
}

/// The folders of one job.
#[derive(Debug, Clone)]
pub struct JobDir {
    id: String,
    root: PathBuf,
}

impl JobDir {
    pub fn new(data_root: &Path, job_id: &str) -> Self {
        JobDir {
            id: job_id.to_string(),
            root: data_root.join(job_id),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn stage_dir(&self, stage: &str) -> PathBuf {
        self.root.join("data").join(stage)
    }

    pub fn partition_dir(&self, stage: &str, partition: usize) -> PathBuf {
        self.stage_dir(stage).join(format!("p={partition}"))
    }

    pub fn schema_file(&self, stage: &str) -> PathBuf {
        self.stage_dir(stage).join("_schema.parquet")
    }

    pub fn stage_record(&self, stage: &str) -> PathBuf {
        self.root.join("stages").join(format!("{stage}.json"))
    }

    fn task_record(&self, stage: &str, task: usize, kind: &str) -> PathBuf {
        self.root
            .join("tasks")
            .join(stage)
            .join(format!("{task:05}.{kind}"))
    }

    /// A fresh, empty folder for attempt `attempt` of a task. The name is unique to this call:
    /// on a cluster, an executor thought lost may still be running the same attempt.
    pub fn attempt_dir(&self, stage: &str, task: usize, attempt: usize) -> Result<PathBuf> {
        let unique = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let dir = self
            .root
            .join("attempts")
            .join(stage)
            .join(format!("{task:05}.{attempt}-{unique}"));
        tarn_fs::remove_tree(&dir).map_err(|e| io("clear", &dir, e))?;
        fs::create_dir_all(&dir).map_err(|e| io("create", &dir, e))?;
        Ok(dir)
    }

    /// Moves what an attempt wrote (`p=<p>/<file>` and `_schema.parquet`) into the stage's
    /// data folder, then records the task as done.
    pub fn commit(&self, stage: &str, task: usize, attempt_dir: &Path, stats: &str) -> Result<()> {
        let committing = self.task_record(stage, task, "committing");
        self.remove_partial_commit(stage, &committing)?;
        let mut moves = Vec::new();
        for entry in read_dir(attempt_dir)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(partition) = name.strip_prefix("p=") {
                for file in read_dir(&entry.path())? {
                    let target = self
                        .stage_dir(stage)
                        .join(format!("p={partition}"))
                        .join(file.file_name());
                    moves.push((file.path(), target));
                }
            } else if name == "_schema.parquet" {
                moves.push((entry.path(), self.schema_file(stage)));
            }
        }
        let listing: String = moves
            .iter()
            .map(|(_, target)| format!("{}\n", target.display()))
            .collect();
        write_atomically(&committing, listing.as_bytes())?;
        for (from, to) in &moves {
            let folder = to.parent().expect("a data file is in a folder");
            fs::create_dir_all(folder).map_err(|e| io("create", folder, e))?;
            fs::rename(from, to).map_err(|e| io("rename into", to, e))?;
        }
        write_atomically(&self.task_record(stage, task, "done"), stats.as_bytes())?;
        fs::remove_file(&committing).map_err(|e| io("remove", &committing, e))?;
        tarn_fs::remove_tree(attempt_dir).map_err(|e| io("remove", attempt_dir, e))?;
        Ok(())
    }

    /// Removes the files an interrupted commit of the same task had moved.
    fn remove_partial_commit(&self, stage: &str, committing: &Path) -> Result<()> {
        let Ok(listing) = fs::read_to_string(committing) else {
            return Ok(());
        };
        let schema = self.schema_file(stage);
        for line in listing.lines().filter(|l| !l.is_empty()) {
            let path = Path::new(line);
            // The schema file is shared by the stage's tasks; the new commit replaces it.
            if path != schema && path.exists() {
                fs::remove_file(path).map_err(|e| io("remove", path, e))?;
            }
        }
        Ok(())
    }

    /// Removes a stage's records and data, so that its tasks run again.
    pub fn forget(&self, stage: &str) -> Result<()> {
        for dir in [self.root.join("tasks").join(stage), self.stage_dir(stage)] {
            tarn_fs::remove_tree(&dir).map_err(|e| io("remove", &dir, e))?;
        }
        Ok(())
    }

    /// The statistics a finished task recorded; `None` when it has not finished, or when it
    /// wrote its files without syncing them in an earlier boot of this machine (a crash of the
    /// machine may have lost them).
    pub fn done_record(&self, stage: &str, task: usize) -> Option<String> {
        let record = fs::read_to_string(self.task_record(stage, task, "done")).ok()?;
        let stats: TaskStats = serde_json::from_str(&record).unwrap_or_default();
        match stats.unsynced_in_boot {
            Some(boot) if Some(boot) != tarn_fs::boot_id() => None,
            _ => Some(record),
        }
    }
}

/// Writes `bytes` to `path` atomically (see [`tarn_fs::publish`]): readers see the old content or
/// the new, never a part.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(tarn_fs::publish(path, bytes)?)
}

/// The entries of a folder, sorted by name.
pub fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>> {
    let mut entries = fs::read_dir(dir)
        .and_then(|entries| entries.collect::<std::io::Result<Vec<_>>>())
        .map_err(|e| io("list", dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    Ok(entries)
}

pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> TarnError {
    TarnError::io(op, path.display().to_string(), source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn a_commit_moves_files_and_records_the_task() {
        let root = tempfile::tempdir().unwrap();
        let job = JobDir::new(root.path(), "job");
        let attempt = job.attempt_dir("n01-shuffle", 3, 0).unwrap();
        write(&attempt.join("p=0").join(task_file(3)), "a");
        write(&attempt.join("p=7").join(task_file(3)), "b");
        assert_eq!(job.done_record("n01-shuffle", 3), None);
        job.commit("n01-shuffle", 3, &attempt, "{\"rows\":2}")
            .unwrap();
        assert_eq!(job.done_record("n01-shuffle", 3).unwrap(), "{\"rows\":2}");
        let moved = job.partition_dir("n01-shuffle", 7).join(task_file(3));
        assert_eq!(fs::read_to_string(moved).unwrap(), "b");
        assert!(!attempt.exists());
    }

    #[test]
    fn a_recommit_removes_what_an_interrupted_commit_left() {
        let root = tempfile::tempdir().unwrap();
        let job = JobDir::new(root.path(), "job");
        // An earlier commit moved a file into partition 5, then the process died.
        let stale = job.partition_dir("s", 5).join(task_file(0));
        write(&stale, "old");
        write_atomically(
            &job.task_record("s", 0, "committing"),
            format!("{}\n", stale.display()).as_bytes(),
        )
        .unwrap();
        let attempt = job.attempt_dir("s", 0, 1).unwrap();
        write(&attempt.join("p=2").join(task_file(0)), "new");
        job.commit("s", 0, &attempt, "{}").unwrap();
        assert!(!stale.exists(), "the rerun put no rows in partition 5");
        assert!(job.partition_dir("s", 2).join(task_file(0)).exists());
    }

    #[test]
    fn unsynced_files_are_trusted_only_in_the_boot_that_wrote_them() {
        let Some(boot) = tarn_fs::boot_id() else {
            return; // Not Linux: every file is synced, no record names a boot.
        };
        let root = tempfile::tempdir().unwrap();
        let job = JobDir::new(root.path(), "job");
        for (task, written_in, trusted) in [(0, boot, true), (1, boot.wrapping_add(1), false)] {
            let attempt = job.attempt_dir("s", task, 1).unwrap();
            write(&attempt.join("p=0").join(task_file(task)), "rows");
            let stats = TaskStats {
                rows: 1,
                unsynced_in_boot: Some(written_in),
                ..TaskStats::default()
            };
            job.commit("s", task, &attempt, &serde_json::to_string(&stats).unwrap())
                .unwrap();
            assert_eq!(job.done_record("s", task).is_some(), trusted, "task {task}");
        }
    }
}
