//! The functions that write values as JSON text.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use super::encode::Encoder;
use super::value::Json;
use super::{is_null, is_text};
use crate::sql::text_functions::{arrays, call_value};
use crate::sql::types::sql_type_name;

/// A function that writes values as JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Writer {
    /// `to_json(x)`: one value.
    ToJson,
    /// `json_object(key, value, ...)`: an object of the pairs.
    Object,
    /// `json_array(x, ...)`: an array of the arguments.
    Array,
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct WriterUdf {
    function: Writer,
    signature: Signature,
    aliases: Vec<String>,
}

impl WriterUdf {
    pub(super) fn new(function: Writer) -> Self {
        let signature = match function {
            Writer::ToJson => Signature::user_defined(Volatility::Immutable),
            Writer::Object | Writer::Array => Signature::one_of(
                vec![TypeSignature::Nullary, TypeSignature::UserDefined],
                Volatility::Immutable,
            ),
        };
        let aliases = match function {
            Writer::ToJson => vec!["json_quote".to_string()],
            Writer::Object | Writer::Array => vec![],
        };
        WriterUdf {
            function,
            signature,
            aliases,
        }
    }
}

impl ScalarUDFImpl for WriterUdf {
    fn name(&self) -> &str {
        match self.function {
            Writer::ToJson => "to_json",
            Writer::Object => "json_object",
            Writer::Array => "json_array",
        }
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// An object's text keys become Utf8; [`Self::return_type`] checks the arguments.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(arg_types
            .iter()
            .enumerate()
            .map(|(at, t)| match (self.function, at % 2) {
                (Writer::Object, 0) if is_text(t) => DataType::Utf8,
                _ => t.clone(),
            })
            .collect())
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match self.function {
            Writer::ToJson if arg_types.len() != 1 => return plan_err!("to_json takes one value"),
            Writer::Object if arg_types.len() % 2 == 1 => {
                return plan_err!(
                    "json_object takes keys and values in pairs, not {} arguments",
                    arg_types.len()
                );
            }
            Writer::Object => {
                if let Some(t) = arg_types.iter().step_by(2).find(|t| **t != DataType::Utf8) {
                    return plan_err!("json_object: a key must be text, not {}", sql_type_name(t));
                }
            }
            _ => {}
        }
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = arrays(&args.args, rows)?;
        let encoders: Vec<Encoder> = arrays.iter().map(Encoder::new).collect::<Result<_>>()?;
        let mut text = StringBuilder::with_capacity(rows, rows * 32);
        for row in 0..rows {
            let doc = match self.function {
                Writer::ToJson => encoders[0].encode(row),
                Writer::Array => Json::Array(encoders.iter().map(|e| e.encode(row)).collect()),
                Writer::Object => {
                    let mut members = Vec::with_capacity(encoders.len() / 2);
                    for (at, pair) in encoders.chunks(2).enumerate() {
                        let keys: &StringArray = arrays[2 * at].as_string();
                        if keys.is_null(row) {
                            return exec_err!("json_object: key {} is NULL", at + 1);
                        }
                        members.push((keys.value(row).to_string(), pair[1].encode(row)));
                    }
                    Json::Object(members)
                }
            };
            match (self.function, doc) {
                // DuckDB: `to_json(NULL)` is NULL; NULL inside an array or object is `null`.
                (Writer::ToJson, Json::Null) if is_null(&arrays[0], row) => text.append_null(),
                (_, doc) => text.append_value(doc.to_text()),
            }
        }
        call_value(&args.args, Arc::new(text.finish()))
    }
}
