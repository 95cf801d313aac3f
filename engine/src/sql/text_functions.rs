//! DuckDB's text functions that DataFusion lacks or answers differently:
//!
//! * [`RegexFunction`]: `regexp_extract(s, pattern [, group [, options]])` (the first match, or
//!   its `group`; `''` when nothing matches; with a constant list of names in place of the
//!   group, a struct of the groups by those names, as a parser of log lines or file names
//!   wants them), `regexp_extract_all` (every match, as a list) and
//!   `regexp_split_to_array(s, pattern)` (also `string_split_regex`). Options: `i` ignores case,
//!   `c` respects it, `s` lets `.` match a newline, `m` makes `^` and `$` match at lines.
//! * [`Length`]: `len(x)` / `length(x)`, characters of a string or elements of a list, as a
//!   BIGINT (DataFusion's `length` measures a list's text: `length([1, 2])` was 6); and
//!   `length_grapheme(s)`, the grapheme clusters (a flag of two code points is one).
//! * [`StringMeasure`]: edit distances and similarities, which DuckDB computes on bytes (so
//!   `levenshtein('é', 'e')` is 2): `levenshtein` (also `editdist3`), `damerau_levenshtein`
//!   (unrestricted transpositions), `hamming` (also `mismatches`; equal lengths only),
//!   `jaccard` (of the two sets of bytes), `jaro_similarity`, `jaro_winkler_similarity`.
//! * [`Normalize`]: `strip_accents(s)`, the text without its combining marks after
//!   canonical decomposition (`café` is `cafe`; `ß` and ligatures stay), and `nfc_normalize(s)`,
//!   the text in Unicode's composed form (an `e` and a combining accent become `é`), for
//!   normalising text before deduplication or tokenisation.
//! * `string_split` and `split_part`, registered here: see [`super::string_split`].

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, ListBuilder, StringArray, StringBuilder,
    StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{Result, ScalarValue, exec_err, internal_err, plan_err};
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::prelude::SessionContext;
use regex::{Regex, RegexBuilder};
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

use super::string_split::{Splitting, StringSplit};

/// Registers the text functions on a context.
pub fn register(ctx: &SessionContext) {
    for function in [
        RegexFunction::Extract,
        RegexFunction::ExtractAll,
        RegexFunction::Split,
        RegexFunction::ExtractNamed,
    ] {
        ctx.register_udf(ScalarUDF::from(RegexUdf::new(function)));
    }
    for graphemes in [false, true] {
        ctx.register_udf(ScalarUDF::from(Length::new(graphemes)));
    }
    for measure in [
        StringMeasure::Levenshtein,
        StringMeasure::DamerauLevenshtein,
        StringMeasure::Hamming,
        StringMeasure::Jaccard,
        StringMeasure::Jaro,
        StringMeasure::JaroWinkler,
    ] {
        ctx.register_udf(ScalarUDF::from(MeasureUdf::new(measure)));
    }
    for form in [Form::StripAccents, Form::Nfc] {
        ctx.register_udf(ScalarUDF::from(Normalize::new(form)));
    }
    for splitting in [Splitting::All, Splitting::Part] {
        ctx.register_udf(ScalarUDF::from(StringSplit::new(splitting)));
    }
}

/// The arguments as arrays of `rows` rows, of the types `coerce_types` gave them.
pub(super) fn arrays(args: &[ColumnarValue], rows: usize) -> Result<Vec<ArrayRef>> {
    args.iter().map(|arg| arg.to_array(rows)).collect()
}

/// Whether values of this type are strings.
pub(super) fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// Whether values of this type are lists (of any of Arrow's three layouts).
pub(super) fn is_list(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
    )
}

/// Each argument's value when it is a constant (`None` for a column).
pub(super) fn constants(args: &[ColumnarValue]) -> Vec<Option<&ScalarValue>> {
    args.iter()
        .map(|arg| match arg {
            ColumnarValue::Scalar(value) => Some(value),
            ColumnarValue::Array(_) => None,
        })
        .collect()
}

/// The types DataFusion's `function` takes `arg_types` as, by its own signature: for a function
/// of Tarn's that hands some calls on to it.
pub(super) fn coerced_arguments(
    function: &ScalarUDF,
    arg_types: &[DataType],
) -> Result<Vec<DataType>> {
    let fields: Vec<FieldRef> = arg_types
        .iter()
        .map(|t| Arc::new(Field::new("argument", t.clone(), true)))
        .collect();
    let coerced = fields_with_udf(&fields, function)?;
    Ok(coerced.iter().map(|f| f.data_type().clone()).collect())
}

