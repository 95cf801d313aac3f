//! The local executor: runs a job's task graph in this process, `concurrency` tasks at a time.
//!
//! A stage starts when every stage it reads has finished; its tasks then join one queue with
//! those of any other ready stage, so independent branches of a job overlap. A task finished in
//! an earlier run of the same job (its `.done` record exists) is skipped. A task that fails for
//! a transient reason is retried in a fresh attempt folder; any other failure stops the job at
//! once, naming the task, its partition and the cause.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::compute::{SortOptions, concat, sort};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::json::ReaderBuilder;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tarn_planner::{Scheme, Splits, StageId, Work};
use tokio::task::JoinHandle;

use super::layout::write_atomically;
use super::report::{JobObserver, JobReport, StageReport, TaskStats};
use super::task::{Job, run_task};
use crate::error::{Result, TarnError};

/// Runs every task of `job` that has not finished, and reports what each stage did.
pub async fn run(job: Arc<Job>, observer: Arc<dyn JobObserver>) -> Result<JobReport> {
    let started = Instant::now();
    check_stage_records(&job)?;
    let plan = serde_json::to_vec_pretty(&job.graph).expect("a task graph serialises");
    write_atomically(&job.dir.root().join("plan.json"), &plan)?;

    let stages = &job.graph.stages;
    let mut schedule = Schedule::new(&job, observer);
    let mut splits: Vec<Option<ArrayRef>> = vec![None; stages.len()];
    let mut queue: VecDeque<(StageId, usize)> = VecDeque::new();
    let mut running: FuturesUnordered<JoinHandle<(StageId, usize, Result<TaskStats>)>> =
        FuturesUnordered::new();

    loop {
        while let Some(stage) = schedule.ready.pop_front() {
            splits[stage] = sampled_splits(&job, stage).await?;
            let unfinished = schedule.start(stage);
            queue.extend(unfinished.into_iter().map(|task| (stage, task)));
        }
        while running.len() < job.config.concurrency.max(1) {
            let Some((stage, task)) = queue.pop_front() else {
                break;
            };
            let threads = threads_per_task(&job, stage);
            let (job, splits) = (Arc::clone(&job), splits[stage].clone());
            running.push(tokio::spawn(async move {
                let result = attempt(&job, stage, task, splits, threads).await;
                (stage, task, result)
            }));
        }
        let Some(finished) = running.next().await else {
            break;
        };
        let (stage, _task, result) = finished
            .map_err(|e| TarnError::Invalid(format!("a task stopped unexpectedly: {e}")))?;
        match result {
            Ok(stats) => schedule.task_finished(stage, &stats),
            Err(err) => {
                for handle in running.iter() {
                    handle.abort();
                }
                return Err(err);
            }
        }
    }
    Ok(JobReport {
        job_id: job.dir.id().to_string(),
        stages: schedule.reports.into_iter().flatten().collect(),
        elapsed: started.elapsed(),
    })
}

/// Which stages may start, and what each has done so far.
struct Schedule<'a> {
    job: &'a Job,
    observer: Arc<dyn JobObserver>,
    /// For each stage, how many of the stages it reads have not finished.
    waiting_on: Vec<usize>,
    /// Stages whose inputs are all there, not yet started.
    ready: VecDeque<StageId>,
    progress: Vec<Progress>,
    reports: Vec<Option<StageReport>>,
}

impl<'a> Schedule<'a> {
    fn new(job: &'a Job, observer: Arc<dyn JobObserver>) -> Self {
        let stages = &job.graph.stages;
        let waiting_on: Vec<usize> = stages.iter().map(|s| s.depends_on.len()).collect();
        Schedule {
            job,
            observer,
            ready: (0..stages.len()).filter(|&s| waiting_on[s] == 0).collect(),
            waiting_on,
            progress: stages.iter().map(|_| Progress::default()).collect(),
            reports: vec![None; stages.len()],
        }
    }

