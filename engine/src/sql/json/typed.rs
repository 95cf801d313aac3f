//! JSON text read straight into Arrow arrays of a given type, in one pass over each document
//! (`CAST(j AS STRUCT(...))`, `json_transform`); text that is not JSON but DuckDB's own for the
//! type (`{'a': 1, 'b': x}`) is read through its JSON (`duckdb_text::nested_text_as_json`). No document tree is built: each value goes
//! into the column of its place in the type as the parser reaches it, and the members the
//! type does not name are checked and skipped. Building a tree, fitting it to the type,
//! writing it out again and decoding that with arrow-json made `json_transform` twelve times
//! slower than DuckDB.
//!
//! Values fit the type as DuckDB reads JSON into one: an object's missing keys are NULL and
//! its other keys ignored (the first of a repeated key counts), a number for an integer is
//! rounded half to even and a string of one half away from zero, a boolean is 1 or 0 and a
//! number a boolean unless 0, any value for VARCHAR is its JSON text, and a decimal, date or
//! timestamp is cast from its text. A value that does not fit is an error naming it, or, when
//! lenient, NULL alone; malformed text is an error, or, when lenient, a NULL row.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, FixedSizeListArray, Float64Array, Int64Array, LargeListArray,
    ListArray, MapArray, NullArray, StringArray, StructArray, UInt64Array, new_null_array,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::ArrowNativeType;
use datafusion::arrow::datatypes::{DataType, FieldRef, Fields};
use datafusion::common::{Result, exec_datafusion_err, exec_err};
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::Number;

use super::shown;
use super::value::{Json, Malformed};
use crate::sql::types::sql_type_name;

/// The documents in `texts` as values of `target` (NULL text gives NULL).
pub fn decode(texts: &StringArray, target: &DataType, lenient: bool) -> Result<ArrayRef> {
    let mut column = Column::new(target);
    let mut misfit = None;
    for row in 0..texts.len() {
        if texts.is_null(row) {
            column.push_null();
            continue;
        }
        let text = texts.value(row);
        let before = column.len();
        let mut read = fill_from(text, &mut column, lenient, &mut misfit);
        // Not JSON, but maybe DuckDB's own text for the type (`['a b', c]`, `{'a': 1}`); a
        // value read before the text stopped being JSON may have misfit (`[2024-01-02]` starts
        // with the number 2024).
        if read.is_err()
            && serde_json::from_str::<IgnoredAny>(text).is_err()
            && let Some(json) = crate::sql::duckdb_text::nested_text_as_json(text, target)
        {
            misfit = None;
            column.truncate(before);
            read = fill_from(&json, &mut column, lenient, &mut misfit);
        }
        let Err(err) = read else { continue };
        if let Some(reason) = misfit.take() {
            return exec_err!(
                "CAST to {}: {reason} in '{}'",
                sql_type_name(target),
                shown(text)
            );
        }
        if !lenient {
            let bad = Malformed::new(text, &err);
            return exec_err!(
                "CAST to {}: '{}' is neither JSON nor DuckDB's text for the type (malformed JSON \
                 at byte {}: {})",
                sql_type_name(target),
                shown(text),
                bad.byte,
                bad.reason
            );
        }
        column.truncate(before);
        column.push_null();
    }
    column.finish(lenient)
}

/// Reads one document into `column`.
fn fill_from(
    text: &str,
    column: &mut Column,
    lenient: bool,
    misfit: &mut Option<String>,
) -> serde_json::Result<()> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let fill = Fill {
        column,
        lenient,
        misfit,
    };
    fill.deserialize(&mut reader).and_then(|()| reader.end())
}

