//! DuckDB's simplified `PIVOT` and `UNPIVOT` statements, rewritten into plain SQL:
//!
//! * `PIVOT src ON col [IN (v, ...)] USING agg [AS name], ... [GROUP BY cols] [ORDER BY ...]
//!   [LIMIT n]`: one output column per distinct value of `col` (sorted) and aggregate, each
//!   aggregate filtered to that value; the rows are grouped by `GROUP BY`, or by every column
//!   not named in `ON` or `USING`.
//! * `UNPIVOT src ON col, ... [INTO NAME name VALUE value] [INCLUDE NULLS] [ORDER BY ...]
//!   [LIMIT n]`: one row per input row and listed column (`COLUMNS(...)` lists the columns it
//!   selects), NULL values skipped unless `INCLUDE NULLS`; without INTO the columns are
//!   `name` and `value`.
//!
//! The SQL-standard forms in FROM, `t PIVOT (agg [AS name], ... FOR col IN (v [AS name], ...))`
//! and `t UNPIVOT [INCLUDE NULLS] (value FOR name IN (col, ...))`, become the same queries as
//! derived tables ([`standard_forms`]).

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use super::quote_identifier;
use datafusion::arrow::array::{Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::SessionState;
use datafusion::sql::sqlparser::tokenizer::Token;
use sqlparser::ast::{
    Expr, NullInclusion, PivotValueSource, Statement, TableFactor, Value, VisitMut, VisitorMut,
};

use super::{SqlSession, collect};
use crate::error::{Result, TarnError};

/// Clause keywords that end the clause before them.
const CLAUSES: &[&str] = &["ON", "USING", "GROUP", "ORDER", "LIMIT", "INTO", "INCLUDE"];

pub async fn pivot(session: &mut SqlSession, statement: &str) -> Result<SendableRecordBatchStream> {
    let sql = pivot_sql(session, statement).await?;
    Ok(session.dataframe(&sql).await?.execute_stream().await?)
}

/// The query a `PIVOT` statement stands for.
pub async fn pivot_sql(session: &mut SqlSession, statement: &str) -> Result<String> {
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
            .map(|v| v.trim_matches('\'').to_string())
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
                .filter(|c| !pivot_reads(c, &on_name, &used))
                .map(|c| quote_identifier(&c))
                .collect()
        }
    };

    let columns: Vec<PivotColumn> = values
        .into_iter()
        .map(|v| PivotColumn {
            condition: format!("CAST({on_column} AS VARCHAR) = '{}'", v.replace('\'', "''")),
            label: v,
        })
        .collect();
    let mut sql = pivot_query(&source, &columns, &aggregates, &group_by)?;
    if let Some(order) = clauses.get("ORDER") {
        sql.push_str(&format!(" ORDER {order}"));
    } else if !group_by.is_empty() {
        sql.push_str(" ORDER BY ALL");
    }
    if let Some(limit) = clauses.get("LIMIT") {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    Ok(sql)
}

/// One value of the pivoted column: the rows it selects, and the name its columns take.
struct PivotColumn {
    condition: String,
    label: String,
}

/// `SELECT group_by, agg FILTER (WHERE condition) AS label, ... FROM source GROUP BY group_by`:
/// a column per value and aggregate, named `label` for one unnamed aggregate and
/// `label_name` otherwise, as DuckDB names them.
fn pivot_query(
    source: &str,
    columns: &[PivotColumn],
    aggregates: &[String],
    group_by: &[String],
) -> Result<String> {
    let mut select = group_by.to_vec();
    for column in columns {
        for aggregate in aggregates {
            let (expr, alias) = split_alias(aggregate);
            let filtered = filter_aggregates(&expr, &column.condition)?;
            let label = &column.label;
            let name = match (aggregates.len(), alias) {
                (1, None) => label.clone(),
                (_, Some(alias)) => format!("{label}_{alias}"),
                // After the aggregate as DuckDB names its column: `2020_count_star()`.
                (_, None) => {
                    let parsed = super::dialect::parse_expr(&expr)
                        .map_err(|e| TarnError::Parse(e.to_string()))?;
                    format!("{label}_{}", super::rewrite::fully_parenthesized(&parsed))
                }
            };
            select.push(format!("{filtered} AS {}", quote_identifier(&name)));
        }
    }
    let mut sql = format!("SELECT {} FROM {source}", select.join(", "));
    if !group_by.is_empty() {
        sql.push_str(&format!(" GROUP BY {}", group_by.join(", ")));
    }
    Ok(sql)
}

pub async fn unpivot(
    session: &mut SqlSession,
    statement: &str,
) -> Result<SendableRecordBatchStream> {
    let sql = unpivot_sql(session, statement).await?;
    Ok(session.dataframe(&sql).await?.execute_stream().await?)
}

