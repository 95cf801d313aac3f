//! One stage of a partitioned job as one Ballista job: [`StageTasksExec`] is a plan node whose
//! partition `i` runs the stage's `i`-th unfinished task, so Ballista deals the tasks out over
//! every executor's slots. The task numbers come from an in-memory scan below the node, one row
//! per partition: Ballista's scheduler cuts a stage's plan down to each Ballista task's share of
//! partitions by rewriting the scans it knows, and a leaf of our own would run every partition
//! in every Ballista task. A task runs on its executor exactly as it runs here (a DataFusion
//! plan over its input files, output committed by rename under the job's `data_root`, which
//! must be a folder every machine shares); the node's output is one row per committed task,
//! its statistics, which the client's scheduler counts.

use std::fmt;
use std::sync::{Arc, Mutex};

use ballista_core::config::BALLISTA_SCHEDULER_MAX_PARTITIONS_PER_TASK as MAX_PARTITIONS_PER_TASK;
use ballista_core::extension::SessionConfigExt;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use datafusion::arrow::array::{RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use datafusion::prelude::SessionConfig;
use futures::TryFutureExt;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tarn_planner::{StageId, TaskGraph};

use super::ClusterUrl;
use super::codec::TarnPhysicalCodec;
use super::ipc;
use crate::config::TarnConfig;
use crate::error::{Result, TarnError};
use crate::job::executor::attempt;
use crate::job::layout::JobDir;
use crate::job::report::TaskStats;
use crate::job::source::{FileSource, Source};
use crate::job::task::Job;
use crate::sql::files::FormatOptions;

/// What an executor needs to run tasks of one stage: the job as plain data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageSpec {
    /// The job's settings, as the tasks run with them (never a cluster: a task runs where it is).
    config: TarnConfig,
    job_id: String,
    graph: TaskGraph,
    sources: Vec<SourceSpec>,
    stage: StageId,
    threads: usize,
    /// A range shuffle's split points, as an IPC stream in base64.
    splits: Option<String>,
}

/// A job source as plain data; batches and schemas as IPC streams in base64.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum SourceSpec {
    Files {
        store: String,
        format: FormatOptions,
        /// Each file's location in its store and its size.
        files: Vec<(String, u64)>,
        schema: String,
    },
    Memory {
        batches: String,
    },
}

impl SourceSpec {
    fn of(source: &Source) -> Result<Self> {
        Ok(match source {
            Source::Files(files) => SourceSpec::Files {
                store: files.store.as_str().to_string(),
                format: files.options.clone(),
                files: files
                    .files
                    .iter()
                    .map(|f| (f.object_meta.location.to_string(), f.object_meta.size))
                    .collect(),
                schema: BASE64.encode(ipc::encode(&files.schema, &[])?),
            },
            Source::Memory { schema, batches } => SourceSpec::Memory {
                batches: BASE64.encode(ipc::encode(schema, batches)?),
            },
        })
    }

    fn source(&self, ctx: &TaskContext) -> Result<Source> {
        Ok(match self {
            SourceSpec::Files {
                store,
                format,
                files,
                schema,
            } => Source::Files(FileSource {
                store: ObjectStoreUrl::parse(store)?,
                format: format.file_format(ctx.session_config())?,
                options: format.clone(),
                files: files
                    .iter()
                    .map(|(location, size)| PartitionedFile::new(location.clone(), *size))
                    .collect(),
                schema: ipc::decode(&unbase64(schema)?)?.0,
            }),
            SourceSpec::Memory { batches } => {
                let (schema, batches) = ipc::decode(&unbase64(batches)?)?;
                Source::Memory { schema, batches }
            }
        })
    }
}

fn unbase64(text: &str) -> DFResult<Vec<u8>> {
    BASE64
        .decode(text)
        .map_err(|e| DataFusionError::Internal(format!("a stage's encoded data: {e}")))
}

