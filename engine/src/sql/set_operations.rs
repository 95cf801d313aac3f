//! `INTERSECT ALL` and `EXCEPT ALL` count duplicates, as SQL and DuckDB define them: a row `m`
//! times in the left input and `n` times in the right is `min(m, n)` times in the intersection
//! and `max(m - n, 0)` times in the difference. DataFusion plans them as a semi and an anti
//! join, which keep every left copy of a row the right input has, or none
//! (`(1, 2, 2, 2) EXCEPT ALL (2, 3)` gave `1` where it is `1, 2, 2`).
//!
//! Each becomes the DISTINCT operation over both inputs with each row numbered among its
//! copies (`row_number() OVER (PARTITION BY every column)`), so that the k-th copy on the left
//! meets the k-th on the right; the numbers are then dropped. Runs last among the rewrites, on
//! inputs already in DataFusion's terms, since the left input's columns come from planning it.
//!
//! `UNION [ALL] BY NAME` matches names whatever their case, as DuckDB does (`SELECT 1 AS Id
//! UNION ALL BY NAME SELECT 2 AS id` is one column, `Id`); DataFusion matches them exactly, and
//! gave two half-NULL columns. The right input's columns that are a left one's but for case
//! are renamed to it first.

use std::ops::ControlFlow;

use datafusion::execution::SessionState;
use datafusion::sql::parser::Statement as DFStatement;
use sqlparser::ast::{
    Query, SetExpr, SetOperator, SetQuantifier, Statement, TableFactor, VisitMut, VisitorMut, With,
};

use super::name_case::find_name;
use super::quote_identifier;
use crate::error::{Result, TarnError};

/// Names of the subqueries that stand for the inputs in a template, until [`PlaceInputs`] puts
/// the inputs there (and names them [`LEFT`] and [`RIGHT`], so that a rewrite nested in an
/// input is never taken for a placeholder).
const LEFT_PLACEHOLDER: &str = "__tarn_left_input";
const RIGHT_PLACEHOLDER: &str = "__tarn_right_input";
const LEFT: &str = "__tarn_left";
const RIGHT: &str = "__tarn_right";

/// Rewrites every `INTERSECT ALL` and `EXCEPT ALL` in the statement, innermost first.
pub(super) async fn count_duplicates(
    statement: &mut Statement,
    state: &SessionState,
) -> Result<()> {
    let with = super::expand::with_clause(statement);
    while let ControlFlow::Break(Some(found)) = statement.visit(&mut FirstCounted { replace: None })
    {
        let replacement = counted(*found, with.clone(), state).await?;
        let _ = statement.visit(&mut FirstCounted {
            replace: Some(replacement),
        });
    }
    Ok(())
}

/// Renames the right input's columns of each `UNION [ALL] BY NAME` to the left input's names
/// they match but for case, innermost first. An operation whose inputs cannot be planned alone
/// is left to DataFusion.
pub(super) async fn match_names_by_case(
    statement: &mut Statement,
    state: &SessionState,
) -> Result<()> {
    let with = super::expand::with_clause(statement);
    // By-name unions already looked at, in the order they are found.
    let mut done = 0;
    loop {
        let mut finder = NthByName {
            skip: done,
            replace: None,
        };
        let ControlFlow::Break(Some(found)) = statement.visit(&mut finder) else {
            return Ok(());
        };
        let SetExpr::SetOperation { left, right, .. } = *found else {
            unreachable!("NthByName finds set operations");
        };
        let left = column_names(&left, with.clone(), state).await;
        let right_names = column_names(&right, with.clone(), state).await;
        if let (Ok(left), Ok(right_names)) = (left, right_names)
            && let Some(renamed) = renamed_right(&left, &right_names, *right)?
        {
            let _ = statement.visit(&mut NthByName {
                skip: done,
                replace: Some(renamed),
            });
        }
        done += 1;
    }
}

