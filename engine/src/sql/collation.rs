//! `COLLATE`: DuckDB's collations, which change how text compares, sorts and groups, not the
//! text itself.
//!
//! `x COLLATE NOCASE` becomes `__tarn_collate(x, 'nocase')` in the syntax tree: the same text,
//! its field marked with the collation (metadata under [`METADATA_KEY`]). The mark follows the
//! value through aliases, subqueries, CTEs, views and `CREATE TABLE AS`, as DuckDB's collation
//! follows its VARCHAR type. The analyzer rule `optimizer::Collations` then makes every
//! comparison, sort, window partition, group and DISTINCT that reads a marked value work on its
//! key, `__tarn_collation_key(x, 'nocase')`: the text lowered (`nocase`), without accents
//! (`noaccent`), NFC-normalized (`nfc`), or several of those in turn (`nocase.noaccent`).
//! `binary` (also `c`, `posix`) compares bytes, DuckDB's default, and removes a mark.
//!
//! DuckDB's ICU collations (`de`, `en_us`, ...) are not here; naming one is an error.

use std::fmt;
use std::ops::ControlFlow;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility, lit,
};
use sqlparser::ast::{self, ColumnDef, ColumnOption, Statement, VisitorMut};
use unicode_normalization::UnicodeNormalization;

use super::rewrite::{call, run_visitor};
use super::text_functions::{call_value, without_accents};
use super::types::sql_type_name;
use crate::error::{Result as TarnResult, TarnError};

/// The function that marks a text with a collation.
pub const COLLATE: &str = "__tarn_collate";
/// The function that gives the text a collation compares.
pub const COLLATION_KEY: &str = "__tarn_collation_key";
/// The field metadata that holds a value's collation.
const METADATA_KEY: &str = "tarn.collation";

/// One step of a collation's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Step {
    NoCase,
    NoAccent,
    Nfc,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::NoCase => "nocase",
            Step::NoAccent => "noaccent",
            Step::Nfc => "nfc",
        }
    }
}

/// A collation: the steps that make a text's key, applied in the order they were named. No
/// steps is `binary`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Collation(Vec<Step>);

impl FromStr for Collation {
    type Err = String;

    fn from_str(name: &str) -> std::result::Result<Self, String> {
        let mut steps = Vec::new();
        for part in name.split('.') {
            match part.to_ascii_lowercase().as_str() {
                "nocase" => steps.push(Step::NoCase),
                "noaccent" => steps.push(Step::NoAccent),
                "nfc" => steps.push(Step::Nfc),
                "binary" | "c" | "posix" => {}
                _ => {
                    return Err(format!(
                        "Collation with name {part} does not exist: Tarn has nocase, noaccent, \
                         nfc and binary, which may be joined by '.' (nocase.noaccent)"
                    ));
                }
            }
        }
        steps.dedup();
        Ok(Collation(steps))
    }
}

impl fmt::Display for Collation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.is_empty() {
            true => f.write_str("binary"),
            false => {
                let names: Vec<&str> = self.0.iter().map(|step| step.name()).collect();
                f.write_str(&names.join("."))
            }
        }
    }
}

impl Collation {
    /// The collation a field is marked with; `None` for bytes.
    pub fn of(field: &Field) -> Option<Collation> {
        let name = field.metadata().get(METADATA_KEY)?;
        name.parse().ok().filter(|c: &Collation| !c.0.is_empty())
    }

    /// Bytes, DuckDB's default, which removes a collation from a value it marks.
    pub fn binary() -> Collation {
        Collation(Vec::new())
    }

    /// `expr`'s key under this collation, which compares as the collation compares `expr`.
    pub fn key(&self, expr: Expr) -> Expr {
        COLLATION_KEY_UDF.call(vec![expr, lit(self.to_string())])
    }

    /// `expr` marked with this collation.
    pub fn mark(&self, expr: Expr) -> Expr {
        COLLATE_UDF.call(vec![expr, lit(self.to_string())])
    }

    /// The text `text` compares as, written into `key`.
    fn write_key(&self, text: &str, key: &mut String) {
        key.clear();
        key.push_str(text);
        for step in &self.0 {
            match step {
                Step::NoCase if key.is_ascii() => key.make_ascii_lowercase(),
                Step::NoCase => *key = key.to_lowercase(),
                Step::NoAccent if key.is_ascii() => {}
                Step::NoAccent => *key = without_accents(key),
                Step::Nfc if key.is_ascii() => {}
                Step::Nfc => *key = key.nfc().collect(),
            }
        }
    }
}

/// Writes every `x COLLATE name` in `statement` as `__tarn_collate(x, 'name')`, its name
/// checked; refuses a collation declared on a table's column, which the table would not keep.
pub fn mark_collations(statement: &mut Statement) -> TarnResult<()> {
    if let Statement::CreateTable(create) = statement {
        create
            .columns
            .iter()
            .try_for_each(refuse_column_collation)?;
    }
    run_visitor(statement, &mut CollateCalls)
}

/// Tables keep no collation (DataFusion's columns have none), so `s VARCHAR COLLATE NOCASE`
/// would silently compare bytes.
pub(crate) fn refuse_column_collation(column: &ColumnDef) -> TarnResult<()> {
    let declared = column
        .options
        .iter()
        .find_map(|option| match &option.option {
            ColumnOption::Collation(name) => Some(name),
            _ => None,
        });
    match declared {
        Some(name) => Err(TarnError::Invalid(format!(
            "column {} cannot keep a collation ({name}): collate where it is compared, as in \
             {} COLLATE {name} = 'text'",
            column.name, column.name
        ))),
        None => Ok(()),
    }
}

struct CollateCalls;

