//! UPDATE and DELETE statements that DataFusion's DML refuses or gets wrong, run as one query
//! over the table's rows, numbered:
//!
//! * `UPDATE t SET b = u.v FROM u WHERE t.k = u.k`: an UPDATE whose values come from other
//!   tables, as in DuckDB and PostgreSQL. DataFusion refuses it ("UPDATE ... FROM is not
//!   supported"), and fixing labels from a lookup table is how it is used.
//! * `DELETE FROM t USING u WHERE t.k = u.k`, which DataFusion refuses too.
//! * An UPDATE or DELETE with a subquery in it (`DELETE FROM t WHERE id IN (SELECT id FROM
//!   flagged)`, `UPDATE t SET b = (SELECT max(b) FROM t)`). DataFusion's DML hands a table only
//!   its filters, and a subquery condition becomes a join, not a filter: such a DELETE removed
//!   every row, such an UPDATE changed every row, and a scalar subquery failed to plan.
//! * `TRUNCATE t`: every row deleted.
//! * An UPDATE or DELETE with a RETURNING clause, which answers with the rows it changed
//!   (see [`super::returning`]).
//!
//! The numbered rows are joined to the other tables (or filtered) in one query, which gives
//! each matched row's number and, for an UPDATE, its new values; a row matched more than once
//! takes the first match's (DuckDB takes one of them, not saying which). The table's rows are
//! then checked against its [`TableRules`] and written back in place, so a failing statement
//! changes nothing.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, BooleanArray, RecordBatch, UInt64Array};
use datafusion::arrow::compute::kernels::boolean::not;
use datafusion::arrow::compute::{concat_batches, filter_record_batch, interleave_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, UInt64Type};
use datafusion::catalog::MemTable;
use datafusion::execution::SendableRecordBatchStream;
use sqlparser::ast::{
    AssignmentTarget, Delete, Expr, FromTable, Ident, ObjectName, Statement, TableFactor,
    TableWithJoins, Truncate, Update, UpdateTableFromKind, visit_expressions,
};

use super::returning::{changed_count, returned_rows};
use super::table_keys::{TableRules, binder, with_rows_replaced};
use super::{SqlSession, collect, quote_identifier};
use crate::error::{Result, TarnError};

/// The name, in the files schema, of the table's rows numbered while a statement runs.
pub(super) const NUMBERED_ROWS: &str = "__tarn_numbered_rows";
/// The column that numbers them.
pub(super) const ROW_NUMBER: &str = "__tarn_row";

/// Whether `statement` is one this module runs (see the module documentation).
pub(super) fn runs_here(statement: &Statement) -> bool {
    match statement {
        Statement::Update(update) => {
            update.from.is_some() || update.returning.is_some() || has_subquery(statement)
        }
        Statement::Delete(delete) => {
            delete.using.is_some() || delete.returning.is_some() || has_subquery(statement)
        }
        Statement::Truncate(_) => true,
        _ => false,
    }
}

