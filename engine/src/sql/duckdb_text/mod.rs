//! Values as DuckDB writes them as text, where Arrow writes them otherwise. The shell's output,
//! `to_json`, `COPY ... (FORMAT csv)` and a cast to text ([`DuckDbText`]) spell them so.
//!
//! * Timestamps: a space between the date and the time, the fraction of a second only as long
//!   as it needs to be (`2024-01-02 03:04:05.5`, where Arrow writes `2024-01-02T03:04:05.500`),
//!   and a zone's offset after it (`+00`, `+05:30`); a TIME's fraction likewise (`01:02:03.5`).
//! * Floating-point numbers: Arrow's shortest text that reads back as the same number, but an
//!   exponent with its sign and two digits at least (`1e+20`, `1e-07`; Arrow: `1e20`, `1e-7`),
//!   and NaN as `nan` (`-nan` with the sign bit set; Arrow: `NaN`).
//! * Intervals: `1 year 2 months 3 days 04:05:06.5`, each part only when it is not zero, the
//!   clock's part as hours, minutes and seconds (`36:00:00`), `00:00:00` for none (Arrow:
//!   `14 mons 3 days 4 hours 5 mins 6.500000000 secs`). A duration, what DataFusion's
//!   `timestamp - timestamp` gives, is written as DuckDB writes that difference: days and a
//!   clock (`2 days 01:00:00`; Arrow: `PT176400S`).
//! * Lists, structs and maps: `[1, 2, NULL]`, `{'a': 7}`, `{1=a, 2=b}`, their values spelled
//!   as above (Arrow writes a NULL inside as nothing, quotes no field name, writes no `=`, and
//!   its CSV writer refuses them).
//! * BLOBs: printable ASCII as itself, other bytes as `\xAB` (Arrow: every byte in hex).
//!
//! The text of lists, structs and maps also reads back ([`nested_text_as_json`]), for casts of
//! text to those types.

mod nested;
mod numbers;
mod read;
mod temporal;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

pub use read::as_json as nested_text_as_json;
pub use temporal::timestamp_text;

use super::text_functions::call_value;

/// A column as DuckDB's text, when DuckDB writes its values otherwise than Arrow (`None` for
/// other types, and for floats none of which DuckDB writes otherwise).
pub fn respell(column: &ArrayRef) -> Result<Option<ArrayRef>> {
    match column.data_type() {
        DataType::Timestamp(..) => temporal::timestamp_text(column),
        DataType::Time32(_) | DataType::Time64(_) => temporal::time_text(column).map(Some),
        DataType::Interval(_) | DataType::Duration(_) => temporal::interval_text(column),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => numbers::float_text(column),
        t if nested::is_nested(t) => nested::nested_text(column).map(Some),
        t if nested::is_binary(t) => nested::blob_text(column).map(Some),
        _ => Ok(None),
    }
}

/// [`respell`] of a column whose field is at hand: a column of lists of JSON values
/// (`json::holds_json_items`) is written with each item as it is.
pub fn respell_field(field: &Field, column: &ArrayRef) -> Result<Option<ArrayRef>> {
    match super::json::holds_json_items(field) {
        true => nested::json_list_text(column).map(Some),
        false => respell(column),
    }
}

/// Any column as DuckDB's text: [`respell`]'s, or else Arrow's cast to text.
pub fn duckdb_text(column: &ArrayRef) -> Result<ArrayRef> {
    match respell(column)? {
        Some(text) => Ok(text),
        None => Ok(cast(column, &DataType::Utf8)?),
    }
}

/// Whether DuckDB writes values of this type otherwise than Arrow (see the module
/// documentation).
pub fn respelled(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Timestamp(..)
            | DataType::Time32(_)
            | DataType::Time64(_)
            | DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Interval(_)
            | DataType::Duration(_)
    ) || nested::is_nested(data_type)
        || nested::is_binary(data_type)
}

/// The name a cast to text of a value DuckDB spells its own way is planned as ([`DuckDbText`]).
pub const DUCKDB_TEXT: &str = "duckdb_text";

/// A value as DuckDB's text ([`duckdb_text`]): what a cast to text gives in DuckDB.
/// `optimizer::TextCasts` plans casts of the [`respelled`] types as this function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DuckDbText {
    signature: Signature,
}

impl DuckDbText {
    pub fn new() -> Self {
        DuckDbText {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for DuckDbText {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for DuckDbText {
    fn name(&self) -> &str {
        DUCKDB_TEXT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if respelled(t) => Ok(arg_types.to_vec()),
            _ => plan_err!("{DUCKDB_TEXT} takes one value of a type DuckDB spells its own way"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let column = args.args[0].to_array(args.number_rows)?;
        let text = match respell_field(&args.arg_fields[0], &column)? {
            Some(text) => text,
            None => duckdb_text(&column)?,
        };
        call_value(&args.args, text)
    }
}
