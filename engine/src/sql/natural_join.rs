//! `a NATURAL [LEFT | RIGHT | FULL] JOIN b`: the USING join on every column name the two sides
//! share, as DuckDB reads it, so that [`super::using_join`] merges those columns (DataFusion's
//! own NATURAL join reads the left side's for a RIGHT or FULL join, and calls a bare shared
//! column in WHERE ambiguous). Sides that share no name are joined on `true`.
//!
//! The names come from planning each relation of the FROM clause alone, under the statement's
//! WITH clause; a side that cannot be planned alone (a LATERAL subquery) keeps DataFusion's
//! NATURAL join.

use std::ops::ControlFlow;

use datafusion::execution::SessionState;
use sqlparser::ast::{
    Ident, JoinConstraint, ObjectName, Select, Statement, TableFactor, VisitMut, VisitorMut,
};

use super::using_join::constraint_mut;
use crate::error::{Result, TarnError};

/// Rewrites each NATURAL join of the statement whose sides can be planned alone.
pub(super) async fn as_using(statement: &mut Statement, state: &SessionState) -> Result<()> {
    let with = super::expand::with_prefix(statement);
    // Joins already looked at and left as they are, in visiting order.
    let mut kept = 0;
    loop {
        let mut finder = FirstNatural {
            skip: kept,
            replace: None,
        };
        let ControlFlow::Break(Some(found)) = statement.visit(&mut finder) else {
            return Ok(());
        };
        let Some(shared) = shared_columns(&found, &with, state).await else {
            kept += 1;
            continue;
        };
        if shared.is_empty() {
            let right = super::rewrite::visible_name(&found.right)
                .map_or_else(|| found.right.to_string(), |name| name.value.clone());
            return Err(TarnError::Invalid(format!(
                "NATURAL JOIN: {right} shares no column name with the relations before it"
            )));
        }
        let constraint = JoinConstraint::Using(
            shared
                .into_iter()
                .map(|(name, same_case)| {
                    // A name the sides spell differently (`Id`, `ID`) is left unquoted, so that
                    // each side's is found among its own columns.
                    let ident = match same_case {
                        true => Ident::with_quote('"', name),
                        false => Ident::new(name),
                    };
                    ObjectName::from(vec![ident])
                })
                .collect(),
        );
        let _ = statement.visit(&mut FirstNatural {
            skip: kept,
            replace: Some(constraint),
        });
    }
}

/// The relations on either side of a NATURAL join.
struct Sides {
    left: Vec<TableFactor>,
    right: TableFactor,
}

/// Finds the first NATURAL join after `skip` of them (or puts `replace` in its place).
struct FirstNatural {
    skip: usize,
    replace: Option<JoinConstraint>,
}

impl VisitorMut for FirstNatural {
    /// The sides found, or `None` once replaced.
    type Break = Option<Box<Sides>>;

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<Self::Break> {
        for table in &mut select.from {
            for j in 0..table.joins.len() {
                let left: Vec<TableFactor> = std::iter::once(&table.relation)
                    .chain(table.joins[..j].iter().map(|join| &join.relation))
                    .cloned()
                    .collect();
                let join = &mut table.joins[j];
                let Some(constraint) = constraint_mut(&mut join.join_operator) else {
                    continue;
                };
                if !matches!(constraint, JoinConstraint::Natural) {
                    continue;
                }
                if self.skip > 0 {
                    self.skip -= 1;
                    continue;
                }
                return ControlFlow::Break(match self.replace.take() {
                    Some(replacement) => {
                        *constraint = replacement;
                        None
                    }
                    None => Some(Box::new(Sides {
                        left,
                        right: join.relation.clone(),
                    })),
                });
            }
        }
        ControlFlow::Continue(())
    }
}

/// The column names the right side shares with the left (in the right side's order, matched
/// in any case), each with whether the left spells it the same; `None` where a side cannot be
/// planned alone.
async fn shared_columns(
    sides: &Sides,
    with: &str,
    state: &SessionState,
) -> Option<Vec<(String, bool)>> {
    let mut left: Vec<String> = Vec::new();
    for factor in &sides.left {
        left.extend(column_names(factor, with, state).await?);
    }
    let right = column_names(&sides.right, with, state).await?;
    Some(
        right
            .into_iter()
            .filter(|name| left.iter().any(|l| l.eq_ignore_ascii_case(name)))
            .map(|name| {
                let same_case = left.contains(&name);
                (name, same_case)
            })
            .collect(),
    )
}

async fn column_names(
    factor: &TableFactor,
    with: &str,
    state: &SessionState,
) -> Option<Vec<String>> {
    let schema = super::expand::from_schema(with, &factor.to_string(), state)
        .await
        .ok()?;
    Some(schema.fields().iter().map(|f| f.name().clone()).collect())
}
