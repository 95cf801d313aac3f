//! The SQL dialect Tarn parses: sqlparser's DuckDB dialect, with DuckDB's arithmetic operators.
//!
//! sqlparser reads `^` as bitwise XOR below `+` and `-` (so `2 * 3 ^ 2` is `(2 * 3) XOR 2`,
//! 4), and `**` not at all. In DuckDB both are exponentiation, binding tighter than `*` and
//! looser than a sign, left to right: `2 * 3 ^ 2` is 18, `-2 ^ 2` is 4, `2 ^ 3 ^ 2` is 64.
//! [`TarnDialect`] parses them so, as `BinaryOperator::PGExp` and [`DOUBLE_STAR_POWER`]
//! (planned as `power` on DOUBLEs by `rewrite::duckdb_operators`), and `^@` (starts with) as `BinaryOperator::PGStartsWith`.
//! JSON's `->` and `->>` bind tighter than comparisons ([`ARROW_PRECEDENCE`]). `a [NOT] GLOB b`,
//! which sqlparser does not know, is parsed at `LIKE`'s precedence as a call of
//! [`GLOB_MATCH`], `[x * 2 FOR x IN list IF x > 0]`, DuckDB's list comprehension, as DuckDB
//! binds it (`list_apply` over `list_filter`), and `a && b` (the lists share an element) as
//! `list_has_any(a, b)`. `a IS [NOT] DISTINCT FROM b` takes `b` at `IS`'s precedence, so that
//! `AND` and `OR` after it join conditions, as in DuckDB. `a <=> b` and `a <-> b` are DuckDB's
//! vector distances, cosine and Euclidean ([`distance_operator`]; sqlparser read `<=>` as
//! MySQL's NULL-safe equality and `<->` not at all).
//!
//! Everything else is the DuckDB dialect's: `dialect()` answers with its type, so the parser's
//! DuckDB-only syntax stays on, and every setting the DuckDB dialect changes is forwarded.

use std::any::TypeId;

use sqlparser::ast::{
    BinaryOperator, DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArgOperator,
    FunctionArguments, Ident, LambdaFunction, LambdaFunctionParameter, LambdaSyntax, ObjectName,
    OneOrManyWithParens, Query, UnaryOperator, Value,
};
use sqlparser::dialect::{Dialect, DuckDbDialect, Precedence};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

use super::glob_match::GLOB_MATCH;
use super::rewrite::{call, cast};
use super::tokens::is_keyword;

/// The precedence of `^`, `**` and `^@`: above `*`, `/` and `%` (40 in the default table),
/// below `AT TIME ZONE` (41) and `::` (50).
const POWER_PRECEDENCE: u8 = 45;

/// The precedence of JSON's `->` and `->>`: in DuckDB's grammar they are operators like `||`,
/// binding tighter than comparisons, so `j ->> 'a' = 'x'` compares the value and
/// `j ->> 'a' || 'z'` appends to it; sqlparser put them below the comparisons (16). This is
/// sqlparser's level of `||` (above `+`, where DuckDB has both below it).
const ARROW_PRECEDENCE: u8 = 40;

/// The precedence of `<=>` and `<->`: DuckDB's grammar puts its other operators (Postgres's
/// `Op`) above the comparisons (20) and below `+` and `-` (30), so `emb <=> q < 0.5` compares
/// the distance.
const DISTANCE_PRECEDENCE: u8 = 25;

/// sqlparser's DuckDB dialect with DuckDB's `^`, `**`, `^@` and sign precedence.
#[derive(Debug, Default, Clone, Copy)]
pub struct TarnDialect;

/// The exponent or prefix operator at the parser's position, and how many tokens it spans.
fn power_operator(parser: &Parser) -> Option<(BinaryOperator, usize)> {
    let [first, second] = parser.peek_tokens_with_location::<2>();
    match first.token {
        Token::Caret => Some((BinaryOperator::PGExp, 1)),
        Token::CaretAt => Some((BinaryOperator::PGStartsWith, 1)),
        // `**` is two `*` tokens; only written together is it an operator, kept apart from
        // `^` for the name of its column.
        Token::Mul if second.token == Token::Mul && first.span.end == second.span.start => {
            Some((BinaryOperator::Custom(DOUBLE_STAR_POWER.into()), 2))
        }
        _ => None,
    }
}

