//! A DATE beside a TIMESTAMP becomes that TIMESTAMP's type, and a DATE plus a TIME a
//! TIMESTAMP, in microseconds as in DuckDB.
//!
//! DataFusion's type coercion meets a DATE and a TIMESTAMP of any unit (compared, in one
//! `IN` list, `BETWEEN`, `CASE` or `coalesce`, or added to a TIME) in a TIMESTAMP_NS, which
//! holds only the years 1677 to 2262: `d < TIMESTAMP '2024-01-01'` failed for every table with
//! a date such as `0001-01-01`, the usual "unknown" sentinel, and `DATE '1500-01-01' + TIME
//! '10:00'` too. It also dropped a TIMESTAMPTZ's zone. [`DateTimestamps`], an analyzer rule
//! just before type coercion, casts such a DATE to the type of the TIMESTAMP beside it (its
//! unit and zone), and makes `date + time` the date as a TIMESTAMP plus the time of day as a
//! duration, so that coercion finds the types alike. A UNION whose inputs hold a DATE and a
//! TIMESTAMP in one column gets the same cast in a projection over the DATE's input.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, DataFusionError, Result};
use datafusion::logical_expr::expr::{Between, BinaryExpr, Case, Cast, InList, ScalarFunction};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, Operator, Projection, Union};
use datafusion::optimizer::AnalyzerRule;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct DateTimestamps;

impl AnalyzerRule for DateTimestamps {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        let plan = plan.transform_up_with_subqueries(widen_union_dates)?.data;
        super::rewrite_logical_expressions(plan, widen_dates)
    }

    fn name(&self) -> &str {
        "tarn_date_timestamps"
    }
}

const MICROS: DataType = DataType::Timestamp(TimeUnit::Microsecond, None);

fn is_date(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Date32 | DataType::Date64)
}

fn cast(expr: Expr, to: DataType) -> Expr {
    Expr::Cast(Cast::new(Box::new(expr), to))
}

/// `expr` with the dates among the values it sets side by side cast to the TIMESTAMP among
/// them (see the module documentation).
fn widen_dates(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (l, r) = (left.get_type(schema)?, right.get_type(schema)?);
            let is_time = |t: &DataType| matches!(t, DataType::Time32(_) | DataType::Time64(_));
            if op == Operator::Plus && is_date(&l) && is_time(&r) {
                return Ok(Transformed::yes(date_at(*left, *right)));
            }
            if op == Operator::Plus && is_time(&l) && is_date(&r) {
                return Ok(Transformed::yes(date_at(*right, *left)));
            }
            let (sides, changed) = widen(vec![*left, *right], schema)?;
            let [left, right] = exactly(sides)?;
            let expr = Expr::BinaryExpr(BinaryExpr::new(Box::new(left), op, Box::new(right)));
            Ok(Transformed::new_transformed(expr, changed))
        }
        Expr::Between(Between {
            expr,
            negated,
            low,
            high,
        }) => {
            let (values, changed) = widen(vec![*expr, *low, *high], schema)?;
            let [expr, low, high] = exactly(values)?;
            let between = Between::new(Box::new(expr), negated, Box::new(low), Box::new(high));
            Ok(Transformed::new_transformed(
                Expr::Between(between),
                changed,
            ))
        }
        Expr::InList(InList {
            expr,
            list,
            negated,
        }) => {
            let values = std::iter::once(*expr).chain(list).collect();
            let (mut values, changed) = widen(values, schema)?;
            let expr = values.remove(0);
            let in_list = InList::new(Box::new(expr), values, negated);
            Ok(Transformed::new_transformed(Expr::InList(in_list), changed))
        }
        Expr::Case(case) => widen_case(case, schema),
        Expr::ScalarFunction(ScalarFunction { func, args }) => {
            let (args, changed) = widen(args, schema)?;
            let call = Expr::ScalarFunction(ScalarFunction { func, args });
            Ok(Transformed::new_transformed(call, changed))
        }
        other => Ok(Transformed::no(other)),
    }
}

