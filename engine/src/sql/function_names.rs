//! DuckDB's names for functions DataFusion has under other names or forms.
//!
//! * [`register_aliases`]: the same function, another name (`list_value` and `list_pack` are
//!   `make_array`, `variance` is `var_samp`, `first` is `first_value`, `list` is `array_agg`,
//!   Tarn's, as `string_agg` is: see [`super::ordered_aggregates`]).
//! * [`duckdb_calls`]: calls DataFusion spells another way, rewritten in the syntax tree
//!   (after the result columns are named, so a column is still called `year(d)`): the
//!   one-argument date parts (`year(d)` is `date_part('year', d)`), `arg_max(a, b)` / `max_by`
//!   and `arg_min` / `min_by` (Tarn's aggregates, see [`super::arg_best`]), their top-n forms with `max(x, n)` and
//!   `min(x, n)` (lists; see [`top_n`]); `substring`, which the parser reads as
//!   syntax, as a call of DuckDB's `substring`; a quantile aggregate over a list of quantiles
//!   as a list of aggregates (see [`quantiles_one_by_one`]); and the functions [`super::macros`] defines
//!   in SQL (`mod(a, b)` is `a % b`, `count_if(c)` is `count(CASE WHEN c THEN 1 END)`).

use std::ops::ControlFlow;

use datafusion::functions_aggregate::first_last::{first_value_udaf, last_value_udaf};
use datafusion::functions_aggregate::variance::var_samp_udaf;
use datafusion::functions_nested::make_array::make_array_udf;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;
use sqlparser::ast::helpers::attached_token::AttachedToken;
use sqlparser::ast::{
    AccessExpr, BinaryOperator, CaseWhen, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentClause, FunctionArgumentList, FunctionArguments, Ident, LambdaSyntax,
    NullTreatment, ObjectName, OneOrManyWithParens, OrderByExpr, OrderByOptions, Statement,
    Subscript, Value, ValueWithSpan, VisitMut, VisitorMut, visit_expressions_mut,
};

/// Registers DataFusion's functions under DuckDB's names as well.
pub fn register_aliases(ctx: &SessionContext) {
    use datafusion::functions::{core, datetime, regex, string};
    let scalars: [(ScalarUDF, &[&str]); 9] = [
        (core::get_field().as_ref().clone(), &["struct_extract"]),
        (regex::regexp_like().as_ref().clone(), &["regexp_matches"]),
        (
            make_array_udf().as_ref().clone(),
            &["list_value", "list_pack"],
        ),
        (string::starts_with().as_ref().clone(), &["prefix"]),
        (string::ends_with().as_ref().clone(), &["suffix"]),
        (string::upper().as_ref().clone(), &["ucase"]),
        (string::lower().as_ref().clone(), &["lcase"]),
        (datetime::to_char().as_ref().clone(), &["strftime"]),
        (
            string::uuid().as_ref().clone(),
            &["gen_random_uuid", "uuidv4"],
        ),
    ];
    for (function, names) in scalars {
        ctx.register_udf(function.with_aliases(names.iter().copied()));
    }
    let aggregates: [(AggregateUDF, &[&str]); 5] = [
        (var_samp_udaf().as_ref().clone(), &["variance"]),
        (first_value_udaf().as_ref().clone(), &["first", "arbitrary"]),
        (super::ordered_aggregates::OrderedAgg::list(), &["list"]),
        (super::ordered_aggregates::OrderedAgg::string_agg(), &[]),
        (last_value_udaf().as_ref().clone(), &["last"]),
    ];
    for (function, names) in aggregates {
        ctx.register_udaf(function.with_aliases(names.iter().copied()));
    }
}

