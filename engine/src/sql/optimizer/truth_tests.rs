//! `x IS TRUE` of a value that is not a BOOLEAN tests the value's truth, as in DuckDB:
//! `1 IS TRUE` and `'t' IS TRUE` are true, `0 IS NOT TRUE` is true. DataFusion's type coercion
//! found no common type for an INTEGER and a BOOLEAN. [`TruthTests`], an analyzer rule just
//! before type coercion, casts such a value to a BOOLEAN in the four `IS [NOT] TRUE | FALSE`
//! tests, and makes `x IS [NOT] UNKNOWN` `x IS [NOT] NULL`, which DuckDB binds it to.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, cast};
use datafusion::optimizer::AnalyzerRule;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct TruthTests;

impl AnalyzerRule for TruthTests {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        super::rewrite_logical_expressions(plan, test_truth)
    }

    fn name(&self) -> &str {
        "tarn_truth_tests"
    }
}

fn test_truth(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let (Expr::IsTrue(tested)
    | Expr::IsNotTrue(tested)
    | Expr::IsFalse(tested)
    | Expr::IsNotFalse(tested)
    | Expr::IsUnknown(tested)
    | Expr::IsNotUnknown(tested)) = &expr
    else {
        return Ok(Transformed::no(expr));
    };
    if matches!(tested.get_type(schema)?, DataType::Boolean | DataType::Null) {
        return Ok(Transformed::no(expr));
    }
    let truth = |tested: Box<Expr>| Box::new(cast(*tested, DataType::Boolean));
    Ok(Transformed::yes(match expr {
        Expr::IsTrue(tested) => Expr::IsTrue(truth(tested)),
        Expr::IsNotTrue(tested) => Expr::IsNotTrue(truth(tested)),
        Expr::IsFalse(tested) => Expr::IsFalse(truth(tested)),
        Expr::IsNotFalse(tested) => Expr::IsNotFalse(truth(tested)),
        Expr::IsUnknown(tested) => Expr::IsNull(tested),
        Expr::IsNotUnknown(tested) => Expr::IsNotNull(tested),
        other => other,
    }))
}