/// DuckDB's `**`, the power as `^` is.
pub(crate) const DOUBLE_STAR_POWER: &str = "**";

/// The vector distance operator at the parser's position, and how many tokens it spans: `<=>`
/// (cosine distance) as `BinaryOperator::Spaceship`, `<->` (Euclidean distance, a `<` and a
/// `->` written together) as a custom operator. `rewrite::duckdb_operators` plans them as
/// `list_cosine_distance` and `list_distance`, once the column is named after the operator.
fn distance_operator(parser: &Parser) -> Option<(BinaryOperator, usize)> {
    let [first, second] = parser.peek_tokens_with_location::<2>();
    match first.token {
        Token::Spaceship => Some((BinaryOperator::Spaceship, 1)),
        Token::Lt if second.token == Token::Arrow && first.span.end == second.span.start => {
            Some((BinaryOperator::Custom(EUCLIDEAN_DISTANCE.into()), 2))
        }
        _ => None,
    }
}

/// DuckDB's Euclidean distance operator.
pub(crate) const EUCLIDEAN_DISTANCE: &str = "<->";

/// Whether the parser is at `GLOB` or `NOT GLOB`, and the tokens before the pattern.
fn glob_operator(parser: &Parser) -> Option<(bool, usize)> {
    let is_glob = |token: &Token| is_keyword(token, "glob");
    let is_not = |token: &Token| is_keyword(token, "not");
    let [first, second] = parser.peek_tokens_with_location::<2>();
    if is_glob(&first.token) {
        Some((false, 1))
    } else if is_not(&first.token) && is_glob(&second.token) {
        Some((true, 2))
    } else {
        None
    }
}

/// Whether the parser is at `IS DISTINCT FROM` or `IS NOT DISTINCT FROM`, and how many tokens
/// that is.
fn distinct_from(parser: &Parser) -> Option<(bool, usize)> {
    let [is, second, third, fourth] = parser.peek_tokens_with_location::<4>();
    let word = |token: &Token, name: &str| is_keyword(token, name);
    if !word(&is.token, "is") {
        return None;
    }
    if word(&second.token, "distinct") && word(&third.token, "from") {
        Some((false, 3))
    } else if word(&second.token, "not")
        && word(&third.token, "distinct")
        && word(&fourth.token, "from")
    {
        Some((true, 4))
    } else {
        None
    }
}

/// `glob_match(text, pattern)`, negated for `NOT GLOB`.
fn glob_call(text: Expr, pattern: Expr, negated: bool) -> Expr {
    let call = call(GLOB_MATCH, [text, pattern]);
    match negated {
        true => Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr: Box::new(call),
        },
        false => call,
    }
}

/// Whether the brackets opening at the parser's position hold a `FOR` of their own (not one
/// inside nested brackets or parentheses): a list comprehension, not a list.
fn brackets_hold_for(parser: &Parser) -> bool {
    let mut depth = 0usize;
    for n in 0.. {
        match &parser.peek_nth_token_ref(n).token {
            Token::LBracket | Token::LParen => depth += 1,
            Token::RBracket | Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    return false;
                }
            }
            Token::Word(w) if depth == 1 && w.keyword == Keyword::FOR => return true,
            Token::EOF => return false,
            _ => {}
        }
    }
    false
}

/// DuckDB's typed literals of the timestamp units, `TIMESTAMP_MS '2024-05-06 10:11:12.345'`
/// (also `_S`, `_US`, `_NS`), as the cast `CAST('...' AS TIMESTAMP_MS)` they stand for; sqlparser
/// knows the names only as types. The parser is moved past the literal when there is one.
fn timestamp_unit_literal(parser: &mut Parser) -> Option<Expr> {
    let [name, text] = parser.peek_tokens_with_location::<2>();
    let (Token::Word(word), Token::SingleQuotedString(text)) = (name.token, text.token) else {
        return None;
    };
    let unit = [
        "TIMESTAMP_S",
        "TIMESTAMP_MS",
        "TIMESTAMP_US",
        "TIMESTAMP_NS",
    ]
    .into_iter()
    .find(|unit| word.quote_style.is_none() && word.value.eq_ignore_ascii_case(unit))?;
    parser.advance_token();
    parser.advance_token();
    Some(cast(
        Expr::value(Value::SingleQuotedString(text)),
        DataType::Custom(ObjectName::from(vec![Ident::new(unit)]), vec![]),
    ))
}

