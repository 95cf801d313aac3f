//! `x IN (subquery)` and `EXISTS (subquery)` as values in a SELECT list
//! (`SELECT id, id IN (SELECT id FROM dups) AS is_dup FROM docs`). DataFusion decorrelates
//! them only as conditions (in WHERE, into semi and mark joins) and fails on them in a
//! projection; DuckDB answers them anywhere.
//!
//! [`SubqueryValues`], an analyzer rule, rewrites each in a projection into scalar `count(*)`
//! subqueries, which DataFusion does decorrelate (into joins on aggregates), arranged to keep
//! SQL's three-valued answer: `x IN (S)` is true when some value of S equals x, false when S is
//! empty, NULL when x is NULL or S holds a NULL, and false otherwise; `EXISTS (S)` is whether S
//! has a row. S is planned up to three times. Columns keep their names.
//!
//! In a filter, DataFusion plans an `IN` subquery inside a condition (under OR or NOT, or in
//! another expression) as a mark join, whose answer is never NULL: `WHERE a = 5 OR s NOT IN
//! (SELECT ...)` kept the rows where `s` is NULL. The rule gives such a subquery the same
//! three-valued form, where NULL and FALSE would differ ([`rewrite_filter`]).
//!
//! A subquery in an aggregate's arguments, its FILTER or a group key (`count(*) FILTER (WHERE id
//! IN (SELECT id FROM flagged))`) fails in DataFusion wherever it is: it decorrelates only
//! those in projections and filters. The rule computes such a subquery in a projection below
//! the aggregate, which reads its column instead.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, ExprSchema, Result, ScalarValue};
use datafusion::functions_aggregate::count::count_all;
use datafusion::logical_expr::expr::{BinaryExpr, Exists, InSubquery};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::{conjunction, split_conjunction_owned};
use datafusion::logical_expr::{
    Aggregate, Expr, Filter, LogicalPlan, LogicalPlanBuilder, Operator, Projection, Subquery, case,
    lit,
};
use datafusion::optimizer::AnalyzerRule;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct SubqueryValues;

impl AnalyzerRule for SubqueryValues {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| match node {
            LogicalPlan::Projection(projection) if projection.expr.iter().any(tests_subquery) => {
                rewrite_projection(projection).map(Transformed::yes)
            }
            LogicalPlan::Filter(filter) if tests_subquery(&filter.predicate) => {
                rewrite_filter(filter)
            }
            LogicalPlan::Aggregate(aggregate)
                if aggregate
                    .group_expr
                    .iter()
                    .chain(&aggregate.aggr_expr)
                    .any(holds_subquery) =>
            {
                lift_subqueries(aggregate).map(Transformed::yes)
            }
            node => Ok(Transformed::no(node)),
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "tarn_subquery_values"
    }
}

/// Whether `expr` holds an `IN` or `EXISTS` subquery outside any subquery of its own.
fn tests_subquery(expr: &Expr) -> bool {
    expr.exists(|e| Ok(matches!(e, Expr::InSubquery(_) | Expr::Exists(_))))
        .unwrap_or(false)
}

/// Whether `expr` holds a subquery of any kind outside any subquery of its own.
fn holds_subquery(expr: &Expr) -> bool {
    expr.exists(|e| {
        Ok(matches!(
            e,
            Expr::InSubquery(_) | Expr::Exists(_) | Expr::ScalarSubquery(_)
        ))
    })
    .unwrap_or(false)
}

/// `aggregate` reading its subqueries' values from a projection below it, which passes its
/// input's columns through (see the module documentation).
fn lift_subqueries(aggregate: Aggregate) -> Result<LogicalPlan> {
    let plan = LogicalPlan::Aggregate(aggregate.clone());
    let names = NamePreserver::new(&plan);
    let mut lifted: Vec<Expr> = Vec::new();
    let mut lift = |expr: Expr| -> Result<Expr> {
        let name = names.save(&expr);
        let rewritten = expr.transform_down(|e| match e {
            Expr::InSubquery(_) | Expr::Exists(_) | Expr::ScalarSubquery(_) => {
                let column = format!("__tarn_subquery_{}", lifted.len());
                lifted.push(e.alias(column.as_str()));
                Ok(Transformed::new(
                    Expr::Column(Column::new_unqualified(column)),
                    true,
                    TreeNodeRecursion::Jump,
                ))
            }
            e => Ok(Transformed::no(e)),
        })?;
        Ok(name.restore(rewritten.data))
    };
    let group_expr = aggregate
        .group_expr
        .into_iter()
        .map(&mut lift)
        .collect::<Result<Vec<_>>>()?;
    let aggr_expr = aggregate
        .aggr_expr
        .into_iter()
        .map(&mut lift)
        .collect::<Result<Vec<_>>>()?;
    let passed: Vec<Expr> = aggregate
        .input
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    let below = Projection::try_new(passed.into_iter().chain(lifted).collect(), aggregate.input)?;
    let below = match below.expr.iter().any(tests_subquery) {
        true => rewrite_projection(below)?,
        false => LogicalPlan::Projection(below),
    };
    Ok(LogicalPlan::Aggregate(Aggregate::try_new(
        Arc::new(below),
        group_expr,
        aggr_expr,
    )?))
}

