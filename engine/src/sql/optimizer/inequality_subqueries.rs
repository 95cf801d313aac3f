//! Scalar subqueries correlated by a condition other than equality:
//! `SELECT x, (SELECT count(*) FROM s WHERE s.y >= t.x) FROM t`, or the same in WHERE. DataFusion
//! decorrelates a scalar subquery only when its outer columns meet the inner ones in equalities
//! (it then groups the subquery by those columns); otherwise the plan fails with "Physical plan
//! does not support logical expression ScalarSubquery". DuckDB answers any of them.
//!
//! [`InequalitySubqueries`], an analyzer rule, computes such a subquery once per distinct value
//! of the outer columns it reads (the "domain", as DuckDB's and Neumann's decorrelation do):
//!
//! ```text
//! domain  = SELECT DISTINCT x FROM t
//! values  = SELECT domain.x, count(*) FROM domain JOIN s ON s.y >= domain.x GROUP BY domain.x
//! answer  = t LEFT JOIN values ON t.x IS NOT DISTINCT FROM values.x
//! ```
//!
//! A domain value no row of `s` meets has no row in `values`, and takes the aggregate's answer
//! over no rows: 0 for `count`, NULL for the aggregates listed in [`NULL_WHEN_EMPTY`]. The rule
//! takes subqueries of the form `SELECT f(aggregates) FROM ... WHERE conditions` whose outer
//! columns appear only in the WHERE conditions, and whose aggregates it knows; it leaves the
//! rest, equality-only correlations included, to DataFusion. Between the aggregates and the
//! tables, filters, projections and aliases may stack (the domain joins at the lowest filter
//! that reads the outer row, and its keys pass up through the rest): `EXISTS` and `IN` in a
//! SELECT list, which [`super::SubqueryValues`] makes `count(*)` subqueries over the original
//! one, are of this form.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, NullEquality, Result, ScalarValue};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{
    Aggregate, BinaryExpr, Expr, Filter, JoinType, LogicalPlan, LogicalPlanBuilder, Operator,
    Projection, Subquery, case, lit,
};
use datafusion::optimizer::AnalyzerRule;

/// Aggregates whose answer over no rows is NULL (with `count`, `approx_distinct` and
/// `regr_count`, whose answer is 0, the ones the rule rewrites).
const NULL_WHEN_EMPTY: [&str; 24] = [
    "sum",
    "min",
    "max",
    "avg",
    "first_value",
    "last_value",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "median",
    "stddev",
    "stddev_pop",
    "var_samp",
    "var_pop",
    "corr",
    "covar_samp",
    "covar_pop",
    "mode",
    "quantile_disc",
    "approx_quantile",
    "approx_percentile_cont",
    "fsum",
    "product",
];

/// Aggregates whose answer over no rows is 0.
const ZERO_WHEN_EMPTY: [&str; 3] = ["count", "approx_distinct", "regr_count"];

/// See the module documentation.
#[derive(Debug, Default)]
pub struct InequalitySubqueries;

