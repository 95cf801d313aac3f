//! Arrow types under the names DuckDB users know (`BIGINT`, `VARCHAR`, `DECIMAL(15,2)`), for
//! `DESCRIBE`, `SUMMARIZE` and the shell's types row; and DuckDB's TIMESTAMPTZ for DataFusion's
//! planner ([`DuckDbTypes`]).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, TimeUnit};
use datafusion::common::Result;
use datafusion::logical_expr::planner::TypePlanner;
use sqlparser::ast::{DataType as SqlType, TimezoneInfo};

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
                .map(|f| format!("{} {}", f.name(), sql_type_name(f.data_type())))
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
