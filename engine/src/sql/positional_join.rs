//! DuckDB's `POSITIONAL JOIN`: the n-th row of the left side beside the n-th row of the right
//! side, in insertion order, the shorter side padded with NULLs. It pairs files of parallel
//! rows, such as a corpus and the scores or embeddings computed for it in the same order.
//!
//! sqlparser does not read it, so [`mark`] writes `a POSITIONAL JOIN b` as
//! `a FULL JOIN b ON tarn_positional`, and [`plan_as_joins`] numbers each side's rows with
//! `row_number() OVER ()` (in insertion order, which Tarn keeps) under a hidden column and
//! joins the numbers:
//!
//! ```sql
//! SELECT * FROM (SELECT *, row_number() OVER () AS __tarn_position_1 FROM a) AS a
//!   FULL JOIN (SELECT *, row_number() OVER () AS __tarn_position_1_r FROM b) AS b
//!   ON a.__tarn_position_1 = b.__tarn_position_1_r
//! ORDER BY coalesce(a.__tarn_position_1, b.__tarn_position_1_r)
//! ```
//!
//! The `ORDER BY` gives the rows in position order, as DuckDB does, where the query has no
//! order, grouping or aggregate of its own. `*`, `a.*` and `b.*` leave the hidden columns out.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::tokenizer::Token;
use sqlparser::ast::{
    Expr, GroupByExpr, Ident, JoinConstraint, JoinOperator, Query, Select, SelectItem,
    SelectItemQualifiedWildcardKind, SetExpr, VisitorMut, visit_expressions,
};

use super::rewrite::{exclude, run_visitor, visible_name};
use super::tokens::{is_keyword, skip_whitespace};
use crate::error::{Result, TarnError};

/// The join condition [`mark`] writes for a positional join.
const MARKER: &str = "tarn_positional";
/// The prefix of the hidden position columns; the n-th positional join of a statement numbers
/// its left rows in `__tarn_position_n` and its right rows in `__tarn_position_n_r` (which the
/// physical rule `optimizer::PositionalZip` looks for).
pub(crate) const POSITION_PREFIX: &str = "__tarn_position";

/// Keywords that end the relation after `POSITIONAL JOIN` (outside parentheses).
const RELATION_ENDS: [&str; 23] = [
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "CROSS",
    "NATURAL",
    "POSITIONAL",
    "ASOF",
    "SEMI",
    "ANTI",
    "ON",
    "USING",
    "WHERE",
    "GROUP",
    "HAVING",
    "QUALIFY",
    "WINDOW",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "UNION",
    "EXCEPT",
];

/// `sql` with each `POSITIONAL JOIN rel` written as `FULL JOIN rel ON tarn_positional`, which
/// sqlparser reads. Text without `POSITIONAL` comes back unchanged.
pub fn mark(sql: &str) -> Result<String> {
    if !sql.to_ascii_uppercase().contains("POSITIONAL") {
        return Ok(sql.to_string());
    }
    let mut tokens = super::tokenize(sql)?;
    let mut i = 0;
    while i < tokens.len() {
        let join = skip_whitespace(&tokens, i + 1);
        let positional = is_keyword(&tokens[i], "POSITIONAL")
            && tokens.get(join).is_some_and(|t| is_keyword(t, "JOIN"));
        if !positional {
            i += 1;
            continue;
        }
        let end = relation_end(&tokens, join + 1);
        if tokens
            .get(skip_whitespace(&tokens, end))
            .is_some_and(|t| is_keyword(t, "ON") || is_keyword(t, "USING"))
        {
            return Err(TarnError::Invalid(
                "a POSITIONAL JOIN pairs rows by position and takes no ON or USING condition"
                    .into(),
            ));
        }
        let condition = super::tokenize(&format!(" ON {MARKER} "))?;
        tokens.splice(end..end, condition);
        tokens[i] = Token::make_keyword("FULL");
        i = join + 1;
    }
    Ok(tokens.iter().map(|t| t.to_string()).collect())
}

