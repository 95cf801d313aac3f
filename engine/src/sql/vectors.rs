//! Embedding functions in SQL, on tarn-gpu's MiniLM:
//!
//! * `embed(text [, 'fp8'])` → `FLOAT[384]` (a fixed-size list of Float32): the text's
//!   all-MiniLM-L6-v2 embedding, L2-normalised; `'fp8'` runs the linear layers in FP8. NULL
//!   stays NULL. A batch of rows is embedded in one call (sorted by length, batched, restored).
//!   The model is loaded once per process, on first use; where it is missing the query fails
//!   with one line saying how to install it.
//! * `cosine_similarity(a, b)` and DuckDB's distance functions: `vector_metrics`.
//! * `l2_normalize(v)` → the vector divided by its L2 norm (a zero vector stays zero).
//!
//! Vectors are fixed-size or variable lists of FLOAT or DOUBLE; they are computed as f32.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeListArray, Float32Array, StringArray, new_empty_array,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float32Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use tarn_gpu::minilm::{DIMENSIONS, MiniLm, Precision};

/// Registers `embed` and `l2_normalize` on a context.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(Embed::default()));
    ctx.register_udf(ScalarUDF::from(L2Normalize::default()));
}

/// The process's model, loaded on first use; the error is kept, so a missing model fails
/// every query the same way without looking again.
fn model() -> Result<&'static MiniLm> {
    static MODEL: OnceLock<std::result::Result<MiniLm, String>> = OnceLock::new();
    match MODEL.get_or_init(|| MiniLm::from_environment().map_err(|e| e.to_string())) {
        Ok(model) => Ok(model),
        Err(message) => exec_err!("embed: {message}"),
    }
}

/// The type of an embedding: `FLOAT[384]`.
fn embedding_type() -> DataType {
    DataType::FixedSizeList(
        Arc::new(Field::new_list_field(DataType::Float32, true)),
        DIMENSIONS as i32,
    )
}

/// A column of vectors (lists or fixed-size lists of numbers, or NULLs): every row's numbers
/// cast once to one type, as one array, and each row a range of it, since these functions run
/// per row over whole tables.
pub(super) struct VectorColumn {
    /// All rows' numbers, in the type asked for.
    pub(super) values: ArrayRef,
    ranges: Vec<(usize, usize)>,
    nulls: Option<NullBuffer>,
}

impl VectorColumn {
    /// `array`'s vectors with their numbers cast to `item`; an error naming `function` where
    /// `array` does not hold lists of numbers.
    pub(super) fn new(array: &ArrayRef, item: &DataType, function: &str) -> Result<Self> {
        let (values, ranges): (ArrayRef, Vec<(usize, usize)>) = match array.data_type() {
            DataType::Null => (new_empty_array(item), vec![(0, 0); array.len()]),
            DataType::FixedSizeList(..) => {
                let list = array.as_fixed_size_list();
                let width = list.value_length() as usize;
                let starts = (0..list.len()).map(|i| list.value_offset(i) as usize);
                (
                    list.values().clone(),
                    starts.map(|s| (s, s + width)).collect(),
                )
            }
            DataType::List(_) => {
                let list = array.as_list::<i32>();
                let offsets = list.value_offsets().windows(2);
                let ranges = offsets.map(|o| (o[0] as usize, o[1] as usize)).collect();
                (list.values().clone(), ranges)
            }
            DataType::LargeList(_) => {
                let list = array.as_list::<i64>();
                let offsets = list.value_offsets().windows(2);
                let ranges = offsets.map(|o| (o[0] as usize, o[1] as usize)).collect();
                (list.values().clone(), ranges)
            }
            other => return exec_err!("{function}: expected a list of numbers, got {other}"),
        };
        if !values.data_type().is_numeric() && !values.data_type().is_null() {
            return exec_err!(
                "{function}: expected a list of numbers, got a list of {}",
                values.data_type()
            );
        }
        let nulls = match array.data_type() {
            DataType::Null => Some(NullBuffer::new_null(array.len())),
            _ => array.logical_nulls(),
        };
        Ok(VectorColumn {
            values: cast(&values, item)?,
            ranges,
            nulls,
        })
    }

    /// Row `row`'s range of [`VectorColumn::values`]; None where the row is NULL.
    pub(super) fn range(&self, row: usize) -> Option<(usize, usize)> {
        let null = self.nulls.as_ref().is_some_and(|n| n.is_null(row));
        (!null).then(|| self.ranges[row])
    }
}

/// Each row's vector as f32 values (None for NULL), from a list of numbers of any type
/// (`[1.0, 2.5]` is a list of decimals, as in DuckDB).
pub(super) fn vectors(array: &ArrayRef, function: &str) -> Result<Vec<Option<Vec<f32>>>> {
    let column = VectorColumn::new(array, &DataType::Float32, function)?;
    let values = column.values.as_primitive::<Float32Type>().values();
    Ok((0..array.len())
        .map(|row| {
            column
                .range(row)
                .map(|(start, end)| values[start..end].to_vec())
        })
        .collect())
}

