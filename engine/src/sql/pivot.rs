//! DuckDB's simplified `PIVOT` and `UNPIVOT` statements, rewritten into plain SQL:
//!
//! * `PIVOT src ON col [IN (v, ...)] USING agg [AS name], ... [GROUP BY cols] [ORDER BY ...]
//!   [LIMIT n]`: one output column per distinct value of `col` (sorted) and aggregate, each
//!   aggregate filtered to that value; the rows are grouped by `GROUP BY`, or by every column
//!   not named in `ON` or `USING`.
//! * `UNPIVOT src ON col, ... INTO NAME name VALUE value [INCLUDE NULLS]`: one row per input row
//!   and listed column, NULL values skipped unless `INCLUDE NULLS`.

use std::collections::BTreeSet;

use super::dialect::TarnDialect;
use super::quote_identifier;
use datafusion::arrow::array::{Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::sql::sqlparser::tokenizer::Token;
use sqlparser::ast::Expr;
use sqlparser::parser::Parser;

use super::{SqlSession, collect};
use crate::error::{Result, TarnError};

/// Clause keywords that end the clause before them.
const CLAUSES: &[&str] = &["ON", "USING", "GROUP", "ORDER", "LIMIT", "INTO", "INCLUDE"];

pub async fn pivot(session: &mut SqlSession, statement: &str) -> Result<SendableRecordBatchStream> {
    let clauses = Clauses::parse(statement, "PIVOT")?;
    let source = clauses.source()?;
    let on = clauses.required("ON")?;
    let (on_column, explicit_values) = match on.to_ascii_uppercase().find(" IN ") {
        Some(at) => (
            on[..at].trim().to_string(),
            Some(on[at + 4..].trim().to_string()),
        ),
        None => (on.clone(), None),
    };
    let aggregates = split_list(clauses.get("USING").unwrap_or("count(*)"));
    let values = match explicit_values {
        Some(list) => split_list(list.trim_start_matches('(').trim_end_matches(')'))
            .into_iter()
            .map(|v| Some(v.trim_matches('\'').to_string()))
            .collect(),
        None => distinct_values(session, &source, &on_column).await?,
    };
    let group_by = match clauses.get("GROUP") {
        Some(text) => split_list(
            text.trim_start_matches(|c: char| c.is_alphabetic())
                .trim_start(),
        ),
        None => {
            let used = referenced_names(&aggregates)?;
            let on_name = on_column.trim_matches('"').to_string();
            source_columns(session, &source)
                .await?
                .into_iter()
                .filter(|c| *c != on_name && !used.contains(c))
                .map(|c| quote_identifier(&c))
                .collect()
        }
    };

    let mut select = group_by.clone();
    for value in &values {
        let condition = match value {
            None => format!("{on_column} IS NULL"),
            Some(v) => format!("CAST({on_column} AS VARCHAR) = '{}'", v.replace('\'', "''")),
        };
        let label = value.clone().unwrap_or_else(|| "NULL".to_string());
        for aggregate in &aggregates {
            let (expr, alias) = split_alias(aggregate);
            let filtered = filter_aggregates(&expr, &condition)?;
            let name = match (aggregates.len(), alias) {
                (1, None) => label.clone(),
                (_, Some(alias)) => format!("{label}_{alias}"),
                (_, None) => format!("{label}_{expr}"),
            };
            select.push(format!("{filtered} AS {}", quote_identifier(&name)));
        }
    }
    let mut sql = format!("SELECT {} FROM {source}", select.join(", "));
    if !group_by.is_empty() {
        sql.push_str(&format!(" GROUP BY {}", group_by.join(", ")));
    }
    if let Some(order) = clauses.get("ORDER") {
        sql.push_str(&format!(" ORDER {order}"));
    } else if !group_by.is_empty() {
        sql.push_str(" ORDER BY ALL");
    }
    if let Some(limit) = clauses.get("LIMIT") {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    Ok(session.dataframe(&sql).await?.execute_stream().await?)
}

pub async fn unpivot(
    session: &mut SqlSession,
    statement: &str,
) -> Result<SendableRecordBatchStream> {
    let clauses = Clauses::parse(statement, "UNPIVOT")?;
    let source = clauses.source()?;
    let on: Vec<String> = split_list(&clauses.required("ON")?)
        .into_iter()
        .map(|c| c.trim_matches('"').to_string())
        .collect();
    let into = clauses.required("INTO")?;
    let words: Vec<&str> = into.split_whitespace().collect();
    let (name_column, value_column) = match words.as_slice() {
        [n, name, v, value]
            if n.eq_ignore_ascii_case("NAME") && v.eq_ignore_ascii_case("VALUE") =>
        {
            (
                name.trim_matches('"').to_string(),
                value.trim_matches('"').to_string(),
            )
        }
        _ => {
            return Err(TarnError::Parse(
                "UNPIVOT: expected INTO NAME name VALUE value".into(),
            ));
        }
    };
    let include_nulls = clauses.get("INCLUDE").is_some();
    let columns = source_columns(session, &source).await?;
    for column in &on {
        if !columns.contains(column) {
            return Err(TarnError::Invalid(format!(
                "UNPIVOT: column '{column}' is not in {source}"
            )));
        }
    }
    let kept: Vec<String> = columns
        .iter()
        .filter(|c| !on.contains(c))
        .map(|c| quote_identifier(c))
        .collect();
    let branches: Vec<String> = on
        .iter()
        .map(|column| {
            let mut items = kept.clone();
            items.push(format!(
                "'{}' AS {}",
                column.replace('\'', "''"),
                quote_identifier(&name_column)
            ));
            items.push(format!(
                "{} AS {}",
                quote_identifier(column),
                quote_identifier(&value_column)
            ));
            let filter = if include_nulls {
                String::new()
            } else {
                format!(" WHERE {} IS NOT NULL", quote_identifier(column))
            };
            format!("SELECT {} FROM {source}{filter}", items.join(", "))
        })
        .collect();
    Ok(session
        .dataframe(&branches.join(" UNION ALL "))
        .await?
        .execute_stream()
        .await?)
}

/// The statement cut at its top-level clause keywords.
struct Clauses {
    parts: Vec<(String, String)>,
}

impl Clauses {
    fn parse(statement: &str, keyword: &str) -> Result<Self> {
        let tokens = super::tokenize(statement)?;
        let mut parts: Vec<(String, String)> = vec![];
        let mut current = (String::new(), String::new());
        let mut depth = 0i32;
        for token in tokens {
            match &token {
                Token::LParen => depth += 1,
                Token::RParen => depth -= 1,
                Token::Word(w) if depth == 0 && w.quote_style.is_none() => {
                    let upper = w.value.to_ascii_uppercase();
                    if upper == keyword && current.0.is_empty() && current.1.trim().is_empty() {
                        current.0 = upper;
                        continue;
                    }
                    if CLAUSES.contains(&upper.as_str()) && !current.0.is_empty() {
                        parts.push(std::mem::take(&mut current));
                        current.0 = upper;
                        continue;
                    }
                }
                _ => {}
            }
            current.1.push_str(&token.to_string());
        }
        parts.push(current);
        let parts = parts
            .into_iter()
            .map(|(k, v)| (k, v.trim().to_string()))
            .collect();
        Ok(Clauses { parts })
    }

    fn get(&self, clause: &str) -> Option<&str> {
        self.parts
            .iter()
            .find(|(k, _)| k == clause)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, clause: &str) -> Result<String> {
        self.get(clause)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                TarnError::Parse(format!("{}: missing {clause} clause", self.parts[0].0))
            })
    }

    /// The dataset: a table, a quoted path or a parenthesized query.
    fn source(&self) -> Result<String> {
        let source = self.parts[0].1.trim();
        if source.is_empty() {
            return Err(TarnError::Parse(format!(
                "{} needs a table, path or (query)",
                self.parts[0].0
            )));
        }
        Ok(if source.starts_with('(') {
            format!("{source} AS pivot_source")
        } else {
            source.to_string()
        })
    }
}