/// DuckDB's one-argument date-part functions and the part each extracts.
const DATE_PARTS: [(&str, &str); 16] = [
    ("year", "year"),
    ("quarter", "quarter"),
    ("month", "month"),
    ("week", "week"),
    ("weekofyear", "week"),
    ("day", "day"),
    ("dayofmonth", "day"),
    ("dayofweek", "dow"),
    ("weekday", "dow"),
    ("isodow", "isodow"),
    ("isoyear", "isoyear"),
    ("dayofyear", "doy"),
    ("hour", "hour"),
    ("minute", "minute"),
    ("second", "second"),
    ("epoch", "epoch"),
];

/// Rewrites the calls DuckDB spells differently from DataFusion (see the module documentation).
/// `takes_lambda` says whether a function takes lambdas (`list_transform(l, x -> x + 1)`); in
/// any other call, `x -> 'key'` is JSON extraction, as in DuckDB.
pub fn duckdb_calls(statement: &mut Statement, takes_lambda: &dyn Fn(&str) -> bool) {
    let _ = statement.visit(&mut DuckDbCalls { takes_lambda });
}

struct DuckDbCalls<'a> {
    takes_lambda: &'a dyn Fn(&str) -> bool,
}

impl VisitorMut for DuckDbCalls<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        lambda_fields_as_calls(expr);
        qualified_method_call(expr);
        super::try_expr::rewrite(expr);
        if let Expr::Function(call) = expr
            && plain_name(&call.name).is_some_and(|name| (self.takes_lambda)(&name))
        {
            keep_lambdas(call);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        arrow_as_json(expr);
        access_chain_as_calls(expr);
        struct_extract_as_subscript(expr);
        super::date_periods::rewrite(expr);
        super::strptime::strftime_in_chrono_spelling(expr);
        // The parser reads `substring(s, a, b)` and `SUBSTRING(s FROM a FOR b)` as syntax,
        // which DataFusion plans with its own function; as a call, it finds Tarn's
        // (`substring::DuckSubstring`).
        if let Expr::Substring {
            expr: text,
            substring_from,
            substring_for,
            ..
        } = expr
        {
            let start = substring_from
                .take()
                .map_or_else(|| Expr::value(Value::Number("1".into(), false)), |e| *e);
            let mut args = vec![*text.clone(), start];
            args.extend(substring_for.take().map(|e| *e));
            *expr = super::rewrite::call("substr", args);
            return ControlFlow::Continue(());
        }
        let Expr::Function(call) = expr else {
            return ControlFlow::Continue(());
        };
        let Some(name) = plain_name(&call.name) else {
            return ControlFlow::Continue(());
        };
        if name == "struct_pack"
            && let Some(fields) = packed_fields(call)
        {
            let args = fields
                .into_iter()
                .flat_map(|(name, value)| [Expr::value(Value::SingleQuotedString(name)), value]);
            *expr = super::rewrite::call("named_struct", args);
            return ControlFlow::Continue(());
        }
        // `regexp_extract(s, pattern, ['a', 'b'] [, options])`: the names as literals.
        if name == "regexp_extract"
            && let Some(args) = plain_arguments(call)
            && let Some(named) = regexp_extract_named(args)
        {
            *expr = named;
            return ControlFlow::Continue(());
        }
        // `struct_insert(s, b := 2)`: the new fields as one struct (see `struct_fields`).
        if name == "struct_insert"
            && let Some((base, fields)) = base_and_named_arguments(call)
        {
            let args = fields
                .into_iter()
                .flat_map(|(name, value)| [Expr::value(Value::SingleQuotedString(name)), value]);
            let added = super::rewrite::call("named_struct", args);
            *expr = super::rewrite::call("struct_insert", [base, added]);
            return ControlFlow::Continue(());
        }
        // Over a window DataFusion plans `first_value` and `last_value` with window functions
        // it finds by the call's name, and knows DuckDB's other names for them only as
        // aggregates.
        if call.over.is_some()
            && let Some(window_name) = match name.as_str() {
                "first" | "arbitrary" => Some("first_value"),
                "last" => Some("last_value"),
                _ => None,
            }
        {
            call.name = ObjectName::from(vec![Ident::new(window_name)]);
            return ControlFlow::Continue(());
        }
        if let Some(Expr::Function(mut quantile)) = ordered_set_as_quantile(&name, call) {
            quantile.filter = call.filter.take();
            quantile.over = call.over.take();
            *expr = quantiles_one_by_one(&quantile).unwrap_or(Expr::Function(quantile));
            return ControlFlow::Continue(());
        }
        // `string_agg(s)` (also `group_concat`, `listagg`): DuckDB's separator is a comma.
        if let Some(joined) = string_agg_with_separator(&name, call) {
            *expr = joined;
            return ControlFlow::Continue(());
        }
        // `any_value(x ORDER BY t)`: DuckDB's first x that is not NULL in t's order, which
        // DataFusion's `any_value` ignores.
        if name == "any_value"
            && call.over.is_none()
            && let FunctionArguments::List(list) = &call.args
            && list
                .clauses
                .iter()
                .any(|c| matches!(c, FunctionArgumentClause::OrderBy(_)))
        {
            call.name = ObjectName::from(vec![Ident::new("first_value")]);
            call.null_treatment = Some(NullTreatment::IgnoreNulls);
            return ControlFlow::Continue(());
        }
        if super::macros::defines(&name)
            && let Some(args) = plain_arguments(call)
            && let Some(mut expansion) = super::macros::expand(&name, &args)
        {
            // `count_if(c) OVER (...)` and `FILTER (WHERE ...)`: the clauses go to the call
            // the macro is (`count(...)`); a macro that is no call takes none.
            if call.over.is_some() || call.filter.is_some() {
                let Expr::Function(inner) = &mut expansion else {
                    return ControlFlow::Continue(());
                };
                inner.over = call.over.take();
                inner.filter = call.filter.take();
            }
            *expr = Expr::Nested(Box::new(expansion));
            return ControlFlow::Continue(());
        }
        if QUANTILES.contains(&name.as_str())
            && let Some(answers) = quantiles_one_by_one(call)
        {
            *expr = answers;
            return ControlFlow::Continue(());
        }
        let rewritten = DATE_PARTS.iter().any(|(shorthand, _)| *shorthand == name)
            || ["arg_max", "max_by", "arg_min", "min_by", "max", "min"].contains(&name.as_str());
        if !rewritten {
            return ControlFlow::Continue(());
        }
        let FunctionArguments::List(list) = &mut call.args else {
            return ControlFlow::Continue(());
        };
        let Some(args) = unnamed_arguments(&list.args) else {
            return ControlFlow::Continue(());
        };
        // Tarn's own aggregate (see `arg_best`), over a window too.
        let best = match name.as_str() {
            "arg_max" | "max_by" => Some(super::arg_best::Best::Max),
            "arg_min" | "min_by" => Some(super::arg_best::Best::Min),
            _ => None,
        };
        if let (Some(best), [_, _]) = (best, args.as_slice())
            && list.clauses.is_empty()
        {
            call.name = ObjectName::from(vec![Ident::new(super::arg_best::name(best))]);
            return ControlFlow::Continue(());
        }
        if call.over.is_some() {
            return ControlFlow::Continue(());
        }
        if let (Some((_, part)), [_]) = (
            DATE_PARTS.iter().find(|(shorthand, _)| *shorthand == name),
            args.as_slice(),
        ) {
            let part = Expr::value(Value::SingleQuotedString((*part).to_string()));
            list.args
                .insert(0, FunctionArg::Unnamed(FunctionArgExpr::Expr(part)));
            call.name = ObjectName::from(vec![Ident::new("date_part")]);
            return ControlFlow::Continue(());
        }
        let top = match (name.as_str(), args.as_slice()) {
            ("max" | "min", [value, n]) => Some((value, value, n)),
            ("arg_max" | "max_by" | "arg_min" | "min_by", [value, by, n]) => Some((value, by, n)),
            _ => None,
        };
        if let Some((value, by, n)) = top
            && list.clauses.is_empty()
        {
            let descending = matches!(name.as_str(), "max" | "arg_max" | "max_by");
            *expr = top_n(call, value, by, n, descending);
            return ControlFlow::Continue(());
        }
        ControlFlow::Continue(())
    }
}

