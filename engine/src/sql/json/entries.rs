//! The rows of DuckDB's `json_each(j [, path])` and `json_tree(j [, path])`: the members or
//! elements of a document (or of the value a path finds in it), and for `json_tree` that value
//! and every value below it, a row each with the columns SQLite and DuckDB give them:
//!
//! `key` (a member's key, an element's index as text, NULL for the value the walk starts
//! from), `value` (as JSON), `type` (as `json_type` names it), `atom` (a scalar's JSON, NULL
//! for an array, an object or null), `id` (the value's number in the document), `parent` (the
//! id of the value holding it; `json_tree` only), `fullkey` (its path from the document's
//! root) and `path` (its parent's path).
//!
//! Ids number the document's values in order, a member's key taking a number of its own before
//! its value, as DuckDB numbers them. The table functions are planned as an unnest of the list
//! [`JsonEntries`] gives for each document (see `sql::json_tables`).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, ListArray, StringArray, StructArray, UInt64Array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::path::JsonPath;
use super::value::Json;
use super::{is_text, parse};
use crate::sql::text_functions::{arrays, call_value};
use crate::sql::types::sql_type_name;

/// The columns of a row, in order, with their types.
const COLUMNS: [(&str, DataType); 8] = [
    ("key", DataType::Utf8),
    ("value", DataType::Utf8),
    ("type", DataType::Utf8),
    ("atom", DataType::Utf8),
    ("id", DataType::UInt64),
    ("parent", DataType::UInt64),
    ("fullkey", DataType::Utf8),
    ("path", DataType::Utf8),
];

/// The names of the table functions' columns, in order.
pub fn column_names() -> impl Iterator<Item = &'static str> {
    COLUMNS.iter().map(|(name, _)| *name)
}

/// `tarn_json_each(j [, path])` or `tarn_json_tree(j [, path])`: the list of rows of the
/// table function for each document (empty for a NULL document or path).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonEntries {
    /// `json_tree`: every value below the start, not only those directly inside it.
    tree: bool,
    signature: Signature,
}

impl JsonEntries {
    pub fn new(tree: bool) -> Self {
        JsonEntries {
            tree,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    /// The table function's name, for errors.
    fn table_function(&self) -> &'static str {
        match self.tree {
            true => "json_tree",
            false => "json_each",
        }
    }

    fn row_fields() -> Fields {
        COLUMNS
            .iter()
            .map(|(name, data_type)| Field::new(*name, data_type.clone(), true))
            .collect()
    }

    /// The value the walk starts from: the document, or what `path` finds in it.
    fn start<'a>(&self, doc: &'a Json, path: Option<&str>) -> Result<Option<&'a Json>> {
        let Some(path) = path else {
            return Ok(Some(doc));
        };
        // A JSON Pointer (`/a/0`), which the other JSON functions read, is refused here, as in
        // DuckDB.
        if !path.starts_with('$') {
            return exec_err!("JSON path must start with '$' for json_each/json_tree");
        }
        let path = match JsonPath::parse(path) {
            Ok(path) => path,
            Err(bad) => {
                return exec_err!(
                    "{}: JSON path error near '{}' in '{path}'",
                    self.table_function(),
                    bad.near
                );
            }
        };
        if path.is_wildcard() {
            return exec_err!("Wildcard JSON path not supported in json_each/json_tree");
        }
        Ok(path.select(doc).into_iter().next())
    }
}

