//! Aggregates only the groups a join can match.
//!
//! A decorrelated scalar subquery becomes `outer ⋈ (SELECT k, agg(...) ... GROUP BY k)` on
//! `outer.key = k`: DataFusion computes the aggregate for every `k` and lets the join throw most
//! groups away (TPC-H Q17 averages all 200 000 parts per scale factor to use 0.1% of them). When
//! `outer.key` comes from a filtered scan of one table, directly or through the partner column of
//! a join (Q20's `ps_partkey` through `ps_partkey IN (SELECT p_partkey ... LIKE 'forest%')`),
//! this rule semi-joins the aggregate's input with that scan's keys first, the way DuckDB's
//! delim join feeds the outer keys into the subquery. It is exact: `k` is a group key, so the
//! rows removed form whole groups, and those groups have no partner in the join. The filtered
//! scan runs twice, which is cheap next to aggregating rows that are thrown away.

use std::ptr;
use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, NullEquality, Result};
use datafusion::logical_expr::{
    Aggregate, Expr, Join, JoinConstraint, JoinType, LogicalPlan, Projection, SubqueryAlias,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use super::KEYS_ALIAS;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct AggregateKeyReduction;

impl OptimizerRule for AggregateKeyReduction {
    fn name(&self) -> &str {
        "tarn_aggregate_key_reduction"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Join(join) = &plan else {
            return Ok(Transformed::no(plan));
        };
        // Null-aware anti joins (NOT IN) look at every right row, null keys included.
        let filters_right_by_key = matches!(
            join.join_type,
            JoinType::Inner | JoinType::LeftSemi | JoinType::LeftAnti
        ) && !join.null_aware
            && join.null_equality == NullEquality::NullEqualsNothing;
        if !filters_right_by_key {
            return Ok(Transformed::no(plan));
        }
        for (left, right) in &join.on {
            let (Some(outer_key), Some(group_key)) = (left.try_as_col(), right.try_as_col()) else {
                continue;
            };
            let mut sources = Vec::new();
            key_sources(&join.left, outer_key, &mut sources);
            let source = sources.into_iter().find(|(source, _)| {
                !ptr::eq(*source, join.left.as_ref()) && is_filtered_scan(source)
            });
            let Some((source, source_key)) = source else {
                continue;
            };
            let index = join.right.schema().index_of_column(group_key)?;
            let keys = key_set(source, &source_key)?;
            if let Some(right) = reduce(&join.right, index, &keys)? {
                return Ok(Transformed::yes(LogicalPlan::Join(Join::try_new(
                    Arc::clone(&join.left),
                    Arc::new(right),
                    join.on.clone(),
                    join.filter.clone(),
                    join.join_type,
                    join.join_constraint,
                    join.null_equality,
                    join.null_aware,
                )?)));
            }
        }
        Ok(Transformed::no(plan))
    }
}

/// The smallest subtrees of `plan` (with the column there) whose output holds every value `key`
/// takes in `plan`'s output, the subtree that has the column itself first: inner joins,
/// semi/anti joins and projections only ever drop values of a column they pass through, and an
/// inner or semi join's output keeps only values its partner column on the other side has
/// (TPC-H Q20's `ps_partkey` takes only values of the `p_partkey` of `p_name LIKE 'forest%'`).
fn key_sources<'a>(
    plan: &'a LogicalPlan,
    key: &Column,
    sources: &mut Vec<(&'a LogicalPlan, Column)>,
) {
    let mut children: Vec<(&LogicalPlan, Column)> = Vec::new();
    match plan {
        LogicalPlan::Join(join) if join.join_type == JoinType::Inner => {
            if let Some(side) = [&join.left, &join.right]
                .into_iter()
                .find(|side| side.schema().has_column(key))
            {
                children.push((side, key.clone()));
            }
            children.extend(partner(join, key));
        }
        LogicalPlan::Join(join)
            if matches!(join.join_type, JoinType::LeftSemi | JoinType::LeftAnti) =>
        {
            children.push((&join.left, key.clone()));
            if join.join_type == JoinType::LeftSemi {
                children.extend(partner(join, key));
            }
        }
        LogicalPlan::Projection(projection)
            if projection.expr.iter().any(|e| e.try_as_col() == Some(key)) =>
        {
            children.push((&projection.input, key.clone()));
        }
        _ => {}
    }
    if children.is_empty() {
        sources.push((plan, key.clone()));
    }
    for (child, column) in children {
        key_sources(child, &column, sources);
    }
}

/// The other side of an equality in `join`'s condition that has `key` on one side, with the
/// column it is compared with (only the rows where the two are equal come out of the join).
fn partner<'a>(join: &'a Join, key: &Column) -> Option<(&'a LogicalPlan, Column)> {
    join.on.iter().find_map(|(left, right)| {
        let (left, right) = (left.try_as_col()?, right.try_as_col()?);
        if left == key {
            Some((join.right.as_ref(), right.clone()))
        } else if right == key && join.join_type == JoinType::Inner {
            Some((join.left.as_ref(), left.clone()))
        } else {
            None
        }
    })
}

