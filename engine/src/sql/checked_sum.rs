//! `sum`: DataFusion's own, but for a BIGINT, a UBIGINT (the types smaller integers are summed
//! as) or a DECIMAL, whose sums are Tarn's [`CheckedSum`] and, per group, [`CheckedSumGroups`].
//! DataFusion's wrap around silently when a sum overflows, answering a wrong number: 2^63 - 1
//! plus 1 summed to -2^63, two DECIMALs of 10^38 - 1 to -1.4 * 10^37. These stop with an Out
//! of Range Error instead, as DuckDB does for a DECIMAL (DuckDB sums integers as HUGEINT, which
//! holds those sums; Tarn keeps DataFusion's BIGINT result). Window frames and
//! `sum(DISTINCT ...)` keep DataFusion's.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, PrimitiveArray};
use datafusion::arrow::array::{ArrowNativeTypeOp, ArrowNumericType};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::sum_checked;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, FieldRef, Int64Type, UInt64Type};
use datafusion::arrow::error::ArrowError;
use datafusion::common::types::{NativeType, logical_boolean, logical_int64};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Coercion, Documentation, EmitTo, Expr,
    GroupsAccumulator, Operator, ReversedUDAF, SetMonotonicity, Signature, StatisticsArgs,
    TypeSignature, TypeSignatureClass,
};

use super::decimal_avg::selected;
use super::types::sql_type_name;

/// DataFusion's `sum`, with [`CheckedSum`] and [`CheckedSumGroups`] for the types that wrap.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DuckSum {
    inner: Arc<AggregateUDF>,
    /// DataFusion's, and a BOOLEAN summed as 1 for true, as DuckDB sums it: `sum(label = 1)`
    /// counts the matches (DataFusion refused it).
    signature: Signature,
}

impl DuckSum {
    pub fn new() -> Self {
        let inner = sum_udaf();
        let booleans = TypeSignature::Coercible(vec![Coercion::new_implicit(
            TypeSignatureClass::Native(logical_int64()),
            vec![TypeSignatureClass::Native(logical_boolean())],
            NativeType::Int64,
        )]);
        let signature = match &inner.signature().type_signature {
            TypeSignature::OneOf(types) => Signature::one_of(
                types.iter().cloned().chain([booleans]).collect(),
                inner.signature().volatility,
            ),
            _ => inner.signature().clone(),
        };
        DuckSum { inner, signature }
    }
}

impl Default for DuckSum {
    fn default() -> Self {
        Self::new()
    }
}

/// The type `args` sum when Tarn's accumulators sum it (no DISTINCT): the argument's.
fn checked_type(args: &AccumulatorArgs) -> Option<DataType> {
    let [field] = args.expr_fields else {
        return None;
    };
    let checked = matches!(
        field.data_type(),
        DataType::Int64 | DataType::UInt64 | DataType::Decimal128(_, _)
    );
    (checked && !args.is_distinct).then(|| field.data_type().clone())
}

/// A new `$accumulator::<T>(input, sum_type)` for the Arrow type `T` of `input`, a type
/// [`checked_type`] gives.
macro_rules! checked_accumulator {
    ($accumulator:ident, $input:expr, $sum_type:expr) => {
        match $input {
            DataType::Int64 => Box::new($accumulator::<Int64Type>::new($input, $sum_type)),
            DataType::UInt64 => Box::new($accumulator::<UInt64Type>::new($input, $sum_type)),
            _ => Box::new($accumulator::<Decimal128Type>::new($input, $sum_type)),
        }
    };
}

impl AggregateUDFImpl for DuckSum {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let Some(input) = checked_type(&args) else {
            return self.inner.accumulator(args);
        };
        let sum_type = args.return_field.data_type();
        let accumulator: Box<dyn Accumulator> = checked_accumulator!(CheckedSum, &input, sum_type);
        Ok(accumulator)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let Some(input) = checked_type(&args) else {
            return self.inner.create_groups_accumulator(args);
        };
        let sum_type = args.return_field.data_type();
        let accumulator: Box<dyn GroupsAccumulator> =
            checked_accumulator!(CheckedSumGroups, &input, sum_type);
        Ok(accumulator)
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.create_sliding_accumulator(args)
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        self.inner.reverse_udf()
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        self.inner.order_sensitivity()
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn set_monotonicity(&self, data_type: &DataType) -> SetMonotonicity {
        self.inner.inner().set_monotonicity(data_type)
    }

