//! DuckDB's `ALTER TABLE` on the tables a session created (DataFusion has no ALTER TABLE):
//! `RENAME TO`, `RENAME [COLUMN] a TO b`, `DROP [COLUMN] [IF EXISTS] a`,
//! `ADD [COLUMN] [IF NOT EXISTS] b TYPE [DEFAULT v]`, `ALTER [COLUMN] a [SET DATA] TYPE T`,
//! `ALTER [COLUMN] a SET DEFAULT v | DROP DEFAULT` and `ALTER [COLUMN] a SET | DROP NOT NULL`.
//!
//! A table is renamed in the catalog; the other changes rebuild it from
//! `SELECT ... FROM t` (`* EXCLUDE (a)`, `*, CAST(v AS T) AS b`, ...), computed in full before
//! it replaces the table, so a failed change (a cast that fails, say) leaves the table as it
//! was. The rebuilt table keeps what the columns were declared with ([`Declared`]): NOT NULL,
//! DEFAULT, PRIMARY KEY, UNIQUE and CHECK, following a renamed column; as in DuckDB, a key's
//! column may not be dropped or retyped, nor a column a CHECK reads dropped or retyped.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::{Constraint, Constraints, DFSchema};
use datafusion::datasource::MemTable;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::{Expr as LogicalExpr, ExprSchemable};
use sqlparser::ast::{
    AlterColumnOperation, AlterTable, AlterTableOperation, ColumnOption, Ident, RenameTableNameKind,
};

use super::check_constraints::{self, Check};
use super::{SqlSession, comments, empty_stream, quote_identifier};
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
    let mut declared = Declared::of(table.as_ref());
    declared.checks = check_constraints::kept(session.context())
        .map(|kept| kept.of(&table))
        .unwrap_or_default();
    let has = |column: &Ident| named(&columns, column).is_some();
    // A renamed column keeps its comment under its new name.
    let mut renamed = None;
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
            let Some(old) = named(&columns, &old_column_name) else {
                return Err(missing(&old_column_name));
            };
            declared.rename(old, &new_column_name.value);
            renamed = Some((old.to_string(), new_column_name.value.clone()));
            format!(
                "* RENAME ({} AS {})",
                quote_identifier(old),
                quote_identifier(&new_column_name.value)
            )
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
            let present: Vec<&str> = present
                .iter()
                .map(|column| named(&columns, column).unwrap_or_default())
                .collect();
            for column in &present {
                declared.drop(column)?;
            }
            let list: Vec<String> = present.iter().map(|c| quote_identifier(c)).collect();
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
            super::generated_columns::refuse_generated_column(&column_def)?;
            let default = column_def
                .options
                .iter()
                .find_map(|o| match &o.option {
                    ColumnOption::Default(value) => Some(value.to_string()),
                    _ => None,
                })
                .unwrap_or_else(|| "NULL".to_string());
            declared.set_default = Some((column_def.name.value.clone(), default.clone()));
            format!(
                "*, CAST({default} AS {}) AS {}",
                column_def.data_type,
                quote_identifier(&column_def.name.value)
            )
        }
        AlterTableOperation::AlterColumn {
            column_name,
            op: AlterColumnOperation::SetDataType { data_type, .. },
        } => {
            let Some(column) = named(&columns, &column_name) else {
                return Err(missing(&column_name));
            };
            declared.retype(column)?;
            let column = quote_identifier(column);
            format!("* REPLACE (CAST({column} AS {data_type}) AS {column})")
        }
        AlterTableOperation::AlterColumn { column_name, op } => {
            let Some(column) = named(&columns, &column_name) else {
                return Err(missing(&column_name));
            };
            match op {
                AlterColumnOperation::SetDefault { value } => {
                    declared.set_default = Some((column.to_string(), value.to_string()));
                }
                AlterColumnOperation::DropDefault => {
                    declared.defaults.remove(column);
                }
                AlterColumnOperation::SetNotNull => {
                    refuse_nulls(session, &name, column).await?;
                    declared.not_null.insert(column.to_string());
                }
                AlterColumnOperation::DropNotNull => {
                    if declared.key_of(column) == Some(true) {
                        return Err(TarnError::Invalid(format!(
                            "column \"{column}\" is in a primary key"
                        )));
                    }
                    declared.not_null.remove(column);
                }
                other => return Err(unsupported(&other.to_string())),
            }
            "*".to_string()
        }
        other => return Err(unsupported(&other.to_string())),
    };
    let rebuilt = rebuild(session, &name, &select, declared).await?;
    let renamed = renamed
        .as_ref()
        .map(|(old, new)| (old.as_str(), new.as_str()));
    comments::carry(session.context(), &table, &rebuilt, renamed);
    Ok(empty_stream())
}

