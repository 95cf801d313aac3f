//! `tarn._tarn.DataFrame`: the engine's lazy DataFrame, with Arrow data crossing into Python
//! through the Arrow C data interface (no copies).

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::{cast, concat_batches};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString};
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::{PySchema, PyTable};
use tarn_engine::job::{BatchFn, RangeSplits};
use tarn_engine::{DataFrame, TarnError};

use crate::errors::to_py;
use crate::wait;

/// A lazy, partitioned table. Verbs return new DataFrames; actions run the job.
#[pyclass(name = "DataFrame", module = "tarn._tarn", frozen)]
pub struct PyDataFrame {
    inner: DataFrame,
}

impl From<DataFrame> for PyDataFrame {
    fn from(inner: DataFrame) -> Self {
        PyDataFrame { inner }
    }
}

impl PyDataFrame {
    pub fn inner(&self) -> &DataFrame {
        &self.inner
    }
}

/// A verb's result as a Python object, or its error as a Python exception.
fn wrap(py: Python<'_>, result: Result<DataFrame, TarnError>) -> PyResult<PyDataFrame> {
    result.map(PyDataFrame::from).map_err(|e| to_py(py, e))
}

#[pymethods]
impl PyDataFrame {
    #[getter]
    fn num_partitions(&self) -> usize {
        self.inner.partitions()
    }

    /// The columns as a `pyarrow.Schema`, or `None` when only running tells (after
    /// `map_batches`).
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner
            .schema()
            .map(|schema| PySchema::new(plain_schema(&schema)).into_pyarrow(py))
            .transpose()
    }

    #[pyo3(signature = (npartitions, hash_by = None, by = None, by_rows = false))]
    fn repartition(
        &self,
        py: Python<'_>,
        npartitions: usize,
        hash_by: Option<Vec<String>>,
        by: Option<String>,
        by_rows: bool,
    ) -> PyResult<PyDataFrame> {
        let result = match (hash_by, by) {
            (Some(_), Some(_)) => Err(TarnError::Invalid(
                "repartition takes hash_by or by, not both".into(),
            )),
            (Some(columns), None) => {
                let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
                self.inner.repartition_hash(npartitions, &columns)
            }
            (None, Some(column)) => self.inner.repartition_by(npartitions, &column),
            (None, None) if by_rows => self.inner.repartition_by_rows(npartitions),
            (None, None) => self.inner.repartition(npartitions),
        };
        wrap(py, result)
    }

    /// By the MoE expert id in `column`, hot experts spread over partitions with EPLB.
    #[pyo3(signature = (npartitions, column, slots = None))]
    fn repartition_by_expert(
        &self,
        py: Python<'_>,
        npartitions: usize,
        column: &str,
        slots: Option<usize>,
    ) -> PyResult<PyDataFrame> {
        wrap(
            py,
            wait(
                py,
                self.inner.repartition_by_expert(npartitions, column, slots),
            ),
        )
    }

    /// Ranges of `column`: between the given split points, or sampled quantiles when `None`.
    #[pyo3(signature = (npartitions, column, split_points = None))]
    fn repartition_range(
        &self,
        py: Python<'_>,
        npartitions: usize,
        column: &str,
        split_points: Option<Vec<Bound<'_, PyAny>>>,
    ) -> PyResult<PyDataFrame> {
        let splits = match split_points {
            None => RangeSplits::Sampled,
            Some(points) => RangeSplits::Points(
                points
                    .iter()
                    .map(json_value)
                    .collect::<PyResult<Vec<_>>>()?,
            ),
        };
        wrap(
            py,
            self.inner.repartition_range(npartitions, column, splits),
        )
    }

    fn random_shuffle(&self, py: Python<'_>) -> PyResult<PyDataFrame> {
        wrap(py, wait(py, self.inner.random_shuffle()))
    }

    fn partial_sql(&self, py: Python<'_>, query: &str) -> PyResult<PyDataFrame> {
        wrap(py, wait(py, self.inner.partial_sql(query)))
    }

    fn filter_sql(&self, py: Python<'_>, condition: &str) -> PyResult<PyDataFrame> {
        wrap(py, wait(py, self.inner.filter(condition)))
    }

    fn map_sql(&self, py: Python<'_>, select_list: &str) -> PyResult<PyDataFrame> {
        wrap(py, wait(py, self.inner.map(select_list)))
    }

    fn partial_sort(&self, py: Python<'_>, by: Vec<String>) -> PyResult<PyDataFrame> {
        let by: Vec<&str> = by.iter().map(String::as_str).collect();
        wrap(py, wait(py, self.inner.partial_sort(&by)))
    }

    fn near_duplicates(
        &self,
        py: Python<'_>,
        column: &str,
        threshold: f64,
    ) -> PyResult<PyDataFrame> {
        wrap(py, wait(py, self.inner.near_duplicates(column, threshold)))
    }

    fn limit(&self, py: Python<'_>, n: usize) -> PyResult<PyDataFrame> {
        wrap(py, wait(py, self.inner.limit(n)))
    }

    fn union(&self, py: Python<'_>, other: PyRef<'_, PyDataFrame>) -> PyResult<PyDataFrame> {
        wrap(py, self.inner.union(&other.inner))
    }

    /// `func(pyarrow.Table) -> pyarrow.Table` applied to batches of `batch_size` rows.
    #[pyo3(signature = (func, batch_size = None))]
    fn map_batches(&self, func: Py<PyAny>, batch_size: Option<usize>) -> PyDataFrame {
        PyDataFrame::from(
            self.inner
                .map_batches_sized(python_function(func), batch_size),
        )
    }

    fn compute(&self, py: Python<'_>) -> PyResult<()> {
        wait(py, self.inner.compute())
            .map(|_| ())
            .map_err(|e| to_py(py, e))
    }

    fn is_computed(&self, py: Python<'_>) -> PyResult<bool> {
        wait(py, self.inner.is_computed()).map_err(|e| to_py(py, e))
    }

    fn recompute(&self, py: Python<'_>) -> PyResult<()> {
        wait(py, self.inner.recompute()).map_err(|e| to_py(py, e))
    }

    fn count(&self, py: Python<'_>) -> PyResult<u64> {
        wait(py, self.inner.count()).map_err(|e| to_py(py, e))
    }

    /// Up to `limit` rows (all when `None`) as a `pyarrow.Table`, partition by partition.
    #[pyo3(signature = (limit = None))]
    fn to_arrow<'py>(&self, py: Python<'py>, limit: Option<usize>) -> PyResult<Bound<'py, PyAny>> {
        let (schema, batches) = wait(py, self.inner.collect(limit)).map_err(|e| to_py(py, e))?;
        let batches = batches
            .iter()
            .map(plain_batch)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| to_py(py, e.into()))?;
        PyTable::try_new(batches, plain_schema(&schema))?.into_pyarrow(py)
    }

    fn write_parquet(&self, py: Python<'_>, path: &str) -> PyResult<()> {
        wait(py, self.inner.write_parquet(path))
            .map(|_| ())
            .map_err(|e| to_py(py, e))
    }

    fn explain(&self) -> String {
        self.inner.explain()
    }
}

