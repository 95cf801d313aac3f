//! Generated columns, `b INT GENERATED ALWAYS AS (a * 2)`, which session tables do not compute:
//! DataFusion accepts the clause and drops it, so every row's `b` was NULL where DuckDB gives
//! `a * 2`. Until they are computed, a table or added column that declares one is refused in one
//! line that names the column and the view that gives the same rows.

use datafusion::common::DataFusionError;
use sqlparser::ast::{ColumnDef, ColumnOption};

use crate::error::Result;

/// Refuses `column` when it is generated (an expression or an identity).
pub fn refuse_generated_column(column: &ColumnDef) -> Result<()> {
    let generated = column
        .options
        .iter()
        .find_map(|option| match &option.option {
            ColumnOption::Generated {
                generation_expr, ..
            } => Some(generation_expr),
            _ => None,
        });
    let Some(expression) = generated else {
        return Ok(());
    };
    let instead = match expression {
        Some(expr) => format!(
            ": declare the table without it and compute it in a view (SELECT *, {expr} AS {} \
             FROM ...)",
            column.name
        ),
        None => String::new(),
    };
    Err(DataFusionError::NotImplemented(format!(
        "generated column {} is not computed by Tarn's tables{instead}",
        column.name
    ))
    .into())
}
