//! A date part is a BIGINT, as in DuckDB: `year(ts)`, `date_part('month', d)` and
//! `extract(hour FROM ts)` are INTEGER in DataFusion. The type shows in `typeof`, in a union
//! with DuckDB-made tables, and in the files a query writes (`COPY (SELECT year(ts) AS year
//! ...)` holds INT64 columns, as DuckDB's copy does). [`DatePartTypes`], an analyzer rule just
//! before type coercion (which then fits comparisons to the BIGINT), casts each INTEGER date
//! part to BIGINT; `epoch` and the other parts DataFusion gives as DOUBLE stay DOUBLE, as in
//! DuckDB. Columns keep their names.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::Cast;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct DatePartTypes;

impl AnalyzerRule for DatePartTypes {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        super::rewrite_logical_expressions(plan, as_bigint)
    }

    fn name(&self) -> &str {
        "tarn_date_part_types"
    }
}

/// `expr` cast to BIGINT when it is a `date_part` DataFusion types INTEGER.
fn as_bigint(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::ScalarFunction(call) = &expr else {
        return Ok(Transformed::no(expr));
    };
    if call.name() != "date_part" || expr.get_type(schema)? != DataType::Int32 {
        return Ok(Transformed::no(expr));
    }
    Ok(Transformed::yes(Expr::Cast(Cast::new(
        Box::new(expr),
        DataType::Int64,
    ))))
}
