//! DuckDB's byte counts as text, for file and row-group sizes (`parquet_metadata`, `glob`):
//! `format_bytes(16000)` (also `formatReadableSize`) is `15.6 KiB`, in powers of 1024 up to
//! PiB; `formatReadableDecimalSize(16000)` is `16.0 kB`, in powers of 1000 up to PB. Under one
//! unit the count is `N bytes` (`1 byte`); above, the whole units and one decimal, cut rather
//! than rounded as DuckDB does (1048575 bytes are `1023.9 KiB`, not `1024.0 KiB`).

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, StringArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use super::text_functions::{arrays, call_value};
use super::types::sql_type_name;

/// Registers `format_bytes` (with `formatReadableSize`) and `formatReadableDecimalSize`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(FormatBytes::new(Units::Binary)));
    ctx.register_udf(ScalarUDF::from(FormatBytes::new(Units::Decimal)));
}

/// Which units a count is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Units {
    /// KiB, MiB, … (powers of 1024).
    Binary,
    /// kB, MB, … (powers of 1000).
    Decimal,
}

impl Units {
    fn base(self) -> u128 {
        match self {
            Units::Binary => 1024,
            Units::Decimal => 1000,
        }
    }

    fn names(self) -> [&'static str; 5] {
        match self {
            Units::Binary => ["KiB", "MiB", "GiB", "TiB", "PiB"],
            Units::Decimal => ["kB", "MB", "GB", "TB", "PB"],
        }
    }
}

/// `bytes` as DuckDB writes it in `units`.
pub(super) fn format_bytes(bytes: i64, units: Units) -> String {
    let sign = if bytes < 0 { "-" } else { "" };
    let magnitude = u128::from(bytes.unsigned_abs());
    let base = units.base();
    if magnitude < base {
        let noun = if magnitude == 1 { "byte" } else { "bytes" };
        return format!("{sign}{magnitude} {noun}");
    }
    // The largest unit not above the count, PiB (PB) at most.
    let mut unit = base;
    let mut name = units.names()[0];
    for next in &units.names()[1..] {
        if magnitude < unit * base {
            break;
        }
        unit *= base;
        name = next;
    }
    let whole = magnitude / unit;
    let tenths = magnitude % unit * 10 / unit;
    format!("{sign}{whole}.{tenths} {name}")
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct FormatBytes {
    units: Units,
    aliases: Vec<String>,
    signature: Signature,
}

impl FormatBytes {
    fn new(units: Units) -> Self {
        let aliases = match units {
            Units::Binary => vec!["formatreadablesize".to_string()],
            Units::Decimal => Vec::new(),
        };
        FormatBytes {
            units,
            aliases,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for FormatBytes {
    fn name(&self) -> &str {
        match self.units {
            Units::Binary => "format_bytes",
            // Lower case, as the SQL planner folds an unquoted name.
            Units::Decimal => "formatreadabledecimalsize",
        }
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if t.is_integer() || t.is_null() => Ok(vec![DataType::Int64]),
            [t] => plan_err!(
                "{} takes a count of bytes, not {}",
                self.name(),
                sql_type_name(t)
            ),
            _ => plan_err!("{} takes one argument", self.name()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let counts = &arrays(&args.args, args.number_rows)?[0];
        let text: StringArray = counts
            .as_primitive::<Int64Type>()
            .iter()
            .map(|count| count.map(|bytes| format_bytes(bytes, self.units)))
            .collect();
        call_value(&args.args, Arc::new(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DuckDB 2.0's answers for each count.
    #[test]
    fn counts_read_as_duckdb_writes_them() {
        for (bytes, binary, decimal) in [
            (0, "0 bytes", "0 bytes"),
            (1, "1 byte", "1 byte"),
            (-1, "-1 byte", "-1 byte"),
            (999, "999 bytes", "999 bytes"),
            (1023, "1023 bytes", "1.0 kB"),
            (1536, "1.5 KiB", "1.5 kB"),
            (16000, "15.6 KiB", "16.0 kB"),
            (1_048_575, "1023.9 KiB", "1.0 MB"),
            (10_000_000, "9.5 MiB", "10.0 MB"),
            (1 << 40, "1.0 TiB", "1.0 TB"),
            (1 << 60, "1024.0 PiB", "1152.9 PB"),
            (-2048, "-2.0 KiB", "-2.0 kB"),
        ] {
            assert_eq!(format_bytes(bytes, Units::Binary), binary, "{bytes}");
            assert_eq!(format_bytes(bytes, Units::Decimal), decimal, "{bytes}");
        }
        assert_eq!(format_bytes(i64::MIN, Units::Binary), "-8192.0 PiB");
    }
}
