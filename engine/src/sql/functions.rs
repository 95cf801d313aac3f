//! Built-in functions whose result type DuckDB defines differently from DataFusion.
//!
//! * `avg` of a DECIMAL is a DOUBLE in DuckDB, computed from the exact sum (DataFusion keeps a
//!   DECIMAL with four more digits of scale, which rounds the answer): [`DuckAvg`] averages a
//!   DECIMAL(p ≤ 38) with [`super::decimal_avg`], casts other numbers to DOUBLE, and is
//!   otherwise DataFusion's own `avg`.
//! * `sum` of a BIGINT, UBIGINT or DECIMAL fails on an overflow (DataFusion's wraps around):
//!   [`DuckSum`] with [`super::checked_sum`], otherwise DataFusion's own `sum`.
//! * `/` is always floating-point division in DuckDB 2 (`7 / 2` is 3.5, `1 / 0` is inf, `0 / 0`
//!   NaN); `//` divides integers to an integer and anything else as DOUBLE, and fails on a zero
//!   divisor. The rewrite step turns `a / b` into [`DIVIDE`]`(a, b)`, [`DuckDivide`], and
//!   `a // b` into [`INTEGER_DIVIDE`]`(a, b)`, [`DuckIntegerDivide`].
//! * A cast of a DOUBLE to an integer rounds half to even in DuckDB (`optimizer::IntegerCasts`
//!   puts [`ROUND_EVEN`] under it): [`RoundEven`], also DuckDB's `roundbankers(x [, digits])`
//!   and `round_even`.
//! * `typeof(x)` names `x`'s type as DuckDB writes it (`DOUBLE`, `VARCHAR`, `DECIMAL(15,2)`):
//!   [`DuckTypeOf`]; DataFusion has only `arrow_typeof` (`Float64`, `Utf8View`).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Decimal128Array, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::arity::try_binary;
use datafusion::arrow::compute::kernels::numeric::div;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, FieldRef, Float64Type};
use datafusion::arrow::error::ArrowError;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::functions_aggregate::average::avg_udaf;
use datafusion::logical_expr::Operator;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, Expr, GroupsAccumulator,
    ReversedUDAF, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::prelude::SessionContext;

use super::checked_sum::DuckSum;
use super::decimal_avg::{self, DecimalAvg, DecimalAvgGroups};

/// The name `a / b` is planned as.
pub const DIVIDE: &str = "duckdb_divide";

/// The name `a // b` is planned as.
pub const INTEGER_DIVIDE: &str = "duckdb_integer_divide";

/// The name of [`RoundEven`].
pub const ROUND_EVEN: &str = "roundbankers";

/// Registers the DuckDB-typed replacements on a context.
pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(AggregateUDF::from(DuckAvg::new()));
    ctx.register_udaf(AggregateUDF::from(DuckSum::new()));
    ctx.register_udf(ScalarUDF::from(DuckDivide::new()));
    ctx.register_udf(ScalarUDF::from(DuckIntegerDivide::new()));
    ctx.register_udf(ScalarUDF::from(DuckTypeOf::new()));
    ctx.register_udf(ScalarUDF::from(RoundEven::new()).with_aliases(["round_even"]));
    ctx.register_udf(ScalarUDF::from(super::nested_rounding::RoundNested::new()));
}

/// DuckDB's `roundbankers(x [, digits])`: `x` as a DOUBLE rounded to `digits` (0 unless given)
/// decimal places, a half to the even neighbour.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RoundEven {
    signature: Signature,
}

impl RoundEven {
    pub fn new() -> Self {
        RoundEven {
            signature: Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Float64]),
                    TypeSignature::Exact(vec![DataType::Float64, DataType::Int64]),
                ],
                Volatility::Immutable,
            ),
        }
    }
}

impl Default for RoundEven {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for RoundEven {
    fn name(&self) -> &str {
        ROUND_EVEN
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let digits = match args.args.get(1) {
            None => 0,
            Some(ColumnarValue::Scalar(ScalarValue::Int64(Some(d)))) => *d,
            Some(ColumnarValue::Scalar(ScalarValue::Int64(None))) => {
                return Ok(ColumnarValue::Scalar(ScalarValue::Float64(None)));
            }
            Some(_) => return exec_err!("roundbankers: the number of digits must be a constant"),
        };
        let scale = 10f64.powi(digits.clamp(-400, 400) as i32);
        let round = |x: f64| match digits {
            0 => x.round_ties_even(),
            _ => (x * scale).round_ties_even() / scale,
        };
        let values = &args.args[0];
        match values {
            ColumnarValue::Scalar(ScalarValue::Float64(x)) => {
                Ok(ColumnarValue::Scalar(ScalarValue::Float64(x.map(round))))
            }
            ColumnarValue::Array(array) => {
                let rounded: Float64Array = array.as_primitive::<Float64Type>().unary(round);
                Ok(ColumnarValue::Array(Arc::new(rounded)))
            }
            ColumnarValue::Scalar(other) => exec_err!("roundbankers of {}", other.data_type()),
        }
    }
}

/// DuckDB's `typeof(x)`: the SQL name of `x`'s type, one constant per query.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DuckTypeOf {
    signature: Signature,
}

