//! End-to-end tests of the engine, in one binary so that DataFusion is linked once.

mod asof_join;
mod collations;
mod constraints;
mod ddl;
mod dedup;
mod duckdb_answers;
mod duckdb_functions;
mod fuzz;
mod insertion_order;
mod jobs;
mod json;
mod lateral_unnest;
mod macros;
mod merge;
mod name_case;
mod readers;
mod routing;
mod set_operations;
mod sort;
mod sql;
mod stores;
mod using_join;
mod vectors;
