//! Timestamps as DuckDB writes them: a space between the date and the time, the fraction of a
//! second only as long as it needs to be (`2024-01-02 03:04:05.5`, where Arrow writes
//! `2024-01-02T03:04:05.500`), and a zone's offset after it (`+00`, `+05:30`). The shell's
//! output, `to_json` and a cast to text ([`TimestampText`]) spell them so.

use std::sync::Arc;

use chrono::{NaiveDateTime, Offset, Timelike};
use datafusion::arrow::array::temporal_conversions::{as_datetime, as_datetime_with_timezone};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::{
    ArrowTimestampType, DataType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

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

/// The name `CAST(timestamp AS VARCHAR)` is planned as ([`TimestampText`]).
pub const TIMESTAMP_TEXT: &str = "duckdb_timestamp_text";

/// A timestamp as DuckDB's text: what a cast of a timestamp to text gives in DuckDB (Arrow's
/// cast writes `2024-01-02T03:04:05.500`). `optimizer::TimestampCasts` plans such casts as
/// this function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TimestampText {
    signature: Signature,
}

impl TimestampText {
    pub fn new() -> Self {
        TimestampText {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for TimestampText {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for TimestampText {
    fn name(&self) -> &str {
        TIMESTAMP_TEXT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [DataType::Timestamp(..)] => Ok(arg_types.to_vec()),
            _ => plan_err!("{TIMESTAMP_TEXT} takes one timestamp"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let column = args.args[0].to_array(args.number_rows)?;
        let text = timestamp_text(&column)?.expect("a timestamp column, as coerced");
        Ok(match &args.args[0] {
            ColumnarValue::Scalar(_) => {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&text, 0)?)
            }
            ColumnarValue::Array(_) => ColumnarValue::Array(text),
        })
    }
}