/// Whether `plan` is one table scanned with a filter: cheap to run a second time, and likely to
/// keep few keys.
fn is_filtered_scan(plan: &LogicalPlan) -> bool {
    let mut filtered = false;
    let mut only_scan_nodes = true;
    plan.apply(|node| {
        match node {
            LogicalPlan::Filter(_) => filtered = true,
            LogicalPlan::TableScan(scan) => filtered |= !scan.filters.is_empty(),
            LogicalPlan::Projection(_) | LogicalPlan::SubqueryAlias(_) => {}
            _ => only_scan_nodes = false,
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .expect("the visitor never fails");
    filtered && only_scan_nodes
}

/// `source`'s `key` column alone, under [`KEYS_ALIAS`].
fn key_set(source: &LogicalPlan, key: &Column) -> Result<LogicalPlan> {
    let projection =
        Projection::try_new(vec![Expr::Column(key.clone())], Arc::new(source.clone()))?;
    Ok(LogicalPlan::SubqueryAlias(SubqueryAlias::try_new(
        Arc::new(LogicalPlan::Projection(projection)),
        KEYS_ALIAS,
    )?))
}

/// `plan` with the aggregate that produces its output column `index` as a group key reduced to
/// the groups in `keys`; `None` when that column is not a plain group key, or the aggregate is
/// already reduced.
fn reduce(plan: &LogicalPlan, index: usize, keys: &LogicalPlan) -> Result<Option<LogicalPlan>> {
    match plan {
        LogicalPlan::SubqueryAlias(alias) => Ok(reduce(&alias.input, index, keys)?
            .map(|input| SubqueryAlias::try_new(Arc::new(input), alias.alias.clone()))
            .transpose()?
            .map(LogicalPlan::SubqueryAlias)),
        LogicalPlan::Projection(projection) => {
            let Some(column) = projection.expr[index]
                .clone()
                .unalias()
                .try_as_col()
                .cloned()
            else {
                return Ok(None);
            };
            let input_index = projection.input.schema().index_of_column(&column)?;
            Ok(reduce(&projection.input, input_index, keys)?
                .map(|input| Projection::try_new(projection.expr.clone(), Arc::new(input)))
                .transpose()?
                .map(LogicalPlan::Projection))
        }
        LogicalPlan::Aggregate(aggregate) => {
            let group_key = aggregate.group_expr.get(index).and_then(Expr::try_as_col);
            let Some(group_key) = group_key else {
                return Ok(None);
            };
            if is_reduced(&aggregate.input) {
                return Ok(None);
            }
            let key = Column::new(Some(KEYS_ALIAS), keys.schema().field(0).name());
            let input = Join::try_new(
                Arc::clone(&aggregate.input),
                Arc::new(keys.clone()),
                vec![(Expr::Column(group_key.clone()), Expr::Column(key))],
                None,
                JoinType::LeftSemi,
                JoinConstraint::On,
                NullEquality::NullEqualsNothing,
                false,
            )?;
            Ok(Some(LogicalPlan::Aggregate(Aggregate::try_new(
                Arc::new(LogicalPlan::Join(input)),
                aggregate.group_expr.clone(),
                aggregate.aggr_expr.clone(),
            )?)))
        }
        _ => Ok(None),
    }
}

/// Whether this rule already reduced `input` (later optimizer passes may have put projections
/// between the aggregate and the key join).
fn is_reduced(input: &LogicalPlan) -> bool {
    input
        .exists(|node| {
            Ok(matches!(node, LogicalPlan::SubqueryAlias(alias) if alias.alias.table() == KEYS_ALIAS))
        })
        .expect("the visitor never fails")
}