/// DuckDB's list comprehension `[element FOR x IN list IF condition]`, as DuckDB binds it (and
/// so names its column): `list_apply(list, lambda x: element)` without a condition; with one,
/// each element's condition and value packed in a struct, the structs filtered on the first and
/// the second taken: `list_apply(list_filter(list_apply(list, lambda x: struct_pack("filter" :=
/// condition, result := element)), lambda elem: struct_extract(elem, 'filter')), lambda elem:
/// struct_extract(elem, 'result'))`.
fn parse_comprehension(parser: &mut Parser) -> Result<Expr, ParserError> {
    parser.expect_token(&Token::LBracket)?;
    let element = parser.parse_expr()?;
    parser.expect_keyword_is(Keyword::FOR)?;
    let variable = parser.parse_identifier()?;
    parser.expect_keyword_is(Keyword::IN)?;
    let list = parser.parse_expr()?;
    let condition = match parser.parse_keyword(Keyword::IF) {
        true => Some(parser.parse_expr()?),
        false => None,
    };
    parser.expect_token(&Token::RBracket)?;
    let lambda = |variable: &Ident, body: Expr| {
        Expr::Lambda(LambdaFunction {
            params: OneOrManyWithParens::One(LambdaFunctionParameter {
                name: variable.clone(),
                data_type: None,
            }),
            body: Box::new(body),
            syntax: LambdaSyntax::LambdaKeyword,
        })
    };
    let Some(condition) = condition else {
        return Ok(call("list_apply", [list, lambda(&variable, element)]));
    };
    let field = |name: &str, value: Expr| FunctionArg::Named {
        name: Ident::new(name),
        arg: FunctionArgExpr::Expr(value),
        operator: FunctionArgOperator::Assignment,
    };
    let mut packed = call("struct_pack", []);
    if let Expr::Function(function) = &mut packed
        && let FunctionArguments::List(list) = &mut function.args
    {
        list.args = vec![field("filter", condition), field("result", element)];
    }
    let elem = Ident::new("elem");
    let extract = |name: &str| {
        let name = Expr::value(Value::SingleQuotedString(name.into()));
        lambda(
            &elem,
            call("struct_extract", [Expr::Identifier(elem.clone()), name]),
        )
    };
    let packed = call("list_apply", [list, lambda(&variable, packed)]);
    let kept = call("list_filter", [packed, extract("filter")]);
    Ok(call("list_apply", [kept, extract("result")]))
}

