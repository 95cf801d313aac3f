//! `COMMENT ON TABLE | VIEW | COLUMN name IS 'text'` (`IS NULL` removes it), kept as DuckDB
//! keeps them and shown where DuckDB shows them: the `comment` column of `duckdb_tables()`,
//! `duckdb_views()` and `duckdb_columns()`. A schema documented for DuckDB (a comment per table
//! and column, as dbt and data catalogs write them) runs as it is.
//!
//! A comment is kept beside the table or view it is on (weakly: the catalog owns the table), so
//! it follows a rename and goes with a DROP or a CREATE OR REPLACE. ALTER TABLE, which rebuilds
//! the table, and a view planned again carry the comments to the new one ([`Comments::carry`]).

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use datafusion::catalog::TableProvider;
use datafusion::datasource::TableType;
use datafusion::execution::SessionState;
use datafusion::prelude::SessionContext;
use sqlparser::ast::{CommentObject, ObjectName};

use super::SqlSession;
use super::table_keys::binder;
use crate::error::{Result, TarnError};

/// The comments of one table or view.
#[derive(Debug, Clone, Default)]
struct Commented {
    /// On the table or view itself.
    relation: Option<String>,
    /// On its columns, by column name.
    columns: Vec<(String, String)>,
}

/// A session's comments, each beside the table or view it is on (a state extension, which the
/// catalog functions read).
#[derive(Debug, Default)]
pub struct Comments {
    kept: Mutex<Vec<(Weak<dyn TableProvider>, Commented)>>,
}

impl Comments {
    /// The comments of the tables still in the session.
    fn live(&self) -> MutexGuard<'_, Vec<(Weak<dyn TableProvider>, Commented)>> {
        let mut kept = self
            .kept
            .lock()
            .expect("the comments' lock is never poisoned");
        kept.retain(|(table, _)| table.strong_count() > 0);
        kept
    }

    /// The comments of `table`, with `change` applied; a table left without any is forgotten.
    fn edit(&self, table: &Arc<dyn TableProvider>, change: impl FnOnce(&mut Commented)) {
        let mut kept = self.live();
        let at = match kept.iter().position(|(t, _)| is(t, table)) {
            Some(at) => at,
            None => {
                kept.push((Arc::downgrade(table), Commented::default()));
                kept.len() - 1
            }
        };
        change(&mut kept[at].1);
        if kept[at].1.relation.is_none() && kept[at].1.columns.is_empty() {
            kept.remove(at);
        }
    }

    fn of(&self, table: &Arc<dyn TableProvider>) -> Option<Commented> {
        let kept = self.live();
        kept.iter()
            .find(|(t, _)| is(t, table))
            .map(|(_, commented)| commented.clone())
    }

    /// The comment on `table` itself.
    pub fn on_relation(&self, table: &Arc<dyn TableProvider>) -> Option<String> {
        self.of(table)?.relation
    }

    /// The comment on `table`'s column `column`.
    pub fn on_column(&self, table: &Arc<dyn TableProvider>, column: &str) -> Option<String> {
        let commented = self.of(table)?;
        commented
            .columns
            .into_iter()
            .find(|(name, _)| name == column)
            .map(|(_, text)| text)
    }

    /// Gives `to`, which replaces `from` under its name, `from`'s comments: those on columns it
    /// still has, a column `renamed` (old, new) under its new name.
    pub fn carry(
        &self,
        from: &Arc<dyn TableProvider>,
        to: &Arc<dyn TableProvider>,
        renamed: Option<(&str, &str)>,
    ) {
        let Some(mut commented) = self.of(from) else {
            return;
        };
        let schema = to.schema();
        commented.columns = commented
            .columns
            .into_iter()
            .map(|(column, text)| match renamed {
                Some((old, new)) if column == old => (new.to_string(), text),
                _ => (column, text),
            })
            .filter(|(column, _)| schema.field_with_name(column).is_ok())
            .collect();
        self.edit(to, |kept| *kept = commented);
    }
}

/// Whether `kept` refers to `table`.
fn is(kept: &Weak<dyn TableProvider>, table: &Arc<dyn TableProvider>) -> bool {
    std::ptr::addr_eq(kept.as_ptr(), Arc::as_ptr(table))
}

/// The session's [`Comments`].
pub fn kept_in(state: &SessionState) -> Option<Arc<Comments>> {
    state.config().get_extension::<Comments>()
}

/// [`Comments::carry`] in the session of `ctx`.
pub fn carry(
    ctx: &SessionContext,
    from: &Arc<dyn TableProvider>,
    to: &Arc<dyn TableProvider>,
    renamed: Option<(&str, &str)>,
) {
    if let Some(comments) = kept_in(&ctx.state()) {
        comments.carry(from, to, renamed);
    }
}

/// Runs `COMMENT ON object name IS comment`.
pub(super) async fn comment_on(
    session: &SqlSession,
    object: CommentObject,
    name: &ObjectName,
    comment: Option<String>,
    if_exists: bool,
) -> Result<()> {
    let state = session.context().state();
    let comments = kept_in(&state)
        .ok_or_else(|| TarnError::Invalid("this session keeps no comments".to_string()))?;
    let mut parts: Vec<String> = name
        .0
        .iter()
        .map(|part| {
            part.as_ident()
                .map_or(part.to_string(), |i| i.value.clone())
        })
        .collect();
    let column = match object {
        CommentObject::Table | CommentObject::View => None,
        CommentObject::Column if parts.len() >= 2 => parts.pop(),
        CommentObject::Column => {
            return Err(binder(&format!(
                "COMMENT ON COLUMN {name}: name the column as table.column"
            )));
        }
        other => {
            return Err(TarnError::Invalid(format!(
                "COMMENT ON {other} is not supported: Tarn keeps comments on tables, views and \
                 columns"
            )));
        }
    };
    let relation_name = parts.join(".");
    let table = match session
        .context()
        .table_provider(relation_name.as_str())
        .await
    {
        Ok(table) => table,
        Err(_) if if_exists => return Ok(()),
        Err(_) => {
            let kind = match object {
                CommentObject::View => "View",
                _ => "Table",
            };
            return Err(binder(&format!(
                "{kind} with name {relation_name} does not exist!"
            )));
        }
    };
    if object == CommentObject::View && table.table_type() != TableType::View {
        return Err(binder(&format!(
            "{relation_name} is not a view: COMMENT ON TABLE comments on a table"
        )));
    }
    match column {
        None => comments.edit(&table, |kept| kept.relation = comment),
        Some(column) => {
            let schema = table.schema();
            let Some(field) = schema
                .fields()
                .iter()
                .find(|f| f.name().eq_ignore_ascii_case(&column))
            else {
                return Err(binder(&format!(
                    "Table \"{relation_name}\" does not have a column with name \"{column}\""
                )));
            };
            let column = field.name().clone();
            comments.edit(&table, |kept| {
                kept.columns.retain(|(name, _)| *name != column);
                if let Some(text) = comment {
                    kept.columns.push((column, text));
                }
            });
        }
    }
    Ok(())
}
