//! A DOUBLE meeting a DECIMAL is compared as a DOUBLE, as in DuckDB.
//!
//! DataFusion's type coercion prefers the DECIMAL: in `score > 0.5` it casts the DOUBLE `score`
//! to DECIMAL(30,15), so `1e-20 > 0.0` is false (the cast makes it 0), `1e-20 = 0.0` is true,
//! and a value past 1e15 fails the query. The same happens in `IN`, `BETWEEN`, `CASE` and
//! `coalesce`. [`FloatOverDecimal`], an analyzer rule just before DataFusion's type coercion,
//! casts the DECIMAL side of such a meeting to DOUBLE first, so coercion finds nothing to do.
//! Arithmetic between the two is already DOUBLE in DataFusion. (`UNION` and `VALUES` rows still
//! unify the two as DECIMAL(30,15): they are typed while the statement is planned.)

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::{Between, Case, Cast, InList, ScalarFunction};
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;

/// The functions whose arguments are unified into one type.
const UNIFYING_FUNCTIONS: [&str; 6] = ["coalesce", "nullif", "greatest", "least", "nvl", "ifnull"];

/// See the module documentation.
#[derive(Debug, Default)]
pub struct FloatOverDecimal;

impl AnalyzerRule for FloatOverDecimal {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        super::rewrite_logical_expressions(plan, compare_as_double)
    }

    fn name(&self) -> &str {
        "tarn_float_over_decimal"
    }
}

/// `expr` with the DECIMAL operands it unifies with a floating-point one cast to DOUBLE.
fn compare_as_double(mut expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let changed = match &mut expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if super::is_comparison(op) => {
            unify(vec![left.as_mut(), right.as_mut()], schema)
        }
        Expr::Between(Between {
            expr, low, high, ..
        }) => unify(vec![expr.as_mut(), low.as_mut(), high.as_mut()], schema),
        Expr::InList(InList { expr, list, .. }) => {
            let mut all = vec![expr.as_mut()];
            all.extend(list.iter_mut());
            unify(all, schema)
        }
        Expr::Case(Case {
            expr: operand,
            when_then_expr,
            else_expr,
        }) => {
            let mut compared = Vec::new();
            let mut results = Vec::new();
            if let Some(operand) = operand {
                compared.push(operand.as_mut());
            }
            for (when, then) in when_then_expr.iter_mut() {
                if !compared.is_empty() {
                    compared.push(when.as_mut());
                }
                results.push(then.as_mut());
            }
            if let Some(otherwise) = else_expr {
                results.push(otherwise.as_mut());
            }
            let compared = unify(compared, schema);
            unify(results, schema) || compared
        }
        Expr::ScalarFunction(ScalarFunction { func, args })
            if UNIFYING_FUNCTIONS.contains(&func.name()) =>
        {
            unify(args.iter_mut().collect(), schema)
        }
        _ => false,
    };
    Ok(match changed {
        true => Transformed::yes(expr),
        false => Transformed::no(expr),
    })
}

/// Casts the DECIMAL ones among `exprs` to DOUBLE when another is a float; whether it did.
/// An expression whose type cannot be told is left to type coercion, which says why.
fn unify(exprs: Vec<&mut Expr>, schema: &DFSchema) -> bool {
    let types: Vec<Option<DataType>> = exprs.iter().map(|e| e.get_type(schema).ok()).collect();
    let has = |test: fn(&DataType) -> bool| types.iter().flatten().any(test);
    if !(has(DataType::is_floating) && has(DataType::is_decimal)) {
        return false;
    }
    for (expr, data_type) in exprs.into_iter().zip(&types) {
        if data_type.as_ref().is_some_and(DataType::is_decimal) {
            let decimal = std::mem::replace(expr, Expr::Literal(ScalarValue::Null, None));
            *expr = Expr::Cast(Cast::new(Box::new(decimal), DataType::Float64));
        }
    }
    true
}
