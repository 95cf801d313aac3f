//! DuckDB's `ASOF JOIN`: each left row meets the one right row whose time is the nearest on the
//! inequality's side (`t.ts >= q.ts`: the latest quote at or before the trade), among rows
//! with equal keys (`t.ticker = q.ticker`). `ASOF LEFT JOIN` keeps left rows that meet none.
//! Written with `ON` (keys as equalities, one inequality) or `USING (keys..., time)`, where the
//! last column is the time and the inequality is `>=`.
//!
//! sqlparser reads only Snowflake's form (`ASOF JOIN q MATCH_CONDITION (t.ts >= q.ts) ON
//! ...`), and DataFusion plans neither, so [`mark`] turns DuckDB's text into Snowflake's with a
//! marker in place of the condition, and [`plan_as_joins`] writes each ASOF join as an inner or
//! left join on the keys and a call of [`plan::MARKER`] holding the inequality. An analyzer rule
//! ([`plan::AsofJoins`]) turns those joins into [`plan::AsofJoin`] nodes, which run as
//! [`exec::AsofJoinExec`]: the right side grouped by key and sorted by time ([`index`]), each
//! left row's match found by a hash lookup and a binary search.
//!
//! A condition of the ON clause on the left side alone leaves the rows failing it without a
//! match (their time becomes NULL); one on the right side alone filters the right rows before
//! the join. A WHERE condition on the left side alone moves below the join
//! ([`left_filters`]).

mod bare_names;
mod exec;
mod index;
mod left_filters;
mod plan;

pub(super) use bare_names::qualify as qualify_bare_names;
pub use exec::AsofJoinExec;
pub use left_filters::AsofLeftFilters;
pub(crate) use plan::register;
pub use plan::{AsofJoin as AsofJoinNode, AsofJoins, TarnQueryPlanner};

use std::fmt;
use std::ops::ControlFlow;
use std::str::FromStr;

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
    Ok(crate::sql::tokens::written(&tokens))
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

/// Rewrites every ASOF join of `statement` into a marked join (see the module's doc).
pub(super) fn plan_as_joins(statement: &mut Statement) -> Result<()> {
    run_visitor(statement, &mut MarkAsofJoins)
}

struct MarkAsofJoins;

impl VisitorMut for MarkAsofJoins {
    type Break = TarnError;

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<TarnError> {
        match rewrite_select(select) {
            Ok(()) => ControlFlow::Continue(()),
            Err(err) => ControlFlow::Break(err),
        }
    }
}

fn rewrite_select(select: &mut Select) -> Result<()> {
    let mut using_joins = Vec::new();
    for item in &mut select.from {
        for index in 0..item.joins.len() {
            let JoinOperator::AsOf {
                match_condition,
                constraint,
            } = &item.joins[index].join_operator
            else {
                continue;
            };
            // Everything joined before the ASOF join is its left side.
            let left: Vec<&TableFactor> = std::iter::once(&item.relation)
                .chain(item.joins[..index].iter().map(|j| &j.relation))
                .collect();
            let right = &item.joins[index].relation;
            let join = AsofJoin::read(&left, right, match_condition, constraint)?;
            item.joins[index] = join.as_marked_join(right)?;
            if join.using.is_some() {
                using_joins.push(join);
            }
        }
    }
    for join in using_joins {
        join.expand_using(select)?;
    }
    Ok(())
}

/// How the time of the right row compares with the left row's, normalised to `left OP right`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Debug)]
pub enum Inequality {
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
}

impl fmt::Display for Inequality {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Self::AtOrAfter => ">=",
            Self::After => ">",
            Self::AtOrBefore => "<=",
            Self::Before => "<",
        })
    }
}

impl FromStr for Inequality {
    type Err = ();

    fn from_str(op: &str) -> std::result::Result<Self, ()> {
        [Self::AtOrAfter, Self::After, Self::AtOrBefore, Self::Before]
            .into_iter()
            .find(|inequality| inequality.to_string() == op)
            .ok_or(())
    }
}

/// One ASOF join, read from its condition.
struct AsofJoin {
    /// The names of the relations on the left side, the nearest last.
    left_names: Vec<Ident>,
    right_name: Ident,
    /// Pairs of equal expressions, the left side's first.
    keys: Vec<(Expr, Expr)>,
    /// The left and right times.
    time: (Expr, Expr),
    inequality: Inequality,
    keep_unmatched: bool,
    /// The USING form's column names.
    using: Option<Vec<Ident>>,
    /// The condition's parts that read only the left side: a left row failing them meets no
    /// right row.
    left_filter: Option<Expr>,
    /// The parts that read only the right side: right rows failing them are no candidates.
    right_filter: Option<Expr>,
}

