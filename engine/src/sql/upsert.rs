//! INSERT into a table with keys or NOT NULL columns, and DuckDB's conflict clauses:
//! `ON CONFLICT [(cols)] DO NOTHING`, `ON CONFLICT [(cols)] DO UPDATE SET .. [WHERE ..]`,
//! `INSERT OR IGNORE` and `INSERT OR REPLACE`, which DataFusion refuses; and any INSERT with
//! a RETURNING clause (see [`super::returning`]).
//!
//! The INSERT's rows are computed in full, matched against the table's keys, and the table's
//! rows that would result are checked against its [`TableRules`] before any is written: a
//! refused INSERT changes nothing. As in DuckDB, within one INSERT the first row with a key
//! is the one that counts; a later row with that key is dropped by a conflict clause.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, BooleanArray, RecordBatch, UInt64Array};
use datafusion::arrow::compute::{
    concat_batches, filter_record_batch, interleave_record_batch, take_record_batch,
};
use datafusion::common::{DFSchema, TableReference};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::LogicalPlan;
use sqlparser::ast::{
    AssignmentTarget, ConflictTarget, Expr, ExprWithAlias, Ident, Insert, OnConflictAction,
    OnInsert, SqliteOnConflict, Statement, TableObject, visit_expressions_mut,
};

use super::SqlSession;
use super::returning::{changed_count, returned_rows};
use super::table_keys::{TableRules, as_column_type, binder, with_rows_replaced};
use crate::error::{Result, TarnError};

/// The qualifier of the row an INSERT proposed, in a DO UPDATE's expressions.
const EXCLUDED: &str = "excluded";

/// Runs `insert` when its table has rules or it has a conflict clause; `None` when neither, for
/// DataFusion's plain INSERT.
pub(super) async fn insert(
    session: &SqlSession,
    insert: &Insert,
) -> Result<Option<SendableRecordBatchStream>> {
    let TableObject::TableName(name) = &insert.table else {
        return Ok(None);
    };
    let has_clause = insert.on.is_some() || insert.or.is_some();
    let returns = insert.returning.is_some();
    let rules = match TableRules::of(session.context(), &name.to_string()).await? {
        Some(rules) if has_clause || returns || !rules.is_free() => rules,
        None if has_clause || returns => {
            let clause = if has_clause {
                "ON CONFLICT"
            } else {
                "RETURNING"
            };
            return Err(TarnError::Invalid(format!(
                "{clause} needs a table CREATE TABLE made; {name} is a view or stands for files"
            )));
        }
        _ => return Ok(None),
    };
    let policy = Policy::of(&rules, insert)?;
    let proposed = proposed_rows(session, &rules, insert).await?;
    let mut partitions = rules.partitions().await;
    let existing: Vec<&RecordBatch> = partitions.iter().flatten().collect();
    let matched = policy.match_rows(&rules, &existing, &proposed)?;
    let updated = match &policy {
        Policy::Update(update) => {
            Some(update.apply(session, &rules, &existing, &proposed, &matched.updates)?)
        }
        _ => None,
    };
    let appended = take_record_batch(
        &proposed,
        &UInt64Array::from_iter_values(matched.appended.iter().map(|&i| i as u64)),
    )?;
    // The rows the INSERT leaves, updated and appended, for a RETURNING clause.
    let mut written = Vec::with_capacity(2);
    if let Some((updated, positions)) = updated {
        rules.check_rows(&updated)?;
        partitions = with_rows_replaced(&partitions, &updated, &positions)?;
        written.push(RecordBatch::try_new(
            rules.schema(),
            updated.columns().to_vec(),
        )?);
    }
    written.push(appended.clone());
    // Into the first partition, as DataFusion's INSERT puts an INSERT of one batch.
    let batch_size = session.context().state().config().batch_size();
    append(&mut partitions[0], appended, batch_size)?;
    if !policy.settles_every_key(&rules) {
        rules.check_unique(&partitions.iter().flatten().cloned().collect::<Vec<_>>())?;
    }
    let answer = match &insert.returning {
        Some(items) => {
            let table = name.0.last().and_then(|part| part.as_ident()).cloned();
            let table = table.unwrap_or_else(|| Ident::new(rules.name.clone()));
            let written = concat_batches(&rules.schema(), &written)?;
            returned_rows(session, &table, items, written).await?
        }
        None => changed_count(written.iter().map(RecordBatch::num_rows).sum())?,
    };
    rules.replace(partitions).await;
    Ok(Some(answer))
}

