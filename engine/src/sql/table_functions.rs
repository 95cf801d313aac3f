//! DuckDB's file table functions, read from the statement's syntax tree: `read_parquet`,
//! `read_csv`, `read_json` (and their `_auto` spellings), `read_text`, `read_blob`, `glob`,
//! `parquet_metadata`, `parquet_schema`, `parquet_file_metadata`, `parquet_kv_metadata`, plus a
//! bare path in `FROM 'path'`; `eplb` ([`super::eplb_table`]), which plans expert placement
//! from a table of loads; and the catalog functions of [`super::catalog_functions`]
//! (`duckdb_tables()`, `duckdb_settings()`, ..., and `pragma_table_info('t')`).
//!
//! Arguments must be constants (as in DuckDB); named arguments use `=>` or `:=`.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::TableProvider;
use datafusion::execution::SessionState;
use sqlparser::ast::FunctionArg;

use super::args::{Const, as_paths, evaluate_args, reject_named};
use super::catalog_functions::CatalogFunction;
use super::eplb_table::EplbSpec;
use super::file_contents::{self, Content};
use super::files::{FileFormatKind, ScanOptions, ScanSpec};
use super::metadata;
use crate::error::{Result, TarnError};

/// The table functions this module reads, for completion and documentation.
pub const TABLE_FUNCTIONS: &[&str] = &[
    "read_parquet",
    "read_csv",
    "read_json",
    "read_text",
    "read_blob",
    "glob",
    "parquet_metadata",
    "parquet_schema",
    "parquet_file_metadata",
    "parquet_kv_metadata",
    "eplb",
    "duckdb_databases",
    "duckdb_schemas",
    "duckdb_tables",
    "duckdb_views",
    "duckdb_columns",
    "duckdb_settings",
    "duckdb_functions",
    "pragma_table_info",
];

/// A call of one of the file table functions, with its arguments evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum TableFunction {
    Scan(ScanSpec),
    Glob(String),
    /// `read_text` and `read_blob`: each file whole.
    FileContents(Vec<String>, Content),
    ParquetMetadata(Vec<String>),
    ParquetSchema(Vec<String>),
    ParquetFileMetadata(Vec<String>),
    ParquetKvMetadata(Vec<String>),
    Eplb(EplbSpec),
    /// DuckDB's views of the session itself: its tables, columns, settings.
    Catalog(CatalogFunction),
    /// `pragma_table_info('t')`: the columns of a table or view.
    TableInfo(String),
}

impl TableFunction {
    /// `FROM 'path'`: the format comes from the file names.
    pub fn from_path(path: &str) -> Self {
        TableFunction::Scan(ScanSpec {
            paths: vec![path.to_string()],
            format: None,
            options: ScanOptions::default(),
        })
    }