impl ScalarUDFImpl for JsonEntries {
    fn name(&self) -> &str {
        match self.tree {
            true => super::TREE,
            false => super::EACH,
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(1..=2).contains(&arg_types.len()) {
            return plan_err!(
                "{} takes a JSON document and an optional path, not {} arguments",
                self.table_function(),
                arg_types.len()
            );
        }
        arg_types
            .iter()
            .map(|data_type| match data_type {
                t if is_text(t) => Ok(DataType::Utf8),
                t => plan_err!(
                    "{}: the JSON and its path must be text, not {}",
                    self.table_function(),
                    sql_type_name(t)
                ),
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::new_list(
            DataType::Struct(Self::row_fields()),
            true,
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args.args, args.number_rows)?;
        let docs: &StringArray = arrays[0].as_string();
        let paths: Option<&StringArray> = arrays.get(1).map(|paths| paths.as_string());
        let mut rows = Rows::default();
        let mut offsets = vec![0i32];
        for row in 0..docs.len() {
            let path = paths.map(|paths| paths.is_valid(row).then(|| paths.value(row)));
            if docs.is_valid(row) && path != Some(None) {
                let doc = parse(self.table_function(), docs.value(row))?;
                if let Some(start) = self.start(&doc, path.flatten())? {
                    rows.push_walk(&doc, start, self.tree);
                }
            }
            offsets.push(i32::try_from(rows.len()).or_else(|_| {
                exec_err!("{}: more than 2^31 rows in a batch", self.table_function())
            })?);
        }
        let list = ListArray::try_new(
            Arc::new(Field::new_list_field(
                DataType::Struct(Self::row_fields()),
                true,
            )),
            OffsetBuffer::new(offsets.into()),
            Arc::new(rows.finish()?),
            None,
        )?;
        call_value(&args.args, Arc::new(list))
    }
}

/// One value of a document, in document order.
struct Node<'a> {
    value: &'a Json,
    key: Option<String>,
    id: u64,
    /// The index of the node holding it.
    parent: Option<usize>,
    fullkey: String,
    /// The index past its last descendant.
    end: usize,
}

/// Every value of `doc`, in document order (a value before those inside it).
fn flatten(doc: &Json) -> Vec<Node<'_>> {
    let mut nodes = Vec::new();
    let mut next_id = 0;
    push_node(doc, None, None, "$".to_string(), &mut nodes, &mut next_id);
    nodes
}

fn push_node<'a>(
    value: &'a Json,
    key: Option<String>,
    parent: Option<usize>,
    fullkey: String,
    nodes: &mut Vec<Node<'a>>,
    next_id: &mut u64,
) {
    let index = nodes.len();
    nodes.push(Node {
        value,
        key,
        id: *next_id,
        parent,
        fullkey,
        end: 0,
    });
    *next_id += 1;
    match value {
        Json::Array(items) => {
            for (position, item) in items.iter().enumerate() {
                let fullkey = format!("{}[{position}]", nodes[index].fullkey);
                let key = Some(position.to_string());
                push_node(item, key, Some(index), fullkey, nodes, next_id);
            }
        }
        Json::Object(members) => {
            for (key, member) in members {
                // The key is a value of its own in DuckDB's numbering.
                *next_id += 1;
                let fullkey = format!("{}.{}", nodes[index].fullkey, key_in_path(key));
                push_node(
                    member,
                    Some(key.clone()),
                    Some(index),
                    fullkey,
                    nodes,
                    next_id,
                );
            }
        }
        _ => {}
    }
    nodes[index].end = nodes.len();
}

/// A member's key as a path writes it: bare when it is a word, quoted otherwise.
fn key_in_path(key: &str) -> String {
    let word = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match word {
        true => key.to_string(),
        false => format!("\"{}\"", key.replace('"', "\\\"")),
    }
}

/// The rows of every document so far, column by column.
#[derive(Default)]
struct Rows {
    keys: Vec<Option<String>>,
    values: Vec<String>,
    types: Vec<&'static str>,
    atoms: Vec<Option<String>>,
    ids: Vec<u64>,
    parents: Vec<Option<u64>>,
    fullkeys: Vec<String>,
    paths: Vec<String>,
}

impl Rows {
    fn len(&self) -> usize {
        self.ids.len()
    }

    /// The rows of a walk of `doc` from `start`, a value in it: the values directly inside
    /// it (or `start` itself where it holds none), or with `tree`, `start` and every value
    /// below it.
    fn push_walk(&mut self, doc: &Json, start: &Json, tree: bool) {
        let nodes = flatten(doc);
        let Some(root) = nodes.iter().position(|n| std::ptr::eq(n.value, start)) else {
            return;
        };
        let container = matches!(start, Json::Array(_) | Json::Object(_));
        let walked: Vec<usize> = match (tree, container) {
            (true, _) => (root..nodes[root].end).collect(),
            (false, true) => (root + 1..nodes[root].end)
                .filter(|&at| nodes[at].parent == Some(root))
                .collect(),
            (false, false) => vec![root],
        };
        for at in walked {
            let node = &nodes[at];
            let parent = node.parent.filter(|_| at != root).map(|p| &nodes[p]);
            self.keys.push(node.key.clone().filter(|_| at != root));
            self.values.push(node.value.to_text());
            self.types.push(node.value.type_name());
            self.atoms.push(match node.value {
                Json::Array(_) | Json::Object(_) | Json::Null => None,
                scalar => Some(scalar.to_text()),
            });
            self.ids.push(node.id);
            self.parents
                .push(parent.filter(|_| tree).map(|parent| parent.id));
            self.fullkeys.push(node.fullkey.clone());
            self.paths
                .push(parent.map_or(&node.fullkey, |p| &p.fullkey).clone());
        }
    }

