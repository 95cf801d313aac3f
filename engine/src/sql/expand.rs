//! Select-list forms that need the FROM clause's columns before DataFusion sees them:
//! `COLUMNS('regex')` and `COLUMNS(*)` (alone or inside an expression, once per matching
//! column) and
//! `* RENAME (a AS b, ...)` (every column in order, some renamed).
//!
//! `* RENAME` does not parse, so [`mark_renames`] first turns it into a marker call
//! `__tarn_star_rename('a', 'b', ...)`; [`expand_select_lists`] then replaces markers and
//! `COLUMNS` calls using the columns that `SELECT * FROM <same FROM>` has.

use super::dialect::TarnDialect;
use super::tokens::{is_keyword, skip_whitespace};
use datafusion::execution::SessionState;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::tokenizer::Token;
use regex::Regex;
use sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Select, SelectItem,
    SetExpr, Statement, Value,
};
use sqlparser::parser::Parser;

use crate::error::{Result, TarnError};

const RENAME_MARKER: &str = "__tarn_star_rename";

/// Rewrites `* RENAME (a AS b, c AS d)` into the marker call the expansion step reads.
pub fn mark_renames(sql: &str) -> Result<String> {
    if !sql.to_ascii_uppercase().contains("RENAME") {
        return Ok(sql.to_string());
    }
    let mut tokens = super::tokenize(sql)?;
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == Token::Mul {
            let rename = skip_whitespace(&tokens, i + 1);
            let is_rename = tokens.get(rename).is_some_and(|t| is_keyword(t, "RENAME"));
            let open = skip_whitespace(&tokens, rename + 1);
            if is_rename && tokens.get(open) == Some(&Token::LParen) {
                let close = (open..tokens.len())
                    .find(|&k| tokens[k] == Token::RParen)
                    .ok_or_else(|| TarnError::Parse("unclosed RENAME list".into()))?;
                let pairs = rename_pairs(&tokens[open + 1..close])?;
                let args: Vec<String> = pairs
                    .iter()
                    .flat_map(|(from, to)| [from, to])
                    .map(|name| format!("'{}'", name.replace('\'', "''")))
                    .collect();
                let call = format!("{RENAME_MARKER}({})", args.join(", "));
                let replacement = super::tokenize(&call).expect("the marker call tokenizes");
                let inserted = replacement.len();
                tokens.splice(i..=close, replacement);
                i += inserted;
                continue;
            }
        }
        i += 1;
    }
    Ok(tokens.iter().map(|t| t.to_string()).collect())
}

fn rename_pairs(tokens: &[Token]) -> Result<Vec<(String, String)>> {
    let words: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let bad = || TarnError::Parse("RENAME expects (column AS new_name, ...)".into());
    let mut pairs = Vec::new();
    for chunk in words.split(|t| **t == Token::Comma) {
        match chunk {
            [Token::Word(from), Token::Word(kw), Token::Word(to)]
                if kw.value.eq_ignore_ascii_case("AS") =>
            {
                pairs.push((from.value.clone(), to.value.clone()))
            }
            _ => return Err(bad()),
        }
    }
    Ok(pairs)
}

/// Expands `COLUMNS(...)` and rename markers in the outermost query's select lists.
pub async fn expand_select_lists(statement: &mut Statement, state: &SessionState) -> Result<()> {
    let query = match statement {
        Statement::Query(query) => query.as_mut(),
        Statement::CreateTable(create) => match &mut create.query {
            Some(query) => query.as_mut(),
            None => return Ok(()),
        },
        _ => return Ok(()),
    };
    let with = query.with.clone();
    let mut body = query.body.as_mut();
    let mut selects: Vec<&mut Select> = Vec::new();
    loop {
        match body {
            SetExpr::Select(select) => {
                selects.push(select);
                break;
            }
            SetExpr::SetOperation { left, right, .. } => {
                if let SetExpr::Select(select) = right.as_mut() {
                    selects.push(select);
                }
                body = left.as_mut();
            }
            _ => break,
        }
    }
    for select in selects {
        if !select.projection.iter().any(needs_expansion) {
            continue;
        }
        let columns = from_columns(select, with.as_ref(), state).await?;
        let mut projection = Vec::with_capacity(select.projection.len());
        for item in select.projection.drain(..) {
            projection.extend(expand_item(item, &columns)?);
        }
        select.projection = unique_names(projection);
    }
    Ok(())
}

