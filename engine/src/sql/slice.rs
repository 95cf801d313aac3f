//! DuckDB's subscripts, which take strings as well as lists:
//!
//! * [`Slice`]: `list_slice(x, begin, end)` (also `array_slice`, and the syntax `x[begin:end]`):
//!   `'hello'[2:3]` is `el`, `text[:200]` the first 200 characters. Positions count from 1,
//!   both ends included; a negative one counts from the end (`-1` is the last); they are
//!   clamped to the value.
//! * [`Element`]: `array_extract(x, i)` (also `array_element`, `list_extract`, `list_element`,
//!   and the syntax `x[i]`, which [`TextSubscripts`] plans): `'hello'[2]` is `e`, `word[-1]`
//!   the last character, and a position past either end the empty string.
//!
//! DataFusion's `array_slice` and `array_element` have these rules for lists, and answer for
//! lists here; they refuse strings.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{DFSchema, Result, plan_err};
use datafusion::functions_nested::extract::{array_element_udf, array_slice_udf};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawFieldAccessExpr};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, GetFieldAccess, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::{arrays, call_value, coerced_arguments, is_text};

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Slice {
    /// DataFusion's `array_slice`, for lists.
    lists: Arc<ScalarUDF>,
    signature: Signature,
    aliases: Vec<String>,
}

impl Slice {
    pub fn new() -> Self {
        Slice {
            lists: array_slice_udf(),
            signature: Signature::user_defined(Volatility::Immutable),
            aliases: vec!["array_slice".into()],
        }
    }
}

impl Default for Slice {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for Slice {
    fn name(&self) -> &str {
        "list_slice"
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [text, _, _] if is_text(text) => {
                Ok(vec![DataType::Utf8, DataType::Int64, DataType::Int64])
            }
            [text, ..] if is_text(text) => {
                plan_err!("list_slice of a string takes a begin and an end")
            }
            _ => coerced_arguments(&self.lists, arg_types),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        plan_err!("list_slice's type comes from its arguments")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        match args.arg_fields.first().map(|f| f.data_type()) {
            Some(DataType::Utf8) => Ok(Arc::new(Field::new(self.name(), DataType::Utf8, true))),
            _ => self.lists.return_field_from_args(args),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args[0].data_type() != DataType::Utf8 {
            return self.lists.invoke_with_args(args);
        }
        let arrays = arrays(&args.args, args.number_rows)?;
        let texts = arrays[0].as_string::<i32>();
        let (begins, ends) = (
            arrays[1].as_primitive::<Int64Type>(),
            arrays[2].as_primitive::<Int64Type>(),
        );
        let sliced: StringArray = (0..texts.len())
            .map(|row| {
                let valid = texts.is_valid(row) && begins.is_valid(row) && ends.is_valid(row);
                valid.then(|| slice_text(texts.value(row), begins.value(row), ends.value(row)))
            })
            .collect();
        call_value(&args.args, Arc::new(sliced))
    }
}

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Element {
    /// DataFusion's `array_element`, for lists.
    lists: Arc<ScalarUDF>,
    signature: Signature,
}

impl Element {
    pub fn new() -> Self {
        Element {
            lists: array_element_udf(),
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for Element {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for Element {
    /// DataFusion's name, so that this replaces its function under each of its names.
    fn name(&self) -> &str {
        self.lists.name()
    }

    fn aliases(&self) -> &[String] {
        self.lists.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [text, _] if is_text(text) => Ok(vec![DataType::Utf8, DataType::Int64]),
            _ => coerced_arguments(&self.lists, arg_types),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        plan_err!("array_extract's type comes from its arguments")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        match args.arg_fields.first().map(|f| f.data_type()) {
            Some(DataType::Utf8) => Ok(Arc::new(Field::new(self.name(), DataType::Utf8, true))),
            _ => self.lists.return_field_from_args(args),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args[0].data_type() != DataType::Utf8 {
            return self.lists.invoke_with_args(args);
        }
        let arrays = arrays(&args.args, args.number_rows)?;
        let (texts, positions) = (
            arrays[0].as_string::<i32>(),
            arrays[1].as_primitive::<Int64Type>(),
        );
        let characters: StringArray = (0..texts.len())
            .map(|row| {
                let valid = texts.is_valid(row) && positions.is_valid(row);
                let at = positions.value(row);
                valid.then(|| slice_text(texts.value(row), at, at))
            })
            .collect();
        call_value(&args.args, Arc::new(characters))
    }
}

/// Plans `text[i]` with [`Element`], where DataFusion's planner would call its own
/// `array_element`, which refuses strings; it plans every other subscript.
#[derive(Debug)]
pub struct TextSubscripts {
    element: Arc<ScalarUDF>,
}

impl Default for TextSubscripts {
    fn default() -> Self {
        TextSubscripts {
            element: Arc::new(ScalarUDF::from(Element::new())),
        }
    }
}

impl ExprPlanner for TextSubscripts {
    fn plan_field_access(
        &self,
        access: RawFieldAccessExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawFieldAccessExpr>> {
        let RawFieldAccessExpr {
            field_access: GetFieldAccess::ListIndex { key },
            expr,
        } = access
        else {
            return Ok(PlannerResult::Original(access));
        };
        if !is_text(&expr.get_type(schema)?) {
            let field_access = GetFieldAccess::ListIndex { key };
            return Ok(PlannerResult::Original(RawFieldAccessExpr {
                field_access,
                expr,
            }));
        }
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            ScalarFunction::new_udf(Arc::clone(&self.element), vec![expr, *key]),
        )))
    }
}

/// Characters `begin` to `end` of `text` (see the module documentation).
fn slice_text(text: &str, begin: i64, end: i64) -> String {
    let length = text.chars().count() as i64;
    let from_end = |at: i64| if at < 0 { length + at + 1 } else { at };
    let (first, last) = (from_end(begin).max(1), from_end(end).min(length));
    if first > last {
        return String::new();
    }
    text.chars()
        .skip((first - 1) as usize)
        .take((last - first + 1) as usize)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::slice_text;

    #[test]
    fn slices_strings_as_duckdb_does() {
        // Each answer is DuckDB 2.0's `array_slice`.
        let cases = [
            (2, 3, "el"),
            (-3, -1, "llo"),
            (0, 2, "he"),
            (1, -1, "hello"),
            (2, 2, "e"),
            (-10, 2, "he"),
            (4, 10, "lo"),
            (3, 2, ""),
        ];
        for (begin, end, expected) in cases {
            assert_eq!(slice_text("hello", begin, end), expected, "{begin}:{end}");
        }
        assert_eq!(slice_text("héllo", 2, 2), "é");
    }
}
