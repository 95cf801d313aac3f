//! DuckDB's catalog table functions, with DuckDB's columns (less its object ids and tags):
//! `duckdb_databases()`, `duckdb_schemas()`, `duckdb_tables()`, `duckdb_views()`,
//! `duckdb_columns()`, `duckdb_settings()` and `duckdb_functions()` (in
//! [`super::duckdb_functions`]). Notebooks and tools ported from DuckDB list a session's tables
//! and their columns with them, and read a table's `sql` to see how it was made.
//!
//! A session's tables all live in memory and are its own, so none is `temporary`; the schemas
//! Tarn keeps for itself (`information_schema` and the one file references resolve through)
//! hold no table listed here.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Int32Array, Int64Array, ListBuilder, StringArray, StringBuilder,
};
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::{MemTable, TableProvider};
use datafusion::common::{Constraint, TableReference};
use datafusion::datasource::TableType;
use datafusion::execution::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::sql::unparser::dialect::{DefaultDialect, Dialect};
use datafusion::sql::unparser::expr_to_sql;

use super::check_constraints::TableChecks;
use super::duckdb_keywords::written_name;
use super::optimizer::memory_rows;
use super::types::sql_type_name;
use super::{
    DEFAULT_CATALOG, DEFAULT_SCHEMA, comments, is_internal_schema, memory_table, settings,
};
use crate::error::{Result, TarnError};

/// The functions, by name.
pub const CATALOG_FUNCTIONS: &[(&str, CatalogFunction)] = &[
    ("duckdb_databases", CatalogFunction::Databases),
    ("duckdb_schemas", CatalogFunction::Schemas),
    ("duckdb_tables", CatalogFunction::Tables),
    ("duckdb_views", CatalogFunction::Views),
    ("duckdb_columns", CatalogFunction::Columns),
    ("duckdb_settings", CatalogFunction::Settings),
    ("duckdb_functions", CatalogFunction::Functions),
];

/// One of DuckDB's catalog table functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogFunction {
    Databases,
    Schemas,
    Tables,
    Views,
    Columns,
    Settings,
    Functions,
}

impl CatalogFunction {
    /// The function called `name` (in any case), if there is one.
    pub fn named(name: &str) -> Option<Self> {
        CATALOG_FUNCTIONS
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|&(_, function)| function)
    }

    /// The function's answer for the session `state` belongs to, as it is now.
    pub async fn table(self, state: &SessionState) -> Result<Arc<dyn TableProvider>> {
        match self {
            CatalogFunction::Databases => databases(state),
            CatalogFunction::Schemas => schemas(state),
            CatalogFunction::Tables => tables(state).await,
            CatalogFunction::Views => views(state).await,
            CatalogFunction::Columns => columns(state).await,
            CatalogFunction::Settings => settings_table(state),
            CatalogFunction::Functions => super::duckdb_functions::functions_table(state),
        }
    }
}

/// A table or view of the session, where it is.
pub(super) struct Relation {
    pub database: String,
    pub schema: String,
    pub name: String,
    pub table: Arc<dyn TableProvider>,
}

impl Relation {
    /// The columns `duckdb_tables()` and `duckdb_views()` start with: where each relation is,
    /// its name, and its `comment` (COMMENT ON), `internal` and `temporary` (a session's tables
    /// are neither DuckDB's own nor temporary).
    fn leading_columns(
        relations: &[Relation],
        name_column: &'static str,
        state: &SessionState,
    ) -> Vec<(&'static str, ArrayRef)> {
        let text = |of: fn(&Relation) -> &str| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(relations.iter().map(of)))
        };
        let rows = relations.len();
        vec![
            ("database_name", text(|r| &r.database)),
            ("schema_name", text(|r| &r.schema)),
            (name_column, text(|r| &r.name)),
            ("comment", relation_comments(relations, state)),
            ("internal", Arc::new(BooleanArray::from(vec![false; rows]))),
            ("temporary", Arc::new(BooleanArray::from(vec![false; rows]))),
        ]
    }

    /// The name as a statement writes it: qualified outside the default schema, quoted where
    /// it must be.
    fn written_name(&self) -> String {
        let mut parts = Vec::new();
        if self.database != DEFAULT_CATALOG {
            parts.push(written_identifier(&self.database));
        }
        if self.database != DEFAULT_CATALOG || self.schema != DEFAULT_SCHEMA {
            parts.push(written_identifier(&self.schema));
        }
        parts.push(written_identifier(&self.name));
        parts.join(".")
    }
}

