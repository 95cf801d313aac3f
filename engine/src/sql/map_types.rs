//! DuckDB's `MAP(key, value)` type, which sqlparser reads only in its ClickHouse and generic
//! dialects: in DuckDB's, `MAP(VARCHAR, INTEGER)` was a custom type DataFusion refused and a
//! nested `MAP(VARCHAR, INTEGER[])` a parse error. [`as_marked_structs`] respells the type,
//! before parsing, as a STRUCT of two marked fields (`STRUCT("__tarn_map_key" VARCHAR,
//! "__tarn_map_value" INTEGER[])`), which parses with any types inside; `super::types` plans
//! such a STRUCT as Arrow's map of the two.
//!
//! `MAP(` is a type where a type is written: after `::`, after `AS` inside `CAST(` or
//! `TRY_CAST(`, after a column's name (a word that is not a keyword, or a quoted one: a column
//! definition, a STRUCT's field, or the marked fields of an enclosing map). Elsewhere `map(...)`
//! is DuckDB's function and stays.

use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Whitespace, Word};

use super::tokens::{is_keyword, previous_significant, skip_whitespace};
use crate::error::Result;

/// The name of a marked STRUCT's first field, the map's key type.
pub const KEY_FIELD: &str = "__tarn_map_key";
/// The name of a marked STRUCT's second field, the map's value type.
pub const VALUE_FIELD: &str = "__tarn_map_value";

/// `sql` with every `MAP(key, value)` type written as a marked STRUCT (see the module
/// documentation); text without one comes back unchanged.
pub fn as_marked_structs(sql: &str) -> Result<String> {
    if !sql.to_ascii_uppercase().contains("MAP") {
        return Ok(sql.to_string());
    }
    let mut tokens = super::tokenize(sql)?;
    let mut changed = false;
    let mut i = 0;
    while i < tokens.len() {
        let open = skip_whitespace(&tokens, i + 1);
        if is_keyword(&tokens[i], "MAP")
            && tokens.get(open) == Some(&Token::LParen)
            && is_type_position(&tokens, i)
            && let Some(comma) = top_level_comma(&tokens, open)
        {
            tokens[i] = Token::make_keyword("STRUCT");
            // Each marker before its type; the value's first, so that the key's insertion
            // leaves its place alone.
            let value = skip_whitespace(&tokens, comma + 1);
            tokens.splice(value..value, marker(VALUE_FIELD));
            let key = skip_whitespace(&tokens, open + 1);
            tokens.splice(key..key, marker(KEY_FIELD));
            changed = true;
        }
        i += 1;
    }
    Ok(match changed {
        true => super::tokens::written(&tokens),
        false => sql.to_string(),
    })
}

/// `text` (a statement or an expression written back) with each marked STRUCT spelled as the
/// `MAP(key, value)` it stands for, as in the names of result columns.
pub fn as_written(text: &str) -> String {
    if !text.contains(KEY_FIELD) {
        return text.to_string();
    }
    text.replace(&format!("STRUCT(\"{KEY_FIELD}\" "), "MAP(")
        .replace(&format!(", \"{VALUE_FIELD}\" "), ", ")
}

/// A marked field's quoted name and a space.
fn marker(name: &str) -> [Token; 2] {
    [
        Token::Word(Word {
            value: name.to_string(),
            quote_style: Some('"'),
            keyword: Keyword::NoKeyword,
        }),
        Token::Whitespace(Whitespace::Space),
    ]
}

/// Whether the word at `i` stands where a type is written.
fn is_type_position(tokens: &[Token], i: usize) -> bool {
    let Some(before) = previous_significant(tokens, i) else {
        return false;
    };
    match &tokens[before] {
        Token::DoubleColon => true,
        Token::Word(word) if word.quote_style.is_some() => true,
        Token::Word(word) if word.keyword == Keyword::NoKeyword => true,
        token if is_keyword(token, "AS") => inside_cast(tokens, before),
        _ => false,
    }
}

/// Whether the token at `i` lies directly inside the parentheses of `CAST(` or `TRY_CAST(`.
fn inside_cast(tokens: &[Token], i: usize) -> bool {
    let mut depth = 0usize;
    for k in (0..i).rev() {
        match tokens[k] {
            Token::RParen => depth += 1,
            Token::LParen if depth > 0 => depth -= 1,
            Token::LParen => {
                return previous_significant(tokens, k).is_some_and(|p| {
                    is_keyword(&tokens[p], "CAST") || is_keyword(&tokens[p], "TRY_CAST")
                });
            }
            _ => {}
        }
    }
    false
}

/// The index of the comma between the two types in the parentheses opened at `open`; `None`
/// when they do not hold exactly two.
fn top_level_comma(tokens: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut comma = None;
    for (k, token) in tokens.iter().enumerate().skip(open + 1) {
        match token {
            Token::LParen | Token::LBracket => depth += 1,
            Token::RParen | Token::RBracket if depth > 0 => depth -= 1,
            Token::RParen => return comma,
            Token::Comma if depth == 0 => {
                if comma.is_some() {
                    return None;
                }
                comma = Some(k);
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_map_types_where_types_are_written() {
        let cases = [
            (
                "CREATE TABLE t(id INT, m MAP(VARCHAR, INTEGER))",
                "CREATE TABLE t(id INT, m STRUCT(\"__tarn_map_key\" VARCHAR, \"__tarn_map_value\" INTEGER))",
            ),
            (
                "SELECT x::MAP(VARCHAR, MAP(INT, DOUBLE[]))",
                "SELECT x::STRUCT(\"__tarn_map_key\" VARCHAR, \"__tarn_map_value\" \
                 STRUCT(\"__tarn_map_key\" INT, \"__tarn_map_value\" DOUBLE[]))",
            ),
            (
                "SELECT TRY_CAST(x AS map(VARCHAR, INT))",
                "SELECT TRY_CAST(x AS STRUCT(\"__tarn_map_key\" VARCHAR, \"__tarn_map_value\" INT))",
            ),
        ];
        for (sql, marked) in cases {
            assert_eq!(as_marked_structs(sql).unwrap(), marked);
        }
    }

    #[test]
    fn writes_marked_structs_back_as_maps() {
        let sql = "SELECT CAST(x AS MAP(VARCHAR, MAP(INT, DOUBLE)))";
        let marked = as_marked_structs(sql).unwrap();
        assert_ne!(marked, sql);
        assert_eq!(as_written(&marked), sql);
    }

    #[test]
    fn leaves_the_map_function_and_literals_alone() {
        for sql in [
            "SELECT map(['a'], [1]), MAP {'a': 1}",
            "SELECT DISTINCT map(keys, vals) FROM t WHERE map(k, v) IS NOT NULL",
            "CREATE MACRO m(k, v) AS map(k, v)",
            "SELECT 'x::MAP(a, b)'",
        ] {
            assert_eq!(as_marked_structs(sql).unwrap(), sql);
        }
    }
}
