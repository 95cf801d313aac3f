//! `x NOT IN (subquery)` with its hash table built on the subquery's rows.
//!
//! DataFusion answers `NOT IN` with a null-aware anti join, which must build its hash table on
//! the outer rows: it watches the subquery's rows go by as the probe side to learn whether any
//! of them is NULL (then no row qualifies) and whether there are any at all (then every row
//! does, NULLs included). When the outer side is a 6-million-row table and the subquery a few
//! thousand keys, that is a hash table 100 times larger than needed: 3.7 times DuckDB's time.
//!
//! [`NotInJoinExec`] keeps the ordinary anti join, built on the subquery's side, and learns the
//! same two facts from the build: the subquery's rows pass through [`Side::Build`] on their
//! way into the hash table, which notes whether any key was NULL and whether any row came; the
//! outer rows pass through [`Side::Probe`], which drops every row when a subquery key was
//! NULL and drops the rows whose own key is NULL when the subquery had rows. A hash join in
//! `CollectLeft` mode reads all of its build side before it asks for the first probe row, so
//! the facts are known in time; the probe side checks that they are, rather than trusting it.
//!
//! The two sides are wrapped when the node executes, not in the plan, so the plan holds one
//! node, which crosses to a cluster's executors whole: the facts are shared in one process.

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::{filter_record_batch, is_not_null};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result, Statistics};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::JoinType;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::{
    ChildStats, ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan,
    ExecutionPlanProperties, PlanProperties, ReplaceChildrenOptions, StatisticsArgs,
};
use futures::{Stream, StreamExt};

use super::semi_join_build_side::{SWAP_RATIO, rows};

/// Turns `NOT IN`'s null-aware anti joins whose outer side is estimated to hold more than
/// [`SWAP_RATIO`] times the subquery's rows into [`NotInJoinExec`]s. It runs after the rules
/// that place partitions, which do not know the node: it places the merge of the subquery's
/// partitions for the build itself.
#[derive(Debug, Default)]
pub struct NotInBuildSide;

impl PhysicalOptimizerRule for NotInBuildSide {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            Ok(match NotInJoinExec::from_null_aware(join)? {
                Some(not_in) => Transformed::yes(not_in),
                None => Transformed::no(node),
            })
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "tarn_not_in_build_side"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// What the build side learned about the subquery's keys, shared with the probe side.
#[derive(Debug)]
struct SubqueryKeys {
    /// Whether the build side, one partition in `CollectLeft` mode, was read to the end.
    build_read: AtomicBool,
    /// Whether the subquery gave any row.
    any_row: AtomicBool,
    /// Whether any of its keys was NULL.
    any_null: AtomicBool,
}

/// A hash anti join built on `NOT IN`'s subquery, with the null rules of `NOT IN`: see the
/// module documentation.
#[derive(Debug)]
pub struct NotInJoinExec {
    /// A `RightAnti` join in `CollectLeft` mode on one key: the subquery on the left (built),
    /// the outer rows on the right.
    join: Arc<dyn ExecutionPlan>,
    /// The join as it runs, with its two sides wrapped; made on the first `execute`, so that
    /// every output partition probes the one hash table.
    running: Mutex<Option<Arc<dyn ExecutionPlan>>>,
}

impl NotInJoinExec {
    /// Wraps `join`, which must be an ordinary `RightAnti` hash join on one key, built whole.
    pub fn try_new(join: Arc<dyn ExecutionPlan>) -> Result<Self> {
        let Some(hash_join) = join.downcast_ref::<HashJoinExec>() else {
            return Err(DataFusionError::Internal(format!(
                "a NOT IN join wraps a hash join, not {}",
                join.name()
            )));
        };
        let fits = *hash_join.join_type() == JoinType::RightAnti
            && !hash_join.null_aware
            && built_whole_on_one_key(hash_join);
        if !fits {
            return Err(DataFusionError::Internal(format!(
                "a NOT IN join wraps a RightAnti join on one key, built whole, not {hash_join:?}"
            )));
        }
        Ok(Self {
            join,
            running: Mutex::new(None),
        })
    }

