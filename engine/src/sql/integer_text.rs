//! Text read as an integer the way DuckDB reads it: `CAST('12.5' AS INTEGER)` is 13, and
//! `' 7 '`, `'+7'`, `'1e3'`, `'1_000'` and `'0x1F'` are integers too. Arrow's cast takes only
//! plain digits, so a column of numbers kept as text (CSV read as VARCHAR, JSON values) failed
//! to cast, and `TRY_CAST` silently gave NULL where DuckDB gives the number.
//!
//! The analyzer rule `optimizer::IntegerCasts` puts [`IntegerText`] under each cast of text to
//! an integer type. It rewrites each value to plain digits (a fraction rounded half away from
//! zero, as DuckDB rounds one); the cast that follows checks the range and fails, or gives
//! NULL under `TRY_CAST`, with Arrow's own message. Text it cannot read passes unchanged, for
//! the cast to refuse.

use std::borrow::Cow;

use datafusion::arrow::array::{ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use super::text_functions::{arrays, call_value};

/// The name of [`IntegerText`].
pub const INTEGER_TEXT: &str = "tarn_integer_text";

/// Registers [`IntegerText`], so that a cluster executor finds it by name.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(IntegerText::new()));
}

/// Text with each integer DuckDB reads respelled as plain digits (see the module
/// documentation).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IntegerText {
    signature: Signature,
}

impl IntegerText {
    pub fn new() -> Self {
        IntegerText {
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
        }
    }
}

impl Default for IntegerText {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for IntegerText {
    fn name(&self) -> &str {
        INTEGER_TEXT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::Utf8] => Ok(DataType::Utf8),
            _ => plan_err!("{INTEGER_TEXT} takes text"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = &arrays(&args.args, args.number_rows)?[0];
        let texts = input.as_string::<i32>();
        // Most columns hold plain digits already: those pass as they are.
        let plain = texts.iter().flatten().all(plain_digits);
        let answer: ArrayRef = match plain {
            true => input.clone(),
            false => std::sync::Arc::new(
                texts
                    .iter()
                    .map(|text| text.map(respelled))
                    .collect::<StringArray>(),
            ),
        };
        call_value(&args.args, answer)
    }
}

/// Whether Arrow's cast reads `text` as it is: an optional `-` and digits.
fn plain_digits(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `text` as plain digits when DuckDB reads it as an integer; otherwise as it is.
fn respelled(text: &str) -> Cow<'_, str> {
    match integer(text.trim()) {
        Some(value) => Cow::Owned(value.to_string()),
        None => Cow::Borrowed(text),
    }
}

/// The integer DuckDB reads in `text`: a sign, then digits (`_` between them allowed) with a
/// fraction rounded half away from zero or an exponent; or, unsigned, `0x`/`0b` and hex or
/// binary digits.
pub(crate) fn integer(text: &str) -> Option<i128> {
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let radix = match (unsigned.len() == text.len())
        .then(|| unsigned.get(..2))
        .flatten()
    {
        Some(prefix) => prefix.to_ascii_lowercase(),
        None => String::new(),
    };
    let magnitude = match radix.as_str() {
        "0x" => i128::from_str_radix(&digits(&unsigned[2..])?, 16).ok()?,
        "0b" => i128::from_str_radix(&digits(&unsigned[2..])?, 2).ok()?,
        _ if unsigned.contains(['e', 'E']) => {
            let value: f64 = digits(unsigned)?.parse().ok()?;
            let rounded = value.round();
            (rounded.is_finite() && rounded.abs() < 1e38).then_some(rounded as i128)?
        }
        _ => {
            let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
            let whole = digits(whole)?;
            let fraction = digits(fraction).filter(|f| f.bytes().all(|b| b.is_ascii_digit()));
            let round_up = fraction?.bytes().next().is_some_and(|first| first >= b'5');
            let whole: i128 = match whole.as_str() {
                "" if unsigned.len() > 1 => 0,
                _ => whole.parse().ok()?,
            };
            whole.checked_add(round_up.into())?
        }
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// `text` without the `_` DuckDB allows between digits; `None` when one stands elsewhere.
fn digits(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let separators_fit = bytes.iter().enumerate().all(|(at, &b)| {
        b != b'_'
            || (at > 0 && at + 1 < bytes.len() && bytes[at - 1] != b'_' && bytes[at + 1] != b'_')
    });
    separators_fit.then(|| text.replace('_', ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_integers_as_duckdb_does() {
        // DuckDB 1.x answers for CAST(text AS HUGEINT).
        for (text, value) in [
            ("12", 12),
            ("12.5", 13),
            ("-12.5", -13),
            ("12.49", 12),
            (" 7 ", 7),
            ("+7", 7),
            ("1e3", 1000),
            ("1.5e1", 15),
            ("1_000", 1000),
            ("0x1F", 31),
            ("0b101", 5),
            (".5", 1),
            ("5.", 5),
        ] {
            assert_eq!(integer(text.trim()), Some(value), "{text}");
        }
        for text in [
            "", "-", "-0x10", "abc", "1_", "_1", "1__0", "1.2.3", "12a", "0x", "1e400", ".",
        ] {
            assert_eq!(integer(text), None, "{text}");
        }
    }
}
