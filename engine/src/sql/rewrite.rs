//! Syntax-tree rewrites that give DuckDB's meaning to statements DataFusion would plan
//! differently: file references become placeholder tables, a bare `FROM t` selects every column,
//! and sampled tables become sampled subqueries.

use std::ops::ControlFlow;
use std::sync::LazyLock;

use regex::Regex;

use sqlparser::ast::{
    ArrayElemTypeDef, BinaryOperator, CastKind, CeilFloorKind, DataType, DateTimeField,
    ExactNumberInfo, ExcludeSelectItem, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentList, FunctionArguments, Ident, JoinOperator, ObjectName, ObjectNamePart,
    OrderBy, OrderByExpr, OrderByKind, Query, Select, SelectFlavor, SelectItem, SetExpr, Statement,
    TableAlias, TableAliasColumnDef, TableFactor, TableSample, TableSampleKind, TableSampleUnit,
    TableWithJoins, TypedString, UnaryOperator, Value, VisitMut, VisitorMut,
    WildcardAdditionalOptions, visit_expressions, visit_expressions_mut,
};

use super::catalog_functions::CatalogFunction;
use super::table_functions::TableFunction;
use crate::error::{Result, TarnError};

/// The schema that holds the tables file references resolve to while a statement is planned.
pub const FILES_SCHEMA: &str = "tarn_files";

/// What a rewrite found: the file tables the statement needs, by placeholder name.
#[derive(Debug, Default)]
pub struct Rewritten {
    pub files: Vec<(String, TableFunction)>,
}

/// Rewrites `statement` in place, VALUES lists first (their columns named as DuckDB names them).
/// `known_table` says whether a quoted name is an existing table
/// (then `FROM "name"` keeps its meaning) rather than a path.
pub fn rewrite(statement: &mut Statement, known_table: &dyn Fn(&str) -> bool) -> Result<Rewritten> {
    super::values_names::name_values_columns(statement)?;
    let mut visitor = Rewriter {
        known_table,
        found: Rewritten::default(),
        in_schema_view: false,
    };
    run_visitor(statement, &mut visitor)?;
    Ok(visitor.found)
}

/// Runs a rewriting visitor over `node`; the error it stopped at, if any.
pub(super) fn run_visitor<V: VisitorMut<Break = TarnError>>(
    node: &mut impl VisitMut,
    visitor: &mut V,
) -> Result<()> {
    match node.visit(visitor) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(err) => Err(err),
    }
}

struct Rewriter<'a> {
    known_table: &'a dyn Fn(&str) -> bool,
    found: Rewritten,
    /// Whether the visit is inside the subquery an `information_schema` view was replaced by.
    in_schema_view: bool,
}

impl VisitorMut for Rewriter<'_> {
    type Break = TarnError;

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<TarnError> {
        if select.projection.is_empty() && select.flavor == SelectFlavor::FromFirstNoSelect {
            select
                .projection
                .push(SelectItem::Wildcard(WildcardAdditionalOptions::default()));
            // Written as `SELECT * FROM`, so that the text of a part of the statement (a WITH
            // clause a rewrite plans alone) reads back the same.
            select.flavor = SelectFlavor::Standard;
        }
        select.from.iter_mut().for_each(semi_and_anti_joins_as_left);
        name_unnamed_subqueries(&mut select.from);
        ControlFlow::Continue(())
    }

    /// `FLOOR(x)` and `CEIL(x [, scale])` are syntax to the parser, named in capitals; as
    /// calls they are named as DuckDB names them (`floor(x)`). A row value `(a + 1, b)` is a
    /// STRUCT, as DataFusion makes `(a, b)`, which refuses one that starts with an expression.
    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<TarnError> {
        let (name, operand, field) = match expr {
            Expr::Floor { expr, field } => ("floor", expr, field),
            Expr::Ceil { expr, field } => ("ceil", expr, field),
            Expr::Tuple(values)
                if !matches!(
                    values.first(),
                    None | Some(Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Value(_))
                ) =>
            {
                *expr = call("struct", std::mem::take(values));
                return ControlFlow::Continue(());
            }
            _ => return ControlFlow::Continue(()),
        };
        let mut args = vec![operand.as_ref().clone()];
        match field {
            CeilFloorKind::DateTimeField(DateTimeField::NoDateTime) => {}
            CeilFloorKind::Scale(scale) => args.push(Expr::Value(scale.clone())),
            // `FLOOR(t TO DAY)`: DataFusion's to plan (or refuse).
            CeilFloorKind::DateTimeField(_) => return ControlFlow::Continue(()),
        }
        *expr = call(name, args);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<TarnError> {
        if let Err(err) = super::ordinality::number_rows(factor) {
            return ControlFlow::Break(err);
        }
        name_series_column(factor);
        series_over_columns_as_unnest(factor);
        unnest_as_table(factor);
        if let TableFactor::NestedJoin {
            table_with_joins, ..
        } = factor
        {
            semi_and_anti_joins_as_left(table_with_joins);
        }
        let result = sample_to_subquery(factor).and_then(|()| self.replace_file_reference(factor));
        match result {
            Ok(()) => ControlFlow::Continue(()),
            Err(err) => ControlFlow::Break(err),
        }
    }

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<TarnError> {
        // The view named inside the subquery of one stays as it is.
        if self.in_schema_view {
            return ControlFlow::Continue(());
        }
        match super::schema_views::duckdb_columns_view(factor) {
            // The subquery reads DuckDB's catalog functions, which resolve as any query's do.
            Ok(true) => {
                self.in_schema_view = true;
                let flow = factor.visit(self);
                self.in_schema_view = false;
                flow
            }
            Ok(false) => ControlFlow::Continue(()),
            Err(err) => ControlFlow::Break(err),
        }
    }
}

