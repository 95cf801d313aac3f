//! DuckDB's `sha1(value)`: the SHA-1 digest of a string's UTF-8 bytes or of a BLOB, as 40
//! lowercase hex digits (as its `md5` and `sha256` give theirs), for content ids and dedup keys
//! that must match ones computed elsewhere.

use std::fmt::Write;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use sha1::{Digest, Sha1};

use super::text_functions::{arrays, call_value, is_text};
use super::types::sql_type_name;

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
        match arg_types {
            [t] if is_text(t) || t.is_null() => Ok(vec![DataType::Utf8]),
            [DataType::Binary | DataType::LargeBinary | DataType::BinaryView] => {
                Ok(vec![DataType::Binary])
            }
            [t] => plan_err!("sha1 takes a string or a BLOB, not {}", sql_type_name(t)),
            _ => plan_err!("sha1 takes one argument"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let values = &arrays(&args.args, args.number_rows)?[0];
        let digests: StringArray = match values.data_type() {
            DataType::Binary => values
                .as_binary::<i32>()
                .iter()
                .map(|v| v.map(hex_digest))
                .collect(),
            _ => values
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(|text| hex_digest(text.as_bytes())))
                .collect(),
        };
        call_value(&args.args, Arc::new(digests) as ArrayRef)
    }
}
