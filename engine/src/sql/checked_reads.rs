//! A text file's column that Tarn types itself (with `nullstr`, `dateformat` or
//! `timestampformat`, where DataFusion's CSV reader cannot) fails on a value its type cannot
//! read with one line naming the value, the column and the file, as DuckDB's does, where a cast
//! would name only the value: `__tarn_read_or_fail(text, value, place, reading)` is `value`,
//! the text read leniently, and an error wherever the text is not NULL but the value is.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;
use datafusion::common::{DataFusionError, Result, ScalarValue, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, lit,
};

/// The longest part of a value an error quotes.
const QUOTED_CHARS: usize = 80;

/// Registers the function, which plans carried to a cluster's executors name.
pub fn register(ctx: &datafusion::prelude::SessionContext) {
    ctx.register_udf(ScalarUDF::from(ReadOrFail::new()));
}

/// `value` (`text` read leniently), checked: an error naming `place` (`column d of 'f.csv'`) and
/// `reading` (`DATE in the format '%d/%m/%Y'`) where it lost a value.
pub fn read_or_fail(text: Expr, value: Expr, place: String, reading: String) -> Expr {
    ScalarUDF::from(ReadOrFail::new()).call(vec![text, value, lit(place), lit(reading)])
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ReadOrFail {
    signature: Signature,
}

impl ReadOrFail {
    fn new() -> Self {
        ReadOrFail {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ReadOrFail {
    fn name(&self) -> &str {
        "__tarn_read_or_fail"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [_, value, _, _] => Ok(vec![
                DataType::Utf8,
                value.clone(),
                DataType::Utf8,
                DataType::Utf8,
            ]),
            _ => plan_err!("__tarn_read_or_fail takes a text, its value, a place and a reading"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[1].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let texts = args.args[0].to_array(args.number_rows)?;
        let values = args.args[1].to_array(args.number_rows)?;
        let lost = (0..texts.len()).find(|&row| texts.is_valid(row) && values.is_null(row));
        let Some(row) = lost else {
            return Ok(args.args[1].clone());
        };
        let constant = |at: usize| match &args.args[at] {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(text))) => text.as_str(),
            _ => "?",
        };
        let text = texts.as_string::<i32>().value(row);
        let quoted: String = text.chars().take(QUOTED_CHARS).collect();
        let cut = if quoted.len() < text.len() { "..." } else { "" };
        Err(DataFusionError::ArrowError(
            Box::new(ArrowError::CastError(format!(
                "'{quoted}{cut}' in {} cannot be read as {}",
                constant(2),
                constant(3)
            ))),
            None,
        ))
    }
}
