//! DuckDB writes a window function's null treatment inside its parentheses
//! (`last_value(x IGNORE NULLS) OVER (ORDER BY t)`, the forward fill of a time series);
//! sqlparser reads it only after them (`last_value(x) IGNORE NULLS OVER (...)`), which
//! DataFusion then plans. [`after_the_call`] moves it before parsing.

use datafusion::sql::sqlparser::tokenizer::{Token, Whitespace};

use super::tokens::{is_keyword, previous_significant, skip_whitespace};
use crate::error::Result;

/// `sql` with each `IGNORE NULLS` or `RESPECT NULLS` that ends a call's arguments moved after
/// the call's closing parenthesis; other text comes back unchanged.
pub fn after_the_call(sql: &str) -> Result<String> {
    if !sql.to_ascii_uppercase().contains("NULLS") {
        return Ok(sql.to_string());
    }
    let mut tokens = super::tokenize(sql)?;
    let mut i = 0;
    while i < tokens.len() {
        let treatment = ["IGNORE", "RESPECT"]
            .into_iter()
            .find(|word| is_keyword(&tokens[i], word));
        let nulls = skip_whitespace(&tokens, i + 1);
        let close = skip_whitespace(&tokens, nulls + 1);
        let ends_call = tokens.get(nulls).is_some_and(|t| is_keyword(t, "NULLS"))
            && tokens.get(close) == Some(&Token::RParen);
        match treatment {
            Some(word) if ends_call => {
                let moved = [
                    Token::Whitespace(Whitespace::Space),
                    Token::make_keyword(word),
                    Token::Whitespace(Whitespace::Space),
                    Token::make_keyword("NULLS"),
                ];
                tokens.splice(close + 1..close + 1, moved);
                // With the space before it.
                let start = previous_significant(&tokens, i).map_or(i, |p| p + 1);
                tokens.drain(start..close);
                i = start;
            }
            _ => i += 1,
        }
    }
    Ok(super::tokens::written(&tokens))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_the_treatment_after_the_call() {
        assert_eq!(
            after_the_call(
                "SELECT last_value(x IGNORE NULLS) OVER (ORDER BY t), lag(x, 1 respect nulls) OVER w"
            )
            .unwrap(),
            "SELECT last_value(x) IGNORE NULLS OVER (ORDER BY t), lag(x, 1) RESPECT NULLS OVER w"
        );
    }

    #[test]
    fn leaves_other_nulls_alone() {
        for sql in [
            "SELECT last_value(x) IGNORE NULLS OVER (ORDER BY t)",
            "SELECT * FROM t ORDER BY x NULLS LAST",
            "SELECT 'f(x IGNORE NULLS)'",
        ] {
            assert_eq!(after_the_call(sql).unwrap(), sql);
        }
    }
}
