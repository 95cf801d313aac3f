//! DuckDB's `map_concat(m1, m2, ...)`: one MAP with every key of the maps. A key in several
//! keeps the place it first had and the value of the last map that has it; a NULL map adds
//! nothing, and only NULL maps give NULL. The maps must have the same type, as in DuckDB, but
//! for the widths of their integers.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, MapArray, StructArray, UInt32Array};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::{concat, take};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::type_coercion::binary::type_union_resolution;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::{arrays, call_value};
use super::types::sql_type_name;

/// `a` and `b` as one type where they differ at most in the widths of their integers, each
/// integer the wider of the two.
fn integers_widened(a: &DataType, b: &DataType) -> Option<DataType> {
    let field = |x: &FieldRef, y: &FieldRef| -> Option<FieldRef> {
        let data_type = integers_widened(x.data_type(), y.data_type())?;
        (x.name() == y.name()).then(|| Arc::new(x.as_ref().clone().with_data_type(data_type)))
    };
    match (a, b) {
        _ if a == b => Some(a.clone()),
        _ if a.is_integer() && b.is_integer() => {
            type_union_resolution(&[a.clone(), b.clone()]).filter(DataType::is_integer)
        }
        (DataType::Map(x, sorted), DataType::Map(y, _)) => {
            Some(DataType::Map(field(x, y)?, *sorted))
        }
        (DataType::List(x), DataType::List(y)) => Some(DataType::List(field(x, y)?)),
        (DataType::Struct(xs), DataType::Struct(ys)) if xs.len() == ys.len() => {
            let fields: Option<Vec<FieldRef>> =
                xs.iter().zip(ys.iter()).map(|(x, y)| field(x, y)).collect();
            Some(DataType::Struct(fields?.into()))
        }
        _ => None,
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MapConcat {
    signature: Signature,
}

impl MapConcat {
    pub fn new() -> Self {
        MapConcat {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for MapConcat {
    fn name(&self) -> &str {
        "map_concat"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The maps' type for all; a NULL takes it too. Maps that differ only in the widths of their
    /// integers take the wider: the plan is typed before its integer literals are, so a map
    /// literal's values are BIGINT until then (`map_concat(m, MAP {'a': 1})` of a map of
    /// INTEGERs).
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() < 2 {
            return plan_err!("map_concat takes two maps or more");
        }
        let Some(first) = arg_types.iter().find(|t| matches!(t, DataType::Map(..))) else {
            return plan_err!(
                "map_concat takes maps, not {}",
                sql_type_name(&arg_types[0])
            );
        };
        let mut map = first.clone();
        for t in arg_types.iter().filter(|t| !t.is_null()) {
            let Some(common) = integers_widened(&map, t) else {
                return plan_err!(
                    "map_concat: the maps differ in type, {} and {}",
                    sql_type_name(&map),
                    sql_type_name(t)
                );
            };
            map = common;
        }
        Ok(vec![map; arg_types.len()])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let inputs = arrays(&args.args, args.number_rows)?;
        let maps: Vec<&MapArray> = inputs.iter().map(|a| a.as_map()).collect();
        // Every entry of every map in one array, each map's entries starting at its base.
        let keys = concat(&maps.iter().map(|m| m.keys().as_ref()).collect::<Vec<_>>())?;
        let values = concat(&maps.iter().map(|m| m.values().as_ref()).collect::<Vec<_>>())?;
        let bases: Vec<usize> = maps
            .iter()
            .scan(0, |base, map| {
                let start = *base;
                *base += map.keys().len();
                Some(start)
            })
            .collect();
        let converter = RowConverter::new(vec![SortField::new(keys.data_type().clone())])?;
        let key_rows = converter.convert_columns(std::slice::from_ref(&keys))?;

        let mut chosen: Vec<u32> = Vec::new();
        let mut offsets = vec![0i32];
        let mut valid = Vec::with_capacity(args.number_rows);
        // Where each key of the row stands among its chosen entries.
        let mut place = HashMap::new();
        for row in 0..args.number_rows {
            place.clear();
            for (map, base) in maps.iter().zip(&bases) {
                if map.is_null(row) {
                    continue;
                }
                let offsets = map.value_offsets();
                for entry in offsets[row] as usize..offsets[row + 1] as usize {
                    let at = base + entry;
                    match place.get(&key_rows.row(at)) {
                        Some(&kept) => chosen[kept] = at as u32,
                        None => {
                            place.insert(key_rows.row(at), chosen.len());
                            chosen.push(at as u32);
                        }
                    }
                }
            }
            valid.push(maps.iter().any(|map| map.is_valid(row)));
            offsets.push(chosen.len() as i32);
        }
        let chosen = UInt32Array::from(chosen);
        let DataType::Map(entries_field, sorted) = maps[0].data_type() else {
            unreachable!("coerce_types makes every argument a map");
        };
        let DataType::Struct(fields) = entries_field.data_type() else {
            unreachable!("a map's entries are a struct");
        };
        let entries = StructArray::try_new(
            fields.clone(),
            vec![take(&keys, &chosen, None)?, take(&values, &chosen, None)?],
            None,
        )?;
        let map = MapArray::try_new(
            entries_field.clone(),
            OffsetBuffer::new(offsets.into()),
            entries,
            Some(NullBuffer::from(valid)).filter(|nulls| nulls.null_count() > 0),
            *sorted,
        )?;
        call_value(&args.args, Arc::new(map) as ArrayRef)
    }
}