impl Dialect for TarnDialect {
    fn dialect(&self) -> TypeId {
        TypeId::of::<DuckDbDialect>()
    }

    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        if matches!(
            parser.peek_token_ref().token,
            Token::Arrow | Token::LongArrow
        ) {
            return Some(Ok(ARROW_PRECEDENCE));
        }
        if glob_operator(parser).is_some() {
            return Some(Ok(self.prec_value(Precedence::Like)));
        }
        if distance_operator(parser).is_some() {
            return Some(Ok(DISTANCE_PRECEDENCE));
        }
        power_operator(parser).map(|_| Ok(POWER_PRECEDENCE))
    }

    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        _precedence: u8,
    ) -> Option<Result<Expr, ParserError>> {
        if let Some((negated, tokens)) = glob_operator(parser) {
            for _ in 0..tokens {
                parser.advance_token();
            }
            let like = self.prec_value(Precedence::Like);
            return Some(
                parser
                    .parse_subexpr(like)
                    .map(|pattern| glob_call(expr.clone(), pattern, negated)),
            );
        }
        // sqlparser reads the right side of IS [NOT] DISTINCT FROM as a whole expression, so
        // `a IS DISTINCT FROM b OR c` took `b OR c`; it stops where IS binds no further.
        if let Some((negated, tokens)) = distinct_from(parser) {
            for _ in 0..tokens {
                parser.advance_token();
            }
            let level = self.prec_value(Precedence::Is);
            return Some(parser.parse_subexpr(level).map(|right| {
                let (left, right) = (Box::new(expr.clone()), Box::new(right));
                match negated {
                    true => Expr::IsNotDistinctFrom(left, right),
                    false => Expr::IsDistinctFrom(left, right),
                }
            }));
        }
        if parser.peek_token_ref().token == Token::Overlap {
            parser.advance_token();
            let level = self.prec_value(Precedence::PgOther);
            return Some(
                parser
                    .parse_subexpr(level)
                    .map(|right| call("list_has_any", [expr.clone(), right])),
            );
        }
        let ((op, tokens), precedence) = match distance_operator(parser) {
            Some(distance) => (distance, DISTANCE_PRECEDENCE),
            None => (power_operator(parser)?, POWER_PRECEDENCE),
        };
        for _ in 0..tokens {
            parser.advance_token();
        }
        // Parsing the right side at the operator's own precedence makes a chain left-associative.
        Some(
            parser
                .parse_subexpr(precedence)
                .map(|right| Expr::BinaryOp {
                    left: Box::new(expr.clone()),
                    op,
                    right: Box::new(right),
                }),
        )
    }

    /// A sign applies to the operand that follows it, before `^` and `*`: DuckDB's `-2 ^ 2` is
    /// `(-2) ^ 2`, where sqlparser would take `-(2 ^ 2)`. Brackets holding a `FOR` are a list
    /// comprehension ([`parse_comprehension`]).
    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        if parser.peek_token_ref().token == Token::LBracket && brackets_hold_for(parser) {
            return Some(parse_comprehension(parser));
        }
        if let Some(literal) = timestamp_unit_literal(parser) {
            return Some(Ok(literal));
        }
        let op = match parser.peek_token_ref().token {
            Token::Minus => UnaryOperator::Minus,
            Token::Plus => UnaryOperator::Plus,
            _ => return None,
        };
        parser.advance_token();
        Some(
            parser
                .parse_subexpr(POWER_PRECEDENCE)
                .map(|operand| Expr::UnaryOp {
                    op,
                    expr: Box::new(operand),
                }),
        )
    }

    // The DuckDB dialect's own settings, forwarded.

    fn supports_trailing_commas(&self) -> bool {
        DuckDbDialect.supports_trailing_commas()
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        DuckDbDialect.is_identifier_start(ch)
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        DuckDbDialect.is_identifier_part(ch)
    }

    fn supports_filter_during_aggregation(&self) -> bool {
        DuckDbDialect.supports_filter_during_aggregation()
    }

    fn supports_group_by_expr(&self) -> bool {
        DuckDbDialect.supports_group_by_expr()
    }

    fn supports_bitwise_shift_operators(&self) -> bool {
        DuckDbDialect.supports_bitwise_shift_operators()
    }

    fn supports_named_fn_args_with_eq_operator(&self) -> bool {
        DuckDbDialect.supports_named_fn_args_with_eq_operator()
    }

    fn supports_named_fn_args_with_assignment_operator(&self) -> bool {
        DuckDbDialect.supports_named_fn_args_with_assignment_operator()
    }

    fn supports_dictionary_syntax(&self) -> bool {
        DuckDbDialect.supports_dictionary_syntax()
    }

    fn support_map_literal_syntax(&self) -> bool {
        DuckDbDialect.support_map_literal_syntax()
    }

    fn supports_lambda_functions(&self) -> bool {
        DuckDbDialect.supports_lambda_functions()
    }

    fn allow_extract_single_quotes(&self) -> bool {
        DuckDbDialect.allow_extract_single_quotes()
    }

    fn supports_explain_with_utility_options(&self) -> bool {
        DuckDbDialect.supports_explain_with_utility_options()
    }

    fn supports_load_extension(&self) -> bool {
        DuckDbDialect.supports_load_extension()
    }

    fn supports_array_typedef_with_brackets(&self) -> bool {
        DuckDbDialect.supports_array_typedef_with_brackets()
    }

    fn supports_from_first_select(&self) -> bool {
        DuckDbDialect.supports_from_first_select()
    }

    fn supports_order_by_all(&self) -> bool {
        DuckDbDialect.supports_order_by_all()
    }

    fn supports_select_wildcard_exclude(&self) -> bool {
        DuckDbDialect.supports_select_wildcard_exclude()
    }

    fn supports_notnull_operator(&self) -> bool {
        DuckDbDialect.supports_notnull_operator()
    }

    fn supports_install(&self) -> bool {
        DuckDbDialect.supports_install()
    }

    fn supports_detach(&self) -> bool {
        DuckDbDialect.supports_detach()
    }

    fn supports_select_wildcard_replace(&self) -> bool {
        DuckDbDialect.supports_select_wildcard_replace()
    }

    fn supports_comma_separated_trim(&self) -> bool {
        DuckDbDialect.supports_comma_separated_trim()
    }

    /// DuckDB's `s.* RENAME (a AS b)` over a STRUCT or a table (`* RENAME` alone is read by
    /// `expand::mark_renames`).
    fn supports_select_wildcard_rename(&self) -> bool {
        true
    }

    /// `COMMENT ON TABLE | VIEW | COLUMN ... IS '...'` (see `comments`).
    fn supports_comment_on(&self) -> bool {
        true
    }
}

