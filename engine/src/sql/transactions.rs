//! `BEGIN [TRANSACTION]`, `COMMIT` (also `END`) and `ROLLBACK` (also `ABORT`), with DuckDB's
//! rules for one connection: statements between BEGIN and COMMIT see their own changes; ROLLBACK
//! puts back the tables, views, schemas and macros as they were at BEGIN, rows included; a
//! statement that fails aborts the transaction, after which every statement but ROLLBACK (or
//! COMMIT, which then rolls back) is refused.
//!
//! A session's tables are in memory and its own, so a transaction is a snapshot taken at BEGIN:
//! the catalog's schemas and tables (their providers, and an in-memory table's batches, which
//! are shared, not copied) and the macros. What lies outside the session is not rolled back,
//! as in DuckDB: files COPY wrote, and the values sequences gave out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use datafusion::arrow::array::RecordBatch;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::SortExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use super::is_internal_schema;
use super::user_macros::UserMacros;
use crate::error::{Result, TarnError};

/// A statement that starts or ends a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Control {
    Begin,
    Commit,
    Rollback,
}

impl Control {
    /// The control statement `statement` is (by its words), if it is one.
    pub(super) fn of(statement: &str) -> Option<Control> {
        let words: Vec<String> = statement
            .split_whitespace()
            .map(|w| w.trim_end_matches(';').to_ascii_uppercase())
            .filter(|w| !w.is_empty())
            .collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["BEGIN"] | ["BEGIN", "TRANSACTION"] | ["START", "TRANSACTION"] => Some(Control::Begin),
            ["COMMIT"] | ["COMMIT", "TRANSACTION"] | ["END"] | ["END", "TRANSACTION"] => {
                Some(Control::Commit)
            }
            ["ROLLBACK"] | ["ROLLBACK", "TRANSACTION"] | ["ABORT"] | ["ABORT", "TRANSACTION"] => {
                Some(Control::Rollback)
            }
            _ => None,
        }
    }
}

/// An open transaction: what ROLLBACK puts back, and whether a statement has failed.
pub(super) struct Transaction {
    snapshot: Snapshot,
    aborted: Arc<AtomicBool>,
}

impl Transaction {
    /// Starts a transaction over the session's catalog `catalog` and its `macros`.
    pub(super) async fn begin(
        ctx: &SessionContext,
        catalog: &str,
        macros: &UserMacros,
    ) -> Result<Self> {
        Ok(Transaction {
            snapshot: Snapshot::take(ctx, catalog, macros).await?,
            aborted: Arc::new(AtomicBool::new(false)),
        })
    }

    pub(super) fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Relaxed)
    }

    /// Marks the transaction aborted: a statement in it failed.
    pub(super) fn abort(&self) {
        self.aborted.store(true, Ordering::Relaxed);
    }

    /// `stream`, marking the transaction aborted if it fails while it runs (an INSERT's rows
    /// are written as its stream is read).
    pub(super) fn watch(&self, stream: SendableRecordBatchStream) -> SendableRecordBatchStream {
        let aborted = Arc::clone(&self.aborted);
        let schema = stream.schema();
        let watched = stream.map(move |batch| {
            if batch.is_err() {
                aborted.store(true, Ordering::Relaxed);
            }
            batch
        });
        Box::pin(RecordBatchStreamAdapter::new(schema, watched))
    }

    /// Puts the catalog back as it was at BEGIN; the macros of then come back.
    pub(super) async fn roll_back(self) -> Result<UserMacros> {
        self.snapshot.restore().await
    }
}

/// The refusal of a statement after a failed one in the transaction.
pub(super) fn aborted_error() -> TarnError {
    TarnError::Transaction("Current transaction is aborted (please ROLLBACK)".to_string())
}

/// The state of the catalog (see the module documentation).
struct Snapshot {
    catalog: Arc<dyn CatalogProvider>,
    schemas: Vec<SchemaState>,
    macros: UserMacros,
}

struct SchemaState {
    name: String,
    provider: Arc<dyn SchemaProvider>,
    tables: Vec<TableState>,
}

