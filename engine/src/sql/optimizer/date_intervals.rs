//! A DATE plus or minus an interval with a time of day is a TIMESTAMP, as in DuckDB:
//! `DATE '2024-01-31' + INTERVAL 1 HOUR` is `2024-01-31 01:00:00`, where DataFusion keeps a
//! DATE and silently drops the hour (`2024-01-31`). [`DateIntervals`], an analyzer rule just
//! before type coercion (which then fits comparisons and the plan's types to the TIMESTAMP),
//! casts the date to a TIMESTAMP first when the interval has hours, minutes, seconds or
//! fractions of them, or is not a constant (so it may have).
//!
//! An interval of whole months and days keeps the DATE: its value is DuckDB's (midnight of the
//! same day; DuckDB types it TIMESTAMP), and a DATE column compared with `date '1994-01-01' +
//! interval '1 year'`, as in most TPC-H queries, is compared as dates, without a cast per row.
//!
//! A DATE plus or minus a computed integer (`d + i`, days) is computed on the date's day number,
//! `CAST(CAST(d AS INTEGER) + CAST(i AS INTEGER) AS DATE)`, still a DATE. DataFusion's type
//! coercion made it `d + CAST(CAST(i * 86400 AS Duration(s)) AS Interval)`, which its interval
//! analysis of a filter cannot take: `WHERE d + i > DATE '2024-01-03'` failed to plan ("Interval
//! bounds have different types"). A constant integer is folded before that analysis and stays
//! DataFusion's.

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::{BinaryExpr, Cast};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::optimizer::AnalyzerRule;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct DateIntervals;

impl AnalyzerRule for DateIntervals {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        super::rewrite_logical_expressions(plan, date_to_timestamp)
    }

    fn name(&self) -> &str {
        "tarn_date_intervals"
    }
}

/// `date ± interval` (or `interval + date`) with the date cast to a TIMESTAMP when the
/// interval may carry a time of day.
fn date_to_timestamp(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &expr else {
        return Ok(Transformed::no(expr));
    };
    if !matches!(op, Operator::Plus | Operator::Minus) {
        return Ok(Transformed::no(expr));
    }
    let is_date = |e: &Expr| -> Result<bool> {
        Ok(matches!(
            e.get_type(schema)?,
            DataType::Date32 | DataType::Date64
        ))
    };
    let is_interval =
        |e: &Expr| -> Result<bool> { Ok(matches!(e.get_type(schema)?, DataType::Interval(_))) };
    let is_day_number = |e: &Expr| -> Result<bool> { Ok(e.get_type(schema)? == DataType::Date32) };
    let is_counted_days = |e: &Expr| -> Result<bool> {
        Ok(!matches!(e, Expr::Literal(..)) && e.get_type(schema)?.is_integer())
    };
    if is_day_number(left)? && is_counted_days(right)? {
        return Ok(Transformed::yes(days_later(left, *op, right)));
    }
    if *op == Operator::Plus && is_counted_days(left)? && is_day_number(right)? {
        return Ok(Transformed::yes(days_later(right, *op, left)));
    }
    let date_left = is_date(left)? && is_interval(right)?;
    let date_right = *op == Operator::Plus && is_interval(left)? && is_date(right)?;
    let interval = match (date_left, date_right) {
        (true, _) => right,
        (_, true) => left,
        _ => return Ok(Transformed::no(expr)),
    };
    if !may_have_time_of_day(interval) {
        return Ok(Transformed::no(expr));
    }
    let timestamp = |e: &Expr| {
        Box::new(Expr::Cast(Cast::new(
            Box::new(e.clone()),
            DataType::Timestamp(TimeUnit::Microsecond, None),
        )))
    };
    let (left, right) = if date_left {
        (timestamp(left), right.clone())
    } else {
        (left.clone(), timestamp(right))
    };
    Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr {
        left,
        op: *op,
        right,
    })))
}

/// `date ± count` days on the date's day number: `CAST(CAST(date AS INTEGER) ± CAST(count AS
/// INTEGER) AS DATE)`.
fn days_later(date: &Expr, op: Operator, count: &Expr) -> Expr {
    let cast = |e: &Expr, to: DataType| Box::new(Expr::Cast(Cast::new(Box::new(e.clone()), to)));
    let day_number = Expr::BinaryExpr(BinaryExpr {
        left: cast(date, DataType::Int32),
        op,
        right: cast(count, DataType::Int32),
    });
    Expr::Cast(Cast::new(Box::new(day_number), DataType::Date32))
}

/// False only for a constant interval of whole months and days, and for the days DataFusion's
/// type coercion makes of `date + integer`: `CAST(CAST(n * 86400 AS Duration(s)) AS Interval)`.
/// A plan optimized twice (`CREATE TABLE AS` optimizes its query, then runs it, which optimizes
/// it again) would otherwise turn a DATE of the first pass into a TIMESTAMP in the second.
fn may_have_time_of_day(interval: &Expr) -> bool {
    match interval {
        Expr::Cast(Cast { expr, .. }) if is_whole_days(expr) => false,
        Expr::Literal(ScalarValue::IntervalYearMonth(_), _) => false,
        Expr::Literal(ScalarValue::IntervalDayTime(value), _) => {
            value.is_some_and(|v| v.milliseconds != 0)
        }
        Expr::Literal(ScalarValue::IntervalMonthDayNano(value), _) => {
            value.is_some_and(|v| v.nanoseconds != 0)
        }
        _ => true,
    }
}

/// `CAST(n * 86400 AS Duration(s))`: a number of days as seconds.
fn is_whole_days(expr: &Expr) -> bool {
    let Expr::Cast(Cast { expr, field }) = expr else {
        return false;
    };
    *field.data_type() == DataType::Duration(TimeUnit::Second)
        && matches!(expr.as_ref(), Expr::BinaryExpr(BinaryExpr {
            op: Operator::Multiply,
            right,
            ..
        }) if matches!(right.as_ref(), Expr::Literal(ScalarValue::Int64(Some(86_400)), _)))
}
