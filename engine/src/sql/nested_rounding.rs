//! The rounding under a cast of a list or struct to one of integers: DuckDB rounds each number
//! as it rounds one alone (`CAST([1.5, 2.5] AS INT[])` is `[2, 3]`, a DECIMAL half away from
//! zero; a DOUBLE half to even), where DataFusion's cast truncates (`[1, 2]`).
//!
//! `optimizer::IntegerCasts` puts [`RoundNested`]`(value, target)` under such a cast; `target`
//! is a NULL of the cast's type, which says where the integers are. The answer has the value's
//! type, each DECIMAL or floating-point number bound for an integer rounded to a whole one.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeListArray, GenericListArray, OffsetSizeTrait, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Float32Type, Float64Type};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::call_value;

/// The name of [`RoundNested`].
pub const ROUND_NESTED: &str = "tarn_round_nested";

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RoundNested {
    signature: Signature,
}

impl RoundNested {
    pub fn new() -> Self {
        RoundNested {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl Default for RoundNested {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether a cast from `source` to `target` turns a DECIMAL or floating-point number inside a
/// list or struct into an integer.
pub fn rounds_inside(source: &DataType, target: &DataType) -> bool {
    match (source, target) {
        (
            DataType::List(from) | DataType::LargeList(from) | DataType::FixedSizeList(from, _),
            DataType::List(to) | DataType::LargeList(to) | DataType::FixedSizeList(to, _),
        ) => rounds_leaf(from.data_type(), to.data_type()),
        (DataType::Struct(from), DataType::Struct(to)) if from.len() == to.len() => from
            .iter()
            .zip(to.iter())
            .any(|(from, to)| rounds_leaf(from.data_type(), to.data_type())),
        _ => false,
    }
}

/// Whether a value of `source` cast to `target` is rounded, alone or inside.
fn rounds_leaf(source: &DataType, target: &DataType) -> bool {
    let number = matches!(
        source,
        DataType::Float32 | DataType::Float64 | DataType::Decimal128(..)
    );
    (number && target.is_integer()) || rounds_inside(source, target)
}

impl ScalarUDFImpl for RoundNested {
    fn name(&self) -> &str {
        ROUND_NESTED
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let target = args.arg_fields[1].data_type();
        let values = args.args[0].to_array(args.number_rows)?;
        call_value(&args.args, rounded(&values, target)?)
    }
}

/// `values` with each number bound for an integer of `target` rounded as DuckDB rounds it.
fn rounded(values: &ArrayRef, target: &DataType) -> Result<ArrayRef> {
    if !rounds_leaf(values.data_type(), target) {
        return Ok(Arc::clone(values));
    }
    let item = |to: &DataType| match to {
        DataType::List(field) | DataType::LargeList(field) | DataType::FixedSizeList(field, _) => {
            Ok(field.data_type().clone())
        }
        other => exec_err!("{ROUND_NESTED}: a list cast to {other}"),
    };
    Ok(match values.data_type() {
        DataType::Float64 => Arc::new(
            values
                .as_primitive::<Float64Type>()
                .unary::<_, Float64Type>(f64::round_ties_even),
        ),
        DataType::Float32 => Arc::new(
            values
                .as_primitive::<Float32Type>()
                .unary::<_, Float32Type>(f32::round_ties_even),
        ),
        DataType::Decimal128(_, scale) => {
            let unit = 10i128.pow((*scale).max(0) as u32);
            let decimals = values.as_primitive::<Decimal128Type>();
            Arc::new(
                decimals
                    .unary::<_, Decimal128Type>(|x| half_away_from_zero(x, unit))
                    .with_data_type(values.data_type().clone()),
            )
        }
        DataType::List(_) => list::<i32>(values.as_list(), &item(target)?)?,
        DataType::LargeList(_) => list::<i64>(values.as_list(), &item(target)?)?,
        DataType::FixedSizeList(field, size) => {
            let fixed = values.as_fixed_size_list();
            Arc::new(FixedSizeListArray::try_new(
                Arc::clone(field),
                *size,
                rounded(fixed.values(), &item(target)?)?,
                fixed.nulls().cloned(),
            )?)
        }
        DataType::Struct(fields) => {
            let DataType::Struct(targets) = target else {
                return exec_err!("{ROUND_NESTED}: a struct cast to {target}");
            };
            let parts = values.as_struct();
            let columns = parts
                .columns()
                .iter()
                .zip(targets.iter())
                .map(|(column, to)| rounded(column, to.data_type()))
                .collect::<Result<Vec<_>>>()?;
            Arc::new(StructArray::try_new(
                fields.clone(),
                columns,
                parts.nulls().cloned(),
            )?)
        }
        other => return exec_err!("{ROUND_NESTED}: cannot round {other}"),
    })
}

fn list<O: OffsetSizeTrait>(list: &GenericListArray<O>, item: &DataType) -> Result<ArrayRef> {
    let (DataType::List(field) | DataType::LargeList(field)) = list.data_type() else {
        unreachable!("a list array has a list type");
    };
    Ok(Arc::new(GenericListArray::<O>::try_new(
        Arc::clone(field),
        list.offsets().clone(),
        rounded(list.values(), item)?,
        list.nulls().cloned(),
    )?))
}

/// A DECIMAL's unscaled value rounded to whole units of `unit` (10^scale), a half away from
/// zero.
fn half_away_from_zero(x: i128, unit: i128) -> i128 {
    let (whole, rest) = (x / unit, x % unit);
    let whole = match rest.abs() * 2 >= unit && unit > 1 {
        true => whole + x.signum(),
        false => whole,
    };
    whole * unit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_round_half_away_from_zero() {
        // 1.5, 2.49, -2.5, -0.4 at scale 2 (unit 100); and a DECIMAL of scale 0 unchanged.
        let cases = [(150, 200), (249, 200), (-250, -300), (-40, 0), (0, 0)];
        for (x, expected) in cases {
            assert_eq!(half_away_from_zero(x, 100), expected, "{x}");
        }
        assert_eq!(half_away_from_zero(7, 1), 7);
    }
}