struct TableState {
    name: String,
    provider: Arc<dyn TableProvider>,
    /// An in-memory table's rows.
    rows: Option<MemoryRows>,
}

/// An in-memory table's batches per partition, and its sort order.
struct MemoryRows {
    partitions: Vec<Vec<RecordBatch>>,
    sort_order: Vec<Vec<SortExpr>>,
}

impl Snapshot {
    async fn take(ctx: &SessionContext, catalog: &str, macros: &UserMacros) -> Result<Self> {
        let catalog = ctx
            .catalog(catalog)
            .ok_or_else(|| TarnError::Transaction(format!("the catalog {catalog} is not there")))?;
        let mut schemas = Vec::new();
        // The schemas Tarn keeps for itself are left alone.
        for name in catalog.schema_names() {
            let Some(provider) = catalog.schema(&name).filter(|_| !is_internal_schema(&name))
            else {
                continue;
            };
            let mut tables = Vec::new();
            for table in provider.table_names() {
                let Some(table_provider) = provider.table(&table).await? else {
                    continue;
                };
                let rows = match table_provider.downcast_ref::<MemTable>() {
                    Some(memory) => Some(memory_rows(memory).await),
                    None => None,
                };
                tables.push(TableState {
                    name: table,
                    provider: table_provider,
                    rows,
                });
            }
            schemas.push(SchemaState {
                name,
                provider,
                tables,
            });
        }
        Ok(Snapshot {
            catalog,
            schemas,
            macros: macros.clone(),
        })
    }

    async fn restore(self) -> Result<UserMacros> {
        let catalog = &self.catalog;
        // Schemas made since BEGIN go; schemas dropped since come back.
        for name in catalog.schema_names() {
            if !is_internal_schema(&name) && !self.schemas.iter().any(|s| s.name == name) {
                catalog.deregister_schema(&name, true)?;
            }
        }
        for schema in &self.schemas {
            let current = catalog.schema(&schema.name);
            if !current.is_some_and(|c| Arc::ptr_eq(&c, &schema.provider)) {
                catalog.register_schema(&schema.name, Arc::clone(&schema.provider))?;
            }
            let provider = &schema.provider;
            for name in provider.table_names() {
                if !schema.tables.iter().any(|t| t.name == name) {
                    provider.deregister_table(&name)?;
                }
            }
            for table in &schema.tables {
                let current = provider.table(&table.name).await?;
                if !current.is_some_and(|c| Arc::ptr_eq(&c, &table.provider)) {
                    provider.deregister_table(&table.name)?;
                    provider.register_table(table.name.clone(), Arc::clone(&table.provider))?;
                }
                if let (Some(memory), Some(rows)) =
                    (table.provider.downcast_ref::<MemTable>(), &table.rows)
                {
                    for (partition, batches) in memory.batches.iter().zip(&rows.partitions) {
                        *partition.write().await = batches.clone();
                    }
                    *memory.sort_order.lock() = rows.sort_order.clone();
                }
            }
        }
        Ok(self.macros)
    }
}

/// An in-memory table's rows as they are now.
async fn memory_rows(memory: &MemTable) -> MemoryRows {
    let mut partitions = Vec::with_capacity(memory.batches.len());
    for partition in &memory.batches {
        partitions.push(partition.read().await.clone());
    }
    MemoryRows {
        partitions,
        sort_order: memory.sort_order.lock().clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::Control;

    #[test]
    fn control_statements_are_read_by_their_words() {
        assert_eq!(Control::of("begin"), Some(Control::Begin));
        assert_eq!(Control::of("BEGIN TRANSACTION"), Some(Control::Begin));
        assert_eq!(Control::of("start transaction"), Some(Control::Begin));
        assert_eq!(Control::of(" Commit "), Some(Control::Commit));
        assert_eq!(Control::of("END"), Some(Control::Commit));
        assert_eq!(Control::of("rollback"), Some(Control::Rollback));
        assert_eq!(Control::of("ABORT"), Some(Control::Rollback));
        assert_eq!(Control::of("END_DATE"), None);
        assert_eq!(Control::of("BEGIN; SELECT 1"), None);
    }
}
