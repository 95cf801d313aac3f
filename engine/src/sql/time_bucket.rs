//! DuckDB's `time_bucket(width, t [, offset | origin])`: the start of the bucket of `width`
//! that holds `t`, the way DuckDB lays buckets out. Buckets of days and times start at
//! 2000-01-03 00:00 (a Monday, so weeks start on Mondays), buckets of months at 2000-01-01,
//! or at `origin`; an `offset` interval shifts every bucket (`t - offset` is bucketed and the
//! offset added back, in calendar months and days). A DATE gives a DATE, a timestamp a
//! TIMESTAMP in microseconds (keeping its zone). DataFusion's `date_bin` is close but has no
//! month buckets from these origins and no DATE answer.

use std::sync::Arc;

use chrono::{Duration, Months, NaiveDate, NaiveDateTime};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Date32Array, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, IntervalMonthDayNano, IntervalUnit, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use super::date_diff::{at, months};
use super::types::sql_type_name;

/// Registers `time_bucket`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(TimeBucket {
        signature: Signature::user_defined(Volatility::Immutable),
    }));
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct TimeBucket {
    signature: Signature,
}

const INTERVAL: DataType = DataType::Interval(IntervalUnit::MonthDayNano);
const MICROS_PER_DAY: i64 = 86_400_000_000;

impl ScalarUDFImpl for TimeBucket {
    fn name(&self) -> &str {
        "time_bucket"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let value = match arg_types.get(1) {
            Some(DataType::Date32 | DataType::Date64) => DataType::Date32,
            Some(DataType::Timestamp(_, zone)) => {
                DataType::Timestamp(TimeUnit::Microsecond, zone.clone())
            }
            Some(other) => {
                return plan_err!(
                    "time_bucket buckets a DATE or a TIMESTAMP, not {}",
                    sql_type_name(other)
                );
            }
            None => return plan_err!("time_bucket takes a width and a DATE or TIMESTAMP"),
        };
        if !matches!(arg_types[0], DataType::Interval(_)) {
            return plan_err!(
                "time_bucket's width is an INTERVAL, not {}",
                sql_type_name(&arg_types[0])
            );
        }
        let third = match arg_types.get(2) {
            None => None,
            Some(DataType::Interval(_)) => Some(INTERVAL),
            Some(DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)) => {
                Some(value.clone())
            }
            Some(other) => {
                return plan_err!(
                    "time_bucket's third argument is an offset INTERVAL or an origin, not {}",
                    sql_type_name(other)
                );
            }
        };
        if arg_types.len() > 3 {
            return plan_err!("time_bucket takes two or three arguments");
        }
        Ok([Some(INTERVAL), Some(value), third]
            .into_iter()
            .flatten()
            .collect())
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[1].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // A NULL width, offset or origin puts every value in no bucket.
        if args
            .args
            .iter()
            .any(|arg| matches!(arg, ColumnarValue::Scalar(s) if s.is_null()))
        {
            let none = ScalarValue::try_from(args.return_field.data_type())?;
            return Ok(ColumnarValue::Scalar(none));
        }
        let width = match &args.args[0] {
            ColumnarValue::Scalar(ScalarValue::IntervalMonthDayNano(Some(width))) => *width,
            _ => return exec_err!("time_bucket's width must be a constant INTERVAL"),
        };
        let layout = match args.args.get(2) {
            None => Layout::new(width, None, None)?,
            Some(ColumnarValue::Scalar(ScalarValue::IntervalMonthDayNano(Some(offset)))) => {
                Layout::new(width, Some(*offset), None)?
            }
            Some(ColumnarValue::Scalar(origin)) => {
                let micros = cast(
                    &origin.to_array()?,
                    &DataType::Timestamp(TimeUnit::Microsecond, None),
                )?;
                let micros = micros.as_primitive::<TimestampMicrosecondType>().value(0);
                Layout::new(width, None, Some(at(micros)))?
            }
            Some(_) => return exec_err!("time_bucket's offset or origin must be a constant"),
        };
        let values = args.args[1].to_array(args.number_rows)?;
        let answer: ArrayRef = match values.data_type() {
            DataType::Date32 => {
                let days = values.as_primitive::<Date32Type>();
                let buckets: Date32Array = days.unary_opt(|day| {
                    let start = layout.bucket(at(i64::from(day) * MICROS_PER_DAY))?;
                    let micros = start.and_utc().timestamp_micros();
                    i32::try_from(micros.div_euclid(MICROS_PER_DAY)).ok()
                });
                Arc::new(buckets)
            }
            DataType::Timestamp(_, zone) => {
                let micros = values.as_primitive::<TimestampMicrosecondType>();
                let buckets: TimestampMicrosecondArray = micros.unary_opt(|micros| {
                    Some(layout.bucket(at(micros))?.and_utc().timestamp_micros())
                });
                Arc::new(buckets.with_timezone_opt(zone.clone()))
            }
            other => return exec_err!("time_bucket cannot bucket {other}"),
        };
        Ok(ColumnarValue::Array(answer))
    }
}

/// Where the buckets lie: their width, in months or in microseconds, and where they start.
struct Layout {
    width: Width,
    offset: Option<IntervalMonthDayNano>,
}

enum Width {
    /// Buckets of whole months, counted from the origin's month.
    Months { width: i64, origin: i64 },
    /// Buckets of a fixed length in microseconds, from the origin's instant.
    Micros { micros: i64, origin: NaiveDateTime },
}

