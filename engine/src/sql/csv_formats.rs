//! `read_csv(..., dateformat = '%d/%m/%Y', timestampformat = '%d/%m/%Y %H:%M')`: dates and
//! times written some other way than ISO 8601, which DataFusion's CSV reader types as text.
//!
//! As in DuckDB, a format decides the type of each text column it fits: the column whose
//! values in the first [`SAMPLE_ROWS`] rows all read in the date format is a DATE, else in the
//! timestamp format a TIMESTAMP. A column given a type by `types` or `columns` keeps it, and
//! a DATE or TIMESTAMP column is read in its format. The values are read with `strptime`, so
//! the format is DuckDB's; a value that does not fit fails the query naming it, its column and
//! its file (`checked_reads`), or with `ignore_errors` leaves its row out.

use std::sync::Arc;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::TableProvider;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, ScalarUDF, lit};

use super::strptime::{Strptime, fits};
use crate::error::Result;

/// How many rows a format is tried on before it types a column.
const SAMPLE_ROWS: usize = 2048;

/// The formats `read_csv` was given for dates and timestamps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextFormats {
    pub date: Option<String>,
    pub timestamp: Option<String>,
}

impl TextFormats {
    pub fn is_empty(&self) -> bool {
        self.date.is_none() && self.timestamp.is_none()
    }

    /// `schema` with each text column the formats fit as a DATE or TIMESTAMP, tried on the first
    /// rows of `table` (the files read as text); the columns named in `typed` are left as they
    /// are.
    pub async fn typed_schema(
        &self,
        schema: &SchemaRef,
        table: &Arc<dyn TableProvider>,
        typed: &[String],
        state: &SessionState,
    ) -> Result<SchemaRef> {
        let candidates: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| {
                let field = schema.field(i);
                *field.data_type() == DataType::Utf8
                    && !typed.iter().any(|t| t.eq_ignore_ascii_case(field.name()))
                    && table.schema().index_of(field.name()).is_ok()
            })
            .collect();
        if candidates.is_empty() {
            return Ok(Arc::clone(schema));
        }
        let plan = table.scan(state, None, &[], Some(SAMPLE_ROWS)).await?;
        let batches = datafusion::physical_plan::collect(plan, state.task_ctx()).await?;
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        for i in candidates {
            let at = table.schema().index_of(fields[i].name())?;
            let mut values = Vec::new();
            for batch in &batches {
                let texts = cast(batch.column(at), &DataType::Utf8)?;
                values.extend(
                    texts
                        .as_string::<i32>()
                        .iter()
                        .flatten()
                        .map(str::to_string),
                );
            }
            let all_fit = |format: &Option<String>| {
                format.as_ref().is_some_and(|format| {
                    !values.is_empty() && values.iter().all(|v| fits(v, format))
                })
            };
            if all_fit(&self.date) {
                fields[i] = fields[i].clone().with_data_type(DataType::Date32);
            } else if all_fit(&self.timestamp) {
                fields[i] = fields[i]
                    .clone()
                    .with_data_type(DataType::Timestamp(TimeUnit::Microsecond, None));
            }
        }
        Ok(Arc::new(Schema::new_with_metadata(
            fields,
            schema.metadata().clone(),
        )))
    }

    /// The format given for values of type `target`, if any.
    pub fn format_of(&self, target: &DataType) -> Option<&str> {
        match target {
            DataType::Date32 => self.date.as_deref(),
            DataType::Timestamp(_, _) => self.timestamp.as_deref(),
            _ => None,
        }
    }

    /// `text` read as `target` in its format, where one was given for the type; `None`
    /// otherwise. A value that does not fit is NULL.
    pub fn read(&self, text: Expr, target: &DataType) -> Option<Expr> {
        let format = self.format_of(target)?;
        let strptime = ScalarUDF::from(Strptime::new(true));
        Some(datafusion::logical_expr::cast(
            strptime.call(vec![text, lit(format)]),
            target.clone(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_the_types_given_a_format() {
        let formats = TextFormats {
            date: Some("%d/%m/%Y".into()),
            timestamp: None,
        };
        let column = datafusion::prelude::col("d");
        assert!(formats.read(column.clone(), &DataType::Date32).is_some());
        let stamp = DataType::Timestamp(TimeUnit::Microsecond, None);
        assert!(formats.read(column.clone(), &stamp).is_none());
        assert!(formats.read(column, &DataType::Utf8).is_none());
    }
}
