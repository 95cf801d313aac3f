//! DuckDB's percentage limits: `LIMIT 10%` and `LIMIT 10 PERCENT` keep the first
//! floor(rows · 10 / 100) rows of the query, counted before any OFFSET (which then applies as
//! usual). A curation script writes `ORDER BY score DESC LIMIT 10%` to keep a corpus's best
//! tenth without first counting it.
//!
//! DataFusion's limit takes a constant, so the count comes first: before a statement is
//! planned, each query with a percentage limit has its rows counted (the query without its
//! ORDER BY, LIMIT and OFFSET, run through the whole planner), and the limit becomes that
//! number. Inner queries are counted before the queries around them, so every count is of a
//! query with plain limits only. The count reads the query's inputs once more (over Parquet,
//! a bare `count(*)` reads only the footers); DuckDB instead buffers the rows. A view keeps the
//! number counted when it was created.

use std::ops::ControlFlow;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::Token;
use sqlparser::ast::{
    Cte, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, LimitClause, Query, Statement,
    Value, VisitMut, VisitorMut, With,
};

use super::SqlSession;
use super::tokens::{is_keyword, skip_whitespace};
use crate::error::{Result, TarnError};

/// The call that stands for a percentage limit between the token pass and the count:
/// `LIMIT tarn_limit_percent(10)`.
const MARKER: &str = "tarn_limit_percent";

/// Respells `LIMIT <number> %` and `LIMIT <number> PERCENT` as `LIMIT tarn_limit_percent(n)`,
/// which the parser reads. `LIMIT 10 % 3` stays arithmetic: a `%` counts as a percent sign
/// only where no operand follows it.
pub(super) fn mark(sql: &str) -> Result<String> {
    if !sql.contains('%') && !sql.to_ascii_uppercase().contains("PERCENT") {
        return Ok(sql.to_string());
    }
    let mut tokens = super::tokenize(sql)?;
    let mut i = 0;
    while i < tokens.len() {
        if is_keyword(&tokens[i], "LIMIT") {
            let number_at = skip_whitespace(&tokens, i + 1);
            if let Some(Token::Number(number, _)) = tokens.get(number_at) {
                let sign_at = skip_whitespace(&tokens, number_at + 1);
                if is_percent_sign(&tokens, sign_at) {
                    let call = super::tokenize(&format!("{MARKER}({number})"))?;
                    tokens.splice(number_at..=sign_at, call);
                }
            }
        }
        i += 1;
    }
    Ok(super::tokens::written(&tokens))
}

/// Whether the token at `at` ends a limit as a percent sign: `PERCENT`, or a `%` followed by
/// the end of the query rather than by an operand.
fn is_percent_sign(tokens: &[Token], at: usize) -> bool {
    match tokens.get(at) {
        Some(token) if is_keyword(token, "PERCENT") => true,
        Some(Token::Mod) => match tokens.get(skip_whitespace(tokens, at + 1)) {
            None | Some(Token::RParen | Token::SemiColon | Token::EOF) => true,
            Some(Token::Word(w)) => matches!(
                w.keyword,
                Keyword::OFFSET | Keyword::UNION | Keyword::EXCEPT | Keyword::INTERSECT
            ),
            _ => false,
        },
        _ => false,
    }
}

/// Replaces each percentage limit in `statement` by the number of rows it keeps, counting
/// through `session`; see the module documentation.
pub(super) async fn resolve(statement: &mut Statement, session: &SqlSession) -> Result<()> {
    loop {
        let mut next = NextPercentLimit::default();
        let _ = statement.visit(&mut next);
        let Some(found) = next.found else {
            return Ok(());
        };
        let (percent, counted) = found?;
        let rows = count_rows(session, &counted).await?;
        let kept = (rows as f64 * percent / 100.0).floor() as u64;
        let mut limit = SetFirstPercentLimit(Some(kept));
        let _ = statement.visit(&mut limit);
    }
}

/// The number of rows `query` gives.
async fn count_rows(session: &SqlSession, query: &str) -> Result<i64> {
    // Boxed: planning the count is a whole `plan`, whose future would otherwise sit inside the
    // future of the `plan` that called this, on the stack of every statement planned.
    let counted = Box::pin(session.dataframe(query)).await?;
    let batches = counted.collect().await?;
    Ok(batches.first().map_or(0, |batch| {
        batch.column(0).as_primitive::<Int64Type>().value(0)
    }))
}

