//! PRIMARY KEY, UNIQUE, NOT NULL and CHECK, kept on the tables `CREATE TABLE` makes.
//!
//! DataFusion records a table's keys but never checks them: a second row with the same primary
//! key went in silently. A NULL into a NOT NULL column failed with Arrow's message, naming the
//! VALUES list's column (`column2`) rather than the table's, and a failing UPDATE could leave
//! some of the table's partitions changed. [`TableRules`] holds what a table promises; INSERT
//! (`upsert`) and UPDATE ([`guarded_update`]) check the rows they would leave against it and
//! change nothing when one breaks it, with DuckDB's one-line `Constraint Error`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::{CastOptions, cast_with_options, interleave_record_batch};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::row::{Row, RowConverter, Rows, SortField};
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::catalog::{MemTable, TableProvider};
use datafusion::common::{Constraint, plan_datafusion_err};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;

use super::check_constraints::{self, PlannedCheck};
use crate::error::{Result, TarnError};

/// A PRIMARY KEY or UNIQUE constraint.
pub(super) struct Key {
    /// The key's columns, by position in the table.
    pub columns: Vec<usize>,
    pub primary: bool,
    /// Encodes the key's values as comparable rows; one converter for every batch, so that
    /// rows from the table and rows from a statement compare.
    converter: RowConverter,
}

/// One batch's values of a [`Key`].
pub(super) struct KeyValues {
    rows: Rows,
    /// Rows where a key column is NULL: for a UNIQUE key they never conflict.
    nulls: Option<NullBuffer>,
}

impl KeyValues {
    /// Row `i`'s key, `None` where one of its columns is NULL.
    pub fn get(&self, i: usize) -> Option<Row<'_>> {
        match &self.nulls {
            Some(nulls) if nulls.is_null(i) => None,
            _ => Some(self.rows.row(i)),
        }
    }
}

impl Key {
    pub fn values(&self, batch: &RecordBatch) -> Result<KeyValues> {
        let columns: Vec<ArrayRef> = self
            .columns
            .iter()
            .map(|&c| Arc::clone(batch.column(c)))
            .collect();
        let nulls = columns.iter().fold(None, |nulls, column| {
            NullBuffer::union(nulls.as_ref(), column.logical_nulls().as_ref())
        });
        Ok(KeyValues {
            rows: self.converter.convert_columns(&columns)?,
            nulls,
        })
    }

    /// DuckDB's message for a second row with the key of `batch`'s row `row`.
    fn duplicate(&self, batch: &RecordBatch, row: usize) -> TarnError {
        let schema = batch.schema();
        let values = self
            .columns
            .iter()
            .map(|&c| {
                let value = array_value_to_string(batch.column(c), row).unwrap_or_default();
                format!("{}: {value}", schema.field(c).name())
            })
            .collect::<Vec<_>>()
            .join(", ");
        let kind = match self.primary {
            true => "primary key",
            false => "unique",
        };
        TarnError::Constraint(format!(
            "Duplicate key \"{values}\" violates {kind} constraint."
        ))
    }
}

/// What a session table promises about its rows.
pub(super) struct TableRules {
    /// The table's name as the statement wrote it, for messages.
    pub name: String,
    pub table: Arc<dyn TableProvider>,
    pub keys: Vec<Key>,
    /// Columns that may not hold NULL: those declared NOT NULL and those of the primary key.
    pub not_null: Vec<usize>,
    /// The table's CHECK conditions.
    checks: Vec<PlannedCheck>,
}

