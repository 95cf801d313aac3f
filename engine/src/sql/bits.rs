//! DuckDB's bit operations on integers that DataFusion lacks, for bit-packed flags and masks:
//! * `bit_count(x)`: the bits set in the two's-complement form, as a TINYINT
//!   (`bit_count(-1::INTEGER)` is 32, `bit_count(7)` 3);
//! * `~x`, the bitwise complement in `x`'s own type (`~1` is -2, `~1::UTINYINT` 254), which
//!   `rewrite::duckdb_operators` calls as [`BITWISE_NOT`].

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int8Array};
use datafusion::arrow::compute::kernels::bitwise::bitwise_not;
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

/// The function `~x` is planned as.
pub const BITWISE_NOT: &str = "bitwise_not";

/// The argument types of a function of one integer: integers as they are, NULL as a BIGINT.
fn one_integer(name: &str, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    match arg_types {
        [t] if t.is_integer() => Ok(arg_types.to_vec()),
        [DataType::Null] => Ok(vec![DataType::Int64]),
        [t] => plan_err!("{name} takes an integer, not {}", sql_type_name(t)),
        _ => plan_err!("{name} takes one argument"),
    }
}

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
        one_integer(self.name(), arg_types)
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

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BitwiseNot {
    signature: Signature,
}

impl BitwiseNot {
    pub fn new() -> Self {
        BitwiseNot {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The complement of each value of a primitive integer array.
fn complements<T: ArrowPrimitiveType>(values: &dyn Array) -> Result<ArrayRef>
where
    T::Native: std::ops::Not<Output = T::Native>,
{
    Ok(Arc::new(bitwise_not(values.as_primitive::<T>())?))
}

impl ScalarUDFImpl for BitwiseNot {
    fn name(&self) -> &str {
        BITWISE_NOT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        one_integer("~", arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let values = &arrays(&args.args, args.number_rows)?[0];
        let answer = match values.data_type() {
            DataType::Int8 => complements::<Int8Type>(values)?,
            DataType::Int16 => complements::<Int16Type>(values)?,
            DataType::Int32 => complements::<Int32Type>(values)?,
            DataType::Int64 => complements::<Int64Type>(values)?,
            DataType::UInt8 => complements::<UInt8Type>(values)?,
            DataType::UInt16 => complements::<UInt16Type>(values)?,
            DataType::UInt32 => complements::<UInt32Type>(values)?,
            DataType::UInt64 => complements::<UInt64Type>(values)?,
            other => return plan_err!("~ takes an integer, not {}", sql_type_name(other)),
        };
        call_value(&args.args, answer)
    }
}