    /// Starts a stage: counts the tasks an earlier run finished and returns the others.
    fn start(&mut self, stage: StageId) -> Vec<usize> {
        let name = &self.job.graph.stages[stage].name;
        let tasks = self.job.graph.stages[stage].tasks.len();
        self.progress[stage].started = Some(Instant::now());
        let mut unfinished = Vec::new();
        for task in 0..tasks {
            match self.job.dir.done_record(name, task) {
                Some(record) => {
                    let stats: TaskStats = serde_json::from_str(&record).unwrap_or_default();
                    self.progress[stage].add(&stats, true);
                }
                None => unfinished.push(task),
            }
        }
        self.observer
            .stage_started(name, tasks, self.progress[stage].finished);
        if unfinished.is_empty() {
            self.finish(stage);
        }
        unfinished
    }

    fn task_finished(&mut self, stage: StageId, stats: &TaskStats) {
        self.progress[stage].add(stats, false);
        let stage_info = &self.job.graph.stages[stage];
        self.observer.task_finished(&stage_info.name, stats);
        if self.progress[stage].finished == stage_info.tasks.len() {
            self.finish(stage);
        }
    }

    /// Reports a finished stage and readies the stages that were waiting for it.
    fn finish(&mut self, stage: StageId) {
        let stages = &self.job.graph.stages;
        let p = &self.progress[stage];
        let report = StageReport {
            name: stages[stage].name.clone(),
            tasks: stages[stage].tasks.len(),
            skipped: p.skipped,
            rows: p.stats.rows,
            bytes: p.stats.bytes,
            spilled: p.stats.spilled,
            elapsed: p.started.map_or(Duration::ZERO, |s| s.elapsed()),
        };
        self.observer.stage_finished(&report);
        self.reports[stage] = Some(report);
        for (other, s) in stages.iter().enumerate() {
            if s.depends_on.contains(&stage) {
                self.waiting_on[other] -= 1;
                if self.waiting_on[other] == 0 {
                    self.ready.push_back(other);
                }
            }
        }
    }
}

/// Counts for one stage while it runs.
#[derive(Default)]
struct Progress {
    started: Option<Instant>,
    finished: usize,
    skipped: usize,
    stats: TaskStats,
}

impl Progress {
    fn add(&mut self, stats: &TaskStats, skipped: bool) {
        self.finished += 1;
        self.skipped += usize::from(skipped);
        self.stats.rows += stats.rows;
        self.stats.bytes += stats.bytes;
        self.stats.spilled += stats.spilled;
    }
}

/// Runs a task until it commits, retrying transient failures.
async fn attempt(
    job: &Job,
    stage: StageId,
    task: usize,
    splits: Option<ArrayRef>,
    threads: usize,
) -> Result<TaskStats> {
    let name = &job.graph.stages[stage].name;
    let attempts = job.config.max_attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = async {
            let dir = job.dir.attempt_dir(name, task, attempt)?;
            let mut stats = run_task(job, stage, task, &dir, splits.clone(), threads).await?;
            stats.attempts = attempt;
            let record = serde_json::to_string(&stats).expect("stats serialise");
            job.dir.commit(name, task, &dir, &record)?;
            Ok::<_, TarnError>(stats)
        }
        .await;
        match result {
            Ok(stats) => return Ok(stats),
            Err(err) if err.is_transient() && attempt < attempts => {
                tracing::warn!(stage = %name, task, attempt, "retrying after: {err}");
            }
            Err(err) => {
                return Err(TarnError::Task {
                    stage: name.clone(),
                    task,
                    // A task writes (or, as a shuffle producer, reads) the partition it is named by.
                    partition: task,
                    attempts: attempt,
                    cause: Box::new(err),
                });
            }
        }
    }
}

/// Plan width for one task: the cores shared by the tasks that run at once.
fn threads_per_task(job: &Job, stage: StageId) -> usize {
    let running = job
        .config
        .concurrency
        .min(job.graph.stages[stage].tasks.len())
        .max(1);
    (job.config.threads / running).max(1)
}