/// `answer` as the value of a call on `args`: one constant when every argument was one.
pub(super) fn call_value(args: &[ColumnarValue], answer: ArrayRef) -> Result<ColumnarValue> {
    Ok(
        match args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
            true => ColumnarValue::Scalar(ScalarValue::try_from_array(&answer, 0)?),
            false => ColumnarValue::Array(answer),
        },
    )
}

/// A regular-expression function of DuckDB's (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegexFunction {
    Extract,
    ExtractAll,
    Split,
    /// `regexp_extract(s, pattern, ['a', 'b'] [, options])`, which the syntax rewrite passes as
    /// `tarn_regexp_extract_named(s, pattern, options, 'a', 'b')`: the names as literals, so
    /// the planner can read them for the answer's type.
    ExtractNamed,
}

/// The name of [`RegexFunction::ExtractNamed`]'s function.
pub(super) const EXTRACT_NAMED: &str = "tarn_regexp_extract_named";

/// Where [`RegexFunction::ExtractNamed`]'s group names start among its arguments.
const NAMES_AT: usize = 3;

#[derive(Debug, PartialEq, Eq, Hash)]
struct RegexUdf {
    function: RegexFunction,
    signature: Signature,
    aliases: Vec<String>,
}

impl RegexUdf {
    fn new(function: RegexFunction) -> Self {
        let aliases = match function {
            RegexFunction::Split => vec!["string_split_regex".into(), "str_split_regex".into()],
            _ => vec![],
        };
        RegexUdf {
            function,
            signature: Signature::user_defined(Volatility::Immutable),
            aliases,
        }
    }

    /// The most arguments it takes: text, pattern, then group and options.
    fn max_args(&self) -> usize {
        match self.function {
            RegexFunction::Split => 3,
            RegexFunction::ExtractNamed => usize::MAX,
            _ => 4,
        }
    }
}