impl DuckTypeOf {
    pub fn new() -> Self {
        DuckTypeOf {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl Default for DuckTypeOf {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for DuckTypeOf {
    fn name(&self) -> &str {
        "typeof"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let field = &args.arg_fields[0];
        let name = match super::json::holds_json_items(field) {
            true => "JSON[]".to_string(),
            false => super::types::sql_type_name(field.data_type()),
        };
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(name))))
    }
}

/// The scale of a DECIMAL(p ≤ 38) argument, which [`DuckAvg`] averages exactly.
fn decimal_scale(fields: &[FieldRef]) -> Option<i8> {
    match fields {
        [field] => match field.data_type() {
            DataType::Decimal128(_, scale) => Some(*scale),
            _ => None,
        },
        _ => None,
    }
}

/// `avg(DISTINCT decimal)`: DataFusion's distinct average over the values cast to DOUBLE.
#[derive(Debug)]
struct AsDouble {
    inner: Box<dyn Accumulator>,
}

impl AsDouble {
    fn cast(values: &[ArrayRef]) -> Result<Vec<ArrayRef>> {
        values
            .iter()
            .map(|v| Ok(cast(v, &DataType::Float64)?))
            .collect()
    }
}

impl Accumulator for AsDouble {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.update_batch(&Self::cast(values)?)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.inner.merge_batch(states)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.inner.state()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.inner.evaluate()
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.inner.size()
    }
}

/// DuckDB's `/`: both sides as DOUBLE (FLOAT where a FLOAT meets no DOUBLE), IEEE division (a
/// zero divisor gives ±inf or NaN).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DuckDivide {
    signature: Signature,
}