/// DuckDB's `a SEMI JOIN b` and `a ANTI JOIN b` keep the rows of `a` that have (or lack) a
/// match in `b`: DataFusion's `LEFT SEMI` and `LEFT ANTI` joins, which it plans where it does
/// not plan the bare forms.
fn semi_and_anti_joins_as_left(from: &mut TableWithJoins) {
    for join in &mut from.joins {
        match &join.join_operator {
            JoinOperator::Semi(on) => join.join_operator = JoinOperator::LeftSemi(on.clone()),
            JoinOperator::Anti(on) => join.join_operator = JoinOperator::LeftAnti(on.clone()),
            _ => {}
        }
    }
}

/// Names each unaliased subquery of a FROM clause with more than one relation as DuckDB does
/// (`unnamed_subquery`, `unnamed_subquery2`, ...). DataFusion would qualify its columns with
/// the tables inside it, so `t JOIN (SELECT id FROM t) USING (id)` saw `t.id` twice.
fn name_unnamed_subqueries(from: &mut [TableWithJoins]) {
    let relations: usize = from.iter().map(|table| 1 + table.joins.len()).sum();
    if relations < 2 {
        return;
    }
    let factors = from.iter_mut().flat_map(|table| {
        std::iter::once(&mut table.relation).chain(table.joins.iter_mut().map(|j| &mut j.relation))
    });
    let mut named = 0;
    for factor in factors {
        if let TableFactor::Derived {
            alias: alias @ None,
            ..
        } = factor
        {
            named += 1;
            let name = match named {
                1 => "unnamed_subquery".to_string(),
                n => format!("unnamed_subquery{n}"),
            };
            *alias = Some(sqlparser::ast::TableAlias {
                explicit: true,
                name: Ident::new(name),
                columns: vec![],
                at: None,
            });
        }
    }
}

impl Rewriter<'_> {
    fn replace_file_reference(&mut self, factor: &mut TableFactor) -> Result<()> {
        let TableFactor::Table {
            name, args, alias, ..
        } = factor
        else {
            return Ok(());
        };
        // Without an alias, the table keeps the name users see in DuckDB: the function name
        // for a call, the file stem (of the path, not of its quoted spelling) for a path.
        let (function, visible) = match args {
            Some(call) => {
                let function_name = name.to_string();
                match TableFunction::from_call(&function_name, &call.args)? {
                    Some(function) => (function, function_name),
                    None => return Ok(()),
                }
            }
            None => match path_reference(name, self.known_table) {
                Some(path) => (TableFunction::from_path(&path), file_stem(&path)),
                None => match catalog_view(name, self.known_table) {
                    Some((function, name)) => (TableFunction::Catalog(function), name),
                    None => return Ok(()),
                },
            },
        };
        if alias.is_none() {
            *alias = Some(sqlparser::ast::TableAlias {
                explicit: true,
                name: alias_ident(visible),
                columns: vec![],
                at: None,
            });
        }
        let placeholder = format!("f{}", self.found.files.len());
        *name = ObjectName::from(vec![Ident::new(FILES_SCHEMA), Ident::new(&placeholder)]);
        *args = None;
        self.found.files.push((placeholder, function));
        Ok(())
    }
}

/// Gives `/`, `//`, `^`, `^@`, `~`, `->`, `->>`, `CAST(x AS JSON)`, `CAST(x AS BLOB)`,
/// `INTERVAL 1 DAY` in a window frame, `INTERVAL (x) DAY`, `n * INTERVAL 1 DAY`,
/// `json_transform(j, structure)` and DuckDB's type names in casts and in CREATE TABLE's
/// columns (`BLOB`, `UTINYINT`, `HUGEINT`, [`respell_type`]) DuckDB's meaning. Runs
/// after [`name_columns`], so columns keep the names users wrote (`(a / b)`).
pub fn duckdb_operators(statement: &mut Statement) -> Result<()> {
    run_visitor(statement, &mut OperatorRewriter)
}

struct OperatorRewriter;

impl VisitorMut for OperatorRewriter {
    type Break = TarnError;

    fn pre_visit_statement(&mut self, statement: &mut Statement) -> ControlFlow<TarnError> {
        if let Statement::CreateTable(create) = statement {
            for column in &mut create.columns {
                respell_type(&mut column.data_type);
            }
        }
        ControlFlow::Continue(())
    }