    fn finish(self) -> Result<StructArray> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(self.keys)),
            Arc::new(StringArray::from(self.values)),
            Arc::new(StringArray::from(self.types)),
            Arc::new(StringArray::from(self.atoms)),
            Arc::new(UInt64Array::from(self.ids)),
            Arc::new(UInt64Array::from(self.parents)),
            Arc::new(StringArray::from(self.fullkeys)),
            Arc::new(StringArray::from(self.paths)),
        ];
        Ok(StructArray::try_new(
            JsonEntries::row_fields(),
            columns,
            None,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of a walk, each as its columns' text (`-` for NULL).
    fn walk(doc: &str, path: Option<&str>, tree: bool) -> Vec<String> {
        let doc = Json::parse(doc).unwrap();
        let entries = JsonEntries::new(tree);
        let mut rows = Rows::default();
        if let Some(start) = entries.start(&doc, path).unwrap() {
            rows.push_walk(&doc, start, tree);
        }
        let text = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
        (0..rows.len())
            .map(|r| {
                format!(
                    "{} {} {} {} {} {} {} {}",
                    text(&rows.keys[r]),
                    rows.values[r],
                    rows.types[r],
                    text(&rows.atoms[r]),
                    rows.ids[r],
                    rows.parents[r].map_or("-".into(), |p| p.to_string()),
                    rows.fullkeys[r],
                    rows.paths[r]
                )
            })
            .collect()
    }

    // Expected rows as DuckDB 2.0 gives them.
    #[test]
    fn each_gives_the_members_and_elements_directly_inside() {
        assert_eq!(
            walk(r#"{"a b":-1,"c":2.5,"d":null,"e":[1]}"#, None, false),
            [
                "a b -1 BIGINT -1 2 - $.\"a b\" $",
                "c 2.5 DOUBLE 2.5 4 - $.c $",
                "d null NULL - 6 - $.d $",
                "e [1] ARRAY - 8 - $.e $",
            ]
        );
        assert_eq!(walk("1", None, false), ["- 1 UBIGINT 1 0 - $ $"]);
        assert_eq!(walk("[]", None, false), Vec::<String>::new());
        assert_eq!(
            walk(r#"{"a":{"b":[1,2]}}"#, Some("$.a"), false),
            ["b [1,2] ARRAY - 4 - $.a.b $.a"]
        );
        assert_eq!(
            walk("[1,2]", Some("$[1]"), false),
            ["- 2 UBIGINT 2 2 - $[1] $[1]"]
        );
        assert_eq!(
            walk(r#"{"a":1}"#, Some("$.zz"), false),
            Vec::<String>::new()
        );
    }

    #[test]
    fn tree_gives_every_value_below_the_start() {
        assert_eq!(
            walk(r#"[[1,[2]],{"x":[]}]"#, None, true),
            [
                "- [[1,[2]],{\"x\":[]}] ARRAY - 0 - $ $",
                "0 [1,[2]] ARRAY - 1 0 $[0] $",
                "0 1 UBIGINT 1 2 1 $[0][0] $[0]",
                "1 [2] ARRAY - 3 1 $[0][1] $[0]",
                "0 2 UBIGINT 2 4 3 $[0][1][0] $[0][1]",
                "1 {\"x\":[]} OBJECT - 5 0 $[1] $",
                "x [] ARRAY - 7 5 $[1].x $[1]",
            ]
        );
        assert_eq!(
            walk(r#"{"a":{"b":[1,"s"]}}"#, Some("$.a"), true),
            [
                "- {\"b\":[1,\"s\"]} OBJECT - 2 - $.a $.a",
                "b [1,\"s\"] ARRAY - 4 2 $.a.b $.a",
                "0 1 UBIGINT 1 5 4 $.a.b[0] $.a.b",
                "1 \"s\" VARCHAR \"s\" 6 4 $.a.b[1] $.a.b",
            ]
        );
    }

    #[test]
    fn wildcard_and_pointer_paths_are_refused() {
        let doc = Json::parse("[1]").unwrap();
        for (path, message) in [
            (
                "$[*]",
                "Wildcard JSON path not supported in json_each/json_tree",
            ),
            (
                "/0",
                "JSON path must start with '$' for json_each/json_tree",
            ),
        ] {
            let err = JsonEntries::new(false).start(&doc, Some(path)).unwrap_err();
            assert!(err.to_string().contains(message), "{path}: {err}");
        }
    }
}
