//! `avg` of a DECIMAL the way DuckDB computes it: the values are summed exactly as 128-bit
//! integers and divided once, at the end, giving a DOUBLE.
//!
//! Casting every value to DOUBLE before averaging (DataFusion's float `avg`) rounds each addend
//! and converts every row from i128, which was a tenth of TPC-H Q1; DataFusion's own decimal
//! `avg` keeps a DECIMAL with four more digits of scale, which rounds the answer.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, Float64Array, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, FieldRef, UInt64Type};
use datafusion::arrow::error::ArrowError;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};

/// The state of an exact average: the sum as a DECIMAL of the input's scale, and the count.
pub(super) fn state_fields(name: &str, scale: i8) -> Vec<FieldRef> {
    vec![
        Arc::new(Field::new(
            format_state_name(name, "sum"),
            DataType::Decimal128(38, scale),
            true,
        )),
        Arc::new(Field::new(
            format_state_name(name, "count"),
            DataType::UInt64,
            true,
        )),
    ]
}

/// `sum / count` of decimal units of `scale` digits; NULL over no values.
fn average(sum: i128, count: u64, scale: i8) -> Option<f64> {
    (count > 0).then(|| sum as f64 / 10f64.powi(scale.into()) / count as f64)
}

/// An Arrow overflow, which the shell reports as DuckDB does, as an Out of Range Error (as
/// `sum`'s, [`super::checked_sum`]).
#[cold]
fn overflow() -> DataFusionError {
    let message = "Overflow in avg of a DECIMAL: the sum leaves 128 bits".to_string();
    DataFusionError::ArrowError(Box::new(ArrowError::ArithmeticOverflow(message)), None)
}

/// Whether row `row` passes the aggregate's `FILTER` clause.
pub(super) fn selected(filter: Option<&BooleanArray>, row: usize) -> bool {
    filter.is_none_or(|f| f.is_valid(row) && f.value(row))
}

/// The exact average per group.
#[derive(Debug)]
pub(super) struct DecimalAvgGroups {
    scale: i8,
    sums: Vec<i128>,
    counts: Vec<u64>,
}

impl DecimalAvgGroups {
    pub(super) fn new(scale: i8) -> Self {
        DecimalAvgGroups {
            scale,
            sums: Vec::new(),
            counts: Vec::new(),
        }
    }

    fn resize(&mut self, groups: usize) {
        self.sums.resize(groups, 0);
        self.counts.resize(groups, 0);
    }

    fn add(&mut self, group: usize, sum: i128, count: u64) -> Result<()> {
        self.sums[group] = self.sums[group].checked_add(sum).ok_or_else(overflow)?;
        self.counts[group] += count;
        Ok(())
    }
}

impl GroupsAccumulator for DecimalAvgGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        let values = values[0].as_primitive::<Decimal128Type>();
        if values.null_count() == 0 && opt_filter.is_none() {
            for (&group, &value) in group_indices.iter().zip(values.values()) {
                self.add(group, value, 1)?;
            }
            return Ok(());
        }
        for (row, &group) in group_indices.iter().enumerate() {
            if values.is_valid(row) && selected(opt_filter, row) {
                self.add(group, values.value(row), 1)?;
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
        self.resize(total_num_groups);
        let sums = values[0].as_primitive::<Decimal128Type>();
        let counts = values[1].as_primitive::<UInt64Type>();
        for (row, &group) in group_indices.iter().enumerate() {
            if sums.is_valid(row) {
                self.add(group, sums.value(row), counts.value(row))?;
            }
        }
        Ok(())
    }

    /// Each row as a state of its own (DataFusion skips partial aggregation this way when it
    /// reduces little): the value and a count of 1, or no value and 0.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let values = values[0].as_primitive::<Decimal128Type>();
        let kept = |row: usize| values.is_valid(row) && selected(opt_filter, row);
        let sums: Decimal128Array = (0..values.len())
            .map(|row| kept(row).then(|| values.value(row)))
            .collect();
        let counts: UInt64Array = (0..values.len()).map(|row| u64::from(kept(row))).collect();
        let sums = sums.with_precision_and_scale(38, self.scale)?;
        Ok(vec![Arc::new(sums), Arc::new(counts)])
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let sums = emit_to.take_needed(&mut self.sums);
        let counts = emit_to.take_needed(&mut self.counts);
        let averages: Float64Array = sums
            .into_iter()
            .zip(counts)
            .map(|(sum, count)| average(sum, count, self.scale))
            .collect();
        Ok(Arc::new(averages))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let sums = Decimal128Array::from(emit_to.take_needed(&mut self.sums))
            .with_precision_and_scale(38, self.scale)?;
        let counts = UInt64Array::from(emit_to.take_needed(&mut self.counts));
        Ok(vec![Arc::new(sums), Arc::new(counts)])
    }

    fn size(&self) -> usize {
        self.sums.capacity() * size_of::<i128>() + self.counts.capacity() * size_of::<u64>()
    }
}

