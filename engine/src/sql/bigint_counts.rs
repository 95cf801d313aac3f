//! Counts are BIGINT, as in DuckDB, where DataFusion gives UBIGINT: the ranking window
//! functions `row_number()`, `rank()`, `dense_rank()` and `ntile(n)`, and the aggregate
//! `approx_count_distinct(x)`. A corpus numbered as it is written (`COPY (SELECT *,
//! row_number() OVER () AS id ...)`) or a summary of distinct users held UINT64 columns, which
//! Spark and other readers take badly, and `row_number() OVER () - 1` met its literal as an
//! unsigned number. [`BigintRank`] and [`BigintCount`] wrap DataFusion's functions under their
//! own names: they plan and evaluate as DataFusion's do (the optimizer rules that look for
//! `row_number` by name still find it) and give the counts as BIGINT.

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::functions_aggregate::approx_distinct::approx_distinct_udaf;
use datafusion::functions_window::ntile::ntile_udwf;
use datafusion::functions_window::rank::{dense_rank_udwf, rank_udwf};
use datafusion::functions_window::row_number::row_number_udwf;
use datafusion::logical_expr::function::{
    AccumulatorArgs, ExpressionArgs, PartitionEvaluatorArgs, StateFieldsArgs, WindowUDFFieldArgs,
};
use datafusion::logical_expr::window_state::WindowAggState;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, LimitEffect, PartitionEvaluator,
    ReversedUDWF, Signature, WindowUDF, WindowUDFImpl,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;

/// Registers the BIGINT forms of the four ranking functions and of `approx_count_distinct` in
/// place of DataFusion's.
pub fn register(ctx: &SessionContext) {
    for ranking in [
        row_number_udwf(),
        rank_udwf(),
        dense_rank_udwf(),
        ntile_udwf(),
    ] {
        ctx.register_udwf(WindowUDF::from(BigintRank { inner: ranking }));
    }
    let distinct = approx_distinct_udaf()
        .as_ref()
        .clone()
        .with_aliases(["approx_count_distinct"]);
    ctx.register_udaf(AggregateUDF::from(BigintCount {
        inner: Arc::new(distinct),
    }));
}

/// One of DataFusion's ranking functions, giving its numbers as BIGINT.
#[derive(Debug, PartialEq, Eq, Hash)]
struct BigintRank {
    inner: Arc<WindowUDF>,
}

impl WindowUDFImpl for BigintRank {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn expressions(&self, expr_args: ExpressionArgs) -> Vec<Arc<dyn PhysicalExpr>> {
        self.inner.expressions(expr_args)
    }

    fn partition_evaluator(
        &self,
        partition_evaluator_args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        let ranks = self
            .inner
            .partition_evaluator_factory(partition_evaluator_args)?;
        Ok(Box::new(AsBigint(ranks)))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        let field = self.inner.field(field_args)?;
        Ok(Arc::new(
            field.as_ref().clone().with_data_type(DataType::Int64),
        ))
    }

    fn sort_options(&self) -> Option<SortOptions> {
        self.inner.sort_options()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn reverse_expr(&self) -> ReversedUDWF {
        match self.inner.reverse_expr() {
            ReversedUDWF::Reversed(reversed) => {
                ReversedUDWF::Reversed(Arc::new(WindowUDF::from(BigintRank { inner: reversed })))
            }
            same => same,
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn limit_effect(&self, args: &[Arc<dyn PhysicalExpr>]) -> LimitEffect {
        self.inner.inner().limit_effect(args)
    }
}

/// A ranking function's evaluator whose answers are cast to BIGINT.
#[derive(Debug)]
struct AsBigint(Box<dyn PartitionEvaluator>);

impl AsBigint {
    fn array(ranks: ArrayRef) -> Result<ArrayRef> {
        Ok(cast(&ranks, &DataType::Int64)?)
    }
}

impl PartitionEvaluator for AsBigint {
    fn memoize(&mut self, state: &mut WindowAggState) -> Result<()> {
        self.0.memoize(state)
    }

    fn get_range(&self, idx: usize, n_rows: usize) -> Result<std::ops::Range<usize>> {
        self.0.get_range(idx, n_rows)
    }

    fn is_causal(&self) -> bool {
        self.0.is_causal()
    }

    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        Self::array(self.0.evaluate_all(values, num_rows)?)
    }

    fn evaluate(
        &mut self,
        values: &[ArrayRef],
        range: &std::ops::Range<usize>,
    ) -> Result<ScalarValue> {
        self.0.evaluate(values, range)?.cast_to(&DataType::Int64)
    }

    fn evaluate_all_with_rank(
        &self,
        num_rows: usize,
        ranks_in_partition: &[std::ops::Range<usize>],
    ) -> Result<ArrayRef> {
        Self::array(
            self.0
                .evaluate_all_with_rank(num_rows, ranks_in_partition)?,
        )
    }

    fn supports_bounded_execution(&self) -> bool {
        self.0.supports_bounded_execution()
    }

    fn uses_window_frame(&self) -> bool {
        self.0.uses_window_frame()
    }

    fn include_rank(&self) -> bool {
        self.0.include_rank()
    }
}

/// DataFusion's `approx_distinct`, giving its count as BIGINT.
#[derive(Debug, PartialEq, Eq, Hash)]
struct BigintCount {
    inner: Arc<AggregateUDF>,
}

impl AggregateUDFImpl for BigintCount {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn is_nullable(&self) -> bool {
        self.inner.is_nullable()
    }

    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(0)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(CountAsBigint(self.inner.accumulator(args)?)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// A counting accumulator whose count is cast to BIGINT.
#[derive(Debug)]
struct CountAsBigint(Box<dyn Accumulator>);

impl Accumulator for CountAsBigint {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0.update_batch(values)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.0.evaluate()?.cast_to(&DataType::Int64)
    }

    fn size(&self) -> usize {
        self.0.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.0.state()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.merge_batch(states)
    }
}
