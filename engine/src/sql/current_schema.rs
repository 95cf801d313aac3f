//! `USE name`, `SET schema = 'name'` and `SET search_path = 'name'`: the schema in which
//! unqualified table names resolve, and CREATE TABLE makes its tables, from then on, as in
//! DuckDB. `USE memory` goes back to `main`. The schema is DataFusion's default schema, so a
//! plan resolves names the way it always has; `current_schema()` and
//! `current_setting('schema')` read it.
//!
//! DuckDB's search path may name several schemas, tried in turn; DataFusion resolves a name in
//! one, so a path of several is refused rather than half kept.

use sqlparser::ast::ObjectName;

use super::table_keys::binder;
use super::{DEFAULT_CATALOG, DEFAULT_SCHEMA, SqlSession, is_internal_schema};
use crate::error::{Result, TarnError};

/// Whether `name` is one of the settings that choose the schema.
pub(super) fn is_schema_setting(name: &str) -> bool {
    name.eq_ignore_ascii_case("schema") || name.eq_ignore_ascii_case("search_path")
}

/// `SET schema | search_path = 'value'`: `value` is `schema` or `database.schema`.
pub(super) fn set(session: &SqlSession, setting: &str, value: &str) -> Result<()> {
    let setting = setting.to_lowercase();
    if value.contains(',') {
        return Err(TarnError::Invalid(format!(
            "SET {setting}: Tarn resolves names in one schema; '{value}' names several"
        )));
    }
    let parts: Vec<&str> = value.split('.').map(str::trim).collect();
    choose(session, &setting, &parts)
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
    choose(session, "schema", &parts)
}

/// Makes the schema `parts` name (`[schema]`, `[database]` for its `main`, or `[database,
/// schema]`, each matched ignoring case) the session's default.
fn choose(session: &SqlSession, setting: &str, parts: &[&str]) -> Result<()> {
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
    let schema = match parts {
        [database] if is_database(database) => DEFAULT_SCHEMA.to_string(),
        [schema] => schema_named(schema).ok_or_else(not_found)?,
        [database, schema] if is_database(database) => {
            schema_named(schema).ok_or_else(not_found)?
        }
        _ => return Err(not_found()),
    };
    let state = session.context().state_ref();
    let mut state = state.write();
    state.config_mut().options_mut().catalog.default_schema = schema;
    Ok(())
}
