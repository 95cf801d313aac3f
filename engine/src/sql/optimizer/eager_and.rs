//! Evaluates a filter's cheap conditions on every row, not on the rows earlier ones kept.
//!
//! DataFusion evaluates `a AND b` with `b` on only the rows `a` kept whenever `a` kept a fifth
//! of them or fewer: it copies those rows (every column of the batch) out, evaluates `b`, and
//! scatters the answer back one bit at a time. For a costly `b` (a string pattern) that pays.
//! For a comparison of a number or date column with a constant it costs several times the
//! comparison: in TPC-H Q6 at SF10 the scatter alone took a tenth of the query and the copying
//! about as much again. [`EagerAnd`] evaluates both sides on the whole batch and combines them as
//! SQL does (`and_kleene`), which gives the same answer, since such a comparison cannot fail;
//! [`EagerConjunction`], run after DataFusion's physical rules, puts it in each `FilterExec`
//! whose `AND` has such a comparison on its right (a column against a constant or against
//! another number or date column, as Q12's `l_commitdate < l_receiptdate`), or an `AND`/`OR`
//! of those (Q19's ranges of `l_quantity`). A string equality stays with pre-selection: on
//! every row it cost more than copying the few rows earlier conditions kept (Q12's
//! `l_shipmode = 'MAIL' OR l_shipmode = 'SHIP'` after its dates keep 4%: 1.3x the time).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::kernels::boolean::and_kleene;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::{ColumnarValue, Operator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};

/// `left AND right` with both sides evaluated on every row of the batch.
#[derive(Debug, Eq)]
pub struct EagerAnd {
    left: Arc<dyn PhysicalExpr>,
    right: Arc<dyn PhysicalExpr>,
}

// By hand: deriving these for `Arc<dyn PhysicalExpr>` fields does not compile
// (rust-lang/rust#78808), as DataFusion's own expressions note.
impl PartialEq for EagerAnd {
    fn eq(&self, other: &Self) -> bool {
        self.left.eq(&other.left) && self.right.eq(&other.right)
    }
}

impl Hash for EagerAnd {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.left.hash(state);
        self.right.hash(state);
    }
}

impl EagerAnd {
    pub fn new(left: Arc<dyn PhysicalExpr>, right: Arc<dyn PhysicalExpr>) -> Self {
        EagerAnd { left, right }
    }
}

impl fmt::Display for EagerAnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_side(f, &self.left, false)?;
        write!(f, " AND ")?;
        write_side(f, &self.right, false)
    }
}

/// One side of the `AND` as text (as SQL when `sql`), in parentheses when it is an `OR`.
fn write_side(f: &mut fmt::Formatter<'_>, side: &Arc<dyn PhysicalExpr>, sql: bool) -> fmt::Result {
    let or = side
        .downcast_ref::<BinaryExpr>()
        .is_some_and(|binary| *binary.op() == Operator::Or);
    if or {
        write!(f, "(")?;
    }
    if sql {
        side.fmt_sql(f)?;
    } else {
        write!(f, "{side}")?;
    }
    if or {
        write!(f, ")")?;
    }
    Ok(())
}

impl PhysicalExpr for EagerAnd {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        Ok(self.left.nullable(input_schema)? || self.right.nullable(input_schema)?)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let rows = batch.num_rows();
        let left = self.left.evaluate(batch)?.into_array(rows)?;
        let left = left.as_boolean();
        // Every row already false: the right side cannot change that.
        if left.null_count() == 0 && !left.has_true() {
            return Ok(ColumnarValue::Array(Arc::new(left.clone())));
        }
        let right = self.right.evaluate(batch)?.into_array(rows)?;
        Ok(ColumnarValue::Array(Arc::new(and_kleene(
            left,
            right.as_boolean(),
        )?)))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.left, &self.right]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let [left, right] = super::two_children("EagerAnd", children)?;
        Ok(Arc::new(EagerAnd::new(left, right)))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_side(f, &self.left, true)?;
        write!(f, " AND ")?;
        write_side(f, &self.right, true)
    }
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct EagerConjunction;

