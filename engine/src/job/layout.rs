//! Where a job keeps its files, and the commits that make a task's output visible.
//!
//! ```text
//! <data_root>/<job_id>/
//!   data/<stage>/p=<partition>/t<task>.parquet   committed output, read by later stages
//!   data/<stage>/_schema.parquet                 the stage's schema, for empty partitions
//!   tasks/<stage>/<task>.done                    the task finished and its files are in data/
//!   tasks/<stage>/<task>.committing              the files a commit is moving, until .done
//!   attempts/<stage>/<task>.<attempt>/           where one attempt writes; never read
//!   stages/<stage>.json                          what the stage was planned as
//!   plan.json                                    the whole task graph, for people and tools
//! ```
//!
//! An attempt writes only inside its own folder. Committing puts its files into `data/` and
//! then writes the `.done` record, so a task either has its record and all of its files, or it
//! runs again. A commit cut short leaves a `.committing` list, and the next commit of that task
//! first removes the files it names, so no stale file survives next to the new ones.
//!
//! The root is a folder (a local disk or a 3FS mount) or an object store (`s3://`,
//! `memory://`). In a folder a commit moves the attempt's files by rename. An object store
//! cannot rename, so an attempt writes into a local scratch folder instead (under the system's
//! temporary folder) and its commit uploads each file as one object, which readers see only
//! once it is whole; the records are objects too.
//!
//! Shuffle files are written without `fsync` (as Spark writes them): they are read once, soon,
//! from the page cache, and syncing them cost a tenth of a partition job. A crashed process
//! loses nothing; a crashed machine may lose their contents, so their `.done` record names the
//! boot they were written in and is ignored in any other boot, which runs the task again. Files
//! uploaded to an object store are durable there, and their record names no boot.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::object_store::path::Path as ObjectPath;
use datafusion::object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use futures::{StreamExt, TryStreamExt};
use tarn_fs::{FsError, Location, Stores};

use super::report::TaskStats;
use crate::error::{Result, TarnError};

/// The file name a task's output gets in each partition folder.
pub fn task_file(task: usize) -> String {
    format!("t{task:05}.parquet")
}

/// Requests to an object store one job operation keeps in flight at once.
const REQUESTS_IN_FLIGHT: usize = 8;

fn stage_key(stage: &str) -> String {
    format!("data/{stage}")
}

fn partition_key(stage: &str, partition: usize) -> String {
    format!("data/{stage}/p={partition}")
}

fn schema_key(stage: &str) -> String {
    format!("data/{stage}/_schema.parquet")
}

fn task_record_key(stage: &str, task: usize, kind: &str) -> String {
    format!("tasks/{stage}/{task:05}.{kind}")
}

fn stage_record_key(stage: &str) -> String {
    format!("stages/{stage}.json")
}

/// The files of one job.
#[derive(Debug, Clone)]
pub struct JobDir {
    id: String,
    root: Root,
}

#[derive(Debug, Clone)]
enum Root {
    Folder(JobFolder),
    Objects(Arc<ObjectRoot>),
}

/// A job kept in a folder.
#[derive(Debug, Clone)]
struct JobFolder {
    dir: PathBuf,
    /// Stages whose data and attempts live under another folder, laid out as in `dir`: a
    /// memory-backed one for a shuffle that fits in memory. An attempt and the stage's data
    /// share that folder, so a commit is still a rename.
    elsewhere: Vec<(String, PathBuf)>,
}

impl JobFolder {
    /// Where the job's file `key` is.
    fn path(&self, key: &str) -> PathBuf {
        let in_stage = |stage: &str| {
            ["data", "attempts"].iter().any(|area| {
                let rest = key.strip_prefix(area).and_then(|r| r.strip_prefix('/'));
                rest.and_then(|r| r.strip_prefix(stage))
                    .is_some_and(|r| r.is_empty() || r.starts_with('/'))
            })
        };
        match self.elsewhere.iter().find(|(stage, _)| in_stage(stage)) {
            Some((_, folder)) => folder.join(key),
            None => self.dir.join(key),
        }
    }
}

