//! `floor`, `ceil` and `trunc` of a DECIMAL drop the digits they cut from its type, as in
//! DuckDB: `floor(-2.5)` is `-3`, a DECIMAL(2,0), where DataFusion keeps the scale (`-3.0`, a
//! DECIMAL(2,1)), and `trunc(2.567, 1)` is `2.5`, a DECIMAL(4,1) (DataFusion: `2.500`).
//! [`TruncatedDecimals`], an analyzer rule after type coercion, casts the call's result to the
//! smaller scale; the digits dropped are zeros, so the cast is exact. Columns keep their names.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::Cast;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct TruncatedDecimals;

impl AnalyzerRule for TruncatedDecimals {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        super::rewrite_logical_expressions(plan, cast_to_kept_scale)
    }

    fn name(&self) -> &str {
        "tarn_truncated_decimals"
    }
}

/// `expr` cast to the scale it keeps when it is `floor`, `ceil` or `trunc` of a DECIMAL.
fn cast_to_kept_scale(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::ScalarFunction(call) = &expr else {
        return Ok(Transformed::no(expr));
    };
    let kept = match (call.name(), call.args.as_slice()) {
        ("floor" | "ceil" | "trunc", [_]) => 0,
        ("trunc", [_, Expr::Literal(ScalarValue::Int64(Some(digits)), _)]) => *digits,
        _ => return Ok(Transformed::no(expr)),
    };
    let data_type = expr.get_type(schema)?;
    let scale = match data_type {
        DataType::Decimal32(_, s)
        | DataType::Decimal64(_, s)
        | DataType::Decimal128(_, s)
        | DataType::Decimal256(_, s) => i64::from(s),
        _ => return Ok(Transformed::no(expr)),
    };
    if !(0..scale).contains(&kept) {
        return Ok(Transformed::no(expr));
    }
    let kept = kept as i8;
    let smaller = match data_type {
        DataType::Decimal32(p, _) => DataType::Decimal32(p, kept),
        DataType::Decimal64(p, _) => DataType::Decimal64(p, kept),
        DataType::Decimal128(p, _) => DataType::Decimal128(p, kept),
        DataType::Decimal256(p, _) => DataType::Decimal256(p, kept),
        _ => unreachable!("a DECIMAL type, matched above"),
    };
    Ok(Transformed::yes(Expr::Cast(Cast::new(
        Box::new(expr),
        smaller,
    ))))
}
