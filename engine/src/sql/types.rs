//! Arrow types under the names DuckDB users know (`BIGINT`, `VARCHAR`, `DECIMAL(15,2)`), for
//! `DESCRIBE`, `SUMMARIZE` and the shell's types row; and DuckDB's TIMESTAMPTZ for DataFusion's
//! planner ([`DuckDbTypes`]).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, TimeUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::{Result, TableReference, plan_err};
use datafusion::logical_expr::planner::{ContextProvider, TypePlanner};
use datafusion::logical_expr::{AggregateUDF, HigherOrderUDF, ScalarUDF, TableSource, WindowUDF};
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::planner::SqlToRel;
use sqlparser::ast::{DataType as SqlType, TimezoneInfo};
use sqlparser::dialect::DuckDbDialect;

use super::duckdb_keywords::written_name;
use super::map_types::{KEY_FIELD, VALUE_FIELD};

/// DuckDB's `TIMESTAMPTZ` (`TIMESTAMP WITH TIME ZONE`), which DataFusion's planner made a
/// TIMESTAMP without a zone (keeping the instant, losing the type and the offset): an instant,
/// microseconds in UTC, written with its offset (`2024-01-01 08:00:00+00`); text with an offset
/// is read at it. (DuckDB's names DataFusion knows by others, such as `BLOB`, are respelled in
/// the statement: `rewrite::respell_type`.)
#[derive(Debug, Default)]
pub struct DuckDbTypes;

/// The zone DuckDB's TIMESTAMPTZ values are held and shown in.
pub(crate) const UTC: &str = "UTC";

/// DuckDB's TIMESTAMPTZ as Arrow holds it: microseconds in UTC.
pub(crate) fn timestamptz() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
}

impl TypePlanner for DuckDbTypes {
    fn plan_type_field(&self, sql_type: &SqlType) -> Result<Option<FieldRef>> {
        let (unit, zone) = match sql_type {
            SqlType::Timestamp(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => {
                (TimeUnit::Microsecond, Some(UTC.into()))
            }
            SqlType::Timestamp(None, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone)
            | SqlType::Datetime(None) => (TimeUnit::Microsecond, None),
            // DuckDB's MAP(key, value), as `super::map_types` writes it.
            SqlType::Struct(fields, _)
                if fields.len() == 2
                    && fields[0].field_name.as_ref().map(|n| n.value.as_str())
                        == Some(KEY_FIELD)
                    && fields[1].field_name.as_ref().map(|n| n.value.as_str())
                        == Some(VALUE_FIELD) =>
            {
                let map = map_type(&fields[0].field_type, &fields[1].field_type)?;
                return Ok(Some(Arc::new(Field::new("", map, true))));
            }
            // DuckDB's TIMESTAMP_S, _MS, _US and _NS, timestamps of other units.
            SqlType::Custom(name, modifiers) if modifiers.is_empty() => {
                let unit = match name.to_string().to_uppercase().as_str() {
                    "TIMESTAMP_S" => TimeUnit::Second,
                    "TIMESTAMP_MS" => TimeUnit::Millisecond,
                    "TIMESTAMP_US" => TimeUnit::Microsecond,
                    "TIMESTAMP_NS" => TimeUnit::Nanosecond,
                    _ => return Ok(None),
                };
                (unit, None)
            }
            _ => return Ok(None),
        };
        let timestamp = DataType::Timestamp(unit, zone);
        Ok(Some(Arc::new(Field::new("", timestamp, true))))
    }
}

/// DuckDB's `MAP(key, value)`, which DataFusion's planner has no type for, as Arrow's map of
/// the two types, laid out as DataFusion's `MAP {...}` values are (so that they insert and compare
/// alike): non-null `key`s, nullable `value`s, unsorted.
fn map_type(key: &SqlType, value: &SqlType) -> Result<DataType> {
    let entries = Field::new(
        "entries",
        DataType::Struct(
            vec![
                Field::new("key", planned_type(key)?, false),
                Field::new("value", planned_type(value)?, true),
            ]
            .into(),
        ),
        false,
    );
    Ok(DataType::Map(Arc::new(entries), false))
}

/// The Arrow type DataFusion's planner, with Tarn's types, makes of `sql_type`: the type of
/// `SELECT CAST(NULL AS sql_type)` planned with no tables or functions. The planner converts
/// SQL types only while planning a statement.
fn planned_type(sql_type: &SqlType) -> Result<DataType> {
    let sql = format!("SELECT CAST(NULL AS {sql_type})");
    let mut statements = DFParser::parse_sql_with_dialect(&sql, &DuckDbDialect {})?;
    let Some(DFStatement::Statement(statement)) = statements.pop_front() else {
        return plan_err!("not a type: {sql_type}");
    };
    let plan = SqlToRel::new(&TypesOnly::default()).sql_statement_to_plan(*statement)?;
    Ok(plan.schema().field(0).data_type().clone())
}

/// The Arrow type of a type written as text in DuckDB's SQL, as a CAST to it in a statement
/// reads it: DuckDB's spellings (`MAP(...)`, `BLOB`, `HUGEINT`) and struct fields' case
/// included.
pub(crate) fn type_of_text(text: &str) -> crate::error::Result<DataType> {
    let mut statement = super::parse_one(&format!("SELECT CAST(NULL AS {text})"))?;
    super::rewrite::duckdb_operators(&mut statement)?;
    let plan = SqlToRel::new(&TypesOnly::default()).sql_statement_to_plan(statement)?;
    Ok(plan.schema().field(0).data_type().clone())
}

/// What the planner needs to plan a cast of NULL: options and Tarn's types, no tables or
/// functions.
struct TypesOnly {
    options: ConfigOptions,
}

impl Default for TypesOnly {
    /// VARCHAR as plain strings, as DataFusion's `MAP {...}` values hold them, so that a MAP
    /// column and a map value are of one type (`map_concat`, `CASE`, `UNION` need them alike).
    fn default() -> Self {
        let mut options = ConfigOptions::default();
        options.sql_parser.map_string_types_to_utf8view = false;
        TypesOnly { options }
    }
}

impl ContextProvider for TypesOnly {
    fn get_table_source(&self, name: TableReference) -> Result<Arc<dyn TableSource>> {
        plan_err!("no table {name} while planning a type")
    }