/// Whether an expression of `statement` holds a subquery.
fn has_subquery(statement: &Statement) -> bool {
    visit_expressions(statement, |expr| match expr {
        Expr::Subquery(_) | Expr::InSubquery { .. } | Expr::Exists { .. } => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// Runs a statement [`runs_here`] takes.
pub(super) async fn run(
    session: &SqlSession,
    statement: &Statement,
) -> Result<SendableRecordBatchStream> {
    match statement {
        Statement::Update(update) => Box::pin(run_update(session, update)).await,
        Statement::Delete(delete) => Box::pin(run_delete(session, delete)).await,
        Statement::Truncate(truncate) => truncate_tables(session, truncate).await,
        other => Err(TarnError::Invalid(format!(
            "{other}: not an UPDATE, DELETE or TRUNCATE"
        ))),
    }
}

/// The table a statement changes, its rules, and the name its rows go by in the statement
/// (its alias, or its own name).
pub(super) async fn changed_table(
    session: &SqlSession,
    relation: &TableFactor,
    statement: &str,
) -> Result<(TableRules, Ident)> {
    let TableFactor::Table { name, alias, .. } = relation else {
        return Err(TarnError::Invalid(format!(
            "{statement} {relation}: the table must be named"
        )));
    };
    let rules = table_rules(session, name, statement).await?;
    let target = match alias {
        Some(alias) => alias.name.clone(),
        None => name
            .0
            .last()
            .and_then(|part| part.as_ident())
            .cloned()
            .unwrap_or_else(|| Ident::new(name.to_string())),
    };
    Ok((rules, target))
}

/// The rules of table `name`, which must be one CREATE TABLE made.
async fn table_rules(
    session: &SqlSession,
    name: &ObjectName,
    statement: &str,
) -> Result<TableRules> {
    TableRules::of(session.context(), &name.to_string())
        .await?
        .ok_or_else(|| {
            TarnError::Invalid(format!(
                "{statement} changes the tables CREATE TABLE made; {name} is a view or stands \
                 for files"
            ))
        })
}

/// `SELECT <target>.row, <columns> FROM <numbered rows> AS <target>, <from> [WHERE ...]`.
fn numbered_query(
    target: &Ident,
    columns: &[String],
    from: &[TableWithJoins],
    selection: Option<&Expr>,
) -> String {
    let relations: Vec<String> = std::iter::once(format!(
        "{}.{NUMBERED_ROWS} AS {target}",
        super::rewrite::FILES_SCHEMA
    ))
    .chain(from.iter().map(ToString::to_string))
    .collect();
    let filter = selection
        .map(|condition| format!(" WHERE {condition}"))
        .unwrap_or_default();
    let selected: Vec<String> = std::iter::once(format!("{target}.{ROW_NUMBER}"))
        .chain(columns.iter().cloned())
        .collect();
    format!(
        "SELECT {} FROM {}{filter}",
        selected.join(", "),
        relations.join(", ")
    )
}

/// Runs an UPDATE (see the module documentation).
async fn run_update(session: &SqlSession, update: &Update) -> Result<SendableRecordBatchStream> {
    let (rules, target) = changed_table(session, &update.table.relation, "UPDATE").await?;
    let from = match &update.from {
        Some(UpdateTableFromKind::BeforeSet(from) | UpdateTableFromKind::AfterSet(from)) => {
            from.as_slice()
        }
        None => &[],
    };
    let schema = rules.schema();
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
                "Referenced update column {} not found in table {}",
                column.map_or(String::new(), |c| c.value.clone()),
                update.table.relation
            )));
        };
        values[position] = assignment.value.to_string();
    }
    let query = numbered_query(&target, &values, from, update.selection.as_ref());

    let partitions = rules.partitions().await;
    let batches: Vec<&RecordBatch> = partitions.iter().flatten().collect();
    let (matches, starts) = over_numbered_rows(session, &rules, &batches, &query).await?;

    // The first match of each row, in the table's order, and where the row is among the
    // table's batches.
    let mut seen = HashSet::new();
    let mut firsts = Vec::new();
    for (b, batch) in matches.iter().enumerate() {
        let numbers = batch.column(0).as_primitive::<UInt64Type>();
        for (r, number) in numbers.values().iter().enumerate() {
            if seen.insert(*number) {
                firsts.push((*number, (b, r)));
            }
        }
    }
    firsts.sort_unstable_by_key(|(number, _)| *number);
    let (positions, kept): (Vec<_>, Vec<_>) = firsts
        .into_iter()
        .map(|(number, at)| (position_of(number, &starts), at))
        .unzip();
    let count = positions.len();
    let (updated, changed) = if count > 0 {
        let matches: Vec<&RecordBatch> = matches.iter().collect();
        let updated = interleave_record_batch(&matches, &kept)?;
        let updated = rules.checked_rows(&updated.columns()[1..])?;
        let partitions = with_rows_replaced(&partitions, &updated, &positions)?;
        rules.check_unique(&partitions.iter().flatten().cloned().collect::<Vec<_>>())?;
        (updated, Some(partitions))
    } else {
        (RecordBatch::new_empty(rules.unchecked_schema()), None)
    };
    let answer = match &update.returning {
        Some(items) => returned_rows(session, &target, items, updated).await?,
        None => changed_count(count)?,
    };
    if let Some(partitions) = changed {
        rules.replace(partitions).await;
    }
    Ok(answer)
}

