//! DuckDB's codecs between bytes and text:
//!
//! * `to_base64(blob)` (also `base64`) and `from_base64(text)`: standard base64 with padding,
//!   as DuckDB writes and requires it. DataFusion's `encode(x, 'base64')` leaves the padding
//!   off, so its text differs from DuckDB's (and from most other tools').
//! * `hex(x)` (also `to_hex`) and `unhex(text)` (also `from_hex`): upper-case hex digits of an
//!   integer's two's-complement value without leading zeros (`hex(255)` is `FF`, a negative
//!   number's as a BIGINT's: `hex(-1)` is sixteen `F`s), or of a string's or BLOB's bytes
//!   (`hex('abc')` is `616263`); and back from digits to a BLOB, an odd count read as if a `0`
//!   led. DataFusion's `to_hex` writes lower case and takes integers only.
//! * `bin(x)` (also `to_binary`) and `unbin(text)` (also `from_binary`): the same with binary
//!   digits, eight per byte (`bin(5)` is `101`, `bin('A')` is `01000001`); a count that is no
//!   multiple of eight is read as if zeros led.
//! * `url_encode(text)` and `url_decode(text)`: percent-encoding of every byte but letters,
//!   digits and `-_.~` (a space is `%20`, as DuckDB writes it), and back to text; a `+` stays
//!   a `+`.
//! * `CAST(text AS BLOB)` ([`TEXT_TO_BLOB`], and `TRY_CAST`, whose failures are NULL): characters are their UTF-8 bytes and `\xHH` the
//!   byte of two hex digits, as DuckDB reads `'\x41\x00'::BLOB`; any other backslash fails,
//!   naming the string. DataFusion's cast would keep the backslash and the digits as bytes.
//!   DuckDB refuses non-ASCII characters; Tarn takes their bytes, as `encode(text)` does.

