//! DuckDB's `list_transform(list, lambda x[, i]: body)` and `list_filter(list, lambda x[, i]:
//! cond)` (with their aliases `array_transform`, `list_apply`, `array_apply`, `apply`,
//! `array_filter`, `filter`). DataFusion's own `array_transform` and `array_filter` give the
//! lambda the element only; DuckDB also passes the element's 1-based position `i`, which
//! scripts use to weight or pick elements by place.
//!
//! The lambda runs once over every element of the batch's lists: the elements form one array,
//! positions another, and the lambda's captured columns are repeated once per element of their
//! row. Elements behind a NULL list are never shown to the lambda (it could fail on them), and
//! a NULL list stays NULL. `list_filter` keeps the elements whose condition is true; NULL
//! counts as false, and a non-boolean answer is cast to BOOLEAN, as DuckDB casts it.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, GenericListArray, Int64Array, OffsetSizeTrait,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::kernels::cast::{CastOptions, cast, cast_with_options};
use datafusion::arrow::compute::{filter, prep_null_mask_filter, take_arrays};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::utils::{
    list_values, list_values_row_number, remove_list_null_values, take_function_args,
};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, HigherOrderFunctionArgs, HigherOrderReturnFieldArgs, HigherOrderSignature,
    HigherOrderUDFImpl, LambdaArgument, LambdaParametersProgress, ValueOrLambda, Volatility,
};

use super::types::sql_type_name;

/// What a list lambda function does with the lambda's answers.
#[derive(Debug, PartialEq, Eq, Hash, Clone, Copy)]
enum Kind {
    /// Each element becomes the lambda's answer.
    Transform,
    /// Each element stays where the lambda's answer is true.
    Filter,
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListLambda {
    kind: Kind,
    name: &'static str,
    signature: HigherOrderSignature,
    aliases: Vec<String>,
}

impl ListLambda {
    pub fn transform() -> Self {
        Self::new(
            Kind::Transform,
            "list_transform",
            &["array_transform", "list_apply", "array_apply", "apply"],
        )
    }

    pub fn filter() -> Self {
        Self::new(Kind::Filter, "list_filter", &["array_filter", "filter"])
    }

    fn new(kind: Kind, name: &'static str, aliases: &[&str]) -> Self {
        ListLambda {
            kind,
            name,
            signature: HigherOrderSignature::user_defined(Volatility::Immutable),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// The list and lambda of a call, refusing any other shape.
    fn list_and_lambda<'a, V: std::fmt::Debug, L: std::fmt::Debug>(
        &self,
        args: &'a [ValueOrLambda<V, L>],
    ) -> Result<(&'a V, &'a L)> {
        match take_function_args(self.name, args)? {
            [ValueOrLambda::Value(list), ValueOrLambda::Lambda(lambda)] => Ok((list, lambda)),
            _ => plan_err!("{} takes a list, then a lambda", self.name),
        }
    }
}

impl HigherOrderUDFImpl for ListLambda {
    fn name(&self) -> &str {
        self.name
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &HigherOrderSignature {
        &self.signature
    }

    /// Fixed-size lists (embeddings) become plain lists; a NULL becomes a NULL list.
    fn coerce_value_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [list] = arg_types else {
            return plan_err!("{} takes a list, then a lambda", self.name);
        };
        let list = match list {
            DataType::List(_) | DataType::LargeList(_) => list.clone(),
            DataType::FixedSizeList(element, _) => DataType::List(Arc::clone(element)),
            DataType::Null => DataType::new_list(DataType::Null, true),
            other => {
                return plan_err!("{} takes a list, not {}", self.name, sql_type_name(other));
            }
        };
        Ok(vec![list])
    }