/// Runs a DELETE (see the module documentation): the rows the query matches are taken out of
/// the table's batches, the others stay in their order.
async fn run_delete(session: &SqlSession, delete: &Delete) -> Result<SendableRecordBatchStream> {
    let (FromTable::WithFromKeyword(tables) | FromTable::WithoutKeyword(tables)) = &delete.from;
    let unsupported = match (tables.as_slice(), &delete.limit) {
        ([table], None) if table.joins.is_empty() && delete.tables.is_empty() => None,
        (_, Some(_)) => Some("DELETE ... LIMIT is not supported"),
        _ => Some("DELETE deletes from one table; name the others in USING"),
    };
    if let Some(message) = unsupported {
        return Err(TarnError::Invalid(message.to_string()));
    }
    let (rules, target) = changed_table(session, &tables[0].relation, "DELETE").await?;
    let using = delete.using.as_deref().unwrap_or_default();
    let query = numbered_query(&target, &[], using, delete.selection.as_ref());

    let partitions = rules.partitions().await;
    let batches: Vec<&RecordBatch> = partitions.iter().flatten().collect();
    let (matches, starts) = over_numbered_rows(session, &rules, &batches, &query).await?;
    let deleted: HashSet<u64> = matches
        .iter()
        .flat_map(|batch| {
            batch
                .column(0)
                .as_primitive::<UInt64Type>()
                .values()
                .to_vec()
        })
        .collect();
    let (kept, removed) = without_rows(&partitions, &starts, &deleted)?;
    let answer = match &delete.returning {
        Some(items) => {
            let removed = concat_batches(&rules.schema(), &removed)?;
            returned_rows(session, &target, items, removed).await?
        }
        None => changed_count(deleted.len())?,
    };
    if !deleted.is_empty() {
        rules.replace(kept).await;
    }
    Ok(answer)
}

/// `partitions` without the rows numbered in `deleted` (`starts` numbers each batch's first
/// row, as [`numbered`] does), the others in their order; and the deleted rows, in the table's
/// order, for a RETURNING clause.
pub(super) fn without_rows(
    partitions: &[Vec<RecordBatch>],
    starts: &[u64],
    deleted: &HashSet<u64>,
) -> Result<(Vec<Vec<RecordBatch>>, Vec<RecordBatch>)> {
    let mut removed = Vec::new();
    let mut kept = Vec::with_capacity(partitions.len());
    let mut flat = 0;
    for partition in partitions {
        let mut batches = Vec::with_capacity(partition.len());
        for batch in partition {
            let start = starts[flat];
            let keep: BooleanArray = (start..start + batch.num_rows() as u64)
                .map(|number| Some(!deleted.contains(&number)))
                .collect();
            if keep.true_count() == batch.num_rows() {
                batches.push(batch.clone());
            } else {
                batches.push(filter_record_batch(batch, &keep)?);
                removed.push(filter_record_batch(batch, &not(&keep)?)?);
            }
            flat += 1;
        }
        kept.push(batches);
    }
    Ok((kept, removed))
}

/// Runs `TRUNCATE t`: every row of the table deleted.
async fn truncate_tables(
    session: &SqlSession,
    truncate: &Truncate,
) -> Result<SendableRecordBatchStream> {
    let [table] = truncate.table_names.as_slice() else {
        return Err(TarnError::Invalid(
            "TRUNCATE empties one table at a time".to_string(),
        ));
    };
    let rules = table_rules(session, &table.name, "TRUNCATE").await?;
    let partitions = rules.partitions().await;
    let count: usize = partitions.iter().flatten().map(RecordBatch::num_rows).sum();
    rules.replace(vec![Vec::new(); partitions.len()]).await;
    changed_count(count)
}

/// Runs `query` with the table's rows (`batches`, in order) numbered under [`NUMBERED_ROWS`];
/// its batches, and the number of each of the table's batches' first row.
pub(super) async fn over_numbered_rows(
    session: &SqlSession,
    rules: &TableRules,
    batches: &[&RecordBatch],
    query: &str,
) -> Result<(Vec<RecordBatch>, Vec<u64>)> {
    let (rows, starts) = numbered(rules, batches)?;
    let matches = collect(session.query_over(NUMBERED_ROWS, rows, query).await?).await?;
    Ok((matches, starts))
}

/// Where the row numbered `number` is: its batch among the table's, and its row there.
pub(super) fn position_of(number: u64, starts: &[u64]) -> (usize, usize) {
    let at = starts.partition_point(|&start| start <= number) - 1;
    (at, (number - starts[at]) as usize)
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