/// The comment on each of `relations`.
fn relation_comments(relations: &[Relation], state: &SessionState) -> ArrayRef {
    let comments = comments::kept_in(state);
    Arc::new(StringArray::from_iter(
        relations
            .iter()
            .map(|relation| comments.as_ref()?.on_relation(&relation.table)),
    ))
}

/// The session's schemas (less those Tarn keeps for itself) as (database, schema), in order
/// ignoring case.
fn session_schemas(state: &SessionState) -> Vec<(String, String)> {
    let catalogs = state.catalog_list();
    let mut names: Vec<(String, String)> = catalogs
        .catalog_names()
        .into_iter()
        .filter_map(|database| {
            let catalog = catalogs.catalog(&database)?;
            Some(
                catalog
                    .schema_names()
                    .into_iter()
                    .filter(|schema| !is_internal_schema(schema))
                    .map(move |schema| (database.clone(), schema))
                    .collect::<Vec<_>>(),
            )
        })
        .flatten()
        .collect();
    names.sort_by_key(|(database, schema)| (database.to_lowercase(), schema.to_lowercase()));
    names
}

/// The session's tables and views of `kinds`, ordered by database, schema and name, ignoring
/// case (as DuckDB lists them).
pub(super) async fn relations(state: &SessionState, kinds: &[TableType]) -> Result<Vec<Relation>> {
    let mut relations = Vec::new();
    for (database, schema) in session_schemas(state) {
        let Some(provider) = state
            .catalog_list()
            .catalog(&database)
            .and_then(|catalog| catalog.schema(&schema))
        else {
            continue;
        };
        let mut names = provider.table_names();
        names.sort_by_key(|name| name.to_lowercase());
        for name in names {
            let Some(table) = provider.table(&name).await? else {
                continue;
            };
            if kinds.contains(&table.table_type()) {
                relations.push(Relation {
                    database: database.clone(),
                    schema: schema.clone(),
                    name,
                    table,
                });
            }
        }
    }
    Ok(relations)
}

const TABLES: &[TableType] = &[TableType::Base, TableType::Temporary];
pub(super) const VIEWS: &[TableType] = &[TableType::View];

/// `duckdb_databases()`: the session's database, and any other catalog it has.
fn databases(state: &SessionState) -> Result<Arc<dyn TableProvider>> {
    let mut names = state.catalog_list().catalog_names();
    names.sort();
    let rows = names.len();
    memory_table(vec![
        ("database_name", Arc::new(StringArray::from(names))),
        ("path", Arc::new(StringArray::new_null(rows))),
        ("comment", Arc::new(StringArray::new_null(rows))),
        ("internal", Arc::new(BooleanArray::from(vec![false; rows]))),
        ("type", Arc::new(StringArray::from(vec!["memory"; rows]))),
        ("readonly", Arc::new(BooleanArray::from(vec![false; rows]))),
    ])
}

/// `duckdb_schemas()`: `main` is internal, as DuckDB's is; a schema `CREATE SCHEMA` or `ATTACH`
/// made is not.
fn schemas(state: &SessionState) -> Result<Arc<dyn TableProvider>> {
    let schemas = session_schemas(state);
    let rows = schemas.len();
    memory_table(vec![
        (
            "database_name",
            Arc::new(StringArray::from_iter_values(
                schemas.iter().map(|(d, _)| d),
            )),
        ),
        (
            "schema_name",
            Arc::new(StringArray::from_iter_values(
                schemas.iter().map(|(_, s)| s),
            )),
        ),
        ("comment", Arc::new(StringArray::new_null(rows))),
        (
            "internal",
            Arc::new(BooleanArray::from_iter(
                schemas.iter().map(|(_, s)| Some(s == DEFAULT_SCHEMA)),
            )),
        ),
        ("sql", Arc::new(StringArray::new_null(rows))),
    ])
}

