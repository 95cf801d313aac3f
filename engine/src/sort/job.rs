//! `tarn sort run`: GraySort as a two-stage job on the executor that runs DataFrame jobs.
//!
//! ```text
//! sample keys ─► P-1 splitters
//! n00-partition: one task per input slice; routes each record to the partition whose key
//!                range holds it, into shuffle files  data/n00-partition/p=<p>/tNNNNN.dat
//!                (in memory when they fit: see [`Shuffle`])
//! n01-sort:      one task per partition; reads its shuffle files, radix-sorts them in
//!                memory and writes                data/n01-sort/p=<p>/part-<p>.dat
//! publish:       moves part-<p>.dat into the output folder
//! ```
//!
//! Tasks commit and resume as in any job (see `job::layout`): running the same command again
//! after a crash skips what finished. A partition's shuffle files are deleted once its sorted
//! file is committed, so the disk holds the input, the shuffle and the output only about twice
//! the input's size at any time. Splitters are sample quantiles, so skewed keys still give
//! partitions of even size; partitions are sized so that the sorts running at once fit the
//! memory limit.
//!
//! The disk is the bound: a shuffle on disk makes the data cross it four times (read the input,
//! write and read the shuffle, write the output). When the input fits in memory next to the
//! sorts, the shuffle files go to a memory-backed folder (`/dev/shm`) and it crosses twice.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use tarn_planner::StageId;

use super::direct::{DirectReader, DirectWriter};
use super::files::{RecordFile, Slice, has_data, open, read_records, record_files, slices};
use super::format::{KEY_LEN, RECORD_LEN};
use super::radix::{key_value, sorted_entries, write_in_order};
use crate::config::TarnConfig;
use crate::error::{Result, TarnError};
use crate::job::executor::{StagePlan, Tasks, run};
use crate::job::layout::{JobDir, io, read_dir};
use crate::job::{JobObserver, JobReport, TaskStats, human_bytes};

const PARTITION_STAGE: &str = "n00-partition";
const SORT_STAGE: &str = "n01-sort";
/// The largest input slice one partitioning task reads.
const SLICE_BYTES: u64 = 512 << 20;
/// Bytes a partitioning task reads at a time.
const READ_BYTES: usize = 8 << 20;
/// Bytes a sorting task buffers before writing.
const WRITE_BUFFER_BYTES: usize = 8 << 20;
/// Bytes a partitioning task buffers over all partitions before writing.
const ROUTE_BUFFER_BYTES: usize = 64 << 20;
/// The largest partition chosen when the memory limit allows more: smaller ones let reading,
/// sorting and writing of different partitions overlap.
const MAX_PARTITION_BYTES: u64 = 1 << 30;
/// Keys sampled per partition when choosing splitters (at most `MAX_SAMPLES` in all).
const SAMPLES_PER_PARTITION: u64 = 1000;
const MAX_SAMPLES: u64 = 1 << 20;

/// How to sort.
#[derive(Debug, Clone)]
pub struct SortOptions {
    /// Partitions (output files); by default chosen from the memory limit.
    pub partitions: Option<usize>,
    /// Concurrency, memory limit and attempts.
    pub config: TarnConfig,
    /// Where the job keeps its records, sorted partitions and a shuffle on disk (in
    /// `<work_dir>/sort/`, removed at the end); by default `<OUT_DIR>/.tarn-sort`, on the file
    /// system of the output, so that publishing is a rename.
    pub work_dir: Option<PathBuf>,
    /// Where the shuffle files go.
    pub shuffle: Shuffle,
}

/// Where the partitioning stage keeps its shuffle files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Shuffle {
    /// In memory when the input fits there next to the sorts running at once (inside the
    /// memory limit and the memory free), else on disk.
    #[default]
    Auto,
    /// In the job's folder.
    Disk,
    /// Under this memory-backed folder whatever the input's size; the memory limit less the
    /// input is what the sorts may hold.
    Memory(PathBuf),
}

/// Linux's memory-backed folder, where a shuffle that fits in memory goes.
pub const MEMORY_FOLDER: &str = "/dev/shm";
/// The least memory per running sort for which `Shuffle::Auto` keeps the shuffle in memory:
/// below it, partitions would be too small to sort and write efficiently.
const MIN_SORT_MEMORY: u64 = 256 << 20;