/// A column of the FROM clause: its qualifier (table alias) if any, and its name.
type Column = (Option<String>, String);

async fn from_columns(
    select: &Select,
    with: Option<&sqlparser::ast::With>,
    state: &SessionState,
) -> Result<Vec<Column>> {
    if select.from.is_empty() {
        return Err(TarnError::Invalid(
            "COLUMNS and * RENAME need a FROM clause".into(),
        ));
    }
    let from: Vec<String> = select.from.iter().map(|t| t.to_string()).collect();
    let with = with.map(|w| format!("{w} ")).unwrap_or_default();
    let probe = format!("{with}SELECT * FROM {}", from.join(", "));
    let statement = Parser::parse_sql(&TarnDialect, &probe)
        .map_err(|e| TarnError::Parse(e.to_string()))?
        .remove(0);
    let plan = state
        .statement_to_plan(DFStatement::Statement(Box::new(statement)))
        .await?;
    Ok(plan
        .schema()
        .iter()
        .map(|(qualifier, field)| {
            (
                qualifier.map(|q| q.table().to_string()),
                field.name().clone(),
            )
        })
        .collect())
}

fn needs_expansion(item: &SelectItem) -> bool {
    match item {
        SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => {
            columns_pattern(expr).is_some() || is_rename_marker(expr)
        }
        _ => false,
    }
}

fn expand_item(item: SelectItem, columns: &[Column]) -> Result<Vec<Expanded>> {
    let SelectItem::UnnamedExpr(expr) = &item else {
        return Ok(vec![Expanded::Item(Box::new(item))]);
    };
    if let Some(renames) = rename_marker_pairs(expr)? {
        for (from, _) in &renames {
            if !columns.iter().any(|(_, name)| name == from) {
                return Err(TarnError::Invalid(format!(
                    "RENAME: column '{from}' is not in the FROM clause"
                )));
            }
        }
        return Ok(columns
            .iter()
            .map(|column| {
                let reference = column_ref(column);
                Expanded::Item(Box::new(
                    match renames.iter().find(|(from, _)| *from == column.1) {
                        Some((_, to)) => SelectItem::ExprWithAlias {
                            expr: reference,
                            alias: Ident::with_quote('"', to),
                        },
                        None => SelectItem::UnnamedExpr(reference),
                    },
                ))
            })
            .collect());
    }
    let Some(pattern) = columns_pattern(expr) else {
        return Ok(vec![Expanded::Item(Box::new(item))]);
    };
    let regex = Regex::new(&pattern).map_err(|e| {
        TarnError::Invalid(format!("COLUMNS('{pattern}'): bad regular expression: {e}"))
    })?;
    let matching: Vec<&Column> = columns
        .iter()
        .filter(|(_, name)| regex.is_match(name))
        .collect();
    if matching.is_empty() {
        return Err(TarnError::Invalid(format!(
            "COLUMNS('{pattern}') matches no column"
        )));
    }
    Ok(matching
        .into_iter()
        .map(|column| {
            let expanded = replace_columns_call(expr.clone(), &column_ref(column));
            match expanded {
                Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
                    Expanded::Item(Box::new(SelectItem::UnnamedExpr(expanded)))
                }
                // Named after its column, as DuckDB 2 names them (`max(COLUMNS('x'))` is `x`),
                // or, where that name is taken, as written with the column in place.
                other => Expanded::Named {
                    expr: Box::new(other),
                    name: column.1.clone(),
                    written: replace_columns_call(
                        expr.clone(),
                        &Expr::Identifier(Ident::new(&column.1)),
                    )
                    .to_string(),
                },
            }
        })
        .collect())
}

/// A select item after expansion; an expression from `COLUMNS` inside an expression comes with
/// its two possible names.
enum Expanded {
    Item(Box<SelectItem>),
    Named {
        expr: Box<Expr>,
        name: String,
        written: String,
    },
}

