//! DuckDB's `ASOF JOIN`: each left row meets the one right row whose time is the nearest on the
//! inequality's side (`t.ts >= q.ts`: the latest quote at or before the trade), among rows
//! with equal keys (`t.ticker = q.ticker`). `ASOF LEFT JOIN` keeps left rows that meet none.
//! Written with `ON` (keys as equalities, one inequality) or `USING (keys..., time)`, where the
//! last column is the time and the inequality is `>=`.
//!
//! sqlparser reads only Snowflake's form (`ASOF JOIN q MATCH_CONDITION (t.ts >= q.ts) ON
//! ...`), and DataFusion plans neither, so [`mark`] turns DuckDB's text into Snowflake's with a
//! marker in place of the condition, and [`plan_as_joins`] rewrites each ASOF join into SQL
//! DataFusion runs in O(n log n):
//!
//! 1. The left rows and the right rows' keys and times go into one relation (`UNION ALL BY
//!    NAME`), sorted within each key by time, and a running `max` (or `min` for `<=`) over the
//!    right rows' times gives each left row the time of its match. At equal times, right rows
//!    sort before left rows for `>=` and `<=`, after them for `>` and `<`.
//! 2. The left side becomes that relation's left rows under the left side's name, with the
//!    match's time as a hidden column, and is joined by equality to the right side on the keys
//!    and that time. The right side keeps one row per key and time (`DISTINCT ON`), since an
//!    ASOF join gives a left row one match even where the right side repeats a time.
//!
//! The SELECT list's `*` and `left.*` leave the hidden column out.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::tokenizer::{Token, Whitespace};
use sqlparser::ast::{
    BinaryOperator, Expr, Ident, JoinConstraint, JoinOperator, Select, SelectItem,
    SelectItemQualifiedWildcardKind, Statement, TableFactor, VisitorMut, WildcardAdditionalOptions,
    visit_expressions_mut,
};

use super::rewrite::{
    conjunction, exclude, names_read, run_visitor, split_conjuncts, visible_name,
};
use super::tokens::{is_keyword, skip_whitespace};
use crate::error::{Result, TarnError};

/// The marker [`mark`] writes as the match condition of DuckDB's `ASOF JOIN`.
const INNER_MARKER: &str = "tarn_asof_inner";
/// The marker for `ASOF LEFT JOIN`.
const LEFT_MARKER: &str = "tarn_asof_left";
/// The prefix of the columns the rewrite adds; the hidden column of the n-th ASOF join of a
/// statement is `__tarn_asof_match_n`.
const PREFIX: &str = "__tarn_asof";

/// `sql` with each `ASOF [INNER | LEFT [OUTER]] JOIN rel ON|USING` written as
/// `ASOF JOIN rel MATCH_CONDITION (marker) ON|USING`, which sqlparser reads. Text without
/// `ASOF` comes back unchanged.
pub fn mark(sql: &str) -> Result<String> {
    if !sql.to_ascii_uppercase().contains("ASOF") {
        return Ok(sql.to_string());
    }
    let mut tokens = super::tokenize(sql)?;
    let mut i = 0;
    while i < tokens.len() {
        if !is_keyword(&tokens[i], "ASOF") {
            i += 1;
            continue;
        }
        let mut next = skip_whitespace(&tokens, i + 1);
        if tokens.get(next).is_some_and(|t| is_keyword(t, "INNER")) {
            next = skip_whitespace(&tokens, next + 1);
        }
        let left = tokens.get(next).is_some_and(|t| is_keyword(t, "LEFT"));
        if left {
            next = skip_whitespace(&tokens, next + 1);
            if tokens.get(next).is_some_and(|t| is_keyword(t, "OUTER")) {
                next = skip_whitespace(&tokens, next + 1);
            }
        }
        if !tokens.get(next).is_some_and(|t| is_keyword(t, "JOIN")) {
            if let Some(kind) = tokens.get(next).filter(|t| {
                ["RIGHT", "FULL", "SEMI", "ANTI"]
                    .iter()
                    .any(|k| is_keyword(t, k))
            }) {
                return Err(TarnError::Invalid(format!(
                    "ASOF {kind} JOIN is not supported: an ASOF join is ASOF JOIN or ASOF LEFT JOIN"
                )));
            }
            i += 1;
            continue;
        }
        let Some(constraint) = constraint_start(&tokens, next + 1) else {
            i = next + 1;
            continue;
        };
        let marker = if left { LEFT_MARKER } else { INNER_MARKER };
        let condition = super::tokenize(&format!(" MATCH_CONDITION ({marker}) "))?;
        tokens.splice(constraint..constraint, condition);
        // `ASOF LEFT [OUTER] JOIN` becomes `ASOF JOIN`.
        tokens.splice(i + 1..next, [Token::Whitespace(Whitespace::Space)]);
        i += 1;
    }
    Ok(tokens.iter().map(|t| t.to_string()).collect())
}