/// What DESCRIBE shows of a table's columns besides their names and types, as DuckDB shows it:
/// for each column whether it may hold NULL, its key (`PRI` in the primary key, `UNI` in a
/// unique one) and its default as SQL.
pub(super) struct ColumnDeclarations {
    pub nullable: Vec<bool>,
    pub keys: Vec<Option<&'static str>>,
    pub defaults: Vec<Option<String>>,
}

pub(super) fn column_declarations(
    table: &Arc<dyn TableProvider>,
    state: &SessionState,
) -> ColumnDeclarations {
    let declared = Declared::of(table, state);
    let columns = 0..table.schema().fields().len();
    let in_key = |key: &Vec<usize>, c: usize| key.contains(&c);
    ColumnDeclarations {
        nullable: columns
            .clone()
            .map(|c| declared.is_nullable(table, c))
            .collect(),
        keys: columns
            .map(|c| {
                if declared
                    .primary_key
                    .as_ref()
                    .is_some_and(|key| in_key(key, c))
                {
                    Some("PRI")
                } else if declared.unique.iter().any(|key| in_key(key, c)) {
                    Some("UNI")
                } else {
                    None
                }
            })
            .collect(),
        defaults: declared.defaults,
    }
}

/// What a table declares: its keys, its CHECK conditions and its columns' defaults.
struct Declared {
    primary_key: Option<Vec<usize>>,
    unique: Vec<Vec<usize>>,
    checks: Vec<String>,
    defaults: Vec<Option<String>>,
}

impl Declared {
    /// What `table` declares; nothing for a table over files.
    fn of(table: &Arc<dyn TableProvider>, state: &SessionState) -> Declared {
        let schema = table.schema();
        let mut declared = Declared {
            primary_key: None,
            unique: Vec::new(),
            checks: Vec::new(),
            defaults: schema
                .fields()
                .iter()
                .map(|field| {
                    let default = match table.get_column_default(field.name())? {
                        // Cast to the column's type as it was stored: the column casts it.
                        Expr::Cast(cast) if cast.field.data_type() == field.data_type() => {
                            &cast.expr
                        }
                        default => default,
                    };
                    Some(expr_to_sql(default).ok()?.to_string())
                })
                .collect(),
        };
        for constraint in table.constraints().into_iter().flat_map(|c| c.iter()) {
            match constraint {
                Constraint::PrimaryKey(columns) => declared.primary_key = Some(columns.clone()),
                Constraint::Unique(columns) => declared.unique.push(columns.clone()),
            }
        }
        if let Some(kept) = state.config().get_extension::<TableChecks>() {
            declared.checks = kept.of(table).iter().map(|check| check.written()).collect();
        }
        declared
    }

    /// Whether column `c` may hold NULL: not where it is declared NOT NULL or is part of the
    /// primary key. A view's columns promise nothing, as in DuckDB.
    fn is_nullable(&self, table: &Arc<dyn TableProvider>, c: usize) -> bool {
        table.table_type() == TableType::View
            || table.schema().field(c).is_nullable()
                && !self
                    .primary_key
                    .as_ref()
                    .is_some_and(|key| key.contains(&c))
    }

