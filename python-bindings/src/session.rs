//! `tarn._tarn.Session`: sources, `partial_sql` over several DataFrames, and the SQL front end.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use pyo3::prelude::*;
use pyo3_arrow::PyTable;
use tarn_engine::sql::{collect, parse_sql_type, split_statements};
use tarn_engine::{ReadParquet, Session, SqlSession, TarnConfig, TarnError};

use crate::dataframe::PyDataFrame;
use crate::errors::to_py;
use crate::wait;

/// A job session: where DataFrames are made. Settings given here are overridden by the
/// `TARN_*` environment variables.
#[pyclass(name = "Session", module = "tarn._tarn", frozen)]
pub struct PySession {
    inner: Session,
    /// The DuckDB-like SQL front end, for `sql()`; statements run one at a time.
    sql: tokio::sync::Mutex<SqlSession>,
}

#[pymethods]
impl PySession {
    /// `settings` are Tarn settings by name (`data_root`, `job_id`, `concurrency`, `threads`,
    /// `memory_limit`, ..., and `cluster`), as text.
    #[new]
    #[pyo3(signature = (settings = Vec::new()))]
    fn new(py: Python<'_>, settings: Vec<(String, String)>) -> PyResult<Self> {
        let config = (|| {
            let mut config = TarnConfig::default();
            for (name, value) in &settings {
                if name == "cluster" {
                    config.set_cluster(value)?;
                } else if !config.set(name, value)? {
                    return Err(TarnError::Invalid(format!("unknown setting '{name}'")));
                }
            }
            config.apply_env()?;
            Ok(config)
        })()
        .map_err(|e| to_py(py, e))?;
        let inner = Session::new(config.clone()).map_err(|e| to_py(py, e))?;
        let sql = SqlSession::new(config).map_err(|e| to_py(py, e))?;
        Ok(PySession {
            inner,
            sql: tokio::sync::Mutex::new(sql),
        })
    }

    /// The job id: files live under `data_root/job_id/`.
    #[getter]
    fn job_id(&self) -> String {
        self.inner.job_id().to_string()
    }

    #[getter]
    fn data_root(&self) -> String {
        self.inner.config().data_root.clone()
    }

    /// Tasks run at once.
    #[getter]
    fn concurrency(&self) -> usize {
        self.inner.config().concurrency
    }

    #[pyo3(signature = (paths, recursive = false, columns = None, union_by_name = false))]
    fn read_parquet(
        &self,
        py: Python<'_>,
        paths: Vec<String>,
        recursive: bool,
        columns: Option<Vec<String>>,
        union_by_name: bool,
    ) -> PyResult<PyDataFrame> {
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let options = ReadParquet {
            recursive,
            columns,
            union_by_name,
        };
        let df = wait(py, self.inner.read_parquet(&paths, options));
        df.map(PyDataFrame::from).map_err(|e| to_py(py, e))
    }

    #[pyo3(signature = (paths, schema = None, delim = ","))]
    fn read_csv(
        &self,
        py: Python<'_>,
        paths: Vec<String>,
        schema: Option<Vec<(String, String)>>,
        delim: &str,
    ) -> PyResult<PyDataFrame> {
        let [delimiter] = delim.as_bytes() else {
            return Err(to_py(
                py,
                TarnError::Invalid(format!("delim must be one character, got '{delim}'")),
            ));
        };
        let schema = schema.map(|s| arrow_schema(&s)).transpose();
        let schema = schema.map_err(|e| to_py(py, e))?;
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let df = wait(py, self.inner.read_csv(&paths, schema, *delimiter));
        df.map(PyDataFrame::from).map_err(|e| to_py(py, e))
    }

    #[pyo3(signature = (paths, schema = None))]
    fn read_json(
        &self,
        py: Python<'_>,
        paths: Vec<String>,
        schema: Option<Vec<(String, String)>>,
    ) -> PyResult<PyDataFrame> {
        let schema = schema.map(|s| arrow_schema(&s)).transpose();
        let schema = schema.map_err(|e| to_py(py, e))?;
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let df = wait(py, self.inner.read_json(&paths, schema));
        df.map(PyDataFrame::from).map_err(|e| to_py(py, e))
    }

    /// A DataFrame over an Arrow table (anything with `__arrow_c_stream__`), one partition.
    fn read_arrow(&self, py: Python<'_>, table: PyTable) -> PyResult<PyDataFrame> {
        let (batches, schema) = table.into_inner();
        let df = self.inner.from_arrow(schema, batches);
        df.map(PyDataFrame::from).map_err(|e| to_py(py, e))
    }

    /// `query` run on each partition of `inputs`, read as `{0}`, `{1}`, ...
    fn partial_sql(
        &self,
        py: Python<'_>,
        query: &str,
        inputs: Vec<PyRef<'_, PyDataFrame>>,
    ) -> PyResult<PyDataFrame> {
        let frames: Vec<_> = inputs.iter().map(|df| df.inner().clone()).collect();
        let refs: Vec<_> = frames.iter().collect();
        let df = wait(py, self.inner.partial_sql(query, &refs));
        df.map(PyDataFrame::from).map_err(|e| to_py(py, e))
    }

    /// Runs SQL statements with the DuckDB-like front end and returns the last one's rows.
    fn sql<'py>(&self, py: Python<'py>, query: &str) -> PyResult<Bound<'py, PyAny>> {
        let result = wait(py, async {
            let mut session = self.sql.lock().await;
            let mut last = (Vec::new(), Arc::new(Schema::empty()));
            for statement in split_statements(query)? {
                let stream = session.execute(&statement).await?;
                let schema = stream.schema();
                last = (collect(stream).await?, schema);
            }
            Ok::<_, TarnError>(last)
        });
        let (batches, schema) = result.map_err(|e| to_py(py, e))?;
        PyTable::try_new(batches, schema)?.into_pyarrow(py)
    }
}

/// A schema from column names and DuckDB type names (`{"a": "BIGINT"}` in Python).
fn arrow_schema(columns: &[(String, String)]) -> Result<SchemaRef, TarnError> {
    let fields = columns
        .iter()
        .map(|(name, ty)| Ok(Field::new(name, parse_sql_type(ty)?, true)))
        .collect::<Result<Vec<_>, TarnError>>()?;
    Ok(Arc::new(Schema::new(fields)))
}
