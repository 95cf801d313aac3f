//! `USE name`, `SET schema = 'name'` and `SET search_path = 'a,b'`: where unqualified table
//! names resolve, and CREATE TABLE makes its tables, from then on, as in DuckDB. `USE memory`
//! goes back to `main`.
//!
//! The first schema of the path is DataFusion's default schema, so a plan resolves names the
//! way it always has; `current_schema()` and `current_setting('schema')` read it. A name the
//! default schema lacks is looked for in the rest of the path in turn, then in `main`, as
//! DuckDB looks: [`qualify_from_search_path`] writes it qualified with the first schema that
//! has it, before the statement is planned.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::prelude::{SessionConfig, SessionContext};
use sqlparser::ast::{
    Ident, ObjectName, ObjectNamePart, ObjectType, Query, Statement, Visit, Visitor,
    visit_relations_mut,
};

use super::table_keys::binder;
use super::{DEFAULT_CATALOG, DEFAULT_SCHEMA, SqlSession, is_internal_schema};
use crate::error::{Result, TarnError};

/// The schemas of the search path after the first (the default schema), in order.
#[derive(Debug, Default)]
struct LaterSchemas(Vec<String>);

/// Whether `name` is one of the settings that choose the schema.
pub(super) fn is_schema_setting(name: &str) -> bool {
    name.eq_ignore_ascii_case("schema") || name.eq_ignore_ascii_case("search_path")
}

/// `SET schema | search_path = 'value'`: `value` is `schema` or `database.schema`, or for
/// `search_path` several of them separated by commas.
pub(super) fn set(session: &SqlSession, setting: &str, value: &str) -> Result<()> {
    let setting = setting.to_lowercase();
    if setting == "schema" && value.contains(',') {
        return Err(TarnError::Invalid(format!(
            "SET schema: '{value}' names several schemas; a search path of several is SET \
             search_path"
        )));
    }
    let mut path = Vec::new();
    for entry in value.split(',') {
        let parts: Vec<&str> = entry.split('.').map(str::trim).collect();
        path.push(schema_of(session, &setting, &parts)?);
    }
    choose(session, path)
}

/// `USE name` or `USE database.schema`.
pub(super) fn use_schema(session: &SqlSession, name: &ObjectName) -> Result<()> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|part| {
            part.as_ident()
                .map_or(part.to_string(), |i| i.value.clone())
        })
        .collect();
    if parts.len() > 2 {
        return Err(TarnError::Parse(
            "Expected \"USE database\" or \"USE database.schema\"".to_string(),
        ));
    }
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let schema = schema_of(session, "schema", &parts)?;
    choose(session, vec![schema])
}

/// The schema `parts` name (`[schema]`, `[database]` for its `main`, or `[database, schema]`,
/// each matched ignoring case), as the catalog spells it.
fn schema_of(session: &SqlSession, setting: &str, parts: &[&str]) -> Result<String> {
    let not_found = || {
        binder(&format!(
            "SET {setting}: No catalog + schema named \"{}\" found.",
            parts.join(".")
        ))
    };
    let catalog = session
        .context()
        .catalog(DEFAULT_CATALOG)
        .expect("the default catalog exists");
    let schema_named = |wanted: &str| {
        catalog
            .schema_names()
            .into_iter()
            .filter(|name| !is_internal_schema(name))
            .find(|name| name.eq_ignore_ascii_case(wanted))
    };
    let is_database = |name: &str| name.eq_ignore_ascii_case(DEFAULT_CATALOG);
    match parts {
        [database] if is_database(database) => Ok(DEFAULT_SCHEMA.to_string()),
        [schema] => schema_named(schema).ok_or_else(not_found),
        [database, schema] if is_database(database) => schema_named(schema).ok_or_else(not_found),
        _ => Err(not_found()),
    }
}