async fn source_columns(session: &SqlSession, source: &str) -> Result<Vec<String>> {
    let frame = session
        .dataframe(&format!("SELECT * FROM {source} LIMIT 0"))
        .await?;
    Ok(frame
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}

/// The distinct values of the ON column as text, sorted, `None` for NULL.
async fn distinct_values(
    session: &SqlSession,
    source: &str,
    column: &str,
) -> Result<Vec<Option<String>>> {
    let sql = format!("SELECT DISTINCT CAST({column} AS VARCHAR) AS v FROM {source} ORDER BY v");
    let batches = collect(session.dataframe(&sql).await?.execute_stream().await?).await?;
    let mut values = Vec::new();
    for batch in batches {
        let array =
            cast(batch.column(0), &DataType::Utf8).map_err(|e| TarnError::DataFusion(e.into()))?;
        let strings = array
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("cast to Utf8");
        for i in 0..strings.len() {
            values.push((!strings.is_null(i)).then(|| strings.value(i).to_string()));
        }
    }
    if values.len() > 10_000 {
        return Err(TarnError::Invalid(format!(
            "PIVOT ON {column} would create {} columns; list the values with ON {column} IN (...)",
            values.len()
        )));
    }
    Ok(values)
}

/// Adds `FILTER (WHERE condition)` to every aggregate call at the top of `expr`.
fn filter_aggregates(expr: &str, condition: &str) -> Result<String> {
    let mut parsed = parse_expr(expr)?;
    let filter = parse_expr(condition)?;
    add_filter(&mut parsed, &filter);
    Ok(parsed.to_string())
}

fn add_filter(expr: &mut Expr, filter: &Expr) {
    match expr {
        Expr::Function(function) if function.over.is_none() => {
            function.filter = Some(Box::new(filter.clone()));
        }
        Expr::BinaryOp { left, right, .. } => {
            add_filter(left, filter);
            add_filter(right, filter);
        }
        Expr::Nested(inner)
        | Expr::UnaryOp { expr: inner, .. }
        | Expr::Cast { expr: inner, .. } => add_filter(inner, filter),
        _ => {}
    }
}

/// Column names the aggregates read, so they are not grouped by.
fn referenced_names(aggregates: &[String]) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for aggregate in aggregates {
        let expr = parse_expr(&split_alias(aggregate).0)?;
        let _ = sqlparser::ast::visit_expressions(&expr, |e| {
            match e {
                Expr::Identifier(ident) => {
                    names.insert(ident.value.clone());
                }
                Expr::CompoundIdentifier(parts) => {
                    if let Some(last) = parts.last() {
                        names.insert(last.value.clone());
                    }
                }
                _ => {}
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
    }
    Ok(names)
}

fn parse_expr(text: &str) -> Result<Expr> {
    Parser::new(&TarnDialect)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| TarnError::Parse(format!("in '{text}': {e}")))
}

/// `sum(x) AS total` → (`sum(x)`, Some(`total`)).
fn split_alias(aggregate: &str) -> (String, Option<String>) {
    let upper = aggregate.to_ascii_uppercase();
    match upper.rfind(" AS ") {
        Some(at) if !aggregate[at + 4..].contains(')') => (
            aggregate[..at].trim().to_string(),
            Some(aggregate[at + 4..].trim().trim_matches('"').to_string()),
        ),
        _ => (aggregate.trim().to_string(), None),
    }
}

/// Splits a comma-separated list at top-level commas.
fn split_list(text: &str) -> Vec<String> {
    let mut items = vec![];
    let mut current = String::new();
    let mut depth = 0i32;
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if depth == 0 && !quoted => {
                items.push(std::mem::take(&mut current).trim().to_string());
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        items.push(current.trim().to_string());
    }
    items
}