/// `filter` with each `IN` subquery whose NULL answer matters given the three-valued form:
/// one under NOT, `NOT IN` other than as a whole condition, or one inside another expression
/// (`coalesce(x IN (...), true)`). DataFusion plans those as mark joins, whose FALSE for a NULL
/// `x` or a subquery holding a NULL made `WHERE a = 5 OR s NOT IN (SELECT ...)` keep the rows
/// where `s` is NULL. A whole condition (`WHERE x [NOT] IN (...)`, a null-aware anti join for
/// NOT IN) and an `IN` reached through AND and OR alone (where NULL and FALSE drop the row
/// alike) keep DataFusion's joins.
fn rewrite_filter(filter: Filter) -> Result<Transformed<LogicalPlan>> {
    let outer = Arc::clone(filter.input.schema());
    let mut changed = false;
    let conditions = split_conjunction_owned(filter.predicate.clone())
        .into_iter()
        .map(|condition| match condition {
            Expr::InSubquery(_) | Expr::Exists(_) => Ok(condition),
            other => {
                let guarded = positive(other.clone(), &outer)?;
                changed |= guarded != other;
                Ok(guarded)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    if !changed {
        return Ok(Transformed::no(LogicalPlan::Filter(filter)));
    }
    let predicate = conjunction(conditions).expect("a filter has one condition at least");
    Ok(Transformed::yes(LogicalPlan::Filter(Filter::try_new(
        predicate,
        filter.input,
    )?)))
}

/// `expr`, a condition whose NULL drops its row as FALSE does, with the `IN` subqueries below
/// it that are not reached through AND and OR alone in three-valued form.
fn positive(expr: Expr, outer: &DFSchema) -> Result<Expr> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right })
            if matches!(op, Operator::And | Operator::Or) =>
        {
            Ok(Expr::BinaryExpr(BinaryExpr::new(
                Box::new(positive(*left, outer)?),
                op,
                Box::new(positive(*right, outer)?),
            )))
        }
        Expr::InSubquery(InSubquery { negated: false, .. }) | Expr::Exists(_) => Ok(expr),
        other => three_valued(other, outer),
    }
}

/// `expr` with every `IN` subquery in it (outside subqueries of its own) as `count(*)`
/// subqueries that keep SQL's three-valued answer, and every `EXISTS` as a count.
fn three_valued(expr: Expr, outer: &DFSchema) -> Result<Expr> {
    Ok(expr
        .transform_up(|e| match e {
            Expr::InSubquery(InSubquery {
                expr,
                subquery,
                negated,
            }) => in_value(*expr, subquery, outer)
                .map(|value| Transformed::yes(negate_if(value, negated))),
            Expr::Exists(Exists { subquery, negated }) => {
                let rows = count_subquery(&subquery, None, vec![])?;
                Ok(Transformed::yes(negate_if(rows.gt(lit(0i64)), negated)))
            }
            e => Ok(Transformed::no(e)),
        })?
        .data)
}

fn rewrite_projection(projection: Projection) -> Result<LogicalPlan> {
    let outer = Arc::clone(projection.input.schema());
    let names = NamePreserver::new_for_projection();
    let expressions = projection
        .expr
        .into_iter()
        .map(|expr| {
            let name = names.save(&expr);
            Ok(name.restore(three_valued(expr, &outer)?))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(LogicalPlan::Projection(Projection::try_new(
        expressions,
        projection.input,
    )?))
}

/// `tested IN (subquery)` as `count(*)` subqueries (see the module documentation).
fn in_value(tested: Expr, subquery: Subquery, outer: &DFSchema) -> Result<Expr> {
    let value = Expr::Column(Column::from(subquery.subquery.schema().qualified_field(0)));
    let (from_outside, references) = as_outer_reference(tested.clone(), outer)?;
    let matches = count_subquery(&subquery, Some(value.clone().eq(from_outside)), references)?;
    let rows = count_subquery(&subquery, None, vec![])?;
    let nulls = count_subquery(&subquery, Some(value.is_null()), vec![])?;
    case(lit(true))
        .when(matches.gt(lit(0i64)), lit(true))
        .when(rows.eq(lit(0i64)), lit(false))
        .when(
            tested.is_null().or(nulls.gt(lit(0i64))),
            lit(ScalarValue::Boolean(None)),
        )
        .otherwise(lit(false))
}

/// `expr`, whose columns are the outer query's, as the subquery sees it: its columns are outer
/// references (returned too, for the subquery's list of them).
fn as_outer_reference(expr: Expr, outer: &DFSchema) -> Result<(Expr, Vec<Expr>)> {
    let mut references = Vec::new();
    let expr = expr
        .transform_up(|e| match e {
            Expr::Column(column) => {
                let field = Arc::clone(outer.field_from_column(&column)?);
                let reference = Expr::OuterReferenceColumn(field, column);
                references.push(reference.clone());
                Ok(Transformed::yes(reference))
            }
            e => Ok(Transformed::no(e)),
        })?
        .data;
    Ok((expr, references))
}

/// `(SELECT count(*) FROM subquery [WHERE condition])`; `references` are the outer columns
/// `condition` adds to those the subquery already uses.
fn count_subquery(
    subquery: &Subquery,
    condition: Option<Expr>,
    references: Vec<Expr>,
) -> Result<Expr> {
    let mut rows = LogicalPlanBuilder::from(subquery.subquery.as_ref().clone());
    if let Some(condition) = condition {
        rows = rows.filter(condition)?;
    }
    let counted = rows
        .aggregate(Vec::<Expr>::new(), vec![count_all()])?
        .build()?;
    let mut outer_ref_columns = subquery.outer_ref_columns.clone();
    outer_ref_columns.extend(references);
    Ok(Expr::ScalarSubquery(Subquery {
        subquery: Arc::new(counted),
        outer_ref_columns,
        spans: subquery.spans.clone(),
    }))
}

fn negate_if(value: Expr, negated: bool) -> Expr {
    match negated {
        true => Expr::Not(Box::new(value)),
        false => value,
    }
}