/// The values read so far for one place in the type.
enum Column {
    /// Type NULL: every value is NULL.
    Null(usize),
    /// A type JSON is not read into (binary, interval, ...): only `null` fits.
    Unreadable(DataType, usize),
    Bool(Vec<Option<bool>>),
    /// Any integer type but UBIGINT; the values are checked against the type's range.
    Signed(DataType, Vec<Option<i64>>),
    Unsigned(Vec<Option<u64>>),
    Float(DataType, Vec<Option<f64>>),
    /// Text for VARCHAR, and the text a decimal, date or timestamp is cast from at the end.
    Text(DataType, Texts),
    List {
        item: FieldRef,
        large: bool,
        valid: Vec<bool>,
        offsets: Vec<usize>,
        items: Box<Column>,
    },
    FixedList {
        item: FieldRef,
        size: usize,
        valid: Vec<bool>,
        items: Box<Column>,
    },
    Struct {
        fields: Fields,
        valid: Vec<bool>,
        children: Vec<Column>,
    },
    Map {
        entries: FieldRef,
        sorted: bool,
        valid: Vec<bool>,
        offsets: Vec<usize>,
        keys: Box<Column>,
        values: Box<Column>,
    },
}

/// Strings in one buffer, as Arrow keeps them.
struct Texts {
    bytes: String,
    /// Where each string starts in `bytes`, and where the last ends.
    offsets: Vec<usize>,
    valid: Vec<bool>,
}

impl Default for Texts {
    fn default() -> Self {
        Texts {
            bytes: String::new(),
            offsets: vec![0],
            valid: vec![],
        }
    }
}

impl Texts {
    fn push(&mut self, text: Option<&str>) {
        self.bytes.push_str(text.unwrap_or_default());
        self.offsets.push(self.bytes.len());
        self.valid.push(text.is_some());
    }

    fn truncate(&mut self, len: usize) {
        self.bytes.truncate(self.offsets[len]);
        self.offsets.truncate(len + 1);
        self.valid.truncate(len);
    }

    fn finish(self) -> Result<StringArray> {
        Ok(StringArray::try_new(
            offsets(&self.offsets)?,
            self.bytes.into_bytes().into(),
            nulls(self.valid),
        )?)
    }
}

/// One JSON value that is not an array or object.
#[derive(Clone, Copy)]
enum Scalar<'v> {
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Str(&'v str),
}

impl<'v> Scalar<'v> {
    /// The value as JSON text.
    fn json(self) -> String {
        match self {
            Scalar::Str(text) => Json::String(text.to_string()).to_text(),
            other => other.unquoted().into_owned(),
        }
    }

    /// The value as text: a string as it is, anything else as JSON writes it.
    fn unquoted(self) -> Cow<'v, str> {
        match self {
            Scalar::Bool(value) => Cow::Borrowed(if value { "true" } else { "false" }),
            Scalar::Unsigned(value) => value.to_string().into(),
            Scalar::Signed(value) => value.to_string().into(),
            Scalar::Float(value) => {
                Number::from_f64(value).map_or("null".into(), |n| n.to_string().into())
            }
            Scalar::Str(text) => Cow::Borrowed(text),
        }
    }

    /// The value as a number, if it is one, a string of one, or a boolean (1 or 0).
    fn number(self) -> Option<f64> {
        match self {
            Scalar::Unsigned(value) => Some(value as f64),
            Scalar::Signed(value) => Some(value as f64),
            Scalar::Float(value) => Some(value),
            Scalar::Str(text) => text.trim().parse::<f64>().ok(),
            Scalar::Bool(value) => Some(value.into()),
        }
    }

    /// The value as an integer in `min..=max`. Integers are exact; DuckDB rounds a JSON
    /// number half to even (2.5 is 2), and reads a string as it casts text to an integer
    /// (`"2.5"` is 3, `"0x10"` is 16).
    fn integer(self, min: i128, max: i128) -> Option<i128> {
        let value = match self {
            Scalar::Unsigned(value) => value.into(),
            Scalar::Signed(value) => value.into(),
            Scalar::Bool(value) => value.into(),
            Scalar::Float(value) => whole(value.round_ties_even(), min, max)?,
            Scalar::Str(text) => crate::sql::integer_text::integer(text.trim())?,
        };
        (min..=max).contains(&value).then_some(value)
    }

    /// The value as a boolean: a number is true unless 0, and a string is read as DuckDB
    /// casts one (`true`, `t`, `yes`, `y`, `1` and their opposites).
    fn boolean(self) -> Option<bool> {
        match self {
            Scalar::Bool(value) => Some(value),
            Scalar::Str(text) => match text.to_ascii_lowercase().as_str() {
                "true" | "t" | "yes" | "y" | "1" => Some(true),
                "false" | "f" | "no" | "n" | "0" => Some(false),
                _ => None,
            },
            number => number.number().map(|value| value != 0.0),
        }
    }
}

