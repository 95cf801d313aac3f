//! DuckDB's `repeat(x, n)`, which repeats a list as well as a string: `repeat([1, 2], 2)` is
//! `[1, 2, 1, 2]` (a prompt's few-shot examples, a padding pattern); a count below one gives
//! the empty list. DataFusion's `repeat` takes strings only, and repeats them here.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, ListArray, UInt64Array};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, exec_err};
use datafusion::functions::string::repeat;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::{arrays, call_value, coerced_arguments, is_list};

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Repeat {
    /// DataFusion's `repeat`, for strings.
    strings: Arc<ScalarUDF>,
    signature: Signature,
}

impl Repeat {
    pub fn new() -> Self {
        Repeat {
            strings: repeat(),
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for Repeat {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for Repeat {
    fn name(&self) -> &str {
        "repeat"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [
                DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _),
                _,
            ] => Ok(vec![DataType::List(Arc::clone(item)), DataType::Int64]),
            _ => coerced_arguments(&self.strings, arg_types),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types.first() {
            Some(list) if is_list(list) => Ok(list.clone()),
            _ => self.strings.return_type(arg_types),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if !is_list(&args.args[0].data_type()) {
            return self.strings.invoke_with_args(args);
        }
        let arrays = arrays(&args.args, args.number_rows)?;
        let (lists, counts) = (
            arrays[0].as_list::<i32>(),
            arrays[1].as_primitive::<Int64Type>(),
        );
        // Each row's items, `count` times over, as positions in the lists' values.
        let mut positions: Vec<u64> = Vec::new();
        let mut lengths = Vec::with_capacity(lists.len());
        for row in 0..lists.len() {
            let (start, end) = (
                lists.value_offsets()[row] as u64,
                lists.value_offsets()[row + 1] as u64,
            );
            let count = match lists.is_valid(row) && counts.is_valid(row) {
                true => counts.value(row).max(0) as u64,
                false => 0,
            };
            let length = (end - start) * count;
            if positions.len() as u64 + length > i32::MAX as u64 {
                return exec_err!("repeat: the lists would hold more than 2^31 items");
            }
            for _ in 0..count {
                positions.extend(start..end);
            }
            lengths.push(length as usize);
        }
        let values = take(lists.values(), &UInt64Array::from(positions), None)?;
        let nulls = datafusion::arrow::buffer::NullBuffer::union(lists.nulls(), counts.nulls());
        let DataType::List(item) = lists.data_type() else {
            unreachable!("coerced to a List");
        };
        let repeated = ListArray::try_new(
            Arc::clone(item),
            OffsetBuffer::from_lengths(lengths),
            values,
            nulls,
        )?;
        call_value(&args.args, Arc::new(repeated))
    }
}
