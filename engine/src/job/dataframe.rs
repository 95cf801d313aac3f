//! The lazy `DataFrame`: verbs add nodes to the session's DAG; actions run the job.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::LogicalPlan;
use datafusion::object_store::{ObjectStoreExt, PutPayload};
use futures::StreamExt;
use tarn_fs::{FsError, Location, Stores};
use tarn_planner::{NodeId, Part, Scheme, Splits, substitute};

use super::layout::{io, read_dir, write_atomically};
use super::report::JobReport;
use super::session::Session;
use super::shuffle::with_partition_column;
use super::task::{BatchFn, BatchFunction, Job};
use crate::error::{Result, TarnError};

/// How [`DataFrame::repartition_range`] finds its split points.
#[derive(Debug, Clone, PartialEq)]
pub enum RangeSplits {
    /// `n - 1` ascending values: numbers or strings.
    Points(Vec<serde_json::Value>),
    /// Evenly spaced quantiles of a sample of the column, taken when the job runs, so skewed
    /// data still gives partitions of similar size.
    Sampled,
}

/// A lazy, partitioned table: a node of its session's DAG.
#[derive(Clone)]
pub struct DataFrame {
    session: Session,
    node: NodeId,
}

impl DataFrame {
    pub(super) fn new(session: Session, node: NodeId) -> Self {
        DataFrame { session, node }
    }

