//! DuckDB's type names and column numbers in `information_schema.columns`. DataFusion's view
//! spells a column's type as Arrow writes it (`Int32`, `Utf8View`, `Timestamp(ns)`,
//! `List(Int32)`), where DuckDB, and the tools that read the view to learn a table's schema,
//! give SQL's (`INTEGER`, `VARCHAR`, `TIMESTAMP_NS`, `INTEGER[]`), as `DESCRIBE` already does;
//! and it numbers a table's columns from 0, where SQL numbers them from 1.
//!
//! [`duckdb_columns_view`] reads the view through a subquery whose `data_type` is respelled by
//! [`SqlTypeName`] and whose `ordinal_position` counts from 1. It reads
//! `information_schema.tables` through a subquery too, without the rows of the catalog's own
//! views (`information_schema.columns`, `df_settings`, ...) and of the schema Tarn plans file
//! references in: DuckDB's lists the database's tables and views alone.

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

/// A reference to `information_schema.columns` (or `catalog.information_schema.columns`) as a
/// subquery of the view with DuckDB's type names, and one to `information_schema.tables` as a
/// subquery of the database's own tables; other relations stay as they are. Called
/// after the relation's own parts are visited, so the view named inside is left alone.
pub(super) fn duckdb_columns_view(factor: &mut TableFactor) -> TarnResult<()> {
    let TableFactor::Table {
        name,
        alias,
        args: None,
        ..
    } = factor
    else {
        return Ok(());
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
                "SELECT * REPLACE ({SQL_TYPE_NAME}(data_type) AS data_type, \
                 CAST(ordinal_position + 1 AS INTEGER) AS ordinal_position) FROM {name} AS columns"
            ),
        ),
        [.., schema, view] if schema == "information_schema" && view == "tables" => (
            "tables",
            format!(
                "SELECT * FROM {name} AS tables \
                 WHERE table_schema NOT IN ('information_schema', '{FILES_SCHEMA}')"
            ),
        ),
        _ => return Ok(()),
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
    Ok(())
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