/// `string_agg(s [ORDER BY ...])` and DuckDB's other names for it, `group_concat` and
/// `listagg`, as DataFusion's `string_agg`, with a comma for the separator where none is given.
/// `None` for any other call.
fn string_agg_with_separator(name: &str, call: &Function) -> Option<Expr> {
    if !["string_agg", "group_concat", "listagg"].contains(&name) {
        return None;
    }
    let FunctionArguments::List(list) = &call.args else {
        return None;
    };
    if name == "string_agg" && list.args.len() != 1 {
        return None;
    }
    let mut joined = call.clone();
    joined.name = ObjectName::from(vec![Ident::new("string_agg")]);
    if let FunctionArguments::List(list) = &mut joined.args
        && list.args.len() == 1
    {
        let comma = Expr::value(Value::SingleQuotedString(",".to_string()));
        list.args
            .push(FunctionArg::Unnamed(FunctionArgExpr::Expr(comma)));
    }
    Some(Expr::Function(joined))
}

/// The exact quantile aggregates, which DuckDB also gives a list of quantiles
/// (`approx_quantile` takes one itself).
const QUANTILES: [&str; 4] = [
    "quantile",
    "quantile_disc",
    "quantile_cont",
    "reservoir_quantile",
];

/// A quantile aggregate over a list of quantiles, DuckDB's list of answers:
/// `quantile_cont(x, [0.25, 0.75])` is `CASE WHEN count(x) > 0 THEN [quantile_cont(x, 0.25),
/// quantile_cont(x, 0.75)] END`, each call with the clauses written (NULL, not a list of NULLs,
/// where no value is counted). None where the second argument is no list literal, or in a
/// window.
fn quantiles_one_by_one(call: &Function) -> Option<Expr> {
    let FunctionArguments::List(list) = &call.args else {
        return None;
    };
    if call.over.is_some() {
        return None;
    }
    let [
        _,
        FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Array(quantiles))),
    ] = list.args.as_slice()
    else {
        return None;
    };
    let answers = quantiles.elem.iter().map(|quantile| {
        let mut one = call.clone();
        if let FunctionArguments::List(list) = &mut one.args {
            list.args[1] = FunctionArg::Unnamed(FunctionArgExpr::Expr(quantile.clone()));
        }
        Expr::Function(one)
    });
    let mut count = call.clone();
    count.name = ObjectName::from(vec![Ident::new("count")]);
    if let FunctionArguments::List(list) = &mut count.args {
        list.args.truncate(1);
    }
    Some(Expr::Case {
        case_token: AttachedToken::empty(),
        end_token: AttachedToken::empty(),
        operand: None,
        conditions: vec![CaseWhen {
            condition: Expr::BinaryOp {
                left: Box::new(Expr::Function(count)),
                op: BinaryOperator::Gt,
                right: Box::new(Expr::value(Value::Number("0".into(), false))),
            },
            result: Expr::Array(sqlparser::ast::Array {
                elem: answers.collect(),
                named: false,
            }),
        }],
        else_result: None,
    })
}

