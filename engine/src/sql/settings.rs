//! A session's settings as DuckDB shows them: `duckdb_settings()` lists them and
//! `current_setting('name')` reads one, typed as DuckDB types it (`threads` a BIGINT,
//! `memory_limit` text such as `18.8 GiB`, `preserve_insertion_order` a BOOLEAN). Tarn's own
//! settings (those `SET name = value` changes, [`TarnConfig::set`]) come first, then
//! DataFusion's (`datafusion.execution.batch_size`), which `SET` also takes, as text.
//!
//! The session keeps its [`TarnConfig`] in the state's configuration, where both read it.

use std::ops::ControlFlow;

use datafusion::common::ScalarValue;
use datafusion::execution::SessionState;
use sqlparser::ast::{
    DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Statement, Value,
    visit_expressions_mut,
};

use super::byte_sizes::{Units, format_bytes};
use super::rewrite::cast;
use super::table_keys::binder;
use crate::config::TarnConfig;
use crate::error::{Result, TarnError};

/// One setting with its current value.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Setting {
    pub name: String,
    /// Other names `SET` and `current_setting` take for it.
    pub aliases: &'static [&'static str],
    /// Typed as `current_setting` returns it; NULL where it is not set.
    pub value: ScalarValue,
    pub description: String,
}

impl Setting {
    fn tarn(
        name: &str,
        aliases: &'static [&'static str],
        value: ScalarValue,
        description: &str,
    ) -> Self {
        Setting {
            name: name.to_string(),
            aliases,
            value,
            description: description.to_string(),
        }
    }

    /// The value as `duckdb_settings()` writes it.
    pub fn text(&self) -> Option<String> {
        (!self.value.is_null()).then(|| self.value.to_string())
    }

    /// DuckDB's name for the value's type.
    pub fn input_type(&self) -> String {
        super::types::sql_type_name(&self.value.data_type())
    }

    fn is_named(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// The settings of the session `state` belongs to, Tarn's and DataFusion's, by name.
pub(super) fn of(state: &SessionState) -> Result<Vec<Setting>> {
    let config = state
        .config()
        .get_extension::<TarnConfig>()
        .ok_or_else(|| TarnError::Invalid("this session keeps no settings".into()))?;
    let mut settings = tarn_settings(&config);
    settings.push(Setting::tarn(
        "schema",
        &[],
        ScalarValue::Utf8(Some(state.config_options().catalog.default_schema.clone())),
        "The schema unqualified table names resolve in first, and CREATE makes tables in \
         (USE, SET schema).",
    ));
    settings.push(Setting::tarn(
        "search_path",
        &[],
        ScalarValue::Utf8(Some(super::current_schema::search_path(state.config()))),
        "The schemas unqualified table names resolve in, in turn, before main (SET \
         search_path).",
    ));
    settings.extend(
        state
            .config_options()
            .entries()
            .into_iter()
            .map(|entry| Setting {
                name: entry.key,
                aliases: &[],
                value: ScalarValue::Utf8(entry.value),
                description: entry.description.to_string(),
            }),
    );
    settings.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(settings)
}

/// Tarn's settings, under the names [`TarnConfig::set`] takes.
fn tarn_settings(config: &TarnConfig) -> Vec<Setting> {
    let count = |n: usize| ScalarValue::Int64(Some(n as i64));
    let text = |s: Option<String>| ScalarValue::Utf8(s);
    let memory = match config.memory_limit {
        Some(bytes) => format_bytes(bytes.min(i64::MAX as u64) as i64, Units::Binary),
        None => "unlimited".to_string(),
    };
    let spill_folder = config
        .temp_directory
        .clone()
        .unwrap_or_else(std::env::temp_dir);
    vec![
        Setting::tarn(
            "threads",
            &["worker_threads"],
            count(config.threads),
            "Worker threads and partitions per query.",
        ),
        Setting::tarn(
            "memory_limit",
            &["max_memory"],
            text(Some(memory)),
            "Memory that queries may hold before they spill to disk (e.g. 4GB, or -1 for no limit).",
        ),
        Setting::tarn(
            "temp_directory",
            &[],
            text(Some(spill_folder.display().to_string())),
            "The folder that spill files go to.",
        ),
        Setting::tarn(
            "preserve_insertion_order",
            &[],
            ScalarValue::Boolean(Some(config.preserve_insertion_order)),
            "Whether results keep the order of the rows in the files and tables they come from.",
        ),
        Setting::tarn(
            "data_root",
            &[],
            text(Some(config.data_root.clone())),
            "Where partitioned jobs keep their files: a folder or an object-store URL.",
        ),
        Setting::tarn(
            "job_id",
            &[],
            text(config.job_id.clone()),
            "The id partitioned jobs run as; NULL gives each session a new one.",
        ),
        Setting::tarn(
            "concurrency",
            &[],
            count(config.concurrency),
            "Tasks a partitioned job runs at once.",
        ),
        Setting::tarn(
            "max_attempts",
            &[],
            count(config.max_attempts),
            "Attempts a job's task gets when it fails for an I/O reason.",
        ),
    ]
}

/// Replaces each `current_setting('name')` (and `current_schema()`) in `statement` with the
/// setting's value, typed.
pub(super) fn current_settings(statement: &mut Statement, state: &SessionState) -> Result<()> {
    let mut settings = None;
    let mut failure = None;
    let _ = visit_expressions_mut(statement, |expr| {
        let Some(name) = setting_named(expr) else {
            return ControlFlow::Continue(());
        };
        let value = name.and_then(|name| {
            if settings.is_none() {
                settings = Some(of(state)?);
            }
            let settings = settings.as_deref().expect("read above");
            let setting = settings
                .iter()
                .find(|s| s.is_named(&name))
                .ok_or_else(|| unknown(&name, settings))?;
            Ok(literal(&setting.value))
        });
        match value {
            Ok(value) => {
                *expr = value;
                ControlFlow::Continue(())
            }
            Err(err) => {
                failure = Some(err);
                ControlFlow::Break(())
            }
        }
    });
    failure.map_or(Ok(()), Err)
}

/// The setting a `current_setting(...)` call names, or why it names none; `None` for any other
/// expression.
fn setting_named(expr: &Expr) -> Option<Result<String>> {
    let Expr::Function(call) = expr else {
        return None;
    };
    let [name] = call.name.0.as_slice() else {
        return None;
    };
    let called = |function: &str| {
        name.as_ident()
            .is_some_and(|ident| ident.value.eq_ignore_ascii_case(function))
    };
    // `current_schema()` reads the schema USE chose.
    if called("current_schema") {
        return Some(Ok("schema".to_string()));
    }
    if !called("current_setting") {
        return None;
    }
    let FunctionArguments::List(list) = &call.args else {
        return None;
    };
    let argument = match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(argument))] => argument,
        _ => return Some(Err(binder("current_setting takes one setting name"))),
    };
    Some(match argument {
        Expr::Value(value) => match &value.value {
            Value::SingleQuotedString(name) => Ok(name.clone()),
            Value::Null => Err(binder(
                "The \"setting_name\" argument in function \"current_setting\" must not be NULL",
            )),
            _ => Err(binder("current_setting takes a setting's name as text")),
        },
        _ => Err(binder(
            "The \"setting_name\" argument in function \"current_setting\" must be a constant \
             expression",
        )),
    })
}