impl ScalarUDFImpl for RegexUdf {
    fn name(&self) -> &str {
        match self.function {
            RegexFunction::Extract => "regexp_extract",
            RegexFunction::ExtractAll => "regexp_extract_all",
            RegexFunction::Split => "regexp_split_to_array",
            RegexFunction::ExtractNamed => EXTRACT_NAMED,
        }
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(2..=self.max_args()).contains(&arg_types.len()) {
            return plan_err!(
                "{} takes a string, a pattern and at most {} more",
                self.name(),
                self.max_args() - 2
            );
        }
        // A list literal of names became `ExtractNamed` in the syntax tree; any other list is
        // not known while planning.
        if self.function == RegexFunction::Extract
            && arg_types.get(2).is_some_and(|t| {
                matches!(
                    t,
                    DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
                )
            })
        {
            return group_names_refused();
        }
        // Split's third argument is its options; the others' are the group; the named form's
        // are all text.
        Ok((0..arg_types.len())
            .map(|at| match (at, self.function) {
                (2, RegexFunction::Extract | RegexFunction::ExtractAll) => DataType::Int64,
                _ => DataType::Utf8,
            })
            .collect())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.function {
            RegexFunction::Extract => DataType::Utf8,
            RegexFunction::ExtractNamed => {
                return internal_err!("{EXTRACT_NAMED} is typed by return_field_from_args");
            }
            _ => DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
        })
    }

    /// The named form gives a struct of text fields by the names it was given.
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if self.function != RegexFunction::ExtractNamed {
            let types: Vec<DataType> = args
                .arg_fields
                .iter()
                .map(|f| f.data_type().clone())
                .collect();
            return Ok(Arc::new(Field::new("", self.return_type(&types)?, true)));
        }
        let fields = args.scalar_arguments[NAMES_AT..]
            .iter()
            .map(|name| match name {
                Some(ScalarValue::Utf8(Some(name))) => Ok(Field::new(name, DataType::Utf8, true)),
                _ => group_names_refused(),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(Field::new(
            "",
            DataType::Struct(fields.into()),
            true,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args.args, args.number_rows)?;
        let (group_at, options_at) = match self.function {
            RegexFunction::Split | RegexFunction::ExtractNamed => (None, 2),
            _ => (Some(2), 3),
        };
        let texts = arrays[0].as_string::<i32>();
        let patterns = arrays[1].as_string::<i32>();
        let options = arrays.get(options_at).map(|o| o.as_string::<i32>());
        let mut compiled = Compiled::default();
        if let DataType::Struct(fields) = args.return_type() {
            return call_value(
                &args.args,
                extract_named(texts, patterns, options, fields, &mut compiled)?,
            );
        }
        let groups = group_at
            .and_then(|at| arrays.get(at))
            .map(|g| g.as_primitive());
        let rows = 0..args.number_rows;
        let known = |row: usize| {
            texts.is_valid(row)
                && patterns.is_valid(row)
                && groups.is_none_or(|g: &Int64Array| g.is_valid(row))
                && options.is_none_or(|o| o.is_valid(row))
        };
        let group = |row: usize| groups.map_or(0, |g| g.value(row));
        let result: ArrayRef = match self.function {
            RegexFunction::Extract => {
                let mut out = StringBuilder::new();
                for row in rows {
                    if !known(row) {
                        out.append_null();
                        continue;
                    }
                    let regex = compiled.get(patterns.value(row), options.map(|o| o.value(row)))?;
                    let found = regex
                        .captures(texts.value(row))
                        .and_then(|c| c.get(group_index(group(row))?))
                        .map_or("", |m| m.as_str());
                    out.append_value(found);
                }
                Arc::new(out.finish())
            }
            RegexFunction::ExtractNamed => unreachable!("answered as a struct above"),
            RegexFunction::ExtractAll | RegexFunction::Split => {
                let mut out = ListBuilder::new(StringBuilder::new());
                for row in rows {
                    if !known(row) {
                        out.append_null();
                        continue;
                    }
                    let regex = compiled.get(patterns.value(row), options.map(|o| o.value(row)))?;
                    let text = texts.value(row);
                    match self.function {
                        RegexFunction::Split => {
                            for piece in regex.split(text) {
                                out.values().append_value(piece);
                            }
                        }
                        _ => {
                            let index = group_index(group(row));
                            for captures in regex.captures_iter(text) {
                                let found = index.and_then(|i| captures.get(i));
                                out.values().append_value(found.map_or("", |m| m.as_str()));
                            }
                        }
                    }
                    out.append(true);
                }
                Arc::new(out.finish())
            }
        };
        call_value(&args.args, result)
    }
}

/// `regexp_extract` with group names: per row, a struct of the first match's groups 1, 2, ...
/// under `fields`' names (`''` for each when nothing matches); NULL where an argument is.
fn extract_named(
    texts: &StringArray,
    patterns: &StringArray,
    options: Option<&StringArray>,
    fields: &Fields,
    compiled: &mut Compiled,
) -> Result<ArrayRef> {
    let mut groups: Vec<StringBuilder> = fields.iter().map(|_| StringBuilder::new()).collect();
    let mut valid = Vec::with_capacity(texts.len());
    for row in 0..texts.len() {
        let known = texts.is_valid(row)
            && patterns.is_valid(row)
            && options.is_none_or(|o| o.is_valid(row));
        valid.push(known);
        if !known {
            groups.iter_mut().for_each(|g| g.append_null());
            continue;
        }
        let regex = compiled.get(patterns.value(row), options.map(|o| o.value(row)))?;
        if regex.captures_len() <= fields.len() {
            return exec_err!(
                "Not enough capturing groups ({}) for provided names ({})",
                regex.captures_len() - 1,
                fields.len()
            );
        }
        let captures = regex.captures(texts.value(row));
        for (index, group) in groups.iter_mut().enumerate() {
            let found = captures.as_ref().and_then(|c| c.get(index + 1));
            group.append_value(found.map_or("", |m| m.as_str()));
        }
    }
    let columns = groups
        .iter_mut()
        .map(|g| Arc::new(g.finish()) as ArrayRef)
        .collect();
    Ok(Arc::new(StructArray::try_new(
        fields.clone(),
        columns,
        Some(valid.into()),
    )?))
}

fn group_names_refused<T>() -> Result<T> {
    plan_err!("regexp_extract's group names must be a constant list of texts")
}

/// A capture group's index; a negative one matches no group.
fn group_index(group: i64) -> Option<usize> {
    usize::try_from(group).ok()
}

/// The last pattern compiled, kept while the rows repeat it (a constant pattern compiles once).
#[derive(Default)]
struct Compiled {
    key: Option<(String, String)>,
    regex: Option<Regex>,
}

impl Compiled {
    fn get(&mut self, pattern: &str, options: Option<&str>) -> Result<&Regex> {
        let options = options.unwrap_or("");
        let same = self
            .key
            .as_ref()
            .is_some_and(|(p, o)| p == pattern && o == options);
        if !same {
            let mut builder = RegexBuilder::new(pattern);
            for option in options.chars() {
                match option {
                    'i' => builder.case_insensitive(true),
                    'c' => builder.case_insensitive(false),
                    's' => builder.dot_matches_new_line(true),
                    'm' | 'n' | 'p' => builder.multi_line(true),
                    other => return exec_err!("unknown regular expression option '{other}'"),
                };
            }
            let regex = match builder.build() {
                Ok(regex) => regex,
                Err(e) => return exec_err!("invalid regular expression '{pattern}': {e}"),
            };
            self.key = Some((pattern.to_owned(), options.to_owned()));
            self.regex = Some(regex);
        }
        Ok(self.regex.as_ref().expect("compiled above"))
    }
}

/// DuckDB's `len(x)` / `length(x)`, or `length_grapheme(s)` (see the module documentation).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Length {
    /// `length_grapheme`: user-perceived characters, not code points.
    graphemes: bool,
    signature: Signature,
    aliases: Vec<String>,
}

