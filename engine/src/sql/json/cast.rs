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
//! Each document is first made to fit the type ([`conform`]), as DuckDB reads JSON into a type:
//! an object's missing keys are NULL and its other keys ignored, a number for an integer is
//! rounded, a string of digits is a number, any value for VARCHAR is its JSON text. Then Arrow's
//! JSON decoder builds the arrays. A value that does not fit (`"x"` for INTEGER) is an error
//! naming it; `TRY_CAST` and `json_transform` give NULL for that value alone, as DuckDB's
//! `json_transform` does (`json_transform_strict` and `from_json_strict` fail).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray, new_empty_array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::json::ReaderBuilder;
use datafusion::common::{Result, exec_datafusion_err, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::Number;
use sqlparser::ast::{CastKind, Expr, Function, Value};
use sqlparser::parser::Parser;

use super::is_text;
use super::value::Json;
use crate::error::TarnError;
use crate::sql::dialect::TarnDialect;
use crate::sql::function_names::{plain_arguments, plain_name};
use crate::sql::text_functions::call_value;
use crate::sql::types::sql_type_name;

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
        Ok(arg_types[1].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // Any text type: the analyzer rule plans the call after type coercion.
        let texts = cast(&args.args[0].to_array(args.number_rows)?, &DataType::Utf8)?;
        let target = args.return_field.data_type();
        let values = decode(texts.as_string::<i32>(), target, self.lenient)?;
        call_value(&args.args, values)
    }
}

/// The documents in `texts` as values of `target` (NULL text gives NULL).
fn decode(texts: &StringArray, target: &DataType, lenient: bool) -> Result<ArrayRef> {
    if texts.is_empty() {
        return Ok(new_empty_array(target));
    }
    // One `{"v": value}` line per row: the decoder reads records, and a row's value may be
    // any JSON value.
    let mut lines = Vec::with_capacity(texts.value_data().len() + 8 * texts.len());
    for row in 0..texts.len() {
        let value = match texts.is_valid(row) {
            false => Json::Null,
            true => match Json::parse(texts.value(row)) {
                Ok(document) => conform(&document, target, lenient).map_err(|reason| {
                    exec_datafusion_err!(
                        "CAST to {}: {reason} in {}",
                        sql_type_name(target),
                        shown(texts.value(row))
                    )
                })?,
                Err(_) if lenient => Json::Null,
                Err(bad) => {
                    return exec_err!(
                        "CAST to {}: malformed JSON at byte {} ({}) of {}",
                        sql_type_name(target),
                        bad.byte,
                        bad.reason,
                        shown(texts.value(row))
                    );
                }
            },
        };
        let record = Json::Object(vec![("v".to_string(), value)]);
        serde_json::to_writer(&mut lines, &record)
            .map_err(|e| exec_datafusion_err!("writing JSON: {e}"))?;
        lines.push(b'\n');
    }
    let schema = Arc::new(Schema::new(vec![Field::new("v", target.clone(), true)]));
    let mut decoder = ReaderBuilder::new(schema)
        .with_batch_size(texts.len())
        .build_decoder()?;
    let mut offset = 0;
    while offset < lines.len() {
        let read = decoder.decode(&lines[offset..])?;
        if read == 0 {
            break;
        }
        offset += read;
    }
    let batch = decoder
        .flush()?
        .ok_or_else(|| exec_datafusion_err!("the JSON decoder gave no rows"))?;
    Ok(batch.column(0).clone())
}

/// The start of a document, quoted, for an error.
fn shown(text: &str) -> String {
    let start: String = text.chars().take(80).collect();
    let more = if start.len() < text.len() { "..." } else { "" };
    format!("'{start}{more}'")
}

/// `value` made to fit `target` as DuckDB reads JSON into a type (see the module
/// documentation); a value that does not fit is NULL when `lenient`, else the reason.
fn conform(value: &Json, target: &DataType, lenient: bool) -> Result<Json, String> {
    let fitted = match (target, value) {
        (_, Json::Null) | (DataType::Null, _) => Some(Json::Null),
        (DataType::Struct(fields), Json::Object(members)) => {
            let mut out = Vec::with_capacity(fields.len());
            for field in fields {
                let member = members
                    .iter()
                    .find(|(key, _)| key == field.name())
                    .map(|(_, v)| v);
                let fitted = match member {
                    Some(v) => conform(v, field.data_type(), lenient)?,
                    None => Json::Null,
                };
                out.push((field.name().clone(), fitted));
            }
            Some(Json::Object(out))
        }
        (DataType::List(item) | DataType::LargeList(item), Json::Array(items)) => {
            Some(conform_all(items, item.data_type(), lenient)?)
        }
        (DataType::FixedSizeList(item, size), Json::Array(items))
            if items.len() == *size as usize =>
        {
            Some(conform_all(items, item.data_type(), lenient)?)
        }
        (DataType::Map(entries, _), Json::Object(members)) => {
            let DataType::Struct(kv) = entries.data_type() else {
                return Err("a map's entries are not a struct".into());
            };
            let mut out = Vec::with_capacity(members.len());
            for (key, v) in members {
                out.push((key.clone(), conform(v, kv[1].data_type(), lenient)?));
            }
            Some(Json::Object(out))
        }
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, Json::String(_)) => {
            Some(value.clone())
        }
        // Any other value as its JSON text.
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, _) => {
            Some(Json::String(value.to_text()))
        }
        (DataType::Boolean, Json::Bool(_)) => Some(value.clone()),
        (DataType::Boolean, Json::String(text)) => match text.to_ascii_lowercase().as_str() {
            "true" => Some(Json::Bool(true)),
            "false" => Some(Json::Bool(false)),
            _ => None,
        },
        (t, Json::Number(n)) if t.is_integer() => n.as_f64().and_then(|f| integer(f, t)),
        (t, Json::String(text)) if t.is_integer() => {
            text.trim().parse::<f64>().ok().and_then(|f| integer(f, t))
        }
        (t, Json::Number(_)) if t.is_floating() || t.is_decimal() => Some(value.clone()),
        (t, Json::String(text)) if t.is_floating() || t.is_decimal() => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Json::Number),
        (t, Json::String(text)) if t.is_temporal() => {
            let parsed = cast(&StringArray::from(vec![text.as_str()]), t).ok();
            parsed
                .filter(|array| array.is_valid(0))
                .map(|_| value.clone())
        }
        _ => None,
    };
    match fitted {
        Some(fitted) => Ok(fitted),
        None if lenient => Ok(Json::Null),
        None => Err(format!(
            "cannot read {} as {}",
            value.to_text(),
            sql_type_name(target)
        )),
    }
}

