//! DuckDB's `unnest(l, max_depth := n)` and `unnest(l, recursive := true)`: a list of lists
//! unnested several levels at once, and with `recursive`, every level, a STRUCT at the bottom
//! becoming a column per field (a field that is a STRUCT in turn, a column per its fields).
//!
//! DataFusion's `unnest` takes one argument and one level, so a call in the result's select
//! list becomes nested calls, `unnest(unnest(l))`, as many as the levels asked for or, for
//! `recursive`, as the argument's type has (learnt by planning the argument over the FROM
//! clause); the fields of a STRUCT at the bottom are read from it by name. The column keeps the
//! call's name, as in DuckDB; a field's column is named after the field.

use std::collections::HashMap;
use std::ops::ControlFlow;

use datafusion::arrow::datatypes::{DataType, Fields};
use datafusion::execution::SessionState;
use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Select, SelectItem, Statement,
    Value, Visit, Visitor, VisitorMut,
};

use super::rewrite::call;
use crate::error::{Result, TarnError};

/// How many levels a call asks for.
enum Levels {
    Depth(usize),
    All,
}

/// Rewrites the leveled `unnest` calls of every select list (see the module documentation):
/// the result's, and a derived table's or a subquery's, where a LATERAL subquery's moves.
pub(super) async fn nest_unnests(statement: &mut Statement, state: &SessionState) -> Result<()> {
    let mut found = Recursive::default();
    if let ControlFlow::Break(err) = Visit::visit(&*statement, &mut found) {
        return Err(err);
    }
    if !found.leveled {
        return Ok(());
    }
    let with = super::expand::with_text(statement);
    let mut types = HashMap::new();
    for (from, value) in found.values {
        let data_type = value_type(&with, &from, &value, state).await?;
        types.insert((from, value.to_string()), data_type);
    }
    super::rewrite::run_visitor(statement, &mut Nester { types: &types })
}

/// Whether a statement has leveled unnests, and the values unnested through every level, each
/// with its select's FROM clause as SQL: their types are learnt before the rewrite.
#[derive(Default)]
struct Recursive {
    leveled: bool,
    values: Vec<(String, Expr)>,
}

impl Visitor for Recursive {
    type Break = TarnError;

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<TarnError> {
        for item in &select.projection {
            match leveled(item) {
                Some(Ok((value, Levels::All))) => {
                    self.leveled = true;
                    self.values.push((from_sql(select), value));
                }
                Some(Ok(_)) => self.leveled = true,
                Some(Err(err)) => return ControlFlow::Break(err),
                None => {}
            }
        }
        ControlFlow::Continue(())
    }
}

/// Rewrites each select's leveled unnests, with the types [`Recursive`] asked for. A select is
/// rewritten before the selects inside it, so its FROM clause is as [`Recursive`] saw it.
struct Nester<'a> {
    types: &'a HashMap<(String, String), DataType>,
}

impl VisitorMut for Nester<'_> {
    type Break = TarnError;

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<TarnError> {
        if !select.projection.iter().any(|item| leveled(item).is_some()) {
            return ControlFlow::Continue(());
        }
        let from = from_sql(select);
        let mut projection = Vec::with_capacity(select.projection.len());
        for item in select.projection.drain(..) {
            let Some(Ok((value, levels))) = leveled(&item) else {
                projection.push(item);
                continue;
            };
            let name = match &item {
                SelectItem::ExprWithAlias { alias, .. } => alias.clone(),
                _ => Ident::with_quote('"', item.to_string()),
            };
            match levels {
                Levels::Depth(depth) => projection.push(SelectItem::ExprWithAlias {
                    expr: (0..depth).fold(value, |inner, _| unnest(inner)),
                    alias: name,
                }),
                Levels::All => {
                    let data_type = &self.types[&(from.clone(), value.to_string())];
                    projection.extend(all_levels(value, data_type, name));
                }
            }
        }
        select.projection = projection;
        ControlFlow::Continue(())
    }
}

/// A select's FROM clause as SQL, empty where it has none.
fn from_sql(select: &Select) -> String {
    let from: Vec<String> = select.from.iter().map(ToString::to_string).collect();
    from.join(", ")
}

