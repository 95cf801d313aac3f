//! Every aggregate works over a window frame that slides (`ROWS BETWEEN 2 PRECEDING AND 1
//! FOLLOWING`, any frame whose start is not `UNBOUNDED PRECEDING`), as in DuckDB.
//!
//! DataFusion computes such a frame with one accumulator that takes the rows entering the frame
//! and gives back those leaving it (`retract_batch`); an aggregate whose accumulator cannot give
//! rows back failed the query: `string_agg`, `bool_and`, `bool_or`, `arg_max`, `arg_min`,
//! `first`, `last`, `product`, `histogram`, `mode` and more. [`SlidingAggregates`], an analyzer
//! rule after type coercion, gives each such window function a [`RecomputedAggregate`]: the same
//! aggregate, whose sliding accumulator keeps the frame's rows and aggregates them afresh when
//! rows have left since the last answer. A frame of `w` rows then costs `w` per row, where an
//! accumulator that retracts costs one; the aggregates that retract keep their own.

use std::collections::VecDeque;
use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, FieldRef, Schema};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err};
use datafusion::logical_expr::expr::{
    AggregateFunctionParams, NullTreatment, WindowFunction, WindowFunctionParams,
};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Expr, ExprSchemable, LogicalPlan, ReversedUDAF,
    Signature, WindowFunctionDefinition,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::PhysicalSortExpr;
use datafusion::physical_expr::expressions::{Column, Literal};

/// See the module documentation.
#[derive(Debug, Default)]
pub struct SlidingAggregates;

impl AnalyzerRule for SlidingAggregates {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        super::rewrite_logical_expressions(plan, recompute_if_needed)
    }

    fn name(&self) -> &str {
        "tarn_sliding_aggregates"
    }
}

/// A window aggregate over a sliding frame, with its aggregate wrapped in a
/// [`RecomputedAggregate`] where its own accumulator cannot give rows back.
fn recompute_if_needed(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::WindowFunction(window) = &expr else {
        return Ok(Transformed::no(expr));
    };
    let WindowFunctionDefinition::AggregateUDF(udaf) = &window.fun else {
        return Ok(Transformed::no(expr));
    };
    let params = &window.params;
    if params.window_frame.start_bound.is_unbounded()
        || udaf.inner().is::<RecomputedAggregate>()
        || retracts(udaf, params, schema)?
    {
        return Ok(Transformed::no(expr));
    }
    let recomputed = AggregateUDF::new_from_impl(RecomputedAggregate::new(Arc::clone(udaf)));
    let Expr::WindowFunction(window) = expr else {
        unreachable!("matched above");
    };
    let WindowFunction { params, .. } = *window;
    let fun = WindowFunctionDefinition::AggregateUDF(Arc::new(recomputed));
    Ok(Transformed::yes(Expr::WindowFunction(Box::new(
        WindowFunction { fun, params },
    ))))
}

/// Whether `udaf`'s sliding accumulator for these arguments gives rows back. One that cannot be
/// made for them counts as one that does: the planner then reports what is wrong.
fn retracts(udaf: &AggregateUDF, params: &WindowFunctionParams, schema: &DFSchema) -> Result<bool> {
    let mut fields = Vec::with_capacity(params.args.len());
    let mut exprs: Vec<Arc<dyn PhysicalExpr>> = Vec::with_capacity(params.args.len());
    for (i, arg) in params.args.iter().enumerate() {
        let name = format!("arg{i}");
        let field = arg.to_field(schema)?.1.as_ref().clone().with_name(&name);
        fields.push(Arc::new(field) as FieldRef);
        exprs.push(match arg {
            // Constant arguments (a separator) are read as constants when the accumulator is
            // made.
            Expr::Literal(value, _) => Arc::new(Literal::new(value.clone())),
            _ => Arc::new(Column::new(&name, i)),
        });
    }
    let Ok(return_field) = udaf.return_field(&fields) else {
        return Ok(true);
    };
    let schema = Schema::new(fields.clone());
    let args = AccumulatorArgs {
        return_field,
        schema: &schema,
        ignore_nulls: params.null_treatment == Some(NullTreatment::IgnoreNulls),
        order_bys: &[],
        is_reversed: false,
        name: udaf.name(),
        is_distinct: params.distinct,
        exprs: &exprs,
        expr_fields: &fields,
    };
    Ok(udaf
        .create_sliding_accumulator(args)
        .map_or(true, |accumulator| accumulator.supports_retract_batch()))
}

