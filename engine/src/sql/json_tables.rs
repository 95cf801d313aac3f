//! DuckDB's JSON table functions in FROM: `json_each(j [, path])`, a row per member or element
//! of a document, and `json_tree(j [, path])`, a row per value in it (see `json::entries` for
//! the columns). With a column for the document, `FROM docs, json_each(docs.meta) AS m`, each
//! row of `docs` is walked, which is how a corpus's metadata objects are opened into rows.
//!
//! The call becomes a FROM-less subquery unnesting the list of rows its scalar twin gives,
//! a column per field:
//!
//! ```sql
//! LATERAL (SELECT get_field(unnest(tarn_json_each(docs.meta)), 'key') AS "key", ...) AS m
//! ```
//!
//! which `lateral_unnest` then moves next to the table it reads. Without an alias the rows are
//! named after the function, as in DuckDB (`json_each.key`).

use std::ops::ControlFlow;

use sqlparser::ast::{Ident, Statement, TableAlias, TableFactor, TableFunctionArgs, VisitorMut};

use super::json::{EACH, TREE, entry_columns};
use super::rewrite::names_read;
use crate::error::{Result, TarnError};

/// Replaces each `json_each(...)` and `json_tree(...)` in a FROM clause of `statement` (see the
/// module documentation).
pub(super) fn as_unnests(statement: &mut Statement) -> Result<()> {
    super::rewrite::run_visitor(statement, &mut JsonTables)
}

struct JsonTables;

impl VisitorMut for JsonTables {
    type Break = TarnError;

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<TarnError> {
        let TableFactor::Table {
            name,
            args: Some(args),
            alias,
            ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let [function] = name.0.as_slice() else {
            return ControlFlow::Continue(());
        };
        let Some(function) = function.as_ident().map(|i| i.value.to_ascii_lowercase()) else {
            return ControlFlow::Continue(());
        };
        let rows = match function.as_str() {
            "json_each" => EACH,
            "json_tree" => TREE,
            _ => return ControlFlow::Continue(()),
        };
        let alias = alias.take().unwrap_or_else(|| TableAlias {
            explicit: false,
            name: Ident::new(function),
            columns: vec![],
            at: None,
        });
        match walk(rows, args, alias) {
            Ok(walk) => {
                *factor = walk;
                ControlFlow::Continue(())
            }
            Err(err) => ControlFlow::Break(err),
        }
    }
}

/// The subquery that stands for the call of table function `rows`'s twin with `args`.
fn walk(rows: &str, args: &TableFunctionArgs, alias: TableAlias) -> Result<TableFactor> {
    let args: Vec<String> = args.args.iter().map(ToString::to_string).collect();
    let call = format!("{rows}({})", args.join(", "));
    let columns: Vec<String> = entry_columns()
        .map(|column| format!("get_field(unnest({call}), '{column}') AS \"{column}\""))
        .collect();
    let subquery = super::dialect::parse_query(&format!("SELECT {}", columns.join(", ")))
        .map_err(|e| TarnError::Parse(format!("{}: {e}", alias.name)))?;
    // A walk of a constant document reads no table; a walk of a column reads an earlier one.
    let reads = names_read(&*subquery);
    let lateral = reads.bare.is_some() || !reads.qualifiers.is_empty();
    Ok(TableFactor::Derived {
        lateral,
        subquery,
        alias: Some(alias),
        sample: None,
    })
}
