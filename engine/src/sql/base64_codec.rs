//! DuckDB's `to_base64(blob)` (also `base64`) and `from_base64(text)`: standard base64 with
//! padding, as DuckDB writes and requires it. DataFusion's `encode(x, 'base64')` leaves the
//! padding off, so its text differs from DuckDB's (and from most other tools').

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryBuilder, StringBuilder,
};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use super::text_functions::{arrays, call_value};

/// Registers `to_base64` and `from_base64`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(Base64::new(Direction::Encode)));
    ctx.register_udf(ScalarUDF::from(Base64::new(Direction::Decode)));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Direction {
    /// Bytes to text.
    Encode,
    /// Text to bytes.
    Decode,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Base64 {
    direction: Direction,
    signature: Signature,
    aliases: Vec<String>,
}

impl Base64 {
    fn new(direction: Direction) -> Self {
        let aliases = match direction {
            Direction::Encode => vec!["base64".into()],
            Direction::Decode => vec![],
        };
        Base64 {
            direction,
            signature: Signature::user_defined(Volatility::Immutable),
            aliases,
        }
    }
}

impl ScalarUDFImpl for Base64 {
    fn name(&self) -> &str {
        match self.direction {
            Direction::Encode => "to_base64",
            Direction::Decode => "from_base64",
        }
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [_] = arg_types else {
            return plan_err!("{} takes one argument", self.name());
        };
        Ok(vec![match self.direction {
            Direction::Encode => DataType::Binary,
            Direction::Decode => DataType::Utf8,
        }])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.direction {
            Direction::Encode => DataType::Utf8,
            Direction::Decode => DataType::Binary,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = &arrays(&args.args, args.number_rows)?[0];
        let answer: ArrayRef = match self.direction {
            Direction::Encode => {
                let bytes: &BinaryArray = input.as_binary();
                let mut text = StringBuilder::with_capacity(bytes.len(), bytes.len() * 8);
                for value in bytes {
                    text.append_option(value.map(|b| STANDARD.encode(b)));
                }
                Arc::new(text.finish())
            }
            Direction::Decode => {
                let texts = input.as_string::<i32>();
                let mut bytes = BinaryBuilder::with_capacity(texts.len(), texts.len() * 8);
                for text in texts {
                    match text.map(|t| (t, STANDARD.decode(t))) {
                        None => bytes.append_null(),
                        Some((_, Ok(decoded))) => bytes.append_value(decoded),
                        Some((t, Err(err))) => {
                            return exec_err!("Could not decode string \"{t}\" as base64: {err}");
                        }
                    }
                }
                Arc::new(bytes.finish())
            }
        };
        call_value(&args.args, answer)
    }
}
