//! Choosing columns by a condition on their names, as DuckDB does:
//! `COLUMNS(c -> c LIKE 'score_%')` (or `lambda c: ...`) and `SELECT * LIKE 'score_%'`,
//! `* ILIKE`, `* NOT LIKE`, `* GLOB`, `* SIMILAR TO`. A feature table's columns are picked
//! by their prefix this way.
//!
//! [`star_conditions`] turns `* LIKE 'p'`, which does not parse, into
//! `COLUMNS(lambda __column: __column LIKE 'p')` before parsing. [`resolve`] then replaces each
//! lambda in a select list by the list of the names it keeps (`COLUMNS(['a', 'b'])`, which
//! `expand` selects): the condition runs as a query over the FROM clause's column names as
//! rows, so any SQL condition on a name works.

use std::ops::ControlFlow;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::execution::SessionState;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::tokenizer::Token;
use sqlparser::ast::{
    Array, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, LambdaFunction,
    OneOrManyWithParens, SelectItem, Value,
};

use super::tokens::{is_keyword, previous_significant, skip_whitespace};
use crate::error::{Result, TarnError};

/// The parameter `* LIKE 'p'` is written with.
const STAR_PARAMETER: &str = "__column";

/// `sql` with each `* [NOT] LIKE|ILIKE|GLOB|SIMILAR TO 'pattern'` in a select list written as
/// a `COLUMNS` lambda.
pub fn star_conditions(sql: &str) -> Result<String> {
    let upper = sql.to_ascii_uppercase();
    if !["LIKE", "GLOB", "SIMILAR"]
        .iter()
        .any(|w| upper.contains(w))
    {
        return Ok(sql.to_string());
    }
    let mut tokens = super::tokenize(sql)?;
    let mut i = 0;
    while i < tokens.len() {
        let Some((end, condition)) = star_condition(&tokens, i) else {
            i += 1;
            continue;
        };
        let call = format!("COLUMNS(lambda {STAR_PARAMETER}: {STAR_PARAMETER} {condition})");
        let replacement = super::tokenize(&call)?;
        let inserted = replacement.len();
        tokens.splice(i..end, replacement);
        i += inserted;
    }
    Ok(super::tokens::written(&tokens))
}

/// At `tokens[at]`, a select list's `*` and a condition on names after it: where they end,
/// and the condition without the `*`.
fn star_condition(tokens: &[Token], at: usize) -> Option<(usize, String)> {
    if tokens[at] != Token::Mul {
        return None;
    }
    // An item of its own: after SELECT, DISTINCT or a comma (`a * LIKE` does not parse).
    let before = previous_significant(tokens, at)?;
    let starts_item = tokens[before] == Token::Comma
        || is_keyword(&tokens[before], "SELECT")
        || is_keyword(&tokens[before], "DISTINCT");
    if !starts_item {
        return None;
    }
    let mut words = Vec::new();
    let mut next = skip_whitespace(tokens, at + 1);
    if tokens.get(next).is_some_and(|t| is_keyword(t, "NOT")) {
        words.push("NOT");
        next = skip_whitespace(tokens, next + 1);
    }
    let operator = tokens.get(next)?;
    if is_keyword(operator, "SIMILAR") {
        let to = skip_whitespace(tokens, next + 1);
        if !tokens.get(to).is_some_and(|t| is_keyword(t, "TO")) {
            return None;
        }
        words.push("SIMILAR TO");
        next = to;
    } else {
        let word = ["LIKE", "ILIKE", "GLOB"]
            .into_iter()
            .find(|w| is_keyword(operator, w))?;
        words.push(word);
    }
    let pattern = skip_whitespace(tokens, next + 1);
    let Some(Token::SingleQuotedString(text)) = tokens.get(pattern) else {
        return None;
    };
    let condition = format!("{} '{}'", words.join(" "), text.replace('\'', "''"));
    Some((pattern + 1, condition))
}

/// The lambda of a `COLUMNS(param -> condition)` call.
pub(super) fn lambda_of(expr: &Expr) -> Option<&LambdaFunction> {
    match super::expand::columns_call(expr)?.1 {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Lambda(lambda)))] => Some(lambda),
        _ => None,
    }
}