/// The index of the `ON` or `USING` that ends the relation starting at `start` (outside any
/// parentheses), or `MATCH_CONDITION` when the text is Snowflake's already (`None` then).
fn constraint_start(tokens: &[Token], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(start) {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.checked_sub(1)?,
            Token::SemiColon if depth == 0 => return None,
            t if depth == 0 && is_keyword(t, "MATCH_CONDITION") => return None,
            t if depth == 0 && (is_keyword(t, "ON") || is_keyword(t, "USING")) => {
                return Some(i);
            }
            _ => {}
        }
    }
    None
}

/// Rewrites every ASOF join of `statement` into joins DataFusion plans (see the module's doc).
pub(super) fn plan_as_joins(statement: &mut Statement) -> Result<()> {
    run_visitor(statement, &mut AsofJoins { count: 0 })
}

struct AsofJoins {
    /// The ASOF joins rewritten so far, which numbers each one's hidden column.
    count: usize,
}

impl VisitorMut for AsofJoins {
    type Break = TarnError;

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<TarnError> {
        match self.rewrite_select(select) {
            Ok(()) => ControlFlow::Continue(()),
            Err(err) => ControlFlow::Break(err),
        }
    }
}

impl AsofJoins {
    fn rewrite_select(&mut self, select: &mut Select) -> Result<()> {
        let mut hidden_columns = Vec::new();
        for item in &mut select.from {
            for index in 0..item.joins.len() {
                let JoinOperator::AsOf {
                    match_condition,
                    constraint,
                } = &item.joins[index].join_operator
                else {
                    continue;
                };
                if index > 0 {
                    return Err(TarnError::Invalid(
                        "the left side of an ASOF JOIN must be one table; put the joins before \
                         it in a subquery"
                            .into(),
                    ));
                }
                self.count += 1;
                let hidden = format!("{PREFIX}_match_{}", self.count);
                let left = &item.relation;
                let right = &item.joins[index].relation;
                let join = AsofJoin::read(left, right, match_condition, constraint)?;
                let (relation, joined) = join.as_joins(left, right, &hidden)?;
                item.relation = relation;
                item.joins[index] = joined;
                hidden_columns.push((join, hidden));
                break;
            }
        }
        for (join, hidden) in hidden_columns {
            join.hide_column(select, &hidden)?;
        }
        Ok(())
    }
}

/// How the time of the right row compares with the left row's, normalised to `left OP right`.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Inequality {
    /// `left >= right`: the latest right time at or before the left time.
    AtOrAfter,
    /// `left > right`: the latest right time strictly before.
    After,
    /// `left <= right`: the earliest right time at or after.
    AtOrBefore,
    /// `left < right`: the earliest right time strictly after.
    Before,
}

impl Inequality {
    fn from_operator(op: &BinaryOperator) -> Option<Self> {
        Some(match op {
            BinaryOperator::GtEq => Self::AtOrAfter,
            BinaryOperator::Gt => Self::After,
            BinaryOperator::LtEq => Self::AtOrBefore,
            BinaryOperator::Lt => Self::Before,
            _ => return None,
        })
    }

    /// The same comparison with its sides swapped (`q.ts <= t.ts` is `t.ts >= q.ts`).
    fn flipped(self) -> Self {
        match self {
            Self::AtOrAfter => Self::AtOrBefore,
            Self::After => Self::Before,
            Self::AtOrBefore => Self::AtOrAfter,
            Self::Before => Self::After,
        }
    }

