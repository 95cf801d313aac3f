//! DuckDB's lateral unnest in FROM: `FROM t, unnest(t.turns) AS u(turn)` (also written
//! `CROSS JOIN unnest(...)`, `JOIN LATERAL unnest(...) ON true`), a row per element of each
//! row's list, beside the row's columns. DataFusion plans no table in FROM that reads an
//! earlier table's columns, but it unnests in a SELECT list, so the pair becomes one derived
//! table under the earlier table's name:
//!
//! ```sql
//! FROM (SELECT t.*, unnest(t.turns) AS turn FROM t) AS t
//! ```
//!
//! and the unnest's name is replaced by the table's in the rest of the query (`u.turn` becomes
//! `t.turn`). `LEFT JOIN unnest(...) ON true` keeps a row whose list is empty or NULL, with a
//! NULL element, as DuckDB does.
//!
//! A LATERAL subquery without a FROM clause of its own, `FROM t, LATERAL (SELECT t.x * 2 AS d,
//! unnest(t.l) AS e) s`, is one row (or a row per element) computed from each row of `t`, and
//! moves next to its table the same way: `FROM (SELECT t.*, t.x * 2 AS d, unnest(t.l) AS e FROM
//! t) AS t`. DataFusion decorrelates a LATERAL subquery that reads earlier tables only in its
//! filters, not in its select list.
//!
//! Moving the unnest next to its table changes no answer where that table keeps all its rows
//! through the joins between them (it is not the NULL side of an outer join); elsewhere the
//! query is left to DataFusion, which refuses it (see `error::lateral_reference`).
//!
//! The table's columns are learnt by planning it alone, so that a computed column with the
//! name of one of them (`FROM docs, unnest(docs.parts) AS p(id)`) is held in the derived table
//! under another name, [`held_name`], and `p.id` reads it; a bare `id` is refused as ambiguous,
//! `docs.*` leaves the computed columns out and `*` shows them under their own names, as
//! DuckDB does.

use std::collections::HashMap;
use std::ops::ControlFlow;

use datafusion::execution::SessionState;
use sqlparser::ast::{
    Expr, GroupByExpr, Ident, JoinConstraint, JoinOperator, Query, Select, SelectItem,
    SelectItemQualifiedWildcardKind, SetExpr, Statement, TableAlias, TableFactor, TableWithJoins,
    Value, Visit, VisitMut, Visitor, VisitorMut, visit_expressions,
};

use super::qualify_windows::first_window;
use super::rewrite::{exclude, fully_parenthesized, names_read, visible_name};
use crate::error::{Result, TarnError};

/// Inlines every lateral unnest of `statement` that can move next to its table, and every
/// FROM-less LATERAL subquery; `is_aggregate` tells an aggregate function's name (a subquery
/// that aggregates is one row, which moved into its table's select would aggregate the table).
///
/// Each pass inlines what it can and asks for the columns of the tables it has not seen, which
/// are planned before the next pass.
pub(super) async fn inline(
    statement: &mut Statement,
    state: &SessionState,
    is_aggregate: &(dyn Fn(&str) -> bool + Sync),
) -> Result<()> {
    let with = super::expand::with_text(statement);
    let mut columns = HashMap::new();
    loop {
        let mut inliner = Inliner {
            is_aggregate,
            columns: &mut columns,
            wanted: Vec::new(),
        };
        super::rewrite::run_visitor(statement, &mut inliner)?;
        let wanted = inliner.wanted;
        if wanted.is_empty() {
            return Ok(());
        }
        for relation in wanted {
            // A table that cannot be planned alone (it reads a CTE of an inner WITH, or an
            // outer query's columns) is inlined as its columns were not known.
            let names = super::expand::from_schema(&with, &relation, state)
                .await
                .ok()
                .map(|schema| schema.fields().iter().map(|f| f.name().clone()).collect());
            columns.insert(relation, names);
        }
    }
}

/// The columns of each table a lateral factor reads, by the table factor's SQL; `None` where
/// it could not be planned alone.
type TableColumns = HashMap<String, Option<Vec<String>>>;