/// An aggregate whose sliding accumulator is a [`Recomputing`] one where the aggregate's own
/// cannot give rows back; in every other way the aggregate it wraps.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RecomputedAggregate {
    inner: Arc<AggregateUDF>,
}

impl RecomputedAggregate {
    pub fn new(inner: Arc<AggregateUDF>) -> Self {
        RecomputedAggregate { inner }
    }

    fn wrapped(&self) -> &dyn AggregateUDFImpl {
        self.inner.inner().as_ref()
    }
}

impl AggregateUDFImpl for RecomputedAggregate {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn schema_name(&self, params: &AggregateFunctionParams) -> Result<String> {
        self.wrapped().schema_name(params)
    }

    fn human_display(&self, params: &AggregateFunctionParams) -> Result<String> {
        self.wrapped().human_display(params)
    }

    fn window_function_schema_name(&self, params: &WindowFunctionParams) -> Result<String> {
        self.wrapped().window_function_schema_name(params)
    }

    fn display_name(&self, params: &AggregateFunctionParams) -> Result<String> {
        self.wrapped().display_name(params)
    }

    fn window_function_display_name(&self, params: &WindowFunctionParams) -> Result<String> {
        self.wrapped().window_function_display_name(params)
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field(&self, arg_fields: &[FieldRef]) -> Result<FieldRef> {
        self.inner.return_field(arg_fields)
    }

    fn is_nullable(&self) -> bool {
        self.inner.is_nullable()
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.accumulator(args)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let own = self.inner.create_sliding_accumulator(args.clone())?;
        if own.supports_retract_batch() {
            return Ok(own);
        }
        Ok(Box::new(Recomputing::new(
            Arc::clone(&self.inner),
            OwnedArgs::from(&args),
        )))
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        self.wrapped().order_sensitivity()
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        match self.wrapped().reverse_expr() {
            ReversedUDAF::Reversed(reversed) => ReversedUDAF::Reversed(Arc::new(
                AggregateUDF::new_from_impl(RecomputedAggregate::new(reversed)),
            )),
            same_or_none => same_or_none,
        }
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.wrapped().coerce_types(arg_types)
    }

    fn default_value(&self, data_type: &DataType) -> Result<ScalarValue> {
        self.inner.default_value(data_type)
    }

    fn supports_null_handling_clause(&self) -> bool {
        self.wrapped().supports_null_handling_clause()
    }
}

/// What an accumulator is made from, owned, so that [`Recomputing`] can make fresh ones.
#[derive(Debug)]
struct OwnedArgs {
    return_field: FieldRef,
    schema: Schema,
    ignore_nulls: bool,
    order_bys: Vec<PhysicalSortExpr>,
    is_reversed: bool,
    name: String,
    is_distinct: bool,
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    expr_fields: Vec<FieldRef>,
}

impl From<&AccumulatorArgs<'_>> for OwnedArgs {
    fn from(args: &AccumulatorArgs<'_>) -> Self {
        OwnedArgs {
            return_field: Arc::clone(&args.return_field),
            schema: args.schema.clone(),
            ignore_nulls: args.ignore_nulls,
            order_bys: args.order_bys.to_vec(),
            is_reversed: args.is_reversed,
            name: args.name.to_string(),
            is_distinct: args.is_distinct,
            exprs: args.exprs.to_vec(),
            expr_fields: args.expr_fields.to_vec(),
        }
    }
}

impl OwnedArgs {
    fn args(&self) -> AccumulatorArgs<'_> {
        AccumulatorArgs {
            return_field: Arc::clone(&self.return_field),
            schema: &self.schema,
            ignore_nulls: self.ignore_nulls,
            order_bys: &self.order_bys,
            is_reversed: self.is_reversed,
            name: &self.name,
            is_distinct: self.is_distinct,
            exprs: &self.exprs,
            expr_fields: &self.expr_fields,
        }
    }
}

/// A sliding accumulator for an aggregate that cannot give rows back: it keeps the frame's
/// rows (the batches it was given, less the rows retracted from the front, as a frame only
/// moves forward) and, when rows have left since it last answered, aggregates them afresh.
#[derive(Debug)]
struct Recomputing {
    aggregate: Arc<AggregateUDF>,
    args: OwnedArgs,
    /// The frame's rows: each batch's argument arrays.
    batches: VecDeque<Vec<ArrayRef>>,
    /// The aggregate of exactly the rows in `batches`, while no row has left since it was made.
    current: Option<Box<dyn Accumulator>>,
}

