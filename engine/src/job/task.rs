//! Running one task: a DataFusion plan over the task's input files, written as Parquet into
//! the attempt's folder (`p=<partition>/t<task>.parquet`, plus `_schema.parquet`).

use std::fs::{self, File};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{BatchCoalescer, take_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use futures::StreamExt;
use tarn_planner::{Input, Scheme, StageId, TaskGraph, Work, substitute};

use super::executor::{RemoteTasks, StagePlan, Tasks, threads_per_task};
use super::input::Inputs;
use super::layout::{JobDir, io, task_file};
use super::report::TaskStats;
use super::shuffle::{PARTITION_COLUMN, Partitioner, add_partition_column, with_partition_column};
use super::source::Source;
use super::splits::sampled_splits;
use crate::cluster::{ClusterUrl, stage};
use crate::config::TarnConfig;
use crate::error::{Result, TarnError};
use crate::sql::SqlSession;

/// A function `map_batches` applies to every batch; an `std::io::Error` it returns counts as
/// transient, so the task is retried.
pub type BatchFn = Arc<
    dyn Fn(
            RecordBatch,
        ) -> std::result::Result<RecordBatch, Box<dyn std::error::Error + Send + Sync>>
        + Send
        + Sync,
>;

/// A registered `map_batches` function and the batch size it wants.
#[derive(Clone)]
pub struct BatchFunction {
    pub call: BatchFn,
    /// Rows per call (the last batch of a partition may be smaller); `None` passes the batches
    /// as the scan produces them.
    pub batch_size: Option<usize>,
}

/// A shuffle producer flushes its open row groups when they hold more than this, so that
/// thousands of target partitions do not each keep a row group in memory.
const SHUFFLE_BUFFER_BYTES: usize = 64 << 20;

/// Everything the tasks of one job run share.
pub struct Job {
    pub config: TarnConfig,
    pub runtime: Arc<RuntimeEnv>,
    pub dir: JobDir,
    pub sources: Vec<Arc<Source>>,
    pub functions: Vec<BatchFunction>,
    pub graph: TaskGraph,
    /// Each range shuffle stage's split points, set when the stage starts.
    pub splits: Mutex<Vec<Option<ArrayRef>>>,
}

#[async_trait::async_trait]
impl Tasks for Job {
    fn dir(&self) -> &JobDir {
        &self.dir
    }

    fn config(&self) -> &TarnConfig {
        &self.config
    }

    fn stages(&self) -> Vec<StagePlan> {
        self.graph
            .stages
            .iter()
            .map(|stage| StagePlan {
                name: stage.name.clone(),
                tasks: stage.tasks.len(),
                depends_on: stage.depends_on.clone(),
                record: serde_json::to_string_pretty(stage).expect("a stage serialises"),
            })
            .collect()
    }

    fn plan(&self) -> String {
        serde_json::to_string_pretty(&self.graph).expect("a task graph serialises")
    }

    async fn prepare_stage(&self, stage: StageId) -> Result<()> {
        let splits = sampled_splits(self, stage).await?;
        self.splits.lock().expect("splits lock")[stage] = splits;
        Ok(())
    }

    async fn run_task(
        &self,
        stage: StageId,
        task: usize,
        out: &Path,
        threads: usize,
    ) -> Result<TaskStats> {
        let splits = self.splits.lock().expect("splits lock")[stage].clone();
        run_task(self, stage, task, out, splits, threads).await
    }

    /// On a cluster, every stage but `map_batches` (its function lives in this process).
    fn run_remotely(&self, stage: StageId, tasks: &[usize]) -> Option<RemoteTasks> {
        let url = self.config.cluster.as_deref()?;
        if matches!(self.graph.stages[stage].work, Work::MapBatches { .. }) {
            return None;
        }
        let threads = threads_per_task(&self.config, self.graph.stages[stage].tasks.len());
        Some(match ClusterUrl::parse(url) {
            Ok(cluster) => stage::submit(self, &cluster, stage, tasks, threads),
            Err(err) => futures::stream::once(async { Err(err) }).boxed(),
        })
    }
}

impl Job {
    pub fn inputs(&self) -> Inputs<'_> {
        Inputs {
            sources: &self.sources,
            job: &self.dir,
            stages: &self.graph.stages,
        }
    }

    /// A SQL session over the job's runtime, running plans `threads` partitions wide.
    pub fn sql_session(&self, threads: usize) -> Result<SqlSession> {
        let config = TarnConfig {
            threads,
            ..self.config.local()
        };
        SqlSession::with_runtime(config, Arc::clone(&self.runtime))
    }

    /// Streams everything `input` names.
    pub async fn read(&self, input: &Input, threads: usize) -> Result<SendableRecordBatchStream> {
        self.read_columns(input, None, threads).await
    }

    /// Streams `columns` (all when `None`) of everything `input` names.
    async fn read_columns(
        &self,
        input: &Input,
        columns: Option<&[String]>,
        threads: usize,
    ) -> Result<SendableRecordBatchStream> {
        let session = self.sql_session(threads)?;
        let mut frame = session
            .context()
            .read_table(self.inputs().table(input).await?)?;
        if let Some(columns) = columns {
            let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
            frame = frame.select_columns(&columns)?;
        }
        Ok(frame.execute_stream().await?)
    }
}

