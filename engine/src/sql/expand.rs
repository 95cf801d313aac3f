//! Select-list forms that need the FROM clause's columns before DataFusion sees them:
//! `COLUMNS('regex')` and `COLUMNS(*)` (alone or inside an expression, once per matching
//! column) and
//! `* RENAME (a AS b, ...)` (every column in order, some renamed), and
//! `s.* [EXCLUDE (...)] [REPLACE (...)] [RENAME (...)]` for a STRUCT column `s` (each field a column named
//! after it).
//!
//! `COLUMNS(lambda)` and `* LIKE 'p'` are in `column_lambdas`.
//!
//! `* RENAME` does not parse, so [`mark_renames`] first turns it into a marker call
//! `__tarn_star_rename('a', 'b', ...)`; [`expand_select_lists`] then replaces markers and
//! `COLUMNS` calls using the columns that `SELECT * FROM <same FROM>` has.

use std::ops::ControlFlow;

use super::dialect::TarnDialect;
use super::name_case::find_name;
use super::rewrite::relation_names;
use super::tokens::{is_keyword, previous_significant, skip_whitespace};
use super::types::sql_type_name;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::DFSchemaRef;
use datafusion::execution::SessionState;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::tokenizer::Token;
use regex::Regex;
use sqlparser::ast::{
    ExcludeSelectItem, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident,
    ObjectName, OrderByKind, Query, RenameSelectItem, Select, SelectItem,
    SelectItemQualifiedWildcardKind, SetExpr, Statement, Value, Visit, VisitMut, Visitor,
    VisitorMut, WildcardAdditionalOptions,
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
        // After `s.` the parser reads RENAME itself (see `dialect`).
        let qualified =
            previous_significant(&tokens, i).is_some_and(|p| tokens[p] == Token::Period);
        if tokens[i] == Token::Mul && !qualified {
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
    let (with, selects) = outer_selects(statement);
    for select in selects {
        let relations = relation_names(&select.from);
        let expands = select
            .projection
            .iter()
            .any(|item| needs_expansion(item, &relations));
        let star_beside_names = star_beside_names(select);
        let replaced = replaced_names(select);
        let reads_rows = super::row_structs::reads_rows(select, &relations);
        let rows_only = !expands && !star_beside_names && replaced.is_empty();
        if rows_only && !reads_rows {
            continue;
        }
        let columns = match from_columns(select, &with, state).await {
            Ok(columns) => columns,
            // A FROM clause a later rewrite makes plannable (`unnest(l) u`) has no row to read
            // here: its names stay as they are.
            Err(_) if rows_only => continue,
            Err(err) => return Err(err),
        };
        if reads_rows {
            let reached: Vec<_> = columns
                .iter()
                .map(|c| (c.qualifier.clone(), c.name.clone()))
                .collect();
            super::row_structs::rows_as_structs(select, &relations, &reached);
        }
        // DataFusion passes over a REPLACE of a column the FROM clause lacks, silently.
        let names = columns.iter().map(|c| c.name.as_str());
        if let Some(missing) = replaced
            .iter()
            .find(|name| find_name(names.clone(), name).is_none())
        {
            return Err(TarnError::Invalid(format!(
                "Column \"{missing}\" in REPLACE list not found in FROM clause"
            )));
        }
        if star_beside_names {
            write_out_repeated_stars(select, &columns)?;
        }
        if !expands {
            continue;
        }
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        // Boxed: running a lambda's query is a deep future, and planning runs on small stacks.
        Box::pin(super::column_lambdas::resolve(
            &mut select.projection,
            &names,
            state,
        ))
        .await?;
        let mut projection = Vec::with_capacity(select.projection.len());
        for item in select.projection.drain(..) {
            projection.extend(expand_item(item, &columns, &relations)?);
        }
        select.projection = unique_names(projection);
    }
    Ok(())
}

/// The columns the plain `*`s of `select` REPLACE, as written.
fn replaced_names(select: &Select) -> Vec<String> {
    select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::Wildcard(options) => options.opt_replace.as_ref(),
            _ => None,
        })
        .flat_map(|replace| &replace.items)
        .map(|element| element.column_name.value.clone())
        .collect()
}

