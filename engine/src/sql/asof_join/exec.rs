//! [`AsofJoinExec`]: the ASOF join as one operator. Each partition reads its share of the right
//! side whole into an [`AsofIndex`], then streams its left rows past it, each meeting at most
//! one right row; both sides are split by the keys, so a key's rows meet in one partition.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take_arrays};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::physical_expr::{
    Distribution, EquivalenceProperties, PhysicalExpr, PhysicalExprRef,
};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
    SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt};

use super::Inequality;
use super::index::AsofIndex;

/// Each left row joined with the right row of equal keys whose time is the nearest on the
/// inequality's side; without one the row is dropped, or kept with NULLs when
/// `keep_unmatched` (`ASOF LEFT JOIN`). The output is the left columns, then the right ones.
#[derive(Debug)]
pub struct AsofJoinExec {
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
    /// Pairs of equal keys, the left side's first.
    on: Vec<(PhysicalExprRef, PhysicalExprRef)>,
    /// The left and right times.
    time: (PhysicalExprRef, PhysicalExprRef),
    inequality: Inequality,
    keep_unmatched: bool,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl AsofJoinExec {
    pub fn try_new(
        left: Arc<dyn ExecutionPlan>,
        right: Arc<dyn ExecutionPlan>,
        on: Vec<(PhysicalExprRef, PhysicalExprRef)>,
        time: (PhysicalExprRef, PhysicalExprRef),
        inequality: Inequality,
        keep_unmatched: bool,
    ) -> Result<Self> {
        let schema = joined_schema(&left.schema(), &right.schema(), keep_unmatched);
        // The left columns keep their places and their rows' order, so the left side's split
        // and order hold for the output.
        let orderings = left.output_ordering().cloned();
        let properties = PlanProperties::new(
            EquivalenceProperties::new_with_orderings(Arc::clone(&schema), orderings),
            left.output_partitioning().clone(),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Self {
            left,
            right,
            on,
            time,
            inequality,
            keep_unmatched,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    pub fn left(&self) -> &Arc<dyn ExecutionPlan> {
        &self.left
    }

    pub fn right(&self) -> &Arc<dyn ExecutionPlan> {
        &self.right
    }

    pub fn on(&self) -> &[(PhysicalExprRef, PhysicalExprRef)] {
        &self.on
    }

    pub fn time(&self) -> &(PhysicalExprRef, PhysicalExprRef) {
        &self.time
    }

    pub fn inequality(&self) -> Inequality {
        self.inequality
    }

    pub fn keeps_unmatched(&self) -> bool {
        self.keep_unmatched
    }
}

impl DisplayAs for AsofJoinExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let on: Vec<String> = self.on.iter().map(|(l, r)| format!("({l}, {r})")).collect();
        let kind = if self.keep_unmatched { "Left" } else { "Inner" };
        if let DisplayFormatType::TreeRender = t {
            writeln!(f, "join_type={kind}")?;
            if !on.is_empty() {
                writeln!(f, "on={}", on.join(", "))?;
            }
            return write!(
                f,
                "time={} {} {}",
                self.time.0, self.inequality, self.time.1
            );
        }
        write!(
            f,
            "AsofJoinExec: join_type={kind}, on=[{}], time={} {} {}",
            on.join(", "),
            self.time.0,
            self.inequality,
            self.time.1
        )
    }
}

impl ExecutionPlan for AsofJoinExec {
    fn name(&self) -> &str {
        "AsofJoinExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        if self.on.is_empty() {
            return vec![Distribution::SinglePartition, Distribution::SinglePartition];
        }
        let (left, right) = self
            .on
            .iter()
            .map(|(l, r)| (Arc::clone(l), Arc::clone(r)))
            .unzip();
        vec![
            Distribution::KeyPartitioned(left),
            Distribution::KeyPartitioned(right),
        ]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true, false]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.left, &self.right]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        let exprs = self
            .on
            .iter()
            .flat_map(|(l, r)| [l, r])
            .chain([&self.time.0, &self.time.1]);
        for expr in exprs {
            if f(expr)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [left, right] = <[_; 2]>::try_from(children).map_err(|c| {
            DataFusionError::Internal(format!("AsofJoinExec takes two children, not {}", c.len()))
        })?;
        Ok(Arc::new(Self::try_new(
            left,
            right,
            self.on.clone(),
            self.time.clone(),
            self.inequality,
            self.keep_unmatched,
        )?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let (left_parts, right_parts) = (
            self.left.output_partitioning().partition_count(),
            self.right.output_partitioning().partition_count(),
        );
        if left_parts != right_parts {
            return Err(DataFusionError::Internal(format!(
                "an ASOF join's sides come in {left_parts} and {right_parts} partitions"
            )));
        }
        let right_schema = self.right.schema();
        let right = self.right.execute(partition, Arc::clone(&context))?;
        let left = self.left.execute(partition, Arc::clone(&context))?;
        let reservation = MemoryConsumer::new(format!("AsofJoinExec[{partition}]"))
            .register(context.memory_pool());
        let (right_keys, right_time): (Vec<_>, _) = (
            self.on.iter().map(|(_, r)| Arc::clone(r)).collect(),
            Arc::clone(&self.time.1),
        );
        // The time spent indexing the right side, apart from the probe's in `elapsed_compute`.
        let build_time = MetricBuilder::new(&self.metrics).subset_time("build_time", partition);
        let built = async move {
            let batches: Vec<RecordBatch> = right
                .and_then(|batch| {
                    let grown = reservation.try_grow(batch.get_array_memory_size());
                    futures::future::ready(grown.map(|()| batch))
                })
                .try_collect()
                .await?;
            let _timer = build_time.timer();
            let batch = concat_batches(&right_schema, &batches)?;
            drop(batches);
            reservation.try_resize(batch.get_array_memory_size())?;
            let keys = evaluate(&right_keys, &batch)?;
            let times = evaluate(std::slice::from_ref(&right_time), &batch)?.remove(0);
            let index = AsofIndex::build(&keys, &times)?;
            reservation.try_grow(index.memory_size())?;
            Ok::<_, DataFusionError>(Arc::new(Side {
                batch,
                index,
                _reservation: reservation,
            }))
        };
        let probe = Probe {
            left_keys: self.on.iter().map(|(l, _)| Arc::clone(l)).collect(),
            left_time: Arc::clone(&self.time.0),
            inequality: self.inequality,
            keep_unmatched: self.keep_unmatched,
            schema: self.schema(),
        };
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let joined = futures::stream::once(async move {
            let side = built.await?;
            Ok::<_, DataFusionError>(left.map(move |batch| {
                let _timer = metrics.elapsed_compute().timer();
                let joined = probe.join(&batch?, &side)?;
                metrics.record_output(joined.num_rows());
                Ok(joined)
            }))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            joined,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// The left side's columns, then the right side's, which an `ASOF LEFT JOIN` makes nullable.
fn joined_schema(left: &Schema, right: &Schema, keep_unmatched: bool) -> SchemaRef {
    let right_fields = right.fields().iter().map(|field| match keep_unmatched {
        true => Arc::new(field.as_ref().clone().with_nullable(true)),
        false => Arc::clone(field),
    });
    let fields: Vec<_> = left.fields().iter().cloned().chain(right_fields).collect();
    let mut metadata = left.metadata().clone();
    metadata.extend(right.metadata().clone());
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

/// A partition's right rows and their index, with the memory they hold.
struct Side {
    batch: RecordBatch,
    index: AsofIndex,
    _reservation: MemoryReservation,
}

/// What joins each left batch.
#[derive(Clone)]
struct Probe {
    left_keys: Vec<PhysicalExprRef>,
    left_time: PhysicalExprRef,
    inequality: Inequality,
    keep_unmatched: bool,
    schema: SchemaRef,
}

impl Probe {
    fn join(&self, batch: &RecordBatch, side: &Side) -> Result<RecordBatch> {
        let keys = evaluate(&self.left_keys, batch)?;
        let times = evaluate(std::slice::from_ref(&self.left_time), batch)?.remove(0);
        let matches = side.index.matches(&keys, &times, self.inequality)?;
        // Column by column: a right column unmatched rows make NULL may be declared non-null
        // in the right side's own schema.
        let (left, right) = if self.keep_unmatched {
            (
                batch.columns().to_vec(),
                take_arrays(side.batch.columns(), &matches, None)?,
            )
        } else {
            let matched: UInt32Array = matches
                .iter()
                .enumerate()
                .filter_map(|(row, found)| found.map(|_| row as u32))
                .collect();
            let rows: UInt32Array = matches.iter().flatten().collect();
            (
                take_arrays(batch.columns(), &matched, None)?,
                take_arrays(side.batch.columns(), &rows, None)?,
            )
        };
        Ok(RecordBatch::try_new(
            Arc::clone(&self.schema),
            left.into_iter().chain(right).collect(),
        )?)
    }
}

/// The values of `exprs` over `batch`.
fn evaluate(exprs: &[PhysicalExprRef], batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
    exprs
        .iter()
        .map(|expr| expr.evaluate(batch)?.into_array(batch.num_rows()))
        .collect()
}