struct Inliner<'a> {
    is_aggregate: &'a (dyn Fn(&str) -> bool + Sync),
    columns: &'a mut TableColumns,
    /// Tables whose columns this pass needed and did not have.
    wanted: Vec<String>,
}

impl VisitorMut for Inliner<'_> {
    type Break = TarnError;

    // A query's own SELECT first, so that its ORDER BY is renamed with it.
    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<TarnError> {
        let Query { body, order_by, .. } = query;
        if let SetExpr::Select(select) = body.as_mut() {
            match self.inline_in_select(select) {
                Ok(renames) => {
                    for mut rename in renames {
                        let _ = order_by.visit(&mut rename);
                    }
                }
                Err(err) => return ControlFlow::Break(err),
            }
        }
        ControlFlow::Continue(())
    }

    // The branches of a set operation.
    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<TarnError> {
        match self.inline_in_select(select) {
            Ok(_) => ControlFlow::Continue(()),
            Err(err) => ControlFlow::Break(err),
        }
    }
}

impl Inliner<'_> {
    /// Inlines the select's lateral unnests, one at a time from the left (a later one may
    /// read an earlier one's column), and returns the renamings made. It stops at one whose
    /// table's columns are not known yet, asking for them.
    fn inline_in_select(&mut self, select: &mut Select) -> Result<Vec<Rename>> {
        let mut renames = Vec::new();
        while let Some(found) = next_lateral_unnest(&select.from, self.is_aggregate) {
            let relation = factor_at(&select.from, found.table).to_string();
            let Some(columns) = self.columns.get(&relation).cloned() else {
                if !self.wanted.contains(&relation) {
                    self.wanted.push(relation);
                }
                break;
            };
            let table = found.table;
            let mut rename = apply(select, found, columns.as_deref())?;
            let _ = select.visit(&mut rename);
            if let Some(name) = rename.ambiguous_name(select) {
                return Err(super::table_keys::binder(&format!(
                    "Ambiguous reference to column name \"{}\" (use: '{}.{}' or '{}.{}')",
                    name.value, rename.to.value, name.value, rename.from, name.value
                )));
            }
            rename.leave_out_of_wildcards(&mut select.projection);
            // The derived table that took the table's place, for a later factor reading it.
            let derived = columns.map(|mut names| {
                names.extend(rename.columns.iter().map(|(_, held)| held.value.clone()));
                names
            });
            self.columns
                .insert(factor_at(&select.from, table).to_string(), derived);
            renames.push(rename);
        }
        Ok(renames)
    }
}

/// Where a factor sits in a FROM clause: the item, and 0 for its relation or k for its k-th
/// join's.
#[derive(Clone, Copy, PartialEq)]
struct Position {
    item: usize,
    slot: usize,
}

/// What a lateral factor computes from each row of its table: a list's elements, or the
/// columns a FROM-less subquery selects.
enum Computed {
    /// Lists that go down together (`unnest(l) WITH ORDINALITY` adds the positions).
    Unnest(Vec<Expr>),
    Columns(Vec<(Expr, Ident)>),
}

/// A lateral unnest or FROM-less subquery that can be inlined: where it is, and the table it
/// reads.
struct Found {
    unnest: Position,
    table: Position,
    computed: Computed,
    /// `LEFT JOIN unnest(...) ON true`: rows with no element are kept.
    keep_empty: bool,
}

fn factor_at(from: &[TableWithJoins], at: Position) -> &TableFactor {
    match at.slot {
        0 => &from[at.item].relation,
        k => &from[at.item].joins[k - 1].relation,
    }
}