/// The expanded items, each expression from `COLUMNS` named after its column unless an earlier
/// item has that name (DuckDB allows the same name twice; DataFusion does not).
fn unique_names(items: Vec<Expanded>) -> Vec<SelectItem> {
    let mut taken: Vec<String> = Vec::new();
    items
        .into_iter()
        .map(|item| {
            let item = match item {
                Expanded::Item(item) => *item,
                Expanded::Named {
                    expr,
                    name,
                    written,
                } => SelectItem::ExprWithAlias {
                    expr: *expr,
                    alias: Ident::with_quote(
                        '"',
                        match taken.contains(&name) {
                            true => written,
                            false => name,
                        },
                    ),
                },
            };
            if let Some(name) = item_name(&item) {
                taken.push(name);
            }
            item
        })
        .collect()
}

/// The name an item's column gets, where it is a plain column or an alias.
fn item_name(item: &SelectItem) -> Option<String> {
    match item {
        SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
        SelectItem::UnnamedExpr(Expr::Identifier(ident)) => Some(ident.value.clone()),
        SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => {
            parts.last().map(|ident| ident.value.clone())
        }
        _ => None,
    }
}

fn column_ref((qualifier, name): &Column) -> Expr {
    match qualifier {
        Some(table) => Expr::CompoundIdentifier(vec![
            Ident::with_quote('"', table),
            Ident::with_quote('"', name),
        ]),
        None => Expr::Identifier(Ident::with_quote('"', name)),
    }
}

/// The regex of the first `COLUMNS('...')` call in `expr`.
fn columns_pattern(expr: &Expr) -> Option<String> {
    let mut found = None;
    let _ = sqlparser::ast::visit_expressions(expr, |e| {
        if found.is_none() {
            found = columns_call_pattern(e);
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    found
}

fn columns_call_pattern(expr: &Expr) -> Option<String> {
    let Expr::Function(function) = expr else {
        return None;
    };
    if !function.name.to_string().eq_ignore_ascii_case("columns") {
        return None;
    }
    // `COLUMNS(*)`: every column.
    if let FunctionArguments::List(list) = &function.args
        && let [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)] = list.args.as_slice()
    {
        return Some(".*".into());
    }
    match string_args(function)?.as_slice() {
        [pattern] => Some(pattern.clone()),
        _ => None,
    }
}

fn replace_columns_call(mut expr: Expr, column: &Expr) -> Expr {
    let _ = sqlparser::ast::visit_expressions_mut(&mut expr, |e| {
        if columns_call_pattern(e).is_some() {
            *e = column.clone();
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    expr
}

fn is_rename_marker(expr: &Expr) -> bool {
    matches!(expr, Expr::Function(f) if f.name.to_string() == RENAME_MARKER)
}

fn rename_marker_pairs(expr: &Expr) -> Result<Option<Vec<(String, String)>>> {
    let Expr::Function(function) = expr else {
        return Ok(None);
    };
    if function.name.to_string() != RENAME_MARKER {
        return Ok(None);
    }
    let names = string_args(function).ok_or_else(|| TarnError::Parse("bad RENAME list".into()))?;
    Ok(Some(
        names
            .chunks(2)
            .map(|pair| (pair[0].clone(), pair[1].clone()))
            .collect(),
    ))
}

fn string_args(function: &Function) -> Option<Vec<String>> {
    let FunctionArguments::List(list) = &function.args else {
        return None;
    };
    list.args
        .iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v))) => match &v.value {
                Value::SingleQuotedString(s) => Some(s.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_becomes_a_marker_call() {
        let sql = mark_renames("SELECT * RENAME (a AS x, \"b c\" AS y) FROM t").unwrap();
        assert_eq!(
            sql,
            "SELECT __tarn_star_rename('a', 'x', 'b c', 'y') FROM t"
        );
        assert_eq!(
            mark_renames("SELECT 'rename' FROM t").unwrap(),
            "SELECT 'rename' FROM t"
        );
        assert!(mark_renames("SELECT * RENAME (a x) FROM t").is_err());
    }
}