/// DuckDB's top-n forms, `max(x, n)` and `arg_max(v, by, n)` (and `min`, `arg_min`, `max_by`,
/// `min_by`): the list of the `n` values with the largest (smallest) `by`, largest first,
/// over the rows where the value and `by` are not NULL; `list_slice(list(v ORDER BY by DESC)
/// FILTER (WHERE ...), 1, n)`. The rows are gathered whole before the slice (DuckDB keeps a
/// heap of n).
fn top_n(call: &Function, value: &Expr, by: &Expr, n: &Expr, descending: bool) -> Expr {
    let known = |e: &Expr| Expr::IsNotNull(Box::new(e.clone()));
    let mut condition = known(value);
    if by != value {
        condition = and(condition, known(by));
    }
    if let Some(filter) = &call.filter {
        condition = and(Expr::Nested(filter.clone()), condition);
    }
    let mut gathered = call.clone();
    gathered.name = ObjectName::from(vec![Ident::new("list")]);
    gathered.filter = Some(Box::new(condition));
    gathered.args = FunctionArguments::List(FunctionArgumentList {
        duplicate_treatment: None,
        args: vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(value.clone()))],
        clauses: vec![FunctionArgumentClause::OrderBy(vec![OrderByExpr {
            expr: by.clone(),
            options: OrderByOptions {
                asc: Some(!descending),
                nulls_first: None,
            },
            with_fill: None,
        }])],
    });
    let first = Expr::value(Value::Number("1".into(), false));
    super::rewrite::call("list_slice", [Expr::Function(gathered), first, n.clone()])
}

