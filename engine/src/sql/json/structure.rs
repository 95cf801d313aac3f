//! `json_structure(j)`: the shape of a document with each value replaced by DuckDB's name for
//! its type, the way DuckDB infers a schema from JSON (`{"a": [1, 2]}` is `{"a":["UBIGINT"]}`).
//! An array's elements are merged into one shape, and so are the objects in it, key by key
//! (`[{"a": 1}, {"b": true}]` is `[{"a":"UBIGINT","b":"BOOLEAN"}]`). Where shapes cannot merge
//! (a number and a string, an array and an object) the shape is `JSON`.

use super::value::Json;

/// The inferred shape of a value (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    /// `null`, and an empty array's elements: merges into any shape.
    Null,
    /// DuckDB's name of a scalar's type: `BOOLEAN`, `UBIGINT`, `BIGINT`, `HUGEINT`, `DOUBLE`
    /// or `VARCHAR`.
    Scalar(&'static str),
    Array(Box<Shape>),
    /// Members in the order their keys first appear.
    Object(Vec<(String, Shape)>),
    /// Shapes that do not merge.
    Any,
}

/// The structure of `doc` as JSON text (see the module documentation).
pub(super) fn structure(doc: &Json) -> String {
    Shape::of(doc).to_json().to_text()
}

impl Shape {
    fn of(value: &Json) -> Shape {
        match value {
            Json::Null => Shape::Null,
            Json::Array(items) => Shape::Array(Box::new(
                items.iter().map(Shape::of).fold(Shape::Null, Shape::merge),
            )),
            Json::Object(members) => {
                let mut merged = Shape::Object(Vec::with_capacity(members.len()));
                for (key, value) in members {
                    merged = merged.merge(Shape::Object(vec![(key.clone(), Shape::of(value))]));
                }
                merged
            }
            scalar => Shape::Scalar(scalar.type_name()),
        }
    }

    /// The one shape that describes values of both shapes.
    fn merge(self, other: Shape) -> Shape {
        match (self, other) {
            (Shape::Null, shape) | (shape, Shape::Null) => shape,
            (Shape::Scalar(a), Shape::Scalar(b)) if a == b => Shape::Scalar(a),
            (Shape::Scalar(a), Shape::Scalar(b)) if is_number(a) && is_number(b) => {
                match a == "DOUBLE" || b == "DOUBLE" {
                    true => Shape::Scalar("DOUBLE"),
                    // An unsigned and a signed integer: only a HUGEINT holds both.
                    false => Shape::Scalar("HUGEINT"),
                }
            }
            (Shape::Array(a), Shape::Array(b)) => Shape::Array(Box::new(a.merge(*b))),
            (Shape::Object(mut members), Shape::Object(others)) => {
                for (key, shape) in others {
                    match members.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, known)) => {
                            *known = std::mem::replace(known, Shape::Null).merge(shape)
                        }
                        None => members.push((key, shape)),
                    }
                }
                Shape::Object(members)
            }
            _ => Shape::Any,
        }
    }

    /// The shape written as DuckDB writes it; an object without keys is `JSON`.
    fn to_json(&self) -> Json {
        let name = |n: &str| Json::String(n.to_string());
        match self {
            Shape::Null => name("NULL"),
            Shape::Scalar(type_name) => name(type_name),
            Shape::Array(element) => Json::Array(vec![element.to_json()]),
            Shape::Object(members) if members.is_empty() => name("JSON"),
            Shape::Object(members) => Json::Object(
                members
                    .iter()
                    .map(|(key, shape)| (key.clone(), shape.to_json()))
                    .collect(),
            ),
            Shape::Any => name("JSON"),
        }
    }
}

fn is_number(type_name: &str) -> bool {
    matches!(type_name, "UBIGINT" | "BIGINT" | "HUGEINT" | "DOUBLE")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structures_are_duckdbs() {
        // Each answer is DuckDB 2.0's `json_structure`.
        let cases = [
            (
                r#"{"a": [1, 2], "b": {"c": "x"}}"#,
                r#"{"a":["UBIGINT"],"b":{"c":"VARCHAR"}}"#,
            ),
            ("[1, -1]", r#"["HUGEINT"]"#),
            ("[1, 2.5]", r#"["DOUBLE"]"#),
            ("[1.5, -1]", r#"["DOUBLE"]"#),
            (r#"[1, "a"]"#, r#"["JSON"]"#),
            ("[true, 1]", r#"["JSON"]"#),
            (
                r#"[{"a":1},{"b":true}]"#,
                r#"[{"a":"UBIGINT","b":"BOOLEAN"}]"#,
            ),
            (r#"[{"a":1},{"a":"x"}]"#, r#"[{"a":"JSON"}]"#),
            (r#"[{"a":1}, 1]"#, r#"["JSON"]"#),
            (r#"[[1],["x"]]"#, r#"[["JSON"]]"#),
            ("[[1], {}]", r#"["JSON"]"#),
            (r#"[{}, {"a": 1}]"#, r#"[{"a":"UBIGINT"}]"#),
            ("[[], [1]]", r#"[["UBIGINT"]]"#),
            ("[null, 1]", r#"["UBIGINT"]"#),
            ("[]", r#"["NULL"]"#),
            ("null", r#""NULL""#),
            ("{}", r#""JSON""#),
            (r#"{"a":1,"a":2}"#, r#"{"a":"UBIGINT"}"#),
            ("[18446744073709551615, -1]", r#"["HUGEINT"]"#),
        ];
        for (doc, expected) in cases {
            assert_eq!(structure(&Json::parse(doc).unwrap()), expected, "{doc}");
        }
    }
}
