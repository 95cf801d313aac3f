//! DuckDB's `to_base(number, radix [, min_length])`: a non-negative integer's digits in a radix
//! from 2 to 36, upper case, padded with leading zeros to `min_length` (`to_base(255, 2, 10)` is
//! `0011111111`). As in DuckDB, a negative number or a radix out of range fails, naming it.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::{arrays, call_value};
use super::types::sql_type_name;

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ToBase {
    signature: Signature,
}

impl ToBase {
    pub fn new() -> Self {
        ToBase {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for ToBase {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for ToBase {
    fn name(&self) -> &str {
        "to_base"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(2..=3).contains(&arg_types.len()) {
            return plan_err!("to_base takes a number, a radix and optionally a minimum length");
        }
        match arg_types.iter().find(|t| !t.is_integer() && !t.is_null()) {
            Some(other) => plan_err!("to_base takes integers, not {}", sql_type_name(other)),
            None => Ok(vec![DataType::Int64; arg_types.len()]),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args.args, args.number_rows)?;
        let columns: Vec<_> = arrays
            .iter()
            .map(|a| a.as_primitive::<Int64Type>())
            .collect();
        let mut text = StringBuilder::with_capacity(args.number_rows, args.number_rows * 8);
        for row in 0..args.number_rows {
            if columns.iter().any(|column| column.is_null(row)) {
                text.append_null();
                continue;
            }
            let (number, radix) = (columns[0].value(row), columns[1].value(row));
            let min_length = columns.get(2).map_or(0, |c| c.value(row));
            text.append_value(digits(number, radix, min_length)?);
        }
        call_value(&args.args, Arc::new(text.finish()))
    }
}

/// `number`'s digits in `radix`, at least `min_length` of them.
fn digits(number: i64, radix: i64, min_length: i64) -> Result<String> {
    if number < 0 {
        return exec_err!("'to_base' number must be greater than or equal to 0, not {number}");
    }
    if !(2..=36).contains(&radix) {
        return exec_err!("'to_base' radix must be between 2 and 36, not {radix}");
    }
    let (mut rest, radix) = (number as u64, radix as u64);
    let mut reversed = Vec::new();
    loop {
        let digit = char::from_digit((rest % radix) as u32, radix as u32).expect("below radix");
        reversed.push(digit.to_ascii_uppercase());
        rest /= radix;
        if rest == 0 {
            break;
        }
    }
    let padding = (min_length.max(0) as usize).saturating_sub(reversed.len());
    Ok(std::iter::repeat_n('0', padding)
        .chain(reversed.into_iter().rev())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::digits;

    #[test]
    fn digits_are_duckdbs() {
        assert_eq!(digits(255, 16, 0).unwrap(), "FF");
        assert_eq!(digits(255, 2, 10).unwrap(), "0011111111");
        assert_eq!(digits(0, 2, 0).unwrap(), "0");
        assert_eq!(digits(35, 36, 0).unwrap(), "Z");
        assert_eq!(digits(255, 16, 1).unwrap(), "FF");
        assert_eq!(digits(i64::MAX, 2, 0).unwrap(), "1".repeat(63));
        assert!(
            digits(-1, 16, 0)
                .unwrap_err()
                .to_string()
                .contains("number must be")
        );
        assert!(
            digits(10, 37, 0)
                .unwrap_err()
                .to_string()
                .contains("radix must be")
        );
    }
}