    /// DuckDB's division: `a / b` is floating point (see `functions::DIVIDE`), `a // b` integer
    /// division (`functions::INTEGER_DIVIDE`); `a ^ b` a DOUBLE power; `j -> path` and
    /// `j ->> path` JSON extraction; LIKE patterns (`like_patterns`). And DuckDB's literals:
    /// `0.1` is a DECIMAL (the session parses it so), but `1e3` is a DOUBLE, where DataFusion
    /// would make it a DECIMAL of scale -3.
    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<TarnError> {
        if let Err(err) = super::like_patterns::rewrite(expr) {
            return ControlFlow::Break(err);
        }
        // DuckDB's `s SIMILAR TO 'regex'` matches the whole string; DataFusion's matched
        // anywhere in it (`'Hello' SIMILAR TO '[a-z]+'` was true).
        if let Expr::SimilarTo {
            negated,
            expr: tested,
            pattern,
            escape_char: None,
        } = expr
        {
            let text = |s: &str| Expr::value(Value::SingleQuotedString(s.into()));
            let whole = call("concat", [text("^(?:"), (**pattern).clone(), text(")$")]);
            let matched = call("regexp_like", [(**tested).clone(), whole]);
            *expr = match negated {
                true => Expr::UnaryOp {
                    op: UnaryOperator::Not,
                    expr: Box::new(Expr::Nested(Box::new(matched))),
                },
                false => matched,
            };
            return ControlFlow::Continue(());
        }
        if let Expr::Value(value) = expr
            && let Value::Number(digits, _) = &value.value
            && digits.contains(['e', 'E'])
        {
            // From the text: as a number DataFusion would first make `1e308` a DECIMAL, whose
            // scale (-308) it refuses.
            *expr = as_double(Expr::value(Value::SingleQuotedString(digits.clone())));
            return ControlFlow::Continue(());
        }
        if let Expr::Cast {
            expr: inner,
            data_type: DataType::JSON,
            ..
        } = expr
        {
            *expr = call(super::json::MINIFY, [inner.as_ref().clone()]);
            return ControlFlow::Continue(());
        }
        if let Expr::Cast {
            kind,
            expr: inner,
            data_type: DataType::Blob(_) | DataType::Bytea,
            ..
        } = expr
        {
            let function = match kind {
                CastKind::TryCast | CastKind::SafeCast => super::byte_codecs::TRY_TEXT_TO_BLOB,
                CastKind::Cast | CastKind::DoubleColon => super::byte_codecs::TEXT_TO_BLOB,
            };
            *expr = call(function, [inner.as_ref().clone()]);
            return ControlFlow::Continue(());
        }
        if let Expr::Cast { data_type, .. } = expr {
            respell_type(data_type);
        }
        pad_timestamp_literal(expr);
        // `INTERVAL 1 DAY`: DataFusion reads a bare number there in an expression but not in
        // a window frame (`RANGE BETWEEN INTERVAL 1 DAY PRECEDING ...`); `INTERVAL '1' DAY`,
        // the same interval, it reads in both. A fraction of a unit is dropped, as in DuckDB.
        if let Expr::Interval(interval) = expr
            && let Expr::Value(value) = interval.value.as_ref()
            && let Value::Number(count, _) | Value::SingleQuotedString(count) = &value.value
        {
            let count = match &interval.leading_field {
                Some(unit) if interval.last_field.is_none() => {
                    super::interval_times::whole_count(count, unit)
                }
                _ => count.clone(),
            };
            *interval.value = Expr::value(Value::SingleQuotedString(count));
            return ControlFlow::Continue(());
        }
        if super::interval_times::rewrite(expr) {
            return ControlFlow::Continue(());
        }
        if let Expr::Function(function) = expr
            && let Some(parts) = super::date_part_list::as_struct(function)
        {
            *expr = parts;
            return ControlFlow::Continue(());
        }
        if let Expr::Function(function) = expr {
            match super::json::transform_as_cast(function) {
                Some(Ok(mut cast)) => {
                    if let Expr::Cast { data_type, .. } = &mut cast {
                        respell_type(data_type);
                    }
                    *expr = cast;
                    return ControlFlow::Continue(());
                }
                Some(Err(err)) => return ControlFlow::Break(err),
                None => {}
            }
        }
        if let Expr::UnaryOp {
            op: UnaryOperator::BitwiseNot,
            expr: operand,
        } = expr
        {
            *expr = call(super::bits::BITWISE_NOT, [operand.as_ref().clone()]);
            return ControlFlow::Continue(());
        }
        if let Expr::BinaryOp { op, left, right } = expr {
            let function = match op {
                BinaryOperator::Divide => super::functions::DIVIDE,
                BinaryOperator::DuckIntegerDivide => super::functions::INTEGER_DIVIDE,
                // DuckDB's `^` and `**` (see `dialect`): a power of DOUBLEs.
                BinaryOperator::PGExp => "power",
                BinaryOperator::Custom(custom) if custom == super::dialect::DOUBLE_STAR_POWER => {
                    "power"
                }
                BinaryOperator::PGStartsWith => "starts_with",
                BinaryOperator::Arrow => super::json::EXTRACT,
                BinaryOperator::LongArrow => super::json::EXTRACT_STRING,
                // DuckDB's vector distances (see `dialect`).
                BinaryOperator::Spaceship => "list_cosine_distance",
                BinaryOperator::Custom(custom) if custom == super::dialect::EUCLIDEAN_DISTANCE => {
                    "list_distance"
                }
                _ => return ControlFlow::Continue(()),
            };
            let mut operands = [left.as_ref().clone(), right.as_ref().clone()];
            if function == "power" {
                operands = operands.map(as_double);
            }
            *expr = call(function, operands);
        }
        ControlFlow::Continue(())
    }
}