/// Refuses to resume a job whose stages were planned differently, then records the plan of
/// each stage.
fn check_stage_records(job: &Job) -> Result<()> {
    for stage in &job.graph.stages {
        let record = serde_json::to_string_pretty(stage).expect("a stage serialises");
        let path = job.dir.stage_record(&stage.name);
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing != record => {
                return Err(TarnError::Invalid(format!(
                    "job '{}' already ran stage {} with a different plan; use a new job id",
                    job.dir.id(),
                    stage.name
                )));
            }
            Ok(_) => {}
            Err(_) => write_atomically(&path, record.as_bytes())?,
        }
    }
    Ok(())
}

/// Rows a range shuffle samples per producer for every partition it splits into.
const SAMPLES_PER_PARTITION: usize = 32;

/// The split points of a range shuffle: given ones as an array, or sampled ones chosen as
/// evenly spaced quantiles of a reservoir sample of every producer's input.
async fn sampled_splits(job: &Job, stage: StageId) -> Result<Option<ArrayRef>> {
    let stage = &job.graph.stages[stage];
    let Work::Shuffle {
        scheme: Scheme::Range { column, splits },
        ..
    } = &stage.work
    else {
        return Ok(None);
    };
    let points = match splits {
        Splits::Given(points) => return given_splits(points).map(Some),
        Splits::Sampled => stage.partitions - 1,
    };
    let per_producer = (SAMPLES_PER_PARTITION * stage.partitions)
        .div_ceil(stage.tasks.len())
        .max(1000);
    let mut samples: Vec<ArrayRef> = Vec::new();
    for task in &stage.tasks {
        let session = job.sql_session(job.config.threads)?;
        session
            .context()
            .register_table("__input", job.inputs().table(&task.inputs[0])?)?;
        let quoted = column.replace('"', "\"\"");
        let query = format!(
            "SELECT \"{quoted}\" FROM __input WHERE \"{quoted}\" IS NOT NULL USING SAMPLE reservoir({per_producer} ROWS)"
        );
        let frame = session.dataframe(&query).await?;
        for batch in frame.collect().await? {
            samples.push(Arc::clone(batch.column(0)));
        }
    }
    let samples: Vec<&dyn datafusion::arrow::array::Array> =
        samples.iter().map(|a| a.as_ref()).collect();
    if samples.iter().all(|a| a.is_empty()) || points == 0 {
        return Ok(Some(datafusion::arrow::array::new_empty_array(
            &datafusion::arrow::datatypes::DataType::Int64,
        )));
    }
    let all = concat(&samples)?;
    let sorted = sort(&all, Some(SortOptions::default()))?;
    let indices: Vec<u32> = (1..=points)
        .map(|i| (i * sorted.len() / (points + 1)) as u32)
        .collect();
    let picked = datafusion::arrow::compute::take(
        &sorted,
        &datafusion::arrow::array::UInt32Array::from(indices),
        None,
    )?;
    Ok(Some(picked))
}

/// Given split points (JSON numbers or strings) as an array of their JSON type; the shuffle
/// casts it to the column's type.
fn given_splits(points: &[serde_json::Value]) -> Result<ArrayRef> {
    let data_type = match points.first() {
        Some(serde_json::Value::String(_)) => datafusion::arrow::datatypes::DataType::Utf8,
        Some(v) if v.is_i64() => datafusion::arrow::datatypes::DataType::Int64,
        _ => datafusion::arrow::datatypes::DataType::Float64,
    };
    let schema = Arc::new(Schema::new(vec![Field::new("s", data_type, true)]));
    let rows: Vec<serde_json::Value> = points
        .iter()
        .map(|p| serde_json::json!({ "s": p }))
        .collect();
    let mut decoder = ReaderBuilder::new(schema)
        .build_decoder()
        .map_err(|e| TarnError::Invalid(format!("split points: {e}")))?;
    decoder
        .serialize(&rows)
        .map_err(|e| TarnError::Invalid(format!("split points: {e}")))?;
    let batch: RecordBatch = decoder
        .flush()
        .map_err(|e| TarnError::Invalid(format!("split points: {e}")))?
        .expect("split points were given");
    Ok(Arc::clone(batch.column(0)))
}