/// Appends `rows` to `partition` in batches of `batch_size`, which the scan can spread over
/// threads. A short last batch takes the first of them, so that INSERTs of a row at a time
/// leave full batches rather than one per row, which every later check would walk.
pub(super) fn append(
    partition: &mut Vec<RecordBatch>,
    rows: RecordBatch,
    batch_size: usize,
) -> Result<()> {
    let rows = match partition.pop() {
        Some(last) if last.num_rows() < batch_size => {
            concat_batches(&rows.schema(), [&last, &rows])?
        }
        Some(last) => {
            partition.push(last);
            rows
        }
        None => rows,
    };
    for offset in (0..rows.num_rows()).step_by(batch_size) {
        partition.push(rows.slice(offset, batch_size.min(rows.num_rows() - offset)));
    }
    Ok(())
}

/// What an INSERT does with a row whose key a table row (or an earlier row of its own) has.
enum Policy {
    /// A plain INSERT: the row breaks the key.
    Refuse,
    /// `DO NOTHING`, `OR IGNORE`: the row is dropped, for conflicts on these keys.
    Ignore(Vec<usize>),
    /// `DO UPDATE`, `OR REPLACE`: the table's row takes the assigned values.
    Update(Box<Update>),
}

/// A DO UPDATE: which key it settles, what it assigns, where.
struct Update {
    key: usize,
    /// (column, value), where a bare column is the table's row and `excluded.column` the
    /// row the INSERT offered.
    assignments: Vec<(usize, Expr)>,
    /// Only rows where this holds are updated.
    condition: Option<Expr>,
    /// The table's name (or the INSERT's alias for it) in the expressions.
    qualifier: String,
}

/// What a proposed row's key meets.
enum Conflict {
    None,
    /// The table's row at (batch, row).
    TableRow((usize, usize)),
    /// A row earlier in the same INSERT, which counts instead.
    EarlierRow,
}

/// Which proposed rows an INSERT appends, and which table rows it updates.
struct Matched {
    /// Proposed rows to append, in order.
    appended: Vec<usize>,
    /// (table row as (batch, row) of the table's batches in order, proposed row).
    updates: Vec<((usize, usize), usize)>,
}

