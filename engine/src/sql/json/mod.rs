//! DuckDB's JSON functions, over JSON kept as text (VARCHAR), as training data carries it in
//! Parquet columns:
//!
//! * reading: `json_extract(j, path)` (`j -> path`; also `json_extract_path`) gives JSON text,
//!   `json_extract_string(j, path)` (`j ->> path`; also `json_extract_path_text`) a string as
//!   its text, `json_value` a scalar only, `json_exists`, `json_type`, `json_array_length`,
//!   `json_keys`, `json_valid`, `json_contains`, `json(j)`, the document minified (also
//!   `CAST(j AS JSON)`), `json_pretty(j)`, the document indented, and `json_structure(j)`, its
//!   types ([`structure`]). A path is JSONPath, JSON Pointer, a key or an index ([`path`]); a path
//!   with a wildcard (`$.turns[*].text`) gives a list, and so does a list of paths
//!   (`json_extract(j, ['$.a', '$.b'])`).
//! * changing: `json_merge_patch(target, patch, ...)` and `json_strip_nulls(j)` ([`edit`]).
//! * walking: `json_each(j [, path])` and `json_tree(j [, path])` in FROM, a row per member or
//!   element, or per value below ([`entries`]).
//! * writing: `to_json(x)` (also `json_quote`), `json_object(key, value, ...)`, `json_array(x, ...)` ([`encode`]);
//!   `json_group_array` and `json_group_object` are macros over these (`super::macros`).
//!
//! Malformed JSON is an error naming the byte and the text, as in DuckDB; a NULL document or
//! path gives NULL, and a path that finds nothing gives NULL.

mod cast;
mod edit;
mod encode;
mod entries;
mod path;
mod read;
mod seek;
mod structure;
mod typed;
mod value;
mod write;

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

pub use cast::{JsonCast, reads_json, transform_as_cast};
use edit::{Edit, EditUdf};
pub use entries::column_names as entry_columns;
use read::{Reader, ReaderUdf};
use value::{Json, Malformed};
use write::{Writer, WriterUdf};

/// The function `j -> path` is planned as.
pub const EXTRACT: &str = "json_extract";
/// The function `j ->> path` is planned as.
pub const EXTRACT_STRING: &str = "json_extract_string";
/// The function `CAST(j AS JSON)` is planned as.
pub const MINIFY: &str = "json";
/// The function whose list of rows `json_each` in FROM unnests.
pub const EACH: &str = "tarn_json_each";
/// The function whose list of rows `json_tree` in FROM unnests.
pub const TREE: &str = "tarn_json_tree";

/// Registers the JSON functions on a context.
pub fn register(ctx: &SessionContext) {
    for function in [
        Reader::Extract,
        Reader::ExtractString,
        Reader::Value,
        Reader::Exists,
        Reader::Type,
        Reader::ArrayLength,
        Reader::Keys,
        Reader::Valid,
        Reader::Minify,
        Reader::Contains,
        Reader::Pretty,
        Reader::Structure,
    ] {
        ctx.register_udf(ScalarUDF::from(ReaderUdf::new(function)));
    }
    for function in [Edit::MergePatch, Edit::StripNulls] {
        ctx.register_udf(ScalarUDF::from(EditUdf::new(function)));
    }
    for function in [Writer::ToJson, Writer::Object, Writer::Array] {
        ctx.register_udf(ScalarUDF::from(WriterUdf::new(function)));
    }
    for lenient in [false, true] {
        ctx.register_udf(ScalarUDF::from(JsonCast::new(lenient)));
    }
    for tree in [false, true] {
        ctx.register_udf(ScalarUDF::from(entries::JsonEntries::new(tree)));
    }
}

/// The metadata key that marks a column of lists of JSON text (see [`json_list_field`]).
const JSON_ITEMS_KEY: &str = "tarn.json_items";

/// The field of a column of lists of JSON text, named `name`: a plain list of strings, marked
/// in its metadata, so that it is written without quoting each item (`["x", {"b":1}]`, as
/// DuckDB writes a `JSON[]`) and `typeof` names it `JSON[]`. The mark is on the column's field,
/// not in its type, so the column still unions and compares with any list of strings.
pub(crate) fn json_list_field(name: &str) -> FieldRef {
    let marker = [(JSON_ITEMS_KEY.to_string(), "true".to_string())];
    let list = DataType::new_list(DataType::Utf8, true);
    Arc::new(Field::new(name, list, true).with_metadata(marker.into()))
}

/// Whether `field` is a column of lists of JSON text (see [`json_list_field`]).
pub(crate) fn holds_json_items(field: &Field) -> bool {
    field.metadata().contains_key(JSON_ITEMS_KEY)
}

/// A document, or the error DuckDB gives for text that is not one.
pub(super) fn parse(function: &str, text: &str) -> Result<Json> {
    Json::parse(text).or_else(|bad| malformed(function, text, bad))
}

/// The error DuckDB gives for text that is not one document.
pub(super) fn malformed<T>(function: &str, text: &str, bad: Malformed) -> Result<T> {
    exec_err!(
        "{function}: malformed JSON at byte {} of input: {}. Input: \"{}\"",
        bad.byte,
        bad.reason,
        shown(text)
    )
}

/// The start of a document, for an error.
fn shown(text: &str) -> String {
    let start: String = text.chars().take(80).collect();
    let more = if start.len() < text.len() { "..." } else { "" };
    format!("{start}{more}")
}

/// Whether row `row` of `array` is NULL (a column of type NULL included).
pub(super) fn is_null(array: &ArrayRef, row: usize) -> bool {
    array
        .logical_nulls()
        .is_some_and(|nulls| nulls.is_null(row))
}

/// Whether an argument of this type is JSON text (or a NULL).
pub(super) fn is_text(data_type: &DataType) -> bool {
    super::text_functions::is_text(data_type) || *data_type == DataType::Null
}