/// Runs the unfinished `tasks` of `stage` on the cluster as one Ballista job; each item is a
/// task that committed.
pub fn submit(
    job: &Job,
    cluster: &ClusterUrl,
    stage: StageId,
    tasks: &[usize],
    threads: usize,
) -> BoxStream<'static, Result<(usize, TaskStats)>> {
    let node = match StageTasksExec::for_job(job, stage, tasks, threads) {
        Ok(node) => node,
        Err(err) => return futures::stream::once(async { Err(err) }).boxed(),
    };
    let name = format!("tarn {} {}", job.dir.id(), job.graph.stages[stage].name);
    // One job task per Ballista task (Ballista packs a slot's worth of partitions into one by
    // default): each reports, and is run again after a failure, on its own.
    let config = SessionConfig::new_with_ballista()
        .with_ballista_job_name(&name)
        .set_u64(MAX_PARTITIONS_PER_TASK, 1);
    let plan: Arc<dyn ExecutionPlan> = Arc::new(CoalescePartitionsExec::new(Arc::new(node)));
    let scheduler = cluster.scheduler_url();
    let submitted = async move {
        let session = uuid::Uuid::new_v4().to_string();
        let batches = ballista_core::execution_plans::execute_physical_plan::<
            datafusion_proto::protobuf::PhysicalPlanNode,
        >(
            scheduler,
            &ballista_core::config::BallistaConfig::default(),
            plan,
            &TarnPhysicalCodec::default(),
            session,
            config,
        )
        .await?;
        Ok::<_, DataFusionError>(batches.map_err(TarnError::from))
    };
    futures::stream::once(submitted)
        .map_err(TarnError::from)
        .try_flatten()
        .map(|batch| batch.and_then(|b| finished_tasks(&b)))
        .map_ok(|tasks| futures::stream::iter(tasks.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
}

/// The tasks a batch of the node's output reports.
fn finished_tasks(batch: &RecordBatch) -> Result<Vec<(usize, TaskStats)>> {
    let invalid = || TarnError::Invalid("a cluster stage returned rows of another shape".into());
    let tasks = batch
        .column(0)
        .as_any()
        .downcast_ref::<UInt64Array>()
        .ok_or_else(invalid)?;
    let stats = batch
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(invalid)?;
    (0..batch.num_rows())
        .map(|row| {
            let record: TaskStats =
                serde_json::from_str(stats.value(row)).map_err(|_| invalid())?;
            Ok((tasks.value(row) as usize, record))
        })
        .collect()
}

/// Tasks of one stage of a job, one per output partition; see the module's documentation.
pub struct StageTasksExec {
    spec: StageSpec,
    /// The task numbers: partition `i` holds the task partition `i` runs.
    tasks: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
    /// The job, rebuilt from `spec` on first use by this process.
    job: Mutex<Option<Arc<Job>>>,
}

impl StageTasksExec {
    fn for_job(job: &Job, stage: StageId, tasks: &[usize], threads: usize) -> Result<Self> {
        let splits = job.splits.lock().expect("splits lock")[stage].clone();
        // Executors run in folders of their own: a relative root would be theirs, not ours.
        let data_root = match job.dir.folder() {
            Some(_) => {
                let root = &job.config.data_root;
                let absolute =
                    std::path::absolute(root).map_err(|e| TarnError::io("resolve", root, e))?;
                absolute.display().to_string()
            }
            None => job.config.data_root.clone(),
        };
        let spec = StageSpec {
            config: TarnConfig {
                temp_directory: None,
                data_root,
                ..job.config.local()
            },
            job_id: job.dir.id().to_string(),
            graph: job.graph.clone(),
            sources: job
                .sources
                .iter()
                .map(|s| SourceSpec::of(s))
                .collect::<Result<_>>()?,
            stage,
            threads,
            splits: splits
                .map(|s| ipc::encode_array(&s).map(|bytes| BASE64.encode(bytes)))
                .transpose()?,
        };
        let partitions = tasks
            .iter()
            .map(|&task| {
                let numbers = Arc::new(UInt64Array::from(vec![task as u64]));
                RecordBatch::try_new(task_numbers_schema(), vec![numbers]).map(|b| vec![b])
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let numbers = MemorySourceConfig::try_new_exec(&partitions, task_numbers_schema(), None)?;
        Ok(Self::new(spec, numbers))
    }

    fn new(spec: StageSpec, tasks: Arc<dyn ExecutionPlan>) -> Self {
        let partitions = tasks.properties().output_partitioning().partition_count();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(output_schema()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        StageTasksExec {
            spec,
            tasks,
            properties: Arc::new(properties),
            job: Mutex::new(None),
        }
    }

    /// The node (without its input, which travels as a plan of its own) as bytes.
    pub fn encode(&self) -> DFResult<Vec<u8>> {
        serde_json::to_vec(&self.spec)
            .map_err(|e| DataFusionError::Internal(format!("encoding a stage: {e}")))
    }

    /// The node [`Self::encode`] wrote, over its decoded input.
    pub fn decode(bytes: &[u8], inputs: &[Arc<dyn ExecutionPlan>]) -> DFResult<Self> {
        let spec = serde_json::from_slice(bytes)
            .map_err(|e| DataFusionError::Internal(format!("decoding a stage: {e}")))?;
        let [tasks] = inputs else {
            return Err(DataFusionError::Internal(
                "a stage node has one input".into(),
            ));
        };
        Ok(Self::new(spec, Arc::clone(tasks)))
    }

    /// The job the spec describes, over this executor's runtime (its stores and memory pool).
    fn job(&self, ctx: &TaskContext) -> Result<Arc<Job>> {
        let mut job = self.job.lock().expect("stage job lock");
        if let Some(job) = job.as_ref() {
            return Ok(Arc::clone(job));
        }
        let spec = &self.spec;
        let mut splits = vec![None; spec.graph.stages.len()];
        if let Some(encoded) = &spec.splits {
            splits[spec.stage] = Some(ipc::decode_array(&unbase64(encoded)?)?);
        }
        let built = Arc::new(Job {
            config: spec.config.clone(),
            runtime: ctx.runtime_env(),
            dir: JobDir::new(&spec.config.data_root, &spec.job_id)?,
            sources: spec
                .sources
                .iter()
                .map(|s| s.source(ctx).map(Arc::new))
                .collect::<Result<_>>()?,
            functions: Vec::new(),
            graph: spec.graph.clone(),
            splits: Mutex::new(splits),
        });
        *job = Some(Arc::clone(&built));
        Ok(built)
    }
}

/// Runs (or, when an earlier run committed it, looks up) one task and reports it as a row.
async fn run_one(
    job: Arc<Job>,
    stage: StageId,
    task: usize,
    threads: usize,
) -> Result<RecordBatch> {
    let name = job.graph.stages[stage].name.clone();
    tracing::debug!(job = %job.dir.id(), stage = %name, task, "running a task");
    // A task Ballista runs again (its executor was lost after the commit) keeps the files it
    // committed.
    let stats = match job.dir.done(&name, task).await? {
        Some(stats) => stats,
        None => attempt(job.as_ref(), stage, &name, task, threads).await?,
    };
    let stats = serde_json::to_string(&stats).expect("stats serialise");
    Ok(RecordBatch::try_new(
        output_schema(),
        vec![
            Arc::new(UInt64Array::from(vec![task as u64])),
            Arc::new(StringArray::from(vec![stats])),
        ],
    )?)
}

/// The node's input: one task number per partition.
fn task_numbers_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "task",
        DataType::UInt64,
        false,
    )]))
}

