//! `tarn run pipeline.sql`: runs a partitioned job written as SQL stages (see
//! `tarn_engine::job::Pipeline` for the syntax), with a progress bar per stage on a terminal
//! and a summary at the end.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tarn_engine::job::{JobObserver, Pipeline, StageReport, TaskStats, human_bytes};
use tarn_engine::{Session, TarnConfig};

#[derive(clap::Args)]
pub struct RunArgs {
    /// The pipeline: CREATE STAGE name AS function(...); ... COPY name TO 'folder/';
    pipeline: PathBuf,
    /// Run as this job; running the same job id again skips the tasks that finished
    /// (defaults to TARN_JOB_ID, then a new id).
    #[arg(long, value_name = "ID")]
    job_id: Option<String>,
    /// Where jobs keep their files: a folder, or an object store such as s3://bucket/jobs
    /// (defaults to TARN_DATA_ROOT, then ~/.tarn/data).
    #[arg(long, value_name = "DIR|URL")]
    data_root: Option<String>,
    /// Tasks run at once (defaults to TARN_CONCURRENCY, then the number of cores).
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Memory before operators spill, e.g. 4GB (defaults to TARN_MEMORY_LIMIT, then 80% of RAM).
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<String>,
    /// Run the job's stages on the Ballista cluster at df://HOST:PORT (defaults to
    /// TARN_CLUSTER); `data_root` must be a folder every machine shares, or an object store.
    #[arg(long, value_name = "URL")]
    cluster: Option<String>,
    /// Print the DAG and task graph of each COPY instead of running.
    #[arg(long)]
    explain: bool,
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut config = TarnConfig::from_env()?;
    if let Some(id) = &args.job_id {
        config.set("job_id", id)?;
    }
    if let Some(root) = &args.data_root {
        config.set("data_root", root)?;
    }
    if let Some(n) = args.concurrency {
        config.set("concurrency", &n.to_string())?;
    }
    if let Some(limit) = &args.memory_limit {
        config.set("memory_limit", limit)?;
    }
    if let Some(url) = &args.cluster {
        config.set_cluster(url)?;
    }
    let text = std::fs::read_to_string(&args.pipeline)
        .map_err(|e| anyhow::anyhow!("cannot read '{}': {e}", args.pipeline.display()))?;
    let pipeline = Pipeline::parse(&text)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.threads)
        .enable_all()
        .build()?;
    let session = Session::new(config)?;
    if args.explain {
        print!("{}", runtime.block_on(pipeline.explain(&session))?);
        return Ok(());
    }
    if std::io::stderr().is_terminal() {
        session.set_observer(Arc::new(StageBars::default()));
    }
    let reports = runtime.block_on(pipeline.run(&session))?;
    for (path, report) in reports {
        println!("wrote {path}");
        println!("{}", report.summary());
    }
    Ok(())
}

/// One indicatif bar per stage: tasks done of total, rows and bytes written.
#[derive(Default)]
pub struct StageBars {
    bars: MultiProgress,
    stages: Mutex<HashMap<String, (ProgressBar, TaskStats)>>,
}

impl JobObserver for StageBars {
    fn stage_started(&self, stage: &str, tasks: usize, done: usize) {
        if self.bars.is_hidden() {
            self.bars.set_draw_target(ProgressDrawTarget::stderr());
        }
        let bar = self.bars.add(ProgressBar::new(tasks as u64));
        bar.set_style(
            ProgressStyle::with_template("{prefix:<20} [{bar:30}] {pos}/{len} tasks {msg}")
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        bar.set_prefix(stage.to_string());
        bar.set_position(done as u64);
        bar.enable_steady_tick(Duration::from_millis(200));
        self.stages
            .lock()
            .expect("bars lock")
            .insert(stage.to_string(), (bar, TaskStats::default()));
    }

    fn task_finished(&self, stage: &str, stats: &TaskStats) {
        let mut stages = self.stages.lock().expect("bars lock");
        if let Some((bar, total)) = stages.get_mut(stage) {
            total.rows += stats.rows;
            total.bytes += stats.bytes;
            bar.inc(1);
            bar.set_message(format!("{} rows {}", total.rows, human_bytes(total.bytes)));
        }
    }

    fn stage_finished(&self, report: &StageReport) {
        if let Some((bar, _)) = self.stages.lock().expect("bars lock").get(&report.name) {
            bar.finish_with_message(format!(
                "{} rows {} in {:.1}s",
                report.rows,
                human_bytes(report.bytes),
                report.elapsed.as_secs_f64()
            ));
        }
    }
}
