//! DuckDB's long periods, which DataFusion's `date_part` refuses: the decade, century,
//! millennium and era of a date or timestamp. `date_part('century', d)`, `datepart(...)` and
//! `EXTRACT(CENTURY FROM d)` become calls of DuckDB's one-argument functions `decade(d)`,
//! `century(d)`, `millennium(d)` and `era(d)`, which `super::macros` defines from the year.
//!
//! `date_trunc`, `date_diff` and `date_sub` know these periods themselves (`super::date_trunc`,
//! `super::date_diff`).

use sqlparser::ast::{DateTimeField, Expr};

use super::function_names::{plain_arguments, plain_name};
use super::rewrite::call;

/// The long periods, by DuckDB's names.
const PERIODS: [&str; 4] = ["decade", "century", "millennium", "era"];

/// Rewrites `expr` where it asks for a long period (see the module documentation).
pub(super) fn rewrite(expr: &mut Expr) {
    if let Expr::Extract {
        field, expr: value, ..
    } = expr
        && let Some(period) = extracted_period(field)
    {
        *expr = call(period, [value.as_ref().clone()]);
        return;
    }
    let Expr::Function(function) = expr else {
        return;
    };
    let Some(name) = plain_name(&function.name) else {
        return;
    };
    let Some(args) = plain_arguments(function) else {
        return;
    };
    let [Expr::Value(part), value] = args.as_slice() else {
        return;
    };
    let Some(part) = part.value.clone().into_string() else {
        return;
    };
    if !matches!(name.as_str(), "date_part" | "datepart") {
        return;
    }
    if let Some(period) = PERIODS.iter().find(|p| part.eq_ignore_ascii_case(p)) {
        *expr = call(period, [value.clone()]);
    }
}

fn extracted_period(field: &DateTimeField) -> Option<&'static str> {
    Some(match field {
        DateTimeField::Decade => "decade",
        DateTimeField::Century => "century",
        DateTimeField::Millennium | DateTimeField::Millenium => "millennium",
        DateTimeField::Custom(name) if name.value.eq_ignore_ascii_case("era") => "era",
        _ => return None,
    })
}