fn unsupported(operation: &str) -> TarnError {
    TarnError::Invalid(format!(
        "ALTER TABLE {operation} is not supported (RENAME, ADD, DROP, ALTER ... TYPE, SET | DROP \
         DEFAULT and SET | DROP NOT NULL are)"
    ))
}

/// Fails, as DuckDB does, where the column `SET NOT NULL` would forbid NULL in holds one.
async fn refuse_nulls(session: &SqlSession, table: &str, column: &str) -> Result<()> {
    let nulls = session
        .dataframe(&format!(
            "SELECT 1 FROM {table} WHERE {} IS NULL LIMIT 1",
            quote_identifier(column)
        ))
        .await?
        .collect()
        .await?;
    match nulls.iter().map(RecordBatch::num_rows).sum::<usize>() {
        0 => Ok(()),
        _ => Err(TarnError::Constraint(format!(
            "NOT NULL constraint failed: {table}.{column}"
        ))),
    }
}

/// The table's column named `column`, whatever its case.
fn named<'a>(columns: &'a [String], column: &Ident) -> Option<&'a str> {
    super::name_case::find_name(columns.iter().map(String::as_str), &column.value)
}

/// What a table's columns were declared with, by column name, carried to the rebuilt table.
struct Declared {
    /// PRIMARY KEY (true) and UNIQUE (false) keys, by their columns' names.
    keys: Vec<(Vec<String>, bool)>,
    defaults: HashMap<String, LogicalExpr>,
    not_null: HashSet<String>,
    /// A column's name and a default as SQL (`ADD COLUMN`'s, `SET DEFAULT`'s), which becomes
    /// the column's default.
    set_default: Option<(String, String)>,
    /// The table's CHECK conditions.
    checks: Vec<Check>,
}

impl Declared {
    fn of(table: &dyn TableProvider) -> Declared {
        let schema = table.schema();
        let name = |c: &usize| schema.field(*c).name().clone();
        let keys = table
            .constraints()
            .into_iter()
            .flat_map(|constraints| constraints.iter())
            .map(|constraint| match constraint {
                Constraint::PrimaryKey(columns) => (columns.iter().map(name).collect(), true),
                Constraint::Unique(columns) => (columns.iter().map(name).collect(), false),
            })
            .collect();
        let fields = schema.fields();
        Declared {
            keys,
            defaults: fields
                .iter()
                .filter_map(|f| {
                    Some((
                        f.name().clone(),
                        table.get_column_default(f.name())?.clone(),
                    ))
                })
                .collect(),
            not_null: fields
                .iter()
                .filter(|f| !f.is_nullable())
                .map(|f| f.name().clone())
                .collect(),
            set_default: None,
            checks: Vec::new(),
        }
    }

    fn key_of(&self, column: &str) -> Option<bool> {
        self.keys
            .iter()
            .find(|(columns, _)| columns.iter().any(|c| c == column))
            .map(|(_, primary)| *primary)
    }

    fn rename(&mut self, old: &str, new: &str) {
        for (columns, _) in &mut self.keys {
            for column in columns.iter_mut().filter(|c| *c == old) {
                *column = new.to_string();
            }
        }
        if let Some(default) = self.defaults.remove(old) {
            self.defaults.insert(new.to_string(), default);
        }
        if self.not_null.remove(old) {
            self.not_null.insert(new.to_string());
        }
        for check in &mut self.checks {
            check.rename_column(old, new);
        }
    }

    fn drop(&mut self, column: &str) -> Result<()> {
        if let Some(primary) = self.key_of(column) {
            let kind = if primary { "PRIMARY KEY" } else { "UNIQUE" };
            return Err(TarnError::Invalid(format!(
                "Cannot drop column \"{column}\" because there is a {kind} constraint that depends \
                 on it"
            )));
        }
        // A CHECK on the column alone goes with it, as in DuckDB; one that also reads other
        // columns keeps it.
        let reads = |check: &Check| {
            let columns = check.columns_read();
            let here = columns.iter().any(|c| c.eq_ignore_ascii_case(column));
            (here, columns.iter().all(|c| c.eq_ignore_ascii_case(column)))
        };
        if self
            .checks
            .iter()
            .any(|check| reads(check) == (true, false))
        {
            return Err(TarnError::Invalid(format!(
                "Cannot drop column \"{column}\" because there is a CHECK constraint that depends \
                 on it"
            )));
        }
        self.checks.retain(|check| !reads(check).0);
        self.defaults.remove(column);
        self.not_null.remove(column);
        Ok(())
    }

