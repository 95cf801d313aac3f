//! DuckDB's `strptime(text, format)` and `try_strptime(text, format)`: the timestamp a string
//! spells in a format, or in the first of a list of formats that fits it
//! (`strptime(s, ['%d/%m/%Y', '%Y-%m-%d'])`).
//!
//! The format is DuckDB's: chrono's specifiers, with `%g`, `%f` and `%n` for milliseconds,
//! microseconds and nanoseconds as three, six and nine digits. Fields the format leaves out
//! take DuckDB's defaults (1900-01-01 00:00:00): `strptime('10', '%H')` is 1900-01-01 10:00.
//! DataFusion's `to_timestamp`, which the name meant before, read `'2024-03-05 10'` with
//! `'%Y-%m-%d %H'` as midnight. A time with an offset (`%z`) gives the UTC time. `strptime`
//! fails on a string no format fits, naming it; `try_strptime` gives NULL.
//!
//! The result is a TIMESTAMP (microseconds, years 1 to 9999 as in DuckDB), or a TIMESTAMP_NS
//! where the format is a constant that reads nanoseconds (`%n`), as DuckDB types it.
//!
//! `strftime(value, format)` writes in the same spelling ([`strftime_in_chrono_spelling`]).

use std::sync::Arc;

use chrono::format::{Parsed, StrftimeItems, parse};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, ListArray, StringArray, TimestampMicrosecondArray,
    TimestampNanosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, TimeUnit};
