//! DuckDB's aggregate filter without its `WHERE`: `count(*) FILTER (x > 1)` is
//! `count(*) FILTER (WHERE x > 1)`, which is the only form sqlparser reads. [`insert_where`]
//! puts the keyword in before parsing.

use datafusion::sql::sqlparser::tokenizer::{Token, Whitespace};

use super::tokens::{is_keyword, previous_significant, skip_whitespace};
use crate::error::Result;

/// `sql` with `WHERE` after every `) FILTER (` that lacks it; text without such a clause comes
/// back unchanged. Only a `FILTER` right after a closing parenthesis counts: an aggregate's
/// clause, not DuckDB's `filter(list, lambda)` function or a column called `filter`.
pub fn insert_where(sql: &str) -> Result<String> {
    if !sql.to_ascii_uppercase().contains("FILTER") {
        return Ok(sql.to_string());
    }
    let mut tokens = super::tokenize(sql)?;
    let mut i = 0;
    while i < tokens.len() {
        if is_keyword(&tokens[i], "FILTER")
            && previous_significant(&tokens, i).is_some_and(|p| tokens[p] == Token::RParen)
        {
            let open = skip_whitespace(&tokens, i + 1);
            let condition = skip_whitespace(&tokens, open + 1);
            if tokens.get(open) == Some(&Token::LParen)
                && !tokens
                    .get(condition)
                    .is_some_and(|t| is_keyword(t, "WHERE"))
            {
                let keyword = [
                    Token::make_keyword("WHERE"),
                    Token::Whitespace(Whitespace::Space),
                ];
                tokens.splice(condition..condition, keyword);
            }
        }
        i += 1;
    }
    Ok(super::tokens::written(&tokens))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puts_where_into_a_bare_aggregate_filter() {
        assert_eq!(
            insert_where("SELECT count(*) FILTER (x > 1), sum(y) filter(y < 0) FROM t").unwrap(),
            "SELECT count(*) FILTER (WHERE x > 1), sum(y) filter(WHERE y < 0) FROM t"
        );
    }

    #[test]
    fn leaves_filters_with_where_and_the_filter_function_alone() {
        for sql in [
            "SELECT count(*) FILTER (WHERE x > 1) FROM t",
            "SELECT filter([1, 2], x -> x > 1)",
            "SELECT \"filter\" (x) FROM t",
            "SELECT 'a) FILTER (b'",
        ] {
            assert_eq!(insert_where(sql).unwrap(), sql);
        }
    }
}
