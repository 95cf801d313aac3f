//! How near two vectors are, for ranking and filtering rows by their embeddings: DuckDB's
//! `list_distance` (Euclidean), `list_inner_product` (also `list_dot_product`),
//! `list_negative_inner_product` (also `list_negative_dot_product`), `list_cosine_similarity`
//! and `list_cosine_distance` (1 - similarity), each also as `array_...`; and Tarn's own
//! `cosine_similarity`.
//!
//! A vector is a list or a fixed-size array of numbers. As in DuckDB, two FLOAT vectors give a
//! FLOAT and any other numbers a DOUBLE (`cosine_similarity` always gives a DOUBLE); a NULL
//! vector gives NULL; vectors of different lengths, or with a NULL inside, are an error; the
//! cosine of a zero vector is NaN, and a cosine similarity is clamped to [-1, 1]. Sums are
//! taken in f64 whatever the type. DuckDB's `array_` forms take only arrays of FLOAT or
//! DOUBLE; here both forms take any vectors of numbers.

use datafusion::arrow::array::{Array, AsArray, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use super::text_functions::{arrays, call_value};
use super::vectors::VectorColumn;

/// What a function measures between two vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Metric {
    Distance,
    InnerProduct,
    NegativeInnerProduct,
    CosineSimilarity,
    CosineDistance,
}

/// DuckDB's names for each metric, registered after `list_` and after `array_`.
const NAMES: [(&str, Metric); 7] = [
    ("distance", Metric::Distance),
    ("inner_product", Metric::InnerProduct),
    ("dot_product", Metric::InnerProduct),
    ("negative_inner_product", Metric::NegativeInnerProduct),
    ("negative_dot_product", Metric::NegativeInnerProduct),
    ("cosine_similarity", Metric::CosineSimilarity),
    ("cosine_distance", Metric::CosineDistance),
];

/// Registers every form of every metric, and `cosine_similarity`, on a context.
pub fn register(ctx: &SessionContext) {
    for (name, metric) in NAMES {
        for prefix in ["list_", "array_"] {
            ctx.register_udf(ScalarUDF::from(VectorMetric::new(
                format!("{prefix}{name}"),
                metric,
                false,
            )));
        }
    }
    ctx.register_udf(ScalarUDF::from(VectorMetric::new(
        "cosine_similarity".into(),
        Metric::CosineSimilarity,
        true,
    )));
}

impl Metric {
    /// The metric between `a` and `b`, of equal lengths, in DuckDB's arithmetic: sums from
    /// +0.0 (an empty `sum()` of floats is -0.0), the cosine's norms multiplied before the
    /// root, so that parallel integer vectors give exactly 1.
    fn between(self, a: &[f64], b: &[f64]) -> f64 {
        let sum = |terms: &mut dyn Iterator<Item = f64>| terms.fold(0.0, |sum, term| sum + term);
        let dot = || sum(&mut a.iter().zip(b).map(|(x, y)| x * y));
        let cosine = || {
            let squares = |v: &[f64]| sum(&mut v.iter().map(|x| x * x));
            let norms = (squares(a) * squares(b)).sqrt();
            // A zero vector has no direction: NaN, with its sign bit clear as DuckDB prints it.
            match norms == 0.0 {
                true => f64::NAN,
                false => (dot() / norms).clamp(-1.0, 1.0),
            }
        };
        match self {
            Metric::Distance => sum(&mut a.iter().zip(b).map(|(x, y)| (x - y) * (x - y))).sqrt(),
            Metric::InnerProduct => dot(),
            Metric::NegativeInnerProduct => -dot(),
            Metric::CosineSimilarity => cosine(),
            Metric::CosineDistance => 1.0 - cosine(),
        }
    }
}

/// One metric under one name (see the module documentation).
#[derive(Debug, PartialEq, Eq, Hash)]
struct VectorMetric {
    name: String,
    metric: Metric,
    /// Whether the answer is a DOUBLE even for FLOAT vectors.
    always_double: bool,
    signature: Signature,
}

impl VectorMetric {
    fn new(name: String, metric: Metric, always_double: bool) -> Self {
        VectorMetric {
            name,
            metric,
            always_double,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

/// The type of a vector's numbers; None where `vector` is not a vector.
fn item_type(vector: &DataType) -> Option<&DataType> {
    match vector {
        DataType::Null => Some(vector),
        DataType::List(field) | DataType::LargeList(field) | DataType::FixedSizeList(field, _)
            if field.data_type().is_numeric() || field.data_type().is_null() =>
        {
            Some(field.data_type())
        }
        _ => None,
    }
}

impl ScalarUDFImpl for VectorMetric {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let (left, right) = (&arg_types[0], &arg_types[1]);
        match (item_type(left), item_type(right)) {
            (Some(DataType::Float32), Some(DataType::Float32)) if !self.always_double => {
                Ok(DataType::Float32)
            }
            (Some(_), Some(_)) => Ok(DataType::Float64),
            _ => plan_err!(
                "{}: expected two lists of numbers, got {left} and {right}",
                self.name
            ),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let inputs = arrays(&args.args, args.number_rows)?;
        let [left, right] = [&inputs[0], &inputs[1]]
            .map(|input| VectorColumn::new(input, &DataType::Float64, &self.name));
        let (left, right) = (left?, right?);
        let numbers = |column: &VectorColumn| column.values.as_primitive::<Float64Type>().clone();
        let (left_numbers, right_numbers) = (numbers(&left), numbers(&right));
        let mut answers = Vec::with_capacity(args.number_rows);
        for row in 0..args.number_rows {
            let (Some((a_start, a_end)), Some((b_start, b_end))) =
                (left.range(row), right.range(row))
            else {
                answers.push(None);
                continue;
            };
            if a_end - a_start != b_end - b_start {
                return exec_err!(
                    "{}: list dimensions must be equal, got left length '{}' and right length '{}'",
                    self.name,
                    a_end - a_start,
                    b_end - b_start
                );
            }
            for (side, numbers, start, end) in [
                ("left", &left_numbers, a_start, a_end),
                ("right", &right_numbers, b_start, b_end),
            ] {
                if numbers.null_count() > 0 && (start..end).any(|i| numbers.is_null(i)) {
                    return exec_err!("{}: {side} argument can not contain NULL values", self.name);
                }
            }
            answers.push(Some(self.metric.between(
                &left_numbers.values()[a_start..a_end],
                &right_numbers.values()[b_start..b_end],
            )));
        }
        let answers = cast(&Float64Array::from(answers), args.return_field.data_type())?;
        call_value(&args.args, answers)
    }
}
