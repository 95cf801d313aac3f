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

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, UInt32Array, new_null_array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::kernels::boolean::not;
use datafusion::arrow::compute::{interleave, nullif, prep_null_mask_filter, take};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

use super::decimal_avg::selected;

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

/// The state of every group; see the module documentation.
struct ArgBestGroups {
    best: Best,
    value_type: DataType,
    key_type: DataType,
    keys: RowConverter,
    /// Per group, its best key in row format; empty while it has none.
    best_keys: Vec<Vec<u8>>,
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
            keys: RowConverter::new(vec![SortField::new(key_type.clone())])?,
            key_type,
            best_keys: Vec::new(),
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
        self.best_keys.resize_with(total_groups, Vec::new);
        self.winners.resize(total_groups, NONE);
        let rows = self.keys.convert_columns(std::slice::from_ref(keys))?;
        // The rows of this batch that win, each with its group; a group that wins twice keeps
        // its slot and takes the later row. The chunk they will form is `chunk`, so a group's
        // winner already says which slot it holds.
        let chunk = self.chunks.len() as u32;
        let mut won: Vec<u32> = Vec::new();
        let (key_nulls, value_nulls) = (keys.logical_nulls(), values.logical_nulls());
        let is_null =
            |nulls: &Option<NullBuffer>, row: usize| nulls.as_ref().is_some_and(|n| n.is_null(row));
        for (row, &group) in groups.iter().enumerate() {
            if is_null(&key_nulls, row) || is_null(&value_nulls, row) || !selected(filter, row) {
                continue;
            }
            let key = rows.row(row);
            let best = &mut self.best_keys[group];
            let better = best.is_empty()
                || match self.best {
                    Best::Max => key.as_ref() > best.as_slice(),
                    Best::Min => key.as_ref() < best.as_slice(),
                };
            if !better {
                continue;
            }
            best.clear();
            best.extend_from_slice(key.as_ref());
            match self.winners[group] {
                (in_chunk, slot) if in_chunk == chunk => won[slot as usize] = row as u32,
                _ => {
                    self.winners[group] = (chunk, won.len() as u32);
                    won.push(row as u32);
                }
            }
        }
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
    fn emit(&mut self, emit_to: EmitTo) -> Result<(ArrayRef, Vec<Vec<u8>>)> {
        let winners = emit_to.take_needed(&mut self.winners);
        let keys = emit_to.take_needed(&mut self.best_keys);
        let values = self.gather(winners.into_iter())?;
        if self.winners.is_empty() {
            self.chunks.clear();
            self.chunk_rows = 0;
        }
        Ok((values, keys))
    }

    /// Keys in row format back as an array, NULL where a group has none.
    fn key_array(&self, keys: &[Vec<u8>]) -> Result<ArrayRef> {
        let null_key = self
            .keys
            .convert_columns(&[new_null_array(&self.key_type, 1)])?;
        let parser = self.keys.parser();
        let rows = keys.iter().map(|key| match key.is_empty() {
            true => null_key.row(0),
            false => parser.parse(key),
        });
        Ok(self.keys.convert_rows(rows)?.remove(0))
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
        Ok(vec![values, self.key_array(&keys)?])
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
            + self.best_keys.iter().map(|k| k.capacity()).sum::<usize>()
            + self.winners.capacity() * std::mem::size_of::<(u32, u32)>()
            + self.keys.size()
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
    /// The group's state as arrays of one row, leaving it in place.
    fn current(&mut self) -> Result<(ArrayRef, ArrayRef)> {
        let (values, keys) = self.0.emit(EmitTo::All)?;
        let key_array = self.0.key_array(&keys)?;
        // Put the winner back: it is the only row of the array just gathered.
        let winner = match keys[0].is_empty() {
            true => NONE,
            false => (0, 0),
        };
        self.0.chunks = vec![Arc::clone(&values)];
        self.0.chunk_rows = 1;
        self.0.winners = vec![winner];
        self.0.best_keys = keys;
        Ok((values, key_array))
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
