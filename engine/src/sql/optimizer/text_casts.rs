//! A timestamp or a float cast to text reads as DuckDB writes it (`2024-01-02 03:04:05.5`,
//! `1e-07`), where Arrow's cast writes `2024-01-02T03:04:05.500` and `1e-7`: text built from
//! them (`'at ' || ts`, partition keys, prompts) would silently differ. [`TextCasts`], an
//! analyzer rule after type coercion (which puts such casts under `||`), plans each as
//! [`DuckDbText`]. Columns keep their names.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::{Cast, ScalarFunction, TryCast};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, ScalarUDF};
use datafusion::optimizer::AnalyzerRule;

use crate::sql::duckdb_text::{DuckDbText, respelled};

/// See the module documentation.
#[derive(Debug, Default)]
pub struct TextCasts;

impl AnalyzerRule for TextCasts {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        super::rewrite_logical_expressions(plan, duckdb_text_cast)
    }

    fn name(&self) -> &str {
        "tarn_text_casts"
    }
}

fn duckdb_text_cast(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let (inner, target) = match &expr {
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field })
            if matches!(
                field.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) =>
        {
            (expr.as_ref(), field.data_type().clone())
        }
        _ => return Ok(Transformed::no(expr)),
    };
    if !respelled(&inner.get_type(schema)?) {
        return Ok(Transformed::no(expr));
    }
    let text = Expr::ScalarFunction(ScalarFunction::new_udf(
        Arc::new(ScalarUDF::from(DuckDbText::new())),
        vec![inner.clone()],
    ));
    Ok(Transformed::yes(match target {
        DataType::Utf8 => text,
        other => Expr::Cast(Cast::new(Box::new(text), other)),
    }))
}
