//! DuckDB's sample clauses in a form the parser reads: `TABLESAMPLE 10%` and
//! `t USING SAMPLE 10%` become `t TABLESAMPLE (10 PERCENT)`; `... 100 ROWS` becomes
//! `TABLESAMPLE (100 ROWS)`. The rewrite step then turns those into sampled subqueries.
//!
//! `USING SAMPLE` samples the FROM clause of its SELECT; over a join it is refused rather than
//! applied to one side.
//!
//! A seed (`USING SAMPLE 10% (bernoulli, 42)`, `TABLESAMPLE 10% REPEATABLE (42)`) makes the
//! sample reproducible: each row's place in [0, 1) is the hash of its values and the seed, so
//! the same rows are chosen on every run, whatever the threads, partitions or machines (and
//! identical rows together). DuckDB's seeded samples choose other rows.

use std::collections::HashMap;
use std::ops::ControlFlow;

use datafusion::execution::session_state::SessionState;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::Token;
use sqlparser::ast::{Expr, Ident, Query, SetExpr, Statement, VisitMut, VisitorMut};

use super::tokens::{is_keyword, skip_whitespace};
use crate::error::{Result, TarnError};

/// The call a seeded sample's subquery orders or filters by, `tarn_sample_position(seed)`,
/// until [`seeded_positions`] knows the sampled relation's columns.
pub(super) const SEEDED_POSITION: &str = "tarn_sample_position";

/// Replaces each `tarn_sample_position(seed)` in a sample's subquery
/// (`SELECT * FROM t WHERE tarn_sample_position(42) < 0.1`, or in its select list) by the
/// row's place,
/// `hash(c1, c2, ..., seed) % 1000000 / 1000000.0`, over the columns of `t`.
pub(super) async fn seeded_positions(
    statement: &mut Statement,
    state: &SessionState,
) -> Result<()> {
    let mut sources = Vec::new();
    let _ = statement.visit(&mut SeededSamples(&mut |from: &str, _: &mut Expr| {
        sources.push(from.to_string())
    }));
    if sources.is_empty() {
        return Ok(());
    }
    let with = super::expand::with_prefix(statement);
    let mut columns: HashMap<String, String> = HashMap::new();
    for from in sources {
        if columns.contains_key(&from) {
            continue;
        }
        let schema = super::expand::from_schema(&with, &from, state).await?;
        let names: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| Ident::with_quote('"', f.name()).to_string())
            .collect();
        columns.insert(from, names.join(", "));
    }
    let mut failure = None;
    let _ = statement.visit(&mut SeededSamples(&mut |from: &str, call: &mut Expr| {
        let Expr::Function(function) = call else {
            return;
        };
        let seed = function.args.to_string();
        let seed = seed.trim_start_matches('(').trim_end_matches(')');
        let position = format!(
            "(CAST(hash({}, {seed}) % 1000000 AS DOUBLE) / 1000000.0)",
            columns[from]
        );
        match super::dialect::parse_expr(&position) {
            Ok(expr) => *call = expr,
            Err(e) => failure = Some(TarnError::Parse(e.to_string())),
        }
    }));
    failure.map_or(Ok(()), Err)
}

/// Calls `found(relation, call)` for each `tarn_sample_position(...)` call in a query over one
/// relation (a sample's subquery), with the relation as text.
struct SeededSamples<'a>(&'a mut dyn FnMut(&str, &mut Expr));

impl VisitorMut for SeededSamples<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        let Query { body, order_by, .. } = query;
        let SetExpr::Select(select) = body.as_mut() else {
            return ControlFlow::Continue(());
        };
        let [from] = select.from.as_slice() else {
            return ControlFlow::Continue(());
        };
        let relation = from.relation.to_string();
        let found = &mut *self.0;
        let mut marker = |expr: &mut Expr| {
            if let Expr::Function(call) = expr
                && call.name.to_string() == SEEDED_POSITION
            {
                found(&relation, expr);
            }
            ControlFlow::<()>::Continue(())
        };
        let _ = sqlparser::ast::visit_expressions_mut(&mut select.projection, &mut marker);
        let _ = sqlparser::ast::visit_expressions_mut(&mut select.selection, &mut marker);
        let _ = sqlparser::ast::visit_expressions_mut(order_by, &mut marker);
        ControlFlow::Continue(())
    }
}