/// What a sort did.
#[derive(Debug, Clone)]
pub struct Sorted {
    pub records: u64,
    pub partitions: usize,
    pub files: Vec<PathBuf>,
    pub job: JobReport,
}

/// Sorts the record files of `in_dir` into `out_dir/part-NNNNN.dat`.
pub async fn sort(
    in_dir: &Path,
    out_dir: &Path,
    options: SortOptions,
    observer: Arc<dyn JobObserver>,
) -> Result<Sorted> {
    let inputs = record_files(in_dir)?;
    let records: u64 = inputs.iter().map(|f| f.records).sum();
    if records == 0 {
        return Err(TarnError::NoFiles(format!(
            "{}/* (no records)",
            in_dir.display()
        )));
    }
    let default_work_dir = out_dir.join(".tarn-sort");
    let work_dir = options.work_dir.as_deref().unwrap_or(&default_work_dir);
    let mut dir = JobDir::in_folder(work_dir, "sort");
    let folder = work_dir.join("sort");
    // A job folder means an earlier run was cut short: it may have published some files.
    if !folder.exists() && has_data(out_dir)? {
        return Err(TarnError::TargetExists(out_dir.display().to_string()));
    }
    let config = &options.config;
    let bytes = records * RECORD_LEN as u64;
    let shuffle = match recorded_shuffle(&dir).await? {
        Some(recorded) => recorded,
        None => place_shuffle(&options.shuffle, &folder, bytes, config)?,
    };
    let sort_memory = match &shuffle {
        Some(_) => config.memory_limit.map(|limit| limit.saturating_sub(bytes)),
        None => config.memory_limit,
    };
    if let Some(memory) = &shuffle {
        dir = dir.with_stage_in(PARTITION_STAGE, memory);
    }
    let partitions = match options.partitions {
        Some(0) => return Err(TarnError::Invalid("--partitions must be at least 1".into())),
        Some(p) => p,
        None => partitions_for(bytes, sort_memory, config.concurrency),
    };
    let splitters = tokio::task::spawn_blocking({
        let inputs = inputs.clone();
        move || choose_splitters(&inputs, partitions)
    })
    .await
    .expect("sampling does not panic")?;
    let slice_records = (SLICE_BYTES / RECORD_LEN as u64)
        .min(records.div_ceil(2 * config.concurrency.max(1) as u64));
    let plan = Arc::new(SortPlan {
        slices: slices(&inputs, slice_records),
        inputs,
        splitters,
        partitions,
        shuffle: shuffle.clone(),
    });
    let job = Arc::new(SortJob {
        dir,
        config: config.clone(),
        plan,
        buffers: Arc::default(),
    });
    let report = run(Arc::clone(&job), observer).await?;
    let files = publish(&job.dir, partitions, out_dir)?;
    for place in std::iter::once(&folder).chain(&shuffle) {
        tarn_fs::remove_tree(place).map_err(|e| io("remove", place, e))?;
    }
    if options.work_dir.is_none() {
        fs::remove_dir(work_dir).map_err(|e| io("remove", work_dir, e))?;
    }
    Ok(Sorted {
        records,
        partitions,
        files,
        job: report,
    })
}

/// Enough partitions that the sorts running at once fit in `memory` (`None`: no limit), each
/// holding its partition plus a third more (16-byte entries per 100-byte record, and their
/// scratch copy during a radix pass); a whole number per concurrent task, so that no task
/// sorts alone at the end while the others' cores idle.
fn partitions_for(bytes: u64, memory: Option<u64>, concurrency: usize) -> usize {
    let concurrency = concurrency.max(1) as u64;
    let budget = memory.unwrap_or(u64::MAX) / concurrency / 3 * 2;
    let partition_bytes = budget.clamp(RECORD_LEN as u64, MAX_PARTITION_BYTES);
    (bytes
        .div_ceil(partition_bytes)
        .next_multiple_of(concurrency)) as usize
}

