//! Values as DuckDB writes them as text, where Arrow writes them otherwise. The shell's output,
//! `to_json` and a cast to text ([`DuckDbText`]) spell them so.
//!
//! * Timestamps: a space between the date and the time, the fraction of a second only as long
//!   as it needs to be (`2024-01-02 03:04:05.5`, where Arrow writes `2024-01-02T03:04:05.500`),
//!   and a zone's offset after it (`+00`, `+05:30`).
//! * Floating-point numbers: Arrow's shortest text that reads back as the same number, but an
//!   exponent with its sign and two digits at least (`1e+20`, `1e-07`; Arrow: `1e20`, `1e-7`),
//!   and NaN as `nan` (`-nan` with the sign bit set; Arrow: `NaN`).

use std::sync::Arc;

use chrono::{NaiveDateTime, Offset, Timelike};
use datafusion::arrow::array::temporal_conversions::{as_datetime, as_datetime_with_timezone};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    ArrowTimestampType, DataType, Float64Type, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// Whether DuckDB writes values of this type otherwise than Arrow (see the module
/// documentation).
pub fn respelled(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Timestamp(..) | DataType::Float16 | DataType::Float32 | DataType::Float64
    )
}

/// A float column as DuckDB's text; `None` when `column` holds no floats, or none that DuckDB
/// writes otherwise than Arrow.
pub fn float_text(column: &ArrayRef) -> Result<Option<ArrayRef>> {
    if !matches!(
        column.data_type(),
        DataType::Float16 | DataType::Float32 | DataType::Float64
    ) {
        return Ok(None);
    }
    let numbers = cast(column, &DataType::Float64)?;
    let numbers = numbers.as_primitive::<Float64Type>();
    let formatter = ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default())?;
    let mut respelled = false;
    let text: StringArray = (0..column.len())
        .map(|row| {
            column.is_valid(row).then(|| {
                let arrow = formatter.value(row).to_string();
                let duckdb = number_text(numbers.value(row), &arrow);
                respelled |= duckdb != arrow;
                duckdb
            })
        })
        .collect();
    Ok(respelled.then(|| Arc::new(text) as ArrayRef))
}

/// DuckDB's text for `value`, given Arrow's.
fn number_text(value: f64, arrow: &str) -> String {
    if value.is_nan() {
        return match value.is_sign_negative() {
            true => "-nan".into(),
            false => "nan".into(),
        };
    }
    match arrow.split_once('e') {
        Some((mantissa, exponent)) => match exponent.parse::<i32>() {
            Ok(e) => format!("{mantissa}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs()),
            Err(_) => arrow.to_string(),
        },
        None => arrow.to_string(),
    }
}

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

/// The name a cast of a timestamp or a float to text is planned as ([`DuckDbText`]).
pub const DUCKDB_TEXT: &str = "duckdb_text";

/// A timestamp or a floating-point number as DuckDB's text: what a cast to text gives in
/// DuckDB. `optimizer::TextCasts` plans such casts as this function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DuckDbText {
    signature: Signature,
}

impl DuckDbText {
    pub fn new() -> Self {
        DuckDbText {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for DuckDbText {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for DuckDbText {
    fn name(&self) -> &str {
        DUCKDB_TEXT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if respelled(t) => Ok(arg_types.to_vec()),
            _ => plan_err!("{DUCKDB_TEXT} takes one timestamp or floating-point number"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let column = args.args[0].to_array(args.number_rows)?;
        let text = match timestamp_text(&column)? {
            Some(text) => text,
            None => float_text(&column)?.unwrap_or(cast(&column, &DataType::Utf8)?),
        };
        Ok(match &args.args[0] {
            ColumnarValue::Scalar(_) => {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&text, 0)?)
            }
            ColumnarValue::Array(_) => ColumnarValue::Array(text),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::number_text;

    #[test]
    fn exponents_and_nans_as_duckdb_writes_them() {
        for (value, arrow, duckdb) in [
            (1e20, "1e20", "1e+20"),
            (1e-7, "1e-7", "1e-07"),
            (1.5e300, "1.5e300", "1.5e+300"),
            (1e15, "1000000000000000.0", "1000000000000000.0"),
            (0.1, "0.1", "0.1"),
            (f64::NAN, "NaN", "nan"),
            (-f64::NAN, "NaN", "-nan"),
            (f64::INFINITY, "inf", "inf"),
        ] {
            assert_eq!(number_text(value, arrow), duckdb);
        }
    }
}