/// The query an `UNPIVOT` statement stands for.
pub async fn unpivot_sql(session: &mut SqlSession, statement: &str) -> Result<String> {
    let clauses = Clauses::parse(statement, "UNPIVOT")?;
    let source = clauses.source()?;
    let columns = source_columns(session, &source).await?;
    let on = unpivoted_columns(split_list(&clauses.required("ON")?), &columns)?;
    // DuckDB's names when INTO is left out.
    let into = clauses.get("INTO").unwrap_or("NAME name VALUE value");
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
    let mut sql = unpivot_query(
        &source,
        &columns,
        &on,
        &name_column,
        &value_column,
        include_nulls,
    )?;
    if clauses.get("ORDER").is_some() || clauses.get("LIMIT").is_some() {
        sql = format!("SELECT * FROM ({sql})");
        if let Some(order) = clauses.get("ORDER") {
            sql.push_str(&format!(" ORDER {order}"));
        }
        if let Some(limit) = clauses.get("LIMIT") {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
    }
    Ok(sql)
}

/// The columns UNPIVOT's list names: each name as written (quotes removed), or the columns a
/// `COLUMNS(...)` item selects, in the source's order.
fn unpivoted_columns(
    items: impl IntoIterator<Item = String>,
    columns: &[String],
) -> Result<Vec<String>> {
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let mut unpivoted = Vec::new();
    for item in items {
        let selector = parse_expr(&item)
            .ok()
            .and_then(|expr| super::expand::Selector::of(&expr));
        match selector {
            Some(selector) => {
                let selected = selector.select(&names, &item)?;
                if selected.is_empty() {
                    return Err(TarnError::Invalid(format!(
                        "UNPIVOT: {item} matches no column"
                    )));
                }
                unpivoted.extend(selected.into_iter().map(str::to_string));
            }
            None => unpivoted.push(item.trim_matches('"').to_string()),
        }
    }
    Ok(unpivoted)
}

/// One `SELECT kept, 'column' AS name, column AS value FROM source` per unpivoted column, as a
/// UNION ALL; NULL values are left out unless `include_nulls`.
fn unpivot_query(
    source: &str,
    columns: &[String],
    on: &[String],
    name_column: &str,
    value_column: &str,
    include_nulls: bool,
) -> Result<String> {
    let on = on
        .iter()
        .map(|column| {
            super::name_case::find_name(columns.iter().map(String::as_str), column)
                .map(str::to_string)
                .ok_or_else(|| {
                    TarnError::Invalid(format!("UNPIVOT: column '{column}' is not in {source}"))
                })
        })
        .collect::<Result<Vec<String>>>()?;
    let on = on.as_slice();
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
                quote_identifier(name_column)
            ));
            items.push(format!(
                "{} AS {}",
                quote_identifier(column),
                quote_identifier(value_column)
            ));
            let filter = if include_nulls {
                String::new()
            } else {
                format!(" WHERE {} IS NOT NULL", quote_identifier(column))
            };
            format!("SELECT {} FROM {source}{filter}", items.join(", "))
        })
        .collect();
    Ok(branches.join(" UNION ALL "))
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