/// `right` with its columns renamed to the `left` names they match but for case, or `None`
/// where none is.
fn renamed_right(
    left: &[String],
    right_names: &[String],
    right: SetExpr,
) -> Result<Option<SetExpr>> {
    let mut renamed = false;
    let columns: Vec<String> = right_names
        .iter()
        .map(|name| {
            let matched = match left.contains(name) {
                true => None,
                false => find_name(left.iter().map(String::as_str), name),
            };
            match matched {
                Some(left_name) => {
                    renamed = true;
                    format!(
                        "{} AS {}",
                        quote_identifier(name),
                        quote_identifier(left_name)
                    )
                }
                None => quote_identifier(name),
            }
        })
        .collect();
    if !renamed {
        return Ok(None);
    }
    let sql = format!(
        "SELECT {} FROM (SELECT 1) AS {RIGHT_PLACEHOLDER}",
        columns.join(", ")
    );
    let mut query = parse_query(&sql)?;
    let _ = query.visit(&mut PlaceInputs {
        left: None,
        right: Some(right),
    });
    Ok(Some(SetExpr::Query(query)))
}

fn is_by_name(body: &SetExpr) -> bool {
    matches!(
        body,
        SetExpr::SetOperation {
            op: SetOperator::Union,
            set_quantifier: SetQuantifier::ByName
                | SetQuantifier::AllByName
                | SetQuantifier::DistinctByName,
            ..
        }
    )
}

/// How many by-name unions `body` is or holds (outside nested queries).
fn by_name_count(body: &SetExpr) -> usize {
    let inputs = match body {
        SetExpr::SetOperation { left, right, .. } => by_name_count(left) + by_name_count(right),
        _ => 0,
    };
    inputs + usize::from(is_by_name(body))
}

/// Finds the by-name union after `skip` of them (children first, inner queries first), or puts
/// `replace` in its right input's place.
struct NthByName {
    skip: usize,
    replace: Option<SetExpr>,
}

impl NthByName {
    /// The `n`-th by-name union under `body`, children first.
    fn nth(body: &mut SetExpr, n: usize) -> &mut SetExpr {
        let (in_left, in_right) = match &*body {
            SetExpr::SetOperation { left, right, .. } => {
                (by_name_count(left), by_name_count(right))
            }
            _ => return body,
        };
        if n >= in_left + in_right {
            return body;
        }
        let SetExpr::SetOperation { left, right, .. } = body else {
            unreachable!("matched as a set operation above");
        };
        match n < in_left {
            true => Self::nth(left, n),
            false => Self::nth(right, n - in_left),
        }
    }
}

impl VisitorMut for NthByName {
    /// The operation found, or `None` once its right input is replaced.
    type Break = Option<Box<SetExpr>>;

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<Self::Break> {
        let here = by_name_count(&query.body);
        if self.skip >= here {
            self.skip -= here;
            return ControlFlow::Continue(());
        }
        let found = Self::nth(&mut query.body, self.skip);
        match (self.replace.take(), found) {
            (Some(replacement), SetExpr::SetOperation { right, .. }) => {
                **right = replacement;
                ControlFlow::Break(None)
            }
            (_, found) => ControlFlow::Break(Some(Box::new(found.clone()))),
        }
    }
}

fn counts_duplicates(body: &SetExpr) -> bool {
    matches!(
        body,
        SetExpr::SetOperation {
            op: SetOperator::Intersect | SetOperator::Except,
            set_quantifier: SetQuantifier::All,
            ..
        }
    )
}

/// Finds the first `INTERSECT ALL` or `EXCEPT ALL` (innermost first within a query body), or
/// puts `replace` in its place.
struct FirstCounted {
    replace: Option<SetExpr>,
}

impl FirstCounted {
    /// The first such operation under `body`, children first.
    fn first(body: &mut SetExpr) -> Option<&mut SetExpr> {
        let (in_left, in_right) = match &*body {
            SetExpr::SetOperation { left, right, .. } => (holds(left), holds(right)),
            _ => (false, false),
        };
        if in_left || in_right {
            let SetExpr::SetOperation { left, right, .. } = body else {
                unreachable!("only a set operation has inputs");
            };
            return Self::first(if in_left { left } else { right });
        }
        counts_duplicates(body).then_some(body)
    }
}

