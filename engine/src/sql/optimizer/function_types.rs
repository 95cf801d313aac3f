//! Functions answer in the types DuckDB gives them where DataFusion's differ. The type shows in
//! `typeof`, in a union with DuckDB-made tables, and in the files a query writes: `COPY (SELECT
//! year(ts) AS year, array_length(tokens) AS n ...)` holds INT64 columns, as DuckDB's copy does,
//! where DataFusion's held INT32 and UINT64 (which Spark and other readers take badly).
//! [`FunctionTypes`], an analyzer rule just before type coercion (which then fits comparisons
//! to the new type), casts each such call's result to DuckDB's type; parts DataFusion gives as
//! DOUBLE (`epoch`) stay DOUBLE, as in DuckDB. Columns keep their names.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::Cast;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;

/// The functions (by DataFusion's name, which their aliases share) whose answer DuckDB types
/// differently: the function, DataFusion's type and DuckDB's.
const DUCKDB_TYPES: [(&str, DataType, DataType); 5] = [
    // `year(ts)`, `extract(hour FROM ts)`, `date_part('month', d)`.
    ("date_part", DataType::Int32, DataType::Int64),
    // `array_length(l)`, `len(l)`.
    ("array_length", DataType::UInt64, DataType::Int64),
    // `list_position(l, x)`, `list_indexof(l, x)`.
    ("array_position", DataType::UInt64, DataType::Int32),
    // `strpos(s, t)`, `instr(s, t)`, `position(t IN s)`.
    ("strpos", DataType::Int32, DataType::Int64),
    ("bit_length", DataType::Int32, DataType::Int64),
];

/// See the module documentation.
#[derive(Debug, Default)]
pub struct FunctionTypes;

impl AnalyzerRule for FunctionTypes {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        super::rewrite_logical_expressions(plan, as_duckdb_type)
    }

    fn name(&self) -> &str {
        "tarn_function_types"
    }
}

/// DuckDB's type for `expr`, a call DataFusion types `data_type` that this rule will cast, if
/// it is one. (The integer literals a call meets take this type: they are typed before the
/// rule runs.)
pub(super) fn duckdb_type(expr: &Expr, data_type: &DataType) -> Option<DataType> {
    let mut unaliased = expr;
    while let Expr::Alias(alias) = unaliased {
        unaliased = &alias.expr;
    }
    let Expr::ScalarFunction(call) = unaliased else {
        return None;
    };
    DUCKDB_TYPES
        .iter()
        .find(|(name, datafusion, _)| *name == call.name() && datafusion == data_type)
        .map(|(_, _, duckdb)| duckdb.clone())
}

/// `expr` cast to DuckDB's type when it is a call DataFusion types otherwise.
fn as_duckdb_type(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    if !matches!(expr, Expr::ScalarFunction(_)) {
        return Ok(Transformed::no(expr));
    }
    match duckdb_type(&expr, &expr.get_type(schema)?) {
        Some(duckdb) => Ok(Transformed::yes(Expr::Cast(Cast::new(
            Box::new(expr),
            duckdb,
        )))),
        None => Ok(Transformed::no(expr)),
    }
}
