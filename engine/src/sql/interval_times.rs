//! A number times an interval, which DataFusion does not compute: DuckDB's `3 * INTERVAL 1
//! DAY`, `INTERVAL (i) HOUR` and `to_hours(i)`, the usual ways to step a time series
//! (`ts + i * INTERVAL 1 HOUR`). The SQL layer rewrites those forms into calls of
//! [`INTERVAL_TIMES`] (`rewrite::duckdb_operators`, `macros`).
//!
//! As in DuckDB, an integer multiplies each part of the interval (months, days, time); a
//! fraction of a month carries into days (30 to a month) and a fraction of a day into time.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, IntervalMonthDayNanoBuilder};
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int64Type, IntervalMonthDayNano, IntervalMonthDayNanoType, IntervalUnit,
};
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use sqlparser::ast::{BinaryOperator, DateTimeField, Expr, Interval, Value};

use super::rewrite::call;
use super::text_functions::{arrays, call_value};
use super::types::sql_type_name;

/// The function's name in rewritten statements.
pub const INTERVAL_TIMES: &str = "tarn_interval_times";

const INTERVAL: DataType = DataType::Interval(IntervalUnit::MonthDayNano);
const NANOS_PER_DAY: f64 = 86_400e9;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IntervalTimes {
    signature: Signature,
}

