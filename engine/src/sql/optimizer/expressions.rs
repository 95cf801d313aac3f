//! Rewrites of the expressions a plan evaluates on rows, for the rules that swap one of
//! DataFusion's expressions for a faster one of Tarn's with the same answers
//! ([`super::DecimalArithmetic`], [`super::DecimalComparison`], [`super::StringViewEquality`],
//! [`super::CheckedArithmetic`]).

use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion::common::Result;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};

/// The arithmetic Tarn evaluates with its own expressions ([`super::BoundedDecimal`],
/// [`super::CheckedInteger`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithmeticOp {
    Add,
    Sub,
    Mul,
}

impl ArithmeticOp {
    pub(super) fn of(op: &Operator) -> Option<Self> {
        match op {
            Operator::Plus => Some(ArithmeticOp::Add),
            Operator::Minus => Some(ArithmeticOp::Sub),
            Operator::Multiply => Some(ArithmeticOp::Mul),
            _ => None,
        }
    }

    /// DataFusion's operator.
    pub(super) fn operator(self) -> Operator {
        match self {
            ArithmeticOp::Add => Operator::Plus,
            ArithmeticOp::Sub => Operator::Minus,
            ArithmeticOp::Mul => Operator::Multiply,
        }
    }

    /// The SQL operator, which is also how the cluster codec names the operation.
    pub fn symbol(self) -> &'static str {
        match self {
            ArithmeticOp::Add => "+",
            ArithmeticOp::Sub => "-",
            ArithmeticOp::Mul => "*",
        }
    }

    pub fn from_symbol(symbol: &str) -> Option<Self> {
        [ArithmeticOp::Add, ArithmeticOp::Sub, ArithmeticOp::Mul]
            .into_iter()
            .find(|op| op.symbol() == symbol)
    }
}

/// How one expression is rewritten, given the schema of the rows it reads.
pub(super) type Rewrite =
    fn(&Arc<dyn PhysicalExpr>, &Schema) -> Result<Transformed<Arc<dyn PhysicalExpr>>>;

/// `plan` with `rewrite` applied to the expressions of its projections, its filters'
/// predicates and the arguments of its aggregates where they read rows.
pub(super) fn rewrite_row_expressions(
    plan: Arc<dyn ExecutionPlan>,
    rewrite: Rewrite,
) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        let rewritten = if let Some(projection) = node.downcast_ref::<ProjectionExec>() {
            rewrite_projection(projection, rewrite)?
        } else if let Some(aggregate) = node.downcast_ref::<AggregateExec>() {
            rewrite_aggregate(aggregate, rewrite)?
        } else if let Some(filter) = node.downcast_ref::<FilterExec>() {
            rewrite_filter(filter, rewrite)?
        } else {
            None
        };
        Ok(match rewritten {
            Some(rewritten) => Transformed::yes(rewritten),
            None => Transformed::no(node),
        })
    })
    .map(|transformed| transformed.data)
}

/// The projection rewritten, or `None` when `rewrite` changed none of its expressions.
fn rewrite_projection(
    projection: &ProjectionExec,
    rewrite: Rewrite,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let schema = projection.input().schema();
    let mut changed = false;
    let mut exprs = Vec::with_capacity(projection.expr().len());
    for ProjectionExpr { expr, alias } in projection.expr() {
        let rewritten = rewrite(expr, &schema)?;
        changed |= rewritten.transformed;
        exprs.push(ProjectionExpr {
            expr: rewritten.data,
            alias: alias.clone(),
        });
    }
    if !changed {
        return Ok(None);
    }
    let rebuilt = ProjectionExec::try_new(exprs, Arc::clone(projection.input()))?;
    Ok(Some(Arc::new(rebuilt)))
}

/// The filter with its predicate rewritten, or `None` when `rewrite` left it as it was.
fn rewrite_filter(filter: &FilterExec, rewrite: Rewrite) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let predicate = rewrite(filter.predicate(), &filter.input().schema())?;
    if !predicate.transformed {
        return Ok(None);
    }
    let rebuilt = FilterExecBuilder::from(filter)
        .with_predicate(predicate.data)
        .build()?;
    Ok(Some(Arc::new(rebuilt)))
}

/// The aggregate with its arguments rewritten, or `None` when `rewrite` changed none. An
/// aggregate evaluates its arguments only where it reads rows (not in a final mode, which
/// merges states).
fn rewrite_aggregate(
    aggregate: &AggregateExec,
    rewrite: Rewrite,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let reads_rows = matches!(
        aggregate.mode(),
        AggregateMode::Partial | AggregateMode::Single | AggregateMode::SinglePartitioned
    );
    if !reads_rows {
        return Ok(None);
    }
    let schema = aggregate.input().schema();
    let mut changed = false;
    let mut functions = Vec::with_capacity(aggregate.aggr_expr().len());
    for function in aggregate.aggr_expr() {
        let expressions = function.all_expressions();
        let mut args = Vec::with_capacity(expressions.args.len());
        for arg in &expressions.args {
            let rewritten = rewrite(arg, &schema)?;
            changed |= rewritten.transformed;
            args.push(rewritten.data);
        }
        match function.with_new_expressions(args, expressions.order_by_exprs) {
            Some(rewritten) => functions.push(Arc::new(rewritten)),
            None => return Ok(None),
        }
    }
    if !changed {
        return Ok(None);
    }
    Ok(Some(Arc::new(aggregate.with_new_aggr_exprs(functions))))
}
