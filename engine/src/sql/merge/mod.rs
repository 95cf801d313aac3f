//! `MERGE INTO target USING source ON condition WHEN ... THEN ...`, as in DuckDB: the upsert
//! that needs no key, and the one statement that applies a change set (updates, deletes and
//! new rows) to a table. DataFusion plans MERGE but no table of ours can run it, and
//! sqlparser reads none of DuckDB's own forms ([`grammar`]).
//!
//! The table's rows, numbered, are joined to the source in one query (an inner, left, right
//! or full join, as the clauses need the rows that match, the source rows that match none, or
//! the target rows that match none). For each joined row the query gives the first clause whose
//! kind and condition hold, and the values an UPDATE or INSERT clause writes. The changes are
//! then made to the table's batches in place (updated rows where they were, deleted rows taken
//! out, inserted rows appended), checked against its [`TableRules`], and written back at once:
//! a MERGE that fails changes nothing.
//!
//! As in DuckDB a target row that two source rows would change fails the statement, rather
//! than one of them winning silently; an `ERROR` clause fails it with its message.

mod grammar;

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::{cast, concat_batches, interleave_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, UInt64Type};
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::catalog::TableProvider;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::sql::sqlparser::tokenizer::Token;
use sqlparser::ast::{
    ExcludeSelectItem, Ident, ObjectName, SelectItem, SetExpr, Statement, TableFactor,
    WildcardAdditionalOptions,
};

use super::numbered_rows::{
    NUMBERED_ROWS, ROW_NUMBER, changed_table, over_numbered_rows, position_of, without_rows,
};
use super::returning::{changed_count, returned_rows};
use super::rewrite::FILES_SCHEMA;
use super::table_keys::{TableRules, binder, with_rows_replaced};
use super::{SqlSession, parse_one, quote_identifier};
use crate::error::{Result, TarnError};
use grammar::{Action, Clause, ClauseKind, Matching, MergeStatement, Values};

pub(super) use grammar::is_merge;

/// The column that marks a joined row as having a source row.
const SOURCE_ROW: &str = "__tarn_source_row";
/// The index of the clause a joined row takes.
const CLAUSE: &str = "__tarn_clause";
/// An ERROR clause's message.
const MESSAGE: &str = "__tarn_message";
/// The source's name in the query where the statement gives it none.
const UNNAMED_SOURCE: &str = "__tarn_merge_source";
/// The column RETURNING may name for what was done to a row.
const MERGE_ACTION: &str = "merge_action";

/// Runs a MERGE statement (see the module documentation).
pub(super) async fn merge(
    session: &SqlSession,
    statement: &str,
) -> Result<SendableRecordBatchStream> {
    let merge = grammar::parse(statement)?;
    let target_factor = only_relation(&merge.target)?;
    let (rules, target) = changed_table(session, &target_factor, "MERGE").await?;
    let source = source_name(&merge.source)?;
    for clause in &merge.clauses {
        refuse_absent_side(clause, &target, &source)?;
    }
    let columns = TableColumns::of(session, &rules, &merge, &target, &source).await?;
    let query = joined_query(&merge, &columns, &target, &source)?;

    let partitions = rules.partitions().await;
    let batches: Vec<&RecordBatch> = partitions.iter().flatten().collect();
    let (joined, starts) = over_numbered_rows(session, &rules, &batches, &query).await?;
    let changes = Changes::of(&merge.clauses, &joined)?;

    let schema = rules.schema();
    let value_rows = |at: &[(usize, usize)]| -> Result<RecordBatch> {
        let joined: Vec<&RecordBatch> = joined.iter().collect();
        let rows = match at.is_empty() {
            true => return Ok(RecordBatch::new_empty(Arc::clone(&schema))),
            false => interleave_record_batch(&joined, at)?,
        };
        let first_value = rows.num_columns() - schema.fields().len();
        rules.checked_rows(&rows.columns()[first_value..])
    };
    let mut updates = changes.updates;
    updates.sort_unstable_by_key(|(number, _)| *number);
    let (numbers, at): (Vec<u64>, Vec<(usize, usize)>) = updates.into_iter().unzip();
    let updated = value_rows(&at)?;
    let positions: Vec<(usize, usize)> = numbers.iter().map(|&n| position_of(n, &starts)).collect();
    let with_updates = with_rows_replaced(&partitions, &updated, &positions)?;
    let (mut changed, deleted) = without_rows(&with_updates, &starts, &changes.deletes)?;
    let inserted = value_rows(&changes.inserts)?;
    let batch_size = session.context().state().config().batch_size();
    super::upsert::append(&mut changed[0], inserted.clone(), batch_size)?;
    rules.check_unique(&changed.iter().flatten().cloned().collect::<Vec<_>>())?;

    let count = updated.num_rows() + changes.deletes.len() + inserted.num_rows();
    let answer = match &merge.returning {
        None => changed_count(count)?,
        Some(items) => {
            let rows = [
                ("UPDATE", vec![updated]),
                ("DELETE", deleted),
                ("INSERT", vec![inserted]),
            ];
            let rows = with_merge_actions(&schema, rows)?;
            returned_rows(session, &target, &returned_items(items)?, rows).await?
        }
    };
    if count > 0 {
        rules.replace(changed).await;
    }
    Ok(answer)
}

