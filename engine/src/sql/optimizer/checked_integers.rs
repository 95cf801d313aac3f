//! Integer `+`, `-` and `*` fail on overflow, as in DuckDB, where DataFusion wraps around.
//!
//! DataFusion evaluates integer arithmetic with Arrow's wrapping kernels, so
//! `9223372036854775807 + 1` is `-9223372036854775808` and `CAST(10 AS TINYINT) * 20` is -56:
//! a wrong answer with no sign of it. DuckDB stops with "Overflow in multiplication of INT8".
//! Two places compute such arithmetic, and each gets a check:
//!
//! * [`CheckedConstants`], an analyzer rule after type coercion, evaluates arithmetic between
//!   integer constants with checked operations, so that an overflow fails the statement before
//!   DataFusion's simplifier folds the constants with wrapping ones.
//! * [`CheckedArithmetic`], a physical rule, puts [`CheckedInteger`] (DataFusion's own
//!   expression with its overflow check on, named so the cluster codec can carry it) in place
//!   of integer arithmetic (and of `-x`, as `0 - x`: `-CAST(-128 AS TINYINT)` was -128) in
//!   projections, filters and aggregate arguments. It runs before
//!   DataFusion's rules, which then move the checked expressions where they move arithmetic
//!   (into a Parquet scan's projection, for one), and in the keys of aggregates and sorts
//!   (`GROUP BY a * b`, `ORDER BY a + 1`). Join keys and window arguments keep DataFusion's
//!   wrapping expression (a join on `a + 1` is computed in a projection below the join).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::error::ArrowError;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::expr::Cast;
use datafusion::logical_expr::{ColumnarValue, Expr, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{BinaryExpr, Literal, NegativeExpr};
use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::{AggregateExec, PhysicalGroupBy};
use datafusion::physical_plan::sorts::sort::SortExec;

use super::expressions::ArithmeticOp;
use crate::sql::types::sql_type_name;

/// The error an overflowing `left op right` of `data_type` fails with: DuckDB's words, with the
/// values where they are known.
fn overflow(op: ArithmeticOp, data_type: &DataType, values: &str) -> DataFusionError {
    let operation = match op {
        ArithmeticOp::Add => "addition",
        ArithmeticOp::Sub => "subtraction",
        ArithmeticOp::Mul => "multiplication",
    };
    let message = format!(
        "Overflow in {operation} of {} ({values})",
        sql_type_name(data_type)
    );
    DataFusionError::ArrowError(Box::new(ArrowError::ArithmeticOverflow(message)), None)
}

/// The error an overflowing `-operand` of `data_type` fails with: only the smallest value of a
/// type has no negation.
fn negation_overflow(data_type: &DataType, operand: &str) -> DataFusionError {
    let message = format!(
        "Overflow in negation of {} ({operand})",
        sql_type_name(data_type)
    );
    DataFusionError::ArrowError(Box::new(ArrowError::ArithmeticOverflow(message)), None)
}

/// `left op right` over two integers of one type, failing where the answer does not fit.
#[derive(Debug, Eq)]
pub struct CheckedInteger {
    op: ArithmeticOp,
    /// DataFusion's expression with its overflow check on, which does the work.
    checked: BinaryExpr,
}

impl PartialEq for CheckedInteger {
    fn eq(&self, other: &Self) -> bool {
        self.checked == other.checked
    }
}

impl Hash for CheckedInteger {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.checked.hash(state);
    }
}

impl CheckedInteger {
    pub fn new(
        op: ArithmeticOp,
        left: Arc<dyn PhysicalExpr>,
        right: Arc<dyn PhysicalExpr>,
    ) -> Self {
        let checked = BinaryExpr::new(left, op.operator(), right).with_fail_on_overflow(true);
        CheckedInteger { op, checked }
    }

    pub fn op(&self) -> ArithmeticOp {
        self.op
    }

    /// Whether this is `0 - x`, the checked form of `-x`.
    fn is_negation(&self) -> bool {
        self.op == ArithmeticOp::Sub
            && self
                .checked
                .left()
                .downcast_ref::<Literal>()
                .is_some_and(|zero| {
                    let value = zero.value();
                    value.data_type().is_integer()
                        && ScalarValue::new_zero(&value.data_type()).is_ok_and(|z| &z == value)
                })
    }
}

impl fmt::Display for CheckedInteger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.checked.fmt(f)
    }
}