/// A rounded number as an integer, if it lies in `min..=max`.
fn whole(rounded: f64, min: i128, max: i128) -> Option<i128> {
    (min as f64..=max as f64)
        .contains(&rounded)
        .then_some(rounded as i128)
}

/// The range of an integer type other than UBIGINT.
fn signed_range(target: &DataType) -> (i128, i128) {
    match target {
        DataType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        DataType::UInt8 => (0, u8::MAX.into()),
        DataType::UInt16 => (0, u16::MAX.into()),
        DataType::UInt32 => (0, u32::MAX.into()),
        _ => (i64::MIN.into(), i64::MAX.into()),
    }
}

fn nulls(valid: Vec<bool>) -> Option<NullBuffer> {
    Some(NullBuffer::from(valid)).filter(|nulls| nulls.null_count() > 0)
}

/// Offsets (from 0) as Arrow's offsets of type `O`; an error past what `O` holds.
fn offsets<O: TryFrom<usize> + ArrowNativeType>(ends: &[usize]) -> Result<OffsetBuffer<O>> {
    let offsets = ends
        .iter()
        .map(|&end| {
            O::try_from(end).map_err(|_| {
                exec_datafusion_err!("too many values in one batch for Arrow's offsets")
            })
        })
        .collect::<Result<Vec<O>>>()?;
    Ok(OffsetBuffer::new(ScalarBuffer::from(offsets)))
}

