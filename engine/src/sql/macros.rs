//! DuckDB functions that are DataFusion expressions in another form, defined the way DuckDB
//! defines many of its own built-ins: as SQL macros. A call `name(a, b)` becomes the macro's
//! body with `$1`, `$2` replaced by the argument expressions (an argument used twice is
//! evaluated twice, as in DuckDB's macros).
//!
//! The rewrite runs on the syntax tree after the result columns are named, so a column is still
//! called `count_if((x > 1))`.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Value, VisitMut, VisitorMut};

/// A macro: DuckDB's names for the function, its argument count, and its body in SQL.
struct Macro {
    names: &'static [&'static str],
    arity: usize,
    body: &'static str,
}

const MACROS: &[Macro] = &[
    Macro {
        names: &["mod"],
        arity: 2,
        body: "$1 % $2",
    },
    Macro {
        names: &["ceiling"],
        arity: 1,
        body: "ceil($1)",
    },
    // The mean of `x` weighted by `w` over the rows where both are known (NaN where the
    // weights add up to 0, as DuckDB's).
    Macro {
        names: &["weighted_avg", "wavg"],
        arity: 2,
        body: "sum(CAST($1 AS DOUBLE) * $2) / \
               sum(CASE WHEN $1 IS NOT NULL THEN CAST($2 AS DOUBLE) END)",
    },
    // The standard error of the mean, DuckDB's: the population deviation over sqrt(count).
    Macro {
        names: &["sem"],
        arity: 1,
        body: "stddev_pop($1) / sqrt(count($1))",
    },
    Macro {
        names: &["list_sem"],
        arity: 1,
        body: "list_stddev_pop($1) / sqrt(list_count($1))",
    },
    Macro {
        names: &["days_in_month"],
        arity: 1,
        body: "date_part('day', last_day($1))",
    },
    Macro {
        names: &["to_quarters"],
        arity: 1,
        body: "to_months($1 * 3)",
    },
    Macro {
        names: &["map_contains_value"],
        arity: 2,
        body: "list_contains(map_values($1), $2)",
    },
    Macro {
        names: &["map_extract_value"],
        arity: 2,
        body: "($1)[$2]",
    },
    // The product's root as the mean of logarithms: 0 with a zero, NaN with a negative.
    Macro {
        names: &["geomean", "geometric_mean"],
        arity: 1,
        body: "exp(avg(ln(CAST($1 AS DOUBLE))))",
    },
    Macro {
        names: &["if"],
        arity: 3,
        body: "CASE WHEN $1 THEN $2 ELSE $3 END",
    },
    // count() counts the non-null values: the rows where the condition is true.
    Macro {
        names: &["count_if", "countif"],
        arity: 1,
        body: "count(CASE WHEN $1 THEN 1 END)",
    },
    Macro {
        names: &["isinf"],
        arity: 1,
        body: "abs(CAST($1 AS DOUBLE)) = CAST('inf' AS DOUBLE)",
    },
    Macro {
        names: &["isfinite"],
        arity: 1,
        body: "NOT isnan(CAST($1 AS DOUBLE)) AND abs(CAST($1 AS DOUBLE)) <> CAST('inf' AS DOUBLE)",
    },
    Macro {
        names: &["last_day"],
        arity: 1,
        body: "CAST(date_trunc('month', $1) + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE)",
    },
    // The code point of the first character; -1 for the empty string.
    Macro {
        names: &["unicode", "ord"],
        arity: 1,
        body: "CASE WHEN length($1) = 0 THEN -1 ELSE ascii($1) END",
    },
    // DuckDB's long periods from the year: the 21st century and the 3rd millennium start in
    // 2001, the 202nd decade in 2020; the era is 1 AD and 0 BC.
    Macro {
        names: &["century"],
        arity: 1,
        body: "CASE WHEN date_part('year', $1) > 0 \
               THEN (CAST(date_part('year', $1) AS BIGINT) - 1) / 100 + 1 \
               ELSE CAST(date_part('year', $1) AS BIGINT) / 100 - 1 END",
    },
    Macro {
        names: &["millennium"],
        arity: 1,
        body: "CASE WHEN date_part('year', $1) > 0 \
               THEN (CAST(date_part('year', $1) AS BIGINT) - 1) / 1000 + 1 \
               ELSE CAST(date_part('year', $1) AS BIGINT) / 1000 - 1 END",
    },
    Macro {
        names: &["decade"],
        arity: 1,
        body: "CAST(date_part('year', $1) AS BIGINT) / 10",
    },
    Macro {
        names: &["era"],
        arity: 1,
        body: "CASE WHEN date_part('year', $1) > 0 THEN CAST(1 AS BIGINT) ELSE 0 END",
    },
    // The Julian day number, with the time of day as a fraction: 2440588 is 1970-01-01.
    Macro {
        names: &["julian"],
        arity: 1,
        body: "CAST(date_part('epoch', $1) AS DOUBLE) / 86400 + 2440588",
    },
    // From microseconds or nanoseconds since the epoch.
    Macro {
        names: &["make_timestamp"],
        arity: 1,
        body: "to_timestamp_micros($1)",
    },
    Macro {
        names: &["make_timestamp_ns"],
        arity: 1,
        body: "to_timestamp_nanos($1)",
    },
    // Division rounded down, and the remainder that goes with it (the divisor's sign, where
    // C's fmod takes the dividend's), as DOUBLEs.
    Macro {
        names: &["fdiv"],
        arity: 2,
        body: "floor(CAST($1 AS DOUBLE) / CAST($2 AS DOUBLE))",
    },
    Macro {
        names: &["fmod"],
        arity: 2,
        body: "CAST($1 AS DOUBLE) - floor(CAST($1 AS DOUBLE) / CAST($2 AS DOUBLE)) * CAST($2 AS DOUBLE)",
    },
    Macro {
        names: &["dayname"],
        arity: 1,
        body: "to_char($1, '%A')",
    },
    Macro {
        names: &["monthname"],
        arity: 1,
        body: "to_char($1, '%B')",
    },
    // DuckDB's answer is a TIMESTAMP, also for a DATE.
    Macro {
        names: &["date_add"],
        arity: 2,
        body: "CAST($1 AS TIMESTAMP) + $2",
    },
    Macro {
        names: &["today"],
        arity: 0,
        body: "current_date",
    },
    // From microseconds since the epoch: DataFusion multiplies no interval by a column. The
    // seconds may have a fraction; a timestamp holds microseconds.
    Macro {
        names: &["make_timestamp"],
        arity: 6,
        body: "to_timestamp_micros(\
               CAST(date_part('epoch', CAST(make_date($1, $2, $3) AS TIMESTAMP)) AS BIGINT) * 1000000 \
               + (CAST($4 AS BIGINT) * 3600 + CAST($5 AS BIGINT) * 60) * 1000000 \
               + CAST(round(CAST($6 AS DOUBLE) * 1000000) AS BIGINT))",
    },
    // The same instant as a TIMESTAMPTZ, the parts read in UTC (DuckDB reads them in the
    // session's time zone, UTC unless set).
    Macro {
        names: &["make_timestamptz"],
        arity: 6,
        body: "CAST(make_timestamp($1, $2, $3, $4, $5, $6) AS TIMESTAMPTZ)",
    },
    // DuckDB's seconds may have a fraction (DataFusion's make_time takes whole seconds, as a
    // TIME of seconds); a TIME holds them to the microsecond here.
    Macro {
        names: &["make_time"],
        arity: 3,
        body: "CAST(make_time($1, $2, 0) AS TIME) + tarn_interval_times(\
               CAST(round(CAST($3 AS DOUBLE) * 1000000) AS BIGINT), INTERVAL '1 microsecond')",
    },
    // DuckDB defines these two as macros too (so they take no FILTER either); a repeated key
    // is an error here, where DuckDB writes it twice.
    Macro {
        names: &["json_group_array"],
        arity: 1,
        body: "to_json(array_agg($1))",
    },
    Macro {
        names: &["json_group_object"],
        arity: 2,
        body: "to_json(map(array_agg($1), array_agg($2)))",
    },
    // The bits set in one of the two: no bit of `a & b` is in `(a | b) - (a & b)`, so the
    // subtraction never borrows.
    Macro {
        names: &["xor"],
        arity: 2,
        body: "($1 | $2) - ($1 & $2)",
    },
    // The ISO year and week as one number: 2025 01 for 2024-12-30, a Monday.
    Macro {
        names: &["yearweek"],
        arity: 1,
        body: "CAST(date_part('isoyear', $1) AS BIGINT) * 100 + date_part('week', $1)",
    },
    // Away from zero to the next even integer, as a DOUBLE.
    Macro {
        names: &["even"],
        arity: 1,
        body: "sign(CAST($1 AS DOUBLE)) * ceil(abs(CAST($1 AS DOUBLE)) / 2) * 2",
    },
    // DuckDB sorts a list's NULLs last, DataFusion's array_sort first.
    Macro {
        names: &["list_sort", "array_sort"],
        arity: 1,
        body: "array_sort($1, 'ASC', 'NULLS LAST')",
    },
    Macro {
        names: &["list_sort", "array_sort"],
        arity: 2,
        body: "array_sort($1, $2, 'NULLS LAST')",
    },
    Macro {
        names: &["list_reverse_sort", "array_reverse_sort"],
        arity: 1,
        body: "array_sort($1, 'DESC', 'NULLS LAST')",
    },
    // DuckDB's digests are hex text; DataFusion's sha256 gives the bytes.
    Macro {
        names: &["sha256"],
        arity: 1,
        body: "encode(sha256($1), 'hex')",
    },
    // DuckDB leaves NULLs out of a list's distinct values; DataFusion keeps one.
    Macro {
        names: &["list_distinct", "array_distinct"],
        arity: 1,
        body: "array_distinct(array_filter($1, lambda x: x IS NOT NULL))",
    },
    // The subscripts of a list's first dimension, as rows; another dimension gives none.
    Macro {
        names: &["generate_subscripts"],
        arity: 2,
        body: "unnest(generate_series(1, CASE WHEN $2 = 1 THEN len($1) END))",
    },
    Macro {
        names: &["list_unique", "array_unique"],
        arity: 1,
        body: "cardinality(array_distinct(array_filter($1, lambda x: x IS NOT NULL)))",
    },
    // With one argument, DuckDB's encode is a string's UTF-8 bytes; with two it is
    // DataFusion's base64 or hex, as is decode.
    Macro {
        names: &["encode"],
        arity: 1,
        body: "CAST($1 AS BYTEA)",
    },
    // And decode is the text those bytes spell (a cast to VARCHAR escapes bytes as \xC3,
    // as DuckDB's cast does); bytes that are not UTF-8 fail.
    Macro {
        names: &["decode"],
        arity: 1,
        body: "arrow_cast($1, 'Utf8')",
    },
    // A row per piece, as unnest makes them.
    Macro {
        names: &["regexp_split_to_table"],
        arity: 2,
        body: "unnest(regexp_split_to_array($1, $2))",
    },
    // The elements at the given (1-based) positions, NULL past the end; NULL for a NULL list
    // (the positions alone gave a list of NULLs). The lambda's name is one no argument can mean.
    Macro {
        names: &["list_select", "array_select"],
        arity: 2,
        body: "CASE WHEN $1 IS NOT NULL THEN list_transform($2, lambda __tarn_i: $1[__tarn_i]) END",
    },
    // The mean over fsum's compensated sum.
    Macro {
        names: &["favg"],
        arity: 1,
        body: "fsum($1) / count($1)",
    },
    // The k most frequent values, most frequent first (ties by value), counted exactly.
    Macro {
        names: &["approx_top_k"],
        arity: 2,
        body: "list_transform(list_sort(list_transform(map_entries(histogram($1)), \
               e -> {'c': -CAST(e['value'] AS BIGINT), 'k': e['key']})), e -> e['k'])[1:$2]",
    },
    // RE2's QuoteMeta, as DuckDB: a backslash before every ASCII character but letters,
    // digits and `_`.
    Macro {
        names: &["regexp_escape"],
        arity: 1,
        body: r"regexp_replace($1, '([^0-9A-Za-z_\x{80}-\x{10FFFF}])', '\\\1', 'g')",
    },
    Macro {
        names: &["pg_typeof"],
        arity: 1,
        body: "lower(typeof($1))",
    },
    // A session's tables live in DuckDB's in-memory database.
    Macro {
        names: &["current_database"],
        arity: 0,
        body: "'memory'",
    },
    // Intervals from a count of units (see `interval_times`).
    Macro {
        names: &["to_millennia"],
        arity: 1,
        body: "tarn_interval_times($1, INTERVAL '1000 years')",
    },
    Macro {
        names: &["to_centuries"],
        arity: 1,
        body: "tarn_interval_times($1, INTERVAL '100 years')",
    },
    Macro {
        names: &["to_decades"],
        arity: 1,
        body: "tarn_interval_times($1, INTERVAL '10 years')",
    },
    Macro {
        names: &["to_years"],
        arity: 1,
        body: "tarn_interval_times($1, INTERVAL '1 year')",
    },
    Macro {
        names: &["to_months"],
        arity: 1,
        body: "tarn_interval_times($1, INTERVAL '1 month')",
    },
    Macro {
        names: &["to_weeks"],
        arity: 1,
        body: "tarn_interval_times($1, INTERVAL '7 days')",
    },
    Macro {
        names: &["to_days"],
        arity: 1,
        body: "tarn_interval_times($1, INTERVAL '1 day')",
    },
    Macro {
        names: &["to_hours"],
        arity: 1,
        body: "tarn_interval_times($1, INTERVAL '1 hour')",
    },
    Macro {
        names: &["to_minutes"],
        arity: 1,
        body: "tarn_interval_times($1, INTERVAL '1 minute')",
    },
    Macro {
        names: &["to_seconds"],
        arity: 1,
        body: "tarn_interval_times($1, INTERVAL '1 second')",
    },
    Macro {
        names: &["to_milliseconds"],
        arity: 1,
        body: "tarn_interval_times($1, INTERVAL '1 millisecond')",
    },
    Macro {
        names: &["to_microseconds"],
        arity: 1,
        body: "tarn_interval_times($1, INTERVAL '1 microsecond')",
    },
    // Whether a map has a key; NULL for a NULL map.
    Macro {
        names: &["map_contains"],
        arity: 2,
        body: "list_contains(map_keys($1), $2)",
    },
    // The elements of $1 at the places where the mask $2 is true (NULL past $1's end); the
    // lambdas' names are ones no argument can mean.
    Macro {
        names: &["list_where", "array_where"],
        arity: 2,
        body: "CASE WHEN $1 IS NOT NULL THEN list_transform(list_filter(\
               list_transform($2, lambda __tarn_m, __tarn_i: CASE WHEN __tarn_m THEN __tarn_i END), \
               lambda __tarn_i: __tarn_i IS NOT NULL), lambda __tarn_i: $1[__tarn_i]) END",
    },
    // The places of $1's elements in sorted order, ties in place order, NULLs last: each
    // element sorted with its place (negated for DESC, so that ties stay in place order).
    Macro {
        names: &["list_grade_up", "array_grade_up", "grade_up"],
        arity: 1,
        body: "list_transform(list_sort(list_transform($1, lambda __tarn_x, __tarn_i: \
               {'v': __tarn_x, 'i': __tarn_i}), 'ASC', 'NULLS LAST'), lambda __tarn_s: __tarn_s['i'])",
    },
    Macro {
        names: &["list_grade_up", "array_grade_up", "grade_up"],
        arity: 2,
        body: "CASE WHEN upper($2) = 'DESC' THEN list_transform(list_sort(list_transform($1, \
               lambda __tarn_x, __tarn_i: {'v': __tarn_x, 'i': -__tarn_i}), 'DESC', 'NULLS LAST'), \
               lambda __tarn_s: -__tarn_s['i']) ELSE list_grade_up($1) END",
    },
    Macro {
        names: &["regexp_full_match"],
        arity: 2,
        body: "regexp_like($1, concat('^(?:', $2, ')$'))",
    },
];

