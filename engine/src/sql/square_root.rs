//! DuckDB 2.0's `sqrt(x)`: a DOUBLE, NaN for a negative number. DataFusion's fails the query
//! instead ("cannot take square root of a negative number"), so one negative value in a column
//! of billions (a variance that rounding took below zero) stopped the whole job.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::arrays;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SquareRoot {
    signature: Signature,
}

impl SquareRoot {
    pub fn new() -> Self {
        SquareRoot {
            signature: Signature::uniform(1, vec![DataType::Float64], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SquareRoot {
    fn name(&self) -> &str {
        "sqrt"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args.args, args.number_rows)?;
        let roots: Float64Array = arrays[0].as_primitive::<Float64Type>().unary(f64::sqrt);
        Ok(ColumnarValue::Array(Arc::new(roots)))
    }
}