    fn get_type_planner(&self) -> Option<Arc<dyn TypePlanner>> {
        Some(Arc::new(DuckDbTypes))
    }

    fn get_function_meta(&self, _name: &str) -> Option<Arc<ScalarUDF>> {
        None
    }

    fn get_higher_order_meta(&self, _name: &str) -> Option<Arc<HigherOrderUDF>> {
        None
    }

    fn get_aggregate_meta(&self, _name: &str) -> Option<Arc<AggregateUDF>> {
        None
    }

    fn get_window_meta(&self, _name: &str) -> Option<Arc<WindowUDF>> {
        None
    }

    fn get_variable_type(&self, _variable_names: &[String]) -> Option<DataType> {
        None
    }

    fn options(&self) -> &ConfigOptions {
        &self.options
    }

    fn udf_names(&self) -> Vec<String> {
        vec![]
    }

    fn higher_order_function_names(&self) -> Vec<String> {
        vec![]
    }

    fn udaf_names(&self) -> Vec<String> {
        vec![]
    }

    fn udwf_names(&self) -> Vec<String> {
        vec![]
    }
}

/// DuckDB's name for an Arrow type.
pub fn sql_type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Null => "NULL".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INTEGER".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 => "UTINYINT".into(),
        DataType::UInt16 => "USMALLINT".into(),
        DataType::UInt32 => "UINTEGER".into(),
        DataType::UInt64 => "UBIGINT".into(),
        DataType::Float16 => "HALF".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "BLOB".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Time32(_) | DataType::Time64(_) => "TIME".into(),
        DataType::Timestamp(unit, tz) => {
            let base = match unit {
                TimeUnit::Second => "TIMESTAMP_S",
                TimeUnit::Millisecond => "TIMESTAMP_MS",
                TimeUnit::Microsecond => "TIMESTAMP",
                TimeUnit::Nanosecond => "TIMESTAMP_NS",
            };
            match tz {
                Some(_) => "TIMESTAMP WITH TIME ZONE".into(),
                None => base.into(),
            }
        }
        DataType::Interval(_) | DataType::Duration(_) => "INTERVAL".into(),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => format!("DECIMAL({p},{s})"),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f) => {
            format!("{}[]", sql_type_name(f.data_type()))
        }
        DataType::FixedSizeList(f, n) => format!("{}[{n}]", sql_type_name(f.data_type())),
        DataType::Struct(fields) => format!(
            "STRUCT({})",
            fields
                .iter()
                .map(|f| format!(
                    "{} {}",
                    written_name(f.name()),
                    sql_type_name(f.data_type())
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "MAP({}, {})",
                sql_type_name(kv[0].data_type()),
                sql_type_name(kv[1].data_type())
            ),
            other => format!("MAP({other})"),
        },
        DataType::Dictionary(_, value) => sql_type_name(value),
        DataType::RunEndEncoded(_, value) => sql_type_name(value.data_type()),
        DataType::Union(_, _) => "UNION".into(),
    }
}

/// Whether `SUMMARIZE` computes avg, std and quantiles for the type.
pub fn is_numeric(data_type: &DataType) -> bool {
    data_type.is_numeric()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::Field;
    use std::sync::Arc;

    #[test]
    fn names_match_duckdb() {
        assert_eq!(sql_type_name(&DataType::Int64), "BIGINT");
        assert_eq!(sql_type_name(&DataType::Utf8View), "VARCHAR");
        assert_eq!(sql_type_name(&DataType::Decimal128(15, 2)), "DECIMAL(15,2)");
        let list = DataType::List(Arc::new(Field::new("item", DataType::Int32, true)));
        assert_eq!(sql_type_name(&list), "INTEGER[]");
        let emb =
            DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), 384);
        assert_eq!(sql_type_name(&emb), "FLOAT[384]");
    }
}