/// One row per committed task: its number and its statistics as its `.done` record has them.
fn output_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("task", DataType::UInt64, false),
        Field::new("stats", DataType::Utf8, false),
    ]))
}

impl fmt::Debug for StageTasksExec {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("StageTasksExec")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl DisplayAs for StageTasksExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let stage = &self.spec.graph.stages[self.spec.stage];
        write!(
            f,
            "StageTasksExec: job={}, stage={}, tasks={}",
            self.spec.job_id,
            stage.name,
            self.properties.output_partitioning().partition_count()
        )
    }
}

impl ExecutionPlan for StageTasksExec {
    fn name(&self) -> &str {
        "StageTasksExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.tasks]
    }

    /// Partition `i` reads partition `i` of the task numbers, nothing more: no repartitioning.
    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DFResult<TreeNodeRecursion>,
    ) -> DFResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let [tasks] = children.as_slice() else {
            return Err(DataFusionError::Internal(
                "a stage node has one input".into(),
            ));
        };
        Ok(Arc::new(Self::new(self.spec.clone(), Arc::clone(tasks))))
    }

    fn execute(
        &self,
        partition: usize,
        ctx: Arc<TaskContext>,
    ) -> DFResult<SendableRecordBatchStream> {
        let job = self.job(&ctx).map_err(DataFusionError::from)?;
        let numbers = self.tasks.execute(partition, ctx)?;
        let (stage, threads) = (self.spec.stage, self.spec.threads);
        let rows = numbers
            .map_ok(|batch| {
                let tasks = batch
                    .column(0)
                    .as_any()
                    .downcast_ref::<UInt64Array>()
                    .map(|a| a.values().to_vec())
                    .unwrap_or_default();
                futures::stream::iter(tasks.into_iter().map(Ok))
            })
            .try_flatten()
            .and_then(move |task| {
                run_one(Arc::clone(&job), stage, task as usize, threads)
                    .map_err(DataFusionError::from)
            });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            output_schema(),
            rows,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_tasks_reads_the_nodes_rows() {
        let stats = TaskStats {
            rows: 10,
            bytes: 2048,
            spilled: 0,
            attempts: 1,
            unsynced_in_boot: tarn_fs::boot_id(),
        };
        let batch = RecordBatch::try_new(
            output_schema(),
            vec![
                Arc::new(UInt64Array::from(vec![3, 7])),
                Arc::new(StringArray::from(vec![
                    serde_json::to_string(&stats).unwrap(),
                    serde_json::to_string(&TaskStats::default()).unwrap(),
                ])),
            ],
        )
        .unwrap();
        assert_eq!(
            finished_tasks(&batch).unwrap(),
            vec![(3, stats), (7, TaskStats::default())]
        );
    }
}