    /// The window's ORDER BY over time and side (0 for right rows, 1 for left rows), and the
    /// running aggregate that finds the match's time.
    fn window(self) -> (&'static str, &'static str) {
        match self {
            Self::AtOrAfter => ("ASC", "ASC"),
            Self::After => ("ASC", "DESC"),
            Self::AtOrBefore => ("DESC", "ASC"),
            Self::Before => ("DESC", "DESC"),
        }
    }

    fn running_aggregate(self) -> &'static str {
        match self {
            Self::AtOrAfter | Self::After => "max",
            Self::AtOrBefore | Self::Before => "min",
        }
    }
}

/// One ASOF join, read from its condition.
struct AsofJoin {
    left_name: Ident,
    right_name: Ident,
    /// Pairs of equal expressions, the left side's first.
    keys: Vec<(Expr, Expr)>,
    /// The left and right times.
    time: (Expr, Expr),
    inequality: Inequality,
    keep_unmatched: bool,
    /// The USING form's column names, which the join merges.
    using: Option<Vec<Ident>>,
    /// The condition's parts that read only the left side: a left row failing them meets no
    /// right row.
    left_filter: Option<Expr>,
    /// The parts that read only the right side: right rows failing them are no candidates.
    right_filter: Option<Expr>,
}

impl AsofJoin {
    fn read(
        left: &TableFactor,
        right: &TableFactor,
        match_condition: &Expr,
        constraint: &JoinConstraint,
    ) -> Result<Self> {
        let name_of = |factor: &TableFactor| {
            visible_name(factor).cloned().ok_or_else(|| {
                TarnError::Invalid(format!(
                    "each side of an ASOF JOIN needs a name: add an alias to {factor}"
                ))
            })
        };
        let left_name = name_of(left)?;
        let right_name = name_of(right)?;
        let marker = match match_condition {
            Expr::Identifier(ident) => Some(ident.value.as_str()),
            _ => None,
        };
        let keep_unmatched = marker == Some(LEFT_MARKER);
        let mut conditions = Vec::new();
        if !matches!(marker, Some(INNER_MARKER | LEFT_MARKER)) {
            // Snowflake's form: the inequality is the match condition.
            conditions.push(match_condition.clone());
        }
        let mut using = None;
        match constraint {
            JoinConstraint::On(on) => split_conjuncts(on, &mut conditions),
            JoinConstraint::Using(names) => {
                let columns: Vec<Ident> = names
                    .iter()
                    .filter_map(|name| name.0.last().and_then(|part| part.as_ident()).cloned())
                    .collect();
                let qualified = |table: &Ident, column: &Ident| {
                    Expr::CompoundIdentifier(vec![table.clone(), column.clone()])
                };
                for (at, column) in columns.iter().enumerate() {
                    let op = match at + 1 == columns.len() {
                        true => BinaryOperator::GtEq,
                        false => BinaryOperator::Eq,
                    };
                    conditions.push(Expr::BinaryOp {
                        left: Box::new(qualified(&left_name, column)),
                        op,
                        right: Box::new(qualified(&right_name, column)),
                    });
                }
                using = Some(columns);
            }
            JoinConstraint::None | JoinConstraint::Natural => {}
        }
        let mut keys = Vec::new();
        let mut times = Vec::new();
        let (mut left_filters, mut right_filters) = (Vec::new(), Vec::new());
        for condition in conditions {
            match side_of(&condition, &left_name, &right_name)? {
                Side::Left | Side::Neither => {
                    left_filters.push(condition);
                    continue;
                }
                Side::Right => {
                    right_filters.push(condition);
                    continue;
                }
                Side::Both => {}
            }
            let mixed = || {
                TarnError::Invalid(format!(
                    "an ASOF JOIN's condition compares {left_name} with {right_name} only by \
                     equalities and one inequality, so `{condition}` cannot be part of it"
                ))
            };
            let Expr::BinaryOp { left, op, right } = &condition else {
                return Err(mixed());
            };
            let (a, b, swapped) = match (
                side_of(left, &left_name, &right_name)?,
                side_of(right, &left_name, &right_name)?,
            ) {
                (Side::Left, Side::Right) => (left, right, false),
                (Side::Right, Side::Left) => (right, left, true),
                _ => return Err(mixed()),
            };
            let pair = ((**a).clone(), (**b).clone());
            if *op == BinaryOperator::Eq {
                keys.push(pair);
            } else if let Some(inequality) = Inequality::from_operator(op) {
                let inequality = if swapped {
                    inequality.flipped()
                } else {
                    inequality
                };
                times.push((pair, inequality));
            } else {
                return Err(mixed());
            }
        }
        let [(time, inequality)] = <[_; 1]>::try_from(times).map_err(|times| {
            TarnError::Invalid(format!(
                "an ASOF JOIN needs exactly one inequality (such as {left_name}.ts >= \
                 {right_name}.ts) in its condition, found {}",
                times.len()
            ))
        })?;
        Ok(Self {
            left_name,
            right_name,
            keys,
            time,
            inequality,
            keep_unmatched,
            using,
            left_filter: conjunction(left_filters),
            right_filter: conjunction(right_filters),
        })
    }

