//! The right side of an ASOF join held for lookups: its rows grouped by key, each group sorted
//! by time, so that a left row finds its match by one hash lookup and a binary search.
//!
//! Rows whose key or time is NULL are left out: they equal nothing. Where a group repeats a
//! time, the match is the first such row in the side's order, as DuckDB picks it.

use std::cmp::Ordering;
use std::hash::BuildHasher;
use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, UInt64Type};
use datafusion::arrow::row::{Row, RowConverter, Rows, SortField};
use datafusion::common::Result;
use hashbrown::{DefaultHashBuilder, HashTable};

use super::Inequality;

/// Times in a form that compares fast: integers where the type is one (dates, timestamps,
/// durations and integers up to 64 bits, mapped so that unsigned order is the type's order),
/// Arrow's row format, which compares as bytes, for every other type.
enum Times {
    Integers(Vec<u64>),
    Rows(Rows),
}

impl Times {
    /// `array`'s times; `converter` is the row format both sides share.
    fn of(array: &ArrayRef, converter: &RowConverter) -> Result<Self> {
        let integers = match array.data_type() {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Date32
            | DataType::Date64
            | DataType::Time32(_)
            | DataType::Time64(_)
            | DataType::Timestamp(_, _)
            | DataType::Duration(_) => {
                let values = cast(array, &DataType::Int64)?;
                // Flipping the sign bit orders signed values as unsigned ones.
                values
                    .as_primitive::<Int64Type>()
                    .values()
                    .iter()
                    .map(|&v| (v as u64) ^ (1 << 63))
                    .collect()
            }
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
                let values = cast(array, &DataType::UInt64)?;
                values.as_primitive::<UInt64Type>().values().to_vec()
            }
            _ => return Ok(Self::Rows(converter.convert_columns(&[Arc::clone(array)])?)),
        };
        Ok(Self::Integers(integers))
    }
}

/// One key's rows: `order[range]`, sorted by time.
struct Group {
    hash: u64,
    /// A row of the group, whose key stands for the group's.
    first: u32,
    range: Range<usize>,
}

/// The right side's rows ordered for lookups.
pub(super) struct AsofIndex {
    key_converter: Option<RowConverter>,
    time_converter: RowConverter,
    hasher: DefaultHashBuilder,
    /// The key rows, in the row format both sides share; `None` without keys.
    keys: Option<Rows>,
    /// The times of the rows: integers by position in `order`, rows by row number.
    times: Times,
    groups: Vec<Group>,
    /// Group number by key hash.
    table: HashTable<u32>,
    /// Row numbers, group after group, each group's by time, ties in the side's order.
    order: Vec<u32>,
}

impl AsofIndex {
    /// Indexes rows whose keys are `keys` (in the join's key order) and whose times are
    /// `times`.
    pub(super) fn build(keys: &[ArrayRef], times: &ArrayRef) -> Result<Self> {
        let key_converter = match keys.is_empty() {
            true => None,
            false => Some(RowConverter::new(
                keys.iter()
                    .map(|k| SortField::new(k.data_type().clone()))
                    .collect(),
            )?),
        };
        let time_converter = RowConverter::new(vec![SortField::new(times.data_type().clone())])?;
        let key_rows = match &key_converter {
            Some(converter) => Some(converter.convert_columns(keys)?),
            None => None,
        };
        let time_values = Times::of(times, &time_converter)?;
        let valid = valid_rows(keys, times);
        let hasher = DefaultHashBuilder::default();
        let mut groups: Vec<Group> = Vec::new();
        let mut table = HashTable::new();
        // The group of each valid row, then the rows counted into place group by group.
        let mut group_of = vec![u32::MAX; times.len()];
        let mut counts: Vec<usize> = Vec::new();
        for row in (0..times.len()).filter(|&row| valid.value(row)) {
            let group = match &key_rows {
                None => {
                    if groups.is_empty() {
                        groups.push(Group {
                            hash: 0,
                            first: row as u32,
                            range: 0..0,
                        });
                        counts.push(0);
                    }
                    0
                }
                Some(rows) => {
                    let key = rows.row(row);
                    let hash = hasher.hash_one(key.as_ref());
                    let found = table.find(hash, |&g: &u32| {
                        let group = &groups[g as usize];
                        group.hash == hash && rows.row(group.first as usize) == key
                    });
                    match found {
                        Some(&g) => g,
                        None => {
                            let g = groups.len() as u32;
                            groups.push(Group {
                                hash,
                                first: row as u32,
                                range: 0..0,
                            });
                            counts.push(0);
                            table.insert_unique(hash, g, |&g| groups[g as usize].hash);
                            g
                        }
                    }
                }
            };
            group_of[row] = group;
            counts[group as usize] += 1;
        }
        let mut start = 0;
        for (group, count) in groups.iter_mut().zip(&counts) {
            group.range = start..start + count;
            start += count;
        }
        let mut next: Vec<usize> = groups.iter().map(|g| g.range.start).collect();
        let mut order = vec![0u32; start];
        for (row, &group) in group_of.iter().enumerate() {
            if group != u32::MAX {
                order[next[group as usize]] = row as u32;
                next[group as usize] += 1;
            }
        }
        // Ties broken by row number keep the side's order, so an unstable sort will do. Integer
        // times are sorted beside their rows and then laid out by position: a binary search
        // reads one contiguous run rather than rows scattered over the side.
        let time_values = match time_values {
            Times::Integers(t) => {
                let mut by_position = vec![0u64; order.len()];
                let mut pairs: Vec<(u64, u32)> = Vec::new();
                for group in &groups {
                    let range = group.range.clone();
                    pairs.clear();
                    pairs.extend(order[range.clone()].iter().map(|&r| (t[r as usize], r)));
                    pairs.sort_unstable();
                    for (at, (time, row)) in range.zip(&pairs) {
                        (by_position[at], order[at]) = (*time, *row);
                    }
                }
                Times::Integers(by_position)
            }
            Times::Rows(t) => {
                for group in &groups {
                    order[group.range.clone()].sort_unstable_by(|&a, &b| {
                        t.row(a as usize).cmp(&t.row(b as usize)).then(a.cmp(&b))
                    });
                }
                Times::Rows(t)
            }
        };
        Ok(Self {
            key_converter,
            time_converter,
            hasher,
            keys: key_rows,
            times: time_values,
            groups,
            table,
            order,
        })
    }

