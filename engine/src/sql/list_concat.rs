//! `a || b` of two lists is NULL when either is, as in DuckDB, where DataFusion's planner makes
//! it `array_concat(a, b)`, which reads a NULL list as an empty one: `NULL || [7]` was `[7]`.
//! (`list_concat(a, b)`, the function, skips a NULL list in both engines.)

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::functions_nested::expr_fn::array_concat;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{Expr, ExprSchemable, lit, when};
use datafusion::sql::sqlparser::ast::BinaryOperator;

/// Plans `list || list` (see the module documentation); anything else is left to the planners
/// after it.
#[derive(Debug, Default)]
pub struct ListConcatenation;

impl ExprPlanner for ListConcatenation {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let is_list = |e: &Expr| -> Result<bool> {
            Ok(matches!(
                e.get_type(schema)?,
                DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
            ))
        };
        if expr.op != BinaryOperator::StringConcat
            || !is_list(&expr.left)?
            || !is_list(&expr.right)?
        {
            return Ok(PlannerResult::Original(expr));
        }
        let RawBinaryExpr { left, right, .. } = expr;
        let either_null = left.clone().is_null().or(right.clone().is_null());
        let concatenated =
            when(either_null, lit(ScalarValue::Null)).otherwise(array_concat(vec![left, right]))?;
        Ok(PlannerResult::Planned(concatenated))
    }
}