    /// The CREATE TABLE statement that makes the table as it is now, as DuckDB writes it: a
    /// one-column key beside its column, a longer one after the columns, then the checks.
    fn create_table(&self, relation: &Relation) -> String {
        let schema = relation.table.schema();
        let single = |key: &Vec<usize>, c: usize| key.as_slice() == [c];
        let mut parts: Vec<String> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(c, field)| {
                let mut column = format!(
                    "{} {}",
                    written_name(field.name()),
                    sql_type_name(field.data_type())
                );
                if let Some(default) = &self.defaults[c] {
                    column.push_str(&format!(" DEFAULT({default})"));
                }
                let primary = self.primary_key.as_ref().is_some_and(|key| single(key, c));
                if primary {
                    column.push_str(" PRIMARY KEY");
                } else if !field.is_nullable() {
                    column.push_str(" NOT NULL");
                }
                if self.unique.iter().any(|key| single(key, c)) {
                    column.push_str(" UNIQUE");
                }
                column
            })
            .collect();
        let names = |key: &[usize]| -> String {
            key.iter()
                .map(|&c| written_name(schema.field(c).name()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(key) = self.primary_key.as_ref().filter(|key| key.len() > 1) {
            parts.push(format!("PRIMARY KEY({})", names(key)));
        }
        for key in self.unique.iter().filter(|key| key.len() > 1) {
            parts.push(format!("UNIQUE({})", names(key)));
        }
        parts.extend(self.checks.iter().cloned());
        format!(
            "CREATE TABLE {}({});",
            relation.written_name(),
            parts.join(", ")
        )
    }
}

/// What `EXPORT DATABASE` writes of a session's default database: its own schemas (not those
/// `ATTACH` made over files), and the tables (in memory) and views in them, each with the
/// statement that makes it (a table's as the table is now, a view's as written).
pub(super) struct SessionDefinitions {
    /// Schemas other than the default one, by name.
    pub schemas: Vec<String>,
    pub tables: Vec<Definition>,
    pub views: Vec<Definition>,
}

/// A table or view and the statement that makes it.
pub(super) struct Definition {
    pub schema: String,
    pub name: String,
    /// The name as a statement writes it (qualified, quoted where it must be).
    pub written_name: String,
    pub statement: String,
}

pub(super) async fn session_definitions(state: &SessionState) -> Result<SessionDefinitions> {
    let all = relations(
        state,
        &[TableType::Base, TableType::Temporary, TableType::View],
    )
    .await?;
    let over_files = |r: &Relation| {
        r.table.table_type() != TableType::View && r.table.downcast_ref::<MemTable>().is_none()
    };
    let attached: Vec<&str> = all
        .iter()
        .filter(|r| over_files(r))
        .map(|r| r.schema.as_str())
        .collect();
    let own =
        |r: &&Relation| r.database == DEFAULT_CATALOG && !attached.contains(&r.schema.as_str());
    let definition = |r: &Relation, statement: String| Definition {
        schema: r.schema.clone(),
        name: r.name.clone(),
        written_name: r.written_name(),
        statement,
    };
    let tables = all
        .iter()
        .filter(own)
        .filter(|r| r.table.table_type() != TableType::View)
        .map(|r| definition(r, Declared::of(&r.table, state).create_table(r)))
        .collect();
    let views = all
        .iter()
        .filter(own)
        .filter_map(|r| Some(definition(r, view_statement(r)?)))
        .collect();
    let schemas = session_schemas(state)
        .into_iter()
        .filter(|(database, schema)| {
            database == DEFAULT_CATALOG
                && schema != DEFAULT_SCHEMA
                && !attached.contains(&schema.as_str())
        })
        .map(|(_, schema)| schema)
        .collect();
    Ok(SessionDefinitions {
        schemas,
        tables,
        views,
    })
}

/// The statement that made a view, ended by `;` as DuckDB writes it; `None` for any other
/// relation.
fn view_statement(relation: &Relation) -> Option<String> {
    let definition = match relation.table.table_type() {
        TableType::View => relation.table.get_table_definition()?,
        _ => return None,
    };
    Some(format!("{};", definition.trim_end().trim_end_matches(';')))
}

/// `duckdb_tables()`: each table, with its size in rows and the statement that makes it.
async fn tables(state: &SessionState) -> Result<Arc<dyn TableProvider>> {
    let relations = relations(state, TABLES).await?;
    let rows = relations.len();
    let mut has_primary_key = Vec::with_capacity(rows);
    let mut estimated_size = Vec::with_capacity(rows);
    let mut column_count = Vec::with_capacity(rows);
    let mut index_count = Vec::with_capacity(rows);
    let mut check_count = Vec::with_capacity(rows);
    let mut sql = Vec::with_capacity(rows);
    for relation in &relations {
        let memory = relation.table.downcast_ref::<MemTable>();
        let declared = Declared::of(&relation.table, state);
        has_primary_key.push(declared.primary_key.is_some());
        estimated_size.push(match memory {
            Some(memory) => Some(memory_rows(memory).await as i64),
            None => None,
        });
        column_count.push(relation.table.schema().fields().len() as i64);
        index_count
            .push((declared.unique.len() + usize::from(declared.primary_key.is_some())) as i64);
        check_count.push(declared.checks.len() as i64);
        // A table over files is made by ATTACH, not by a statement.
        sql.push(memory.map(|_| declared.create_table(relation)));
    }
    let mut columns = Relation::leading_columns(&relations, "table_name", state);
    columns.extend([
        (
            "has_primary_key",
            Arc::new(BooleanArray::from(has_primary_key)) as ArrayRef,
        ),
        ("estimated_size", Arc::new(Int64Array::from(estimated_size))),
        ("column_count", Arc::new(Int64Array::from(column_count))),
        ("index_count", Arc::new(Int64Array::from(index_count))),
        (
            "check_constraint_count",
            Arc::new(Int64Array::from(check_count)),
        ),
        ("sql", Arc::new(StringArray::from(sql))),
    ]);
    memory_table(columns)
}

/// `duckdb_views()`: each view with the statement that made it.
async fn views(state: &SessionState) -> Result<Arc<dyn TableProvider>> {
    let relations = relations(state, VIEWS).await?;
    // DuckDB lists a view's statement in its own spelling: keywords in capitals, one space.
    let sql = relations
        .iter()
        .map(|relation| view_statement(relation).map(|written| super::views::respelled(&written)));
    let column_count = relations
        .iter()
        .map(|relation| relation.table.schema().fields().len() as i64);
    let mut columns = Relation::leading_columns(&relations, "view_name", state);
    columns.extend([
        (
            "column_count",
            Arc::new(Int64Array::from_iter_values(column_count)) as ArrayRef,
        ),
        ("sql", Arc::new(StringArray::from_iter(sql))),
    ]);
    memory_table(columns)
}

/// `duckdb_columns()`: each column of each table and view, numbered from 1.
async fn columns(state: &SessionState) -> Result<Arc<dyn TableProvider>> {
    let relations = relations(
        state,
        &[TableType::Base, TableType::Temporary, TableType::View],
    )
    .await?;
    let mut places = Vec::new();
    let mut name = Vec::new();
    let mut index = Vec::new();
    let mut default = Vec::new();
    let mut nullable = Vec::new();
    let mut data_type = Vec::new();
    let mut precision = Vec::new();
    let mut comment = Vec::new();
    let comments = comments::kept_in(state);
    for relation in relations {
        let declared = Declared::of(&relation.table, state);
        let schema = relation.table.schema();
        for (c, field) in schema.fields().iter().enumerate() {
            name.push(field.name().clone());
            index.push(c as i32 + 1);
            default.push(declared.defaults[c].clone());
            nullable.push(declared.is_nullable(&relation.table, c));
            data_type.push(sql_type_name(field.data_type()));
            precision.push(numeric_precision(field.data_type()));
            comment.push(
                comments
                    .as_ref()
                    .and_then(|kept| kept.on_column(&relation.table, field.name())),
            );
        }
        let place = (relation.database, relation.schema, relation.name);
        places.extend(std::iter::repeat_n(place, schema.fields().len()));
    }
    let rows = name.len();
    let place = |of: fn(&(String, String, String)) -> &String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(places.iter().map(of)))
    };
    let number = |of: fn(&(i32, i32, i32)) -> i32| -> ArrayRef {
        Arc::new(Int32Array::from_iter(
            precision.iter().map(|p| p.map(|p| of(&p))),
        ))
    };
    memory_table(vec![
        ("database_name", place(|p| &p.0)),
        ("schema_name", place(|p| &p.1)),
        ("table_name", place(|p| &p.2)),
        ("column_name", Arc::new(StringArray::from(name))),
        ("column_index", Arc::new(Int32Array::from(index))),
        ("comment", Arc::new(StringArray::from(comment))),
        ("internal", Arc::new(BooleanArray::from(vec![false; rows]))),
        ("column_default", Arc::new(StringArray::from(default))),
        ("is_nullable", Arc::new(BooleanArray::from(nullable))),
        ("data_type", Arc::new(StringArray::from(data_type))),
        (
            "character_maximum_length",
            Arc::new(Int32Array::new_null(rows)),
        ),
        ("numeric_precision", number(|p| p.0)),
        ("numeric_precision_radix", number(|p| p.1)),
        ("numeric_scale", number(|p| p.2)),
    ])
}