use std::fmt::Write;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, StringArray, StringBuilder, new_null_array,
};
use datafusion::arrow::datatypes::{DataType, Int64Type, UInt64Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use super::text_functions::{arrays, call_value, is_text};
use super::types::sql_type_name;

/// What `CAST(x AS BLOB)` calls (see the module's doc).
pub(crate) const TEXT_TO_BLOB: &str = "__tarn_text_to_blob";
/// What `TRY_CAST(x AS BLOB)` calls: the same, with NULL for text that spells no bytes.
pub(crate) const TRY_TEXT_TO_BLOB: &str = "__tarn_try_text_to_blob";

/// Registers `to_base64`, `from_base64`, `hex`, `unhex`, `bin`, `unbin`, `url_encode` and
/// `url_decode` under DuckDB's names, and the cast of text to BLOB.
pub fn register(ctx: &SessionContext) {
    for lenient in [false, true] {
        ctx.register_udf(ScalarUDF::from(TextToBlob {
            lenient,
            signature: Signature::user_defined(Volatility::Immutable),
        }));
    }
    for codec in [Codec::Base64, Codec::Hex, Codec::Binary, Codec::Url] {
        for direction in [Direction::Encode, Direction::Decode] {
            ctx.register_udf(ScalarUDF::from(ByteCodec::new(codec, direction)));
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Codec {
    Base64,
    Hex,
    /// Hex's rules with binary digits.
    Binary,
    /// Text to text: `url_decode` answers a string.
    Url,
}

/// The bytes `url_encode` leaves as they are: RFC 3986's unreserved characters.
const URL_KEPT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Direction {
    /// To text: bytes (or, for `hex`, a number) to their digits.
    Encode,
    /// From text back to bytes.
    Decode,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ByteCodec {
    codec: Codec,
    direction: Direction,
    signature: Signature,
    aliases: Vec<String>,
}

impl ByteCodec {
    fn new(codec: Codec, direction: Direction) -> Self {
        let aliases: &[&str] = match (codec, direction) {
            (Codec::Base64, Direction::Encode) => &["base64"],
            (Codec::Base64, Direction::Decode) => &[],
            (Codec::Hex, Direction::Encode) => &["to_hex"],
            (Codec::Hex, Direction::Decode) => &["from_hex"],
            (Codec::Binary, Direction::Encode) => &["to_binary"],
            (Codec::Binary, Direction::Decode) => &["from_binary"],
            (Codec::Url, _) => &[],
        };
        ByteCodec {
            codec,
            direction,
            signature: Signature::user_defined(Volatility::Immutable),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// The type the argument is cast to, `None` where the function does not take it. Base64
    /// takes anything that casts to bytes or text.
    fn argument_type(&self, argument: &DataType) -> Option<DataType> {
        let binary = matches!(
            argument,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView
        );
        Some(match (self.codec, self.direction) {
            (Codec::Base64, Direction::Encode) => DataType::Binary,
            (Codec::Base64, Direction::Decode) | (Codec::Url, _) => DataType::Utf8,
            (_, Direction::Encode) if argument.is_unsigned_integer() => DataType::UInt64,
            (_, Direction::Encode) if argument.is_integer() || argument.is_null() => {
                DataType::Int64
            }
            (_, Direction::Encode) if is_text(argument) => DataType::Utf8,
            (_, Direction::Encode) if binary => DataType::Binary,
            (_, Direction::Decode) if is_text(argument) || argument.is_null() => DataType::Utf8,
            (Codec::Hex | Codec::Binary, _) => return None,
        })
    }

    /// Each value of `input` (of its [`Self::argument_type`]) as text.
    fn encode(&self, input: &dyn Array) -> ArrayRef {
        let mut text = StringBuilder::with_capacity(input.len(), input.len() * 16);
        for row in 0..input.len() {
            if input.is_null(row) {
                text.append_null();
                continue;
            }
            text.append_value(match (self.codec, input.data_type()) {
                (Codec::Base64, _) => STANDARD.encode(input.as_binary::<i32>().value(row)),
                (Codec::Url, _) => {
                    let text = input.as_string::<i32>().value(row);
                    percent_encoding::utf8_percent_encode(text, URL_KEPT).to_string()
                }
                (Codec::Hex, DataType::Int64) => {
                    format!("{:X}", input.as_primitive::<Int64Type>().value(row))
                }
                (Codec::Hex, DataType::UInt64) => {
                    format!("{:X}", input.as_primitive::<UInt64Type>().value(row))
                }
                (Codec::Binary, DataType::Int64) => {
                    format!("{:b}", input.as_primitive::<Int64Type>().value(row))
                }
                (Codec::Binary, DataType::UInt64) => {
                    format!("{:b}", input.as_primitive::<UInt64Type>().value(row))
                }
                (codec, DataType::Utf8) => {
                    byte_digits(input.as_string::<i32>().value(row).as_bytes(), codec)
                }
                (codec, _) => byte_digits(input.as_binary::<i32>().value(row), codec),
            });
        }
        Arc::new(text.finish())
    }

    /// Each text of `input` as the bytes it spells; text that spells none fails the query.
    fn decode(&self, input: &dyn Array) -> Result<ArrayRef> {
        let texts = input.as_string::<i32>();
        if self.codec == Codec::Url {
            return url_decoded(texts);
        }
        let mut bytes = BinaryBuilder::with_capacity(texts.len(), texts.len() * 8);
        for text in texts {
            let Some(text) = text else {
                bytes.append_null();
                continue;
            };
            let decoded = match self.codec {
                Codec::Base64 => STANDARD
                    .decode(text)
                    .map_err(|err| format!("Could not decode string \"{text}\" as base64: {err}")),
                Codec::Hex => digit_bytes(text, 4)
                    .map_err(|bad| format!("Invalid input for hex digit: {bad}")),
                Codec::Binary => digit_bytes(text, 1)
                    .map_err(|bad| format!("Invalid input for binary digit: {bad}")),
                Codec::Url => unreachable!("url_decode answers text, decoded above"),
            };
            match decoded {
                Ok(decoded) => bytes.append_value(decoded),
                Err(message) => return exec_err!("{message}"),
            }
        }
        Ok(Arc::new(bytes.finish()))
    }
}

/// `url_decode`: each text with its `%HH` escapes as the bytes they spell, read as UTF-8; text
/// that spells no UTF-8 fails the query, naming it.
fn url_decoded(texts: &StringArray) -> Result<ArrayRef> {
    let mut decoded = StringBuilder::with_capacity(texts.len(), texts.len() * 16);
    for text in texts {
        let Some(text) = text else {
            decoded.append_null();
            continue;
        };
        match percent_encoding::percent_decode_str(text).decode_utf8() {
            Ok(value) => decoded.append_value(value),
            Err(_) => {
                return exec_err!("url_decode: \"{text}\" decodes to bytes that are not UTF-8");
            }
        }
    }
    Ok(Arc::new(decoded.finish()))
}

/// The digits of `bytes`: two upper-case hex digits per byte, or eight binary ones.
fn byte_digits(bytes: &[u8], codec: Codec) -> String {
    let mut digits = String::with_capacity(bytes.len() * 8);
    for byte in bytes {
        match codec {
            Codec::Binary => write!(digits, "{byte:08b}"),
            _ => write!(digits, "{byte:02X}"),
        }
        .expect("writing to a String");
    }
    digits
}

/// The bytes that `digits` spell, each digit holding `digit_bits` bits (4 for hex, 1 for
/// binary); a count that fills no whole bytes is read as if zeros led. The digit that is none
/// comes back as the error.
fn digit_bytes(digits: &str, digit_bits: u32) -> std::result::Result<Vec<u8>, char> {
    let value = |c: char| c.to_digit(1 << digit_bits).map(|d| d as u8).ok_or(c);
    let per_byte = (8 / digit_bits) as usize;
    let chars: Vec<char> = digits.chars().collect();
    let (first, whole) = chars.split_at(chars.len() % per_byte);
    let groups = std::iter::once(first)
        .filter(|group| !group.is_empty())
        .chain(whole.chunks(per_byte));
    let mut bytes = Vec::with_capacity(chars.len() / per_byte + 1);
    for group in groups {
        let mut byte = 0u8;
        for c in group {
            byte = byte << digit_bits | value(*c)?;
        }
        bytes.push(byte);
    }
    Ok(bytes)
}

impl ScalarUDFImpl for ByteCodec {
    fn name(&self) -> &str {
        match (self.codec, self.direction) {
            (Codec::Base64, Direction::Encode) => "to_base64",
            (Codec::Base64, Direction::Decode) => "from_base64",
            (Codec::Hex, Direction::Encode) => "hex",
            (Codec::Hex, Direction::Decode) => "unhex",
            (Codec::Binary, Direction::Encode) => "bin",
            (Codec::Binary, Direction::Decode) => "unbin",
            (Codec::Url, Direction::Encode) => "url_encode",
            (Codec::Url, Direction::Decode) => "url_decode",
        }
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [argument] = arg_types else {
            return plan_err!("{} takes one argument", self.name());
        };
        match self.argument_type(argument) {
            Some(coerced) => Ok(vec![coerced]),
            None => plan_err!(
                "{} takes {}, not {}",
                self.name(),
                match self.direction {
                    Direction::Encode => "an integer, a string or a BLOB",
                    Direction::Decode if self.codec == Codec::Hex => "a string of hex digits",
                    Direction::Decode => "a string of binary digits",
                },
                sql_type_name(argument)
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match (self.codec, self.direction) {
            (Codec::Url, _) | (_, Direction::Encode) => DataType::Utf8,
            (_, Direction::Decode) => DataType::Binary,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = &arrays(&args.args, args.number_rows)?[0];
        let answer = match self.direction {
            Direction::Encode => self.encode(input),
            Direction::Decode => self.decode(input)?,
        };
        call_value(&args.args, answer)
    }
}

/// `CAST(x AS BLOB)` the way DuckDB reads text (see the module's doc); a BLOB stays as it is.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TextToBlob {
    /// `TRY_CAST`: text that spells no bytes is NULL rather than an error.
    lenient: bool,
    signature: Signature,
}

impl ScalarUDFImpl for TextToBlob {
    fn name(&self) -> &str {
        match self.lenient {
            false => TEXT_TO_BLOB,
            true => TRY_TEXT_TO_BLOB,
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [text] if is_text(text) || text.is_null() => Ok(vec![DataType::Utf8]),
            [DataType::Binary | DataType::LargeBinary | DataType::BinaryView] => {
                Ok(vec![DataType::Binary])
            }
            // DuckDB's TRY_CAST of a value that is not text to a BLOB is NULL.
            [other] if self.lenient => Ok(vec![other.clone()]),
            [other] => plan_err!(
                "Unimplemented type for cast ({} -> BLOB)",
                sql_type_name(other)
            ),
            _ => plan_err!("a cast takes one value"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = &arrays(&args.args, args.number_rows)?[0];
        match input.data_type() {
            DataType::Binary => return Ok(args.args[0].clone()),
            DataType::Utf8 => {}
            _ => {
                let nulls = new_null_array(&DataType::Binary, input.len());
                return call_value(&args.args, nulls);
            }
        }
        let texts = input.as_string::<i32>();
        let mut bytes = BinaryBuilder::with_capacity(texts.len(), texts.len() * 8);
        for text in texts {
            match text.map(escaped_bytes).transpose() {
                Ok(value) => bytes.append_option(value),
                Err(_) if self.lenient => bytes.append_null(),
                Err(message) => return exec_err!("{message}"),
            }
        }
        call_value(&args.args, Arc::new(bytes.finish()))
    }
}

/// The bytes `text` spells with `\xHH` escapes, or DuckDB's message for why it spells none. A
/// character beyond ASCII must be escaped too, as in DuckDB; `encode(text)` gives its UTF-8
/// bytes.
fn escaped_bytes(text: &str) -> std::result::Result<Vec<u8>, String> {
    if !text.is_ascii() {
        return Err(format!(
            "Invalid byte encountered in STRING -> BLOB conversion of string \"{text}\". All \
             non-ascii characters must be escaped with hex codes (e.g. \\xAA)"
        ));
    }
    if !text.contains('\\') {
        return Ok(text.as_bytes().to_vec());
    }
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, after)) = rest.split_first() {
        rest = after;
        if byte != b'\\' {
            bytes.push(byte);
            continue;
        }
        let invalid = |reason: &str| {
            format!(
                "Invalid hex escape code encountered in string -> blob conversion of string \
                 \"{text}\": {reason}"
            )
        };
        let Some(escape) = rest.get(..3) else {
            return Err(invalid("unterminated escape code at end of blob"));
        };
        let digits = std::str::from_utf8(&escape[1..]).ok();
        match (
            escape[0],
            digits.and_then(|d| u8::from_str_radix(d, 16).ok()),
        ) {
            (b'x', Some(value)) if escape[1..].iter().all(u8::is_ascii_hexdigit) => {
                bytes.push(value)
            }
            _ => return Err(invalid(&format!("\\{}", String::from_utf8_lossy(escape)))),
        }
        rest = &rest[3..];
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_and_bytes_round_trip() {
        assert_eq!(byte_digits(b"abc\xff", Codec::Hex), "616263FF");
        assert_eq!(digit_bytes("616263ff", 4), Ok(b"abc\xff".to_vec()));
        assert_eq!(digit_bytes("6", 4), Ok(vec![6]));
        assert_eq!(digit_bytes("161", 4), Ok(vec![1, 0x61]));
        assert_eq!(digit_bytes("", 4), Ok(vec![]));
        assert_eq!(digit_bytes("6z", 4), Err('z'));
        assert_eq!(byte_digits(b"A\x05", Codec::Binary), "0100000100000101");
        assert_eq!(digit_bytes("0100000101000010", 1), Ok(b"AB".to_vec()));
        assert_eq!(digit_bytes("101", 1), Ok(vec![5]));
        assert_eq!(digit_bytes("1000000001", 1), Ok(vec![2, 1]));
        assert_eq!(digit_bytes("12", 1), Err('2'));
    }

    #[test]
    fn text_escapes_spell_bytes_as_duckdb_reads_them() {
        assert_eq!(escaped_bytes(r"\x41\x4ab"), Ok(b"AJb".to_vec()));
        assert_eq!(escaped_bytes(r"\xff\x00"), Ok(vec![0xff, 0]));
        assert_eq!(escaped_bytes(""), Ok(vec![]));
        assert!(
            escaped_bytes("h\u{e9}llo")
                .unwrap_err()
                .contains("non-ascii")
        );
        for (text, reason) in [
            (r"a\b", "unterminated escape code at end of blob"),
            (r"ab\x4", "unterminated escape code at end of blob"),
            (r"\xZZ", r"\xZZ"),
            (r"\X41", r"\X41"),
            (r"\x+1", r"\x+1"),
        ] {
            let message = escaped_bytes(text).unwrap_err();
            assert!(
                message.ends_with(&format!("of string \"{text}\": {reason}")),
                "{message}"
            );
        }
        // As DuckDB 2.0 answers: text beyond ASCII spells no bytes, escapes or not.
        for text in ["é", r"é\x21"] {
            assert_eq!(
                escaped_bytes(text),
                Err(format!(
                    "Invalid byte encountered in STRING -> BLOB conversion of string \"{text}\". \
                     All non-ascii characters must be escaped with hex codes (e.g. \\xAA)"
                ))
            );
        }
    }
}
