//! DuckDB's `substring(s, start [, length])`, also `substr` and `SUBSTRING(s FROM a FOR b)`.
//!
//! DataFusion follows PostgreSQL, where a negative start counts positions before the first
//! character: `substring('hello', -3)` is `hello` there and `llo` in DuckDB, which counts a
//! negative start from the end. DuckDB also takes a negative length as the characters before
//! `start` (`substring('hello', 2, -1)` is `h`), where DataFusion fails. Positions are
//! characters, from 1; what falls outside the string is cut off, as in both.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, LargeStringArray, StringArray, StringArrayType,
    StringViewArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::{arrays, call_value};

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DuckSubstring {
    signature: Signature,
    aliases: Vec<String>,
}

impl DuckSubstring {
    pub fn new() -> Self {
        DuckSubstring {
            signature: Signature::user_defined(Volatility::Immutable),
            aliases: vec!["substring".to_string()],
        }
    }
}

impl Default for DuckSubstring {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for DuckSubstring {
    fn name(&self) -> &str {
        "substr"
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let text = match arg_types.first() {
            Some(t @ (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)) => t.clone(),
            Some(DataType::Null) => DataType::Utf8,
            Some(other) if other.is_integer() || other.is_floating() => DataType::Utf8,
            Some(other) => return plan_err!("substring of {other}, not of a string"),
            None => return plan_err!("substring takes a string, a start and a length"),
        };
        match arg_types.len() {
            2 | 3 => Ok(std::iter::once(text)
                .chain(std::iter::repeat_n(DataType::Int64, arg_types.len() - 1))
                .collect()),
            _ => plan_err!("substring takes a string, a start and optionally a length"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args.args, args.number_rows)?;
        let starts = cast(&arrays[1], &DataType::Int64)?;
        let starts = starts.as_primitive::<Int64Type>();
        let lengths = match arrays.get(2) {
            Some(lengths) => Some(cast(lengths, &DataType::Int64)?),
            None => None,
        };
        let lengths = lengths.as_ref().map(|l| l.as_primitive::<Int64Type>());
        let text = &arrays[0];
        let answer: ArrayRef = match text.data_type() {
            DataType::Utf8View => Arc::new(
                slices(text.as_string_view(), starts, lengths).collect::<StringViewArray>(),
            ),
            DataType::Utf8 => {
                Arc::new(slices(text.as_string::<i32>(), starts, lengths).collect::<StringArray>())
            }
            DataType::LargeUtf8 => Arc::new(
                slices(text.as_string::<i64>(), starts, lengths).collect::<LargeStringArray>(),
            ),
            other => return exec_err!("substring of {other}"),
        };
        call_value(&args.args, answer)
    }
}

/// Each row's substring; null where any argument is.
fn slices<'a>(
    text: impl StringArrayType<'a> + 'a,
    starts: &'a Int64Array,
    lengths: Option<&'a Int64Array>,
) -> impl Iterator<Item = Option<&'a str>> + 'a {
    (0..text.len()).map(move |row| {
        if text.is_null(row) || starts.is_null(row) || lengths.is_some_and(|l| l.is_null(row)) {
            return None;
        }
        let length = lengths.map(|l| l.value(row));
        Some(substring(text.value(row), starts.value(row), length))
    })
}

/// DuckDB's substring of `s`: `length` characters from the `start`th (from 1; counted from the
/// end when negative), or the `-length` before it when `length` is negative, or all after it.
fn substring(s: &str, start: i64, length: Option<i64>) -> &str {
    let ascii = s.is_ascii();
    let chars = if ascii { s.len() } else { s.chars().count() } as i64;
    let start = if start < 0 { chars + start + 1 } else { start };
    let (from, to) = match length {
        None => (start, i64::MAX),
        Some(n) if n >= 0 => (start, start.saturating_add(n)),
        Some(n) => (start.saturating_add(n), start),
    };
    let (from, to) = (from.max(1), to.min(chars + 1));
    if from >= to {
        return "";
    }
    // Characters [from, to) as byte offsets.
    let (from, to) = ((from - 1) as usize, (to - 1) as usize);
    if ascii {
        return &s[from..to];
    }
    let byte = |char_index: usize| {
        s.char_indices()
            .map(|(offset, _)| offset)
            .chain(std::iter::once(s.len()))
            .nth(char_index)
            .expect("the index is within the string")
    };
    &s[byte(from)..byte(to)]
}

#[cfg(test)]
mod tests {
    use super::substring;

    #[test]
    fn positions_as_duckdb_counts_them() {
        // Each answer is DuckDB 2.0's.
        for (start, length, answer) in [
            (2, None, "ello"),
            (-3, None, "llo"),
            (-3, Some(2), "ll"),
            (0, Some(2), "h"),
            (0, None, "hello"),
            (-10, Some(3), ""),
            (-10, None, "hello"),
            (2, Some(-1), "h"),
            (6, None, ""),
            (-5, Some(1), "h"),
            (1, Some(i64::MAX), "hello"),
            (i64::MIN, Some(i64::MIN), ""),
        ] {
            assert_eq!(
                substring("hello", start, length),
                answer,
                "{start} {length:?}"
            );
        }
        assert_eq!(substring("héllo", -4, Some(2)), "él");
        assert_eq!(substring("héllo", 2, None), "éllo");
    }
}