impl Column {
    fn new(target: &DataType) -> Column {
        match target {
            DataType::Null => Column::Null(0),
            DataType::Boolean => Column::Bool(vec![]),
            DataType::UInt64 => Column::Unsigned(vec![]),
            t if t.is_integer() => Column::Signed(t.clone(), vec![]),
            t if t.is_floating() => Column::Float(t.clone(), vec![]),
            t if t.is_decimal() || t.is_temporal() => Column::Text(t.clone(), Texts::default()),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                Column::Text(target.clone(), Texts::default())
            }
            DataType::List(item) | DataType::LargeList(item) => Column::List {
                item: item.clone(),
                large: matches!(target, DataType::LargeList(_)),
                valid: vec![],
                offsets: vec![0],
                items: Box::new(Column::new(item.data_type())),
            },
            DataType::FixedSizeList(item, size) => Column::FixedList {
                item: item.clone(),
                size: *size as usize,
                valid: vec![],
                items: Box::new(Column::new(item.data_type())),
            },
            DataType::Struct(fields) => Column::Struct {
                fields: fields.clone(),
                valid: vec![],
                children: fields.iter().map(|f| Column::new(f.data_type())).collect(),
            },
            DataType::Map(entries, sorted) => match entries.data_type() {
                DataType::Struct(kv) if kv.len() == 2 => Column::Map {
                    entries: entries.clone(),
                    sorted: *sorted,
                    valid: vec![],
                    offsets: vec![0],
                    keys: Box::new(Column::new(kv[0].data_type())),
                    values: Box::new(Column::new(kv[1].data_type())),
                },
                _ => Column::Unreadable(target.clone(), 0),
            },
            other => Column::Unreadable(other.clone(), 0),
        }
    }

    fn data_type(&self) -> DataType {
        match self {
            Column::Null(_) => DataType::Null,
            Column::Unreadable(t, _)
            | Column::Signed(t, _)
            | Column::Float(t, _)
            | Column::Text(t, _) => t.clone(),
            Column::Bool(_) => DataType::Boolean,
            Column::Unsigned(_) => DataType::UInt64,
            Column::List {
                item, large: false, ..
            } => DataType::List(item.clone()),
            Column::List {
                item, large: true, ..
            } => DataType::LargeList(item.clone()),
            Column::FixedList { item, size, .. } => {
                DataType::FixedSizeList(item.clone(), *size as i32)
            }
            Column::Struct { fields, .. } => DataType::Struct(fields.clone()),
            Column::Map {
                entries, sorted, ..
            } => DataType::Map(entries.clone(), *sorted),
        }
    }

    fn len(&self) -> usize {
        match self {
            Column::Null(len) | Column::Unreadable(_, len) => *len,
            Column::Bool(values) => values.len(),
            Column::Signed(_, values) => values.len(),
            Column::Unsigned(values) => values.len(),
            Column::Float(_, values) => values.len(),
            Column::Text(_, texts) => texts.valid.len(),
            Column::List { valid, .. }
            | Column::FixedList { valid, .. }
            | Column::Struct { valid, .. }
            | Column::Map { valid, .. } => valid.len(),
        }
    }

    fn push_null(&mut self) {
        match self {
            Column::Null(len) | Column::Unreadable(_, len) => *len += 1,
            Column::Bool(values) => values.push(None),
            Column::Signed(_, values) => values.push(None),
            Column::Unsigned(values) => values.push(None),
            Column::Float(_, values) => values.push(None),
            Column::Text(_, texts) => texts.push(None),
            Column::List { valid, offsets, .. } | Column::Map { valid, offsets, .. } => {
                valid.push(false);
                offsets.push(*offsets.last().expect("offsets start at 0"));
            }
            Column::FixedList {
                size, valid, items, ..
            } => {
                valid.push(false);
                (0..*size).for_each(|_| items.push_null());
            }
            Column::Struct {
                valid, children, ..
            } => {
                valid.push(false);
                children.iter_mut().for_each(Column::push_null);
            }
        }
    }

    /// Drops the rows from `len` on (a lenient read of malformed text starts its row again).
    fn truncate(&mut self, len: usize) {
        match self {
            Column::Null(count) | Column::Unreadable(_, count) => *count = len,
            Column::Bool(values) => values.truncate(len),
            Column::Signed(_, values) => values.truncate(len),
            Column::Unsigned(values) => values.truncate(len),
            Column::Float(_, values) => values.truncate(len),
            Column::Text(_, texts) => texts.truncate(len),
            Column::List {
                valid,
                offsets,
                items,
                ..
            } => {
                valid.truncate(len);
                offsets.truncate(len + 1);
                items.truncate(offsets[len]);
            }
            Column::FixedList {
                size, valid, items, ..
            } => {
                valid.truncate(len);
                items.truncate(len * *size);
            }
            Column::Struct {
                valid, children, ..
            } => {
                valid.truncate(len);
                children.iter_mut().for_each(|child| child.truncate(len));
            }
            Column::Map {
                valid,
                offsets,
                keys,
                values,
                ..
            } => {
                valid.truncate(len);
                offsets.truncate(len + 1);
                keys.truncate(offsets[len]);
                values.truncate(offsets[len]);
            }
        }
    }

    /// Appends a scalar value, or answers that it does not fit (and appends nothing).
    fn push(&mut self, value: Scalar) -> Result<(), ()> {
        match self {
            Column::Null(len) => *len += 1,
            Column::Bool(values) => values.push(Some(value.boolean().ok_or(())?)),
            Column::Signed(target, values) => {
                let (min, max) = signed_range(target);
                let integer = value.integer(min, max).ok_or(())?;
                values.push(Some(integer as i64));
            }
            Column::Unsigned(values) => {
                let integer = value.integer(0, u64::MAX.into()).ok_or(())?;
                values.push(Some(integer as u64));
            }
            Column::Float(_, values) => values.push(Some(value.number().ok_or(())?)),
            Column::Text(target, texts) => match (target, value) {
                (t, Scalar::Str(text)) if t.is_temporal() => texts.push(Some(text)),
                (t, _) if t.is_temporal() => return Err(()),
                (t, value) if t.is_decimal() => match value {
                    Scalar::Str(text) => texts.push(Some(text.trim())),
                    Scalar::Bool(value) => texts.push(Some(if value { "1" } else { "0" })),
                    number => texts.push(Some(&number.unquoted())),
                },
                (_, value) => texts.push(Some(&value.unquoted())),
            },
            _ => return Err(()),
        }
        Ok(())
    }

    /// The column of a list's items.
    fn items(&mut self) -> Option<&mut Column> {
        match self {
            Column::List { items, .. } | Column::FixedList { items, .. } => Some(items),
            _ => None,
        }
    }

    /// Ends a list whose items from `start` on were just read. A fixed-size list of another
    /// length does not fit: its items are dropped and their count is the error.
    fn end_list(&mut self, start: usize) -> Result<(), usize> {
        match self {
            Column::List {
                valid,
                offsets,
                items,
                ..
            } => {
                offsets.push(items.len());
                valid.push(true);
            }
            Column::FixedList {
                size, valid, items, ..
            } => {
                let count = items.len() - start;
                if count != *size {
                    items.truncate(start);
                    return Err(count);
                }
                valid.push(true);
            }
            _ => unreachable!("only a list column has items"),
        }
        Ok(())
    }

    /// Appends a value written as JSON text (an array or object where VARCHAR is wanted).
    fn push_json_text(&mut self, value: Json) -> Result<(), Json> {
        match self {
            Column::Null(len) => *len += 1,
            Column::Text(t, texts) if !t.is_temporal() && !t.is_decimal() => {
                texts.push(Some(&value.to_text()))
            }
            _ => return Err(value),
        }
        Ok(())
    }

    /// The Arrow array of the values; when not `lenient`, a date, timestamp or decimal that
    /// its text does not give is an error.
    fn finish(self, lenient: bool) -> Result<ArrayRef> {
        Ok(match self {
            Column::Null(len) => Arc::new(NullArray::new(len)),
            Column::Unreadable(t, len) => new_null_array(&t, len),
            Column::Bool(values) => Arc::new(BooleanArray::from(values)),
            Column::Signed(t, values) => cast(&Int64Array::from(values), &t)?,
            Column::Unsigned(values) => Arc::new(UInt64Array::from(values)),
            Column::Float(t, values) => cast(&Float64Array::from(values), &t)?,
            Column::Text(t, texts) => {
                let texts = texts.finish()?;
                let values = cast(&texts, &t)?;
                if !lenient {
                    let lost =
                        (0..texts.len()).find(|&row| texts.is_valid(row) && values.is_null(row));
                    if let Some(row) = lost {
                        return exec_err!(
                            "cannot read '{}' as {}",
                            texts.value(row),
                            sql_type_name(&t)
                        );
                    }
                }
                values
            }
            Column::List {
                item,
                large,
                valid,
                offsets: ends,
                items,
            } => {
                let items = items.finish(lenient)?;
                let nulls = nulls(valid);
                match large {
                    false => Arc::new(ListArray::try_new(item, offsets(&ends)?, items, nulls)?)
                        as ArrayRef,
                    true => Arc::new(LargeListArray::try_new(
                        item,
                        offsets(&ends)?,
                        items,
                        nulls,
                    )?),
                }
            }
            Column::FixedList {
                item,
                size,
                valid,
                items,
            } => Arc::new(FixedSizeListArray::try_new(
                item,
                size as i32,
                items.finish(lenient)?,
                nulls(valid),
            )?),
            Column::Struct {
                fields,
                valid,
                children,
            } => {
                let children = children
                    .into_iter()
                    .map(|c| c.finish(lenient))
                    .collect::<Result<_>>()?;
                Arc::new(StructArray::try_new(fields, children, nulls(valid))?)
            }
            Column::Map {
                entries,
                sorted,
                valid,
                offsets: ends,
                keys,
                values,
            } => {
                let DataType::Struct(kv) = entries.data_type() else {
                    unreachable!("a map column's entries are a struct")
                };
                let pairs = StructArray::try_new(
                    kv.clone(),
                    vec![keys.finish(lenient)?, values.finish(lenient)?],
                    None,
                )?;
                Arc::new(MapArray::try_new(
                    entries,
                    offsets(&ends)?,
                    pairs,
                    nulls(valid),
                    sorted,
                )?)
            }
        })
    }
}