impl Layout {
    fn new(
        width: IntervalMonthDayNano,
        offset: Option<IntervalMonthDayNano>,
        origin: Option<NaiveDateTime>,
    ) -> Result<Self> {
        let time = i64::from(width.days) * MICROS_PER_DAY + width.nanoseconds / 1000;
        let width = if width.months < 0 || time < 0 || (width.months == 0 && time == 0) {
            return exec_err!("time_bucket's width must be greater than 0");
        } else if width.months > 0 && time > 0 {
            return exec_err!(
                "time_bucket's width cannot mix months with days or time (as DuckDB)"
            );
        } else if width.months > 0 {
            Width::Months {
                width: i64::from(width.months),
                origin: months(origin.unwrap_or_else(|| midnight(2000, 1, 1))),
            }
        } else {
            Width::Micros {
                micros: time,
                origin: origin.unwrap_or_else(|| midnight(2000, 1, 3)),
            }
        };
        Ok(Layout { width, offset })
    }

    /// The start of the bucket holding `t`; `None` past the dates chrono holds.
    fn bucket(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let t = match self.offset {
            Some(offset) => shift(t, offset, -1)?,
            None => t,
        };
        let start = match self.width {
            Width::Months { width, origin } => {
                let index = origin + (months(t) - origin).div_euclid(width) * width;
                let year = i32::try_from(index.div_euclid(12)).ok()?;
                let month = u32::try_from(index.rem_euclid(12)).ok()? + 1;
                NaiveDate::from_ymd_opt(year, month, 1)?.and_hms_opt(0, 0, 0)?
            }
            Width::Micros { micros, origin } => {
                let since = (t - origin).num_microseconds()?;
                origin + Duration::microseconds(since.div_euclid(micros) * micros)
            }
        };
        match self.offset {
            Some(offset) => shift(start, offset, 1),
            None => Some(start),
        }
    }
}

fn midnight(year: i32, month: u32, day: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a valid date")
}

/// `t` plus (`sign` 1) or minus (-1) an interval: its months on the calendar (the day kept, or
/// the month's last), then its days and time.
fn shift(t: NaiveDateTime, interval: IntervalMonthDayNano, sign: i64) -> Option<NaiveDateTime> {
    let months = i64::from(interval.months) * sign;
    let moved = match u32::try_from(months.unsigned_abs()).ok()? {
        0 => t,
        n if months > 0 => t.checked_add_months(Months::new(n))?,
        n => t.checked_sub_months(Months::new(n))?,
    };
    let micros = (i64::from(interval.days) * MICROS_PER_DAY + interval.nanoseconds / 1000) * sign;
    moved.checked_add_signed(Duration::microseconds(micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    fn interval(months: i32, days: i32, hours: i64) -> IntervalMonthDayNano {
        IntervalMonthDayNano::new(months, days, hours * 3_600_000_000_000)
    }

    /// DuckDB 2.0's answers for the same calls.
    #[test]
    fn buckets_lie_where_duckdb_puts_them() {
        let bucket = |width, offset, origin, t| {
            Layout::new(width, offset, origin)
                .unwrap()
                .bucket(ts(t))
                .unwrap()
        };
        // Weeks start on Mondays: 2024-03-04.
        assert_eq!(
            bucket(interval(0, 7, 0), None, None, "2024-03-05 10:00"),
            ts("2024-03-04 00:00")
        );
        assert_eq!(
            bucket(interval(2, 0, 0), None, None, "2024-03-05 10:00"),
            ts("2024-03-01 00:00")
        );
        assert_eq!(
            bucket(interval(1, 0, 0), None, None, "1999-11-20 10:00"),
            ts("1999-11-01 00:00")
        );
        // An origin's day and time do not count for months; they do for days.
        assert_eq!(
            bucket(
                interval(1, 0, 0),
                None,
                Some(ts("2024-01-15 05:00")),
                "2024-03-20 10:00"
            ),
            ts("2024-03-01 00:00")
        );
        assert_eq!(
            bucket(
                interval(0, 7, 0),
                None,
                Some(ts("2024-01-01 00:00")),
                "2024-03-02 00:00"
            ),
            ts("2024-02-26 00:00")
        );
        // An offset shifts the buckets, in calendar months too.
        assert_eq!(
            bucket(
                interval(1, 0, 0),
                Some(interval(0, 3, 0)),
                None,
                "2024-03-02 10:00"
            ),
            ts("2024-02-04 00:00")
        );
        assert_eq!(
            bucket(
                interval(0, 1, 0),
                Some(interval(0, 0, 2)),
                None,
                "2024-03-05 10:00"
            ),
            ts("2024-03-05 02:00")
        );
        assert_eq!(
            bucket(
                interval(0, 1, 0),
                Some(interval(1, 0, 0)),
                None,
                "1999-11-20 10:00"
            ),
            ts("1999-11-20 00:00")
        );
        // Before the origin, buckets still count down from it.
        assert_eq!(
            bucket(interval(0, 0, 5), None, None, "1999-12-31 23:00"),
            ts("1999-12-31 22:00")
        );
    }

    #[test]
    fn widths_are_positive_and_whole_months_or_none() {
        let refused = |width| Layout::new(width, None, None).err().unwrap().to_string();
        assert!(refused(interval(1, 1, 0)).contains("cannot mix months"));
        assert!(refused(interval(0, 0, 0)).contains("greater than 0"));
        assert!(refused(interval(0, -1, 0)).contains("greater than 0"));
    }
}
