//! DuckDB's `date_trunc(part, t)` (also `datetrunc`): `t` cut down to the start of its `part`.
//!
//! DataFusion's own works in nanoseconds: a DATE or a TIMESTAMP outside 1677-2262 fails
//! ("Timestamp out of range"; `date_trunc('month', DATE '0001-01-15')` and so `last_day` of it),
//! a DATE gives a TIMESTAMP_NS, the part must be a constant, and it knows ten of DuckDB's
//! names for parts. This one works on microseconds, as DuckDB does, over every date chrono
//! holds:
//!
//! * a DATE or a TIMESTAMP gives a TIMESTAMP, a TIMESTAMPTZ a TIMESTAMPTZ cut in its own zone;
//! * the part may differ from row to row, and a NULL part gives NULL;
//! * DuckDB's names: `date_diff`'s (years to microseconds, with their plurals and short
//!   forms), `isoyear` (the Monday of ISO week 1), `yearweek`/`weekofyear` (a week), and the
//!   parts that name a day of something (`dow`, `isodow`, `doy`, `dayofyear`, `dayofweek`,
//!   `julian`), which cut to the day, and `epoch`, to the second;
//! * decades, centuries and millennia count from year 0, cut towards it (`date_trunc('century',
//!   DATE '2024-05-05')` is 2000-01-01, though `century` counts the 21st from 2001).

use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone, Weekday};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{Array, AsArray, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::date_diff::{Part, at};
use super::types::sql_type_name;

/// Where a part cuts a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// To a multiple of this many years, towards year 0.
    Years(i32),
    /// To the Monday that starts the ISO year.
    IsoYear,
    Quarter,
    Month,
    /// To the week's Monday.
    Week,
    Day,
    /// To a multiple of this many microseconds of the day: an hour to a microsecond.
    Micros(i64),
}

impl Cut {
    fn parse(name: &str) -> Option<Cut> {
        if let Some(part) = Part::parse(name) {
            return Some(match part {
                Part::Years(n) => Cut::Years(n as i32),
                Part::Quarter => Cut::Quarter,
                Part::Month => Cut::Month,
                Part::Week => Cut::Week,
                Part::Day => Cut::Day,
                Part::Micros(unit) => Cut::Micros(unit),
            });
        }
        Some(match name.to_lowercase().as_str() {
            "isoyear" => Cut::IsoYear,
            "yearweek" | "weekofyear" => Cut::Week,
            "dow" | "isodow" | "dayofweek" | "doy" | "dayofyear" | "julian" => Cut::Day,
            "epoch" => Cut::Micros(1_000_000),
            _ => return None,
        })
    }

    /// `t` cut down; `None` where the start lies before the dates chrono holds.
    fn apply(self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let date = t.date();
        let first = |year: i32, month: u32| NaiveDate::from_ymd_opt(year, month, 1);
        let start = match self {
            Cut::Years(n) => first(date.year() / n * n, 1)?,
            Cut::IsoYear => NaiveDate::from_isoywd_opt(date.iso_week().year(), 1, Weekday::Mon)?,
            Cut::Quarter => first(date.year(), date.month0() / 3 * 3 + 1)?,
            Cut::Month => first(date.year(), date.month())?,
            Cut::Week => date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday())),
            Cut::Day => date,
            Cut::Micros(unit) => {
                let micros = t.and_utc().timestamp_micros();
                return Some(at(micros - micros.rem_euclid(unit)));
            }
        };
        start.and_hms_opt(0, 0, 0)
    }
}

/// `micros` (since the epoch, UTC) cut by `cut` on the wall clock of `zone`.
fn cut_micros(cut: Cut, micros: i64, zone: Option<&Tz>) -> Option<i64> {
    let Some(zone) = zone else {
        return Some(cut.apply(at(micros))?.and_utc().timestamp_micros());
    };
    let instant = DateTime::from_timestamp_micros(micros)?.with_timezone(zone);
    let local = cut.apply(instant.naive_local())?;
    // A start the clocks skipped (a zone moving to summer time at midnight) keeps the offset of
    // the time it was cut from.
    let start = zone
        .from_local_datetime(&local)
        .earliest()
        .map(|start| start.naive_utc())
        .unwrap_or(local - instant.offset().fix());
    Some(start.and_utc().timestamp_micros())
}

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateTrunc {
    signature: Signature,
    aliases: Vec<String>,
}

impl DateTrunc {
    pub fn new() -> Self {
        DateTrunc {
            signature: Signature::user_defined(Volatility::Immutable),
            aliases: vec!["datetrunc".to_string()],
        }
    }
}

