//! Arrow values as JSON, as DuckDB's `to_json` writes them: numbers as numbers (a DECIMAL as
//! its DOUBLE), text as strings, a list as an array, a struct as an object in field order, a
//! map as an object keyed by the keys' text, NULL as `null`. Other values (dates, times,
//! timestamps, intervals, bytes) become their text, as DuckDB writes it.
//!
//! A NaN or an infinity is `null`: JSON has no way to write them (DuckDB writes `NaN`, which
//! no JSON reader accepts).

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, StringArray, UInt64Array,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, UInt64Type};
use datafusion::common::Result;
use serde_json::Number;

use super::value::Json;
use crate::sql::duckdb_text::duckdb_text;

/// Turns the rows of one array into JSON; built once per array.
pub struct Encoder {
    nulls: Option<NullBuffer>,
    values: Values,
}

enum Values {
    Null,
    Bool(BooleanArray),
    Signed(Int64Array),
    Unsigned(UInt64Array),
    Float(Float64Array),
    Text(StringArray),
    /// Row `r`'s items are `items` rows `offsets[r]..offsets[r + 1]`.
    List {
        offsets: Vec<usize>,
        items: Box<Encoder>,
    },
    Struct {
        names: Vec<String>,
        fields: Vec<Encoder>,
    },
    Map {
        offsets: Vec<usize>,
        keys: StringArray,
        values: Box<Encoder>,
    },
}

impl Encoder {
    pub fn new(array: &ArrayRef) -> Result<Encoder> {
        let values = match array.data_type() {
            DataType::Null => Values::Null,
            DataType::Boolean => Values::Bool(array.as_boolean().clone()),
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Values::Signed(
                cast(array, &DataType::Int64)?
                    .as_primitive::<Int64Type>()
                    .clone(),
            ),
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
                let unsigned = cast(array, &DataType::UInt64)?;
                Values::Unsigned(unsigned.as_primitive::<UInt64Type>().clone())
            }
            DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..) => {
                let float = cast(array, &DataType::Float64)?;
                Values::Float(float.as_primitive::<Float64Type>().clone())
            }
            DataType::List(_) => {
                let list = array.as_list::<i32>();
                let offsets = list.value_offsets().iter().map(|&o| o as usize).collect();
                Values::List {
                    offsets,
                    items: Box::new(Encoder::new(list.values())?),
                }
            }
            DataType::LargeList(_) => {
                let list = array.as_list::<i64>();
                let offsets = list.value_offsets().iter().map(|&o| o as usize).collect();
                Values::List {
                    offsets,
                    items: Box::new(Encoder::new(list.values())?),
                }
            }
            DataType::FixedSizeList(_, size) => {
                let list = array.as_fixed_size_list();
                let size = *size as usize;
                Values::List {
                    offsets: (0..=list.len()).map(|row| row * size).collect(),
                    items: Box::new(Encoder::new(list.values())?),
                }
            }
            DataType::Struct(fields) => {
                let columns = array.as_struct().columns();
                Values::Struct {
                    names: fields.iter().map(|f| f.name().clone()).collect(),
                    fields: columns.iter().map(Encoder::new).collect::<Result<_>>()?,
                }
            }
            DataType::Map(..) => {
                let map = array.as_map();
                let offsets = map.value_offsets().iter().map(|&o| o as usize).collect();
                let keys = cast(map.keys(), &DataType::Utf8)?;
                Values::Map {
                    offsets,
                    keys: keys.as_string::<i32>().clone(),
                    values: Box::new(Encoder::new(map.values())?),
                }
            }
            _ => Values::Text(duckdb_text(array)?.as_string::<i32>().clone()),
        };
        Ok(Encoder {
            nulls: array.logical_nulls(),
            values,
        })
    }

    /// Row `row` as JSON.
    pub fn encode(&self, row: usize) -> Json {
        if self.nulls.as_ref().is_some_and(|nulls| nulls.is_null(row)) {
            return Json::Null;
        }
        match &self.values {
            Values::Null => Json::Null,
            Values::Bool(values) => Json::Bool(values.value(row)),
            Values::Signed(values) => Json::Number(values.value(row).into()),
            Values::Unsigned(values) => Json::Number(values.value(row).into()),
            Values::Float(values) => {
                Number::from_f64(values.value(row)).map_or(Json::Null, Json::Number)
            }
            Values::Text(values) => Json::String(values.value(row).to_string()),
            Values::List { offsets, items } => Json::Array(
                (offsets[row]..offsets[row + 1])
                    .map(|i| items.encode(i))
                    .collect(),
            ),
            Values::Struct { names, fields } => Json::Object(
                names
                    .iter()
                    .zip(fields)
                    .map(|(name, field)| (name.clone(), field.encode(row)))
                    .collect(),
            ),
            Values::Map {
                offsets,
                keys,
                values,
            } => Json::Object(
                (offsets[row]..offsets[row + 1])
                    .map(|i| (keys.value(i).to_string(), values.encode(i)))
                    .collect(),
            ),
        }
    }
}
