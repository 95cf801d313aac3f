//! DuckDB's names for the columns of a VALUES list: `col0`, `col1`, ... (DataFusion's are
//! `column1`, `column2`, ...). Where a VALUES list is a derived table or a CTE, its alias gets
//! those names for the columns it does not name itself (`(VALUES (1, 2)) t(a)` has columns `a`
//! and `col1`; DataFusion refused an alias naming fewer columns than the list has). Where it is
//! a whole statement's query (`VALUES ...`, `CREATE TABLE|VIEW ... AS VALUES ...`), it becomes
//! `SELECT * FROM (VALUES ...) AS valueslist(col0, ...)`. Renaming through the alias adds no
//! level of nesting, which DataFusion plans on the stack. Lists whose names do not show
//! (`x IN (VALUES ...)`, the rows of an INSERT) are left alone.

use std::ops::ControlFlow;

use sqlparser::ast::{
    CreateTable, Ident, Query, SetExpr, Statement, TableAlias, TableAliasColumnDef, TableFactor,
    VisitMut, VisitorMut,
};

use super::dialect::parse_query;
use crate::error::{Result, TarnError};

/// The name of a VALUES list without an alias, as DuckDB calls it.
const LIST_NAME: &str = "valueslist";

/// Renames the columns of the VALUES lists of `statement` (see the module's doc).
pub(super) fn name_values_columns(statement: &mut Statement) -> Result<()> {
    let _ = statement.visit(&mut ValuesNames);
    match statement {
        Statement::Query(query) => as_select(query),
        Statement::CreateTable(CreateTable {
            query: Some(query), ..
        }) => as_select(query),
        Statement::CreateView(view) => as_select(&mut view.query),
        _ => Ok(()),
    }
}

/// The number of columns of `query` when it is a bare VALUES list.
fn values_width(query: &Query) -> Option<usize> {
    match query.body.as_ref() {
        SetExpr::Values(values) => Some(values.rows.first().map_or(0, |row| row.len())),
        _ => None,
    }
}

/// DuckDB's names for the columns of a list of `width` from `from` on.
fn names(from: usize, width: usize) -> impl Iterator<Item = TableAliasColumnDef> {
    (from..width).map(|i| TableAliasColumnDef::from_name(format!("col{i}")))
}

/// `query`, when it is a bare VALUES list, as a SELECT of it under DuckDB's column names.
fn as_select(query: &mut Query) -> Result<()> {
    if values_width(query).is_none() {
        return Ok(());
    }
    let mut select = parse_query(&format!("SELECT * FROM (VALUES (1)) AS {LIST_NAME}"))
        .map_err(|err| TarnError::Parse(err.to_string()))?;
    let SetExpr::Select(outer) = select.body.as_mut() else {
        unreachable!("a SELECT was written");
    };
    let factor = &mut outer.from[0].relation;
    let TableFactor::Derived { subquery, .. } = factor else {
        unreachable!("a derived table was written");
    };
    std::mem::swap(&mut subquery.body, &mut query.body);
    name_derived_values(factor);
    query.body = select.body;
    Ok(())
}

/// Gives the alias of `factor`, when it is a derived VALUES list, DuckDB's names for the columns
/// it leaves unnamed.
fn name_derived_values(factor: &mut TableFactor) {
    let TableFactor::Derived {
        subquery, alias, ..
    } = factor
    else {
        return;
    };
    let Some(width) = values_width(subquery) else {
        return;
    };
    let alias = alias.get_or_insert_with(|| TableAlias {
        explicit: true,
        name: Ident::new(LIST_NAME),
        columns: Vec::new(),
        at: None,
    });
    let named = alias.columns.len();
    alias.columns.extend(names(named, width));
}

struct ValuesNames;

impl VisitorMut for ValuesNames {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        name_derived_values(factor);
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        for cte in query.with.iter_mut().flat_map(|with| &mut with.cte_tables) {
            if let Some(width) = values_width(&cte.query) {
                let named = cte.alias.columns.len();
                cte.alias.columns.extend(names(named, width));
            }
        }
        ControlFlow::Continue(())
    }
}