fn next_lateral_unnest(
    from: &[TableWithJoins],
    is_aggregate: &dyn Fn(&str) -> bool,
) -> Option<Found> {
    let positions: Vec<Position> = from
        .iter()
        .enumerate()
        .flat_map(|(item, table)| (0..=table.joins.len()).map(move |slot| Position { item, slot }))
        .collect();
    positions.iter().enumerate().find_map(|(index, &at)| {
        let computed = match factor_at(from, at) {
            TableFactor::UNNEST { array_exprs, .. } => Computed::Unnest(array_exprs.clone()),
            TableFactor::Derived {
                lateral: true,
                subquery,
                ..
            } => Computed::Columns(from_less_columns(subquery, is_aggregate)?),
            _ => return None,
        };
        // Its own FROM item (`, unnest(...)`) is joined to the items before it.
        let keep_empty = match at.slot {
            0 => false,
            k => cross_or_outer(&from[at.item].joins[k - 1].join_operator)?,
        };
        // A subquery's row is there for every row of its table, but an unnest among its
        // columns would drop a row whose list is empty.
        if let Computed::Columns(columns) = &computed
            && keep_empty
            && columns
                .iter()
                .any(|(expr, _)| calls(expr, &|name| name == "unnest"))
        {
            return None;
        }
        let earlier = &positions[..index];
        let table = match &computed {
            Computed::Unnest(lists) => read_table(lists, earlier, from)?,
            Computed::Columns(columns) => {
                let values: Vec<Expr> = columns.iter().map(|(value, _)| value.clone()).collect();
                read_table(&values, earlier, from)?
            }
        };
        // The joins of the unnest's own item move to the end of the table's item: the same
        // rows where they keep their left side's rows and no item lies between the two.
        let joins_can_move = at.slot != 0
            || from[at.item].joins.is_empty()
            || (table.item + 1 == at.item
                && from[at.item].joins.iter().all(|join| {
                    matches!(
                        join.join_operator,
                        JoinOperator::Join(_)
                            | JoinOperator::Inner(_)
                            | JoinOperator::CrossJoin(_)
                            | JoinOperator::Left(_)
                            | JoinOperator::LeftOuter(_)
                            | JoinOperator::LeftSemi(_)
                            | JoinOperator::LeftAnti(_)
                    )
                }));
        (joins_can_move && keeps_all_rows(from, table, at)).then_some(Found {
            unnest: at,
            table,
            computed,
            keep_empty,
        })
    })
}

/// The columns of a LATERAL subquery that is a select list alone (no FROM, filter, grouping,
/// aggregate, window, DISTINCT, order or limit), each with its name; `None` for any other.
fn from_less_columns(
    subquery: &Query,
    is_aggregate: &dyn Fn(&str) -> bool,
) -> Option<Vec<(Expr, Ident)>> {
    let SetExpr::Select(select) = subquery.body.as_ref() else {
        return None;
    };
    let plain_query = subquery.with.is_none()
        && subquery.order_by.is_none()
        && subquery.limit_clause.is_none()
        && subquery.fetch.is_none();
    let plain_select = select.from.is_empty()
        && select.selection.is_none()
        && select.having.is_none()
        && select.qualify.is_none()
        && select.distinct.is_none()
        && select.named_window.is_empty()
        && matches!(&select.group_by, GroupByExpr::Expressions(keys, _) if keys.is_empty());
    if !plain_query || !plain_select {
        return None;
    }
    select
        .projection
        .iter()
        .map(|item| {
            let (expr, name) = match item {
                SelectItem::ExprWithAlias { expr, alias } => (expr, alias.clone()),
                SelectItem::UnnamedExpr(expr @ Expr::Identifier(name)) => (expr, name.clone()),
                SelectItem::UnnamedExpr(expr @ Expr::CompoundIdentifier(parts)) => {
                    (expr, parts.last()?.clone())
                }
                SelectItem::UnnamedExpr(expr) => {
                    (expr, Ident::with_quote('"', fully_parenthesized(expr)))
                }
                _ => return None,
            };
            let per_row = !calls(expr, is_aggregate) && first_window(expr).is_none();
            per_row.then(|| (expr.clone(), name))
        })
        .collect()
}