    /// The left side as a derived table carrying each row's match time in `hidden`, and the
    /// equality join to the right side that replaces the ASOF join.
    fn as_joins(
        &self,
        left: &TableFactor,
        right: &TableFactor,
        hidden: &str,
    ) -> Result<(TableFactor, sqlparser::ast::Join)> {
        let key = |k: usize| format!("{PREFIX}_key_{k}");
        let (time, side, running) = (
            format!("{PREFIX}_time"),
            format!("{PREFIX}_side"),
            format!("{PREFIX}_running"),
        );
        let left_keys: String = self
            .keys
            .iter()
            .enumerate()
            .map(|(k, (a, _))| format!("{a} AS {}, ", key(k)))
            .collect();
        let right_keys: String = self
            .keys
            .iter()
            .enumerate()
            .map(|(k, (_, b))| format!("{b} AS {}, ", key(k)))
            .collect();
        let partition = match self.keys.is_empty() {
            true => String::new(),
            false => format!(
                "PARTITION BY {} ",
                (0..self.keys.len()).map(key).collect::<Vec<_>>().join(", ")
            ),
        };
        let helpers: Vec<String> = (0..self.keys.len())
            .map(key)
            .chain([time.clone(), side.clone(), running.clone()])
            .collect();
        let (time_order, side_order) = self.inequality.window();
        let aggregate = self.inequality.running_aggregate();
        let (left_time, right_time) = &self.time;
        let left_time = match &self.left_filter {
            Some(filter) => format!("CASE WHEN {filter} THEN {left_time} END"),
            None => left_time.to_string(),
        };
        let right = match &self.right_filter {
            Some(filter) => format!(
                "(SELECT * FROM {right} WHERE {filter}) AS {}",
                self.right_name
            ),
            None => right.to_string(),
        };
        let left_name = &self.left_name;
        let events = format!(
            "SELECT {left_name}.*, {left_keys}{left_time} AS {time}, 1 AS {side} FROM {left} \
             UNION ALL BY NAME \
             SELECT {right_keys}{right_time} AS {time}, 0 AS {side} FROM {right}"
        );
        let matched = format!(
            "SELECT *, {aggregate}(CASE WHEN {side} = 0 THEN {time} END) OVER ({partition}\
             ORDER BY {time} {time_order}, {side} {side_order} \
             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS {running} FROM ({events})"
        );
        let left_rows = format!(
            "(SELECT * EXCLUDE ({}), CASE WHEN {time} IS NOT NULL THEN {running} END AS {hidden} \
             FROM ({matched}) WHERE {side} = 1) AS {left_name}",
            helpers.join(", ")
        );
        let right_name = &self.right_name;
        let right_rows = self.one_row_per_time(&right);
        let join = match self.keep_unmatched {
            true => "LEFT JOIN",
            false => "JOIN",
        };
        let joined = match &self.using {
            // The right time under the hidden name, so that USING merges it with the match.
            Some(columns) => {
                let (time_column, key_columns) = columns.split_last().expect("one inequality");
                let merged: Vec<String> = key_columns
                    .iter()
                    .map(|c| c.to_string())
                    .chain([hidden.to_string()])
                    .collect();
                format!(
                    "{join} (SELECT *, {time_column} AS {hidden} FROM {right_rows}) AS \
                     {right_name} USING ({})",
                    merged.join(", ")
                )
            }
            None => {
                let on: Vec<String> = self
                    .keys
                    .iter()
                    .map(|(a, b)| format!("{a} = {b}"))
                    .chain([format!("{left_name}.{hidden} = {right_time}")])
                    .collect();
                format!("{join} {right_rows} ON {}", on.join(" AND "))
            }
        };
        let sql = format!("SELECT * FROM {left_rows} {joined}");
        let mut parsed = super::dialect::parse_query(&sql)
            .map_err(|e| TarnError::Parse(format!("rewriting an ASOF JOIN: {e}")))?;
        let sqlparser::ast::SetExpr::Select(select) = parsed.body.as_mut() else {
            unreachable!("a SELECT was written");
        };
        let mut from = select.from.remove(0);
        Ok((from.relation, from.joins.remove(0)))
    }

