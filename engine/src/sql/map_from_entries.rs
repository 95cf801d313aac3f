//! DuckDB's `map_from_entries(list of (key, value) structs)`: the MAP whose entries they are,
//! whatever the two fields are called (`[(k, v), ...]` or `[{'k': ..., 'v': ...}, ...]`). A
//! NULL or repeated key in a list is an error, as in DuckDB; a NULL list gives a NULL map.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, MapArray, StructArray, UInt32Array};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::{is_null, take};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::{arrays, call_value};
use super::types::sql_type_name;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MapFromEntries {
    signature: Signature,
}

impl MapFromEntries {
    pub fn new() -> Self {
        MapFromEntries {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The key and value types of a list of two-field structs.
fn entry_types(list: &DataType) -> Option<(DataType, DataType)> {
    let DataType::List(element) = list else {
        return None;
    };
    match element.data_type() {
        DataType::Struct(fields) if fields.len() == 2 => {
            Some((fields[0].data_type().clone(), fields[1].data_type().clone()))
        }
        _ => None,
    }
}

/// The map type with these key and value types, in Arrow's naming.
fn map_type(key: DataType, value: DataType) -> DataType {
    let entries = Fields::from(vec![
        Field::new("key", key, false),
        Field::new("value", value, true),
    ]);
    DataType::Map(
        Arc::new(Field::new("entries", DataType::Struct(entries), false)),
        false,
    )
}

impl ScalarUDFImpl for MapFromEntries {
    fn name(&self) -> &str {
        "map_from_entries"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if entry_types(t).is_some() => Ok(vec![t.clone()]),
            [t] => plan_err!(
                "map_from_entries takes a list of (key, value) structs, not {}",
                sql_type_name(t)
            ),
            _ => plan_err!("map_from_entries takes one argument"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let (key, value) = entry_types(&arg_types[0]).expect("checked by coerce_types");
        Ok(map_type(key, value))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let lists = &arrays(&args.args, args.number_rows)?[0];
        let lists = lists.as_list::<i32>();
        let entries = lists.values().as_struct();
        // The entries of the lists that are not NULL, in order: those under a NULL list may
        // hold NULL keys, which a map cannot.
        let mut kept = Vec::with_capacity(entries.len());
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        offsets.push(0i32);
        for row in 0..lists.len() {
            if lists.is_valid(row) {
                let (start, end) = (lists.value_offsets()[row], lists.value_offsets()[row + 1]);
                kept.extend(start as u32..end as u32);
            }
            offsets.push(kept.len() as i32);
        }
        let kept = UInt32Array::from(kept);
        let keys = take(entries.column(0), &kept, None)?;
        let values = take(entries.column(1), &kept, None)?;
        let entry_nulls = take(&is_null(entries)?, &kept, None)?;
        if keys.logical_null_count() > 0 || entry_nulls.as_boolean().true_count() > 0 {
            return exec_err!("map_from_entries: a map key cannot be NULL");
        }
        let converter = RowConverter::new(vec![SortField::new(keys.data_type().clone())])?;
        let key_rows = converter.convert_columns(std::slice::from_ref(&keys))?;
        for range in offsets.windows(2) {
            let mut seen = HashSet::with_capacity((range[1] - range[0]) as usize);
            if !(range[0]..range[1]).all(|entry| seen.insert(key_rows.row(entry as usize))) {
                return exec_err!("map_from_entries: map keys must be unique");
            }
        }
        let DataType::Map(entries_field, _) =
            map_type(keys.data_type().clone(), values.data_type().clone())
        else {
            unreachable!("map_type gives a map");
        };
        let DataType::Struct(fields) = entries_field.data_type() else {
            unreachable!("a map's entries are a struct");
        };
        let entries = StructArray::try_new(fields.clone(), vec![keys, values], None)?;
        let map = MapArray::try_new(
            entries_field,
            OffsetBuffer::new(offsets.into()),
            entries,
            lists.nulls().cloned(),
            false,
        )?;
        call_value(&args.args, Arc::new(map) as ArrayRef)
    }
}