fn and(left: Expr, right: Expr) -> Expr {
    Expr::BinaryOp {
        left: Box::new(left),
        op: BinaryOperator::And,
        right: Box::new(right),
    }
}

/// The parser reads `x -> 'key'` as a lambda wherever it appears. DuckDB reads it as a lambda
/// only as an argument of a function that takes one; elsewhere it is `json_extract(x, 'key')`,
/// the whole expression after the arrow its path, as in DuckDB (`j -> 'a' = 'x'` compares
/// `'a'` with `'x'`; DuckDB too reads a word and an arrow as the start of a lambda).
fn arrow_as_json(expr: &mut Expr) {
    if let Expr::Lambda(lambda) = expr
        && lambda.syntax == LambdaSyntax::Arrow
        && let OneOrManyWithParens::One(param) = &lambda.params
        && param.data_type.is_none()
    {
        let document = Expr::Identifier(param.name.clone());
        *expr = super::rewrite::call(super::json::EXTRACT, [document, *lambda.body.clone()]);
    }
}

/// The leading accesses of `value.field[a:b]...` as calls DataFusion plans on any value:
/// DuckDB's method syntax on a column, `s.lower()` or `t.s.lower()`, which the parser reads as
/// a call of a function named `s.lower`: the call `lower(s)` (DataFusion has no functions in
/// schemas, so such a name could mean nothing else). Rewritten before the call's arguments are
/// visited, so a lambda among them is seen as one.
fn qualified_method_call(expr: &mut Expr) {
    let Expr::Function(call) = expr else {
        return;
    };
    let Some((method, receiver)) = call.name.0.split_last() else {
        return;
    };
    let parts: Option<Vec<Ident>> = receiver.iter().map(|p| p.as_ident().cloned()).collect();
    let receiver = match parts.as_deref() {
        None | Some([]) => return,
        Some([column]) => Expr::Identifier(column.clone()),
        Some(path) => Expr::CompoundIdentifier(path.to_vec()),
    };
    let mut method_only = call.clone();
    method_only.name = ObjectName(vec![method.clone()]);
    if takes_receiver(&method_only) {
        *expr = method_call(receiver, &method_only);
    }
}

/// Whether a method's call can take the value it is called on as a first argument: any but
/// one whose argument is a subquery.
fn takes_receiver(method: &Function) -> bool {
    !matches!(method.args, FunctionArguments::Subquery(_))
}

/// `value.method(args)`, DuckDB's method syntax: the call `method(value, args)`.
fn method_call(value: Expr, method: &Function) -> Expr {
    let mut call = method.clone();
    let receiver = FunctionArg::Unnamed(FunctionArgExpr::Expr(value));
    match &mut call.args {
        FunctionArguments::List(list) => list.args.insert(0, receiver),
        FunctionArguments::None => {
            call.args = FunctionArguments::List(FunctionArgumentList {
                duplicate_treatment: None,
                args: vec![receiver],
                clauses: vec![],
            })
        }
        FunctionArguments::Subquery(_) => unreachable!("checked by takes_receiver"),
    }
    Expr::Function(call)
}