    /// The right side (`right`, a FROM factor) with one row per key and time, under its own
    /// name: a left row's match is then one row. `DISTINCT ON` over all the rows would pick
    /// one by `first_value` of every column, many times slower than the join itself, so only
    /// the rows whose key and time repeat (usually none, found by an aggregate over the key
    /// and time columns alone) go through it. The repeats come first in the semi and anti
    /// joins, so that the hash table is built from them, not from the right side.
    fn one_row_per_time(&self, right: &str) -> String {
        let name = &self.right_name;
        let dups = format!("{PREFIX}_repeats");
        let columns: Vec<(String, String)> = self
            .keys
            .iter()
            .map(|(_, b)| b.to_string())
            .chain([self.time.1.to_string()])
            .enumerate()
            .map(|(k, expr)| (expr, format!("{PREFIX}_c{k}")))
            .collect();
        let select: Vec<String> = columns.iter().map(|(e, c)| format!("{e} AS {c}")).collect();
        let positions: Vec<String> = (1..=columns.len()).map(|k| k.to_string()).collect();
        let on: Vec<String> = columns
            .iter()
            .map(|(e, c)| format!("{e} = {dups}.{c}"))
            .collect();
        let exprs: Vec<&str> = columns.iter().map(|(e, _)| e.as_str()).collect();
        let (select, positions, on, exprs) = (
            select.join(", "),
            positions.join(", "),
            on.join(" AND "),
            exprs.join(", "),
        );
        let repeats = format!(
            "(SELECT {select} FROM {right} GROUP BY {positions} HAVING count(*) > 1) AS {dups}"
        );
        format!(
            "(SELECT {name}.* FROM {repeats} RIGHT ANTI JOIN {right} ON {on} \
             UNION ALL \
             SELECT DISTINCT ON ({exprs}) {name}.* FROM {repeats} RIGHT SEMI JOIN {right} ON {on}) \
             AS {name}"
        )
    }