use datafusion::common::{Result, ScalarValue, exec_err, internal_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use sqlparser::ast::{Expr, Value};

use super::function_names::{plain_arguments, plain_name};
use super::rewrite::call;
use super::text_functions::{arrays, call_value, is_text};
use super::types::sql_type_name;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Strptime {
    signature: Signature,
    /// `try_strptime`: NULL where no format fits.
    lenient: bool,
}

impl Strptime {
    pub fn new(lenient: bool) -> Self {
        Strptime {
            signature: Signature::user_defined(Volatility::Immutable),
            lenient,
        }
    }
}

impl ScalarUDFImpl for Strptime {
    fn name(&self) -> &str {
        match self.lenient {
            true => "try_strptime",
            false => "strptime",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let list = DataType::new_list(DataType::Utf8, true);
        match arg_types {
            [text, format] if is_text(text) || text.is_null() => {
                let format = match format {
                    DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _)
                        if is_text(f.data_type()) || f.data_type().is_null() =>
                    {
                        list
                    }
                    f if is_text(f) || f.is_null() => DataType::Utf8,
                    other => {
                        return plan_err!(
                            "{}: the format is text or a list of text, not {}",
                            self.name(),
                            sql_type_name(other)
                        );
                    }
                };
                Ok(vec![DataType::Utf8, format])
            }
            [text, _] => plan_err!("{} reads text, not {}", self.name(), sql_type_name(text)),
            _ => plan_err!("{} takes a string and a format", self.name()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        internal_err!("strptime's type depends on its format: return_field_from_args")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let unit = match args.scalar_arguments.get(1) {
            Some(Some(format)) if reads_nanoseconds(format) => TimeUnit::Nanosecond,
            _ => TimeUnit::Microsecond,
        };
        Ok(Arc::new(Field::new(
            self.name(),
            DataType::Timestamp(unit, None),
            true,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let unit = match args.return_field.data_type() {
            DataType::Timestamp(unit, _) => *unit,
            other => return internal_err!("strptime planned as {other}"),
        };
        let arrays = arrays(&args.args, args.number_rows)?;
        let texts = arrays[0].as_string::<i32>();
        let formats = formats_per_row(&arrays[1])?;
        let mut out = Vec::with_capacity(texts.len());
        for row in 0..texts.len() {
            let Some(formats) = formats[row].as_ref().filter(|_| texts.is_valid(row)) else {
                out.push(None);
                continue;
            };
            let text = texts.value(row);
            match formats
                .iter()
                .find_map(|format| timestamp(text, format, unit))
            {
                Some(value) => out.push(Some(value)),
                None if self.lenient => out.push(None),
                None => {
                    return exec_err!(
                        "strptime: '{text}' does not fit the format {} (try_strptime gives NULL)",
                        formats
                            .iter()
                            .map(|f| format!("'{f}'"))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    );
                }
            }
        }
        let out: ArrayRef = match unit {
            TimeUnit::Nanosecond => Arc::new(TimestampNanosecondArray::from(out)),
            _ => Arc::new(TimestampMicrosecondArray::from(out)),
        };
        call_value(&args.args, out)
    }
}

/// Whether a constant format (or list of formats) reads nanoseconds (`%n`).
fn reads_nanoseconds(format: &ScalarValue) -> bool {
    match format {
        ScalarValue::List(list) => (0..list.values().len()).any(|i| {
            ScalarValue::try_from_array(list.values(), i).is_ok_and(|f| reads_nanoseconds(&f))
        }),
        other => other
            .try_as_str()
            .flatten()
            .is_some_and(|f| f.contains("%n")),
    }
}

/// Each row's formats (one, or a list's); `None` where the format is NULL.
fn formats_per_row(formats: &ArrayRef) -> Result<Vec<Option<Vec<String>>>> {
    let strings = |array: &ArrayRef| -> Result<StringArray> {
        Ok(cast(array, &DataType::Utf8)?.as_string::<i32>().clone())
    };
    if let DataType::List(_) = formats.data_type() {
        let lists: &ListArray = formats.as_list::<i32>();
        return (0..lists.len())
            .map(|row| {
                if lists.is_null(row) {
                    return Ok(None);
                }
                let values = strings(&lists.value(row))?;
                Ok(Some(
                    values
                        .iter()
                        .flatten()
                        .map(|f| duckdb_format(f, false))
                        .collect(),
                ))
            })
            .collect();
    }
    let values = strings(formats)?;
    Ok(values
        .iter()
        .map(|f| f.map(|f| vec![duckdb_format(f, false)]))
        .collect())
}

/// Whether `text` reads in DuckDB's `format`.
pub(super) fn fits(text: &str, format: &str) -> bool {
    timestamp(text, &duckdb_format(format, false), TimeUnit::Microsecond).is_some()
}

/// `strftime(value, 'format')`, or DuckDB's other order `strftime('format', value)`, with a
/// constant format: DataFusion's `to_char` with the format in chrono's spelling
/// ([`duckdb_format`]). Chrono's `%f` alone is nine digits, DuckDB's six.
pub(super) fn strftime_in_chrono_spelling(expr: &mut Expr) {
    let Expr::Function(function) = expr else {
        return;
    };
    if plain_name(&function.name).as_deref() != Some("strftime") {
        return;
    }
    let Some(args) = plain_arguments(function) else {
        return;
    };
    let text = |arg: &Expr| match arg {
        Expr::Value(v) => v.value.clone().into_string(),
        _ => None,
    };
    let [first, second] = args.as_slice() else {
        return;
    };
    let (value, format) = match (text(second), text(first)) {
        (Some(format), _) => (first, format),
        (None, Some(format)) => (second, format),
        (None, None) => return,
    };
    let format = Expr::value(Value::SingleQuotedString(duckdb_format(&format, true)));
    *expr = call("to_char", [value.clone(), format]);
}

/// DuckDB's fraction specifiers in chrono's spelling: `%g` milliseconds, `%f` microseconds,
/// `%n` nanoseconds, each a fixed number of digits. A format for `strftime` (`writing`) also
/// spells out `%c`, `%x` and `%X` as DuckDB writes them (ISO 8601, not chrono's locale
/// forms), and writes a time without a zone as DuckDB does: `%z` as `+00`, `%Z` as nothing.
pub(super) fn duckdb_format(format: &str, writing: bool) -> String {
    let mut out = String::with_capacity(format.len() + 4);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('g') => out.push_str("%3f"),
            Some('f') => out.push_str("%6f"),
            Some('n') => out.push_str("%9f"),
            Some('c') if writing => out.push_str("%Y-%m-%d %H:%M:%S"),
            Some('x') if writing => out.push_str("%Y-%m-%d"),
            Some('X') if writing => out.push_str("%H:%M:%S"),
            Some('z') if writing => out.push_str("+00"),
            Some('Z') if writing => {}
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Microseconds or nanoseconds (`unit`) since the epoch of `text` read in `format` (chrono's
/// spelling), the fields it leaves out defaulted as DuckDB defaults them; `None` where it does
/// not fit or the unit cannot hold it.
fn timestamp(text: &str, format: &str, unit: TimeUnit) -> Option<i64> {
    let mut parsed = Parsed::new();
    parse(&mut parsed, text, StrftimeItems::new(format)).ok()?;
    let has_year = parsed.year().is_some()
        || parsed.year_mod_100().is_some()
        || parsed.isoyear().is_some()
        || parsed.timestamp().is_some();
    let dated_otherwise = parsed.ordinal().is_some()
        || parsed.isoweek().is_some()
        || parsed.week_from_mon().is_some()
        || parsed.week_from_sun().is_some()
        || parsed.timestamp().is_some();
    if !has_year {
        parsed.set_year(1900).ok()?;
    }
    if !dated_otherwise {
        if parsed.month().is_none() {
            parsed.set_month(1).ok()?;
        }
        if parsed.day().is_none() {
            parsed.set_day(1).ok()?;
        }
    }
    if parsed.timestamp().is_none() {
        if parsed.hour_div_12().is_none() && parsed.hour_mod_12().is_none() {
            parsed.set_hour(0).ok()?;
        }
        if parsed.minute().is_none() {
            parsed.set_minute(0).ok()?;
        }
        if parsed.second().is_none() {
            parsed.set_second(0).ok()?;
        }
    }
    // The fields as written, then moved to UTC by the offset they were written in.
    let offset = parsed.offset().unwrap_or(0);
    let written = parsed.to_naive_datetime_with_offset(offset).ok()?.and_utc();
    let (value, per_second) = match unit {
        TimeUnit::Nanosecond => (written.timestamp_nanos_opt()?, 1_000_000_000),
        _ => (written.timestamp_micros(), 1_000_000),
    };
    value.checked_sub(i64::from(offset) * per_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, format: &str) -> Option<String> {
        timestamp(text, &duckdb_format(format, false), TimeUnit::Nanosecond).map(|nanos| {
            chrono::DateTime::from_timestamp_nanos(nanos)
                .naive_utc()
                .to_string()
        })
    }

    #[test]
    fn fields_left_out_take_duckdbs_defaults() {
        assert_eq!(
            at("2024-03-05 10", "%Y-%m-%d %H").unwrap(),
            "2024-03-05 10:00:00"
        );
        assert_eq!(at("10:30", "%H:%M").unwrap(), "1900-01-01 10:30:00");
        assert_eq!(at("2024", "%Y").unwrap(), "2024-01-01 00:00:00");
        assert_eq!(at("2024-066", "%Y-%j").unwrap(), "2024-03-06 00:00:00");
        assert_eq!(
            at("2024-03-05 10 PM", "%Y-%m-%d %I %p").unwrap(),
            "2024-03-05 22:00:00"
        );
    }

    #[test]
    fn fractions_and_offsets_read_as_duckdb_reads_them() {
        assert_eq!(
            at("2024-03-05T10:30:00.123Z", "%Y-%m-%dT%H:%M:%S.%gZ").unwrap(),
            "2024-03-05 10:30:00.123"
        );
        assert_eq!(
            at("10:30:00.000123", "%H:%M:%S.%f").unwrap(),
            "1900-01-01 10:30:00.000123"
        );
        assert_eq!(
            at("2024-03-05 10:30 +02:00", "%Y-%m-%d %H:%M %z").unwrap(),
            "2024-03-05 08:30:00"
        );
    }

    #[test]
    fn text_that_does_not_fit_gives_none() {
        assert_eq!(at("x", "%H"), None);
        assert_eq!(at("2024-03-05 trailing", "%Y-%m-%d"), None);
        assert_eq!(at("2024-02-30", "%Y-%m-%d"), None);
    }
}
