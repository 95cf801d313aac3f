//! Moves a selective semi join below the inner join it sits on.
//!
//! `A ⋈ B ⋉ S` equals `(A ⋉ S) ⋈ B` when the semi join's keys and filter read only `A`'s
//! columns: a semi join only drops rows, and which rows it drops depends on `A`'s columns
//! alone. Doing it first is a win when `S` keeps few keys, because the inner join then runs on
//! the survivors. Without statistics the rule fires only for the shape that almost always
//! keeps few keys: `S` is a HAVING filter over a grouped aggregate (`o_orderkey IN (SELECT
//! l_orderkey ... GROUP BY l_orderkey HAVING sum(l_quantity) > 300)`, TPC-H Q18, where
//! DataFusion otherwise joins all of `lineitem` to `orders` and `customer` first).

use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, Result};
use datafusion::logical_expr::{Join, JoinType, LogicalPlan, Projection};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use super::{KEYS_ALIAS, strip_renames};

/// See the module documentation.
#[derive(Debug, Default)]
pub struct SemiJoinPushdown;

impl OptimizerRule for SemiJoinPushdown {
    fn name(&self) -> &str {
        "tarn_semi_join_pushdown"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        // Top-down, so a semi join pushed one level is visited again and sinks further.
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
        let LogicalPlan::Join(semi) = &plan else {
            return Ok(Transformed::no(plan));
        };
        if semi.join_type != JoinType::LeftSemi || !selects_few_keys(&semi.right) {
            return Ok(Transformed::no(plan));
        }
        match push_below_inner_join(semi)? {
            Some(pushed) => Ok(Transformed::yes(pushed)),
            None => Ok(Transformed::no(plan)),
        }
    }
}

/// Whether `plan` is a HAVING-style filter over a grouped aggregate, or the filtered key set
/// of a reduced aggregate.
fn selects_few_keys(plan: &LogicalPlan) -> bool {
    if matches!(plan, LogicalPlan::SubqueryAlias(alias) if alias.alias.table() == KEYS_ALIAS) {
        return true;
    }
    match strip_renames(plan) {
        LogicalPlan::Filter(filter) => matches!(
            strip_renames(&filter.input),
            LogicalPlan::Aggregate(aggregate) if !aggregate.group_expr.is_empty()
        ),
        _ => false,
    }
}

/// `semi` rebuilt with its left input's inner join outside it, or `None` when the left input is
/// not an inner join (under at most a projection) or the semi join reads both of its sides.
fn push_below_inner_join(semi: &Join) -> Result<Option<LogicalPlan>> {
    let (projection, inner) = match semi.left.as_ref() {
        LogicalPlan::Projection(projection) => (Some(projection), projection.input.as_ref()),
        other => (None, other),
    };
    let LogicalPlan::Join(inner) = inner else {
        return Ok(None);
    };
    if inner.join_type != JoinType::Inner {
        return Ok(None);
    }
    if let Some(projection) = projection
        && !projection.expr.iter().all(|e| e.try_as_col().is_some())
    {
        return Ok(None);
    }
    let needed = left_columns(semi);
    let reads_only = |side: &LogicalPlan| needed.iter().all(|c| side.schema().has_column(c));
    let (left, right) = if reads_only(&inner.left) {
        (filtered(semi, &inner.left)?, Arc::clone(&inner.right))
    } else if reads_only(&inner.right) {
        (Arc::clone(&inner.left), filtered(semi, &inner.right)?)
    } else {
        return Ok(None);
    };
    let joined = LogicalPlan::Join(Join::try_new(
        left,
        right,
        inner.on.clone(),
        inner.filter.clone(),
        JoinType::Inner,
        inner.join_constraint,
        inner.null_equality,
        false,
    )?);
    Ok(Some(match projection {
        Some(projection) => LogicalPlan::Projection(Projection::try_new(
            projection.expr.clone(),
            Arc::new(joined),
        )?),
        None => joined,
    }))
}

/// The columns of the semi join's left side that its keys and filter read.
fn left_columns(semi: &Join) -> Vec<Column> {
    let keys = semi.on.iter().map(|(left, _)| left);
    keys.chain(semi.filter.as_ref())
        .flat_map(|e| e.column_refs())
        .filter(|c| semi.left.schema().has_column(c))
        .cloned()
        .collect()
}

/// `side` semi-joined with `semi`'s right input, on `semi`'s keys and filter.
fn filtered(semi: &Join, side: &Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
    Ok(Arc::new(LogicalPlan::Join(Join::try_new(
        Arc::clone(side),
        Arc::clone(&semi.right),
        semi.on.clone(),
        semi.filter.clone(),
        JoinType::LeftSemi,
        semi.join_constraint,
        semi.null_equality,
        semi.null_aware,
    )?)))
}
