//! Collated text compares, sorts and groups by its collation's key, as in DuckDB: with
//! `x COLLATE NOCASE`, `'Abc'` equals `'abc'`, sorts before `'ABD'`, and groups with `'abc'`.
//!
//! [`Collations`], an analyzer rule after type coercion, finds the values marked with a
//! collation (`sql::collation`) by their fields and rewrites what reads them:
//!
//! * a comparison, `LIKE`, `IN (...)`, `IN (subquery)` or `BETWEEN` compares the keys of all its operands when one
//!   of them is collated (two different collations are an error, as in DuckDB);
//! * a sort, a window's `PARTITION BY` and `ORDER BY`, an aggregate's `ORDER BY` and a join's
//!   equality keys use the key of a collated value;
//! * a `GROUP BY` (or `DISTINCT`) on a collated value groups by its key and keeps the first value
//!   of each group as the group's text, marked again, so that what reads the groups still sees
//!   a collated value.
//!
//! `count(DISTINCT x)` counts distinct keys. Left alone: `min` and `max` of a collated value
//! compare bytes (DuckDB's follow the collation), other `DISTINCT` aggregates keep values that
//! differ only in their text, and a collated value in `GROUPING SETS`, `ROLLUP` or `CUBE` is
//! refused.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNodeIterator};
use datafusion::common::{Column, DFSchema, Result, plan_err};
use datafusion::functions_aggregate::first_last::first_value_udaf;
use datafusion::logical_expr::dml::CopyTo;
use datafusion::logical_expr::expr::{
    AggregateFunction, Between, BinaryExpr, InList, InSubquery, Like, Sort as SortExpr,
    WindowFunction,
};
use datafusion::logical_expr::{
    Aggregate, Distinct, Expr, ExprSchemable, LogicalPlan, Operator, Projection, Sort, Subquery,
};
use datafusion::optimizer::AnalyzerRule;

use crate::sql::collation::Collation;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Collations;

impl AnalyzerRule for Collations {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        let plan = super::rewrite_logical_expressions(plan, collated_operands)?;
        plan.transform_up_with_subqueries(collated_inputs)
            .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "tarn_collations"
    }
}

/// The collation `expr`'s value carries, looking through casts from text to text and through
/// `||`, whose result takes its operands' collation.
fn collation_of(expr: &Expr, schema: &DFSchema) -> Result<Option<Collation>> {
    let is_text = |data_type: &DataType| {
        matches!(
            data_type,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        )
    };
    match expr {
        Expr::Cast(cast) if is_text(cast.field.data_type()) => collation_of(&cast.expr, schema),
        Expr::TryCast(cast) if is_text(cast.field.data_type()) => collation_of(&cast.expr, schema),
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::StringConcat,
            right,
        }) => shared_collation([left.as_ref(), right.as_ref()], schema),
        _ => Ok(Collation::of(expr.to_field(schema)?.1.as_ref())),
    }
}

/// The collation of the operands that are compared with one another, if any has one.
fn shared_collation<'a>(
    operands: impl IntoIterator<Item = &'a Expr>,
    schema: &DFSchema,
) -> Result<Option<Collation>> {
    let mut shared: Option<Collation> = None;
    for operand in operands {
        let Some(collation) = collation_of(operand, schema)? else {
            continue;
        };
        match &shared {
            Some(earlier) if *earlier != collation => {
                return plan_err!(
                    "cannot compare text collated {earlier} with text collated {collation}"
                );
            }
            _ => shared = Some(collation),
        }
    }
    Ok(shared)
}

/// `expr` as a sort key: its collation's key where it has one.
fn sort_key(sort: SortExpr, schema: &DFSchema) -> Result<Transformed<SortExpr>> {
    match collation_of(&sort.expr, schema)? {
        Some(collation) => Ok(Transformed::yes(SortExpr {
            expr: collation.key(sort.expr),
            ..sort
        })),
        None => Ok(Transformed::no(sort)),
    }
}

/// `expr` as a key that rows are partitioned or joined by.
fn equality_key(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match collation_of(&expr, schema)? {
        Some(collation) => Ok(Transformed::yes(collation.key(expr))),
        None => Ok(Transformed::no(expr)),
    }
}

