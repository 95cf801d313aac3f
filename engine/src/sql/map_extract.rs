//! DuckDB's `map_extract(m, key)` (also `element_at`): the list of the values `m` holds under
//! `key`, `[v]`, or `[]` where it has no such key (or the key is NULL); NULL for a NULL map.
//! DataFusion's gives `[NULL]` for a missing key, the answer for a key whose value is NULL, so
//! `len(map_extract(m, k)) > 0` could not tell whether the key is there.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray, UInt32Array};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::{DFSchema, Result, plan_err};
use datafusion::functions_nested::expr_fn::array_element;
use datafusion::logical_expr::expr::{GetFieldAccess, ScalarFunction};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawFieldAccessExpr};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility, lit,
};

use super::text_functions::{arrays, call_value};
use super::types::sql_type_name;

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MapExtract {
    signature: Signature,
    aliases: Vec<String>,
}

impl MapExtract {
    pub fn new() -> Self {
        MapExtract {
            signature: Signature::user_defined(Volatility::Immutable),
            aliases: vec!["element_at".to_string()],
        }
    }
}

impl Default for MapExtract {
    fn default() -> Self {
        Self::new()
    }
}

/// The key and value fields of a MAP type.
fn entry_fields(map: &DataType) -> Result<(&Field, &Field)> {
    match map {
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(fields) if fields.len() == 2 => Ok((&fields[0], &fields[1])),
            _ => plan_err!("map_extract: a MAP's entries are a key and a value"),
        },
        other => plan_err!("map_extract takes a MAP, not {}", sql_type_name(other)),
    }
}

impl ScalarUDFImpl for MapExtract {
    fn name(&self) -> &str {
        "map_extract"
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The key is cast to the map's key type.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [DataType::Null, key] => Ok(vec![DataType::Null, key.clone()]),
            [map, _] => Ok(vec![map.clone(), entry_fields(map)?.0.data_type().clone()]),
            _ => plan_err!("map_extract takes a MAP and a key"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::Null, _] => Ok(DataType::Null),
            [map, _] => Ok(DataType::new_list(
                entry_fields(map)?.1.data_type().clone(),
                true,
            )),
            _ => plan_err!("map_extract takes a MAP and a key"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args.args, args.number_rows)?;
        if arrays[0].data_type().is_null() {
            return call_value(&args.args, Arc::clone(&arrays[0]));
        }
        let maps = arrays[0].as_map();
        // The key as the map's keys are held (a map's declared key type and the type its
        // values hold may differ in string layout: VARCHAR views against plain strings).
        let wanted = &cast(&arrays[1], maps.keys().data_type())?;
        // Keys compared as rows, so any key type compares as the map's own does.
        let converter = RowConverter::new(vec![SortField::new(wanted.data_type().clone())])?;
        let keys = converter.convert_columns(&[Arc::clone(maps.keys())])?;
        let wanted_rows = converter.convert_columns(&[Arc::clone(wanted)])?;
        let offsets = maps.value_offsets();
        let mut found: Vec<u32> = Vec::new();
        let mut lengths = Vec::with_capacity(maps.len());
        for row in 0..maps.len() {
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            let at = match maps.is_valid(row) && wanted.is_valid(row) {
                true => (start..end).find(|&at| keys.row(at) == wanted_rows.row(row)),
                false => None,
            };
            if let Some(at) = at {
                found.push(at as u32);
            }
            lengths.push(usize::from(at.is_some()));
        }
        let values = take(maps.values(), &UInt32Array::from(found), None)?;
        let item = Arc::new(Field::new_list_field(values.data_type().clone(), true));
        let extracted = ListArray::try_new(
            item,
            OffsetBuffer::from_lengths(lengths),
            values,
            maps.nulls().cloned(),
        )?;
        call_value(&args.args, Arc::new(extracted) as ArrayRef)
    }
}

/// Plans `m[key]` on a map as `map_extract(m, key)[1]`: the value under the key, NULL where
/// the map has none. DataFusion's `get_field` compares the map's keys with a constant of its
/// own, so a map whose keys are VARCHAR views or INTEGERs (a table's `MAP(VARCHAR, ...)`
/// column, a Parquet file's map) failed on `m['a']` and `m[1]` ("Invalid comparison operation:
/// Utf8 == Utf8View"), and a key from a column was refused; `map_extract` reads the key as
/// the map's key type.
#[derive(Debug, Default)]
pub struct MapSubscripts;

impl ExprPlanner for MapSubscripts {
    fn plan_field_access(
        &self,
        access: RawFieldAccessExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawFieldAccessExpr>> {
        if !matches!(access.expr.get_type(schema)?, DataType::Map(..)) {
            return Ok(PlannerResult::Original(access));
        }
        // `m['a']` is read as a struct's field, `m[k]` as a list's index.
        let key = match &access.field_access {
            GetFieldAccess::NamedStructField { name } => lit(name.clone()),
            GetFieldAccess::ListIndex { key } => key.as_ref().clone(),
            GetFieldAccess::ListRange { .. } => return Ok(PlannerResult::Original(access)),
        };
        let extract = Arc::new(ScalarUDF::from(MapExtract::new()));
        let values = ScalarFunction::new_udf(extract, vec![access.expr, key]);
        let values = Expr::ScalarFunction(values);
        Ok(PlannerResult::Planned(array_element(values, lit(1i64))))
    }
}
