//! DuckDB's `contains(x, v)`, which asks a list whether it holds an item and a map whether it
//! has a key as well as a string whether it holds a substring: `contains(tags, 'code')`,
//! `contains(metadata, 'license')`. DataFusion's `contains` takes strings only, and answers
//! for them here; lists go to its `array_has`, a map's keys too.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, ListArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::functions::string::contains;
use datafusion::functions_nested::array_has::array_has_udf;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use super::text_functions::{coerced_arguments, is_list};

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Contains {
    /// DataFusion's `contains`, for strings.
    strings: Arc<ScalarUDF>,
    /// DataFusion's `array_has`, for lists and a map's keys.
    lists: Arc<ScalarUDF>,
    signature: Signature,
}

impl Contains {
    pub fn new() -> Self {
        Contains {
            strings: contains(),
            lists: array_has_udf(),
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for Contains {
    fn default() -> Self {
        Self::new()
    }
}

/// The list of a map's keys, as the type of a map's keys' list.
fn keys_list_type(map: &DataType) -> Option<DataType> {
    let DataType::Map(entries, _) = map else {
        return None;
    };
    let DataType::Struct(fields) = entries.data_type() else {
        return None;
    };
    let key = fields.first()?;
    Some(DataType::List(Arc::new(Field::new(
        "item",
        key.data_type().clone(),
        true,
    ))))
}

impl ScalarUDFImpl for Contains {
    fn name(&self) -> &str {
        "contains"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [list, _] if is_list(list) => coerced_arguments(&self.lists, arg_types),
            [map, key] => match keys_list_type(map) {
                Some(keys) => {
                    let coerced = coerced_arguments(&self.lists, &[keys, key.clone()])?;
                    Ok(vec![map.clone(), coerced[1].clone()])
                }
                None => coerced_arguments(&self.strings, arg_types),
            },
            _ => coerced_arguments(&self.strings, arg_types),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let nullable = args.arg_fields.iter().any(|field| field.is_nullable());
        Ok(Arc::new(Field::new(
            self.name(),
            DataType::Boolean,
            nullable,
        )))
    }

    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let first = args.args[0].data_type();
        if is_list(&first) {
            return self.lists.invoke_with_args(args);
        }
        let Some(keys_type) = keys_list_type(&first) else {
            return self.strings.invoke_with_args(args);
        };
        // A map's entries are a list of (key, value) structs: its keys, at the same offsets,
        // are a list of keys.
        let keys = |map: &dyn Array| -> Result<Arc<dyn Array>> {
            let map = map.as_map();
            let DataType::List(item) = &keys_type else {
                unreachable!("keys_list_type gives a List");
            };
            Ok(Arc::new(ListArray::try_new(
                Arc::clone(item),
                map.offsets().clone(),
                Arc::clone(map.keys()),
                map.nulls().cloned(),
            )?))
        };
        args.args[0] = match &args.args[0] {
            ColumnarValue::Array(map) => ColumnarValue::Array(keys(map.as_ref())?),
            ColumnarValue::Scalar(map) => {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&keys(&map.to_array()?)?, 0)?)
            }
        };
        args.arg_fields[0] = Arc::new(Field::new("keys", keys_type, true));
        self.lists.invoke_with_args(args)
    }
}
