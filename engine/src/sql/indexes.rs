//! `CREATE INDEX name ON t (cols)` and `DROP INDEX name`, so that scripts written for DuckDB or
//! PostgreSQL run. Tarn keeps no index structures: a query scans (and joins by hashing) as it
//! would without one, and its answers are the same. The statement checks what DuckDB checks
//! (the table, its columns, a name not taken) and records the name, which DROP INDEX removes;
//! an index goes with its table. `CREATE UNIQUE INDEX`, which would change what a table
//! accepts, is refused: a UNIQUE constraint declares that.

use std::sync::{Arc, Mutex, Weak};

use datafusion::catalog::TableProvider;
use sqlparser::ast::{CreateIndex, Expr, ObjectName};

use super::SqlSession;
use crate::error::{Result, TarnError};

/// The indexes a session's CREATE INDEX recorded, each beside (weakly: the catalog owns it)
/// the table it is on.
#[derive(Debug, Default)]
pub(super) struct Indexes {
    recorded: Mutex<Vec<(String, Weak<dyn TableProvider>)>>,
}

impl Indexes {
    /// The recorded indexes whose tables are still the session's.
    fn live(&self) -> std::sync::MutexGuard<'_, Vec<(String, Weak<dyn TableProvider>)>> {
        let mut recorded = self
            .recorded
            .lock()
            .expect("the indexes' lock is never poisoned");
        recorded.retain(|(_, table)| table.strong_count() > 0);
        recorded
    }

    /// Checks and records a CREATE INDEX (see the module documentation).
    pub async fn create(&self, session: &SqlSession, create: &CreateIndex) -> Result<()> {
        if create.unique {
            return Err(TarnError::Invalid(
                "CREATE UNIQUE INDEX is not supported: Tarn keeps no indexes; declare the \
                 columns UNIQUE in CREATE TABLE"
                    .to_string(),
            ));
        }
        let Some(name) = &create.name else {
            return Err(TarnError::Parse(
                "CREATE INDEX needs a name for the index".to_string(),
            ));
        };
        let name = index_name(name);
        let table_name = create.table_name.to_string();
        let table = session
            .context()
            .table_provider(table_name.as_str())
            .await
            .map_err(|_| {
                TarnError::Invalid(format!("Table with name {table_name} does not exist!"))
            })?;
        let schema = table.schema();
        for column in &create.columns {
            let Expr::Identifier(ident) = &column.column.expr else {
                continue;
            };
            let found = schema
                .fields()
                .iter()
                .any(|f| f.name().eq_ignore_ascii_case(&ident.value));
            if !found {
                return Err(TarnError::Invalid(format!(
                    "Table \"{table_name}\" does not have a column named \"{}\"",
                    ident.value
                )));
            }
        }
        let mut recorded = self.live();
        if recorded.iter().any(|(taken, _)| *taken == name) {
            return match create.if_not_exists {
                true => Ok(()),
                false => Err(TarnError::Invalid(format!(
                    "Index with name \"{name}\" already exists!"
                ))),
            };
        }
        recorded.push((name, Arc::downgrade(&table)));
        Ok(())
    }

    /// Removes the indexes `names` from the record; one not recorded fails unless `if_exists`.
    pub fn drop(&self, names: &[ObjectName], if_exists: bool) -> Result<()> {
        let mut recorded = self.live();
        for name in names {
            let name = index_name(name);
            match recorded.iter().position(|(taken, _)| *taken == name) {
                Some(at) => {
                    recorded.remove(at);
                }
                None if if_exists => {}
                None => {
                    return Err(TarnError::Invalid(format!(
                        "Index with name {name} does not exist!"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// An index's name as DuckDB keeps it: lower case unless quoted.
fn index_name(name: &ObjectName) -> String {
    let part = name.0.last().and_then(|part| part.as_ident());
    match part {
        Some(ident) if ident.quote_style.is_some() => ident.value.clone(),
        Some(ident) => ident.value.to_lowercase(),
        None => name.to_string().to_lowercase(),
    }
}
