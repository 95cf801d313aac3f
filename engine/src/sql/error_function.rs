//! DuckDB's `error(message)`: fails the query with `message`, as an assertion inside a query
//! (`CASE WHEN score > 1 THEN error('score out of range: ' || id) END`). Only the rows the
//! call is evaluated for count: under a CASE, the rows whose condition holds.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::{arrays, is_text};

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ErrorFunction {
    signature: Signature,
}

impl ErrorFunction {
    pub fn new() -> Self {
        ErrorFunction {
            // Volatile: a constant call must fail when a row reaches it, not when it is
            // planned.
            signature: Signature::user_defined(Volatility::Volatile),
        }
    }
}

impl Default for ErrorFunction {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for ErrorFunction {
    fn name(&self) -> &str {
        "error"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if is_text(t) || t.is_null() => Ok(vec![DataType::Utf8]),
            _ => plan_err!("error takes one message"),
        }
    }

    /// No value: NULL fits any branch of a CASE.
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Null)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let messages = &arrays(&args.args, args.number_rows)?[0];
        let messages = messages.as_string::<i32>();
        if let Some(row) = (0..messages.len()).find(|&row| messages.is_valid(row)) {
            return exec_err!("{}", messages.value(row));
        }
        Ok(ColumnarValue::Scalar(ScalarValue::Null))
    }
}
