//! Built-in functions whose result type DuckDB defines differently from DataFusion.
//!
//! `avg` of a DECIMAL is a DOUBLE in DuckDB (DataFusion keeps a DECIMAL with four more digits
//! of scale, which rounds the answer): [`DuckAvg`] coerces DECIMAL arguments to DOUBLE and
//! otherwise is DataFusion's own `avg`.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, plan_err};
use datafusion::functions_aggregate::average::avg_udaf;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, GroupsAccumulator, ReversedUDAF, Signature,
    Volatility,
};
use datafusion::prelude::SessionContext;

/// Registers the DuckDB-typed replacements on a context.
pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(AggregateUDF::from(DuckAvg::new()));
}

/// `avg` with DuckDB's result types: DOUBLE for numbers and decimals, INTERVAL for intervals.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DuckAvg {
    inner: Arc<AggregateUDF>,
    signature: Signature,
}

impl DuckAvg {
    pub fn new() -> Self {
        DuckAvg {
            inner: avg_udaf(),
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for DuckAvg {
    fn default() -> Self {
        Self::new()
    }
}

impl AggregateUDFImpl for DuckAvg {
    fn name(&self) -> &str {
        "avg"
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [arg] = arg_types else {
            return plan_err!("avg takes one argument, got {}", arg_types.len());
        };
        match arg {
            DataType::Duration(_) => Ok(vec![arg.clone()]),
            DataType::Null => Ok(vec![DataType::Float64]),
            t if t.is_numeric() => Ok(vec![DataType::Float64]),
            other => plan_err!("avg cannot take an argument of type {other}"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.accumulator(args)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        self.inner.create_groups_accumulator(args)
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.create_sliding_accumulator(args)
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        ReversedUDAF::Identical
    }
}