/// `.method(args)` on anything as a call (see [`method_call`]), `.field` on anything but a
/// column (`{'a': 1}.a`, `struct_pack(a := 1).a`) as the subscript `value['field']`, which
/// DataFusion's planner takes for any value (`.field` only for a column's fields) and which
/// finds a struct's field whatever its case ([`super::struct_subscripts`]), and a slice
/// `[a:b]` as `list_slice(value, a, b)` (`super::slice`; an omitted bound is the
/// start or the end), which takes strings too. Indexes stay DataFusion's.
fn access_chain_as_calls(expr: &mut Expr) {
    let Expr::CompoundFieldAccess { root, access_chain } = expr else {
        return;
    };
    // `(s).a`: a column in parentheses is the column.
    if let Expr::Nested(inner) = root.as_ref()
        && matches!(
            inner.as_ref(),
            Expr::Identifier(_) | Expr::CompoundIdentifier(_)
        )
    {
        *root = inner.clone();
    }
    let mut is_column = matches!(
        root.as_ref(),
        Expr::Identifier(_) | Expr::CompoundIdentifier(_)
    );
    let mut value = root.as_ref().clone();
    let mut taken = 0;
    // `t.s.upper()`, `t.turns[1].role`: the parser leaves `.s` and `.turns` in the chain; they
    // are part of the column's name.
    if is_column {
        let mut path = match &value {
            Expr::Identifier(part) => vec![part.clone()],
            Expr::CompoundIdentifier(parts) => parts.clone(),
            _ => unreachable!("a column is an identifier"),
        };
        for access in access_chain.iter() {
            let AccessExpr::Dot(Expr::Identifier(part)) = access else {
                break;
            };
            path.push(part.clone());
            taken += 1;
        }
        if taken > 0 {
            value = Expr::CompoundIdentifier(path);
        }
    }
    for access in access_chain.iter().skip(taken) {
        value = match access {
            AccessExpr::Dot(Expr::Identifier(field)) if !is_column => {
                let name = Expr::value(Value::SingleQuotedString(field.value.clone()));
                field_subscript(value, name)
            }
            AccessExpr::Dot(Expr::Function(method)) if takes_receiver(method) => {
                method_call(value, method)
            }
            AccessExpr::Subscript(Subscript::Slice {
                lower_bound,
                upper_bound,
                stride: None,
            }) => {
                let bound = |b: &Option<Expr>, open: &str| {
                    b.clone()
                        .unwrap_or_else(|| Expr::value(Value::Number(open.into(), false)))
                };
                let (lower, upper) = (bound(lower_bound, "1"), bound(upper_bound, "-1"));
                super::rewrite::call("list_slice", [value, lower, upper])
            }
            // An index stays DataFusion's; what follows it is read from its element
            // (`turns[1].content`).
            AccessExpr::Subscript(index @ Subscript::Index { .. }) => Expr::CompoundFieldAccess {
                root: Box::new(value),
                access_chain: vec![AccessExpr::Subscript(index.clone())],
            },
            _ => break,
        };
        is_column = false;
        taken += 1;
    }
    if taken == 0 {
        return;
    }
    access_chain.drain(..taken);
    *expr = match access_chain.is_empty() {
        true => value,
        false => Expr::CompoundFieldAccess {
            root: Box::new(value),
            access_chain: std::mem::take(access_chain),
        },
    };
}

/// `value['field']`, a struct's field or a map's key, as the planner reads it.
fn field_subscript(value: Expr, field: Expr) -> Expr {
    Expr::CompoundFieldAccess {
        root: Box::new(value),
        access_chain: vec![AccessExpr::Subscript(Subscript::Index { index: field })],
    }
}

/// `struct_extract(s, 'field')` as `s['field']`, which finds the field whatever its case, as
/// DuckDB's does; with an integer (a field by position) it stays a call.
fn struct_extract_as_subscript(expr: &mut Expr) {
    let Expr::Function(call) = expr else {
        return;
    };
    if plain_name(&call.name).is_some_and(|name| name == "struct_extract")
        && let Some(args) = plain_arguments(call)
        && let [
            value,
            field @ Expr::Value(ValueWithSpan {
                value: Value::SingleQuotedString(_),
                ..
            }),
        ] = args.as_slice()
    {
        *expr = field_subscript(value.clone(), field.clone());
    }
}

