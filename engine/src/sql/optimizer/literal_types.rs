//! An integer literal is an INTEGER where it fits, and takes the integer type of the values it
//! meets, as in DuckDB: `SELECT 1` is an INTEGER, `tiny + 1` a TINYINT, `coalesce(small, 0)` a
//! SMALLINT and `[1, 2]` an INTEGER[]. DataFusion types every integer literal BIGINT, which
//! widens whatever it meets: the files `CREATE TABLE AS` and `COPY` write held INT64 columns
//! where DuckDB's hold INT32 (or INT8), and `int_col + 1` of the largest INTEGER was 2147483648
//! where DuckDB reports the overflow.
//!
//! [`literal_types`] retypes the literals of a statement's plan as planned from its text,
//! before type coercion; as an analyzer rule it would also see, in a plan analyzed twice
//! (`CREATE TABLE AS`), the literals type coercion writes, such as the 86400 of `date + n`.
//!
//! * A literal takes the type of what it meets where that is one integer type it fits in: the
//!   other side of an arithmetic, comparison or bitwise operator, and the other values of `IN`,
//!   `BETWEEN`, a `CASE`'s branches (or its operand and `WHEN` values), `coalesce`, `nullif`,
//!   `greatest`, `least` and a list. Otherwise it is an INTEGER where it fits and a BIGINT
//!   where not.
//! * A literal a function takes as a setting (`round(x, 2)`, `l[1]`, `lag(x, 1)`, `count(1)`)
//!   stays BIGINT, as do LIMIT's, those inside `GROUPING SETS`, `ROLLUP` and `CUBE`, and a
//!   shift's: `1 << 40` would wrap around in 32 bits, where DuckDB fails.
//! * A VALUES column's NULLs and empty lists, which DataFusion typed as its literals were, take
//!   the column's new type; a lambda's variables take their list's.
//! * A decimal literal below 1 counts its leading zero as a digit, as DuckDB's does: `0.5` is a
//!   DECIMAL(2,1), which holds 1.5 too, where DataFusion's DECIMAL(1,1) did not (`.5`, which
//!   DuckDB types DECIMAL(1,1), is one digit wider here: the plan no longer has the text).
//! * Where a plan's types are fixed from outside, the retyped rows are cast back: an INSERT's or
//!   UPDATE's rows to the table's types, and the two terms of a recursive CTE to the types its
//!   work table was planned with.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DECIMAL128_MAX_PRECISION, DataType, Field};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, DFSchemaRef, ExprSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::{
    Alias, Between, Case, HigherOrderFunction, InList, ScalarFunction,
};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::type_coercion::binary::type_union_resolution;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{
    BinaryExpr, DmlStatement, Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, Operator,
    Projection, RecursiveQuery, Union, Values, WriteOp, cast,
};

/// `plan` with its integer literals typed as DuckDB types them (see the module documentation).
pub fn literal_types(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(retype_node)
        .map(|transformed| transformed.data)
}

/// The functions each of whose arguments is a value of its own type (a struct's fields, what
/// `typeof` names, what `abs` keeps the type of).
const OWN_TYPE_FUNCTIONS: [&str; 4] = ["named_struct", "struct", "typeof", "abs"];

/// `node`, whose inputs are already retyped, with its own literals retyped and its schema
/// recomputed from its inputs' new types.
fn retype_node(node: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    match node {
        LogicalPlan::Limit(_) => Ok(Transformed::no(node)),
        LogicalPlan::Values(values) => retype_values(values),
        LogicalPlan::Union(union) => union_of_new_types(union),
        LogicalPlan::Dml(dml) => rows_as_table_types(dml),
        LogicalPlan::RecursiveQuery(query) => terms_as_work_table_types(query),
        node => {
            let mut schema = merge_schema(&node.inputs());
            if let LogicalPlan::TableScan(scan) = &node {
                schema.merge(scan.projected_schema.as_ref());
            }
            let node = node
                .map_subqueries(|subquery| outer_references_retyped(subquery, &schema))?
                .data;
            let names = NamePreserver::new(&node);
            let retyped = node.map_expressions(|expr| {
                let name = names.save(&expr);
                let typed = typed_with_lambdas(expr, &schema)?;
                Ok(match typed.transformed {
                    true => Transformed::yes(name.restore(typed.data)),
                    false => typed,
                })
            })?;
            // Even where this node's expressions kept their types, its inputs' may have changed.
            Ok(Transformed::yes(retyped.data.recompute_schema()?))
        }
    }
}

