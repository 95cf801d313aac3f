//! A row of values in a subquery's rows, `WHERE (doc, chunk) IN (SELECT doc, chunk FROM seen)`,
//! which DataFusion refuses ("Too many columns"): as a condition of WHERE it becomes
//!
//! ```sql
//! EXISTS (SELECT 1 FROM (SELECT doc, chunk FROM seen) AS tarn_in(tarn_in_1, tarn_in_2)
//!         WHERE tarn_in_1 = doc AND tarn_in_2 = chunk)
//! ```
//!
//! which DataFusion runs as a semi join on the columns. The subquery's columns are renamed, so
//! that `(a, b) IN (SELECT a, b FROM u)` compares the outer `a` with `u.a`, and it cannot read
//! the outer query's columns (DuckDB does not run such a correlated one either). A condition
//! of WHERE needs only its TRUE rows, and the two are TRUE for the same rows: a row with a
//! NULL value is in no subquery's rows by SQL's row comparison (DuckDB's too), as it meets no
//! equality.
//!
//! `NOT IN` is TRUE only where every subquery row differs for certain: some pair of values is
//! unequal with neither NULL. So `(a, b) NOT IN (...)` becomes `NOT EXISTS (... WHERE
//! (tarn_in_1 = a OR tarn_in_1 IS NULL OR a IS NULL) AND ...)`, a join on that condition, not
//! on keys: for large inputs `NOT EXISTS` with equalities, where NULLs need no care, is faster.
//!
//! Elsewhere (a SELECT list, under NOT or OR, HAVING) NULL and FALSE differ, or DataFusion
//! cannot decorrelate the EXISTS; such a row in a subquery is refused in one line that says
//! what works.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, Ident, Query, Select, SetExpr, Statement, TableAlias,
    TableAliasColumnDef, TableFactor, TableWithJoins, VisitorMut,
};

use super::rewrite::{conjunction, run_visitor, split_conjuncts};
use crate::error::{Result, TarnError};

/// The name of the subquery's rows inside the EXISTS, and the prefix of their columns.
const ROWS: &str = "tarn_in";

/// Rewrites every row-valued IN subquery that is a condition of a WHERE clause; refuses the
/// others.
pub(super) fn as_exists(statement: &mut Statement) -> Result<()> {
    run_visitor(statement, &mut RowsIn)
}

struct RowsIn;

impl VisitorMut for RowsIn {
    type Break = TarnError;

    // Before the select's expressions, so that those met there are the ones left.
    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<TarnError> {
        if let Some(condition) = select.selection.take() {
            match rewrite_conditions(condition) {
                Ok(condition) => select.selection = Some(condition),
                Err(err) => return ControlFlow::Break(err),
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<TarnError> {
        match row_in(expr) {
            Some((values, _, negated)) => ControlFlow::Break(TarnError::Invalid(format!(
                "({}) {}IN (SELECT ...) is supported as a condition of WHERE (joined to the \
                 others by AND); elsewhere write EXISTS (SELECT 1 FROM ... WHERE x = a AND ...)",
                values
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                if negated { "NOT " } else { "" }
            ))),
            None => ControlFlow::Continue(()),
        }
    }
}

/// `condition` with each of its AND-ed conditions that is a row in a subquery rewritten; as it
/// was when none is.
fn rewrite_conditions(condition: Expr) -> Result<Expr> {
    let mut conjuncts = Vec::new();
    split_conjuncts(&condition, &mut conjuncts);
    if !conjuncts.iter().any(|c| row_in(c).is_some()) {
        return Ok(condition);
    }
    let rewritten = conjuncts
        .into_iter()
        .map(|conjunct| match row_in(&conjunct) {
            Some((values, subquery, negated)) => exists(values, subquery, negated),
            None => Ok(conjunct),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(conjunction(rewritten).expect("a condition has one conjunct at least"))
}

/// The values, subquery and negation of `(v1, v2, ...) [NOT] IN (subquery)`.
fn row_in(condition: &Expr) -> Option<(&[Expr], &Query, bool)> {
    match condition {
        Expr::InSubquery {
            expr,
            subquery,
            negated,
        } => match expr.as_ref() {
            Expr::Tuple(values) if values.len() > 1 => Some((values, subquery, *negated)),
            _ => None,
        },
        _ => None,
    }
}

/// `[NOT] EXISTS (SELECT 1 FROM (subquery) AS tarn_in(tarn_in_1, ...) WHERE ...)`.
fn exists(values: &[Expr], subquery: &Query, negated: bool) -> Result<Expr> {
    if let Some(width) = super::partial_aliases::written_width(&subquery.body)
        && width != values.len()
    {
        return Err(TarnError::Invalid(format!(
            "a subquery of {width} columns cannot hold a row of {} values",
            values.len()
        )));
    }
    let (mut query, selected) = subquery_rows(subquery, values.len());
    let matches = values.iter().zip(selected).map(|(value, selected)| {
        let equal = binary(selected.clone(), BinaryOperator::Eq, value.clone());
        match negated {
            // Equal, or unknown: a pair that is not unequal for certain.
            true => Expr::Nested(Box::new(binary(
                binary(equal, BinaryOperator::Or, Expr::IsNull(Box::new(selected))),
                BinaryOperator::Or,
                Expr::IsNull(Box::new(value.clone())),
            ))),
            false => equal,
        }
    });
    if let SetExpr::Select(select) = query.body.as_mut() {
        select.selection = conjunction(matches.collect());
    }
    Ok(Expr::Exists {
        subquery: query,
        negated,
    })
}

/// `SELECT 1 FROM (subquery) AS tarn_in(tarn_in_1, ...)`, and its columns.
fn subquery_rows(subquery: &Query, width: usize) -> (Box<Query>, Vec<Expr>) {
    let columns: Vec<Ident> = (1..=width)
        .map(|i| Ident::new(format!("{ROWS}_{i}")))
        .collect();
    let selected = columns
        .iter()
        .map(|column| Expr::CompoundIdentifier(vec![Ident::new(ROWS), column.clone()]))
        .collect();
    let rows = TableFactor::Derived {
        lateral: false,
        subquery: Box::new(subquery.clone()),
        alias: Some(TableAlias {
            explicit: true,
            name: Ident::new(ROWS),
            columns: columns
                .into_iter()
                .map(|name| TableAliasColumnDef {
                    name,
                    data_type: None,
                })
                .collect(),
            at: None,
        }),
        sample: None,
    };
    let mut query = super::dialect::parse_query("SELECT 1").expect("a constant query parses");
    if let SetExpr::Select(select) = query.body.as_mut() {
        select.from = vec![TableWithJoins {
            relation: rows,
            joins: vec![],
        }];
    }
    (query, selected)
}

fn binary(left: Expr, op: BinaryOperator, right: Expr) -> Expr {
    Expr::BinaryOp {
        left: Box::new(left),
        op,
        right: Box::new(right),
    }
}