/// Reads one value into a column.
struct Fill<'a> {
    column: &'a mut Column,
    lenient: bool,
    /// Why a value did not fit, when not lenient (the read then fails).
    misfit: &'a mut Option<String>,
}

impl Fill<'_> {
    fn scalar<E: de::Error>(self, value: Scalar) -> Result<(), E> {
        match self.column.push(value) {
            Ok(()) => Ok(()),
            Err(()) => self.misfit(|| value.json()),
        }
    }

    /// A value that does not fit: NULL when lenient, else the reason, and the read fails.
    fn misfit<E: de::Error>(self, text: impl FnOnce() -> String) -> Result<(), E> {
        if self.lenient {
            self.column.push_null();
            return Ok(());
        }
        let reason = format!(
            "cannot read {} as {}",
            text(),
            sql_type_name(&self.column.data_type())
        );
        *self.misfit = Some(reason);
        Err(E::custom("a value does not fit"))
    }

    /// An array or object where neither a list, struct nor map is wanted.
    fn whole<E: de::Error>(self, value: Result<Json, E>) -> Result<(), E> {
        match self.column.push_json_text(value?) {
            Ok(()) => Ok(()),
            Err(value) => self.misfit(|| value.to_text()),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Fill<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Fill<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.column.push_null();
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<(), E> {
        self.scalar(Scalar::Bool(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<(), E> {
        self.scalar(Scalar::Unsigned(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<(), E> {
        self.scalar(Scalar::Signed(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<(), E> {
        self.scalar(Scalar::Float(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        self.scalar(Scalar::Str(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Fill {
            column,
            lenient,
            misfit,
        } = self;
        let Some(items) = column.items() else {
            let value = Json::deserialize(SeqAccessDeserializer::new(seq));
            return Fill {
                column,
                lenient,
                misfit,
            }
            .whole(value);
        };
        let start = items.len();
        loop {
            let item = Fill {
                column: &mut *items,
                lenient,
                misfit: &mut *misfit,
            };
            if seq.next_element_seed(item)?.is_none() {
                break;
            }
        }
        match column.end_list(start) {
            Ok(()) => Ok(()),
            Err(count) => Fill {
                column,
                lenient,
                misfit,
            }
            .misfit(|| format!("a list of {count} values")),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Fill {
            column,
            lenient,
            misfit,
        } = self;
        match column {
            Column::Struct {
                fields,
                valid,
                children,
            } => {
                // A field is read once its column holds a value for this row; the first
                // member of a repeated key counts.
                let row = valid.len();
                while let Some(field) = map.next_key_seed(FieldIndex(fields))? {
                    match field.filter(|&at| children[at].len() == row) {
                        Some(at) => {
                            let child = Fill {
                                column: &mut children[at],
                                lenient,
                                misfit: &mut *misfit,
                            };
                            map.next_value_seed(child)?;
                        }
                        None => drop(map.next_value::<IgnoredAny>()?),
                    }
                }
                let unread = children.iter_mut().filter(|child| child.len() == row);
                unread.for_each(Column::push_null);
                valid.push(true);
                Ok(())
            }
            Column::Map {
                valid,
                offsets,
                keys,
                values,
                ..
            } => {
                loop {
                    let key = Fill {
                        column: keys,
                        lenient,
                        misfit: &mut *misfit,
                    };
                    if map.next_key_seed(key)?.is_none() {
                        break;
                    }
                    map.next_value_seed(Fill {
                        column: values,
                        lenient,
                        misfit: &mut *misfit,
                    })?;
                }
                offsets.push(keys.len());
                valid.push(true);
                Ok(())
            }
            _ => {
                let value = Json::deserialize(MapAccessDeserializer::new(map));
                Fill {
                    column,
                    lenient,
                    misfit,
                }
                .whole(value)
            }
        }
    }
}

/// Reads a member's key, answering which field of a struct it names.
struct FieldIndex<'f>(&'f Fields);

impl<'de> DeserializeSeed<'de> for FieldIndex<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FieldIndex<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|field| field.name() == key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::Field;
    use datafusion::arrow::util::display::array_value_to_string;

    fn read(texts: &[Option<&str>], target: &DataType, lenient: bool) -> Result<Vec<String>> {
        let array = decode(&StringArray::from(texts.to_vec()), target, lenient)?;
        Ok((0..array.len())
            .map(|row| match array.is_valid(row) {
                true => array_value_to_string(&array, row).unwrap(),
                false => "NULL".into(),
            })
            .collect())
    }

    fn record() -> DataType {
        DataType::Struct(Fields::from(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("c", DataType::Utf8, true),
            Field::new("z", DataType::Float64, true),
        ]))
    }

    #[test]
    fn documents_fit_the_type_as_duckdb_reads_them() {
        // DuckDB: json_transform('{"a": 1.6, "c": {"d": [1]}}', '{"a": "INTEGER", "c":
        // "VARCHAR", "z": "DOUBLE"}') is {'a': 2, 'c': '{"d":[1]}', 'z': NULL}.
        let got = read(
            &[Some(r#"{"a": 1.6, "c": {"d": [1]}, "extra": 0}"#), None],
            &record(),
            true,
        )
        .unwrap();
        assert_eq!(got, [r#"{a: 2, c: {"d":[1]}, z: }"#, "NULL"]);
        let list = DataType::new_list(DataType::Int64, true);
        // DuckDB: json_transform('[1, "a", 3]', '["INTEGER"]') is [1, NULL, 3].
        assert_eq!(
            read(&[Some(r#"[1, "a", "3"]"#)], &list, true).unwrap(),
            ["[1, , 3]"]
        );
    }

    #[test]
    fn a_value_that_does_not_fit_fails_unless_lenient() {
        let err = read(&[Some(r#"{"a": "x"}"#)], &record(), false).unwrap_err();
        assert!(
            err.to_string().contains(r#"cannot read "x" as INTEGER"#),
            "{err}"
        );
        assert_eq!(
            read(&[Some(r#"{"a": "x"}"#)], &record(), true).unwrap(),
            ["{a: , c: , z: }"]
        );
        let err = read(&[Some("{oops")], &record(), false).unwrap_err();
        assert!(err.to_string().contains("malformed JSON at byte"), "{err}");
        assert_eq!(read(&[Some("{oops")], &record(), true).unwrap(), ["NULL"]);
    }

    #[test]
    fn duckdb_answers_for_lists_maps_and_repeated_keys() {
        let vector =
            DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), 2);
        // DuckDB: '[0.5, 1]'::FLOAT[2] is [0.5, 1.0]; '[1, 2, 3]'::FLOAT[2] fails.
        assert_eq!(
            read(&[Some("[0.5, 1]"), Some("null")], &vector, false).unwrap(),
            ["[0.5, 1.0]", "NULL"]
        );
        let err = read(&[Some("[1, 2, 3]")], &vector, false).unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot read a list of 3 values as FLOAT[2]"),
            "{err}"
        );
        assert_eq!(
            read(&[Some("[1, 2, 3]"), Some("[3, 4]")], &vector, true).unwrap(),
            ["NULL", "[3.0, 4.0]"]
        );
        let map = DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(Fields::from(vec![
                    Field::new("key", DataType::Utf8, false),
                    Field::new("value", DataType::Int64, true),
                ])),
                false,
            )),
            false,
        );
        assert_eq!(
            read(&[Some(r#"{"x": 1, "y": "2"}"#)], &map, false).unwrap(),
            ["{x: 1, y: 2}"]
        );
        // The first of a repeated key counts, as in DuckDB.
        assert_eq!(
            read(&[Some(r#"{"a": 1, "a": 2}"#)], &record(), false).unwrap(),
            ["{a: 1, c: , z: }"]
        );
    }

    #[test]
    fn integers_are_exact_and_in_range() {
        let big = read(
            &[Some("9007199254740993"), Some("\"-9007199254740993\"")],
            &DataType::Int64,
            false,
        );
        assert_eq!(big.unwrap(), ["9007199254740993", "-9007199254740993"]);
        // DuckDB: a number rounds half to even, a string half away from zero.
        let rows = [
            r#"2.5"#, r#"-2.5"#, r#"3.5"#, r#"" 7 ""#, r#""2.5""#, r#"true"#,
        ];
        let got = read(&rows.map(Some), &DataType::Int8, false);
        assert_eq!(got.unwrap(), ["2", "-2", "4", "7", "3", "1"]);
        let got = read(
            &[Some("128"), Some(r#""""#), Some("[1]")],
            &DataType::Int8,
            true,
        );
        assert_eq!(got.unwrap(), ["NULL", "NULL", "NULL"]);
        assert_eq!(
            read(&[Some("18446744073709551615")], &DataType::UInt64, false).unwrap(),
            ["18446744073709551615"]
        );
    }

    #[test]
    fn a_malformed_row_leaves_nothing_behind_when_lenient() {
        // The first row's list and struct get values before the fault; the row must be NULL
        // alone, with the next row's values in place.
        let target = DataType::Struct(Fields::from(vec![
            Field::new("xs", DataType::new_list(DataType::Int64, true), true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let got = read(
            &[
                Some(r#"{"xs": [1, 2], "s": "a", oops"#),
                Some(r#"{"xs": [3], "s": {"k": [1]}}"#),
            ],
            &target,
            true,
        );
        assert_eq!(got.unwrap(), ["NULL", r#"{xs: [3], s: {"k":[1]}}"#]);
    }

    #[test]
    fn dates_decimals_and_booleans_as_duckdb_reads_them() {
        let got = read(
            &[Some(r#""2024-03-05""#), Some(r#""not a date""#)],
            &DataType::Date32,
            true,
        );
        assert_eq!(got.unwrap(), ["2024-03-05", "NULL"]);
        let err = read(&[Some(r#""2024-13-45""#)], &DataType::Date32, false).unwrap_err();
        assert!(
            err.to_string().contains("cannot read '2024-13-45' as DATE"),
            "{err}"
        );
        let rows = ["1.25", r#""2.5""#, "2.545", r#""2.555""#, "true"];
        let got = read(&rows.map(Some), &DataType::Decimal128(6, 2), false);
        assert_eq!(got.unwrap(), ["1.25", "2.50", "2.55", "2.56", "1.00"]);
        // DuckDB reads a string as it casts one to BOOLEAN, and a number as not zero.
        let rows = [r#""yes""#, r#""F""#, "0.5", "0", r#""off""#];
        let got = read(&rows.map(Some), &DataType::Boolean, true);
        assert_eq!(got.unwrap(), ["true", "false", "true", "false", "NULL"]);
    }
}