/// DuckDB's names for types DataFusion knows by others, in a cast or a table's column: BLOB is
/// BYTEA, the
/// unsigned integers (`UTINYINT` or `UINT8`, `USMALLINT`/`UINT16`, `UINTEGER`/`UINT32`,
/// `UBIGINT`/`UINT64`) are MySQL's `... UNSIGNED`, and the 128-bit integers (`HUGEINT`,
/// `INT128`, `UHUGEINT`, `UINT128`), which Arrow lacks, are `DECIMAL(38, 0)`: every integer of
/// up to 38 digits, so `sum(x::HUGEINT)` cannot overflow; also as a list's element type.
fn respell_type(data_type: &mut DataType) {
    *data_type = match data_type {
        DataType::Blob(_) => DataType::Bytea,
        DataType::UTinyInt | DataType::UInt8 => DataType::TinyIntUnsigned(None),
        DataType::USmallInt | DataType::UInt16 => DataType::SmallIntUnsigned(None),
        DataType::UInt32 => DataType::IntUnsigned(None),
        DataType::Custom(name, modifiers)
            if modifiers.is_empty() && name.to_string().eq_ignore_ascii_case("UINTEGER") =>
        {
            DataType::IntUnsigned(None)
        }
        DataType::UBigInt | DataType::UInt64 => DataType::BigIntUnsigned(None),
        // Tarn's UUIDs (`uuid()`, `gen_random_uuid()`) are their text.
        DataType::Uuid => DataType::Varchar(None),
        DataType::HugeInt | DataType::Int128 | DataType::UHugeInt | DataType::UInt128 => {
            DataType::Decimal(ExactNumberInfo::PrecisionAndScale(38, 0))
        }
        DataType::Array(
            ArrayElemTypeDef::SquareBracket(element, _) | ArrayElemTypeDef::AngleBracket(element),
        ) => {
            respell_type(element);
            return;
        }
        DataType::Struct(fields, _) => {
            for field in fields {
                respell_type(&mut field.field_type);
                // DuckDB keeps a field's case (`STRUCT(Ab INT)` has a field `Ab`).
                if let Some(name) = &mut field.field_name {
                    super::name_case::keep_case(name);
                }
            }
            return;
        }
        _ => return,
    };
}

/// `TIMESTAMP '2024-1-2 3:04'` and `CAST('2024-01-02 12:00' AS TIMESTAMP)` as Arrow's parser
/// reads them, with two-digit fields and seconds (`2024-01-02 03:04:00`): DuckDB takes the
/// short forms, Arrow refuses them.
fn pad_timestamp_literal(expr: &mut Expr) {
    let text = match expr {
        Expr::TypedString(TypedString {
            data_type, value, ..
        }) if names_timestamp(data_type) => &mut value.value,
        Expr::Cast {
            expr: inner,
            data_type,
            ..
        } if names_timestamp(data_type) => match inner.as_mut() {
            Expr::Value(value) => &mut value.value,
            _ => return,
        },
        _ => return,
    };
    if let Value::SingleQuotedString(text) = text
        && let Some(padded) = padded_timestamp(text)
    {
        *text = padded;
    }
}

/// Whether `data_type` is a TIMESTAMP of any unit (DuckDB's `TIMESTAMP_MS` and the others are
/// custom types to the parser).
fn names_timestamp(data_type: &DataType) -> bool {
    match data_type {
        DataType::Timestamp(..) | DataType::Datetime(_) => true,
        DataType::Custom(name, modifiers) => {
            modifiers.is_empty() && name.to_string().to_uppercase().starts_with("TIMESTAMP_")
        }
        _ => false,
    }
}

/// `text` with two-digit fields and seconds, when it is a timestamp written without them.
fn padded_timestamp(text: &str) -> Option<String> {
    static SHORT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(.*)$")
            .expect("a valid pattern")
    });
    let fields = SHORT.captures(text.trim())?;
    let number = |at: usize| {
        fields
            .get(at)
            .map_or(0, |f| f.as_str().parse::<u32>().unwrap_or(0))
    };
    let padded = format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02}{}",
        &fields[1],
        number(2),
        number(3),
        number(4),
        number(5),
        number(6),
        &fields[7]
    );
    (padded != text).then_some(padded)
}

/// A call of the function `name` on `args`.
pub(super) fn call(name: &str, args: impl IntoIterator<Item = Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// `CAST(expr AS data_type)`.
pub(super) fn cast(expr: Expr, data_type: DataType) -> Expr {
    Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(expr),
        data_type,
        array: false,
        format: None,
    }
}

/// `CAST(expr AS DOUBLE)`.
fn as_double(expr: Expr) -> Expr {
    cast(expr, DataType::Double(ExactNumberInfo::None))
}

/// Names the result columns of every query in the statement (the statement's own, and each
/// subquery's and CTE's, which `*` and a CTE's column list see) as DuckDB does; run after
/// select-list expansion so expanded columns are named too.
pub fn name_columns(statement: &mut Statement) {
    let _ = statement.visit(&mut NameColumns);
}

struct NameColumns;

impl VisitorMut for NameColumns {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        name_columns_like_duckdb(query);
        ControlFlow::Continue(())
    }
}

/// Gives unnamed result columns DuckDB's names: the expression as written (`sum(x)`, not
/// DataFusion's `sum(t.x)`), every binary operation in parentheses, `count(*)` as
/// `count_star()` (`count()` as a window function), wherever it stands.
/// Only a set operation's first SELECT names its columns, so only those are renamed.
fn name_columns_like_duckdb(query: &mut Query) {
    order_by_all_as_positions(query);
    let mut body = query.body.as_mut();
    loop {
        match body {
            SetExpr::Select(select) => break name_select_items(select),
            SetExpr::SetOperation { left, .. } => body = left.as_mut(),
            SetExpr::Query(inner) => body = inner.body.as_mut(),
            _ => break,
        }
    }
}

