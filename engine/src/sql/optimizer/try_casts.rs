//! `TRY_CAST(x AS T)` between types that have no cast is NULL, as in DuckDB
//! (`TRY_CAST(d AS BOOLEAN)` of a DATE, `TRY_CAST(price AS INTERVAL)`), where DataFusion fails
//! the query ("Unsupported TRY_CAST from Date32 to Boolean"). [`ImpossibleTryCasts`], an
//! analyzer rule after type coercion and after the JSON casts (which give text casts to lists,
//! structs and maps a meaning Arrow's casts lack), makes each such cast a NULL of `T`.

use datafusion::arrow::compute::can_cast_types;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::TryCast;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, lit};
use datafusion::optimizer::AnalyzerRule;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct ImpossibleTryCasts;

impl AnalyzerRule for ImpossibleTryCasts {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        super::rewrite_logical_expressions(plan, null_if_impossible)
    }

    fn name(&self) -> &str {
        "tarn_impossible_try_casts"
    }
}

fn null_if_impossible(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::TryCast(TryCast { expr: inner, field }) = &expr else {
        return Ok(Transformed::no(expr));
    };
    if can_cast_types(&inner.get_type(schema)?, field.data_type()) {
        return Ok(Transformed::no(expr));
    }
    Ok(Transformed::yes(lit(ScalarValue::try_from(
        field.data_type(),
    )?)))
}
