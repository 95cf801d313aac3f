//! DuckDB's `date_diff(part, start, end)` (also `datediff`) and `date_sub(part, start, end)`
//! (also `datesub`), which DataFusion lacks.
//!
//! `date_diff` counts the boundaries of `part` crossed from `start` to `end`, not whole
//! periods: from `2024-01-31` to `2024-02-01` is one month, from 23:59 to 00:01 one day. Weeks
//! are the exception: whole weeks, the day difference divided by 7 towards zero.
//!
//! `date_sub` counts whole periods: from `2024-01-15 10:00` to `2024-02-15 09:00` is no month.
//! A month ends early at a month's last day: `2024-01-31` to `2024-02-29` is one month (and to
//! `2024-02-28` none). Years and quarters are whole months over 12 and 3; days, weeks and the
//! clock's parts are the elapsed time over the part, towards zero.
//!
//! The answer is a BIGINT, negative when `end` is earlier. Dates and timestamps are compared
//! as UTC wall-clock times to the microsecond.

use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDateTime};
use datafusion::arrow::array::{Array, AsArray, Int64Array};
use datafusion::arrow::compute::{binary, cast};
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// The parts `date_diff` counts, under DuckDB's names for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    /// A number of years: a year, a decade, a century, a millennium.
    Years(i64),
    Quarter,
    Month,
    Week,
    Day,
    /// A fixed number of microseconds: an hour, a minute, a second, a millisecond.
    Micros(i64),
}

impl Part {
    pub(super) fn parse(name: &str) -> Option<Part> {
        Some(match name.to_lowercase().as_str() {
            "year" | "years" | "y" | "yr" | "yrs" => Part::Years(1),
            "decade" | "decades" | "dec" | "decs" => Part::Years(10),
            "century" | "centuries" | "cent" | "c" => Part::Years(100),
            "millennium" | "millennia" | "millenium" | "mil" | "mils" => Part::Years(1000),
            "quarter" | "quarters" => Part::Quarter,
            "month" | "months" | "mon" | "mons" => Part::Month,
            "week" | "weeks" | "w" => Part::Week,
            "day" | "days" | "d" | "dayofmonth" => Part::Day,
            "hour" | "hours" | "h" | "hr" | "hrs" => Part::Micros(3_600_000_000),
            "minute" | "minutes" | "m" | "min" | "mins" => Part::Micros(60_000_000),
            "second" | "seconds" | "s" | "sec" | "secs" => Part::Micros(1_000_000),
            "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" => Part::Micros(1_000),
            "microsecond" | "microseconds" | "us" | "usec" | "usecs" => Part::Micros(1),
            _ => return None,
        })
    }

    /// The boundaries of this part from `start` to `end`, both in microseconds since the epoch.
    fn between(self, start: i64, end: i64) -> i64 {
        let days = |t: NaiveDateTime| t.date().num_days_from_ce() as i64;
        match self {
            Part::Years(n) => {
                (at(end).year() as i64).div_euclid(n) - (at(start).year() as i64).div_euclid(n)
            }
            Part::Quarter => months(at(end)) / 3 - months(at(start)) / 3,
            Part::Month => months(at(end)) - months(at(start)),
            Part::Week => (days(at(end)) - days(at(start))) / 7,
            Part::Day => days(at(end)) - days(at(start)),
            Part::Micros(unit) => end.div_euclid(unit) - start.div_euclid(unit),
        }
    }

    /// The whole periods of this part from `start` to `end` (microseconds since the epoch).
    fn whole_between(self, start: i64, end: i64) -> i64 {
        const DAY: i64 = 86_400_000_000;
        match self {
            Part::Years(n) => whole_months(at(start), at(end)) / (12 * n),
            Part::Quarter => whole_months(at(start), at(end)) / 3,
            Part::Month => whole_months(at(start), at(end)),
            Part::Week => (end - start) / (7 * DAY),
            Part::Day => (end - start) / DAY,
            Part::Micros(unit) => (end - start) / unit,
        }
    }
}