/// The one relation `SELECT * FROM <relation>` reads, as the statement wrote it.
fn only_relation(relation: &str) -> Result<TableFactor> {
    let statement = parse_one(&format!("SELECT * FROM {relation}"))?;
    let found = match statement {
        Statement::Query(query) => match *query.body {
            SetExpr::Select(select)
                if select.from.len() == 1 && select.from[0].joins.is_empty() =>
            {
                Some(select.from[0].relation.clone())
            }
            _ => None,
        },
        _ => None,
    };
    found.ok_or_else(|| TarnError::Parse(format!("MERGE: {relation} is not one relation")))
}

/// The name the source's columns go by: its alias, or a table's own name.
fn source_name(source: &str) -> Result<Ident> {
    let relation = only_relation(source)?;
    let alias = match &relation {
        TableFactor::Table { alias, .. }
        | TableFactor::Derived { alias, .. }
        | TableFactor::TableFunction { alias, .. }
        | TableFactor::Function { alias, .. }
        | TableFactor::UNNEST { alias, .. } => alias.as_ref().map(|alias| alias.name.clone()),
        _ => None,
    };
    Ok(match (alias, &relation) {
        (Some(alias), _) => alias,
        (None, TableFactor::Table { name, .. }) => last_part(name),
        (None, _) => Ident::new(UNNAMED_SOURCE),
    })
}

fn last_part(name: &ObjectName) -> Ident {
    name.0
        .last()
        .and_then(|part| part.as_ident())
        .cloned()
        .unwrap_or_else(|| Ident::new(name.to_string()))
}

/// DuckDB's binder error for a clause that reads the side its rows lack: a source column in a
/// `NOT MATCHED BY SOURCE` clause, a target column in a `NOT MATCHED` one. Without it the
/// column would read NULL.
fn refuse_absent_side(clause: &Clause, target: &Ident, source: &Ident) -> Result<()> {
    let absent = match clause.kind {
        ClauseKind::Matched => return Ok(()),
        ClauseKind::NotMatchedBySource => source,
        ClauseKind::NotMatchedByTarget => target,
    };
    let mut texts: Vec<&str> = clause.condition.iter().map(String::as_str).collect();
    match &clause.action {
        Action::Update(Values::Listed(values)) | Action::Insert(Values::Listed(values)) => {
            texts.extend(values.iter().map(|(_, value)| value.as_str()));
        }
        Action::Error(Some(message)) => texts.push(message),
        _ => {}
    }
    for text in texts {
        let tokens: Vec<Token> = super::tokenize(text)?
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect();
        let reads_absent = tokens.windows(2).any(|pair| {
            matches!(&pair[0], Token::Word(word) if same_name(&word.value, absent))
                && pair[1] == Token::Period
        });
        if reads_absent {
            return Err(binder(&format!(
                "Referenced table \"{}\" not found! ({} clauses have no {} row)",
                absent.value,
                clause.kind.label(),
                if absent == source { "source" } else { "target" }
            )));
        }
    }
    Ok(())
}

