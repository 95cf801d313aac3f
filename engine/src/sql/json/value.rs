//! A JSON document as DuckDB keeps it: objects keep their keys in the order written (and a
//! repeated key twice), numbers are unsigned, signed or floating point as written. Parsed and
//! written through `serde_json`, whose own `Value` sorts an object's keys.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Number;

/// One JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Json>),
    /// Members in document order.
    Object(Vec<(String, Json)>),
}

/// Text that is not one JSON document, and where it goes wrong.
#[derive(Debug)]
pub struct Malformed {
    /// Byte offset of the fault in the input.
    pub byte: usize,
    pub reason: String,
}

impl Json {
    /// Parses exactly one document (surrounding whitespace allowed).
    pub fn parse(text: &str) -> Result<Json, Malformed> {
        serde_json::from_str(text).map_err(|err| Malformed::new(text, &err))
    }

    /// Whether `text` is exactly one document; nothing is built.
    pub fn is_valid(text: &str) -> bool {
        serde_json::from_str::<de::IgnoredAny>(text).is_ok()
    }

    /// The document as minified JSON text, as DuckDB writes it.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("a JSON value always serialises")
    }

    /// The document indented by four spaces, a member or element to a line, as DuckDB's
    /// `json_pretty` writes it.
    pub fn to_pretty_text(&self) -> String {
        let mut text = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut serializer = serde_json::Serializer::with_formatter(&mut text, formatter);
        self.serialize(&mut serializer)
            .expect("a JSON value always serialises");
        String::from_utf8(text).expect("serde_json writes UTF-8")
    }

    /// The member `key` of an object (the first, when the key repeats).
    pub fn member(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Element `index` of an array; a negative index counts from the end.
    pub fn element(&self, index: i64) -> Option<&Json> {
        let Json::Array(items) = self else {
            return None;
        };
        let position = match index < 0 {
            true => items.len().checked_sub(index.unsigned_abs() as usize)?,
            false => index as usize,
        };
        items.get(position)
    }

    /// The values directly inside an array or object.
    pub fn children(&self) -> Box<dyn Iterator<Item = &Json> + '_> {
        match self {
            Json::Array(items) => Box::new(items.iter()),
            Json::Object(members) => Box::new(members.iter().map(|(_, v)| v)),
            _ => Box::new(std::iter::empty()),
        }
    }

    /// DuckDB's name for the value's type (`json_type`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "NULL",
            Json::Bool(_) => "BOOLEAN",
            Json::Number(n) if n.is_u64() => "UBIGINT",
            Json::Number(n) if n.is_i64() => "BIGINT",
            Json::Number(_) => "DOUBLE",
            Json::String(_) => "VARCHAR",
            Json::Array(_) => "ARRAY",
            Json::Object(_) => "OBJECT",
        }
    }

    /// Whether `needle` occurs in this document (`json_contains`): this value matches it, or a
    /// value anywhere inside does.
    pub fn contains(&self, needle: &Json) -> bool {
        self.matches(needle) || self.children().any(|child| child.contains(needle))
    }

    /// Whether this value matches `needle` in place: an object has each of the needle's keys
    /// with a matching value, an array has a matching element for each of the needle's
    /// elements, and a scalar equals it.
    fn matches(&self, needle: &Json) -> bool {
        match (self, needle) {
            (Json::Object(_), Json::Object(wanted)) => wanted
                .iter()
                .all(|(key, value)| self.member(key).is_some_and(|v| v.matches(value))),
            (Json::Array(items), Json::Array(wanted)) => wanted
                .iter()
                .all(|value| items.iter().any(|item| item.matches(value))),
            (Json::Number(a), Json::Number(b)) => a.as_f64() == b.as_f64(),
            (Json::Array(_) | Json::Object(_), _) => false,
            (a, b) => a == b,
        }
    }
}

