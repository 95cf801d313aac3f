//! `column = 'text'` over a string-view column by comparing views, not strings.
//!
//! DataFusion reads Parquet strings as views: 16 bytes a row holding the length and, for up to
//! 12 bytes, the whole string, else its first 4 bytes and where the rest lies. Arrow's equality
//! kernel takes each row through a general comparison with several branches; in TPC-H Q19 the
//! tests of `l_shipmode` and `l_shipinstruct` were a fifth of the query's samples.
//! [`ViewEquals`] compares each view with the constant's own view: the whole 16 bytes for a
//! constant of up to 12 bytes (a string that short is stored in the view, zero-padded, so equal
//! strings have equal views), else the length and first 4 bytes, reading the rest only for rows
//! that match those. [`StringViewEquality`], run after DataFusion's physical rules, puts it
//! where a string-view column is compared (`=`, `<>`) with a constant.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::builder::make_view;
use datafusion::arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, Operator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;

/// `column = constant` (or `<>` when `negated`) over a string-view column.
#[derive(Debug, Eq)]
pub struct ViewEquals {
    column: Arc<dyn PhysicalExpr>,
    constant: String,
    negated: bool,
}

// By hand: deriving these for `Arc<dyn PhysicalExpr>` fields does not compile
// (rust-lang/rust#78808), as DataFusion's own expressions note.
impl PartialEq for ViewEquals {
    fn eq(&self, other: &Self) -> bool {
        self.column.eq(&other.column)
            && self.constant == other.constant
            && self.negated == other.negated
    }
}

impl Hash for ViewEquals {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.column.hash(state);
        self.constant.hash(state);
        self.negated.hash(state);
    }
}

impl ViewEquals {
    pub fn new(column: Arc<dyn PhysicalExpr>, constant: String, negated: bool) -> Self {
        ViewEquals {
            column,
            constant,
            negated,
        }
    }

    pub fn constant(&self) -> &str {
        &self.constant
    }

    pub fn negated(&self) -> bool {
        self.negated
    }

    fn operator(&self) -> &'static str {
        if self.negated { "<>" } else { "=" }
    }
}

impl fmt::Display for ViewEquals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.column, self.operator(), self.constant)
    }
}

impl PhysicalExpr for ViewEquals {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.column.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let array = match self.column.evaluate(batch)? {
            ColumnarValue::Array(array) => array,
            ColumnarValue::Scalar(value) => {
                let equal = match value {
                    ScalarValue::Utf8View(v) | ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) => {
                        v.map(|v| (v == self.constant) != self.negated)
                    }
                    other => {
                        return Err(DataFusionError::Internal(format!(
                            "ViewEquals over {}, not a string",
                            other.data_type()
                        )));
                    }
                };
                return Ok(ColumnarValue::Scalar(ScalarValue::Boolean(equal)));
            }
        };
        let strings = array.as_string_view_opt().ok_or_else(|| {
            DataFusionError::Internal(format!(
                "ViewEquals over {}, not Utf8View",
                array.data_type()
            ))
        })?;
        let views = strings.views();
        let target = make_view(self.constant.as_bytes(), 0, 0);
        let bits = if self.constant.len() <= 12 {
            BooleanBuffer::collect_bool(views.len(), |i| (views[i] == target) != self.negated)
        } else {
            // The length and the first 4 bytes, then the whole string where those match.
            let head = target as u64;
            BooleanBuffer::collect_bool(views.len(), |i| {
                let equal = views[i] as u64 == head && strings.value(i) == self.constant;
                equal != self.negated
            })
        };
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::new(
            bits,
            strings.nulls().cloned(),
        ))))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.column]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let [column] = <[_; 1]>::try_from(children).map_err(|c| {
            DataFusionError::Internal(format!("ViewEquals takes one child, not {}", c.len()))
        })?;
        Ok(Arc::new(ViewEquals::new(
            column,
            self.constant.clone(),
            self.negated,
        )))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.column.fmt_sql(f)?;
        let quoted = self.constant.replace('\'', "''");
        write!(f, " {} '{quoted}'", self.operator())
    }
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct StringViewEquality;

