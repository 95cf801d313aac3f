//! Column and struct field names found whatever their case, as DuckDB finds them. A Parquet or
//! JSON file's columns keep the case they were written with (`Title`, `meta.sourceUrl`), and
//! DuckDB's `SELECT title, meta.sourceurl` reads them; DataFusion lowers an unquoted name to
//! `title` and then matches case exactly, so the query failed ("No field named title") unless
//! each name was quoted as written.
//!
//! Names keep the case they are given, as in DuckDB: `SELECT count(*) AS Total` answers a
//! column `Total`, which a Parquet file written from it keeps; DataFusion made it `total`.
//! [`match_case`] quotes each alias a statement gives its columns (SELECT items, the columns of
//! a CTE or of a table alias) where it has capitals, so that DataFusion keeps them as written.
//!
//! [`match_case`] then learns the names a statement can mean: the columns of the tables, views and
//! files it reads, every struct field inside them, and the names the statement itself gives
//! (aliases, struct keys, lambda parameters). A name in an expression that DataFusion would not
//! find as it normalizes it, and that matches exactly one of those names but for case, is
//! written as that name, quoted. Names DataFusion already finds are left alone, so a query
//! that ran before means what it meant; a name two spellings share (`Id` and `ID`) is left
//! for DataFusion's own error.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use datafusion::arrow::datatypes::{DataType, Fields, SchemaRef};
use datafusion::execution::SessionState;
use datafusion::sql::planner::object_name_to_table_reference;
use sqlparser::ast::{
    AssignmentTarget, CreateTable, ExcludeSelectItem, Expr, FunctionArg, Ident, JoinConstraint,
    ObjectName, ObjectNamePart, Query, Select, SelectItem, SelectItemQualifiedWildcardKind,
    Statement, TableAlias, TableConstraint, TableFactor, TableObject, Visit, VisitMut, Visitor,
    VisitorMut,
};

use super::rewrite::{relation_names, visible_name, written_name};
use super::using_join::constraint_mut;
use crate::error::Result;

/// Writes each name of `statement` that DataFusion would miss only for its case as the name it
/// matches (see the module documentation).
pub(super) async fn match_case(statement: &mut Statement, state: &SessionState) -> Result<()> {
    let _ = statement.visit(&mut AliasCase);
    let mut known = relations_known(statement, state).await;
    let _ = Visit::visit(&*statement, &mut known);
    let _ = statement.visit(&mut CaseMatcher { known: &known });
    Ok(())
}

/// Writes each `relation.column` of `statement` that DataFusion would miss only for its case as
/// that relation's column. For the names rewrites write after [`match_case`]: a USING join of
/// `Id` with `ID` becomes `ON a.id = b.id`, which only each relation's own columns tell apart.
pub(super) async fn match_qualified(statement: &mut Statement, state: &SessionState) -> Result<()> {
    let mut subqueries = Subqueries::default();
    let _ = Visit::visit(&*statement, &mut subqueries);
    if subqueries.qualified.is_empty() && !subqueries.qualified_stars {
        return Ok(());
    }
    let mut known = relations_known(statement, state).await;
    let _ = Visit::visit(&*statement, &mut known);
    // A subquery's columns are learnt by planning it, which is only worth it where a name it
    // is qualified with is spelled in more than one case.
    let with = super::expand::with_prefix(statement);
    for (alias, subquery) in &subqueries.aliased {
        let ambiguous = subqueries.qualified.iter().any(|(relation, column)| {
            relation.value.eq_ignore_ascii_case(&alias.value)
                && known.spelled_differently(&column.value)
        });
        let from = format!("({subquery}) AS {alias}");
        if ambiguous && let Ok(schema) = super::expand::from_schema(&with, &from, state).await {
            let names = schema.fields().iter().map(|f| f.name().clone()).collect();
            known.add_relation(alias, names);
        }
    }
    let relations = KnownNames {
        relations: known.relations,
        ..KnownNames::default()
    };
    let _ = statement.visit(&mut CaseMatcher { known: &relations });
    Ok(())
}

/// The aliased subqueries of a statement, the `relation.column` names it uses, and whether it
/// has a `relation.*` (whose EXCLUDE and REPLACE lists name that relation's columns).
#[derive(Default)]
struct Subqueries {
    aliased: Vec<(Ident, Query)>,
    qualified: Vec<(Ident, Ident)>,
    qualified_stars: bool,
}