    pub(super) fn node(&self) -> NodeId {
        self.node
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn partitions(&self) -> usize {
        self.session.plans().dag.partitions(self.node)
    }

    /// The columns, when known before running (a `map_batches` result's are not).
    pub fn schema(&self) -> Option<SchemaRef> {
        self.session.plans().schemas[self.node].clone()
    }

    /// `n` partitions dealt evenly by files (or, after a stage, by its partitions), without
    /// moving data; more partitions than files leaves some empty.
    pub fn repartition(&self, n: usize) -> Result<DataFrame> {
        let mut plans = self.session.plans();
        let node = plans.dag.regroup(self.node, n)?;
        let schema = plans.schemas[self.node].clone();
        plans.schemas.push(schema);
        drop(plans);
        Ok(DataFrame::new(self.session.clone(), node))
    }

    /// `n` partitions with rows dealt round robin, so they differ by at most one row per
    /// producer.
    pub fn repartition_by_rows(&self, n: usize) -> Result<DataFrame> {
        self.shuffle(n, Scheme::Rows)
    }

    /// `n` partitions by a hash of `columns`; the partition is added as `__data_partition__`.
    pub fn repartition_hash(&self, n: usize, columns: &[&str]) -> Result<DataFrame> {
        let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        if columns.is_empty() {
            return Err(TarnError::Invalid(
                "repartition_hash needs at least one column".into(),
            ));
        }
        for column in &columns {
            self.check_column(column, "hash partition")?;
        }
        self.shuffle(n, Scheme::Hash { columns })
    }

    /// `n` partitions where `column`'s value is the partition; a value outside `0..n` fails the
    /// job with `partition key X is out of range 0-{n-1}`.
    pub fn repartition_by(&self, n: usize, column: &str) -> Result<DataFrame> {
        if let Some(field) = self.check_column(column, "partition")?
            && !field.is_integer()
        {
            return Err(TarnError::Invalid(format!(
                "partition column '{column}' must be an integer, not {field}"
            )));
        }
        self.shuffle(
            n,
            Scheme::Column {
                column: column.to_string(),
            },
        )
    }

    /// `n` partitions by the MoE expert id in `column` (say, the top expert of a `moe_route`
    /// result), balanced with EPLB: the input's rows per expert are counted first, each
    /// partition gets `slots` expert slots (default: one more than an even share of the
    /// experts), every expert one at least and the hottest more (see [`super::experts`]), and
    /// each expert's rows are dealt round robin over the partitions holding its replicas, so
    /// that no partition carries much more than its share.
    pub async fn repartition_by_expert(
        &self,
        n: usize,
        column: &str,
        slots: Option<usize>,
    ) -> Result<DataFrame> {
        if let Some(field) = self.check_column(column, "expert")?
            && !field.is_integer()
        {
            return Err(TarnError::Invalid(format!(
                "expert column '{column}' must be an integer, not {field}"
            )));
        }
        let counts = self
            .partial_sql(&format!(
                "SELECT CAST({column} AS BIGINT) AS expert, count(*) AS n FROM {{0}} \
                 WHERE {column} IS NOT NULL GROUP BY 1"
            ))
            .await?
            .to_arrow()
            .await?;
        let mut rows = Vec::new();
        for batch in &counts {
            let experts = batch.column(0).as_primitive::<Int64Type>();
            let counts = batch.column(1).as_primitive::<Int64Type>();
            rows.extend(
                experts
                    .values()
                    .iter()
                    .copied()
                    .zip(counts.values().iter().copied()),
            );
        }
        let replicas = super::experts::placement(&rows, n, slots)?;
        self.shuffle(
            n,
            Scheme::Expert {
                column: column.to_string(),
                replicas,
            },
        )
    }

    /// `n` partitions by ranges of `column`: partition `i` holds values from split point `i-1`
    /// up to (not including) split point `i`; NULLs go to the last.
    pub fn repartition_range(
        &self,
        n: usize,
        column: &str,
        splits: RangeSplits,
    ) -> Result<DataFrame> {
        self.check_column(column, "range partition")?;
        let splits = match splits {
            RangeSplits::Points(points) => Splits::Given(points),
            RangeSplits::Sampled => Splits::Sampled,
        };
        self.shuffle(
            n,
            Scheme::Range {
                column: column.to_string(),
                splits,
            },
        )
    }

    /// Every row moved to a random partition (keeping the partition count), then each
    /// partition shuffled.
    pub async fn random_shuffle(&self) -> Result<DataFrame> {
        self.shuffle(self.partitions(), Scheme::Random)?
            .partial_sql("SELECT * FROM {0} ORDER BY random()")
            .await
    }

    /// SQL run on each partition, reading it as `{0}`.
    pub async fn partial_sql(&self, query: &str) -> Result<DataFrame> {
        DataFrame::sql_node(&self.session, vec![self.node], query.to_string()).await
    }

    /// The rows for which the SQL condition holds.
    pub async fn filter(&self, condition: &str) -> Result<DataFrame> {
        self.partial_sql(&format!("SELECT * FROM {{0}} WHERE {condition}"))
            .await
    }

    /// A new select list, as SQL (`'a + b AS c, d'`).
    pub async fn map(&self, select_list: &str) -> Result<DataFrame> {
        self.partial_sql(&format!("SELECT {select_list} FROM {{0}}"))
            .await
    }

    /// One row per cluster of near-duplicates within each partition: rows whose vectors in
    /// `column` are joined by a chain of cosine similarities ≥ `threshold` (SQL's
    /// `near_duplicate`, by blocked GEMMs over the partition) keep the one with the least
    /// vector, so the choice does not depend on the order rows come in. Dedup after
    /// partitioning by what near-duplicates share (their MoE expert, say): the work is
    /// quadratic in a partition's rows.
    pub async fn near_duplicates(&self, column: &str, threshold: f64) -> Result<DataFrame> {
        if !(threshold > 0.0 && threshold <= 1.0) {
            return Err(TarnError::Invalid(format!(
                "near_duplicates: the threshold must be a cosine similarity in (0, 1], got {threshold}"
            )));
        }
        self.check_column(column, "deduplicate")?;
        let column = crate::sql::quote_identifier(column);
        self.partial_sql(&format!(
            "SELECT * FROM {{0}} QUALIFY NOT near_duplicate({column}, {threshold:?}) OVER (ORDER BY {column})"
        ))
        .await
    }

    /// Each partition sorted by `columns` (SQL order terms such as `"x DESC"` are fine).
    pub async fn partial_sort(&self, columns: &[&str]) -> Result<DataFrame> {
        self.partial_sql(&format!(
            "SELECT * FROM {{0}} ORDER BY {}",
            columns.join(", ")
        ))
        .await
    }

    /// At most `n` rows, in one partition.
    pub async fn limit(&self, n: usize) -> Result<DataFrame> {
        let query = format!("SELECT * FROM {{0}} LIMIT {n}");
        self.partial_sql(&query)
            .await?
            .repartition(1)?
            .partial_sql(&query)
            .await
    }

    /// `function` applied to every batch; an `std::io::Error` it returns makes the task retry,
    /// any other error (or a panic) fails the job.
    pub fn map_batches<F>(&self, function: F) -> DataFrame
    where
        F: Fn(
                RecordBatch,
            )
                -> std::result::Result<RecordBatch, Box<dyn std::error::Error + Send + Sync>>
            + Send
            + Sync
            + 'static,
    {
        self.map_batches_sized(Arc::new(function), None)
    }

    /// `function` applied to batches of `batch_size` rows (the last of a partition may be
    /// smaller), or to the batches as they are read when `None`.
    pub fn map_batches_sized(&self, function: BatchFn, batch_size: Option<usize>) -> DataFrame {
        let mut plans = self.session.plans();
        plans.functions.push(BatchFunction {
            call: function,
            batch_size,
        });
        let id = plans.functions.len() - 1;
        let node = plans.dag.map_batches(self.node, id);
        plans.schemas.push(None);
        drop(plans);
        DataFrame::new(self.session.clone(), node)
    }

    /// This DataFrame's partitions followed by `other`'s.
    pub fn union(&self, other: &DataFrame) -> Result<DataFrame> {
        let mut plans = self.session.plans();
        let (mine, theirs) = (&plans.schemas[self.node], &plans.schemas[other.node]);
        if let (Some(a), Some(b)) = (mine, theirs)
            && !same_columns(a, b)
        {
            return Err(TarnError::Invalid(format!(
                "union needs the same columns on both sides, got ({}) and ({})",
                field_list(a),
                field_list(b)
            )));
        }
        let schema = mine.clone();
        let node = plans.dag.union(vec![self.node, other.node])?;
        plans.schemas.push(schema);
        drop(plans);
        Ok(DataFrame::new(self.session.clone(), node))
    }

    /// Runs the job up to this DataFrame.
    pub async fn compute(&self) -> Result<JobReport> {
        Ok(self.session.run(self.node).await?.1)
    }

    /// Whether every task this DataFrame needs has finished in this job.
    pub async fn is_computed(&self) -> Result<bool> {
        let graph = self.session.task_graph(self.node);
        let dir = self.session.job_dir()?;
        for stage in &graph.stages {
            let done = dir.done_tasks(&stage.name, stage.tasks.len()).await?;
            if done.iter().any(Option::is_none) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Forgets this DataFrame's own finished tasks and their files, so that the next action
    /// runs them again (the stages it reads are kept).
    pub async fn recompute(&self) -> Result<()> {
        let graph = self.session.task_graph(self.node);
        let dir = self.session.job_dir()?;
        for stage in graph.stages.iter().filter(|s| s.node == self.node) {
            dir.forget(&stage.name).await?;
        }
        Ok(())
    }

    /// The number of rows, counted partition by partition without holding them in memory.
    pub async fn count(&self) -> Result<u64> {
        let (job, _) = self.session.run(self.node).await?;
        let session = job.sql_session(job.config.threads)?;
        let mut rows = 0;
        for input in &job.graph.output {
            let table = session
                .context()
                .read_table(job.inputs().table(input).await?)?;
            rows += table.count().await? as u64;
        }
        Ok(rows)
    }

    /// The first `n` rows, partition by partition.
    pub async fn take(&self, n: usize) -> Result<Vec<RecordBatch>> {
        Ok(self.collect(Some(n)).await?.1)
    }

    /// Every row, partition by partition.
    pub async fn to_arrow(&self) -> Result<Vec<RecordBatch>> {
        Ok(self.collect(None).await?.1)
    }

    /// Writes the rows as Parquet files in the folder `path`, which must not exist or be
    /// empty, with a `.MANIFEST` listing its files. A folder appears whole or not at all; under
    /// an object-store URL (`s3://…`), where a set of objects cannot appear at once, the
    /// `.MANIFEST` is written last, so it names only files that are whole.
    pub async fn write_parquet(&self, path: &str) -> Result<JobReport> {
        let target = self.materialized().await?;
        let (job, report) = self.session.run(target.node).await?;
        match Location::parse(path)? {
            Location::Posix(folder) => publish(&job, &folder).await?,
            _ => publish_to_store(&job, path).await?,
        }
        Ok(report)
    }

    /// The logical DAG under this DataFrame and the task graph that computes it.
    pub fn explain(&self) -> String {
        let dag = self.session.plans().dag.explain(self.node);
        let graph = self.session.task_graph(self.node).explain();
        format!("Logical DAG:\n{dag}\nTask graph:\n{graph}")
    }

    /// Runs the job and reads up to `limit` rows (all when `None`), partition by partition,
    /// with their schema (known even when there are no rows).
    pub async fn collect(&self, limit: Option<usize>) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let (job, _) = self.session.run(self.node).await?;
        let schema = job.inputs().schema(job.graph.output[0].origin).await?;
        let mut batches = Vec::new();
        let mut remaining = limit.unwrap_or(usize::MAX);
        for input in &job.graph.output {
            if remaining == 0 {
                break;
            }
            let mut stream = job.read(input, job.config.threads).await?;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                let batch = batch.slice(0, batch.num_rows().min(remaining));
                remaining -= batch.num_rows();
                batches.push(batch);
                if remaining == 0 {
                    break;
                }
            }
        }
        Ok((schema, batches))
    }

    fn shuffle(&self, n: usize, scheme: Scheme) -> Result<DataFrame> {
        let mut plans = self.session.plans();
        let schema = match (&scheme, &plans.schemas[self.node]) {
            (Scheme::Hash { .. }, Some(schema)) => Some(with_partition_column(schema)),
            (_, schema) => schema.clone(),
        };
        let node = plans.dag.shuffle(self.node, n, scheme)?;
        plans.schemas.push(schema);
        drop(plans);
        Ok(DataFrame::new(self.session.clone(), node))
    }

    /// The type of `column`, checking that it exists when the schema is known.
    fn check_column(&self, column: &str, purpose: &str) -> Result<Option<DataType>> {
        let Some(schema) = self.schema() else {
            return Ok(None);
        };
        match schema.field_with_name(column) {
            Ok(field) => Ok(Some(field.data_type().clone())),
            Err(_) => Err(TarnError::Invalid(format!(
                "{purpose} column '{column}' not found; the columns are {}",
                field_list(&schema)
            ))),
        }
    }

    /// A node running `query` over `inputs`, after checking the query against their schemas.
    pub(super) async fn sql_node(
        session: &Session,
        inputs: Vec<NodeId>,
        query: String,
    ) -> Result<DataFrame> {
        let schemas: Option<Vec<SchemaRef>> = {
            let plans = session.plans();
            inputs.iter().map(|&i| plans.schemas[i].clone()).collect()
        };
        let (schema, reads) = match schemas {
            Some(schemas) => {
                let (schema, reads) = check_query(session, &query, &schemas).await?;
                (Some(schema), Some(reads))
            }
            None => (None, None),
        };
        let mut plans = session.plans();
        let node = plans.dag.sql(inputs, query, reads)?;
        plans.schemas.push(schema);
        drop(plans);
        Ok(DataFrame::new(session.clone(), node))
    }

    /// This DataFrame, or a copy of it that runs tasks (so that it has files to publish).
    async fn materialized(&self) -> Result<DataFrame> {
        let runs_tasks = self.session.plans().dag.node(self.node).op.runs_tasks();
        if runs_tasks {
            Ok(self.clone())
        } else {
            self.partial_sql("SELECT * FROM {0}").await
        }
    }
}

/// Plans `query` over empty tables of the input schemas, so that bad SQL fails here, with
/// DuckDB's error text, before any job runs. Returns the result's schema and the columns the
/// optimized plan reads from each input.
async fn check_query(
    session: &Session,
    query: &str,
    inputs: &[SchemaRef],
) -> Result<(SchemaRef, Vec<Vec<String>>)> {
    let sql = session.sql_session()?;
    let names: Vec<String> = (0..inputs.len()).map(|i| format!("__input_{i}")).collect();
    for (name, schema) in names.iter().zip(inputs) {
        let table = MemTable::try_new(Arc::clone(schema), vec![vec![]])?;
        sql.context()
            .register_table(name.as_str(), Arc::new(table))?;
    }
    let frame = sql.dataframe(&substitute(query, &names)?).await?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let mut reads: Vec<Vec<String>> = vec![Vec::new(); inputs.len()];
    frame.into_optimized_plan()?.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && let Some(i) = names.iter().position(|n| scan.table_name.table() == n)
        {
            let schema = scan.source.schema();
            let used: Vec<usize> = match &scan.projection {
                Some(indices) => indices.clone(),
                None => (0..schema.fields().len()).collect(),
            };
            for index in used {
                let name = schema.field(index).name();
                if !reads[i].contains(name) {
                    reads[i].push(name.clone());
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok((schema, reads))
}

/// Whether two schemas have the same column names and types, in the same order.
fn same_columns(a: &SchemaRef, b: &SchemaRef) -> bool {
    a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields())
            .all(|(x, y)| x.name() == y.name() && x.data_type() == y.data_type())
}

fn field_list(schema: &SchemaRef) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Links (or copies) the job's output files into a staging folder beside `target` with a
/// `.MANIFEST`, then renames it into place.
async fn publish(job: &Job, target: &Path) -> Result<()> {
    if target.exists() {
        let empty = target.is_dir() && read_dir(target)?.is_empty();
        if !empty {
            return Err(TarnError::TargetExists(target.display().to_string()));
        }
    }
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
    let name = target.file_name().ok_or_else(|| {
        TarnError::Invalid(format!("'{}' is not a folder name", target.display()))
    })?;
    let staging = parent.join(format!(
        ".{}.tarn-{}",
        name.to_string_lossy(),
        uuid::Uuid::new_v4()
    ));
    let result = async {
        let names = stage_files(job, &staging).await?;
        write_atomically(&staging.join(MANIFEST), manifest(&names).as_bytes())?;
        if target.exists() {
            fs::remove_dir(target).map_err(|e| io("replace", target, e))?;
        }
        fs::rename(&staging, target).map_err(|e| io("rename into", target, e))
    }
    .await;
    if result.is_err() {
        let _ = tarn_fs::remove_tree(&staging);
    }
    result
}

/// Uploads the job's output files under the object-store URL `url`, then the `.MANIFEST`.
async fn publish_to_store(job: &Job, url: &str) -> Result<()> {
    if tarn_fs::upload::has_objects_under(url).await? {
        return Err(TarnError::TargetExists(url.to_string()));
    }
    let staging = std::env::temp_dir().join(format!("tarn-publish-{}", uuid::Uuid::new_v4()));
    let result = async {
        let names = stage_files(job, &staging).await?;
        let written = tarn_fs::upload::upload(&staging, url).await?;
        let (store, manifest_path) = Stores::global().resolve(&format!("{url}/{MANIFEST}"))?;
        if let Err(err) = store
            .put(
                &manifest_path,
                PutPayload::from(manifest(&names).into_bytes()),
            )
            .await
        {
            for object in &written {
                let _ = store.delete(object).await;
            }
            return Err(FsError::store("write", format!("{url}/{MANIFEST}"), err).into());
        }
        Ok(())
    }
    .await;
    let _ = tarn_fs::remove_tree(&staging);
    result
}

/// The name of the file that lists a published folder's data files.
const MANIFEST: &str = ".MANIFEST";

fn manifest(names: &[String]) -> String {
    names.iter().map(|n| format!("{n}\n")).collect()
}

/// Copies the job's output files into `staging` as `part-<partition>-<n>.parquet` and returns
/// their names.
async fn stage_files(job: &Job, staging: &Path) -> Result<Vec<String>> {
    fs::create_dir_all(staging).map_err(|e| io("create", staging, e))?;
    let mut names = Vec::new();
    for (partition, input) in job.graph.output.iter().enumerate() {
        for part in &input.parts {
            let Part::Output {
                stage,
                partition: p,
            } = part
            else {
                unreachable!("a published DataFrame runs tasks")
            };
            let stage = &job.graph.stages[*stage].name;
            job.dir
                .copy_partition(stage, *p, staging, || {
                    let name = format!("part-{partition:05}-{}.parquet", names.len());
                    names.push(name.clone());
                    name
                })
                .await?;
        }
    }
    if names.is_empty() {
        // No rows at all: one empty file still tells readers the columns.
        let name = "part-00000-0.parquet".to_string();
        let last = &job.graph.stages.last().expect("a stage").name;
        job.dir.copy_schema_file(last, &staging.join(&name)).await?;
        names.push(name);
    }
    Ok(names)
}
