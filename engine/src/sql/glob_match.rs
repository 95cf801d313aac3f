//! DuckDB's `GLOB` operator: `name GLOB '*.parquet'` matches the whole string against a Unix
//! shell pattern, case-sensitively. [`super::dialect`] parses `a [NOT] GLOB b` into a call of
//! `glob_match(a, b)` (DuckDB's operator `~~~`).
//!
//! The pattern, byte by byte as DuckDB reads it: `*` matches any run of bytes, `?` one byte (so
//! one byte of a multi-byte UTF-8 character, as in DuckDB), `[abc]`, `[a-z]` and `[!a-z]` one
//! byte in (or, with `!`, not in) the class, where a `]` right after `[` or `[!` and a `-` first
//! or last are themselves members; `\` makes the next byte literal. A pattern with a `[` left
//! open or a `\` at its end matches nothing.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, BooleanArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::{arrays, call_value, constants, is_text};
use super::types::sql_type_name;

/// The function the parser turns `GLOB` into.
pub const GLOB_MATCH: &str = "glob_match";

/// One step of a parsed pattern.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// `*`: any run of bytes.
    AnyRun,
    /// `?`: any one byte.
    AnyByte,
    /// A byte in (or, negated, not in) these inclusive ranges.
    Class {
        ranges: Vec<(u8, u8)>,
        negated: bool,
    },
    Byte(u8),
}

/// A parsed pattern; `None` steps for a malformed one, which matches nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobPattern {
    steps: Option<Vec<Step>>,
}

impl GlobPattern {
    pub fn new(pattern: &str) -> Self {
        GlobPattern {
            steps: parse(pattern.as_bytes()),
        }
    }

    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        self.steps
            .as_deref()
            .is_some_and(|steps| matches_steps(steps, text.as_bytes()))
    }
}

fn parse(pattern: &[u8]) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    let mut i = 0;
    while i < pattern.len() {
        let step = match pattern[i] {
            b'*' => Step::AnyRun,
            b'?' => Step::AnyByte,
            b'\\' => {
                i += 1;
                Step::Byte(*pattern.get(i)?)
            }
            b'[' => {
                let (class, end) = parse_class(pattern, i + 1)?;
                i = end;
                class
            }
            byte => Step::Byte(byte),
        };
        // Runs of `*` are one.
        if !(step == Step::AnyRun && steps.last() == Some(&Step::AnyRun)) {
            steps.push(step);
        }
        i += 1;
    }
    Some(steps)
}

/// The class starting at `start` (just after its `[`) and the index of its closing `]`.
fn parse_class(pattern: &[u8], start: usize) -> Option<(Step, usize)> {
    let negated = pattern.get(start) == Some(&b'!');
    let first = start + usize::from(negated);
    let mut ranges = Vec::new();
    let mut i = first;
    loop {
        let byte = *pattern.get(i)?;
        if byte == b']' && i > first {
            return Some((Step::Class { ranges, negated }, i));
        }
        match (pattern.get(i + 1), pattern.get(i + 2)) {
            (Some(b'-'), Some(&last)) if last != b']' => {
                ranges.push((byte, last));
                i += 3;
            }
            _ => {
                ranges.push((byte, byte));
                i += 1;
            }
        }
    }
}

fn step_matches(step: &Step, byte: u8) -> bool {
    match step {
        Step::AnyRun | Step::AnyByte => true,
        Step::Byte(b) => *b == byte,
        Step::Class { ranges, negated } => {
            ranges
                .iter()
                .any(|&(low, high)| low <= byte && byte <= high)
                != *negated
        }
    }
}

/// Greedy matching with backtracking to the last `*`: each `*` only ever needs to take more of
/// the text than it did, so the work is at most text × pattern.
fn matches_steps(steps: &[Step], text: &[u8]) -> bool {
    let (mut s, mut t) = (0, 0);
    // After the last `*` seen: the step following it and the text position it took up to.
    let mut resume: Option<(usize, usize)> = None;
    while t < text.len() {
        match steps.get(s) {
            Some(Step::AnyRun) => {
                resume = Some((s + 1, t));
                s += 1;
            }
            Some(step) if step_matches(step, text[t]) => {
                s += 1;
                t += 1;
            }
            _ => match resume {
                Some((after_star, taken)) => {
                    resume = Some((after_star, taken + 1));
                    s = after_star;
                    t = taken + 1;
                }
                None => return false,
            },
        }
    }
    steps[s..].iter().all(|step| *step == Step::AnyRun)
}

/// `glob_match(text, pattern)`: see the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct GlobMatch {
    signature: Signature,
}

impl GlobMatch {
    pub fn new() -> Self {
        GlobMatch {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for GlobMatch {
    fn name(&self) -> &str {
        GLOB_MATCH
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 2 {
            return plan_err!("GLOB takes a string and a pattern");
        }
        if let Some(other) = arg_types
            .iter()
            .find(|t| !is_text(t) && **t != DataType::Null)
        {
            return plan_err!("GLOB takes strings, not {}", sql_type_name(other));
        }
        Ok(vec![DataType::Utf8; 2])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args.args, args.number_rows)?;
        let (texts, patterns): (&StringArray, &StringArray) =
            (arrays[0].as_string(), arrays[1].as_string());
        // A constant pattern, the usual case, is parsed once.
        let constant = match constants(&args.args)[1] {
            Some(_) => patterns.iter().next().flatten().map(GlobPattern::new),
            None => None,
        };
        let answer: BooleanArray = texts
            .iter()
            .zip(patterns.iter())
            .map(|(text, pattern)| match (text, pattern, &constant) {
                (Some(text), Some(_), Some(parsed)) => Some(parsed.matches(text)),
                (Some(text), Some(pattern), None) => Some(GlobPattern::new(pattern).matches(text)),
                _ => None,
            })
            .collect();
        call_value(&args.args, Arc::new(answer) as ArrayRef)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DuckDB 2.0's answers.
    #[test]
    fn patterns_match_as_in_duckdb() {
        let cases = [
            ("abc", "a*", true),
            ("abc", "A*", false),
            ("a/b", "a*", true),
            ("abc", "?b?", true),
            ("abc", "a?", false),
            ("a[c", "a[[]c", true),
            ("abc", "a[!x]c", true),
            ("abc", "a[a-c]c", true),
            ("a", "[", false),
            ("a*c", "a\\*c", true),
            ("abc", "a\\*c", false),
            ("a\\c", "a\\c", false),
            ("ab", "a**", true),
            ("", "*", true),
            ("abc", "a[^b]c", true),
            ("é", "?", false),
            ("é", "??", true),
            ("é", "[é]", false),
            ("b", "[a-c]", true),
            ("-", "[a-]", true),
            ("]", "[]]", true),
            ("a", "[]a]", true),
            ("b", "[!]a]", true),
            ("ab", "a[b", false),
            ("x", "[z-a]", false),
        ];
        for (text, pattern, expected) in cases {
            assert_eq!(
                GlobPattern::new(pattern).matches(text),
                expected,
                "{text:?} GLOB {pattern:?}"
            );
        }
    }
}
