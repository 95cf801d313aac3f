//! `array_agg` and `list`: DataFusion's, but for `list(DISTINCT x ORDER BY x)` beside an
//! aggregate ordered the other way (`list(x ORDER BY x DESC)` in the same SELECT). DataFusion
//! then sorts the input once, in the other's order, and computes this one reversed: its ORDER
//! BY turned round, its answer to be turned back at the end. Its DISTINCT accumulator sorts the
//! values itself, by the ORDER BY it is given, and never turns its answer back: `[2, 1]` for
//! DuckDB's `[1, 2]`, silently. [`ListAgg`] gives that accumulator the ORDER BY as written.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::Result;
use datafusion::functions_aggregate::array_agg::array_agg_udaf;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, GroupsAccumulator, ReversedUDAF,
    Signature,
};
use datafusion::physical_expr::PhysicalSortExpr;

/// DataFusion's `array_agg` (see the module documentation).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListAgg {
    inner: Arc<AggregateUDF>,
}

impl ListAgg {
    /// `array_agg`, also called `list` as in DuckDB.
    pub fn udaf() -> AggregateUDF {
        AggregateUDF::new_from_impl(ListAgg {
            inner: array_agg_udaf(),
        })
        .with_aliases(["list"])
    }
}

impl AggregateUDFImpl for ListAgg {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        self.inner.inner().order_sensitivity()
    }

    fn with_beneficial_ordering(
        self: Arc<Self>,
        beneficial_ordering: bool,
    ) -> Result<Option<Arc<dyn AggregateUDFImpl>>> {
        let ordered = self
            .inner
            .inner()
            .clone()
            .with_beneficial_ordering(beneficial_ordering)?;
        Ok(ordered.map(|inner| {
            Arc::new(ListAgg {
                inner: Arc::new(AggregateUDF::new_from_shared_impl(inner)),
            }) as Arc<dyn AggregateUDFImpl>
        }))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if !(args.is_distinct && args.is_reversed) {
            return self.inner.accumulator(args);
        }
        let written: Vec<PhysicalSortExpr> = args.order_bys.iter().map(|o| o.reverse()).collect();
        self.inner.accumulator(AccumulatorArgs {
            order_bys: &written,
            is_reversed: false,
            ..args
        })
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        ReversedUDAF::Reversed(Arc::new(Self::udaf()))
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

    fn supports_null_handling_clause(&self) -> bool {
        self.inner.inner().supports_null_handling_clause()
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}
