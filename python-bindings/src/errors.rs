//! Engine errors as Python exceptions: an exception raised by a user's callable comes back with
//! its own type and message plus the task and partition it came from; the engine's own errors
//! map onto the built-in exception that fits.

use datafusion::error::DataFusionError;
use pyo3::exceptions::{PyMemoryError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use tarn_engine::TarnError;

/// The Python exception for an engine error.
pub fn to_py(py: Python<'_>, err: TarnError) -> PyErr {
    if let TarnError::Task {
        stage,
        task,
        partition,
        cause,
        ..
    } = &err
        && let TarnError::Function(inner) = cause.as_ref()
        && let Some(raised) = inner.downcast_ref::<PyErr>()
    {
        let message = format!(
            "{} (in partition {partition}, task {task} of stage {stage})",
            raised.value(py)
        );
        return PyErr::from_type(raised.get_type(py), message);
    }
    let message = err.to_string();
    match root(&err) {
        TarnError::Io { .. } | TarnError::NoFiles(_) | TarnError::FunctionIo(_) => {
            PyOSError::new_err(message)
        }
        TarnError::Parse(_)
        | TarnError::Invalid(_)
        | TarnError::Plan(_)
        | TarnError::Setting { .. }
        | TarnError::BadFile { .. }
        | TarnError::TargetExists(_)
        | TarnError::Function(_) => PyValueError::new_err(message),
        TarnError::DataFusion(inner) => match inner.find_root() {
            DataFusionError::IoError(_) | DataFusionError::ObjectStore(_) => {
                PyOSError::new_err(message)
            }
            DataFusionError::ResourcesExhausted(_) => PyMemoryError::new_err(message),
            DataFusionError::Internal(_) => PyRuntimeError::new_err(message),
            // Bad SQL, unknown columns, type errors, values that do not convert.
            _ => PyValueError::new_err(message),
        },
        _ => PyRuntimeError::new_err(message),
    }
}

/// The error a task failure wraps.
fn root(err: &TarnError) -> &TarnError {
    match err {
        TarnError::Task { cause, .. } => root(cause),
        other => other,
    }
}