impl IntervalTimes {
    pub fn new() -> Self {
        IntervalTimes {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for IntervalTimes {
    fn name(&self) -> &str {
        INTERVAL_TIMES
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [n, DataType::Interval(_) | DataType::Null] if n.is_integer() || n.is_null() => {
                Ok(vec![DataType::Int64, INTERVAL])
            }
            [n, DataType::Interval(_) | DataType::Null] if n.is_numeric() => {
                Ok(vec![DataType::Float64, INTERVAL])
            }
            [n, _] => plan_err!(
                "an interval can be multiplied by a number, not by {}",
                sql_type_name(n)
            ),
            _ => plan_err!("{INTERVAL_TIMES} takes a number and an interval"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(INTERVAL)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args.args, args.number_rows)?;
        let intervals = arrays[1].as_primitive::<IntervalMonthDayNanoType>();
        let mut out = IntervalMonthDayNanoBuilder::with_capacity(intervals.len());
        for row in 0..intervals.len() {
            if arrays[0].is_null(row) || intervals.is_null(row) {
                out.append_null();
                continue;
            }
            let interval = intervals.value(row);
            let (product, factor) = match arrays[0].data_type() {
                DataType::Int64 => {
                    let n = arrays[0].as_primitive::<Int64Type>().value(row);
                    (times_integer(interval, n), n.to_string())
                }
                _ => {
                    let f = arrays[0].as_primitive::<Float64Type>().value(row);
                    (times_fraction(interval, f), f.to_string())
                }
            };
            match product {
                Some(product) => out.append_value(product),
                None => {
                    let interval = array_value_to_string(intervals, row)?;
                    return exec_err!("interval out of range: {factor} * INTERVAL '{interval}'");
                }
            }
        }
        call_value(&args.args, Arc::new(out.finish()))
    }
}

fn times_integer(interval: IntervalMonthDayNano, n: i64) -> Option<IntervalMonthDayNano> {
    let n32 = i32::try_from(n).ok();
    let scale = |part: i32| match (part, n32) {
        (0, _) => Some(0),
        (_, Some(n)) => part.checked_mul(n),
        (_, None) => None,
    };
    Some(IntervalMonthDayNano {
        months: scale(interval.months)?,
        days: scale(interval.days)?,
        nanoseconds: interval.nanoseconds.checked_mul(n)?,
    })
}

fn times_fraction(interval: IntervalMonthDayNano, f: f64) -> Option<IntervalMonthDayNano> {
    let months = f64::from(interval.months) * f;
    let days = f64::from(interval.days) * f + months.fract() * 30.0;
    let nanoseconds = interval.nanoseconds as f64 * f + days.fract() * NANOS_PER_DAY;
    let whole = |x: f64, max: f64| (x.trunc().abs() <= max).then_some(x.trunc());
    Some(IntervalMonthDayNano {
        months: whole(months, f64::from(i32::MAX))? as i32,
        days: whole(days, f64::from(i32::MAX))? as i32,
        nanoseconds: whole(nanoseconds.round(), i64::MAX as f64)? as i64,
    })
}

/// `INTERVAL (expr) UNIT` and a product with an interval (`n * INTERVAL 1 DAY`, either way
/// round) as calls of [`INTERVAL_TIMES`]; whether `expr` was one. Runs on each expression after
/// its children, so an operand is already rewritten. As in DuckDB, `INTERVAL (x) UNIT` counts
/// whole units (`INTERVAL (1.5) HOUR` is one hour).
pub(super) fn rewrite(expr: &mut Expr) -> bool {
    match expr {
        Expr::Interval(Interval {
            value,
            leading_field: Some(unit),
            last_field: None,
            ..
        }) if !matches!(value.as_ref(), Expr::Value(_)) => {
            let count = super::dialect::parse_expr(&format!(
                "CAST(trunc(CAST({value} AS DOUBLE)) AS BIGINT)"
            ))
            .expect("an expression in a cast parses");
            let one = Expr::Interval(Interval {
                value: Box::new(Expr::value(Value::SingleQuotedString("1".into()))),
                leading_field: Some(unit.clone()),
                leading_precision: None,
                last_field: None,
                fractional_seconds_precision: None,
            });
            *expr = call(INTERVAL_TIMES, [count, one]);
            true
        }
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Multiply,
            right,
        } => {
            let (factor, interval) = match (is_interval(left), is_interval(right)) {
                (false, true) => (left, right),
                (true, false) => (right, left),
                _ => return false,
            };
            *expr = call(
                INTERVAL_TIMES,
                [factor.as_ref().clone(), interval.as_ref().clone()],
            );
            true
        }
        _ => false,
    }
}

/// The count of `INTERVAL n UNIT` written as a number, in whole units as DuckDB counts them
/// (`INTERVAL 1.5 DAY` is one day, `INTERVAL '-1.5' HOUR` minus one hour), but for seconds and
/// milliseconds, which keep their fraction; other text stays as it is.
pub(super) fn whole_count(count: &str, unit: &DateTimeField) -> String {
    let fractional = matches!(
        unit,
        DateTimeField::Second
            | DateTimeField::Seconds
            | DateTimeField::Millisecond
            | DateTimeField::Milliseconds
    );
    let Some((whole, fraction)) = count.split_once('.') else {
        return count.to_string();
    };
    let digits = |text: &str| text.bytes().all(|b| b.is_ascii_digit());
    let sign = whole.strip_prefix('-').unwrap_or(whole);
    if fractional || !digits(sign) || !digits(fraction) {
        return count.to_string();
    }
    match sign.is_empty() {
        true => "0".to_string(),
        false => whole.to_string(),
    }
}

/// Whether `expr` is an interval by its syntax alone.
fn is_interval(expr: &Expr) -> bool {
    match expr {
        Expr::Interval(_) => true,
        Expr::Nested(inner) => is_interval(inner),
        Expr::Function(function) => function.name.to_string() == INTERVAL_TIMES,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000_000;

    #[test]
    fn fractions_carry_into_the_smaller_parts_as_duckdb_carries_them() {
        let month = IntervalMonthDayNano::new(1, 0, 0);
        assert_eq!(
            times_fraction(month, 1.5),
            Some(IntervalMonthDayNano::new(1, 15, 0))
        );
        let day = IntervalMonthDayNano::new(0, 1, 0);
        assert_eq!(
            times_fraction(day, 1.5),
            Some(IntervalMonthDayNano::new(0, 1, 12 * HOUR))
        );
        let mixed = IntervalMonthDayNano::new(1, 1, HOUR);
        assert_eq!(
            times_integer(mixed, 2),
            Some(IntervalMonthDayNano::new(2, 2, 2 * HOUR))
        );
        assert_eq!(
            times_integer(mixed, -1),
            Some(IntervalMonthDayNano::new(-1, -1, -HOUR))
        );
    }

    #[test]
    fn a_count_of_units_is_whole_but_for_seconds() {
        for (count, unit, whole) in [
            ("1.5", DateTimeField::Day, "1"),
            ("-1.5", DateTimeField::Hours, "-1"),
            ("-.5", DateTimeField::Month, "0"),
            ("2", DateTimeField::Year, "2"),
            ("1.5", DateTimeField::Second, "1.5"),
            ("1.25", DateTimeField::Milliseconds, "1.25"),
            ("1 day", DateTimeField::Day, "1 day"),
        ] {
            assert_eq!(whole_count(count, &unit), whole, "{count} {unit}");
        }
    }

    #[test]
    fn a_product_out_of_range_is_none() {
        let day = IntervalMonthDayNano::new(0, 1, 0);
        assert_eq!(times_integer(day, i64::from(i32::MAX) + 1), None);
        assert_eq!(times_fraction(day, 1e12), None);
        // Only the parts that are there are scaled.
        assert_eq!(
            times_integer(IntervalMonthDayNano::new(0, 0, 1), 1 << 40),
            Some(IntervalMonthDayNano::new(0, 0, 1 << 40))
        );
    }
}
