//! DuckDB's `ALTER TABLE` on the tables a session created (DataFusion has no ALTER TABLE):
//! `RENAME TO`, `RENAME [COLUMN] a TO b`, `DROP [COLUMN] [IF EXISTS] a`,
//! `ADD [COLUMN] [IF NOT EXISTS] b TYPE [DEFAULT v]` and `ALTER [COLUMN] a [SET DATA] TYPE T`.
//!
//! A table is renamed in the catalog; the other changes rebuild it from
//! `SELECT ... FROM t` (`* EXCLUDE (a)`, `*, CAST(v AS T) AS b`, ...), computed in full before
//! it replaces the table, so a failed change (a cast that fails, say) leaves the table as it
//! was. The rebuilt table keeps each column's type but not the NOT NULL or DEFAULT of its
//! declaration.

use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::execution::SendableRecordBatchStream;
use sqlparser::ast::{
    AlterColumnOperation, AlterTable, AlterTableOperation, ColumnOption, Ident, RenameTableNameKind,
};

use super::{SqlSession, empty_stream};
use crate::error::{Result, TarnError};

/// Applies an `ALTER TABLE` statement's one operation.
pub(super) async fn alter_table(
    session: &SqlSession,
    alter: AlterTable,
) -> Result<SendableRecordBatchStream> {
    let name = alter.name.to_string();
    let [operation] = <[AlterTableOperation; 1]>::try_from(alter.operations).map_err(|_| {
        TarnError::Invalid("ALTER TABLE makes one change per statement, as in DuckDB".into())
    })?;
    let Some(table) = session_table(session, &name).await? else {
        return match alter.if_exists {
            true => Ok(empty_stream()),
            false => Err(TarnError::Invalid(format!(
                "Table with name {name} does not exist"
            ))),
        };
    };
    let columns: Vec<String> = table
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let has = |column: &Ident| {
        columns
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&column.value))
    };
    let missing = |column: &Ident| {
        TarnError::Invalid(format!(
            "Table \"{name}\" does not have a column with name \"{}\"",
            column.value
        ))
    };
    let select = match operation {
        AlterTableOperation::RenameTable { table_name } => {
            let (RenameTableNameKind::As(new) | RenameTableNameKind::To(new)) = table_name;
            let new = new.to_string();
            let ctx = session.context();
            if ctx.table_exist(new.as_str())? {
                return Err(TarnError::Invalid(format!(
                    "Table with name {new} already exists"
                )));
            }
            ctx.deregister_table(name.as_str())?;
            ctx.register_table(new.as_str(), table)?;
            return Ok(empty_stream());
        }
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => {
            if !has(&old_column_name) {
                return Err(missing(&old_column_name));
            }
            format!("* RENAME ({old_column_name} AS {new_column_name})")
        }
        AlterTableOperation::DropColumn {
            column_names,
            if_exists,
            ..
        } => {
            let present: Vec<&Ident> = column_names.iter().filter(|c| has(c)).collect();
            if let Some(absent) = column_names.iter().find(|c| !has(c))
                && !if_exists
            {
                return Err(missing(absent));
            }
            if present.is_empty() {
                return Ok(empty_stream());
            }
            if present.len() == columns.len() {
                return Err(TarnError::Invalid(format!(
                    "cannot drop every column of table \"{name}\""
                )));
            }
            let list: Vec<String> = present.iter().map(|c| c.to_string()).collect();
            format!("* EXCLUDE ({})", list.join(", "))
        }
        AlterTableOperation::AddColumn {
            if_not_exists,
            column_def,
            ..
        } => {
            if has(&column_def.name) {
                match if_not_exists {
                    true => return Ok(empty_stream()),
                    false => {
                        return Err(TarnError::Invalid(format!(
                            "Column with name {} already exists in table \"{name}\"",
                            column_def.name
                        )));
                    }
                }
            }
            super::collation::refuse_column_collation(&column_def)?;
            let default = column_def
                .options
                .iter()
                .find_map(|o| match &o.option {
                    ColumnOption::Default(value) => Some(value.to_string()),
                    _ => None,
                })
                .unwrap_or_else(|| "NULL".to_string());
            format!(
                "*, CAST({default} AS {}) AS {}",
                column_def.data_type, column_def.name
            )
        }
        AlterTableOperation::AlterColumn {
            column_name,
            op: AlterColumnOperation::SetDataType { data_type, .. },
        } => {
            if !has(&column_name) {
                return Err(missing(&column_name));
            }
            format!("* REPLACE (CAST({column_name} AS {data_type}) AS {column_name})")
        }
        other => {
            return Err(TarnError::Invalid(format!(
                "ALTER TABLE {other} is not supported (RENAME, ADD, DROP and ALTER ... TYPE \
                     are)"
            )));
        }
    };
    rebuild(session, &name, &select).await?;
    Ok(empty_stream())
}

/// Replaces table `name` by the rows of `SELECT {select} FROM name`, computed in full before
/// the old table is let go.
async fn rebuild(session: &SqlSession, name: &str, select: &str) -> Result<()> {
    let frame = session
        .dataframe(&format!("SELECT {select} FROM {name}"))
        .await?;
    let schema = std::sync::Arc::new(frame.schema().as_arrow().clone());
    let partitions = frame.collect_partitioned().await?;
    let table = MemTable::try_new(schema, partitions)?;
    let ctx = session.context();
    ctx.deregister_table(name)?;
    ctx.register_table(name, std::sync::Arc::new(table))?;
    Ok(())
}

/// The table `name` when it is one this session created (an in-memory table); `None` when no
/// table has that name; an error for a view or a table over files, which ALTER TABLE does not
/// change.
async fn session_table(
    session: &SqlSession,
    name: &str,
) -> Result<Option<std::sync::Arc<dyn TableProvider>>> {
    let ctx = session.context();
    if !ctx.table_exist(name)? {
        return Ok(None);
    }
    let table = ctx.table_provider(name).await?;
    if table.downcast_ref::<MemTable>().is_none() {
        return Err(TarnError::Invalid(format!(
            "ALTER TABLE changes the tables CREATE TABLE made; {name} is a view or stands for \
             files"
        )));
    }
    Ok(Some(table))
}