/// Rewrites the sample clauses of one statement; text without them comes back unchanged.
pub fn normalize(sql: &str) -> Result<String> {
    let upper = sql.to_ascii_uppercase();
    if !upper.contains("SAMPLE") {
        return Ok(sql.to_string());
    }
    let mut tokens = super::tokenize(sql)?;
    let mut i = 0;
    while i < tokens.len() {
        if is_keyword(&tokens[i], "TABLESAMPLE") {
            if let Some((clause, end)) = sample_size(&tokens, i + 1)? {
                let replacement = clause_tokens(&clause);
                let inserted = replacement.len();
                tokens.splice(i..end, replacement);
                i += inserted;
                continue;
            }
        } else if is_keyword(&tokens[i], "USING")
            && next_word(&tokens, i + 1).is_some_and(|j| is_keyword(&tokens[j], "SAMPLE"))
        {
            let sample_at = next_word(&tokens, i + 1).expect("checked above");
            let Some((clause, end)) = sample_size(&tokens, sample_at + 1)? else {
                return Err(TarnError::Parse(
                    "USING SAMPLE needs a size such as 10% or 100 ROWS".into(),
                ));
            };
            tokens.drain(i..end);
            let insert_at = relation_end(&tokens, i)?;
            let replacement = clause_tokens(&clause);
            let inserted = replacement.len();
            tokens.splice(insert_at..insert_at, replacement);
            // Continue after what was removed; the inserted clause needs no second look.
            i += inserted;
            continue;
        }
        i += 1;
    }
    Ok(super::tokens::written(&tokens))
}

fn clause_tokens(clause: &str) -> Vec<Token> {
    super::tokenize(&format!(" TABLESAMPLE {clause} ")).expect("the clause is plain tokens")
}

/// Reads `[method] [(] N (%|PERCENT|ROWS) [)] [(method[, seed])]` from `start`; returns the
/// normalized `(N PERCENT)`/`(N ROWS)` and the index after the clause.
fn sample_size(tokens: &[Token], start: usize) -> Result<Option<(String, usize)>> {
    let mut j = skip_whitespace(tokens, start);
    // A method name first: `reservoir(10 ROWS)`, `bernoulli(5%)`.
    if let Some(Token::Word(w)) = tokens.get(j)
        && ["BERNOULLI", "SYSTEM", "RESERVOIR"].contains(&w.value.to_ascii_uppercase().as_str())
    {
        j = skip_whitespace(tokens, j + 1);
    }
    let parenthesized = tokens.get(j) == Some(&Token::LParen);
    if parenthesized {
        j = skip_whitespace(tokens, j + 1);
    }
    let Some(Token::Number(number, _)) = tokens.get(j) else {
        return Ok(None);
    };
    let number = number.clone();
    j = skip_whitespace(tokens, j + 1);
    let unit = match tokens.get(j) {
        Some(Token::Mod) => "PERCENT",
        Some(Token::Word(w)) if w.value.eq_ignore_ascii_case("PERCENT") => "PERCENT",
        Some(Token::Word(w)) if w.value.eq_ignore_ascii_case("ROWS") => "ROWS",
        _ => {
            return Err(TarnError::Parse(format!(
                "sample size {number} needs a unit: % or ROWS"
            )));
        }
    };
    j = skip_whitespace(tokens, j + 1);
    if parenthesized {
        if tokens.get(j) != Some(&Token::RParen) {
            return Err(TarnError::Parse("unclosed sample size".into()));
        }
        j = skip_whitespace(tokens, j + 1);
    }
    // A trailing `(bernoulli)` or `(system, 42)`: every method is sampled row by row here, and
    // a number is the seed.
    let mut seed = None;
    if tokens.get(j) == Some(&Token::LParen) {
        while j < tokens.len() && tokens[j] != Token::RParen {
            if let Token::Number(n, _) = &tokens[j] {
                seed = Some(n.clone());
            }
            j += 1;
        }
        j = skip_whitespace(tokens, j + 1);
    }
    // `REPEATABLE (42)`.
    if tokens.get(j).is_some_and(|t| is_keyword(t, "REPEATABLE")) {
        let open = skip_whitespace(tokens, j + 1);
        let number = skip_whitespace(tokens, open + 1);
        let close = skip_whitespace(tokens, number + 1);
        match (tokens.get(open), tokens.get(number), tokens.get(close)) {
            (Some(Token::LParen), Some(Token::Number(n, _)), Some(Token::RParen)) => {
                seed = Some(n.clone());
                j = close + 1;
            }
            _ => {
                return Err(TarnError::Parse(
                    "REPEATABLE takes a seed: REPEATABLE (42)".into(),
                ));
            }
        }
    }
    let clause = match seed {
        Some(seed) => format!("({number} {unit}) REPEATABLE ({seed})"),
        None => format!("({number} {unit})"),
    };
    Ok(Some((clause, j.min(tokens.len()))))
}