    fn simplify_expr_op_literal(
        &self,
        agg_function: &AggregateFunction,
        arg: &Expr,
        op: Operator,
        lit: &Expr,
        arg_is_left: bool,
    ) -> Result<Option<Expr>> {
        self.inner
            .simplify_expr_op_literal(agg_function, arg, op, lit, arg_is_left)
    }

    fn value_from_stats(&self, statistics_args: &StatisticsArgs) -> Option<ScalarValue> {
        self.inner.value_from_stats(statistics_args)
    }
}

/// An Arrow overflow, which the shell reports as DuckDB does: an Out of Range Error.
/// The error of a sum of values of `input` past its type's range: an Arrow overflow, which
/// the shell reports as DuckDB does, as an Out of Range Error.
#[cold]
fn overflow(input: &str) -> DataFusionError {
    let message = format!("Overflow in sum of {input}");
    DataFusionError::ArrowError(Box::new(ArrowError::ArithmeticOverflow(message)), None)
}

/// The sum of numbers with no `GROUP BY`, NULL over none.
#[derive(Debug)]
struct CheckedSum<T: ArrowNumericType> {
    /// The summed type's SQL name, for the overflow error.
    input: String,
    sum_type: DataType,
    sum: Option<T::Native>,
}

impl<T: ArrowNumericType> CheckedSum<T> {
    fn new(input: &DataType, sum_type: &DataType) -> Self {
        CheckedSum {
            input: sql_type_name(input),
            sum_type: sum_type.clone(),
            sum: None,
        }
    }
}

impl<T: ArrowNumericType + std::fmt::Debug> Accumulator for CheckedSum<T> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let overflow = || overflow(&self.input);
        let values = values[0].as_primitive::<T>();
        if let Some(sum) = sum_checked(values).map_err(|_| overflow())? {
            let before = self.sum.unwrap_or_default();
            self.sum = Some(before.add_checked(sum).map_err(|_| overflow())?);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.update_batch(states)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        ScalarValue::new_primitive::<T>(self.sum, &self.sum_type)
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.input.capacity()
    }
}

/// Each group's sum of numbers, NULL for a group that had none.
#[derive(Debug)]
struct CheckedSumGroups<T: ArrowNumericType> {
    /// The summed type's SQL name, for the overflow error.
    input: String,
    /// The sum's type: the input's, a DECIMAL with ten more digits (at most 38).
    sum_type: DataType,
    sums: Vec<T::Native>,
    /// Whether the group had a value that was not NULL.
    seen: Vec<bool>,
}

impl<T: ArrowNumericType> CheckedSumGroups<T> {
    fn new(input: &DataType, sum_type: &DataType) -> Self {
        CheckedSumGroups {
            input: sql_type_name(input),
            sum_type: sum_type.clone(),
            sums: Vec::new(),
            seen: Vec::new(),
        }
    }

    /// Adds `value` to `group`'s sum. Inlined into the loops over a batch's rows: as a call,
    /// generic over the type, it was a fifth of TPC-H Q1's time.
    #[inline(always)]
    fn add(&mut self, group: usize, value: T::Native) -> Result<()> {
        match self.sums[group].add_checked(value) {
            Ok(sum) => self.sums[group] = sum,
            Err(_) => return Err(overflow(&self.input)),
        }
        self.seen[group] = true;
        Ok(())
    }

    /// The sums of the groups `emit_to` names, as the sum's type.
    fn take(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let sums = emit_to.take_needed(&mut self.sums);
        let seen = emit_to.take_needed(&mut self.seen);
        let sums = PrimitiveArray::<T>::new(sums.into(), Some(NullBuffer::from(seen)))
            .with_data_type(self.sum_type.clone());
        Ok(Arc::new(sums))
    }
}