impl Policy {
    fn of(rules: &TableRules, insert: &Insert) -> Result<Policy> {
        let no_keys = || {
            binder(
                "There are no UNIQUE/PRIMARY KEY constraints that refer to this table, specify \
                 ON CONFLICT columns manually",
            )
        };
        let only_key = || match rules.keys.len() {
            0 => Err(no_keys()),
            1 => Ok(0),
            _ => Err(binder(
                "Conflict target has to be provided for a DO UPDATE operation when the table has \
                 multiple UNIQUE/PRIMARY KEY constraints",
            )),
        };
        let target = |target: &Option<ConflictTarget>| -> Result<Option<usize>> {
            if rules.keys.is_empty() {
                return Err(no_keys());
            }
            match target {
                None => Ok(None),
                Some(ConflictTarget::Columns(columns)) => {
                    let mut wanted = columns
                        .iter()
                        .map(|column| column_index(rules, column))
                        .collect::<Result<Vec<_>>>()?;
                    wanted.sort_unstable();
                    let found = rules.keys.iter().position(|key| {
                        let mut columns = key.columns.clone();
                        columns.sort_unstable();
                        columns == wanted
                    });
                    found.map(Some).ok_or_else(|| {
                        binder(
                            "The specified columns as conflict target are not referenced by a \
                             UNIQUE/PRIMARY KEY CONSTRAINT or INDEX",
                        )
                    })
                }
                Some(ConflictTarget::OnConstraint(name)) => Err(TarnError::Invalid(format!(
                    "ON CONFLICT ON CONSTRAINT {name} is not supported; name the key's columns"
                ))),
            }
        };
        let all_keys = || (0..rules.keys.len()).collect::<Vec<_>>();
        match (&insert.on, &insert.or) {
            (None, None) => Ok(Policy::Refuse),
            (Some(OnInsert::OnConflict(conflict)), None) => {
                let key = target(&conflict.conflict_target)?;
                match &conflict.action {
                    OnConflictAction::DoNothing => {
                        Ok(Policy::Ignore(key.map_or_else(all_keys, |key| vec![key])))
                    }
                    OnConflictAction::DoUpdate(update) => Ok(Policy::Update(Box::new(Update {
                        key: key.map_or_else(only_key, Ok)?,
                        assignments: update
                            .assignments
                            .iter()
                            .map(|assignment| match &assignment.target {
                                AssignmentTarget::ColumnName(column) => {
                                    let name = column.0.last().and_then(|part| part.as_ident());
                                    let name = name.cloned().unwrap_or_else(|| Ident::new(column.to_string()));
                                    Ok((column_index(rules, &name)?, assignment.value.clone()))
                                }
                                AssignmentTarget::Tuple(_) => Err(TarnError::Invalid(
                                    "DO UPDATE SET (a, b) = ... is not supported; assign each column"
                                        .to_string(),
                                )),
                            })
                            .collect::<Result<_>>()?,
                        condition: update.selection.clone(),
                        qualifier: qualifier(insert),
                    }))),
                }
            }
            (None, Some(SqliteOnConflict::Ignore)) => {
                if rules.keys.is_empty() {
                    return Err(no_keys());
                }
                Ok(Policy::Ignore(all_keys()))
            }
            (None, Some(SqliteOnConflict::Replace)) => {
                let key = only_key()?;
                let schema = rules.schema();
                let assignments = (0..schema.fields().len())
                    .filter(|c| !rules.keys[key].columns.contains(c))
                    .map(|c| {
                        let column = Ident::with_quote('"', schema.field(c).name());
                        (
                            c,
                            Expr::CompoundIdentifier(vec![Ident::new(EXCLUDED), column]),
                        )
                    })
                    .collect();
                Ok(Policy::Update(Box::new(Update {
                    key,
                    assignments,
                    condition: None,
                    qualifier: qualifier(insert),
                })))
            }
            (Some(other), _) => Err(TarnError::Invalid(format!(
                "INSERT ... {other} is not supported (ON CONFLICT is)"
            ))),
            (None, Some(other)) => Err(TarnError::Invalid(format!(
                "INSERT {other} is not supported (OR IGNORE and OR REPLACE are)"
            ))),
        }
    }

    /// The keys whose conflicts this policy settles; a conflict on another key breaks it.
    fn settled_keys(&self) -> Vec<usize> {
        match self {
            Policy::Refuse => vec![],
            Policy::Ignore(keys) => keys.clone(),
            Policy::Update(update) => vec![update.key],
        }
    }

    /// Whether the rows it leaves need no check of their keys: it settled every key's
    /// conflicts while matching, and no update assigns a key's column.
    fn settles_every_key(&self, rules: &TableRules) -> bool {
        match self {
            Policy::Refuse => rules.keys.is_empty(),
            Policy::Ignore(keys) => keys.len() == rules.keys.len(),
            Policy::Update(update) => {
                let key = &rules.keys[update.key].columns;
                rules.keys.len() == 1
                    && update
                        .assignments
                        .iter()
                        .all(|(column, _)| !key.contains(column))
            }
        }
    }