impl AnalyzerRule for InequalitySubqueries {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        let mut rewritten = 0;
        plan.transform_up_with_subqueries(|node| {
            let holds = |exprs: &[Expr]| exprs.iter().any(holds_inequality_subquery);
            match node {
                LogicalPlan::Projection(projection) if holds(&projection.expr) => {
                    rewrite_projection(projection, &mut rewritten).map(Transformed::yes)
                }
                LogicalPlan::Filter(filter) if holds(std::slice::from_ref(&filter.predicate)) => {
                    rewrite_filter(filter, &mut rewritten).map(Transformed::yes)
                }
                node => Ok(Transformed::no(node)),
            }
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "tarn_inequality_subqueries"
    }
}

/// A subquery the rule can rewrite, taken apart.
struct Parts {
    /// The subquery's answer in terms of its aggregates' output columns.
    answer: Expr,
    aggregate: Aggregate,
    /// The filters, projections and aliases between the aggregate and `source`, top first:
    /// the part of the subquery that reads outer columns (in its filters only).
    stack: Vec<LogicalPlan>,
    /// The plan below them, which reads no outer column.
    source: Arc<LogicalPlan>,
    /// The distinct outer columns the filters read.
    outer_columns: Vec<Column>,
}

fn holds_inequality_subquery(expr: &Expr) -> bool {
    expr.exists(|e| {
        Ok(matches!(e, Expr::ScalarSubquery(subquery) if take_apart(subquery).is_some()))
    })
    .unwrap_or(false)
}

fn reads_outer(expr: &Expr) -> bool {
    expr.exists(|e| Ok(matches!(e, Expr::OuterReferenceColumn(..))))
        .unwrap_or(false)
}

/// Whether DataFusion decorrelates this condition itself: an equality of an outer expression
/// and one of the subquery's columns (not a constant: `WHERE t.x = 2` it does not).
fn is_outer_equality(condition: &Expr) -> bool {
    let reads_inner = |e: &Expr| {
        e.exists(|e| Ok(matches!(e, Expr::Column(_))))
            .unwrap_or(false)
    };
    match condition {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => {
            (reads_outer(left) && !reads_outer(right) && reads_inner(right))
                || (reads_outer(right) && !reads_outer(left) && reads_inner(left))
        }
        _ => false,
    }
}

/// Whether `plan` (a subquery's part below its WHERE) reads no outer column.
fn plan_reads_outer(plan: &LogicalPlan) -> bool {
    let mut found = false;
    let _ = plan.apply_with_subqueries(|node| {
        found |= node.expressions().iter().any(reads_outer);
        Ok(match found {
            true => TreeNodeRecursion::Stop,
            false => TreeNodeRecursion::Continue,
        })
    });
    found
}

/// The subquery's parts, when it has the form and the aggregates the rule rewrites and a
/// condition DataFusion cannot decorrelate.
fn take_apart(subquery: &Subquery) -> Option<Parts> {
    if subquery.outer_ref_columns.is_empty() {
        return None;
    }
    let (answer, below) = match subquery.subquery.as_ref() {
        LogicalPlan::Projection(Projection { expr, input, .. }) if expr.len() == 1 => {
            (expr[0].clone(), input.as_ref())
        }
        plan => (
            Expr::Column(Column::from(plan.schema().qualified_field(0))),
            plan,
        ),
    };
    let LogicalPlan::Aggregate(aggregate) = below else {
        return None;
    };
    if !aggregate.group_expr.is_empty()
        || reads_outer(&answer)
        || aggregate.aggr_expr.iter().any(reads_outer)
        || aggregate
            .aggr_expr
            .iter()
            .any(|e| empty_answer_of(e).is_none())
    {
        return None;
    }
    let mut stack = Vec::new();
    let mut correlated = Vec::new();
    let mut source = Arc::clone(&aggregate.input);
    while plan_reads_outer(&source) {
        let input = match source.as_ref() {
            LogicalPlan::Filter(Filter {
                predicate, input, ..
            }) => {
                correlated.extend(
                    split_conjunction(predicate)
                        .into_iter()
                        .filter(|c| reads_outer(c))
                        .cloned(),
                );
                input
            }
            LogicalPlan::Projection(Projection { expr, input, .. })
                if !expr.iter().any(reads_outer) =>
            {
                input
            }
            LogicalPlan::SubqueryAlias(alias) => &alias.input,
            _ => return None,
        };
        let input = Arc::clone(input);
        stack.push(Arc::unwrap_or_clone(std::mem::replace(&mut source, input)));
    }
    if correlated.iter().all(is_outer_equality) {
        return None;
    }
    let mut outer_columns: Vec<Column> = Vec::new();
    for condition in &correlated {
        let _ = condition.apply(|e| {
            if let Expr::OuterReferenceColumn(_, column) = e
                && !outer_columns.contains(column)
            {
                outer_columns.push(column.clone());
            }
            Ok(TreeNodeRecursion::Continue)
        });
    }
    Some(Parts {
        answer,
        aggregate: aggregate.clone(),
        stack,
        source,
        outer_columns,
    })
}

/// An aggregate's answer over no rows, if it is one the rule knows.
fn empty_answer_of(aggregate: &Expr) -> Option<ScalarValue> {
    let Expr::AggregateFunction(AggregateFunction { func, .. }) = aggregate.clone().unalias()
    else {
        return None;
    };
    let name = func.name();
    if ZERO_WHEN_EMPTY.contains(&name) {
        Some(ScalarValue::Int64(Some(0)))
    } else if NULL_WHEN_EMPTY.contains(&name) {
        Some(ScalarValue::Null)
    } else {
        None
    }
}

/// Joins the answers of a subquery (its `parts`) for each distinct value of its outer columns
/// onto `input` (left, so every row stays), and returns the join and the expression that stands
/// for the subquery over it.
fn join_answers(
    input: LogicalPlan,
    parts: Parts,
    rewritten: &mut usize,
) -> Result<(LogicalPlan, Expr)> {
    *rewritten += 1;
    let domain_name = format!("__tarn_domain_{rewritten}");
    let values_name = format!("__tarn_values_{rewritten}");
    let key = |i: usize| format!("__tarn_key_{i}");
    let answer_name = "__tarn_answer";
    let present_name = "__tarn_present";

    // The distinct values of the outer columns.
    let domain = LogicalPlanBuilder::from(input.clone())
        .aggregate(
            parts
                .outer_columns
                .iter()
                .enumerate()
                .map(|(i, c)| Expr::Column(c.clone()).alias(key(i))),
            Vec::<Expr>::new(),
        )?
        .alias(domain_name.as_str())?
        .build()?;
    // Past the join, the keys pass through every projection and alias by their names.
    let keys: Vec<Expr> = (0..parts.outer_columns.len())
        .map(|i| Expr::Column(Column::new_unqualified(key(i))))
        .collect();
    // Outer columns read as the domain's keys.
    let from_domain = |condition: &Expr| -> Result<Expr> {
        condition
            .clone()
            .transform_up(|e| match e {
                Expr::OuterReferenceColumn(_, column) => {
                    let at = parts
                        .outer_columns
                        .iter()
                        .position(|c| *c == column)
                        .expect("every outer column was collected");
                    Ok(Transformed::yes(keys[at].clone()))
                }
                e => Ok(Transformed::no(e)),
            })
            .map(|t| t.data)
    };
    // The stack rebuilt bottom up: the domain joins where the first correlated filter was,
    // and a correlated filter above it compares with the keys.
    let mut values = LogicalPlanBuilder::from(parts.source.as_ref().clone());
    let mut domain = Some(domain);
    for node in parts.stack.into_iter().rev() {
        values = match node {
            LogicalPlan::Filter(filter) => {
                let (correlated, uncorrelated): (Vec<&Expr>, Vec<&Expr>) =
                    split_conjunction(&filter.predicate)
                        .into_iter()
                        .partition(|c| reads_outer(c));
                if let Some(uncorrelated) = conjunction(uncorrelated.into_iter().cloned()) {
                    values = values.filter(uncorrelated)?;
                }
                let conditions = correlated
                    .into_iter()
                    .map(from_domain)
                    .collect::<Result<Vec<_>>>()?;
                match conjunction(conditions) {
                    None => values,
                    Some(conditions) => match domain.take() {
                        Some(domain) => LogicalPlanBuilder::from(domain).join_on(
                            values.build()?,
                            JoinType::Inner,
                            [conditions],
                        )?,
                        None => values.filter(conditions)?,
                    },
                }
            }
            LogicalPlan::Projection(projection) => match domain {
                Some(_) => values.project(projection.expr)?,
                None => values.project(projection.expr.into_iter().chain(keys.clone()))?,
            },
            LogicalPlan::SubqueryAlias(alias) => values.alias(alias.alias)?,
            other => unreachable!("take_apart stacks no {}", other.display()),
        };
    }
    let values = values
        .aggregate(keys.clone(), parts.aggregate.aggr_expr.clone())?
        .project(
            keys.iter()
                .enumerate()
                .map(|(i, k)| k.clone().alias(key(i)))
                .chain([
                    parts.answer.clone().alias(answer_name),
                    lit(true).alias(present_name),
                ]),
        )?
        .alias(values_name.as_str())?
        .build()?;
    let joined = LogicalPlanBuilder::from(input)
        .join_detailed(
            values,
            JoinType::Left,
            (
                parts.outer_columns.clone(),
                (0..parts.outer_columns.len())
                    .map(|i| Column::new(Some(values_name.as_str()), key(i)))
                    .collect::<Vec<_>>(),
            ),
            None,
            NullEquality::NullEqualsNull,
        )?
        .build()?;
    let answer = Expr::Column(Column::new(Some(values_name.as_str()), answer_name));
    let present = Expr::Column(Column::new(Some(values_name.as_str()), present_name));
    // Without a row in `values`, the answer over no rows.
    let empty = empty_answer(parts.answer, &parts.aggregate)?;
    let value = match empty {
        Expr::Literal(ScalarValue::Null, _) => answer,
        empty => case(present.is_null())
            .when(lit(true), empty)
            .otherwise(answer)?,
    };
    Ok((joined, value))
}

/// `answer` with each aggregate's output replaced by its answer over no rows.
fn empty_answer(answer: Expr, aggregate: &Aggregate) -> Result<Expr> {
    let outputs: Vec<(Column, ScalarValue)> = aggregate
        .aggr_expr
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let (qualifier, field) = aggregate.schema.qualified_field(i);
            let empty = empty_answer_of(e).expect("take_apart checked every aggregate");
            let typed = match empty {
                ScalarValue::Null => ScalarValue::try_from(field.data_type())?,
                value => value.cast_to(field.data_type())?,
            };
            Ok((Column::from((qualifier, field)), typed))
        })
        .collect::<Result<_>>()?;
    let substituted = answer
        .transform_up(|e| match e {
            Expr::Column(column) => match outputs.iter().find(|(c, _)| *c == column) {
                Some((_, value)) => Ok(Transformed::yes(lit(value.clone()))),
                None => Ok(Transformed::no(Expr::Column(column))),
            },
            e => Ok(Transformed::no(e)),
        })?
        .data;
    // A lone aggregate that is NULL over no rows needs no CASE.
    Ok(match &substituted {
        Expr::Literal(value, _) if value.is_null() => lit(ScalarValue::Null),
        _ => substituted,
    })
}

