//! [`PositionalZip`]: a `POSITIONAL JOIN` run as a zip of its two sides.
//!
//! The SQL layer plans `a POSITIONAL JOIN b` as a FULL join of the two sides numbered by
//! `row_number() OVER ()`, on `__tarn_position_n = __tarn_position_n_r`, ordered by position
//! (see `sql::positional_join`). A hash join of that kind holds one whole side in memory and
//! hashes every row of both, where the answer only needs the n-th rows side by side: DuckDB
//! streams the two scans together. This rule finds such a join, with the sort by position
//! above it if any, and puts [`PositionalZipExec`] in its place: each side read as one stream in
//! position order, and their batches sliced and laid side by side, the shorter side padded
//! with NULLs. Memory holds a batch of each side.
//!
//! A side in several partitions is merged by position where each partition is in position
//! order (a round-robin split of the numbered rows); otherwise the join is left as it is. A
//! side that numbers its rows with `row_number() OVER ()` is read from below the numbering, and
//! the zip counts the positions itself: numbering took most of the time the zip had left.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, UInt64Array, new_null_array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{FieldRef, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{JoinType, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::window::StandardWindowExpr;
use datafusion::physical_expr::{
    EquivalenceProperties, LexOrdering, PhysicalExpr, PhysicalSortExpr,
};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::joins::HashJoinExec;
use datafusion::physical_plan::limit::GlobalLimitExec;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowUDFExpr};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties,
};
use futures::StreamExt;

use crate::sql::positional_join::POSITION_PREFIX;

/// The physical rule; see the module documentation.
#[derive(Debug)]
pub struct PositionalZip;