impl TableRules {
    /// The rules of table `name` when it is one CREATE TABLE made (an in-memory table);
    /// `None` for a view, a table over files or a name that is not a table.
    pub async fn of(ctx: &SessionContext, name: &str) -> Result<Option<TableRules>> {
        let Ok(table) = ctx.table_provider(name).await else {
            return Ok(None);
        };
        let Some(memory) = table.downcast_ref::<MemTable>() else {
            return Ok(None);
        };
        let schema = memory.schema();
        let mut keys = Vec::new();
        for constraint in memory.constraints().into_iter().flat_map(|c| c.iter()) {
            let (columns, primary) = match constraint {
                Constraint::PrimaryKey(columns) => (columns, true),
                Constraint::Unique(columns) => (columns, false),
            };
            let fields = columns
                .iter()
                .map(|&c| SortField::new(schema.field(c).data_type().clone()))
                .collect();
            keys.push(Key {
                columns: columns.clone(),
                primary,
                converter: RowConverter::new(fields)?,
            });
        }
        let mut not_null: Vec<usize> = (0..schema.fields().len())
            .filter(|&c| !schema.field(c).is_nullable())
            .collect();
        for key in keys.iter().filter(|key| key.primary) {
            for &c in &key.columns {
                if !not_null.contains(&c) {
                    not_null.push(c);
                }
            }
        }
        let checks = check_constraints::kept(ctx)
            .map(|checks| checks.of(&table))
            .unwrap_or_default();
        let checks = check_constraints::plan(ctx, &schema, checks)?;
        Ok(Some(TableRules {
            name: name.to_string(),
            table,
            keys,
            not_null,
            checks,
        }))
    }

    /// Whether the table promises anything a statement could break.
    pub fn is_free(&self) -> bool {
        self.keys.is_empty() && self.not_null.is_empty() && self.checks.is_empty()
    }

    pub fn schema(&self) -> SchemaRef {
        self.table.schema()
    }