/// The argument and levels of `unnest(value, max_depth := n)` or `unnest(value, recursive :=
/// true)` as a select item; `None` for any other item, an error for a bad setting.
fn leveled(item: &SelectItem) -> Option<Result<(Expr, Levels)>> {
    let (SelectItem::UnnamedExpr(Expr::Function(call))
    | SelectItem::ExprWithAlias {
        expr: Expr::Function(call),
        ..
    }) = item
    else {
        return None;
    };
    let is_unnest = matches!(call.name.0.as_slice(), [part]
        if part.as_ident().is_some_and(|i| i.value.eq_ignore_ascii_case("unnest")));
    let FunctionArguments::List(list) = &call.args else {
        return None;
    };
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(value)), setting] = list.args.as_slice() else {
        return None;
    };
    let (name, setting) = match setting {
        FunctionArg::Named {
            name,
            arg: FunctionArgExpr::Expr(setting),
            ..
        } => (name.value.to_ascii_lowercase(), setting),
        FunctionArg::ExprNamed {
            name: Expr::Identifier(name),
            arg: FunctionArgExpr::Expr(setting),
            ..
        } => (name.value.to_ascii_lowercase(), setting),
        _ => return None,
    };
    if !is_unnest {
        return None;
    }
    let literal = match setting {
        Expr::Value(value) => Some(&value.value),
        _ => None,
    };
    let levels = match (name.as_str(), literal) {
        ("recursive", Some(Value::Boolean(true))) => Ok(Levels::All),
        ("recursive", Some(Value::Boolean(false))) => Ok(Levels::Depth(1)),
        ("max_depth", Some(Value::Number(n, _))) => match n.parse::<usize>() {
            Ok(depth) if depth >= 1 => Ok(Levels::Depth(depth)),
            _ => Err(TarnError::Invalid(format!(
                "unnest: max_depth must be 1 or more, got {n}"
            ))),
        },
        ("recursive", _) => Err(TarnError::Invalid(
            "unnest: recursive must be true or false".into(),
        )),
        ("max_depth", _) => Err(TarnError::Invalid(
            "unnest: max_depth must be a whole number".into(),
        )),
        (other, _) => Err(TarnError::Invalid(format!(
            "unnest has no parameter '{other}' (it takes recursive and max_depth)"
        ))),
    };
    Some(levels.map(|levels| (value.clone(), levels)))
}

/// The type of `value` read over the FROM clause `from` under the statement's WITH clause.
async fn value_type(
    with: &str,
    from: &str,
    value: &Expr,
    state: &SessionState,
) -> Result<DataType> {
    let probe = match from.is_empty() {
        true => format!("{with}SELECT {value}"),
        false => format!("{with}SELECT {value} FROM {from}"),
    };
    let schema = super::expand::probe_schema(&probe, state).await?;
    Ok(schema.field(0).data_type().clone())
}

/// `value` unnested through every list level of its type, named `name`; or, with a STRUCT at
/// the bottom, a column per field.
fn all_levels(value: Expr, data_type: &DataType, name: Ident) -> Vec<SelectItem> {
    let mut expr = value;
    let mut data_type = data_type;
    while let DataType::List(element)
    | DataType::LargeList(element)
    | DataType::FixedSizeList(element, _) = data_type
    {
        expr = unnest(expr);
        data_type = element.data_type();
    }
    match data_type {
        DataType::Struct(fields) => field_columns(&expr, fields),
        _ => vec![SelectItem::ExprWithAlias { expr, alias: name }],
    }
}

/// A column per field of the STRUCT `value`, and per field of a STRUCT field, named after it.
fn field_columns(value: &Expr, fields: &Fields) -> Vec<SelectItem> {
    fields
        .iter()
        .flat_map(|field| {
            let read = call("get_field", vec![value.clone(), text(field.name())]);
            match field.data_type() {
                DataType::Struct(inner) => field_columns(&read, inner),
                _ => vec![SelectItem::ExprWithAlias {
                    expr: read,
                    alias: Ident::with_quote('"', field.name()),
                }],
            }
        })
        .collect()
}

fn unnest(value: Expr) -> Expr {
    call("unnest", vec![value])
}

fn text(value: &str) -> Expr {
    Expr::value(Value::SingleQuotedString(value.to_string()))
}
