//! DuckDB's `string_split(s, separator)` (also `str_split`, `string_to_array`, `split`) and
//! `split_part(s, separator, n)`, which DataFusion answers as PostgreSQL does:
//!
//! * the empty string is one empty field, `['']`, not `[]`, so `len(string_split(line, ' '))`
//!   counts a blank line's one field;
//! * the empty separator splits between characters (`'abc'` is `['a', 'b', 'c']`), and a NULL
//!   separator does not split (`['abc']`);
//! * `split_part` counts from the end for a negative `n`, and gives `''` for 0 or for a field
//!   past either end, where DataFusion fails on 0.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, ListBuilder, StringArray, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::{arrays, call_value};

/// Which of the two functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Splitting {
    /// `string_split(s, separator)`: every field, as a list.
    All,
    /// `split_part(s, separator, n)`: the `n`th field.
    Part,
}

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StringSplit {
    splitting: Splitting,
    signature: Signature,
    aliases: Vec<String>,
}

impl StringSplit {
    pub fn new(splitting: Splitting) -> Self {
        let aliases: &[&str] = match splitting {
            Splitting::All => &["str_split", "string_to_array", "split"],
            Splitting::Part => &[],
        };
        StringSplit {
            splitting,
            signature: Signature::user_defined(Volatility::Immutable),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
        }
    }
}

/// The fields of `text` between the separators; see the module documentation.
fn fields<'a>(text: &'a str, separator: Option<&'a str>) -> Vec<&'a str> {
    match separator {
        None => vec![text],
        Some("") if text.is_empty() => vec![""],
        Some("") => text
            .char_indices()
            .map(|(at, c)| &text[at..at + c.len_utf8()])
            .collect(),
        Some(separator) => text.split(separator).collect(),
    }
}

/// The `n`th of `fields` (1 the first, -1 the last), or `""` where there is none.
fn part<'a>(fields: &[&'a str], n: i64) -> &'a str {
    let at = match n {
        0 => None,
        n if n > 0 => usize::try_from(n - 1).ok(),
        n => usize::try_from(n.unsigned_abs())
            .ok()
            .and_then(|back| fields.len().checked_sub(back)),
    };
    at.and_then(|at| fields.get(at).copied()).unwrap_or("")
}

impl ScalarUDFImpl for StringSplit {
    fn name(&self) -> &str {
        match self.splitting {
            Splitting::All => "string_split",
            Splitting::Part => "split_part",
        }
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match (self.splitting, arg_types.len()) {
            (Splitting::All, 2) => Ok(vec![DataType::Utf8, DataType::Utf8]),
            (Splitting::Part, 3) => Ok(vec![DataType::Utf8, DataType::Utf8, DataType::Int64]),
            (Splitting::All, _) => plan_err!("string_split takes a string and a separator"),
            (Splitting::Part, _) => {
                plan_err!("split_part takes a string, a separator and a field number")
            }
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.splitting {
            Splitting::All => DataType::new_list(DataType::Utf8, true),
            Splitting::Part => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let inputs = arrays(&args.args, args.number_rows)?;
        let texts = inputs[0].as_string::<i32>();
        let separators = inputs[1].as_string::<i32>();
        let answer: ArrayRef = match self.splitting {
            Splitting::All => {
                let item = Field::new_list_field(DataType::Utf8, true);
                let mut lists = ListBuilder::new(StringBuilder::new()).with_field(item);
                for row in 0..texts.len() {
                    if texts.is_null(row) {
                        lists.append_null();
                        continue;
                    }
                    let separator = separators.is_valid(row).then(|| separators.value(row));
                    for field in fields(texts.value(row), separator) {
                        lists.values().append_value(field);
                    }
                    lists.append(true);
                }
                Arc::new(lists.finish())
            }
            Splitting::Part => {
                let numbers: &Int64Array = inputs[2].as_primitive::<Int64Type>();
                let parts: StringArray = (0..texts.len())
                    .map(|row| {
                        let valid = [texts.is_valid(row), separators.is_valid(row)];
                        (valid == [true, true] && numbers.is_valid(row)).then(|| {
                            let fields = fields(texts.value(row), Some(separators.value(row)));
                            part(&fields, numbers.value(row))
                        })
                    })
                    .collect();
                Arc::new(parts)
            }
        };
        call_value(&args.args, answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_parts_are_duckdbs() {
        assert_eq!(fields("", Some(",")), [""]);
        assert_eq!(fields("a,b,", Some(",")), ["a", "b", ""]);
        assert_eq!(fields("héllo", Some("")), ["h", "é", "l", "l", "o"]);
        assert_eq!(fields("a,b", None), ["a,b"]);
        assert_eq!(fields("a||b", Some("||")), ["a", "b"]);
        let abc = ["a", "b", "c"];
        let parts: Vec<&str> = [1, 3, 4, 0, -1, -3, -4, i64::MIN]
            .iter()
            .map(|&n| part(&abc, n))
            .collect();
        assert_eq!(parts, ["a", "c", "", "", "c", "a", "", ""]);
    }
}
