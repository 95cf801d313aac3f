//! `x > ANY (SELECT ...)` and `x = ALL (SELECT ...)` in a select list. DataFusion plans these
//! into an EXISTS its physical planner then refuses outside a WHERE clause ("Physical plan does
//! not support logical expression Exists"), where DuckDB answers them. [`as_exists`] writes each
//! one in a select list as the correlated EXISTS tests DataFusion runs there, keeping SQL's
//! three-valued answer:
//!
//! * `x op ANY (q)` is true where some value of `q` compares true; else NULL where `x` is NULL
//!   and `q` has rows, or `q` has a NULL; else false (so false for no rows at all);
//! * `x op ALL (q)` is `NOT (x negated-op ANY (q))`.
//!
//! It runs after the columns are named, so a column keeps the name of the comparison written.
//! In WHERE, DataFusion's own plan runs and is left alone.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, Query, Select, Statement, VisitorMut, visit_expressions_mut,
};

use super::rewrite::{negated_if, run_visitor};
use crate::error::{Result, TarnError};

/// The alias of a compared subquery's rows, and of its one column.
const ROWS: &str = "tarn_compared";
const VALUE: &str = "tarn_compared_value";

/// Rewrites each quantified comparison with a subquery in a select list of `statement`.
pub(super) fn as_exists(statement: &mut Statement) -> Result<()> {
    run_visitor(statement, &mut InSelectLists)
}

struct InSelectLists;

impl VisitorMut for InSelectLists {
    type Break = TarnError;

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<TarnError> {
        visit_expressions_mut(&mut select.projection, |expr: &mut Expr| {
            let rewritten = match expr {
                Expr::AnyOp {
                    left,
                    compare_op,
                    right,
                    ..
                } => match right.as_ref() {
                    Expr::Subquery(query) => Some(any(left, compare_op, query)),
                    _ => None,
                },
                Expr::AllOp {
                    left,
                    compare_op,
                    right,
                } => match (right.as_ref(), negated(compare_op)) {
                    (Expr::Subquery(query), Some(op)) => {
                        Some(any(left, &op, query).map(|any| negated_if(true, any)))
                    }
                    _ => None,
                },
                _ => None,
            };
            match rewritten {
                Some(Ok(rewritten)) => {
                    *expr = rewritten;
                    ControlFlow::Continue(())
                }
                Some(Err(err)) => ControlFlow::Break(err),
                None => ControlFlow::Continue(()),
            }
        })
    }
}

/// `left op ANY (query)` as EXISTS tests (see the module documentation).
fn any(left: &Expr, op: &BinaryOperator, query: &Query) -> Result<Expr> {
    let rows = format!("(SELECT 1 FROM ({query}) AS {ROWS}({VALUE})");
    let value = format!("{ROWS}.{VALUE}");
    let text = format!(
        "(CASE WHEN EXISTS {rows} WHERE ({left}) {op} {value}) THEN true \
         WHEN ({left}) IS NULL AND EXISTS {rows}) THEN NULL \
         WHEN EXISTS {rows} WHERE {value} IS NULL) THEN NULL ELSE false END)"
    );
    super::dialect::parse_expr(&text)
        .map_err(|e| TarnError::Parse(format!("rewriting `{left} {op} ANY (...)`: {e}")))
}

/// The comparison true exactly where `op` is false (on values that are not NULL).
fn negated(op: &BinaryOperator) -> Option<BinaryOperator> {
    Some(match op {
        BinaryOperator::Eq => BinaryOperator::NotEq,
        BinaryOperator::NotEq => BinaryOperator::Eq,
        BinaryOperator::Lt => BinaryOperator::GtEq,
        BinaryOperator::LtEq => BinaryOperator::Gt,
        BinaryOperator::Gt => BinaryOperator::LtEq,
        BinaryOperator::GtEq => BinaryOperator::Lt,
        _ => return None,
    })
}
