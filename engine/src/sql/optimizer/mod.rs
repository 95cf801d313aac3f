//! Logical rewrites Tarn adds after DataFusion's own optimizer rules.
//!
//! DataFusion decorrelates `IN`/`EXISTS`/scalar subqueries into semi joins placed above the
//! whole join tree of the outer query, and it has no cost-based join reordering to move them.
//! DuckDB's planner gets the better shape from its cardinality estimates and its "delim join"
//! decorrelation. The rules here recover the two cases that cost the most without statistics,
//! each restricted to a plan shape where the rewrite is cheap and the win is likely:
//!
//! * [`SemiJoinPushdown`]: a semi join whose right side is a HAVING-selected key set filters the
//!   one side of an inner join that holds its keys before that join runs (TPC-H Q18), and so
//!   does the key set the next rule adds.
//! * [`AggregateKeyReduction`]: an aggregate joined on a group key only aggregates the keys a
//!   filtered scan on the other side can match (TPC-H Q2, Q17).

mod aggregate_key_reduction;
mod semi_join_pushdown;

use std::sync::Arc;

use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::OptimizerRule;

pub use aggregate_key_reduction::AggregateKeyReduction;
pub use semi_join_pushdown::SemiJoinPushdown;

/// The alias of the key set [`AggregateKeyReduction`] joins into an aggregate's input: how a
/// reduced aggregate is recognised, so that later passes leave it alone, and a key set that
/// [`SemiJoinPushdown`] knows to be small.
const KEYS_ALIAS: &str = "__tarn_join_keys";

/// Tarn's rules, in the order they run after DataFusion's.
pub fn rules() -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
    vec![Arc::new(SemiJoinPushdown), Arc::new(AggregateKeyReduction)]
}

/// The plan under any `SubqueryAlias` and `Projection` nodes: what a join side computes, seen
/// past renaming.
fn strip_renames(plan: &LogicalPlan) -> &LogicalPlan {
    match plan {
        LogicalPlan::SubqueryAlias(alias) => strip_renames(&alias.input),
        LogicalPlan::Projection(projection) => strip_renames(&projection.input),
        other => other,
    }
}