impl PhysicalOptimizerRule for StringViewEquality {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        super::expressions::rewrite_row_expressions(plan, compare_views)
    }

    fn name(&self) -> &str {
        "tarn_string_view_equality"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `expr` with each `=` / `<>` between a string-view column and a constant comparing views.
fn compare_views(
    expr: &Arc<dyn PhysicalExpr>,
    schema: &Schema,
) -> Result<Transformed<Arc<dyn PhysicalExpr>>> {
    Arc::clone(expr).transform_up(|expr| {
        let Some(binary) = expr.downcast_ref::<BinaryExpr>() else {
            return Ok(Transformed::no(expr));
        };
        let negated = match binary.op() {
            Operator::Eq => false,
            Operator::NotEq => true,
            _ => return Ok(Transformed::no(expr)),
        };
        let (left, right) = (binary.left(), binary.right());
        let Some((column, constant)) = view_column_and_constant(left, right, schema)?
            .or(view_column_and_constant(right, left, schema)?)
        else {
            return Ok(Transformed::no(expr));
        };
        let equals = ViewEquals::new(Arc::clone(column), constant, negated);
        Ok(Transformed::yes(Arc::new(equals) as Arc<dyn PhysicalExpr>))
    })
}

/// `column` and the text of `constant` when they are a string-view column and a non-null
/// string constant.
fn view_column_and_constant<'a>(
    column: &'a Arc<dyn PhysicalExpr>,
    constant: &Arc<dyn PhysicalExpr>,
    schema: &Schema,
) -> Result<Option<(&'a Arc<dyn PhysicalExpr>, String)>> {
    if column.downcast_ref::<Column>().is_none() || column.data_type(schema)? != DataType::Utf8View
    {
        return Ok(None);
    }
    let text = constant
        .downcast_ref::<Literal>()
        .and_then(|literal| match literal.value() {
            ScalarValue::Utf8View(Some(text))
            | ScalarValue::Utf8(Some(text))
            | ScalarValue::LargeUtf8(Some(text)) => Some(text.clone()),
            _ => None,
        });
    Ok(text.map(|text| (column, text)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringViewArray;
    use datafusion::arrow::datatypes::Field;
    use datafusion::physical_plan::filter::FilterExec;
    use datafusion::physical_plan::test::TestMemoryExec;

    fn batch() -> RecordBatch {
        // Inline and out-of-line strings, strings sharing a length and first bytes with the
        // constants, the empty string and nulls.
        let words = [
            "AIR",
            "AIR REG",
            "AIR REF",
            "",
            "DELIVER IN PERSON",
            "DELIVER IN PERSOn",
            "DELIVER IN PERSON!",
            "twelve bytes",
            "twelve byteS",
            "thirteen byte",
        ];
        let texts: StringViewArray = (0..300)
            .map(|i| (i % 11 != 10).then(|| words[i % words.len()]))
            .collect();
        let plain: datafusion::arrow::array::StringArray =
            (0..300).map(|i| Some(words[i % words.len()])).collect();
        let schema = Schema::new(vec![
            Field::new("s", DataType::Utf8View, true),
            Field::new("p", DataType::Utf8, true),
        ]);
        RecordBatch::try_new(Arc::new(schema), vec![Arc::new(texts), Arc::new(plain)]).unwrap()
    }

    fn compare(
        column: &str,
        op: Operator,
        text: &str,
        batch: &RecordBatch,
    ) -> Arc<dyn PhysicalExpr> {
        let index = batch.schema().index_of(column).unwrap();
        let data_type = batch.schema().field(index).data_type().clone();
        let constant = match data_type {
            DataType::Utf8View => ScalarValue::Utf8View(Some(text.into())),
            _ => ScalarValue::Utf8(Some(text.into())),
        };
        Arc::new(BinaryExpr::new(
            Arc::new(Column::new(column, index)),
            op,
            Arc::new(Literal::new(constant)),
        ))
    }

    #[test]
    fn view_equality_answers_as_arrow_does() {
        let batch = batch();
        let schema = batch.schema();
        for text in [
            "AIR",
            "AIR REG",
            "",
            "DELIVER IN PERSON",
            "twelve bytes",
            "thirteen byte",
            "absent",
        ] {
            for op in [Operator::Eq, Operator::NotEq] {
                let expected = compare("s", op, text, &batch).evaluate(&batch).unwrap();
                let rewritten = compare_views(&compare("s", op, text, &batch), &schema).unwrap();
                assert!(rewritten.transformed, "{op} '{text}'");
                let views = rewritten.data.downcast_ref::<ViewEquals>().unwrap();
                let got = views.evaluate(&batch).unwrap();
                let (expected, got) = (
                    expected.into_array(300).unwrap(),
                    got.into_array(300).unwrap(),
                );
                assert_eq!(expected.as_boolean(), got.as_boolean(), "{op} '{text}'");
            }
        }
    }

    #[test]
    fn only_string_view_columns_against_constants_compare_views() {
        let batch = batch();
        let schema = batch.schema();
        let plain = compare("p", Operator::Eq, "AIR", &batch);
        assert!(
            !compare_views(&plain, &schema).unwrap().transformed,
            "Utf8 keeps Arrow's kernel"
        );
        let two_columns: Arc<dyn PhysicalExpr> = Arc::new(BinaryExpr::new(
            Arc::new(Column::new("s", 0)),
            Operator::Eq,
            Arc::new(Column::new("s", 0)),
        ));
        assert!(!compare_views(&two_columns, &schema).unwrap().transformed);
        // Inside a filter's predicate, on either side of the comparison.
        let reversed: Arc<dyn PhysicalExpr> = Arc::new(BinaryExpr::new(
            Arc::new(Literal::new(ScalarValue::Utf8View(Some("AIR".into())))),
            Operator::NotEq,
            Arc::new(Column::new("s", 0)),
        ));
        let input = TestMemoryExec::try_new_exec(&[vec![batch.clone()]], schema, None).unwrap();
        let filter = Arc::new(FilterExec::try_new(reversed, input).unwrap());
        let optimized = StringViewEquality
            .optimize(filter, &ConfigOptions::default())
            .unwrap();
        let filter = optimized.downcast_ref::<FilterExec>().unwrap();
        let equals = filter.predicate().downcast_ref::<ViewEquals>().unwrap();
        assert!(equals.negated() && equals.constant() == "AIR");
    }
}
