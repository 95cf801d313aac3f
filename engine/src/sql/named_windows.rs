//! Named windows: `sum(x) OVER w ... WINDOW w AS (PARTITION BY k ORDER BY t)`.
//!
//! DataFusion resolves a named window only in the SELECT list, and ignores the name in a window
//! that builds on another (`OVER (w ROWS 1 PRECEDING)`, `WINDOW w2 AS (w ORDER BY t)`): the
//! second silently lost `w`'s partitions, and `QUALIFY rank() OVER w = 1` or a subquery's own
//! `WINDOW` clause failed. [`inline`] writes every window out in full where it is used, with
//! DuckDB's rules for building on a named window: the new window may add a PARTITION BY or an
//! ORDER BY the named one lacks, and may not copy a window that has a frame.

use std::collections::HashMap;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Ident, NamedWindowExpr, OrderBy, Query, Select, SetExpr, Statement, VisitorMut,
    WindowSpec, WindowType, visit_expressions_mut,
};

use super::rewrite::run_visitor;
use crate::error::{Result, TarnError};

/// Writes out the named windows of every SELECT in `statement` where they are used: in the
/// SELECT list, HAVING, QUALIFY and the query's ORDER BY.
pub fn inline(statement: &mut Statement) -> Result<()> {
    run_visitor(statement, &mut WindowInliner)
}

struct WindowInliner;

impl VisitorMut for WindowInliner {
    type Break = TarnError;

    /// After the query's subqueries, which resolve their own windows first: a name left in a
    /// subquery would otherwise take the outer SELECT's window of that name.
    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<TarnError> {
        let result = match query.body.as_mut() {
            // `ORDER BY sum(x) OVER w` uses the windows of the query's SELECT.
            SetExpr::Select(select) => inline_select(select, Some(&mut query.order_by)),
            body => selects_of(body)
                .into_iter()
                .try_for_each(|select| inline_select(select, None)),
        };
        into_flow(result)
    }
}

/// Writes out the windows that `select` (and `order_by`, the ORDER BY of its query) name, and
/// drops its `WINDOW` clause, which nothing names any longer.
fn inline_select(select: &mut Select, order_by: Option<&mut Option<OrderBy>>) -> Result<()> {
    let windows = definitions(select)?;
    let Select {
        projection,
        having,
        qualify,
        selection,
        named_window,
        ..
    } = select;
    write_out(projection, &windows)?;
    write_out(having, &windows)?;
    write_out(qualify, &windows)?;
    write_out(selection, &windows)?;
    if let Some(order_by) = order_by {
        write_out(order_by, &windows)?;
    }
    named_window.clear();
    Ok(())
}

/// The SELECTs a set operation combines (each query in it resolves its own).
fn selects_of(body: &mut SetExpr) -> Vec<&mut Select> {
    match body {
        SetExpr::Select(select) => vec![select.as_mut()],
        SetExpr::SetOperation { left, right, .. } => {
            let mut selects = selects_of(left);
            selects.extend(selects_of(right));
            selects
        }
        _ => vec![],
    }
}

fn into_flow(result: Result<()>) -> ControlFlow<TarnError> {
    match result {
        Ok(()) => ControlFlow::Continue(()),
        Err(err) => ControlFlow::Break(err),
    }
}

/// A window's name as SQL compares it: unquoted names ignore case.
fn key(name: &Ident) -> String {
    match name.quote_style {
        Some(_) => name.value.clone(),
        None => name.value.to_lowercase(),
    }
}

/// The SELECT's `WINDOW` clause, each window written out in full, by [`key`].
fn definitions(select: &Select) -> Result<HashMap<String, WindowSpec>> {
    let mut windows: HashMap<String, WindowSpec> = HashMap::new();
    for definition in &select.named_window {
        let name = key(&definition.0);
        if windows.contains_key(&name) {
            return Err(TarnError::Parse(format!(
                "window \"{}\" is already defined",
                definition.0.value
            )));
        }
        let spec = match &definition.1 {
            NamedWindowExpr::NamedWindow(base) => named(base, &windows)?.clone(),
            NamedWindowExpr::WindowSpec(spec) => resolved(spec, &windows)?,
        };
        windows.insert(name, spec);
    }
    Ok(windows)
}

fn named<'a>(name: &Ident, windows: &'a HashMap<String, WindowSpec>) -> Result<&'a WindowSpec> {
    windows
        .get(&key(name))
        .ok_or_else(|| TarnError::Parse(format!("window \"{}\" does not exist", name.value)))
}

/// `spec` with the named window it builds on (`(w ORDER BY t)`) copied into it.
fn resolved(spec: &WindowSpec, windows: &HashMap<String, WindowSpec>) -> Result<WindowSpec> {
    let Some(base_name) = &spec.window_name else {
        return Ok(spec.clone());
    };
    let base = named(base_name, windows)?;
    let name = &base_name.value;
    let refuse = |message: String| Err(TarnError::Parse(message));
    if !spec.partition_by.is_empty() && !base.partition_by.is_empty() {
        return refuse(format!(
            "Cannot override PARTITION BY clause of window \"{name}\""
        ));
    }
    if !spec.order_by.is_empty() && !base.order_by.is_empty() {
        return refuse(format!(
            "Cannot override ORDER BY clause of window \"{name}\""
        ));
    }
    if base.window_frame.is_some() {
        return refuse(format!(
            "cannot copy window \"{name}\" because it has a frame clause"
        ));
    }
    Ok(WindowSpec {
        window_name: None,
        partition_by: own_or_base(&spec.partition_by, &base.partition_by),
        order_by: own_or_base(&spec.order_by, &base.order_by),
        window_frame: spec.window_frame.clone(),
    })
}

/// A window's own clause where it has one, else the named window's.
fn own_or_base<T: Clone>(own: &[T], base: &[T]) -> Vec<T> {
    match own.is_empty() {
        true => base.to_vec(),
        false => own.to_vec(),
    }
}

/// Replaces every window in `node` that names one of `windows` by the window written out.
fn write_out<T: sqlparser::ast::VisitMut>(
    node: &mut T,
    windows: &HashMap<String, WindowSpec>,
) -> Result<()> {
    let mut failure = None;
    let _ = visit_expressions_mut(node, |expr: &mut Expr| {
        let Expr::Function(function) = expr else {
            return ControlFlow::Continue(());
        };
        let written_out = match &function.over {
            Some(WindowType::NamedWindow(name)) => named(name, windows).cloned(),
            Some(WindowType::WindowSpec(spec)) if spec.window_name.is_some() => {
                resolved(spec, windows)
            }
            _ => return ControlFlow::Continue(()),
        };
        match written_out {
            Ok(spec) => {
                function.over = Some(WindowType::WindowSpec(spec));
                ControlFlow::Continue(())
            }
            Err(err) => {
                failure = Some(err);
                ControlFlow::Break(())
            }
        }
    });
    failure.map_or(Ok(()), Err)
}
