//! Aggregates and groups that differ only by a cast: `min(ts), min(ts::DATE)` or
//! `GROUP BY ts, ts::DATE`. DataFusion names a cast after the value it casts, so both are
//! `min(t.ts)` to it and the query fails with "duplicate field name" (apache/datafusion#18975),
//! where DuckDB answers it.
//!
//! [`name_casts`] finds, in each SELECT, calls and GROUP BY expressions whose text is the same
//! once casts are taken out, and wraps each cast in them, wherever the SELECT uses it, in
//! [`NAMED_CAST`]`(cast, 'TYPE')`. That call's name carries the type, and the optimizer's
//! simplifier replaces it by the bare cast, so the plan that runs is the same.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr as LogicalExpr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::prelude::SessionContext;
use sqlparser::ast::{
    CastKind, Expr, GroupByExpr, Query, Select, SetExpr, Value, VisitMut, VisitorMut,
};

use super::rewrite::call;

/// The name of [`NamedCast`].
pub const NAMED_CAST: &str = "tarn_named_cast";

/// Registers [`NamedCast`], so that a plan sent to a cluster finds it by name.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(NamedCast::new()));
}

/// Wraps the casts that make two aggregates or groups of a SELECT look alike to DataFusion.
pub fn name_casts(statement: &mut sqlparser::ast::Statement) {
    let _ = statement.visit(&mut CastNamer);
}

struct CastNamer;

impl VisitorMut for CastNamer {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        let SetExpr::Select(select) = query.body.as_mut() else {
            return ControlFlow::Continue(());
        };
        let alike = alike_casts(select);
        if alike.is_empty() {
            return ControlFlow::Continue(());
        }
        let mut wrap = |expr: &mut Expr| {
            if let Expr::Cast { data_type, .. } = &*expr
                && alike.contains(&expr.to_string())
            {
                let type_name = Expr::value(Value::SingleQuotedString(data_type.to_string()));
                *expr = call(NAMED_CAST, [expr.clone(), type_name]);
            }
            ControlFlow::<()>::Continue(())
        };
        let _ = sqlparser::ast::visit_expressions_mut(&mut select.projection, &mut wrap);
        let _ = sqlparser::ast::visit_expressions_mut(&mut select.group_by, &mut wrap);
        let _ = sqlparser::ast::visit_expressions_mut(&mut select.having, &mut wrap);
        let _ = sqlparser::ast::visit_expressions_mut(&mut select.qualify, &mut wrap);
        let _ = sqlparser::ast::visit_expressions_mut(&mut query.order_by, &mut wrap);
        ControlFlow::Continue(())
    }
}

/// The casts (as text) inside the calls and GROUP BY expressions of `select` that look like
/// another once casts are taken out.
fn alike_casts(select: &Select) -> HashSet<String> {
    // Most SELECTs have no cast where names are made: they cost one walk.
    let mut has_cast = false;
    let mut note_cast = |expr: &Expr| {
        has_cast |= is_cast(expr);
        ControlFlow::<()>::Continue(())
    };
    let _ = sqlparser::ast::visit_expressions(&select.projection, &mut note_cast);
    let _ = sqlparser::ast::visit_expressions(&select.group_by, &mut note_cast);
    if !has_cast {
        return HashSet::new();
    }
    let mut named: Vec<Expr> = Vec::new();
    let _ = sqlparser::ast::visit_expressions(&select.projection, |expr| {
        if matches!(expr, Expr::Function(_)) {
            named.push(expr.clone());
        }
        ControlFlow::<()>::Continue(())
    });
    if let GroupByExpr::Expressions(groups, _) = &select.group_by {
        named.extend(groups.iter().cloned());
    }
    // Each expression's text with its casts taken out, and the texts that give it.
    let keys: Vec<String> = named.iter().map(|e| without_casts(e).to_string()).collect();
    let mut texts: HashMap<&str, HashSet<String>> = HashMap::new();
    for (key, expr) in keys.iter().zip(&named) {
        texts.entry(key).or_default().insert(expr.to_string());
    }
    let mut alike = HashSet::new();
    for (key, expr) in keys.iter().zip(&named) {
        if texts[key.as_str()].len() > 1 {
            let _ = sqlparser::ast::visit_expressions(expr, |inner| {
                if is_cast(inner) {
                    alike.insert(inner.to_string());
                }
                ControlFlow::<()>::Continue(())
            });
        }
    }
    alike
}

fn is_cast(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::Cast {
            kind: CastKind::Cast | CastKind::DoubleColon,
            ..
        }
    )
}

/// `expr` as DataFusion names it: its casts replaced by what they cast.
fn without_casts(expr: &Expr) -> Expr {
    let mut bare = expr.clone();
    let _ = sqlparser::ast::visit_expressions_mut(&mut bare, |inner| {
        if is_cast(inner)
            && let Expr::Cast { expr: cast, .. } = inner
        {
            *inner = cast.as_ref().clone();
        }
        ControlFlow::<()>::Continue(())
    });
    bare
}

/// `tarn_named_cast(value, 'TYPE')`: `value` under a name that shows the type it was cast to
/// (see the module documentation). The simplifier takes it away before execution.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NamedCast {
    signature: Signature,
}

impl NamedCast {
    pub fn new() -> Self {
        NamedCast {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl Default for NamedCast {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for NamedCast {
    fn name(&self) -> &str {
        NAMED_CAST
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(args.args[0].clone())
    }

    fn simplify(
        &self,
        mut args: Vec<LogicalExpr>,
        _: &SimplifyContext,
    ) -> Result<ExprSimplifyResult> {
        Ok(ExprSimplifyResult::Simplified(args.swap_remove(0)))
    }
}