/// The memory-backed folder the shuffle of the job in `folder` goes to, or `None` for the
/// job's folder. `Auto` takes memory when the input and `MIN_SORT_MEMORY` per running sort fit
/// both in the memory limit and in what the memory folder and the machine have free.
fn place_shuffle(
    shuffle: &Shuffle,
    folder: &Path,
    bytes: u64,
    config: &TarnConfig,
) -> Result<Option<PathBuf>> {
    let limit = config.memory_limit.unwrap_or(u64::MAX);
    let sorts = config.concurrency.max(1) as u64 * MIN_SORT_MEMORY;
    let memory = match shuffle {
        Shuffle::Disk => return Ok(None),
        Shuffle::Memory(memory) => {
            if bytes.saturating_add(sorts) > limit {
                return Err(TarnError::Invalid(format!(
                    "a shuffle of {} in memory leaves too little of the memory limit ({}) to \
                     sort; raise --memory-limit or use --shuffle disk",
                    human_bytes(bytes),
                    human_bytes(limit)
                )));
            }
            memory.clone()
        }
        Shuffle::Auto => {
            let memory = PathBuf::from(MEMORY_FOLDER);
            let free = free_space(&memory).min(crate::config::available_memory().unwrap_or(0));
            let needed = bytes.saturating_add(sorts);
            if needed > limit || needed > free {
                return Ok(None);
            }
            memory
        }
    };
    // Named after the job's folder, so that a rerun of a job cut short finds its shuffle.
    let absolute = std::path::absolute(folder).map_err(|e| io("resolve", folder, e))?;
    let name = crc32fast::hash(absolute.as_os_str().as_encoded_bytes());
    Ok(Some(memory.join(format!("tarn-sort-{name:08x}"))))
}

/// Bytes free to an unprivileged writer in the file system of `folder` (0 when it is absent).
fn free_space(folder: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(folder.as_os_str().as_bytes()) else {
        return 0;
    };
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a NUL-terminated string and `stats` a writable statvfs.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
        return 0;
    }
    stats.f_bavail as u64 * stats.f_frsize as u64
}

/// The shuffle folder an earlier run of this job chose, from its partitioning stage's record:
/// a resumed sort must find the shuffle files where they were written.
async fn recorded_shuffle(dir: &JobDir) -> Result<Option<Option<PathBuf>>> {
    let Some(record) = dir.stage_record(PARTITION_STAGE).await? else {
        return Ok(None);
    };
    let plan: serde_json::Value = serde_json::from_str(&record).unwrap_or_default();
    Ok(Some(plan["shuffle"].as_str().map(PathBuf::from)))
}

/// The file name of sorted partition `p`.
pub fn part_file_name(p: usize) -> String {
    format!("part-{p:05}.dat")
}

/// Reads a sample of keys at evenly random record positions (the same ones on every run, so
/// that a resumed job plans the same splitters) and returns `partitions - 1` quantiles.
fn choose_splitters(inputs: &[RecordFile], partitions: usize) -> Result<Vec<u128>> {
    let records: u64 = inputs.iter().map(|f| f.records).sum();
    if partitions <= 1 {
        return Ok(Vec::new());
    }
    let wanted = (SAMPLES_PER_PARTITION * partitions as u64).min(MAX_SAMPLES);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x6772_6179);
    let mut positions: Vec<u64> = (0..wanted).map(|_| rng.random_range(0..records)).collect();
    positions.sort_unstable();
    // Global position → (file, record in file).
    let starts: Vec<u64> = inputs
        .iter()
        .scan(0, |start, f| {
            let this = *start;
            *start += f.records;
            Some(this)
        })
        .collect();
    let mut keys: Vec<u128> = positions
        .par_chunks(4096)
        .map(|chunk| {
            let mut keys = Vec::with_capacity(chunk.len());
            let mut opened: Option<(usize, File)> = None;
            for &position in chunk {
                let file = starts.partition_point(|&s| s <= position) - 1;
                if opened.as_ref().is_none_or(|(f, _)| *f != file) {
                    opened = Some((file, open(&inputs[file].path)?));
                }
                let (_, handle) = opened.as_ref().expect("opened above");
                let mut key = [0u8; KEY_LEN];
                read_records(
                    handle,
                    &inputs[file].path,
                    position - starts[file],
                    &mut key,
                )?;
                keys.push(key_value(&key));
            }
            Ok(keys)
        })
        .collect::<Result<Vec<_>>>()?
        .concat();
    keys.sort_unstable();
    Ok((1..partitions)
        .map(|i| keys[i * keys.len() / partitions])
        .collect())
}