/// `t.content` inside `lambda t: ...`: a field of the lambda's parameter, which DataFusion would
/// look for as a column `content` of a table `t`; as `get_field(t, 'content')` (one call per
/// part, so `t.meta.lang` reaches a nested field).
fn lambda_fields_as_calls(expr: &mut Expr) {
    let Expr::Lambda(lambda) = expr else {
        return;
    };
    let parameters: Vec<String> = lambda.params.iter().map(|p| p.name.value.clone()).collect();
    let _ = visit_expressions_mut(lambda.body.as_mut(), |e| {
        if let Expr::CompoundIdentifier(parts) = e
            && parameters
                .iter()
                .any(|p| p.eq_ignore_ascii_case(&parts[0].value))
        {
            let mut value = Expr::Identifier(parts[0].clone());
            for field in &parts[1..] {
                let name = Expr::value(Value::SingleQuotedString(field.value.clone()));
                value = super::rewrite::call("get_field", [value, name]);
            }
            *e = value;
        }
        ControlFlow::<()>::Continue(())
    });
}

/// `regexp_extract(s, pattern, ['a', 'b'] [, options])` as
/// `tarn_regexp_extract_named(s, pattern, options, 'a', 'b')` (see `text_functions`), when the
/// names are a list of string literals.
fn regexp_extract_named(args: Vec<Expr>) -> Option<Expr> {
    let mut args = args.into_iter();
    let (text, pattern, Some(Expr::Array(names))) = (args.next()?, args.next()?, args.next())
    else {
        return None;
    };
    let literal =
        |e: &Expr| matches!(e, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)));
    if !names.elem.iter().all(literal) {
        return None;
    }
    let options = args
        .next()
        .unwrap_or_else(|| Expr::value(Value::SingleQuotedString(String::new())));
    if args.next().is_some() {
        return None;
    }
    let all = [text, pattern, options].into_iter().chain(names.elem);
    Some(super::rewrite::call(
        super::text_functions::EXTRACT_NAMED,
        all,
    ))
}

/// `struct_pack`'s fields as names and values: each argument named (`a := 1`) or a column,
/// which names its field (`struct_pack(id, t.text)`, as in DuckDB); `None` for anything else.
fn packed_fields(call: &sqlparser::ast::Function) -> Option<Vec<(String, Expr)>> {
    let FunctionArguments::List(list) = &call.args else {
        return None;
    };
    list.args
        .iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(column @ Expr::Identifier(name))) => {
                Some((name.value.clone(), column.clone()))
            }
            FunctionArg::Unnamed(FunctionArgExpr::Expr(
                column @ Expr::CompoundIdentifier(parts),
            )) => Some((parts.last()?.value.clone(), column.clone())),
            named => names_and_values(std::slice::from_ref(named))?.pop(),
        })
        .collect()
}

/// A call's first argument, unnamed, and the rest when each is named (`f(s, a := 1)`).
fn base_and_named_arguments(
    call: &sqlparser::ast::Function,
) -> Option<(Expr, Vec<(String, Expr)>)> {
    let FunctionArguments::List(list) = &call.args else {
        return None;
    };
    let (FunctionArg::Unnamed(FunctionArgExpr::Expr(base)), rest) = list.args.split_first()? else {
        return None;
    };
    Some((base.clone(), names_and_values(rest)?))
}

/// Named arguments as names and values; `None` if one is not named.
fn names_and_values(args: &[FunctionArg]) -> Option<Vec<(String, Expr)>> {
    args.iter()
        .map(|arg| match arg {
            FunctionArg::Named {
                name,
                arg: FunctionArgExpr::Expr(value),
                ..
            } => Some((name.value.clone(), value.clone())),
            FunctionArg::ExprNamed {
                name: Expr::Identifier(name),
                arg: FunctionArgExpr::Expr(value),
                ..
            } => Some((name.value.clone(), value.clone())),
            _ => None,
        })
        .collect()
}

