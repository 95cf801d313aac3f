//! DuckDB's `arg_max(value, by)` and `arg_min(value, by)` (also `max_by`, `min_by`): the
//! value of the row whose `by` is the greatest (least), skipping rows where either is NULL. A curation step keeps a whole record per cluster this way:
//! `arg_max({'id': id, 'text': text}, quality) ... GROUP BY cluster`.
//!
//! DataFusion's `first_value(value ORDER BY by DESC)` gives the same answer, but for a STRUCT or
//! LIST value it stores each group's winner as a scalar compacted out of its batch, which
//! copies the batch's whole child buffers on every new winner: 100 thousand groups of a
//! two-field struct took 2.5 s, and 500 thousand groups of documents minutes. Here each group
//! keeps its best key (in Arrow's row format, compared as bytes) and where its winner lies:
//! the winners a batch brings are taken out of it together, as one small array, and those
//! arrays are compacted into one when they hold many rows no group points at any more.
//!
//! With ties, either row may win, as in DuckDB. Over a window, frames that grow from the start
//! of the partition work; a sliding frame is refused, as the aggregate cannot take rows back
//! out of its state.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, ArrowNativeTypeOp, ArrowPrimitiveType, AsArray, BooleanArray, PrimitiveArray,
    UInt32Array, new_null_array,
};
use datafusion::arrow::buffer::{BooleanBuffer, NullBuffer};
use datafusion::arrow::compute::kernels::boolean::not;
use datafusion::arrow::compute::{interleave, nullif, prep_null_mask_filter, take};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Field, FieldRef, Float32Type, Float64Type,
    Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

/// Which end of the order wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Best {
    Max,
    Min,
}

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ArgBest {
    best: Best,
    signature: Signature,
}

impl ArgBest {
    pub fn new(best: Best) -> Self {
        ArgBest {
            best,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

/// The name of the aggregate for `best`, which the syntax rewrite of `arg_max` calls.
pub(super) fn name(best: Best) -> &'static str {
    match best {
        Best::Max => "tarn_arg_max",
        Best::Min => "tarn_arg_min",
    }
}

impl AggregateUDFImpl for ArgBest {
    fn name(&self) -> &str {
        name(self.best)
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [value, _] => Ok(value.clone()),
            _ => plan_err!("{} takes a value and what to order it by", self.name()),
        }
    }

    /// The winner's value and its key, so that partial answers merge.
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let [_, by] = args.input_fields else {
            return plan_err!("{} takes a value and what to order it by", self.name());
        };
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[value]", args.name),
                args.return_field.data_type().clone(),
                true,
            )),
            Arc::new(Field::new(
                format!("{}[by]", args.name),
                by.data_type().clone(),
                true,
            )),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(OneGroup(self.groups(&args)?)))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(self.groups(&args)?))
    }
}

impl ArgBest {
    fn groups(&self, args: &AccumulatorArgs) -> Result<ArgBestGroups> {
        let [_, by] = args.exprs else {
            return plan_err!("{} takes a value and what to order it by", self.name());
        };
        ArgBestGroups::new(
            self.best,
            args.return_field.data_type().clone(),
            by.data_type(args.schema)?,
        )
    }
}

/// No winner yet.
const NONE: (u32, u32) = (u32::MAX, 0);

/// Each group's best key so far, kept as the key's own type allows: numbers, dates and times as
/// values of their type in one vector, any other type in Arrow's row format (compared as bytes).
trait BestKeys: Send + Sync {
    /// Makes room for `groups` groups.
    fn resize(&mut self, groups: usize);

    /// For each row `eligible` admits (all without it), in order: when its key beats its
    /// group's best, records the key and calls `won(row, group)`.
    fn offer(
        &mut self,
        best: Best,
        keys: &ArrayRef,
        groups: &[usize],
        eligible: Option<&BooleanBuffer>,
        won: &mut dyn FnMut(usize, usize),
    ) -> Result<()>;

    /// The keys of the groups `emit_to` names, which leave the state; NULL where a group has
    /// none.
    fn emit(&mut self, emit_to: EmitTo) -> Result<ArrayRef>;

    /// The bytes the keys take.
    fn size(&self) -> usize;
}