/// The index just after the first relation of the FROM clause that owns the clause at `at`:
/// the FROM at the same parenthesis depth, before `at`.
fn relation_end(tokens: &[Token], at: usize) -> Result<usize> {
    let mut depth = 0i32;
    let mut from = None;
    for k in (0..at).rev() {
        match &tokens[k] {
            Token::RParen => depth += 1,
            Token::LParen => depth -= 1,
            t if depth == 0 && is_keyword(t, "FROM") => {
                from = Some(k);
                break;
            }
            _ => {}
        }
    }
    let from = from.ok_or_else(|| TarnError::Parse("USING SAMPLE needs a FROM clause".into()))?;
    let mut j = skip_whitespace(tokens, from + 1);
    // The relation: a name (possibly dotted), a string, or a call or subquery in parentheses.
    loop {
        match tokens.get(j) {
            Some(Token::LParen) => {
                let mut level = 0;
                while j < tokens.len() {
                    match tokens[j] {
                        Token::LParen => level += 1,
                        Token::RParen => {
                            level -= 1;
                            if level == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                j += 1;
            }
            Some(Token::Word(_)) | Some(Token::SingleQuotedString(_)) => j += 1,
            _ => break,
        }
        if tokens.get(j) == Some(&Token::Period) {
            j += 1;
            continue;
        }
        if tokens.get(j) == Some(&Token::LParen) {
            continue;
        }
        break;
    }
    // An alias: `AS x` or a bare name that is not a keyword, with its column names if any
    // (`t(x, y)`).
    let after = skip_whitespace(tokens, j);
    let aliased = if tokens.get(after).is_some_and(|t| is_keyword(t, "AS")) {
        j = skip_whitespace(tokens, after + 1) + 1;
        true
    } else if matches!(tokens.get(after), Some(Token::Word(w)) if w.keyword == Keyword::NoKeyword) {
        j = after + 1;
        true
    } else {
        false
    };
    if aliased && tokens.get(j) == Some(&Token::LParen) {
        j += tokens[j..]
            .iter()
            .position(|t| *t == Token::RParen)
            .map_or(tokens.len() - j, |close| close + 1);
    }
    // Joins or a second relation after it: sampling one side would be wrong.
    let mut k = skip_whitespace(tokens, j);
    while k < at {
        match &tokens[k] {
            Token::Comma => return Err(TarnError::Invalid(
                "USING SAMPLE over several relations is not supported; sample one with TABLESAMPLE"
                    .into(),
            )),
            t if is_keyword(t, "JOIN") => {
                return Err(TarnError::Invalid(
                    "USING SAMPLE over a join is not supported; sample one side with TABLESAMPLE"
                        .into(),
                ));
            }
            _ => k += 1,
        }
    }
    Ok(j)
}

fn next_word(tokens: &[Token], i: usize) -> Option<usize> {
    let j = skip_whitespace(tokens, i);
    matches!(tokens.get(j), Some(Token::Word(_))).then_some(j)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_duckdb_sample_forms() {
        assert_eq!(
            normalize("SELECT * FROM t USING SAMPLE 10%")
                .unwrap()
                .trim(),
            "SELECT * FROM t TABLESAMPLE (10 PERCENT)"
        );
        assert_eq!(
            normalize("SELECT * FROM 'a.parquet' AS x USING SAMPLE 50 ROWS")
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            "SELECT * FROM 'a.parquet' AS x TABLESAMPLE (50 ROWS)"
        );
        assert_eq!(
            normalize("SELECT * FROM t TABLESAMPLE 5%")
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            "SELECT * FROM t TABLESAMPLE (5 PERCENT)"
        );
        assert_eq!(
            normalize("SELECT * FROM range(9) t(x) WHERE x > 1 USING SAMPLE 2 ROWS")
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            "SELECT * FROM range(9) t(x) TABLESAMPLE (2 ROWS) WHERE x > 1"
        );
        assert_eq!(normalize("SELECT 'sample'").unwrap(), "SELECT 'sample'");
        for seeded in [
            "SELECT * FROM t USING SAMPLE 10% (bernoulli, 42)",
            "SELECT * FROM t TABLESAMPLE 10% REPEATABLE (42)",
        ] {
            assert_eq!(
                normalize(seeded)
                    .unwrap()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
                "SELECT * FROM t TABLESAMPLE (10 PERCENT) REPEATABLE (42)",
                "{seeded}"
            );
        }
    }

    #[test]
    fn refuses_sampling_a_join() {
        let err = normalize("SELECT * FROM a JOIN b ON a.x = b.x USING SAMPLE 10%").unwrap_err();
        assert!(err.to_string().contains("over a join"), "{err}");
    }
}
