//! Cutting SQL text into statements at top-level semicolons, with the tokenizer so that
//! semicolons inside strings, quoted names and comments do not count.

use datafusion::sql::sqlparser::dialect::DuckDbDialect;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, Tokenizer};

use crate::error::{Result, TarnError};

/// The statements in `sql`, trimmed, without their semicolons; empty statements are dropped.
pub fn split_statements(sql: &str) -> Result<Vec<String>> {
    let tokens = Tokenizer::new(&DuckDbDialect {}, sql)
        .tokenize_with_location()
        .map_err(|e| TarnError::Parse(e.to_string()))?;
    let offsets = LineOffsets::new(sql);
    let mut statements = Vec::new();
    let mut start = 0;
    for token in &tokens {
        if token.token == Token::SemiColon {
            let end = offsets.byte_offset(token.span.start);
            push_statement(&mut statements, &sql[start..end]);
            start = end + 1;
        }
    }
    push_statement(&mut statements, &sql[start..]);
    Ok(statements)
}

/// True when `sql` holds at least one statement and ends with a top-level semicolon, i.e. the
/// shell can run it; an unterminated string or comment is never complete.
pub fn is_complete(sql: &str) -> bool {
    let Ok(tokens) = Tokenizer::new(&DuckDbDialect {}, sql).tokenize() else {
        return false;
    };
    let mut meaningful = tokens.iter().filter(|t| !matches!(t, Token::Whitespace(_)));
    matches!(meaningful.next_back(), Some(Token::SemiColon))
}

/// True when `sql` holds nothing but whitespace and comments.
pub fn is_blank(sql: &str) -> bool {
    Tokenizer::new(&DuckDbDialect {}, sql)
        .tokenize()
        .map(|tokens| tokens.iter().all(|t| matches!(t, Token::Whitespace(_))))
        .unwrap_or(false)
}

fn push_statement(statements: &mut Vec<String>, text: &str) {
    let text = text.trim();
    if !is_blank(text) {
        statements.push(text.to_string());
    }
}

/// Maps the tokenizer's 1-based line/column (in characters) to byte offsets.
struct LineOffsets<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineOffsets<'a> {
    fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineOffsets { text, line_starts }
    }

    fn byte_offset(&self, location: Location) -> usize {
        let line_start = self.line_starts[(location.line as usize).saturating_sub(1)];
        let column = (location.column as usize).saturating_sub(1);
        self.text[line_start..]
            .char_indices()
            .nth(column)
            .map_or(self.text.len(), |(i, _)| line_start + i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_top_level_semicolons_only() {
        let sql = "SELECT ';' AS a; -- trailing; comment\nSELECT \"x;y\"\nFROM t;\n\n;  ";
        assert_eq!(
            split_statements(sql).unwrap(),
            vec![
                "SELECT ';' AS a",
                "-- trailing; comment\nSELECT \"x;y\"\nFROM t"
            ]
        );
    }

    #[test]
    fn completeness_follows_the_final_semicolon() {
        assert!(is_complete("SELECT 1;"));
        assert!(is_complete("SELECT 1\n  ;  \n"));
        assert!(!is_complete("SELECT 1"));
        assert!(!is_complete("SELECT ';"));
        assert!(!is_complete("SELECT 1; SELECT 2"));
    }
}