/// The index just past the relation that starts at `start`: the first `,`, `)`, `;` or
/// clause keyword outside parentheses, or the end of the text.
fn relation_end(tokens: &[Token], start: usize) -> usize {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(start) {
        match token {
            Token::LParen => depth += 1,
            Token::RParen if depth == 0 => return i,
            Token::RParen => depth -= 1,
            Token::Comma | Token::SemiColon if depth == 0 => return i,
            t if depth == 0 && RELATION_ENDS.iter().any(|k| is_keyword(t, k)) => {
                // A space before the condition keeps `name ON` apart.
                return match tokens.get(i.wrapping_sub(1)) {
                    Some(Token::Whitespace(_)) => i - 1,
                    _ => i,
                };
            }
            _ => {}
        }
    }
    tokens.len()
}

/// Rewrites every positional join of `statement` into a join on row numbers (see the module's
/// doc); `is_aggregate` tells an aggregate function's name, in whose presence no order is added.
pub(super) fn plan_as_joins(
    statement: &mut sqlparser::ast::Statement,
    is_aggregate: &dyn Fn(&str) -> bool,
) -> Result<()> {
    run_visitor(
        statement,
        &mut PositionalJoins {
            count: 0,
            is_aggregate,
        },
    )
}

struct PositionalJoins<'a> {
    /// The positional joins rewritten so far, which numbers each one's hidden columns.
    count: usize,
    is_aggregate: &'a dyn Fn(&str) -> bool,
}