/// A UNION whose inputs hold a DATE and a TIMESTAMP in one column, with each such DATE cast to
/// the first of those TIMESTAMPs' types in a projection over its input.
fn widen_union_dates(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let LogicalPlan::Union(union) = &plan else {
        return Ok(Transformed::no(plan));
    };
    let targets: Vec<Option<DataType>> = (0..union.schema.fields().len())
        .map(|column| {
            let types = union
                .inputs
                .iter()
                .map(|input| input.schema().field(column).data_type());
            let timestamp = types
                .clone()
                .find(|t| matches!(t, DataType::Timestamp(..)))?;
            types.clone().any(is_date).then(|| timestamp.clone())
        })
        .collect();
    if targets.iter().all(Option::is_none) {
        return Ok(Transformed::no(plan));
    }
    let mut inputs = Vec::with_capacity(union.inputs.len());
    for input in &union.inputs {
        let schema = input.schema();
        let columns: Vec<Expr> = schema
            .columns()
            .into_iter()
            .zip(&targets)
            .enumerate()
            .map(|(i, (column, target))| {
                let name = schema.field(i).name().clone();
                let value = Expr::Column(column);
                match target {
                    Some(timestamp) if is_date(schema.field(i).data_type()) => {
                        cast(value, timestamp.clone()).alias(name)
                    }
                    _ => value,
                }
            })
            .collect();
        let projected = Projection::try_new(columns, Arc::clone(input))?;
        inputs.push(Arc::new(LogicalPlan::Projection(projected)));
    }
    let union = Union::try_new_with_loose_types(inputs)?;
    Ok(Transformed::yes(LogicalPlan::Union(union)))
}

/// A `CASE`'s results, and its compared values when it has an operand.
fn widen_case(mut case: Case, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let mut changed = false;
    for mut group in super::case_groups(&mut case) {
        let values = group
            .iter_mut()
            .map(|value| std::mem::take(*value))
            .collect();
        let (widened, group_changed) = widen(values, schema)?;
        for (place, value) in group.into_iter().zip(widened) {
            *place = value;
        }
        changed |= group_changed;
    }
    Ok(Transformed::new_transformed(Expr::Case(case), changed))
}

/// `values` with their dates cast to the type of the first TIMESTAMP among them; whether there
/// were both.
fn widen(values: Vec<Expr>, schema: &DFSchema) -> Result<(Vec<Expr>, bool)> {
    let types = values
        .iter()
        .map(|value| value.get_type(schema))
        .collect::<Result<Vec<_>>>()?;
    let timestamp = types.iter().find(|t| matches!(t, DataType::Timestamp(..)));
    let Some(timestamp) = timestamp.filter(|_| types.iter().any(is_date)) else {
        return Ok((values, false));
    };
    let values = values
        .into_iter()
        .zip(&types)
        .map(|(value, data_type)| match is_date(data_type) {
            true => cast(value, timestamp.clone()),
            false => value,
        })
        .collect();
    Ok((values, true))
}

/// The `N` values [`widen`] was given back.
fn exactly<const N: usize>(values: Vec<Expr>) -> Result<[Expr; N]> {
    <[Expr; N]>::try_from(values)
        .map_err(|v| DataFusionError::Internal(format!("{N} values widened into {}", v.len())))
}

/// `date + time`: the date's midnight as a TIMESTAMP plus the time of day as microseconds.
fn date_at(date: Expr, time: Expr) -> Expr {
    let micros = cast(
        cast(time, DataType::Time64(TimeUnit::Microsecond)),
        DataType::Int64,
    );
    let duration = cast(micros, DataType::Duration(TimeUnit::Microsecond));
    Expr::BinaryExpr(BinaryExpr::new(
        Box::new(cast(date, MICROS)),
        Operator::Plus,
        Box::new(duration),
    ))
}