/// The keys for `key_type`.
fn best_keys(key_type: &DataType) -> Result<Box<dyn BestKeys>> {
    fn typed<T: ArrowPrimitiveType>(key_type: &DataType) -> Result<Box<dyn BestKeys>> {
        Ok(Box::new(PrimitiveKeys::<T> {
            key_type: key_type.clone(),
            best: Vec::new(),
            set: Vec::new(),
        }))
    }
    match key_type {
        DataType::Int8 => typed::<Int8Type>(key_type),
        DataType::Int16 => typed::<Int16Type>(key_type),
        DataType::Int32 => typed::<Int32Type>(key_type),
        DataType::Int64 => typed::<Int64Type>(key_type),
        DataType::UInt8 => typed::<UInt8Type>(key_type),
        DataType::UInt16 => typed::<UInt16Type>(key_type),
        DataType::UInt32 => typed::<UInt32Type>(key_type),
        DataType::UInt64 => typed::<UInt64Type>(key_type),
        DataType::Float32 => typed::<Float32Type>(key_type),
        DataType::Float64 => typed::<Float64Type>(key_type),
        DataType::Date32 => typed::<Date32Type>(key_type),
        DataType::Date64 => typed::<Date64Type>(key_type),
        DataType::Decimal128(_, _) => typed::<Decimal128Type>(key_type),
        DataType::Timestamp(TimeUnit::Second, _) => typed::<TimestampSecondType>(key_type),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            typed::<TimestampMillisecondType>(key_type)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            typed::<TimestampMicrosecondType>(key_type)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => typed::<TimestampNanosecondType>(key_type),
        _ => Ok(Box::new(RowKeys {
            converter: RowConverter::new(vec![SortField::new(key_type.clone())])?,
            key_type: key_type.clone(),
            best: Vec::new(),
            bytes: 0,
        })),
    }
}

/// Keys of a primitive type; floats compare in IEEE total order, NaN above all numbers.
struct PrimitiveKeys<T: ArrowPrimitiveType> {
    /// The type to emit, with its time zone or precision.
    key_type: DataType,
    best: Vec<T::Native>,
    /// Whether each group has a key yet.
    set: Vec<bool>,
}

impl<T: ArrowPrimitiveType> BestKeys for PrimitiveKeys<T> {
    fn resize(&mut self, groups: usize) {
        self.best.resize(groups, T::Native::default());
        self.set.resize(groups, false);
    }

    fn offer(
        &mut self,
        best: Best,
        keys: &ArrayRef,
        groups: &[usize],
        eligible: Option<&BooleanBuffer>,
        won: &mut dyn FnMut(usize, usize),
    ) -> Result<()> {
        let keys = keys.as_primitive::<T>().values();
        for (row, (&group, &key)) in groups.iter().zip(keys.iter()).enumerate() {
            if eligible.is_some_and(|e| !e.value(row)) {
                continue;
            }
            let better = !self.set[group]
                || match best {
                    Best::Max => key.is_gt(self.best[group]),
                    Best::Min => key.is_lt(self.best[group]),
                };
            if better {
                self.best[group] = key;
                self.set[group] = true;
                won(row, group);
            }
        }
        Ok(())
    }

    fn emit(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let best = emit_to.take_needed(&mut self.best);
        let set = emit_to.take_needed(&mut self.set);
        let keys = PrimitiveArray::<T>::new(best.into(), Some(NullBuffer::from(set)))
            .with_data_type(self.key_type.clone());
        Ok(Arc::new(keys))
    }

    fn size(&self) -> usize {
        self.best.capacity() * std::mem::size_of::<T::Native>() + self.set.capacity()
    }
}

/// Keys of any other type, in Arrow's row format; an empty key is none yet.
struct RowKeys {
    converter: RowConverter,
    key_type: DataType,
    best: Vec<Vec<u8>>,
    /// The bytes the keys hold in all, kept as they change: summing them for every batch's
    /// `size` took a tenth of a query over 500 thousand groups.
    bytes: usize,
}

impl BestKeys for RowKeys {
    fn resize(&mut self, groups: usize) {
        self.best.resize_with(groups, Vec::new);
    }

    fn offer(
        &mut self,
        best: Best,
        keys: &ArrayRef,
        groups: &[usize],
        eligible: Option<&BooleanBuffer>,
        won: &mut dyn FnMut(usize, usize),
    ) -> Result<()> {
        let rows = self.converter.convert_columns(std::slice::from_ref(keys))?;
        for (row, &group) in groups.iter().enumerate() {
            if eligible.is_some_and(|e| !e.value(row)) {
                continue;
            }
            let key = rows.row(row);
            let current = &mut self.best[group];
            let better = current.is_empty()
                || match best {
                    Best::Max => key.as_ref() > current.as_slice(),
                    Best::Min => key.as_ref() < current.as_slice(),
                };
            if better {
                self.bytes -= current.capacity();
                current.clear();
                current.extend_from_slice(key.as_ref());
                self.bytes += current.capacity();
                won(row, group);
            }
        }
        Ok(())
    }

    fn emit(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let keys = emit_to.take_needed(&mut self.best);
        self.bytes -= keys.iter().map(Vec::capacity).sum::<usize>();
        let null_key = self
            .converter
            .convert_columns(&[new_null_array(&self.key_type, 1)])?;
        let parser = self.converter.parser();
        let rows = keys.iter().map(|key| match key.is_empty() {
            true => null_key.row(0),
            false => parser.parse(key),
        });
        Ok(self.converter.convert_rows(rows)?.remove(0))
    }

