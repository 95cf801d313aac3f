//! DuckDB's `to_timestamp(seconds)`: seconds since the epoch (a fraction kept to the
//! microsecond) as a TIMESTAMPTZ, the type logs and JSON exports of epoch times become.
//! DataFusion's made a zoneless TIMESTAMP_NS, which a Parquet file held as nanoseconds (unread
//! by Spark). Text and its formats, `to_timestamp('2024-01-02 03:04', ...)`, are still
//! DataFusion's function's, which [`ToTimestamp`] hands them to.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::config::ConfigOptions;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::{arrays, call_value};
use super::types::{UTC, timestamptz};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ToTimestamp {
    signature: Signature,
    /// DataFusion's `to_timestamp`, for text.
    text: Arc<ScalarUDF>,
}

impl ToTimestamp {
    pub fn new() -> Self {
        ToTimestamp {
            signature: Signature::user_defined(Volatility::Immutable),
            text: datafusion::functions::datetime::to_timestamp(&ConfigOptions::default()),
        }
    }
}

/// Whether the call reads seconds: one argument, a number (after coercion, a DOUBLE).
fn reads_seconds(arg_types: &[DataType]) -> bool {
    matches!(arg_types, [DataType::Float64])
}

impl ScalarUDFImpl for ToTimestamp {
    fn name(&self) -> &str {
        "to_timestamp"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [number] if number.is_numeric() => Ok(vec![DataType::Float64]),
            _ => Ok(arg_types.to_vec()),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match reads_seconds(arg_types) {
            true => Ok(timestamptz()),
            false => self.text.return_type(arg_types),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let types: Vec<DataType> = args.args.iter().map(ColumnarValue::data_type).collect();
        if !reads_seconds(&types) {
            return self.text.invoke_with_args(args);
        }
        let arrays = arrays(&args.args, args.number_rows)?;
        let seconds = arrays[0].as_primitive::<Float64Type>();
        let mut micros = Vec::with_capacity(seconds.len());
        for value in seconds.iter() {
            micros.push(match value {
                Some(s) => {
                    let us = (s * 1e6).round();
                    if !us.is_finite() || us.abs() >= i64::MAX as f64 {
                        return exec_err!("to_timestamp: {s} seconds is out of range");
                    }
                    Some(us as i64)
                }
                None => None,
            });
        }
        let out = TimestampMicrosecondArray::from(micros).with_timezone(UTC);
        call_value(&args.args, Arc::new(out))
    }
}
