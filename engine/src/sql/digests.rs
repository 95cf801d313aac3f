//! DuckDB's digests of a string's UTF-8 bytes or of a BLOB, for content ids, dedup keys and
//! deterministic samples that must match ones computed elsewhere:
//!
//! * `sha1(value)`: the SHA-1 digest as 40 lowercase hex digits (as `md5` and `sha256` give
//!   theirs);
//! * `md5_number(value)`: the MD5 digest as one number, its 16 bytes read little-end first,
//!   as DuckDB's UHUGEINT; Arrow has no unsigned 128-bit integer, so it is a DECIMAL(39, 0),
//!   which holds every such number;
//! * `md5_number_upper(value)` and `md5_number_lower(value)`: the digest's first and last 8
//!   bytes, each a UBIGINT read little-end first (`md5_number_lower(id) % 100 < 10` keeps the
//!   same tenth of the ids on every run).

use std::fmt::Write;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Decimal256Array, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, i256};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use md5::Md5;
use sha1::{Digest, Sha1};

use super::text_functions::{arrays, call_value, is_text};
use super::types::sql_type_name;

/// The types a digest reads its argument as: text as UTF-8, a BLOB as it is.
fn digest_input(name: &str, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    match arg_types {
        [t] if is_text(t) || t.is_null() => Ok(vec![DataType::Utf8]),
        [DataType::Binary | DataType::LargeBinary | DataType::BinaryView] => {
            Ok(vec![DataType::Binary])
        }
        [t] => plan_err!("{name} takes a string or a BLOB, not {}", sql_type_name(t)),
        _ => plan_err!("{name} takes one argument"),
    }
}

/// `digest` of each value of `values` (text or a BLOB, as [`digest_input`] made it).
fn each_digest<'a, T>(
    values: &'a ArrayRef,
    digest: impl Fn(&[u8]) -> T + 'a,
) -> Box<dyn Iterator<Item = Option<T>> + 'a> {
    match values.data_type() {
        DataType::Binary => Box::new(
            values
                .as_binary::<i32>()
                .iter()
                .map(move |v| v.map(&digest)),
        ),
        _ => Box::new(
            values
                .as_string::<i32>()
                .iter()
                .map(move |v| v.map(|text| digest(text.as_bytes()))),
        ),
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Sha1Digest {
    signature: Signature,
}

impl Sha1Digest {
    pub fn new() -> Self {
        Sha1Digest {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn hex_digest(bytes: &[u8]) -> String {
    Sha1::digest(bytes)
        .iter()
        .fold(String::with_capacity(40), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

impl ScalarUDFImpl for Sha1Digest {
    fn name(&self) -> &str {
        "sha1"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        digest_input(self.name(), arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let values = &arrays(&args.args, args.number_rows)?[0];
        let digests: StringArray = each_digest(values, hex_digest).collect();
        call_value(&args.args, Arc::new(digests) as ArrayRef)
    }
}

/// Which number of an MD5 digest an `md5_number` function gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Md5Part {
    Whole,
    Upper,
    Lower,
}

/// `md5_number`, `md5_number_upper` or `md5_number_lower` (see the module documentation).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Md5Number {
    part: Md5Part,
    signature: Signature,
}

impl Md5Number {
    pub fn new(part: Md5Part) -> Self {
        Md5Number {
            part,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The MD5 digest of `bytes` as one number, its bytes read little-end first.
fn md5_number(bytes: &[u8]) -> u128 {
    u128::from_le_bytes(Md5::digest(bytes).into())
}

impl ScalarUDFImpl for Md5Number {
    fn name(&self) -> &str {
        match self.part {
            Md5Part::Whole => "md5_number",
            Md5Part::Upper => "md5_number_upper",
            Md5Part::Lower => "md5_number_lower",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        digest_input(self.name(), arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.part {
            Md5Part::Whole => DataType::Decimal256(39, 0),
            Md5Part::Upper | Md5Part::Lower => DataType::UInt64,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let values = &arrays(&args.args, args.number_rows)?[0];
        let numbers = each_digest(values, md5_number);
        let answer: ArrayRef = match self.part {
            Md5Part::Whole => Arc::new(
                numbers
                    .map(|number| number.map(|n| i256::from_parts(n, 0)))
                    .collect::<Decimal256Array>()
                    .with_precision_and_scale(39, 0)?,
            ),
            Md5Part::Upper => Arc::new(
                numbers
                    .map(|number| number.map(|n| n as u64))
                    .collect::<UInt64Array>(),
            ),
            Md5Part::Lower => Arc::new(
                numbers
                    .map(|number| number.map(|n| (n >> 64) as u64))
                    .collect::<UInt64Array>(),
            ),
        };
        call_value(&args.args, answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_numbers_read_the_digest_little_end_first() {
        // As DuckDB 2.0 answers for md5('abc') = 900150983cd24fb0d6963f7d28e17f72.
        let number = md5_number(b"abc");
        assert_eq!(number, 152195979970564155685860391459828531600);
        assert_eq!(number as u64, 12704604231530709392);
        assert_eq!((number >> 64) as u64, 8250560606382298838);
    }
}