/// `ORDER BY ALL` sorts by every output column in order; DataFusion accepts it only over plain
/// columns (and over a set operation drops it), so an explicit select list becomes `ORDER BY 1,
/// 2, ...` with the same options. A set operation's columns are its first SELECT's.
fn order_by_all_as_positions(query: &mut Query) {
    let Some(order_by) = &mut query.order_by else {
        return;
    };
    if !matches!(order_by.kind, OrderByKind::All(_)) {
        return;
    }
    let mut body = query.body.as_ref();
    while let SetExpr::SetOperation { left, .. } = body {
        body = left.as_ref();
    }
    let SetExpr::Select(select) = body else {
        return;
    };
    if select.projection.iter().any(|item| {
        matches!(
            item,
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
        )
    }) {
        return;
    }
    let count = select.projection.len();
    sort_by_positions(order_by, count);
}

/// `ORDER BY ALL` as `ORDER BY 1, 2, ..., count` with its options; other orders are kept.
pub(super) fn sort_by_positions(order_by: &mut OrderBy, count: usize) {
    let OrderByKind::All(options) = &order_by.kind else {
        return;
    };
    let options = *options;
    let positions = (1..=count)
        .map(|position| OrderByExpr {
            expr: Expr::value(Value::Number(position.to_string(), false)),
            options,
            with_fill: None,
        })
        .collect();
    order_by.kind = OrderByKind::Expressions(positions);
}

fn name_select_items(select: &mut Select) {
    let relations = relation_names(&select.from);
    // Every output name so far: DuckDB allows a name twice (`SELECT id, id`) where a
    // DataFusion schema may not, so a repeat is numbered (`id_1`) as DuckDB's COPY numbers it.
    let mut given: Vec<String> = Vec::new();
    for item in &mut select.projection {
        let (expr, name, named_already) = match item {
            SelectItem::UnnamedExpr(expr) => {
                let (name, named_already) = written_name(expr, &relations);
                (expr, name, named_already)
            }
            SelectItem::ExprWithAlias { expr, alias } => (expr, alias.value.clone(), true),
            _ => continue,
        };
        let repeats = given
            .iter()
            .filter(|n| n.eq_ignore_ascii_case(&name))
            .count();
        given.push(name.clone());
        if repeats == 0 && named_already {
            continue;
        }
        let alias = match repeats {
            0 => name,
            n => format!("{name}_{n}"),
        };
        *item = SelectItem::ExprWithAlias {
            expr: expr.clone(),
            alias: Ident::with_quote('"', alias),
        };
    }
}

/// The name DuckDB gives an unaliased select item over the relations `relations`, and whether
/// DataFusion names it so too (a column is named by its name, an expression by its text).
pub(super) fn written_name(expr: &Expr, relations: &[String]) -> (String, bool) {
    match expr {
        Expr::Identifier(ident) => (ident.value.clone(), true),
        Expr::CompoundIdentifier(parts) => match struct_field_name(parts, relations) {
            Some(field) => (field, false),
            None => (parts[parts.len() - 1].value.clone(), true),
        },
        _ => (fully_parenthesized(expr), false),
    }
}

/// The names an expression (or any node) reads: the first parts of its qualified names
/// (`t` of `t.x`), lowercased, and the first unqualified name, if any.
pub(super) struct NamesRead {
    pub qualifiers: Vec<String>,
    pub bare: Option<Ident>,
}

