//! DuckDB's `sign(x)`: -1, 0 or 1 as a TINYINT, 0 for NaN and for -0.0. DataFusion's
//! `signum`, which `sign` named before, gives a DOUBLE (`1.0`) and NaN for NaN.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, Int8Array};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::arrays;
use super::types::sql_type_name;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Sign {
    signature: Signature,
}

impl Sign {
    pub fn new() -> Self {
        Sign {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Sign {
    fn name(&self) -> &str {
        "sign"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Any number is read as a DOUBLE, which keeps every value's sign.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if t.is_numeric() || t.is_null() => Ok(vec![DataType::Float64]),
            [t] => plan_err!("sign takes a number, not {}", sql_type_name(t)),
            _ => plan_err!("sign takes one number"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args.args, args.number_rows)?;
        let signs: Int8Array = arrays[0]
            .as_primitive::<Float64Type>()
            .unary(|x| (x > 0.0) as i8 - (x < 0.0) as i8);
        Ok(ColumnarValue::Array(Arc::new(signs)))
    }
}