/// The comparisons, patterns, windows and ordered aggregates in one expression, over keys where
/// they read collated text.
fn collated_operands(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if super::is_comparison(&op) => {
            match shared_collation([left.as_ref(), right.as_ref()], schema)? {
                Some(collation) => Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(collation.key(*left)),
                    op,
                    Box::new(collation.key(*right)),
                )))),
                None => Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr {
                    left,
                    op,
                    right,
                }))),
            }
        }
        Expr::Like(like) => match shared_collation([like.expr.as_ref(), &like.pattern], schema)? {
            Some(collation) => Ok(Transformed::yes(Expr::Like(Like {
                expr: Box::new(collation.key(*like.expr)),
                pattern: Box::new(collation.key(*like.pattern)),
                ..like
            }))),
            None => Ok(Transformed::no(Expr::Like(like))),
        },
        Expr::InList(in_list) => {
            let operands = std::iter::once(in_list.expr.as_ref()).chain(&in_list.list);
            match shared_collation(operands, schema)? {
                Some(collation) => Ok(Transformed::yes(Expr::InList(InList {
                    expr: Box::new(collation.key(*in_list.expr)),
                    list: in_list
                        .list
                        .into_iter()
                        .map(|item| collation.key(item))
                        .collect(),
                    negated: in_list.negated,
                }))),
                None => Ok(Transformed::no(Expr::InList(in_list))),
            }
        }
        Expr::Between(between) => {
            let operands = [between.expr.as_ref(), &between.low, &between.high];
            match shared_collation(operands, schema)? {
                Some(collation) => Ok(Transformed::yes(Expr::Between(Between {
                    expr: Box::new(collation.key(*between.expr)),
                    low: Box::new(collation.key(*between.low)),
                    high: Box::new(collation.key(*between.high)),
                    negated: between.negated,
                }))),
                None => Ok(Transformed::no(Expr::Between(between))),
            }
        }
        Expr::InSubquery(in_subquery) => looked_up_by_key(in_subquery, schema),
        Expr::WindowFunction(window) => {
            let WindowFunction { fun, params } = *window;
            let partition_by = params
                .partition_by
                .into_iter()
                .map_until_stop_and_collect(|e| equality_key(e, schema))?;
            let order_by = params
                .order_by
                .into_iter()
                .map_until_stop_and_collect(|s| sort_key(s, schema))?;
            let changed = partition_by.transformed || order_by.transformed;
            let window = WindowFunction {
                fun,
                params: datafusion::logical_expr::expr::WindowFunctionParams {
                    partition_by: partition_by.data,
                    order_by: order_by.data,
                    ..params
                },
            };
            Ok(Transformed::new_transformed(
                Expr::WindowFunction(Box::new(window)),
                changed,
            ))
        }
        Expr::AggregateFunction(AggregateFunction { func, mut params }) => {
            let order_by = std::mem::take(&mut params.order_by)
                .into_iter()
                .map_until_stop_and_collect(|s| sort_key(s, schema))?;
            params.order_by = order_by.data;
            let mut changed = order_by.transformed;
            // Only the number of distinct values, not the values, can be read from their keys.
            if params.distinct && func.name() == "count" {
                let args = std::mem::take(&mut params.args)
                    .into_iter()
                    .map_until_stop_and_collect(|e| equality_key(e, schema))?;
                params.args = args.data;
                changed |= args.transformed;
            }
            Ok(Transformed::new_transformed(
                Expr::AggregateFunction(AggregateFunction { func, params }),
                changed,
            ))
        }
        other => Ok(Transformed::no(other)),
    }
}

/// `x IN (subquery)` with the keys of `x` looked up among the keys of the subquery's values
/// when either is collated.
fn looked_up_by_key(in_subquery: InSubquery, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let values = Arc::clone(&in_subquery.subquery.subquery);
    let (qualifier, field) = values.schema().qualified_field(0);
    let collation = match collation_of(&in_subquery.expr, schema)? {
        Some(collation) => Some(collation),
        None => Collation::of(field),
    };
    let Some(collation) = collation else {
        return Ok(Transformed::no(Expr::InSubquery(in_subquery)));
    };
    let value = Expr::Column(Column::from((qualifier, field)));
    let keys = Projection::try_new(vec![collation.key(value).alias(field.name())], values)?;
    Ok(Transformed::yes(Expr::InSubquery(InSubquery {
        expr: Box::new(collation.key(*in_subquery.expr)),
        subquery: Subquery {
            subquery: Arc::new(LogicalPlan::Projection(keys)),
            ..in_subquery.subquery
        },
        negated: in_subquery.negated,
    })))
}