/// Runs task `task` of stage `stage`, writing into `out`. `splits` are a range shuffle's split
/// points.
async fn run_task(
    job: &Job,
    stage: StageId,
    task: usize,
    out: &Path,
    splits: Option<ArrayRef>,
    threads: usize,
) -> Result<TaskStats> {
    let stage = &job.graph.stages[stage];
    let inputs = &stage.tasks[task].inputs;
    match &stage.work {
        Work::Sql { queries } => {
            let session = job.sql_session(threads)?;
            let names: Vec<String> = (0..inputs.len()).map(|i| format!("__input_{i}")).collect();
            for (name, input) in names.iter().zip(inputs) {
                session
                    .context()
                    .register_table(name.as_str(), job.inputs().table(input).await?)?;
            }
            let mut frame = None;
            for (step, query) in queries.iter().enumerate() {
                let query = match step {
                    0 => substitute(query, &names)?,
                    _ => substitute(query, &[format!("__step_{}", step - 1)])?,
                };
                let planned = session.dataframe(&query).await?;
                if step + 1 < queries.len() {
                    session
                        .context()
                        .register_table(format!("__step_{step}"), planned.into_view())?;
                } else {
                    frame = Some(planned);
                }
            }
            let frame = frame.expect("a SQL stage has at least one query");
            let state = session.context().task_ctx();
            let plan = frame.create_physical_plan().await?;
            let stream = execute_stream(Arc::clone(&plan), state)?;
            let mut stats = write_single(stream, out, task).await?;
            stats.spilled = spilled_bytes(plan.as_ref());
            Ok(stats)
        }
        Work::MapBatches { function } => {
            let stream = job.read(&inputs[0], threads).await?;
            map_batches(stream, &job.functions[*function], out, task).await
        }
        Work::Shuffle { scheme, columns } => {
            // Readers that use no column (`count(*)`) still need the row count, which a
            // file without columns cannot carry: keep the input's first column for them.
            let columns = match columns {
                Some(columns) if columns.is_empty() => {
                    let schema = job.inputs().schema(inputs[0].origin).await?;
                    Some(
                        schema
                            .fields()
                            .iter()
                            .take(1)
                            .map(|f| f.name().clone())
                            .collect(),
                    )
                }
                other => other.clone(),
            };
            let needed = columns.as_ref().map(|columns| {
                let mut needed: Vec<String> = columns
                    .iter()
                    .filter(|c| c.as_str() != PARTITION_COLUMN)
                    .cloned()
                    .collect();
                for column in scheme_columns(scheme) {
                    if !needed.contains(column) {
                        needed.push(column.clone());
                    }
                }
                needed
            });
            let stream = job
                .read_columns(&inputs[0], needed.as_deref(), threads)
                .await?;
            let partitioner =
                Partitioner::new(scheme, &stream.schema(), stage.partitions, splits, task)?;
            let add_column = matches!(scheme, Scheme::Hash { .. });
            let layout = ShuffleLayout {
                add_column,
                keep: columns,
                partitions: stage.partitions,
                compressed: job.dir.over_network(),
            };
            shuffle(stream, partitioner, layout, out, task).await
        }
    }
}

/// Writes a stream as the task's one output file.
async fn write_single(
    mut stream: SendableRecordBatchStream,
    out: &Path,
    task: usize,
) -> Result<TaskStats> {
    let schema = stream.schema();
    write_schema(out, &schema)?;
    let mut file = OutputFile::create(partition_file(out, task, task), &schema, Encoding::Dataset)?;
    while let Some(batch) = stream.next().await {
        file.write(&batch?)?;
    }
    file.finish()
}