impl PhysicalOptimizerRule for EagerConjunction {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(filter) = node.downcast_ref::<FilterExec>() else {
                return Ok(Transformed::no(node));
            };
            let schema = filter.input().schema();
            let predicate = Arc::clone(filter.predicate()).transform_up(|expr| {
                let Some(and) = expr.downcast_ref::<BinaryExpr>() else {
                    return Ok(Transformed::no(expr));
                };
                if *and.op() != Operator::And || !is_cheap(and.right(), &schema)? {
                    return Ok(Transformed::no(expr));
                }
                let eager = EagerAnd::new(Arc::clone(and.left()), Arc::clone(and.right()));
                Ok(Transformed::yes(Arc::new(eager) as Arc<dyn PhysicalExpr>))
            })?;
            if !predicate.transformed {
                return Ok(Transformed::no(node));
            }
            let rebuilt = FilterExecBuilder::from(filter)
                .with_predicate(predicate.data)
                .build()?;
            Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>))
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "tarn_eager_conjunction"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Whether `expr` is a few instructions per row that never fail: a number or date column
/// compared with a constant or with another such column, or an `AND` / `OR` of those.
fn is_cheap(expr: &Arc<dyn PhysicalExpr>, schema: &Schema) -> Result<bool> {
    let Some(binary) = expr.downcast_ref::<BinaryExpr>() else {
        return Ok(false);
    };
    let (left, right) = (binary.left(), binary.right());
    match binary.op() {
        Operator::And | Operator::Or => Ok(is_cheap(left, schema)? && is_cheap(right, schema)?),
        Operator::Eq
        | Operator::NotEq
        | Operator::Lt
        | Operator::LtEq
        | Operator::Gt
        | Operator::GtEq => {
            let fixed_width = |side: &Arc<dyn PhysicalExpr>| -> Result<bool> {
                if side.downcast_ref::<Literal>().is_some() {
                    return Ok(true);
                }
                let data_type = side.data_type(schema)?;
                Ok(side.downcast_ref::<Column>().is_some()
                    && (data_type.is_numeric() || data_type.is_temporal()))
            };
            let one_column =
                left.downcast_ref::<Column>().is_some() || right.downcast_ref::<Column>().is_some();
            Ok(one_column && fixed_width(left)? && fixed_width(right)?)
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int32Array;
    use datafusion::arrow::datatypes::Field;
    use datafusion::common::ScalarValue;
    use datafusion::physical_plan::test::TestMemoryExec;

    fn schema() -> Arc<Schema> {
        Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("b", DataType::Int32, true),
            Field::new("s", DataType::Utf8, true),
        ]))
    }

    fn compare(column: &str, op: Operator, value: i32) -> Arc<dyn PhysicalExpr> {
        let index = schema().index_of(column).unwrap();
        Arc::new(BinaryExpr::new(
            Arc::new(Column::new(column, index)),
            op,
            Arc::new(Literal::new(ScalarValue::Int32(Some(value)))),
        ))
    }

    fn and(left: Arc<dyn PhysicalExpr>, right: Arc<dyn PhysicalExpr>) -> Arc<dyn PhysicalExpr> {
        Arc::new(BinaryExpr::new(left, Operator::And, right))
    }

    #[test]
    fn eager_and_answers_as_the_short_circuit_and_does() {
        // 1000 rows with nulls on both sides; `a < k` keeps from none to all of them, so
        // DataFusion's AND takes each of its paths (all false, pre-selection, plain).
        let a: Int32Array = (0..1000).map(|i| (i % 7 != 0).then_some(i)).collect();
        let b: Int32Array = (0..1000)
            .map(|i| (i % 5 != 0).then_some((i * 37) % 100))
            .collect();
        let s = datafusion::arrow::array::StringArray::from(vec![Some("x"); 1000]);
        let batch =
            RecordBatch::try_new(schema(), vec![Arc::new(a), Arc::new(b), Arc::new(s)]).unwrap();
        for k in [0, 1, 50, 150, 400, 1000] {
            let (left, right) = (
                compare("a", Operator::Lt, k),
                compare("b", Operator::GtEq, 30),
            );
            let expected = and(Arc::clone(&left), Arc::clone(&right))
                .evaluate(&batch)
                .unwrap();
            let eager = EagerAnd::new(left, right).evaluate(&batch).unwrap();
            let (expected, eager) = (
                expected.into_array(1000).unwrap(),
                eager.into_array(1000).unwrap(),
            );
            assert_eq!(
                expected.as_boolean(),
                eager.as_boolean(),
                "a < {k} AND b >= 30"
            );
        }
    }

    #[test]
    fn only_ands_with_a_cheap_comparison_on_the_right_become_eager() {
        let like: Arc<dyn PhysicalExpr> = Arc::new(BinaryExpr::new(
            Arc::new(Column::new("s", 2)),
            Operator::LikeMatch,
            Arc::new(Literal::new(ScalarValue::Utf8(Some("%x%".into())))),
        ));
        // ((a >= 1 AND a < 9) AND s LIKE '%x%') AND b = 3
        let predicate = and(
            and(
                and(
                    compare("a", Operator::GtEq, 1),
                    compare("a", Operator::Lt, 9),
                ),
                like,
            ),
            compare("b", Operator::Eq, 3),
        );
        let input = TestMemoryExec::try_new_exec(&[vec![]], schema(), None).unwrap();
        let filter = Arc::new(FilterExec::try_new(predicate, input).unwrap());
        let optimized = EagerConjunction
            .optimize(filter, &ConfigOptions::default())
            .unwrap();
        let filter = optimized.downcast_ref::<FilterExec>().unwrap();
        let top = filter
            .predicate()
            .downcast_ref::<EagerAnd>()
            .expect("b = 3 is cheap");
        let middle = top.left.downcast_ref::<BinaryExpr>().expect("LIKE is not");
        assert_eq!(*middle.op(), Operator::And);
        assert!(
            middle.left().downcast_ref::<EagerAnd>().is_some(),
            "a < 9 is cheap"
        );
    }

    #[test]
    fn ors_of_cheap_comparisons_are_cheap_and_string_tests_are_not() {
        let text = |value: &str| -> Arc<dyn PhysicalExpr> {
            Arc::new(BinaryExpr::new(
                Arc::new(Column::new("s", 2)),
                Operator::Eq,
                Arc::new(Literal::new(ScalarValue::Utf8(Some(value.into())))),
            ))
        };
        let or = |l, r| -> Arc<dyn PhysicalExpr> { Arc::new(BinaryExpr::new(l, Operator::Or, r)) };
        let range = |low, high| {
            and(
                compare("a", Operator::GtEq, low),
                compare("a", Operator::Lt, high),
            )
        };
        let schema = schema();
        let cheap = |expr: &Arc<dyn PhysicalExpr>| is_cheap(expr, &schema).unwrap();
        assert!(cheap(&or(range(1, 11), range(20, 30))));
        assert!(!cheap(&text("AIR")));
        assert!(!cheap(&or(range(1, 11), text("AIR"))));
        let shown = EagerAnd::new(text("AIR"), or(range(1, 11), range(20, 30))).to_string();
        assert!(
            shown.ends_with(" AND (a@0 >= 1 AND a@0 < 11 OR a@0 >= 20 AND a@0 < 30)"),
            "{shown}"
        );
    }
}
