//! CHECK constraints of the tables `CREATE TABLE` makes, which DataFusion's planner refuses
//! ("Check constraints are not currently supported"): a schema written for DuckDB (`price
//! DECIMAL(10,2) CHECK (price >= 0)`) could not be created at all.
//!
//! [`take`] removes a statement's CHECK clauses, column or table ones, before DataFusion plans
//! it; the session keeps them beside the table they were declared on ([`TableChecks`], held by
//! the table itself, so they follow a rename and go with a drop), and `super::table_keys`
//! checks the rows INSERT and UPDATE would leave against them: a row for which a condition is
//! false (not NULL, as in SQL) fails the statement with DuckDB's one-line `Constraint Error`,
//! and the table is left as it was.

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, Weak};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::DFSchema;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use sqlparser::ast::{
    ColumnOption, CreateTable, Expr, Ident, TableConstraint, visit_expressions,
    visit_expressions_mut,
};

use super::rewrite::fully_parenthesized;
use crate::error::{Result, TarnError};

/// One CHECK condition, as written.
#[derive(Debug, Clone)]
pub struct Check {
    condition: Expr,
}

impl Check {
    /// DuckDB's spelling of the constraint in its message: `CHECK((price >= 0))`.
    pub fn written(&self) -> String {
        format!("CHECK({})", fully_parenthesized(&self.condition))
    }

    /// The columns the condition reads, by name as written.
    pub fn columns_read(&self) -> Vec<String> {
        let mut columns = Vec::new();
        let _ = visit_expressions(&self.condition, |expr| {
            if let Some(name) = column_name(expr) {
                columns.push(name.value.clone());
            }
            ControlFlow::<()>::Continue(())
        });
        columns
    }

    /// The condition reading column `old` under its new name `new`.
    pub fn rename_column(&mut self, old: &str, new: &str) {
        let _ = visit_expressions_mut(&mut self.condition, |expr| {
            if let Some(name) = column_name_mut(expr)
                && name.value.eq_ignore_ascii_case(old)
            {
                *name = Ident::new(new);
            }
            ControlFlow::<()>::Continue(())
        });
    }
}

/// The column an expression names, if it is a column.
fn column_name(expr: &Expr) -> Option<&Ident> {
    match expr {
        Expr::Identifier(name) => Some(name),
        Expr::CompoundIdentifier(parts) => parts.last(),
        _ => None,
    }
}

fn column_name_mut(expr: &mut Expr) -> Option<&mut Ident> {
    match expr {
        Expr::Identifier(name) => Some(name),
        Expr::CompoundIdentifier(parts) => parts.last_mut(),
        _ => None,
    }
}

/// The session's [`TableChecks`].
pub fn kept(ctx: &SessionContext) -> Option<Arc<TableChecks>> {
    ctx.state().config().get_extension::<TableChecks>()
}

/// The CHECK clauses of `create`, taken out of it.
pub fn take(create: &mut CreateTable) -> Vec<Check> {
    let mut checks = Vec::new();
    for column in &mut create.columns {
        column.options.retain(|option| match &option.option {
            ColumnOption::Check(check) => {
                checks.push(Check {
                    condition: check.expr.as_ref().clone(),
                });
                false
            }
            _ => true,
        });
    }
    create.constraints.retain(|constraint| match constraint {
        TableConstraint::Check(check) => {
            checks.push(Check {
                condition: check.expr.as_ref().clone(),
            });
            false
        }
        _ => true,
    });
    checks
}

/// The CHECK constraints of a session's tables, each list beside (a weak reference to) the
/// table it belongs to: renaming a table keeps the table, dropping or replacing it ends it.
#[derive(Debug, Default)]
pub struct TableChecks {
    tables: Mutex<Vec<ChecksOf>>,
}

/// A table (weakly: the session's catalog owns it) and its checks.
type ChecksOf = (Weak<dyn TableProvider>, Vec<Check>);

impl TableChecks {
    /// Keeps `checks` for `table`.
    pub fn record(&self, table: &Arc<dyn TableProvider>, checks: Vec<Check>) {
        let mut tables = self
            .tables
            .lock()
            .expect("the checks' lock is never poisoned");
        tables.retain(|(held, _)| held.strong_count() > 0);
        tables.push((Arc::downgrade(table), checks));
    }

    /// The checks kept for `table`.
    pub fn of(&self, table: &Arc<dyn TableProvider>) -> Vec<Check> {
        let tables = self
            .tables
            .lock()
            .expect("the checks' lock is never poisoned");
        tables
            .iter()
            .filter(|(held, _)| held.upgrade().is_some_and(|held| Arc::ptr_eq(&held, table)))
            .flat_map(|(_, checks)| checks.iter().cloned())
            .collect()
    }
}

/// A check planned against its table's columns, ready to evaluate on the rows of a statement.
pub struct PlannedCheck {
    check: Check,
    condition: Arc<dyn PhysicalExpr>,
}

/// `checks` planned once against `schema`, their table's columns, for [`verify`].
pub fn plan(
    ctx: &SessionContext,
    schema: &SchemaRef,
    checks: Vec<Check>,
) -> Result<Vec<PlannedCheck>> {
    let schema = DFSchema::try_from(Arc::clone(schema))?;
    checks
        .into_iter()
        .map(|check| {
            let mut condition = check.condition.clone();
            super::name_case::match_columns(&mut condition, schema.fields());
            let condition = ctx.parse_sql_expr(&condition.to_string(), &schema)?;
            let condition = ctx.create_physical_expr(condition, &schema)?;
            Ok(PlannedCheck { check, condition })
        })
        .collect()
}

/// Fails on the first row of `batch` (rows of table `table`) for which a condition of `checks`
/// is false.
pub fn verify(table: &str, checks: &[PlannedCheck], batch: &RecordBatch) -> Result<()> {
    if batch.num_rows() == 0 {
        return Ok(());
    }
    for PlannedCheck { check, condition } in checks {
        let holds = condition.evaluate(batch)?.into_array(batch.num_rows())?;
        let Some(holds) = holds.as_boolean_opt() else {
            return Err(TarnError::Invalid(format!(
                "{} is not a condition: it gives {}",
                check.written(),
                holds.data_type()
            )));
        };
        let broken = (0..holds.len()).any(|row| holds.is_valid(row) && !holds.value(row));
        if broken {
            return Err(TarnError::Constraint(format!(
                "CHECK constraint failed on table \"{table}\" with expression {}",
                check.written()
            )));
        }
    }
    Ok(())
}