/// `subquery` (a `LogicalPlan::Subquery`) with its references to the query around it,
/// `outer_ref(t.x)`, typed as `outer`, that query's inputs, now holds them. A subquery is
/// retyped before the node that holds it, and its outer references kept the types DataFusion
/// planned (`t.x` a BIGINT where its VALUES literal is now an INTEGER): the semi join an EXISTS
/// or a row `IN` becomes then compared INTEGER keys with BIGINT ones, and found no match.
fn outer_references_retyped(
    subquery: LogicalPlan,
    outer: &DFSchema,
) -> Result<Transformed<LogicalPlan>> {
    let retype = |expr: Expr| {
        expr.transform(|e| match e {
            Expr::OuterReferenceColumn(field, column) => match outer.field_from_column(&column) {
                Ok(now) if now.data_type() != field.data_type() => {
                    let field = field
                        .as_ref()
                        .clone()
                        .with_data_type(now.data_type().clone());
                    Ok(Transformed::yes(Expr::OuterReferenceColumn(
                        Arc::new(field),
                        column,
                    )))
                }
                _ => Ok(Transformed::no(Expr::OuterReferenceColumn(field, column))),
            },
            e => Ok(Transformed::no(e)),
        })
    };
    let LogicalPlan::Subquery(mut holder) = subquery else {
        return Ok(Transformed::no(subquery));
    };
    let plan = Arc::unwrap_or_clone(holder.subquery).transform_up_with_subqueries(|node| {
        let retyped = node.map_expressions(retype)?;
        match retyped.transformed {
            true => Ok(Transformed::yes(retyped.data.recompute_schema()?)),
            false => Ok(retyped),
        }
    })?;
    let columns = holder
        .outer_ref_columns
        .into_iter()
        .map(|column| retype(column).map(|retyped| retyped.data))
        .collect::<Result<Vec<_>>>()?;
    holder.subquery = Arc::new(plan.data);
    holder.outer_ref_columns = columns;
    Ok(Transformed::new_transformed(
        LogicalPlan::Subquery(holder),
        plan.transformed,
    ))
}

/// `expr` with its integer literals typed, and its lambdas' variables typed as what they range
/// over now is: a list whose literals or input column changed type changes its variable's. A
/// literal that meets a lambda variable is typed again once the variable is
/// (`list_transform([1, 2], x -> x + 1)`), until no literal changes.
fn typed_with_lambdas(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let mut retyped = typed(expr, None, schema)?;
    if !retyped
        .data
        .exists(|e| Ok(matches!(e, Expr::HigherOrderFunction(_))))?
    {
        return Ok(retyped);
    }
    loop {
        let resolved = resolved_lambdas(retyped.data, schema)?;
        let again = typed(resolved.data, None, schema)?;
        let settled = !again.transformed;
        let transformed = retyped.transformed || resolved.transformed || again.transformed;
        retyped = Transformed::new_transformed(again.data, transformed);
        if settled {
            return Ok(retyped);
        }
    }
}