/// The time `micros` microseconds after the epoch.
pub(super) fn at(micros: i64) -> NaiveDateTime {
    DateTime::from_timestamp_micros(micros)
        .expect("every i64 of microseconds is a date chrono can hold")
        .naive_utc()
}

/// Months since the year 0, for the boundaries crossed.
pub(super) fn months(t: NaiveDateTime) -> i64 {
    t.year() as i64 * 12 + t.month0() as i64
}

/// Whole months from `start` to `end`: the boundaries crossed, less one when `end` falls
/// earlier in its month than `start` in its own, unless `end` is its month's last day and
/// `start` a later day (a month from January 31st ends on February's last day).
fn whole_months(start: NaiveDateTime, end: NaiveDateTime) -> i64 {
    if end < start {
        return -whole_months(end, start);
    }
    let crossed = months(end) - months(start);
    let last_day = end
        .date()
        .succ_opt()
        .is_some_and(|tomorrow| tomorrow.month() != end.month());
    let early = (end.day(), end.time()) < (start.day(), start.time());
    match early && !(last_day && end.day() < start.day()) {
        true => crossed - 1,
        false => crossed,
    }
}

/// What a function counts between two times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counting {
    /// `date_diff`: the boundaries of the part crossed.
    Boundaries,
    /// `date_sub`: the whole periods of the part.
    WholeParts,
}

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateDiff {
    counting: Counting,
    signature: Signature,
    aliases: Vec<String>,
}

impl DateDiff {
    pub fn new(counting: Counting) -> Self {
        let alias = match counting {
            Counting::Boundaries => "datediff",
            Counting::WholeParts => "datesub",
        };
        DateDiff {
            counting,
            signature: Signature::user_defined(Volatility::Immutable),
            aliases: vec![alias.to_string()],
        }
    }
}

/// The type both times are compared in (also by `age`).
pub(super) const MICROS: DataType = DataType::Timestamp(TimeUnit::Microsecond, None);

/// Whether values of this type are times these functions count between (dates, timestamps,
/// or a NULL).
pub(super) fn is_time(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) | DataType::Null
    )
}

impl ScalarUDFImpl for DateDiff {
    fn name(&self) -> &str {
        match self.counting {
            Counting::Boundaries => "date_diff",
            Counting::WholeParts => "date_sub",
        }
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [_, start, end] if is_time(start) && is_time(end) => {
                Ok(vec![DataType::Utf8, MICROS, MICROS])
            }
            [_, start, end] => {
                plan_err!(
                    "{} counts between dates or timestamps, not {start} and {end}",
                    self.name()
                )
            }
            _ => plan_err!("{} takes a part, a start and an end", self.name()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let part = match &args.args[0] {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(name))) => match Part::parse(name) {
                Some(part) => part,
                None => return exec_err!("{}: unknown date part '{name}'", self.name()),
            },
            ColumnarValue::Scalar(ScalarValue::Utf8(None)) => {
                return Ok(ColumnarValue::Scalar(ScalarValue::Int64(None)));
            }
            _ => return exec_err!("{}: the date part must be a constant", self.name()),
        };
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let times = ColumnarValue::values_to_arrays(&args.args[1..])?;
        let (start, end) = (cast(&times[0], &MICROS)?, cast(&times[1], &MICROS)?);
        let counts: Int64Array = binary(
            start.as_primitive::<TimestampMicrosecondType>(),
            end.as_primitive::<TimestampMicrosecondType>(),
            |s, e| match self.counting {
                Counting::Boundaries => part.between(s, e),
                Counting::WholeParts => part.whole_between(s, e),
            },
        )?;
        if all_scalar {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &counts, 0,
            )?));
        }
        Ok(ColumnarValue::Array(Arc::new(counts) as Arc<dyn Array>))
    }
}

