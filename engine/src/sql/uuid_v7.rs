//! DuckDB's `uuidv7()`: a random UUID led by the milliseconds since the epoch (RFC 9562), so
//! that ids made later sort later, as keys of rows written over time want. As text, as
//! DataFusion's `uuid()` (DuckDB's `uuidv4()`) gives it.

use std::sync::Arc;

use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct UuidV7 {
    signature: Signature,
}

impl UuidV7 {
    pub fn new() -> Self {
        UuidV7 {
            signature: Signature::nullary(Volatility::Volatile),
        }
    }
}

impl Default for UuidV7 {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for UuidV7 {
    fn name(&self) -> &str {
        "uuidv7"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ids: StringArray = (0..args.number_rows)
            .map(|_| Some(uuid::Uuid::now_v7().to_string()))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(ids)))
    }
}