impl VisitorMut for PositionalJoins<'_> {
    type Break = TarnError;

    /// A query whose body is a SELECT gets the position order too; the body is visited after
    /// this and finds its joins rewritten.
    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<TarnError> {
        let SetExpr::Select(select) = query.body.as_mut() else {
            return ControlFlow::Continue(());
        };
        let positions = match self.rewrite_select(select) {
            Ok(positions) => positions,
            Err(err) => return ControlFlow::Break(err),
        };
        if let Some(position) = positions.filter(|_| query.order_by.is_none())
            && !self.groups_or_aggregates(select)
        {
            let order = format!("SELECT 1 ORDER BY {position}");
            match super::dialect::parse_query(&order) {
                Ok(parsed) => query.order_by = parsed.order_by,
                Err(e) => {
                    return ControlFlow::Break(TarnError::Parse(format!(
                        "rewriting a POSITIONAL JOIN: {e}"
                    )));
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<TarnError> {
        match self.rewrite_select(select) {
            Ok(_) => ControlFlow::Continue(()),
            Err(err) => ControlFlow::Break(err),
        }
    }
}

impl PositionalJoins<'_> {
    /// Rewrites the positional join of `select`, if it has one, and returns the expression of
    /// a row's position in it.
    fn rewrite_select(&mut self, select: &mut Select) -> Result<Option<String>> {
        let mut position = None;
        for item in &mut select.from {
            for index in 0..item.joins.len() {
                if !is_marked(&item.joins[index].join_operator) {
                    continue;
                }
                if index > 0 || position.is_some() {
                    return Err(TarnError::Invalid(
                        "a query may have one POSITIONAL JOIN, of one table to another; put \
                         other joins in a subquery"
                            .into(),
                    ));
                }
                self.count += 1;
                let hidden = format!("{POSITION_PREFIX}_{}", self.count);
                let hidden_right = format!("{hidden}_r");
                let name_of = |factor| {
                    visible_name(factor).cloned().ok_or_else(|| {
                        TarnError::Invalid(format!(
                            "each side of a POSITIONAL JOIN needs a name: add an alias to {factor}"
                        ))
                    })
                };
                let left_name = name_of(&item.relation)?;
                let right_name = name_of(&item.joins[index].relation)?;
                let sql = format!(
                    "SELECT * FROM (SELECT *, row_number() OVER () AS {hidden} FROM {}) AS \
                     {left_name} FULL JOIN (SELECT *, row_number() OVER () AS {hidden_right} \
                     FROM {}) AS {right_name} ON {left_name}.{hidden} = \
                     {right_name}.{hidden_right}",
                    item.relation, item.joins[index].relation
                );
                let mut parsed = super::dialect::parse_query(&sql)
                    .map_err(|e| TarnError::Parse(format!("rewriting a POSITIONAL JOIN: {e}")))?;
                let SetExpr::Select(rewritten) = parsed.body.as_mut() else {
                    unreachable!("a SELECT was written");
                };
                let mut from = rewritten.from.remove(0);
                item.relation = from.relation;
                item.joins[index] = from.joins.remove(0);
                hide_columns(
                    &mut select.projection,
                    [(&left_name, &hidden), (&right_name, &hidden_right)],
                );
                position = Some(format!(
                    "coalesce({left_name}.{hidden}, {right_name}.{hidden_right})"
                ));
                break;
            }
        }
        Ok(position)
    }

    /// Whether `select` groups its rows or aggregates them, so that ordering it by position
    /// has no meaning (and DataFusion would refuse it).
    fn groups_or_aggregates(&self, select: &Select) -> bool {
        let groups = match &select.group_by {
            GroupByExpr::All(_) => true,
            GroupByExpr::Expressions(keys, _) => !keys.is_empty(),
        };
        let aggregates = visit_expressions(&select.projection, |expr| match expr {
            Expr::Function(call) if call.over.is_none() => {
                let name = call.name.to_string().to_ascii_lowercase();
                match (self.is_aggregate)(&name) {
                    true => ControlFlow::Break(()),
                    false => ControlFlow::Continue(()),
                }
            }
            _ => ControlFlow::Continue(()),
        })
        .is_break();
        groups || aggregates || select.distinct.is_some() || select.having.is_some()
    }
}

fn is_marked(operator: &JoinOperator) -> bool {
    matches!(
        operator,
        JoinOperator::FullOuter(JoinConstraint::On(Expr::Identifier(marker)))
            if marker.value == MARKER
    )
}

/// Leaves each side's hidden column out of `*` (both) and of `side.*` (its own).
fn hide_columns<'a>(projection: &mut [SelectItem], sides: [(&'a Ident, &'a String); 2]) {
    for item in projection {
        match item {
            SelectItem::Wildcard(options) => {
                for (_, hidden) in sides {
                    exclude(options, Ident::new(hidden.as_str()));
                }
            }
            SelectItem::QualifiedWildcard(
                SelectItemQualifiedWildcardKind::ObjectName(name),
                options,
            ) => {
                let table = name.0.last().and_then(|part| part.as_ident());
                for (side, hidden) in sides {
                    if table.is_some_and(|t| t.value.eq_ignore_ascii_case(&side.value)) {
                        exclude(options, Ident::new(hidden.as_str()));
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_the_join_and_its_relation_end() {
        assert_eq!(
            mark("SELECT * FROM a POSITIONAL JOIN b WHERE x > 1").unwrap(),
            "SELECT * FROM a FULL JOIN b ON tarn_positional  WHERE x > 1"
        );
        assert_eq!(
            mark("FROM (SELECT 1) AS a POSITIONAL JOIN read_parquet('b.parquet') AS b(x, y)")
                .unwrap(),
            "FROM (SELECT 1) AS a FULL JOIN read_parquet('b.parquet') AS b(x, y) ON tarn_positional "
        );
        assert_eq!(
            mark("SELECT 'POSITIONAL JOIN'").unwrap(),
            "SELECT 'POSITIONAL JOIN'"
        );
        let err = mark("SELECT * FROM a POSITIONAL JOIN b ON a.x = b.x").unwrap_err();
        assert!(err.to_string().contains("no ON or USING"), "{err}");
    }
}
