//! DuckDB's `epoch_ms`, `epoch_us` and `epoch_ns`: a timestamp (or date) as a count of
//! milli-, micro- or nanoseconds since 1970-01-01 00:00:00 UTC, rounded down (so
//! `1969-12-31 23:59:59.9995` is -1 ms); and `epoch_ms(n)`, the timestamp `n` milliseconds
//! after it. (`epoch(ts)`, in seconds, is a date part: `function_names`.)

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Int64Array, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use super::text_functions::{arrays, call_value};
use super::types::sql_type_name;

/// Registers `epoch_ms`, `epoch_us` and `epoch_ns`.
pub fn register(ctx: &SessionContext) {
    for unit in [
        TimeUnit::Millisecond,
        TimeUnit::Microsecond,
        TimeUnit::Nanosecond,
    ] {
        ctx.register_udf(ScalarUDF::from(Epoch::new(unit)));
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Epoch {
    /// What the count counts.
    unit: TimeUnit,
    signature: Signature,
}

impl Epoch {
    fn new(unit: TimeUnit) -> Self {
        Epoch {
            unit,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// Nanoseconds in one `unit`.
fn nanos(unit: &TimeUnit) -> i128 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

impl ScalarUDFImpl for Epoch {
    fn name(&self) -> &str {
        match self.unit {
            TimeUnit::Millisecond => "epoch_ms",
            TimeUnit::Microsecond => "epoch_us",
            _ => "epoch_ns",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// A date becomes a timestamp; a timestamp keeps its unit and zone (its value is UTC
    /// either way); `epoch_ms` also takes an integer count.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [DataType::Timestamp(..)] => Ok(arg_types.to_vec()),
            [DataType::Date32 | DataType::Date64] => {
                Ok(vec![DataType::Timestamp(TimeUnit::Microsecond, None)])
            }
            [t] if t.is_integer() && self.unit == TimeUnit::Millisecond => {
                Ok(vec![DataType::Int64])
            }
            [t] => plan_err!(
                "{} takes a timestamp or a date, not {}",
                self.name(),
                sql_type_name(t)
            ),
            _ => plan_err!("{} takes one argument", self.name()),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(match arg_types {
            [DataType::Int64] => DataType::Timestamp(TimeUnit::Microsecond, None),
            _ => DataType::Int64,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = &arrays(&args.args, args.number_rows)?[0];
        // The raw counts: a timestamp as its count of its unit, or milliseconds.
        let counts = cast(input, &DataType::Int64)?;
        let counts = counts.as_primitive::<Int64Type>();
        let answer: ArrayRef = match input.data_type() {
            DataType::Timestamp(unit, _) => {
                let (from, to) = (nanos(unit), nanos(&self.unit));
                let converted = counts.iter().map(|count| {
                    count
                        .map(|c| i64::try_from((i128::from(c) * from).div_euclid(to)))
                        .transpose()
                });
                match converted.collect::<Result<Int64Array, _>>() {
                    Ok(converted) => Arc::new(converted),
                    Err(_) => return exec_err!("{}: the count does not fit a BIGINT", self.name()),
                }
            }
            _ => {
                let mut micros = Vec::with_capacity(counts.len());
                for millis in counts {
                    micros.push(match millis.map(|ms| ms.checked_mul(1000)) {
                        None => None,
                        Some(Some(us)) => Some(us),
                        Some(None) => {
                            return exec_err!(
                                "epoch_ms: {} ms is out of the timestamp range",
                                millis.unwrap_or_default()
                            );
                        }
                    });
                }
                Arc::new(TimestampMicrosecondArray::from(micros))
            }
        };
        call_value(&args.args, answer)
    }
}
