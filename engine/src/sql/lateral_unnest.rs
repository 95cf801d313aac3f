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
//! Moving the unnest next to its table changes no answer where that table keeps all its rows
//! through the joins between them (it is not the NULL side of an outer join); elsewhere the
//! query is left to DataFusion, which refuses it (see `error::lateral_reference`).

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Ident, JoinConstraint, JoinOperator, Query, Select, SelectItem,
    SelectItemQualifiedWildcardKind, SetExpr, TableAlias, TableFactor, TableWithJoins, Value,
    VisitMut, VisitorMut,
};

use super::rewrite::{names_read, visible_name};
use crate::error::{Result, TarnError};

/// Inlines every lateral unnest of `statement` that can move next to its table.
pub(super) fn inline(statement: &mut sqlparser::ast::Statement) -> Result<()> {
    super::rewrite::run_visitor(statement, &mut Inliner)
}

struct Inliner;

impl VisitorMut for Inliner {
    type Break = TarnError;

    // A query's own SELECT first, so that its ORDER BY is renamed with it.
    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<TarnError> {
        let Query { body, order_by, .. } = query;
        if let SetExpr::Select(select) = body.as_mut() {
            match inline_in_select(select) {
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
        match inline_in_select(select) {
            Ok(_) => ControlFlow::Continue(()),
            Err(err) => ControlFlow::Break(err),
        }
    }
}

/// Inlines the select's lateral unnests, one at a time from the left (a later one may read an
/// earlier one's column), and returns the renamings made.
fn inline_in_select(select: &mut Select) -> Result<Vec<Rename>> {
    let mut renames = Vec::new();
    while let Some(found) = next_lateral_unnest(&select.from) {
        let mut rename = apply(select, found)?;
        let _ = select.visit(&mut rename);
        renames.push(rename);
    }
    Ok(renames)
}

/// Where a factor sits in a FROM clause: the item, and 0 for its relation or k for its k-th
/// join's.
#[derive(Clone, Copy, PartialEq)]
struct Position {
    item: usize,
    slot: usize,
}

/// A lateral unnest that can be inlined: where it is, and the table it reads.
struct Found {
    unnest: Position,
    table: Position,
    /// `LEFT JOIN unnest(...) ON true`: rows with no element are kept.
    keep_empty: bool,
}

fn factor_at(from: &[TableWithJoins], at: Position) -> &TableFactor {
    match at.slot {
        0 => &from[at.item].relation,
        k => &from[at.item].joins[k - 1].relation,
    }
}

fn next_lateral_unnest(from: &[TableWithJoins]) -> Option<Found> {
    let positions: Vec<Position> = from
        .iter()
        .enumerate()
        .flat_map(|(item, table)| (0..=table.joins.len()).map(move |slot| Position { item, slot }))
        .collect();
    positions.iter().enumerate().find_map(|(index, &at)| {
        let TableFactor::UNNEST { array_exprs, .. } = factor_at(from, at) else {
            return None;
        };
        // Its own FROM item (`, unnest(...)`) is joined to the items before it.
        let keep_empty = match at.slot {
            0 => false,
            k => cross_or_outer(&from[at.item].joins[k - 1].join_operator)?,
        };
        let [list] = array_exprs.as_slice() else {
            return None;
        };
        let earlier = &positions[..index];
        let table = read_table(list, earlier, from)?;
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
            keep_empty,
        })
    })
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

/// The one earlier table the list reads: the one its qualified names name, or the only
/// earlier table when it names none. `None` when it reads no earlier table (a constant list,
/// which DataFusion plans itself) or several.
fn read_table(list: &Expr, earlier: &[Position], from: &[TableWithJoins]) -> Option<Position> {
    let read = names_read(list);
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

/// Replaces the table by `(SELECT name.*, unnest(list) AS column FROM table) AS name` and
/// removes the unnest; returns the renaming the rest of the query needs.
fn apply(select: &mut Select, found: Found) -> Result<Rename> {
    let from = &mut select.from;
    let unnest = match found.unnest.slot {
        0 => {
            let item = from.remove(found.unnest.item);
            from[found.table.item].joins.extend(item.joins);
            item.relation
        }
        k => from[found.unnest.item].joins.remove(k - 1).relation,
    };
    let TableFactor::UNNEST {
        alias, array_exprs, ..
    } = unnest
    else {
        unreachable!("next_lateral_unnest found an UNNEST factor");
    };
    let alias = alias.unwrap_or_else(|| unnest_alias("unnest"));
    let column = alias
        .columns
        .first()
        .map(|c| c.name.clone())
        .unwrap_or_else(|| alias.name.clone());
    let list = &array_exprs[0];
    let table = match found.table.slot {
        0 => &mut from[found.table.item].relation,
        k => &mut from[found.table.item].joins[k - 1].relation,
    };
    let name = visible_name(table)
        .cloned()
        .expect("the table was found by its name");
    // DataFusion's unnest drops a row whose list is empty or NULL; one NULL element keeps it.
    let list = if found.keep_empty {
        format!("CASE WHEN coalesce(cardinality({list}), 0) = 0 THEN [NULL] ELSE {list} END")
    } else {
        list.to_string()
    };
    let sql = format!("SELECT {name}.*, unnest({list}) AS {column} FROM {table}");
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
        from: alias.name.value,
        to: name,
        column,
    })
}

fn unnest_alias(name: &str) -> TableAlias {
    TableAlias {
        explicit: false,
        name: Ident::new(name),
        columns: vec![],
        at: None,
    }
}

/// Replaces the unnest's name in qualified references by its table's: `u.x` becomes `t.x`,
/// and `u.*` the unnest's column, `t.x`.
#[derive(Clone)]
struct Rename {
    from: String,
    to: Ident,
    column: Ident,
}

impl VisitorMut for Rename {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::CompoundIdentifier(parts) = expr
            && parts[0].value.eq_ignore_ascii_case(&self.from)
        {
            parts[0] = self.to.clone();
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        for item in &mut select.projection {
            if let SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(n), _) =
                item
                && let [part] = n.0.as_slice()
                && part
                    .as_ident()
                    .is_some_and(|i| i.value.eq_ignore_ascii_case(&self.from))
            {
                *item = SelectItem::UnnamedExpr(Expr::CompoundIdentifier(vec![
                    self.to.clone(),
                    self.column.clone(),
                ]));
            }
        }
        ControlFlow::Continue(())
    }
}