/// A job kept in an object store.
#[derive(Debug)]
struct ObjectRoot {
    /// The job's URL (`s3://bucket/jobs/<job>`), for messages.
    url: String,
    /// The store as DataFusion's registry names it (`s3://bucket`).
    store_url: ObjectStoreUrl,
    store: Arc<dyn ObjectStore>,
    /// The job's path inside the store.
    prefix: ObjectPath,
    /// The local folder attempts write into before their commit uploads them, shared by every
    /// job of this machine: each attempt's folder in it is named `<scratch_prefix>.<stage>.…`,
    /// so that a committed attempt leaves nothing behind.
    scratch: PathBuf,
    /// `<job id>-<unique>`: this job object's attempts in `scratch`.
    scratch_prefix: String,
}

impl ObjectRoot {
    fn object(&self, key: &str) -> ObjectPath {
        key.split('/')
            .fold(self.prefix.clone(), |path, part| path.join(part))
    }

    fn url_of(&self, key: &str) -> String {
        format!("{}/{key}", self.url)
    }

    fn error(
        &self,
        op: &'static str,
        key: &str,
        err: datafusion::object_store::Error,
    ) -> TarnError {
        FsError::store(op, self.url_of(key), err).into()
    }

    /// Writes the object at `location` to the local file `to`, synced.
    async fn download(&self, location: &ObjectPath, to: &Path) -> Result<()> {
        let failed = |e| FsError::store("read", format!("{}/{location}", self.store_url), e);
        let bytes = async { self.store.get(location).await?.bytes().await }
            .await
            .map_err(failed)?;
        fs::write(to, &bytes).map_err(|e| io("write", to, e))?;
        sync_file(to)
    }
}

impl JobDir {
    /// The job `job_id` under `data_root`: a folder, or an object-store URL.
    pub fn new(data_root: &str, job_id: &str) -> Result<Self> {
        let root = match Location::parse(data_root)? {
            Location::Posix(path) => Root::Folder(JobFolder {
                dir: path.join(job_id),
                elsewhere: Vec::new(),
            }),
            location => {
                let url = format!("{}/{job_id}", location.listing_url().trim_end_matches('/'));
                let (store, prefix) = Stores::global().resolve(&url)?;
                let store_url = match &location {
                    Location::S3 { bucket, .. } => format!("s3://{bucket}"),
                    Location::Memory { name, .. } => format!("memory://{name}"),
                    Location::Posix(_) => unreachable!("handled above"),
                };
                let unique = &uuid::Uuid::new_v4().simple().to_string()[..8];
                Root::Objects(Arc::new(ObjectRoot {
                    store_url: ObjectStoreUrl::parse(&store_url)?,
                    url,
                    store,
                    prefix,
                    scratch: std::env::temp_dir().join("tarn-attempts"),
                    scratch_prefix: format!("{job_id}-{unique}"),
                }))
            }
        };
        Ok(JobDir {
            id: job_id.to_string(),
            root,
        })
    }

    /// The job `job_id` in the folder `root`.
    pub fn in_folder(root: &Path, job_id: &str) -> Self {
        JobDir {
            id: job_id.to_string(),
            root: Root::Folder(JobFolder {
                dir: root.join(job_id),
                elsewhere: Vec::new(),
            }),
        }
    }

    /// Keeps the data and attempts of `stage` under `folder` (laid out as the job's folder)
    /// instead of the job's folder: a shuffle that fits in memory goes to a memory-backed
    /// folder while the records, and the other stages, stay on disk. For a job in a folder; an
    /// object-store job's attempts are in local scratch already.
    pub fn with_stage_in(mut self, stage: &str, folder: &Path) -> Self {
        if let Root::Folder(job) = &mut self.root {
            job.elsewhere
                .push((stage.to_string(), folder.to_path_buf()));
        }
        self
    }