    /// The bytes the index holds beside the rows it indexes.
    pub(super) fn memory_size(&self) -> usize {
        let rows = |rows: &Rows| rows.size();
        let times = match &self.times {
            Times::Integers(values) => values.capacity() * size_of::<u64>(),
            Times::Rows(values) => rows(values),
        };
        self.keys.as_ref().map_or(0, rows)
            + times
            + self.order.capacity() * size_of::<u32>()
            + self.groups.capacity() * size_of::<Group>()
            + self.table.capacity() * size_of::<u32>()
    }

    /// For each row of the left side's `keys` and `times`, the right row it meets under
    /// `inequality`, or NULL where none does.
    pub(super) fn matches(
        &self,
        keys: &[ArrayRef],
        times: &ArrayRef,
        inequality: Inequality,
    ) -> Result<UInt32Array> {
        let key_rows = match &self.key_converter {
            Some(converter) => Some(converter.convert_columns(keys)?),
            None => None,
        };
        let left_times = Times::of(times, &self.time_converter)?;
        let valid = valid_rows(keys, times);
        let matches = (0..times.len()).map(|row| {
            if !valid.value(row) {
                return None;
            }
            let group = self.group_of(key_rows.as_ref().map(|rows| rows.row(row)))?;
            let position = self.nearest(group, &left_times, row, inequality)?;
            Some(self.order[position])
        });
        Ok(matches.collect())
    }

    /// The group of the rows whose key is `key` (`None` without keys).
    fn group_of(&self, key: Option<Row<'_>>) -> Option<&Group> {
        let Some(key) = key else {
            return self.groups.first();
        };
        let own = self.keys.as_ref()?;
        let hash = self.hasher.hash_one(key.as_ref());
        self.table
            .find(hash, |&g| {
                let group = &self.groups[g as usize];
                group.hash == hash && own.row(group.first as usize) == key
            })
            .map(|&g| &self.groups[g as usize])
    }

    /// The position in `order` of the row of `group` that the left row `row` of `times` meets
    /// (see [`nearest_in`]).
    fn nearest(
        &self,
        group: &Group,
        times: &Times,
        row: usize,
        inequality: Inequality,
    ) -> Option<usize> {
        let range = group.range.clone();
        match (&self.times, times) {
            (Times::Integers(own), Times::Integers(left)) => {
                let time = left[row];
                nearest_in(
                    range,
                    |p| own[p].cmp(&time),
                    |a, b| own[a] == own[b],
                    inequality,
                )
            }
            (Times::Rows(own), Times::Rows(left)) => {
                let (time, row_of) = (left.row(row), |p: usize| own.row(self.order[p] as usize));
                nearest_in(
                    range,
                    |p| row_of(p).cmp(&time),
                    |a, b| row_of(a) == row_of(b),
                    inequality,
                )
            }
            _ => unreachable!("both sides' times are converted alike"),
        }
    }
}