/// Makes `path` the session's search path: its first schema the default, the rest kept.
fn choose(session: &SqlSession, mut path: Vec<String>) -> Result<()> {
    let later = path.split_off(1);
    let state = session.context().state_ref();
    let mut state = state.write();
    let config = state.config_mut();
    config.options_mut().catalog.default_schema = path.remove(0);
    config.set_extension(Arc::new(LaterSchemas(later)));
    Ok(())
}

/// The search path of the session `config` belongs to, its schemas separated by commas, as
/// `current_setting` reads it.
pub(super) fn search_path(config: &SessionConfig) -> String {
    let first = &config.options().catalog.default_schema;
    let later = config.get_extension::<LaterSchemas>().unwrap_or_default();
    std::iter::once(first)
        .chain(&later.0)
        .cloned()
        .collect::<Vec<_>>()
        .join(",")
}

/// Writes each unqualified table name of `statement` that the default schema lacks as the
/// name in the first schema of the rest of the search path, then `main`, that has it. A CTE's
/// name, and the name a CREATE makes (in the default schema), are left as written.
pub(super) fn qualify_from_search_path(statement: &mut Statement, ctx: &SessionContext) {
    let (default, fallbacks) = {
        let state = ctx.state_ref();
        let state = state.read();
        let config = state.config();
        let default = &config.options().catalog.default_schema;
        let later = config.get_extension::<LaterSchemas>().unwrap_or_default();
        if later.0.is_empty() && default == DEFAULT_SCHEMA {
            // The path is `main` alone, which DataFusion resolves in: the usual case.
            return;
        }
        let default = default.clone();
        let mut fallbacks = later.0.clone();
        if !fallbacks.iter().any(|schema| schema == DEFAULT_SCHEMA) {
            fallbacks.push(DEFAULT_SCHEMA.to_string());
        }
        fallbacks.retain(|schema| *schema != default);
        (default, fallbacks)
    };
    let Some(catalog) = ctx.catalog(DEFAULT_CATALOG) else {
        return;
    };
    let has_table = |schema: &str, table: &str| {
        catalog
            .schema(schema)
            .is_some_and(|schema| schema.table_exist(table))
    };
    let mut ctes = CteNames::default();
    let _ = Visit::visit(&*statement, &mut ctes);
    let created = created_name(statement).map(|name| std::mem::replace(name, ObjectName(vec![])));
    let qualify = |name: &mut ObjectName| {
        if let [ObjectNamePart::Identifier(ident)] = name.0.as_slice()
            && !ctes
                .0
                .iter()
                .any(|cte| cte.eq_ignore_ascii_case(&ident.value))
        {
            let table = match ident.quote_style {
                Some(_) => ident.value.clone(),
                None => ident.value.to_lowercase(),
            };
            if !has_table(&default, &table)
                && let Some(schema) = fallbacks.iter().find(|s| has_table(s, &table))
            {
                let schema = Ident::with_quote('"', schema.as_str());
                name.0.insert(0, ObjectNamePart::Identifier(schema));
            }
        }
        ControlFlow::<()>::Continue(())
    };
    let _ = visit_relations_mut(statement, qualify);
    // The parser does not visit the names a DROP takes as relations.
    if let Statement::Drop {
        object_type: ObjectType::Table | ObjectType::View,
        names,
        ..
    } = statement
    {
        names.iter_mut().for_each(|name| {
            let _ = qualify(name);
        });
    }
    if let (Some(slot), Some(created)) = (created_name(statement), created) {
        *slot = created;
    }
}

/// The name a CREATE TABLE or CREATE VIEW makes.
fn created_name(statement: &mut Statement) -> Option<&mut ObjectName> {
    match statement {
        Statement::CreateTable(create) => Some(&mut create.name),
        Statement::CreateView(create) => Some(&mut create.name),
        _ => None,
    }
}

/// The names of the CTEs a statement defines, anywhere in it.
#[derive(Default)]
struct CteNames(Vec<String>);

impl Visitor for CteNames {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            self.0.extend(
                with.cte_tables
                    .iter()
                    .map(|cte| cte.alias.name.value.clone()),
            );
        }
        ControlFlow::Continue(())
    }
}
