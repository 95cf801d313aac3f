//! DuckDB's `date_part(['year', 'month'], d)`: several parts of a date or timestamp at once,
//! as a STRUCT with a field per part (`{'year': 2024, 'month': 3}`). It becomes
//! `named_struct('year', date_part('year', d), 'month', date_part('month', d))`, so each part
//! is read as `date_part` reads it alone.

use sqlparser::ast::{Expr, Function, Value};

use super::function_names::{plain_arguments, plain_name};
use super::rewrite::call;

/// The struct of parts a `date_part([...], d)` call asks for; `None` for any other call.
pub(super) fn as_struct(function: &Function) -> Option<Expr> {
    let name = plain_name(&function.name)?;
    if !matches!(name.as_str(), "date_part" | "datepart") {
        return None;
    }
    let arguments = plain_arguments(function)?;
    let [Expr::Array(parts), value] = arguments.as_slice() else {
        return None;
    };
    let names: Option<Vec<String>> = parts
        .elem
        .iter()
        .map(|part| match part {
            Expr::Value(v) => v.value.clone().into_string(),
            _ => None,
        })
        .collect();
    let mut fields = Vec::new();
    for part in names? {
        let label = Expr::value(Value::SingleQuotedString(part.to_ascii_lowercase()));
        fields.push(label.clone());
        fields.push(call("date_part", [label, value.clone()]));
    }
    Some(call("named_struct", fields))
}