/// The sorts, groups and join keys of one plan node, over keys where they read collated text.
fn collated_inputs(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    match plan {
        LogicalPlan::Sort(Sort { expr, input, fetch }) => {
            let keys = expr
                .into_iter()
                .map_until_stop_and_collect(|s| sort_key(s, input.schema()))?;
            Ok(Transformed::new_transformed(
                LogicalPlan::Sort(Sort {
                    expr: keys.data,
                    input,
                    fetch,
                }),
                keys.transformed,
            ))
        }
        LogicalPlan::Join(mut join) => {
            let (left, right) = (join.left.schema(), join.right.schema());
            let mut changed = false;
            for (l, r) in &mut join.on {
                let collation = match collation_of(l, left)? {
                    Some(collation) => Some(collation),
                    None => collation_of(r, right)?,
                };
                if let Some(collation) = collation {
                    *l = collation.key(l.clone());
                    *r = collation.key(r.clone());
                    changed = true;
                }
            }
            Ok(Transformed::new_transformed(
                LogicalPlan::Join(join),
                changed,
            ))
        }
        LogicalPlan::Aggregate(aggregate) => grouped_by_keys(aggregate),
        LogicalPlan::Distinct(Distinct::All(input)) => {
            let collated = input
                .schema()
                .fields()
                .iter()
                .any(|field| Collation::of(field).is_some());
            if !collated {
                return Ok(Transformed::no(LogicalPlan::Distinct(Distinct::All(input))));
            }
            let columns = input.schema().columns().into_iter().map(Expr::Column);
            grouped_by_keys(Aggregate::try_new(input, columns.collect(), vec![])?)
        }
        LogicalPlan::Copy(copy) => {
            let schema = copy.input.schema();
            if schema.fields().iter().all(|f| Collation::of(f).is_none()) {
                return Ok(Transformed::no(LogicalPlan::Copy(copy)));
            }
            let columns = schema
                .iter()
                .map(|(qualifier, field)| {
                    let column = Expr::Column(Column::from((qualifier, field)));
                    match Collation::of(field) {
                        Some(_) => Collation::binary().mark(column).alias(field.name()),
                        None => column,
                    }
                })
                .collect();
            let bytes = Projection::try_new(columns, copy.input)?;
            Ok(Transformed::yes(LogicalPlan::Copy(CopyTo {
                input: Arc::new(LogicalPlan::Projection(bytes)),
                ..copy
            })))
        }
        other => Ok(Transformed::no(other)),
    }
}

/// An aggregate whose collated group values are grouped by their keys, each group's text the
/// first of its values, under the columns' names.
fn grouped_by_keys(aggregate: Aggregate) -> Result<Transformed<LogicalPlan>> {
    let input_schema = Arc::clone(aggregate.input.schema());
    let collations = aggregate
        .group_expr
        .iter()
        .map(|group| match group {
            Expr::GroupingSet(set) => {
                let collated = set
                    .distinct_expr()
                    .into_iter()
                    .map(|e| collation_of(e, &input_schema))
                    .collect::<Result<Vec<_>>>()?;
                match collated.iter().any(Option::is_some) {
                    true => plan_err!(
                        "a collated value cannot be grouped in GROUPING SETS, ROLLUP or CUBE"
                    ),
                    false => Ok(None),
                }
            }
            group => collation_of(group, &input_schema),
        })
        .collect::<Result<Vec<Option<Collation>>>>()?;
    if collations.iter().all(Option::is_none) {
        return Ok(Transformed::no(LogicalPlan::Aggregate(aggregate)));
    }
    let Aggregate {
        input,
        group_expr,
        mut aggr_expr,
        schema,
        ..
    } = aggregate;
    let first_extra = group_expr.len() + aggr_expr.len();
    let mut keys = Vec::with_capacity(group_expr.len());
    for (at, (group, collation)) in group_expr.into_iter().zip(&collations).enumerate() {
        match collation {
            Some(collation) => {
                keys.push(
                    collation
                        .key(group.clone())
                        .alias(format!("__tarn_collation_key{at}")),
                );
                aggr_expr.push(
                    first_value_udaf()
                        .call(vec![group])
                        .alias(format!("__tarn_collated{at}")),
                );
            }
            None => keys.push(group),
        }
    }
    let regrouped = Aggregate::try_new(input, keys, aggr_expr)?;
    let output = Arc::clone(&regrouped.schema);
    let mut extra = first_extra;
    let columns = schema
        .iter()
        .enumerate()
        .map(|(at, (qualifier, field))| {
            let value = match collations.get(at) {
                Some(Some(collation)) => {
                    extra += 1;
                    collation.mark(Expr::Column(Column::from(
                        output.qualified_field(extra - 1),
                    )))
                }
                _ => Expr::Column(Column::from(output.qualified_field(at))),
            };
            value.alias_qualified(qualifier.cloned(), field.name())
        })
        .collect::<Vec<_>>();
    let projection = Projection::try_new(columns, Arc::new(LogicalPlan::Aggregate(regrouped)))?;
    Ok(Transformed::yes(LogicalPlan::Projection(projection)))
}
