//! `duckdb_functions()`: the functions a session can call, a row per name, as DuckDB lists its
//! own, so that a user (or a tool completing names) can ask which exist (`WHERE function_name
//! LIKE 'list_%'`) and what one does. DuckDB gives a row per overload with its types; DataFusion's
//! functions take their types at planning, so Tarn gives one row per name, `return_type` and
//! `parameter_types` NULL, and the parameters and description its documentation has.
//!
//! Listed: the scalar, aggregate and window functions and the table functions of the session's
//! registry (an alias as its own row, with `alias_of`), the table functions Tarn reads from the
//! syntax tree ([`super::table_functions`]), and the built-in SQL macros
//! ([`super::macros`]) with their bodies. Names Tarn keeps for its own plans (`tarn_...`) are
//! left out.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, ListBuilder, StringArray, StringBuilder};
use datafusion::catalog::TableProvider;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Documentation, Volatility};

use super::{DEFAULT_SCHEMA, macros, memory_table, table_functions};
use crate::error::Result;

/// One row of `duckdb_functions()`.
struct Listed {
    name: String,
    alias_of: Option<String>,
    /// `scalar`, `aggregate`, `window`, `table` or `macro`, as DuckDB names the kinds.
    kind: &'static str,
    description: Option<String>,
    parameters: Option<Vec<String>>,
    macro_definition: Option<String>,
    /// `None` where it is not known (a table function, a macro).
    volatility: Option<Volatility>,
}

impl Listed {
    fn function(
        name: &str,
        own_name: &str,
        kind: &'static str,
        documentation: Option<&Documentation>,
        volatility: Volatility,
    ) -> Self {
        Listed {
            name: name.to_string(),
            alias_of: (name != own_name).then(|| own_name.to_string()),
            kind,
            description: documentation.map(|d| d.description.clone()),
            parameters: documentation
                .and_then(|d| d.arguments.as_ref())
                .map(|arguments| arguments.iter().map(|(name, _)| name.clone()).collect()),
            macro_definition: None,
            volatility: Some(volatility),
        }
    }

    fn other(name: &str, kind: &'static str, macro_definition: Option<&str>) -> Self {
        Listed {
            name: name.to_string(),
            alias_of: None,
            kind,
            description: None,
            parameters: None,
            macro_definition: macro_definition.map(str::to_string),
            volatility: None,
        }
    }

    /// DuckDB's word for how a call's answer may change.
    fn stability(&self) -> Option<&'static str> {
        self.volatility.map(|volatility| match volatility {
            Volatility::Immutable => "CONSISTENT",
            Volatility::Stable => "CONSISTENT_WITHIN_QUERY",
            Volatility::Volatile => "VOLATILE",
        })
    }
}

/// Whether `name` is one Tarn keeps for its own plans rather than for queries to call.
fn is_tarn_internal(name: &str) -> bool {
    name.starts_with("tarn_") || name.starts_with("__")
}

/// The table `duckdb_functions()` answers for the session `state` belongs to.
pub(super) fn functions_table(state: &SessionState) -> Result<Arc<dyn TableProvider>> {
    let scalars = state.scalar_functions().iter().map(|(name, f)| {
        let own = (f.name(), f.documentation(), f.signature().volatility);
        (name, "scalar", own)
    });
    let aggregates = state.aggregate_functions().iter().map(|(name, f)| {
        let own = (f.name(), f.documentation(), f.signature().volatility);
        (name, "aggregate", own)
    });
    let windows = state.window_functions().iter().map(|(name, f)| {
        let own = (f.name(), f.documentation(), f.signature().volatility);
        (name, "window", own)
    });
    let mut listed: Vec<Listed> = scalars
        .chain(aggregates)
        .chain(windows)
        .map(|(name, kind, (own_name, docs, volatility))| {
            Listed::function(name, own_name, kind, docs, volatility)
        })
        .collect();
    let table_names = state.table_functions().keys().map(String::as_str);
    let table_names = table_names.chain(table_functions::TABLE_FUNCTIONS.iter().copied());
    listed.extend(table_names.map(|name| Listed::other(name, "table", None)));
    for (name, body) in macros::definitions() {
        listed.push(Listed::other(name, "macro", Some(body)));
    }
    listed.retain(|row| !is_tarn_internal(&row.name));
    listed.sort_by(|a, b| (&a.name, a.kind).cmp(&(&b.name, b.kind)));
    listed.dedup_by(|a, b| a.name == b.name && a.kind == b.kind);
    rows(&listed)
}

fn rows(listed: &[Listed]) -> Result<Arc<dyn TableProvider>> {
    let count = listed.len();
    let text = |of: &dyn Fn(&Listed) -> Option<&str>| -> ArrayRef {
        Arc::new(StringArray::from_iter(listed.iter().map(of)))
    };
    let mut parameters = ListBuilder::new(StringBuilder::new());
    for row in listed {
        match &row.parameters {
            Some(names) => parameters.append_value(names.iter().map(Some)),
            None => parameters.append_null(),
        }
    }
    let mut parameter_types = ListBuilder::new(StringBuilder::new());
    (0..count).for_each(|_| parameter_types.append_null());
    memory_table(vec![
        ("database_name", text(&|_| Some("system"))),
        ("schema_name", text(&|_| Some(DEFAULT_SCHEMA))),
        ("function_name", text(&|row| Some(&row.name))),
        ("alias_of", text(&|row| row.alias_of.as_deref())),
        ("function_type", text(&|row| Some(row.kind))),
        ("description", text(&|row| row.description.as_deref())),
        ("comment", text(&|_| None)),
        ("return_type", text(&|_| None)),
        ("parameters", Arc::new(parameters.finish())),
        ("parameter_types", Arc::new(parameter_types.finish())),
        ("varargs", text(&|_| None)),
        (
            "macro_definition",
            text(&|row| row.macro_definition.as_deref()),
        ),
        (
            "has_side_effects",
            Arc::new(BooleanArray::from_iter(
                listed
                    .iter()
                    .map(|row| row.volatility.map(|v| v == Volatility::Volatile)),
            )),
        ),
        ("internal", Arc::new(BooleanArray::from(vec![true; count]))),
        ("stability", text(&|row| row.stability())),
    ])
}
