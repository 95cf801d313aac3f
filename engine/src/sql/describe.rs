//! `DESCRIBE`, `SUMMARIZE` and `SHOW TABLES`, with DuckDB's columns.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Decimal128Array, Float64Array, Int64Array, StringArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, JoinType};
use datafusion::datasource::source_as_provider;
use datafusion::execution::{SendableRecordBatchStream, SessionState};
use datafusion::logical_expr::{Distinct, Expr, LogicalPlan};

use super::catalog_functions::column_declarations;
use super::types::{is_numeric, sql_type_name};
use super::{SqlSession, batch_of, batch_stream, collect};
use crate::error::{Result, TarnError};

/// `DESCRIBE t` / `DESCRIBE SELECT ...`: one row per column. For a table or view (`table`, as
/// named), also what its columns declare: keys, defaults and NOT NULL.
pub async fn describe(
    session: &SqlSession,
    query: &str,
    table: Option<&str>,
) -> Result<SendableRecordBatchStream> {
    let frame = session.dataframe(query).await?;
    let schema: &DFSchema = frame.schema();
    let fields = schema.fields();
    let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
    let types: Vec<String> = fields
        .iter()
        .map(|f| sql_type_name(f.data_type()))
        .collect();
    // A file named as a table (`DESCRIBE 'docs.parquet'`) declares nothing.
    let provider = match table {
        Some(name) => session.context().table_provider(name).await.ok(),
        None => None,
    };
    let declared =
        provider.map(|provider| column_declarations(&provider, &session.context().state()));
    let state = session.context().state();
    let nulls: Vec<&str> = (0..fields.len())
        .map(|c| {
            let nullable = match &declared {
                Some(declared) => declared.nullable[c],
                None => !passes_not_null_column(frame.logical_plan(), c, &state),
            };
            if nullable { "YES" } else { "NO" }
        })
        .collect();
    let none: Vec<Option<&str>> = vec![None; fields.len()];
    let (keys, defaults) = match &declared {
        Some(declared) => (
            declared.keys.clone(),
            declared.defaults.iter().map(Option::as_deref).collect(),
        ),
        None => (none.clone(), none.clone()),
    };
    string_table(vec![
        ("column_name", names.into_iter().map(Some).collect()),
        (
            "column_type",
            types.iter().map(|t| Some(t.as_str())).collect(),
        ),
        ("null", nulls.into_iter().map(Some).collect()),
        ("key", keys),
        ("default", defaults),
        ("extra", none),
    ])
}

/// Whether column `index` of what `plan` gives is a table's NOT NULL column passed on as it is
/// (renamed, filtered, sorted or joined without NULLs added): DuckDB's DESCRIBE of a query says
/// a column holds no NULL only then. A computed value may be NULL to it, a constant too (which
/// DataFusion knows to hold none), and so may a grouping key or a union's column.
fn passes_not_null_column(plan: &LogicalPlan, index: usize, state: &SessionState) -> bool {
    let passes = |input: &LogicalPlan, index: usize| passes_not_null_column(input, index, state);
    match plan {
        LogicalPlan::Projection(projection) => {
            let mut expr = &projection.expr[index];
            while let Expr::Alias(alias) = expr {
                expr = &alias.expr;
            }
            let Expr::Column(column) = expr else {
                return false;
            };
            let input = &projection.input;
            let found = input.schema().index_of_column(column);
            found.is_ok_and(|index| passes(input, index))
        }
        LogicalPlan::SubqueryAlias(alias) => passes(&alias.input, index),
        LogicalPlan::Filter(filter) => passes(&filter.input, index),
        LogicalPlan::Sort(sort) => passes(&sort.input, index),
        LogicalPlan::Limit(limit) => passes(&limit.input, index),
        LogicalPlan::Distinct(Distinct::All(input)) => passes(input, index),
        // A side an outer join adds NULLs to passes none on.
        LogicalPlan::Join(join) => {
            let left_columns = join.left.schema().fields().len();
            match join.join_type {
                JoinType::RightSemi | JoinType::RightAnti | JoinType::RightMark => {
                    passes(&join.right, index)
                }
                JoinType::Right | JoinType::Full if index < left_columns => false,
                _ if index < left_columns => passes(&join.left, index),
                JoinType::Inner | JoinType::Right => passes(&join.right, index - left_columns),
                _ => false,
            }
        }
        LogicalPlan::TableScan(scan) => {
            let Ok(table) = source_as_provider(&scan.source) else {
                return false;
            };
            let column = match &scan.projection {
                Some(projection) => projection[index],
                None => index,
            };
            !column_declarations(&table, state).nullable[column]
        }
        _ => false,
    }
}