impl DuckDivide {
    pub fn new() -> Self {
        DuckDivide {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for DuckDivide {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for DuckDivide {
    fn name(&self) -> &str {
        DIVIDE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn display_name(&self, args: &[Expr]) -> Result<String> {
        Ok(format!("{} / {}", args[0], args[1]))
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [a, b] if numeric_or_null(a) && numeric_or_null(b) => {
                // FLOAT when a FLOAT meets no DOUBLE, as DuckDB divides (`f / 2` stays FLOAT).
                let single =
                    [a, b].contains(&&DataType::Float32) && ![a, b].contains(&&DataType::Float64);
                let float = match single {
                    true => DataType::Float32,
                    false => DataType::Float64,
                };
                Ok(vec![float.clone(), float])
            }
            [a, b] => plan_err!("cannot divide {a} by {b}"),
            _ => plan_err!("division takes two operands"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        divide(&args, |numerators, denominators| {
            Ok(div(numerators, denominators)?)
        })
    }
}

/// Applies `quotients` to a division's two operands as arrays; the answer is a scalar when both
/// operands are.
fn divide(
    args: &ScalarFunctionArgs,
    quotients: impl FnOnce(&ArrayRef, &ArrayRef) -> Result<ArrayRef>,
) -> Result<ColumnarValue> {
    let all_scalar = args
        .args
        .iter()
        .all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let arrays = ColumnarValue::values_to_arrays(&args.args)?;
    let quotients = quotients(&arrays[0], &arrays[1])?;
    if all_scalar {
        return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &quotients, 0,
        )?));
    }
    Ok(ColumnarValue::Array(quotients))
}

/// DuckDB's `//`: integers divide to an integer of their common type (rounding toward zero),
/// anything else as DOUBLE (`7.5 // 2` is 3.75); a zero divisor is an error either way.
/// A HUGEINT, which Tarn holds as DECIMAL(38, 0), divides as an integer too (`7::HUGEINT // 2`
/// is 3), into a HUGEINT.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DuckIntegerDivide {
    signature: Signature,
}

impl DuckIntegerDivide {
    pub fn new() -> Self {
        DuckIntegerDivide {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for DuckIntegerDivide {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for DuckIntegerDivide {
    fn name(&self) -> &str {
        INTEGER_DIVIDE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn display_name(&self, args: &[Expr]) -> Result<String> {
        Ok(format!("{} // {}", args[0], args[1]))
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [a, b] if a.is_integer() && b.is_integer() => {
                let common = BinaryTypeCoercer::new(a, &Operator::Divide, b).get_result_type()?;
                Ok(vec![common.clone(), common])
            }
            [a, b]
                if (*a == HUGEINT || *b == HUGEINT)
                    && [a, b].iter().all(|t| t.is_integer() || **t == HUGEINT) =>
            {
                Ok(vec![HUGEINT, HUGEINT])
            }
            [a, b] if numeric_or_null(a) && numeric_or_null(b) => {
                Ok(vec![DataType::Float64, DataType::Float64])
            }
            [a, b] => plan_err!("cannot divide {a} by {b}"),
            _ => plan_err!("division takes two operands"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        divide(&args, |numerators, denominators| {
            if *numerators.data_type() == HUGEINT {
                return hugeint_quotients(numerators, denominators);
            }
            // Integer division fails on zero by itself; DOUBLE division would give inf.
            let float_zero = *denominators.data_type() == DataType::Float64
                && denominators
                    .as_primitive::<Float64Type>()
                    .iter()
                    .any(|d| d == Some(0.0));
            match div(numerators, denominators) {
                Err(ArrowError::DivideByZero) => {
                    exec_err!("Division by zero in an expression with //")
                }
                _ if float_zero => exec_err!("Division by zero in an expression with //"),
                quotients => Ok(quotients?),
            }
        })
    }
}

/// The type a HUGEINT is held in.
const HUGEINT: DataType = DataType::Decimal128(38, 0);

/// HUGEINT quotients rounded toward zero; Arrow's decimal division would keep a fraction.
/// A zero divisor fails only beside a number, as for the other integers (`NULL // 0` is NULL).
fn hugeint_quotients(numerators: &ArrayRef, denominators: &ArrayRef) -> Result<ArrayRef> {
    let quotients: Decimal128Array = try_binary(
        numerators.as_primitive::<Decimal128Type>(),
        denominators.as_primitive::<Decimal128Type>(),
        // Nothing overflows: 38 digits are far from i128::MIN, the one quotient that could.
        |n: i128, d: i128| n.checked_div(d).ok_or(ArrowError::DivideByZero),
    )
    .or_else(|_| exec_err!("Division by zero in an expression with //"))?;
    Ok(Arc::new(quotients.with_data_type(HUGEINT)))
}

fn numeric_or_null(data_type: &DataType) -> bool {
    data_type.is_numeric() || *data_type == DataType::Null
}

/// `avg` with DuckDB's result types: DOUBLE for numbers and decimals, INTERVAL for intervals.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DuckAvg {
    inner: Arc<AggregateUDF>,
    signature: Signature,
}

impl DuckAvg {
    pub fn new() -> Self {
        DuckAvg {
            inner: avg_udaf(),
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for DuckAvg {
    fn default() -> Self {
        Self::new()
    }
}

impl AggregateUDFImpl for DuckAvg {
    fn name(&self) -> &str {
        "avg"
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [arg] = arg_types else {
            return plan_err!("avg takes one argument, got {}", arg_types.len());
        };
        match arg {
            DataType::Duration(_) | DataType::Decimal128(_, _) => Ok(vec![arg.clone()]),
            DataType::Null => Ok(vec![DataType::Float64]),
            t if t.is_numeric() => Ok(vec![DataType::Float64]),
            other => plan_err!("avg cannot take an argument of type {other}"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::Decimal128(_, _)] => Ok(DataType::Float64),
            _ => self.inner.return_type(arg_types),
        }
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        match (decimal_scale(args.expr_fields), args.is_distinct) {
            (Some(scale), false) => Ok(Box::new(DecimalAvg::new(scale))),
            (Some(_), true) => {
                let input = [Arc::new(Field::new("value", DataType::Float64, true)) as FieldRef];
                let inner = self.inner.accumulator(AccumulatorArgs {
                    expr_fields: &input,
                    ..args
                })?;
                Ok(Box::new(AsDouble { inner }))
            }
            (None, _) => self.inner.accumulator(args),
        }
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        match (decimal_scale(args.input_fields), args.is_distinct) {
            (Some(scale), false) => Ok(decimal_avg::state_fields(args.name, scale)),
            (Some(_), true) => {
                let input = [Arc::new(Field::new("value", DataType::Float64, true)) as FieldRef];
                self.inner.state_fields(StateFieldsArgs {
                    input_fields: &input,
                    ..args
                })
            }
            (None, _) => self.inner.state_fields(args),
        }
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        match decimal_scale(args.expr_fields) {
            Some(_) => !args.is_distinct,
            None => self.inner.groups_accumulator_supported(args),
        }
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        match decimal_scale(args.expr_fields) {
            Some(scale) => Ok(Box::new(DecimalAvgGroups::new(scale))),
            None => self.inner.create_groups_accumulator(args),
        }
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        match decimal_scale(args.expr_fields) {
            Some(_) => self.accumulator(args),
            None => self.inner.create_sliding_accumulator(args),
        }
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        ReversedUDAF::Identical
    }
}
