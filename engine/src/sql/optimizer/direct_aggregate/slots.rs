//! Groups of one integer key found by the key's value: one slot per value of a bounded range.

use std::collections::HashMap;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{DataFusionError, Result};

use super::GroupFinder;

/// Slots per 4 KB page of the slot array, the unit in which its memory is counted.
const PAGE_SLOTS: usize = 1024;

/// A slot no group has taken; a taken slot holds its group's number plus one.
const EMPTY: u32 = 0;

/// The groups seen so far in one partition, numbered in the order their keys first came.
pub(super) struct SlotGroups {
    /// The key of `slots[0]`.
    min: i64,
    /// For each key from `min` on, its group number plus one, or [`EMPTY`].
    slots: Vec<u32>,
    /// One bit per page of `slots`: whether a group has taken a slot in it.
    touched: Vec<u64>,
    /// The group numbers of keys outside the slots' range.
    others: HashMap<i64, u32>,
    /// The group of the NULL key, once one came.
    null_group: Option<u32>,
    /// Each group's key (0 for the NULL key's group).
    keys: Vec<i64>,
}

impl SlotGroups {
    /// Empty groups with `slots` slots from `min` on.
    pub(super) fn new(min: i64, slots: usize) -> Self {
        Self {
            min,
            slots: vec![EMPTY; slots],
            touched: vec![0; slots.div_ceil(PAGE_SLOTS).div_ceil(64)],
            others: HashMap::new(),
            null_group: None,
            keys: Vec::new(),
        }
    }

    /// Appends the group of each of `keys` to `groups`, adding the groups new keys start.
    fn assign_integers(&mut self, keys: &Int64Array, groups: &mut Vec<usize>) {
        groups.clear();
        groups.reserve(keys.len());
        if keys.null_count() == 0 {
            for &key in keys.values() {
                groups.push(self.group_of(key));
            }
        } else {
            for key in keys {
                groups.push(match key {
                    Some(key) => self.group_of(key),
                    None => self.null_group(),
                });
            }
        }
    }

    /// The group of a non-NULL `key`.
    #[inline]
    fn group_of(&mut self, key: i64) -> usize {
        let offset = key.wrapping_sub(self.min) as u64 as usize;
        if let Some(slot) = self.slots.get_mut(offset) {
            if *slot == EMPTY {
                self.keys.push(key);
                *slot = self.keys.len() as u32;
                let page = offset / PAGE_SLOTS;
                self.touched[page / 64] |= 1 << (page % 64);
            }
            return *slot as usize - 1;
        }
        let next = self.keys.len() as u32;
        let group = *self.others.entry(key).or_insert(next);
        if group == next {
            self.keys.push(key);
        }
        group as usize
    }

    /// The group of the NULL key.
    fn null_group(&mut self) -> usize {
        let keys = &mut self.keys;
        *self.null_group.get_or_insert_with(|| {
            keys.push(0);
            (keys.len() - 1) as u32
        }) as usize
    }

    /// How many pages of the slots a group has taken a slot in.
    fn touched_pages(&self) -> usize {
        self.touched
            .iter()
            .map(|word| word.count_ones() as usize)
            .sum()
    }
}

impl GroupFinder for SlotGroups {
    fn assign(&mut self, keys: &[ArrayRef], groups: &mut Vec<usize>) -> Result<()> {
        let [key] = keys else {
            return Err(DataFusionError::Internal(format!(
                "slot groups have one key, not {}",
                keys.len()
            )));
        };
        let key = cast(key, &DataType::Int64)?;
        self.assign_integers(key.as_primitive::<Int64Type>(), groups);
        Ok(())
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    /// The touched pages of the slots, the keys and the hash map.
    fn bytes(&self) -> usize {
        self.touched_pages() * PAGE_SLOTS * size_of::<u32>()
            + self.keys.capacity() * size_of::<i64>()
            + self.others.capacity() * (size_of::<i64>() + size_of::<u32>() + 1)
    }

    fn take_keys(&mut self, types: &[DataType]) -> Result<Vec<ArrayRef>> {
        let nulls = self.null_group.take().map(|group| {
            NullBuffer::from_iter((0..self.keys.len()).map(|index| index != group as usize))
        });
        let keys = Int64Array::new(std::mem::take(&mut self.keys).into(), nulls);
        self.others.clear();
        // A fresh zeroed array rather than a fill, which would touch every page.
        self.slots = vec![EMPTY; self.slots.len()];
        self.touched.fill(0);
        Ok(vec![cast(&keys, &types[0])?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_inside_and_outside_the_slots_and_null_get_one_group_each() {
        let mut groups = SlotGroups::new(10, 5);
        let keys = Int64Array::from(vec![
            Some(10),
            Some(14),
            None,
            Some(9),
            Some(15),
            Some(10),
            None,
            Some(i64::MIN),
            Some(14),
            Some(9),
        ]);
        let mut assigned = Vec::new();
        groups.assign_integers(&keys, &mut assigned);
        assert_eq!(assigned, vec![0, 1, 2, 3, 4, 0, 2, 5, 1, 3]);
        let keys = groups.take_keys(&[DataType::Int64]).unwrap();
        let expected = Int64Array::from(vec![
            Some(10),
            Some(14),
            None,
            Some(9),
            Some(15),
            Some(i64::MIN),
        ]);
        assert_eq!(keys[0].as_primitive::<Int64Type>(), &expected);
        groups.assign_integers(&Int64Array::from(vec![14, 10]), &mut assigned);
        assert_eq!(assigned, vec![0, 1], "taking the keys forgets the groups");
    }

    #[test]
    fn only_the_pages_of_slots_a_key_took_count_as_memory() {
        let mut groups = SlotGroups::new(0, 1 << 20);
        let mut assigned = Vec::new();
        // Keys 0 and 5 share the first page, 2000 is on the second, 999 999 on page 976.
        groups.assign_integers(
            &Int64Array::from(vec![0, 5, 2000, 999_999, 5]),
            &mut assigned,
        );
        assert_eq!(assigned, vec![0, 1, 2, 3, 1]);
        assert_eq!(groups.touched_pages(), 3);
        assert!(groups.bytes() < 4 * 4096, "{} bytes", groups.bytes());
        groups.take_keys(&[DataType::Int64]).unwrap();
        assert_eq!(groups.touched_pages(), 0);
        groups.assign_integers(&Int64Array::from(vec![2000]), &mut assigned);
        assert_eq!((assigned[0], groups.touched_pages()), (0, 1));
    }
}