fn same_name(name: &str, ident: &Ident) -> bool {
    match ident.quote_style {
        Some(_) => name == ident.value,
        None => name.eq_ignore_ascii_case(&ident.value),
    }
}

/// The table's columns, and for each clause that writes rows, the SQL value of each column.
struct TableColumns {
    names: Vec<String>,
    /// By clause: `None` for a clause that writes no row, else a value per column.
    values: Vec<Option<Vec<String>>>,
}

impl TableColumns {
    async fn of(
        session: &SqlSession,
        rules: &TableRules,
        merge: &MergeStatement,
        target: &Ident,
        source: &Ident,
    ) -> Result<TableColumns> {
        let schema = rules.schema();
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let provider = rules.memory();
        let default_of = |column: &str| -> Result<String> {
            match provider.get_column_default(column) {
                Some(default) => Ok(datafusion::sql::unparser::expr_to_sql(default)
                    .map_err(|err| {
                        TarnError::Invalid(format!("the default of column {column}: {err}"))
                    })?
                    .to_string()),
                None => Ok("NULL".to_string()),
            }
        };
        let needs_source_columns = merge.clauses.iter().any(|clause| {
            matches!(
                clause.action,
                Action::Update(Values::ByPosition | Values::ByName)
                    | Action::Insert(Values::ByPosition | Values::ByName)
            )
        });
        let source_columns = match needs_source_columns {
            true => {
                let query = format!("({}SELECT * FROM {})", merge.with, merge.source);
                super::pivot::source_columns(session, &query).await?
            }
            false => Vec::new(),
        };
        let source_column = |name: &str| format!("{source}.{}", quote_identifier(name));
        let own = |name: &str| format!("{target}.{}", quote_identifier(name));
        // Column names match in any case, as in DuckDB.
        let position = |column: &Ident| {
            names
                .iter()
                .position(|name| name.eq_ignore_ascii_case(&column.value))
        };
        let mut values = Vec::with_capacity(merge.clauses.len());
        for clause in &merge.clauses {
            let (written, update) = match &clause.action {
                Action::Update(written) => (written, true),
                Action::Insert(written) => (written, false),
                _ => {
                    values.push(None);
                    continue;
                }
            };
            // What a column the clause does not write holds: its own value, or its default.
            let mut row: Vec<String> = names
                .iter()
                .map(|name| {
                    if update {
                        Ok(own(name))
                    } else {
                        default_of(name)
                    }
                })
                .collect::<Result<_>>()?;
            match written {
                Values::ByPosition => {
                    if source_columns.len() != names.len() {
                        return Err(binder(&match update {
                            true => format!(
                                "Data provided for UPDATE did not match column count in table - \
                                 expected {} columns but got {}",
                                names.len(),
                                source_columns.len()
                            ),
                            false => supplied(&rules.name, names.len(), source_columns.len()),
                        }));
                    }
                    row = source_columns.iter().map(|c| source_column(c)).collect();
                }
                Values::ByName => {
                    for column in &source_columns {
                        let at = position(&Ident::with_quote('"', column)).ok_or_else(|| {
                            binder(&format!(
                                "Table \"{}\" does not have a column with name \"{column}\"",
                                rules.name
                            ))
                        })?;
                        row[at] = source_column(column);
                    }
                }
                Values::Defaults => {}
                Values::Listed(listed) => {
                    let unnamed = listed.iter().all(|(column, _)| column.is_none());
                    if !update && unnamed && listed.len() != names.len() {
                        return Err(binder(&supplied(&rules.name, names.len(), listed.len())));
                    }
                    let mut assigned = HashSet::new();
                    for (k, (column, value)) in listed.iter().enumerate() {
                        let at = match column {
                            None => k,
                            Some(column) => position(column).ok_or_else(|| {
                                binder(&match update {
                                    true => format!(
                                        "Referenced update column {column} not found in table!"
                                    ),
                                    false => format!(
                                        "Table \"{}\" does not have a column with name \
                                         \"{column}\"",
                                        rules.name
                                    ),
                                })
                            })?,
                        };
                        if !assigned.insert(at) {
                            return Err(binder(&format!(
                                "Multiple assignments to same column \"{}\"",
                                names[at]
                            )));
                        }
                        row[at] = match value.eq_ignore_ascii_case("DEFAULT") {
                            true => default_of(&names[at])?,
                            false => value.clone(),
                        };
                    }
                }
            }
            values.push(Some(row));
        }
        Ok(TableColumns { names, values })
    }
}

