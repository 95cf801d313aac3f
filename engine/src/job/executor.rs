//! The executor: runs a job's stages in this process, `concurrency` tasks at a time, or hands
//! whole stages to a cluster (see [`Tasks::run_remotely`]).
//!
//! A stage starts when every stage it reads has finished; its tasks then join one queue with
//! those of any other ready stage, so independent branches of a job overlap. A task finished in
//! an earlier run of the same job (its `.done` record exists) is skipped. A task that fails for
//! a transient reason is retried in a fresh attempt folder; any other failure stops the job at
//! once, naming the task, its partition and the cause.
//!
//! What a task does is the job's business ([`Tasks`]): DataFrame jobs run DataFusion plans over
//! Parquet, `tarn sort` moves raw records. The executor owns the order, the retries and the
//! commits that make resuming safe.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::{BoxStream, FuturesUnordered};
use futures::{FutureExt, StreamExt};
use tarn_planner::StageId;
use tokio::task::AbortHandle;

use super::layout::JobDir;
use super::report::{JobObserver, JobReport, StageReport, TaskStats};
use crate::config::TarnConfig;
use crate::error::{Result, TarnError};

/// What the executor needs to know of one stage.
#[derive(Debug, Clone)]
pub struct StagePlan {
    /// The stage's folder name under `data/`, `tasks/` and `attempts/`.
    pub name: String,
    pub tasks: usize,
    /// Stages whose output this stage reads.
    pub depends_on: Vec<StageId>,
    /// What the stage was planned as, kept in `stages/<name>.json`: a rerun of the job with a
    /// different record is refused, since its finished tasks would not fit the new plan.
    pub record: String,
}

/// A job the executor can run: stages of tasks, each task writing only into the attempt
/// folder it is given, which the executor then commits.
#[async_trait::async_trait]
pub trait Tasks: Send + Sync + 'static {
    fn dir(&self) -> &JobDir;
    /// Concurrency, attempts and threads.
    fn config(&self) -> &TarnConfig;
    fn stages(&self) -> Vec<StagePlan>;
    /// The whole plan, kept in `plan.json` for people and tools.
    fn plan(&self) -> String;
    /// Called once a stage's inputs are all there, before any of its tasks runs.
    async fn prepare_stage(&self, _stage: StageId) -> Result<()> {
        Ok(())
    }
    /// Runs one task, writing into `out`, with `threads` worth of parallelism.
    async fn run_task(
        &self,
        stage: StageId,
        task: usize,
        out: &Path,
        threads: usize,
    ) -> Result<TaskStats>;
    /// Called after a task's commit; a job may free what only that task needed.
    fn committed(&self, _stage: StageId, _task: usize) -> Result<()> {
        Ok(())
    }
    /// Hands the unfinished `tasks` of a stage to a cluster, which runs and commits them and
    /// reports each as it commits; `None` runs them here.
    fn run_remotely(&self, _stage: StageId, _tasks: &[usize]) -> Option<RemoteTasks> {
        None
    }
}

/// The tasks of a stage that a cluster committed, each with its statistics, as they finish.
pub type RemoteTasks = BoxStream<'static, Result<(usize, TaskStats)>>;

/// What the executor waits on.
enum Event {
    /// A task run in this process ended.
    Local {
        stage: StageId,
        result: Result<TaskStats>,
    },
    /// A stage on a cluster reported a task (`Some`) or ended (`None`).
    Remote {
        stage: StageId,
        next: Option<Result<(usize, TaskStats)>>,
        rest: RemoteTasks,
    },
}

/// Waits for the next report of a stage running on a cluster.
fn next_remote(stage: StageId, tasks: RemoteTasks) -> BoxFuture<'static, Event> {
    tasks
        .into_future()
        .map(move |(next, rest)| Event::Remote { stage, next, rest })
        .boxed()
}

