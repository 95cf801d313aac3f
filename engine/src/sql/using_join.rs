//! `JOIN ... USING (k, ...)` with DuckDB's meaning, written out as `ON` joins for DataFusion.
//!
//! A USING join merges each named column of its two sides into one: a bare `k` anywhere in
//! the SELECT (select list, WHERE, GROUP BY, HAVING, QUALIFY, ORDER BY, a later join's ON) is
//! the left side's `k` after an inner or LEFT join, the right side's after a RIGHT join and
//! `coalesce(left.k, right.k)` after a FULL join; `*` shows it once, in the left side's place,
//! and `t.*` keeps each side's own column. DataFusion plans USING joins itself but reads the
//! merged column from the left side for RIGHT and FULL joins too (NULL for rows only the right
//! side has), and calls a bare `k` in WHERE ambiguous.
//!
//! So each USING join whose sides are named relations becomes `ON left.k = right.k`, bare
//! references to `k` in the SELECT's own clauses become the merged expression (not inside
//! subqueries, which have their own scope, nor where a lambda parameter shadows the name), and
//! `*` becomes each relation's `t.*` with the right sides' merged columns excluded and the left
//! side's replaced by the merged expression where it differs (`* EXCLUDE (k)` leaves `k` out of
//! all). A SELECT this cannot write out (a side without a name, a parenthesized join, a `*` with
//! other options, a merged column whose left relation is unknown because the left side joins
//! several by ON) keeps its USING joins for DataFusion, as before.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Distinct, ExcludeSelectItem, Expr, GroupByExpr, Ident, JoinConstraint, JoinOperator,
    ObjectName, OrderByKind, Query, ReplaceSelectElement, ReplaceSelectItem, Select, SelectItem,
    SelectItemQualifiedWildcardKind, SetExpr, Statement, TableWithJoins, VisitMut, VisitorMut,
    WildcardAdditionalOptions,
};

use super::rewrite::{call, conjunction, fully_parenthesized, run_visitor, visible_name};
use crate::error::{Result, TarnError};

/// Rewrites the USING joins of every SELECT in `statement`.
pub(super) fn merge_using_columns(statement: &mut Statement) -> Result<()> {
    run_visitor(statement, &mut UsingJoins)
}

struct UsingJoins;

impl VisitorMut for UsingJoins {
    type Break = TarnError;

