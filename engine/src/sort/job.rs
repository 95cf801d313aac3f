//! `tarn sort run`: GraySort as a two-stage job on the executor that runs DataFrame jobs.
//!
//! ```text
//! sample keys ─► P-1 splitters
//! n00-partition: one task per input slice; routes each record to the partition whose key
//!                range holds it, into shuffle files  data/n00-partition/p=<p>/tNNNNN.dat
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

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
use crate::job::layout::{JobDir, io, partition_folder, read_dir};
use crate::job::{JobObserver, JobReport, TaskStats};

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
    /// Where the job keeps its shuffle files (in `<work_dir>/sort/`, removed at the end); by
    /// default `<OUT_DIR>/.tarn-sort`, on the file system of the output, so that publishing is
    /// a rename.
    pub work_dir: Option<PathBuf>,
}

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
    let dir = JobDir::in_folder(work_dir, "sort");
    let folder = work_dir.join("sort");
    // A job folder means an earlier run was cut short: it may have published some files.
    if !folder.exists() && has_data(out_dir)? {
        return Err(TarnError::TargetExists(out_dir.display().to_string()));
    }
    let config = &options.config;
    let partitions = match options.partitions {
        Some(0) => return Err(TarnError::Invalid("--partitions must be at least 1".into())),
        Some(p) => p,
        None => partitions_for(records * RECORD_LEN as u64, config),
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
    });
    let job = Arc::new(SortJob {
        dir,
        folder: folder.clone(),
        config: config.clone(),
        plan,
    });
    let report = run(Arc::clone(&job), observer).await?;
    let files = publish(&folder, partitions, out_dir)?;
    tarn_fs::remove_tree(&folder).map_err(|e| io("remove", &folder, e))?;
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

/// Enough partitions that the sorts running at once fit in the memory limit, each holding its
/// partition plus a third more (16-byte entries per 100-byte record, and their scratch copy
/// during a radix pass); at least one per concurrent task.
fn partitions_for(bytes: u64, config: &TarnConfig) -> usize {
    let concurrency = config.concurrency.max(1) as u64;
    let budget = config.memory_limit.unwrap_or(u64::MAX) / concurrency / 3 * 2;
    let partition_bytes = budget.clamp(RECORD_LEN as u64, MAX_PARTITION_BYTES);
    (bytes.div_ceil(partition_bytes).max(concurrency)) as usize
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
    /// The job's folder: the tasks read its shuffle files directly.
    folder: PathBuf,
    config: TarnConfig,
    plan: Arc<SortPlan>,
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
        let (plan, out, folder) = (
            Arc::clone(&self.plan),
            out.to_path_buf(),
            self.folder.clone(),
        );
        tokio::task::spawn_blocking(move || match stage {
            0 => route(&plan, task, &out),
            _ => sort_partition(&folder, task, &out),
        })
        .await
        .map_err(|e| TarnError::Invalid(format!("a sort task stopped unexpectedly: {e}")))?
    }

    /// A sorted partition no longer needs its shuffle files.
    fn committed(&self, stage: StageId, task: usize) -> Result<()> {
        let shuffle = partition_folder(&self.folder, PARTITION_STAGE, task);
        if stage == 1 {
            tarn_fs::remove_tree(&shuffle).map_err(|e| io("remove", &shuffle, e))?;
        }
        Ok(())
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
        ..TaskStats::default()
    })
}

/// Sorting task: reads partition `p`'s shuffle files, sorts them and writes one file, synced.
fn sort_partition(job: &Path, p: usize, out: &Path) -> Result<TaskStats> {
    let shuffle = partition_folder(job, PARTITION_STAGE, p);
    let pieces = if shuffle.exists() {
        read_dir(&shuffle)?
    } else {
        Vec::new()
    };
    let mut sizes = Vec::with_capacity(pieces.len());
    for piece in &pieces {
        let path = piece.path();
        sizes.push(piece.metadata().map_err(|e| io("inspect", &path, e))?.len() as usize);
    }
    let mut records = vec![0u8; sizes.iter().sum()];
    let mut at = 0;
    for (piece, &size) in pieces.iter().zip(&sizes) {
        let mut reader = DirectReader::open(&piece.path(), READ_BYTES)?;
        for offset in (0..size).step_by(READ_BYTES) {
            let len = READ_BYTES.min(size - offset);
            records[at..at + len].copy_from_slice(reader.read_at(offset as u64, len)?);
            at += len;
        }
    }
    let entries = sorted_entries(&records);
    let path = out.join(format!("p={p}")).join(part_file_name(p));
    fs::create_dir_all(path.parent().expect("a folder")).map_err(|e| io("create", &path, e))?;
    let mut writer = DirectWriter::create(&path, WRITE_BUFFER_BYTES)?;
    write_in_order(&records, &entries, &mut writer).map_err(|e| io("write", &path, e))?;
    writer.finish(true)?;
    Ok(TaskStats {
        rows: entries.len() as u64,
        bytes: records.len() as u64,
        ..TaskStats::default()
    })
}

/// Moves every sorted partition into `out_dir` (a file already there from an interrupted
/// publish is kept), then syncs the folder.
fn publish(job: &Path, partitions: usize, out_dir: &Path) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(out_dir).map_err(|e| io("create", out_dir, e))?;
    let mut files = Vec::with_capacity(partitions);
    for p in 0..partitions {
        let name = part_file_name(p);
        let from = partition_folder(job, SORT_STAGE, p).join(&name);
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
