//! The functions that read JSON text: extraction by path, and questions about a document.

use std::borrow::Cow;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Int64Array, ListArray, ListBuilder, StringArray,
    StringBuilder, UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::path::JsonPath;
use super::structure::structure;
use super::value::Json;
use super::{EXTRACT, EXTRACT_STRING, MINIFY, is_text, json_list_field, malformed, parse};
use crate::sql::text_functions::{arrays, call_value};
use crate::sql::types::sql_type_name;

/// A function that reads JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Reader {
    Extract,
    ExtractString,
    Value,
    Exists,
    Type,
    ArrayLength,
    Keys,
    Valid,
    Minify,
    Contains,
    Pretty,
    Structure,
}

impl Reader {
    fn name(self) -> &'static str {
        match self {
            Reader::Extract => EXTRACT,
            Reader::ExtractString => EXTRACT_STRING,
            Reader::Value => "json_value",
            Reader::Exists => "json_exists",
            Reader::Type => "json_type",
            Reader::ArrayLength => "json_array_length",
            Reader::Keys => "json_keys",
            Reader::Valid => "json_valid",
            Reader::Minify => MINIFY,
            Reader::Contains => "json_contains",
            Reader::Pretty => "json_pretty",
            Reader::Structure => "json_structure",
        }
    }

    /// How many arguments it takes: the document, and a path where it takes one.
    fn arities(self) -> &'static [usize] {
        match self {
            Reader::Extract
            | Reader::ExtractString
            | Reader::Value
            | Reader::Exists
            | Reader::Contains => &[2],
            Reader::Type | Reader::ArrayLength | Reader::Keys => &[1, 2],
            Reader::Valid | Reader::Minify | Reader::Pretty | Reader::Structure => &[1],
        }
    }

    /// The type of its answer about one value.
    fn answer_type(self) -> DataType {
        match self {
            Reader::Exists | Reader::Valid | Reader::Contains => DataType::Boolean,
            Reader::ArrayLength => DataType::UInt64,
            Reader::Keys => DataType::new_list(DataType::Utf8, true),
            _ => DataType::Utf8,
        }
    }

    /// Whether a wildcard path gives a list of its answers (the others refuse one).
    fn lists_wildcards(self) -> bool {
        matches!(
            self,
            Reader::Extract | Reader::ExtractString | Reader::Value | Reader::Type
        )
    }

    /// Whether a list of paths gives a list of its answers, one per path.
    fn takes_path_lists(self) -> bool {
        self.lists_wildcards() || self == Reader::Exists
    }

    /// The field of a list of its answers, one per value a wildcard path finds or per path of
    /// a list: `json_extract`'s answers are JSON (see [`json_list_field`]).
    fn answer_list_field(self) -> FieldRef {
        match self {
            Reader::Extract => json_list_field(self.name()),
            _ => Arc::new(Field::new(
                self.name(),
                DataType::new_list(self.answer_type(), true),
                true,
            )),
        }
    }

    /// Its text answer about the value a path found (`None` for NULL).
    fn text(self, value: &Json) -> Option<String> {
        match (self, value) {
            (Reader::ExtractString | Reader::Value, Json::Null) => None,
            (Reader::ExtractString, Json::String(text)) => Some(text.clone()),
            (Reader::Value, Json::Array(_) | Json::Object(_)) => None,
            (Reader::Type, value) => Some(value.type_name().to_string()),
            (Reader::Pretty, value) => Some(value.to_pretty_text()),
            (Reader::Structure, value) => Some(structure(value)),
            (_, value) => Some(value.to_text()),
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct ReaderUdf {
    function: Reader,
    signature: Signature,
    aliases: Vec<String>,
}

impl ReaderUdf {
    pub(super) fn new(function: Reader) -> Self {
        let aliases = match function {
            Reader::Extract => vec!["json_extract_path".into()],
            Reader::ExtractString => vec!["json_extract_path_text".into()],
            _ => vec![],
        };
        ReaderUdf {
            function,
            signature: Signature::user_defined(Volatility::Immutable),
            aliases,
        }
    }

    /// The path argument when it is a constant (`None` for a column or no path).
    fn constant_path(&self, value: Option<&ScalarValue>) -> Result<Option<JsonPath>> {
        let Some(value) = value else {
            return Ok(None);
        };
        let path = match value.try_as_str() {
            Some(Some(text)) => self.parse_path(text)?,
            Some(None) => return Ok(None),
            None => match value.cast_to(&DataType::Int64)? {
                ScalarValue::Int64(Some(index)) => JsonPath::element(index),
                _ => return Ok(None),
            },
        };
        if path.is_wildcard() && !self.function.lists_wildcards() {
            return plan_err!(
                "{}: a path with a wildcard selects several values; give one path",
                self.name()
            );
        }
        Ok(Some(path))
    }

    fn parse_path(&self, text: &str) -> Result<JsonPath> {
        JsonPath::parse(text).or_else(|bad| {
            plan_err!(
                "{}: JSON path error near '{}' in '{text}'",
                self.name(),
                bad.near
            )
        })
    }
}

impl ScalarUDFImpl for ReaderUdf {
    fn name(&self) -> &str {
        self.function.name()
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Text becomes Utf8, an index Int64 and a list of paths a list of Utf8; other types
    /// stay, for [`Self::return_field_from_args`] to refuse with a plain message.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(arg_types
            .iter()
            .enumerate()
            .map(|(at, data_type)| match (at, data_type) {
                (_, t) if is_text(t) => DataType::Utf8,
                (1, t) if t.is_integer() => DataType::Int64,
                (
                    1,
                    DataType::List(item) | DataType::LargeList(item) | DataType::ListView(item),
                ) if is_text(item.data_type()) => DataType::new_list(DataType::Utf8, true),
                (_, t) => t.clone(),
            })
            .collect())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        plan_err!("{}'s type comes from its path", self.name())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let arities = self.function.arities();
        if !arities.contains(&args.arg_fields.len()) {
            let counts: Vec<String> = arities.iter().map(usize::to_string).collect();
            return plan_err!(
                "{} takes {} arguments, not {}",
                self.name(),
                counts.join(" or "),
                args.arg_fields.len()
            );
        }
        for (at, field) in args.arg_fields.iter().enumerate() {
            match (at, field.data_type()) {
                (_, DataType::Utf8) => {}
                (1, DataType::Int64) if self.function != Reader::Contains => {}
                (1, DataType::List(_)) if self.function.takes_path_lists() => {
                    return Ok(self.function.answer_list_field());
                }
                (0, t) => {
                    return plan_err!(
                        "{}: the JSON must be text, not {}",
                        self.name(),
                        sql_type_name(t)
                    );
                }
                (_, t) => {
                    return plan_err!(
                        "{}: a JSON path is text or an index, not {}",
                        self.name(),
                        sql_type_name(t)
                    );
                }
            }
        }
        if self.function != Reader::Contains {
            let path = args.scalar_arguments.get(1).copied().flatten();
            if self.constant_path(path)?.is_some_and(|p| p.is_wildcard()) {
                return Ok(self.function.answer_list_field());
            }
        }
        let data_type = self.function.answer_type();
        Ok(Arc::new(Field::new(self.name(), data_type, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args.args, args.number_rows)?;
        let docs: &StringArray = arrays[0].as_string();
        let answer = match self.function {
            Reader::Valid => {
                let valid = docs.iter().map(|doc| doc.map(Json::is_valid));
                Arc::new(valid.collect::<datafusion::arrow::array::BooleanArray>()) as ArrayRef
            }
            Reader::Contains => {
                let needles: &StringArray = arrays[1].as_string();
                let mut answer = BooleanBuilder::with_capacity(docs.len());
                for (doc, needle) in docs.iter().zip(needles.iter()) {
                    match (doc, needle) {
                        (Some(doc), Some(needle)) => answer.append_value(
                            parse(self.name(), doc)?.contains(&parse(self.name(), needle)?),
                        ),
                        _ => answer.append_null(),
                    }
                }
                Arc::new(answer.finish())
            }
            _ if matches!(
                arrays.get(1).map(|a| a.data_type()),
                Some(DataType::List(_))
            ) =>
            {
                // A constant list of paths (the usual case) is parsed once.
                let path_lists = arrays[1].as_list();
                let constant = match &args.args[1] {
                    ColumnarValue::Scalar(_) if path_lists.is_valid(0) => {
                        Some(self.path_list(path_lists.value(0).as_ref())?)
                    }
                    _ => None,
                };
                self.answer_each_path(docs, path_lists, constant.as_deref())?
            }
            _ => {
                let constant = match args.args.get(1) {
                    Some(ColumnarValue::Scalar(value)) => self.constant_path(Some(value))?,
                    _ => None,
                };
                let paths = Paths::new(self, arrays.get(1), constant)?;
                let wildcard = matches!(args.return_field.data_type(), DataType::List(_))
                    && self.function != Reader::Keys;
                self.answer(docs, &paths, wildcard)?
            }
        };
        call_value(&args.args, answer)
    }
}

impl ReaderUdf {
    /// The answers, row by row, of a function that looks at the value (or, for a wildcard,
    /// the values) a path finds.
    fn answer(&self, docs: &StringArray, paths: &Paths, wildcard: bool) -> Result<ArrayRef> {
        let mut answers = match wildcard {
            true => Answers::Texts(ListBuilder::new(StringBuilder::new())),
            false => Answers::new(self.function, docs.len()),
        };
        for row in 0..docs.len() {
            let (Some(path), true) = (paths.get(row)?, docs.is_valid(row)) else {
                answers.append_null();
                continue;
            };
            let text = docs.value(row);
            match wildcard {
                true => {
                    let doc = parse(self.name(), text)?;
                    answers.append_list(self.function, &path.select(&doc));
                }
                false => match path.find(text) {
                    Ok(found) => answers.append(self.function, found.as_ref()),
                    Err(bad) => return malformed(self.name(), text, bad),
                },
            }
        }
        Ok(answers.finish())
    }

    /// The answers, row by row, to a list of paths: a list of answers, one per path, each
    /// about the value it finds (NULL where it finds none).
    /// `constant` holds the paths when every row has the same.
    fn answer_each_path(
        &self,
        docs: &StringArray,
        path_lists: &ListArray,
        constant: Option<&[Option<JsonPath>]>,
    ) -> Result<ArrayRef> {
        let mut answers = match self.function {
            Reader::Exists => Answers::Flags(ListBuilder::new(BooleanBuilder::new())),
            _ => Answers::Texts(ListBuilder::new(StringBuilder::new())),
        };
        for row in 0..docs.len() {
            if docs.is_null(row) || path_lists.is_null(row) {
                answers.append_null();
                continue;
            }
            let doc = parse(self.name(), docs.value(row))?;
            let parsed;
            let paths = match constant {
                Some(paths) => paths,
                None => {
                    parsed = self.path_list(path_lists.value(row).as_ref())?;
                    &parsed
                }
            };
            let found: Vec<Option<&Json>> = paths
                .iter()
                .map(|path| path.as_ref().and_then(|p| p.select(&doc).first().copied()))
                .collect();
            answers.append_each(self.function, &found);
        }
        Ok(answers.finish())
    }

    /// A list of paths (text), parsed; a NULL path finds nothing, a wildcard is refused.
    fn path_list(&self, paths: &dyn Array) -> Result<Vec<Option<JsonPath>>> {
        paths
            .as_string::<i32>()
            .iter()
            .map(|path| {
                let Some(path) = path else {
                    return Ok(None);
                };
                let path = self.parse_path(path)?;
                if path.is_wildcard() {
                    return exec_err!(
                        "{}: a list of paths cannot hold a wildcard; give it alone",
                        self.name()
                    );
                }
                Ok(Some(path))
            })
            .collect()
    }
}

/// The path of each row: one for every row (the whole document when the function was given
/// none; `None` for a NULL), or a column of them.
enum Paths<'a> {
    Constant(Option<JsonPath>),
    Text(&'a ReaderUdf, &'a StringArray),
    Index(&'a Int64Array),
}

impl<'a> Paths<'a> {
    fn new(
        udf: &'a ReaderUdf,
        column: Option<&'a ArrayRef>,
        constant: Option<JsonPath>,
    ) -> Result<Paths<'a>> {
        Ok(match column {
            None => Paths::Constant(Some(JsonPath::parse("").expect("the empty path"))),
            Some(_) if constant.is_some() => Paths::Constant(constant),
            Some(column) => match column.data_type() {
                DataType::Int64 => Paths::Index(column.as_primitive::<Int64Type>()),
                _ => Paths::Text(udf, column.as_string()),
            },
        })
    }

    /// Row `row`'s path; a constant one is lent, not copied per row.
    fn get(&self, row: usize) -> Result<Option<Cow<'_, JsonPath>>> {
        Ok(match self {
            Paths::Constant(path) => path.as_ref().map(Cow::Borrowed),
            Paths::Index(indexes) => indexes
                .is_valid(row)
                .then(|| Cow::Owned(JsonPath::element(indexes.value(row)))),
            Paths::Text(udf, texts) if texts.is_valid(row) => {
                let path = udf.parse_path(texts.value(row))?;
                if path.is_wildcard() {
                    return exec_err!(
                        "{}: a path with a wildcard must be a constant, not '{}'",
                        udf.name(),
                        texts.value(row)
                    );
                }
                Some(Cow::Owned(path))
            }
            Paths::Text(..) => None,
        })
    }
}

/// The answers being built, one per row.
enum Answers {
    Text(StringBuilder),
    Texts(ListBuilder<StringBuilder>),
    Flag(BooleanBuilder),
    Flags(ListBuilder<BooleanBuilder>),
    Count(UInt64Builder),
}

impl Answers {
    /// The builder of one answer per row (a list of keys for `json_keys`).
    fn new(function: Reader, rows: usize) -> Answers {
        match function {
            Reader::Exists => Answers::Flag(BooleanBuilder::with_capacity(rows)),
            Reader::ArrayLength => Answers::Count(UInt64Builder::with_capacity(rows)),
            Reader::Keys => Answers::Texts(ListBuilder::new(StringBuilder::new())),
            _ => Answers::Text(StringBuilder::with_capacity(rows, rows * 16)),
        }
    }

    fn append_null(&mut self) {
        match self {
            Answers::Text(b) => b.append_null(),
            Answers::Texts(b) => b.append_null(),
            Answers::Flag(b) => b.append_null(),
            Answers::Flags(b) => b.append_null(),
            Answers::Count(b) => b.append_null(),
        }
    }

    /// The answer about `found`, the value a path found (`None`: it found nothing).
    fn append(&mut self, function: Reader, found: Option<&Json>) {
        match (self, found) {
            (Answers::Flag(b), found) => b.append_value(found.is_some()),
            (Answers::Count(b), Some(Json::Array(items))) => b.append_value(items.len() as u64),
            (Answers::Count(b), Some(_)) => b.append_value(0),
            (Answers::Texts(b), Some(Json::Object(members))) => {
                b.append_value(members.iter().map(|(key, _)| Some(key)))
            }
            (Answers::Texts(b), Some(_)) => b.append_value(std::iter::empty::<Option<&str>>()),
            (Answers::Text(b), Some(value)) => b.append_option(function.text(value)),
            (Answers::Flags(_), Some(_)) => unreachable!("one path answers one value"),
            (answers, None) => answers.append_null(),
        }
    }

    /// The answers about every value a wildcard path found, as one list.
    fn append_list(&mut self, function: Reader, found: &[&Json]) {
        if let Answers::Texts(b) = self {
            b.append_value(found.iter().map(|value| function.text(value)));
        }
    }

    /// The answers about the value each of a list of paths found (`None`: it found nothing),
    /// as one list.
    fn append_each(&mut self, function: Reader, found: &[Option<&Json>]) {
        match self {
            Answers::Flags(b) => b.append_value(found.iter().map(|value| Some(value.is_some()))),
            Answers::Texts(b) => b.append_value(
                found
                    .iter()
                    .map(|value| value.and_then(|value| function.text(value))),
            ),
            _ => unreachable!("a list of paths answers a list"),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Answers::Text(mut b) => Arc::new(b.finish()),
            Answers::Texts(mut b) => Arc::new(b.finish()),
            Answers::Flag(mut b) => Arc::new(b.finish()),
            Answers::Flags(mut b) => Arc::new(b.finish()),
            Answers::Count(mut b) => Arc::new(b.finish()),
        }
    }
}
