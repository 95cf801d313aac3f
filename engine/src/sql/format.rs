//! DuckDB's `format(template, args...)` (the fmt library's `{}` syntax) and
//! `printf(template, args...)` (C's `%` syntax), for building text such as prompts from
//! columns: `format('Q: {} A: {:.2f}', question, score)`.
//!
//! * `format`: `{}` takes the next argument, `{n}` the nth (from 0), `{{` and `}}` are braces;
//!   a spec after `:` is `[[fill]align][sign][0][width][,][.precision][type]`, align `<`, `>`
//!   or `^`, `,` a comma between each three digits of a decimal number (`1,234,567.89`), type
//!   `d`, `f`, `e`, `x`, `X`, `o`, `b`, `s` or `c`.
//! * `printf`: `%[flags][width][.precision]type`, flags `-`, `+`, `0` and space, type `d`, `i`,
//!   `u`, `s`, `f`, `F`, `e`, `E`, `x`, `X`, `o` or `c`; `%%` is `%`.
//!
//! A value without a numeric type in its spec is written as its text (a cast to VARCHAR); an
//! integer type (`d`, `x`, ...) takes an integer and a floating-point type (`f`, `e`) a DOUBLE
//! or DECIMAL. A NULL argument or template gives NULL. A template that asks for a missing
//! argument, a type this does not write, or a spec the value's type does not take, is one
//! error naming the template.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder, new_null_array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use super::text_functions::{arrays, call_value};

/// Registers `format` and `printf` on a context.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(FormatUdf::new(Syntax::Fmt)));
    ctx.register_udf(ScalarUDF::from(FormatUdf::new(Syntax::Printf)));
}

/// Which template syntax a function reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Syntax {
    Fmt,
    Printf,
}

/// A piece of a parsed template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Value { argument: usize, spec: Spec },
}

/// How one value is written.
#[derive(Debug, Clone, Default, PartialEq)]
struct Spec {
    fill: Option<char>,
    /// `<`, `>` or `^`; numbers go right and text left when not given.
    align: Option<char>,
    plus: bool,
    space: bool,
    zero: bool,
    width: usize,
    /// Whether a decimal number's whole digits are grouped by threes with commas.
    thousands: bool,
    precision: Option<usize>,
    /// The conversion (`d`, `f`, `s`, ...), if any.
    kind: Option<char>,
}

/// A value of a row, in the form its spec needs.
enum Value<'a> {
    Text(&'a str),
    Integer(i64),
    Float(f64),
}

impl Spec {
    fn is_integer(&self) -> bool {
        matches!(
            self.kind,
            Some('d' | 'i' | 'u' | 'x' | 'X' | 'o' | 'b' | 'c')
        )
    }

    fn is_float(&self) -> bool {
        matches!(self.kind, Some('f' | 'F' | 'e' | 'E'))
    }

    /// `value` written by this spec, padded to its width; `numeric` says whether the argument
    /// is a number (a number's text goes right, and takes zeros after its sign).
    fn write(&self, value: Value, numeric: bool, out: &mut String) {
        let (sign, body) = match value {
            Value::Text(text) => {
                let (sign, text) = match text.strip_prefix('-') {
                    Some(rest) if numeric => ("-", rest),
                    _ => ("", text),
                };
                let body: String = match self.precision {
                    Some(p) => text.chars().take(p).collect(),
                    None => text.to_string(),
                };
                (sign, body)
            }
            Value::Integer(i) => {
                let magnitude = i.unsigned_abs();
                let body = match self.kind {
                    Some('x') => format!("{magnitude:x}"),
                    Some('X') => format!("{magnitude:X}"),
                    Some('o') => format!("{magnitude:o}"),
                    Some('b') => format!("{magnitude:b}"),
                    Some('c') => char::from_u32(i as u32)
                        .map(String::from)
                        .unwrap_or_default(),
                    _ => magnitude.to_string(),
                };
                (self.sign(i < 0), body)
            }
            Value::Float(x) => {
                let precision = self.precision.unwrap_or(6);
                let magnitude = x.abs();
                let body = match self.kind {
                    Some('e') => c_exponent(magnitude, precision),
                    Some('E') => c_exponent(magnitude, precision).to_uppercase(),
                    _ => format!("{magnitude:.precision$}"),
                };
                (self.sign(x.is_sign_negative() && x != 0.0), body)
            }
        };
        let decimal = numeric && matches!(self.kind, None | Some('d' | 'f' | 'F'));
        let body = match self.thousands && decimal {
            true => grouped_by_thousands(&body),
            false => body,
        };
        let length = sign.chars().count() + body.chars().count();
        let padding = self.width.saturating_sub(length);
        if self.zero && numeric && self.align.is_none() {
            out.push_str(sign);
            out.extend(std::iter::repeat_n('0', padding));
            out.push_str(&body);
            return;
        }
        let fill = self.fill.unwrap_or(' ');
        let (before, after) = match self.align.unwrap_or(if numeric { '>' } else { '<' }) {
            '>' => (padding, 0),
            '^' => (padding / 2, padding - padding / 2),
            _ => (0, padding),
        };
        out.extend(std::iter::repeat_n(fill, before));
        out.push_str(sign);
        out.push_str(&body);
        out.extend(std::iter::repeat_n(fill, after));
    }