/// `SHOW TABLES`: the tables and views of the default schema, in a `name` column.
pub async fn show_tables(session: &SqlSession) -> Result<SendableRecordBatchStream> {
    let names = session.table_names();
    string_table(vec![(
        "name",
        names.iter().map(|n| Some(n.as_str())).collect(),
    )])
}

/// `SHOW ALL TABLES`: every table and view of every schema and attached database, with its
/// columns' names and types in order, as DuckDB lists them.
pub async fn show_all_tables(session: &SqlSession) -> Result<SendableRecordBatchStream> {
    let sql = "SELECT table_catalog AS database, table_schema AS schema, table_name AS name, \
               list(column_name ORDER BY ordinal_position) AS column_names, \
               list(data_type ORDER BY ordinal_position) AS column_types, false AS temporary \
               FROM information_schema.columns \
               WHERE table_schema NOT IN ('information_schema', 'tarn_files') \
               GROUP BY ALL ORDER BY ALL";
    Ok(session.dataframe(sql).await?.execute_stream().await?)
}

/// `SUMMARIZE t` / `SUMMARIZE SELECT ...`: per column its type, min, max, approximate distinct
/// count, avg, std, quartiles, count and null percentage, computed in one aggregate pass.
pub async fn summarize(session: &SqlSession, target: &str) -> Result<SendableRecordBatchStream> {
    let target = target.trim();
    if target.is_empty() {
        return Err(TarnError::Invalid(
            "SUMMARIZE needs a table or a query".into(),
        ));
    }
    let source = if target.to_ascii_uppercase().starts_with("SELECT")
        || target.to_ascii_uppercase().starts_with("FROM")
        || target.to_ascii_uppercase().starts_with("WITH")
    {
        format!("({target})")
    } else {
        target.to_string()
    };
    let probe = session
        .dataframe(&format!("SELECT * FROM {source} LIMIT 0"))
        .await?;
    let columns: Vec<(String, DataType)> = probe
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();

    const STATS: usize = 9;
    let mut aggregates = vec!["count(*)".to_string()];
    for (name, data_type) in &columns {
        let c = format!("\"{}\"", name.replace('"', "\"\""));
        let orderable = !matches!(
            data_type,
            DataType::List(_)
                | DataType::LargeList(_)
                | DataType::Struct(_)
                | DataType::Map(..)
                | DataType::FixedSizeList(..)
        );
        let (min, max) = if orderable {
            (
                format!("CAST(min({c}) AS VARCHAR)"),
                format!("CAST(max({c}) AS VARCHAR)"),
            )
        } else {
            ("NULL".into(), "NULL".into())
        };
        // approx_distinct hashes integers, strings and dates; other values are counted by text.
        let hashable = data_type.is_integer()
            || matches!(
                data_type,
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Date32
            );
        let distinct = if hashable {
            format!("approx_distinct({c})")
        } else if orderable {
            format!("approx_distinct(CAST({c} AS VARCHAR))")
        } else {
            "NULL".into()
        };
        let numeric = |expr: String| {
            if is_numeric(data_type) {
                expr
            } else {
                "NULL".into()
            }
        };
        aggregates.extend([
            min,
            max,
            distinct,
            numeric(format!("CAST(avg({c}) AS DOUBLE)")),
            numeric(format!("CAST(stddev_samp({c}) AS DOUBLE)")),
            // One digest for the three (the planner shares the identical aggregate), in the
            // column's type, as DuckDB's SUMMARIZE gives them (a BIGINT's quartile is a BIGINT).
            numeric(format!(
                "CAST(approx_quantile({c}, [0.25, 0.5, 0.75])[1] AS VARCHAR)"
            )),
            numeric(format!(
                "CAST(approx_quantile({c}, [0.25, 0.5, 0.75])[2] AS VARCHAR)"
            )),
            numeric(format!(
                "CAST(approx_quantile({c}, [0.25, 0.5, 0.75])[3] AS VARCHAR)"
            )),
            format!("count({c})"),
        ]);
    }
    let aliased: Vec<String> = aggregates
        .iter()
        .enumerate()
        .map(|(i, expr)| format!("{expr} AS s{i}"))
        .collect();
    let sql = format!("SELECT {} FROM {source}", aliased.join(", "));
    let batches = collect(session.dataframe(&sql).await?.execute_stream().await?).await?;
    let row = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(|| TarnError::Invalid("SUMMARIZE produced no result".into()))?;
    let value = |index: usize| -> Result<ArrayRef> {
        cast(row.column(index), &DataType::Utf8).map_err(|e| TarnError::DataFusion(e.into()))
    };
    let total = row
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .map_or(0, |a| a.value(0));

    // Text columns by position: name, type, min, max, q25, q50, q75.
    let mut out: Vec<Vec<Option<String>>> = vec![Vec::new(); 7];
    let mut avg = Vec::new();
    let mut std = Vec::new();
    let mut count = Vec::new();
    let mut approx_unique = Vec::new();
    let mut null_percentage = Vec::new();
    for (i, (name, data_type)) in columns.iter().enumerate() {
        let base = 1 + i * STATS;
        let text = |offset: usize| -> Result<Option<String>> {
            let array = value(base + offset)?;
            let strings = array
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("cast to Utf8");
            Ok((!strings.is_null(0)).then(|| strings.value(0).to_string()))
        };
        let float = |offset: usize| -> Option<f64> {
            let array = cast(row.column(base + offset), &DataType::Float64).ok()?;
            let floats = array.as_any().downcast_ref::<Float64Array>()?;
            (!floats.is_null(0)).then(|| floats.value(0))
        };
        out[0].push(Some(name.clone()));
        out[1].push(Some(sql_type_name(data_type)));
        out[2].push(text(0)?);
        out[3].push(text(1)?);
        out[4].push(text(5)?);
        out[5].push(text(6)?);
        let q75 = text(7)?;
        avg.push(float(3));
        std.push(float(4));
        let non_null = float(8).unwrap_or(0.0) as i64;
        // The estimate can overshoot on small inputs; there are never more distinct values
        // than non-null ones.
        approx_unique.push(float(2).map(|n| (n as i64).min(non_null)));
        count.push(total);
        // DuckDB's DECIMAL(9,2): hundredths of a percent, rounded.
        null_percentage.push(if total == 0 {
            0
        } else {
            (10_000.0 * (total - non_null) as f64 / total as f64).round() as i128
        });
        out[6].push(q75);
    }
    let strings = |values: &Vec<Option<String>>| -> ArrayRef {
        Arc::new(StringArray::from(
            values.iter().map(|v| v.as_deref()).collect::<Vec<_>>(),
        ))
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("column_name", strings(&out[0])),
        ("column_type", strings(&out[1])),
        ("min", strings(&out[2])),
        ("max", strings(&out[3])),
        ("approx_unique", Arc::new(Int64Array::from(approx_unique))),
        ("avg", Arc::new(Float64Array::from(avg))),
        ("std", Arc::new(Float64Array::from(std))),
        ("q25", strings(&out[4])),
        ("q50", strings(&out[5])),
        ("q75", strings(&out[6])),
        ("count", Arc::new(Int64Array::from(count))),
        (
            "null_percentage",
            Arc::new(Decimal128Array::from(null_percentage).with_precision_and_scale(9, 2)?),
        ),
    ];
    table(columns)
}

fn string_table(columns: Vec<(&str, Vec<Option<&str>>)>) -> Result<SendableRecordBatchStream> {
    table(
        columns
            .into_iter()
            .map(|(name, values)| (name, Arc::new(StringArray::from(values)) as ArrayRef))
            .collect(),
    )
}

fn table(columns: Vec<(&str, ArrayRef)>) -> Result<SendableRecordBatchStream> {
    Ok(batch_stream(batch_of(columns)?))
}