impl AsofJoin {
    fn read(
        left: &[&TableFactor],
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
        let left_names = left
            .iter()
            .map(|f| name_of(f))
            .collect::<Result<Vec<_>>>()?;
        let left_name = left_names.last().expect("a join has a left side").clone();
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
                if left_names.len() > 1 {
                    return Err(TarnError::Invalid(format!(
                        "an ASOF JOIN ... USING takes one table on its left; write the join to \
                         {right_name} with ON"
                    )));
                }
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
        let side_of = |expr: &Expr| side_of(expr, &left_names, &right_name);
        for condition in conditions {
            match side_of(&condition)? {
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
            let (a, b, swapped) = match (side_of(left)?, side_of(right)?) {
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
            left_names,
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

    /// The join to `right` (the ASOF join's relation) that stands for the ASOF join: inner or
    /// left, on the keys' equalities and the marker call.
    fn as_marked_join(&self, right: &TableFactor) -> Result<sqlparser::ast::Join> {
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
        let on: Vec<String> = self
            .keys
            .iter()
            .map(|(a, b)| format!("{a} = {b}"))
            .chain([format!(
                "{}('{}', {left_time}, {right_time})",
                plan::MARKER,
                self.inequality
            )])
            .collect();
        let join = match self.keep_unmatched {
            true => "LEFT JOIN",
            false => "JOIN",
        };
        let sql = format!("SELECT * FROM t {join} {right} ON {}", on.join(" AND "));
        let mut parsed = super::dialect::parse_query(&sql)
            .map_err(|e| TarnError::Parse(format!("rewriting an ASOF JOIN: {e}")))?;
        let sqlparser::ast::SetExpr::Select(select) = parsed.body.as_mut() else {
            unreachable!("a SELECT was written");
        };
        Ok(select.from.remove(0).joins.remove(0))
    }

    /// After `USING (keys..., ts)`, `*` is the left side's columns and the right side's
    /// without the USING columns, and an unqualified USING column is the left side's, as in
    /// DuckDB.
    fn expand_using(&self, select: &mut Select) -> Result<()> {
        let using = self.using.as_deref().unwrap_or_default();
        let left = self.left_names.last().expect("a join has a left side");
        let only_join = select.from.len() == 1 && select.from[0].joins.len() == 1;
        let mut projection = Vec::with_capacity(select.projection.len());
        for item in select.projection.drain(..) {
            let SelectItem::Wildcard(options) = &item else {
                projection.push(item);
                continue;
            };
            if !only_join || *options != WildcardAdditionalOptions::default() {
                return Err(TarnError::Invalid(format!(
                    "write out the columns of `{item}` over an ASOF JOIN ... USING that is \
                     joined to other tables or has options"
                )));
            }
            let mut right_options = WildcardAdditionalOptions::default();
            for column in using {
                exclude(&mut right_options, column.clone());
            }
            for (table, options) in [
                (left, WildcardAdditionalOptions::default()),
                (&self.right_name, right_options),
            ] {
                projection.push(SelectItem::QualifiedWildcard(
                    SelectItemQualifiedWildcardKind::ObjectName(table.clone().into()),
                    options,
                ));
            }
        }
        select.projection = projection;
        let qualify = |expr: &mut Expr| {
            if let Expr::Identifier(ident) = expr
                && using
                    .iter()
                    .any(|c| c.value.eq_ignore_ascii_case(&ident.value))
            {
                *expr = Expr::CompoundIdentifier(vec![left.clone(), ident.clone()]);
            }
            ControlFlow::<()>::Continue(())
        };
        let _ = visit_expressions_mut(&mut select.projection, qualify);
        let _ = visit_expressions_mut(&mut select.selection, qualify);
        let _ = visit_expressions_mut(&mut select.group_by, qualify);
        let _ = visit_expressions_mut(&mut select.having, qualify);
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

/// Which sides' columns an expression reads, from its qualified names. A bare name is left
/// only where [`qualify_bare_names`] could not plan the sides alone, so it is refused.
fn side_of(expr: &Expr, left: &[Ident], right: &Ident) -> Result<Side> {
    let read = names_read(expr);
    let nearest = left.last().expect("a join has a left side");
    if let Some(name) = read.bare {
        return Err(TarnError::Invalid(format!(
            "qualify `{name}` in the ASOF JOIN's condition with its table ({nearest}.{name} or \
             {right}.{name})"
        )));
    }
    let names = |table: &Ident| read.qualifiers.contains(&table.value.to_lowercase());
    Ok(match (left.iter().any(names), names(right)) {
        (true, true) => Side::Both,
        (true, false) => Side::Left,
        (false, true) => Side::Right,
        (false, false) => Side::Neither,
    })
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
