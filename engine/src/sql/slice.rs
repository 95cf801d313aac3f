//! DuckDB's subscripts, which take strings as well as lists:
//!
//! * [`Subscript::Slice`]: `list_slice(x, begin, end)` (also `array_slice`, and the syntax `x[begin:end]`):
//!   `'hello'[2:3]` is `el`, `text[:200]` the first 200 characters. Positions count from 1,
//!   both ends included; a negative one counts from the end (`-1` is the last); they are
//!   clamped to the value.
//! * [`Subscript::Element`]: `array_extract(x, i)` (also `array_element`, `list_extract`, `list_element`,
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

/// Which subscript a [`TextOrList`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subscript {
    /// `list_slice(x, begin, end)`.
    Slice,
    /// `array_extract(x, i)`.
    Element,
}

/// A subscript of strings, and of lists by DataFusion's function (see the module documentation).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TextOrList {
    subscript: Subscript,
    /// DataFusion's `array_slice` or `array_element`, for lists.
    lists: Arc<ScalarUDF>,
    signature: Signature,
    aliases: Vec<String>,
}

impl TextOrList {
    pub fn new(subscript: Subscript) -> Self {
        let (lists, aliases) = match subscript {
            Subscript::Slice => (array_slice_udf(), vec!["array_slice".to_string()]),
            // DataFusion's names, so that this replaces its function under each of them.
            Subscript::Element => {
                let lists = array_element_udf();
                let aliases = lists.aliases().to_vec();
                (lists, aliases)
            }
        };
        TextOrList {
            subscript,
            lists,
            signature: Signature::user_defined(Volatility::Immutable),
            aliases,
        }
    }
}

impl ScalarUDFImpl for TextOrList {
    fn name(&self) -> &str {
        match self.subscript {
            Subscript::Slice => "list_slice",
            Subscript::Element => self.lists.name(),
        }
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match (self.subscript, arg_types) {
            (Subscript::Slice, [text, _, _]) if is_text(text) => {
                Ok(vec![DataType::Utf8, DataType::Int64, DataType::Int64])
            }
            (Subscript::Slice, [text, ..]) if is_text(text) => {
                plan_err!("list_slice of a string takes a begin and an end")
            }
            (Subscript::Element, [text, _]) if is_text(text) => {
                Ok(vec![DataType::Utf8, DataType::Int64])
            }
            _ => coerced_arguments(&self.lists, arg_types),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        plan_err!("{}'s type comes from its arguments", self.name())
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
        let begins = arrays[1].as_primitive::<Int64Type>();
        // An element is the slice from its position to itself.
        let ends = match self.subscript {
            Subscript::Slice => arrays[2].as_primitive::<Int64Type>(),
            Subscript::Element => begins,
        };
        let sliced: StringArray = (0..texts.len())
            .map(|row| {
                let valid = texts.is_valid(row) && begins.is_valid(row) && ends.is_valid(row);
                valid.then(|| slice_text(texts.value(row), begins.value(row), ends.value(row)))
            })
            .collect();
        call_value(&args.args, Arc::new(sliced))
    }
}

/// Plans `text[i]` with [`Subscript::Element`], where DataFusion's planner would call its own
/// `array_element`, which refuses strings; it plans every other subscript.
#[derive(Debug)]
pub struct TextSubscripts {
    element: Arc<ScalarUDF>,
}

impl Default for TextSubscripts {
    fn default() -> Self {
        TextSubscripts {
            element: Arc::new(ScalarUDF::from(TextOrList::new(Subscript::Element))),
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
