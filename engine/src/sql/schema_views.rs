//! DuckDB's type names and column numbers in `information_schema.columns`. DataFusion's view
//! spells a column's type as Arrow writes it (`Int32`, `Utf8View`, `Timestamp(ns)`,
//! `List(Int32)`), where DuckDB, and the tools that read the view to learn a table's schema,
//! give SQL's (`INTEGER`, `VARCHAR`, `TIMESTAMP_NS`, `INTEGER[]`), as `DESCRIBE` already does;
//! and it numbers a table's columns from 0, where SQL numbers them from 1.
//!
//! [`duckdb_columns_view`] reads the view through a subquery whose `data_type` is respelled by
//! [`SqlTypeName`], whose `ordinal_position` counts from 1, and which adds DuckDB's
//! `COLUMN_COMMENT` (COMMENT ON COLUMN). It reads `information_schema.tables` through a
//! subquery too, with DuckDB's thirteen columns (`TABLE_COMMENT` last), without the rows of the
//! catalog's own views (`information_schema.columns`, `df_settings`, ...) and of the schema
//! Tarn plans file references in: DuckDB's lists the database's tables and views alone.

use std::str::FromStr;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use sqlparser::ast::{Ident, TableAlias, TableFactor};

use super::rewrite::FILES_SCHEMA;
use super::text_functions::{arrays, call_value};
use super::types::sql_type_name;
use crate::error::{Result as TarnResult, TarnError};

/// The name of [`SqlTypeName`].
const SQL_TYPE_NAME: &str = "tarn_sql_type_name";

/// The columns of DuckDB's `information_schema.tables` after DataFusion's four: the SQL
/// standard's, which DuckDB leaves NULL but for `is_insertable_into` (a table's rows can be
/// inserted, a view's not) and `is_typed`, and DuckDB's own `TABLE_COMMENT` (COMMENT ON).
const TABLE_COLUMNS_AFTER: &str = "\
    CAST(NULL AS VARCHAR) AS self_referencing_column_name, \
    CAST(NULL AS VARCHAR) AS reference_generation, \
    CAST(NULL AS VARCHAR) AS user_defined_type_catalog, \
    CAST(NULL AS VARCHAR) AS user_defined_type_schema, \
    CAST(NULL AS VARCHAR) AS user_defined_type_name, \
    CASE WHEN tables.table_type = 'BASE TABLE' THEN 'YES' ELSE 'NO' END AS is_insertable_into, \
    'NO' AS is_typed, \
    CAST(NULL AS VARCHAR) AS commit_action, \
    commented.comment AS \"TABLE_COMMENT\"";

/// The comment on each table and view, by schema and name.
const RELATION_COMMENTS: &str = "\
    SELECT schema_name, table_name AS relation, comment FROM duckdb_tables() \
    UNION ALL SELECT schema_name, view_name, comment FROM duckdb_views()";

/// A reference to `information_schema.columns` (or `catalog.information_schema.columns`) as a
/// subquery of the view with DuckDB's type names, and one to `information_schema.tables` as a
/// subquery of the database's own tables with DuckDB's columns; other relations stay as they
/// are. Whether the relation was replaced.
pub(super) fn duckdb_columns_view(factor: &mut TableFactor) -> TarnResult<bool> {
    let TableFactor::Table {
        name,
        alias,
        args: None,
        ..
    } = factor
    else {
        return Ok(false);
    };
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|part| part.as_ident())
        .map(|ident| ident.value.to_lowercase())
        .collect();
    let (view, query) = match parts.as_slice() {
        [.., schema, view] if schema == "information_schema" && view == "columns" => (
            "columns",
            format!(
                "SELECT columns.* REPLACE ({SQL_TYPE_NAME}(columns.data_type) AS data_type, \
                 CAST(columns.ordinal_position + 1 AS INTEGER) AS ordinal_position), \
                 commented.comment AS \"COLUMN_COMMENT\" \
                 FROM {name} AS columns LEFT JOIN duckdb_columns() AS commented \
                 ON commented.schema_name = columns.table_schema \
                 AND commented.table_name = columns.table_name \
                 AND commented.column_name = columns.column_name"
            ),
        ),
        [.., schema, view] if schema == "information_schema" && view == "tables" => (
            "tables",
            format!(
                "SELECT tables.*, {TABLE_COLUMNS_AFTER} \
                 FROM {name} AS tables LEFT JOIN ({RELATION_COMMENTS}) AS commented \
                 ON commented.schema_name = tables.table_schema \
                 AND commented.relation = tables.table_name \
                 WHERE table_schema NOT IN ('information_schema', '{FILES_SCHEMA}')"
            ),
        ),
        _ => return Ok(false),
    };
    let subquery =
        super::dialect::parse_query(&query).map_err(|e| TarnError::Parse(e.to_string()))?;
    let alias = alias.take().unwrap_or_else(|| TableAlias {
        explicit: true,
        name: Ident::new(view),
        columns: vec![],
        at: None,
    });
    *factor = TableFactor::Derived {
        lateral: false,
        subquery,
        alias: Some(alias),
        sample: None,
    };
    Ok(true)
}

/// `tarn_sql_type_name(text)`: an Arrow type's text (`Decimal128(10, 2)`) as DuckDB names the
/// type (`DECIMAL(10,2)`); text that names no Arrow type stays as it is.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SqlTypeName {
    signature: Signature,
}

impl SqlTypeName {
    pub fn new() -> Self {
        SqlTypeName {
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
        }
    }
}

impl Default for SqlTypeName {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for SqlTypeName {
    fn name(&self) -> &str {
        SQL_TYPE_NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::Utf8] => Ok(DataType::Utf8),
            _ => plan_err!("{SQL_TYPE_NAME} takes the text of one Arrow type"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args.args, args.number_rows)?;
        let names: StringArray = arrays[0]
            .as_string::<i32>()
            .iter()
            .map(|text| text.map(duckdb_name))
            .collect();
        call_value(&args.args, Arc::new(names))
    }
}

/// DuckDB's name of the Arrow type `arrow_text` spells, or the text itself.
fn duckdb_name(arrow_text: &str) -> String {
    match DataType::from_str(arrow_text) {
        Ok(data_type) => sql_type_name(&data_type),
        Err(_) => arrow_text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrow_type_text_becomes_duckdbs_name() {
        let types = [
            DataType::Int32,
            DataType::Utf8View,
            DataType::Decimal128(10, 2),
            DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None),
            DataType::new_list(DataType::Int64, true),
        ];
        let names: Vec<String> = types.iter().map(|t| duckdb_name(&t.to_string())).collect();
        assert_eq!(
            names,
            [
                "INTEGER",
                "VARCHAR",
                "DECIMAL(10,2)",
                "TIMESTAMP",
                "BIGINT[]"
            ]
        );
        assert_eq!(duckdb_name("no such type"), "no such type");
    }
}