    /// Leaves `hidden` out of the select list's `*`, `left.*` and `right.*`. After `USING`,
    /// where both sides have the hidden column, `*` becomes `left.* EXCLUDE (hidden),
    /// right.* EXCLUDE (the USING columns, hidden)`: what `*` means after USING, written out,
    /// since DataFusion cannot exclude a column both sides have.
    fn hide_column(&self, select: &mut Select, hidden: &str) -> Result<()> {
        let names = |item: &SelectItem, table: &Ident| match item {
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(name), _) => {
                name.0
                    .last()
                    .and_then(|part| part.as_ident())
                    .is_some_and(|ident| ident.value.eq_ignore_ascii_case(&table.value))
            }
            _ => false,
        };
        let only_join = select.from.len() == 1 && select.from[0].joins.len() == 1;
        let mut projection = Vec::with_capacity(select.projection.len());
        for mut item in select.projection.drain(..) {
            let qualified_hides = names(&item, &self.left_name)
                || (self.using.is_some() && names(&item, &self.right_name));
            match (&mut item, &self.using) {
                (SelectItem::Wildcard(options), Some(using)) => {
                    if !only_join || *options != WildcardAdditionalOptions::default() {
                        return Err(TarnError::Invalid(format!(
                            "write out the columns of `{item}` over an ASOF JOIN ... USING that \
                             is joined to other tables or has options"
                        )));
                    }
                    for (table, hidden_too) in
                        [(&self.left_name, &[][..]), (&self.right_name, &using[..])]
                    {
                        let mut options = WildcardAdditionalOptions::default();
                        for column in hidden_too {
                            exclude(&mut options, column.clone());
                        }
                        exclude(&mut options, Ident::new(hidden));
                        projection.push(SelectItem::QualifiedWildcard(
                            SelectItemQualifiedWildcardKind::ObjectName(table.clone().into()),
                            options,
                        ));
                    }
                    continue;
                }
                (SelectItem::Wildcard(options), None) => exclude(options, Ident::new(hidden)),
                (SelectItem::QualifiedWildcard(_, options), _) if qualified_hides => {
                    exclude(options, Ident::new(hidden))
                }
                _ => {}
            }
            projection.push(item);
        }
        select.projection = projection;
        if let Some(using) = &self.using {
            let time_column = using.last().expect("one inequality");
            qualify_time_column(select, time_column, &self.left_name);
        }
        Ok(())
    }
}

/// Which sides' columns an expression reads.
#[derive(PartialEq)]
enum Side {
    Left,
    Right,
    Both,
    /// No column at all (a constant).
    Neither,
}

/// Which side's columns an expression reads, from its qualified names. An unqualified name
/// could be either side's, so it is refused.
fn side_of(expr: &Expr, left: &Ident, right: &Ident) -> Result<Side> {
    let read = names_read(expr);
    if let Some(name) = read.bare {
        return Err(TarnError::Invalid(format!(
            "qualify `{name}` in the ASOF JOIN's condition with its table ({left}.{name} or \
             {right}.{name})"
        )));
    }
    let names = |table: &Ident| read.qualifiers.contains(&table.value.to_lowercase());
    Ok(match (names(left), names(right)) {
        (true, true) => Side::Both,
        (true, false) => Side::Left,
        (false, true) => Side::Right,
        (false, false) => Side::Neither,
    })
}

/// After `USING (keys..., ts)` an unqualified `ts` is the left side's, as in DuckDB; both sides
/// keep a `ts` here (USING merges the hidden match column instead), so the name is qualified.
fn qualify_time_column(select: &mut Select, time_column: &Ident, left: &Ident) {
    let qualify = |expr: &mut Expr| {
        if let Expr::Identifier(ident) = expr
            && ident.value.eq_ignore_ascii_case(&time_column.value)
        {
            *expr = Expr::CompoundIdentifier(vec![left.clone(), ident.clone()]);
        }
        ControlFlow::<()>::Continue(())
    };
    let _ = visit_expressions_mut(&mut select.projection, qualify);
    let _ = visit_expressions_mut(&mut select.selection, qualify);
    let _ = visit_expressions_mut(&mut select.group_by, qualify);
    let _ = visit_expressions_mut(&mut select.having, qualify);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duckdb_text_gets_a_marked_match_condition() {
        assert_eq!(
            mark("SELECT * FROM t ASOF JOIN q ON t.k = q.k AND t.ts >= q.ts").unwrap(),
            "SELECT * FROM t ASOF JOIN q  MATCH_CONDITION (tarn_asof_inner) ON t.k = q.k AND \
             t.ts >= q.ts"
        );
        assert_eq!(
            mark(
                "FROM t asof left outer join (SELECT * FROM q WHERE x IN (SELECT 1)) q USING (ts)"
            )
            .unwrap(),
            "FROM t asof join (SELECT * FROM q WHERE x IN (SELECT 1)) q  MATCH_CONDITION \
             (tarn_asof_left) USING (ts)"
        );
    }

    #[test]
    fn other_text_is_left_alone() {
        for sql in [
            "SELECT asof FROM t",
            "SELECT 'ASOF JOIN' FROM t",
            "FROM t ASOF JOIN q MATCH_CONDITION (t.ts >= q.ts) ON t.k = q.k",
        ] {
            assert_eq!(mark(sql).unwrap(), sql);
        }
    }
}
