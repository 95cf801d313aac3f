//! DuckDB's `hash(value, ...)`: a UBIGINT per row that equals DuckDB's for the same values, so
//! `hash(doc_id) % 100 < 10` picks the same 10% sample, and the same bucket per row, in Tarn as
//! in a DuckDB script written before it.
//!
//! What DuckDB computes (its `Hash<T>` and vector hashing, checked value by value against
//! DuckDB 2.0 from Python): a fixed-point integer is mixed by a 64-bit finaliser ("murmur64")
//! after widening, 32-bit types through `uint32` (so `-1::INTEGER` is mixed as 0xFFFF_FFFF) and
//! 64-bit ones as they are; a 128-bit one mixes its halves and XORs them. Floats are mixed by
//! their bits with -0 made 0 and every NaN one NaN. Strings and blobs are read 8 bytes at a
//! time, little-endian, into a seeded multiply-XOR state that is mixed last. An interval is
//! first carried into whole months of 30 days and whole days (flooring), then its three parts
//! are mixed and XORed. NULL hashes to a constant. Several arguments, a list's elements and a
//! struct's fields are folded left to right with [`combine`]; an empty or NULL list hashes as
//! NULL, and a NULL struct as a struct of NULL fields. A list or struct after the first
//! argument is not hashed whole and then folded in: its elements (each hashed whole) or fields
//! are folded into the running hash one by one, so `hash(1, {a: 2, b: 3})` is `hash(1, 2, 3)`
//! and an empty list there changes nothing.
//!
//! A timestamp is mixed as the count of its own unit, as DuckDB mixes the same Parquet column
//! (microseconds for its TIMESTAMP, nanoseconds for TIMESTAMP_NS). Tarn's own `TIMESTAMP '…'`
//! literals and casts count nanoseconds where DuckDB's count microseconds, so their hashes
//! differ from DuckDB's.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, UInt64Array, make_array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Date64Type, Decimal128Type, DurationMicrosecondType,
    DurationMillisecondType, DurationNanosecondType, DurationSecondType, Float16Type, Float32Type,
    Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, IntervalDayTimeType,
    IntervalMonthDayNanoType, IntervalUnit, IntervalYearMonthType, Time32MillisecondType,
    Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::common::{Result, not_impl_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::{arrays, call_value};
use super::types::sql_type_name;

/// The hash of NULL (and of an empty list).
const NULL_HASH: u64 = 0xbf58_476d_1ce4_e5b9;
/// The odd multiplier of the finaliser and of the byte-string state.
const MIX: u64 = 0xd6e8_feb8_6659_fd93;
const MICROS_PER_DAY: i128 = 86_400_000_000;
const MICROS_PER_MONTH: i128 = 30 * MICROS_PER_DAY;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DuckDbHash {
    signature: Signature,
}

impl DuckDbHash {
    pub fn new() -> Self {
        DuckDbHash {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DuckDbHash {
    fn name(&self) -> &str {
        "hash"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if let Some(t) = arg_types.iter().find(|t| !hashable(t)) {
            return plan_err!("hash does not take a value of type {}", sql_type_name(t));
        }
        Ok(DataType::UInt64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let mut columns = arrays(&args.args, args.number_rows)?.into_iter();
        let first = columns
            .next()
            .expect("DataFusion refuses hash() without arguments");
        let mut rows = row_hashes(&first)?;
        for column in columns {
            combine_rows(&column, &mut rows)?;
        }
        call_value(&args.args, Arc::new(UInt64Array::from(rows)) as ArrayRef)
    }
}

/// DuckDB's 64-bit finaliser.
fn murmur64(mut x: u64) -> u64 {
    x ^= x >> 32;
    x = x.wrapping_mul(MIX);
    x ^= x >> 32;
    x = x.wrapping_mul(MIX);
    x ^ (x >> 32)
}

/// Folds the next value's hash into the hash of those before it.
fn combine(acc: u64, next: u64) -> u64 {
    (acc ^ (acc >> 32)).wrapping_mul(MIX) ^ next
}

/// A string's or blob's hash.
fn bytes_hash(bytes: &[u8]) -> u64 {
    let mut state = 0xe17a_1465 ^ (bytes.len() as u64).wrapping_mul(0xc6a4_a793_5bd1_e995);
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        state ^= u64::from_le_bytes(word.try_into().expect("8-byte chunk"));
        state = state.wrapping_mul(MIX);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        state ^= u64::from_le_bytes(word);
        state = state.wrapping_mul(MIX);
    }
    murmur64(state)
}

/// A value DuckDB keeps in 32 bits or fewer, signed ones sign-extended to 32 bits.
fn narrow(value: i64) -> u64 {
    murmur64(value as u32 as u64)
}

fn wide(value: i64) -> u64 {
    murmur64(value as u64)
}

fn huge(value: i128) -> u64 {
    murmur64(value as u64) ^ murmur64((value >> 64) as u64)
}

fn float32(value: f32) -> u64 {
    let value = if value == 0.0 {
        0.0
    } else if value.is_nan() {
        f32::NAN
    } else {
        value
    };
    murmur64(value.to_bits() as u64)
}

fn float64(value: f64) -> u64 {
    let value = if value == 0.0 {
        0.0
    } else if value.is_nan() {
        f64::NAN
    } else {
        value
    };
    murmur64(value.to_bits())
}

/// An interval's hash: carried into months of 30 days and days first, so that `INTERVAL 40 DAY`
/// hashes as `INTERVAL 1 MONTH 10 DAY`, which DuckDB holds equal to it.
fn interval(months: i64, days: i64, micros: i64) -> u64 {
    let total = months as i128 * MICROS_PER_MONTH + days as i128 * MICROS_PER_DAY + micros as i128;
    let months = total.div_euclid(MICROS_PER_MONTH);
    let rest = total.rem_euclid(MICROS_PER_MONTH);
    wide((rest / MICROS_PER_DAY) as i64)
        ^ wide(months as i64)
        ^ wide((rest % MICROS_PER_DAY) as i64)
}

/// Folds a run of element hashes: NULL's hash for none.
fn fold(hashes: &[u64]) -> u64 {
    match hashes.split_first() {
        None => NULL_HASH,
        Some((&first, rest)) => rest.iter().fold(first, |acc, &next| combine(acc, next)),
    }
}

/// Whether `hash` takes values of this type.
fn hashable(data_type: &DataType) -> bool {
    use DataType::*;
    match data_type {
        Null | Boolean | Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64
        | Float16 | Float32 | Float64 | Decimal128(..) | Utf8 | LargeUtf8 | Utf8View | Binary
        | LargeBinary | BinaryView | FixedSizeBinary(_) | Date32 | Date64 | Time32(_)
        | Time64(_) | Timestamp(..) | Duration(_) | Interval(_) => true,
        List(f) | LargeList(f) | FixedSizeList(f, _) | Map(f, _) => hashable(f.data_type()),
        Struct(fields) => fields.iter().all(|f| hashable(f.data_type())),
        Dictionary(_, values) => hashable(values),
        _ => false,
    }
}

/// One hash per row of a primitive array, NULL rows hashing as NULL.
fn primitive<T: ArrowPrimitiveType>(
    array: &dyn Array,
    hash: impl Fn(T::Native) -> u64,
) -> Vec<u64> {
    array
        .as_primitive::<T>()
        .iter()
        .map(|value| value.map_or(NULL_HASH, &hash))
        .collect()
}

/// One hash per row of byte strings.
fn byte_rows<'a>(values: impl Iterator<Item = Option<&'a [u8]>>) -> Vec<u64> {
    values.map(|v| v.map_or(NULL_HASH, bytes_hash)).collect()
}

/// One hash per row of `array`, as DuckDB hashes a vector of its type.
fn row_hashes(array: &dyn Array) -> Result<Vec<u64>> {
    use DataType::*;
    let days_from_ms = |ms: i64| ms.div_euclid(86_400_000);
    Ok(match array.data_type() {
        Null => vec![NULL_HASH; array.len()],
        Boolean => array
            .as_boolean()
            .iter()
            .map(|v| v.map_or(NULL_HASH, |b| murmur64(b as u64)))
            .collect(),
        Int8 => primitive::<Int8Type>(array, |v| narrow(v as i64)),
        Int16 => primitive::<Int16Type>(array, |v| narrow(v as i64)),
        Int32 => primitive::<Int32Type>(array, |v| narrow(v as i64)),
        Int64 => primitive::<Int64Type>(array, wide),
        UInt8 => primitive::<UInt8Type>(array, |v| murmur64(v as u64)),
        UInt16 => primitive::<UInt16Type>(array, |v| murmur64(v as u64)),
        UInt32 => primitive::<UInt32Type>(array, |v| murmur64(v as u64)),
        UInt64 => primitive::<UInt64Type>(array, murmur64),
        Float16 => primitive::<Float16Type>(array, |v| float32(v.to_f32())),
        Float32 => primitive::<Float32Type>(array, float32),
        Float64 => primitive::<Float64Type>(array, float64),
        // DuckDB keeps a DECIMAL of up to 9 digits in 32 bits, up to 18 in 64, beyond in 128.
        Decimal128(precision, _) => match precision {
            ..=9 => primitive::<Decimal128Type>(array, |v| narrow(v as i64)),
            10..=18 => primitive::<Decimal128Type>(array, |v| wide(v as i64)),
            _ => primitive::<Decimal128Type>(array, huge),
        },
        Utf8 => byte_rows(
            array
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(str::as_bytes)),
        ),
        LargeUtf8 => byte_rows(
            array
                .as_string::<i64>()
                .iter()
                .map(|v| v.map(str::as_bytes)),
        ),
        Utf8View => byte_rows(array.as_string_view().iter().map(|v| v.map(str::as_bytes))),
        Binary => byte_rows(array.as_binary::<i32>().iter()),
        LargeBinary => byte_rows(array.as_binary::<i64>().iter()),
        BinaryView => byte_rows(array.as_binary_view().iter()),
        FixedSizeBinary(_) => byte_rows(array.as_fixed_size_binary().iter()),
        Date32 => primitive::<Date32Type>(array, |v| narrow(v as i64)),
        Date64 => primitive::<Date64Type>(array, |v| narrow(days_from_ms(v))),
        // DuckDB's TIME counts microseconds.
        Time32(TimeUnit::Second) => {
            primitive::<Time32SecondType>(array, |v| wide(v as i64 * 1_000_000))
        }
        Time32(_) => primitive::<Time32MillisecondType>(array, |v| wide(v as i64 * 1_000)),
        Time64(TimeUnit::Microsecond) => primitive::<Time64MicrosecondType>(array, wide),
        Time64(_) => primitive::<Time64NanosecondType>(array, |v| wide(v / 1_000)),
        // Each of DuckDB's timestamp types keeps its own unit, as Arrow's do.
        Timestamp(TimeUnit::Second, _) => primitive::<TimestampSecondType>(array, wide),
        Timestamp(TimeUnit::Millisecond, _) => primitive::<TimestampMillisecondType>(array, wide),
        Timestamp(TimeUnit::Microsecond, _) => primitive::<TimestampMicrosecondType>(array, wide),
        Timestamp(TimeUnit::Nanosecond, _) => primitive::<TimestampNanosecondType>(array, wide),
        Duration(TimeUnit::Second) => {
            primitive::<DurationSecondType>(array, |v| interval(0, 0, v * 1_000_000))
        }
        Duration(TimeUnit::Millisecond) => {
            primitive::<DurationMillisecondType>(array, |v| interval(0, 0, v * 1_000))
        }
        Duration(TimeUnit::Microsecond) => {
            primitive::<DurationMicrosecondType>(array, |v| interval(0, 0, v))
        }
        Duration(TimeUnit::Nanosecond) => {
            primitive::<DurationNanosecondType>(array, |v| interval(0, 0, v / 1_000))
        }
        Interval(IntervalUnit::YearMonth) => {
            primitive::<IntervalYearMonthType>(array, |v| interval(v as i64, 0, 0))
        }
        Interval(IntervalUnit::DayTime) => primitive::<IntervalDayTimeType>(array, |v| {
            interval(0, v.days as i64, v.milliseconds as i64 * 1_000)
        }),
        Interval(IntervalUnit::MonthDayNano) => primitive::<IntervalMonthDayNanoType>(array, |v| {
            interval(v.months as i64, v.days as i64, v.nanoseconds / 1_000)
        }),
        List(_) | LargeList(_) | Map(..) | FixedSizeList(..) => {
            let (elements, bounds) = list_elements(array)?;
            (0..array.len())
                .map(|row| match array.is_null(row) {
                    true => NULL_HASH,
                    false => fold(&elements[bounds[row]..bounds[row + 1]]),
                })
                .collect()
        }
        Struct(_) => {
            let mut fields = struct_fields(array)?.into_iter();
            let Some(first) = fields.next() else {
                return Ok(vec![NULL_HASH; array.len()]);
            };
            let mut hashes = row_hashes(&first)?;
            for field in fields {
                combine_rows(&field, &mut hashes)?;
            }
            hashes
        }
        Dictionary(_, values) => row_hashes(&cast(array, values)?)?,
        other => return not_impl_err!("hash of {}", sql_type_name(other)),
    })
}

/// Folds each row of `array` into `acc`, as DuckDB hashes an argument after the first and a
/// struct's later fields: a value's hash is combined in, a list's elements' hashes one by one
/// (none for an empty or NULL list), a struct's fields one by one.
fn combine_rows(array: &dyn Array, acc: &mut [u64]) -> Result<()> {
    use DataType::*;
    match array.data_type() {
        List(_) | LargeList(_) | Map(..) | FixedSizeList(..) => {
            let (elements, bounds) = list_elements(array)?;
            for (row, acc) in acc.iter_mut().enumerate() {
                if array.is_valid(row) {
                    let elements = &elements[bounds[row]..bounds[row + 1]];
                    *acc = elements.iter().fold(*acc, |acc, &next| combine(acc, next));
                }
            }
        }
        Struct(_) => {
            for field in struct_fields(array)? {
                combine_rows(&field, acc)?;
            }
        }
        Dictionary(_, values) => combine_rows(&cast(array, values)?, acc)?,
        _ => {
            for (acc, next) in acc.iter_mut().zip(row_hashes(array)?) {
                *acc = combine(*acc, next);
            }
        }
    }
    Ok(())
}

/// The hashes of a list array's elements, each standing alone, and where each row's begin: row
/// `r`'s run from `bounds[r]` to `bounds[r + 1]`.
fn list_elements(array: &dyn Array) -> Result<(Vec<u64>, Vec<usize>)> {
    Ok(match array.data_type() {
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            let bounds = list.value_offsets().iter().map(|&o| o as usize).collect();
            (row_hashes(list.values())?, bounds)
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>();
            let bounds = list.value_offsets().iter().map(|&o| o as usize).collect();
            (row_hashes(list.values())?, bounds)
        }
        DataType::Map(..) => {
            let map = array.as_map();
            let bounds = map.value_offsets().iter().map(|&o| o as usize).collect();
            (row_hashes(map.entries())?, bounds)
        }
        DataType::FixedSizeList(_, size) => {
            // Slicing the list slices its values: row `r` starts at `r * size`.
            let bounds = (0..=array.len()).map(|row| row * *size as usize).collect();
            (row_hashes(array.as_fixed_size_list().values())?, bounds)
        }
        other => return not_impl_err!("hash of {} as a list", sql_type_name(other)),
    })
}

/// A struct array's fields, NULL wherever the struct is (DuckDB hashes a NULL struct as a
/// struct of NULLs; Arrow leaves any value under a NULL struct).
fn struct_fields(array: &dyn Array) -> Result<Vec<ArrayRef>> {
    let columns = array.as_struct().columns();
    let Some(nulls) = array.logical_nulls() else {
        return Ok(columns.to_vec());
    };
    columns
        .iter()
        .map(|field| {
            if field.data_type().is_null() {
                return Ok(Arc::clone(field));
            }
            let nulls = NullBuffer::union(Some(&nulls), field.logical_nulls().as_ref());
            let data = field.to_data().into_builder().nulls(nulls).build()?;
            Ok(make_array(data))
        })
        .collect()
}
