//! Helpers for the passes that rewrite DuckDB syntax sqlparser cannot read at the token level,
//! before parsing (`samples`, `expand::mark_renames`, `filter_clause`, `copy`).

use datafusion::sql::sqlparser::tokenizer::Token;

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