    fn sign(&self, negative: bool) -> &'static str {
        match (negative, self.plus, self.space) {
            (true, _, _) => "-",
            (false, true, _) => "+",
            (false, false, true) => " ",
            _ => "",
        }
    }
}

/// A number's text with a comma between each three of its whole digits: `1234567.5` is
/// `1,234,567.5`.
fn grouped_by_thousands(number: &str) -> String {
    let whole = number
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(number.len());
    let (digits, rest) = number.split_at(whole);
    let mut grouped = String::with_capacity(number.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped.push_str(rest);
    grouped
}

/// `x` (not negative) as C writes `%.{precision}e`: `1.500000e+02`.
fn c_exponent(x: f64, precision: usize) -> String {
    let rust = format!("{x:.precision$e}");
    let (mantissa, exponent) = rust.split_once('e').expect("Rust writes an exponent");
    let exponent: i32 = exponent.parse().expect("the exponent is a number");
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

/// Parses a template into its pieces.
fn parse(template: &str, syntax: Syntax) -> Result<Vec<Piece>, String> {
    match syntax {
        Syntax::Fmt => parse_fmt(template),
        Syntax::Printf => parse_printf(template),
    }
}

fn parse_fmt(template: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut next = 0;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '}' => return Err("a '}' that closes nothing".into()),
            '{' => {
                let field: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let (index, spec) = field.split_once(':').unwrap_or((&field, ""));
                let argument = match index.trim() {
                    "" => {
                        next += 1;
                        next - 1
                    }
                    n => n.parse().map_err(|_| format!("bad argument index '{n}'"))?,
                };
                pieces.push(Piece::Text(std::mem::take(&mut text)));
                pieces.push(Piece::Value {
                    argument,
                    spec: fmt_spec(spec)?,
                });
            }
            c => text.push(c),
        }
    }
    pieces.push(Piece::Text(text));
    Ok(pieces)
}

/// `[[fill]align][sign][0][width][,][.precision][type]`.
fn fmt_spec(spec: &str) -> Result<Spec, String> {
    let chars: Vec<char> = spec.chars().collect();
    let mut at = 0;
    let mut parsed = Spec::default();
    let is_align = |c: Option<&char>| matches!(c, Some('<' | '>' | '^'));
    if is_align(chars.get(1)) {
        parsed.fill = Some(chars[0]);
        parsed.align = Some(chars[1]);
        at = 2;
    } else if is_align(chars.first()) {
        parsed.align = Some(chars[0]);
        at = 1;
    }
    match chars.get(at) {
        Some('+') => (parsed.plus, at) = (true, at + 1),
        Some(' ') => (parsed.space, at) = (true, at + 1),
        Some('-') => at += 1,
        _ => {}
    }
    if chars.get(at) == Some(&'0') {
        (parsed.zero, at) = (true, at + 1);
    }
    at = number(&chars, at, &mut parsed.width);
    if chars.get(at) == Some(&',') {
        (parsed.thousands, at) = (true, at + 1);
    }
    if chars.get(at) == Some(&'.') {
        let mut precision = 0;
        at = number(&chars, at + 1, &mut precision);
        parsed.precision = Some(precision);
    }
    match &chars[at..] {
        [] => {}
        [kind @ ('d' | 'f' | 'F' | 'e' | 'E' | 'x' | 'X' | 'o' | 'b' | 's' | 'c')] => {
            parsed.kind = Some(*kind);
        }
        _ => return Err(format!("unsupported format spec '{spec}'")),
    }
    Ok(parsed)
}

