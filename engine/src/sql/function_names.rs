//! DuckDB's names for functions DataFusion has under other names or forms.
//!
//! * [`register_aliases`]: the same function, another name (`strlen` is `octet_length`,
//!   `list_value` is `make_array`, `variance` is `var_samp`).
//! * [`date_part_shorthands`]: DuckDB's one-argument date parts, `year(d)` for
//!   `date_part('year', d)`, rewritten in the syntax tree (after the result columns are named,
//!   so the column is still called `year(d)`).

use std::ops::ControlFlow;

use datafusion::functions_aggregate::variance::var_samp_udaf;
use datafusion::functions_nested::make_array::make_array_udf;
use datafusion::functions_nested::string::string_to_array_udf;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;
use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName, Statement, Value,
    VisitMut, VisitorMut,
};

/// Registers DataFusion's functions under DuckDB's names as well.
pub fn register_aliases(ctx: &SessionContext) {
    use datafusion::functions::{datetime, math, regex, string};
    let config = ctx.state().config_options().clone();
    let scalars: [(ScalarUDF, &[&str]); 9] = [
        (string::octet_length().as_ref().clone(), &["strlen"]),
        (regex::regexp_like().as_ref().clone(), &["regexp_matches"]),
        (make_array_udf().as_ref().clone(), &["list_value"]),
        (string::starts_with().as_ref().clone(), &["prefix"]),
        (string::ends_with().as_ref().clone(), &["suffix"]),
        (
            string_to_array_udf().as_ref().clone(),
            &["string_split", "str_split"],
        ),
        (math::signum().as_ref().clone(), &["sign"]),
        (datetime::to_char().as_ref().clone(), &["strftime"]),
        (
            datetime::to_timestamp(&config).as_ref().clone(),
            &["strptime"],
        ),
    ];
    for (function, names) in scalars {
        ctx.register_udf(function.with_aliases(names.iter().copied()));
    }
    let variance: AggregateUDF = var_samp_udaf().as_ref().clone();
    ctx.register_udaf(variance.with_aliases(["variance"]));
}

/// DuckDB's one-argument date-part functions and the part each extracts.
const DATE_PARTS: [(&str, &str); 13] = [
    ("year", "year"),
    ("quarter", "quarter"),
    ("month", "month"),
    ("week", "week"),
    ("weekofyear", "week"),
    ("day", "day"),
    ("dayofmonth", "day"),
    ("dayofweek", "dow"),
    ("dayofyear", "doy"),
    ("hour", "hour"),
    ("minute", "minute"),
    ("second", "second"),
    ("epoch", "epoch"),
];

/// Rewrites `year(d)` and its siblings ([`DATE_PARTS`]) as `date_part('year', d)`.
pub fn date_part_shorthands(statement: &mut Statement) {
    let _ = statement.visit(&mut DatePartShorthands);
}

struct DatePartShorthands;

impl VisitorMut for DatePartShorthands {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Expr::Function(call) = expr else {
            return ControlFlow::Continue(());
        };
        let [name] = call.name.0.as_slice() else {
            return ControlFlow::Continue(());
        };
        let Some(name) = name.as_ident().map(|i| i.value.to_lowercase()) else {
            return ControlFlow::Continue(());
        };
        let Some((_, part)) = DATE_PARTS.iter().find(|(shorthand, _)| *shorthand == name) else {
            return ControlFlow::Continue(());
        };
        let FunctionArguments::List(list) = &mut call.args else {
            return ControlFlow::Continue(());
        };
        if list.args.len() != 1 || call.over.is_some() {
            return ControlFlow::Continue(());
        }
        let part = Expr::value(Value::SingleQuotedString((*part).to_string()));
        list.args
            .insert(0, FunctionArg::Unnamed(FunctionArgExpr::Expr(part)));
        call.name = ObjectName::from(vec![Ident::new("date_part")]);
        ControlFlow::Continue(())
    }
}