    /// A query whose body is a SELECT: its ORDER BY reads the SELECT's merged columns too.
    /// The SELECT then has no USING joins left when it is visited itself.
    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<TarnError> {
        let SetExpr::Select(select) = query.body.as_mut() else {
            return ControlFlow::Continue(());
        };
        let aliases = aliases(select);
        let Some(merged) = rewrite_select(select) else {
            return ControlFlow::Continue(());
        };
        if let Some(order_by) = &mut query.order_by
            && let OrderByKind::Expressions(items) = &mut order_by.kind
        {
            for item in items {
                // A name the select list gives a column of its own is that column.
                let names_alias = matches!(&item.expr, Expr::Identifier(ident)
                    if aliases.iter().any(|a| same_name(a, ident)));
                if !names_alias {
                    merged.substitute(&mut item.expr);
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<TarnError> {
        rewrite_select(select);
        ControlFlow::Continue(())
    }
}

/// How a join combines its sides, for the merged column it gives.
#[derive(Clone, Copy)]
enum Keeps {
    /// Inner and LEFT joins: the left side's value.
    Left,
    /// RIGHT joins: the right side's value.
    Right,
    /// FULL joins: whichever side has the row.
    Either,
}

fn keeps(operator: &JoinOperator) -> Option<(Keeps, &JoinConstraint)> {
    match operator {
        JoinOperator::Join(c)
        | JoinOperator::Inner(c)
        | JoinOperator::Left(c)
        | JoinOperator::LeftOuter(c) => Some((Keeps::Left, c)),
        JoinOperator::Right(c) | JoinOperator::RightOuter(c) => Some((Keeps::Right, c)),
        JoinOperator::FullOuter(c) => Some((Keeps::Either, c)),
        _ => None,
    }
}

/// Whether a join merges the columns it joins on (`USING`, `NATURAL`), so that its `*` has
/// them once.
pub(super) fn merges_columns(operator: &JoinOperator) -> bool {
    keeps(operator)
        .is_some_and(|(_, c)| matches!(c, JoinConstraint::Using(_) | JoinConstraint::Natural))
}

/// The constraint of a join [`keeps`] knows; `None` for other joins.
pub(super) fn constraint_mut(operator: &mut JoinOperator) -> Option<&mut JoinConstraint> {
    match operator {
        JoinOperator::Join(c)
        | JoinOperator::Inner(c)
        | JoinOperator::Left(c)
        | JoinOperator::LeftOuter(c)
        | JoinOperator::Right(c)
        | JoinOperator::RightOuter(c)
        | JoinOperator::FullOuter(c) => Some(c),
        _ => None,
    }
}

/// One relation's part of `*`: `name.* EXCLUDE (...) REPLACE (...)`.
struct Star {
    relation: Ident,
    exclude: Vec<Ident>,
    replace: Vec<(Ident, Expr)>,
}

/// A merged column: its name, the expression a bare reference means, and the relation whose
/// `*` shows it.
struct Merged {
    name: Ident,
    expr: Expr,
    home: usize,
}

/// The merged columns of a SELECT, for its clauses' bare references.
struct MergedColumns(Vec<Merged>);

impl MergedColumns {
    fn find(&self, ident: &Ident) -> Option<&Merged> {
        self.0.iter().find(|m| same_name(&m.name, ident))
    }

    /// Replaces bare references in `expr` (outside subqueries and shadowing lambdas); whether
    /// any was replaced.
    fn substitute(&self, expr: &mut Expr) -> bool {
        let mut visitor = Substitute {
            merged: self,
            depth: 0,
            replaced: false,
        };
        let _ = expr.visit(&mut visitor);
        visitor.replaced
    }

    /// The merged columns a plain `*`'s options leave out (none for a bare `*`); `None` for
    /// options other than EXCLUDE, or an EXCLUDE of a column that is not merged.
    fn excluded_by(&self, options: &WildcardAdditionalOptions) -> Option<Vec<Ident>> {
        let only_exclude = WildcardAdditionalOptions {
            opt_exclude: options.opt_exclude.clone(),
            ..Default::default()
        };
        if *options != only_exclude {
            return None;
        }
        let names: Vec<&ObjectName> = match &options.opt_exclude {
            None => vec![],
            Some(ExcludeSelectItem::Single(name)) => vec![name],
            Some(ExcludeSelectItem::Multiple(names)) => names.iter().collect(),
        };
        names
            .into_iter()
            .map(|name| {
                let ident = last_ident(name)?;
                self.find(&ident).map(|m| m.name.clone())
            })
            .collect()
    }

    fn substitute_all<'e>(&self, exprs: impl IntoIterator<Item = &'e mut Expr>) {
        for expr in exprs {
            self.substitute(expr);
        }
    }
}

fn same_name(a: &Ident, b: &Ident) -> bool {
    match (a.quote_style, b.quote_style) {
        (None, None) => a.value.eq_ignore_ascii_case(&b.value),
        _ => a.value == b.value,
    }
}

/// Rewrites the SELECT's USING joins as described in the module docs; the merged columns,
/// or `None` (and the SELECT untouched) where there are none or they cannot be written out.
fn rewrite_select(select: &mut Select) -> Option<MergedColumns> {
    let uses = select.from.iter().flat_map(|t| &t.joins).any(|j| {
        keeps(&j.join_operator).is_some_and(|(_, c)| matches!(c, JoinConstraint::Using(_)))
    });
    if !uses {
        return None;
    }
    let (mut stars, merged, conditions) = plan(&select.from)?;
    let merged = MergedColumns(merged);
    // `* EXCLUDE (k)` of merged columns leaves them out of every part; other options would
    // need to know which relation has the column.
    for item in &select.projection {
        if let SelectItem::Wildcard(options) = item {
            for name in merged.excluded_by(options)? {
                for star in &mut stars {
                    star.replace.retain(|(n, _)| !same_name(n, &name));
                    if !star.exclude.iter().any(|e| same_name(e, &name)) {
                        star.exclude.push(name.clone());
                    }
                }
            }
        }
    }

    // The ON conditions, and bare references in ON conditions after the first USING join.
    let mut conditions = conditions.into_iter();
    let mut after_using = false;
    for table in &mut select.from {
        for join in &mut table.joins {
            match constraint_mut(&mut join.join_operator) {
                Some(constraint @ JoinConstraint::Using(_)) => {
                    let on = conditions.next().expect("one condition per USING join");
                    *constraint = JoinConstraint::On(on);
                    after_using = true;
                }
                Some(JoinConstraint::On(on)) if after_using => {
                    merged.substitute(on);
                }
                _ => {}
            }
        }
    }

    let mut projection = Vec::with_capacity(select.projection.len());
    for item in select.projection.drain(..) {
        match item {
            SelectItem::Wildcard(_) => projection.extend(stars.iter().map(star_item)),
            SelectItem::UnnamedExpr(expr) => {
                let mut rewritten = expr.clone();
                if merged.substitute(&mut rewritten) {
                    let name = match &expr {
                        Expr::Identifier(ident) => ident.clone(),
                        other => Ident::with_quote('"', fully_parenthesized(other)),
                    };
                    projection.push(SelectItem::ExprWithAlias {
                        expr: rewritten,
                        alias: name,
                    });
                } else {
                    projection.push(SelectItem::UnnamedExpr(expr));
                }
            }
            SelectItem::ExprWithAlias { mut expr, alias } => {
                merged.substitute(&mut expr);
                projection.push(SelectItem::ExprWithAlias { expr, alias });
            }
            other => projection.push(other),
        }
    }
    select.projection = projection;

    if let Some(Distinct::On(exprs)) = &mut select.distinct {
        merged.substitute_all(exprs);
    }
    if let GroupByExpr::Expressions(exprs, _) = &mut select.group_by {
        merged.substitute_all(exprs);
    }
    merged.substitute_all(
        [
            &mut select.selection,
            &mut select.having,
            &mut select.qualify,
        ]
        .into_iter()
        .flatten(),
    );
    Some(merged)
}

/// The stars, merged columns and one ON condition per USING join (in order) of a FROM clause,
/// or `None` where a relation has no name or a merged column's left relation is unknown.
fn plan(from: &[TableWithJoins]) -> Option<(Vec<Star>, Vec<Merged>, Vec<Expr>)> {
    let mut stars: Vec<Star> = Vec::new();
    let mut merged: Vec<Merged> = Vec::new();
    let mut conditions = Vec::new();
    let star = |factor| {
        visible_name(factor).map(|name| Star {
            relation: name.clone(),
            exclude: vec![],
            replace: vec![],
        })
    };
    for table in from {
        let first = stars.len();
        stars.push(star(&table.relation)?);
        // Merged columns of this FROM item so far; another item's are out of its joins' reach.
        let mut group: Vec<Merged> = Vec::new();
        for join in &table.joins {
            let right = stars.len();
            stars.push(star(&join.relation)?);
            let Some((kept, JoinConstraint::Using(columns))) = keeps(&join.join_operator) else {
                continue;
            };
            let mut equalities = Vec::with_capacity(columns.len());
            for column in columns {
                let name = last_ident(column)?;
                let right_expr = qualified(&stars[right].relation, &name);
                let (left_expr, home) = match group.iter().find(|m| same_name(&m.name, &name)) {
                    Some(m) => (m.expr.clone(), m.home),
                    // Only a lone relation on the left is known to hold the column.
                    None if right == first + 1 => (qualified(&stars[first].relation, &name), first),
                    None => return None,
                };
                equalities.push(Expr::BinaryOp {
                    left: Box::new(left_expr.clone()),
                    op: sqlparser::ast::BinaryOperator::Eq,
                    right: Box::new(right_expr.clone()),
                });
                let expr = match kept {
                    Keeps::Left => left_expr,
                    Keeps::Right => right_expr,
                    Keeps::Either => call("coalesce", [left_expr, right_expr]),
                };
                stars[right].exclude.push(name.clone());
                let shown = qualified(&stars[home].relation, &name);
                let replace = &mut stars[home].replace;
                replace.retain(|(n, _)| !same_name(n, &name));
                if expr != shown {
                    replace.push((name.clone(), expr.clone()));
                }
                group.retain(|m| !same_name(&m.name, &name));
                group.push(Merged { name, expr, home });
            }
            conditions.push(conjunction(equalities).expect("USING names a column"));
        }
        for m in group {
            // The same column merged in two FROM items is ambiguous: left to DataFusion.
            if merged.iter().any(|other| same_name(&other.name, &m.name)) {
                return None;
            }
            merged.push(m);
        }
    }
    Some((stars, merged, conditions))
}

fn last_ident(name: &ObjectName) -> Option<Ident> {
    name.0.last()?.as_ident().cloned()
}

fn qualified(relation: &Ident, column: &Ident) -> Expr {
    Expr::CompoundIdentifier(vec![relation.clone(), column.clone()])
}

fn star_item(star: &Star) -> SelectItem {
    let options = WildcardAdditionalOptions {
        opt_exclude: (!star.exclude.is_empty()).then(|| {
            ExcludeSelectItem::Multiple(
                star.exclude
                    .iter()
                    .map(|name| ObjectName::from(vec![name.clone()]))
                    .collect(),
            )
        }),
        opt_replace: (!star.replace.is_empty()).then(|| ReplaceSelectItem {
            items: star
                .replace
                .iter()
                .map(|(name, expr)| {
                    Box::new(ReplaceSelectElement {
                        expr: expr.clone(),
                        column_name: name.clone(),
                        as_keyword: true,
                    })
                })
                .collect(),
        }),
        ..Default::default()
    };
    SelectItem::QualifiedWildcard(
        SelectItemQualifiedWildcardKind::ObjectName(ObjectName::from(vec![star.relation.clone()])),
        options,
    )
}

/// The aliases the select list gives its expressions.
fn aliases(select: &Select) -> Vec<Ident> {
    select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.clone()),
            _ => None,
        })
        .collect()
}

/// Replaces bare references to merged columns, counting the subqueries and shadowing lambdas
/// it is inside.
struct Substitute<'a> {
    merged: &'a MergedColumns,
    depth: usize,
    replaced: bool,
}

impl Substitute<'_> {
    fn shadows(&self, expr: &Expr) -> bool {
        let Expr::Lambda(lambda) = expr else {
            return false;
        };
        let params: Vec<&Ident> = match &lambda.params {
            sqlparser::ast::OneOrManyWithParens::One(p) => vec![&p.name],
            sqlparser::ast::OneOrManyWithParens::Many(ps) => ps.iter().map(|p| &p.name).collect(),
        };
        params.iter().any(|p| self.merged.find(p).is_some())
    }
}

impl VisitorMut for Substitute<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if self.shadows(expr) {
            self.depth += 1;
        }
        if self.depth == 0
            && let Expr::Identifier(ident) = expr
            && let Some(merged) = self.merged.find(ident)
        {
            *expr = merged.expr.clone();
            self.replaced = true;
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if self.shadows(expr) {
            self.depth -= 1;
        }
        ControlFlow::Continue(())
    }
}
