//! Conditions above an ASOF join that read only its left side, moved below it.
//!
//! DataFusion pushes no filter through a node it does not know, and it must not push one on the
//! right side's columns through an ASOF join: that would change which right row is the nearest.
//! A condition on the left side alone can go below it, inner or left: each left row's match
//! depends on that row only. There, DataFusion's own pushdown takes it on into the scan, where
//! Parquet statistics skip what it rules out.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::tree_node::Transformed;
use datafusion::logical_expr::utils::{conjunction, split_conjunction_owned};
use datafusion::logical_expr::{Expr, Extension, Filter, LogicalPlan, Projection};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use super::plan::AsofJoin;
use crate::sql::optimizer::under_column_projection;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct AsofLeftFilters;

impl OptimizerRule for AsofLeftFilters {
    fn name(&self) -> &str {
        "tarn_asof_left_filters"
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
        let LogicalPlan::Filter(filter) = &plan else {
            return Ok(Transformed::no(plan));
        };
        // DataFusion leaves a projection of the columns read above the join.
        let (projection, input) = under_column_projection(&filter.input);
        let LogicalPlan::Extension(Extension { node }) = input else {
            return Ok(Transformed::no(plan));
        };
        let Some(join) = node.as_any().downcast_ref::<AsofJoin>() else {
            return Ok(Transformed::no(plan));
        };
        let left_schema = join.left.schema();
        let (below, above): (Vec<Expr>, Vec<Expr>) =
            split_conjunction_owned(filter.predicate.clone())
                .into_iter()
                .partition(|condition| {
                    !condition.is_volatile()
                        && !condition.contains_outer()
                        && condition
                            .column_refs()
                            .iter()
                            .all(|column| left_schema.has_column(column))
                });
        let Some(below) = conjunction(below) else {
            return Ok(Transformed::no(plan));
        };
        let mut moved = join.clone();
        moved.left = Arc::new(LogicalPlan::Filter(Filter::try_new(
            below,
            Arc::clone(&join.left),
        )?));
        let mut joined = LogicalPlan::Extension(Extension {
            node: Arc::new(moved),
        });
        if let Some(projection) = projection {
            joined = LogicalPlan::Projection(Projection::try_new(
                projection.expr.clone(),
                Arc::new(joined),
            )?);
        }
        Ok(Transformed::yes(match conjunction(above) {
            Some(above) => LogicalPlan::Filter(Filter::try_new(above, Arc::new(joined))?),
            None => joined,
        }))
    }
}