/// Replaces each `COLUMNS(lambda)` in `projection` by `COLUMNS([...])`, the names among
/// `names` (in their order) for which the lambda's condition holds.
pub(super) async fn resolve(
    projection: &mut [SelectItem],
    names: &[&str],
    state: &SessionState,
) -> Result<()> {
    let mut lambdas = Vec::new();
    for item in projection.iter() {
        let _ = sqlparser::ast::visit_expressions(item, |expr| {
            lambdas.extend(lambda_of(expr).cloned());
            ControlFlow::<()>::Continue(())
        });
    }
    if lambdas.is_empty() {
        return Ok(());
    }
    let mut kept = Vec::with_capacity(lambdas.len());
    for lambda in &lambdas {
        let chosen = names_where(lambda, names, state).await?;
        if chosen.is_empty() {
            return Err(TarnError::Invalid(format!(
                "{} matches no column",
                as_written(lambda)
            )));
        }
        kept.push(chosen);
    }
    let mut kept = kept.into_iter();
    for item in projection.iter_mut() {
        let _ = sqlparser::ast::visit_expressions_mut(item, |expr| {
            if lambda_of(expr).is_some()
                && let Expr::Function(function) = expr
                && let FunctionArguments::List(list) = &mut function.args
            {
                let names = kept.next().unwrap_or_default();
                let list_of_names = Expr::Array(Array {
                    elem: names
                        .into_iter()
                        .map(|name| Expr::value(Value::SingleQuotedString(name)))
                        .collect(),
                    named: false,
                });
                list.args = vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(list_of_names))];
            }
            ControlFlow::<()>::Continue(())
        });
    }
    Ok(())
}

/// The selection as the query wrote it: `* LIKE 'p'`, or `COLUMNS(lambda)`.
fn as_written(lambda: &LambdaFunction) -> String {
    let body = lambda.body.to_string();
    match body.strip_prefix(STAR_PARAMETER) {
        Some(condition) => format!("*{condition}"),
        None => format!("COLUMNS({lambda})"),
    }
}

/// The names among `names` for which `lambda`'s condition holds, found by running it over
/// them as the rows of a column named after its parameter.
async fn names_where(
    lambda: &LambdaFunction,
    names: &[&str],
    state: &SessionState,
) -> Result<Vec<String>> {
    let OneOrManyWithParens::One(param) = &lambda.params else {
        return Err(TarnError::Invalid(format!(
            "COLUMNS({lambda}): the lambda takes one parameter, the column's name"
        )));
    };
    let rows: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(at, name)| format!("({at}, '{}')", name.replace('\'', "''")))
        .collect();
    let column = Ident::with_quote('"', &param.name.value);
    let sql = format!(
        "SELECT {column} FROM (VALUES {}) AS __columns(__position, {column}) WHERE {} \
         ORDER BY __position",
        rows.join(", "),
        lambda.body
    );
    let context = SessionContext::new_with_state(state.clone());
    let batches = context
        .sql(&sql)
        .await
        .map_err(|e| TarnError::Invalid(format!("{}: {e}", as_written(lambda))))?
        .collect()
        .await?;
    let mut kept = Vec::new();
    for batch in batches {
        let texts = cast(batch.column(0), &DataType::Utf8)?;
        kept.extend(
            texts
                .as_string::<i32>()
                .iter()
                .flatten()
                .map(str::to_string),
        );
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_star_with_a_condition_becomes_a_columns_lambda() {
        assert_eq!(
            star_conditions("SELECT * LIKE 'score_%' FROM t").unwrap(),
            "SELECT COLUMNS(lambda __column: __column LIKE 'score_%') FROM t"
        );
        assert_eq!(
            star_conditions("SELECT id, * NOT SIMILAR TO 'x.*' FROM t").unwrap(),
            "SELECT id, COLUMNS(lambda __column: __column NOT SIMILAR TO 'x.*') FROM t"
        );
        for sql in [
            "SELECT a * b FROM t WHERE s LIKE 'x'",
            "SELECT count(*) FROM t WHERE s NOT LIKE 'x'",
            "SELECT 'a * LIKE' FROM t",
        ] {
            assert_eq!(star_conditions(sql).unwrap(), sql);
        }
    }
}
