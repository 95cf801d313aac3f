//! How DuckDB writes an expression when it names a column after it (an unaliased select item,
//! and so a Parquet column written from it): its own spelling of the expression, not the text
//! the query wrote. A list literal is `list_value(i, 2)`, a struct `struct_pack(a := i)`, a map
//! `"map"(list_value('a'), list_value(i))`, a tuple `"row"(i, 2)`, `DATE '2024-01-02'` is
//! `CAST('2024-01-02' AS DATE)`, `-i` is `(-(i))`, `position('b' IN s)` is
//! `"position"(s, 'b')`, and a function or column named by a keyword is quoted
//! (`"year"("day")`, `"left"(s, 2)`, `abs("value")`), any other name bare (`abs(Ab)`). [`super::rewrite::fully_parenthesized`] applies it to each
//! part of an expression, inside out.

use sqlparser::ast::{
    AccessExpr, ArrayElemTypeDef, BinaryOperator, CaseWhen, DataType, DateTimeField,
    ExactNumberInfo, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgOperator,
    FunctionArgumentClause, FunctionArguments, Ident, Interval, LambdaSyntax, NullTreatment,
    ObjectName, ObjectNamePart, OneOrManyWithParens, UnaryOperator, Value, WindowFrameBound,
    WindowType,
};

use super::duckdb_keywords::{is_keyword, written_name};
use super::rewrite::{call, cast, negated_if};

