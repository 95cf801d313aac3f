//! DuckDB's `age(end, start)`: the time from `start` to `end` as an interval of years, months,
//! days and a clock, counted as a person's age is (`age(TIMESTAMP '2024-03-15',
//! TIMESTAMP '2023-01-31')` is 1 year 1 month 15 days): each field's difference, borrowing a
//! day from the clock and a month's days (of `start`'s month) from the months where a
//! difference is negative; negative throughout when `end` is earlier.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use datafusion::arrow::array::{Array, AsArray, IntervalMonthDayNanoArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, IntervalMonthDayNano, IntervalUnit, TimestampMicrosecondType,
};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::date_diff::{MICROS, is_time};
use super::text_functions::{arrays, call_value};
use super::types::sql_type_name;

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Age {
    signature: Signature,
}

impl Age {
    pub fn new() -> Self {
        Age {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for Age {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for Age {
    fn name(&self) -> &str {
        "age"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [end, start] if is_time(end) && is_time(start) => Ok(vec![MICROS, MICROS]),
            [end, start] => plan_err!(
                "age takes two dates or timestamps, not {} and {}",
                sql_type_name(end),
                sql_type_name(start)
            ),
            _ => plan_err!("age takes an end and a start"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Interval(IntervalUnit::MonthDayNano))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let times = arrays(&args.args, args.number_rows)?;
        let (ends, starts) = (cast(&times[0], &MICROS)?, cast(&times[1], &MICROS)?);
        let (ends, starts) = (
            ends.as_primitive::<TimestampMicrosecondType>(),
            starts.as_primitive::<TimestampMicrosecondType>(),
        );
        let ages: IntervalMonthDayNanoArray = (0..ends.len())
            .map(|row| {
                (ends.is_valid(row) && starts.is_valid(row)).then(|| {
                    let (end, start) = (ends.value_as_datetime(row), starts.value_as_datetime(row));
                    end.zip(start)
                        .map_or(IntervalMonthDayNano::ZERO, |(end, start)| age(end, start))
                })
            })
            .collect();
        call_value(&args.args, Arc::new(ages))
    }
}

/// The age at `end` of what began at `start` (see the module documentation).
fn age(end: NaiveDateTime, start: NaiveDateTime) -> IntervalMonthDayNano {
    if end < start {
        let age = age(start, end);
        return IntervalMonthDayNano::new(-age.months, -age.days, -age.nanoseconds);
    }
    const DAY: i64 = 86_400_000_000;
    let clock = |t: NaiveDateTime| {
        i64::from(t.num_seconds_from_midnight()) * 1_000_000 + i64::from(t.nanosecond() / 1000)
    };
    let mut micros = clock(end) - clock(start);
    let mut days = end.day() as i32 - start.day() as i32;
    let mut months = (end.year() - start.year()) * 12 + end.month() as i32 - start.month() as i32;
    if micros < 0 {
        micros += DAY;
        days -= 1;
    }
    if days < 0 {
        days += days_in_month(start.date());
        months -= 1;
    }
    IntervalMonthDayNano::new(months, days, micros * 1000)
}

/// The number of days in `date`'s month.
fn days_in_month(date: NaiveDate) -> i32 {
    let first = date.with_day(1).expect("every month has a first day");
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .expect("a month after any date chrono holds");
    (next - first).num_days() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn ages_as_duckdb_counts_them() {
        // Each answer is DuckDB 2.0's.
        const HOUR: i64 = 3_600_000_000_000;
        for (end, start, (months, days, nanos)) in [
            ("2024-03-15 00:00", "2023-01-31 00:00", (13, 15, 0)),
            ("2024-03-01 00:00", "2024-02-29 00:00", (0, 1, 0)),
            (
                "2024-01-01 00:00",
                "2024-03-15 12:30",
                (-2, -14, -HOUR * 25 / 2),
            ),
            ("2024-03-01 01:00", "2024-01-31 02:00", (1, 0, 23 * HOUR)),
            ("2023-03-01 00:00", "2023-01-31 00:00", (1, 1, 0)),
            ("2024-05-31 00:00", "2024-04-30 00:00", (1, 1, 0)),
            ("2024-04-30 00:00", "2024-05-31 00:00", (-1, -1, 0)),
            ("2024-02-29 00:00", "2023-02-28 00:00", (12, 1, 0)),
        ] {
            let expected = IntervalMonthDayNano::new(months, days, nanos);
            assert_eq!(age(at(end), at(start)), expected, "{end} - {start}");
        }
    }
}