/// Each macro's names with its body, for `duckdb_functions()`.
pub fn definitions() -> impl Iterator<Item = (&'static str, &'static str)> {
    MACROS
        .iter()
        .flat_map(|m| m.names.iter().map(move |name| (*name, m.body)))
}

/// Whether a macro has this name (checked before a call's arguments are gathered).
pub fn defines(name: &str) -> bool {
    MACROS.iter().any(|m| m.names.contains(&name))
}

/// The expansion of `name(args)` when a macro of that name takes that many arguments.
pub fn expand(name: &str, args: &[Expr]) -> Option<Expr> {
    let definition = MACROS
        .iter()
        .find(|m| m.names.contains(&name) && m.arity == args.len())?;
    let mut body =
        super::dialect::parse_expr(definition.body).expect("a macro's body is valid SQL");
    // The macros a body calls expand first, their arguments still placeholders.
    let _ = body.visit(&mut InnerCalls(name, args.len()));
    let _ = body.visit(&mut Arguments(args));
    Some(body)
}

/// Expands the calls of macros inside the body of the macro it names, with its argument count;
/// a body's call of itself (`make_time` over DataFusion's `make_time`) is the function it wraps.
struct InnerCalls<'a>(&'a str, usize);

impl VisitorMut for InnerCalls<'_> {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Function(call) = expr
            && let Some(name) = super::function_names::plain_name(&call.name)
            && let Some(args) = super::function_names::plain_arguments(call)
            && (name != self.0 || args.len() != self.1)
            && let Some(expansion) = expand(&name, &args)
        {
            *expr = Expr::Nested(Box::new(expansion));
        }
        ControlFlow::Continue(())
    }
}

/// Replaces the placeholders `$1`, `$2`, ... with the arguments.
struct Arguments<'a>(&'a [Expr]);

impl VisitorMut for Arguments<'_> {
    type Break = ();

    // After the children: an argument put in place is not visited again.
    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Value(value) = expr
            && let Value::Placeholder(name) = &value.value
            && let Some(index) = name.strip_prefix('$').and_then(|n| n.parse::<usize>().ok())
        {
            *expr = Expr::Nested(Box::new(self.0[index - 1].clone()));
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_body_parses_and_uses_its_arguments() {
        for m in MACROS {
            let args: Vec<Expr> = (0..m.arity)
                .map(|i| Expr::Identifier(sqlparser::ast::Ident::new(format!("arg{i}"))))
                .collect();
            for name in m.names {
                let text = expand(name, &args).unwrap().to_string();
                let placeholder = (1..=9).any(|i| text.contains(&format!("${i}")));
                assert!(!placeholder, "{name}: {text}");
                for i in 0..m.arity {
                    assert!(text.contains(&format!("arg{i}")), "{name}: {text}");
                }
            }
        }
        assert!(expand("if", &[]).is_none());
    }
}