/// A query in Tarn's dialect (the SQL the rewrites build).
pub(crate) fn parse_query(sql: &str) -> Result<Box<Query>, ParserError> {
    Parser::new(&TarnDialect)
        .try_with_sql(sql)
        .and_then(|mut parser| parser.parse_query())
}

/// An expression in Tarn's dialect.
pub(crate) fn parse_expr(sql: &str) -> Result<Expr, ParserError> {
    Parser::new(&TarnDialect)
        .try_with_sql(sql)
        .and_then(|mut parser| parser.parse_expr())
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;

    use sqlparser::ast::visit_expressions_mut;

    use super::*;

    fn parse(expr: &str) -> Expr {
        Parser::new(&TarnDialect)
            .try_with_sql(expr)
            .and_then(|mut p| p.parse_expr())
            .unwrap()
    }

    /// The expression without its parentheses, which only say how it was grouped.
    fn grouping(expr: &str) -> Expr {
        let mut expr = parse(expr);
        let _ = visit_expressions_mut(&mut expr, |e| {
            if let Expr::Nested(inner) = e {
                *e = inner.as_ref().clone();
            }
            ControlFlow::<()>::Continue(())
        });
        expr
    }

    fn parsed(expr: &str) -> String {
        format!("{:?}", parse(expr))
    }

    fn same(a: &str, b: &str) {
        assert_eq!(grouping(a), grouping(b), "{a} should parse as {b}");
    }

    #[test]
    fn power_binds_tighter_than_product_and_looser_than_sign() {
        same("2 * 3 ^ 2", "2 * (3 ^ 2)");
        same("1 + 2 ^ 2", "1 + (2 ^ 2)");
        same("-2 ^ 2", "(-2) ^ 2");
        same("2 ^ 3 ^ 2", "(2 ^ 3) ^ 2");
        same("2 ** 3 ** 2", "(2 ** 3) ** 2");
        same("2 * 3 ** 2", "2 * (3 ** 2)");
        same("2 ^ -x", "2 ^ (-x)");
        same("-x::INT ^ 2", "(-(x::INT)) ^ 2");
        assert!(parsed("2 ^ 3").contains("PGExp"));
        assert!(parsed("'abc' ^@ 'a'").contains("PGStartsWith"));
    }

    #[test]
    fn distances_bind_between_comparisons_and_sums() {
        same("e <=> q < 0.5", "(e <=> q) < 0.5");
        same("e <-> q + r", "e <-> (q + r)");
        same("e <-> q <=> r", "(e <-> q) <=> r");
        assert!(parsed("e <=> q").contains("Spaceship"));
        assert!(parsed("e <-> q").contains("Custom(\"<->\")"));
    }

    #[test]
    fn timestamp_unit_literals_are_casts() {
        same(
            "TIMESTAMP_MS '2024-05-06 10:11:12.345'",
            "CAST('2024-05-06 10:11:12.345' AS TIMESTAMP_MS)",
        );
        same(
            "timestamp_s '2024-05-06' + x",
            "CAST('2024-05-06' AS TIMESTAMP_S) + x",
        );
        // Not before anything but a string: a column of that name stays a column.
        assert!(parsed("timestamp_ns + 1").starts_with("BinaryOp { left: Identifier"));
    }

    #[test]
    fn spaced_stars_are_not_power() {
        let err = Parser::new(&TarnDialect)
            .try_with_sql("2 * * 3")
            .and_then(|mut p| p.parse_expr())
            .unwrap_err();
        assert!(err.to_string().contains("Expected"), "{err}");
    }

    #[test]
    fn duckdb_syntax_stays() {
        assert!(parsed("7 // 2").contains("DuckIntegerDivide"));
        assert!(parsed("{'a': 1}").contains("Dictionary"));
        assert!(parsed("x NOTNULL").contains("IsNotNull"));
    }
}
