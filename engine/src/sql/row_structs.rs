//! A table's name as a value, DuckDB's row of that table as a STRUCT: `SELECT to_json(t) FROM
//! docs t` gives each row as one JSON object (the way a corpus is written out as JSON lines),
//! `SELECT t FROM docs t` a STRUCT column with a field per column. DataFusion knows only
//! columns by such a name. [`rows_as_structs`] writes each such name in a select list as
//! `struct_pack("a" := t."a", ...)` over the relation's columns, the item keeping the name
//! DuckDB gives it (`to_json(t)`); a column of that name is still the column.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArgOperator, FunctionArguments, Ident, Select,
    SelectItem, visit_expressions, visit_expressions_mut,
};

use super::rewrite::{call, written_name};

/// Whether an item of `select` names one of `relations` where a value goes (before the
/// columns are known: one may be a column of that name).
pub(super) fn reads_rows(select: &Select, relations: &[String]) -> bool {
    select.projection.iter().any(|item| match item {
        SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => {
            visit_expressions(expr, |e| match row_of(e, relations) {
                Some(_) => ControlFlow::Break(()),
                None => ControlFlow::Continue(()),
            })
            .is_break()
        }
        _ => false,
    })
}

/// The relation `expr` names, when it is a bare name one of `relations` goes by.
fn row_of<'a>(expr: &Expr, relations: &'a [String]) -> Option<&'a String> {
    let Expr::Identifier(name) = expr else {
        return None;
    };
    relations
        .iter()
        .find(|relation| relation.eq_ignore_ascii_case(&name.value))
}

/// Writes each relation named as a value in `select`'s items as the STRUCT of its row (see the
/// module documentation); `columns` are the FROM clause's, each with the relation it is
/// reached through.
pub(super) fn rows_as_structs(
    select: &mut Select,
    relations: &[String],
    columns: &[(Option<String>, String)],
) {
    let is_column = |name: &str| columns.iter().any(|(_, c)| c.eq_ignore_ascii_case(name));
    let rows: Vec<String> = relations
        .iter()
        .filter(|relation| !is_column(relation))
        .cloned()
        .collect();
    for item in &mut select.projection {
        let (SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) = item else {
            continue;
        };
        let named = written_name(expr, relations).0;
        let mut replaced = false;
        let _ = visit_expressions_mut(expr, |e| {
            if let Some(relation) = row_of(e, &rows) {
                *e = row_struct(relation, columns);
                replaced = true;
            }
            ControlFlow::<()>::Continue(())
        });
        if replaced && let SelectItem::UnnamedExpr(expr) = item {
            *item = SelectItem::ExprWithAlias {
                expr: expr.clone(),
                alias: Ident::with_quote('"', named),
            };
        }
    }
}

/// `struct_pack("a" := relation."a", ...)` over the columns reached through `relation`.
fn row_struct(relation: &str, columns: &[(Option<String>, String)]) -> Expr {
    let fields = columns
        .iter()
        .filter(|(qualifier, _)| {
            qualifier
                .as_ref()
                .is_some_and(|q| q.eq_ignore_ascii_case(relation))
        })
        .map(|(qualifier, name)| FunctionArg::Named {
            name: Ident::with_quote('"', name),
            arg: FunctionArgExpr::Expr(Expr::CompoundIdentifier(vec![
                Ident::with_quote('"', qualifier.as_deref().unwrap_or(relation)),
                Ident::with_quote('"', name),
            ])),
            operator: FunctionArgOperator::Assignment,
        })
        .collect();
    let mut packed = call("struct_pack", []);
    if let Expr::Function(function) = &mut packed
        && let FunctionArguments::List(list) = &mut function.args
    {
        list.args = fields;
    }
    packed
}
