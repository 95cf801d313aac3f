//! Named settings for Tarn's scalar functions, DuckDB-style (`moe_route(v, 'r.safetensors',
//! score => 'sigmoid')`, `=>` or `:=`): a syntax rewrite that puts every named argument in its
//! parameter's place and fills the settings left out with NULL, which the function reads as its
//! default. So any subset can be given, in any order, which DataFusion's own named arguments do
//! not allow (they must fill the parameters in order).

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Statement, Value, VisitorMut,
};

use crate::error::{Result, TarnError};

/// The functions rewritten, with their parameters in order.
const FUNCTIONS: &[(&str, &[&str])] = &[("moe_route", &super::routing::PARAMETERS)];

/// Rewrites the named arguments of the [`FUNCTIONS`] in `statement`.
pub fn positional_settings(statement: &mut Statement) -> Result<()> {
    super::rewrite::run_visitor(statement, &mut Rewriter)
}

struct Rewriter;

impl VisitorMut for Rewriter {
    type Break = TarnError;

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<TarnError> {
        let Expr::Function(function) = expr else {
            return ControlFlow::Continue(());
        };
        let name = function.name.to_string().to_ascii_lowercase();
        let Some((_, parameters)) = FUNCTIONS.iter().find(|(f, _)| *f == name) else {
            return ControlFlow::Continue(());
        };
        let FunctionArguments::List(list) = &mut function.args else {
            return ControlFlow::Continue(());
        };
        match place(&name, parameters, std::mem::take(&mut list.args)) {
            Ok(args) => {
                list.args = args;
                ControlFlow::Continue(())
            }
            Err(err) => ControlFlow::Break(err),
        }
    }
}

/// The arguments in parameter order, NULL where a setting was left out before the last one
/// given.
fn place(function: &str, parameters: &[&str], args: Vec<FunctionArg>) -> Result<Vec<FunctionArg>> {
    let fail = |text: String| Err(TarnError::Invalid(format!("{function}: {text}")));
    let mut slots: Vec<Option<Expr>> = vec![None; parameters.len()];
    let mut seen_named = false;
    for (position, arg) in args.into_iter().enumerate() {
        let (name, value) = match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(value)) => (None, value),
            FunctionArg::Named {
                name,
                arg: FunctionArgExpr::Expr(value),
                ..
            } => (Some(name.value), value),
            FunctionArg::ExprNamed {
                name: Expr::Identifier(name),
                arg: FunctionArgExpr::Expr(value),
                ..
            } => (Some(name.value), value),
            other => return fail(format!("unexpected argument {other}")),
        };
        let slot = match name {
            None if seen_named => return fail("a positional argument after a named one".into()),
            None if position >= parameters.len() => {
                return fail(format!("at most {} arguments", parameters.len()));
            }
            None => position,
            Some(name) => {
                seen_named = true;
                let Some(slot) = parameters
                    .iter()
                    .position(|p| p.eq_ignore_ascii_case(&name))
                else {
                    return fail(format!(
                        "unknown setting '{name}'; expected one of {}",
                        parameters.join(", ")
                    ));
                };
                slot
            }
        };
        if slots[slot].replace(value).is_some() {
            return fail(format!("'{}' is given twice", parameters[slot]));
        }
    }
    let given = slots
        .iter()
        .rposition(Option::is_some)
        .map_or(0, |last| last + 1);
    Ok(slots
        .into_iter()
        .take(given)
        .map(|slot| {
            let value = slot.unwrap_or_else(|| Expr::value(Value::Null));
            FunctionArg::Unnamed(FunctionArgExpr::Expr(value))
        })
        .collect())
}
