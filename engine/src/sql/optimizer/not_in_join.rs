//! `x NOT IN (subquery)` with its hash table built on the subquery's rows.
//!
//! DataFusion answers `NOT IN` with a null-aware anti join, which must build its hash table on
//! the outer rows: it watches the subquery's rows go by as the probe side to learn whether any
//! of them is NULL (then no row qualifies) and whether there are any at all (then every row
//! does, NULLs included). When the outer side is a 6-million-row table and the subquery a few
//! thousand keys, that is a hash table 100 times larger than needed: 3.7 times DuckDB's time.
//!
//! [`NotInJoinExec`] keeps the ordinary anti join, built on the subquery's side, as a
//! [`WatchedJoinExec`] that learns the same two facts from the build: [`NotInNulls`] notes, as
//! the subquery's rows go into the hash table, whether any key was NULL and whether any row
//! came; then it drops every outer row when a subquery key was NULL, and the outer rows whose
//! own key is NULL when the subquery had rows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::{filter_record_batch, is_not_null};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::JoinType;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::{
    ChildrenPropertiesMode, ExecutionPlan, ExecutionPlanProperties, ReplaceChildrenOptions,
};

use super::semi_join_build_side::{SWAP_RATIO, rows};
use super::watched_join::{JoinWatch, WatchedJoinExec};

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
            Ok(match built_on_subquery(join)? {
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

/// A hash anti join built on `NOT IN`'s subquery, with the null rules of `NOT IN`: see the
/// module documentation.
pub type NotInJoinExec = WatchedJoinExec<NotInNulls>;

/// What the build side learned about the subquery's keys, and what `NOT IN`'s NULL rules then
/// do to the outer rows.
#[derive(Debug)]
pub struct NotInNulls {
    /// The subquery's key, over the build rows.
    subquery_key: Arc<dyn PhysicalExpr>,
    /// The outer rows' key, over the probe rows.
    outer_key: Arc<dyn PhysicalExpr>,
    /// Whether the build side, one partition in `CollectLeft` mode, was read to the end.
    build_read: AtomicBool,
    /// Whether the subquery gave any row.
    any_row: AtomicBool,
    /// Whether any of its keys was NULL.
    any_null: AtomicBool,
}

impl JoinWatch for NotInNulls {
    const NAME: &'static str = "NotInJoinExec";
    const SUMMARY: &'static str = "built on the subquery, NOT IN's NULL rules";

    fn unfit(join: &HashJoinExec) -> Option<String> {
        let fits = *join.join_type() == JoinType::RightAnti
            && !join.null_aware
            && built_whole_on_one_key(join);
        (!fits).then(|| "it is not a RightAnti join on one key, built whole".into())
    }

    fn start(join: &HashJoinExec, _context: &TaskContext) -> Self {
        let (subquery_key, outer_key) = &join.on()[0];
        Self {
            subquery_key: Arc::clone(subquery_key),
            outer_key: Arc::clone(outer_key),
            build_read: AtomicBool::new(false),
            any_row: AtomicBool::new(false),
            any_null: AtomicBool::new(false),
        }
    }

    fn note_build(&self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.any_row.store(true, Ordering::Relaxed);
        let key = self
            .subquery_key
            .evaluate(batch)?
            .into_array(batch.num_rows())?;
        if key.null_count() > 0 {
            self.any_null.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    fn build_read(&self) {
        self.build_read.store(true, Ordering::Release);
    }

    /// Drops every row when a subquery key was NULL, and the rows whose own key is NULL when
    /// the subquery had rows.
    fn keep_probe(&self, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        if !self.build_read.load(Ordering::Acquire) {
            return Err(DataFusionError::Internal(
                "a NOT IN join read outer rows before all of its subquery".into(),
            ));
        }
        if self.any_null.load(Ordering::Relaxed) {
            return Ok(None);
        }
        if !self.any_row.load(Ordering::Relaxed) {
            return Ok(Some(batch));
        }
        let key = self
            .outer_key
            .evaluate(&batch)?
            .into_array(batch.num_rows())?;
        if key.null_count() == 0 {
            return Ok(Some(batch));
        }
        Ok(Some(filter_record_batch(&batch, &is_not_null(&key)?)?))
    }
}

/// Whether `join` builds one hash table from all of its left side, on one key with no filter:
/// the joins whose NULL rules a [`NotInJoinExec`] can keep.
fn built_whole_on_one_key(join: &HashJoinExec) -> bool {
    *join.partition_mode() == PartitionMode::CollectLeft
        && join.on().len() == 1
        && join.filter().is_none()
}

/// The null-aware `LeftAnti` join DataFusion plans for `NOT IN`, built on its subquery
/// instead, or `None` when `join` is not one this node can take or the subquery is not
/// clearly the smaller side. `join` is as the distribution rules left it: its outer side
/// merged into one partition for the build.
fn built_on_subquery(join: &HashJoinExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let takes =
        join.null_aware && *join.join_type() == JoinType::LeftAnti && built_whole_on_one_key(join);
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
    let build_side: Arc<dyn ExecutionPlan> = if subquery.output_partitioning().partition_count() > 1
    {
        Arc::new(CoalescePartitionsExec::new(subquery))
    } else {
        subquery
    };
    let recompute = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
    let built_on_subquery = plain
        .swap_inputs(PartitionMode::CollectLeft)?
        .replace_children(vec![build_side, outer], recompute)?;
    let not_in: Arc<dyn ExecutionPlan> = Arc::new(NotInJoinExec::try_new(built_on_subquery)?);
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