impl VisitorMut for CollateCalls {
    type Break = TarnError;

    fn post_visit_expr(&mut self, expr: &mut ast::Expr) -> ControlFlow<TarnError> {
        let ast::Expr::Collate {
            expr: text,
            collation,
        } = expr
        else {
            return ControlFlow::Continue(());
        };
        let name: Vec<String> = collation
            .0
            .iter()
            .map(|part| match part.as_ident() {
                Some(ident) => ident.value.clone(),
                None => part.to_string(),
            })
            .collect();
        let name = name.join(".");
        if let Err(message) = name.parse::<Collation>() {
            return ControlFlow::Break(TarnError::Invalid(message));
        }
        let name = ast::Expr::value(ast::Value::SingleQuotedString(name));
        *expr = call(COLLATE, [text.as_ref().clone(), name]);
        ControlFlow::Continue(())
    }
}

static COLLATE_UDF: LazyLock<Arc<ScalarUDF>> =
    LazyLock::new(|| Arc::new(ScalarUDF::from(Collate::new())));
static COLLATION_KEY_UDF: LazyLock<Arc<ScalarUDF>> =
    LazyLock::new(|| Arc::new(ScalarUDF::from(CollationKey::new())));

/// Registers the two functions, which plans carried to a cluster's executors name.
pub fn register(ctx: &datafusion::prelude::SessionContext) {
    ctx.register_udf(COLLATE_UDF.as_ref().clone());
    ctx.register_udf(COLLATION_KEY_UDF.as_ref().clone());
}

/// The argument types of both functions: any text, and the collation's name.
fn text_and_name(function: &str, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    match arg_types {
        [DataType::Null, _] => Ok(vec![DataType::Utf8, DataType::Utf8]),
        [DataType::LargeUtf8, _] => Ok(vec![DataType::Utf8, DataType::Utf8]),
        [text @ (DataType::Utf8 | DataType::Utf8View), _] => Ok(vec![text.clone(), DataType::Utf8]),
        [other, _] => plan_err!(
            "collations are only supported for type VARCHAR, not {}",
            sql_type_name(other)
        ),
        _ => plan_err!("{function} takes a text and a collation"),
    }
}

/// The collation a constant argument names.
fn named(function: &str, name: Option<&ScalarValue>) -> Result<Collation> {
    match name {
        Some(ScalarValue::Utf8(Some(name))) => match name.parse() {
            Ok(collation) => Ok(collation),
            Err(message) => plan_err!("{message}"),
        },
        _ => plan_err!("{function} takes the collation's name as a constant"),
    }
}

/// `__tarn_collate(text, name)`: `text`, its field marked with the collation.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Collate {
    signature: Signature,
}

impl Collate {
    fn new() -> Self {
        Collate {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Collate {
    fn name(&self) -> &str {
        COLLATE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        text_and_name(COLLATE, arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    /// The text's own field, its collation replaced (or, for `binary`, removed).
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let collation = named(COLLATE, args.scalar_arguments[1])?;
        let text = &args.arg_fields[0];
        let mut metadata = text.metadata().clone();
        metadata.remove(METADATA_KEY);
        if !collation.0.is_empty() {
            metadata.insert(METADATA_KEY.to_string(), collation.to_string());
        }
        let field = Field::new(text.name(), text.data_type().clone(), text.is_nullable());
        Ok(Arc::new(field.with_metadata(metadata)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(args.args[0].clone())
    }
}

/// `__tarn_collation_key(text, name)`: the text a collation compares.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CollationKey {
    signature: Signature,
}

impl CollationKey {
    fn new() -> Self {
        CollationKey {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for CollationKey {
    fn name(&self) -> &str {
        COLLATION_KEY
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        text_and_name(COLLATION_KEY, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = match &args.args[1] {
            ColumnarValue::Scalar(name) => Some(name),
            ColumnarValue::Array(_) => None,
        };
        let collation = named(COLLATION_KEY, name)?;
        let texts = args.args[0].to_array(args.number_rows)?;
        let mut key = String::new();
        let mut keyed = |text: Option<&str>| {
            text.map(|text| {
                collation.write_key(text, &mut key);
                key.clone()
            })
        };
        let keys: StringArray = match texts.data_type() {
            DataType::Utf8View => texts.as_string_view().iter().map(&mut keyed).collect(),
            _ => texts.as_string::<i32>().iter().map(&mut keyed).collect(),
        };
        call_value(&args.args, Arc::new(keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(collation: &str, text: &str) -> String {
        let mut key = String::new();
        collation
            .parse::<Collation>()
            .unwrap()
            .write_key(text, &mut key);
        key
    }

    #[test]
    fn keys_apply_each_step_in_turn() {
        assert_eq!(key("nocase", "ÉLan ABC"), "élan abc");
        assert_eq!(key("noaccent", "ÉLan"), "ELan");
        assert_eq!(key("NOACCENT.NOCASE", "ÉLan"), "elan");
        assert_eq!(key("nocase.noaccent", "ÉLan"), "elan");
        // "e" followed by a combining acute accent composes to one character.
        assert_eq!(key("nfc", "e\u{301}"), "\u{e9}");
        assert_eq!(key("binary", "ÉLan"), "ÉLan");
    }

    #[test]
    fn names_are_checked_and_written_canonically() {
        assert_eq!(
            "NoCase.C".parse::<Collation>().unwrap().to_string(),
            "nocase"
        );
        assert_eq!("posix".parse::<Collation>().unwrap().to_string(), "binary");
        let err = "de".parse::<Collation>().unwrap_err();
        assert!(
            err.starts_with("Collation with name de does not exist"),
            "{err}"
        );
    }
}