    /// Matches `proposed`'s rows against the table's rows, `existing`, on the settled keys.
    fn match_rows(
        &self,
        rules: &TableRules,
        existing: &[&RecordBatch],
        proposed: &RecordBatch,
    ) -> Result<Matched> {
        let keys: Vec<_> = self
            .settled_keys()
            .into_iter()
            .map(|k| &rules.keys[k])
            .collect();
        let existing_values = keys
            .iter()
            .map(|key| existing.iter().map(|batch| key.values(batch)).collect())
            .collect::<Result<Vec<Vec<_>>>>()?;
        let table_rows: Vec<HashMap<_, _>> = existing_values
            .iter()
            .map(|batches| {
                let mut rows = HashMap::new();
                for (b, values) in batches.iter().enumerate() {
                    for r in 0..existing[b].num_rows() {
                        if let Some(value) = values.get(r) {
                            rows.entry(value).or_insert((b, r));
                        }
                    }
                }
                rows
            })
            .collect();
        let proposed_values = keys
            .iter()
            .map(|key| key.values(proposed))
            .collect::<Result<Vec<_>>>()?;
        let mut seen: Vec<HashSet<_>> = vec![HashSet::new(); keys.len()];
        let mut updated = HashSet::new();
        let mut matched = Matched {
            appended: vec![],
            updates: vec![],
        };
        for i in 0..proposed.num_rows() {
            let mut conflict = Conflict::None;
            for (k, values) in proposed_values.iter().enumerate() {
                let Some(value) = values.get(i) else { continue };
                if let Some(&at) = table_rows[k].get(&value) {
                    conflict = Conflict::TableRow(at);
                    break;
                }
                if seen[k].contains(&value) {
                    conflict = Conflict::EarlierRow;
                    break;
                }
            }
            match conflict {
                Conflict::None => {
                    matched.appended.push(i);
                    for (k, values) in proposed_values.iter().enumerate() {
                        if let Some(value) = values.get(i) {
                            seen[k].insert(value);
                        }
                    }
                }
                Conflict::TableRow(at) => {
                    if matches!(self, Policy::Update(_)) && updated.insert(at) {
                        matched.updates.push((at, i));
                    }
                }
                Conflict::EarlierRow => {}
            }
        }
        Ok(matched)
    }
}

/// The table's name in a DO UPDATE's expressions: the INSERT's alias for it, else its name.
fn qualifier(insert: &Insert) -> String {
    match (&insert.table_alias, &insert.table) {
        (Some(alias), _) => alias.alias.value.clone(),
        (None, TableObject::TableName(name)) => name
            .0
            .last()
            .and_then(|part| part.as_ident())
            .map(|ident| ident.value.clone())
            .unwrap_or_default(),
        (None, _) => String::new(),
    }
}

/// The column of the table `column` names.
fn column_index(rules: &TableRules, column: &Ident) -> Result<usize> {
    let schema = rules.schema();
    let names = schema.fields().iter().map(|field| field.name().as_str());
    let found = super::name_case::find_name(names.clone(), &column.value)
        .and_then(|name| names.clone().position(|n| n == name));
    found.ok_or_else(|| {
        binder(&format!(
            "Referenced column {} not found in table {}",
            column.value, rules.name
        ))
    })
}

/// The INSERT's rows, cast to the table's columns, checked for NULLs where the table has none.
async fn proposed_rows(
    session: &SqlSession,
    rules: &TableRules,
    insert: &Insert,
) -> Result<RecordBatch> {
    let mut plain = insert.clone();
    plain.on = None;
    plain.or = None;
    plain.returning = None;
    let schema = rules.schema();
    // VALUES rows are typed as the table's columns, so a NULL in a NOT NULL column fails as
    // they are made, naming the VALUES list's column: `column2` is the INSERT's second.
    let values_column = |named: &str| {
        let position: usize = named.strip_prefix("column")?.parse().ok()?;
        match insert.columns.get(position.checked_sub(1)?) {
            Some(column) => Some(column.to_string()),
            None if insert.columns.is_empty() => {
                Some(schema.fields().get(position - 1)?.name().clone())
            }
            None => None,
        }
    };
    let batches = async {
        let LogicalPlan::Dml(insert_plan) = session.plan(Statement::Insert(plain)).await? else {
            return Err(TarnError::Invalid(format!(
                "INSERT INTO {} planned as something else",
                rules.name
            )));
        };
        let input = insert_plan.input.as_ref().clone();
        let frame = session.context().execute_logical_plan(input).await?;
        Ok(frame.collect().await?)
    }
    .await
    .map_err(|err| rules.explain_null(err, values_column))?;
    let rows = match batches.first() {
        Some(first) => concat_batches(&first.schema(), &batches)?,
        None => RecordBatch::new_empty(Arc::clone(&schema)),
    };
    let rows = RecordBatch::try_new(rules.unchecked_schema(), rows.columns().to_vec())?;
    rules.check_rows(&rows)?;
    Ok(RecordBatch::try_new(schema, rows.columns().to_vec())?)
}