/// Everything the tasks of one sort share.
#[derive(serde::Serialize)]
struct SortPlan {
    inputs: Vec<RecordFile>,
    slices: Vec<Slice>,
    /// Partition p holds the keys k with splitters[p-1] <= k < splitters[p].
    #[serde(serialize_with = "as_hex")]
    splitters: Vec<u128>,
    partitions: usize,
    /// The memory-backed folder of the shuffle files; `None`: the job's folder.
    shuffle: Option<PathBuf>,
}

fn as_hex<S: serde::Serializer>(keys: &[u128], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(keys.iter().map(|k| format!("{k:020x}")))
}

impl SortPlan {
    fn partition_of(&self, key: u128) -> usize {
        self.splitters.partition_point(|&s| s <= key)
    }
}

struct SortJob {
    dir: JobDir,
    config: TarnConfig,
    plan: Arc<SortPlan>,
    /// Buffers that sorting tasks read shuffle files on disk into, kept for the next tasks: a
    /// fresh gigabyte costs a quarter of a million page faults, each zeroing its page. At most
    /// one per task running at once.
    buffers: Arc<Mutex<Vec<Vec<u8>>>>,
}

#[async_trait::async_trait]
impl Tasks for SortJob {
    fn dir(&self) -> &JobDir {
        &self.dir
    }

    fn config(&self) -> &TarnConfig {
        &self.config
    }

    fn stages(&self) -> Vec<StagePlan> {
        vec![
            StagePlan {
                name: PARTITION_STAGE.into(),
                tasks: self.plan.slices.len(),
                depends_on: vec![],
                // Inputs, slices and splitters: a rerun must route records the same way.
                record: self.plan(),
            },
            StagePlan {
                name: SORT_STAGE.into(),
                tasks: self.plan.partitions,
                depends_on: vec![0],
                record: format!("{{\"partitions\": {}}}", self.plan.partitions),
            },
        ]
    }

    fn plan(&self) -> String {
        serde_json::to_string_pretty(&*self.plan).expect("a plan serialises")
    }

    async fn run_task(
        &self,
        stage: StageId,
        task: usize,
        out: &Path,
        _threads: usize,
    ) -> Result<TaskStats> {
        let (plan, out) = (Arc::clone(&self.plan), out.to_path_buf());
        let (shuffle, buffers) = (self.shuffle_folder(task), Arc::clone(&self.buffers));
        tokio::task::spawn_blocking(move || match stage {
            0 => route(&plan, task, &out),
            _ => {
                let in_memory = plan.shuffle.is_some();
                let mut buffer = buffers
                    .lock()
                    .expect("not poisoned")
                    .pop()
                    .unwrap_or_default();
                let stats = sort_partition(&shuffle, in_memory, task, &out, &mut buffer);
                buffers.lock().expect("not poisoned").push(buffer);
                stats
            }
        })
        .await
        .map_err(|e| TarnError::Invalid(format!("a sort task stopped unexpectedly: {e}")))?
    }

    /// A sorted partition no longer needs its shuffle files.
    fn committed(&self, stage: StageId, task: usize) -> Result<()> {
        let shuffle = self.shuffle_folder(task);
        if stage == 1 {
            tarn_fs::remove_tree(&shuffle).map_err(|e| io("remove", &shuffle, e))?;
        }
        Ok(())
    }
}

impl SortJob {
    /// The folder of partition `p`'s shuffle files.
    fn shuffle_folder(&self, p: usize) -> PathBuf {
        self.dir
            .partition_folder(PARTITION_STAGE, p)
            .expect("a sort job lives in a folder")
    }
}

