//! `range(start, stop, step)` and `generate_series(...)` in FROM over timestamps of any unit:
//! DataFusion's take only nanosecond timestamps, so a TIMESTAMP (microseconds, as DuckDB's) or
//! a TIMESTAMPTZ was refused ("First argument must be a timestamp or NULL"). [`SeriesTimes`]
//! casts such arguments to nanoseconds, hands the call to DataFusion's function, and gives its
//! column back in the arguments' type: a series of TIMESTAMPs is a TIMESTAMP column, as in
//! DuckDB.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::{ViewTable, provider_as_source};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlanBuilder, cast};
use datafusion::prelude::SessionContext;

/// DataFusion's table function `inner`, with its timestamp arguments in nanoseconds.
#[derive(Debug)]
struct SeriesTimes {
    inner: Arc<dyn TableFunctionImpl>,
}

impl TableFunctionImpl for SeriesTimes {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let original = args.exprs().iter().find_map(coarser_timestamp);
        let exprs = args
            .exprs()
            .iter()
            .map(in_nanoseconds)
            .collect::<Result<Vec<_>>>()?;
        let series = self
            .inner
            .call_with_args(TableFunctionArgs::new(&exprs, args.session()))?;
        let Some(original) = original else {
            return Ok(series);
        };
        let scan = LogicalPlanBuilder::scan("series", provider_as_source(series), None)?;
        let columns = scan
            .schema()
            .columns()
            .into_iter()
            .map(|column| {
                let name = column.name.clone();
                let expr = Expr::Column(column);
                match expr.get_type(scan.schema())? {
                    DataType::Timestamp(..) => Ok(cast(expr, original.clone()).alias(name)),
                    _ => Ok(expr),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let plan = scan.project(columns)?.build()?;
        Ok(Arc::new(ViewTable::new(plan, None)))
    }
}

/// The type of `expr` when it is a constant timestamp of a unit other than nanoseconds.
fn coarser_timestamp(expr: &Expr) -> Option<DataType> {
    match expr {
        Expr::Literal(value, _) => match value.data_type() {
            timestamp @ DataType::Timestamp(unit, _) if unit != TimeUnit::Nanosecond => {
                Some(timestamp)
            }
            _ => None,
        },
        _ => None,
    }
}

/// A constant timestamp of another unit as nanoseconds; any other argument as it is.
fn in_nanoseconds(expr: &Expr) -> Result<Expr> {
    match (expr, coarser_timestamp(expr)) {
        (Expr::Literal(value, metadata), Some(DataType::Timestamp(_, zone))) => Ok(Expr::Literal(
            value.cast_to(&DataType::Timestamp(TimeUnit::Nanosecond, zone))?,
            metadata.clone(),
        )),
        _ => Ok(expr.clone()),
    }
}

/// Wraps the session's `range` and `generate_series` table functions.
pub(super) fn register(ctx: &SessionContext) {
    for name in super::rewrite::SERIES_FUNCTIONS {
        let inner = ctx
            .state()
            .table_functions()
            .get(name)
            .map(|f| Arc::clone(f.function()));
        if let Some(inner) = inner {
            ctx.register_udtf(name, Arc::new(SeriesTimes { inner }));
        }
    }
}
