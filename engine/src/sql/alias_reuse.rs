//! DuckDB lets a SELECT item, and the WHERE clause, use the alias of an earlier item:
//! `SELECT length(text) AS n, n > 100 AS long FROM t WHERE n > 10`. DataFusion looks such a
//! name up among the FROM clause's columns only, so [`substitute_aliases`] puts the aliased
//! expression in its place, unless the FROM clause has a column of that name, which DuckDB
//! prefers too. It runs after the result columns are named, so `n > 100` keeps its name.

use std::ops::ControlFlow;

use datafusion::execution::SessionState;
use sqlparser::ast::visit_expressions_mut;
use sqlparser::ast::{Expr, Ident, Select, SelectItem, Statement, visit_expressions};

use super::expand::{from_schema, outer_selects};
use crate::error::Result;

/// Replaces each reuse of an earlier item's alias in the outermost SELECTs (see the module
/// documentation). Plans the FROM clause only for a SELECT that reuses an alias.
pub async fn substitute_aliases(statement: &mut Statement, state: &SessionState) -> Result<()> {
    let (with, selects) = outer_selects(statement);
    for select in selects {
        if !reuses_alias(select) {
            continue;
        }
        let columns: Vec<String> = match select.from.is_empty() {
            true => vec![],
            false => {
                let from: Vec<String> = select.from.iter().map(|t| t.to_string()).collect();
                let schema = from_schema(&with, &from.join(", "), state).await?;
                schema.fields().iter().map(|f| f.name().clone()).collect()
            }
        };
        substitute(select, &columns);
    }
    Ok(())
}

/// Whether a SELECT item, or the WHERE clause, names an alias an earlier item gives.
fn reuses_alias(select: &Select) -> bool {
    let mut aliases: Vec<&Ident> = Vec::new();
    for item in &select.projection {
        let expr = match item {
            SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => expr,
            _ => continue,
        };
        if names_any(expr, &aliases) {
            return true;
        }
        if let SelectItem::ExprWithAlias { alias, .. } = item {
            aliases.push(alias);
        }
    }
    select
        .selection
        .as_ref()
        .is_some_and(|selection| names_any(selection, &aliases))
}

/// Whether `expr` holds an identifier spelled as one of `aliases`.
fn names_any(expr: &Expr, aliases: &[&Ident]) -> bool {
    let found = visit_expressions(expr, |e| match e {
        Expr::Identifier(name) if aliases.iter().any(|a| same_name(a, name)) => {
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    });
    found.is_break()
}

/// Whether `name` refers to `alias`: exactly when either is quoted, in any case otherwise.
fn same_name(alias: &Ident, name: &Ident) -> bool {
    match alias.quote_style.or(name.quote_style) {
        Some(_) => alias.value == name.value,
        None => alias.value.eq_ignore_ascii_case(&name.value),
    }
}

/// Puts each earlier item's expression in place of its alias, in later items and the WHERE
/// clause, where no FROM column has the name.
fn substitute(select: &mut Select, columns: &[String]) {
    let mut aliases: Vec<(Ident, Expr)> = Vec::new();
    for item in &mut select.projection {
        let expr = match item {
            SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => expr,
            _ => continue,
        };
        replace(expr, &aliases, columns);
        if let SelectItem::ExprWithAlias { expr, alias } = item {
            aliases.push((alias.clone(), expr.clone()));
        }
    }
    if let Some(selection) = &mut select.selection {
        replace(selection, &aliases, columns);
    }
}

/// Replaces the aliases in `expr`. An expression holding a subquery is left alone (a name
/// there may be the subquery's own column), and so is an alias a lambda in `expr` takes as its
/// parameter's name.
fn replace(expr: &mut Expr, aliases: &[(Ident, Expr)], columns: &[String]) {
    let mut parameters: Vec<Ident> = Vec::new();
    let mut has_subquery = false;
    let _ = visit_expressions(expr, |e| {
        match e {
            Expr::Lambda(lambda) => parameters.extend(lambda.params.iter().map(|p| p.name.clone())),
            Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => {
                has_subquery = true
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    if has_subquery {
        return;
    }
    let _ = visit_expressions_mut(expr, |e| {
        if let Expr::Identifier(name) = e
            && !columns.iter().any(|c| c.eq_ignore_ascii_case(&name.value))
            && !parameters.iter().any(|p| same_name(p, name))
            && let Some((_, aliased)) = aliases.iter().find(|(a, _)| same_name(a, name))
        {
            *e = Expr::Nested(Box::new(aliased.clone()));
        }
        ControlFlow::<()>::Continue(())
    });
}