/// Whether `expr` calls a function whose name `is_named` accepts.
fn calls(expr: &Expr, is_named: &dyn Fn(&str) -> bool) -> bool {
    visit_expressions(expr, |e| match e {
        Expr::Function(f) if is_named(&f.name.to_string().to_lowercase()) => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// `Some(false)` for a join that pairs every row with every element (CROSS JOIN, or an inner
/// join ON true), `Some(true)` for `LEFT JOIN ... ON true`, `None` for any other.
fn cross_or_outer(operator: &JoinOperator) -> Option<bool> {
    let on_true = |constraint: &JoinConstraint| match constraint {
        JoinConstraint::On(Expr::Value(v)) => v.value == Value::Boolean(true),
        JoinConstraint::None => true,
        _ => false,
    };
    match operator {
        JoinOperator::CrossJoin(JoinConstraint::None) => Some(false),
        JoinOperator::Join(c) | JoinOperator::Inner(c) if on_true(c) => Some(false),
        JoinOperator::Left(c) | JoinOperator::LeftOuter(c) if on_true(c) => Some(true),
        _ => None,
    }
}

/// The one earlier table `values` (a list, or a subquery's columns) read: the one their
/// qualified names name, or the only earlier table when they name none. `None` when they read
/// no earlier table (constants, which DataFusion plans itself) or several.
fn read_table(
    values: &impl Visit,
    earlier: &[Position],
    from: &[TableWithJoins],
) -> Option<Position> {
    let read = names_read(values);
    let (qualifiers, bare) = (read.qualifiers, read.bare.is_some());
    let named: Vec<Position> = earlier
        .iter()
        .copied()
        .filter(|&at| {
            visible_name(factor_at(from, at))
                .is_some_and(|name| qualifiers.contains(&name.value.to_lowercase()))
        })
        .collect();
    match (named.as_slice(), bare, earlier) {
        ([table], _, _) => Some(*table),
        ([], true, [only]) => Some(*only),
        _ => None,
    }
}

/// Whether `table` keeps every row through the joins between it and the unnest: no outer join
/// makes it the NULL side, and it is not the right side of a semi or anti join (whose columns
/// are not visible after it).
fn keeps_all_rows(from: &[TableWithJoins], table: Position, unnest: Position) -> bool {
    let joins = &from[table.item].joins;
    let introduced_by = table.slot.checked_sub(1).map(|k| &joins[k].join_operator);
    let null_side_from_the_left = introduced_by.is_some_and(|op| {
        !matches!(
            op,
            JoinOperator::Join(_)
                | JoinOperator::Inner(_)
                | JoinOperator::CrossJoin(_)
                | JoinOperator::Right(_)
                | JoinOperator::RightOuter(_)
        )
    });
    // Joins after the table (up to the unnest, or all of them when the unnest is in a later
    // FROM item) that keep only their right side's rows.
    let end = if unnest.item == table.item {
        unnest.slot - 1
    } else {
        joins.len()
    };
    let null_side_from_the_right = joins[table.slot..end].iter().any(|join| {
        matches!(
            join.join_operator,
            JoinOperator::Right(_)
                | JoinOperator::RightOuter(_)
                | JoinOperator::FullOuter(_)
                | JoinOperator::RightSemi(_)
                | JoinOperator::RightAnti(_)
        )
    });
    !null_side_from_the_left && !null_side_from_the_right
}

/// Replaces the table by `(SELECT name.*, unnest(list) AS column FROM table) AS name` (or the
/// subquery's columns in place of the unnest) and removes the lateral factor; returns the
/// renaming the rest of the query needs. A column named as one of the table's `columns` is
/// held under its [`held_name`].
fn apply(select: &mut Select, found: Found, columns: Option<&[String]>) -> Result<Rename> {
    let from = &mut select.from;
    let unnest = match found.unnest.slot {
        0 => {
            let item = from.remove(found.unnest.item);
            from[found.table.item].joins.extend(item.joins);
            item.relation
        }
        k => from[found.unnest.item].joins.remove(k - 1).relation,
    };
    let (alias, computed) = match (unnest, found.computed) {
        (TableFactor::UNNEST { alias, .. }, Computed::Unnest(lists)) => {
            let alias = alias.unwrap_or_else(|| unnest_alias("unnest"));
            let mut names = alias.columns.iter().map(|c| c.name.clone());
            let columns: Vec<(String, Ident)> = lists
                .iter()
                .map(|list| {
                    let column = names.next().unwrap_or_else(|| alias.name.clone());
                    // DataFusion's unnest drops a row whose lists are all empty or NULL; one
                    // NULL element keeps it.
                    let list = match found.keep_empty {
                        true => format!(
                            "CASE WHEN coalesce(cardinality({list}), 0) = 0 THEN [NULL] ELSE {list} END"
                        ),
                        false => list.to_string(),
                    };
                    (format!("unnest({list})"), column)
                })
                .collect();
            (alias.name, columns)
        }
        (TableFactor::Derived { alias, .. }, Computed::Columns(columns)) => {
            let alias = alias.unwrap_or_else(|| unnest_alias("unnamed_subquery"));
            // `LATERAL (SELECT ...) AS s(a, b)` renames the columns in order.
            let mut renamed = alias.columns.iter().map(|c| c.name.clone());
            let columns = columns
                .into_iter()
                .map(|(expr, name)| (expr.to_string(), renamed.next().unwrap_or(name)))
                .collect();
            (alias.name, columns)
        }
        _ => unreachable!("next_lateral_unnest found an UNNEST or a derived table"),
    };
    let table = match found.table.slot {
        0 => &mut from[found.table.item].relation,
        k => &mut from[found.table.item].joins[k - 1].relation,
    };
    let name = visible_name(table)
        .cloned()
        .expect("the table was found by its name");
    let taken = |column: &Ident| {
        columns.is_some_and(|names| names.iter().any(|n| n.eq_ignore_ascii_case(&column.value)))
    };
    let computed: Vec<(String, Ident, Ident)> = computed
        .into_iter()
        .map(|(value, column)| {
            let held = match taken(&column) {
                true => held_name(&alias, &column),
                false => column.clone(),
            };
            (value, column, held)
        })
        .collect();
    let items: Vec<String> = computed
        .iter()
        .map(|(value, _, held)| format!("{value} AS {held}"))
        .collect();
    let sql = format!("SELECT {name}.*, {} FROM {table}", items.join(", "));
    let subquery = super::dialect::parse_query(&sql)
        .map_err(|e| TarnError::Parse(format!("inlining a lateral unnest: {e}")))?;
    *table = TableFactor::Derived {
        lateral: false,
        subquery,
        alias: Some(TableAlias {
            explicit: true,
            name: name.clone(),
            columns: vec![],
            at: None,
        }),
        sample: None,
    };
    Ok(Rename {
        from: alias.value,
        to: name,
        columns: computed
            .into_iter()
            .map(|(_, column, held)| (column, held))
            .collect(),
    })
}

/// The name a computed column `column` of the lateral factor `alias` is held under in its
/// table's derived table, where the table has a column of that name.
fn held_name(alias: &Ident, column: &Ident) -> Ident {
    Ident::with_quote('"', format!("__tarn_{}_{}", alias.value, column.value))
}

fn unnest_alias(name: &str) -> TableAlias {
    TableAlias {
        explicit: false,
        name: Ident::new(name),
        columns: vec![],
        at: None,
    }
}

/// Replaces the unnest's name in qualified references by its table's: `u.x` becomes `t.x`
/// (`t.<held name>` where the column is held under another), and `u.*` the unnest's columns,
/// `t.x`.
#[derive(Clone)]
struct Rename {
    from: String,
    to: Ident,
    /// Each computed column's name, and the name its table holds it under.
    columns: Vec<(Ident, Ident)>,
}

impl Rename {
    /// The computed columns held under another name than their own (the table has theirs).
    fn held_apart(&self) -> impl Iterator<Item = &Ident> {
        self.columns
            .iter()
            .filter(|(column, held)| column != held)
            .map(|(column, _)| column)
    }

    /// The column `u.*` stands for each computed column: `t.x`, or `t.<held> AS x`.
    fn column_item(&self, (column, held): &(Ident, Ident)) -> SelectItem {
        let expr = Expr::CompoundIdentifier(vec![self.to.clone(), held.clone()]);
        match column == held {
            true => SelectItem::UnnamedExpr(expr),
            false => SelectItem::ExprWithAlias {
                expr,
                alias: column.clone(),
            },
        }
    }

    /// Keeps the computed columns out of the inlined select's `t.*`, which stands for the
    /// table's own columns. Where one is held under another name, `*` shows the computed
    /// columns after all others, each by its own name.
    fn leave_out_of_wildcards(&self, projection: &mut Vec<SelectItem>) {
        let hidden = self.held_apart().next().is_some();
        let mut items = Vec::with_capacity(projection.len() + self.columns.len());
        for mut item in projection.drain(..) {
            match &mut item {
                SelectItem::QualifiedWildcard(
                    SelectItemQualifiedWildcardKind::ObjectName(n),
                    options,
                ) if n.0.len() == 1
                    && n.0[0]
                        .as_ident()
                        .is_some_and(|i| i.value.eq_ignore_ascii_case(&self.to.value)) =>
                {
                    for (_, held) in &self.columns {
                        exclude(options, held.clone());
                    }
                    items.push(item);
                }
                SelectItem::Wildcard(options) if hidden => {
                    for (_, held) in &self.columns {
                        exclude(options, held.clone());
                    }
                    items.push(item);
                    items.extend(self.columns.iter().map(|column| self.column_item(column)));
                }
                _ => items.push(item),
            }
        }
        *projection = items;
    }

    /// A bare name in `select`'s own clauses (not its subqueries') that both the table and the
    /// computed columns have: DuckDB refuses it as ambiguous, where here the table's column
    /// would silently win.
    fn ambiguous_name(&self, select: &Select) -> Option<Ident> {
        let held: Vec<&Ident> = self.held_apart().collect();
        if held.is_empty() {
            return None;
        }
        let mut finder = BareName {
            names: held,
            depth: 0,
        };
        match select.visit(&mut finder) {
            ControlFlow::Break(name) => Some(name),
            ControlFlow::Continue(()) => None,
        }
    }
}

/// Finds one of `names` written bare outside any subquery.
struct BareName<'a> {
    names: Vec<&'a Ident>,
    depth: usize,
}

impl Visitor for BareName<'_> {
    type Break = Ident;

    fn pre_visit_query(&mut self, _query: &Query) -> ControlFlow<Ident> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<Ident> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Ident> {
        match expr {
            Expr::Identifier(ident)
                if self.depth == 0
                    && self
                        .names
                        .iter()
                        .any(|name| name.value.eq_ignore_ascii_case(&ident.value)) =>
            {
                ControlFlow::Break(ident.clone())
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

impl VisitorMut for Rename {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::CompoundIdentifier(parts) = expr
            && parts[0].value.eq_ignore_ascii_case(&self.from)
        {
            parts[0] = self.to.clone();
            let held = parts.get(1).and_then(|part| {
                self.columns
                    .iter()
                    .find(|(column, _)| column.value.eq_ignore_ascii_case(&part.value))
            });
            if let Some((_, held)) = held {
                parts[1] = held.clone();
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        let mut projection = Vec::with_capacity(select.projection.len());
        for mut item in select.projection.drain(..) {
            // An item that reads the unnest keeps the name it has as written (`(u.x + 1)`,
            // not `(t.x + 1)`; `u.id`, not the name the column is held under).
            if let SelectItem::UnnamedExpr(expr) = &item
                && names_read(expr)
                    .qualifiers
                    .contains(&self.from.to_lowercase())
            {
                let name = match expr {
                    Expr::CompoundIdentifier(parts) => {
                        let column = &parts[parts.len() - 1];
                        let held = self
                            .held_apart()
                            .any(|c| c.value.eq_ignore_ascii_case(&column.value));
                        held.then(|| column.clone())
                    }
                    _ => Some(Ident::with_quote('"', fully_parenthesized(expr))),
                };
                if let Some(alias) = name {
                    item = SelectItem::ExprWithAlias {
                        expr: expr.clone(),
                        alias,
                    };
                }
            }
            if let SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(n), _) =
                &item
                && let [part] = n.0.as_slice()
                && part
                    .as_ident()
                    .is_some_and(|i| i.value.eq_ignore_ascii_case(&self.from))
            {
                projection.extend(self.columns.iter().map(|column| self.column_item(column)));
            } else {
                projection.push(item);
            }
        }
        select.projection = projection;
        ControlFlow::Continue(())
    }
}
