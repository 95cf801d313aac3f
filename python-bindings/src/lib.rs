//! `tarn._tarn`: the native half of the Python package `tarn`. It wraps the engine's `Session`
//! and lazy `DataFrame`; the Python half (`python/tarn/__init__.py`) gives them Smallpond's
//! names and defaults.
//!
//! Every call that runs a job releases the GIL while it waits, so Python threads keep running
//! and the engine's tasks can call back into Python (`map_batches` functions take the GIL for
//! each batch, one at a time, and nothing else is held while they wait for it).

mod dataframe;
mod errors;
mod session;

use std::future::Future;
use std::sync::LazyLock;

use pyo3::prelude::*;

/// One runtime for the process: a job's tasks run on its worker threads.
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tarn-worker")
        .build()
        .expect("the tokio runtime starts")
});

/// Runs `future` to completion without holding the GIL.
fn wait<F>(py: Python<'_>, future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    py.detach(|| RUNTIME.block_on(future))
}

#[pymodule]
fn _tarn(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<session::PySession>()?;
    module.add_class::<dataframe::PyDataFrame>()?;
    Ok(())
}