    fn size(&self) -> usize {
        self.bytes + self.best.capacity() * std::mem::size_of::<Vec<u8>>() + self.converter.size()
    }
}

/// The rows that take part: a key and a value not NULL, and kept by the filter; `None` for all.
fn eligible_rows(
    values: &ArrayRef,
    keys: &ArrayRef,
    filter: Option<&BooleanArray>,
) -> Option<BooleanBuffer> {
    let not_null = NullBuffer::union(
        keys.logical_nulls().as_ref(),
        values.logical_nulls().as_ref(),
    )
    .map(|nulls| nulls.into_inner());
    let kept = filter.map(|filter| match filter.null_count() {
        0 => filter.values().clone(),
        _ => prep_null_mask_filter(filter).values().clone(),
    });
    match (not_null, kept) {
        (Some(not_null), Some(kept)) => Some(&not_null & &kept),
        (one, other) => one.or(other),
    }
}

/// The state of every group; see the module documentation.
struct ArgBestGroups {
    best: Best,
    value_type: DataType,
    key_type: DataType,
    keys: Box<dyn BestKeys>,
    /// Per group, its winner: an index into `chunks` and a row in it, or [`NONE`].
    winners: Vec<(u32, u32)>,
    /// Arrays of winning values, taken from the batches they came in.
    chunks: Vec<ArrayRef>,
    /// The rows `chunks` hold in all.
    chunk_rows: usize,
}

impl ArgBestGroups {
    fn new(best: Best, value_type: DataType, key_type: DataType) -> Result<Self> {
        Ok(ArgBestGroups {
            best,
            value_type,
            keys: best_keys(&key_type)?,
            key_type,
            winners: Vec::new(),
            chunks: Vec::new(),
            chunk_rows: 0,
        })
    }

    /// Takes each row's value as its group's winner when its key beats the group's best.
    fn offer(
        &mut self,
        values: &ArrayRef,
        keys: &ArrayRef,
        groups: &[usize],
        filter: Option<&BooleanArray>,
        total_groups: usize,
    ) -> Result<()> {
        self.keys.resize(total_groups);
        self.winners.resize(total_groups, NONE);
        // The rows of this batch that win, each with its group; a group that wins twice keeps
        // its slot and takes the later row. The chunk they will form is `chunk`, so a group's
        // winner already says which slot it holds.
        let chunk = self.chunks.len() as u32;
        let mut won: Vec<u32> = Vec::new();
        let winners = &mut self.winners;
        let eligible = eligible_rows(values, keys, filter);
        self.keys.offer(
            self.best,
            keys,
            groups,
            eligible.as_ref(),
            &mut |row, group| match winners[group] {
                (in_chunk, slot) if in_chunk == chunk => won[slot as usize] = row as u32,
                _ => {
                    winners[group] = (chunk, won.len() as u32);
                    won.push(row as u32);
                }
            },
        )?;
        if won.is_empty() {
            return Ok(());
        }
        let taken = take(values.as_ref(), &UInt32Array::from(won), None)?;
        self.chunk_rows += taken.len();
        self.chunks.push(taken);
        if self.chunk_rows > 2 * self.winners.len() + 8192 {
            self.compact()?;
        }
        Ok(())
    }

    /// Gathers the current winners into one chunk, dropping the rows nothing points at.
    fn compact(&mut self) -> Result<()> {
        let kept: Vec<usize> = (0..self.winners.len())
            .filter(|&g| self.winners[g] != NONE)
            .collect();
        let chunk = self.gather(kept.iter().map(|&g| self.winners[g]))?;
        for (position, &group) in kept.iter().enumerate() {
            self.winners[group] = (0, position as u32);
        }
        self.chunk_rows = chunk.len();
        self.chunks = vec![chunk];
        Ok(())
    }

    /// The values at `places` (chunk and row, or [`NONE`] for NULL), in order.
    fn gather(&self, places: impl Iterator<Item = (u32, u32)>) -> Result<ArrayRef> {
        let null = new_null_array(&self.value_type, 1);
        let mut sources: Vec<&dyn Array> = self.chunks.iter().map(|c| c.as_ref()).collect();
        sources.push(null.as_ref());
        let null_source = self.chunks.len();
        let indices: Vec<(usize, usize)> = places
            .map(|(chunk, row)| match (chunk, row) {
                NONE => (null_source, 0),
                (chunk, row) => (chunk as usize, row as usize),
            })
            .collect();
        Ok(interleave(&sources, &indices)?)
    }