impl Length {
    fn new(graphemes: bool) -> Self {
        Length {
            graphemes,
            signature: Signature::user_defined(Volatility::Immutable),
            aliases: match graphemes {
                true => vec![],
                false => vec!["length".into()],
            },
        }
    }
}

impl ScalarUDFImpl for Length {
    fn name(&self) -> &str {
        match self.graphemes {
            true => "length_grapheme",
            false => "len",
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
            [DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)]
                if !self.graphemes =>
            {
                Ok(arg_types.to_vec())
            }
            [_] => Ok(vec![DataType::Utf8]),
            _ => plan_err!("{} takes one argument", self.name()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let array = args.args[0].to_array(args.number_rows)?;
        let lengths: Int64Array = match array.data_type() {
            DataType::Utf8 if self.graphemes => array
                .as_string::<i32>()
                .iter()
                .map(|s| s.map(|s| s.graphemes(true).count() as i64))
                .collect(),
            DataType::Utf8 => array
                .as_string::<i32>()
                .iter()
                .map(|s| s.map(|s| s.chars().count() as i64))
                .collect(),
            DataType::List(_) => list_lengths(array.as_list::<i32>()),
            DataType::LargeList(_) => list_lengths(array.as_list::<i64>()),
            DataType::FixedSizeList(..) => {
                let lists = array.as_fixed_size_list();
                (0..lists.len())
                    .map(|row| lists.is_valid(row).then_some(lists.value_length() as i64))
                    .collect()
            }
            other => return exec_err!("length of {other}"),
        };
        call_value(&args.args, Arc::new(lengths))
    }
}

fn list_lengths<O: datafusion::arrow::array::OffsetSizeTrait>(
    lists: &datafusion::arrow::array::GenericListArray<O>,
) -> Int64Array {
    let offsets = lists.value_offsets();
    (0..lists.len())
        .map(|row| {
            lists
                .is_valid(row)
                .then(|| (offsets[row + 1] - offsets[row]).as_usize() as i64)
        })
        .collect()
}

/// A distance or similarity of two strings, on their bytes (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StringMeasure {
    Levenshtein,
    DamerauLevenshtein,
    Hamming,
    Jaccard,
    Jaro,
    JaroWinkler,
}