    /// Reads a call such as `read_parquet('x/*.parquet', hive_partitioning => true)`; `None` when
    /// `name` is not one of these functions.
    pub fn from_call(name: &str, args: &[FunctionArg]) -> Result<Option<Self>> {
        let name = name.to_ascii_lowercase();
        if let Some(function) = CatalogFunction::named(&name) {
            if !args.is_empty() {
                return Err(TarnError::Invalid(format!("{name}() takes no arguments")));
            }
            return Ok(Some(TableFunction::Catalog(function)));
        }
        if name == "pragma_table_info" {
            let (positional, named) = evaluate_args(&name, args)?;
            reject_named(&name, &named, &[])?;
            let [Const::Str(table)] = positional.as_slice() else {
                return Err(TarnError::Invalid(
                    "pragma_table_info() takes the name of a table or view".into(),
                ));
            };
            return Ok(Some(TableFunction::TableInfo(table.clone())));
        }
        let format = match name.as_str() {
            "read_parquet" | "parquet_scan" => Some(FileFormatKind::Parquet),
            "read_csv" | "read_csv_auto" => Some(FileFormatKind::Csv),
            "read_json" | "read_json_auto" | "read_ndjson" | "read_ndjson_auto" => {
                Some(FileFormatKind::Json)
            }
            "glob"
            | "read_text"
            | "read_blob"
            | "parquet_metadata"
            | "parquet_schema"
            | "parquet_file_metadata"
            | "parquet_kv_metadata"
            | "eplb" => None,
            _ => return Ok(None),
        };
        let (positional, named) = evaluate_args(&name, args)?;
        if name == "eplb" {
            return Ok(Some(TableFunction::Eplb(EplbSpec::from_args(
                &positional,
                &named,
            )?)));
        }
        let Some(first) = positional.first() else {
            return Err(TarnError::Invalid(format!(
                "{name}() needs a path argument"
            )));
        };
        if positional.len() > 1 {
            return Err(TarnError::Invalid(format!(
                "{name}() takes one positional argument (a path or a list of paths), got {}",
                positional.len()
            )));
        }
        let paths = as_paths(&name, first)?;
        let function = match name.as_str() {
            "glob" => {
                reject_named(&name, &named, &[])?;
                let [pattern] = paths.as_slice() else {
                    return Err(TarnError::Invalid("glob() takes one pattern".into()));
                };
                TableFunction::Glob(pattern.clone())
            }
            "read_text" | "read_blob" => {
                reject_named(&name, &named, &[])?;
                let content = match name.as_str() {
                    "read_text" => Content::Text,
                    _ => Content::Blob,
                };
                TableFunction::FileContents(paths, content)
            }
            "parquet_metadata" => {
                reject_named(&name, &named, &[])?;
                TableFunction::ParquetMetadata(paths)
            }
            "parquet_schema" => {
                reject_named(&name, &named, &[])?;
                TableFunction::ParquetSchema(paths)
            }
            "parquet_file_metadata" => {
                reject_named(&name, &named, &[])?;
                TableFunction::ParquetFileMetadata(paths)
            }
            "parquet_kv_metadata" => {
                reject_named(&name, &named, &[])?;
                TableFunction::ParquetKvMetadata(paths)
            }
            _ => {
                let format = format.expect("scan functions have a format");
                TableFunction::Scan(ScanSpec {
                    paths,
                    format: Some(format),
                    options: scan_options(&name, format, &named)?,
                })
            }
        };
        Ok(Some(function))
    }

    /// Builds the table the call stands for.
    pub async fn resolve(&self, state: &SessionState) -> Result<Arc<dyn TableProvider>> {
        match self {
            TableFunction::Scan(spec) => spec.resolve(state).await,
            TableFunction::Glob(pattern) => metadata::glob_table(state, pattern).await,
            TableFunction::FileContents(paths, content) => {
                file_contents::file_contents_table(state, paths, *content).await
            }
            TableFunction::ParquetMetadata(paths) => {
                metadata::parquet_metadata_table(state, paths).await
            }
            TableFunction::ParquetSchema(paths) => {
                metadata::parquet_schema_table(state, paths).await
            }
            TableFunction::ParquetFileMetadata(paths) => {
                metadata::parquet_file_metadata_table(state, paths).await
            }
            TableFunction::ParquetKvMetadata(paths) => {
                metadata::parquet_kv_metadata_table(state, paths).await
            }
            TableFunction::Eplb(spec) => spec.resolve(state).await,
            TableFunction::Catalog(function) => function.table(state).await,
            TableFunction::TableInfo(table) => {
                super::catalog_functions::table_info(state, table).await
            }
        }
    }
}