impl Update {
    /// The table rows `updates` names with the assignments applied, where the condition
    /// holds, and the position of each.
    fn apply(
        &self,
        session: &SqlSession,
        rules: &TableRules,
        existing: &[&RecordBatch],
        proposed: &RecordBatch,
        updates: &[((usize, usize), usize)],
    ) -> Result<(RecordBatch, Vec<(usize, usize)>)> {
        let qualifier = self.qualifier.as_str();
        let schema = rules.schema();
        let positions: Vec<(usize, usize)> = updates.iter().map(|(at, _)| *at).collect();
        let current = match existing.first() {
            Some(_) => interleave_record_batch(existing, &positions)?,
            None => RecordBatch::new_empty(Arc::clone(&schema)),
        };
        let offered = take_record_batch(
            proposed,
            &UInt64Array::from_iter_values(updates.iter().map(|(_, i)| *i as u64)),
        )?;
        // One batch holding both rows side by side: the table's under its name, the offered one
        // under `excluded`.
        let qualified = |name: &str| -> Vec<_> {
            schema
                .fields()
                .iter()
                .map(|field| (Some(TableReference::bare(name)), Arc::clone(field)))
                .collect()
        };
        let both = DFSchema::new_with_metadata(
            [qualified(qualifier), qualified(EXCLUDED)].concat(),
            HashMap::new(),
        )?;
        let mut columns = current.columns().to_vec();
        columns.extend(offered.columns().iter().cloned());
        let pairs = RecordBatch::try_new_with_options(
            Arc::new(both.as_arrow().clone()),
            columns,
            &Default::default(),
        )?;
        let state = session.context().state();
        let table_columns: HashSet<String> = schema
            .fields()
            .iter()
            .map(|field| field.name().to_lowercase())
            .collect();
        let evaluate = |expr: &Expr, batch: &RecordBatch| -> Result<Arc<dyn Array>> {
            let mut expr = expr.clone();
            super::name_case::match_columns(&mut expr, schema.fields());
            // A bare column is the table's, as in DuckDB.
            let _ = visit_expressions_mut(&mut expr, |e| {
                if let Expr::Identifier(column) = e
                    && table_columns.contains(&column.value.to_lowercase())
                {
                    *e = Expr::CompoundIdentifier(vec![Ident::new(qualifier), column.clone()]);
                }
                ControlFlow::<()>::Continue(())
            });
            let logical = state
                .create_logical_expr_from_sql_expr(ExprWithAlias { expr, alias: None }, &both)?;
            let physical = state.create_physical_expr(logical, &both)?;
            Ok(physical.evaluate(batch)?.into_array(batch.num_rows())?)
        };
        let (pairs, current, positions) = match &self.condition {
            None => (pairs, current, positions),
            Some(condition) => {
                let holds = evaluate(condition, &pairs)?;
                let holds = holds
                    .as_any()
                    .downcast_ref::<BooleanArray>()
                    .ok_or_else(|| {
                        TarnError::Invalid(format!(
                            "DO UPDATE ... WHERE {condition} is not a condition"
                        ))
                    })?;
                let keep: BooleanArray = holds.iter().map(|v| Some(v == Some(true))).collect();
                let positions = positions
                    .into_iter()
                    .zip(keep.values().iter())
                    .filter_map(|(at, kept)| kept.then_some(at))
                    .collect();
                (
                    filter_record_batch(&pairs, &keep)?,
                    filter_record_batch(&current, &keep)?,
                    positions,
                )
            }
        };
        let mut columns = current.columns().to_vec();
        for (column, value) in &self.assignments {
            let value = evaluate(value, &pairs)?;
            columns[*column] = as_column_type(&value, schema.field(*column).data_type())?;
        }
        let updated = RecordBatch::try_new(rules.unchecked_schema(), columns)?;
        Ok((updated, positions))
    }
}
