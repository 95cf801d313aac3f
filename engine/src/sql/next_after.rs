//! DuckDB's `nextafter(x, y)`: the floating-point value next to `x` in the direction of `y`
//! (`x` itself when they are equal), for probing rounding and building half-open bounds.
//! FLOAT when one argument is a FLOAT and the other a FLOAT or an integer, else DOUBLE.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Float32Array, Float64Array};
use datafusion::arrow::datatypes::{DataType, Float32Type, Float64Type};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::{arrays, call_value};
use super::types::sql_type_name;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NextAfter {
    signature: Signature,
}

impl NextAfter {
    pub fn new() -> Self {
        NextAfter {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// Generates the step for one float width.
macro_rules! step_towards {
    ($name:ident, $float:ty) => {
        fn $name(x: $float, towards: $float) -> $float {
            if x.is_nan() || towards.is_nan() {
                <$float>::NAN
            } else if x < towards {
                x.next_up()
            } else if x > towards {
                x.next_down()
            } else {
                towards
            }
        }
    };
}
step_towards!(step_f32, f32);
step_towards!(step_f64, f64);

impl ScalarUDFImpl for NextAfter {
    fn name(&self) -> &str {
        "nextafter"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [x, y] = arg_types else {
            return plan_err!("nextafter takes two numbers");
        };
        if let Some(other) = [x, y].into_iter().find(|t| !t.is_numeric() && !t.is_null()) {
            return plan_err!("nextafter takes numbers, not {}", sql_type_name(other));
        }
        let single = |t: &DataType| *t == DataType::Float32;
        let narrow = |t: &DataType| single(t) || t.is_integer() || t.is_null();
        let float = match (single(x) || single(y)) && narrow(x) && narrow(y) {
            true => DataType::Float32,
            false => DataType::Float64,
        };
        Ok(vec![float.clone(), float])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args.args, args.number_rows)?;
        let (x, y) = (&arrays[0], &arrays[1]);
        let answer: ArrayRef = match x.data_type() {
            DataType::Float32 => {
                let (x, y) = (
                    x.as_primitive::<Float32Type>(),
                    y.as_primitive::<Float32Type>(),
                );
                let steps: Float32Array = x
                    .iter()
                    .zip(y.iter())
                    .map(|(x, y)| Some(step_f32(x?, y?)))
                    .collect();
                Arc::new(steps)
            }
            _ => {
                let (x, y) = (
                    x.as_primitive::<Float64Type>(),
                    y.as_primitive::<Float64Type>(),
                );
                let steps: Float64Array = x
                    .iter()
                    .zip(y.iter())
                    .map(|(x, y)| Some(step_f64(x?, y?)))
                    .collect();
                Arc::new(steps)
            }
        };
        call_value(&args.args, answer)
    }
}
