//! Partitioned jobs in Smallpond's model: a lazy [`DataFrame`] builds a DAG in its
//! [`Session`]; an action cuts the DAG into tasks (see the `tarn-planner` crate) and the local
//! executor runs them, each task a DataFusion plan over Parquet files, with data moving between
//! stages as files under `<data_root>/<job_id>/`.

mod dataframe;
pub(crate) mod executor;
mod experts;
mod input;
pub(crate) mod layout;
mod pipeline;
pub(crate) mod report;
mod session;
mod shuffle;
pub(crate) mod source;
mod splits;
pub(crate) mod task;

pub use dataframe::{DataFrame, RangeSplits};
pub use pipeline::{Pipeline, STAGE_FUNCTIONS};
pub use report::{JobObserver, JobReport, Quiet, StageReport, TaskStats, human_bytes};
pub use session::{ReadParquet, Session};
pub use shuffle::PARTITION_COLUMN;
pub use task::BatchFn;
