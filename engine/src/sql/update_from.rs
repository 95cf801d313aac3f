//! `UPDATE t SET b = u.v FROM u WHERE t.k = u.k`: an UPDATE whose values come from other
//! tables, as in DuckDB and PostgreSQL. DataFusion refuses it ("UPDATE ... FROM is not
//! supported"), and fixing labels from a lookup table is how it is used.
//!
//! The table's rows are numbered and joined to the FROM tables in one query, which gives each
//! matched row its new values; a row matched more than once takes the first match's (DuckDB
//! takes one of them, not saying which). The rows are checked against the table's [`TableRules`] and
//! written back in place, so a failing UPDATE changes nothing.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch, UInt64Array};
use datafusion::arrow::compute::interleave_record_batch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, UInt64Type};
use datafusion::catalog::MemTable;
use datafusion::execution::SendableRecordBatchStream;
use sqlparser::ast::{AssignmentTarget, Ident, TableFactor, Update, UpdateTableFromKind};

use super::table_keys::{TableRules, as_column_type, binder, with_rows_replaced};
use super::{
    SqlSession, batch_of, batch_stream, collect, files_schema, parse_one, quote_identifier,
};
use crate::error::{Result, TarnError};

/// The name, in the files schema, of the table's rows numbered while the UPDATE runs.
const NUMBERED_ROWS: &str = "__tarn_update_rows";
/// The column that numbers them.
const ROW_NUMBER: &str = "__tarn_row";

/// Runs an UPDATE with a FROM clause.
pub(super) async fn update(
    session: &SqlSession,
    update: &Update,
) -> Result<SendableRecordBatchStream> {
    let (TableFactor::Table { name, alias, .. }, Some(from)) =
        (&update.table.relation, &update.from)
    else {
        return Err(TarnError::Invalid(format!(
            "UPDATE {} ... FROM: the table to update must be named",
            update.table
        )));
    };
    let Some(rules) = TableRules::of(session.context(), &name.to_string()).await? else {
        return Err(TarnError::Invalid(format!(
            "UPDATE ... FROM changes the tables CREATE TABLE made; {name} is a view or stands \
             for files"
        )));
    };
    let (UpdateTableFromKind::BeforeSet(from) | UpdateTableFromKind::AfterSet(from)) = from;
    let schema = rules.schema();
    let target = match alias {
        Some(alias) => alias.name.clone(),
        None => name
            .0
            .last()
            .and_then(|part| part.as_ident())
            .cloned()
            .unwrap_or_else(|| Ident::new(name.to_string())),
    };
    // Each column's new value: its own where the UPDATE does not assign it.
    let mut values: Vec<String> = schema
        .fields()
        .iter()
        .map(|field| format!("{target}.{}", quote_identifier(field.name())))
        .collect();
    for assignment in &update.assignments {
        let AssignmentTarget::ColumnName(column) = &assignment.target else {
            return Err(TarnError::Invalid(
                "UPDATE SET (a, b) = ... is not supported; assign each column".to_string(),
            ));
        };
        let column = column.0.last().and_then(|part| part.as_ident());
        let found = column.and_then(|column| {
            schema
                .fields()
                .iter()
                .position(|field| field.name().eq_ignore_ascii_case(&column.value))
        });
        let Some(position) = found else {
            return Err(binder(&format!(
                "Referenced update column {} not found in table {name}",
                column.map_or(String::new(), |c| c.value.clone())
            )));
        };
        values[position] = assignment.value.to_string();
    }
    let from: Vec<String> = from.iter().map(ToString::to_string).collect();
    let filter = update
        .selection
        .as_ref()
        .map(|condition| format!(" WHERE {condition}"))
        .unwrap_or_default();
    let query = format!(
        "SELECT {target}.{ROW_NUMBER}, {} FROM {}.{NUMBERED_ROWS} AS {target}, {}{filter}",
        values.join(", "),
        super::rewrite::FILES_SCHEMA,
        from.join(", ")
    );

    let partitions = rules.partitions().await;
    let batches: Vec<&RecordBatch> = partitions.iter().flatten().collect();
    let (rows, starts) = numbered(&rules, &batches)?;
    let matches = {
        let files = files_schema(session.context());
        files.register_table(NUMBERED_ROWS.to_string(), rows)?;
        let matches = async {
            let plan = session.plan(parse_one(&query)?).await?;
            collect(session.run_plan(plan).await?).await
        }
        .await;
        files.deregister_table(NUMBERED_ROWS)?;
        matches?
    };

    // The first match of each row, and where the row is among the table's batches.
    let mut seen = HashSet::new();
    let mut positions = Vec::new();
    let mut kept = Vec::new();
    for (b, batch) in matches.iter().enumerate() {
        let numbers = batch.column(0).as_primitive::<UInt64Type>();
        for (r, number) in numbers.values().iter().enumerate() {
            if seen.insert(*number) {
                let at = starts.partition_point(|&start| start <= *number) - 1;
                positions.push((at, (number - starts[at]) as usize));
                kept.push((b, r));
            }
        }
    }
    let count = positions.len();
    if count > 0 {
        let matches: Vec<&RecordBatch> = matches.iter().collect();
        let updated = interleave_record_batch(&matches, &kept)?;
        let columns = updated.columns()[1..]
            .iter()
            .zip(schema.fields())
            .map(|(column, field)| as_column_type(column, field.data_type()))
            .collect::<Result<Vec<_>>>()?;
        let updated = RecordBatch::try_new(rules.unchecked_schema(), columns)?;
        rules.check_not_null(&updated)?;
        let partitions = with_rows_replaced(&partitions, &updated, &positions)?;
        rules.check_unique(&partitions.iter().flatten().cloned().collect::<Vec<_>>())?;
        rules.replace(partitions).await;
    }
    Ok(batch_stream(batch_of(vec![(
        "count",
        Arc::new(UInt64Array::from(vec![count as u64])),
    )])?))
}

/// The table's rows with [`ROW_NUMBER`] added, numbered in the order of `batches`, and the
/// number of each batch's first row.
fn numbered(rules: &TableRules, batches: &[&RecordBatch]) -> Result<(Arc<MemTable>, Vec<u64>)> {
    let schema = rules.schema();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(ROW_NUMBER, DataType::UInt64, false));
    let numbered_schema = Arc::new(Schema::new(fields));
    let mut start = 0u64;
    let mut starts = Vec::with_capacity(batches.len());
    let mut numbered = Vec::with_capacity(batches.len());
    for batch in batches {
        let rows = batch.num_rows() as u64;
        let mut columns = batch.columns().to_vec();
        columns.push(Arc::new(UInt64Array::from_iter_values(start..start + rows)));
        numbered.push(RecordBatch::try_new(Arc::clone(&numbered_schema), columns)?);
        starts.push(start);
        start += rows;
    }
    // One partition, its batches in order: the first match of a row is the first the join meets.
    let table = MemTable::try_new(numbered_schema, vec![numbered])?;
    Ok((Arc::new(table), starts))
}