/// Runs every task of `job` that has not finished, and reports what each stage did.
pub async fn run<T: Tasks>(job: Arc<T>, observer: Arc<dyn JobObserver>) -> Result<JobReport> {
    let started = Instant::now();
    let stages = job.stages();
    check_stage_records(job.dir(), &stages).await?;
    job.dir().write_plan(&job.plan()).await?;

    let mut schedule = Schedule::new(&stages, job.dir(), observer);
    let mut queue: VecDeque<(StageId, usize)> = VecDeque::new();
    let mut running: FuturesUnordered<BoxFuture<'static, Event>> = FuturesUnordered::new();
    let mut aborts: Vec<AbortHandle> = Vec::new();
    // Tasks running in this process, which `concurrency` bounds.
    let mut local = 0;

    let result = 'run: loop {
        while let Some(stage) = schedule.ready.pop_front() {
            let started = match job.prepare_stage(stage).await {
                Ok(()) => schedule.start(stage).await,
                Err(err) => Err(err),
            };
            let unfinished = match started {
                Ok(unfinished) => unfinished,
                Err(err) => break 'run Err(err),
            };
            if unfinished.is_empty() {
                continue;
            }
            match job.run_remotely(stage, &unfinished) {
                Some(tasks) => running.push(next_remote(stage, tasks)),
                None => queue.extend(unfinished.into_iter().map(|task| (stage, task))),
            }
        }
        while local < job.config().concurrency.max(1) {
            let Some((stage, task)) = queue.pop_front() else {
                break;
            };
            let threads = threads_per_task(job.config(), stages[stage].tasks);
            let (job, name) = (Arc::clone(&job), stages[stage].name.clone());
            let handle =
                tokio::spawn(
                    async move { attempt(job.as_ref(), stage, &name, task, threads).await },
                );
            aborts.push(handle.abort_handle());
            local += 1;
            running.push(
                handle
                    .map(move |joined| Event::Local {
                        stage,
                        result: joined.unwrap_or_else(|e| {
                            Err(TarnError::Invalid(format!(
                                "a task stopped unexpectedly: {e}"
                            )))
                        }),
                    })
                    .boxed(),
            );
        }
        let Some(event) = running.next().await else {
            break Ok(());
        };
        let (stage, result) = match event {
            Event::Local { stage, result } => {
                local -= 1;
                (stage, result)
            }
            Event::Remote {
                stage, next: None, ..
            } => match schedule.check_finished(stage) {
                Ok(()) => continue,
                Err(err) => break Err(err),
            },
            Event::Remote {
                stage,
                next: Some(result),
                rest,
            } => {
                running.push(next_remote(stage, rest));
                (stage, result.map(|(_, stats)| stats))
            }
        };
        match result {
            Ok(stats) => schedule.task_finished(stage, &stats),
            Err(err) => break Err(err),
        }
    };
    if let Err(err) = result {
        for handle in &aborts {
            handle.abort();
        }
        let _ = job.dir().remove_scratch();
        return Err(err);
    }
    job.dir().remove_scratch()?;
    Ok(JobReport {
        job_id: job.dir().id().to_string(),
        stages: schedule.reports.into_iter().flatten().collect(),
        elapsed: started.elapsed(),
    })
}

/// Which stages may start, and what each has done so far.
struct Schedule<'a> {
    stages: &'a [StagePlan],
    dir: &'a JobDir,
    observer: Arc<dyn JobObserver>,
    /// For each stage, how many of the stages it reads have not finished.
    waiting_on: Vec<usize>,
    /// Stages whose inputs are all there, not yet started.
    ready: VecDeque<StageId>,
    progress: Vec<Progress>,
    reports: Vec<Option<StageReport>>,
}