    /// The element, then its 1-based position.
    fn lambda_parameters(
        &self,
        _step: usize,
        fields: &[ValueOrLambda<FieldRef, Option<FieldRef>>],
    ) -> Result<LambdaParametersProgress> {
        let (list, _) = self.list_and_lambda(fields)?;
        let element = match list.data_type() {
            DataType::List(element) | DataType::LargeList(element) => Arc::clone(element),
            other => return plan_err!("{} takes a list, not {}", self.name, sql_type_name(other)),
        };
        let position = Arc::new(Field::new("", DataType::Int64, false));
        Ok(LambdaParametersProgress::Complete(vec![vec![
            element, position,
        ]]))
    }

    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> Result<FieldRef> {
        let (list, lambda) = self.list_and_lambda(args.arg_fields)?;
        let element = match self.kind {
            Kind::Transform => Arc::new(Field::new_list_field(lambda.data_type().clone(), true)),
            Kind::Filter => match list.data_type() {
                DataType::List(element) | DataType::LargeList(element) => Arc::clone(element),
                other => unreachable!("coerce_value_types made {other} a list"),
            },
        };
        let list_type = match list.data_type() {
            DataType::LargeList(_) => DataType::LargeList(element),
            _ => DataType::List(element),
        };
        Ok(Arc::new(Field::new("", list_type, true)))
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> Result<ColumnarValue> {
        let (list, lambda) = self.list_and_lambda(&args.args)?;
        let list = list.to_array(args.number_rows)?;
        if list.null_count() == list.len() {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_new_null(
                args.return_type(),
            )?));
        }
        let list = remove_list_null_values(&list)?;
        let answer = match list.data_type() {
            DataType::List(_) => self.apply(list.as_list::<i32>(), lambda, args.return_type())?,
            DataType::LargeList(_) => {
                self.apply(list.as_list::<i64>(), lambda, args.return_type())?
            }
            other => return exec_err!("{} over {}", self.name, sql_type_name(other)),
        };
        Ok(ColumnarValue::Array(answer))
    }
}

impl ListLambda {
    /// Runs `lambda` over the elements of `list`, whose NULL lists hold no elements, and
    /// builds the answer's lists.
    fn apply<O: OffsetSizeTrait>(
        &self,
        list: &GenericListArray<O>,
        lambda: &LambdaArgument,
        answer_type: &DataType,
    ) -> Result<ArrayRef> {
        let elements = list_values(list)?;
        let lengths: Vec<usize> = list.offsets().lengths().collect();
        let positions = || -> Result<ArrayRef> {
            let positions = lengths.iter().flat_map(|&n| 1..=n as i64);
            Ok(Arc::new(Int64Array::from_iter_values(positions)))
        };
        let answers = lambda
            .evaluate(&[&|| Ok(Arc::clone(&elements)), &positions], |captured| {
                let rows = list_values_row_number(list)?;
                Ok(take_arrays(captured, &rows, None)?)
            })?
            .into_array(elements.len())?;
        let (DataType::List(element) | DataType::LargeList(element)) = answer_type else {
            return exec_err!("{} answers a list, not {answer_type}", self.name);
        };
        let (values, lengths) = match self.kind {
            Kind::Transform => (cast(&answers, element.data_type())?, lengths),
            Kind::Filter => {
                // A text that reads as no boolean fails, as in DuckDB, rather than dropping.
                let strict = CastOptions {
                    safe: false,
                    ..Default::default()
                };
                let keep = cast_with_options(&answers, &DataType::Boolean, &strict)?;
                let keep = match keep.null_count() {
                    0 => keep.as_boolean().clone(),
                    _ => prep_null_mask_filter(keep.as_boolean()),
                };
                let mut start = 0;
                let kept = lengths
                    .iter()
                    .map(|&n| {
                        let row = keep.slice(start, n).true_count();
                        start += n;
                        row
                    })
                    .collect();
                (filter(&elements, &keep)?, kept)
            }
        };
        Ok(Arc::new(GenericListArray::<O>::try_new(
            Arc::clone(element),
            OffsetBuffer::from_lengths(lengths),
            values,
            list.nulls().cloned(),
        )?))
    }
}
