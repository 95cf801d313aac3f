//! `Session`: where lazy DataFrames are made, and where their jobs run.

use std::sync::{Arc, Mutex, MutexGuard};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::MemTable;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::execution::runtime_env::RuntimeEnv;
use tarn_planner::{Dag, NodeId, PlanOptions, TaskGraph};

use super::dataframe::DataFrame;
use super::executor;
use super::layout::JobDir;
use super::report::{JobObserver, JobReport, Quiet};
use super::source::{FileSource, Source, project};
use super::task::{BatchFunction, Job};
use crate::cluster::ClusterUrl;
use crate::config::TarnConfig;
use crate::error::{Result, TarnError};
use crate::sql::files::{FileFormatKind, ScanOptions, ScanSpec};
use crate::sql::{SqlSession, runtime_env};

/// Options of [`Session::read_parquet`], with Smallpond's defaults.
#[derive(Debug, Clone, Default)]
pub struct ReadParquet {
    /// Whether a folder includes the files in its subfolders. A glob decides for itself, as in
    /// SQL: `data/*/*.parquet` reads one level down, `data/**/*.parquet` every level.
    pub recursive: bool,
    /// Only these columns, in this order.
    pub columns: Option<Vec<String>>,
    /// Columns are matched by name across files either way (a column missing from a file
    /// reads as NULL); accepted for Smallpond compatibility.
    pub union_by_name: bool,
}

/// A job in the making: the DAG of its DataFrames, their sources and functions, and the
/// settings it runs with. Cloning shares it.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    config: TarnConfig,
    job_id: String,
    runtime: Arc<RuntimeEnv>,
    plans: Mutex<Plans>,
    observer: Mutex<Arc<dyn JobObserver>>,
}

/// What DataFrames have been built so far.
pub(super) struct Plans {
    pub dag: Dag,
    /// The schema of each node's output, where it is known before running (a `map_batches`
    /// function's is not).
    pub schemas: Vec<Option<SchemaRef>>,
    pub sources: Vec<Arc<Source>>,
    pub functions: Vec<BatchFunction>,
}

impl Session {
    /// A session with `config`; without a job id it gets a new one. With a cluster in the
    /// settings, its jobs' stages run there.
    pub fn new(config: TarnConfig) -> Result<Self> {
        if let Some(url) = &config.cluster {
            ClusterUrl::parse(url)?.check_ready()?;
        }
        let job_id = config
            .job_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let runtime = runtime_env(&config)?;
        Ok(Session {
            inner: Arc::new(Inner {
                config,
                job_id,
                runtime,
                plans: Mutex::new(Plans {
                    dag: Dag::new(),
                    schemas: Vec::new(),
                    sources: Vec::new(),
                    functions: Vec::new(),
                }),
                observer: Mutex::new(Arc::new(Quiet)),
            }),
        })
    }

    /// A session whose jobs run on the Ballista cluster at `url` (`df://host:port`), with the
    /// defaults and the `TARN_*` environment variables otherwise.
    pub fn connect(url: &str) -> Result<Self> {
        let mut config = TarnConfig::from_env()?;
        config.set_cluster(url)?;
        Session::new(config)
    }

    /// A session with the defaults and the `TARN_*` environment variables.
    pub fn from_env() -> Result<Self> {
        Session::new(TarnConfig::from_env()?)
    }

    pub fn job_id(&self) -> &str {
        &self.inner.job_id
    }

    pub fn config(&self) -> &TarnConfig {
        &self.inner.config
    }

    /// Where progress events of later jobs go.
    pub fn set_observer(&self, observer: Arc<dyn JobObserver>) {
        *self.inner.observer.lock().expect("observer lock") = observer;
    }

    /// Parquet files: paths, globs or folders.
    pub async fn read_parquet(&self, paths: &[&str], options: ReadParquet) -> Result<DataFrame> {
        let spec = ScanSpec {
            paths: paths.iter().map(|p| p.to_string()).collect(),
            format: Some(FileFormatKind::Parquet),
            options: ScanOptions {
                hive_partitioning: Some(false),
                union_by_name: options.union_by_name,
                ..ScanOptions::default()
            },
        };
        self.read_files(spec, options.recursive, options.columns.as_deref())
            .await
    }

    /// CSV files with a header row; `schema` skips inference.
    pub async fn read_csv(
        &self,
        paths: &[&str],
        schema: Option<SchemaRef>,
        delimiter: u8,
    ) -> Result<DataFrame> {
        let spec = ScanSpec {
            paths: paths.iter().map(|p| p.to_string()).collect(),
            format: Some(FileFormatKind::Csv),
            options: ScanOptions {
                hive_partitioning: Some(false),
                delim: Some(delimiter),
                columns: schema.map(|s| columns_of(&s)),
                ..ScanOptions::default()
            },
        };
        self.read_files(spec, true, None).await
    }

