//! Bare column names in an ASOF JOIN's condition (`ON t.k = q.k AND trade_ts >= quote_ts`),
//! resolved as DuckDB resolves them: each to the one side that has such a column. The join's
//! reading ([`super::AsofJoin::read`]) tells the sides apart by qualifiers, so each bare name is
//! qualified here first, from the columns each relation offers when planned alone (under the
//! statement's WITH clause). A relation that cannot be planned alone (a LATERAL subquery)
//! leaves its join's names as written, to be refused there in one line.

use std::collections::HashMap;
use std::ops::ControlFlow;

use datafusion::execution::SessionState;
use sqlparser::ast::{
    Expr, Ident, Join, JoinConstraint, JoinOperator, Select, Statement, TableFactor, VisitMut,
    VisitorMut, visit_expressions, visit_expressions_mut,
};

use super::{INNER_MARKER, LEFT_MARKER};
use crate::error::{Result, TarnError};
use crate::sql::expand::{from_schema, with_prefix};
use crate::sql::rewrite::{run_visitor, visible_name};

/// Qualifies the bare column names in the conditions of the statement's ASOF joins.
pub(in crate::sql) async fn qualify(statement: &mut Statement, state: &SessionState) -> Result<()> {
    let mut found = Vec::new();
    let _ = statement.visit(&mut each_asof_join(|left, right, conditions| {
        let names = bare_names(conditions);
        found.push((!names.is_empty()).then(|| Sides {
            left: left.iter().map(|&factor| factor.clone()).collect(),
            right: right.clone(),
            names,
        }));
        Ok(())
    }));
    if found.iter().all(Option::is_none) {
        return Ok(());
    }
    let with = with_prefix(statement);
    let mut qualifiers = Vec::with_capacity(found.len());
    for sides in found {
        qualifiers.push(match sides {
            Some(sides) => sides.qualifiers(&with, state).await?,
            None => HashMap::new(),
        });
    }
    let mut qualifiers = qualifiers.into_iter();
    run_visitor(
        statement,
        &mut each_asof_join(|_, _, conditions| {
            let qualifiers = qualifiers.next().unwrap_or_default();
            for condition in conditions {
                let _ = visit_expressions_mut(condition, |expr: &mut Expr| {
                    if let Expr::Identifier(ident) = expr
                        && let Some(table) = qualifiers.get(&ident.value.to_lowercase())
                    {
                        *expr = Expr::CompoundIdentifier(vec![table.clone(), ident.clone()]);
                    }
                    ControlFlow::<()>::Continue(())
                });
            }
            Ok(())
        }),
    )
}

/// The relations of one ASOF join and the bare names its condition reads.
struct Sides {
    /// Everything joined before the ASOF join.
    left: Vec<TableFactor>,
    right: TableFactor,
    names: Vec<Ident>,
}

impl Sides {
    /// Each bare name (lowered) with the name of the one relation that has such a column;
    /// empty where a relation has no name or cannot be planned alone.
    async fn qualifiers(&self, with: &str, state: &SessionState) -> Result<HashMap<String, Ident>> {
        let mut columns_by_relation = Vec::with_capacity(self.left.len() + 1);
        for factor in self.left.iter().chain([&self.right]) {
            let Some(name) = visible_name(factor) else {
                return Ok(HashMap::new());
            };
            let Ok(schema) = from_schema(with, &factor.to_string(), state).await else {
                return Ok(HashMap::new());
            };
            columns_by_relation.push((name.clone(), schema));
        }
        let mut qualifiers = HashMap::new();
        for bare in &self.names {
            let owners: Vec<&Ident> = columns_by_relation
                .iter()
                .filter(|(_, schema)| {
                    schema
                        .fields()
                        .iter()
                        .any(|field| field.name().eq_ignore_ascii_case(&bare.value))
                })
                .map(|(name, _)| name)
                .collect();
            match owners[..] {
                [owner] => {
                    qualifiers.insert(bare.value.to_lowercase(), owner.clone());
                }
                [] => {
                    let relations: Vec<String> = columns_by_relation
                        .iter()
                        .map(|(name, _)| name.to_string())
                        .collect();
                    return Err(TarnError::Invalid(format!(
                        "`{bare}` in the ASOF JOIN's condition is no column of {}",
                        relations.join(" or ")
                    )));
                }
                _ => {
                    let choices: Vec<String> = owners
                        .iter()
                        .map(|owner| format!("{owner}.{bare}"))
                        .collect();
                    return Err(TarnError::Invalid(format!(
                        "ambiguous reference to column name `{bare}` in the ASOF JOIN's \
                         condition (use {})",
                        choices.join(" or ")
                    )));
                }
            }
        }
        Ok(qualifiers)
    }
}

/// The bare names `conditions` read, each once (matched in any case), in reading order.
fn bare_names(conditions: Vec<&mut Expr>) -> Vec<Ident> {
    let mut names: Vec<Ident> = Vec::new();
    for condition in conditions {
        let _ = visit_expressions(condition, |expr: &Expr| {
            if let Expr::Identifier(ident) = expr
                && !names
                    .iter()
                    .any(|name| name.value.eq_ignore_ascii_case(&ident.value))
            {
                names.push(ident.clone());
            }
            ControlFlow::<()>::Continue(())
        });
    }
    names
}

/// Calls its function on each ASOF join, in visiting order, with the relations before it, its
/// relation and its written conditions (the marker [`super::mark`] put in place of DuckDB's
/// match condition is none).
struct EachAsofJoin<F>(F);

/// An [`EachAsofJoin`] calling `f` (a function, so that closures get their arguments' types).
fn each_asof_join<F>(f: F) -> EachAsofJoin<F>
where
    F: FnMut(&[&TableFactor], &TableFactor, Vec<&mut Expr>) -> Result<()>,
{
    EachAsofJoin(f)
}

impl<F> VisitorMut for EachAsofJoin<F>
where
    F: FnMut(&[&TableFactor], &TableFactor, Vec<&mut Expr>) -> Result<()>,
{
    type Break = TarnError;

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<TarnError> {
        for item in &mut select.from {
            for index in 0..item.joins.len() {
                let (before, rest) = item.joins.split_at_mut(index);
                let Join {
                    relation,
                    join_operator:
                        JoinOperator::AsOf {
                            match_condition,
                            constraint,
                        },
                    ..
                } = &mut rest[0]
                else {
                    continue;
                };
                let left: Vec<&TableFactor> = std::iter::once(&item.relation)
                    .chain(before.iter().map(|join| &join.relation))
                    .collect();
                let is_marker = matches!(&*match_condition, Expr::Identifier(ident)
                    if ident.value == INNER_MARKER || ident.value == LEFT_MARKER);
                let mut conditions = Vec::new();
                if !is_marker {
                    conditions.push(match_condition);
                }
                if let JoinConstraint::On(on) = constraint {
                    conditions.push(on);
                }
                if let Err(err) = (self.0)(&left, relation, conditions) {
                    return ControlFlow::Break(err);
                }
            }
        }
        ControlFlow::Continue(())
    }
}