impl Malformed {
    /// Where and why serde_json could not read `text`.
    pub fn new(text: &str, err: &serde_json::Error) -> Malformed {
        Malformed {
            byte: byte_offset(text, err.line(), err.column()),
            reason: reason(err),
        }
    }
}

/// The byte offset of a 1-based line and column (serde_json's position of an error).
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + column.saturating_sub(1)).min(text.len())
}

/// serde_json's message without its ` at line L column C` suffix (the byte says where).
fn reason(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Number(n) => n.serialize(serializer),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (key, value) in members {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Json, E> {
        Ok(Json::Bool(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Json, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Json, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Json, E> {
        Ok(Number::from_f64(value).map_or(Json::Null, Json::Number))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Json, E> {
        Ok(Json::String(value.to_string()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Json, E> {
        Ok(Json::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(entry) = map.next_entry::<String, Json>()? {
            members.push(entry);
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order_and_minifies() {
        let doc = Json::parse(r#" { "b" : 1.50, "a" : [1, -2, "é\n"], "b": null } "#).unwrap();
        assert_eq!(doc.to_text(), r#"{"b":1.5,"a":[1,-2,"é\n"],"b":null}"#);
        assert_eq!(
            doc.member("b"),
            Some(&Json::Number(Number::from_f64(1.5).unwrap()))
        );
        assert_eq!(Json::parse("1e5").unwrap().to_text(), "100000.0");
    }

    #[test]
    fn pretty_text_is_duckdbs() {
        // DuckDB 2.0's `json_pretty`.
        let doc = Json::parse(r#"{"a": [1, {"b": null}, []], "c": {}, "d": "x\"y"}"#).unwrap();
        let expected = "{\n    \"a\": [\n        1,\n        {\n            \"b\": null\n        },\n        []\n    ],\n    \"c\": {},\n    \"d\": \"x\\\"y\"\n}";
        assert_eq!(doc.to_pretty_text(), expected);
        assert_eq!(Json::parse("[]").unwrap().to_pretty_text(), "[]");
        assert_eq!(Json::parse("1").unwrap().to_pretty_text(), "1");
    }

    #[test]
    fn malformed_text_names_the_byte() {
        let err = Json::parse("{bad").unwrap_err();
        assert_eq!(err.byte, 1, "{}", err.reason);
        let err = Json::parse("[1,\n 2 x]").unwrap_err();
        assert_eq!(err.byte, 7, "{}", err.reason);
        assert!(Json::parse(r#"{"a":1} x"#).is_err());
    }

    #[test]
    fn type_names_follow_duckdb() {
        let names: Vec<_> = ["{}", "[]", "1", "-1", "1.0", "\"s\"", "null", "true"]
            .iter()
            .map(|t| Json::parse(t).unwrap().type_name())
            .collect();
        let expected = [
            "OBJECT", "ARRAY", "UBIGINT", "BIGINT", "DOUBLE", "VARCHAR", "NULL", "BOOLEAN",
        ];
        assert_eq!(names, expected);
    }

    #[test]
    fn containment_as_duckdb_answers_it() {
        let contains =
            |h: &str, n: &str| Json::parse(h).unwrap().contains(&Json::parse(n).unwrap());
        assert!(!contains(r#"{"a":{"b":{"c":1}}}"#, r#"{"a":{"c":1}}"#));
        assert!(contains("[1,[2,3]]", "[2]"));
        assert!(contains("[1,[2,3]]", "[3,2]"));
        assert!(contains(r#"{"a":1,"b":2}"#, r#"{"b":2,"a":1}"#));
        assert!(contains(r#"{"a":[1,2]}"#, "1"));
        assert!(contains(r#"[{"a":1,"b":2}]"#, r#"{"a":1}"#));
        assert!(!contains(r#"{"a":1}"#, r#"{"a":1,"z":1}"#));
        assert!(contains(r#"{"a":{"b":1,"c":2}}"#, r#"{"b":1}"#));
    }
}
