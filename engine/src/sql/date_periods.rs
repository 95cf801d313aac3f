//! DuckDB's long periods, which DataFusion's `date_part` and `date_trunc` refuse: the decade,
//! century, millennium and era of a date or timestamp.
//!
//! * `date_part('century', d)`, `datepart(...)` and `EXTRACT(CENTURY FROM d)` become calls of
//!   DuckDB's one-argument functions `decade(d)`, `century(d)`, `millennium(d)` and `era(d)`,
//!   which `super::macros` defines from the year.
//! * `date_trunc('decade' | 'century' | 'millennium', d)` becomes the TIMESTAMP of January 1st
//!   of the year cut to 10, 100 or 1000 years: DuckDB's `date_trunc('century', DATE
//!   '2024-05-05')` is 2000-01-01, though `century` counts the 21st from 2001.
//!
//! `date_diff` and `date_sub` count these periods themselves (`super::date_diff`).

use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, DateTimeField, Expr, TimezoneInfo, Value,
};

use super::function_names::{plain_arguments, plain_name};
use super::rewrite::call;

/// The long periods, by DuckDB's names, with their length in years (the era has none).
const PERIODS: [(&str, Option<i64>); 4] = [
    ("decade", Some(10)),
    ("century", Some(100)),
    ("millennium", Some(1000)),
    ("era", None),
];

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
    let Some((period, years)) = PERIODS
        .iter()
        .find(|(period, _)| part.eq_ignore_ascii_case(period))
    else {
        return;
    };
    match name.as_str() {
        "date_part" | "datepart" => *expr = call(period, [value.clone()]),
        "date_trunc" | "datetrunc" => {
            if let Some(years) = years {
                *expr = first_day_of_period(value.clone(), *years);
            }
        }
        _ => {}
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

/// January 1st, as a TIMESTAMP, of `value`'s year cut down to a multiple of `years`.
fn first_day_of_period(value: Expr, years: i64) -> Expr {
    let years = Expr::value(Value::Number(years.to_string(), false));
    let year = call(
        "date_part",
        [Expr::value(Value::SingleQuotedString("year".into())), value],
    );
    let cast = |expr: Expr, data_type: DataType| Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(expr),
        data_type,
        array: false,
        format: None,
    };
    let binary = |left: Expr, op: BinaryOperator, right: Expr| Expr::BinaryOp {
        left: Box::new(left),
        op,
        right: Box::new(right),
    };
    // Planned after DuckDB's `/` became its own function: this one divides integers.
    let cut = binary(
        binary(
            cast(year, DataType::Int(None)),
            BinaryOperator::Divide,
            years.clone(),
        ),
        BinaryOperator::Multiply,
        years,
    );
    let one = || Expr::value(Value::Number("1".into(), false));
    cast(
        call("make_date", [cut, one(), one()]),
        DataType::Timestamp(None, TimezoneInfo::None),
    )
}
