//! [`SortedInputs`]: a sorted subquery's order kept for the operators that read rows in order
//! without asking for one.
//!
//! `row_number() OVER ()` numbers rows in the order they come, and `list(x)`, `string_agg(s)`
//! or `first(x)` without an ORDER BY of their own collect them in that order: over `(SELECT
//! ... ORDER BY score DESC)`, DuckDB numbers and collects in score order. DataFusion's sort enforcement
//! keeps a sort only where something above requires its order, and neither declares a
//! requirement, so it dropped the subquery's sort beneath them wherever the result's own order
//! did not carry it (a POSITIONAL JOIN's sides, a `list` over a sorted subquery). This rule,
//! run before that enforcement while insertion order is kept, states the order such an
//! operator's input already has as a requirement, in one partition (DataFusion's
//! `OutputRequirementExec`, which its own later pass removes again), so no sort beneath is
//! dropped and none is added. [`UnsplitSortedInputs`], run after it, takes away the round-robin
//! split the enforcement places under such an aggregate to spread its work, which would
//! collect the rows out of order: a collecting aggregate over a sorted input runs on one
//! thread.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::physical_expr::{Distribution, OrderingRequirements};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::output_requirements::OutputRequirementExec;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowAggExec};
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties, Partitioning};

use super::KeepInsertionOrder;

/// The physical rule; see the module documentation.
#[derive(Debug)]
pub struct SortedInputs(pub Arc<KeepInsertionOrder>);

impl PhysicalOptimizerRule for SortedInputs {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        replace_inputs_read_in_order(plan, &self.0, |input| {
            let ordering = input.output_ordering()?;
            Some(Arc::new(OutputRequirementExec::new(
                Arc::clone(input),
                Some(OrderingRequirements::from(ordering.clone())),
                Distribution::SinglePartition,
                None,
            )))
        })
    }

    fn name(&self) -> &str {
        "tarn_sorted_inputs"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The physical rule that runs after DataFusion's enforcement of requirements: a round-robin
/// split of one ordered partition, placed under an operator that reads rows in order to
/// spread its work, would collect the rows out of order, so it goes.
#[derive(Debug)]
pub struct UnsplitSortedInputs(pub Arc<KeepInsertionOrder>);

impl PhysicalOptimizerRule for UnsplitSortedInputs {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        replace_inputs_read_in_order(plan, &self.0, |input| {
            let split = input.downcast_ref::<RepartitionExec>()?;
            let whole = split.input();
            (matches!(split.partitioning(), Partitioning::RoundRobinBatch(_))
                && whole.output_partitioning().partition_count() == 1
                && whole.output_ordering().is_some())
            .then(|| Arc::clone(whole))
        })
    }

    fn name(&self) -> &str {
        "tarn_unsplit_sorted_inputs"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `plan` with the one input of each operator that reads rows in order replaced by what
/// `replacement` makes of it, where it makes anything; `plan` as it is while insertion order
/// is not kept.
fn replace_inputs_read_in_order(
    plan: Arc<dyn ExecutionPlan>,
    keep: &KeepInsertionOrder,
    replacement: impl Fn(&Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    if !keep.get() {
        return Ok(plan);
    }
    plan.transform_up(|node| {
        let new_input = match node.children()[..] {
            [input] if reads_in_order(&node) => replacement(input),
            _ => None,
        };
        match new_input {
            Some(input) => Ok(Transformed::yes(replace_children_if_necessary(
                node,
                vec![input],
            )?)),
            None => Ok(Transformed::no(node)),
        }
    })
    .map(|transformed| transformed.data)
}

/// Whether `node`'s answer depends on the order of its input rows though it asks for none: a
/// window without ORDER BY or PARTITION BY (`row_number() OVER ()`), or an aggregation with a
/// function that collects rows without an ORDER BY of its own (`list(x)`, `string_agg(s)`).
fn reads_in_order(node: &Arc<dyn ExecutionPlan>) -> bool {
    let window = node
        .downcast_ref::<BoundedWindowAggExec>()
        .map(|w| w.window_expr())
        .or_else(|| {
            node.downcast_ref::<WindowAggExec>()
                .map(|w| w.window_expr())
        });
    if let Some(functions) = window {
        return functions
            .iter()
            .all(|f| f.order_by().is_empty() && f.partition_by().is_empty());
    }
    node.downcast_ref::<AggregateExec>()
        .is_some_and(|aggregate| {
            aggregate
                .aggr_expr()
                .iter()
                .any(|f| f.order_bys().is_empty() && COLLECTING.contains(&f.fun().name()))
        })
}

/// The aggregates whose answer is their input rows in order (`list` is `array_agg`, `first`
/// and `arbitrary` are `first_value`). DataFusion's own order sensitivity cannot tell them:
/// an aggregate that does not declare one, `count` among them, counts as order-sensitive.
const COLLECTING: [&str; 5] = [
    "array_agg",
    "string_agg",
    "first_value",
    "last_value",
    "nth_value",
];