impl PhysicalExpr for CheckedInteger {
    fn data_type(&self, input_schema: &Schema) -> Result<DataType> {
        self.checked.data_type(input_schema)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.checked.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        self.checked.evaluate(batch).map_err(|err| {
            // Arrow says "Overflow happened on: a * b"; an operand's own overflow is already
            // in DuckDB's words.
            let values = match &err {
                DataFusionError::ArrowError(arrow, _) => match arrow.as_ref() {
                    ArrowError::ArithmeticOverflow(message) => {
                        message.strip_prefix("Overflow happened on: ")
                    }
                    _ => None,
                },
                _ => None,
            };
            let Ok(data_type) = self.checked.left().data_type(&batch.schema()) else {
                return err;
            };
            match values {
                Some(values) if self.is_negation() => {
                    let operand = values.strip_prefix("0 - ").unwrap_or(values);
                    negation_overflow(&data_type, operand)
                }
                Some(values) => overflow(self.op, &data_type, values),
                None => err,
            }
        })
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![self.checked.left(), self.checked.right()]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let [left, right] = super::two_children("CheckedInteger", children)?;
        Ok(Arc::new(CheckedInteger::new(self.op, left, right)))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.checked.fmt_sql(f)
    }
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct CheckedArithmetic;

impl PhysicalOptimizerRule for CheckedArithmetic {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = super::expressions::rewrite_row_expressions(plan, check)?;
        check_keys(plan)
    }

    fn name(&self) -> &str {
        "tarn_checked_arithmetic"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `plan` with the integer arithmetic in its group keys and sort keys checked. Only while the
/// plan is fresh from the planner (this rule runs first) can an aggregate or a sort be rebuilt
/// from its parts: later rules add limits and dynamic filters that a rebuild would lose.
fn check_keys(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        if let Some(aggregate) = node.downcast_ref::<AggregateExec>() {
            let schema = aggregate.input().schema();
            let group_by = aggregate.group_expr();
            let mut changed = false;
            let mut keys = Vec::with_capacity(group_by.expr().len());
            for (expr, name) in group_by.expr() {
                let checked = check(expr, &schema)?;
                changed |= checked.transformed;
                keys.push((checked.data, name.clone()));
            }
            if !changed {
                return Ok(Transformed::no(node));
            }
            let group_by = PhysicalGroupBy::new(
                keys,
                group_by.null_expr().to_vec(),
                group_by.groups().to_vec(),
                group_by.has_grouping_set(),
            );
            let rebuilt = AggregateExec::try_new(
                *aggregate.mode(),
                group_by,
                aggregate.aggr_expr().to_vec(),
                aggregate.filter_expr().to_vec(),
                Arc::clone(aggregate.input()),
                aggregate.input_schema(),
            )?;
            return Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>));
        }
        if let Some(sort) = node.downcast_ref::<SortExec>() {
            let schema = sort.input().schema();
            let mut changed = false;
            let mut keys = Vec::with_capacity(sort.expr().len());
            for key in sort.expr().iter() {
                let checked = check(&key.expr, &schema)?;
                changed |= checked.transformed;
                keys.push(PhysicalSortExpr::new(checked.data, key.options));
            }
            let Some(ordering) = LexOrdering::new(keys).filter(|_| changed) else {
                return Ok(Transformed::no(node));
            };
            let rebuilt = SortExec::new(ordering, Arc::clone(sort.input()))
                .with_preserve_partitioning(sort.preserve_partitioning())
                .with_fetch(sort.fetch());
            return Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>));
        }
        Ok(Transformed::no(node))
    })
    .map(|transformed| transformed.data)
}

/// `expr` with each `+`, `-` and `*` between two integers checked.
fn check(
    expr: &Arc<dyn PhysicalExpr>,
    schema: &Schema,
) -> Result<Transformed<Arc<dyn PhysicalExpr>>> {
    Arc::clone(expr).transform_up(|expr| {
        if let Some(negative) = expr.downcast_ref::<NegativeExpr>() {
            let data_type = negative.arg().data_type(schema)?;
            if !data_type.is_integer() {
                return Ok(Transformed::no(expr));
            }
            let zero = Arc::new(Literal::new(ScalarValue::new_zero(&data_type)?));
            let checked = CheckedInteger::new(ArithmeticOp::Sub, zero, Arc::clone(negative.arg()));
            return Ok(Transformed::yes(Arc::new(checked) as Arc<dyn PhysicalExpr>));
        }
        let Some(binary) = expr.downcast_ref::<BinaryExpr>() else {
            return Ok(Transformed::no(expr));
        };
        let Some(op) = ArithmeticOp::of(binary.op()) else {
            return Ok(Transformed::no(expr));
        };
        let (left, right) = (
            binary.left().data_type(schema)?,
            binary.right().data_type(schema)?,
        );
        if !(left.is_integer() && right.is_integer()) {
            return Ok(Transformed::no(expr));
        }
        let checked =
            CheckedInteger::new(op, Arc::clone(binary.left()), Arc::clone(binary.right()));
        Ok(Transformed::yes(Arc::new(checked) as Arc<dyn PhysicalExpr>))
    })
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct CheckedConstants;

impl AnalyzerRule for CheckedConstants {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.apply_with_subqueries(|node| {
            node.apply_expressions(|expr| {
                expr.apply(|e| {
                    constant_integer(e)?;
                    Ok(TreeNodeRecursion::Continue)
                })
            })
        })?;
        Ok(plan)
    }

    fn name(&self) -> &str {
        "tarn_checked_constants"
    }
}