impl ScalarUDFImpl for DateTrunc {
    fn name(&self) -> &str {
        "date_trunc"
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [part, value] = arg_types else {
            return plan_err!("date_trunc takes a part and a DATE or TIMESTAMP");
        };
        if !matches!(
            part,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
        ) {
            return plan_err!(
                "date_trunc's part is a VARCHAR such as 'month', not {}",
                sql_type_name(part)
            );
        }
        let value = match value {
            DataType::Date32 | DataType::Date64 | DataType::Null => {
                DataType::Timestamp(TimeUnit::Microsecond, None)
            }
            DataType::Timestamp(_, zone) => {
                DataType::Timestamp(TimeUnit::Microsecond, zone.clone())
            }
            other => {
                return plan_err!(
                    "date_trunc cuts a DATE or a TIMESTAMP, not {}",
                    sql_type_name(other)
                );
            }
        };
        Ok(vec![DataType::Utf8, value])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[1].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let return_type = args.return_field.data_type().clone();
        let zone = match &return_type {
            DataType::Timestamp(_, Some(zone)) => Some(zone.parse::<Tz>()?),
            _ => None,
        };
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let parts = cast(&arrays[0], &DataType::Utf8)?;
        let parts = parts.as_string::<i32>();
        let values = arrays[1].as_primitive::<TimestampMicrosecondType>();
        // The cut of the row before, as the part is almost always one constant.
        let mut last: Option<(&str, Cut)> = None;
        let mut out = Vec::with_capacity(values.len());
        for (part, value) in parts.iter().zip(values.iter()) {
            let (Some(part), Some(micros)) = (part, value) else {
                out.push(None);
                continue;
            };
            let cut = match last {
                Some((seen, cut)) if seen == part => cut,
                _ => {
                    let Some(cut) = Cut::parse(part) else {
                        return exec_err!("date_trunc: unknown date part '{part}'");
                    };
                    last = Some((part, cut));
                    cut
                }
            };
            match cut_micros(cut, micros, zone.as_ref()) {
                Some(start) => out.push(Some(start)),
                None => return exec_err!("date_trunc: the {part} of {micros} µs is out of range"),
            }
        }
        let out: Arc<dyn Array> =
            Arc::new(TimestampMicrosecondArray::from(out).with_data_type(return_type));
        if all_scalar {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
        }
        Ok(ColumnarValue::Array(out))
    }
}

#[cfg(test)]
mod tests {
    use super::super::date_diff::micros;
    use super::*;

    fn cut(part: &str, text: &str, zone: Option<&str>) -> String {
        let zone = zone.map(|z| z.parse::<Tz>().unwrap());
        let start = cut_micros(Cut::parse(part).unwrap(), micros(text), zone.as_ref()).unwrap();
        at(start).format("%Y-%m-%d %H:%M:%S%.f").to_string()
    }

    #[test]
    fn cuts_as_duckdb_does() {
        // Each answer is DuckDB 2.0's.
        let t = "2024-05-15 10:20:30.123456";
        let cases = [
            ("year", t, "2024-01-01 00:00:00"),
            ("yrs", t, "2024-01-01 00:00:00"),
            ("quarter", t, "2024-04-01 00:00:00"),
            ("mon", t, "2024-05-01 00:00:00"),
            ("week", t, "2024-05-13 00:00:00"),
            ("yearweek", t, "2024-05-13 00:00:00"),
            ("dow", t, "2024-05-15 00:00:00"),
            ("hours", t, "2024-05-15 10:00:00"),
            ("m", t, "2024-05-15 10:20:00"),
            ("epoch", t, "2024-05-15 10:20:30"),
            ("ms", t, "2024-05-15 10:20:30.123"),
            ("us", t, "2024-05-15 10:20:30.123456"),
            ("decade", t, "2020-01-01 00:00:00"),
            ("century", t, "2000-01-01 00:00:00"),
            ("millennium", t, "2000-01-01 00:00:00"),
            ("isoyear", "2021-01-02 00:00:00", "2019-12-30 00:00:00"),
            ("week", "2024-01-01 00:00:00", "2024-01-01 00:00:00"),
            // Outside the years nanoseconds hold.
            ("month", "0001-01-15 00:00:00", "0001-01-01 00:00:00"),
            ("week", "1500-05-05 10:00:00", "1500-04-30 00:00:00"),
            ("quarter", "9999-05-05 10:00:00", "9999-04-01 00:00:00"),
            // Before 1970 the microseconds are negative; the clock still cuts at the hour.
            ("hour", "1969-12-31 23:30:00", "1969-12-31 23:00:00"),
        ];
        for (part, value, start) in cases {
            assert_eq!(cut(part, value, None), start, "{part} of {value}");
        }
        assert_eq!(Cut::parse("fortnight"), None);
        assert_eq!(Cut::parse("era"), None);
    }

    #[test]
    fn a_zoned_time_is_cut_on_its_zones_clock() {
        // 02:00 UTC is 22:00 the day before in New York (EDT, -4): that day's midnight there
        // is 04:00 UTC.
        let zone = Some("America/New_York");
        assert_eq!(
            cut("day", "2024-05-15 02:00:00", zone),
            "2024-05-14 04:00:00"
        );
        assert_eq!(
            cut("month", "2024-05-01 02:00:00", zone),
            "2024-04-01 04:00:00"
        );
        assert_eq!(
            cut("hour", "2024-05-15 02:30:00", Some("+05:30")),
            "2024-05-15 02:30:00"
        );
    }
}