/// DuckDB's message for an INSERT of `values` values into a table of `columns` columns.
fn supplied(table: &str, columns: usize, values: usize) -> String {
    format!("table \"{table}\" has {columns} columns but {values} values were supplied")
}

/// The query over the numbered rows: for each joined row that a clause takes, the target row's
/// number, the clause, an ERROR clause's message, and the values the clause writes.
fn joined_query(
    merge: &MergeStatement,
    columns: &TableColumns,
    target: &Ident,
    source: &Ident,
) -> Result<String> {
    let has_target_row = format!("{target}.{ROW_NUMBER} IS NOT NULL");
    let has_source_row = format!("{source}.{SOURCE_ROW} IS NOT NULL");
    let applies: Vec<String> = merge
        .clauses
        .iter()
        .map(|clause| {
            let kind = match clause.kind {
                ClauseKind::Matched => format!("{has_target_row} AND {has_source_row}"),
                ClauseKind::NotMatchedByTarget => format!("NOT ({has_target_row})"),
                ClauseKind::NotMatchedBySource => format!("NOT ({has_source_row})"),
            };
            match &clause.condition {
                Some(condition) => format!("{kind} AND ({condition})"),
                None => kind,
            }
        })
        .collect();
    // The first clause that applies, over the clauses `value` gives a value for.
    let first = |value: &dyn Fn(usize) -> Option<String>| {
        let arms: Vec<String> = (0..applies.len())
            .filter_map(|k| Some(format!("WHEN {} THEN {}", applies[k], value(k)?)))
            .collect();
        match arms.is_empty() {
            true => "NULL".to_string(),
            false => format!("CASE {} END", arms.join(" ")),
        }
    };
    let mut selected = vec![
        format!("{target}.{ROW_NUMBER} AS {ROW_NUMBER}"),
        format!(
            "CAST({} AS BIGINT) AS {CLAUSE}",
            first(&|k| Some(k.to_string()))
        ),
        format!(
            "CAST({} AS VARCHAR) AS {MESSAGE}",
            first(&|k| match &merge.clauses[k].action {
                Action::Error(Some(message)) => Some(message.clone()),
                _ => None,
            })
        ),
    ];
    for (j, name) in columns.names.iter().enumerate() {
        let value = first(&|k| Some(columns.values[k].as_ref()?[j].clone()));
        selected.push(format!(
            "{value} AS {}",
            quote_identifier(&format!("__tarn_{name}"))
        ));
    }
    let has = |kind| merge.clauses.iter().any(|clause| clause.kind == kind);
    let join = match (
        has(ClauseKind::NotMatchedBySource),
        has(ClauseKind::NotMatchedByTarget),
    ) {
        (true, true) => "FULL JOIN",
        (true, false) => "LEFT JOIN",
        (false, true) => "RIGHT JOIN",
        (false, false) => "JOIN",
    };
    let on = match &merge.matching {
        Matching::On(condition) => condition.clone(),
        Matching::Using(names) => names
            .iter()
            .map(|name| format!("{target}.{name} = {source}.{name}"))
            .collect::<Vec<_>>()
            .join(" AND "),
    };
    Ok(format!(
        "{with}SELECT * FROM (SELECT {selected} FROM {FILES_SCHEMA}.{NUMBERED_ROWS} AS {target} \
         {join} (SELECT *, true AS {SOURCE_ROW} FROM {source_relation}) AS {source} ON {on}) \
         WHERE {CLAUSE} IS NOT NULL",
        with = merge.with,
        selected = selected.join(", "),
        source_relation = merge.source,
    ))
}

/// What the joined rows say to do.
struct Changes {
    /// (target row's number, its new values' joined row as (batch, row)).
    updates: Vec<(u64, (usize, usize))>,
    /// The numbers of the target rows deleted.
    deletes: HashSet<u64>,
    /// The joined rows whose values are inserted, in order.
    inserts: Vec<(usize, usize)>,
}

