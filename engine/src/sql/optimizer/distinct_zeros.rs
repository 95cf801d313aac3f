//! A DISTINCT aggregate counts -0.0 and 0.0 as one value, as `=`, GROUP BY and DuckDB do.
//!
//! DataFusion's DISTINCT accumulators keep a float's bits, so `count(DISTINCT round(score, 1))`
//! counted the -0.0 that `round(-0.04, 1)` gives apart from 0.0 whenever the query had another
//! aggregate beside it (alone, it is planned as a GROUP BY, which does not). [`DistinctZeros`],
//! an analyzer rule after type coercion, adds 0.0 to a FLOAT or DOUBLE argument of a DISTINCT
//! aggregate, which makes -0.0 into 0.0 and leaves every other value (NaN included) as it is.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::{AggregateFunction, WindowFunction};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, lit};
use datafusion::optimizer::AnalyzerRule;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct DistinctZeros;

impl AnalyzerRule for DistinctZeros {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        super::rewrite_logical_expressions(plan, one_zero)
    }

    fn name(&self) -> &str {
        "tarn_distinct_zeros"
    }
}

fn one_zero(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match expr {
        Expr::AggregateFunction(AggregateFunction { func, mut params }) if params.distinct => {
            let changed = positive_zeros(&mut params.args, schema)?;
            let expr = Expr::AggregateFunction(AggregateFunction { func, params });
            Ok(Transformed::new_transformed(expr, changed))
        }
        Expr::WindowFunction(mut window) if window.params.distinct => {
            let changed = positive_zeros(&mut window.params.args, schema)?;
            let WindowFunction { fun, params } = *window;
            let expr = Expr::WindowFunction(Box::new(WindowFunction { fun, params }));
            Ok(Transformed::new_transformed(expr, changed))
        }
        other => Ok(Transformed::no(other)),
    }
}

/// Adds 0.0 to each float in `args`; whether there was one.
fn positive_zeros(args: &mut [Expr], schema: &DFSchema) -> Result<bool> {
    let mut changed = false;
    for arg in args.iter_mut() {
        let zero = match arg.get_type(schema)? {
            DataType::Float32 => ScalarValue::Float32(Some(0.0)),
            DataType::Float64 => ScalarValue::Float64(Some(0.0)),
            _ => continue,
        };
        *arg = arg.clone() + lit(zero);
        changed = true;
    }
    Ok(changed)
}
