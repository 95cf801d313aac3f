//! DuckDB's `now()`, `current_timestamp`, `get_current_timestamp()` and
//! `transaction_timestamp()`: the time the statement started, the same in every row, as a
//! TIMESTAMPTZ (microseconds in UTC, written with `+00`). DataFusion's is a TIMESTAMP_NS
//! without a zone, which a Parquet file then held as nanoseconds not adjusted to UTC, where
//! DuckDB's holds the instant.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::types::{UTC, timestamptz};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Now {
    signature: Signature,
    aliases: Vec<String>,
}

impl Now {
    pub fn new() -> Self {
        Now {
            signature: Signature::nullary(Volatility::Stable),
            aliases: [
                "current_timestamp",
                "get_current_timestamp",
                "transaction_timestamp",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl ScalarUDFImpl for Now {
    fn name(&self) -> &str {
        "now"
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(timestamptz())
    }

    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(self.name(), timestamptz(), false)))
    }

    /// The statement's start, a constant before the plan runs.
    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let Some(start) = info.query_execution_start_time() else {
            return Ok(ExprSimplifyResult::Original(args));
        };
        Ok(ExprSimplifyResult::Simplified(Expr::Literal(
            ScalarValue::TimestampMicrosecond(Some(start.timestamp_micros()), Some(UTC.into())),
            None,
        )))
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        internal_err!("now() is replaced by the statement's start time before it runs")
    }
}
