//! Tarn's engine: the DuckDB-like SQL layer over DataFusion, and partitioned jobs (sessions,
//! lazy DataFrames, the local executor).
//!
//! See `ARCHITECTURE.md` for how this crate sits between the `tarn` binary and the planner,
//! GPU operators and storage crates.

pub mod cluster;
pub mod config;
pub mod error;
pub mod job;
pub mod sort;
pub mod sql;
pub mod stores;

pub use config::TarnConfig;
pub use error::{Result, TarnError};
pub use job::{DataFrame, ReadParquet, Session};
pub use sql::SqlSession;
