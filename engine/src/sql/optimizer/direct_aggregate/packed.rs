//! Groups of up to [`MAX_PACKED_KEYS`] string and integer keys, found by the keys packed into
//! one 128-bit word each.
//!
//! DataFusion groups on several columns (`GroupValuesColumn`) by hashing each column in turn and
//! comparing each candidate row column by column through the arrays' generic accessors; on
//! TPC-H Q1's two one-letter string keys that took 16% of the query. A string of at most 12
//! bytes lies whole inside its 128-bit Arrow view (length and bytes), so such a key is one word
//! compared in one instruction; longer strings are numbered as they first come, per column,
//! and their word holds the number. An integer key's word is its value. A row's words form one
//! fixed-size array, hashed by a few multiplications, whose group a hash table finds; a small
//! direct-mapped table of the groups met last answers first, which for a few groups (Q1 has
//! four) is one read and one comparison a row. Past [`MAX_PACKED_GROUPS`] groups a partition
//! hands the rest of its input to DataFusion's aggregate ([`super::handover`]).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, StringViewArray, StringViewBuilder,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{DataFusionError, HashMap, Result};
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use super::GroupFinder;

/// The most key columns packed; more make each map entry large and rarer to meet.
pub(super) const MAX_PACKED_KEYS: usize = 4;

/// The most groups a partition keeps as packed words: past this, the rest of its input goes to
/// DataFusion's aggregate ([`super::handover`]). Sixteen times the groups
/// [`PackedGroups::recent`] holds.
pub(super) const MAX_PACKED_GROUPS: usize = 16 * RECENT;

/// The most bytes an Arrow view holds inline, after its 4-byte length.
const INLINE_BYTES: u32 = 12;

/// A string word's length field (its low 32 bits) for a string numbered in [`LongStrings`]; the
/// number is in the upper 96 bits. No inline string has this length.
const LONG_STRING: u32 = INLINE_BYTES + 1;

/// The word of a NULL string: a length no string has.
const NULL_STRING: u128 = u32::MAX as u128;

/// The word of a NULL integer: an integer's word uses only its low 64 bits.
const NULL_INTEGER: u128 = 1 << 64;

/// The start of a row's hash and the constants each word's halves are mixed with (digits of
/// pi): any fixed values with many bits set serve.
const HASH_SEED: u64 = 0xa409_3822_299f_31d0;
const LOW_MIX: u64 = 0x243f_6a88_85a3_08d3;
const HIGH_MIX: u64 = 0x1319_8a2e_0370_7344;

/// How many groups [`PackedGroups::recent`] holds, by the top [`RECENT_BITS`] of their hash.
const RECENT_BITS: u32 = 8;
const RECENT: usize = 1 << RECENT_BITS;

/// Whether a key of `data_type` can be packed into a word.
pub(super) fn is_packable(data_type: &DataType) -> bool {
    *data_type == DataType::Utf8View || super::is_exact_in_i64(data_type)
}

/// Groups of keys of `types` (each [`is_packable`]), empty, or `None` for more keys than are
/// packed.
pub(super) fn packed_groups(types: &[DataType]) -> Option<Box<dyn GroupFinder>> {
    let columns = types
        .iter()
        .map(|data_type| match data_type {
            DataType::Utf8View => KeyColumn::Text(LongStrings::default()),
            _ => KeyColumn::Integer,
        })
        .collect();
    Some(match types.len() {
        1 => Box::new(PackedGroups::<1>::new(columns)),
        2 => Box::new(PackedGroups::<2>::new(columns)),
        3 => Box::new(PackedGroups::<3>::new(columns)),
        4 => Box::new(PackedGroups::<4>::new(columns)),
        _ => return None,
    })
}

/// How one key column's values become words.
enum KeyColumn {
    /// Cast to `Int64`; the word is the value's bits.
    Integer,
    /// A `Utf8View`: the view itself when the string is inline, else its number.
    Text(LongStrings),
}