/// Whether `select` has a `*` (plain, or with EXCLUDE, REPLACE or RENAME) beside items with
/// names of their own (`SELECT id, *`), whose names the `*` may repeat. Not after `USING` or
/// `NATURAL`, whose `*` merges columns.
fn star_beside_names(select: &Select) -> bool {
    let merges = select.from.iter().any(|table| {
        table
            .joins
            .iter()
            .any(|join| super::using_join::merges_columns(&join.join_operator))
    });
    let star = select
        .projection
        .iter()
        .any(|item| matches!(item, SelectItem::Wildcard(_)));
    let named = select
        .projection
        .iter()
        .any(|item| item_name(item).is_some());
    star && named && !merges
}

/// Writes each `*` of `select` out as the FROM clause's `columns` it stands for when one of
/// them has the name of another item: DuckDB allows a name twice in a result, DataFusion does
/// not, and written out, the repeats are numbered (`id_1`) as DuckDB numbers them in a
/// subquery or a file (`rewrite::name_columns`).
fn write_out_repeated_stars(select: &mut Select, columns: &[Column]) -> Result<()> {
    let mut written = Vec::with_capacity(select.projection.len() + columns.len());
    for item in &select.projection {
        match item {
            SelectItem::Wildcard(options) if *options == WildcardAdditionalOptions::default() => {
                written.extend(
                    columns
                        .iter()
                        .map(|column| SelectItem::UnnamedExpr(column_ref(column))),
                );
            }
            SelectItem::Wildcard(options) => {
                let entries = columns
                    .iter()
                    .map(|column| (column.name.clone(), column_ref(column)))
                    .collect();
                written.extend(unique_names(apply_star_options(
                    "*", "column", entries, options,
                )?));
            }
            other => written.push(other.clone()),
        }
    }
    let names: Vec<String> = written.iter().filter_map(item_name).collect();
    let repeats = names
        .iter()
        .enumerate()
        .any(|(i, name)| names[..i].iter().any(|n| n.eq_ignore_ascii_case(name)));
    if repeats {
        select.projection = written;
    }
    Ok(())
}

/// `ORDER BY ALL` over a select list with a `*` sorts by the positions of all the output
/// columns, counted by planning the query without its ORDER BY: by name, as DataFusion sorts
/// it, two columns called alike (`SELECT * FROM a JOIN b ON a.k = b.k`) are ambiguous. A
/// subquery's too (DataFusion drops one over a set operation): it is planned under the
/// statement's WITH clause, and left as it is where it cannot be planned alone.
pub(super) async fn order_by_all_over_stars(
    statement: &mut Statement,
    state: &SessionState,
) -> Result<()> {
    let mut found = SortedByAll::default();
    let _ = Visit::visit(&*statement, &mut found);
    if found.unordered.is_empty() {
        return Ok(());
    }
    let with = with_clause(statement);
    let mut counts = Vec::with_capacity(found.unordered.len());
    for (index, mut unordered) in found.unordered {
        if unordered.with.is_none() {
            unordered.with = with.clone();
        }
        let probe = Statement::Query(Box::new(unordered));
        match state
            .statement_to_plan(DFStatement::Statement(Box::new(probe)))
            .await
        {
            Ok(plan) => counts.push((index, plan.schema().fields().len())),
            Err(_) if index > 0 => {}
            Err(err) => return Err(err.into()),
        }
    }
    let _ = VisitMut::visit(statement, &mut PositionsForAll { index: 0, counts });
    Ok(())
}

/// The queries of a statement, in visiting order, that sort by ALL: each one's place and the
/// query without its ORDER BY and LIMIT.
#[derive(Default)]
struct SortedByAll {
    index: usize,
    unordered: Vec<(usize, Query)>,
}

impl Visitor for SortedByAll {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if query
            .order_by
            .as_ref()
            .is_some_and(|order_by| matches!(order_by.kind, OrderByKind::All(_)))
        {
            let mut unordered = query.clone();
            unordered.order_by = None;
            unordered.limit_clause = None;
            self.unordered.push((self.index, unordered));
        }
        self.index += 1;
        ControlFlow::Continue(())
    }
}

/// Writes `ORDER BY ALL` as positions in the queries [`SortedByAll`] found, by their places.
struct PositionsForAll {
    index: usize,
    counts: Vec<(usize, usize)>,
}

impl VisitorMut for PositionsForAll {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        let count = self.counts.iter().find(|(at, _)| *at == self.index);
        if let (Some((_, count)), Some(order_by)) = (count, &mut query.order_by) {
            super::rewrite::sort_by_positions(order_by, *count);
        }
        self.index += 1;
        ControlFlow::Continue(())
    }
}

/// A column of the FROM clause.
struct Column {
    /// The table alias it is reached through, if any.
    qualifier: Option<String>,
    name: String,
    data_type: DataType,
}

