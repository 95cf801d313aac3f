//! Lists, structs, maps and BLOBs as DuckDB writes them (see `super`).
//!
//! A value inside a list, struct or map is quoted where its text could not be read back
//! otherwise ([`needs_quotes`]): strings (`['', a b, ',', 'x\'y', 'NULL', NULL]`), and any other
//! value whose text holds the nested syntax, as a timestamp's or a time's colons do
//! (`['2024-01-01 08:00:00']`), unless it is JSON text ([`json_list_text`]: `[{"a":1}, "x"]`).
//! A struct's field names are always quoted.

use std::borrow::Cow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;

/// Whether values of this type hold other values.
pub fn is_nested(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(..)
            | DataType::ListView(_)
            | DataType::LargeListView(_)
            | DataType::Struct(_)
            | DataType::Map(..)
            | DataType::Union(..)
    )
}

/// Whether values of this type are bytes.
pub fn is_binary(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_)
    )
}

/// A column of lists, structs or maps as text: `[1, 2, NULL]`, `{'a': 7}`, `{1=a, 2=b}`.
pub fn nested_text(column: &ArrayRef) -> Result<ArrayRef> {
    let mut text = StringBuilder::new();
    let mut value = String::new();
    for row in 0..column.len() {
        if column.is_null(row) {
            text.append_null();
            continue;
        }
        value.clear();
        write_nested(column.as_ref(), row, &mut value)?;
        text.append_value(&value);
    }
    Ok(Arc::new(text.finish()))
}

/// A column of lists of JSON text as text: each item as it is, as DuckDB writes a `JSON[]`
/// (`["x", {"b":1}]`, where a list of strings is `['"x"', '{"b":1}']`).
pub fn json_list_text(column: &ArrayRef) -> Result<ArrayRef> {
    let lists = column.as_list::<i32>();
    let mut text = StringBuilder::new();
    let mut value = String::new();
    for row in 0..lists.len() {
        if lists.is_null(row) {
            text.append_null();
            continue;
        }
        value.clear();
        write_items(&lists.value(row), false, &mut value)?;
        text.append_value(&value);
    }
    Ok(Arc::new(text.finish()))
}

/// Appends row `row` of `array` to `out`, nested values as [`nested_text`] writes them.
fn write_nested(array: &dyn Array, row: usize, out: &mut String) -> Result<()> {
    if holds_null(array, row) {
        out.push_str("NULL");
        return Ok(());
    }
    match array.data_type() {
        DataType::List(_) => write_items(&array.as_list::<i32>().value(row), true, out),
        DataType::LargeList(_) => write_items(&array.as_list::<i64>().value(row), true, out),
        DataType::FixedSizeList(..) => {
            write_items(&array.as_fixed_size_list().value(row), true, out)
        }
        DataType::Struct(fields) => {
            out.push('{');
            for (at, (field, column)) in fields.iter().zip(array.as_struct().columns()).enumerate()
            {
                if at > 0 {
                    out.push_str(", ");
                }
                out.push_str(&format!("'{}': ", escaped(field.name())));
                write_nested(column.as_ref(), row, out)?;
            }
            out.push('}');
            Ok(())
        }
        DataType::Map(..) => {
            let entries = array.as_map().value(row);
            out.push('{');
            for entry in 0..entries.len() {
                if entry > 0 {
                    out.push_str(", ");
                }
                write_nested(entries.column(0).as_ref(), entry, out)?;
                out.push('=');
                write_nested(entries.column(1).as_ref(), entry, out)?;
            }
            out.push('}');
            Ok(())
        }
        _ => {
            let text = super::duckdb_text(&array.slice(row, 1))?;
            out.push_str(&item_text(text.as_string::<i32>().value(0)));
            Ok(())
        }
    }
}

/// A value's text as an item of a nested value: quoted where [`needs_quotes`] says.
fn item_text(text: &str) -> Cow<'_, str> {
    match needs_quotes(text) {
        true => Cow::Owned(format!("'{}'", escaped(text))),
        false => Cow::Borrowed(text),
    }
}

/// Whether DuckDB quotes this string inside a nested value: when it is empty, is `NULL` in any
/// case, starts or ends with white space, or holds a character of the nested syntax.
fn needs_quotes(text: &str) -> bool {
    const SYNTAX: &[char] = &[',', '[', ']', '{', '}', '(', ')', '\'', '"', ':', '=', '\\'];
    text.is_empty()
        || text.eq_ignore_ascii_case("null")
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
        || text.contains(SYNTAX)
}

/// `text` with its quotes and backslashes escaped by a backslash, to stand between quotes.
fn escaped(text: &str) -> Cow<'_, str> {
    match text.contains(['\'', '\\']) {
        true => Cow::Owned(text.replace('\\', "\\\\").replace('\'', "\\'")),
        false => Cow::Borrowed(text),
    }
}

/// Whether row `row` of `array` is NULL, also in an array of the NULL type (`[NULL]`'s items),
/// which has no validity of its own to say so.
fn holds_null(array: &dyn Array, row: usize) -> bool {
    array.is_null(row) || array.data_type().is_null()
}

/// Appends a list's items as `[a, b, NULL]`; items that are not nested are spelled together,
/// strings `quoted` where [`needs_quotes`] says.
fn write_items(items: &ArrayRef, quoted: bool, out: &mut String) -> Result<()> {
    out.push('[');
    let texts = match is_nested(items.data_type()) {
        true => None,
        false => Some(super::duckdb_text(items)?),
    };
    for item in 0..items.len() {
        if item > 0 {
            out.push_str(", ");
        }
        match &texts {
            Some(_) if holds_null(items.as_ref(), item) => out.push_str("NULL"),
            Some(texts) if !quoted => out.push_str(texts.as_string::<i32>().value(item)),
            Some(texts) => out.push_str(&item_text(texts.as_string::<i32>().value(item))),
            None => write_nested(items.as_ref(), item, out)?,
        }
    }
    out.push(']');
    Ok(())
}

/// Bytes as DuckDB writes a BLOB: printable ASCII as itself, any other byte (a quote and a
/// backslash included) as `\xAB`. Arrow writes every byte in hex (`6162` for `ab`).
pub fn blob_text(column: &ArrayRef) -> Result<ArrayRef> {
    let bytes = cast(column, &DataType::Binary)?;
    let text: StringArray = bytes
        .as_binary::<i32>()
        .iter()
        .map(|value| {
            value.map(|value| {
                let mut text = String::with_capacity(value.len());
                for &byte in value {
                    match byte {
                        0x20..=0x7e if byte != b'\\' && byte != b'\'' => text.push(byte as char),
                        _ => text.push_str(&format!("\\x{byte:02X}")),
                    }
                }
                text
            })
        })
        .collect();
    Ok(Arc::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_where_duckdb_quotes_them() {
        let items = [
            "", "a b", ",", "x'y", " s", "t\t", "[", "null", "NULL", "a\\b", "é-/;#",
        ];
        let written: Vec<String> = items
            .iter()
            .map(|item| item_text(item).into_owned())
            .collect();
        let duckdb = [
            "''", "a b", "','", r"'x\'y'", "' s'", "'t\t'", "'['", "'null'", "'NULL'", r"'a\\b'",
            "é-/;#",
        ];
        assert_eq!(written, duckdb);
        // Any value's text, as DuckDB 2.0 writes `['01:02:03']` and `[1.5]`.
        assert_eq!(item_text("01:02:03"), "'01:02:03'");
        assert_eq!(item_text("-1.5e+20"), "-1.5e+20");
    }
}
