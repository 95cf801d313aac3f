//! Floating-point numbers as DuckDB writes them (see `super`).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::Result;

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
