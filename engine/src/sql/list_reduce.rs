//! DuckDB's `list_reduce(list, lambda acc, x[, i]: body[, initial])` (also `array_reduce`,
//! `reduce`): folds each list left to right, `acc` starting at the first element (or at
//! `initial`, when given), `x` the next element and `i` its 1-based position. A NULL list gives
//! NULL; an empty one gives `initial`, or fails as DuckDB does when there is none.
//!
//! The fold runs a step per element position over every list still that long, so the lambda
//! is evaluated once per element in all, each time over a batch of rows. The accumulator keeps
//! the lists' element type (unified with `initial`'s): each step's answer is cast back to it.
//! DuckDB widens it once to the lambda's type, so where the lambda changes the type (a DECIMAL
//! sum gaining a digit, an integer times a DECIMAL) the answer's type, and its rounding, can
//! differ from DuckDB's.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, GenericListArray, Int64Array, OffsetSizeTrait, UInt32Array,
    new_null_array,
};
use datafusion::arrow::compute::{cast, interleave, take, take_arrays};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::type_coercion::binary::type_union_resolution;
use datafusion::logical_expr::{
    ColumnarValue, HigherOrderFunctionArgs, HigherOrderReturnFieldArgs, HigherOrderSignature,
    HigherOrderUDFImpl, LambdaArgument, LambdaParametersProgress, ValueOrLambda, Volatility,
};

use super::text_functions::is_text;
use super::types::sql_type_name;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListReduce {
    signature: HigherOrderSignature,
    aliases: Vec<String>,
}

impl ListReduce {
    pub fn new() -> Self {
        ListReduce {
            signature: HigherOrderSignature::user_defined(Volatility::Immutable),
            aliases: vec!["array_reduce".to_string(), "reduce".to_string()],
        }
    }
}

/// The element type of a list type.
fn element_type(list: &DataType) -> Option<&DataType> {
    match list {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            Some(f.data_type())
        }
        _ => None,
    }
}

impl HigherOrderUDFImpl for ListReduce {
    fn name(&self) -> &str {
        "list_reduce"
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &HigherOrderSignature {
        &self.signature
    }

    /// The list becomes a `List` of its elements' type unified with `initial`'s, and `initial`
    /// that type.
    fn coerce_value_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (list, initial) = match arg_types {
            [list] => (list, None),
            [list, initial] => (list, Some(initial)),
            _ => {
                return plan_err!(
                    "list_reduce takes a list, a lambda and an optional initial value"
                );
            }
        };
        let element = match list {
            DataType::Null => DataType::Null,
            other => match element_type(other) {
                Some(element) => element.clone(),
                None => {
                    return plan_err!("list_reduce takes a list, not {}", sql_type_name(list));
                }
            },
        };
        let Some(initial) = initial else {
            return Ok(vec![DataType::new_list(element, true)]);
        };
        let unified = common_type(&element, initial, "initial value")?;
        Ok(vec![DataType::new_list(unified.clone(), true), unified])
    }

    fn lambda_parameters(
        &self,
        _step: usize,
        fields: &[ValueOrLambda<FieldRef, Option<FieldRef>>],
    ) -> Result<LambdaParametersProgress> {
        let Some(ValueOrLambda::Value(list)) = fields.first() else {
            return plan_err!("list_reduce takes a list first");
        };
        let element = element_type(list.data_type())
            .cloned()
            .unwrap_or(DataType::Null);
        let element = Arc::new(Field::new("", element, true));
        let position = Arc::new(Field::new("", DataType::Int64, false));
        Ok(LambdaParametersProgress::Complete(vec![vec![
            Arc::clone(&element),
            element,
            position,
        ]]))
    }

    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> Result<FieldRef> {
        let (list, lambda) = match args.arg_fields {
            [
                ValueOrLambda::Value(list),
                ValueOrLambda::Lambda(lambda),
                ..,
            ] => (list, lambda),
            _ => return plan_err!("list_reduce takes a list, then a lambda"),
        };
        let element = element_type(list.data_type())
            .cloned()
            .unwrap_or(DataType::Null);
        common_type(&element, lambda.data_type(), "lambda return type")?;
        Ok(Arc::new(Field::new("", element, true)))
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let (list, lambda, initial) = match args.args.as_slice() {
            [ValueOrLambda::Value(list), ValueOrLambda::Lambda(lambda)] => (list, lambda, None),
            [
                ValueOrLambda::Value(list),
                ValueOrLambda::Lambda(lambda),
                ValueOrLambda::Value(initial),
            ] => (list, lambda, Some(initial.to_array(rows)?)),
            _ => {
                return plan_err!(
                    "list_reduce takes a list, a lambda and an optional initial value"
                );
            }
        };
        let list = list.to_array(rows)?;
        let answer = reduce(&list, lambda, initial, args.return_type())?;
        Ok(ColumnarValue::Array(answer))
    }
}