/// Partitioning task: routes the records of one input slice into one shuffle file per
/// partition that receives any.
fn route(plan: &SortPlan, task: usize, out: &Path) -> Result<TaskStats> {
    let slice = plan.slices[task];
    let input = &plan.inputs[slice.file];
    let mut reader = DirectReader::open(&input.path, READ_BYTES)?;
    let buffer_bytes = (ROUTE_BUFFER_BYTES / plan.partitions).clamp(64 << 10, 8 << 20);
    let mut writers: Vec<Option<DirectWriter>> = (0..plan.partitions).map(|_| None).collect();
    let block_records = (READ_BYTES / RECORD_LEN) as u64;
    let mut done = 0;
    while done < slice.records {
        let n = block_records.min(slice.records - done);
        let offset = (slice.first + done) * RECORD_LEN as u64;
        let block = reader.read_at(offset, n as usize * RECORD_LEN)?;
        for record in block.chunks_exact(RECORD_LEN) {
            let p = plan.partition_of(key_value(record));
            let writer = match &mut writers[p] {
                Some(writer) => writer,
                empty => {
                    let path = out.join(format!("p={p}")).join(format!("t{task:05}.dat"));
                    let folder = path.parent().expect("a folder");
                    fs::create_dir_all(folder).map_err(|e| io("create", folder, e))?;
                    empty.insert(DirectWriter::create(&path, buffer_bytes)?)
                }
            };
            writer.append(record)?;
        }
        done += n;
    }
    for writer in writers.into_iter().flatten() {
        writer.finish(false)?;
    }
    Ok(TaskStats {
        rows: slice.records,
        bytes: slice.records * RECORD_LEN as u64,
        // Unsynced, or in memory: a crash of the machine may lose them.
        unsynced_in_boot: tarn_fs::boot_id(),
        ..TaskStats::default()
    })
}

/// Sorting task: sorts partition `p`'s shuffle files in `shuffle` and writes one file, synced.
/// Files in memory are mapped where they lie: copying them would take as much fresh memory
/// again. Files on disk are read into `buffer`, which the caller keeps for the next task.
fn sort_partition(
    shuffle: &Path,
    in_memory: bool,
    p: usize,
    out: &Path,
    buffer: &mut Vec<u8>,
) -> Result<TaskStats> {
    let mut files = Vec::new();
    if shuffle.exists() {
        for entry in read_dir(shuffle)? {
            let path = entry.path();
            let size = entry.metadata().map_err(|e| io("inspect", &path, e))?.len() as usize;
            files.push((path, size));
        }
    }
    let maps: Vec<memmap2::Mmap>;
    let pieces: Vec<&[u8]> = if in_memory {
        maps = files
            .iter()
            .map(|(path, _)| map_file(path))
            .collect::<Result<_>>()?;
        maps.iter().map(|map| &map[..]).collect()
    } else {
        buffer.clear();
        buffer.resize(files.iter().map(|(_, size)| size).sum(), 0);
        let mut at = 0;
        for (path, size) in &files {
            let mut reader = DirectReader::open(path, READ_BYTES)?;
            for offset in (0..*size).step_by(READ_BYTES) {
                let len = READ_BYTES.min(size - offset);
                reader.read_into(offset as u64, &mut buffer[at..at + len])?;
                at += len;
            }
        }
        let mut rest = &buffer[..];
        files
            .iter()
            .map(|(_, size)| {
                let (piece, tail) = rest.split_at(*size);
                rest = tail;
                piece
            })
            .collect()
    };
    let entries = sorted_entries(&pieces);
    let path = out.join(format!("p={p}")).join(part_file_name(p));
    fs::create_dir_all(path.parent().expect("a folder")).map_err(|e| io("create", &path, e))?;
    let mut writer = DirectWriter::create(&path, WRITE_BUFFER_BYTES)?;
    write_in_order(&pieces, &entries, &mut writer).map_err(|e| io("write", &path, e))?;
    writer.finish(true)?;
    Ok(TaskStats {
        rows: entries.len() as u64,
        bytes: entries.len() as u64 * RECORD_LEN as u64,
        ..TaskStats::default()
    })
}

/// Maps a shuffle file into memory, read-only.
fn map_file(path: &Path) -> Result<memmap2::Mmap> {
    let file = File::open(path).map_err(|e| io("open", path, e))?;
    // SAFETY: shuffle files are the job's own, written by committed tasks and never changed
    // again; they are removed only once the sorting task that maps them has committed.
    unsafe { memmap2::Mmap::map(&file) }.map_err(|e| io("map", path, e))
}

