//! DuckDB's `bit_count(x)`: the bits set in an integer's two's-complement form, as a TINYINT
//! (`bit_count(-1::INTEGER)` is 32, `bit_count(7)` 3), for bit-packed flags and masks.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int8Array};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::{arrays, call_value};
use super::types::sql_type_name;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BitCount {
    signature: Signature,
}

impl BitCount {
    pub fn new() -> Self {
        BitCount {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The set bits of each value of a primitive integer array.
fn counts<T: ArrowPrimitiveType>(values: &dyn Array, ones: fn(T::Native) -> u32) -> ArrayRef {
    let counted: Int8Array = values
        .as_primitive::<T>()
        .iter()
        .map(|v| v.map(|v| ones(v) as i8))
        .collect();
    Arc::new(counted)
}

impl ScalarUDFImpl for BitCount {
    fn name(&self) -> &str {
        "bit_count"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if t.is_integer() => Ok(arg_types.to_vec()),
            [DataType::Null] => Ok(vec![DataType::Int64]),
            [t] => plan_err!("bit_count takes an integer, not {}", sql_type_name(t)),
            _ => plan_err!("bit_count takes one argument"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let values = &arrays(&args.args, args.number_rows)?[0];
        let answer = match values.data_type() {
            DataType::Int8 => counts::<Int8Type>(values, i8::count_ones),
            DataType::Int16 => counts::<Int16Type>(values, i16::count_ones),
            DataType::Int32 => counts::<Int32Type>(values, i32::count_ones),
            DataType::Int64 => counts::<Int64Type>(values, i64::count_ones),
            DataType::UInt8 => counts::<UInt8Type>(values, u8::count_ones),
            DataType::UInt16 => counts::<UInt16Type>(values, u16::count_ones),
            DataType::UInt32 => counts::<UInt32Type>(values, u32::count_ones),
            DataType::UInt64 => counts::<UInt64Type>(values, u64::count_ones),
            other => return plan_err!("bit_count takes an integer, not {}", sql_type_name(other)),
        };
        call_value(&args.args, answer)
    }
}
