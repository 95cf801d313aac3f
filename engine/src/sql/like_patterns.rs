//! LIKE patterns as DuckDB reads them, in the spelling DataFusion's kernels take.
//!
//! DuckDB's LIKE has no escape character unless `ESCAPE` names one, so `path LIKE
//! 'C:\data\%'` matches the backslashes. Arrow's LIKE always reads a backslash as an escape
//! (the pattern above matched `C:data%` only) and refuses any other escape character. So each
//! LIKE and ILIKE (also `~~`, `~~*`, `!~~`, `!~~*`, and DuckDB's `like_escape(s, p, e)` family)
//! is rewritten here:
//!
//! * no `ESCAPE`: the pattern's backslashes are doubled, a constant pattern's in the text and a
//!   computed one's with `replace(p, '\', '\\')`, and the escape is named `'\'`;
//! * `ESCAPE '\'`: unchanged;
//! * `ESCAPE 'e'` for another character: a constant pattern is respelled with a backslash
//!   escape; a computed one is refused, naming the escape.

use sqlparser::ast::{BinaryOperator, Expr, Value, ValueWithSpan};

use super::function_names::{plain_arguments, plain_name};
use super::rewrite::call;
use crate::error::{Result, TarnError};

/// Rewrites `expr` where it is a LIKE (see the module documentation).
pub(super) fn rewrite(expr: &mut Expr) -> Result<()> {
    as_like_syntax(expr);
    let (pattern, escape_char) = match expr {
        Expr::Like {
            pattern,
            escape_char,
            any: false,
            ..
        }
        | Expr::ILike {
            pattern,
            escape_char,
            any: false,
            ..
        } => (pattern, escape_char),
        _ => return Ok(()),
    };
    let escape = match escape_char.as_ref().map(|e| e.value.clone().into_string()) {
        None => None,
        Some(Some(escape)) => escape
            .chars()
            .next()
            .filter(|_| escape.chars().count() == 1),
        Some(None) => return Err(TarnError::Invalid("LIKE: ESCAPE takes a string".into())),
    };
    if escape == Some('\\') {
        return Ok(());
    }
    match pattern.as_mut() {
        Expr::Value(ValueWithSpan {
            value: Value::SingleQuotedString(text),
            ..
        }) => *text = backslash_escaped(text, escape),
        computed => match escape {
            None => {
                let text = |s: &str| Expr::value(Value::SingleQuotedString(s.into()));
                *computed = call("replace", [computed.clone(), text("\\"), text("\\\\")]);
            }
            Some(escape) => {
                return Err(TarnError::Invalid(format!(
                    "LIKE ... ESCAPE '{escape}' takes a constant pattern (or ESCAPE '\\')"
                )));
            }
        },
    }
    // Named, so that the pattern reads the same however often it is planned.
    *escape_char = Some(Value::SingleQuotedString("\\".into()).with_empty_span());
    Ok(())
}

/// `pattern`, whose escape character is `escape` (or none), with a backslash escaping instead
/// and its own backslashes escaped. A lone escape at the end stays, for the kernel to refuse.
fn backslash_escaped(pattern: &str, escape: Option<char>) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if Some(c) == escape && chars.peek().is_some() => {
                let escaped = chars.next().expect("peeked");
                out.push('\\');
                out.push(escaped);
            }
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out
}

/// `s ~~ p` and its kin, and `like_escape(s, p, e)` and its kin, as LIKE or ILIKE syntax.
fn as_like_syntax(expr: &mut Expr) {
    let (negated, ignoring_case, text, pattern, escape) = match expr {
        Expr::BinaryOp { left, op, right } => {
            let (negated, ignoring_case) = match op {
                BinaryOperator::PGLikeMatch => (false, false),
                BinaryOperator::PGNotLikeMatch => (true, false),
                BinaryOperator::PGILikeMatch => (false, true),
                BinaryOperator::PGNotILikeMatch => (true, true),
                _ => return,
            };
            let (text, pattern) = (left.as_ref().clone(), right.as_ref().clone());
            (negated, ignoring_case, text, pattern, None)
        }
        Expr::Function(function) => {
            let (negated, ignoring_case) = match plain_name(&function.name).as_deref() {
                Some("like_escape") => (false, false),
                Some("not_like_escape") => (true, false),
                Some("ilike_escape") => (false, true),
                Some("not_ilike_escape") => (true, true),
                _ => return,
            };
            let Some(args) = plain_arguments(function) else {
                return;
            };
            let [text, pattern, Expr::Value(escape)] = args.as_slice() else {
                return;
            };
            let escape = Some(escape.clone());
            (
                negated,
                ignoring_case,
                text.clone(),
                pattern.clone(),
                escape,
            )
        }
        _ => return,
    };
    let (expr_box, pattern) = (Box::new(text), Box::new(pattern));
    *expr = match ignoring_case {
        false => Expr::Like {
            negated,
            any: false,
            expr: expr_box,
            pattern,
            escape_char: escape,
        },
        true => Expr::ILike {
            negated,
            any: false,
            expr: expr_box,
            pattern,
            escape_char: escape,
        },
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_respelled_with_backslash_escapes() {
        assert_eq!(backslash_escaped(r"C:\data\%", None), r"C:\\data\\%");
        assert_eq!(backslash_escaped("a$_c", Some('$')), r"a\_c");
        assert_eq!(backslash_escaped("a$$c", Some('$')), r"a\$c");
        assert_eq!(backslash_escaped(r"a\c$%", Some('$')), r"a\\c\%");
        assert_eq!(backslash_escaped("a$", Some('$')), "a$");
    }
}