pub(super) fn names_read(node: &impl sqlparser::ast::Visit) -> NamesRead {
    let mut read = NamesRead {
        qualifiers: Vec::new(),
        bare: None,
    };
    let _ = sqlparser::ast::visit_expressions(node, |e| {
        match e {
            Expr::CompoundIdentifier(parts) => read.qualifiers.push(parts[0].value.to_lowercase()),
            Expr::Identifier(ident) if read.bare.is_none() => read.bare = Some(ident.clone()),
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    read
}

/// `(NOT expr)` where `negated`, else `expr`.
pub(super) fn negated_if(negated: bool, expr: Expr) -> Expr {
    match negated {
        true => Expr::Nested(Box::new(Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr: Box::new(expr),
        })),
        false => expr,
    }
}

/// The conjuncts joined by AND, or `None` for none.
pub(super) fn conjunction(conjuncts: Vec<Expr>) -> Option<Expr> {
    conjuncts.into_iter().reduce(|all, next| Expr::BinaryOp {
        left: Box::new(all),
        op: BinaryOperator::And,
        right: Box::new(next),
    })
}

/// The parts of an AND chain (parentheses looked through), appended to `into`.
pub(super) fn split_conjuncts(expr: &Expr, into: &mut Vec<Expr>) {
    match expr {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            split_conjuncts(left, into);
            split_conjuncts(right, into);
        }
        Expr::Nested(inner) => split_conjuncts(inner, into),
        other => into.push(other.clone()),
    }
}

/// The names a FROM clause gives its relations: each alias, or else a table's own name.
pub(super) fn relation_names(from: &[TableWithJoins]) -> Vec<String> {
    from.iter()
        .flat_map(|table| {
            std::iter::once(&table.relation).chain(table.joins.iter().map(|join| &join.relation))
        })
        .filter_map(|factor| visible_name(factor).map(|name| name.value.clone()))
        .collect()
}

/// Adds `column` to the columns a `*` or `t.*` leaves out (`EXCLUDE`).
pub(super) fn exclude(options: &mut WildcardAdditionalOptions, column: Ident) {
    options.opt_exclude = Some(match options.opt_exclude.take() {
        None => ExcludeSelectItem::Single(column.into()),
        Some(ExcludeSelectItem::Single(first)) => {
            ExcludeSelectItem::Multiple(vec![first, column.into()])
        }
        Some(ExcludeSelectItem::Multiple(mut columns)) => {
            columns.push(column.into());
            ExcludeSelectItem::Multiple(columns)
        }
    });
}

/// The name a FROM factor's columns are qualified with: its alias, or a table's own name.
pub(super) fn visible_name(factor: &TableFactor) -> Option<&Ident> {
    match factor {
        TableFactor::Table {
            alias: Some(alias), ..
        }
        | TableFactor::Derived {
            alias: Some(alias), ..
        }
        | TableFactor::UNNEST {
            alias: Some(alias), ..
        }
        | TableFactor::Function {
            alias: Some(alias), ..
        } => Some(&alias.name),
        TableFactor::Table { name, .. } => name.0.last().and_then(|part| part.as_ident()),
        _ => None,
    }
}

/// DuckDB's name for a dotted reference that reaches into a struct (`meta.lang`,
/// `t.meta.lang`): its last part as written. DataFusion would name it `t.meta[lang]`. A
/// reference whose first part names a relation and has two parts is a plain column, which
/// keeps its own name.
fn struct_field_name(parts: &[Ident], relations: &[String]) -> Option<String> {
    let names_relation = relations
        .iter()
        .any(|relation| relation.eq_ignore_ascii_case(&parts[0].value));
    let reaches_into_struct = parts.len() > 2 || (parts.len() == 2 && !names_relation);
    reaches_into_struct.then(|| parts[parts.len() - 1].value.clone())
}

/// `expr` written as DuckDB names a column: every operation in parentheses (`1 + 2 * 3` is
/// `(1 + (2 * 3))`, `sum(x + 1)` is `sum((x + 1))`, `(x IS NULL)`), function names in lower
/// case (`SUM(x)` is `sum(x)`; but `COALESCE`), and `x::T` as `CAST(x AS T)`.
pub(super) fn fully_parenthesized(expr: &Expr) -> String {
    spelled(expr, true)
}

/// How DuckDB names an unaliased item of a RETURNING clause: as [`fully_parenthesized`], but
/// with columns written as the query wrote them (`upper(label)`, where a select list's item is
/// `upper("label")`).
pub(super) fn returned_name(expr: &Expr) -> String {
    spelled(expr, false)
}

/// `expr` in DuckDB's spelling (see [`fully_parenthesized`]), its columns quoted as DuckDB
/// quotes them where `quote_columns`.
fn spelled(expr: &Expr, quote_columns: bool) -> String {
    let mut expr = expr.clone();
    // After the children, so each operation is wrapped once, inside out.
    let _ = visit_expressions_mut(&mut expr, |e| {
        match e {
            // `j -> 'a'` is a binary operation in DuckDB (JSON), a lambda to the parser.
            Expr::BinaryOp { .. }
            | Expr::Lambda(_)
            | Expr::IsNull(_)
            | Expr::IsNotNull(_)
            | Expr::Between { .. }
            | Expr::InList { .. }
            | Expr::UnaryOp {
                op: UnaryOperator::Not,
                ..
            } => *e = Expr::Nested(Box::new(e.clone())),
            Expr::Function(call) => {
                let counts_rows = call.args.to_string() == "(*)";
                if let [ObjectNamePart::Identifier(name)] = call.name.0.as_mut_slice()
                    && name.quote_style.is_none()
                {
                    // COALESCE is an operator to DuckDB, which names it in capitals; `count(*)`
                    // is `count_star()`, and `count()` as a window function.
                    let lower = name.value.to_lowercase();
                    name.value = match lower.as_str() {
                        "coalesce" => "COALESCE".to_string(),
                        "count" if counts_rows && call.over.is_none() => "count_star".to_string(),
                        _ => lower.clone(),
                    };
                    if counts_rows && lower == "count" {
                        call.args = FunctionArguments::List(FunctionArgumentList {
                            duplicate_treatment: None,
                            args: vec![],
                            clauses: vec![],
                        });
                    }
                }
            }
            Expr::Cast { kind, .. } if *kind == CastKind::DoubleColon => *kind = CastKind::Cast,
            // Parentheses the query wrote around an operation: once is enough.
            Expr::Nested(inner) if matches!(inner.as_ref(), Expr::Nested(_)) => {
                *e = (**inner).clone();
            }
            _ => {}
        }
        super::expression_names::duckdb_spelling(e, quote_columns);
        ControlFlow::<()>::Continue(())
    });
    super::map_types::as_written(&expr.to_string())
}

/// The table functions of a series of values, which DuckDB also has as list functions.
pub(super) const SERIES_FUNCTIONS: [&str; 2] = ["range", "generate_series"];

/// The series function `name` calls, in lower case; `None` for another name.
fn series_function(name: &ObjectName) -> Option<String> {
    let function = name.to_string().to_lowercase();
    SERIES_FUNCTIONS
        .contains(&function.as_str())
        .then_some(function)
}

/// `range(...)` and `generate_series(...)` name their column after their alias in DuckDB, or
/// after themselves (`SELECT range FROM range(3)`, `SELECT t FROM range(3) t`); DataFusion
/// calls it `value`.
fn name_series_column(factor: &mut TableFactor) {
    let TableFactor::Table {
        name,
        args: Some(_),
        alias,
        ..
    } = factor
    else {
        return;
    };
    let Some(function) = series_function(name) else {
        return;
    };
    let alias = alias.get_or_insert_with(|| TableAlias {
        explicit: false,
        name: Ident::new(&function),
        columns: vec![],
        at: None,
    });
    if alias.columns.is_empty() {
        alias.columns = vec![TableAliasColumnDef::from_name(alias.name.value.clone())];
    }
}

/// `FROM docs, range(docs.chunks) AS c(i)`: a series whose bounds are an earlier table's
/// columns, a series per row, as DuckDB reads it. DataFusion's `range` and `generate_series`
/// tables take literals only, so such a call becomes the lateral unnest of the list function of
/// the same name, `unnest(range(docs.chunks)) AS c(i)`, which gives the same rows (none for a
/// NULL bound). A series of literals stays the streaming table function. Runs after
/// [`name_series_column`], so the column keeps the series' name.
fn series_over_columns_as_unnest(factor: &mut TableFactor) {
    let TableFactor::Table {
        name,
        args: Some(table_args),
        with_ordinality: false,
        ..
    } = factor
    else {
        return;
    };
    let Some(function) = series_function(name) else {
        return;
    };
    let bounds: Option<Vec<Expr>> = table_args
        .args
        .iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => Some(expr.clone()),
            _ => None,
        })
        .collect();
    let Some(bounds) = bounds else {
        return;
    };
    let reads_columns = bounds.iter().any(|bound| {
        visit_expressions(bound, |e| match e {
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        })
        .is_break()
    });
    if reads_columns {
        *name = ObjectName::from(vec![Ident::new("unnest")]);
        table_args.args = vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(call(
            &function, bounds,
        )))];
    }
}