/// `pragma_table_info('t')`: each column of the table or view `t` with its number from 0, its
/// type, whether it is NOT NULL, its default as SQL and whether it is in the primary key, as
/// DuckDB's pragma lists them.
pub(super) async fn table_info(state: &SessionState, name: &str) -> Result<Arc<dyn TableProvider>> {
    let missing = || TarnError::Invalid(format!("Table with name {name} does not exist"));
    let reference = TableReference::from(name);
    let table = match state.schema_for_ref(reference.clone()) {
        Ok(schema) => schema.table(reference.table()).await?,
        Err(_) => None,
    };
    let table = table.ok_or_else(missing)?;
    let declared = column_declarations(&table, state);
    let schema = table.schema();
    let fields = schema.fields();
    memory_table(vec![
        (
            "cid",
            Arc::new(Int32Array::from_iter_values(0..fields.len() as i32)),
        ),
        (
            "name",
            Arc::new(StringArray::from_iter_values(
                fields.iter().map(|f| f.name()),
            )),
        ),
        (
            "type",
            Arc::new(StringArray::from_iter_values(
                fields.iter().map(|f| sql_type_name(f.data_type())),
            )),
        ),
        (
            "notnull",
            Arc::new(BooleanArray::from_iter(
                declared.nullable.iter().map(|nullable| Some(!nullable)),
            )),
        ),
        ("dflt_value", Arc::new(StringArray::from(declared.defaults))),
        (
            "pk",
            Arc::new(BooleanArray::from_iter(
                declared.keys.iter().map(|key| Some(*key == Some("PRI"))),
            )),
        ),
    ])
}