/// The type pandas and most pyarrow kernels take for a view type (DataFusion reads strings
/// from Parquet as `Utf8View`; pyarrow cannot yet `take` or `filter` those).
fn plain_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        other => other.clone(),
    }
}

fn plain_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_data_type(plain_type(f.data_type())))
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `batch` with its view-typed columns cast to [`plain_type`]s.
fn plain_batch(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let schema = plain_schema(&batch.schema());
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(Arc::clone(column))
            } else {
                cast(column, field.data_type())
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema, columns)
}

/// A split point as the engine takes it: an int, a float or a string.
fn json_value(value: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    if value.is_instance_of::<PyBool>() {
        Err(PyTypeError::new_err(
            "a split point is a number or a string, not a bool",
        ))
    } else if value.is_instance_of::<PyInt>() {
        Ok(value.extract::<i64>()?.into())
    } else if value.is_instance_of::<PyFloat>() {
        Ok(value.extract::<f64>()?.into())
    } else if value.is_instance_of::<PyString>() {
        Ok(value.extract::<String>()?.into())
    } else {
        Err(PyTypeError::new_err(format!(
            "a split point is a number or a string, got {}",
            value.get_type().name()?
        )))
    }
}

/// A Python callable as a batch function: it gets each batch as a one-chunk `pyarrow.Table`
/// and returns a table (or record batch). It takes the GIL for the call only; an exception it
/// raises travels back to the action whole.
fn python_function(func: Py<PyAny>) -> BatchFn {
    Arc::new(move |batch: RecordBatch| {
        let batch = plain_batch(&batch)?;
        Python::attach(|py| {
            let schema = batch.schema();
            let table = PyTable::try_new(vec![batch], schema)?.into_pyarrow(py)?;
            let result = func.call1(py, (table,))?;
            let result: AnyRecordBatch = result.extract(py).map_err(|_| {
                PyTypeError::new_err(format!(
                    "map_batches function must return a pyarrow.Table, got {}",
                    result
                        .bind(py)
                        .get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                ))
            })?;
            let (batches, schema) = result.into_table()?.into_inner();
            Ok(concat_batches(&schema, &batches)?)
        })
    })
}