impl StringMeasure {
    fn name(self) -> &'static str {
        match self {
            StringMeasure::Levenshtein => "levenshtein",
            StringMeasure::DamerauLevenshtein => "damerau_levenshtein",
            StringMeasure::Hamming => "hamming",
            StringMeasure::Jaccard => "jaccard",
            StringMeasure::Jaro => "jaro_similarity",
            StringMeasure::JaroWinkler => "jaro_winkler_similarity",
        }
    }

    /// Whether it counts edits (a BIGINT) rather than scoring similarity (a DOUBLE).
    fn is_distance(self) -> bool {
        matches!(
            self,
            StringMeasure::Levenshtein | StringMeasure::DamerauLevenshtein | StringMeasure::Hamming
        )
    }

    fn measure(self, a: &[u8], b: &[u8]) -> Result<f64> {
        Ok(match self {
            StringMeasure::Levenshtein => strsim::generic_levenshtein(&Bytes(a), &Bytes(b)) as f64,
            StringMeasure::DamerauLevenshtein => strsim::generic_damerau_levenshtein(a, b) as f64,
            StringMeasure::Hamming => match strsim::generic_hamming(a, b) {
                Ok(d) => d as f64,
                Err(_) => return exec_err!("hamming: the strings must be of equal length"),
            },
            StringMeasure::Jaccard => {
                if a.is_empty() || b.is_empty() {
                    return exec_err!("jaccard: an argument is empty");
                }
                let set = |s: &[u8]| {
                    let mut set = [false; 256];
                    s.iter().for_each(|&byte| set[byte as usize] = true);
                    set
                };
                let (a, b) = (set(a), set(b));
                let both = (0..256).filter(|&i| a[i] && b[i]).count();
                let either = (0..256).filter(|&i| a[i] || b[i]).count();
                both as f64 / either as f64
            }
            // DuckDB scores an empty string 0, where the formula gives 1 for two.
            _ if a.is_empty() || b.is_empty() => 0.0,
            StringMeasure::Jaro => strsim::generic_jaro(&Bytes(a), &Bytes(b)),
            StringMeasure::JaroWinkler => strsim::generic_jaro_winkler(&Bytes(a), &Bytes(b)),
        })
    }
}

/// A string's bytes as strsim's generic measures take them: a reference that iterates.
struct Bytes<'s>(&'s [u8]);

impl<'s> IntoIterator for &Bytes<'s> {
    type Item = u8;
    type IntoIter = std::iter::Copied<std::slice::Iter<'s, u8>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().copied()
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MeasureUdf {
    measure: StringMeasure,
    signature: Signature,
    aliases: Vec<String>,
}

impl MeasureUdf {
    fn new(measure: StringMeasure) -> Self {
        let aliases = match measure {
            StringMeasure::Levenshtein => vec!["editdist3".into()],
            StringMeasure::Hamming => vec!["mismatches".into()],
            _ => vec![],
        };
        MeasureUdf {
            measure,
            signature: Signature::user_defined(Volatility::Immutable),
            aliases,
        }
    }
}

impl ScalarUDFImpl for MeasureUdf {
    fn name(&self) -> &str {
        self.measure.name()
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types.len() {
            2 => Ok(vec![DataType::Utf8; 2]),
            _ => plan_err!("{} takes two strings", self.name()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.measure.is_distance() {
            true => DataType::Int64,
            false => DataType::Float64,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args.args, args.number_rows)?;
        let (a, b): (&StringArray, &StringArray) = (arrays[0].as_string(), arrays[1].as_string());
        let values = a
            .iter()
            .zip(b.iter())
            .map(|pair| match pair {
                (Some(a), Some(b)) => self.measure.measure(a.as_bytes(), b.as_bytes()).map(Some),
                _ => Ok(None),
            })
            .collect::<Result<Vec<Option<f64>>>>()?;
        let result: ArrayRef = match self.measure.is_distance() {
            true => Arc::new(
                values
                    .into_iter()
                    .map(|v| v.map(|d| d as i64))
                    .collect::<Int64Array>(),
            ),
            false => Arc::new(values.into_iter().collect::<Float64Array>()),
        };
        call_value(&args.args, result)
    }
}

/// `text` without its combining marks after canonical decomposition (`café` is `cafe`).
pub(crate) fn without_accents(text: &str) -> String {
    text.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect()
}

/// How [`Normalize`] rewrites a text.
#[derive(Debug, PartialEq, Eq, Hash, Clone, Copy)]
enum Form {
    /// Canonical decomposition without the combining marks.
    StripAccents,
    /// Canonical composition (NFC).
    Nfc,
}

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Normalize {
    form: Form,
    signature: Signature,
}

impl Normalize {
    fn new(form: Form) -> Self {
        Normalize {
            form,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Normalize {
    fn name(&self) -> &str {
        match self.form {
            Form::StripAccents => "strip_accents",
            Form::Nfc => "nfc_normalize",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types.len() {
            1 => Ok(vec![DataType::Utf8]),
            _ => plan_err!("{} takes one string", self.name()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let texts = &arrays(&args.args, args.number_rows)?[0];
        let normalized: StringArray = texts
            .as_string::<i32>()
            .iter()
            .map(|text| {
                text.map(|t| match self.form {
                    Form::StripAccents => without_accents(t),
                    Form::Nfc => t.nfc().collect::<String>(),
                })
            })
            .collect();
        call_value(&args.args, Arc::new(normalized))
    }
}