/// The non-NULL rows' vectors one after another, each checked to hold the `dim` values the
/// model file at `path` takes; another length is the error `{function}: a vector of N values;
/// {path} {takes} vectors of {dim}` (`takes` says what the model does: "routes", "scores").
pub(super) fn stacked(
    rows: &[Option<Vec<f32>>],
    dim: usize,
    function: &str,
    path: &str,
    takes: &str,
) -> Result<Vec<f32>> {
    let mut values = Vec::with_capacity(rows.len() * dim);
    for row in rows.iter().flatten() {
        if row.len() != dim {
            return exec_err!(
                "{function}: a vector of {} values; {path} {takes} vectors of {dim}",
                row.len()
            );
        }
        values.extend_from_slice(row);
    }
    Ok(values)
}

/// An array of `width`-long f32 vectors (NULL rows where None).
fn vector_array(rows: &[Option<Vec<f32>>], width: usize) -> Result<ArrayRef> {
    let mut values = Vec::with_capacity(rows.len() * width);
    for row in rows {
        match row {
            Some(v) => values.extend_from_slice(v),
            None => values.extend(std::iter::repeat_n(0.0, width)),
        }
    }
    let nulls = NullBuffer::from_iter(rows.iter().map(Option::is_some));
    Ok(Arc::new(FixedSizeListArray::try_new(
        Arc::new(Field::new_list_field(DataType::Float32, true)),
        width as i32,
        Arc::new(Float32Array::from(values)),
        Some(nulls),
    )?))
}

/// A scalar result when every argument was a scalar, else the array.
pub(super) fn result(array: ArrayRef, all_scalar: bool) -> Result<ColumnarValue> {
    if all_scalar {
        return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &array, 0,
        )?));
    }
    Ok(ColumnarValue::Array(array))
}

pub(super) fn all_scalar(args: &ScalarFunctionArgs) -> bool {
    args.args
        .iter()
        .all(|a| matches!(a, ColumnarValue::Scalar(_)))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Embed {
    signature: Signature,
}

impl Default for Embed {
    fn default() -> Self {
        Embed {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Embed {
    fn name(&self) -> &str {
        "embed"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let text = |t: &DataType| {
            matches!(
                t,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
            )
        };
        match arg_types {
            [t] if text(t) => Ok(vec![DataType::Utf8]),
            [t, p] if text(t) && text(p) => Ok(vec![DataType::Utf8, DataType::Utf8]),
            [t, ..] if !text(t) => plan_err!("embed: expected text, got {t}"),
            _ => plan_err!("embed takes a text and optionally 'f32' or 'fp8'"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(embedding_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let precision = match args.args.get(1) {
            None => Precision::F32,
            Some(ColumnarValue::Scalar(value)) => match value.to_string().to_lowercase().as_str() {
                "f32" => Precision::F32,
                "fp8" => Precision::Fp8,
                other => return exec_err!("embed: precision '{other}' is not 'f32' or 'fp8'"),
            },
            Some(ColumnarValue::Array(_)) => {
                return exec_err!("embed: the precision must be a constant, 'f32' or 'fp8'");
            }
        };
        let scalar = all_scalar(&args);
        let texts = args.args[0].to_array(args.number_rows)?;
        let texts: &StringArray = texts.as_string::<i32>();
        let present: Vec<&str> = texts.iter().flatten().collect();
        let embeddings = if present.is_empty() {
            Vec::new()
        } else {
            model()?
                .embed(&present, precision)
                .map_err(|e| datafusion::error::DataFusionError::Execution(format!("embed: {e}")))?
        };
        let mut vectors = embeddings.chunks_exact(DIMENSIONS);
        let rows: Vec<Option<Vec<f32>>> = texts
            .iter()
            .map(|text| text.and_then(|_| vectors.next().map(<[f32]>::to_vec)))
            .collect();
        result(vector_array(&rows, DIMENSIONS)?, scalar)
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct L2Normalize {
    signature: Signature,
}

impl Default for L2Normalize {
    fn default() -> Self {
        L2Normalize {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for L2Normalize {
    fn name(&self) -> &str {
        "l2_normalize"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match &arg_types[0] {
            DataType::FixedSizeList(_, width) => Ok(DataType::FixedSizeList(
                Arc::new(Field::new_list_field(DataType::Float32, true)),
                *width,
            )),
            DataType::List(_) | DataType::LargeList(_) => Ok(DataType::List(Arc::new(
                Field::new_list_field(DataType::Float32, true),
            ))),
            other => plan_err!("l2_normalize: expected a list of numbers, got {other}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args);
        let input = args.args[0].to_array(args.number_rows)?;
        let rows: Vec<Option<Vec<f32>>> = vectors(&input, "l2_normalize")?
            .into_iter()
            .map(|row| {
                row.map(|v| {
                    let norm = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
                    let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
                    v.iter().map(|x| (f64::from(*x) * scale) as f32).collect()
                })
            })
            .collect();
        let normalized = match args.return_field.data_type() {
            DataType::FixedSizeList(_, width) => vector_array(&rows, *width as usize)?,
            _ => {
                let list =
                    datafusion::arrow::array::ListArray::from_iter_primitive::<Float32Type, _, _>(
                        rows.iter().map(|r| {
                            r.as_ref()
                                .map(|v| v.iter().map(|x| Some(*x)).collect::<Vec<_>>())
                        }),
                    );
                Arc::new(list)
            }
        };
        result(normalized, scalar)
    }
}
