//! DuckDB's `array_value(a, b, ...)`: a fixed-size ARRAY of its arguments (`INTEGER[3]` for
//! three integers), where `list_value` makes a LIST. A fixed size is what embedding columns
//! and `array_cosine_similarity` take.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, FixedSizeListArray};
use datafusion::arrow::compute::interleave;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::type_coercion::binary::type_union_resolution;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::{arrays, call_value};
use super::types::sql_type_name;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ArrayValue {
    signature: Signature,
}

impl ArrayValue {
    pub fn new() -> Self {
        ArrayValue {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ArrayValue {
    fn name(&self) -> &str {
        "array_value"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.is_empty() {
            return plan_err!("array_value requires at least one argument");
        }
        match type_union_resolution(arg_types) {
            Some(common) => Ok(vec![common; arg_types.len()]),
            None => plan_err!(
                "array_value cannot hold {} together",
                arg_types
                    .iter()
                    .map(sql_type_name)
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let element = match &arg_types[0] {
            DataType::Null => DataType::Int32,
            other => other.clone(),
        };
        Ok(DataType::FixedSizeList(
            Arc::new(Field::new_list_field(element, true)),
            arg_types.len() as i32,
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let DataType::FixedSizeList(field, size) = args.return_field.data_type().clone() else {
            unreachable!("return_type gives a fixed-size list");
        };
        let mut columns = arrays(&args.args, args.number_rows)?;
        for column in &mut columns {
            if column.data_type() != field.data_type() {
                *column = datafusion::arrow::compute::cast(column, field.data_type())?;
            }
        }
        // Row by row, each argument's value in turn.
        let places: Vec<(usize, usize)> = (0..args.number_rows)
            .flat_map(|row| (0..columns.len()).map(move |arg| (arg, row)))
            .collect();
        let sources: Vec<&dyn Array> = columns.iter().map(|c| c.as_ref()).collect();
        let values = interleave(&sources, &places)?;
        let array: ArrayRef = Arc::new(FixedSizeListArray::try_new(field, size, values, None)?);
        call_value(&args.args, array)
    }
}