impl Visitor for Subqueries {
    type Break = ();

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        self.qualified_stars |= select
            .projection
            .iter()
            .any(|item| matches!(item, SelectItem::QualifiedWildcard(..)));
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Derived {
            lateral: false,
            subquery,
            alias: Some(alias),
            ..
        } = factor
        {
            self.aliased
                .push((alias.name.clone(), (**subquery).clone()));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::CompoundIdentifier(parts) = expr
            && let [relation, column] = &parts[..]
        {
            self.qualified.push((relation.clone(), column.clone()));
        }
        ControlFlow::Continue(())
    }
}

/// The columns of the tables, views and files `statement` reads, by the name each is seen by,
/// and every column and struct field among them, for unqualified names.
async fn relations_known(statement: &Statement, state: &SessionState) -> KnownNames {
    let mut relations = Relations::default();
    let _ = Visit::visit(statement, &mut relations);
    if let Statement::Insert(insert) = statement
        && let TableObject::TableName(name) = &insert.table
    {
        relations.read.push((None, name.clone()));
    }
    let mut known = KnownNames::default();
    for (visible, relation) in &relations.read {
        // A CTE's name, or a table that does not exist: DataFusion says so where it matters.
        let Some(schema) = relation_schema(relation, state).await else {
            continue;
        };
        for field in schema.fields() {
            known.add_column(field.name().clone(), field.data_type());
        }
        if let Some(visible) = visible {
            let names = schema.fields().iter().map(|f| f.name().clone()).collect();
            known.add_relation(visible, names);
        }
    }
    known
}

/// Keeps the case of the columns `create` declares (`CREATE TABLE t (DocId INT)` makes a column
/// `DocId`, as in DuckDB), and writes the names its keys list as the columns they match. (Its
/// CHECKs keep their text, which their errors quote; they are matched when planned.)
pub(super) fn keep_declared_case(create: &mut CreateTable) {
    if create.query.is_some() {
        // The query names the columns; its aliases keep their case when it is planned.
        return;
    }
    let mut known = KnownNames::default();
    for column in &mut create.columns {
        keep_case(&mut column.name);
        known.add_defined(&column.name);
    }
    let mut matcher = CaseMatcher { known: &known };
    for constraint in &mut create.constraints {
        if !matches!(constraint, TableConstraint::Check(_)) {
            let _ = VisitMut::visit(constraint, &mut matcher);
        }
    }
}

/// The one of `names` that `wanted` names, as DuckDB finds a column: the name written so, else
/// the only name that is it but for case. For the lists Tarn resolves itself (`EXCLUDE`,
/// `RENAME`, `UNPIVOT ... ON`, ALTER TABLE's and ON CONFLICT's columns).
pub(super) fn find_name<'a>(
    names: impl Iterator<Item = &'a str> + Clone,
    wanted: &str,
) -> Option<&'a str> {
    if let Some(exact) = names.clone().find(|name| *name == wanted) {
        return Some(exact);
    }
    let wanted = wanted.to_lowercase();
    let mut matches = names.filter(|name| name.to_lowercase() == wanted);
    match (matches.next(), matches.next()) {
        (Some(name), None) => Some(name),
        _ => None,
    }
}

/// Writes the names `expr`, an expression over the columns `fields` alone, uses as the columns
/// they match but for case (a CHECK condition, an ON CONFLICT update).
pub(super) fn match_columns(expr: &mut Expr, fields: &Fields) {
    let mut known = KnownNames::default();
    for field in fields {
        known.add_column(field.name().clone(), field.data_type());
    }
    let _ = VisitMut::visit(expr, &mut CaseMatcher { known: &known });
}

/// The columns of the table, view or file `name`, if there is one.
pub(super) async fn relation_schema(name: &ObjectName, state: &SessionState) -> Option<SchemaRef> {
    let reference = object_name_to_table_reference(name.clone(), true).ok()?;
    let schema = state.schema_for_ref(reference.clone()).ok()?;
    Some(schema.table(reference.table()).await.ok()??.schema())
}

/// The relations a statement reads, each with the name it is seen by where it is a table
/// factor's.
#[derive(Default)]
struct Relations {
    read: Vec<(Option<Ident>, ObjectName)>,
}

