//! Timestamps, times and intervals as DuckDB writes them (see `super`).

use std::sync::Arc;

use chrono::{NaiveDateTime, Offset, Timelike};
use datafusion::arrow::array::temporal_conversions::{as_datetime, as_datetime_with_timezone};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    ArrowTimestampType, DataType, Int64Type, IntervalDayTimeType, IntervalMonthDayNanoType,
    IntervalUnit, IntervalYearMonthType, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use datafusion::common::{Result, exec_err};

/// A timestamp column as DuckDB's text (`None` when `column` holds no timestamps).
pub fn timestamp_text(column: &ArrayRef) -> Result<Option<ArrayRef>> {
    let DataType::Timestamp(unit, zone) = column.data_type() else {
        return Ok(None);
    };
    let zone = zone.as_deref();
    let text = match unit {
        TimeUnit::Second => spell::<TimestampSecondType>(column, zone)?,
        TimeUnit::Millisecond => spell::<TimestampMillisecondType>(column, zone)?,
        TimeUnit::Microsecond => spell::<TimestampMicrosecondType>(column, zone)?,
        TimeUnit::Nanosecond => spell::<TimestampNanosecondType>(column, zone)?,
    };
    Ok(Some(text))
}

fn spell<T: ArrowTimestampType>(column: &ArrayRef, zone: Option<&str>) -> Result<ArrayRef> {
    let timestamps = column.as_primitive::<T>();
    let zone: Option<Tz> = match zone.map(str::parse).transpose() {
        Ok(zone) => zone,
        Err(err) => return exec_err!("time zone {}: {err}", zone.unwrap_or_default()),
    };
    let text = (0..timestamps.len()).map(|row| {
        if timestamps.is_null(row) {
            return None;
        }
        let value = timestamps.value(row);
        Some(
            match zone {
                None => as_datetime::<T>(value).map(|t| datetime_text(&t, None)),
                Some(zone) => as_datetime_with_timezone::<T>(value, zone).map(|t| {
                    datetime_text(&t.naive_local(), Some(t.offset().fix().local_minus_utc()))
                }),
            }
            .unwrap_or_else(|| value.to_string()),
        )
    });
    Ok(Arc::new(text.collect::<StringArray>()))
}

/// A TIME column as DuckDB's text: the fraction of a second only as long as it needs to be
/// (`01:02:03.5`, where Arrow writes `01:02:03.500`).
pub fn time_text(column: &ArrayRef) -> Result<ArrayRef> {
    let arrow = cast(column, &DataType::Utf8)?;
    let text: StringArray = arrow
        .as_string::<i32>()
        .iter()
        .map(|value| {
            value.map(|time| match time.contains('.') {
                true => time.trim_end_matches('0').trim_end_matches('.'),
                false => time,
            })
        })
        .collect();
    Ok(Arc::new(text))
}

/// `2024-01-02 03:04:05.5`, and the offset when given in seconds east of UTC (`+05:30`).
fn datetime_text(time: &NaiveDateTime, offset: Option<i32>) -> String {
    let mut text = time.format("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = time.nanosecond();
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    if let Some(offset) = offset {
        let sign = if offset < 0 { '-' } else { '+' };
        let (hours, minutes) = (offset.abs() / 3600, offset.abs() % 3600 / 60);
        text.push_str(&format!("{sign}{hours:02}"));
        if minutes > 0 {
            text.push_str(&format!(":{minutes:02}"));
        }
    }
    text
}

/// An interval or duration column as DuckDB's text (`None` when `column` holds neither).
pub fn interval_text(column: &ArrayRef) -> Result<Option<ArrayRef>> {
    let parts: Box<dyn Fn(usize) -> (i32, i32, i64)> = match column.data_type() {
        DataType::Interval(IntervalUnit::YearMonth) => {
            let months = column.as_primitive::<IntervalYearMonthType>();
            Box::new(move |row| (months.value(row), 0, 0))
        }
        DataType::Interval(IntervalUnit::DayTime) => {
            let values = column.as_primitive::<IntervalDayTimeType>();
            Box::new(move |row| {
                let value = values.value(row);
                (0, value.days, i64::from(value.milliseconds) * 1000)
            })
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            let values = column.as_primitive::<IntervalMonthDayNanoType>();
            Box::new(move |row| {
                let value = values.value(row);
                (value.months, value.days, value.nanoseconds / 1000)
            })
        }
        DataType::Duration(unit) => {
            let nanos_per_unit = match unit {
                TimeUnit::Second => 1_000_000_000,
                TimeUnit::Millisecond => 1_000_000,
                TimeUnit::Microsecond => 1_000,
                TimeUnit::Nanosecond => 1,
            };
            let values = cast(column, &DataType::Int64)?;
            Box::new(move |row| {
                let nanos =
                    i128::from(values.as_primitive::<Int64Type>().value(row)) * nanos_per_unit;
                let micros = (nanos / 1000) as i64;
                const DAY: i64 = 86_400_000_000;
                (0, (micros / DAY) as i32, micros % DAY)
            })
        }
        _ => return Ok(None),
    };
    let text: StringArray = (0..column.len())
        .map(|row| {
            column.is_valid(row).then(|| {
                let (months, days, micros) = parts(row);
                duckdb_interval(months, days, micros)
            })
        })
        .collect();
    Ok(Some(Arc::new(text)))
}

/// `1 year 2 months 3 days 04:05:06.5` (see the module documentation).
fn duckdb_interval(months: i32, days: i32, micros: i64) -> String {
    let mut parts = Vec::new();
    for (count, unit) in [(months / 12, "year"), (months % 12, "month"), (days, "day")] {
        match count {
            0 => {}
            1 | -1 => parts.push(format!("{count} {unit}")),
            _ => parts.push(format!("{count} {unit}s")),
        }
    }
    if micros != 0 || parts.is_empty() {
        let sign = if micros < 0 { "-" } else { "" };
        let micros = micros.unsigned_abs();
        let seconds = micros / 1_000_000;
        let mut clock = format!(
            "{sign}{:02}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        );
        let fraction = micros % 1_000_000;
        if fraction > 0 {
            clock.push('.');
            clock.push_str(format!("{fraction:06}").trim_end_matches('0'));
        }
        parts.push(clock);
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::duckdb_interval;

    #[test]
    fn intervals_as_duckdb_writes_them() {
        const HOUR: i64 = 3_600_000_000;
        for (months, days, micros, duckdb) in [
            (0, 1, 0, "1 day"),
            (0, -1, 0, "-1 day"),
            (0, -2, 0, "-2 days"),
            (14, 3, 0, "1 year 2 months 3 days"),
            (-14, 0, 0, "-1 year -2 months"),
            (11, 0, 0, "11 months"),
            (0, 0, 0, "00:00:00"),
            (0, 1, HOUR, "1 day 01:00:00"),
            (0, -1, -HOUR, "-1 day -01:00:00"),
            (0, 0, 36 * HOUR, "36:00:00"),
            (0, 0, 1, "00:00:00.000001"),
            (0, 0, -HOUR * 3 / 2, "-01:30:00"),
            (0, 0, 4 * HOUR + 5 * 60_000_000 + 6_500_000, "04:05:06.5"),
        ] {
            assert_eq!(duckdb_interval(months, days, micros), duckdb);
        }
    }
}