impl<'a> Schedule<'a> {
    fn new(stages: &'a [StagePlan], dir: &'a JobDir, observer: Arc<dyn JobObserver>) -> Self {
        let waiting_on: Vec<usize> = stages.iter().map(|s| s.depends_on.len()).collect();
        Schedule {
            stages,
            dir,
            observer,
            ready: (0..stages.len()).filter(|&s| waiting_on[s] == 0).collect(),
            waiting_on,
            progress: stages.iter().map(|_| Progress::default()).collect(),
            reports: vec![None; stages.len()],
        }
    }

    /// Starts a stage: counts the tasks an earlier run finished and returns the others.
    async fn start(&mut self, stage: StageId) -> Result<Vec<usize>> {
        let StagePlan { name, tasks, .. } = &self.stages[stage];
        self.progress[stage].started = Some(Instant::now());
        let mut unfinished = Vec::new();
        for (task, done) in self.dir.done_tasks(name, *tasks).await?.iter().enumerate() {
            match done {
                Some(stats) => self.progress[stage].add(stats, true),
                None => unfinished.push(task),
            }
        }
        self.observer
            .stage_started(name, *tasks, self.progress[stage].finished);
        if unfinished.is_empty() {
            self.finish(stage);
        }
        Ok(unfinished)
    }

    fn task_finished(&mut self, stage: StageId, stats: &TaskStats) {
        self.progress[stage].add(stats, false);
        let plan = &self.stages[stage];
        self.observer.task_finished(&plan.name, stats);
        if self.progress[stage].finished == plan.tasks {
            self.finish(stage);
        }
    }

    /// Fails when a stage a cluster ran ended without reporting every task.
    fn check_finished(&self, stage: StageId) -> Result<()> {
        let plan = &self.stages[stage];
        let finished = self.progress[stage].finished;
        if finished == plan.tasks {
            return Ok(());
        }
        Err(TarnError::Invalid(format!(
            "the cluster ended stage {} with {finished} of its {} tasks done",
            plan.name, plan.tasks
        )))
    }

    /// Reports a finished stage and readies the stages that were waiting for it.
    fn finish(&mut self, stage: StageId) {
        let p = &self.progress[stage];
        let report = StageReport {
            name: self.stages[stage].name.clone(),
            tasks: self.stages[stage].tasks,
            skipped: p.skipped,
            rows: p.stats.rows,
            bytes: p.stats.bytes,
            spilled: p.stats.spilled,
            elapsed: p.started.map_or(Duration::ZERO, |s| s.elapsed()),
        };
        self.observer.stage_finished(&report);
        self.reports[stage] = Some(report);
        for (other, s) in self.stages.iter().enumerate() {
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
pub(crate) async fn attempt<T: Tasks>(
    job: &T,
    stage: StageId,
    name: &str,
    task: usize,
    threads: usize,
) -> Result<TaskStats> {
    let attempts = job.config().max_attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = async {
            let dir = job.dir().attempt_dir(name, task, attempt)?;
            let mut stats = job.run_task(stage, task, &dir, threads).await?;
            stats.attempts = attempt;
            job.dir().commit(name, task, &dir, &stats).await?;
            job.committed(stage, task)?;
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
                    stage: name.to_string(),
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

/// Parallelism for one task: the cores shared by the tasks that run at once.
pub(crate) fn threads_per_task(config: &TarnConfig, tasks: usize) -> usize {
    let running = config.concurrency.min(tasks).max(1);
    (config.threads / running).max(1)
}

/// Refuses to resume a job whose stages were planned differently, then records the plan of
/// each stage.
async fn check_stage_records(dir: &JobDir, stages: &[StagePlan]) -> Result<()> {
    for stage in stages {
        match dir.stage_record(&stage.name).await? {
            Some(existing) if existing != stage.record => {
                return Err(TarnError::Invalid(format!(
                    "job '{}' already ran stage {} with a different plan; use a new job id",
                    dir.id(),
                    stage.name
                )));
            }
            Some(_) => {}
            None => dir.write_stage_record(&stage.name, &stage.record).await?,
        }
    }
    Ok(())
}
