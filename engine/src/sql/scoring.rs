//! `score(vector, 'head.safetensors')`: a linear head over a column of vectors for the
//! evaluation stage (quality or topic classification), run by tarn-gpu's FP8 GEMM on the device
//! in use (`TARN_DEVICE`). The head file holds `weight` (`[classes, dim]`) and optionally
//! `bias` (`[classes]`). A head of one class gives a `FLOAT` per row; a head of several gives
//! `FLOAT[classes]`, one score per class. The path must be a constant: the head's class count
//! is the result's type, so the file is read when the query is planned (once per process and
//! path). NULL vectors give NULL.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::arrow::array::{ArrayRef, FixedSizeListArray, Float32Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::prelude::SessionContext;
use tarn_gpu::device::Device;
use tarn_gpu::head::LinearHead;

use super::text_functions::constants;
use super::vectors::{all_scalar, result, stacked, vectors};
use super::weight_files::{Cache, cached};

/// Registers `score` on a context.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(Score::new()));
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Score {
    signature: Signature,
}

impl Score {
    fn new() -> Self {
        Score {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The head file's path: the second argument, a constant.
fn head_path(constants: &[Option<&ScalarValue>]) -> Result<String> {
    match constants.get(1) {
        Some(Some(value)) if !value.is_null() => Ok(value.to_string()),
        _ => plan_err!("score takes a vector and a constant head file ('head.safetensors')"),
    }
}

/// The head at `path`, read once per process.
fn head(path: &str) -> Result<Arc<LinearHead>> {
    static HEADS: Cache<LinearHead> = Mutex::new(None);
    cached(&HEADS, path, |path| {
        LinearHead::load(Path::new(path)).or_else(|e| exec_err!("score: {e}"))
    })
}

/// The device heads run on, chosen once (`TARN_DEVICE`, else the best present).
fn device() -> Result<&'static Device> {
    static DEVICE: OnceLock<std::result::Result<Device, String>> = OnceLock::new();
    match DEVICE.get_or_init(|| Device::from_env().map_err(|e| e.to_string())) {
        Ok(device) => Ok(device),
        Err(message) => exec_err!("score: {message}"),
    }
}

/// `FLOAT` for one class, `FLOAT[classes]` for several.
fn score_type(classes: usize) -> DataType {
    if classes == 1 {
        DataType::Float32
    } else {
        DataType::FixedSizeList(
            Arc::new(Field::new_list_field(DataType::Float32, true)),
            classes as i32,
        )
    }
}

impl ScalarUDFImpl for Score {
    fn name(&self) -> &str {
        "score"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 2 {
            return plan_err!("score takes a vector and a head file ('head.safetensors')");
        }
        Ok(arg_types.to_vec())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        plan_err!("score's type comes from its head file")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let head = head(&head_path(args.scalar_arguments)?)?;
        Ok(Arc::new(Field::new(
            self.name(),
            score_type(head.classes),
            true,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let path = head_path(&constants(&args.args))?;
        let head = head(&path)?;
        let scalar = all_scalar(&args);
        let input = args.args[0].to_array(args.number_rows)?;
        let rows = vectors(&input, "score")?;
        let x = stacked(&rows, head.dim, "score", &path, "scores")?;
        let scores = head
            .scores(&x, device()?)
            .or_else(|e| exec_err!("score: {e}"))?;
        // Every row's scores, zeros under the NULL rows.
        let classes = head.classes;
        let mut values = Vec::with_capacity(rows.len() * classes);
        let mut scored = scores.chunks_exact(classes);
        for row in &rows {
            match row {
                Some(_) => values.extend_from_slice(scored.next().expect("a score per vector")),
                None => values.extend(std::iter::repeat_n(0.0, classes)),
            }
        }
        let nulls = NullBuffer::from_iter(rows.iter().map(Option::is_some));
        let array: ArrayRef = if classes == 1 {
            Arc::new(Float32Array::new(values.into(), Some(nulls)))
        } else {
            Arc::new(FixedSizeListArray::try_new(
                Arc::new(Field::new_list_field(DataType::Float32, true)),
                classes as i32,
                Arc::new(Float32Array::from(values)),
                Some(nulls),
            )?)
        };
        result(array, scalar)
    }
}
