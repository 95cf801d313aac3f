//! DuckDB's path functions, for the `filename` column a scan adds and for paths stored in
//! tables: `parse_path(p [, sep])` (the parts, a leading separator its own part),
//! `parse_dirname(p [, sep])` (the first part), `parse_dirpath(p [, sep])` (all before the last
//! separator) and `parse_filename(p [, trim_extension] [, sep])` (all after it, without its
//! last `.extension` when asked).
//!
//! `sep` is `'both_slash'` (the default: `/` and `\`), `'forward_slash'`, `'backslash'` or
//! `'system'` (`/` here); DuckDB reads any other text, or NULL, as the default, and so does
//! Tarn. The answers follow DuckDB 2.0's, quirks included: `parse_dirpath('/c')` is `''` but
//! `parse_dirpath('/')` is `'/'`.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, ListBuilder, StringArray, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::{arrays, call_value, is_text};
use super::types::sql_type_name;

/// Which part of a path a function gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Part {
    Parts,
    DirName,
    DirPath,
    FileName,
}

/// The four functions, to register.
pub fn functions() -> [ScalarUDF; 4] {
    [Part::Parts, Part::DirName, Part::DirPath, Part::FileName]
        .map(|part| ScalarUDF::from(PathPart::new(part)))
}

/// The separators a `sep` argument names.
fn separators(sep: Option<&str>) -> &'static [char] {
    match sep {
        Some("forward_slash" | "system") => &['/'],
        Some("backslash") => &['\\'],
        _ => &['/', '\\'],
    }
}

/// The parts of `path`: a leading separator, then the names between separators (empty ones
/// left out).
fn parts<'a>(path: &'a str, seps: &[char]) -> Vec<&'a str> {
    let leading = path
        .chars()
        .next()
        .filter(|c| seps.contains(c))
        .map(|c| &path[..c.len_utf8()]);
    leading
        .into_iter()
        .chain(path.split(seps).filter(|name| !name.is_empty()))
        .collect()
}

fn dirname<'a>(path: &'a str, seps: &[char]) -> &'a str {
    match path.contains(seps) {
        true => parts(path, seps).first().copied().unwrap_or(""),
        false => "",
    }
}

fn dirpath<'a>(path: &'a str, seps: &[char]) -> &'a str {
    match path.rfind(seps) {
        // The root alone is its own folder.
        Some(0) if path.chars().count() == 1 => path,
        Some(last) => &path[..last],
        None => "",
    }
}

