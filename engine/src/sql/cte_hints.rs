//! DuckDB's hints on a common table expression, `WITH t AS [NOT] MATERIALIZED (...)`, which
//! sqlparser reads only in PostgreSQL's dialect. DataFusion decides for itself whether to
//! compute a CTE once, so [`drop_materialized`] removes the hint before parsing; the query's
//! answer is the same.

use datafusion::sql::sqlparser::tokenizer::Token;

use super::tokens::{is_keyword, previous_significant, skip_whitespace};
use crate::error::Result;

/// `sql` without `MATERIALIZED` or `NOT MATERIALIZED` between a CTE's `AS` and its `(`.
pub fn drop_materialized(sql: &str) -> Result<String> {
    if !sql.to_ascii_uppercase().contains("MATERIALIZED") {
        return Ok(sql.to_string());
    }
    let mut tokens = super::tokenize(sql)?;
    let mut i = 0;
    while i < tokens.len() {
        let open = skip_whitespace(&tokens, i + 1);
        let is_hint =
            is_keyword(&tokens[i], "MATERIALIZED") && tokens.get(open) == Some(&Token::LParen);
        if !is_hint {
            i += 1;
            continue;
        }
        // Back over `NOT` to the `AS`.
        let mut start = i;
        let mut before = previous_significant(&tokens, i);
        if let Some(p) = before.filter(|&p| is_keyword(&tokens[p], "NOT")) {
            start = p;
            before = previous_significant(&tokens, p);
        }
        if before.is_some_and(|p| is_keyword(&tokens[p], "AS")) {
            tokens.drain(start..open);
            i = start;
        } else {
            i += 1;
        }
    }
    Ok(tokens.iter().map(|t| t.to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_the_hint_and_keeps_the_rest() {
        assert_eq!(
            drop_materialized(
                "WITH a AS MATERIALIZED (SELECT 1), b AS NOT MATERIALIZED (SELECT 2) SELECT 1"
            )
            .unwrap(),
            "WITH a AS (SELECT 1), b AS (SELECT 2) SELECT 1"
        );
        for sql in [
            "SELECT materialized FROM t",
            "SELECT 'AS MATERIALIZED ('",
            "SELECT count(*) AS materialized FROM t",
        ] {
            assert_eq!(drop_materialized(sql).unwrap(), sql);
        }
    }
}
