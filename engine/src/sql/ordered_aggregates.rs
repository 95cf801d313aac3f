//! `array_agg` (`list`) and `string_agg`: DataFusion's, with two fixes for an ORDER BY in them.
//!
//! * `string_agg(s, ',' ORDER BY a)` beside an aggregate ordered otherwise (`string_agg(s, ','
//!   ORDER BY a DESC)`, `list(x ORDER BY b)`) in the same SELECT: DataFusion's `string_agg`
//!   demands its input sorted, so two such orders were refused ("Conflicting ordering
//!   requirements in aggregate functions is not supported"), where DuckDB answers. Its
//!   accumulator sorts the values itself whatever order they come in (an `array_agg` that is
//!   not told the input is sorted), so [`OrderedAgg`] only asks for the order, as
//!   `array_agg` does: the input is sorted for one of them, and the others sort their own.
//! * `list(DISTINCT x ORDER BY x)` (or `string_agg(DISTINCT ...)`) beside an aggregate ordered
//!   the other way (`list(x ORDER BY x DESC)`): DataFusion then sorts the input once, in the
//!   other's order, and computes this one reversed: its ORDER BY turned round, its answer to be
//!   turned back at the end. Its DISTINCT accumulator sorts the values itself, by the ORDER BY
//!   it is given, and never turns its answer back: `[2, 1]` for DuckDB's `[1, 2]`, silently.
//!   [`OrderedAgg`] gives that accumulator the ORDER BY as written.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::Result;
use datafusion::functions_aggregate::array_agg::array_agg_udaf;
use datafusion::functions_aggregate::string_agg::string_agg_udaf;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, GroupsAccumulator, ReversedUDAF,
    Signature,
};
use datafusion::physical_expr::PhysicalSortExpr;

/// DataFusion's `array_agg` or `string_agg` (see the module documentation).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct OrderedAgg {
    inner: Arc<AggregateUDF>,
}

impl OrderedAgg {
    /// `array_agg`, also called `list` as in DuckDB.
    pub fn list() -> AggregateUDF {
        AggregateUDF::new_from_impl(OrderedAgg {
            inner: array_agg_udaf(),
        })
        .with_aliases(["list"])
    }

    /// `string_agg`.
    pub fn string_agg() -> AggregateUDF {
        AggregateUDF::new_from_impl(OrderedAgg {
            inner: string_agg_udaf(),
        })
    }

    /// The same aggregate, afresh (what its reverse is: the reversal is in its arguments).
    fn again(&self) -> AggregateUDF {
        match self.is_string_agg() {
            true => Self::string_agg(),
            false => Self::list(),
        }
    }

    /// Whether it is `string_agg`, whose accumulator always sorts its values itself.
    fn is_string_agg(&self) -> bool {
        self.inner.name() == string_agg_udaf().name()
    }
}

impl AggregateUDFImpl for OrderedAgg {
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
        match self.is_string_agg() {
            true => AggregateOrderSensitivity::SoftRequirement,
            false => self.inner.inner().order_sensitivity(),
        }
    }

    fn with_beneficial_ordering(
        self: Arc<Self>,
        beneficial_ordering: bool,
    ) -> Result<Option<Arc<dyn AggregateUDFImpl>>> {
        if self.is_string_agg() {
            // It sorts its values whether or not they come sorted.
            return Ok(Some(self));
        }
        let ordered = self
            .inner
            .inner()
            .clone()
            .with_beneficial_ordering(beneficial_ordering)?;
        Ok(ordered.map(|inner| {
            Arc::new(OrderedAgg {
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
        ReversedUDAF::Reversed(Arc::new(self.again()))
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
