//! DuckDB's `list_sum(list)` (also `array_sum`): the sum of a list's non-NULL values in the
//! type `sum` gives (an integer list sums to a BIGINT, a DECIMAL(p, s) list to a
//! DECIMAL(38, s), floats to a DOUBLE), NULL for an empty list or one of NULLs. DataFusion's
//! sums every list as DOUBLE: `list_sum([1, 2])` was `3.0`, and a list of prices lost its
//! exact cents. An integer sum that overflows is an error, as `sum` is.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, ArrowNumericType, AsArray, GenericListArray, OffsetSizeTrait, PrimitiveArray,
};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Float64Type, Int64Type};
use datafusion::arrow::error::ArrowError;
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::{arrays, call_value};
use super::types::sql_type_name;

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListSum {
    signature: Signature,
    aliases: Vec<String>,
}

impl ListSum {
    pub fn new() -> Self {
        ListSum {
            signature: Signature::user_defined(Volatility::Immutable),
            aliases: vec!["array_sum".into()],
        }
    }
}

impl Default for ListSum {
    fn default() -> Self {
        Self::new()
    }
}

/// The type a list of `item`s sums in.
fn sum_type(item: &DataType) -> Option<DataType> {
    match item {
        t if t.is_integer() => Some(DataType::Int64),
        DataType::Null => Some(DataType::Int64),
        DataType::Decimal32(_, s)
        | DataType::Decimal64(_, s)
        | DataType::Decimal128(_, s)
        | DataType::Decimal256(_, s) => Some(DataType::Decimal128(38, *s)),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Some(DataType::Float64),
        _ => None,
    }
}

impl ScalarUDFImpl for ListSum {
    fn name(&self) -> &str {
        "list_sum"
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The list becomes a `List` of the sum's type, so the sum needs no casts per value.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [list] = arg_types else {
            return plan_err!("list_sum takes one list");
        };
        let item = match list {
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                f.data_type()
            }
            other => return plan_err!("list_sum takes a list, not {}", sql_type_name(other)),
        };
        match sum_type(item) {
            Some(sum) => Ok(vec![DataType::new_list(sum, true)]),
            None => plan_err!("list_sum cannot add {} values", sql_type_name(item)),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::List(item)] => Ok(item.data_type().clone()),
            _ => plan_err!("list_sum takes one list"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let lists = &arrays(&args.args, args.number_rows)?[0];
        let lists = lists.as_list::<i32>();
        let sums: ArrayRef = match lists.value_type() {
            DataType::Int64 => Arc::new(sum_lists::<Int64Type, _>(lists, i64::checked_add)?),
            DataType::Decimal128(p, s) => Arc::new(
                sum_lists::<Decimal128Type, _>(lists, i128::checked_add)?
                    .with_precision_and_scale(p, s)?,
            ),
            _ => Arc::new(sum_lists::<Float64Type, _>(lists, |a, b| Some(a + b))?),
        };
        call_value(&args.args, sums)
    }
}

/// Each list's sum of its non-NULL values, by `add` (which answers `None` on overflow).
fn sum_lists<T: ArrowNumericType, O: OffsetSizeTrait>(
    lists: &GenericListArray<O>,
    add: impl Fn(T::Native, T::Native) -> Option<T::Native>,
) -> Result<PrimitiveArray<T>> {
    let values = lists.values().as_primitive::<T>();
    let offsets = lists.value_offsets();
    let mut sums = Vec::with_capacity(lists.len());
    for row in 0..lists.len() {
        let mut sum: Option<T::Native> = None;
        if lists.is_valid(row) {
            for at in offsets[row].as_usize()..offsets[row + 1].as_usize() {
                if values.is_null(at) {
                    continue;
                }
                let value = values.value(at);
                sum = match sum {
                    None => Some(value),
                    Some(sum) => match add(sum, value) {
                        Some(total) => Some(total),
                        None => {
                            let message = format!(
                                "Overflow in list_sum of {}",
                                sql_type_name(&lists.value_type())
                            );
                            return Err(DataFusionError::ArrowError(
                                Box::new(ArrowError::ArithmeticOverflow(message)),
                                None,
                            ));
                        }
                    },
                };
            }
        }
        sums.push(sum);
    }
    Ok(sums.into_iter().collect())
}