async fn from_columns(select: &Select, with: &str, state: &SessionState) -> Result<Vec<Column>> {
    if select.from.is_empty() {
        return Err(TarnError::Invalid(
            "COLUMNS and * RENAME need a FROM clause".into(),
        ));
    }
    let from: Vec<String> = select.from.iter().map(|t| t.to_string()).collect();
    Ok(from_schema(with, &from.join(", "), state)
        .await?
        .iter()
        .map(|(qualifier, field)| Column {
            qualifier: qualifier.map(|q| q.table().to_string()),
            name: field.name().clone(),
            data_type: field.data_type().clone(),
        })
        .collect())
}

/// The WITH clause of the statement's query (a CREATE TABLE's too) as text, empty or ending in
/// a space: what a part of the statement is planned under, alone, to learn its columns.
pub(super) fn with_text(statement: &Statement) -> String {
    let query = match statement {
        Statement::Query(query) => Some(query.as_ref()),
        Statement::CreateTable(create) => create.query.as_deref(),
        _ => None,
    };
    query
        .and_then(|query| query.with.as_ref())
        .map(|with| format!("{with} "))
        .unwrap_or_default()
}

/// The SELECTs whose columns are the statement's result (the outermost query's, and each branch
/// of a set operation at its top), with the query's WITH clause as text (empty, or ending in a
/// space) for planning their FROM clauses alone.
pub(super) fn outer_selects(statement: &mut Statement) -> (String, Vec<&mut Select>) {
    let with = with_text(statement);
    let query = match statement {
        Statement::Query(query) => query.as_mut(),
        Statement::CreateTable(create) => match &mut create.query {
            Some(query) => query.as_mut(),
            None => return (String::new(), vec![]),
        },
        _ => return (String::new(), vec![]),
    };
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
    (with, selects)
}

/// The statement's WITH clause, under which the parts of it a rewrite plans alone are planned.
pub(super) fn with_clause(statement: &Statement) -> Option<sqlparser::ast::With> {
    match statement {
        Statement::Query(query) => query.with.clone(),
        _ => None,
    }
}

/// The statement's WITH clause as text to put before a probe ([`from_schema`]): empty, or
/// ending in a space.
pub(super) fn with_prefix(statement: &Statement) -> String {
    with_clause(statement).map_or_else(String::new, |with| format!("{with} "))
}

/// The schema of `SELECT * FROM {from}` under the statement's WITH clause (`with` is empty or
/// ends in a space, see [`with_prefix`]): the columns a FROM clause offers, before the query
/// around it is planned.
pub(super) async fn from_schema(
    with: &str,
    from: &str,
    state: &SessionState,
) -> Result<DFSchemaRef> {
    probe_schema(&format!("{with}SELECT * FROM {from}"), state).await
}

/// The schema of the query `probe`, planned but not run: what a rewrite learns of the columns
/// and types a part of the statement has.
pub(super) async fn probe_schema(probe: &str, state: &SessionState) -> Result<DFSchemaRef> {
    let statement = Parser::parse_sql(&TarnDialect, probe)
        .map_err(|e| TarnError::Parse(e.to_string()))?
        .remove(0);
    let plan = state
        .statement_to_plan(DFStatement::Statement(Box::new(statement)))
        .await?;
    Ok(plan.schema().clone())
}

fn needs_expansion(item: &SelectItem, relations: &[String]) -> bool {
    match item {
        SelectItem::UnnamedExpr(expr) if unnested_column(expr, relations).is_some() => true,
        SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => {
            Selector::first_in(expr).is_some() || is_rename_marker(expr)
        }
        // A table's `t.*` is DataFusion's, but for RENAME, which it lacks.
        SelectItem::QualifiedWildcard(kind, options) => star_qualifier(kind)
            .is_some_and(|q| !names_relation(q, relations) || options.opt_rename.is_some()),
        _ => false,
    }
}

