//! `QUALIFY` conditions that hold no window function of their own:
//! `SELECT x, count(*) OVER () AS n FROM t QUALIFY x = 1`.
//!
//! DuckDB filters such a query's rows after the SELECT list's windows are computed (`n` counts
//! every row of `t`). DataFusion 55 plans that filter the same way, but first checks for a window
//! function in the SELECT list after it has replaced those functions with their output columns,
//! so it finds none and refuses the query. [`name_select_window`] adds one of the SELECT list's
//! own window functions to the condition in a term that is always false,
//! `x = 1 OR (count(*) OVER () IS NULL AND false)`: the check passes, the window is the one the
//! SELECT list computes anyway (DataFusion computes each distinct window once), and the
//! optimizer's simplification removes the term before anything runs.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, Select, SelectItem, Statement, Value, VisitorMut, visit_expressions,
};

use super::rewrite::run_visitor;
use crate::error::{Result, TarnError};

/// Gives every QUALIFY condition of `statement` that names no window function one of its
/// SELECT list's, in a term that is always false. A SELECT with no window function at all is
/// left for DataFusion to refuse, as DuckDB refuses it.
pub fn name_select_window(statement: &mut Statement) -> Result<()> {
    run_visitor(statement, &mut QualifyWindows)
}

struct QualifyWindows;

impl VisitorMut for QualifyWindows {
    type Break = TarnError;

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<TarnError> {
        let Some(condition) = select.qualify.as_mut() else {
            return ControlFlow::Continue(());
        };
        if first_window(condition).is_some() {
            return ControlFlow::Continue(());
        }
        let window = select.projection.iter().find_map(|item| match item {
            SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => {
                first_window(expr)
            }
            _ => None,
        });
        if let Some(window) = window {
            let never = Expr::Nested(Box::new(Expr::BinaryOp {
                left: Box::new(Expr::IsNull(Box::new(window))),
                op: BinaryOperator::And,
                right: Box::new(Expr::value(Value::Boolean(false))),
            }));
            let written = std::mem::replace(condition, Expr::value(Value::Null));
            *condition = Expr::BinaryOp {
                left: Box::new(Expr::Nested(Box::new(written))),
                op: BinaryOperator::Or,
                right: Box::new(never),
            };
        }
        ControlFlow::Continue(())
    }
}

/// The first window function call in `expr`, outermost first.
pub(super) fn first_window(expr: &Expr) -> Option<Expr> {
    let found = visit_expressions(expr, |e| match e {
        Expr::Function(f) if f.over.is_some() => ControlFlow::Break(e.clone()),
        _ => ControlFlow::Continue(()),
    });
    match found {
        ControlFlow::Break(window) => Some(window),
        ControlFlow::Continue(()) => None,
    }
}
