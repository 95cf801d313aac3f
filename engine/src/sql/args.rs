//! Constant arguments of function-call syntax, as DuckDB's table functions and Tarn's pipeline
//! stages take them: positional values, then named ones with `=>` or `:=`.

use sqlparser::ast::{Expr, FunctionArg, FunctionArgExpr, UnaryOperator, Value};

use crate::error::{Result, TarnError};

/// A constant argument value.
#[derive(Debug, Clone, PartialEq)]
pub enum Const {
    Str(String),
    Bool(bool),
    Int(i64),
    Float(f64),
    List(Vec<Const>),
    Struct(Vec<(String, Const)>),
}

/// Refuses named arguments other than `allowed`, naming the first one found.
pub fn reject_named(name: &str, named: &[(String, Const)], allowed: &[&str]) -> Result<()> {
    match named
        .iter()
        .find(|(key, _)| !allowed.contains(&key.as_str()))
    {
        None => Ok(()),
        Some((key, _)) => Err(TarnError::Invalid(format!(
            "{name}() has no parameter '{key}'{}",
            if allowed.is_empty() {
                String::new()
            } else {
                format!(" (it takes {})", allowed.join(", "))
            }
        ))),
    }
}

/// A string, or a non-empty list of strings, as a list; `None` for anything else.
pub fn string_list(value: &Const) -> Option<Vec<String>> {
    match value {
        Const::Str(s) => Some(vec![s.clone()]),
        Const::List(items) if !items.is_empty() => items
            .iter()
            .map(|item| match item {
                Const::Str(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// The paths argument of a file function: a path or a non-empty list of paths.
pub fn as_paths(name: &str, value: &Const) -> Result<Vec<String>> {
    string_list(value).ok_or_else(|| {
        TarnError::Invalid(format!(
            "{name}(): the first argument must be a path or a non-empty list of paths, got {value:?}"
        ))
    })
}

/// Positional values, then `(name, value)` pairs.
pub type EvaluatedArgs = (Vec<Const>, Vec<(String, Const)>);

/// Splits a call's arguments into positional and named constants.
pub fn evaluate_args(name: &str, args: &[FunctionArg]) -> Result<EvaluatedArgs> {
    let mut positional = Vec::new();
    let mut named = Vec::new();
    for arg in args {
        match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => {
                positional.push(constant(name, expr)?)
            }
            FunctionArg::Named {
                name: key,
                arg: FunctionArgExpr::Expr(expr),
                ..
            } => named.push((key.value.to_ascii_lowercase(), constant(name, expr)?)),
            FunctionArg::ExprNamed {
                name: Expr::Identifier(key),
                arg: FunctionArgExpr::Expr(expr),
                ..
            } => named.push((key.value.to_ascii_lowercase(), constant(name, expr)?)),
            other => {
                return Err(TarnError::Invalid(format!(
                    "{name}(): unsupported argument '{other}'"
                )));
            }
        }
    }
    Ok((positional, named))
}

/// The value of a constant expression: a literal, a negative number, a list or a struct.
pub fn constant(function: &str, expr: &Expr) -> Result<Const> {
    let not_constant = || {
        TarnError::Invalid(format!(
            "{function}(): argument '{expr}' must be a constant"
        ))
    };
    match expr {
        Expr::Value(value) => match &value.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                Ok(Const::Str(s.clone()))
            }
            Value::Boolean(b) => Ok(Const::Bool(*b)),
            Value::Number(n, _) => match n.parse() {
                Ok(int) => Ok(Const::Int(int)),
                Err(_) => n.parse().map(Const::Float).map_err(|_| not_constant()),
            },
            _ => Err(not_constant()),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr: inner,
        } => match constant(function, inner)? {
            Const::Int(n) => Ok(Const::Int(-n)),
            Const::Float(n) => Ok(Const::Float(-n)),
            _ => Err(not_constant()),
        },
        Expr::Array(array) => Ok(Const::List(
            array
                .elem
                .iter()
                .map(|e| constant(function, e))
                .collect::<Result<_>>()?,
        )),
        Expr::Dictionary(fields) => Ok(Const::Struct(
            fields
                .iter()
                .map(|f| Ok((f.key.value.clone(), constant(function, &f.value)?)))
                .collect::<Result<_>>()?,
        )),
        _ => Err(not_constant()),
    }
}
