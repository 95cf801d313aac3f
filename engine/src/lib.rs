//! Tarn's engine: sessions and the DuckDB-like SQL layer over DataFusion.
//!
//! See `ARCHITECTURE.md` for how this crate sits between the `tarn` binary and the planner,
//! GPU operators and storage crates.

pub mod config;
pub mod error;
pub mod sql;

pub use config::TarnConfig;
pub use error::{Result, TarnError};
pub use sql::SqlSession;