    /// The folder of partition `partition` of `stage`, for a job in a folder.
    pub fn partition_folder(&self, stage: &str, partition: usize) -> Option<PathBuf> {
        match &self.root {
            Root::Folder(job) => Some(job.path(&partition_key(stage, partition))),
            Root::Objects(_) => None,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The job's folder; `None` when the job lives in an object store.
    pub fn folder(&self) -> Option<&Path> {
        match &self.root {
            Root::Folder(job) => Some(&job.dir),
            Root::Objects(_) => None,
        }
    }

    /// Whether the job's files cross a network to their store (an object store or a 3FS
    /// mount), where bytes saved by compression are worth their CPU time.
    pub fn over_network(&self) -> bool {
        match &self.root {
            Root::Folder(JobFolder { dir, .. }) => {
                let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
                tarn_fs::threefs::mount_of(tarn_fs::threefs::mounts(), &absolute).is_some()
            }
            Root::Objects(_) => true,
        }
    }

    /// The store DataFusion reads the job's data files from.
    pub fn store_url(&self) -> ObjectStoreUrl {
        match &self.root {
            Root::Folder(_) => ObjectStoreUrl::local_filesystem(),
            Root::Objects(root) => root.store_url.clone(),
        }
    }

    /// Where the job's file `key` is, for messages.
    fn url_of(&self, key: &str) -> String {
        match &self.root {
            Root::Folder(job) => job.path(key).display().to_string(),
            Root::Objects(root) => root.url_of(key),
        }
    }

    /// The text of the job's file `key`; `None` when there is none.
    async fn read_text(&self, key: &str) -> Result<Option<String>> {
        match &self.root {
            Root::Folder(job) => {
                let path = job.path(key);
                match fs::read_to_string(&path) {
                    Ok(text) => Ok(Some(text)),
                    Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
                    Err(err) => Err(io("read", &path, err)),
                }
            }
            Root::Objects(root) => {
                let object = root.object(key);
                let result = match root.store.get(&object).await {
                    Ok(result) => result,
                    Err(datafusion::object_store::Error::NotFound { .. }) => return Ok(None),
                    Err(err) => return Err(root.error("read", key, err)),
                };
                let bytes = result
                    .bytes()
                    .await
                    .map_err(|e| root.error("read", key, e))?;
                Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
            }
        }
    }

    /// Writes the job's file `key` whole: readers see the old content or the new, never a part.
    async fn write_text(&self, key: &str, text: &str) -> Result<()> {
        match &self.root {
            Root::Folder(job) => write_atomically(&job.path(key), text.as_bytes()),
            Root::Objects(root) => {
                let payload = PutPayload::from(text.as_bytes().to_vec());
                root.store
                    .put(&root.object(key), payload)
                    .await
                    .map_err(|e| root.error("write", key, e))?;
                Ok(())
            }
        }
    }

    /// Removes the job's file `key`, if it is there.
    async fn remove(&self, key: &str) -> Result<()> {
        match &self.root {
            Root::Folder(job) => {
                let path = job.path(key);
                match fs::remove_file(&path) {
                    Err(err) if err.kind() != ErrorKind::NotFound => Err(io("remove", &path, err)),
                    _ => Ok(()),
                }
            }
            Root::Objects(root) => match root.store.delete(&root.object(key)).await {
                Err(err) if !matches!(err, datafusion::object_store::Error::NotFound { .. }) => {
                    Err(root.error("remove", key, err))
                }
                _ => Ok(()),
            },
        }
    }

    /// Removes everything under the job's folder `key`.
    async fn remove_all(&self, key: &str) -> Result<()> {
        match &self.root {
            Root::Folder(job) => {
                let path = job.path(key);
                tarn_fs::remove_tree(&path).map_err(|e| io("remove", &path, e))
            }
            Root::Objects(root) => {
                let listed = root.store.list(Some(&root.object(key)));
                let locations = listed.map_ok(|meta| meta.location).boxed();
                root.store
                    .delete_stream(locations)
                    .try_collect::<Vec<_>>()
                    .await
                    .map_err(|e| root.error("remove", key, e))?;
                Ok(())
            }
        }
    }

    /// A fresh, empty folder for attempt `attempt` of a task. The name is unique to this call:
    /// on a cluster, an executor thought lost may still be running the same attempt.
    pub fn attempt_dir(&self, stage: &str, task: usize, attempt: usize) -> Result<PathBuf> {
        let unique = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let name = format!("{task:05}.{attempt}-{unique}");
        let dir = match &self.root {
            Root::Folder(job) => job.path(&format!("attempts/{stage}/{name}")),
            Root::Objects(root) => root
                .scratch
                .join(format!("{}.{stage}.{name}", root.scratch_prefix)),
        };
        tarn_fs::remove_tree(&dir).map_err(|e| io("clear", &dir, e))?;
        fs::create_dir_all(&dir).map_err(|e| io("create", &dir, e))?;
        Ok(dir)
    }

    /// Removes what attempts of an object-store job that failed or were cancelled left in the
    /// local scratch folder; for when none of this job object's attempts runs.
    pub fn remove_scratch(&self) -> Result<()> {
        let Root::Objects(root) = &self.root else {
            return Ok(());
        };
        if !root.scratch.exists() {
            return Ok(());
        }
        let mine = format!("{}.", root.scratch_prefix);
        for entry in read_dir(&root.scratch)? {
            if entry.file_name().to_string_lossy().starts_with(&mine) {
                let path = entry.path();
                tarn_fs::remove_tree(&path).map_err(|e| io("remove", &path, e))?;
            }
        }
        Ok(())
    }

    /// Puts what an attempt wrote (`p=<p>/<file>` and `_schema.parquet`) into the stage's data
    /// folder, then records the task as done with `stats`.
    pub async fn commit(
        &self,
        stage: &str,
        task: usize,
        attempt_dir: &Path,
        stats: &TaskStats,
    ) -> Result<()> {
        let committing = task_record_key(stage, task, "committing");
        self.remove_partial_commit(stage, &committing).await?;
        let mut files = Vec::new();
        for entry in read_dir(attempt_dir)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(partition) = name.strip_prefix("p=") {
                for file in read_dir(&entry.path())? {
                    let file_name = file.file_name().to_string_lossy().into_owned();
                    let key = format!("{}/p={partition}/{file_name}", stage_key(stage));
                    files.push((file.path(), key));
                }
            } else if name == "_schema.parquet" {
                files.push((entry.path(), schema_key(stage)));
            }
        }
        let listing: String = files.iter().map(|(_, key)| format!("{key}\n")).collect();
        self.write_text(&committing, &listing).await?;
        let mut stats = *stats;
        match &self.root {
            Root::Folder(job) => {
                for (from, key) in &files {
                    let to = job.path(key);
                    let folder = to.parent().expect("a data file is in a folder");
                    fs::create_dir_all(folder).map_err(|e| io("create", folder, e))?;
                    fs::rename(from, &to).map_err(|e| io("rename into", &to, e))?;
                }
            }
            Root::Objects(root) => {
                let uploads: Vec<_> = files
                    .iter()
                    .map(|(from, key)| {
                        let (object, url) = (root.object(key), root.url_of(key));
                        async move {
                            tarn_fs::upload::upload_file(&root.store, from, &object, &url).await
                        }
                    })
                    .collect();
                futures::stream::iter(uploads)
                    .buffer_unordered(REQUESTS_IN_FLIGHT)
                    .try_collect::<()>()
                    .await?;
                stats.unsynced_in_boot = None;
            }
        }
        let record = serde_json::to_string(&stats).expect("stats serialise");
        self.write_text(&task_record_key(stage, task, "done"), &record)
            .await?;
        self.remove(&committing).await?;
        tarn_fs::remove_tree(attempt_dir).map_err(|e| io("remove", attempt_dir, e))?;
        Ok(())
    }

    /// Removes the files an interrupted commit of the same task had put in place.
    async fn remove_partial_commit(&self, stage: &str, committing: &str) -> Result<()> {
        let Some(listing) = self.read_text(committing).await? else {
            return Ok(());
        };
        let schema = schema_key(stage);
        for key in listing.lines().filter(|l| !l.is_empty()) {
            // The schema file is shared by the stage's tasks; the new commit replaces it.
            if key != schema {
                self.remove(key).await?;
            }
        }
        Ok(())
    }

    /// Removes a stage's records and data, so that its tasks run again.
    pub async fn forget(&self, stage: &str) -> Result<()> {
        self.remove_all(&format!("tasks/{stage}")).await?;
        self.remove_all(&stage_key(stage)).await
    }

    /// The statistics a finished task recorded; `None` when it has not finished, or when it
    /// wrote its files without syncing them in an earlier boot of this machine (a crash of the
    /// machine may have lost them).
    pub async fn done(&self, stage: &str, task: usize) -> Result<Option<TaskStats>> {
        let Some(record) = self
            .read_text(&task_record_key(stage, task, "done"))
            .await?
        else {
            return Ok(None);
        };
        let stats: TaskStats = serde_json::from_str(&record).unwrap_or_default();
        Ok(match stats.unsynced_in_boot {
            Some(boot) if Some(boot) != tarn_fs::boot_id() => None,
            _ => Some(stats),
        })
    }

    /// [`Self::done`] for each of the first `tasks` tasks of `stage`. In an object store the
    /// stage's records are listed first and only those there are read: a fresh stage of
    /// thousands of tasks costs one listing, not a request per task.
    pub async fn done_tasks(&self, stage: &str, tasks: usize) -> Result<Vec<Option<TaskStats>>> {
        let recorded: Vec<usize> = match &self.root {
            Root::Folder(_) => (0..tasks).collect(),
            Root::Objects(root) => {
                let key = format!("tasks/{stage}");
                let listed: Vec<_> = root
                    .store
                    .list(Some(&root.object(&key)))
                    .try_collect()
                    .await
                    .map_err(|e| root.error("list", &key, e))?;
                let mut recorded: Vec<usize> = listed
                    .iter()
                    .filter_map(|meta| {
                        meta.location
                            .filename()?
                            .strip_suffix(".done")?
                            .parse()
                            .ok()
                    })
                    .filter(|&task| task < tasks)
                    .collect();
                recorded.sort_unstable();
                recorded
            }
        };
        let reads: Vec<_> = recorded
            .iter()
            .map(|&task| async move { Ok::<_, TarnError>((task, self.done(stage, task).await?)) })
            .collect();
        let mut done = vec![None; tasks];
        let mut found = futures::stream::iter(reads).buffer_unordered(REQUESTS_IN_FLIGHT);
        while let Some(read) = found.next().await {
            let (task, stats) = read?;
            done[task] = stats;
        }
        Ok(done)
    }

    /// What `stage` was planned as when it first ran in this job.
    pub async fn stage_record(&self, stage: &str) -> Result<Option<String>> {
        self.read_text(&stage_record_key(stage)).await
    }

    pub async fn write_stage_record(&self, stage: &str, record: &str) -> Result<()> {
        self.write_text(&stage_record_key(stage), record).await
    }

    pub async fn write_plan(&self, plan: &str) -> Result<()> {
        self.write_text("plan.json", plan).await
    }

    /// The committed files of partition `partition` of `stage`, in name order, as DataFusion
    /// reads them from [`Self::store_url`].
    pub async fn partition_files(
        &self,
        stage: &str,
        partition: usize,
    ) -> Result<Vec<PartitionedFile>> {
        let key = partition_key(stage, partition);
        match &self.root {
            Root::Folder(job) => {
                let folder = job.path(&key);
                if !folder.exists() {
                    return Ok(Vec::new());
                }
                read_dir(&folder)?
                    .iter()
                    .map(|entry| local_file(&entry.path()))
                    .collect()
            }
            Root::Objects(root) => {
                let mut listed: Vec<_> = root
                    .store
                    .list(Some(&root.object(&key)))
                    .try_collect()
                    .await
                    .map_err(|e| root.error("list", &key, e))?;
                listed.sort_by(|a, b| a.location.cmp(&b.location));
                Ok(listed.into_iter().map(PartitionedFile::from).collect())
            }
        }
    }

    /// The schema of what `stage` writes, from its `_schema.parquet`.
    pub async fn stage_schema(&self, stage: &str) -> Result<SchemaRef> {
        let key = schema_key(stage);
        let bad_file = |reason: String| TarnError::BadFile {
            path: self.url_of(&key),
            format: "Parquet",
            reason,
        };
        let schema = match &self.root {
            Root::Folder(job) => {
                let path = job.path(&key);
                let file = fs::File::open(&path).map_err(|e| io("open", &path, e))?;
                ParquetRecordBatchReaderBuilder::try_new(file).map(|b| Arc::clone(b.schema()))
            }
            Root::Objects(root) => {
                let bytes = async { root.store.get(&root.object(&key)).await?.bytes().await }
                    .await
                    .map_err(|e| root.error("read", &key, e))?;
                ParquetRecordBatchReaderBuilder::try_new(bytes).map(|b| Arc::clone(b.schema()))
            }
        };
        schema.map_err(|e| bad_file(e.to_string()))
    }

    /// Puts a copy of each committed file of partition `partition` of `stage` into the local
    /// folder `into`, in name order, named by `name`, and syncs it: shuffle files were written
    /// unsynced, and a copy handed to a user must survive a crash.
    pub async fn copy_partition(
        &self,
        stage: &str,
        partition: usize,
        into: &Path,
        mut name: impl FnMut() -> String,
    ) -> Result<()> {
        let key = partition_key(stage, partition);
        match &self.root {
            Root::Folder(job) => {
                let folder = job.path(&key);
                if !folder.exists() {
                    return Ok(());
                }
                for entry in read_dir(&folder)? {
                    let to = into.join(name());
                    if fs::hard_link(entry.path(), &to).is_err() {
                        fs::copy(entry.path(), &to).map_err(|e| io("copy into", &to, e))?;
                    }
                    sync_file(&to)?;
                }
            }
            Root::Objects(root) => {
                for file in self.partition_files(stage, partition).await? {
                    root.download(&file.object_meta.location, &into.join(name()))
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Copies `stage`'s `_schema.parquet` to the local file `to`.
    pub async fn copy_schema_file(&self, stage: &str, to: &Path) -> Result<()> {
        let key = schema_key(stage);
        match &self.root {
            Root::Folder(job) => {
                let from = job.path(&key);
                fs::copy(&from, to).map_err(|e| io("copy", &from, e))?;
                sync_file(to)
            }
            Root::Objects(root) => root.download(&root.object(&key), to).await,
        }
    }
}

/// Writes `bytes` to `path` atomically (see [`tarn_fs::publish`]): readers see the old content or
/// the new, never a part.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(tarn_fs::publish(path, bytes)?)
}

fn sync_file(path: &Path) -> Result<()> {
    fs::File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(|e| io("sync", path, e))
}

/// The entries of a folder, sorted by name.
pub fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>> {
    let mut entries = fs::read_dir(dir)
        .and_then(|entries| entries.collect::<std::io::Result<Vec<_>>>())
        .map_err(|e| io("list", dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    Ok(entries)
}

/// A local file as DataFusion addresses it in the local object store.
fn local_file(path: &Path) -> Result<PartitionedFile> {
    let size = fs::metadata(path).map_err(|e| io("read", path, e))?.len();
    let absolute = std::path::absolute(path).map_err(|e| io("resolve", path, e))?;
    let location = absolute.to_string_lossy();
    Ok(PartitionedFile::new(
        location.trim_start_matches('/').to_string(),
        size,
    ))
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

    /// A job in a fresh folder and one in a fresh in-memory object store.
    fn roots() -> (tempfile::TempDir, [JobDir; 2]) {
        let folder = tempfile::tempdir().unwrap();
        let store = format!("memory://layout-{}/jobs", uuid::Uuid::new_v4().simple());
        let jobs = [
            JobDir::new(&folder.path().display().to_string(), "job").unwrap(),
            JobDir::new(&store, "job").unwrap(),
        ];
        (folder, jobs)
    }

    async fn contents(job: &JobDir, stage: &str, partition: usize) -> Vec<String> {
        let into = tempfile::tempdir().unwrap();
        let mut n = 0;
        job.copy_partition(stage, partition, into.path(), || {
            n += 1;
            format!("{n}")
        })
        .await
        .unwrap();
        (1..=n)
            .map(|i| fs::read_to_string(into.path().join(i.to_string())).unwrap())
            .collect()
    }

    fn stats(rows: u64) -> TaskStats {
        TaskStats {
            rows,
            ..TaskStats::default()
        }
    }

    #[tokio::test]
    async fn a_commit_moves_files_and_records_the_task() {
        let (_folder, jobs) = roots();
        for job in jobs {
            let attempt = job.attempt_dir("n01-shuffle", 3, 0).unwrap();
            write(&attempt.join("p=0").join(task_file(3)), "a");
            write(&attempt.join("p=7").join(task_file(3)), "b");
            assert_eq!(job.done("n01-shuffle", 3).await.unwrap(), None);
            job.commit("n01-shuffle", 3, &attempt, &stats(2))
                .await
                .unwrap();
            let done = job.done("n01-shuffle", 3).await.unwrap().unwrap();
            assert_eq!(done.rows, 2, "{job:?}");
            let finished: Vec<bool> = job
                .done_tasks("n01-shuffle", 5)
                .await
                .unwrap()
                .iter()
                .map(Option::is_some)
                .collect();
            assert_eq!(finished, [false, false, false, true, false]);
            assert_eq!(contents(&job, "n01-shuffle", 7).await, ["b"]);
            assert!(contents(&job, "n01-shuffle", 1).await.is_empty());
            let files = job.partition_files("n01-shuffle", 0).await.unwrap();
            assert_eq!(files.len(), 1);
            assert_eq!(files[0].object_meta.size, 1);
            assert!(!attempt.exists());
            let leftover = job.attempt_dir("n01-shuffle", 4, 0).unwrap();
            job.remove_scratch().unwrap();
            if job.folder().is_none() {
                assert!(!leftover.exists(), "a failed attempt's scratch is removed");
            }
            job.forget("n01-shuffle").await.unwrap();
            assert_eq!(job.done("n01-shuffle", 3).await.unwrap(), None);
            assert!(contents(&job, "n01-shuffle", 7).await.is_empty());
        }
    }

    #[tokio::test]
    async fn a_stage_placed_elsewhere_keeps_its_data_there_and_its_records_with_the_job() {
        let (disk, memory) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let job = JobDir::in_folder(disk.path(), "job").with_stage_in("n00-shuffle", memory.path());
        let jobs = disk.path().join("job");
        for (stage, home) in [("n00-shuffle", memory.path()), ("n00-shuffle2", &*jobs)] {
            let attempt = job.attempt_dir(stage, 0, 0).unwrap();
            assert!(attempt.starts_with(home.join("attempts")), "{attempt:?}");
            write(&attempt.join("p=4").join(task_file(0)), "rows");
            job.commit(stage, 0, &attempt, &stats(1)).await.unwrap();
            let folder = job.partition_folder(stage, 4).unwrap();
            assert_eq!(folder, home.join(format!("data/{stage}/p=4")));
            assert_eq!(contents(&job, stage, 4).await, ["rows"]);
            assert!(jobs.join(format!("tasks/{stage}/00000.done")).exists());
        }
        job.forget("n00-shuffle").await.unwrap();
        assert!(!memory.path().join("data/n00-shuffle").exists());
        assert_eq!(contents(&job, "n00-shuffle2", 4).await, ["rows"]);
    }

    #[tokio::test]
    async fn a_recommit_removes_what_an_interrupted_commit_left() {
        let (_folder, jobs) = roots();
        for job in jobs {
            // An earlier commit put a file into partition 5, then the process died.
            let first = job.attempt_dir("s", 0, 1).unwrap();
            write(&first.join("p=5").join(task_file(0)), "old");
            job.commit("s", 0, &first, &stats(1)).await.unwrap();
            job.remove(&task_record_key("s", 0, "done")).await.unwrap();
            job.write_text(
                &task_record_key("s", 0, "committing"),
                &format!("{}/p=5/{}\n", stage_key("s"), task_file(0)),
            )
            .await
            .unwrap();
            let second = job.attempt_dir("s", 0, 2).unwrap();
            write(&second.join("p=2").join(task_file(0)), "new");
            job.commit("s", 0, &second, &stats(1)).await.unwrap();
            assert!(
                contents(&job, "s", 5).await.is_empty(),
                "the rerun put no rows in partition 5 ({job:?})"
            );
            assert_eq!(contents(&job, "s", 2).await, ["new"]);
        }
    }

    #[tokio::test]
    async fn unsynced_files_are_trusted_only_in_the_boot_that_wrote_them() {
        let Some(boot) = tarn_fs::boot_id() else {
            return; // Not Linux: every file is synced, no record names a boot.
        };
        let (_folder, [folder, objects]) = roots();
        for (task, written_in, trusted) in [(0, boot, true), (1, boot.wrapping_add(1), false)] {
            for (job, trusted) in [(&folder, trusted), (&objects, true)] {
                let attempt = job.attempt_dir("s", task, 1).unwrap();
                write(&attempt.join("p=0").join(task_file(task)), "rows");
                let stats = TaskStats {
                    rows: 1,
                    unsynced_in_boot: Some(written_in),
                    ..TaskStats::default()
                };
                job.commit("s", task, &attempt, &stats).await.unwrap();
                // Uploaded files are durable in the store, whatever boot wrote them.
                let done = job.done("s", task).await.unwrap();
                assert_eq!(done.is_some(), trusted, "task {task} in {job:?}");
            }
        }
    }
}