fn conform_all(items: &[Json], target: &DataType, lenient: bool) -> Result<Json, String> {
    let items = items
        .iter()
        .map(|item| conform(item, target, lenient))
        .collect::<Result<_, _>>()?;
    Ok(Json::Array(items))
}

/// `f` rounded half away from zero (as DuckDB casts 1.5 to 2), if it fits the integer type.
fn integer(f: f64, target: &DataType) -> Option<Json> {
    let rounded = f.round();
    let (min, max) = match target {
        DataType::Int8 => (i8::MIN as f64, i8::MAX as f64),
        DataType::Int16 => (i16::MIN as f64, i16::MAX as f64),
        DataType::Int32 => (i32::MIN as f64, i32::MAX as f64),
        DataType::Int64 => (i64::MIN as f64, i64::MAX as f64),
        DataType::UInt8 => (0.0, u8::MAX as f64),
        DataType::UInt16 => (0.0, u16::MAX as f64),
        DataType::UInt32 => (0.0, u32::MAX as f64),
        _ => (0.0, u64::MAX as f64),
    };
    if !(min..=max).contains(&rounded) {
        return None;
    }
    Some(Json::Number(if rounded < 0.0 {
        Number::from(rounded as i64)
    } else {
        Number::from(rounded as u64)
    }))
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
    use datafusion::arrow::datatypes::Fields;
    use datafusion::arrow::util::display::array_value_to_string;

    fn read(texts: &[Option<&str>], target: &DataType, lenient: bool) -> Result<Vec<String>> {
        let array = decode(&StringArray::from(texts.to_vec()), target, lenient)?;
        Ok((0..array.len())
            .map(|row| match array.is_valid(row) {
                true => array_value_to_string(&array, row).unwrap(),
                false => "NULL".into(),
            })
            .collect())
    }

    fn record() -> DataType {
        DataType::Struct(Fields::from(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("c", DataType::Utf8, true),
            Field::new("z", DataType::Float64, true),
        ]))
    }

    #[test]
    fn documents_fit_the_type_as_duckdb_reads_them() {
        // DuckDB: json_transform('{"a": 1.6, "c": {"d": [1]}}', '{"a": "INTEGER", "c":
        // "VARCHAR", "z": "DOUBLE"}') is {'a': 2, 'c': '{"d":[1]}', 'z': NULL}.
        let got = read(
            &[Some(r#"{"a": 1.6, "c": {"d": [1]}, "extra": 0}"#), None],
            &record(),
            true,
        )
        .unwrap();
        assert_eq!(got, [r#"{a: 2, c: {"d":[1]}, z: }"#, "NULL"]);
        let list = DataType::new_list(DataType::Int64, true);
        // DuckDB: json_transform('[1, "a", 3]', '["INTEGER"]') is [1, NULL, 3].
        assert_eq!(
            read(&[Some(r#"[1, "a", "3"]"#)], &list, true).unwrap(),
            ["[1, , 3]"]
        );
    }

    #[test]
    fn a_value_that_does_not_fit_fails_unless_lenient() {
        let err = read(&[Some(r#"{"a": "x"}"#)], &record(), false).unwrap_err();
        assert!(
            err.to_string().contains(r#"cannot read "x" as INTEGER"#),
            "{err}"
        );
        assert_eq!(
            read(&[Some(r#"{"a": "x"}"#)], &record(), true).unwrap(),
            ["{a: , c: , z: }"]
        );
        let err = read(&[Some("{oops")], &record(), false).unwrap_err();
        assert!(err.to_string().contains("malformed JSON at byte"), "{err}");
        assert_eq!(read(&[Some("{oops")], &record(), true).unwrap(), ["NULL"]);
    }

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
