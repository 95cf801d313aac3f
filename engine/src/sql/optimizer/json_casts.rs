//! A cast of text to a list, struct or map reads the text as JSON (`'[1, 2]'::INTEGER[]`,
//! `CAST(meta AS STRUCT(source VARCHAR))`), as DuckDB reads JSON text; Arrow's cast would make
//! a one-element list of the whole text, or refuse. [`JsonCasts`], an analyzer rule after type
//! coercion, plans each such cast as `json::JSON_CAST` (`TRY_CAST` as `json::TRY_JSON_CAST`).
//! Columns keep their names.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::{Cast, ScalarFunction, TryCast};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, ScalarUDF, lit};
use datafusion::optimizer::AnalyzerRule;

use crate::sql::json::{JsonCast, reads_json};
use crate::sql::text_functions::is_text;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct JsonCasts;

impl AnalyzerRule for JsonCasts {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        super::rewrite_logical_expressions(plan, json_cast)
    }

    fn name(&self) -> &str {
        "tarn_json_casts"
    }
}

fn json_cast(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let (inner, target, lenient) = match &expr {
        Expr::Cast(Cast { expr, field }) => (expr.as_ref(), field.data_type(), false),
        Expr::TryCast(TryCast { expr, field }) => (expr.as_ref(), field.data_type(), true),
        _ => return Ok(Transformed::no(expr)),
    };
    if !reads_json(target) || !is_text(&inner.get_type(schema)?) {
        return Ok(Transformed::no(expr));
    }
    let typed_null = lit(ScalarValue::try_from(target)?);
    Ok(Transformed::yes(Expr::ScalarFunction(
        ScalarFunction::new_udf(
            Arc::new(ScalarUDF::from(JsonCast::new(lenient))),
            vec![inner.clone(), typed_null],
        ),
    )))
}
