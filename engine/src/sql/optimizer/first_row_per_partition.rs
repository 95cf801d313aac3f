//! The deduplication idiom `QUALIFY row_number() OVER (PARTITION BY k ORDER BY s DESC) = 1`
//! (or the same filter on a subquery's `row_number`) keeps the first row of each partition. As
//! a window it sorts every row by the partition and the order; [`FirstRowPerPartition`] plans
//! it as a hash aggregate instead, which keeps each partition's best row as it goes:
//! `arg_max` (`arg_min` for an ascending order) of the whole row, a struct, by the ordering
//! value, grouped by the partition keys, the struct's fields then taken back out as the row's
//! columns, and `row_number` the constant 1.
//!
//! The order's NULL placement holds: where the ordering value may be NULL, the key is
//! `{nulls0: s IS [NOT] NULL, key0: s}`, so that a partition whose values are all NULL still
//! keeps a row, and a NULL comes first or last as the window would put it. Several ordering
//! keys (`ORDER BY quality DESC, id`) make one struct of them, a key ordered against the first
//! turned around (an integer by its complement, a float or decimal by negation). With ties,
//! either row may be kept, as with `row_number`. A later key ordered against the first that is
//! not a number, other window functions, or a filter that keeps more than the first row leave
//! the window as it was.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, DFSchema, Result, ScalarValue};
use datafusion::functions::core::{get_field, named_struct};
use datafusion::logical_expr::expr::{Sort, WindowFunction};
use datafusion::logical_expr::{
    Aggregate, AggregateUDF, BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator, Projection,
    ScalarUDF, WindowFunctionDefinition, lit,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use crate::sql::arg_best::{ArgBest, Best};
use crate::sql::bits::BitwiseNot;

/// The aggregate's output column: the first row of its partition.
const FIRST_ROW: &str = "__tarn_first_row";

/// See the module documentation.
#[derive(Debug, Default)]
pub struct FirstRowPerPartition;

impl OptimizerRule for FirstRowPerPartition {
    fn name(&self) -> &str {
        "tarn_first_row_per_partition"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Filter(filter) = &plan else {
            return Ok(Transformed::no(plan));
        };
        // DataFusion leaves a projection of the columns read above the window.
        let (columns_read, below) = super::under_column_projection(&filter.input);
        let LogicalPlan::Window(window) = below else {
            return Ok(Transformed::no(plan));
        };
        let [Expr::WindowFunction(function)] = window.window_expr.as_slice() else {
            return Ok(Transformed::no(plan));
        };
        let WindowFunction { fun, params } = function.as_ref();
        let is_row_number =
            matches!(fun, WindowFunctionDefinition::WindowUDF(udf) if udf.name() == "row_number");
        let numbered = window.schema.columns().pop();
        let keeps_first = numbered.is_some_and(|n| keeps_only_first(&filter.predicate, &n));
        if !is_row_number
            || !keeps_first
            || params.partition_by.is_empty()
            || params.filter.is_some()
        {
            return Ok(Transformed::no(plan));
        }
        let input = Arc::clone(&window.input);
        let Some((best, key)) = ordering_key(&params.order_by, input.schema())? else {
            return Ok(Transformed::no(plan));
        };
        let first = first_rows(&input, &params.partition_by, best, key)?;
        let numbered = window
            .schema
            .qualified_field(window.schema.fields().len() - 1);
        let mut columns: Vec<Expr> = input
            .schema()
            .iter()
            .enumerate()
            .map(|(at, (qualifier, field))| {
                get_field()
                    .call(vec![
                        Expr::Column(Column::from_name(FIRST_ROW)),
                        lit(slot(at)),
                    ])
                    .alias_qualified(qualifier.cloned(), field.name())
            })
            .collect();
        columns.push(
            lit(ScalarValue::Int64(Some(1)))
                .alias_qualified(numbered.0.cloned(), numbered.1.name()),
        );
        let rows = Projection::try_new(columns, Arc::new(LogicalPlan::Aggregate(first)))?;
        let rows = LogicalPlan::Projection(rows);
        Ok(Transformed::yes(match columns_read {
            Some(read) => {
                LogicalPlan::Projection(Projection::try_new(read.expr.clone(), Arc::new(rows))?)
            }
            None => rows,
        }))
    }
}

/// The struct field that holds the input's column `at`: names of their own, as the input may
/// repeat a name under two qualifiers.
fn slot(at: usize) -> String {
    format!("c{at}")
}

/// Whether `predicate` keeps the rows numbered 1 and no others: `n = 1`, `n <= 1` or `n < 2`,
/// either way round.
fn keeps_only_first(predicate: &Expr, numbered: &Column) -> bool {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = predicate else {
        return false;
    };
    let constant = |e: &Expr| match e {
        Expr::Literal(value, _) => value.cast_to(&DataType::Int64).ok(),
        _ => None,
    };
    let is_numbered = |e: &Expr| matches!(e, Expr::Column(c) if c == numbered);
    let (op, bound) = match (is_numbered(left), is_numbered(right)) {
        (true, false) => (*op, constant(right)),
        (false, true) => match op.swap() {
            Some(swapped) => (swapped, constant(left)),
            None => return false,
        },
        _ => return false,
    };
    matches!(
        (op, bound),
        (
            Operator::Eq | Operator::LtEq,
            Some(ScalarValue::Int64(Some(1)))
        ) | (Operator::Lt, Some(ScalarValue::Int64(Some(2))))
    )
}

/// One value that orders rows as `order` does, with which end of it comes first; `None` where
/// no such value is known (a later key ordered the other way that is not a number).
fn ordering_key(order: &[Sort], schema: &DFSchema) -> Result<Option<(Best, Expr)>> {
    let Some(first) = order.first() else {
        return Ok(None);
    };
    let best = match first.asc {
        true => Best::Min,
        false => Best::Max,
    };
    let mut parts = Vec::with_capacity(2 * order.len());
    for (at, key) in order.iter().enumerate() {
        // A key ordered against the first is turned around: integers by their complement (no
        // overflow, unlike negation), floats and decimals by negation.
        let value = match (key.asc == first.asc, key.expr.get_type(schema)?) {
            (true, _) => key.expr.clone(),
            (false, t) if t.is_integer() => {
                ScalarUDF::from(BitwiseNot::new()).call(vec![key.expr.clone()])
            }
            (false, t) if t.is_floating() || t.is_decimal() => -key.expr.clone(),
            (false, _) => return Ok(None),
        };
        if key.expr.nullable(schema)? {
            // The flag orders NULLs as the window would (see the module documentation).
            let flag = match (best, key.nulls_first) {
                (Best::Min, true) | (Best::Max, false) => key.expr.clone().is_not_null(),
                _ => key.expr.clone().is_null(),
            };
            parts.extend([lit(format!("nulls{at}")), flag]);
        }
        parts.extend([lit(format!("key{at}")), value]);
    }
    let single = parts.len() == 2 && order.len() == 1;
    Ok(Some((
        best,
        match single {
            true => parts.swap_remove(1),
            false => named_struct().call(parts),
        },
    )))
}

/// The aggregate that keeps the first row of each partition of `input`: the row whose `key`
/// is the `best`.
fn first_rows(
    input: &Arc<LogicalPlan>,
    partition_by: &[Expr],
    best: Best,
    key: Expr,
) -> Result<Aggregate> {
    let schema = input.schema();
    let fields = schema
        .iter()
        .enumerate()
        .flat_map(|(at, (qualifier, field))| {
            [
                lit(slot(at)),
                Expr::Column(Column::from((qualifier, field))),
            ]
        });
    let row = named_struct().call(fields.collect());
    let first = AggregateUDF::from(ArgBest::new(best))
        .call(vec![row, key])
        .alias(FIRST_ROW);
    Aggregate::try_new(Arc::clone(input), partition_by.to_vec(), vec![first])
}