/// Applies `function` to every batch (regrouped to its batch size) and writes the results as
/// the task's one output file.
async fn map_batches(
    mut stream: SendableRecordBatchStream,
    function: &BatchFunction,
    out: &Path,
    task: usize,
) -> Result<TaskStats> {
    let input_schema = stream.schema();
    let mut coalescer = function
        .batch_size
        .map(|size| BatchCoalescer::new(Arc::clone(&input_schema), size.max(1)));
    let mut file: Option<OutputFile> = None;
    let mut apply = |batch: RecordBatch| -> Result<()> {
        let mapped = call(&function.call, batch)?;
        let file = match &mut file {
            Some(file) => file,
            None => {
                write_schema(out, &mapped.schema())?;
                file.insert(OutputFile::create(
                    partition_file(out, task, task),
                    &mapped.schema(),
                    Encoding::Dataset,
                )?)
            }
        };
        file.write(&mapped)
    };
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        match &mut coalescer {
            Some(coalescer) => {
                coalescer.push_batch(batch)?;
                while let Some(full) = coalescer.next_completed_batch() {
                    apply(full)?;
                }
            }
            None => apply(batch)?,
        }
    }
    if let Some(coalescer) = &mut coalescer {
        coalescer.finish_buffered_batch()?;
        while let Some(rest) = coalescer.next_completed_batch() {
            apply(rest)?;
        }
    }
    match file {
        Some(file) => file.finish(),
        None => {
            // No rows: the function's answer to an empty batch gives the output schema.
            let empty = call(&function.call, RecordBatch::new_empty(input_schema))?;
            write_schema(out, &empty.schema())?;
            Ok(TaskStats::default())
        }
    }
}

/// Calls a user function, turning its errors and panics into one-line task errors.
fn call(function: &BatchFn, batch: RecordBatch) -> Result<RecordBatch> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| function(batch))) {
        Ok(Ok(batch)) => Ok(batch),
        Ok(Err(err)) => Err(match err.downcast::<std::io::Error>() {
            Ok(io) => TarnError::FunctionIo(*io),
            Err(other) => TarnError::Function(other),
        }),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(TarnError::Function(format!("panicked: {message}").into()))
        }
    }
}

/// The columns a scheme assigns partitions by.
fn scheme_columns(scheme: &Scheme) -> &[String] {
    match scheme {
        Scheme::Hash { columns } => columns,
        Scheme::Column { column }
        | Scheme::Range { column, .. }
        | Scheme::Expert { column, .. } => std::slice::from_ref(column),
        Scheme::Rows | Scheme::Random => &[],
    }
}

/// What a shuffle producer writes besides the rows' partitions.
struct ShuffleLayout {
    /// Whether to add the partition as [`PARTITION_COLUMN`] (hash shuffles).
    add_column: bool,
    /// The only columns to write (`None`: all).
    keep: Option<Vec<String>>,
    partitions: usize,
    /// Whether to compress the files (see [`Encoding::Transient`]).
    compressed: bool,
}

/// Splits every batch by partition and appends each piece to that partition's file, which is
/// created when its first row arrives.
async fn shuffle(
    mut stream: SendableRecordBatchStream,
    mut partitioner: Partitioner,
    layout: ShuffleLayout,
    out: &Path,
    task: usize,
) -> Result<TaskStats> {
    let ShuffleLayout {
        add_column,
        keep,
        partitions,
        compressed,
    } = layout;
    let full = if add_column {
        with_partition_column(&stream.schema())
    } else {
        stream.schema()
    };
    let kept: Option<Vec<usize>> = keep
        .map(|names| names.iter().map(|n| full.index_of(n)).collect())
        .transpose()?;
    let schema = match &kept {
        Some(indices) => Arc::new(full.project(indices)?),
        None => Arc::clone(&full),
    };
    write_schema(out, &schema)?;
    let mut files: Vec<Option<OutputFile>> = (0..partitions).map(|_| None).collect();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let assigned = partitioner.assign(&batch)?;
        let batch = if add_column {
            add_partition_column(&batch, &full, &assigned)?
        } else {
            batch
        };
        let batch = match &kept {
            Some(indices) => batch.project(indices)?,
            None => batch,
        };
        // Row indices grouped by partition (a counting sort), then one `take` and slices.
        let mut starts = vec![0usize; partitions + 1];
        for &p in &assigned {
            starts[p as usize + 1] += 1;
        }
        for p in 0..partitions {
            starts[p + 1] += starts[p];
        }
        let mut next = starts.clone();
        let mut order = vec![0u32; assigned.len()];
        for (row, &p) in assigned.iter().enumerate() {
            order[next[p as usize]] = row as u32;
            next[p as usize] += 1;
        }
        let sorted = take_record_batch(&batch, &UInt32Array::from(order))?;
        for p in 0..partitions {
            let (start, end) = (starts[p], starts[p + 1]);
            if start == end {
                continue;
            }
            let file = match &mut files[p] {
                Some(file) => file,
                slot => slot.insert(OutputFile::create(
                    partition_file(out, p, task),
                    &schema,
                    Encoding::Transient { compressed },
                )?),
            };
            file.write(&sorted.slice(start, end - start))?;
        }
        let buffered: usize = files.iter().flatten().map(|f| f.buffered()).sum();
        if buffered > SHUFFLE_BUFFER_BYTES {
            for file in files.iter_mut().flatten() {
                file.flush()?;
            }
        }
    }
    let mut stats = TaskStats::default();
    for file in files.into_iter().flatten() {
        let written = file.finish()?;
        stats.rows += written.rows;
        stats.bytes += written.bytes;
        stats.unsynced_in_boot = stats.unsynced_in_boot.or(written.unsynced_in_boot);
    }
    Ok(stats)
}