impl Visitor for Relations {
    type Break = ();

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        if !self.read.iter().any(|(_, read)| read == relation) {
            self.read.push((None, relation.clone()));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, .. } = factor {
            self.read
                .push((visible_name(factor).cloned(), name.clone()));
        }
        ControlFlow::Continue(())
    }
}

/// The names a statement can mean, as written where they are defined.
#[derive(Default)]
struct KnownNames {
    exact: HashSet<String>,
    /// The names of the columns and struct fields of the relations read, by their lower case.
    columns: HashMap<String, HashSet<String>>,
    /// The names the statement gives (aliases, struct keys), by their lower case.
    given: HashMap<String, HashSet<String>>,
    /// Each relation's columns, by the lower case of the name it is seen by; `None` where two
    /// relations seen by one name differ.
    relations: HashMap<String, Option<Vec<String>>>,
}

impl KnownNames {
    fn add(&mut self, name: String, given: bool) {
        let names = match given {
            true => &mut self.given,
            false => &mut self.columns,
        };
        names
            .entry(name.to_lowercase())
            .or_default()
            .insert(name.clone());
        self.exact.insert(name);
    }

    /// A column's name and the names of the struct fields its type holds, at any depth.
    fn add_column(&mut self, name: String, data_type: &DataType) {
        self.add(name, false);
        self.add_fields(data_type);
    }

    fn add_fields(&mut self, data_type: &DataType) {
        match data_type {
            DataType::Struct(fields) => {
                for field in fields {
                    self.add_column(field.name().clone(), field.data_type());
                }
            }
            DataType::List(field)
            | DataType::LargeList(field)
            | DataType::FixedSizeList(field, _)
            | DataType::ListView(field)
            | DataType::LargeListView(field)
            | DataType::Map(field, _) => self.add_fields(field.data_type()),
            _ => {}
        }
    }

    fn add_relation(&mut self, visible: &Ident, columns: Vec<String>) {
        let entry = self
            .relations
            .entry(visible.value.to_lowercase())
            .or_insert_with(|| Some(columns.clone()));
        if entry.as_ref() != Some(&columns) {
            *entry = None;
        }
    }

    /// Whether the relations' columns, or the names the statement gives, spell `name` in more
    /// than one case.
    fn spelled_differently(&self, name: &str) -> bool {
        let lower = name.to_lowercase();
        let columns = self.columns.get(&lower).into_iter().flatten();
        let given = self.given.get(&lower).into_iter().flatten();
        columns.chain(given).collect::<HashSet<_>>().len() > 1
    }

    /// The one column of `relation` that `column` names but for case, where DataFusion would
    /// not find it as written; `None` where `relation` is not one whose columns are known.
    fn matching_in(&self, relation: &Ident, column: &Ident) -> Option<Option<&str>> {
        let columns = self
            .relations
            .get(&relation.value.to_lowercase())?
            .as_ref()?;
        let names = columns.iter().map(String::as_str);
        match names.clone().any(|name| name == normalized(column)) {
            true => Some(None),
            false => Some(find_name(names, &column.value)),
        }
    }

    /// A name the statement defines, as DataFusion will hold it.
    fn add_defined(&mut self, ident: &Ident) {
        self.add(normalized(ident), true);
    }

    /// The one name `ident` stands for but for case, where DataFusion would not find it as
    /// written.
    fn matching(&self, ident: &Ident) -> Option<&str> {
        if self.exact.contains(&normalized(ident)) {
            return None;
        }
        self.matching_any_case(&ident.value)
    }

    /// The one known name that is `name` but for case: a column's where one is (`id` is the
    /// column `Id` beside an alias `"ID"`), else one the statement gives.
    fn matching_any_case(&self, name: &str) -> Option<&str> {
        let lower = name.to_lowercase();
        match self.columns.get(&lower) {
            Some(alike) => find_name(alike.iter().map(String::as_str), name),
            None => find_name(self.given.get(&lower)?.iter().map(String::as_str), name),
        }
    }
}

/// Quotes the column aliases a statement gives that have capitals (see the module
/// documentation).
struct AliasCase;

/// Quotes `ident` where it has capitals, so that DataFusion keeps it as written.
pub(super) fn keep_case(ident: &mut Ident) {
    if ident.quote_style.is_none() && ident.value.to_lowercase() != ident.value {
        ident.quote_style = Some('"');
    }
}

