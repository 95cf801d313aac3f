//! The functions that change a document: `json_merge_patch(target, patch, ...)`, RFC 7396's
//! merge (a patch's member replaces the target's, a `null` member removes it, objects merge
//! member by member, anything else replaces the whole), each patch in turn; and
//! `json_strip_nulls(j)`, the document without its objects' `null` members, at any depth
//! (`null` in an array stays).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::value::Json;
use super::{is_text, parse};
use crate::sql::text_functions::{arrays, call_value};

/// A function that changes a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Edit {
    MergePatch,
    StripNulls,
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct EditUdf {
    function: Edit,
    signature: Signature,
}

impl EditUdf {
    pub(super) fn new(function: Edit) -> Self {
        EditUdf {
            function,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for EditUdf {
    fn name(&self) -> &str {
        match self.function {
            Edit::MergePatch => "json_merge_patch",
            Edit::StripNulls => "json_strip_nulls",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let counted = match self.function {
            Edit::MergePatch => arg_types.len() >= 2,
            Edit::StripNulls => arg_types.len() == 1,
        };
        if !counted || !arg_types.iter().all(is_text) {
            return plan_err!(
                "{} takes {}",
                self.name(),
                match self.function {
                    Edit::MergePatch => "two or more JSON documents",
                    Edit::StripNulls => "one JSON document",
                }
            );
        }
        Ok(vec![DataType::Utf8; arg_types.len()])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args.args, args.number_rows)?;
        let docs: Vec<&StringArray> = arrays.iter().map(|a| a.as_string::<i32>()).collect();
        let mut answers = StringBuilder::with_capacity(args.number_rows, args.number_rows * 32);
        for row in 0..args.number_rows {
            if docs.iter().any(|d| d.is_null(row)) {
                answers.append_null();
                continue;
            }
            let first = parse(self.name(), docs[0].value(row))?;
            let edited = match self.function {
                Edit::StripNulls => first.without_null_members(),
                Edit::MergePatch => {
                    let mut merged = first;
                    for patch in &docs[1..] {
                        merged = merged.merge_patch(parse(self.name(), patch.value(row))?);
                    }
                    merged
                }
            };
            answers.append_value(edited.to_text());
        }
        call_value(&args.args, Arc::new(answers.finish()))
    }
}

impl Json {
    /// RFC 7396's merge of `patch` into this document.
    fn merge_patch(self, patch: Json) -> Json {
        let Json::Object(changes) = patch else {
            return patch;
        };
        let mut members = match self {
            Json::Object(members) => members,
            _ => Vec::new(),
        };
        for (key, change) in changes {
            let at = members.iter().position(|(k, _)| *k == key);
            match (at, change) {
                (Some(at), Json::Null) => {
                    members.remove(at);
                }
                (None, Json::Null) => {}
                (Some(at), change) => {
                    let old = std::mem::replace(&mut members[at].1, Json::Null);
                    members[at].1 = old.merge_patch(change);
                }
                (None, change) => members.push((key, Json::Null.merge_patch(change))),
            }
        }
        Json::Object(members)
    }

    /// The document without its objects' `null` members, at any depth.
    fn without_null_members(self) -> Json {
        match self {
            Json::Object(members) => Json::Object(
                members
                    .into_iter()
                    .filter(|(_, value)| *value != Json::Null)
                    .map(|(key, value)| (key, value.without_null_members()))
                    .collect(),
            ),
            Json::Array(items) => {
                Json::Array(items.into_iter().map(Json::without_null_members).collect())
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Json;

    fn doc(text: &str) -> Json {
        Json::parse(text).unwrap()
    }

    #[test]
    fn merge_patches_follow_rfc_7396() {
        // RFC 7396's appendix A, a selection.
        let cases = [
            (r#"{"a":"b"}"#, r#"{"a":"c"}"#, r#"{"a":"c"}"#),
            (r#"{"a":"b"}"#, r#"{"b":"c"}"#, r#"{"a":"b","b":"c"}"#),
            (r#"{"a":"b"}"#, r#"{"a":null}"#, r#"{}"#),
            (r#"{"a":"b","b":"c"}"#, r#"{"a":null}"#, r#"{"b":"c"}"#),
            (r#"{"a":["b"]}"#, r#"{"a":"c"}"#, r#"{"a":"c"}"#),
            (
                r#"{"a":{"b":"c"}}"#,
                r#"{"a":{"b":"d","c":null}}"#,
                r#"{"a":{"b":"d"}}"#,
            ),
            (r#"{"a":[{"b":"c"}]}"#, r#"{"a":[1]}"#, r#"{"a":[1]}"#),
            (r#"["a","b"]"#, r#"["c","d"]"#, r#"["c","d"]"#),
            (r#"{"a":"b"}"#, r#"["c"]"#, r#"["c"]"#),
            (r#"{"e":null}"#, r#"{"a":1}"#, r#"{"e":null,"a":1}"#),
            (r#"[1,2]"#, r#"{"a":"b","c":null}"#, r#"{"a":"b"}"#),
            (
                r#"{}"#,
                r#"{"a":{"bb":{"ccc":null}}}"#,
                r#"{"a":{"bb":{}}}"#,
            ),
        ];
        for (target, patch, merged) in cases {
            assert_eq!(
                doc(target).merge_patch(doc(patch)).to_text(),
                merged,
                "{patch}"
            );
        }
    }

    #[test]
    fn null_members_go_at_any_depth() {
        assert_eq!(
            doc(r#"{"a":null,"b":[1,null,{"c":null,"d":2}],"e":{"f":null}}"#)
                .without_null_members()
                .to_text(),
            r#"{"b":[1,null,{"d":2}],"e":{}}"#
        );
    }
}
