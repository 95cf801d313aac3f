//! Helpers for the passes that rewrite DuckDB syntax sqlparser cannot read at the token level,
//! before parsing (`samples`, `expand::mark_renames`, `filter_clause`, `copy`).

use datafusion::sql::sqlparser::tokenizer::Token;

/// A token as SQL text that reads back as the same token. sqlparser's `Display` writes a
/// string's or a quoted name's text between its quotes as the token holds it, unescaped: the
/// string `'it''s'`, held as `it's`, came back as `'it's'`, and a statement a pass rewrote at
/// the token level no longer parsed.
pub fn token_text(token: &Token) -> String {
    let quoted = |quote: char, text: &str| {
        let doubled = format!("{quote}{quote}");
        format!("{quote}{}{quote}", text.replace(quote, &doubled))
    };
    match token {
        Token::SingleQuotedString(text) => quoted('\'', text),
        Token::NationalStringLiteral(text) => format!("N{}", quoted('\'', text)),
        Token::Word(word) => match word.quote_style {
            Some(quote @ ('"' | '`')) => quoted(quote, &word.value),
            _ => token.to_string(),
        },
        other => other.to_string(),
    }
}

/// Tokens written back as SQL text (see [`token_text`]).
pub fn written(tokens: &[Token]) -> String {
    tokens.iter().map(token_text).collect()
}

/// The index of the first token at or after `i` that is not whitespace (or a comment).
pub fn skip_whitespace(tokens: &[Token], mut i: usize) -> usize {
    while matches!(tokens.get(i), Some(Token::Whitespace(_))) {
        i += 1;
    }
    i
}

/// The index of the last token before `i` that is not whitespace, if any.
pub fn previous_significant(tokens: &[Token], i: usize) -> Option<usize> {
    (0..i)
        .rev()
        .find(|&k| !matches!(tokens[k], Token::Whitespace(_)))
}

/// Whether `token` is the unquoted word `keyword`, in any case (`"filter"` quoted is a name).
pub fn is_keyword(token: &Token, keyword: &str) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(keyword))
}

/// Each token's nesting depth: how many brackets (round, square, curly) and `CASE ... END`
/// blocks enclose it. An opening token counts as inside what it opens, its closing token as
/// outside, so a statement's own clause keywords are the words at depth 0.
pub fn nesting(tokens: &[Token]) -> Vec<usize> {
    let mut depth = 0usize;
    tokens
        .iter()
        .map(|token| match token {
            Token::LParen | Token::LBracket | Token::LBrace => {
                depth += 1;
                depth
            }
            Token::RParen | Token::RBracket | Token::RBrace => {
                depth = depth.saturating_sub(1);
                depth
            }
            word if is_keyword(word, "CASE") => {
                depth += 1;
                depth
            }
            word if is_keyword(word, "END") => {
                depth = depth.saturating_sub(1);
                depth
            }
            _ => depth,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_tokens_read_back_as_the_same_tokens() {
        for sql in [
            r#"SELECT 'it''s', N'o''k', "a""b", `c``d` FROM t"#,
            "SELECT '' AS \"\", x",
        ] {
            let tokens = crate::sql::tokenize(sql).unwrap();
            assert_eq!(written(&tokens), sql);
            assert_eq!(crate::sql::tokenize(&written(&tokens)).unwrap(), tokens);
        }
    }

    #[test]
    fn nesting_counts_brackets_and_case_blocks() {
        let tokens: Vec<Token> = crate::sql::tokenize("a (b [c] CASE WHEN d THEN e END) f")
            .unwrap()
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect();
        let depths = nesting(&tokens);
        let at = |text: &str| depths[tokens.iter().position(|t| t.to_string() == text).unwrap()];
        assert_eq!((at("a"), at("b"), at("c"), at("]")), (0, 1, 2, 1));
        assert_eq!(
            (at("CASE"), at("WHEN"), at("END"), at(")"), at("f")),
            (2, 2, 1, 0, 0)
        );
    }
}
