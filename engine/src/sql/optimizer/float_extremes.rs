//! [`FloatExtremes`], an analyzer rule after type coercion: every `max` and `min` of a FLOAT or
//! DOUBLE is computed by Tarn's aggregate, which orders NaN above every number as DuckDB does
//! (see `sql::float_extremes` for what DataFusion's gets wrong). The call keeps its name.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;

use crate::sql::arg_best::Best;
use crate::sql::float_extremes::float_extreme;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct FloatExtremes;

impl AnalyzerRule for FloatExtremes {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        super::rewrite_logical_expressions(plan, nan_aware_extreme)
    }

    fn name(&self) -> &str {
        "tarn_float_extremes"
    }
}

fn nan_aware_extreme(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::AggregateFunction(AggregateFunction { func, params }) = &expr else {
        return Ok(Transformed::no(expr));
    };
    let best = match func.name() {
        "max" => Best::Max,
        "min" => Best::Min,
        _ => return Ok(Transformed::no(expr)),
    };
    let [value] = params.args.as_slice() else {
        return Ok(Transformed::no(expr));
    };
    if !matches!(
        value.get_type(schema)?,
        DataType::Float32 | DataType::Float64
    ) {
        return Ok(Transformed::no(expr));
    }
    Ok(Transformed::yes(Expr::AggregateFunction(
        AggregateFunction {
            func: float_extreme(best),
            params: params.clone(),
        },
    )))
}