/// Moves every sorted partition into `out_dir` (a file already there from an interrupted
/// publish is kept), then syncs the folder.
fn publish(job: &JobDir, partitions: usize, out_dir: &Path) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(out_dir).map_err(|e| io("create", out_dir, e))?;
    let mut files = Vec::with_capacity(partitions);
    for p in 0..partitions {
        let name = part_file_name(p);
        let from = job
            .partition_folder(SORT_STAGE, p)
            .expect("a sort job lives in a folder")
            .join(&name);
        let to = out_dir.join(&name);
        if from.exists() {
            move_file(&from, &to)?;
        } else if !to.exists() {
            return Err(TarnError::Invalid(format!(
                "sorted partition {p} is missing from '{}'",
                from.display()
            )));
        }
        files.push(to);
    }
    File::open(out_dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("sync", out_dir, e))?;
    Ok(files)
}

/// Renames, or copies through a temporary name when the two paths are on different file
/// systems.
fn move_file(from: &Path, to: &Path) -> Result<()> {
    if fs::rename(from, to).is_ok() {
        return Ok(());
    }
    let name = to.file_name().expect("a file name").to_string_lossy();
    let temporary = to.with_file_name(format!(".{name}.tmp"));
    fs::copy(from, &temporary)
        .and_then(|_| File::open(&temporary)?.sync_all())
        .map_err(|e| io("copy into", &temporary, e))?;
    fs::rename(&temporary, to).map_err(|e| io("rename into", to, e))?;
    fs::remove_file(from).map_err(|e| io("remove", from, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(shuffle: Option<PathBuf>) -> String {
        let plan = SortPlan {
            inputs: Vec::new(),
            slices: Vec::new(),
            splitters: vec![7],
            partitions: 2,
            shuffle,
        };
        serde_json::to_string_pretty(&plan).unwrap()
    }

    #[tokio::test]
    async fn a_resumed_sort_finds_the_shuffle_where_the_first_run_put_it() {
        for shuffle in [None, Some(PathBuf::from("/dev/shm/tarn-sort-0123abcd"))] {
            let folder = tempfile::tempdir().unwrap();
            let dir = JobDir::in_folder(folder.path(), "sort");
            assert_eq!(recorded_shuffle(&dir).await.unwrap(), None, "a fresh job");
            dir.write_stage_record(PARTITION_STAGE, &plan(shuffle.clone()))
                .await
                .unwrap();
            assert_eq!(recorded_shuffle(&dir).await.unwrap(), Some(shuffle));
        }
    }

    #[test]
    fn partitions_fit_the_memory_and_share_out_evenly_over_the_running_tasks() {
        const GB: u64 = 1_000_000_000;
        // 1 GiB partitions at most: 5 GB needs 5, rounded up to 6 for two tasks.
        assert_eq!(partitions_for(5 * GB, Some(11 * GB), 2), 6);
        // 600 MB of memory per task allows partitions of 400 MB.
        assert_eq!(partitions_for(4 * GB, Some(1_800_000_000), 3), 12);
        assert_eq!(partitions_for(100, None, 4), 4);
    }

    #[test]
    fn the_shuffle_goes_to_memory_only_when_it_fits_next_to_the_sorts() {
        let folder = Path::new("/data/out/.tarn-sort/sort");
        let config = |limit: u64| TarnConfig {
            memory_limit: Some(limit),
            concurrency: 2,
            ..TarnConfig::default()
        };
        let memory = Shuffle::Memory("/mem".into());
        let placed = place_shuffle(&memory, folder, 1 << 30, &config(4 << 30)).unwrap();
        let placed = placed.unwrap();
        assert!(
            placed.to_string_lossy().starts_with("/mem/tarn-sort-"),
            "{placed:?}"
        );
        // The same job folder always gets the same memory folder.
        let again = place_shuffle(&memory, folder, 1 << 30, &config(4 << 30)).unwrap();
        assert_eq!(again, Some(placed));
        // 1 GiB of shuffle leaves 256 MiB of a 1.25 GiB limit: under 256 MiB for each of 2 sorts.
        let err = place_shuffle(&memory, folder, 1 << 30, &config(5 << 28)).unwrap_err();
        assert!(err.to_string().contains("--shuffle disk"), "{err}");
        assert_eq!(
            place_shuffle(&Shuffle::Auto, folder, 1 << 30, &config(5 << 28)).unwrap(),
            None
        );
        assert_eq!(
            place_shuffle(&Shuffle::Disk, folder, 1, &config(u64::MAX)).unwrap(),
            None
        );
    }
}