    fn retype(&self, column: &str) -> Result<()> {
        let read = |check: &Check| {
            check
                .columns_read()
                .iter()
                .any(|c| c.eq_ignore_ascii_case(column))
        };
        if self.checks.iter().any(read) {
            return Err(TarnError::Invalid(
                "Cannot change the type of a column that has a CHECK constraint specified"
                    .to_string(),
            ));
        }
        match self.key_of(column) {
            Some(_) => Err(TarnError::Invalid(
                "Cannot change the type of a column that has a UNIQUE or PRIMARY KEY constraint \
                 specified"
                    .to_string(),
            )),
            None => Ok(()),
        }
    }

    /// The rebuilt table, of `schema` and `partitions`, with the declarations applied.
    fn apply(
        self,
        session: &SqlSession,
        schema: SchemaRef,
        partitions: Vec<Vec<RecordBatch>>,
    ) -> Result<MemTable> {
        let position = |name: &str| schema.fields().iter().position(|f| f.name() == name);
        let constraints = self
            .keys
            .iter()
            .filter_map(|(columns, primary)| {
                let columns = columns
                    .iter()
                    .map(|c| position(c))
                    .collect::<Option<Vec<_>>>()?;
                Some(match primary {
                    true => Constraint::PrimaryKey(columns),
                    false => Constraint::Unique(columns),
                })
            })
            .collect();
        let mut defaults = self.defaults;
        if let Some((column, default)) = self.set_default
            && let Some(field) = schema.fields().iter().find(|f| f.name() == &column)
        {
            let empty = DFSchema::empty();
            let value = session
                .context()
                .state()
                .create_logical_expr(&default, &empty)?;
            defaults.insert(column, value.cast_to(field.data_type(), &empty)?);
        }
        let schema = Arc::new(Schema::new(
            schema
                .fields()
                .iter()
                .map(|f| {
                    f.as_ref()
                        .clone()
                        .with_nullable(!self.not_null.contains(f.name()))
                })
                .collect::<Vec<_>>(),
        ));
        let partitions = partitions
            .into_iter()
            .map(|batches| {
                batches
                    .into_iter()
                    .map(|batch| {
                        RecordBatch::try_new(Arc::clone(&schema), batch.columns().to_vec())
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MemTable::try_new(schema, partitions)?
            .with_constraints(Constraints::new_unverified(constraints))
            .with_column_defaults(defaults))
    }
}

/// Lets table `name`, just made by `CREATE TABLE ... AS SELECT`, take NULLs in every column:
/// such a table declares nothing, as in DuckDB, though DataFusion carries over that the query's
/// values could not be NULL (`SELECT 1 AS score`), so a later INSERT or UPDATE of a NULL was
/// refused as breaking a NOT NULL the table never declared.
pub(super) async fn take_nulls(session: &SqlSession, name: &str) -> Result<()> {
    let Some(table) = session_table(session, name).await? else {
        return Ok(());
    };
    let schema = table.schema();
    if schema.fields().iter().all(|f| f.is_nullable()) {
        return Ok(());
    }
    let memory = table
        .downcast_ref::<MemTable>()
        .expect("a session table is in memory");
    let mut partitions = Vec::with_capacity(memory.batches.len());
    for partition in &memory.batches {
        partitions.push(partition.read().await.clone());
    }
    let declared = Declared {
        keys: vec![],
        defaults: HashMap::new(),
        not_null: HashSet::new(),
        set_default: None,
        checks: Vec::new(),
    };
    let table = declared.apply(session, schema, partitions)?;
    let ctx = session.context();
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}

/// Replaces table `name` by the rows of `SELECT {select} FROM name`, computed in full before
/// the old table is let go, with what its columns were `declared` with; returns the new table.
async fn rebuild(
    session: &SqlSession,
    name: &str,
    select: &str,
    mut declared: Declared,
) -> Result<Arc<dyn TableProvider>> {
    let frame = session
        .dataframe(&format!("SELECT {select} FROM {name}"))
        .await?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let partitions = frame.collect_partitioned().await?;
    let checks = std::mem::take(&mut declared.checks);
    let table: Arc<dyn TableProvider> = Arc::new(declared.apply(session, schema, partitions)?);
    let ctx = session.context();
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::clone(&table))?;
    if let Some(kept) = check_constraints::kept(ctx).filter(|_| !checks.is_empty()) {
        kept.record(&table, checks);
    }
    Ok(table)
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