pub(super) async fn source_columns(session: &SqlSession, source: &str) -> Result<Vec<String>> {
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

/// The distinct values of the ON column as text, sorted; NULL is left out, as DuckDB 2.0 makes
/// no column for it (its rows are in no pivoted column).
async fn distinct_values(session: &SqlSession, source: &str, column: &str) -> Result<Vec<String>> {
    let sql = format!(
        "SELECT DISTINCT CAST({column} AS VARCHAR) AS v FROM {source} \
         WHERE {column} IS NOT NULL ORDER BY v"
    );
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
            values.push(strings.value(i).to_string());
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

/// Whether the source column `column` is the pivoted one or one the aggregates read, so not a
/// group key. Names match in any case, as identifiers do.
fn pivot_reads(column: &str, on: &str, used: &BTreeSet<String>) -> bool {
    column.eq_ignore_ascii_case(on) || used.iter().any(|u| u.eq_ignore_ascii_case(column))
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
    super::dialect::parse_expr(text).map_err(|e| TarnError::Parse(format!("in '{text}': {e}")))
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

/// Replaces each SQL-standard PIVOT and UNPIVOT in the statement's FROM clauses by the derived
/// table the statements above build, innermost first. Runs once the files the statement names
/// are registered, since the source's columns come from planning `SELECT * FROM source`.
pub async fn standard_forms(statement: &mut Statement, state: &SessionState) -> Result<()> {
    let with = super::expand::with_prefix(statement);
    while let ControlFlow::Break(form) = statement.visit(&mut FirstForm) {
        let replacement = derived_table(&form, &with, state).await?;
        let _ = statement.visit(&mut ReplaceFirstForm(Some(replacement)));
    }
    Ok(())
}

/// Finds the first PIVOT or UNPIVOT whose source holds none (visiting children first).
struct FirstForm;

/// (Boxed: the break value is returned through every level of the visit, and in a debug
/// build each of the visitor's many match arms keeps a slot for it on the stack.)
impl VisitorMut for FirstForm {
    type Break = Box<TableFactor>;

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<Self::Break> {
        match factor {
            TableFactor::Pivot { .. } | TableFactor::Unpivot { .. } => {
                ControlFlow::Break(Box::new(factor.clone()))
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

/// Puts its table in place of the factor [`FirstForm`] found, in the same visiting order.
struct ReplaceFirstForm(Option<TableFactor>);

impl VisitorMut for ReplaceFirstForm {
    type Break = ();

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if matches!(
            factor,
            TableFactor::Pivot { .. } | TableFactor::Unpivot { .. }
        ) {
            *factor = self.0.take().expect("replaced once");
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }
}

/// The derived table a standard PIVOT or UNPIVOT stands for, under the form's alias.
async fn derived_table(
    form: &TableFactor,
    with: &str,
    state: &SessionState,
) -> Result<TableFactor> {
    let (sql, alias) = match form {
        TableFactor::Pivot {
            table,
            aggregate_functions,
            value_column,
            value_source,
            default_on_null,
            alias,
        } => {
            let source = table.to_string();
            let [on] = value_column.as_slice() else {
                return Err(TarnError::Invalid(
                    "PIVOT: one column may follow FOR".into(),
                ));
            };
            let PivotValueSource::List(values) = value_source else {
                return Err(TarnError::Invalid(
                    "PIVOT: IN takes a list of values, as IN (2023, 2024)".into(),
                ));
            };
            if default_on_null.is_some() {
                return Err(TarnError::Invalid(
                    "PIVOT: DEFAULT ON NULL is not supported; coalesce the columns instead".into(),
                ));
            }
            let aggregates: Vec<String> = aggregate_functions
                .iter()
                .map(|aggregate| match &aggregate.alias {
                    Some(alias) => {
                        format!("{} AS {}", aggregate.expr, quote_identifier(&alias.value))
                    }
                    None => aggregate.expr.to_string(),
                })
                .collect();
            let used = referenced_names(&aggregates)?;
            let on_name = match on {
                Expr::Identifier(ident) => ident.value.clone(),
                other => other.to_string(),
            };
            let group_by: Vec<String> = columns_of(&source, with, state)
                .await?
                .into_iter()
                .filter(|c| !pivot_reads(c, &on_name, &used))
                .map(|c| quote_identifier(&c))
                .collect();
            let columns: Vec<PivotColumn> = values
                .iter()
                .map(|value| {
                    let literal = match &value.expr {
                        Expr::Value(v) => Some(&v.value),
                        _ => None,
                    };
                    let condition = match literal {
                        Some(Value::Null) => format!("{on} IS NULL"),
                        _ => format!("{on} = ({})", value.expr),
                    };
                    let label = match (&value.alias, literal) {
                        (Some(alias), _) => alias.value.clone(),
                        (None, Some(Value::SingleQuotedString(text))) => text.clone(),
                        (None, _) => value.expr.to_string(),
                    };
                    PivotColumn { condition, label }
                })
                .collect();
            (
                pivot_query(&source, &columns, &aggregates, &group_by)?,
                alias,
            )
        }
        TableFactor::Unpivot {
            table,
            value,
            name,
            columns,
            null_inclusion,
            alias,
        } => {
            let source = table.to_string();
            let source_columns = columns_of(&source, with, state).await?;
            let items = columns.iter().map(|column| match &column.expr {
                Expr::Identifier(ident) => ident.value.clone(),
                other => other.to_string(),
            });
            let on = unpivoted_columns(items, &source_columns)?;
            let value = match value {
                Expr::Identifier(ident) => ident.value.clone(),
                other => other.to_string(),
            };
            let include_nulls = matches!(null_inclusion, Some(NullInclusion::IncludeNulls));
            let sql = unpivot_query(
                &source,
                &source_columns,
                &on,
                &name.value,
                &value,
                include_nulls,
            )?;
            (sql, alias)
        }
        other => unreachable!("FirstForm finds only PIVOT and UNPIVOT, not {other}"),
    };
    let subquery = super::dialect::parse_query(&sql)
        .map_err(|e| TarnError::Parse(format!("in the query PIVOT stands for ({sql}): {e}")))?;
    Ok(TableFactor::Derived {
        lateral: false,
        subquery,
        alias: alias.clone(),
        sample: None,
    })
}

/// The column names of `SELECT * FROM source`, planned with the statement's WITH clause.
async fn columns_of(source: &str, with: &str, state: &SessionState) -> Result<Vec<String>> {
    let schema = super::expand::from_schema(with, source, state).await?;
    Ok(schema.fields().iter().map(|f| f.name().clone()).collect())
}