    /// The null-aware `LeftAnti` join DataFusion plans for `NOT IN`, built on its subquery
    /// instead, or `None` when `join` is not one this node can take or the subquery is not
    /// clearly the smaller side. `join` is as the distribution rules left it: its outer side
    /// merged into one partition for the build.
    fn from_null_aware(join: &HashJoinExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let takes = join.null_aware
            && *join.join_type() == JoinType::LeftAnti
            && built_whole_on_one_key(join);
        if !takes {
            return Ok(None);
        }
        let outer = match join.left().downcast_ref::<CoalescePartitionsExec>() {
            Some(merge) => Arc::clone(merge.input()),
            None => Arc::clone(join.left()),
        };
        let subquery = Arc::clone(join.right());
        let (Some(outer_rows), Some(subquery_rows)) = (rows(&outer)?, rows(&subquery)?) else {
            return Ok(None);
        };
        if outer_rows <= subquery_rows.saturating_mul(SWAP_RATIO) {
            return Ok(None);
        }
        let plain = join
            .builder()
            .with_null_aware(false)
            .reset_state()
            .build()?;
        let build_side: Arc<dyn ExecutionPlan> =
            if subquery.output_partitioning().partition_count() > 1 {
                Arc::new(CoalescePartitionsExec::new(subquery))
            } else {
                subquery
            };
        let recompute = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
        let built_on_subquery = plain
            .swap_inputs(PartitionMode::CollectLeft)?
            .replace_children(vec![build_side, outer], recompute)?;
        let not_in: Arc<dyn ExecutionPlan> = Arc::new(Self::try_new(built_on_subquery)?);
        // The outer rows come in several partitions where the join gave one: a parent may
        // have counted on one.
        let one_before = join.properties().output_partitioning().partition_count() == 1;
        Ok(Some(
            if one_before && not_in.output_partitioning().partition_count() > 1 {
                Arc::new(CoalescePartitionsExec::new(not_in))
            } else {
                not_in
            },
        ))
    }

    /// The join with its sides wrapped, made once.
    fn running(&self) -> Result<Arc<dyn ExecutionPlan>> {
        let mut running = self
            .running
            .lock()
            .expect("no NOT IN join panics holding it");
        if let Some(join) = running.as_ref() {
            return Ok(Arc::clone(join));
        }
        let hash_join = self
            .join
            .downcast_ref::<HashJoinExec>()
            .expect("checked in try_new");
        let (subquery_key, outer_key) = &hash_join.on()[0];
        let (subquery, outer) = (hash_join.left(), hash_join.right());
        let keys = Arc::new(SubqueryKeys {
            build_read: AtomicBool::new(false),
            any_row: AtomicBool::new(false),
            any_null: AtomicBool::new(false),
        });
        let sides: Vec<Arc<dyn ExecutionPlan>> = vec![
            Arc::new(NotInSide::new(
                Arc::clone(subquery),
                Arc::clone(subquery_key),
                Arc::clone(&keys),
                Side::Build,
            )),
            Arc::new(NotInSide::new(
                Arc::clone(outer),
                Arc::clone(outer_key),
                keys,
                Side::Probe,
            )),
        ];
        // The wrapped sides have their inputs' partitioning and order.
        let keep = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Keep);
        let join = Arc::clone(&self.join).replace_children(sides, keep)?;
        *running = Some(Arc::clone(&join));
        Ok(join)
    }
}

/// Whether `join` builds one hash table from all of its left side, on one key with no filter:
/// the joins whose NULL rules a [`NotInJoinExec`] can keep.
fn built_whole_on_one_key(join: &HashJoinExec) -> bool {
    *join.partition_mode() == PartitionMode::CollectLeft
        && join.on().len() == 1
        && join.filter().is_none()
}

impl DisplayAs for NotInJoinExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "NotInJoinExec: built on the subquery, NOT IN's NULL rules"
        )
    }
}