impl Recomputing {
    fn new(aggregate: Arc<AggregateUDF>, args: OwnedArgs) -> Self {
        Recomputing {
            aggregate,
            args,
            batches: VecDeque::new(),
            current: None,
        }
    }

    /// The aggregate of the frame's rows, made afresh if rows have left.
    fn current(&mut self) -> Result<&mut Box<dyn Accumulator>> {
        if self.current.is_none() {
            let mut fresh = self.aggregate.accumulator(self.args.args())?;
            for batch in &self.batches {
                fresh.update_batch(batch)?;
            }
            self.current = Some(fresh);
        }
        Ok(self.current.as_mut().expect("made above"))
    }
}

impl Accumulator for Recomputing {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        if values.first().is_none_or(|v| v.is_empty()) {
            return Ok(());
        }
        if let Some(current) = &mut self.current {
            current.update_batch(values)?;
        }
        self.batches.push_back(values.to_vec());
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let mut leaving = values.first().map_or(0, |v| v.len());
        if leaving == 0 {
            return Ok(());
        }
        self.current = None;
        while leaving > 0 {
            let Some(front) = self.batches.front_mut() else {
                return exec_err!(
                    "{}: more rows left the window frame than entered",
                    self.args.name
                );
            };
            let rows = front[0].len();
            if rows <= leaving {
                leaving -= rows;
                self.batches.pop_front();
            } else {
                *front = front
                    .iter()
                    .map(|a| a.slice(leaving, rows - leaving))
                    .collect();
                leaving = 0;
            }
        }
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.current()?.evaluate()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.current()?.state()
    }

    fn merge_batch(&mut self, _states: &[ArrayRef]) -> Result<()> {
        exec_err!(
            "{}: a window frame's aggregate is never merged",
            self.args.name
        )
    }

    fn size(&self) -> usize {
        let rows: usize = self
            .batches
            .iter()
            .flatten()
            .map(|array| array.get_array_memory_size())
            .sum();
        size_of_val(self) + rows + self.current.as_ref().map_or(0, |c| c.size())
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::Field;
    use datafusion::functions_aggregate::string_agg::string_agg_udaf;

    use super::*;

    fn words(words: &[&str]) -> Vec<ArrayRef> {
        vec![Arc::new(StringArray::from(words.to_vec())) as ArrayRef]
    }

    #[test]
    fn rows_leave_from_the_front_across_batches() {
        let field: FieldRef = Arc::new(Field::new("w", DataType::Utf8, true));
        let separator = Arc::new(Literal::new(ScalarValue::Utf8(Some("-".into()))));
        let args = OwnedArgs {
            return_field: Arc::clone(&field),
            schema: Schema::new(vec![Arc::clone(&field)]),
            ignore_nulls: false,
            order_bys: vec![],
            is_reversed: false,
            name: "string_agg".into(),
            is_distinct: false,
            exprs: vec![Arc::new(Column::new("w", 0)), separator],
            expr_fields: vec![
                Arc::clone(&field),
                Arc::new(Field::new("sep", DataType::Utf8, false)),
            ],
        };
        let string_agg = string_agg_udaf();
        assert!(
            !string_agg
                .accumulator(args.args())
                .unwrap()
                .supports_retract_batch()
        );
        let mut frame = Recomputing::new(string_agg, args);
        let text = |frame: &mut Recomputing| frame.evaluate().unwrap().to_string();
        frame.update_batch(&words(&["a", "b"])).unwrap();
        frame.update_batch(&words(&["c", "d"])).unwrap();
        assert_eq!(text(&mut frame), "a-b-c-d");
        // Three rows leave: the first batch and the front of the second.
        frame.retract_batch(&words(&["a", "b", "c"])).unwrap();
        assert_eq!(text(&mut frame), "d");
        frame.update_batch(&words(&["e"])).unwrap();
        assert_eq!(text(&mut frame), "d-e");
        frame.retract_batch(&words(&["d", "e"])).unwrap();
        assert!(frame.evaluate().unwrap().is_null());
        let err = frame.retract_batch(&words(&["f"])).unwrap_err();
        assert!(err.to_string().contains("more rows left"), "{err}");
    }
}
