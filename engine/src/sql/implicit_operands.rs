//! Operands DuckDB casts where DataFusion's planner refuses them: `1 || 2` is `'12'`, as
//! any value beside `||` is its text (`1.5 || true` is `'1.5true'`, a DATE its ISO text), and
//! `1 AND 0` is false, as a number beside `AND` or `OR` is its truth (zero false, any other
//! number true). DataFusion found no common type for either.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{Expr, ExprSchemable, cast};
use datafusion::sql::sqlparser::ast::BinaryOperator;

/// Casts the operands of `||` and of `AND` / `OR` (see the module documentation), leaving the
/// planning to the planners after it.
#[derive(Debug, Default)]
pub struct ImplicitOperands;

impl ExprPlanner for ImplicitOperands {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let cast_to = match expr.op {
            BinaryOperator::StringConcat => DataType::Utf8,
            BinaryOperator::And | BinaryOperator::Or => DataType::Boolean,
            _ => return Ok(PlannerResult::Original(expr)),
        };
        let (left_type, right_type) = (expr.left.get_type(schema)?, expr.right.get_type(schema)?);
        let concatenates_lists = [&left_type, &right_type].into_iter().any(is_list);
        if cast_to == DataType::Utf8 && concatenates_lists {
            return Ok(PlannerResult::Original(expr));
        }
        let RawBinaryExpr { op, left, right } = expr;
        Ok(PlannerResult::Original(RawBinaryExpr {
            op,
            left: cast_unless_taken(left, &left_type, &cast_to),
            right: cast_unless_taken(right, &right_type, &cast_to),
        }))
    }
}

fn is_list(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
    )
}

/// `operand` cast to `to`, unless an operator taking `to` takes its type as it is: text and
/// bytes for `||`, a BOOLEAN for `AND`, and an untyped NULL for both.
fn cast_unless_taken(operand: Expr, operand_type: &DataType, to: &DataType) -> Expr {
    let taken = match to {
        DataType::Utf8 => matches!(
            operand_type,
            DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Binary
                | DataType::LargeBinary
                | DataType::BinaryView
                | DataType::Dictionary(..)
        ),
        _ => operand_type == to,
    };
    match taken || operand_type == &DataType::Null {
        true => operand,
        false => cast(operand, to.clone()),
    }
}