/// `expr` with the variables of its lambdas typed anew. DataFusion's resolution, from a
/// higher-order call down, skips the calls in its list arguments
/// (`list_filter(list_filter(l, x -> ...), x -> ...)`), so each such call is resolved first.
fn resolved_lambdas(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match expr {
        Expr::HigherOrderFunction(HigherOrderFunction { func, args }) => {
            let mut transformed = false;
            let args = args
                .into_iter()
                .map(|arg| match arg {
                    Expr::Lambda(_) => Ok(arg),
                    arg => {
                        let arg = resolved_lambdas(arg, schema)?;
                        transformed |= arg.transformed;
                        Ok(arg.data)
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            let call = Expr::HigherOrderFunction(HigherOrderFunction::new(func, args));
            let resolved = call.resolve_lambda_variables(schema)?;
            Ok(Transformed::new_transformed(
                resolved.data,
                transformed || resolved.transformed,
            ))
        }
        expr => expr.map_children(|child| resolved_lambdas(child, schema)),
    }
}

/// An integer literal as the statement's text wrote it: DataFusion plans each one a BIGINT.
fn is_written_integer(expr: &Expr) -> bool {
    matches!(expr, Expr::Literal(ScalarValue::Int64(Some(_)), None))
}

/// The literal `value` typed `beside` (the integer type of the values it meets) where it fits
/// in it, otherwise INTEGER where it fits, otherwise BIGINT.
fn narrowed(value: i64, beside: Option<&DataType>) -> Transformed<Expr> {
    let written = ScalarValue::Int64(Some(value));
    let fitting = beside
        .and_then(|data_type| written.cast_to(data_type).ok())
        .filter(|fitting| !fitting.is_null())
        .or_else(|| {
            i32::try_from(value)
                .ok()
                .map(|v| ScalarValue::Int32(Some(v)))
        });
    match fitting {
        Some(fitting) if fitting.data_type() != DataType::Int64 => {
            Transformed::yes(Expr::Literal(fitting, None))
        }
        _ => Transformed::no(Expr::Literal(written, None)),
    }
}

/// `expr` with its integer literals typed, `beside` the integer type of the values it meets,
/// if any.
fn typed(expr: Expr, beside: Option<&DataType>, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match expr {
        Expr::Literal(ScalarValue::Int64(Some(value)), None) => Ok(narrowed(value, beside)),
        Expr::Literal(ScalarValue::Decimal128(value, precision, scale), None)
            if i16::from(precision) == i16::from(scale) && precision < DECIMAL128_MAX_PRECISION =>
        {
            let with_zero = ScalarValue::Decimal128(value, precision + 1, scale);
            Ok(Transformed::yes(Expr::Literal(with_zero, None)))
        }
        Expr::Alias(Alias {
            expr,
            relation,
            name,
            metadata,
        }) => Ok(typed(*expr, beside, schema)?.update_data(|expr| {
            Expr::Alias(Alias {
                expr: Box::new(expr),
                relation,
                name,
                metadata,
            })
        })),
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if meets_its_other_side(op) => Ok(
            shared_type(vec![*left, *right], schema)?.update_data(|sides| {
                let [left, right] = <[Expr; 2]>::try_from(sides).expect("two sides stay two");
                Expr::BinaryExpr(BinaryExpr::new(Box::new(left), op, Box::new(right)))
            }),
        ),
        Expr::InList(InList {
            expr,
            list,
            negated,
        }) => {
            let values = std::iter::once(*expr).chain(list).collect();
            Ok(shared_type(values, schema)?.update_data(|mut values| {
                let expr = values.remove(0);
                Expr::InList(InList::new(Box::new(expr), values, negated))
            }))
        }
        Expr::Between(Between {
            expr,
            negated,
            low,
            high,
        }) => Ok(
            shared_type(vec![*expr, *low, *high], schema)?.update_data(|values| {
                let [expr, low, high] = <[Expr; 3]>::try_from(values).expect("three stay three");
                Expr::Between(Between::new(
                    Box::new(expr),
                    negated,
                    Box::new(low),
                    Box::new(high),
                ))
            }),
        ),
        Expr::Case(case) => typed_case(case, schema),
        // An aggregate names its grouping sets' columns by their expressions, and a name kept by
        // an alias cannot be given to an expression inside a set: the literals stay BIGINT.
        Expr::GroupingSet(_) => Ok(Transformed::no(expr)),
        // `-(1)`: a negated literal is one literal (`-2147483648` is an INTEGER too).
        Expr::Negative(negated) => match *negated {
            Expr::Literal(ScalarValue::Int64(Some(value)), None) => {
                let negative = narrowed(-value, None);
                Ok(match negative.transformed {
                    true => negative,
                    false => Transformed::no(Expr::Negative(Box::new(Expr::Literal(
                        ScalarValue::Int64(Some(value)),
                        None,
                    )))),
                })
            }
            negated => {
                Ok(typed(negated, None, schema)?.update_data(|e| Expr::Negative(Box::new(e))))
            }
        },
        Expr::ScalarFunction(ScalarFunction { func, args })
            if super::UNIFYING_FUNCTIONS.contains(&func.name()) =>
        {
            Ok(shared_type(args, schema)?
                .update_data(|args| Expr::ScalarFunction(ScalarFunction { func, args })))
        }
        Expr::ScalarFunction(ScalarFunction { func, args })
            if OWN_TYPE_FUNCTIONS.contains(&func.name()) =>
        {
            let mut transformed = false;
            let args = args
                .into_iter()
                .map(|arg| {
                    let arg = typed(arg, None, schema)?;
                    transformed |= arg.transformed;
                    Ok(arg.data)
                })
                .collect::<Result<Vec<_>>>()?;
            let call = Expr::ScalarFunction(ScalarFunction { func, args });
            Ok(Transformed::new_transformed(call, transformed))
        }
        // Elsewhere a literal is a setting and keeps its type; what holds literals is retyped.
        expr => expr.map_children(|child| match is_written_integer(&child) {
            true => Ok(Transformed::no(child)),
            false => typed(child, None, schema),
        }),
    }
}

/// Whether a literal on one side of `op` is read as a value of the other side's type. Shifts
/// are not: their literal is a count of bits, and `1 << 40` must not shift in 32 bits.
fn meets_its_other_side(op: Operator) -> bool {
    super::is_comparison(&op)
        || matches!(
            op,
            Operator::Plus
                | Operator::Minus
                | Operator::Multiply
                | Operator::Divide
                | Operator::Modulo
                | Operator::IntegerDivide
                | Operator::BitwiseAnd
                | Operator::BitwiseOr
                | Operator::BitwiseXor
        )
}

/// `values`, which are of one type, typed: first those that are not literals, then the
/// literals beside the integer type those share, if they share one.
fn shared_type(values: Vec<Expr>, schema: &DFSchema) -> Result<Transformed<Vec<Expr>>> {
    let mut transformed = false;
    let values = values
        .into_iter()
        .map(|value| match is_written_integer(&value) {
            true => Ok(value),
            false => {
                let value = typed(value, None, schema)?;
                transformed |= value.transformed;
                Ok(value.data)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let beside = shared_integer_type(&values, schema);
    let values = values
        .into_iter()
        .map(|value| match value {
            Expr::Literal(ScalarValue::Int64(Some(written)), None) => {
                let value = narrowed(written, beside.as_ref());
                transformed |= value.transformed;
                value.data
            }
            value => value,
        })
        .collect();
    Ok(Transformed::new_transformed(values, transformed))
}

/// The integer type that the values other than written literals share, if they share one (the
/// narrowest that holds each of their types, a call's as DuckDB types it). A value whose type cannot be told yet (it reads
/// a column type coercion has still to settle) makes it none.
fn shared_integer_type(values: &[Expr], schema: &DFSchema) -> Option<DataType> {
    let mut types = Vec::new();
    for value in values.iter().filter(|value| !is_written_integer(value)) {
        let data_type = value.get_type(schema).ok()?;
        match super::function_types::duckdb_type(value, &data_type).unwrap_or(data_type) {
            DataType::Null => {}
            data_type if data_type.is_integer() => types.push(data_type),
            _ => return None,
        }
    }
    if types.is_empty() {
        return None;
    }
    type_union_resolution(&types).filter(DataType::is_integer)
}

/// A `CASE` with its literals typed: its operand and `WHEN` values meet, as do its results; a
/// `WHEN` without an operand is a condition, typed alone.
fn typed_case(mut case: Case, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let mut transformed = false;
    if case.expr.is_none() {
        for (when, _) in case.when_then_expr.iter_mut() {
            let condition = typed(std::mem::take(when.as_mut()), None, schema)?;
            transformed |= condition.transformed;
            **when = condition.data;
        }
    }
    for mut group in super::case_groups(&mut case) {
        let values = group
            .iter_mut()
            .map(|value| std::mem::take(*value))
            .collect();
        let typed = shared_type(values, schema)?;
        transformed |= typed.transformed;
        for (place, value) in group.into_iter().zip(typed.data) {
            *place = value;
        }
    }
    Ok(Transformed::new_transformed(Expr::Case(case), transformed))
}

/// A VALUES list with its literals typed, each column of the type its rows share.
fn retype_values(values: Values) -> Result<Transformed<LogicalPlan>> {
    let Values { schema, values } = values;
    let empty = DFSchema::empty();
    let mut transformed = false;
    let rows = values
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|value| {
                    let value = typed(value, None, &empty)?;
                    transformed |= value.transformed;
                    Ok(value.data)
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    if !transformed {
        return Ok(Transformed::no(LogicalPlan::Values(Values {
            schema,
            values: rows,
        })));
    }
    // The NULLs and empty lists and maps DataFusion typed as their column was (BIGINT beside
    // BIGINT literals, a map of BIGINTs beside maps of literals) take the column's new type.
    let untyped = |value: Expr| match value {
        Expr::Literal(null, None) if null.is_null() => Expr::Literal(ScalarValue::Null, None),
        Expr::Cast(cast)
            if cast
                .expr
                .get_type(&empty)
                .is_ok_and(|data_type| holds_only_nulls(&data_type)) =>
        {
            *cast.expr
        }
        value => value,
    };
    let rows = rows
        .into_iter()
        .map(|row| row.into_iter().map(untyped).collect())
        .collect();
    let LogicalPlan::Values(Values {
        schema: typed,
        values,
    }) = LogicalPlanBuilder::values(rows)?.build()?
    else {
        unreachable!("a VALUES builder builds a VALUES list");
    };
    let schema = with_types(&schema, &typed)?;
    Ok(Transformed::yes(LogicalPlan::Values(Values {
        schema,
        values,
    })))
}

/// Whether `data_type` holds nothing but NULLs: the type of `NULL`, `[]` and `MAP {}`.
fn holds_only_nulls(data_type: &DataType) -> bool {
    match data_type {
        DataType::Null => true,
        DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
            holds_only_nulls(item.data_type())
        }
        DataType::Map(entries, _) => holds_only_nulls(entries.data_type()),
        DataType::Struct(fields) => fields.iter().all(|f| holds_only_nulls(f.data_type())),
        _ => false,
    }
}

/// `names` (a schema) with the types of `types`' fields, in order.
fn with_types(names: &DFSchema, types: &DFSchema) -> Result<DFSchemaRef> {
    let fields = names
        .iter()
        .zip(types.fields())
        .map(|((qualifier, field), typed)| {
            let field = Field::new(field.name(), typed.data_type().clone(), typed.is_nullable())
                .with_metadata(field.metadata().clone());
            (qualifier.cloned(), Arc::new(field))
        })
        .collect();
    Ok(Arc::new(DFSchema::new_with_metadata(
        fields,
        names.metadata().clone(),
    )?))
}

/// A union, whose schema DataFusion takes from its first input before type coercion, with that
/// input's new types.
fn union_of_new_types(union: Union) -> Result<Transformed<LogicalPlan>> {
    let Union { inputs, schema } = union;
    let first = inputs[0].schema();
    let same = schema
        .fields()
        .iter()
        .zip(first.fields())
        .all(|(field, first)| field.data_type() == first.data_type());
    let schema = match same {
        true => schema,
        false => with_types(&schema, first)?,
    };
    Ok(Transformed::new_transformed(
        LogicalPlan::Union(Union { inputs, schema }),
        !same,
    ))
}

/// An INSERT or UPDATE whose rows are cast to the table's types where their literals' changed.
fn rows_as_table_types(dml: DmlStatement) -> Result<Transformed<LogicalPlan>> {
    if !matches!(dml.op, WriteOp::Insert(_) | WriteOp::Update) {
        return Ok(Transformed::no(LogicalPlan::Dml(dml)));
    }
    let table = dml.target.schema();
    let types: Vec<DataType> = table
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let input = Arc::unwrap_or_clone(dml.input);
    let (input, transformed) = as_types(input, &types)?;
    let dml = DmlStatement {
        input: Arc::new(input),
        ..dml
    };
    Ok(Transformed::new_transformed(
        LogicalPlan::Dml(dml),
        transformed,
    ))
}

/// A recursive CTE whose two terms are cast to the types its work table was planned with (the
/// static term's types as DataFusion first typed them), which the recursive term reads.
fn terms_as_work_table_types(query: RecursiveQuery) -> Result<Transformed<LogicalPlan>> {
    let mut work_table = None;
    query.recursive_term.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && scan.table_name.table() == query.name
        {
            work_table = Some(scan.source.schema());
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    let Some(work_table) = work_table else {
        return Ok(Transformed::no(LogicalPlan::RecursiveQuery(query)));
    };
    let types: Vec<DataType> = work_table
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let RecursiveQuery {
        name,
        static_term,
        recursive_term,
        is_distinct,
        ..
    } = query;
    let (static_term, cast_static) = as_types(Arc::unwrap_or_clone(static_term), &types)?;
    let (recursive_term, cast_recursive) = as_types(Arc::unwrap_or_clone(recursive_term), &types)?;
    let query = RecursiveQuery::try_new(
        name,
        Arc::new(static_term),
        Arc::new(recursive_term),
        is_distinct,
    )?;
    Ok(Transformed::new_transformed(
        LogicalPlan::RecursiveQuery(query),
        cast_static || cast_recursive,
    ))
}

/// `plan` with each column whose type is not the one `types` gives for its position cast to
/// it, under its own name; and whether any was.
fn as_types(plan: LogicalPlan, types: &[DataType]) -> Result<(LogicalPlan, bool)> {
    let schema = Arc::clone(plan.schema());
    let differs = schema.fields().len() == types.len()
        && schema
            .fields()
            .iter()
            .zip(types)
            .any(|(field, data_type)| field.data_type() != data_type);
    if !differs {
        return Ok((plan, false));
    }
    let columns = schema
        .iter()
        .zip(types)
        .map(|((qualifier, field), data_type)| {
            let column = Expr::Column(Column::from((qualifier, field)));
            match field.data_type() == data_type {
                true => column,
                false => cast(column, data_type.clone())
                    .alias_qualified(qualifier.cloned(), field.name()),
            }
        })
        .collect();
    let projection = Projection::try_new(columns, Arc::new(plan))?;
    Ok((LogicalPlan::Projection(projection), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(value: ScalarValue) -> Expr {
        Expr::Literal(value, None)
    }

    #[test]
    fn a_literal_takes_the_type_it_meets_where_it_fits() {
        let cases = [
            (1, None, ScalarValue::Int32(Some(1))),
            (1, Some(DataType::Int8), ScalarValue::Int8(Some(1))),
            (200, Some(DataType::Int8), ScalarValue::Int32(Some(200))),
            (-1, Some(DataType::UInt8), ScalarValue::Int32(Some(-1))),
            (7, Some(DataType::UInt64), ScalarValue::UInt64(Some(7))),
            (3_000_000_000, None, ScalarValue::Int64(Some(3_000_000_000))),
            (
                3_000_000_000,
                Some(DataType::Int16),
                ScalarValue::Int64(Some(3_000_000_000)),
            ),
        ];
        for (value, beside, expected) in cases {
            let typed = narrowed(value, beside.as_ref()).data;
            assert_eq!(typed, literal(expected), "{value} beside {beside:?}");
        }
    }

    #[test]
    fn values_share_the_narrowest_integer_type_of_the_others() {
        let schema = DFSchema::empty();
        let tiny = literal(ScalarValue::Int8(Some(3)));
        let small = literal(ScalarValue::Int16(Some(3)));
        let written = literal(ScalarValue::Int64(Some(4)));
        let shared = |values: Vec<Expr>| shared_integer_type(&values, &schema);
        assert_eq!(
            shared(vec![tiny.clone(), written.clone()]),
            Some(DataType::Int8)
        );
        assert_eq!(shared(vec![tiny, small.clone()]), Some(DataType::Int16));
        assert_eq!(shared(vec![written.clone(), written]), None);
        let text = literal(ScalarValue::Utf8(Some("a".into())));
        assert_eq!(shared(vec![small, text]), None);
    }
}