    /// The table's columns, every one nullable: rows on their way in, not yet checked.
    pub fn unchecked_schema(&self) -> SchemaRef {
        let schema = self.schema();
        Arc::new(Schema::new(
            schema
                .fields()
                .iter()
                .map(|field| field.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
        ))
    }

    pub fn memory(&self) -> &MemTable {
        self.table
            .downcast_ref::<MemTable>()
            .expect("TableRules::of keeps only in-memory tables")
    }

    /// The table's rows, partition by partition.
    pub async fn partitions(&self) -> Vec<Vec<RecordBatch>> {
        let mut partitions = Vec::new();
        for partition in &self.memory().batches {
            partitions.push(partition.read().await.clone());
        }
        partitions
    }

    /// Puts `partitions` back as the table's rows (what [`Self::partitions`] gave, changed).
    pub async fn replace(&self, partitions: Vec<Vec<RecordBatch>>) {
        let memory = self.memory();
        for (partition, batches) in memory.batches.iter().zip(partitions) {
            *partition.write().await = batches;
        }
        memory.sort_order.lock().clear();
    }

    /// The error for a NULL in column `column` (by name).
    pub fn null_in(&self, column: &str) -> TarnError {
        TarnError::Constraint(format!(
            "NOT NULL constraint failed: {}.{column}",
            self.name
        ))
    }

    /// Fails on the first NULL in a column that may not hold one, then on the first row for
    /// which a CHECK condition is false.
    pub fn check_rows(&self, batch: &RecordBatch) -> Result<()> {
        for &c in &self.not_null {
            if batch.column(c).logical_null_count() > 0 {
                return Err(self.null_in(batch.schema().field(c).name()));
            }
        }
        check_constraints::verify(&self.name, &self.checks, batch)
    }

    /// `values`, one array per column, as rows of the table: each converted to its column's
    /// type (see [`as_column_type`]) and checked ([`Self::check_rows`]).
    pub fn checked_rows(&self, values: &[ArrayRef]) -> Result<RecordBatch> {
        let schema = self.schema();
        let columns = values
            .iter()
            .zip(schema.fields())
            .map(|(values, field)| as_column_type(values, field.data_type()))
            .collect::<Result<Vec<_>>>()?;
        let rows = RecordBatch::try_new(self.unchecked_schema(), columns)?;
        self.check_rows(&rows)?;
        Ok(RecordBatch::try_new(schema, rows.columns().to_vec())?)
    }

    /// Fails on the first key that two of `batches`' rows share.
    pub fn check_unique(&self, batches: &[RecordBatch]) -> Result<()> {
        for key in &self.keys {
            let values = batches
                .iter()
                .map(|batch| key.values(batch))
                .collect::<Result<Vec<_>>>()?;
            let mut seen = HashSet::new();
            for (batch, values) in batches.iter().zip(&values) {
                for row in 0..batch.num_rows() {
                    if let Some(value) = values.get(row)
                        && !seen.insert(value)
                    {
                        return Err(key.duplicate(batch, row));
                    }
                }
            }
        }
        Ok(())
    }

    /// Fails when the table's rows, `partitions`, break a promise.
    pub fn check(&self, partitions: &[Vec<RecordBatch>]) -> Result<()> {
        let batches: Vec<RecordBatch> = partitions.iter().flatten().cloned().collect();
        for batch in &batches {
            self.check_rows(batch)?;
        }
        self.check_unique(&batches)
    }

    /// Arrow's refusal of a NULL in a non-nullable column, named as DuckDB names it; `column`
    /// names the value's column for a refusal that names it only by position (`column2` of a
    /// VALUES list).
    pub fn explain_null(
        &self,
        err: TarnError,
        column: impl Fn(&str) -> Option<String>,
    ) -> TarnError {
        let message = err.to_string();
        let Some(named) = message
            .split("Column '")
            .nth(1)
            .filter(|_| message.contains("is declared as non-nullable"))
            .and_then(|rest| rest.split('\'').next())
        else {
            return err;
        };
        match column(named) {
            Some(name) => self.null_in(&name),
            None => err,
        }
    }
}

/// Runs an UPDATE of a table with rules, `run`, and puts the table's rows back as they were
/// when it fails or leaves a row that breaks them.
pub(super) async fn guarded_update(
    rules: &TableRules,
    run: impl AsyncFnOnce() -> Result<Vec<RecordBatch>>,
) -> Result<SendableRecordBatchStream> {
    let before = rules.partitions().await;
    let result = async {
        let counts = run()
            .await
            .map_err(|err| rules.explain_null(err, |name| Some(name.to_string())))?;
        rules.check(&rules.partitions().await)?;
        Ok(counts)
    }
    .await;
    match result {
        Ok(counts) => {
            let schema = counts
                .first()
                .map(|batch| batch.schema())
                .unwrap_or_else(|| Arc::new(datafusion::arrow::datatypes::Schema::empty()));
            Ok(super::batches_stream(schema, counts))
        }
        Err(err) => {
            rules.replace(before).await;
            Err(err)
        }
    }
}

/// `values` as the table's column type: a value that does not convert fails, as in DuckDB,
/// rather than becoming NULL.
pub(super) fn as_column_type(values: &ArrayRef, column: &DataType) -> Result<ArrayRef> {
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    Ok(cast_with_options(values, column, &strict)?)
}

/// A statement that names what the table does not have (a column, a key), as a Binder Error,
/// as DuckDB words it.
pub(super) fn binder(message: &str) -> TarnError {
    plan_datafusion_err!("{message}").into()
}

/// `partitions` with the rows at `positions` (batch, row of the batches in order) replaced by
/// `updated`'s rows, in place.
pub(super) fn with_rows_replaced(
    partitions: &[Vec<RecordBatch>],
    updated: &RecordBatch,
    positions: &[(usize, usize)],
) -> Result<Vec<Vec<RecordBatch>>> {
    let by_position: HashMap<(usize, usize), usize> = positions
        .iter()
        .enumerate()
        .map(|(k, at)| (*at, k))
        .collect();
    let mut flat = 0;
    let mut result = Vec::with_capacity(partitions.len());
    for partition in partitions {
        let mut batches = Vec::with_capacity(partition.len());
        for batch in partition {
            let indices: Vec<(usize, usize)> = (0..batch.num_rows())
                .map(|r| match by_position.get(&(flat, r)) {
                    Some(&k) => (1, k),
                    None => (0, r),
                })
                .collect();
            let changed = indices.iter().any(|(source, _)| *source == 1);
            batches.push(match changed {
                true => {
                    let updated = RecordBatch::try_new(batch.schema(), updated.columns().to_vec())?;
                    interleave_record_batch(&[batch, &updated], &indices)?
                }
                false => batch.clone(),
            });
            flat += 1;
        }
        result.push(batches);
    }
    Ok(result)
}