/// Microseconds since the epoch of a UTC time written `YYYY-MM-DD HH:MM:SS[.f]`, for tests.
#[cfg(test)]
pub(super) fn micros(text: &str) -> i64 {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(part: &str, start: &str, end: &str) -> i64 {
        Part::parse(part)
            .unwrap()
            .between(micros(start), micros(end))
    }

    #[test]
    fn counts_boundaries_as_duckdb_does() {
        // Each answer is DuckDB 2.0's.
        assert_eq!(
            diff("month", "2024-01-31 00:00:00", "2024-02-01 00:00:00"),
            1
        );
        assert_eq!(
            diff("year", "2024-12-31 00:00:00", "2025-01-01 00:00:00"),
            1
        );
        assert_eq!(
            diff("quarter", "2024-03-31 00:00:00", "2024-04-01 00:00:00"),
            1
        );
        assert_eq!(diff("day", "2024-01-01 23:59:00", "2024-01-02 00:01:00"), 1);
        assert_eq!(
            diff("days", "2024-01-01 00:00:00", "2023-12-01 00:00:00"),
            -31
        );
        assert_eq!(
            diff("hour", "2024-01-01 10:59:00", "2024-01-01 11:01:00"),
            1
        );
        assert_eq!(
            diff("second", "2024-01-01 00:00:00.9", "2024-01-01 00:00:01.1"),
            1
        );
        // Weeks are whole weeks, towards zero.
        assert_eq!(
            diff("week", "2024-01-06 00:00:00", "2024-01-08 00:00:00"),
            0
        );
        assert_eq!(
            diff("week", "2024-01-08 00:00:00", "2024-01-01 00:00:00"),
            -1
        );
        assert_eq!(
            diff("week", "2024-01-07 00:00:00", "2024-01-01 00:00:00"),
            0
        );
        // Before 1970 a time's microseconds are negative; boundaries still count from midnight.
        assert_eq!(
            diff("hour", "1969-12-31 23:30:00", "1970-01-01 00:10:00"),
            1
        );
        assert_eq!(Part::parse("fortnight"), None);
    }

    fn whole(part: &str, start: &str, end: &str) -> i64 {
        Part::parse(part)
            .unwrap()
            .whole_between(micros(start), micros(end))
    }

    #[test]
    fn counts_whole_periods_as_duckdb_does() {
        // Each answer is DuckDB 2.0's `date_sub`.
        let day = |d: &str| format!("{d} 00:00:00");
        let cases = [
            ("month", day("2024-01-31"), day("2024-02-28"), 0),
            ("month", day("2024-01-31"), day("2024-02-29"), 1),
            ("month", day("2024-01-30"), day("2024-02-29"), 1),
            ("year", day("2020-02-29"), day("2021-02-28"), 1),
            ("month", day("2024-03-31"), day("2024-01-31"), -2),
            ("month", day("2024-03-30"), day("2024-02-29"), -1),
            ("month", day("2024-02-29"), day("2024-01-31"), -1),
            ("month", day("2024-02-28"), day("2024-01-31"), 0),
            ("week", day("2024-01-01"), day("2024-01-14"), 1),
            ("quarter", day("2024-01-15"), day("2024-04-14"), 0),
            (
                "day",
                "2024-01-01 23:00:00".into(),
                "2024-01-02 22:00:00".into(),
                0,
            ),
            (
                "hour",
                "2024-01-01 00:30:00".into(),
                "2024-01-01 01:29:00".into(),
                0,
            ),
            (
                "month",
                "2024-01-31 10:00:00".into(),
                "2024-02-29 09:00:00".into(),
                1,
            ),
            (
                "month",
                "2024-01-15 10:00:00".into(),
                "2024-02-15 09:00:00".into(),
                0,
            ),
        ];
        for (part, start, end, expected) in cases {
            assert_eq!(whole(part, &start, &end), expected, "{part} {start} {end}");
        }
    }
}