/// Rewrites `expr`, whose parts are rewritten already, into DuckDB's spelling of it; columns
/// are left as written unless `quote_columns`.
pub(super) fn duckdb_spelling(expr: &mut Expr, quote_columns: bool) {
    if let Expr::Nested(operation) = expr
        && let Some(call) = regex_match_call(operation)
    {
        *expr = call;
        return;
    }
    if let Expr::Nested(operation) = expr
        && let Some(written) = lambda_as_written(operation)
    {
        **operation = written;
        return;
    }
    // `a <> b` is `(a != b)`.
    if let Expr::Nested(operation) = expr
        && let Expr::BinaryOp { op, .. } = operation.as_mut()
        && *op == BinaryOperator::NotEq
    {
        *op = BinaryOperator::Custom("!=".into());
        return;
    }
    let case_blind = matches!(expr, Expr::ILike { .. });
    let spelled = match expr {
        Expr::Array(list) => call("list_value", list.elem.drain(..)),
        Expr::Tuple(items) => quoted_call("row", items.drain(..)),
        Expr::TypedString(typed) => cast(Expr::Value(typed.value.clone()), typed.data_type.clone()),
        Expr::UnaryOp {
            op: op @ (UnaryOperator::Minus | UnaryOperator::Plus | UnaryOperator::BitwiseNot),
            expr: operand,
        } if *op == UnaryOperator::BitwiseNot || !matches!(operand.as_ref(), Expr::Value(_)) => {
            Expr::Nested(Box::new(Expr::UnaryOp {
                op: *op,
                expr: Box::new(Expr::Nested(operand.clone())),
            }))
        }
        Expr::Dictionary(fields) => {
            let mut packed = call("struct_pack", []);
            if let Expr::Function(function) = &mut packed
                && let FunctionArguments::List(list) = &mut function.args
            {
                list.args = fields
                    .iter()
                    .map(|field| FunctionArg::Named {
                        name: written_ident(&field.key.value),
                        arg: FunctionArgExpr::Expr(*field.value.clone()),
                        operator: FunctionArgOperator::Assignment,
                    })
                    .collect();
            }
            packed
        }
        Expr::Map(map) => {
            let keys = map.entries.iter().map(|entry| *entry.key.clone());
            let values = map.entries.iter().map(|entry| *entry.value.clone());
            quoted_call(
                "map",
                [call("list_value", keys), call("list_value", values)],
            )
        }
        Expr::Position { expr: needle, r#in } => {
            quoted_call("position", [*r#in.clone(), *needle.clone()])
        }
        Expr::Trim {
            trim_where: None,
            trim_what: None,
            trim_characters: None,
            expr: text,
        } => quoted_call("trim", [*text.clone()]),
        Expr::Substring {
            expr: text,
            substring_from,
            substring_for,
            shorthand,
            ..
        } => {
            let bounds = [substring_from, substring_for].into_iter().flatten();
            let args = std::iter::once(*text.clone()).chain(bounds.map(|b| *b.clone()));
            match shorthand {
                true => call("substr", args),
                false => quoted_call("substring", args),
            }
        }
        Expr::AtTimeZone {
            timestamp,
            time_zone,
        } => call("timezone", [*time_zone.clone(), *timestamp.clone()]),
        // `s LIKE p ESCAPE '!'` is `like_escape(s, p, '!')`, `s SIMILAR TO p` is
        // `regexp_full_match(s, p)`; negated, `(NOT ...)`.
        Expr::Like {
            negated,
            any: false,
            expr: text,
            pattern,
            escape_char: Some(escape),
        }
        | Expr::ILike {
            negated,
            any: false,
            expr: text,
            pattern,
            escape_char: Some(escape),
        } => {
            let function = match case_blind {
                true => "ilike_escape",
                false => "like_escape",
            };
            let escape = Expr::Value(escape.clone());
            negated_if(
                *negated,
                call(function, [*text.clone(), *pattern.clone(), escape]),
            )
        }
        Expr::SimilarTo {
            negated,
            expr: text,
            pattern,
            escape_char: None,
        } => negated_if(
            *negated,
            call("regexp_full_match", [*text.clone(), *pattern.clone()]),
        ),
        // A column is written bare where it can be, quoted where it is a keyword or more than
        // a plain word (`abs("value")`, `abs(Ab)` for `abs("Ab")`).
        Expr::Identifier(ident) if quote_columns => {
            *ident = written_ident(&ident.value);
            return;
        }
        Expr::CompoundIdentifier(parts) if quote_columns => {
            parts
                .iter_mut()
                .for_each(|part| *part = written_ident(&part.value));
            return;
        }
        // `s GLOB p`, which the parser reads as a call, is DuckDB's operator `(s ~~~ p)`.
        Expr::Function(function) if is_glob_match(function) => {
            let FunctionArguments::List(list) = &function.args else {
                return;
            };
            let [
                FunctionArg::Unnamed(FunctionArgExpr::Expr(text)),
                FunctionArg::Unnamed(FunctionArgExpr::Expr(pattern)),
            ] = list.args.as_slice()
            else {
                return;
            };
            Expr::Nested(Box::new(Expr::BinaryOp {
                left: Box::new(text.clone()),
                op: BinaryOperator::Custom("~~~".into()),
                right: Box::new(pattern.clone()),
            }))
        }
        Expr::Function(function) => {
            percentile_as_quantile(function);
            // A named argument is quoted where it is a keyword (`"recursive" := true`).
            if let FunctionArguments::List(list) = &mut function.args {
                for arg in &mut list.args {
                    if let FunctionArg::Named { name, .. } = arg {
                        *name = written_ident(&name.value);
                    }
                }
            }
            let windowed = function.over.is_some();
            if windowed {
                window_as_written(function);
            }
            if let [ObjectNamePart::Identifier(name)] = function.name.0.as_mut_slice()
                && name.quote_style.is_none()
                && name.value != name.value.to_uppercase()
            {
                // DuckDB writes these two as the operators it binds them to, and a window
                // function by its name, bare (`mode(x) OVER ()`, `first_value` for `first`).
                match name.value.as_str() {
                    "grouping" => name.value = "GROUPING".into(),
                    "ifnull" => name.value = "COALESCE".into(),
                    "first" | "last" if windowed => name.value.push_str("_value"),
                    keyword if is_keyword(keyword) && !windowed => name.quote_style = Some('"'),
                    _ => {}
                }
            }
            return;
        }
        // `CASE x WHEN 1 THEN 'a' END` is `CASE  WHEN ((x = 1)) THEN ('a') ELSE NULL END`: the
        // operand compared in each condition, each condition and result in parentheses, the
        // ELSE written. DuckDB writes two spaces after CASE, which an empty operand gives.
        Expr::Case {
            case_token,
            end_token,
            operand,
            conditions,
            else_result,
        } => {
            let conditions = conditions
                .iter()
                .map(|when| {
                    let condition = match operand {
                        Some(operand) => Expr::Nested(Box::new(Expr::BinaryOp {
                            left: operand.clone(),
                            op: BinaryOperator::Eq,
                            right: Box::new(when.condition.clone()),
                        })),
                        None => when.condition.clone(),
                    };
                    CaseWhen {
                        condition: Expr::Nested(Box::new(condition)),
                        result: Expr::Nested(Box::new(when.result.clone())),
                    }
                })
                .collect();
            Expr::Case {
                case_token: case_token.clone(),
                end_token: end_token.clone(),
                operand: Some(Box::new(Expr::Identifier(Ident::new("")))),
                conditions,
                else_result: Some(
                    else_result
                        .clone()
                        .unwrap_or_else(|| Box::new(Expr::value(Value::Null))),
                ),
            }
        }
        Expr::Cast { data_type, .. } => {
            canonical_type(data_type);
            return;
        }
        Expr::IsDistinctFrom(..) | Expr::IsNotDistinctFrom(..) => {
            Expr::Nested(Box::new(expr.clone()))
        }
        // `x IS NOT TRUE` is `(CAST(x AS BOOLEAN) IS DISTINCT FROM true)`, `x IS UNKNOWN` is
        // `(x IS NULL)`.
        Expr::IsTrue(tested) => truth_test(tested, true, false),
        Expr::IsNotTrue(tested) => truth_test(tested, true, true),
        Expr::IsFalse(tested) => truth_test(tested, false, false),
        Expr::IsNotFalse(tested) => truth_test(tested, false, true),
        Expr::IsUnknown(tested) => Expr::Nested(Box::new(Expr::IsNull(tested.clone()))),
        Expr::IsNotUnknown(tested) => Expr::Nested(Box::new(Expr::IsNotNull(tested.clone()))),
        // `x LIKE p` is `(x ~~ p)`, `x NOT ILIKE p` is `(x !~~* p)`.
        Expr::Like {
            negated,
            any: false,
            expr: text,
            pattern,
            escape_char: None,
        }
        | Expr::ILike {
            negated,
            any: false,
            expr: text,
            pattern,
            escape_char: None,
        } => {
            let op = match (case_blind, *negated) {
                (false, false) => BinaryOperator::PGLikeMatch,
                (false, true) => BinaryOperator::PGNotLikeMatch,
                (true, false) => BinaryOperator::PGILikeMatch,
                (true, true) => BinaryOperator::PGNotILikeMatch,
            };
            Expr::Nested(Box::new(Expr::BinaryOp {
                left: text.clone(),
                op,
                right: pattern.clone(),
            }))
        }
        Expr::Extract {
            field, expr: date, ..
        } => {
            let part = Expr::value(Value::SingleQuotedString(date_part_name(field)));
            call("date_part", [part, *date.clone()])
        }
        Expr::Interval(interval) => match interval_as_call(interval) {
            Some(call) => call,
            None => return,
        },
        // `(struct_pack(a := 1)).a`: a field of anything but a column is read from its
        // parenthesized value.
        Expr::CompoundFieldAccess { root, access_chain }
            if matches!(access_chain.first(), Some(AccessExpr::Dot(_)))
                && !matches!(
                    root.as_ref(),
                    Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Nested(_)
                ) =>
        {
            **root = Expr::Nested(root.clone());
            return;
        }
        _ => return,
    };
    *expr = spelled;
}

/// `x IS [NOT] TRUE | FALSE` as DuckDB binds it: `(CAST(x AS BOOLEAN) IS [NOT] DISTINCT FROM
/// true | false)`, `negated` for `IS NOT`.
fn truth_test(tested: &Expr, truth: bool, negated: bool) -> Expr {
    let tested = Box::new(cast(tested.clone(), DataType::Boolean));
    let truth = Box::new(Expr::value(Value::Boolean(truth)));
    Expr::Nested(Box::new(match negated {
        true => Expr::IsDistinctFrom(tested, truth),
        false => Expr::IsNotDistinctFrom(tested, truth),
    }))
}

/// A cast's type as DuckDB names it: the SQL keywords its parser reads as types by their
/// canonical names (`INT` is `INTEGER`, `REAL` is `FLOAT`, `NUMERIC(10,2)` is `DECIMAL(10, 2)`,
/// `CHAR(3)` is `VARCHAR(3)`), in lists too (`INT[]`); other names as the parser wrote them.
fn canonical_type(data_type: &mut DataType) {
    let decimal = |modifiers: Vec<String>| {
        DataType::Custom(ObjectName::from(vec![Ident::new("DECIMAL")]), modifiers)
    };
    *data_type = match data_type {
        DataType::Int(None) | DataType::Integer(None) => DataType::Integer(None),
        DataType::Real => DataType::Float(ExactNumberInfo::None),
        DataType::Decimal(info) | DataType::Numeric(info) | DataType::Dec(info) => match info {
            ExactNumberInfo::None => decimal(vec![]),
            ExactNumberInfo::Precision(p) => decimal(vec![p.to_string()]),
            ExactNumberInfo::PrecisionAndScale(p, s) => decimal(vec![p.to_string(), s.to_string()]),
        },
        DataType::Char(length) => DataType::Varchar(*length),
        DataType::DoublePrecision => DataType::Double(ExactNumberInfo::None),
        DataType::JSON => DataType::Custom(
            ObjectName::from(vec![Ident::with_quote('"', "JSON")]),
            vec![],
        ),
        DataType::Array(ArrayElemTypeDef::SquareBracket(element, _)) => {
            canonical_type(element);
            return;
        }
        DataType::Struct(fields, _) => {
            fields
                .iter_mut()
                .for_each(|field| canonical_type(&mut field.field_type));
            return;
        }
        _ => return,
    };
}

/// `lambda x, i: body` as DuckDB writes it, where the parser's text has a space before the
/// colon; as a bare name, which is written as it is. `None` for anything but such a lambda.
fn lambda_as_written(expr: &Expr) -> Option<Expr> {
    let Expr::Lambda(lambda) = expr else {
        return None;
    };
    if lambda.syntax != LambdaSyntax::LambdaKeyword {
        return None;
    }
    let params = match &lambda.params {
        OneOrManyWithParens::One(param) => param.to_string(),
        OneOrManyWithParens::Many(params) => params
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    };
    Some(Expr::Identifier(Ident::new(format!(
        "lambda {params}: {}",
        lambda.body
    ))))
}

/// A window function's call as DuckDB writes it: `IGNORE NULLS` inside the parentheses
/// (`last_value(x IGNORE NULLS) OVER ...`), `RESPECT NULLS`, the default, not at all, and a
/// frame with one bound as the range from it to the current row (`ROWS 2 PRECEDING` is `ROWS
/// BETWEEN 2 PRECEDING AND CURRENT ROW`).
fn window_as_written(function: &mut Function) {
    let treatment = function.null_treatment.take();
    if let FunctionArguments::List(list) = &mut function.args
        && treatment == Some(NullTreatment::IgnoreNulls)
    {
        list.clauses
            .push(FunctionArgumentClause::IgnoreOrRespectNulls(
                NullTreatment::IgnoreNulls,
            ));
    }
    if let Some(WindowType::WindowSpec(spec)) = &mut function.over
        && let Some(frame) = &mut spec.window_frame
        && frame.end_bound.is_none()
    {
        frame.end_bound = Some(WindowFrameBound::CurrentRow);
    }
}

/// The part `extract(part FROM t)` names as DuckDB writes it: the parts its grammar knows as
/// keywords by one name in capitals (`minutes` is `MINUTE`, `millisecond` is `MILLISECONDS`),
/// any other as written, in lower case as most are written (`epoch`, `dow`).
fn date_part_name(field: &DateTimeField) -> String {
    let written = match field {
        DateTimeField::Custom(name) => return name.value.clone(),
        other => other.to_string().to_lowercase(),
    };
    let keyword = match written.as_str() {
        "year" | "years" => "YEAR",
        "month" | "months" => "MONTH",
        "day" | "days" => "DAY",
        "hour" | "hours" => "HOUR",
        "minute" | "minutes" => "MINUTE",
        "second" | "seconds" => "SECOND",
        "millisecond" | "milliseconds" => "MILLISECONDS",
        "microsecond" | "microseconds" => "MICROSECONDS",
        "week" | "weeks" => "WEEK",
        "quarter" => "QUARTER",
        "decade" => "DECADE",
        "century" => "CENTURY",
        "millennium" | "millenium" => "MILLENNIUM",
        _ => return written,
    };
    keyword.to_string()
}

/// An interval literal as DuckDB binds it: `INTERVAL '2 days'` is `CAST('2 days' AS
/// INTERVAL)`, `INTERVAL 3 DAY` a count of the unit, `to_days(CAST(trunc(CAST(3 AS DOUBLE)) AS
/// INTEGER))` (whole days; seconds and milliseconds keep their fraction). `None` for a unit
/// range (`YEAR TO MONTH`) or a unit DuckDB has no function for.
fn interval_as_call(interval: &Interval) -> Option<Expr> {
    let count = match interval.value.as_ref() {
        Expr::Nested(inner) => inner.as_ref().clone(),
        value => value.clone(),
    };
    let Some(unit) = &interval.leading_field else {
        return Some(cast(
            count,
            DataType::Interval {
                fields: None,
                precision: None,
            },
        ));
    };
    if interval.last_field.is_some() {
        return None;
    }
    let (function, whole) = match unit {
        DateTimeField::Year | DateTimeField::Years => ("to_years", DataType::Integer(None)),
        DateTimeField::Month | DateTimeField::Months => ("to_months", DataType::Integer(None)),
        DateTimeField::Day | DateTimeField::Days => ("to_days", DataType::Integer(None)),
        DateTimeField::Week(None) | DateTimeField::Weeks => ("to_weeks", DataType::Integer(None)),
        DateTimeField::Quarter => ("to_quarters", DataType::Integer(None)),
        DateTimeField::Decade => ("to_decades", DataType::Integer(None)),
        DateTimeField::Century => ("to_centuries", DataType::Integer(None)),
        DateTimeField::Millennium | DateTimeField::Millenium => {
            ("to_millennia", DataType::Integer(None))
        }
        DateTimeField::Hour | DateTimeField::Hours => ("to_hours", DataType::BigInt(None)),
        DateTimeField::Minute | DateTimeField::Minutes => ("to_minutes", DataType::BigInt(None)),
        DateTimeField::Microsecond | DateTimeField::Microseconds => {
            ("to_microseconds", DataType::BigInt(None))
        }
        DateTimeField::Second | DateTimeField::Seconds => {
            return Some(call("to_seconds", [cast(count, DOUBLE)]));
        }
        DateTimeField::Millisecond | DateTimeField::Milliseconds => {
            return Some(call("to_milliseconds", [cast(count, DOUBLE)]));
        }
        _ => return None,
    };
    let truncated = call("trunc", [cast(count, DOUBLE)]);
    Some(call(function, [cast(truncated, whole)]))
}

/// DuckDB's DOUBLE, as a cast names it.
const DOUBLE: DataType = DataType::Double(ExactNumberInfo::None);

/// `(s ~ p)` as DuckDB writes it: `regexp_matches(s, p)`, with `'i'` for `~*`, and in `(NOT
/// ...)` for `!~` and `!~*`; `None` for any other operation.
fn regex_match_call(operation: &Expr) -> Option<Expr> {
    let Expr::BinaryOp { left, op, right } = operation else {
        return None;
    };
    let (negated, case_blind) = match op {
        BinaryOperator::PGRegexMatch => (false, false),
        BinaryOperator::PGRegexIMatch => (false, true),
        BinaryOperator::PGRegexNotMatch => (true, false),
        BinaryOperator::PGRegexNotIMatch => (true, true),
        _ => return None,
    };
    let mut args = vec![(**left).clone(), (**right).clone()];
    if case_blind {
        args.push(Expr::value(Value::SingleQuotedString("i".into())));
    }
    Some(negated_if(negated, call("regexp_matches", args)))
}

/// Whether `function` is the call the parser makes of `s GLOB p`.
fn is_glob_match(function: &Function) -> bool {
    function.name.to_string() == super::glob_match::GLOB_MATCH
}

/// `percentile_disc(q) WITHIN GROUP (ORDER BY x)` as DuckDB writes it, the quantile it binds
/// to: `quantile_disc(q ORDER BY x)` (also `percentile_cont`).
fn percentile_as_quantile(function: &mut Function) {
    let quantile = match function.name.to_string().to_lowercase().as_str() {
        "percentile_disc" => "quantile_disc",
        "percentile_cont" => "quantile_cont",
        _ => return,
    };
    if function.within_group.is_empty() {
        return;
    }
    let FunctionArguments::List(list) = &mut function.args else {
        return;
    };
    list.clauses
        .push(FunctionArgumentClause::OrderBy(std::mem::take(
            &mut function.within_group,
        )));
    function.name = ObjectName::from(vec![Ident::new(quantile)]);
}

/// `name` as an identifier DuckDB writes: bare where it can be, quoted otherwise.
fn written_ident(name: &str) -> Ident {
    match written_name(name) == name {
        true => Ident::new(name),
        false => Ident::with_quote('"', name),
    }
}

/// A call of `name` written quoted, as DuckDB writes the functions named by keywords.
fn quoted_call(name: &str, args: impl IntoIterator<Item = Expr>) -> Expr {
    let mut quoted = call(name, args);
    if let Expr::Function(function) = &mut quoted {
        function.name.0 = vec![ObjectNamePart::Identifier(Ident::with_quote('"', name))];
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::super::dialect::parse_expr;
    use super::super::rewrite::fully_parenthesized;

    #[test]
    fn expressions_are_named_as_duckdb_writes_them() {
        // As DuckDB 2.0 names the columns of `SELECT <expression> FROM range(2) t(i)`.
        for (written, name) in [
            (
                "year(DATE '2024-01-01')",
                "\"year\"(CAST('2024-01-01' AS DATE))",
            ),
            ("left('abc', 2)", "\"left\"('abc', 2)"),
            ("greatest(i, 2)", "greatest(i, 2)"),
            (
                "abs(\"Ab\") + abs(\"value\") + abs(t.\"x y\")",
                "((abs(Ab) + abs(\"value\")) + abs(t.\"x y\"))",
            ),
            ("position('b' IN 'abc')", "\"position\"('abc', 'b')"),
            ("trim(' a ')", "\"trim\"(' a ')"),
            ("substring('abc', 1, 2)", "\"substring\"('abc', 1, 2)"),
            ("s ~ '^a'", "regexp_matches(s, '^a')"),
            ("s !~* 'A'", "(NOT regexp_matches(s, 'A', 'i'))"),
            ("s LIKE 'a!_' ESCAPE '!'", "like_escape(s, 'a!_', '!')"),
            (
                "s NOT ILIKE 'a' ESCAPE '!'",
                "(NOT ilike_escape(s, 'a', '!'))",
            ),
            (
                "s NOT SIMILAR TO 'b.*'",
                "(NOT regexp_full_match(s, 'b.*'))",
            ),
            ("substr(s, 2)", "substr(s, 2)"),
            (
                "i::INT + i::real",
                "(CAST(i AS INTEGER) + CAST(i AS FLOAT))",
            ),
            ("CAST(i AS NUMERIC(10,2))", "CAST(i AS DECIMAL(10, 2))"),
            ("TRY_CAST(i AS int[])", "TRY_CAST(i AS INTEGER[])"),
            ("i::CHAR(3)", "CAST(i AS VARCHAR(3))"),
            ("s NOT GLOB 'b*'", "(NOT (s ~~~ 'b*'))"),
            ("t AT TIME ZONE 'UTC'", "timezone('UTC', t)"),
            (
                "CASE WHEN i < 2 THEN 'low' WHEN b THEN -i END",
                "CASE  WHEN ((i < 2)) THEN ('low') WHEN (b) THEN ((-(i))) ELSE NULL END",
            ),
            (
                "CASE i WHEN 1 THEN i + 1 ELSE 0 END",
                "CASE  WHEN ((i = 1)) THEN ((i + 1)) ELSE 0 END",
            ),
            (
                "percentile_disc(0.5) WITHIN GROUP (ORDER BY i + 1 DESC NULLS FIRST)",
                "quantile_disc(0.5 ORDER BY (i + 1) DESC NULLS FIRST)",
            ),
            (
                "PERCENTILE_CONT([0.25, 0.5]) WITHIN GROUP (ORDER BY i)",
                "quantile_cont(list_value(0.25, 0.5) ORDER BY i)",
            ),
            ("[i, 2]", "list_value(i, 2)"),
            ("[1, 2][1]", "list_value(1, 2)[1]"),
            ("-i", "(-(i))"),
            ("-1", "-1"),
            ("~i", "(~(i))"),
            ("~5", "(~(5))"),
            (
                "unnest([[1]], recursive := true)",
                "unnest(list_value(list_value(1)), \"recursive\" := true)",
            ),
            (
                "[x + 1 FOR x IN l IF x > 0]",
                "list_apply(list_filter(list_apply(l, (lambda x: struct_pack(\"filter\" := (x > 0), \
                 result := (x + 1)))), (lambda elem: struct_extract(elem, 'filter'))), \
                 (lambda elem: struct_extract(elem, 'result')))",
            ),
            ("i <> 1 AND i != 2", "((i != 1) AND (i != 2))"),
            (
                "CAST(s AS STRUCT(a INT, b STRUCT(c REAL)[]))",
                "CAST(s AS STRUCT(a INTEGER, b STRUCT(c FLOAT)[]))",
            ),
            ("{'a': i}", "struct_pack(a := i)"),
            ("{'a': 1}.a", "(struct_pack(a := 1)).a"),
            ("MAP {'a': i}", "\"map\"(list_value('a'), list_value(i))"),
            ("(i, 2)", "\"row\"(i, 2)"),
            ("row(i, 1)", "\"row\"(i, 1)"),
            (
                "TIMESTAMP '2024-01-01 00:00:00'",
                "CAST('2024-01-01 00:00:00' AS TIMESTAMP)",
            ),
            ("coalesce(i, 1) + 1", "(COALESCE(i, 1) + 1)"),
            ("ifnull(i, 'x')", "COALESCE(i, 'x')"),
            ("grouping(i)", "GROUPING(i)"),
            ("i IS NOT DISTINCT FROM 1", "(i IS NOT DISTINCT FROM 1)"),
            ("'abc' LIKE 'a_c'", "('abc' ~~ 'a_c')"),
            ("s NOT ILIKE 'a%'", "(s !~~* 'a%')"),
            ("extract(year FROM d)", "date_part('YEAR', d)"),
            (
                "i IS TRUE",
                "(CAST(i AS BOOLEAN) IS NOT DISTINCT FROM true)",
            ),
            (
                "(i = 1) IS NOT FALSE",
                "(CAST((i = 1) AS BOOLEAN) IS DISTINCT FROM false)",
            ),
            ("i IS NOT UNKNOWN", "(i IS NOT NULL)"),
            (
                "list_apply(l, lambda x, i: x * i)",
                "list_apply(l, (lambda x, i: (x * i)))",
            ),
            ("s::JSON", "CAST(s AS \"JSON\")"),
            (
                "first(i) IGNORE NULLS OVER (ORDER BY i ROWS 2 PRECEDING)",
                "first_value(i IGNORE NULLS) OVER (ORDER BY i ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)",
            ),
            (
                "last_value(i) RESPECT NULLS OVER (ORDER BY i)",
                "last_value(i) OVER (ORDER BY i)",
            ),
            (
                "mode(i) OVER (RANGE CURRENT ROW) + mode(i)",
                "(mode(i) OVER (RANGE BETWEEN CURRENT ROW AND CURRENT ROW) + \"mode\"(i))",
            ),
            ("INTERVAL '2 days'", "CAST('2 days' AS INTERVAL)"),
            (
                "INTERVAL 3 DAY + INTERVAL (i) HOURS",
                "(to_days(CAST(trunc(CAST(3 AS DOUBLE)) AS INTEGER)) + \
                 to_hours(CAST(trunc(CAST(i AS DOUBLE)) AS BIGINT)))",
            ),
            ("INTERVAL '1.5' SECOND", "to_seconds(CAST('1.5' AS DOUBLE))"),
            (
                "extract(epoch FROM t) + extract(minutes FROM t)",
                "(date_part('epoch', t) + date_part('MINUTE', t))",
            ),
        ] {
            let expr = parse_expr(written).unwrap();
            assert_eq!(fully_parenthesized(&expr), name, "{written}");
        }
    }
}
