//! `octet_length(x)` (also `strlen`): the number of bytes in a string or a BLOB, as a BIGINT.
//! DataFusion's own takes strings only, and DuckDB's is the way to size a BLOB column.

use datafusion::arrow::compute::{cast, kernels::length::length};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::{arrays, call_value};
use super::types::sql_type_name;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct OctetLength {
    signature: Signature,
    aliases: Vec<String>,
}

impl OctetLength {
    pub fn new() -> Self {
        OctetLength {
            signature: Signature::user_defined(Volatility::Immutable),
            aliases: vec!["strlen".to_string()],
        }
    }
}

impl ScalarUDFImpl for OctetLength {
    fn name(&self) -> &str {
        "octet_length"
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [DataType::Null] => Ok(vec![DataType::Utf8]),
            [
                t @ (DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Binary
                | DataType::LargeBinary
                | DataType::BinaryView
                | DataType::FixedSizeBinary(_)),
            ] => Ok(vec![t.clone()]),
            [other] => plan_err!(
                "octet_length takes a VARCHAR or a BLOB, not {}",
                sql_type_name(other)
            ),
            _ => plan_err!("octet_length takes one argument"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let values = arrays(&args.args, args.number_rows)?;
        let lengths = cast(&length(&values[0])?, &DataType::Int64)?;
        call_value(&args.args, lengths)
    }
}
