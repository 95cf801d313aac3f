//! `max` and `min` of FLOAT and DOUBLE values as DuckDB gives them: NaN is greater than every
//! number (so `max` is NaN wherever a NaN was seen, and `min` is NaN only where nothing else
//! was), whatever the NaN's sign bit.
//!
//! DataFusion's grouped `max` and `min` of floats replace the running value whenever a
//! comparison with NaN is undefined, so after a NaN the group takes whatever value comes next:
//! `max` of 1, NaN, -3 in one group was -3. The analyzer rule
//! `optimizer::FloatExtremes` has every `max` and `min` of a FLOAT or DOUBLE computed by
//! [`FloatExtreme`] instead. Training data holds NaN where a score divided by zero.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, ArrowPrimitiveType, AsArray};
use datafusion::arrow::datatypes::{
    ArrowNativeType, DataType, Field, FieldRef, Float32Type, Float64Type,
};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, GroupsAccumulator, Signature, Volatility,
};
use datafusion_functions_aggregate_common::aggregate::groups_accumulator::prim_op::PrimitiveGroupsAccumulator;

use super::arg_best::Best;
use super::types::sql_type_name;

/// The aggregate for `best` (`max` or `min`), to put in place of DataFusion's.
pub fn float_extreme(best: Best) -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(FloatExtreme::new(best)))
}

/// The two aggregates, to register (a cluster's executors find them by name).
pub fn functions() -> [AggregateUDF; 2] {
    [Best::Max, Best::Min].map(|best| AggregateUDF::from(FloatExtreme::new(best)))
}

/// A floating-point type's values, ordered with NaN above every number.
trait Float: ArrowNativeType + PartialOrd {
    const NEG_INFINITY: Self;
    const NAN: Self;
    fn nan(self) -> bool;

    /// Whether `self` should replace `current` as the `best` so far.
    fn beats(self, current: Self, best: Best) -> bool {
        match best {
            Best::Max => !current.nan() && (self.nan() || self > current),
            Best::Min => !self.nan() && (current.nan() || self < current),
        }
    }

    /// What a group starts from: nothing beats it in the other direction.
    fn start(best: Best) -> Self {
        match best {
            Best::Max => Self::NEG_INFINITY,
            Best::Min => Self::NAN,
        }
    }
}

macro_rules! float {
    ($t:ty) => {
        impl Float for $t {
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
            const NAN: Self = <$t>::NAN;
            fn nan(self) -> bool {
                self.is_nan()
            }
        }
    };
}
float!(f32);
float!(f64);

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FloatExtreme {
    best: Best,
    signature: Signature,
}

impl FloatExtreme {
    fn new(best: Best) -> Self {
        FloatExtreme {
            best,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn groups<T>(&self, data_type: &DataType) -> Box<dyn GroupsAccumulator>
    where
        T: ArrowPrimitiveType + Send,
        T::Native: Float,
    {
        let best = self.best;
        let accumulator = PrimitiveGroupsAccumulator::<T, _>::new(data_type, move |current, v| {
            if v.beats(*current, best) {
                *current = v;
            }
        });
        Box::new(accumulator.with_starting_value(T::Native::start(best)))
    }
}

impl AggregateUDFImpl for FloatExtreme {
    fn name(&self) -> &str {
        match self.best {
            Best::Max => "tarn_float_max",
            Best::Min => "tarn_float_min",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t @ (DataType::Float32 | DataType::Float64)] => Ok(vec![t.clone()]),
            [other] => plan_err!(
                "{} takes a FLOAT or DOUBLE, not {}",
                self.name(),
                sql_type_name(other)
            ),
            _ => plan_err!("{} takes one value", self.name()),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[{}]", args.name, self.name()),
            args.return_field.data_type().clone(),
            true,
        ))])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let data_type = args.return_field.data_type().clone();
        Ok(match data_type {
            DataType::Float32 => Box::new(OneGroup::<Float32Type>::new(self.best, data_type)),
            _ => Box::new(OneGroup::<Float64Type>::new(self.best, data_type)),
        })
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let data_type = args.return_field.data_type();
        Ok(match data_type {
            DataType::Float32 => self.groups::<Float32Type>(data_type),
            _ => self.groups::<Float64Type>(data_type),
        })
    }
}

/// The aggregate without groups.
#[derive(Debug)]
struct OneGroup<T: ArrowPrimitiveType> {
    best: Best,
    data_type: DataType,
    value: Option<T::Native>,
}

impl<T: ArrowPrimitiveType> OneGroup<T> {
    fn new(best: Best, data_type: DataType) -> Self {
        OneGroup {
            best,
            data_type,
            value: None,
        }
    }
}

impl<T> Accumulator for OneGroup<T>
where
    T: ArrowPrimitiveType + std::fmt::Debug,
    T::Native: Float,
{
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for v in values[0].as_primitive::<T>().iter().flatten() {
            if self.value.is_none_or(|current| v.beats(current, self.best)) {
                self.value = Some(v);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        ScalarValue::new_primitive::<T>(self.value, &self.data_type)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.update_batch(states)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_is_above_every_number_whatever_its_sign() {
        let negative_nan = -f64::NAN;
        assert!(negative_nan.is_sign_negative());
        for nan in [f64::NAN, negative_nan] {
            assert!(nan.beats(1.0, Best::Max) && !1.0.beats(nan, Best::Max));
            assert!(1.0.beats(nan, Best::Min) && !nan.beats(1.0, Best::Min));
            assert!(!nan.beats(nan, Best::Max) && !nan.beats(nan, Best::Min));
        }
        assert!(f64::INFINITY.beats(f64::start(Best::Max), Best::Max));
        assert!(f64::NEG_INFINITY.beats(f64::start(Best::Min), Best::Min));
        assert!(!0.0.beats(-0.0, Best::Max) && !(-0.0).beats(0.0, Best::Max));
    }
}