/// The strings longer than a view holds inline met in one key column, numbered as they came.
#[derive(Default)]
struct LongStrings {
    numbers: HashMap<Box<str>, u32>,
    /// The strings' bytes, for [`Self::bytes`].
    total_len: usize,
}

impl LongStrings {
    /// The number of `text`, given it the first time it comes.
    fn number(&mut self, text: &str) -> u32 {
        if let Some(&number) = self.numbers.get(text) {
            return number;
        }
        let number = self.numbers.len() as u32;
        self.numbers.insert(text.into(), number);
        self.total_len += text.len();
        number
    }

    /// The strings by number.
    fn by_number(&self) -> Vec<&str> {
        let mut strings = vec![""; self.numbers.len()];
        for (text, &number) in &self.numbers {
            strings[number as usize] = text;
        }
        strings
    }

    fn bytes(&self) -> usize {
        self.total_len + self.numbers.capacity() * (size_of::<Box<str>>() + size_of::<u32>() + 1)
    }

    fn clear(&mut self) {
        self.numbers.clear();
        self.total_len = 0;
    }
}

/// The word of the string whose view is `view` at `index` of `array`.
#[inline]
fn string_word(array: &StringViewArray, index: usize, view: u128, long: &mut LongStrings) -> u128 {
    // Arrow's format pads an inline string's view with zeros, so equal strings have equal
    // views (DataFusion's own grouping compares inline views whole too).
    if view as u32 <= INLINE_BYTES {
        view
    } else {
        LONG_STRING as u128 | (long.number(array.value(index)) as u128) << 32
    }
}