fn scan_options(
    name: &str,
    format: FileFormatKind,
    named: &[(String, Const)],
) -> Result<ScanOptions> {
    let allowed: &[&str] = match format {
        FileFormatKind::Parquet => &[
            "hive_partitioning",
            "hive_types",
            "hive_types_autocast",
            "union_by_name",
            "filename",
            "file_row_number",
            "binary_as_string",
        ],
        FileFormatKind::Csv => &[
            "hive_partitioning",
            "hive_types",
            "hive_types_autocast",
            "union_by_name",
            "filename",
            "header",
            "delim",
            "sep",
            "columns",
            "auto_detect",
            "nullstr",
            "null",
            "quote",
            "escape",
            "comment",
            "all_varchar",
            "types",
            "dtypes",
            "column_types",
            "names",
            "column_names",
            "ignore_errors",
            "dateformat",
            "date_format",
            "timestampformat",
            "timestamp_format",
            "sample_size",
        ],
        FileFormatKind::Json => &[
            "hive_partitioning",
            "hive_types",
            "hive_types_autocast",
            "union_by_name",
            "filename",
            "columns",
            "format",
            "auto_detect",
            "sample_size",
        ],
    };
    reject_named(name, named, allowed)?;
    let mut options = ScanOptions::default();
    for (key, value) in named {
        let wrong = |expected: &str| {
            TarnError::Invalid(format!("{name}(): {key} must be {expected}, got {value:?}"))
        };
        let flag = || match value {
            Const::Bool(b) => Ok(*b),
            _ => Err(wrong("true or false")),
        };
        // A struct of type names by column, such as {'a': 'INTEGER'}.
        let named_types = || -> Result<Vec<(String, DataType)>> {
            let Const::Struct(fields) = value else {
                return Err(wrong("a struct such as {'a': 'INTEGER'}"));
            };
            fields
                .iter()
                .map(|(column, ty)| match ty {
                    Const::Str(ty) => Ok((column.clone(), parse_sql_type(ty)?)),
                    _ => Err(wrong("a struct of type names")),
                })
                .collect()
        };
        match key.as_str() {
            "hive_partitioning" => options.hive_partitioning = Some(flag()?),
            "union_by_name" => options.union_by_name = flag()?,
            "filename" => options.filename = flag()?,
            "file_row_number" => options.file_row_number = flag()?,
            "header" => options.header = Some(flag()?),
            "delim" | "sep" => {
                options.delim =
                    Some(one_character(value).ok_or_else(|| wrong("a one-character string"))?)
            }
            "quote" => {
                options.quote =
                    Some(one_character(value).ok_or_else(|| wrong("a one-character string"))?)
            }
            "escape" => {
                options.escape =
                    Some(one_character(value).ok_or_else(|| wrong("a one-character string"))?)
            }
            "comment" => {
                options.comment =
                    Some(one_character(value).ok_or_else(|| wrong("a one-character string"))?)
            }
            "nullstr" | "null" => match value {
                Const::Str(text) => options.null_string = Some(text.clone()),
                _ => return Err(wrong("a string")),
            },
            "dateformat" | "date_format" => match value {
                Const::Str(format) => options.formats.date = Some(format.clone()),
                _ => return Err(wrong("a format string such as '%d/%m/%Y'")),
            },
            "timestampformat" | "timestamp_format" => match value {
                Const::Str(format) => options.formats.timestamp = Some(format.clone()),
                _ => return Err(wrong("a format string such as '%d/%m/%Y %H:%M'")),
            },
            "all_varchar" => options.all_varchar = flag()?,
            "sample_size" => match value {
                Const::Int(-1) => options.sample_size = Some(usize::MAX),
                Const::Int(rows) if *rows > 0 => options.sample_size = Some(*rows as usize),
                _ => return Err(wrong("a number of rows, or -1 for all of them")),
            },
            "ignore_errors" => options.ignore_errors = flag()?,
            "types" | "dtypes" | "column_types" => options.types = named_types()?,
            "hive_types" => options.hive_types = named_types()?,
            "hive_types_autocast" => options.hive_values_as_text = !flag()?,
            "names" | "column_names" => match value {
                Const::List(names) => {
                    options.names = names
                        .iter()
                        .map(|name| match name {
                            Const::Str(name) => Ok(name.clone()),
                            _ => Err(wrong("a list of names")),
                        })
                        .collect::<Result<Vec<_>>>()?;
                }
                _ => return Err(wrong("a list of names")),
            },
            "columns" => options.columns = Some(named_types()?),
            "format" => match value {
                Const::Str(s) if s.eq_ignore_ascii_case("newline_delimited") => {
                    options.json_array = Some(false)
                }
                Const::Str(s) if s.eq_ignore_ascii_case("array") => options.json_array = Some(true),
                Const::Str(s) if s.eq_ignore_ascii_case("auto") => {}
                _ => return Err(wrong("'auto', 'array' or 'newline_delimited'")),
            },
            // Accepted for compatibility: inference is always on and strings stay strings.
            "auto_detect" | "binary_as_string" => {
                flag()?;
            }
            _ => unreachable!("reject_named filtered unknown options"),
        }
    }
    Ok(options)
}

/// The byte of a one-character string (`'\t'` written out is a tab, as in DuckDB).
fn one_character(value: &Const) -> Option<u8> {
    match value {
        Const::Str(s) if s.len() == 1 => Some(s.as_bytes()[0]),
        Const::Str(s) if s == "\\t" => Some(b'\t'),
        _ => None,
    }
}