impl PhysicalOptimizerRule for PositionalZip {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_down(|node| {
            let (join, sorted, fetch) = under_position_sorts(&node);
            let Some((join, zip)) =
                join.and_then(|join| Some((join, PositionalZipExec::for_join(join)?)))
            else {
                return Ok(Transformed::no(node));
            };
            let zip: Arc<dyn ExecutionPlan> = Arc::new(zip);
            let partitions = join.properties().partitioning.partition_count();
            let zip: Arc<dyn ExecutionPlan> = match fetch {
                Some(fetch) => Arc::new(GlobalLimitExec::new(zip, 0, Some(fetch))),
                // Without a sort above, the join's consumers (an aggregate, say) were planned
                // for its partitions: deal the zipped rows out to as many.
                None if !sorted && partitions > 1 => Arc::new(RepartitionExec::try_new(
                    zip,
                    Partitioning::RoundRobinBatch(partitions),
                )?),
                None => zip,
            };
            Ok(Transformed::new(zip, true, TreeNodeRecursion::Continue))
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "positional_zip"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The hash join at `node` or under the sorts and merges by position that order its rows (the
/// zip gives them in that order already), whether there were such sorts, and the most rows
/// they keep.
fn under_position_sorts(
    node: &Arc<dyn ExecutionPlan>,
) -> (Option<&HashJoinExec>, bool, Option<usize>) {
    let mut node = node;
    let mut sorted = false;
    let mut fetch: Option<usize> = None;
    let mut keep = |limit: Option<usize>| {
        if let Some(limit) = limit {
            fetch = Some(fetch.map_or(limit, |f| f.min(limit)));
        }
    };
    loop {
        if let Some(join) = node.downcast_ref::<HashJoinExec>() {
            return (Some(join), sorted, fetch);
        }
        if let Some(merge) = node.downcast_ref::<SortPreservingMergeExec>()
            && by_position(merge.expr())
        {
            keep(merge.fetch());
            node = merge.input();
        } else if let Some(sort) = node.downcast_ref::<SortExec>()
            && by_position(sort.expr())
        {
            keep(sort.fetch());
            node = sort.input();
        } else {
            return (None, false, None);
        }
        sorted = true;
    }
}

/// Whether an ordering reads the position columns only.
fn by_position(ordering: &LexOrdering) -> bool {
    let mut columns = Vec::new();
    for sort in ordering.iter() {
        let _ = sort.expr.apply(|expr| {
            if let Some(column) = expr.downcast_ref::<Column>() {
                columns.push(column.name().to_string());
            }
            Ok(TreeNodeRecursion::Continue)
        });
    }
    !columns.is_empty() && columns.iter().all(|name| name.starts_with(POSITION_PREFIX))
}

/// The two sides of a positional join laid side by side, row by row; see the module
/// documentation. Its output is the join's, in position order, as one partition.
#[derive(Debug)]
pub struct PositionalZipExec {
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
    /// Where each column of the join's left and right sides comes from.
    left_columns: Vec<Source>,
    right_columns: Vec<Source>,
    /// The join's columns before its projection: the left side's, then the right side's.
    joined: SchemaRef,
    /// The columns of `joined` the join returns, when not all.
    projection: Option<Arc<[usize]>>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl PositionalZipExec {
    /// The zip of a FULL join on one pair of position columns and nothing else; `None` for any
    /// other join, or where a side cannot be read in position order.
    fn for_join(join: &HashJoinExec) -> Option<Self> {
        let [(left_key, right_key)] = join.on() else {
            return None;
        };
        let left_key = left_key.downcast_ref::<Column>()?;
        let right_key = right_key.downcast_ref::<Column>()?;
        // Join selection may have swapped the sides, which changes nothing for a zip.
        let (left_name, right_name) = (left_key.name(), right_key.name());
        let positional = *join.join_type() == JoinType::Full
            && join.filter().is_none()
            && left_name.starts_with(POSITION_PREFIX)
            && right_name.starts_with(POSITION_PREFIX)
            && (right_name == format!("{left_name}_r") || left_name == format!("{right_name}_r"));
        if !positional {
            return None;
        }
        let (left, left_columns) = numbered(in_position_order(join.left(), left_key)?);
        let (right, right_columns) = numbered(in_position_order(join.right(), right_key)?);
        let schema = join.schema();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Some(Self {
            left,
            right,
            left_columns,
            right_columns,
            joined: Arc::clone(join.join_schema()),
            projection: join.projection.clone(),
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

/// `side` as one stream in the order of its `position` column: itself when it is one
/// partition, the input of a repartition, a merge by position when each of its partitions is
/// in that order, `None` otherwise.
fn in_position_order(
    side: &Arc<dyn ExecutionPlan>,
    position: &Column,
) -> Option<Arc<dyn ExecutionPlan>> {
    if side.output_partitioning().partition_count() == 1 {
        return Some(Arc::clone(side));
    }
    // A repartition only deals the rows of its input out; read them as the input gives them.
    if let Some(repartition) = side.downcast_ref::<RepartitionExec>() {
        return in_position_order(repartition.input(), position);
    }
    let column: Arc<dyn PhysicalExpr> = Arc::new(position.clone());
    let ordering = LexOrdering::new([PhysicalSortExpr::new_default(column)])?;
    side.equivalence_properties()
        .ordering_satisfy(ordering.clone())
        .ok()?
        .then(|| Arc::new(SortPreservingMergeExec::new(ordering, Arc::clone(side))) as _)
}

/// Where a column of a zipped side comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    /// The column at this index of the side's input.
    Input(usize),
    /// The row's 1-based place in the side, which the zip counts.
    Position,
}

/// What a side in position order is read from: where it numbers its rows with
/// `row_number() OVER ()` (a projection over that window), the window's input, the zip counting
/// the rows itself, as numbering them is most of the work a zip has left; otherwise the side
/// itself, every column read from it.
fn numbered(side: Arc<dyn ExecutionPlan>) -> (Arc<dyn ExecutionPlan>, Vec<Source>) {
    below_numbering(&side).unwrap_or_else(|| {
        let every_column = (0..side.schema().fields().len())
            .map(Source::Input)
            .collect();
        (side, every_column)
    })
}

/// The input of `side`'s `row_number() OVER ()` window and where each of `side`'s columns
/// comes from, when `side` is a projection of such a window's columns alone.
fn below_numbering(side: &Arc<dyn ExecutionPlan>) -> Option<(Arc<dyn ExecutionPlan>, Vec<Source>)> {
    let projection = side.downcast_ref::<ProjectionExec>()?;
    let window = projection.input().downcast_ref::<BoundedWindowAggExec>()?;
    let input = window.input();
    let width = input.schema().fields().len();
    let [numbering] = window.window_expr() else {
        return None;
    };
    let row_number = numbering.partition_by().is_empty()
        && numbering.order_by().is_empty()
        && numbering
            .as_any()
            .downcast_ref::<StandardWindowExpr>()
            .and_then(|e| {
                e.get_standard_func_expr()
                    .as_any()
                    .downcast_ref::<WindowUDFExpr>()
            })
            .is_some_and(|e| e.fun().name() == "row_number");
    let sources: Vec<Source> = projection
        .expr()
        .iter()
        .map(|projected| {
            let column = projected.expr.downcast_ref::<Column>()?;
            match column.index() {
                i if i < width => Some(Source::Input(i)),
                i if i == width && row_number => Some(Source::Position),
                _ => None,
            }
        })
        .collect::<Option<_>>()?;
    (input.output_partitioning().partition_count() == 1).then(|| (Arc::clone(input), sources))
}

impl DisplayAs for PositionalZipExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match t {
            DisplayFormatType::TreeRender => Ok(()),
            _ => write!(f, "PositionalZipExec"),
        }
    }
}

impl ExecutionPlan for PositionalZipExec {
    fn name(&self) -> &str {
        "PositionalZipExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.left, &self.right]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true, true]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [left, right] = <[_; 2]>::try_from(children).map_err(|c| {
            datafusion::common::DataFusionError::Internal(format!(
                "PositionalZipExec takes two children, not {}",
                c.len()
            ))
        })?;
        Ok(Arc::new(Self {
            left,
            right,
            left_columns: self.left_columns.clone(),
            right_columns: self.right_columns.clone(),
            joined: Arc::clone(&self.joined),
            projection: self.projection.clone(),
            properties: Arc::clone(&self.properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let left_fields = self.joined.fields()[..self.left_columns.len()].to_vec();
        let right_fields = self.joined.fields()[self.left_columns.len()..].to_vec();
        let zip = Zip {
            left: Side::new(
                self.left.execute(0, Arc::clone(&context))?,
                self.left_columns.clone(),
                left_fields,
            ),
            right: Side::new(
                self.right.execute(0, context)?,
                self.right_columns.clone(),
                right_fields,
            ),
            joined: Arc::clone(&self.joined),
            projection: self.projection.clone(),
            metrics: BaselineMetrics::new(&self.metrics, partition),
        };
        let batches = futures::stream::try_unfold(zip, |mut zip| async move {
            Ok(zip.next_batch().await?.map(|batch| (batch, zip)))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            batches,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// One side of a zip: its stream, the rows of its current batch not yet passed on, and how
/// its columns are made from them.
struct Side {
    stream: SendableRecordBatchStream,
    columns: Vec<Source>,
    /// The side's columns in the join's schema.
    fields: Vec<FieldRef>,
    batch: Option<RecordBatch>,
    /// The first row of `batch` not yet passed on.
    offset: usize,
    /// How many rows have been passed on, the position of the last.
    passed: u64,
    done: bool,
}

impl Side {
    fn new(stream: SendableRecordBatchStream, columns: Vec<Source>, fields: Vec<FieldRef>) -> Self {
        Side {
            stream,
            columns,
            fields,
            batch: None,
            offset: 0,
            passed: 0,
            done: false,
        }
    }

    /// How many rows are waiting, after reading the next batch if none are and the stream has
    /// more.
    async fn waiting(&mut self) -> Result<usize> {
        loop {
            let waiting = self
                .batch
                .as_ref()
                .map_or(0, |b| b.num_rows() - self.offset);
            if waiting > 0 || self.done {
                return Ok(waiting);
            }
            match self.stream.next().await.transpose()? {
                Some(batch) => {
                    self.batch = Some(batch);
                    self.offset = 0;
                }
                None => self.done = true,
            }
        }
    }

    /// The next `rows` waiting rows, column by column; NULLs when the side has none left.
    fn take(&mut self, rows: usize) -> Result<Vec<ArrayRef>> {
        let Some(batch) = self.batch.as_ref().filter(|b| self.offset < b.num_rows()) else {
            return Ok(self
                .fields
                .iter()
                .map(|field| new_null_array(field.data_type(), rows))
                .collect());
        };
        let first = self.passed + 1;
        let columns = self
            .columns
            .iter()
            .zip(&self.fields)
            .map(|(source, field)| match source {
                Source::Input(i) => Ok(batch.column(*i).slice(self.offset, rows)),
                Source::Position => {
                    let positions: ArrayRef =
                        Arc::new(UInt64Array::from_iter_values(first..first + rows as u64));
                    Ok(cast(&positions, field.data_type())?)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        self.offset += rows;
        self.passed += rows as u64;
        Ok(columns)
    }
}

struct Zip {
    left: Side,
    right: Side,
    joined: SchemaRef,
    projection: Option<Arc<[usize]>>,
    metrics: BaselineMetrics,
}

impl Zip {
    /// The next rows side by side: as many as both sides have waiting, or once one side has
    /// ended, the other's next batch beside NULLs.
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let left = self.left.waiting().await?;
        let right = self.right.waiting().await?;
        let rows = match (left, right) {
            (0, 0) => return Ok(None),
            (0, rows) | (rows, 0) => rows,
            (left, right) => left.min(right),
        };
        let mut columns = self.left.take(rows)?;
        columns.extend(self.right.take(rows)?);
        let batch = RecordBatch::try_new(Arc::clone(&self.joined), columns)?;
        let batch = match &self.projection {
            Some(projection) => batch.project(projection)?,
            None => batch,
        };
        self.metrics.record_output(batch.num_rows());
        Ok(Some(batch))
    }
}
