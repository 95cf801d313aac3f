//! A cast to an integer type rounds, as in DuckDB, where DataFusion truncates.
//!
//! DuckDB's `CAST(3.7 AS INTEGER)` is 4 and DataFusion's 3; a bucket computed as
//! `CAST(score * 10 AS INTEGER)` would silently differ between the two. DuckDB rounds a DECIMAL
//! half away from zero (`2.5` → 3) and a DOUBLE or FLOAT half to even (`2.5` → 2, `3.5` → 4,
//! C's `nearbyint`). [`IntegerCasts`], an analyzer rule after type coercion, puts `round` or
//! `roundbankers` ([`RoundEven`]) under each such cast (or `TRY_CAST`), so constants fold to DuckDB's answer
//! too. Text gets [`IntegerText`], which reads `'12.5'`, `' 7 '` or `'1e3'` as DuckDB does.
//! A list or struct cast to one of integers gets [`RoundNested`], which rounds each number
//! inside the same way. Columns keep their names: the rewritten cast answers to the name the
//! cast had.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::functions::math::round;
use datafusion::logical_expr::expr::{Cast, ScalarFunction, TryCast};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, ScalarUDF};
use datafusion::optimizer::AnalyzerRule;

use crate::sql::functions::{ROUND_EVEN, RoundEven};
use crate::sql::integer_text::{INTEGER_TEXT, IntegerText};
use crate::sql::nested_rounding::{ROUND_NESTED, RoundNested, rounds_inside};

/// See the module documentation.
#[derive(Debug, Default)]
pub struct IntegerCasts;

impl AnalyzerRule for IntegerCasts {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        super::rewrite_logical_expressions(plan, round_before_integer_cast)
    }

    fn name(&self) -> &str {
        "tarn_integer_casts"
    }
}

/// `expr` with a rounding under it when it casts a DECIMAL or floating-point value to an
/// integer type, alone or inside a list or struct.
fn round_before_integer_cast(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    if let Expr::Cast(Cast { expr: inner, field }) | Expr::TryCast(TryCast { expr: inner, field }) =
        &expr
        && !matches!(inner.as_ref(), Expr::ScalarFunction(call) if call.name() == ROUND_NESTED)
        && rounds_inside(&inner.get_type(schema)?, field.data_type())
    {
        let target = Expr::Literal(ScalarValue::try_from(field.data_type())?, None);
        let rounded = Box::new(Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::new(ScalarUDF::from(RoundNested::new())),
            vec![inner.as_ref().clone(), target],
        )));
        let field = Arc::clone(field);
        return Ok(Transformed::yes(match expr {
            Expr::TryCast(_) => Expr::TryCast(TryCast::new_from_field(rounded, field)),
            _ => Expr::Cast(Cast::new_from_field(rounded, field)),
        }));
    }
    let (inner, field) = match &expr {
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field })
            if field.data_type().is_integer() =>
        {
            (expr.as_ref(), Arc::clone(field))
        }
        _ => return Ok(Transformed::no(expr)),
    };
    if let Expr::ScalarFunction(call) = inner
        && [ROUND_EVEN, "round", INTEGER_TEXT].contains(&call.name())
    {
        return Ok(Transformed::no(expr)); // rounded already (a view analyzed again)
    }
    // Type coercion has run: the rounding function gets the argument type it takes.
    let rounded = match inner.get_type(schema)? {
        DataType::Float64 => call(Arc::new(ScalarUDF::from(RoundEven::new())), inner.clone()),
        DataType::Float16 | DataType::Float32 => call(
            Arc::new(ScalarUDF::from(RoundEven::new())),
            Expr::Cast(Cast::new(Box::new(inner.clone()), DataType::Float64)),
        ),
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => call(round(), inner.clone()),
        DataType::Utf8 => call(Arc::new(ScalarUDF::from(IntegerText::new())), inner.clone()),
        DataType::LargeUtf8 | DataType::Utf8View => call(
            Arc::new(ScalarUDF::from(IntegerText::new())),
            Expr::Cast(Cast::new(Box::new(inner.clone()), DataType::Utf8)),
        ),
        _ => return Ok(Transformed::no(expr)),
    };
    let rounded = Box::new(rounded);
    Ok(Transformed::yes(match expr {
        Expr::TryCast(_) => Expr::TryCast(TryCast::new_from_field(rounded, field)),
        _ => Expr::Cast(Cast::new_from_field(rounded, field)),
    }))
}

fn call(function: Arc<ScalarUDF>, arg: Expr) -> Expr {
    Expr::ScalarFunction(ScalarFunction::new_udf(function, vec![arg]))
}
