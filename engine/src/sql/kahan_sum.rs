//! DuckDB's `fsum(x)` (also `sumkahan`, `kahan_sum`): a DOUBLE sum with Kahan's compensation,
//! which carries the low-order bits each addition rounds away, so summing many small values
//! onto a large one loses nothing a DOUBLE can hold (`fsum` of 1e16, 1, 1 is 1e16 + 2, where
//! `sum` gives 1e16). NULLs are skipped; no values give NULL.

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type, UInt64Type};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

use super::statistics::state_field;
use super::types::sql_type_name;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KahanSum {
    signature: Signature,
    aliases: Vec<String>,
}

impl KahanSum {
    pub fn new() -> Self {
        KahanSum {
            signature: Signature::user_defined(Volatility::Immutable),
            aliases: vec!["sumkahan".into(), "kahan_sum".into()],
        }
    }
}

impl AggregateUDFImpl for KahanSum {
    fn name(&self) -> &str {
        "fsum"
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if t.is_numeric() || t.is_null() => Ok(vec![DataType::Float64]),
            [t] => plan_err!("fsum of {}, not of a number", sql_type_name(t)),
            _ => plan_err!("fsum takes one argument"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            state_field(args.name, "sum", DataType::Float64),
            state_field(args.name, "compensation", DataType::Float64),
            state_field(args.name, "count", DataType::UInt64),
        ])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Compensated::default()))
    }
}

/// A running sum and what its additions rounded away.
#[derive(Debug, Default)]
struct Compensated {
    sum: f64,
    /// The rounding error of the additions so far, negated: the true sum is `sum - compensation`.
    compensation: f64,
    count: u64,
}

impl Compensated {
    /// Kahan's step: add `value` less the error carried, and keep what this addition loses.
    fn add(&mut self, value: f64) {
        let corrected = value - self.compensation;
        let total = self.sum + corrected;
        self.compensation = (total - self.sum) - corrected;
        self.sum = total;
    }
}

impl Accumulator for Compensated {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let values = cast(&values[0], &DataType::Float64)?;
        let values = values.as_primitive::<Float64Type>();
        for value in values.iter().flatten() {
            self.add(value);
            self.count += 1;
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let sums = states[0].as_primitive::<Float64Type>();
        let compensations = states[1].as_primitive::<Float64Type>();
        let counts = states[2].as_primitive::<UInt64Type>();
        for row in 0..sums.len() {
            self.add(sums.value(row));
            self.add(-compensations.value(row));
            self.count += counts.value(row);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::Float64(Some(self.sum)),
            ScalarValue::Float64(Some(self.compensation)),
            ScalarValue::UInt64(Some(self.count)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64((self.count > 0).then_some(self.sum)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}
