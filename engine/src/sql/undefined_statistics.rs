//! `corr(y, x)` and `regr_slope(y, x)` as DuckDB gives them: NaN where rows have both values
//! but the statistic is undefined (a single row, or a column without spread, such as a model
//! that scores every row alike), NULL only where no row has both. DataFusion's give NULL for
//! both, so an evaluation could not tell "no data" from "no spread".
//!
//! [`NanWhenUndefined`] wraps DataFusion's aggregate and counts, beside its state, the rows
//! that have every argument.

use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature};

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NanWhenUndefined {
    inner: Arc<AggregateUDF>,
}

impl NanWhenUndefined {
    pub fn new(inner: Arc<AggregateUDF>) -> Self {
        NanWhenUndefined { inner }
    }
}

impl AggregateUDFImpl for NanWhenUndefined {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Counted {
            inner: self.inner.accumulator(args)?,
            rows: 0,
        }))
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Counted {
            inner: self.inner.create_sliding_accumulator(args)?,
            rows: 0,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let mut fields = self.inner.state_fields(args)?;
        fields.push(Arc::new(Field::new(
            "rows_with_values",
            DataType::UInt64,
            true,
        )));
        Ok(fields)
    }
}

/// The wrapped accumulator, and how many rows it has seen with every argument.
#[derive(Debug)]
struct Counted {
    inner: Box<dyn Accumulator>,
    rows: u64,
}

/// How many rows have every one of `values`.
fn rows_with_values(values: &[ArrayRef]) -> u64 {
    let rows = values.first().map_or(0, |v| v.len());
    let nulls = values.iter().fold(None, |nulls: Option<NullBuffer>, v| {
        NullBuffer::union(nulls.as_ref(), v.logical_nulls().as_ref())
    });
    (rows - nulls.map_or(0, |n| n.null_count())) as u64
}

impl Accumulator for Counted {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.rows += rows_with_values(values);
        self.inner.update_batch(values)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.rows -= rows_with_values(values);
        self.inner.retract_batch(values)
    }

    fn supports_retract_batch(&self) -> bool {
        self.inner.supports_retract_batch()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (inner, rows) = states.split_at(states.len() - 1);
        let rows = rows[0].as_primitive::<UInt64Type>();
        self.rows += rows.iter().flatten().sum::<u64>();
        self.inner.merge_batch(inner)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut state = self.inner.state()?;
        state.push(ScalarValue::UInt64(Some(self.rows)));
        Ok(state)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let value = self.inner.evaluate()?;
        Ok(match value.is_null() && self.rows > 0 {
            true => ScalarValue::Float64(Some(f64::NAN)),
            false => value,
        })
    }

    fn size(&self) -> usize {
        self.inner.size() + size_of::<u64>()
    }
}