/// The value of `expr` when it is integer arithmetic on constants (or one integer constant),
/// computed with checked operations; an overflow is an error.
fn constant_integer(expr: &Expr) -> Result<Option<ScalarValue>> {
    let value = match expr {
        Expr::Literal(value, _) if value.data_type().is_integer() => Some(value.clone()),
        Expr::Cast(Cast { expr, field }) if field.data_type().is_integer() => match expr.as_ref() {
            Expr::Literal(value, _) => value.cast_to(field.data_type()).ok(),
            _ => None,
        },
        Expr::BinaryExpr(binary) => {
            let Some(op) = ArithmeticOp::of(&binary.op) else {
                return Ok(None);
            };
            let (Some(left), Some(right)) = (
                constant_integer(&binary.left)?,
                constant_integer(&binary.right)?,
            ) else {
                return Ok(None);
            };
            if left.data_type() != right.data_type() {
                return Ok(None);
            }
            let answer = match op {
                ArithmeticOp::Add => left.add_checked(&right),
                ArithmeticOp::Sub => left.sub_checked(&right),
                ArithmeticOp::Mul => left.mul_checked(&right),
            };
            Some(answer.map_err(|_| {
                overflow(
                    op,
                    &left.data_type(),
                    &format!("{left} {} {right}", op.symbol()),
                )
            })?)
        }
        _ => None,
    };
    Ok(value.filter(|v| v.data_type().is_integer() && !v.is_null()))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{ArrayRef, Int8Array, Int64Array};
    use datafusion::physical_expr::expressions::Column;

    use super::*;

    fn batch() -> RecordBatch {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(4_000_000_000), None, Some(-7)]));
        let b: ArrayRef = Arc::new(Int8Array::from(vec![100, 27, -128]));
        RecordBatch::try_from_iter([("a", a), ("b", b)]).unwrap()
    }

    fn column(name: &str, index: usize) -> Arc<dyn PhysicalExpr> {
        Arc::new(Column::new(name, index))
    }

    fn constant(value: ScalarValue) -> Arc<dyn PhysicalExpr> {
        Arc::new(Literal::new(value))
    }

    fn evaluate(
        op: ArithmeticOp,
        l: Arc<dyn PhysicalExpr>,
        r: Arc<dyn PhysicalExpr>,
    ) -> Result<ArrayRef> {
        let batch = batch();
        CheckedInteger::new(op, l, r)
            .evaluate(&batch)?
            .into_array(batch.num_rows())
    }

    #[test]
    fn answers_as_datafusion_does_where_nothing_overflows() {
        let batch = batch();
        for op in [ArithmeticOp::Add, ArithmeticOp::Sub, ArithmeticOp::Mul] {
            let l = column("a", 0);
            let r = constant(ScalarValue::Int64(Some(1_000_000)));
            let wrapping = BinaryExpr::new(Arc::clone(&l), op.operator(), Arc::clone(&r))
                .evaluate(&batch)
                .unwrap()
                .into_array(3)
                .unwrap();
            assert_eq!(&evaluate(op, l, r).unwrap(), &wrapping, "{}", op.symbol());
        }
    }

    #[test]
    fn an_overflow_names_the_operation_type_and_values() {
        let err = evaluate(
            ArithmeticOp::Mul,
            column("a", 0),
            constant(ScalarValue::Int64(Some(4_000_000_000))),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Arrow error: Arithmetic overflow: Overflow in multiplication of BIGINT \
             (4000000000 * 4000000000)"
        );
        let err = evaluate(
            ArithmeticOp::Sub,
            column("b", 1),
            constant(ScalarValue::Int8(Some(1))),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("subtraction of TINYINT (-128 - 1)"),
            "{err}"
        );
    }

    #[test]
    fn constants_are_checked_through_casts_and_nesting() {
        let lit = |v: i64| Expr::Literal(ScalarValue::Int64(Some(v)), None);
        let tiny = |v: i64| Expr::Cast(Cast::new(Box::new(lit(v)), DataType::Int8));
        assert_eq!(
            constant_integer(&(tiny(10) * tiny(12))).unwrap(),
            Some(ScalarValue::Int8(Some(120)))
        );
        let err = constant_integer(&(tiny(10) * tiny(20))).unwrap_err();
        assert!(
            err.to_string()
                .contains("multiplication of TINYINT (10 * 20)"),
            "{err}"
        );
        let err = constant_integer(&((lit(i64::MAX) - lit(1)) + lit(2))).unwrap_err();
        assert!(err.to_string().contains("addition of BIGINT"), "{err}");
        // Not integer arithmetic on constants: no value, no error.
        let column = Expr::Column("x".into());
        assert_eq!(constant_integer(&(column + lit(i64::MAX))).unwrap(), None);
        let double = Expr::Literal(ScalarValue::Float64(Some(1e300)), None);
        assert_eq!(constant_integer(&(double.clone() * double)).unwrap(), None);
    }
}
