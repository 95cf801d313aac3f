//! Puts a filter's cheapest conditions first.
//!
//! DataFusion evaluates `a AND b` by evaluating `a` on the whole batch, and `b` only on the rows
//! `a` kept when `a` kept few of them. So the order a query writes its conditions in decides how
//! much work the later ones do: TPC-H Q12 compares `l_shipmode` strings on every `lineitem` row
//! before the one-year `l_receiptdate` range drops six rows in seven. DuckDB reorders filters as
//! it runs; this rule reorders them once, by how much a condition costs per row: comparisons of
//! a number or date column with a constant first, then comparisons between two such columns,
//! then string comparisons, then patterns and everything else. Conditions of one kind keep the
//! order the query gave them, and nothing moves behind a condition it was written after unless
//! it is of a more expensive kind.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, Filter, LogicalPlan, Operator};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

/// See the module documentation.
#[derive(Debug, Default)]
pub struct ConjunctOrder;

impl OptimizerRule for ConjunctOrder {
    fn name(&self) -> &str {
        "tarn_conjunct_order"
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
        let conjuncts = split_conjunction(&filter.predicate);
        let schema = filter.input.schema();
        let mut ordered: Vec<(Cost, &Expr)> = conjuncts
            .iter()
            .map(|conjunct| (cost(conjunct, schema), *conjunct))
            .collect();
        // Stable: conditions of one cost keep their order.
        ordered.sort_by_key(|(cost, _)| *cost);
        if ordered
            .iter()
            .map(|(_, e)| *e)
            .eq(conjuncts.iter().copied())
        {
            return Ok(Transformed::no(plan));
        }
        let predicate = conjunction(ordered.into_iter().map(|(_, e)| e.clone()))
            .expect("a filter has at least one condition");
        let reordered = Filter::try_new(predicate, filter.input.clone())?;
        Ok(Transformed::yes(LogicalPlan::Filter(reordered)))
    }
}

/// How much a condition costs per row, cheapest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cost {
    /// A number, date or boolean column against constants, or a null test.
    FixedWidthConstant,
    /// Two fixed-width columns compared.
    FixedWidthColumns,
    /// A string column compared with constants or another column.
    Strings,
    /// Patterns, functions, `CASE` and anything else.
    Other,
}

fn cost(expr: &Expr, schema: &DFSchema) -> Cost {
    match expr {
        Expr::IsNull(_) | Expr::IsNotNull(_) => Cost::FixedWidthConstant,
        Expr::Not(inner) => cost(inner, schema),
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And | Operator::Or => cost(left, schema).max(cost(right, schema)),
            op if super::is_comparison(op) => comparison_cost(schema, &[left, right]),
            _ => Cost::Other,
        },
        Expr::Between(between) => {
            comparison_cost(schema, &[&between.expr, &between.low, &between.high])
        }
        Expr::InList(list) => {
            let mut operands: Vec<&Expr> = list.list.iter().collect();
            operands.push(&list.expr);
            comparison_cost(schema, &operands)
        }
        _ => Cost::Other,
    }
}

/// The cost of comparing `operands`: they must be columns and constants, and a string among
/// them makes it a string comparison.
fn comparison_cost(schema: &DFSchema, operands: &[&Expr]) -> Cost {
    let mut columns = 0;
    let mut strings = false;
    for operand in operands {
        let operand = match operand {
            Expr::Cast(cast) => cast.expr.as_ref(),
            other => other,
        };
        match operand {
            Expr::Column(_) => columns += 1,
            Expr::Literal(..) => {}
            _ => return Cost::Other,
        }
        match operand.get_type(schema) {
            Ok(data_type) if is_string(&data_type) => strings = true,
            Ok(data_type) if data_type.is_primitive() || data_type == DataType::Boolean => {}
            _ => return Cost::Other,
        }
    }
    match (strings, columns) {
        (true, _) => Cost::Strings,
        (false, 0 | 1) => Cost::FixedWidthConstant,
        (false, _) => Cost::FixedWidthColumns,
    }
}

fn is_string(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) || matches!(data_type, DataType::Dictionary(_, value) if is_string(value))
}