/// DuckDB's error for a name no setting has, with the names close to it.
fn unknown(name: &str, settings: &[Setting]) -> TarnError {
    let wanted = name.to_lowercase();
    let mut close: Vec<(f64, &str)> = settings
        .iter()
        .map(|s| {
            (
                strsim::normalized_levenshtein(&s.name, &wanted),
                s.name.as_str(),
            )
        })
        .filter(|&(similarity, _)| similarity >= 0.6)
        .collect();
    close.sort_by(|a, b| b.0.total_cmp(&a.0));
    let suggestion = match close.as_slice() {
        [] => String::new(),
        close => {
            let names: Vec<String> = close
                .iter()
                .take(3)
                .map(|(_, name)| format!("\"{name}\""))
                .collect();
            format!(" (did you mean {}?)", names.join(", "))
        }
    };
    binder(&format!(
        "unrecognized configuration parameter \"{name}\"{suggestion}"
    ))
}

/// `value` as a SQL constant of its type; a setting without a value is a text NULL.
fn literal(value: &ScalarValue) -> Expr {
    match value {
        ScalarValue::Int64(Some(n)) => cast(
            Expr::value(Value::Number(n.to_string(), false)),
            DataType::BigInt(None),
        ),
        ScalarValue::Boolean(Some(b)) => Expr::value(Value::Boolean(*b)),
        ScalarValue::Utf8(Some(text)) => Expr::value(Value::SingleQuotedString(text.clone())),
        _ => cast(Expr::value(Value::Null), DataType::Varchar(None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tarn_setting_is_one_set_takes_back() {
        let config = TarnConfig {
            memory_limit: Some(1_000_000_000),
            temp_directory: Some("/tmp/spill".into()),
            job_id: Some("run-1".into()),
            ..TarnConfig::default()
        };
        for setting in tarn_settings(&config) {
            let mut copy = config.clone();
            let text = setting.text().expect("every setting here has a value");
            let text = match setting.name.as_str() {
                // Shown rounded, as DuckDB shows it.
                "memory_limit" => {
                    assert_eq!(text, "953.6 MiB");
                    "1000000000".to_string()
                }
                _ => text,
            };
            for name in std::iter::once(setting.name.as_str()).chain(setting.aliases.to_vec()) {
                assert!(copy.set(name, &text).unwrap(), "SET {name} is not taken");
            }
            assert_eq!(
                copy, config,
                "{} = {text} changed the settings",
                setting.name
            );
        }
    }
}
