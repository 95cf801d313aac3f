//! `f(x = 1)` in an expression is a comparison, as in DuckDB: `sum(label = 1)`,
//! `avg(CAST(pred = label AS INT))`, `coalesce(flag = 'y', false)`, `count(DISTINCT lang =
//! 'en')`. sqlparser's DuckDB dialect reads `name = value` in any call as a named argument
//! (DuckDB's spelling for table functions, `read_csv('f', header = true)`), and DataFusion then
//! refused the call ("does not support named arguments"). [`as_comparisons`] makes each such
//! argument of a call inside an expression the comparison again; a table function in FROM,
//! whose arguments are not an expression's, keeps its named ones, as do `=>` and `:=`.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArgOperator, FunctionArguments,
    Statement, VisitMut, VisitorMut,
};

/// Rewrites every `name = value` argument of a call in `statement`'s expressions.
pub(super) fn as_comparisons(statement: &mut Statement) {
    let _ = statement.visit(&mut Comparisons);
}

struct Comparisons;

impl VisitorMut for Comparisons {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Expr::Function(call) = expr else {
            return ControlFlow::Continue(());
        };
        let FunctionArguments::List(list) = &mut call.args else {
            return ControlFlow::Continue(());
        };
        for arg in &mut list.args {
            let (name, value) = match arg {
                FunctionArg::Named {
                    name,
                    arg: FunctionArgExpr::Expr(value),
                    operator: FunctionArgOperator::Equals,
                } => (Expr::Identifier(name.clone()), value),
                FunctionArg::ExprNamed {
                    name,
                    arg: FunctionArgExpr::Expr(value),
                    operator: FunctionArgOperator::Equals,
                } => (name.clone(), value),
                _ => continue,
            };
            let comparison = Expr::BinaryOp {
                left: Box::new(name),
                op: BinaryOperator::Eq,
                right: Box::new(std::mem::replace(
                    value,
                    Expr::value(sqlparser::ast::Value::Null),
                )),
            };
            *arg = FunctionArg::Unnamed(FunctionArgExpr::Expr(comparison));
        }
        ControlFlow::Continue(())
    }
}