    /// The winners' values and keys of the groups `emit_to` names, which leave the state.
    fn emit(&mut self, emit_to: EmitTo) -> Result<(ArrayRef, ArrayRef)> {
        let winners = emit_to.take_needed(&mut self.winners);
        let keys = self.keys.emit(emit_to)?;
        let values = self.gather(winners.into_iter())?;
        if self.winners.is_empty() {
            self.chunks.clear();
            self.chunk_rows = 0;
        }
        Ok((values, keys))
    }
}

impl GroupsAccumulator for ArgBestGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.offer(
            &values[0],
            &values[1],
            group_indices,
            opt_filter,
            total_num_groups,
        )
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        Ok(self.emit(emit_to)?.0)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let (values, keys) = self.emit(emit_to)?;
        Ok(vec![values, keys])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.update_batch(values, group_indices, None, total_num_groups)
    }

    /// Each row as its own group's state: its value, and its key unless the filter drops it.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let keys = match opt_filter {
            None => Arc::clone(&values[1]),
            Some(filter) => {
                let keep = match filter.null_count() {
                    0 => filter.clone(),
                    _ => prep_null_mask_filter(filter),
                };
                nullif(&values[1], &not(&keep)?)?
            }
        };
        Ok(vec![Arc::clone(&values[0]), keys])
    }

    fn size(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| c.get_array_memory_size())
            .sum::<usize>()
            + self.keys.size()
            + self.winners.capacity() * std::mem::size_of::<(u32, u32)>()
    }
}

/// The aggregate without groups (or a single group): the one group of [`ArgBestGroups`].
struct OneGroup(ArgBestGroups);

impl std::fmt::Debug for OneGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OneGroup")
    }
}

impl OneGroup {
    /// The group's state as arrays of one row, leaving it in place: emitted, then offered
    /// back.
    fn current(&mut self) -> Result<(ArrayRef, ArrayRef)> {
        let (values, keys) = self.0.emit(EmitTo::All)?;
        self.0.offer(&values, &keys, &[0], None, 1)?;
        Ok((values, keys))
    }

    fn offer(&mut self, values: &[ArrayRef]) -> Result<()> {
        let groups = vec![0; values[0].len()];
        self.0.offer(&values[0], &values[1], &groups, None, 1)
    }
}

impl Accumulator for OneGroup {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.offer(values)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.0.winners.is_empty() {
            return ScalarValue::try_from(&self.0.value_type);
        }
        let (values, _) = self.current()?;
        ScalarValue::try_from_array(&values, 0)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + GroupsAccumulator::size(&self.0)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        if self.0.winners.is_empty() {
            return Ok(vec![
                ScalarValue::try_from(&self.0.value_type)?,
                ScalarValue::try_from(&self.0.key_type)?,
            ]);
        }
        let (values, keys) = self.current()?;
        Ok(vec![
            ScalarValue::try_from_array(&values, 0)?,
            ScalarValue::try_from_array(&keys, 0)?,
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.offer(states)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{AsArray, Int64Array, StringArray};
    use datafusion::arrow::datatypes::Int64Type;

    use super::*;

    fn strings(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    fn numbers(values: &[Option<i64>]) -> ArrayRef {
        Arc::new(Int64Array::from(values.to_vec()))
    }

    fn texts(array: &ArrayRef) -> Vec<Option<String>> {
        array
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    }

    #[test]
    fn winners_survive_compaction_emission_and_merging() {
        let mut groups = ArgBestGroups::new(Best::Max, DataType::Utf8, DataType::Int64).unwrap();
        // Enough batches that the chunks of past winners are compacted several times.
        for round in 0..3000_i64 {
            let values = strings(&[Some("low"), Some("high"), None]);
            let keys = numbers(&[Some(round), Some(round + 1), Some(round + 5)]);
            groups
                .update_batch(&[values, keys], &[0, 1, 2], None, 3)
                .unwrap();
        }
        assert!(groups.chunk_rows <= 2 * 3 + 8192, "{}", groups.chunk_rows);
        // A second accumulator's state, as another thread's partial answer, merges in.
        let other = ArgBestGroups::new(Best::Max, DataType::Utf8, DataType::Int64).unwrap();
        let values = strings(&[Some("later"), Some("earlier")]);
        let keys = numbers(&[Some(10_000), Some(0)]);
        let as_state = other.convert_to_state(&[values, keys], None).unwrap();
        groups.merge_batch(&as_state, &[0, 1], 3).unwrap();
        let first = groups.evaluate(EmitTo::First(1)).unwrap();
        assert_eq!(texts(&first), [Some("later".to_string())]);
        let state = groups.state(EmitTo::All).unwrap();
        assert_eq!(
            texts(&state[0]),
            [Some("high".to_string()), None],
            "the group whose only values are NULL has no winner"
        );
        let keys: Vec<Option<i64>> = state[1].as_primitive::<Int64Type>().iter().collect();
        assert_eq!(keys, [Some(3000), None]);
        assert!(groups.winners.is_empty() && groups.chunks.is_empty());
    }
}