/// The position in `range` that a left row meets under `inequality`, where `versus_left(p)` is
/// how the time at position `p` compares with the left row's and `same(a, b)` whether two
/// positions hold the same time: the latest time at or before the left row's (`>=`),
/// strictly before it (`>`), or the earliest at or after (`<=`) or strictly after (`<`); the
/// first of equal times.
fn nearest_in(
    range: Range<usize>,
    versus_left: impl Fn(usize) -> Ordering,
    same: impl Fn(usize, usize) -> bool,
    inequality: Inequality,
) -> Option<usize> {
    let last = match inequality {
        // The first later time (or the first time not earlier), then one back.
        Inequality::AtOrAfter => {
            first_where(range.clone(), |p| versus_left(p) == Ordering::Greater).checked_sub(1)
        }
        Inequality::After => {
            first_where(range.clone(), |p| versus_left(p) != Ordering::Less).checked_sub(1)
        }
        // The first of equal times already.
        Inequality::AtOrBefore => {
            let found = first_where(range.clone(), |p| versus_left(p) != Ordering::Less);
            return (found < range.end).then_some(found);
        }
        Inequality::Before => {
            let found = first_where(range.clone(), |p| versus_left(p) == Ordering::Greater);
            return (found < range.end).then_some(found);
        }
    };
    let last = last.filter(|&p| p >= range.start)?;
    // Back to the first position with the same time.
    Some(first_where(range.start..last, |p| same(p, last)))
}

/// The first position of `range` where `reached` holds, given that it holds from some position
/// on; `range.end` when it never does.
fn first_where(range: Range<usize>, reached: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (range.start, range.end);
    while low < high {
        let middle = low + (high - low) / 2;
        if reached(middle) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    low
}

/// Which rows have a key and a time: none of them NULL.
fn valid_rows(keys: &[ArrayRef], times: &ArrayRef) -> BooleanBuffer {
    let mut valid = BooleanBuffer::new_set(times.len());
    for array in keys.iter().chain([times]) {
        if let Some(nulls) = array.logical_nulls() {
            valid = &valid & nulls.inner();
        }
    }
    valid
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use proptest::prelude::*;

    /// The match of a left row by definition: among the right rows with its key and a time on
    /// the inequality's side, the nearest time, and the first such row.
    fn nearest_by_definition(
        right: &[(Option<&str>, Option<i64>)],
        key: Option<&str>,
        time: Option<i64>,
        inequality: Inequality,
    ) -> Option<u32> {
        let (key, time) = (key?, time?);
        let candidates = right.iter().enumerate().filter_map(|(row, (k, t))| {
            let t = (*k == Some(key)).then_some(*t)??;
            let fits = match inequality {
                Inequality::AtOrAfter => time >= t,
                Inequality::After => time > t,
                Inequality::AtOrBefore => time <= t,
                Inequality::Before => time < t,
            };
            fits.then_some((t, row as u32))
        });
        match inequality {
            // The latest time, and of those the first row.
            Inequality::AtOrAfter | Inequality::After => candidates
                .max_by(|(t1, r1), (t2, r2)| t1.cmp(t2).then(r2.cmp(r1)))
                .map(|(_, row)| row),
            Inequality::AtOrBefore | Inequality::Before => candidates.min().map(|(_, row)| row),
        }
    }

    fn columns(rows: &[(Option<&str>, Option<i64>)]) -> (ArrayRef, ArrayRef) {
        let keys: StringArray = rows.iter().map(|(k, _)| *k).collect();
        let times: Int64Array = rows.iter().map(|(_, t)| *t).collect();
        (Arc::new(keys), Arc::new(times))
    }

    fn side() -> impl Strategy<Value = Vec<(Option<&'static str>, Option<i64>)>> {
        let key = prop_oneof![
            Just(None),
            Just(Some("a")),
            Just(Some("b")),
            Just(Some("c"))
        ];
        let time = prop_oneof![Just(None), (0i64..12).prop_map(Some)];
        prop::collection::vec((key, time), 0..40)
    }

    proptest! {
        #[test]
        fn matches_are_the_nearest_rows_by_definition(right in side(), left in side()) {
            let (right_keys, right_times) = columns(&right);
            let (left_keys, left_times) = columns(&left);
            let index = AsofIndex::build(&[right_keys], &right_times).unwrap();
            for inequality in [
                Inequality::AtOrAfter,
                Inequality::After,
                Inequality::AtOrBefore,
                Inequality::Before,
            ] {
                let found = index
                    .matches(std::slice::from_ref(&left_keys), &left_times, inequality)
                    .unwrap();
                let expected: Vec<Option<u32>> = left
                    .iter()
                    .map(|(k, t)| nearest_by_definition(&right, *k, *t, inequality))
                    .collect();
                prop_assert_eq!(found.iter().collect::<Vec<_>>(), expected, "{}", inequality);
            }
        }
    }

    #[test]
    fn without_keys_every_row_is_one_group() {
        let times: ArrayRef = Arc::new(Int64Array::from(vec![Some(5), None, Some(1), Some(5)]));
        let index = AsofIndex::build(&[], &times).unwrap();
        let left: ArrayRef = Arc::new(Int64Array::from(vec![Some(0), Some(3), Some(9), None]));
        let found = index.matches(&[], &left, Inequality::AtOrAfter).unwrap();
        assert_eq!(
            found.iter().collect::<Vec<_>>(),
            [None, Some(2), Some(0), None]
        );
    }
}