/// `subquery` taken apart when the rule rewrites it over `input`: it has the rule's form, and
/// its outer columns are `input`'s (not those of a query further out).
fn rewritable(subquery: &Subquery, input: &LogicalPlan) -> Option<Parts> {
    take_apart(subquery).filter(|parts| {
        parts
            .outer_columns
            .iter()
            .all(|c| input.schema().has_column(c))
    })
}

/// Rewrites the rule's subqueries in `expr`, joining their answers onto `input`.
fn rewrite_expr(
    expr: Expr,
    input: &mut LogicalPlan,
    rewritten: &mut usize,
) -> Result<Transformed<Expr>> {
    expr.transform_up(|e| match e {
        Expr::ScalarSubquery(subquery) => match rewritable(&subquery, input) {
            Some(parts) => {
                let (joined, value) = join_answers(input.clone(), parts, rewritten)?;
                *input = joined;
                Ok(Transformed::yes(value))
            }
            None => Ok(Transformed::no(Expr::ScalarSubquery(subquery))),
        },
        e => Ok(Transformed::no(e)),
    })
}

fn rewrite_projection(projection: Projection, rewritten: &mut usize) -> Result<LogicalPlan> {
    let mut input = projection.input.as_ref().clone();
    let names = NamePreserver::new_for_projection();
    let exprs = projection
        .expr
        .into_iter()
        .map(|expr| {
            let name = names.save(&expr);
            let rewritten = rewrite_expr(expr, &mut input, rewritten)?;
            Ok(name.restore(rewritten.data))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(LogicalPlan::Projection(Projection::try_new(
        exprs,
        Arc::new(input),
    )?))
}

/// The filter over the joined answers, then only the columns it had.
fn rewrite_filter(filter: Filter, rewritten: &mut usize) -> Result<LogicalPlan> {
    let columns: Vec<Expr> = filter
        .input
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    let mut input = filter.input.as_ref().clone();
    let predicate = rewrite_expr(filter.predicate, &mut input, rewritten)?.data;
    LogicalPlanBuilder::from(input)
        .filter(predicate)?
        .project(columns)?
        .build()
}
