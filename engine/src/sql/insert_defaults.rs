//! `DEFAULT` in an INSERT's VALUES rows (`INSERT INTO t VALUES (1, DEFAULT)`) and
//! `INSERT INTO t DEFAULT VALUES`, as in DuckDB: each stands for its column's default, or NULL
//! where the column has none. DataFusion fills the defaults of columns an INSERT leaves out,
//! but reads a `DEFAULT` in a row as a column named `default`, and plans no INSERT without rows.

use datafusion::prelude::SessionContext;
use datafusion::sql::unparser::expr_to_sql;
use sqlparser::ast::{Expr, Insert, ObjectName, SetExpr, Statement, TableObject, Value};

use super::dialect::parse_query;
use crate::error::{Result, TarnError};

/// Replaces each bare `DEFAULT` in the VALUES rows of an INSERT into a table of `ctx`, and gives
/// an INSERT without rows one row of defaults.
pub async fn fill_defaults(statement: &mut Statement, ctx: &SessionContext) -> Result<()> {
    let Statement::Insert(insert) = statement else {
        return Ok(());
    };
    let TableObject::TableName(table) = &insert.table else {
        return Ok(());
    };
    let rows_with_defaults = match insert.source.as_deref() {
        None => true,
        Some(query) => match query.body.as_ref() {
            SetExpr::Values(values) => values
                .rows
                .iter()
                .flat_map(|row| &row.content)
                .any(is_default),
            _ => false,
        },
    };
    if !rows_with_defaults {
        return Ok(());
    }
    let defaults = column_defaults(ctx, table, insert).await?;
    match insert.source.as_deref_mut() {
        Some(query) => {
            if let SetExpr::Values(values) = query.body.as_mut() {
                for row in &mut values.rows {
                    for (value, default) in row.content.iter_mut().zip(&defaults) {
                        if is_default(value) {
                            *value = default.clone();
                        }
                    }
                }
            }
        }
        None => {
            // One row, whose values are then the defaults.
            let mut query =
                parse_query("VALUES (NULL)").map_err(|err| TarnError::Parse(err.to_string()))?;
            if let SetExpr::Values(values) = query.body.as_mut() {
                values.rows[0].content = defaults;
            }
            insert.source = Some(query);
        }
    }
    Ok(())
}

/// A bare (unquoted) `DEFAULT`, which the parser reads as a name.
fn is_default(expr: &Expr) -> bool {
    matches!(expr, Expr::Identifier(ident)
        if ident.quote_style.is_none() && ident.value.eq_ignore_ascii_case("default"))
}

/// The defaults of the columns the INSERT fills, in its order (the table's when it names none),
/// NULL for a column without one.
async fn column_defaults(
    ctx: &SessionContext,
    table: &ObjectName,
    insert: &Insert,
) -> Result<Vec<Expr>> {
    let name = table.to_string();
    let provider = ctx
        .table_provider(name.as_str())
        .await
        .map_err(|_| TarnError::Invalid(format!("Table with name {name} does not exist")))?;
    let columns: Vec<String> = match insert.columns.is_empty() {
        true => provider
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect(),
        false => insert
            .columns
            .iter()
            .filter_map(|column| column.0.last()?.as_ident())
            .map(|ident| match ident.quote_style {
                Some(_) => ident.value.clone(),
                None => ident.value.to_lowercase(),
            })
            .collect(),
    };
    columns
        .iter()
        .map(|column| match provider.get_column_default(column) {
            Some(default) => expr_to_sql(default).map_err(|err| {
                TarnError::Invalid(format!("the default of column {column}: {err}"))
            }),
            None => Ok(Expr::value(Value::Null)),
        })
        .collect()
}
