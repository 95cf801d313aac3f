//! JSON text as typed values: `CAST(j AS STRUCT(a INTEGER, b VARCHAR[]))`, `'[1, 2]'::INTEGER[]`,
//! and DuckDB's `json_transform(j, '{"a": "INTEGER"}')` (also `from_json`), which names the
//! type as a JSON structure. Metadata kept as JSON text in a Parquet column becomes columns a
//! query can filter and aggregate.
//!
//! Arrow's cast would read the text as a one-element list, or refuse a struct; the analyzer rule
//! `optimizer::JsonCasts` plans a cast of text to a list, struct or map as [`JSON_CAST`] (or
//! [`TRY_JSON_CAST`] for `TRY_CAST`), with a NULL of the target type as the second argument,
//! so that the function needs no state of its own (and finds the type on a cluster executor).
//!
//! The documents are read into the type by [`super::typed`]. A value that does not fit (`"x"`
//! for INTEGER) is an error naming it; `TRY_CAST` and `json_transform` give NULL for that value
//! alone, as DuckDB's `json_transform` does (`json_transform_strict` and `from_json_strict`
//! fail).

use std::sync::Arc;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use sqlparser::ast::{CastKind, Expr, Function, Value};
use sqlparser::parser::Parser;

use super::is_text;
use super::typed::decode;
use super::value::Json;
use crate::error::TarnError;
use crate::sql::dialect::TarnDialect;
use crate::sql::function_names::{plain_arguments, plain_name};
use crate::sql::text_functions::call_value;

/// The function a cast of text to a nested type is planned as.
pub const JSON_CAST: &str = "tarn_json_cast";
/// The function a `TRY_CAST` of text to a nested type is planned as.
pub const TRY_JSON_CAST: &str = "tarn_try_json_cast";

/// Whether a cast of text to this type reads the text as JSON.
pub fn reads_json(target: &DataType) -> bool {
    matches!(
        target,
        DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(..)
            | DataType::Struct(_)
            | DataType::Map(..)
    )
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonCast {
    signature: Signature,
    /// A value that does not fit is NULL rather than an error.
    lenient: bool,
}

impl JsonCast {
    pub fn new(lenient: bool) -> Self {
        JsonCast {
            signature: Signature::user_defined(Volatility::Immutable),
            lenient,
        }
    }
}

impl ScalarUDFImpl for JsonCast {
    fn name(&self) -> &str {
        match self.lenient {
            true => TRY_JSON_CAST,
            false => JSON_CAST,
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [text, target] if is_text(text) => Ok(vec![DataType::Utf8, target.clone()]),
            _ => plan_err!(
                "{} takes JSON text and a NULL of the type to read",
                self.name()
            ),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(utf8_map_keys(&arg_types[1]))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // Any text type: the analyzer rule plans the call after type coercion.
        let texts = cast(&args.args[0].to_array(args.number_rows)?, &DataType::Utf8)?;
        let target = args.return_field.data_type();
        let values = decode(texts.as_string::<i32>(), target, self.lenient)?;
        call_value(&args.args, values)
    }
}

/// `target` with a map's text keys as Utf8: the session spells VARCHAR as Utf8View, and
/// DataFusion's `m['key']` compares the keys with a Utf8 literal only.
fn utf8_map_keys(target: &DataType) -> DataType {
    let DataType::Map(entries, sorted) = target else {
        return target.clone();
    };
    let DataType::Struct(kv) = entries.data_type() else {
        return target.clone();
    };
    let fields: Vec<Field> = kv
        .iter()
        .enumerate()
        .map(|(at, field)| match (at, field.data_type()) {
            (0, DataType::Utf8View | DataType::LargeUtf8) => {
                field.as_ref().clone().with_data_type(DataType::Utf8)
            }
            _ => field.as_ref().clone(),
        })
        .collect();
    let entries = entries
        .as_ref()
        .clone()
        .with_data_type(DataType::Struct(fields.into()));
    DataType::Map(Arc::new(entries), *sorted)
}

/// DuckDB's `json_transform(j, structure)` and its other names, as the cast the structure
/// spells: lenient (`TRY_CAST`) for `json_transform` and `from_json`, strict for
/// `json_transform_strict` and `from_json_strict`. `None` for any other call.
pub fn transform_as_cast(call: &Function) -> Option<crate::error::Result<Expr>> {
    let name = plain_name(&call.name)?;
    let kind = match name.as_str() {
        "json_transform" | "from_json" => CastKind::TryCast,
        "json_transform_strict" | "from_json_strict" => CastKind::Cast,
        _ => return None,
    };
    let args = plain_arguments(call).unwrap_or_default();
    let [document, structure] = args.as_slice() else {
        return Some(Err(TarnError::Invalid(format!(
            "{name} takes a JSON document and a structure"
        ))));
    };
    let structure = match structure {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(text) => text,
            _ => return Some(Err(structure_error(&name))),
        },
        _ => return Some(Err(structure_error(&name))),
    };
    Some(cast_for(&name, document, structure, kind))
}

fn structure_error(name: &str) -> TarnError {
    TarnError::Invalid(format!(
        "{name}: the structure is a constant string, as '{{\"a\": \"INTEGER\", \"b\": [\"VARCHAR\"]}}'"
    ))
}

fn cast_for(
    name: &str,
    document: &Expr,
    structure: &str,
    kind: CastKind,
) -> crate::error::Result<Expr> {
    let parsed = Json::parse(structure).map_err(|_| structure_error(name))?;
    let type_text = structure_type(&parsed).ok_or_else(|| structure_error(name))?;
    let data_type = Parser::new(&TarnDialect)
        .try_with_sql(&type_text)
        .and_then(|mut parser| parser.parse_data_type())
        .map_err(|e| TarnError::Invalid(format!("{name}: {e} in the type {type_text}")))?;
    Ok(Expr::Cast {
        kind,
        expr: Box::new(document.clone()),
        data_type,
        array: false,
        format: None,
    })
}

/// The SQL type a JSON structure spells: a type name, `[T]` for a list of T, an object for a
/// struct of its keys.
fn structure_type(structure: &Json) -> Option<String> {
    match structure {
        Json::String(name) => Some(name.clone()),
        Json::Array(items) => match items.as_slice() {
            [item] => Some(format!("{}[]", structure_type(item)?)),
            _ => None,
        },
        Json::Object(members) if !members.is_empty() => {
            let fields: Option<Vec<String>> = members
                .iter()
                .map(|(key, member)| {
                    Some(format!(
                        "\"{}\" {}",
                        key.replace('"', "\"\""),
                        structure_type(member)?
                    ))
                })
                .collect();
            Some(format!("STRUCT({})", fields?.join(", ")))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_structure_spells_a_sql_type() {
        let structure =
            Json::parse(r#"{"a": "INTEGER", "b": ["VARCHAR"], "c": {"d": "DOUBLE"}}"#).unwrap();
        assert_eq!(
            structure_type(&structure).unwrap(),
            r#"STRUCT("a" INTEGER, "b" VARCHAR[], "c" STRUCT("d" DOUBLE))"#
        );
        assert_eq!(structure_type(&Json::parse("[1, 2]").unwrap()), None);
    }
}
