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

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, ExprSchema, Result, ScalarValue};
use datafusion::functions_aggregate::count::count_all;
use datafusion::logical_expr::expr::{Exists, InSubquery};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    Expr, LogicalPlan, LogicalPlanBuilder, Projection, Subquery, case, lit,
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

fn rewrite_projection(projection: Projection) -> Result<LogicalPlan> {
    let outer = Arc::clone(projection.input.schema());
    let names = NamePreserver::new_for_projection();
    let expressions = projection
        .expr
        .into_iter()
        .map(|expr| {
            let name = names.save(&expr);
            let rewritten = expr.transform_up(|e| match e {
                Expr::InSubquery(InSubquery {
                    expr,
                    subquery,
                    negated,
                }) => in_value(*expr, subquery, &outer)
                    .map(|value| Transformed::yes(negate_if(value, negated))),
                Expr::Exists(Exists { subquery, negated }) => {
                    let rows = count_subquery(&subquery, None, vec![])?;
                    Ok(Transformed::yes(negate_if(rows.gt(lit(0i64)), negated)))
                }
                e => Ok(Transformed::no(e)),
            })?;
            Ok(name.restore(rewritten.data))
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
