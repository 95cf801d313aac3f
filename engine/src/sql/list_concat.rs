//! Lists concatenated as in DuckDB.
//!
//! * `a || b` of two lists is NULL when either is, where DataFusion's planner makes it
//!   `array_concat(a, b)`, which reads a NULL list as an empty one: `NULL || [7]` was `[7]`
//!   ([`ListConcatenation`]).
//! * `list_concat(a, b, ...)` (`array_concat`, `list_cat`, `array_cat`), the function, skips a
//!   NULL list in both engines. [`ListConcat`] wraps DataFusion's so that a NULL without a type
//!   takes the lists' type (`list_concat([1.5], NULL)` failed: DataFusion cast the NULL to a
//!   DECIMAL) and NULL lists alone give an empty list, as in DuckDB, where DataFusion gave NULL;
//!   only NULLs without a type give NULL.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::functions_nested::concat::array_concat_udf;
use datafusion::functions_nested::expr_fn::array_concat;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility, lit, when,
};
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

/// DataFusion's `array_concat` with DuckDB's NULLs (see the module documentation).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListConcat {
    inner: Arc<ScalarUDF>,
    signature: Signature,
}

impl ListConcat {
    pub fn new() -> Self {
        ListConcat {
            inner: array_concat_udf(),
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ListConcat {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The lists as DataFusion's function takes them; a NULL without a type as the first of them.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let typed: Vec<DataType> = arg_types.iter().filter(|t| !t.is_null()).cloned().collect();
        if typed.is_empty() {
            return Ok(arg_types.to_vec());
        }
        let coerced = self.inner.coerce_types(&typed)?;
        let mut lists = coerced.iter();
        Ok(arg_types
            .iter()
            .map(|t| match t.is_null() {
                true => coerced[0].clone(),
                false => lists.next().expect("one type per typed argument").clone(),
            })
            .collect())
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let lists = self.inner.invoke_with_args(args)?;
        Ok(match lists {
            ColumnarValue::Array(array) => ColumnarValue::Array(nulls_as_empty(array)?),
            ColumnarValue::Scalar(value) => {
                let array = nulls_as_empty(value.to_array()?)?;
                ColumnarValue::Scalar(ScalarValue::try_from_array(&array, 0)?)
            }
        })
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// `lists` with each NULL an empty list. (A NULL row of the concatenation holds no elements.)
fn nulls_as_empty(lists: ArrayRef) -> Result<ArrayRef> {
    let Some(list) = lists.as_list_opt::<i32>() else {
        return Ok(lists);
    };
    if list.null_count() == 0 {
        return Ok(lists);
    }
    let (field, offsets, values, _) = list.clone().into_parts();
    Ok(Arc::new(ListArray::try_new(field, offsets, values, None)?))
}