    /// Newline-delimited JSON files; `schema` skips inference.
    pub async fn read_json(&self, paths: &[&str], schema: Option<SchemaRef>) -> Result<DataFrame> {
        let spec = ScanSpec {
            paths: paths.iter().map(|p| p.to_string()).collect(),
            format: Some(FileFormatKind::Json),
            options: ScanOptions {
                hive_partitioning: Some(false),
                columns: schema.map(|s| columns_of(&s)),
                ..ScanOptions::default()
            },
        };
        self.read_files(spec, true, None).await
    }

    /// Batches already in memory; each batch is one piece `repartition` can deal out.
    pub fn from_arrow(&self, schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<DataFrame> {
        // Checks that every batch has the schema, as a table of them would.
        MemTable::try_new(Arc::clone(&schema), vec![batches.clone()])?;
        let source = Source::Memory {
            schema: Arc::clone(&schema),
            batches,
        };
        Ok(self.add_source(source))
    }

    /// SQL run on each partition of `inputs`, which it reads as `{0}`, `{1}`, ...: they must
    /// have the same number of partitions, or one (read whole by every partition).
    pub async fn partial_sql(&self, query: &str, inputs: &[&DataFrame]) -> Result<DataFrame> {
        let nodes = inputs.iter().map(|df| df.node()).collect();
        DataFrame::sql_node(self, nodes, query.to_string()).await
    }

    async fn read_files(
        &self,
        spec: ScanSpec,
        recursive: bool,
        columns: Option<&[String]>,
    ) -> Result<DataFrame> {
        let state =
            SqlSession::with_runtime(self.inner.config.local(), Arc::clone(&self.inner.runtime))?
                .context()
                .state();
        let resolved = spec.resolve_files(&state).await?;
        let mut files = Vec::new();
        for path in &resolved.files {
            let url = &path.url;
            for meta in &path.files {
                let nested = meta
                    .location
                    .prefix_match(url.prefix())
                    .is_some_and(|rest| rest.count() > 1);
                let globbed = url.get_glob().is_some();
                if recursive || globbed || !url.is_collection() || !nested {
                    files.push(PartitionedFile::new_from_meta(meta.clone()));
                }
            }
        }
        if files.is_empty() {
            return Err(TarnError::NoFiles(spec.paths.join("', '")));
        }
        let what = format!("'{}'", spec.paths.join("', '"));
        let schema = match columns {
            Some(columns) => project(&resolved.schema, columns, &what)?,
            None => resolved.schema,
        };
        let store = resolved.files[0].url.object_store();
        Ok(self.add_source(Source::Files(FileSource {
            store,
            format: resolved.options.format,
            options: resolved.reading,
            files,
            schema,
        })))
    }

    fn add_source(&self, source: Source) -> DataFrame {
        let mut plans = self.plans();
        let schema = source.schema();
        let pieces = source.pieces();
        plans.sources.push(Arc::new(source));
        let id = plans.sources.len() - 1;
        let node = plans.dag.scan(id, pieces);
        plans.schemas.push(Some(schema));
        drop(plans);
        DataFrame::new(self.clone(), node)
    }

    pub(super) fn plans(&self) -> MutexGuard<'_, Plans> {
        self.inner.plans.lock().expect("plans lock")
    }

    /// A SQL session for checking queries against input schemas before anything runs.
    pub(super) fn sql_session(&self) -> Result<SqlSession> {
        SqlSession::with_runtime(self.inner.config.local(), Arc::clone(&self.inner.runtime))
    }

    /// The folders of this session's job.
    pub(super) fn job_dir(&self) -> Result<JobDir> {
        JobDir::new(&self.inner.config.data_root, &self.inner.job_id)
    }

    /// The task graph that computes `target`.
    pub(super) fn task_graph(&self, target: NodeId) -> TaskGraph {
        let options = PlanOptions {
            producers: self.inner.config.concurrency,
        };
        TaskGraph::build(&self.plans().dag, target, options)
    }

    /// Runs every unfinished task `target` needs.
    pub(super) async fn run(&self, target: NodeId) -> Result<(Arc<Job>, JobReport)> {
        let graph = self.task_graph(target);
        let (sources, functions) = {
            let plans = self.plans();
            (plans.sources.clone(), plans.functions.clone())
        };
        let job = Arc::new(Job {
            config: self.inner.config.clone(),
            runtime: Arc::clone(&self.inner.runtime),
            dir: self.job_dir()?,
            sources,
            functions,
            splits: Mutex::new(vec![None; graph.stages.len()]),
            graph,
        });
        let observer = Arc::clone(&self.inner.observer.lock().expect("observer lock"));
        let report = executor::run(Arc::clone(&job), observer).await?;
        Ok((job, report))
    }
}

/// A schema as the `columns` option of the SQL readers takes it.
fn columns_of(schema: &SchemaRef) -> Vec<(String, datafusion::arrow::datatypes::DataType)> {
    schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect()
}
