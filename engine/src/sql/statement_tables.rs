//! DuckDB's statements used as tables: `SELECT column_name FROM (DESCRIBE t)`, `FROM (SUMMARIZE
//! corpus) WHERE null_percentage > 0`, `FROM (SHOW TABLES)`, `WITH p AS (PIVOT ...)`. They are
//! statements to Tarn (answered in `describe`, `pivot`), not queries the parser reads, so before
//! parsing each parenthesized one is replaced by a query: a PIVOT or UNPIVOT by the query it
//! stands for, any other by its answer, run once and held as a table in memory while the
//! statement around it is planned (a description or a summary is a row per column).

use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::datasource::MemTable;
use datafusion::sql::sqlparser::tokenizer::Token;
use regex::Regex;

use super::tokens::{is_keyword, previous_significant, skip_whitespace};
use super::{SqlSession, collect, rewrite::FILES_SCHEMA};
use crate::error::Result;

/// The statements that may stand in parentheses for a table.
const STATEMENTS: &[&str] = &["DESCRIBE", "DESC", "SUMMARIZE", "SHOW", "PIVOT", "UNPIVOT"];

/// Numbers the answers held while a statement is planned, unique across nested statements.
static ANSWERS: AtomicUsize = AtomicUsize::new(0);

/// A statement with its parenthesized statements replaced, and the names of the answers it
/// reads, registered in the files schema until it is planned.
pub(super) struct Replaced {
    pub sql: String,
    pub answers: Vec<String>,
}

/// Replaces each parenthesized statement of `sql` (see the module documentation); `None` when
/// there is none.
pub(super) async fn replace(session: &mut SqlSession, sql: &str) -> Result<Option<Replaced>> {
    // A cheap look for `(` and a statement's keyword before tokenizing: every statement
    // passes here, and `DESC` alone is in many.
    static OPENING: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\(\s*(DESCRIBE|DESC|SUMMARIZE|SHOW|PIVOT|UNPIVOT)\b")
            .expect("a valid pattern")
    });
    if !OPENING.is_match(sql) {
        return Ok(None);
    }
    let tokens = super::tokenize(sql)?;
    let mut text = String::with_capacity(sql.len());
    let mut answers = Vec::new();
    let mut replaced = false;
    let mut i = 0;
    while i < tokens.len() {
        let Some((keyword, close)) = statement_at(&tokens, i) else {
            text.push_str(&tokens[i].to_string());
            i += 1;
            continue;
        };
        let inner: String = tokens[i + 1..close]
            .iter()
            .map(ToString::to_string)
            .collect();
        let query = match keyword.as_str() {
            "PIVOT" => super::pivot::pivot_sql(session, &inner).await?,
            "UNPIVOT" => super::pivot::unpivot_sql(session, &inner).await?,
            _ => {
                let stream = Box::pin(session.execute_statement(&inner)).await?;
                let schema = stream.schema();
                let batches = collect(stream).await?;
                let name = format!("statement{}", ANSWERS.fetch_add(1, Ordering::Relaxed));
                let table = MemTable::try_new(schema, vec![batches])?;
                super::files_schema(&session.ctx).register_table(name.clone(), Arc::new(table))?;
                answers.push(name.clone());
                format!("SELECT * FROM {FILES_SCHEMA}.{name}")
            }
        };
        text.push_str(&format!("({query})"));
        replaced = true;
        i = close + 1;
    }
    Ok(replaced.then_some(Replaced { sql: text, answers }))
}

/// Drops the answers a replaced statement read, once it is planned.
pub(super) fn forget(session: &SqlSession, answers: &[String]) -> Result<()> {
    let files = super::files_schema(&session.ctx);
    for name in answers {
        files.deregister_table(name)?;
    }
    Ok(())
}

/// The statement's keyword and its closing parenthesis, where `tokens[open]` is a `(` that
/// opens one in the place of a table (after FROM, JOIN, or a CTE's AS).
fn statement_at(tokens: &[Token], open: usize) -> Option<(String, usize)> {
    let table_place = previous_significant(tokens, open).is_some_and(|p| {
        ["FROM", "JOIN", "AS"]
            .iter()
            .any(|k| is_keyword(&tokens[p], k))
    });
    if tokens[open] != Token::LParen || !table_place {
        return None;
    }
    let first = skip_whitespace(tokens, open + 1);
    let keyword = STATEMENTS
        .iter()
        .find(|s| tokens.get(first).is_some_and(|t| is_keyword(t, s)))?;
    let mut depth = 0usize;
    for (k, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Some((keyword.to_string(), k));
                }
            }
            _ => {}
        }
    }
    None
}
