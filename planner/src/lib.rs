//! Tarn's planner: the logical DAG a lazy DataFrame builds, the optimizer that fuses SQL, and the
//! task graph the executors run (one task per partition, data between stages as files).
//!
//! Everything here is plain, serialisable data: the planner knows nothing of Arrow, DataFusion
//! or storage, so a plan can be written to `plan.json`, shipped to a cluster or checked in tests
//! without running anything.

mod dag;
mod optimize;
mod tasks;

pub use dag::{Dag, Node, NodeId, Op, Scheme, Splits, placeholders, scheme_text, substitute};
pub use optimize::fuse_sql;
pub use tasks::{Input, Origin, Part, PlanOptions, Slice, Stage, StageId, Task, TaskGraph, Work};

/// A DataFrame operation that cannot be planned, found before anything runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("a partition count must be at least 1")]
    ZeroPartitions,
    #[error("an operation needs at least one input")]
    NoInputs,
    #[error("partial_sql inputs must have the same number of partitions (or one), got {}",
        .0.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", "))]
    Misaligned(Vec<usize>),
    #[error("the query refers to {{{index}}} but has {inputs} input(s)")]
    Placeholder { index: usize, inputs: usize },
    #[error("bad input placeholder in '{0}': use {{0}}, {{1}}, ...")]
    BadPlaceholder(String),
    #[error("{partitions} partitions need {} split points, got {given}", .partitions - 1)]
    SplitPoints { partitions: usize, given: usize },
}