/// `FROM unnest(list) [AS t(x)]` (or `LATERAL unnest(...)`): a call to the parser,
/// DataFusion's `UNNEST` table once rewritten. Its column is named after the alias's column,
/// or the alias, or `unnest`, as in DuckDB.
fn unnest_as_table(factor: &mut TableFactor) {
    let (name, args, alias) = match factor {
        TableFactor::Table {
            name,
            args: Some(call),
            alias,
            ..
        } => (&*name, &call.args, alias),
        TableFactor::Function {
            name, args, alias, ..
        } => (&*name, &*args, alias),
        _ => return,
    };
    let is_unnest = matches!(name.0.as_slice(), [part]
        if part.as_ident().is_some_and(|i| i.quote_style.is_none() && i.value.eq_ignore_ascii_case("unnest")));
    let lists: Option<Vec<Expr>> = args
        .iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => Some(expr.clone()),
            _ => None,
        })
        .collect();
    // Named options (DuckDB's `recursive := true`) are left for DataFusion to refuse.
    let (true, Some(lists)) = (is_unnest, lists) else {
        return;
    };
    let mut alias = alias.take().unwrap_or_else(|| TableAlias {
        explicit: false,
        name: Ident::new("unnest"),
        columns: vec![],
        at: None,
    });
    if alias.columns.is_empty() {
        alias.columns = vec![TableAliasColumnDef::from_name(alias.name.value.clone())];
    }
    *factor = TableFactor::UNNEST {
        alias: Some(alias),
        array_exprs: lists,
        with_offset: false,
        with_offset_alias: None,
        with_ordinality: false,
    };
}

/// A table name that stands for files: a single-quoted string, or a double-quoted name that is
/// not a table and looks like a path.
fn path_reference(name: &ObjectName, known_table: &dyn Fn(&str) -> bool) -> Option<String> {
    let [part] = name.0.as_slice() else {
        return None;
    };
    let ident = part.as_ident()?;
    match ident.quote_style {
        Some('\'') => Some(ident.value.clone()),
        Some('"') if !known_table(&ident.value) && looks_like_path(&ident.value) => {
            Some(ident.value.clone())
        }
        _ => None,
    }
}

/// A bare `duckdb_tables` (any of the catalog functions' names) that names no table of the
/// session: DuckDB's view over the function, so the call it stands for.
fn catalog_view(
    name: &ObjectName,
    known_table: &dyn Fn(&str) -> bool,
) -> Option<(CatalogFunction, String)> {
    let [part] = name.0.as_slice() else {
        return None;
    };
    let ident = part.as_ident()?;
    let function = CatalogFunction::named(&ident.value)?;
    (!known_table(&ident.value)).then(|| (function, ident.value.to_lowercase()))
}

/// Whether a quoted name reads as a file path (a folder, a glob or a known extension).
pub(super) fn looks_like_path(text: &str) -> bool {
    text.contains('/')
        || text.contains('*')
        || super::files::FileFormatKind::from_path(text).is_some()
}

/// `name` as an alias: bare where it is a plain identifier, so that it matches in any case as
/// DuckDB's names do; quoted otherwise (`my-data` from `my-data.parquet`), so that the
/// statement still parses when printed (as `COLUMNS` expansion prints its FROM clause).
fn alias_ident(name: String) -> Ident {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        Ident::new(name)
    } else {
        Ident::with_quote('"', name)
    }
}