impl AliasCase {
    fn keep_column_case(alias: &mut TableAlias) {
        alias
            .columns
            .iter_mut()
            .for_each(|column| keep_case(&mut column.name));
    }
}

impl VisitorMut for AliasCase {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        for cte in query.with.iter_mut().flat_map(|with| &mut with.cte_tables) {
            Self::keep_column_case(&mut cte.alias);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        for item in &mut select.projection {
            if let SelectItem::ExprWithAlias { alias, .. } = item {
                keep_case(alias);
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { alias, .. }
        | TableFactor::Derived { alias, .. }
        | TableFactor::TableFunction { alias, .. }
        | TableFactor::Function { alias, .. }
        | TableFactor::UNNEST { alias, .. } = factor
            && let Some(alias) = alias
        {
            Self::keep_column_case(alias);
        }
        ControlFlow::Continue(())
    }
}

/// Collects the names the statement defines.
impl Visitor for KnownNames {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        for cte in query.with.iter().flat_map(|with| &with.cte_tables) {
            self.add_defined(&cte.alias.name);
            for column in &cte.alias.columns {
                self.add_defined(&column.name);
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        for item in &select.projection {
            if let SelectItem::ExprWithAlias { alias, .. } = item {
                self.add_defined(alias);
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        let alias = match factor {
            TableFactor::Table { alias, .. }
            | TableFactor::Derived { alias, .. }
            | TableFactor::TableFunction { alias, .. }
            | TableFactor::Function { alias, .. }
            | TableFactor::UNNEST { alias, .. }
            | TableFactor::NestedJoin { alias, .. }
            | TableFactor::Pivot { alias, .. } => alias.as_ref(),
            TableFactor::Unpivot {
                alias, value, name, ..
            } => {
                if let Expr::Identifier(value) = value {
                    self.add_defined(value);
                }
                self.add_defined(name);
                alias.as_ref()
            }
            _ => None,
        };
        if let Some(alias) = alias {
            self.add_defined(&alias.name);
            for column in &alias.columns {
                self.add_defined(&column.name);
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        match expr {
            Expr::Lambda(lambda) => {
                for param in lambda.params.iter() {
                    self.add_defined(&param.name);
                }
            }
            // A struct's keys are its fields' names as written.
            Expr::Dictionary(fields) => {
                for field in fields {
                    self.add(field.key.value.clone(), true);
                }
            }
            Expr::Function(function) => {
                if let sqlparser::ast::FunctionArguments::List(list) = &function.args {
                    for arg in &list.args {
                        if let FunctionArg::Named { name, .. } = arg {
                            self.add_defined(name);
                        }
                    }
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// A name as DataFusion holds it: as written when quoted, in lower case otherwise.
fn normalized(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

/// The parts of a name that are identifiers.
fn idents_of(name: &mut ObjectName) -> impl Iterator<Item = &mut Ident> {
    name.0.iter_mut().filter_map(|part| match part {
        ObjectNamePart::Identifier(ident) => Some(ident),
        _ => None,
    })
}

/// Rewrites the names [`KnownNames::matching`] finds.
struct CaseMatcher<'a> {
    known: &'a KnownNames,
}

impl CaseMatcher<'_> {
    fn match_ident(&self, ident: &mut Ident) {
        if let Some(name) = self.known.matching(ident) {
            *ident = Ident::with_quote('"', name);
        }
    }

    fn match_object_name(&self, name: &mut ObjectName) {
        idents_of(name).for_each(|ident| self.match_ident(ident));
    }

    /// Matches the names in `select`'s unaliased expressions, naming each whose names change
    /// as it was named before: DuckDB names an expression as written (`(total + last)`, and
    /// `sourceurl` for `meta.sourceurl`), a column by its own name.
    fn keep_written_names(&mut self, select: &mut Select) {
        let relations = relation_names(&select.from);
        for item in &mut select.projection {
            let SelectItem::UnnamedExpr(expr) = item else {
                continue;
            };
            let (name, named_already) = written_name(expr, &relations);
            let mut matched = expr.clone();
            let _ = VisitMut::visit(&mut matched, self);
            if !named_already && matched != *expr {
                *item = SelectItem::ExprWithAlias {
                    expr: matched,
                    alias: Ident::with_quote('"', name),
                };
            }
        }
    }

    /// A name in a list of columns DataFusion compares as written (EXCLUDE) or lowers (REPLACE):
    /// as the one name it matches but for case, quoted; among `relation`'s columns for its
    /// `relation.*` where they are known.
    fn match_listed(&self, relation: Option<&Ident>, ident: &mut Ident) {
        let listed = Ident::with_quote('"', ident.value.clone());
        let matched = match relation.and_then(|r| self.known.matching_in(r, &listed)) {
            Some(in_relation) => in_relation,
            None if self.known.exact.contains(&ident.value) => None,
            None => self.known.matching_any_case(&ident.value),
        };
        if let Some(name) = matched {
            *ident = Ident::with_quote('"', name);
        }
    }
}

impl VisitorMut for CaseMatcher<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::Identifier(ident) => self.match_ident(ident),
            Expr::CompoundIdentifier(parts) => match &mut parts[..] {
                [relation, column] if self.known.matching_in(relation, column).is_some() => {
                    if let Some(Some(name)) = self.known.matching_in(relation, column) {
                        *column = Ident::with_quote('"', name);
                    }
                }
                parts => parts.iter_mut().for_each(|p| self.match_ident(p)),
            },
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        self.keep_written_names(select);
        for join in select.from.iter_mut().flat_map(|from| &mut from.joins) {
            // A name the joined relations spell differently (`Id`, `ID`) is each side's own,
            // found once the USING join is written out with its relations' names.
            if let Some(JoinConstraint::Using(columns)) = constraint_mut(&mut join.join_operator) {
                for ident in columns.iter_mut().flat_map(idents_of) {
                    if !self.known.spelled_differently(&ident.value) {
                        self.match_ident(ident);
                    }
                }
            }
        }
        for item in &mut select.projection {
            let (relation, options) = match item {
                SelectItem::Wildcard(options) => (None, options),
                SelectItem::QualifiedWildcard(kind, options) => {
                    let relation = match kind {
                        SelectItemQualifiedWildcardKind::ObjectName(name) => {
                            name.0.last().and_then(|part| part.as_ident()).cloned()
                        }
                        _ => None,
                    };
                    (relation, options)
                }
                _ => continue,
            };
            for element in options.opt_replace.iter_mut().flat_map(|r| &mut r.items) {
                self.match_listed(relation.as_ref(), &mut element.column_name);
            }
            let excluded = match &mut options.opt_exclude {
                Some(ExcludeSelectItem::Single(name)) => std::slice::from_mut(name),
                Some(ExcludeSelectItem::Multiple(names)) => names.as_mut_slice(),
                None => &mut [],
            };
            for ident in excluded.iter_mut().flat_map(idents_of) {
                self.match_listed(relation.as_ref(), ident);
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_statement(&mut self, statement: &mut Statement) -> ControlFlow<()> {
        match statement {
            Statement::Insert(insert) => insert
                .columns
                .iter_mut()
                .for_each(|c| self.match_object_name(c)),
            Statement::Update(update) => {
                for assignment in &mut update.assignments {
                    match &mut assignment.target {
                        AssignmentTarget::ColumnName(name) => self.match_object_name(name),
                        AssignmentTarget::Tuple(names) => {
                            names.iter_mut().for_each(|n| self.match_object_name(n))
                        }
                    }
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(names: &[&str]) -> KnownNames {
        let mut known = KnownNames::default();
        names
            .iter()
            .for_each(|name| known.add(name.to_string(), false));
        known
    }

    #[test]
    fn a_name_matches_the_one_name_it_is_but_for_case() {
        let known = known(&["Text", "Id", "ID", "score"]);
        let found = |ident: Ident| known.matching(&ident).map(str::to_string);
        assert_eq!(found(Ident::new("text")), Some("Text".to_string()));
        assert_eq!(
            found(Ident::with_quote('"', "TEXT")),
            Some("Text".to_string())
        );
        // Found as written already: DataFusion finds it.
        assert_eq!(found(Ident::with_quote('"', "Text")), None);
        assert_eq!(found(Ident::new("Score")), None);
        // Two names differ only by case: which one is meant is not guessed.
        assert_eq!(found(Ident::new("id")), None);
        assert_eq!(found(Ident::new("missing")), None);
    }
}