/// A numeric type's precision, its radix and its scale, as DuckDB gives them: bits for the
/// signed integers and floats (a float's in its mantissa), digits for a decimal; `None` for any
/// other type (the unsigned integers too, as in DuckDB).
fn numeric_precision(data_type: &DataType) -> Option<(i32, i32, i32)> {
    Some(match data_type {
        DataType::Int8 => (8, 2, 0),
        DataType::Int16 => (16, 2, 0),
        DataType::Int32 => (32, 2, 0),
        DataType::Int64 => (64, 2, 0),
        DataType::Float32 => (24, 2, 0),
        DataType::Float64 => (53, 2, 0),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
            (i32::from(*p), 10, i32::from(*s))
        }
        _ => return None,
    })
}

/// `duckdb_settings()`: each setting with its value as text and the type
/// `current_setting` gives it.
fn settings_table(state: &SessionState) -> Result<Arc<dyn TableProvider>> {
    let settings = settings::of(state)?;
    let mut aliases = ListBuilder::new(StringBuilder::new());
    for setting in &settings {
        aliases.append_value(setting.aliases.iter().map(Some));
    }
    memory_table(vec![
        (
            "name",
            Arc::new(StringArray::from_iter_values(
                settings.iter().map(|s| &s.name),
            )),
        ),
        (
            "value",
            Arc::new(StringArray::from_iter(settings.iter().map(|s| s.text()))),
        ),
        (
            "description",
            Arc::new(StringArray::from_iter_values(
                settings.iter().map(|s| &s.description),
            )),
        ),
        (
            "input_type",
            Arc::new(StringArray::from_iter_values(
                settings.iter().map(|s| s.input_type()),
            )),
        ),
        (
            "scope",
            Arc::new(StringArray::from(vec!["LOCAL"; settings.len()])),
        ),
        ("aliases", Arc::new(aliases.finish())),
    ])
}

/// `name` as generated SQL writes it: bare where it reads back as itself, quoted otherwise
/// (keywords, capitals, other characters).
pub(super) fn written_identifier(name: &str) -> String {
    let dialect = DefaultDialect {};
    match dialect.identifier_quote_style(name) {
        Some(_) => super::quote_identifier(name),
        None => name.to_string(),
    }
}