impl ExecutionPlan for NotInJoinExec {
    fn name(&self) -> &str {
        "NotInJoinExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.join.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.join]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
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
        let [join] = children.as_slice() else {
            return Err(DataFusionError::Internal(
                "a NOT IN join has one input".into(),
            ));
        };
        Ok(Arc::new(Self::try_new(Arc::clone(join))?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.running()?.execute(partition, context)
    }

    /// The running join's metrics, so that `EXPLAIN ANALYZE` shows the join's work.
    fn metrics(&self) -> Option<MetricsSet> {
        let running = self
            .running
            .lock()
            .expect("no NOT IN join panics holding it");
        running.as_ref().and_then(|join| join.metrics())
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(partition)]
    }

    /// The join's: `NOT IN`'s NULL rules only ever drop rows the join's estimate counted.
    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        Ok(Arc::clone(&input_stats[0]))
    }
}

/// Which side of the anti join a [`NotInSide`] feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The subquery's rows: noted, passed on whole.
    Build,
    /// The outer rows: filtered by what the build noted.
    Probe,
}

/// One side of a running [`NotInJoinExec`]; see the module documentation.
#[derive(Debug)]
struct NotInSide {
    input: Arc<dyn ExecutionPlan>,
    /// The join key, over `input`'s rows.
    key: Arc<dyn PhysicalExpr>,
    keys: Arc<SubqueryKeys>,
    side: Side,
}

impl NotInSide {
    fn new(
        input: Arc<dyn ExecutionPlan>,
        key: Arc<dyn PhysicalExpr>,
        keys: Arc<SubqueryKeys>,
        side: Side,
    ) -> Self {
        Self {
            input,
            key,
            keys,
            side,
        }
    }
}

impl DisplayAs for NotInSide {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "NotInSide: {:?} key={}", self.side, self.key)
    }
}

impl ExecutionPlan for NotInSide {
    fn name(&self) -> &str {
        "NotInSide"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        f(&self.key)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = children.as_slice() else {
            return Err(DataFusionError::Internal(
                "a NOT IN join's side has one input".into(),
            ));
        };
        Ok(Arc::new(Self::new(
            Arc::clone(input),
            Arc::clone(&self.key),
            Arc::clone(&self.keys),
            self.side,
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        Ok(Box::pin(SideStream {
            input: self.input.execute(partition, context)?,
            key: Arc::clone(&self.key),
            keys: Arc::clone(&self.keys),
            side: self.side,
            done: false,
        }))
    }
}

/// The rows of one partition of a [`NotInSide`].
struct SideStream {
    input: SendableRecordBatchStream,
    key: Arc<dyn PhysicalExpr>,
    keys: Arc<SubqueryKeys>,
    side: Side,
    done: bool,
}

impl SideStream {
    /// Notes a subquery batch's keys.
    fn note(&self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.keys.any_row.store(true, Ordering::Relaxed);
        let key = self.key.evaluate(batch)?.into_array(batch.num_rows())?;
        if key.null_count() > 0 {
            self.keys.any_null.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The outer rows of `batch` that `NOT IN` can keep, or `None` when it keeps none at all.
    fn keep(&self, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        if !self.keys.build_read.load(Ordering::Acquire) {
            return Err(DataFusionError::Internal(
                "a NOT IN join read outer rows before all of its subquery".into(),
            ));
        }
        if self.keys.any_null.load(Ordering::Relaxed) {
            return Ok(None);
        }
        if !self.keys.any_row.load(Ordering::Relaxed) {
            return Ok(Some(batch));
        }
        let key = self.key.evaluate(&batch)?.into_array(batch.num_rows())?;
        if key.null_count() == 0 {
            return Ok(Some(batch));
        }
        Ok(Some(filter_record_batch(&batch, &is_not_null(&key)?)?))
    }
}

impl Stream for SideStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let polled = self.input.poll_next_unpin(cx);
        let Poll::Ready(next) = polled else {
            return Poll::Pending;
        };
        let answer = match (self.side, next) {
            (_, Some(Err(e))) => Some(Err(e)),
            (Side::Build, Some(Ok(batch))) => Some(self.note(&batch).map(|()| batch)),
            (Side::Build, None) => {
                self.keys.build_read.store(true, Ordering::Release);
                None
            }
            (Side::Probe, Some(Ok(batch))) => self.keep(batch).transpose(),
            (Side::Probe, None) => None,
        };
        if !matches!(answer, Some(Ok(_))) {
            self.done = true;
        }
        Poll::Ready(answer)
    }
}

impl RecordBatchStream for SideStream {
    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }
}
