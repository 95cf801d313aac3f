//! One schema for files whose columns differ in width, as DuckDB reads them: a corpus whose
//! shards came from different writers holds `id` as INT32 in some files and INT64 in others
//! (pandas writes INT64; DuckDB and Tarn write a literal's column as INT32), and DataFusion's
//! merge of the files' schemas refused them ("Fail to merge schema field 'id'"). [`widened`]
//! gives a column the type that holds each file's numbers (INT64 there, a float for an integer
//! beside a float); the scan casts each file's column to it. Columns of other kinds that
//! differ still conflict.

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::logical_expr::type_coercion::binary::type_union_resolution;

use super::types::sql_type_name;

/// The schemas' columns in the order they first appear, each of the type that holds its values
/// in every schema; or why two schemas' columns cannot be read as one.
pub fn widened(schemas: impl IntoIterator<Item = Schema>) -> Result<Schema, String> {
    let mut fields: Vec<Field> = Vec::new();
    let mut metadata = std::collections::HashMap::new();
    for schema in schemas {
        metadata.extend(schema.metadata().clone());
        for field in schema.fields() {
            match fields.iter_mut().find(|known| known.name() == field.name()) {
                None => fields.push(field.as_ref().clone()),
                Some(known) => {
                    let data_type =
                        wider(known.data_type(), field.data_type()).ok_or_else(|| {
                            format!(
                                "column '{}' is {} in some files and {} in others",
                                field.name(),
                                sql_type_name(known.data_type()),
                                sql_type_name(field.data_type())
                            )
                        })?;
                    let nullable = known.is_nullable() || field.is_nullable();
                    *known = known
                        .clone()
                        .with_data_type(data_type)
                        .with_nullable(nullable);
                }
            }
        }
    }
    Ok(Schema::new_with_metadata(fields, metadata))
}

/// The type that holds values of both `a` and `b`: either where they are one, the wider where
/// both are numbers.
fn wider(a: &DataType, b: &DataType) -> Option<DataType> {
    if a == b {
        return Some(a.clone());
    }
    if !(a.is_numeric() && b.is_numeric()) {
        return None;
    }
    type_union_resolution(&[a.clone(), b.clone()]).filter(DataType::is_numeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(columns: &[(&str, DataType)]) -> Schema {
        Schema::new(
            columns
                .iter()
                .map(|(name, data_type)| Field::new(*name, data_type.clone(), true))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn numbers_widen_to_the_type_that_holds_both() {
        let merged = widened([
            schema(&[("id", DataType::Int32), ("score", DataType::Float32)]),
            schema(&[("id", DataType::Int64), ("label", DataType::Utf8)]),
            schema(&[("score", DataType::Int64), ("id", DataType::Int16)]),
        ])
        .unwrap();
        let expected = schema(&[
            ("id", DataType::Int64),
            ("score", DataType::Float32),
            ("label", DataType::Utf8),
        ]);
        assert_eq!(merged, expected);
    }

    #[test]
    fn other_kinds_that_differ_conflict() {
        let err = widened([
            schema(&[("id", DataType::Int32)]),
            schema(&[("id", DataType::Utf8)]),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            "column 'id' is INTEGER in some files and VARCHAR in others"
        );
    }
}