fn file_stem(path: &str) -> String {
    let name = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path);
    let stem = name.split('.').next().unwrap_or(name);
    if stem.is_empty() || stem.contains('*') {
        "file".to_string()
    } else {
        stem.to_string()
    }
}

/// `t TABLESAMPLE (10 PERCENT)` becomes `(SELECT * FROM t WHERE random() < 0.1) AS t` (a
/// Bernoulli sample), and `t TABLESAMPLE (100 ROWS)` becomes a random choice of 100 rows;
/// `REPEATABLE (seed)` makes the choice the same on every run.
fn sample_to_subquery(factor: &mut TableFactor) -> Result<()> {
    let TableFactor::Table {
        sample,
        name,
        alias,
        ..
    } = factor
    else {
        return Ok(());
    };
    let Some(kind) = sample.take() else {
        return Ok(());
    };
    let (TableSampleKind::BeforeTableAlias(spec) | TableSampleKind::AfterTableAlias(spec)) = kind;
    let amount = sample_amount(&spec)?;
    // The inner relation keeps its alias, with any column names (`range(9) AS r(x)`).
    let visible = alias.as_ref().map(|a| a.name.clone()).unwrap_or_else(|| {
        name.0
            .last()
            .and_then(|p| p.as_ident())
            .cloned()
            .unwrap_or_else(|| Ident::new("sample"))
    });
    let inner = factor.clone();
    // With a seed, each row's place comes from its values (see `samples::seeded_positions`).
    let position = match &spec.seed {
        Some(seed) => format!("{}({})", super::samples::SEEDED_POSITION, seed.value),
        None => "random()".to_string(),
    };
    let query = match amount {
        SampleAmount::Percent(p) => {
            format!("SELECT * FROM {inner} WHERE {position} < {}", p / 100.0)
        }
        // The place is a column: DataFusion's top-k fails on rows with no columns, which is
        // what it gets when the query reads none of the relation's (`SELECT count(*)`).
        SampleAmount::Rows(n) => format!(
            "SELECT * EXCLUDE ({SAMPLE_POSITION}) FROM (SELECT *, {position} AS {SAMPLE_POSITION} \
             FROM {inner}) ORDER BY {SAMPLE_POSITION} LIMIT {n}"
        ),
    };
    let subquery: Box<Query> =
        super::dialect::parse_query(&query).map_err(|e| TarnError::Parse(e.to_string()))?;
    *factor = TableFactor::Derived {
        lateral: false,
        subquery,
        alias: Some(sqlparser::ast::TableAlias {
            explicit: true,
            name: visible,
            columns: vec![],
            at: None,
        }),
        sample: None,
    };
    Ok(())
}

/// The column a sample of so many rows orders by.
const SAMPLE_POSITION: &str = "__tarn_sample_position";

enum SampleAmount {
    Percent(f64),
    Rows(u64),
}

fn sample_amount(spec: &TableSample) -> Result<SampleAmount> {
    let quantity = spec.quantity.as_ref().ok_or_else(|| {
        TarnError::Invalid("a sample needs a size, such as 10% or 100 ROWS".into())
    })?;
    let number = match &quantity.value {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse::<f64>().ok(),
            _ => None,
        },
        _ => None,
    }
    .ok_or_else(|| {
        TarnError::Invalid(format!("sample size '{}' is not a number", quantity.value))
    })?;
    match quantity.unit {
        Some(TableSampleUnit::Rows) => Ok(SampleAmount::Rows(number as u64)),
        _ if (0.0..=100.0).contains(&number) => Ok(SampleAmount::Percent(number)),
        _ => Err(TarnError::Invalid(format!(
            "sample percentage {number} is outside 0-100"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::{padded_timestamp, rewrite};
    use crate::sql::dialect::TarnDialect;
    use sqlparser::parser::Parser;

    #[test]
    fn a_file_is_named_after_its_stem_however_its_path_is_quoted() {
        for (from, alias) in [
            ("'corpus.parquet'", "corpus"),
            ("\"corpus.parquet\"", "corpus"),
            ("'./data/Shard-1.parquet'", "\"Shard-1\""),
            ("'s3://bucket/shards/'", "shards"),
            ("'*.parquet'", "file"),
        ] {
            let sql = format!("SELECT * FROM {from}");
            let mut statement = Parser::parse_sql(&TarnDialect, &sql).unwrap().remove(0);
            rewrite(&mut statement, &|_| false).unwrap();
            // Printed, it must parse again: COLUMNS expansion plans the FROM clause that way.
            let printed = statement.to_string();
            assert!(
                printed.ends_with(&format!(" AS {alias}")),
                "{sql}: {printed}"
            );
            Parser::parse_sql(&TarnDialect, &printed).unwrap();
        }
    }

    #[test]
    fn short_timestamps_get_their_seconds() {
        let padded = |text| padded_timestamp(text);
        assert_eq!(
            padded("2024-01-02 12:00").as_deref(),
            Some("2024-01-02 12:00:00")
        );
        assert_eq!(
            padded("2024-1-2 3:04:05").as_deref(),
            Some("2024-01-02 03:04:05")
        );
        assert_eq!(
            padded("2024-01-02T12:00+02").as_deref(),
            Some("2024-01-02 12:00:00+02")
        );
        // Already in Arrow's form, or no time at all: left as written.
        assert_eq!(padded("2024-01-02 12:00:00.5"), None);
        assert_eq!(padded("2024-01-02"), None);
    }
}