/// A SQL type name as an Arrow type, with DuckDB's spellings.
pub fn parse_sql_type(name: &str) -> Result<DataType> {
    let upper = name.trim().to_ascii_uppercase();
    let base = upper.split('(').next().unwrap_or("").trim();
    let ty = match base {
        "BOOLEAN" | "BOOL" | "LOGICAL" => DataType::Boolean,
        "TINYINT" | "INT1" => DataType::Int8,
        "SMALLINT" | "INT2" | "SHORT" => DataType::Int16,
        "INTEGER" | "INT" | "INT4" | "SIGNED" => DataType::Int32,
        "BIGINT" | "INT8" | "LONG" => DataType::Int64,
        "UTINYINT" => DataType::UInt8,
        "USMALLINT" => DataType::UInt16,
        "UINTEGER" => DataType::UInt32,
        "UBIGINT" => DataType::UInt64,
        "HUGEINT" | "INT128" | "UHUGEINT" | "UINT128" => DataType::Decimal128(38, 0),
        "REAL" | "FLOAT" | "FLOAT4" => DataType::Float32,
        "DOUBLE" | "FLOAT8" => DataType::Float64,
        "VARCHAR" | "TEXT" | "STRING" | "CHAR" | "BPCHAR" => DataType::Utf8,
        "BLOB" | "BYTEA" | "BINARY" | "VARBINARY" => DataType::Binary,
        "DATE" => DataType::Date32,
        "TIMESTAMP" | "DATETIME" => {
            DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None)
        }
        "DECIMAL" | "NUMERIC" => {
            let inner = upper
                .split_once('(')
                .and_then(|(_, rest)| rest.strip_suffix(')'))
                .unwrap_or("18,3");
            let mut parts = inner.split(',').map(|p| p.trim().parse::<i16>());
            match (parts.next(), parts.next()) {
                (Some(Ok(p)), Some(Ok(s))) if (1..=38).contains(&p) && s <= p => {
                    DataType::Decimal128(p as u8, s as i8)
                }
                (Some(Ok(p)), None) if (1..=38).contains(&p) => DataType::Decimal128(p as u8, 0),
                _ => return Err(TarnError::Invalid(format!("bad DECIMAL type '{name}'"))),
            }
        }
        // Any other type DuckDB's SQL writes (`STRUCT(sourceUrl VARCHAR)`, `INT[]`,
        // `MAP(VARCHAR, INT)`, `TIMESTAMPTZ`) as a statement's CAST reads it.
        _ => super::types::type_of_text(name)
            .map_err(|_| TarnError::Invalid(format!("unknown type '{name}'")))?,
    };
    Ok(ty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::ast::{SetExpr, Statement, TableFactor};
    use sqlparser::dialect::DuckDbDialect;
    use sqlparser::parser::Parser;

    fn call(sql: &str) -> Result<Option<TableFunction>> {
        let statement = Parser::parse_sql(&DuckDbDialect {}, sql).unwrap().remove(0);
        let Statement::Query(query) = statement else {
            panic!()
        };
        let SetExpr::Select(select) = *query.body else {
            panic!()
        };
        let TableFactor::Table { name, args, .. } = &select.from[0].relation else {
            panic!()
        };
        TableFunction::from_call(&name.to_string(), &args.as_ref().unwrap().args)
    }

    #[test]
    fn reads_named_arguments_with_both_operators() {
        let f = call("SELECT * FROM read_parquet(['a.parquet', 'b/'], hive_partitioning => false, filename := true)")
            .unwrap()
            .unwrap();
        let TableFunction::Scan(spec) = f else {
            panic!()
        };
        assert_eq!(spec.paths, vec!["a.parquet", "b/"]);
        assert_eq!(spec.options.hive_partitioning, Some(false));
        assert!(spec.options.filename);
    }

    #[test]
    fn csv_columns_become_arrow_types() {
        let f = call("FROM read_csv('x.csv', header => false, delim => '|', columns => {'id': 'BIGINT', 'price': 'DECIMAL(10,2)'})")
            .unwrap()
            .unwrap();
        let TableFunction::Scan(spec) = f else {
            panic!()
        };
        assert_eq!(spec.options.delim, Some(b'|'));
        assert_eq!(
            spec.options.columns.unwrap(),
            vec![
                ("id".into(), DataType::Int64),
                ("price".into(), DataType::Decimal128(10, 2))
            ]
        );
    }

    #[test]
    fn bad_arguments_name_the_parameter() {
        let err = call("FROM read_parquet('x', hive => true)")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no parameter 'hive'"), "{err}");
        let err = call("FROM read_csv('x', header => 'yes')")
            .unwrap_err()
            .to_string();
        assert!(err.contains("header must be true or false"), "{err}");
        assert!(call("FROM other_fn('x')").unwrap().is_none());
    }
}
