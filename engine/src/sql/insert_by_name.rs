//! DuckDB's `INSERT INTO table BY NAME query`: the query's columns go to the table's columns of
//! the same names (in any case), whatever their order; the table's other columns get NULL. It
//! becomes `INSERT INTO table ("a", "b") query` with the query's column names, once the query's
//! schema is known. (`BY POSITION`, the default, is dropped.)

use datafusion::sql::sqlparser::tokenizer::Token;
use sqlparser::ast::Ident;

use super::SqlSession;
use super::copy::join_tokens;
use super::tokens::is_keyword;
use crate::error::{Result, TarnError};

/// The plain INSERT that an `INSERT ... BY NAME | BY POSITION` statement stands for; `None`
/// for any other INSERT.
pub(super) async fn plain_insert(session: &SqlSession, statement: &str) -> Result<Option<String>> {
    let tokens: Vec<Token> = super::tokenize(statement)?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon))
        .collect();
    let Some(into) = tokens.iter().position(|t| is_keyword(t, "INTO")) else {
        return Ok(None);
    };
    // The table's name, `t` or `s.t`, is all that stands between INTO and BY (a query's
    // `GROUP BY name` is not this BY).
    let plain_name = |name: &[Token]| {
        name.len() % 2 == 1
            && name.iter().enumerate().all(|(i, t)| match i % 2 {
                0 => matches!(t, Token::Word(_)),
                _ => *t == Token::Period,
            })
    };
    let Some(by) = tokens
        .windows(2)
        .position(|w| {
            is_keyword(&w[0], "BY") && (is_keyword(&w[1], "NAME") || is_keyword(&w[1], "POSITION"))
        })
        .filter(|&by| by > into + 1 && plain_name(&tokens[into + 1..by]))
    else {
        return Ok(None);
    };
    let table = join_tokens(&tokens[into + 1..by]).replace(" . ", ".");
    let end = clauses_after_query(&tokens, by + 2);
    let query = join_tokens(&tokens[by + 2..end]);
    let clauses = join_tokens(&tokens[end..]);
    let head = join_tokens(&tokens[..=into]);
    if is_keyword(&tokens[by + 1], "POSITION") {
        return Ok(Some(format!("{head} {table} {query} {clauses}")));
    }
    let ctx = session.context();
    let table_columns: Vec<String> = ctx
        .table_provider(table.as_str())
        .await
        .map_err(|_| TarnError::Invalid(format!("Table with name {table} does not exist")))?
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let frame = session.dataframe(&query).await?;
    let columns = frame
        .schema()
        .fields()
        .iter()
        .map(|field| {
            table_columns
                .iter()
                .find(|c| c.eq_ignore_ascii_case(field.name()))
                .map(|c| Ident::with_quote('"', c).to_string())
                .ok_or_else(|| {
                    TarnError::Invalid(format!(
                        "Table \"{table}\" does not have a column with name \"{}\"",
                        field.name()
                    ))
                })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(format!(
        "{head} {table} ({}) {query} {clauses}",
        columns.join(", ")
    )))
}

/// Where the INSERT's own clauses after its query (`ON CONFLICT ...`, `RETURNING ...`) begin,
/// in `tokens` from the query's first at `start`; the end of `tokens` when it has none.
fn clauses_after_query(tokens: &[Token], start: usize) -> usize {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(start) {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            _ if is_keyword(token, "RETURNING") => return i,
            _ if is_keyword(token, "ON")
                && tokens.get(i + 1).is_some_and(|t| is_keyword(t, "CONFLICT")) =>
            {
                return i;
            }
            _ => {}
        }
    }
    tokens.len()
}