/// The percentage of a query's limit, if it is one.
fn percent_limit(query: &Query) -> Option<&Expr> {
    let Some(LimitClause::LimitOffset {
        limit: Some(Expr::Function(call)),
        ..
    }) = &query.limit_clause
    else {
        return None;
    };
    if !call.name.to_string().eq_ignore_ascii_case(MARKER) {
        return None;
    }
    let FunctionArguments::List(list) = &call.args else {
        return None;
    };
    match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(percent))] => Some(percent),
        _ => None,
    }
}

/// Finds the innermost first query with a percentage limit (queries are seen after the queries
/// inside them) and the text that counts its rows.
#[derive(Default)]
struct NextPercentLimit {
    /// The WITH clauses of the queries around the one visited, outermost first, whose tables
    /// it may read; their own percentage limits are dropped (no count reads them: inner
    /// queries are counted first, and a query cannot read the table it defines).
    around: Vec<Option<With>>,
    /// The percentage and the counting query, or why the percentage is refused.
    found: Option<Result<(f64, String)>>,
}

impl NextPercentLimit {
    /// One WITH clause holding every table the queries around the visited one define, an inner
    /// definition hiding an outer one of the same name.
    fn tables_around(&self) -> Option<With> {
        let mut tables: Option<With> = None;
        for with in self.around.iter().flatten() {
            match &mut tables {
                None => tables = Some(with.clone()),
                Some(tables) => {
                    let hidden = |cte: &Cte| {
                        with.cte_tables
                            .iter()
                            .any(|inner| inner.alias.name == cte.alias.name)
                    };
                    tables.cte_tables.retain(|cte| !hidden(cte));
                    tables.cte_tables.extend(with.cte_tables.iter().cloned());
                    tables.recursive |= with.recursive;
                }
            }
        }
        tables
    }
}

impl VisitorMut for NextPercentLimit {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        self.around.push(query.with.clone().map(|mut with| {
            let _ = with.visit(&mut SetFirstPercentLimit(None));
            with
        }));
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        self.around.pop();
        let Some(percent) = percent_limit(query) else {
            return ControlFlow::Continue(());
        };
        self.found = Some(percent_value(percent).map(|percent| {
            let mut counted = query.clone();
            counted.order_by = None;
            counted.limit_clause = None;
            let prefix = self
                .tables_around()
                .map_or(String::new(), |with| format!("{with} "));
            let counting = format!("{prefix}SELECT count(*) FROM ({counted}) AS __tarn_counted");
            (percent, counting)
        }));
        ControlFlow::Break(())
    }
}

/// The percentage a limit names, between 0 and 100.
fn percent_value(expr: &Expr) -> Result<f64> {
    let text = match expr {
        Expr::Value(value) => match &value.value {
            Value::Number(n, _) => n.clone(),
            other => other.to_string(),
        },
        other => other.to_string(),
    };
    match text.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(TarnError::Invalid(format!(
            "LIMIT {text}%: a percentage limit must be between 0% and 100%"
        ))),
    }
}

/// Sets the first percentage limit met (in the order [`NextPercentLimit`] meets them) to a
/// number of rows, or with `None` drops every one.
struct SetFirstPercentLimit(Option<u64>);

impl VisitorMut for SetFirstPercentLimit {
    type Break = ();

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if percent_limit(query).is_none() {
            return ControlFlow::Continue(());
        }
        let Some(LimitClause::LimitOffset { limit, .. }) = &mut query.limit_clause else {
            unreachable!("percent_limit found a LIMIT");
        };
        match self.0 {
            Some(rows) => {
                *limit = Some(Expr::value(Value::Number(rows.to_string(), false)));
                ControlFlow::Break(())
            }
            None => {
                *limit = None;
                ControlFlow::Continue(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(sql: &str) -> String {
        mark(sql).unwrap()
    }

    #[test]
    fn percent_signs_after_a_limit_become_the_marker() {
        assert_eq!(
            marked("SELECT * FROM t LIMIT 10%"),
            "SELECT * FROM t LIMIT tarn_limit_percent(10)"
        );
        assert_eq!(
            marked("SELECT * FROM t LIMIT 2.5 percent OFFSET 3"),
            "SELECT * FROM t LIMIT tarn_limit_percent(2.5) OFFSET 3"
        );
        assert_eq!(
            marked("(SELECT * FROM t LIMIT 10 %) UNION ALL SELECT 1"),
            "(SELECT * FROM t LIMIT tarn_limit_percent(10)) UNION ALL SELECT 1"
        );
    }

    #[test]
    fn a_modulo_stays_arithmetic() {
        for sql in [
            "SELECT * FROM t LIMIT 10 % 3",
            "SELECT x % 2 FROM t LIMIT 5",
            "SELECT * FROM t WHERE s LIKE '10%' LIMIT 1",
        ] {
            assert_eq!(marked(sql), sql);
        }
    }
}