/// The type both `element` and `other` become, refusing to mix text with other types as
/// DuckDB does.
fn common_type(element: &DataType, other: &DataType, what: &str) -> Result<DataType> {
    let refuse = || {
        plan_err!(
            "No common super type between list element type {} and {what} {}",
            sql_type_name(element),
            sql_type_name(other)
        )
    };
    if element.is_null() {
        return Ok(other.clone());
    }
    if other.is_null() {
        return Ok(element.clone());
    }
    if is_text(element) != is_text(other) {
        return refuse();
    }
    match type_union_resolution(&[element.clone(), other.clone()]) {
        Some(unified) => Ok(unified),
        None => refuse(),
    }
}

/// A list array's elements, and each row's start offset and length among them.
fn bounds(list: &dyn Array) -> Result<(ArrayRef, Vec<(usize, usize)>)> {
    fn spans<O: OffsetSizeTrait>(list: &GenericListArray<O>) -> (ArrayRef, Vec<(usize, usize)>) {
        let spans = list
            .value_offsets()
            .windows(2)
            .map(|w| (w[0].as_usize(), (w[1] - w[0]).as_usize()))
            .collect();
        (Arc::clone(list.values()), spans)
    }
    Ok(match list.data_type() {
        DataType::List(_) => spans(list.as_list::<i32>()),
        DataType::LargeList(_) => spans(list.as_list::<i64>()),
        DataType::Null => (new_null_array(&DataType::Null, 0), vec![(0, 0); list.len()]),
        other => return exec_err!("list_reduce over {}", sql_type_name(other)),
    })
}

/// Folds every list of `list` with `lambda`; see the module documentation.
fn reduce(
    list: &ArrayRef,
    lambda: &LambdaArgument,
    initial: Option<ArrayRef>,
    element: &DataType,
) -> Result<ArrayRef> {
    let (values, spans) = bounds(list.as_ref())?;
    let values = cast(&values, element)?;
    let live = |row: usize| list.is_valid(row);
    // The rows still folding, and their accumulators (aligned with them).
    let mut active: Vec<u32> = Vec::new();
    let mut first_position = 0;
    let mut accumulators = match initial {
        Some(initial) => {
            active.extend((0..list.len() as u32).filter(|&r| live(r as usize)));
            take(
                &cast(&initial, element)?,
                &UInt32Array::from(active.clone()),
                None,
            )?
        }
        None => {
            if let Some(row) = (0..list.len()).find(|&r| live(r) && spans[r].1 == 0) {
                return exec_err!(
                    "Cannot perform list_reduce on an empty input list (row {})",
                    row + 1
                );
            }
            active.extend((0..list.len() as u32).filter(|&r| live(r as usize)));
            first_position = 1;
            let starts = active.iter().map(|&r| spans[r as usize].0 as u32);
            take(&values, &UInt32Array::from_iter_values(starts), None)?
        }
    };
    // Where each row's answer ends up: (0, NULL slot) for NULL lists, else (1 + finished
    // batch, index in it).
    let mut finished: Vec<ArrayRef> = Vec::new();
    let mut place: Vec<(usize, usize)> = vec![(0, 0); list.len()];
    let mut position = first_position;
    loop {
        // Rows whose lists end here take their accumulator as the answer.
        let (going, done): (Vec<usize>, Vec<usize>) =
            (0..active.len()).partition(|&i| spans[active[i] as usize].1 > position);
        if !done.is_empty() {
            for (k, &i) in done.iter().enumerate() {
                place[active[i] as usize] = (finished.len() + 1, k);
            }
            let indices = UInt32Array::from_iter_values(done.iter().map(|&i| i as u32));
            finished.push(take(&accumulators, &indices, None)?);
        }
        if going.is_empty() {
            break;
        }
        let keep = UInt32Array::from_iter_values(going.iter().map(|&i| i as u32));
        accumulators = take(&accumulators, &keep, None)?;
        active = going.iter().map(|&i| active[i]).collect();
        let rows = UInt32Array::from(active.clone());
        let next = UInt32Array::from_iter_values(
            active
                .iter()
                .map(|&r| (spans[r as usize].0 + position) as u32),
        );
        let elements = take(&values, &next, None)?;
        let positions: ArrayRef =
            Arc::new(Int64Array::from(vec![position as i64 + 1; active.len()]));
        let step = lambda
            .evaluate(
                &[
                    &|| Ok(Arc::clone(&accumulators)),
                    &|| Ok(Arc::clone(&elements)),
                    &|| Ok(Arc::clone(&positions)),
                ],
                |captured| Ok(take_arrays(captured, &rows, None)?),
            )?
            .into_array(active.len())?;
        accumulators = cast(&step, element)?;
        position += 1;
    }
    let nulls = new_null_array(element, 1);
    let sources: Vec<&dyn Array> = std::iter::once(nulls.as_ref())
        .chain(finished.iter().map(|a| a.as_ref()))
        .collect();
    Ok(interleave(&sources, &place)?)
}