fn filename<'a>(path: &'a str, seps: &[char], trim_extension: bool) -> &'a str {
    let name = match path.rfind(seps) {
        Some(last) => &path[last + 1..],
        None => path,
    };
    match (trim_extension, name.rfind('.')) {
        (true, Some(dot)) => &name[..dot],
        _ => name,
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct PathPart {
    part: Part,
    signature: Signature,
}

impl PathPart {
    fn new(part: Part) -> Self {
        PathPart {
            part,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for PathPart {
    fn name(&self) -> &str {
        match self.part {
            Part::Parts => "parse_path",
            Part::DirName => "parse_dirname",
            Part::DirPath => "parse_dirpath",
            Part::FileName => "parse_filename",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The path and the separator as text; `parse_filename`'s optional second argument is the
    /// flag (a BOOLEAN) or the separator (text).
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let text = |t: &DataType| is_text(t) || *t == DataType::Null;
        let flag = |t: &DataType| matches!(t, DataType::Boolean | DataType::Null);
        let takes_flag = self.part == Part::FileName;
        match arg_types {
            [path] if text(path) => Ok(vec![DataType::Utf8]),
            [path, sep] if text(path) && text(sep) && !(takes_flag && *sep == DataType::Null) => {
                Ok(vec![DataType::Utf8, DataType::Utf8])
            }
            [path, trim] if takes_flag && text(path) && flag(trim) => {
                Ok(vec![DataType::Utf8, DataType::Boolean])
            }
            [path, trim, sep] if takes_flag && text(path) && flag(trim) && text(sep) => {
                Ok(vec![DataType::Utf8, DataType::Boolean, DataType::Utf8])
            }
            _ => {
                let types: Vec<String> = arg_types.iter().map(sql_type_name).collect();
                let usage = match takes_flag {
                    true => "a path, an optional BOOLEAN trim_extension and an optional separator",
                    false => "a path and an optional separator",
                };
                plan_err!("{} takes {usage}, not ({})", self.name(), types.join(", "))
            }
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.part {
            Part::Parts => DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            _ => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args.args, args.number_rows)?;
        let paths = arrays[0].as_string::<i32>();
        let (trims, seps): (Option<&BooleanArray>, Option<&StringArray>) = match arrays.as_slice() {
            [_, trim, sep] => (Some(trim.as_boolean()), Some(sep.as_string::<i32>())),
            [_, other] if *other.data_type() == DataType::Boolean => {
                (Some(other.as_boolean()), None)
            }
            [_, sep] => (None, Some(sep.as_string::<i32>())),
            _ => (None, None),
        };
        let seps_at =
            |row: usize| separators(seps.filter(|s| s.is_valid(row)).map(|s| s.value(row)));
        let trim_at = |row: usize| trims.is_some_and(|t| t.is_valid(row) && t.value(row));
        let answer: ArrayRef = match self.part {
            Part::Parts => {
                let mut lists = ListBuilder::new(StringBuilder::new());
                for row in 0..paths.len() {
                    match paths.is_valid(row) {
                        true => {
                            for part in parts(paths.value(row), seps_at(row)) {
                                lists.values().append_value(part);
                            }
                            lists.append(true);
                        }
                        false => lists.append(false),
                    }
                }
                Arc::new(lists.finish())
            }
            part => Arc::new(
                (0..paths.len())
                    .map(|row| {
                        let path = paths.is_valid(row).then(|| paths.value(row))?;
                        let seps = seps_at(row);
                        Some(match part {
                            Part::DirName => dirname(path, seps),
                            Part::DirPath => dirpath(path, seps),
                            _ => filename(path, seps, trim_at(row)),
                        })
                    })
                    .collect::<StringArray>(),
            ),
        };
        call_value(&args.args, answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DuckDB 2.0's answers for each path with the default separators, then forward and back
    /// slashes only: (parse_path, parse_dirname, parse_dirpath, parse_filename,
    /// parse_filename trimmed).
    #[test]
    fn parts_are_duckdbs() {
        type Answer<'a> = (&'a [&'a str], &'a str, &'a str, &'a str, &'a str);
        let cases: &[(&str, [Answer; 3])] = &[
            (
                "/a/b/c.parquet",
                [
                    (&["/", "a", "b", "c.parquet"], "/", "/a/b", "c.parquet", "c"),
                    (&["/", "a", "b", "c.parquet"], "/", "/a/b", "c.parquet", "c"),
                    (&["/a/b/c.parquet"], "", "", "/a/b/c.parquet", "/a/b/c"),
                ],
            ),
            (
                "a/b/",
                [
                    (&["a", "b"], "a", "a/b", "", ""),
                    (&["a", "b"], "a", "a/b", "", ""),
                    (&["a/b/"], "", "", "a/b/", "a/b/"),
                ],
            ),
            ("c", [(&["c"], "", "", "c", "c"); 3]),
            (
                "/c",
                [
                    (&["/", "c"], "/", "", "c", "c"),
                    (&["/", "c"], "/", "", "c", "c"),
                    (&["/c"], "", "", "/c", "/c"),
                ],
            ),
            (
                "/",
                [
                    (&["/"], "/", "/", "", ""),
                    (&["/"], "/", "/", "", ""),
                    (&["/"], "", "", "/", "/"),
                ],
            ),
            ("", [(&[], "", "", "", ""); 3]),
            (
                "a//b",
                [
                    (&["a", "b"], "a", "a/", "b", "b"),
                    (&["a", "b"], "a", "a/", "b", "b"),
                    (&["a//b"], "", "", "a//b", "a//b"),
                ],
            ),
            (
                "a\\b/c",
                [
                    (&["a", "b", "c"], "a", "a\\b", "c", "c"),
                    (&["a\\b", "c"], "a\\b", "a\\b", "c", "c"),
                    (&["a", "b/c"], "a", "a", "b/c", "b/c"),
                ],
            ),
            ("a.b.c", [(&["a.b.c"], "", "", "a.b.c", "a.b"); 3]),
            (
                "x/.y",
                [
                    (&["x", ".y"], "x", "x", ".y", ""),
                    (&["x", ".y"], "x", "x", ".y", ""),
                    (&["x/.y"], "", "", "x/.y", "x/"),
                ],
            ),
            (
                "s3://bkt/p/q.parquet",
                [
                    (
                        &["s3:", "bkt", "p", "q.parquet"],
                        "s3:",
                        "s3://bkt/p",
                        "q.parquet",
                        "q",
                    ),
                    (
                        &["s3:", "bkt", "p", "q.parquet"],
                        "s3:",
                        "s3://bkt/p",
                        "q.parquet",
                        "q",
                    ),
                    (
                        &["s3://bkt/p/q.parquet"],
                        "",
                        "",
                        "s3://bkt/p/q.parquet",
                        "s3://bkt/p/q",
                    ),
                ],
            ),
        ];
        for (path, answers) in cases {
            for (sep, expected) in [None, Some("forward_slash"), Some("backslash")]
                .into_iter()
                .zip(answers)
            {
                let seps = separators(sep);
                let got = (
                    parts(path, seps),
                    dirname(path, seps),
                    dirpath(path, seps),
                    filename(path, seps, false),
                    filename(path, seps, true),
                );
                let want = (
                    expected.0.to_vec(),
                    expected.1,
                    expected.2,
                    expected.3,
                    expected.4,
                );
                assert_eq!(got, want, "{path:?} with {sep:?}");
            }
        }
    }
}