/// Whether `body` is or holds (outside nested queries) an operation that counts duplicates.
fn holds(body: &SetExpr) -> bool {
    counts_duplicates(body)
        || matches!(body, SetExpr::SetOperation { left, right, .. } if holds(left) || holds(right))
}

impl VisitorMut for FirstCounted {
    /// The operation found, or `None` once replaced.
    type Break = Option<Box<SetExpr>>;

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<Self::Break> {
        let Some(found) = Self::first(&mut query.body) else {
            return ControlFlow::Continue(());
        };
        match self.replace.take() {
            Some(replacement) => {
                *found = replacement;
                ControlFlow::Break(None)
            }
            None => ControlFlow::Break(Some(Box::new(found.clone()))),
        }
    }
}

/// The distinct form of `operation` over numbered copies (see the module documentation).
async fn counted(operation: SetExpr, with: Option<With>, state: &SessionState) -> Result<SetExpr> {
    let SetExpr::SetOperation {
        op, left, right, ..
    } = operation
    else {
        unreachable!("FirstCounted finds set operations");
    };
    let names = column_names(&left, with, state).await?;
    let quoted: Vec<String> = names.iter().map(|n| quote_identifier(n)).collect();
    let columns = quoted.join(", ");
    let keyword = match op {
        SetOperator::Intersect => "INTERSECT",
        _ => "EXCEPT",
    };
    let numbered = |alias: &str, renamed: bool| {
        let rename = if renamed {
            format!("({columns})")
        } else {
            String::new()
        };
        format!(
            "(SELECT *, row_number() OVER (PARTITION BY {columns}) AS __tarn_copy \
             FROM (SELECT 1) AS {alias}{rename})"
        )
    };
    let sql = format!(
        "SELECT {columns} FROM ({} {keyword} {}) AS __tarn_copies",
        numbered(LEFT_PLACEHOLDER, false),
        numbered(RIGHT_PLACEHOLDER, true)
    );
    let mut query = parse_query(&sql)?;
    let _ = query.visit(&mut PlaceInputs {
        left: Some(*left),
        right: Some(*right),
    });
    Ok(*query.body)
}

/// The names of the columns `input` gives, under the statement's WITH clause.
async fn column_names(
    input: &SetExpr,
    with: Option<With>,
    state: &SessionState,
) -> Result<Vec<String>> {
    let mut probe = parse_query(&format!("SELECT * FROM (SELECT 1) AS {LEFT_PLACEHOLDER}"))?;
    probe.with = with;
    let _ = probe.visit(&mut PlaceInputs {
        left: Some(input.clone()),
        right: None,
    });
    let plan = state
        .statement_to_plan(DFStatement::Statement(Box::new(Statement::Query(probe))))
        .await?;
    Ok(plan
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}

fn parse_query(sql: &str) -> Result<Box<Query>> {
    super::dialect::parse_query(sql)
        .map_err(|e| TarnError::Parse(format!("in the query a set operation stands for: {e}")))
}

/// Puts the inputs in place of the placeholder subqueries.
struct PlaceInputs {
    left: Option<SetExpr>,
    right: Option<SetExpr>,
}

impl VisitorMut for PlaceInputs {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Derived {
            subquery,
            alias: Some(alias),
            ..
        } = factor
        {
            let (input, name) = match alias.name.value.as_str() {
                LEFT_PLACEHOLDER => (self.left.take(), LEFT),
                RIGHT_PLACEHOLDER => (self.right.take(), RIGHT),
                _ => return ControlFlow::Continue(()),
            };
            if let Some(input) = input {
                *subquery.body = input;
                alias.name = sqlparser::ast::Ident::new(name);
            }
        }
        ControlFlow::Continue(())
    }
}