impl Changes {
    fn of(clauses: &[Clause], joined: &[RecordBatch]) -> Result<Changes> {
        let mut changes = Changes {
            updates: Vec::new(),
            deletes: HashSet::new(),
            inserts: Vec::new(),
        };
        let mut changed = HashSet::new();
        for (b, batch) in joined.iter().enumerate() {
            let numbers = batch.column(0).as_primitive::<UInt64Type>();
            let chosen = cast(batch.column(1), &DataType::Int64)?;
            let chosen = chosen.as_primitive::<Int64Type>();
            for r in 0..batch.num_rows() {
                let clause = &clauses[chosen.value(r) as usize];
                if let Action::Error(message) = &clause.action {
                    let message = match message {
                        Some(_) => format!(": {}", array_value_to_string(batch.column(2), r)?),
                        None => String::new(),
                    };
                    return Err(TarnError::Constraint(format!(
                        "Merge error condition {}{message}",
                        clause.kind.label()
                    )));
                }
                let number = numbers.is_valid(r).then(|| numbers.value(r));
                let changes_target = !matches!(clause.action, Action::Nothing | Action::Insert(_));
                if let Some(number) = number.filter(|_| changes_target)
                    && !changed.insert(number)
                {
                    return Err(TarnError::Invalid(
                        "MERGE INTO command cannot affect the same target row more than once. A \
                         target row matched more than one source row; ensure the source rows \
                         are deduplicated or the ON condition is unique."
                            .to_string(),
                    ));
                }
                match (&clause.action, number) {
                    (Action::Update(_), Some(number)) => changes.updates.push((number, (b, r))),
                    (Action::Delete, Some(number)) => {
                        changes.deletes.insert(number);
                    }
                    (Action::Insert(_), _) => changes.inserts.push((b, r)),
                    _ => {}
                }
            }
        }
        Ok(changes)
    }
}

/// The changed rows, by what was done to them, with a [`MERGE_ACTION`] column saying so.
fn with_merge_actions(schema: &Schema, rows: [(&str, Vec<RecordBatch>); 3]) -> Result<RecordBatch> {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(MERGE_ACTION, DataType::Utf8, false));
    let returned = Arc::new(Schema::new(fields));
    let mut batches = Vec::new();
    for (action, batches_of_action) in rows {
        for batch in batches_of_action {
            let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
            columns.push(Arc::new(StringArray::from(vec![action; batch.num_rows()])));
            batches.push(RecordBatch::try_new(Arc::clone(&returned), columns)?);
        }
    }
    Ok(concat_batches(&returned, &batches)?)
}

/// The RETURNING list, its stars standing for the table's columns only, not [`MERGE_ACTION`].
fn returned_items(items: &str) -> Result<Vec<SelectItem>> {
    let statement = parse_one(&format!("SELECT {items}"))?;
    let Statement::Query(query) = statement else {
        return Err(TarnError::Parse(format!(
            "RETURNING {items}: not a select list"
        )));
    };
    let only_items = |select: &sqlparser::ast::Select| {
        query.order_by.is_none()
            && query.limit_clause.is_none()
            && select.from.is_empty()
            && select.selection.is_none()
    };
    let select = match query.body.as_ref() {
        SetExpr::Select(select) if only_items(select) => select.clone(),
        _ => {
            return Err(TarnError::Parse(format!(
                "RETURNING {items}: expected a select list only"
            )));
        }
    };
    let action = ObjectName::from(vec![Ident::new(MERGE_ACTION)]);
    let exclude_action = |options: &mut WildcardAdditionalOptions| {
        options.opt_exclude = Some(match options.opt_exclude.take() {
            None => ExcludeSelectItem::Multiple(vec![action.clone()]),
            Some(ExcludeSelectItem::Single(one)) => {
                ExcludeSelectItem::Multiple(vec![one, action.clone()])
            }
            Some(ExcludeSelectItem::Multiple(mut many)) => {
                many.push(action.clone());
                ExcludeSelectItem::Multiple(many)
            }
        });
    };
    Ok(select
        .projection
        .into_iter()
        .map(|mut item| {
            if let SelectItem::Wildcard(options) | SelectItem::QualifiedWildcard(_, options) =
                &mut item
            {
                exclude_action(options);
            }
            item
        })
        .collect())
}
