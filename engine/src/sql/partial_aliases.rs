//! A table alias that names fewer columns than its relation has, `FROM (SELECT 1 AS a, 2 AS b)
//! t(x)` or `FROM 'docs.parquet' d(doc_id)`: DuckDB renames the first columns and keeps the
//! others' names; DataFusion refused it ("Source table contains 2 columns but only 1 names
//! given"). Each such alias gets the remaining columns' own names appended.
//!
//! A subquery's select list without `*` is counted as written; any other relation (a table, a
//! file, a query with `*`) is planned alone, under the statement's WITH clause, to learn its
//! columns. A LATERAL subquery, which cannot be planned alone, and a table function (whose
//! single column the alias names) are left to DataFusion.

use std::ops::ControlFlow;

use datafusion::execution::SessionState;
use sqlparser::ast::{
    Ident, SelectItem, SetExpr, Statement, TableAliasColumnDef, TableFactor, Visit, VisitMut,
    Visitor, VisitorMut,
};

use crate::error::Result;

/// Completes every alias of the statement that names fewer columns than its relation has.
pub(super) async fn complete(statement: &mut Statement, state: &SessionState) -> Result<()> {
    let mut finder = Candidates::default();
    let _ = Visit::visit(&*statement, &mut finder);
    if finder.found.is_empty() {
        return Ok(());
    }
    let with = super::expand::with_prefix(statement);
    let mut completions = Vec::new();
    for candidate in finder.found {
        // A relation that cannot be planned alone keeps its alias for DataFusion to judge.
        let Ok(schema) = super::expand::from_schema(&with, &candidate.relation, state).await else {
            continue;
        };
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        if columns.len() > candidate.named {
            completions.push((candidate.index, columns[candidate.named..].to_vec()));
        }
    }
    let mut completer = Completer {
        index: 0,
        completions,
    };
    let _ = VisitMut::visit(statement, &mut completer);
    Ok(())
}

/// A factor whose alias may name too few columns: its place among the statement's factors in
/// visiting order, its relation as SQL without the alias's columns, and how many it names.
struct Candidate {
    index: usize,
    relation: String,
    named: usize,
}

#[derive(Default)]
struct Candidates {
    index: usize,
    found: Vec<Candidate>,
}

impl Visitor for Candidates {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        let index = self.index;
        self.index += 1;
        let named = match factor {
            TableFactor::Table {
                args: None,
                alias: Some(alias),
                ..
            } if !alias.columns.is_empty() => alias.columns.len(),
            TableFactor::Derived {
                lateral: false,
                subquery,
                alias: Some(alias),
                ..
            } if !alias.columns.is_empty() => {
                if written_width(&subquery.body) == Some(alias.columns.len()) {
                    return ControlFlow::Continue(());
                }
                alias.columns.len()
            }
            _ => return ControlFlow::Continue(()),
        };
        let mut relation = factor.clone();
        if let TableFactor::Table {
            alias: Some(alias), ..
        }
        | TableFactor::Derived {
            alias: Some(alias), ..
        } = &mut relation
        {
            alias.columns.clear();
        }
        self.found.push(Candidate {
            index,
            relation: relation.to_string(),
            named,
        });
        ControlFlow::Continue(())
    }
}

/// The number of columns a query body selects where its text says: a select list without `*`,
/// or a VALUES list's width.
pub(super) fn written_width(body: &SetExpr) -> Option<usize> {
    match body {
        SetExpr::Select(select) => select
            .projection
            .iter()
            .all(|item| {
                matches!(
                    item,
                    SelectItem::UnnamedExpr(_) | SelectItem::ExprWithAlias { .. }
                )
            })
            .then_some(select.projection.len()),
        SetExpr::Values(values) => values.rows.first().map(|row| row.len()),
        SetExpr::Query(query) => written_width(&query.body),
        SetExpr::SetOperation { left, .. } => written_width(left),
        _ => None,
    }
}

/// Appends the remaining columns' names to the aliases `completions` names, by factor index.
struct Completer {
    index: usize,
    completions: Vec<(usize, Vec<String>)>,
}

impl VisitorMut for Completer {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let index = self.index;
        self.index += 1;
        let Some((_, names)) = self.completions.iter().find(|(i, _)| *i == index) else {
            return ControlFlow::Continue(());
        };
        if let TableFactor::Table {
            alias: Some(alias), ..
        }
        | TableFactor::Derived {
            alias: Some(alias), ..
        } = factor
        {
            // Quoted, so that the name is kept as it is.
            alias
                .columns
                .extend(names.iter().map(|name| TableAliasColumnDef {
                    name: Ident::with_quote('"', name),
                    data_type: None,
                }));
        }
        ControlFlow::Continue(())
    }
}