impl<T: ArrowNumericType + std::fmt::Debug> GroupsAccumulator for CheckedSumGroups<T> {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.sums.resize(total_num_groups, T::Native::default());
        self.seen.resize(total_num_groups, false);
        let values = values[0].as_primitive::<T>();
        if values.null_count() == 0 && opt_filter.is_none() {
            for (&group, &value) in group_indices.iter().zip(values.values()) {
                self.add(group, value)?;
            }
            return Ok(());
        }
        for (row, &group) in group_indices.iter().enumerate() {
            if selected(opt_filter, row) && values.is_valid(row) {
                self.add(group, values.value(row))?;
            }
        }
        Ok(())
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.update_batch(values, group_indices, None, total_num_groups)
    }

    /// Each row as a state of its own: its value, NULL where the filter leaves it out.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let values = values[0].as_primitive::<T>();
        let filtered = opt_filter.map(|filter| {
            let kept = match filter.nulls() {
                Some(nulls) => filter.values() & nulls.inner(),
                None => filter.values().clone(),
            };
            NullBuffer::new(kept)
        });
        let nulls = NullBuffer::union(values.nulls(), filtered.as_ref());
        let state = PrimitiveArray::<T>::new(values.values().clone(), nulls)
            .with_data_type(self.sum_type.clone());
        Ok(vec![Arc::new(state)])
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.take(emit_to)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.take(emit_to)?])
    }

    fn size(&self) -> usize {
        self.sums.capacity() * size_of::<T::Native>() + self.seen.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use datafusion::arrow::array::Decimal128Array;

    const INPUT_TYPE: DataType = DataType::Decimal128(15, 2);
    const SUM_TYPE: DataType = DataType::Decimal128(25, 2);

    fn decimals(values: Vec<Option<i128>>) -> ArrayRef {
        Arc::new(
            Decimal128Array::from(values)
                .with_precision_and_scale(15, 2)
                .unwrap(),
        )
    }

    fn sums(array: &ArrayRef) -> Vec<Option<i128>> {
        assert_eq!(array.data_type(), &SUM_TYPE);
        array.as_primitive::<Decimal128Type>().iter().collect()
    }

    #[test]
    fn groups_sum_exactly_through_rows_filters_and_states() {
        // Group 0 takes 0.01 .. 5.12, group 1 only NULLs, group 2 four values, one of them
        // left out by the filter.
        let mut first = CheckedSumGroups::<Decimal128Type>::new(&INPUT_TYPE, &SUM_TYPE);
        let many = decimals((1..=512).map(Some).collect());
        first.update_batch(&[many], &[0; 512], None, 3).unwrap();
        let few = decimals(vec![None, Some(700), Some(-5), Some(10), Some(1)]);
        let filter = BooleanArray::from(vec![true, true, true, false, true]);
        first
            .update_batch(&[few], &[1, 2, 2, 2, 2], Some(&filter), 3)
            .unwrap();
        // Rows turned into states directly, then merged.
        let mut second = CheckedSumGroups::<Decimal128Type>::new(&INPUT_TYPE, &SUM_TYPE);
        let rows = second
            .convert_to_state(
                &[decimals(vec![Some(100), Some(9), None])],
                Some(&BooleanArray::from(vec![Some(true), None, Some(true)])),
            )
            .unwrap();
        assert_eq!(sums(&rows[0]), [Some(100), None, None]);
        second.merge_batch(&rows, &[2, 0, 0], 3).unwrap();
        first
            .merge_batch(&second.state(EmitTo::All).unwrap(), &[0, 1, 2], 3)
            .unwrap();
        let total: i128 = (1..=512).sum();
        assert_eq!(
            sums(&first.evaluate(EmitTo::All).unwrap()),
            [Some(total), None, Some(700 - 5 + 1 + 100)]
        );
    }

    #[test]
    fn a_sum_past_128_bits_is_an_error_with_and_without_groups() {
        let huge = || decimals(vec![Some(i128::MAX / 2 + 1); 2]);
        let mut groups = CheckedSumGroups::<Decimal128Type>::new(&INPUT_TYPE, &SUM_TYPE);
        let err = groups
            .update_batch(&[huge()], &[0, 0], None, 1)
            .unwrap_err();
        assert!(
            err.to_string().contains("Overflow in sum of DECIMAL(15,2)"),
            "{err}"
        );
        let mut sum = CheckedSum::<Decimal128Type>::new(&INPUT_TYPE, &SUM_TYPE);
        let err = sum.update_batch(&[huge()]).unwrap_err();
        assert!(
            err.to_string().contains("Overflow in sum of DECIMAL(15,2)"),
            "{err}"
        );
        let mut sum = CheckedSum::<Decimal128Type>::new(&INPUT_TYPE, &SUM_TYPE);
        assert_eq!(
            sum.evaluate().unwrap(),
            ScalarValue::Decimal128(None, 25, 2)
        );
        sum.update_batch(&[decimals(vec![Some(250), None, Some(-1)])])
            .unwrap();
        assert_eq!(
            sum.evaluate().unwrap(),
            ScalarValue::Decimal128(Some(249), 25, 2)
        );
    }
}