/// The string a word of a non-NULL string stands for, its long strings being `long`.
fn word_string<'a>(word: &'a [u8; 16], long: &[&'a str]) -> Result<&'a str> {
    let len = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
    if len == LONG_STRING {
        let number = u32::from_le_bytes([word[4], word[5], word[6], word[7]]);
        return Ok(long[number as usize]);
    }
    std::str::from_utf8(&word[4..4 + len as usize])
        .map_err(|error| DataFusionError::Internal(format!("a packed string key: {error}")))
}

/// The hash of a row's words: each word's halves folded into the hash by one full 64x64-bit
/// multiplication (as foldhash does), whose upper bits, which the table's control bytes take,
/// depend on every bit of the words.
#[inline]
fn hash_words<const N: usize>(row: &[u128; N]) -> u64 {
    row.iter().fold(HASH_SEED, |hash, &word| {
        let product =
            (hash ^ word as u64 ^ LOW_MIX) as u128 * ((word >> 64) as u64 ^ HIGH_MIX) as u128;
        product as u64 ^ (product >> 64) as u64
    })
}

/// Groups of `N` packed keys, numbered in the order they first came.
struct PackedGroups<const N: usize> {
    columns: Vec<KeyColumn>,
    /// Each group's words' [`hash_words`] and number: the hash is kept so that growing the
    /// table and passing over a colliding entry read no group's words.
    numbers: HashTable<(u64, u32)>,
    /// Each group's words, by number.
    keys: Vec<[u128; N]>,
    /// A group number plus one (0 for none) by the top bits of its hash: the groups met last,
    /// which a few groups all stay among, found with one read and no probe of `numbers`.
    recent: [u32; RECENT],
    /// The words of the batch being assigned, kept to reuse its allocation.
    rows: Vec<[u128; N]>,
}

impl<const N: usize> PackedGroups<N> {
    fn new(columns: Vec<KeyColumn>) -> Self {
        Self {
            columns,
            numbers: HashTable::new(),
            keys: Vec::new(),
            recent: [0; RECENT],
            rows: Vec::new(),
        }
    }

    /// The number of the group of `row`, starting a group if it is new.
    #[inline]
    fn number(&mut self, row: &[u128; N]) -> u32 {
        let hash = hash_words(row);
        let recent = &mut self.recent[(hash >> (64 - RECENT_BITS)) as usize];
        if let Some(number) = recent.checked_sub(1)
            && self.keys[number as usize] == *row
        {
            return number;
        }
        let keys = &mut self.keys;
        let entry = self.numbers.entry(
            hash,
            |&(other, number)| other == hash && keys[number as usize] == *row,
            |&(hash, _)| hash,
        );
        let number = match entry {
            Entry::Occupied(entry) => entry.get().1,
            Entry::Vacant(entry) => {
                let number = keys.len() as u32;
                keys.push(*row);
                entry.insert((hash, number));
                number
            }
        };
        *recent = number + 1;
        number
    }

    /// Writes word `column` of each row of `rows` from `key`'s values.
    fn pack(
        column: usize,
        kind: &mut KeyColumn,
        key: &ArrayRef,
        rows: &mut [[u128; N]],
    ) -> Result<()> {
        match kind {
            KeyColumn::Integer => {
                let key = cast(key, &DataType::Int64)?;
                let key = key.as_primitive::<Int64Type>();
                for (row, &value) in rows.iter_mut().zip(key.values()) {
                    row[column] = value as u64 as u128;
                }
                mark_null_integers(key.nulls(), column, rows);
            }
            KeyColumn::Text(long) => {
                let key = key.as_string_view_opt().ok_or_else(|| {
                    DataFusionError::Internal(format!("a string key of type {}", key.data_type()))
                })?;
                let views = rows.iter_mut().zip(key.views()).enumerate();
                match key.nulls().filter(|nulls| nulls.null_count() > 0) {
                    None => {
                        for (index, (row, &view)) in views {
                            row[column] = string_word(key, index, view, long);
                        }
                    }
                    // A NULL's view is not read: it need not point at a string.
                    Some(nulls) => {
                        for (index, (row, &view)) in views {
                            row[column] = match nulls.is_valid(index) {
                                true => string_word(key, index, view, long),
                                false => NULL_STRING,
                            };
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Sets integer word `column` of the rows that `nulls` marks NULL to [`NULL_INTEGER`].
fn mark_null_integers<const N: usize>(
    nulls: Option<&NullBuffer>,
    column: usize,
    rows: &mut [[u128; N]],
) {
    let Some(nulls) = nulls else { return };
    for (row, valid) in rows.iter_mut().zip(nulls.iter()) {
        if !valid {
            row[column] = NULL_INTEGER;
        }
    }
}

/// Column `column` of the integer keys `keys`.
fn integer_column<const N: usize>(keys: &[[u128; N]], column: usize) -> Int64Array {
    keys.iter()
        .map(|row| (row[column] != NULL_INTEGER).then_some(row[column] as u64 as i64))
        .collect()
}

/// Column `column` of the string keys `keys`, whose long strings are `long`.
fn text_column<const N: usize>(
    keys: &[[u128; N]],
    column: usize,
    long: &LongStrings,
) -> Result<StringViewArray> {
    let strings = long.by_number();
    let mut builder = StringViewBuilder::with_capacity(keys.len());
    for row in keys {
        if row[column] == NULL_STRING {
            builder.append_null();
        } else {
            let word = row[column].to_le_bytes();
            builder.append_value(word_string(&word, &strings)?);
        }
    }
    Ok(builder.finish())
}

impl<const N: usize> GroupFinder for PackedGroups<N> {
    fn assign(&mut self, keys: &[ArrayRef], groups: &mut Vec<usize>) -> Result<()> {
        if keys.len() != N {
            return Err(DataFusionError::Internal(format!(
                "packed groups of {N} keys given {}",
                keys.len()
            )));
        }
        let rows = keys.first().map_or(0, |key| key.len());
        self.rows.clear();
        self.rows.resize(rows, [0; N]);
        for (column, (kind, key)) in self.columns.iter_mut().zip(keys).enumerate() {
            Self::pack(column, kind, key, &mut self.rows)?;
        }
        groups.clear();
        groups.resize(rows, 0);
        let batch = std::mem::take(&mut self.rows);
        for (group, row) in groups.iter_mut().zip(&batch) {
            *group = self.number(row) as usize;
        }
        self.rows = batch;
        Ok(())
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    /// The map, the groups' words, the batch's words and the long strings.
    fn bytes(&self) -> usize {
        let long: usize = self
            .columns
            .iter()
            .map(|column| match column {
                KeyColumn::Text(long) => long.bytes(),
                KeyColumn::Integer => 0,
            })
            .sum();
        self.numbers.capacity() * (size_of::<(u64, u32)>() + 1)
            + (self.keys.capacity() + self.rows.capacity()) * size_of::<[u128; N]>()
            + long
    }

    fn take_keys(&mut self, types: &[DataType]) -> Result<Vec<ArrayRef>> {
        let keys = std::mem::take(&mut self.keys);
        self.numbers.clear();
        self.recent = [0; RECENT];
        let mut arrays = Vec::with_capacity(N);
        for (column, (kind, data_type)) in self.columns.iter_mut().zip(types).enumerate() {
            let array: ArrayRef = match kind {
                KeyColumn::Integer => Arc::new(integer_column(&keys, column)),
                KeyColumn::Text(long) => {
                    let array = text_column(&keys, column, long)?;
                    long.clear();
                    Arc::new(array)
                }
            };
            arrays.push(cast(&array, data_type)?);
        }
        Ok(arrays)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int32Array, StringArray};
    use datafusion::arrow::datatypes::Int32Type;

    use super::*;

    #[test]
    fn short_long_and_null_strings_and_integers_each_key_one_group_and_come_back() {
        let long = "a string longer than twelve bytes";
        let text: ArrayRef = Arc::new(StringViewArray::from(vec![
            Some("A"),
            Some(long),
            None,
            Some("A"),
            Some("exactly12byt"),
            Some(long),
            Some(""),
            Some("A"),
        ]));
        let number: ArrayRef = Arc::new(Int32Array::from(vec![
            Some(1),
            Some(1),
            Some(1),
            None,
            Some(-7),
            Some(1),
            Some(0),
            Some(1),
        ]));
        let types = [DataType::Utf8View, DataType::Int32];
        let mut groups = packed_groups(&types).unwrap();
        let mut assigned = Vec::new();
        groups
            .assign(&[Arc::clone(&text), Arc::clone(&number)], &mut assigned)
            .unwrap();
        assert_eq!(assigned, vec![0, 1, 2, 3, 4, 1, 5, 0]);

        let keys = groups
            .take_keys(&[DataType::Utf8, DataType::Int32])
            .unwrap();
        let expected_text = StringArray::from(vec![
            Some("A"),
            Some(long),
            None,
            Some("A"),
            Some("exactly12byt"),
            Some(""),
        ]);
        let expected_number =
            Int32Array::from(vec![Some(1), Some(1), Some(1), None, Some(-7), Some(0)]);
        assert_eq!(keys[0].as_string::<i32>(), &expected_text);
        assert_eq!(keys[1].as_primitive::<Int32Type>(), &expected_number);

        // Taking the keys forgets the groups and the long strings' numbers.
        groups
            .assign(&[text.slice(5, 1), number.slice(5, 1)], &mut assigned)
            .unwrap();
        assert_eq!((assigned.clone(), groups.len()), (vec![0], 1));
        let keys = groups.take_keys(&types).unwrap();
        assert_eq!(keys[0].as_string_view().value(0), long);
    }

    #[test]
    fn more_keys_than_are_packed_are_refused() {
        let keys = vec![DataType::Utf8View; MAX_PACKED_KEYS + 1];
        assert!(packed_groups(&keys[..MAX_PACKED_KEYS]).is_some());
        assert!(packed_groups(&keys).is_none());
    }
}