/// Reads the digits from `at` into `value`; returns where they end.
fn number(chars: &[char], mut at: usize, value: &mut usize) -> usize {
    while let Some(digit) = chars.get(at).and_then(|c| c.to_digit(10)) {
        *value = value.saturating_mul(10).saturating_add(digit as usize);
        at += 1;
    }
    at
}

fn parse_printf(template: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut next = 0;
    let chars: Vec<char> = template.chars().collect();
    let mut at = 0;
    while at < chars.len() {
        if chars[at] != '%' {
            text.push(chars[at]);
            at += 1;
            continue;
        }
        at += 1;
        let mut spec = Spec::default();
        while let Some(flag) = chars.get(at) {
            match flag {
                '-' => spec.align = Some('<'),
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                _ => break,
            }
            at += 1;
        }
        at = number(&chars, at, &mut spec.width);
        if chars.get(at) == Some(&'.') {
            let mut precision = 0;
            at = number(&chars, at + 1, &mut precision);
            spec.precision = Some(precision);
        }
        match chars.get(at) {
            Some('%') => text.push('%'),
            Some(
                kind @ ('d' | 'i' | 'u' | 's' | 'f' | 'F' | 'e' | 'E' | 'x' | 'X' | 'o' | 'c'),
            ) => {
                spec.kind = Some(*kind);
                // C pads text on the right only when told (`%-5s`).
                if *kind == 's' && spec.align.is_none() {
                    spec.align = Some('>');
                }
                pieces.push(Piece::Text(std::mem::take(&mut text)));
                pieces.push(Piece::Value {
                    argument: next,
                    spec,
                });
                next += 1;
            }
            Some(other) => return Err(format!("unsupported conversion '%{other}'")),
            None => return Err("a '%' at the end".into()),
        }
        at += 1;
    }
    pieces.push(Piece::Text(text));
    Ok(pieces)
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct FormatUdf {
    syntax: Syntax,
    signature: Signature,
}

impl FormatUdf {
    fn new(syntax: Syntax) -> Self {
        FormatUdf {
            syntax,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for FormatUdf {
    fn name(&self) -> &str {
        match self.syntax {
            Syntax::Fmt => "format",
            Syntax::Printf => "printf",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types.split_first() {
            Some((_, values)) => Ok(std::iter::once(DataType::Utf8)
                .chain(values.iter().cloned())
                .collect()),
            None => plan_err!("{} takes a template and the values for it", self.name()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = arrays(&args.args, rows)?;
        let templates = arrays[0].as_string::<i32>();
        let values = &arrays[1..];
        // Each value in the forms a spec may ask for, where its type has that form.
        let texts = in_form(values, &DataType::Utf8, |_| true)?;
        let integers = in_form(values, &DataType::Int64, is_integer)?;
        let floats = in_form(values, &DataType::Float64, is_float)?;
        let mut parsed: Option<(String, Vec<Piece>)> = None;
        let mut out = StringBuilder::new();
        let mut line = String::new();
        for row in 0..rows {
            if templates.is_null(row) || values.iter().any(|v| v.is_null(row)) {
                out.append_null();
                continue;
            }
            let template = templates.value(row);
            if parsed.as_ref().is_none_or(|(t, _)| t != template) {
                let pieces = match parse(template, self.syntax) {
                    Ok(pieces) => pieces,
                    Err(e) => return exec_err!("{}: {e} in '{template}'", self.name()),
                };
                parsed = Some((template.to_string(), pieces));
            }
            let (_, pieces) = parsed.as_ref().expect("parsed above");
            line.clear();
            for piece in pieces {
                let (argument, spec) = match piece {
                    Piece::Text(text) => {
                        line.push_str(text);
                        continue;
                    }
                    Piece::Value { argument, spec } => (*argument, spec),
                };
                if argument >= values.len() {
                    return exec_err!(
                        "{}: '{template}' asks for argument {} of {}",
                        self.name(),
                        argument + 1,
                        values.len()
                    );
                }
                let data_type = values[argument].data_type();
                let fits = match (spec.is_integer(), spec.is_float()) {
                    (true, _) => is_integer(data_type),
                    (_, true) => is_float(data_type),
                    _ => true,
                };
                if !fits {
                    return exec_err!(
                        "{}: '{template}' writes argument {} ({data_type}) with a spec for {}",
                        self.name(),
                        argument + 1,
                        if spec.is_integer() {
                            "an integer"
                        } else {
                            "a floating-point number"
                        }
                    );
                }
                let value = if spec.is_integer() {
                    Value::Integer(integers[argument].as_primitive::<Int64Type>().value(row))
                } else if spec.is_float() {
                    Value::Float(floats[argument].as_primitive::<Float64Type>().value(row))
                } else {
                    Value::Text(texts[argument].as_string::<i32>().value(row))
                };
                spec.write(value, data_type.is_numeric(), &mut line);
            }
            out.append_value(&line);
        }
        call_value(&args.args, Arc::new(out.finish()))
    }
}

fn is_integer(data_type: &DataType) -> bool {
    data_type.is_integer()
}

fn is_float(data_type: &DataType) -> bool {
    data_type.is_floating()
        || matches!(
            data_type,
            DataType::Decimal128(..) | DataType::Decimal256(..)
        )
}

/// Each array cast to `data_type` where `fits` its type, else all NULL (a spec that asks for
/// that form of such a value is refused before it is read).
fn in_form(
    arrays: &[ArrayRef],
    data_type: &DataType,
    fits: fn(&DataType) -> bool,
) -> Result<Vec<ArrayRef>> {
    arrays
        .iter()
        .map(|a| match fits(a.data_type()) {
            true => Ok(cast(a, data_type)?),
            false => Ok(new_null_array(data_type, a.len())),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str, syntax: Syntax, values: &[Value]) -> String {
        let mut out = String::new();
        for piece in parse(template, syntax).unwrap() {
            match piece {
                Piece::Text(t) => out.push_str(&t),
                Piece::Value { argument, spec } => {
                    let (value, numeric) = match &values[argument] {
                        Value::Text(t) => (Value::Text(t), false),
                        Value::Integer(i) => (Value::Integer(*i), true),
                        Value::Float(x) => (Value::Float(*x), true),
                    };
                    spec.write(value, numeric, &mut out);
                }
            }
        }
        out
    }

    #[test]
    fn specs_write_as_fmt_and_c_do() {
        use Value::{Float, Integer, Text};
        // Each answer is DuckDB 2.0's.
        for (template, value, answer) in [
            ("{:>6}", Text("ab"), "    ab"),
            ("{:*^7}", Text("ab"), "**ab***"),
            ("{:5}", Integer(42), "   42"),
            ("{:<5d}|", Integer(42), "42   |"),
            ("{:+d}", Integer(42), "+42"),
            ("{:05d}", Integer(-42), "-0042"),
            ("{:x}", Integer(255), "ff"),
            ("{:.2f}", Float(1.23456), "1.23"),
            ("{:8.3f}", Float(-2.5), "  -2.500"),
            ("{:e}", Float(150.0), "1.500000e+02"),
            ("{:.1E}", Float(0.00123), "1.2E-03"),
            ("{:.3}", Text("abcdef"), "abc"),
            ("{{}} {0}{0}", Text("x"), "{} xx"),
            ("{:,}", Integer(-1234567), "-1,234,567"),
            ("{:,.2f}", Float(1234567.891), "1,234,567.89"),
            ("{:,}", Integer(999), "999"),
            ("{:>8,}", Integer(1234), "   1,234"),
        ] {
            assert_eq!(
                render(template, Syntax::Fmt, &[value]),
                answer,
                "{template}"
            );
        }
        for (template, value, answer) in [
            ("%d%%", Integer(7), "7%"),
            ("%5s|", Text("ab"), "   ab|"),
            ("%-5s|", Text("ab"), "ab   |"),
            ("%05.1f", Float(1.23456), "001.2"),
            ("%+i", Integer(3), "+3"),
            ("%x", Integer(255), "ff"),
            ("%.2e", Float(12345.0), "1.23e+04"),
            ("%c", Integer(65), "A"),
        ] {
            assert_eq!(
                render(template, Syntax::Printf, &[value]),
                answer,
                "{template}"
            );
        }
    }

    #[test]
    fn bad_templates_are_refused() {
        assert!(parse("{:q}", Syntax::Fmt).is_err());
        assert!(parse("a }", Syntax::Fmt).is_err());
        assert!(parse("{x}", Syntax::Fmt).is_err());
        assert!(parse("%q", Syntax::Printf).is_err());
        assert!(parse("50%", Syntax::Printf).is_err());
    }
}
