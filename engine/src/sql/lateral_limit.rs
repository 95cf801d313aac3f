//! A LATERAL subquery with a LIMIT: the top rows per outer row, DuckDB's idiom for "the two
//! best documents of each language":
//!
//! ```sql
//! FROM langs l, LATERAL (SELECT id FROM docs d WHERE d.lang = l.lang ORDER BY score DESC LIMIT 2) x
//! ```
//!
//! DataFusion decorrelates a LATERAL subquery whose outer references sit in its filters, but not
//! through a LIMIT, which must count rows per outer row. Where the subquery meets the outer row
//! only through equalities (`d.lang = l.lang`), the rows an outer row sees are those of its
//! equality group, so the LIMIT becomes a rank within that group, computed before the
//! equalities are applied, and DataFusion decorrelates what is left:
//!
//! ```sql
//! LATERAL (SELECT * EXCLUDE (__tarn_lateral_key_0, __tarn_lateral_rank) FROM (
//!     SELECT id, d.lang AS __tarn_lateral_key_0,
//!            row_number() OVER (PARTITION BY d.lang ORDER BY score DESC) AS __tarn_lateral_rank
//!     FROM docs d) AS __tarn_lateral
//!   WHERE __tarn_lateral_rank <= 2 AND __tarn_lateral.__tarn_lateral_key_0 = l.lang) x
//! ```
//!
//! Other subqueries are left to DataFusion as written.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, LimitClause, Query, Select, SetExpr, TableFactor, VisitorMut,
};

use super::rewrite::{conjunction, names_read, run_visitor, split_conjuncts, visible_name};
use crate::error::{Result, TarnError};

const PREFIX: &str = "__tarn_lateral";

/// Rewrites each LATERAL subquery with a LIMIT that meets its outer rows by equalities.
pub(super) fn rank_limits(statement: &mut sqlparser::ast::Statement) -> Result<()> {
    run_visitor(statement, &mut LateralLimits)
}

struct LateralLimits;

impl VisitorMut for LateralLimits {
    type Break = TarnError;

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<TarnError> {
        let mut outer = Vec::new();
        for item in &mut select.from {
            let factors = std::iter::once(&mut item.relation)
                .chain(item.joins.iter_mut().map(|join| &mut join.relation));
            for factor in factors {
                if let TableFactor::Derived {
                    lateral: true,
                    subquery,
                    ..
                } = factor
                    && let Some(ranked) = ranked(subquery, &outer)
                {
                    match ranked {
                        Ok(query) => **subquery = query,
                        Err(err) => return ControlFlow::Break(err),
                    }
                }
                if let Some(name) = visible_name(factor) {
                    outer.push(name.value.to_lowercase());
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// The subquery with its LIMIT as a rank per equality group, or `None` where it does not have
/// that shape (a plain SELECT with a LIMIT, meeting the tables before it, `outer`, only
/// through equalities in its WHERE clause).
fn ranked(subquery: &Query, outer: &[String]) -> Option<Result<Query>> {
    let Some(LimitClause::LimitOffset {
        limit: Some(limit),
        offset,
        limit_by,
    }) = &subquery.limit_clause
    else {
        return None;
    };
    let SetExpr::Select(select) = subquery.body.as_ref() else {
        return None;
    };
    let plain = limit_by.is_empty()
        && select.distinct.is_none()
        && select.having.is_none()
        && select.qualify.is_none()
        && matches!(&select.group_by, sqlparser::ast::GroupByExpr::Expressions(keys, _) if keys.is_empty())
        && subquery.with.is_none()
        && subquery.fetch.is_none();
    if !plain {
        return None;
    }
    let mut conjuncts = Vec::new();
    if let Some(selection) = &select.selection {
        split_conjuncts(selection, &mut conjuncts);
    }
    let reads_outer = |expr: &Expr| {
        names_read(expr)
            .qualifiers
            .iter()
            .any(|q| outer.contains(q))
    };
    let only_outer = |expr: &Expr| {
        let read = names_read(expr);
        !read.qualifiers.is_empty()
            && read.qualifiers.iter().all(|q| outer.contains(q))
            && read.bare.is_none()
    };
    let mut keys = Vec::new();
    let mut local = Vec::new();
    for conjunct in conjuncts {
        if !reads_outer(&conjunct) {
            local.push(conjunct);
            continue;
        }
        let Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } = &conjunct
        else {
            return None;
        };
        match (only_outer(left), only_outer(right)) {
            (false, true) if !reads_outer(left) => keys.push(((**left).clone(), (**right).clone())),
            (true, false) if !reads_outer(right) => {
                keys.push(((**right).clone(), (**left).clone()))
            }
            _ => return None,
        }
    }
    let outer_in_select = select.projection.iter().any(|item| {
        names_read(item)
            .qualifiers
            .iter()
            .any(|q| outer.contains(q))
    });
    if keys.is_empty() || outer_in_select {
        return None;
    }
    let key = |k: usize| format!("{PREFIX}_key_{k}");
    let rank = format!("{PREFIX}_rank");
    let items: Vec<String> = select
        .projection
        .iter()
        .map(|item| item.to_string())
        .chain(
            keys.iter()
                .enumerate()
                .map(|(k, (inner, _))| format!("{inner} AS {}", key(k))),
        )
        .collect();
    let partition: Vec<String> = keys.iter().map(|(inner, _)| inner.to_string()).collect();
    let order = subquery
        .order_by
        .as_ref()
        .map(|order| format!(" {order}"))
        .unwrap_or_default();
    let from: Vec<String> = select.from.iter().map(|t| t.to_string()).collect();
    let filter = conjunction(local)
        .map(|f| format!(" WHERE {f}"))
        .unwrap_or_default();
    let first = offset
        .as_ref()
        .map(|o| o.value.to_string())
        .unwrap_or_else(|| "0".into());
    let meets: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(k, (_, outer))| format!(" AND {PREFIX}.{} = {outer}", key(k)))
        .collect();
    let hidden: Vec<String> = (0..keys.len()).map(key).chain([rank.clone()]).collect();
    let sql = format!(
        "SELECT * EXCLUDE ({}) FROM (SELECT {}, row_number() OVER (PARTITION BY {}{order}) AS \
         {rank} FROM {}{filter}) AS {PREFIX} WHERE {rank} > {first} AND {rank} <= ({first}) + \
         ({limit}){}",
        hidden.join(", "),
        items.join(", "),
        partition.join(", "),
        from.join(", "),
        meets.concat()
    );
    Some(
        super::dialect::parse_query(&sql)
            .map(|query| *query)
            .map_err(|e| TarnError::Parse(format!("rewriting a LATERAL subquery's LIMIT: {e}"))),
    )
}