/// The column `c` of `unnest(c)` or `unnest(t.c)` (`t` a relation of the FROM clause).
fn unnested_column<'a>(expr: &'a Expr, relations: &[String]) -> Option<&'a Ident> {
    let Expr::Function(call) = expr else {
        return None;
    };
    let is_unnest = matches!(call.name.0.as_slice(), [part]
        if part.as_ident().is_some_and(|i| i.value.eq_ignore_ascii_case("unnest")));
    let FunctionArguments::List(list) = &call.args else {
        return None;
    };
    match (is_unnest, list.args.as_slice()) {
        (true, [FunctionArg::Unnamed(FunctionArgExpr::Expr(argument))]) => match argument {
            Expr::Identifier(column) => Some(column),
            Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [relation, column] if names_relation(relation, relations) => Some(column),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

/// The `x` of `x.*`, when it is one name.
fn star_qualifier(kind: &SelectItemQualifiedWildcardKind) -> Option<&Ident> {
    match kind {
        SelectItemQualifiedWildcardKind::ObjectName(name) => match name.0.as_slice() {
            [part] => part.as_ident(),
            _ => None,
        },
        SelectItemQualifiedWildcardKind::Expr(_) => None,
    }
}

/// Whether `name` is a relation of the FROM clause; otherwise `name.*` means a STRUCT
/// column's fields.
fn names_relation(name: &Ident, relations: &[String]) -> bool {
    relations
        .iter()
        .any(|relation| relation.eq_ignore_ascii_case(&name.value))
}

fn expand_item(
    item: SelectItem,
    columns: &[Column],
    relations: &[String],
) -> Result<Vec<Expanded>> {
    if let SelectItem::QualifiedWildcard(kind, options) = &item
        && let Some(qualifier) = star_qualifier(kind)
    {
        let star = format!("{qualifier}.*");
        if !names_relation(qualifier, relations) {
            return apply_star_options(&star, "field", struct_fields(qualifier, columns)?, options);
        }
        if options.opt_rename.is_some() {
            let table_columns = columns
                .iter()
                .filter(|column| {
                    column
                        .qualifier
                        .as_ref()
                        .is_some_and(|q| q.eq_ignore_ascii_case(&qualifier.value))
                })
                .map(|column| (column.name.clone(), column_ref(column)))
                .collect();
            return apply_star_options(&star, "column", table_columns, options);
        }
    }
    let SelectItem::UnnamedExpr(expr) = &item else {
        return Ok(vec![Expanded::Item(Box::new(item))]);
    };
    // `unnest(s)` of a STRUCT column is a column per field, named after the field as DuckDB
    // names them (DataFusion's would be `t.s.field`); of a list it stays as it is.
    if let Some(column) = unnested_column(expr, relations)
        && columns.iter().any(|c| {
            c.name.eq_ignore_ascii_case(&column.value) && matches!(c.data_type, DataType::Struct(_))
        })
    {
        let star = format!("unnest({column})");
        let fields = struct_fields(column, columns)?;
        return apply_star_options(
            &star,
            "field",
            fields,
            &WildcardAdditionalOptions::default(),
        );
    }
    if let Some(renames) = rename_marker_pairs(expr)? {
        let renames = renames
            .into_iter()
            .map(|(from, to)| {
                let names = columns.iter().map(|column| column.name.as_str());
                match find_name(names, &from) {
                    Some(column) => Ok((column.to_string(), to)),
                    None => Err(TarnError::Invalid(format!(
                        "RENAME: column '{from}' is not in the FROM clause"
                    ))),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        return Ok(columns
            .iter()
            .map(|column| {
                let reference = column_ref(column);
                Expanded::Item(Box::new(
                    match renames.iter().find(|(from, _)| *from == column.name) {
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
    let Some(selector) = Selector::first_in(expr) else {
        return Ok(vec![Expanded::Item(Box::new(item))]);
    };
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let selected = selector.select(&names, &expr.to_string())?;
    let matching: Vec<&Column> = columns
        .iter()
        .filter(|column| selected.contains(&column.name.as_str()))
        .collect();
    if matching.is_empty() {
        return Err(TarnError::Invalid(format!("{expr} matches no column")));
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
                    name: column.name.clone(),
                    written: replace_columns_call(
                        expr.clone(),
                        &Expr::Identifier(Ident::new(&column.name)),
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

fn column_ref(column: &Column) -> Expr {
    match column_path(column, None) {
        mut parts if parts.len() == 1 => Expr::Identifier(parts.remove(0)),
        parts => Expr::CompoundIdentifier(parts),
    }
}

/// The quoted parts that reach a column, or one of its STRUCT fields.
fn column_path(column: &Column, field: Option<&str>) -> Vec<Ident> {
    column
        .qualifier
        .iter()
        .map(String::as_str)
        .chain([column.name.as_str()])
        .chain(field)
        .map(|part| Ident::with_quote('"', part))
        .collect()
}

/// The fields of the STRUCT column `name` (of `name.*`), each with the expression that reads it.
fn struct_fields(name: &Ident, columns: &[Column]) -> Result<Vec<(String, Expr)>> {
    let star = format!("{name}.*");
    let same_name = |candidate: &str| match name.quote_style {
        Some(_) => candidate == name.value,
        None => candidate.eq_ignore_ascii_case(&name.value),
    };
    let column = match columns
        .iter()
        .filter(|column| same_name(&column.name))
        .collect::<Vec<_>>()
        .as_slice()
    {
        [column] => *column,
        [] => {
            return Err(TarnError::Invalid(format!(
                "{star}: no table or column in the FROM clause is named {name}"
            )));
        }
        _ => {
            return Err(TarnError::Invalid(format!(
                "{star}: more than one table has a column {name}"
            )));
        }
    };
    let DataType::Struct(fields) = &column.data_type else {
        return Err(TarnError::Invalid(format!(
            "{star}: {name} is a {}, not a STRUCT",
            sql_type_name(&column.data_type)
        )));
    };
    Ok(fields
        .iter()
        .map(|field| {
            let path = column_path(column, Some(field.name()));
            (field.name().clone(), Expr::CompoundIdentifier(path))
        })
        .collect())
}

/// `x.* [EXCLUDE (a, ...)] [REPLACE (expr AS a, ...)] [RENAME (a AS b, ...)]` over the named
/// expressions `x.*` stands for (a STRUCT's fields or a table's columns, in order): one item
/// per name not excluded, named after it unless renamed. `what` is what the names are, for
/// errors.
fn apply_star_options(
    star: &str,
    what: &str,
    entries: Vec<(String, Expr)>,
    options: &WildcardAdditionalOptions,
) -> Result<Vec<Expanded>> {
    if options.opt_ilike.is_some() || options.opt_except.is_some() || options.opt_alias.is_some() {
        return Err(TarnError::Invalid(format!(
            "{star}: only EXCLUDE, REPLACE and RENAME may follow it"
        )));
    }
    let excluded: Vec<String> = match &options.opt_exclude {
        Some(ExcludeSelectItem::Single(name)) => vec![last_part(name)],
        Some(ExcludeSelectItem::Multiple(names)) => names.iter().map(last_part).collect(),
        None => vec![],
    };
    let replaced: Vec<(String, &Expr)> = options
        .opt_replace
        .iter()
        .flat_map(|replace| &replace.items)
        .map(|element| (element.column_name.value.clone(), &element.expr))
        .collect();
    let renamed: Vec<(String, &Ident)> = match &options.opt_rename {
        Some(RenameSelectItem::Single(rename)) => vec![(rename.ident.value.clone(), &rename.alias)],
        Some(RenameSelectItem::Multiple(renames)) => renames
            .iter()
            .map(|rename| (rename.ident.value.clone(), &rename.alias))
            .collect(),
        None => vec![],
    };
    // Each listed name as the entry it names, whatever its case.
    let entry_named = |name: &str| -> Result<String> {
        find_name(entries.iter().map(|(entry, _)| entry.as_str()), name)
            .map(str::to_string)
            .ok_or_else(|| TarnError::Invalid(format!("{star} has no {what} {name}")))
    };
    let excluded = excluded
        .iter()
        .map(|name| entry_named(name))
        .collect::<Result<Vec<_>>>()?;
    let replaced = replaced
        .into_iter()
        .map(|(name, expr)| Ok((entry_named(&name)?, expr)))
        .collect::<Result<Vec<_>>>()?;
    let renamed = renamed
        .into_iter()
        .map(|(name, alias)| Ok((entry_named(&name)?, alias)))
        .collect::<Result<Vec<_>>>()?;
    Ok(entries
        .into_iter()
        .filter(|(name, _)| !excluded.contains(name))
        .map(|(name, expr)| {
            let expr = match replaced.iter().find(|(replaced, _)| *replaced == name) {
                Some((_, replacement)) => (*replacement).clone(),
                None => expr,
            };
            let alias = match renamed.iter().find(|(renamed, _)| *renamed == name) {
                Some((_, alias)) => (*alias).clone(),
                None => Ident::with_quote('"', name),
            };
            Expanded::Item(Box::new(SelectItem::ExprWithAlias { expr, alias }))
        })
        .collect())
}

/// The last part of a name, as written: `EXCLUDE (t.a)` names `a`.
fn last_part(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|part| part.as_ident())
        .map(|ident| ident.value.clone())
        .unwrap_or_default()
}

/// A `COLUMNS(...)` call and its arguments.
pub(super) fn columns_call(expr: &Expr) -> Option<(&Function, &[FunctionArg])> {
    let Expr::Function(function) = expr else {
        return None;
    };
    if !function.name.to_string().eq_ignore_ascii_case("columns") {
        return None;
    }
    match &function.args {
        FunctionArguments::List(list) => Some((function, list.args.as_slice())),
        _ => None,
    }
}

/// What a `COLUMNS(...)` call selects.
pub(super) enum Selector {
    /// Names a regular expression matches: `COLUMNS('re')`, `COLUMNS(*)`, `COLUMNS(['a', 'b'])`.
    Pattern(String),
    /// Every column but the named ones (in any case): `COLUMNS(* EXCLUDE (a, b))`.
    AllBut(Vec<String>),
    /// The names a condition keeps, `COLUMNS(c -> c LIKE 'x%')`: a select list's are made
    /// names first (`column_lambdas::resolve`).
    Lambda,
}

impl Selector {
    /// The first `COLUMNS(...)` call in `expr`.
    fn first_in(expr: &Expr) -> Option<Selector> {
        let mut found = None;
        let _ = sqlparser::ast::visit_expressions(expr, |e| {
            if found.is_none() {
                found = Selector::of(e);
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
        found
    }

    /// What `expr` selects, if it is a `COLUMNS(...)` call.
    pub(super) fn of(expr: &Expr) -> Option<Selector> {
        if super::column_lambdas::lambda_of(expr).is_some() {
            return Some(Selector::Lambda);
        }
        let (function, arguments) = columns_call(expr)?;
        match arguments {
            [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)] => {
                return Some(Selector::Pattern(".*".into()));
            }
            [FunctionArg::Unnamed(FunctionArgExpr::WildcardWithOptions(options))] => {
                let only_exclude = WildcardAdditionalOptions {
                    opt_exclude: options.opt_exclude.clone(),
                    ..Default::default()
                };
                if *options != only_exclude {
                    return None;
                }
                let names = match &options.opt_exclude {
                    Some(ExcludeSelectItem::Single(name)) => vec![last_part(name)],
                    Some(ExcludeSelectItem::Multiple(names)) => {
                        names.iter().map(last_part).collect()
                    }
                    None => vec![],
                };
                return Some(Selector::AllBut(names));
            }
            // The named columns, in any case, in the FROM clause's order.
            [FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Array(names)))] => {
                let names: Option<Vec<String>> = names
                    .elem
                    .iter()
                    .map(|name| match name {
                        Expr::Value(v) => v.value.clone().into_string().map(|n| regex::escape(&n)),
                        _ => None,
                    })
                    .collect();
                return Some(Selector::Pattern(format!("(?i)^(?:{})$", names?.join("|"))));
            }
            _ => {}
        }
        match string_args(function)?.as_slice() {
            [pattern] => Some(Selector::Pattern(pattern.clone())),
            _ => None,
        }
    }

    /// The names among `names` it selects, in their order; an error for a bad pattern or an
    /// excluded name that is not there. `call` is the call as written, for errors.
    pub(super) fn select<'n>(&self, names: &[&'n str], call: &str) -> Result<Vec<&'n str>> {
        match self {
            Selector::Pattern(pattern) => {
                let regex = Regex::new(pattern).map_err(|e| {
                    TarnError::Invalid(format!("{call}: bad regular expression: {e}"))
                })?;
                Ok(names
                    .iter()
                    .copied()
                    .filter(|n| regex.is_match(n))
                    .collect())
            }
            Selector::AllBut(excluded) => {
                if let Some(missing) = excluded
                    .iter()
                    .find(|e| !names.iter().any(|n| n.eq_ignore_ascii_case(e)))
                {
                    return Err(TarnError::Invalid(format!(
                        "{call}: no column {missing} to exclude"
                    )));
                }
                Ok(names
                    .iter()
                    .copied()
                    .filter(|n| !excluded.iter().any(|e| e.eq_ignore_ascii_case(n)))
                    .collect())
            }
            Selector::Lambda => Err(TarnError::Invalid(format!(
                "{call}: a lambda in COLUMNS chooses columns in a select list only"
            ))),
        }
    }
}

fn replace_columns_call(mut expr: Expr, column: &Expr) -> Expr {
    let _ = sqlparser::ast::visit_expressions_mut(&mut expr, |e| {
        if Selector::of(e).is_some() {
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