/// Marks the lambdas passed to `call` as lambdas: written `lambda x: ...` (DuckDB's own syntax,
/// planned the same), so [`arrow_as_json`] leaves them.
fn keep_lambdas(call: &mut sqlparser::ast::Function) {
    let FunctionArguments::List(list) = &mut call.args else {
        return;
    };
    for arg in &mut list.args {
        if let FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Lambda(lambda))) = arg {
            lambda.syntax = LambdaSyntax::LambdaKeyword;
        }
    }
}

/// DuckDB's ordered-set aggregates as the aggregates they stand for: `mode() WITHIN GROUP
/// (ORDER BY x)` is `mode(x)`, and `percentile_disc(q) WITHIN GROUP (ORDER BY x)` (also
/// `percentile_cont`, `q` a fraction or a list of them) is `quantile_disc(x, q)`. A descending
/// order reads `percentile_cont`'s fractions from the top (`1 - q`, the same interpolation);
/// `percentile_disc`'s pick from the top is not the pick at `1 - q`, so it has its own
/// aggregate ([`super::statistics::QUANTILE_DISC_DESCENDING`]). DataFusion has
/// `percentile_cont` of one fraction only.
fn ordered_set_as_quantile(name: &str, call: &sqlparser::ast::Function) -> Option<Expr> {
    let [order] = call.within_group.as_slice() else {
        return None;
    };
    let mut ordered = call.clone();
    ordered.within_group.clear();
    let args = plain_arguments(&ordered)?;
    let value = order.expr.clone();
    let descending = order.options.asc == Some(false);
    let quantile = match name {
        "percentile_disc" if descending => super::statistics::QUANTILE_DISC_DESCENDING,
        "percentile_disc" => "quantile_disc",
        "percentile_cont" => "quantile_cont",
        "mode" if args.is_empty() => return Some(super::rewrite::call("mode", [value])),
        _ => return None,
    };
    let [fraction] = args.as_slice() else {
        return None;
    };
    if quantile != "quantile_cont" {
        return Some(super::rewrite::call(quantile, [value, fraction.clone()]));
    }
    let from_top = |q: &Expr| Expr::BinaryOp {
        left: Box::new(Expr::value(Value::Number("1".into(), false))),
        op: BinaryOperator::Minus,
        right: Box::new(Expr::Nested(Box::new(q.clone()))),
    };
    let fraction = match (order.options.asc, fraction) {
        (Some(false), Expr::Array(list)) => {
            let mut list = list.clone();
            list.elem = list.elem.iter().map(from_top).collect();
            Expr::Array(list)
        }
        (Some(false), q) => from_top(q),
        (_, q) => q.clone(),
    };
    Some(super::rewrite::call(quantile, [value, fraction]))
}

/// A call's arguments when they are all plain expressions and the call has none of the clauses
/// a macro would drop (`DISTINCT`, `ORDER BY`, `IGNORE NULLS`, `WITHIN GROUP`).
pub(super) fn plain_arguments(call: &sqlparser::ast::Function) -> Option<Vec<Expr>> {
    if call.null_treatment.is_some() || !call.within_group.is_empty() {
        return None;
    }
    let FunctionArguments::List(list) = &call.args else {
        return None;
    };
    if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
        return None;
    }
    unnamed_arguments(&list.args)
}

/// The argument expressions, when none is named or a wildcard.
fn unnamed_arguments(args: &[FunctionArg]) -> Option<Vec<Expr>> {
    args.iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// A function's name in lower case, when it is one unqualified identifier.
pub(super) fn plain_name(name: &ObjectName) -> Option<String> {
    match name.0.as_slice() {
        [part] => part.as_ident().map(|i| i.value.to_lowercase()),
        _ => None,
    }
}