fn partition_file(out: &Path, partition: usize, task: usize) -> PathBuf {
    out.join(format!("p={partition}")).join(task_file(task))
}

/// Records the stage's schema as an empty Parquet file, for readers of empty partitions.
fn write_schema(out: &Path, schema: &SchemaRef) -> Result<()> {
    OutputFile::create(out.join("_schema.parquet"), schema, Encoding::Dataset)?.finish()?;
    Ok(())
}

/// How a task's Parquet files are encoded.
#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    /// Files users may read: Snappy with dictionaries and statistics, as DuckDB writes them.
    Dataset,
    /// Shuffle files, read once by the next stage: no dictionaries or statistics, which are
    /// cheaper to write and to read back, and LZ4 only when `compressed`: on a local disk the
    /// next stage reads them from the page cache, and compressing cost more than the bytes it
    /// saved (the partition bench's shuffle stage took 0.29–0.37 s plain, 0.34–0.44 s in LZ4).
    Transient { compressed: bool },
}

impl Encoding {
    fn properties(self) -> WriterProperties {
        let builder = WriterProperties::builder();
        match self {
            Encoding::Dataset => builder.set_compression(Compression::SNAPPY),
            Encoding::Transient { compressed } => builder
                .set_compression(if compressed {
                    Compression::LZ4_RAW
                } else {
                    Compression::UNCOMPRESSED
                })
                .set_dictionary_enabled(false)
                .set_statistics_enabled(EnabledStatistics::None),
        }
        .build()
    }
}

/// One Parquet file being written.
struct OutputFile {
    path: PathBuf,
    writer: ArrowWriter<File>,
    rows: u64,
    /// Whether `finish` syncs the file: outputs users read are synced, shuffle files are not.
    sync: bool,
}

impl OutputFile {
    fn create(path: PathBuf, schema: &SchemaRef, encoding: Encoding) -> Result<Self> {
        let folder = path.parent().expect("an output file is in a folder");
        fs::create_dir_all(folder).map_err(|e| io("create", folder, e))?;
        let file = File::create(&path).map_err(|e| io("create", &path, e))?;
        let properties = encoding.properties();
        let writer = ArrowWriter::try_new(file, Arc::clone(schema), Some(properties))
            .map_err(|e| parquet_error(&path, e))?;
        Ok(OutputFile {
            path,
            writer,
            rows: 0,
            sync: encoding == Encoding::Dataset,
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        self.writer
            .write(batch)
            .map_err(|e| parquet_error(&self.path, e))
    }

    fn buffered(&self) -> usize {
        self.writer.in_progress_size()
    }

    fn flush(&mut self) -> Result<()> {
        self.writer
            .flush()
            .map_err(|e| parquet_error(&self.path, e))
    }

    fn finish(self) -> Result<TaskStats> {
        let file = self
            .writer
            .into_inner()
            .map_err(|e| parquet_error(&self.path, e))?;
        // Shuffle files are not synced: the next stage reads them from the page cache, and the
        // task's record says which boot they are good in (on a machine without boot ids, sync).
        let unsynced_in_boot = (!self.sync).then(tarn_fs::boot_id).flatten();
        if unsynced_in_boot.is_none() {
            file.sync_all().map_err(|e| io("sync", &self.path, e))?;
        }
        let bytes = file
            .metadata()
            .map_err(|e| io("stat", &self.path, e))?
            .len();
        Ok(TaskStats {
            rows: self.rows,
            bytes,
            unsynced_in_boot,
            ..TaskStats::default()
        })
    }
}

/// A Parquet writer's failure: the writer's own errors come from the file system.
fn parquet_error(path: &Path, err: datafusion::parquet::errors::ParquetError) -> TarnError {
    let source = match err {
        datafusion::parquet::errors::ParquetError::External(e) => {
            std::io::Error::other(e.to_string())
        }
        other => std::io::Error::other(other.to_string()),
    };
    io("write", path, source)
}

/// Bytes the plan's operators spilled.
fn spilled_bytes(plan: &dyn ExecutionPlan) -> u64 {
    let own = plan.metrics().and_then(|m| m.spilled_bytes()).unwrap_or(0) as u64;
    own + plan
        .children()
        .into_iter()
        .map(|child| spilled_bytes(child.as_ref()))
        .sum::<u64>()
}