/// The exact average of one group (no `GROUP BY`, or a window frame, which retracts rows).
#[derive(Debug)]
pub(super) struct DecimalAvg {
    scale: i8,
    sum: i128,
    count: u64,
}

impl DecimalAvg {
    pub(super) fn new(scale: i8) -> Self {
        DecimalAvg {
            scale,
            sum: 0,
            count: 0,
        }
    }
}

impl Accumulator for DecimalAvg {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for value in values[0].as_primitive::<Decimal128Type>().iter().flatten() {
            self.sum = self.sum.checked_add(value).ok_or_else(overflow)?;
            self.count += 1;
        }
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for value in values[0].as_primitive::<Decimal128Type>().iter().flatten() {
            self.sum = self.sum.checked_sub(value).ok_or_else(overflow)?;
            self.count -= 1;
        }
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let sums = states[0].as_primitive::<Decimal128Type>();
        let counts = states[1].as_primitive::<UInt64Type>();
        for row in (0..sums.len()).filter(|&row| sums.is_valid(row)) {
            self.sum = self.sum.checked_add(sums.value(row)).ok_or_else(overflow)?;
            self.count += counts.value(row);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::Decimal128(Some(self.sum), 38, self.scale),
            ScalarValue::UInt64(Some(self.count)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(average(
            self.sum, self.count, self.scale,
        )))
    }

    fn size(&self) -> usize {
        size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decimals(values: &[Option<i128>]) -> ArrayRef {
        Arc::new(
            Decimal128Array::from(values.to_vec())
                .with_precision_and_scale(15, 2)
                .unwrap(),
        )
    }

    #[test]
    fn groups_average_exactly_and_merge_their_states() {
        // 0.01 + 0.02 + 0.04 in group 0 (0.07 / 3), nothing but NULL in group 1, 10.00 in group 2.
        let mut first = DecimalAvgGroups::new(2);
        let values = decimals(&[Some(1), Some(2), None, Some(1000)]);
        first
            .update_batch(&[values], &[0, 0, 1, 2], None, 3)
            .unwrap();
        let mut second = DecimalAvgGroups::new(2);
        second
            .update_batch(&[decimals(&[Some(4), Some(7)])], &[0, 2], None, 3)
            .unwrap();
        let state = second.state(EmitTo::All).unwrap();
        first.merge_batch(&state, &[0, 1, 2], 3).unwrap();
        // Rows turned into states directly (a FILTER clause leaving out the second) merge too.
        let filter = BooleanArray::from(vec![true, false]);
        let rows = first
            .convert_to_state(&[decimals(&[Some(3), Some(5)])], Some(&filter))
            .unwrap();
        first.merge_batch(&rows, &[2, 2], 3).unwrap();
        let averages = first.evaluate(EmitTo::All).unwrap();
        let averages = averages.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
        assert_eq!(averages.value(0), 0.07 / 3.0);
        assert!(averages.is_null(1));
        assert_eq!(averages.value(2), 10.10 / 3.0);
    }

    #[test]
    fn a_window_retracts_rows_and_an_overflow_is_an_error() {
        let mut avg = DecimalAvg::new(2);
        avg.update_batch(&[decimals(&[Some(100), Some(300), None])])
            .unwrap();
        avg.retract_batch(&[decimals(&[Some(100)])]).unwrap();
        assert_eq!(avg.evaluate().unwrap(), ScalarValue::Float64(Some(3.0)));
        let mut huge = DecimalAvg::new(0);
        let max = Arc::new(Decimal128Array::from(vec![i128::MAX, 1])) as ArrayRef;
        let err = huge.update_batch(&[max]).unwrap_err().to_string();
        assert!(err.contains("Overflow in avg of a DECIMAL"), "{err}");
    }
}
