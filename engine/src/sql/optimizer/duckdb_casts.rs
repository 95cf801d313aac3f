//! Casts between the types DuckDB casts between, no more and no fewer. Arrow casts a number to
//! a timestamp (as microseconds since the epoch), a date to an integer (its day number) and a
//! number to a BLOB, which DuckDB refuses: a timestamp bucketed as `CAST(ts AS BIGINT)` would
//! silently mean something else in the two. Arrow lacks two DuckDB has: a BOOLEAN to a DECIMAL
//! (`1.00`) and a DECIMAL to a BOOLEAN (true where it is not zero). Two passes:
//!
//! * [`written_casts`] runs on a statement's plan as planned from its text, before any analyzer
//!   rule (some compute date arithmetic through casts of their own, and a plan analyzed once
//!   may be analyzed again), so it sees the casts the query wrote. It refuses a CAST between
//!   types DuckDB has no cast for, with DuckDB's message (`Unimplemented type for cast (DATE ->
//!   BIGINT)`), makes such a TRY_CAST a NULL of the target type, and writes a BOOLEAN cast to a
//!   DECIMAL through an integer and a DECIMAL cast to a BOOLEAN as a comparison with zero.
//! * [`ImpossibleTryCasts`], an analyzer rule after type coercion and after the JSON casts
//!   (which give text casts to lists, structs and maps a meaning Arrow's casts lack), makes a
//!   TRY_CAST Arrow cannot do (`TRY_CAST(d AS TIME)` of a DATE) NULL, as in DuckDB, where
//!   DataFusion failed the query.
//!
//! Both match a struct's fields regardless of case when they cast it, as DuckDB does.

use datafusion::arrow::compute::can_cast_types;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, DataFusionError, Result, ScalarValue};
use datafusion::functions::core::expr_fn::{get_field, named_struct};
use datafusion::logical_expr::expr::{Cast, TryCast};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, lit, when};
use datafusion::optimizer::AnalyzerRule;

use crate::sql::name_case::find_name;
use crate::sql::types::sql_type_name;

/// The casts of `plan` as DuckDB has them (see the module documentation).
pub fn written_casts(plan: LogicalPlan) -> Result<LogicalPlan> {
    super::rewrite_logical_expressions(plan, as_duckdb_casts)
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct ImpossibleTryCasts;

impl AnalyzerRule for ImpossibleTryCasts {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        // The casts type coercion added (`{'a': 1} = {'A': 1}`, a UNION's columns) match
        // struct fields regardless of case too.
        let plan = super::rewrite_logical_expressions(plan, struct_fields_by_case)?;
        super::rewrite_logical_expressions(plan, null_if_impossible)
    }

    fn name(&self) -> &str {
        "tarn_impossible_try_casts"
    }
}

/// The kinds of type DuckDB's casts tell apart.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Boolean,
    /// Integers and floats.
    Number,
    Decimal,
    /// DATE, TIME and TIMESTAMP of any unit or zone.
    Time,
    Interval,
    Blob,
    /// Text, nested types, NULL: whatever the casts of Arrow and the other rules make of them.
    Other,
}

fn kind(data_type: &DataType) -> Kind {
    match data_type {
        DataType::Boolean => Kind::Boolean,
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => Kind::Decimal,
        t if t.is_numeric() => Kind::Number,
        DataType::Date32
        | DataType::Date64
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Timestamp(..) => Kind::Time,
        DataType::Interval(_) | DataType::Duration(_) => Kind::Interval,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Kind::Blob,
        DataType::FixedSizeBinary(_) => Kind::Blob,
        DataType::Dictionary(_, values) => kind(values),
        _ => Kind::Other,
    }
}

/// Whether DuckDB has no cast from `from` to `to`: beyond text, a BLOB casts only to a BLOB,
/// a date or time only to a date or time, an interval only to an interval.
fn duckdb_lacks(from: &DataType, to: &DataType) -> bool {
    use Kind::*;
    match (kind(from), kind(to)) {
        (Other, _) | (_, Other) => false,
        (a, b) if a == b => false,
        (Blob | Time | Interval, _) | (_, Blob | Time | Interval) => true,
        _ => false,
    }
}

fn as_duckdb_casts(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let (inner, to, try_cast) = match &expr {
        Expr::Cast(Cast { expr, field }) => (expr, field.data_type(), false),
        Expr::TryCast(TryCast { expr, field }) => (expr, field.data_type(), true),
        _ => return Ok(Transformed::no(expr)),
    };
    // Before type coercion an operand may have no type yet (`date + 1`); its cast is left to
    // the rules after.
    let Ok(from) = inner.get_type(schema) else {
        return Ok(Transformed::no(expr));
    };
    if duckdb_lacks(&from, to) {
        if try_cast {
            return Ok(Transformed::yes(lit(ScalarValue::try_from(to)?)));
        }
        return Err(DataFusionError::ArrowError(
            Box::new(ArrowError::CastError(format!(
                "Unimplemented type for cast ({} -> {})",
                sql_type_name(&from),
                sql_type_name(to)
            ))),
            None,
        ));
    }
    let rewritten = match (kind(&from), kind(to)) {
        (Kind::Boolean, Kind::Decimal) => {
            let integer = Expr::Cast(Cast::new(inner.clone(), DataType::Int32));
            with_operand(&expr, integer)
        }
        (Kind::Decimal, Kind::Boolean) => {
            let zero = lit(ScalarValue::new_zero(&from)?);
            inner.as_ref().clone().not_eq(zero)
        }
        _ => match fields_renamed(inner, &from, to) {
            Some(renamed) => with_operand(&expr, renamed),
            None => return Ok(Transformed::no(expr)),
        },
    };
    Ok(Transformed::yes(rewritten))
}

/// A cast between structs whose fields differ only by case, with the fields renamed first
/// ([`fields_renamed`]).
fn struct_fields_by_case(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::Cast(Cast { expr: inner, field }) = &expr else {
        return Ok(Transformed::no(expr));
    };
    let Ok(from) = inner.get_type(schema) else {
        return Ok(Transformed::no(expr));
    };
    match fields_renamed(inner, &from, field.data_type()) {
        Some(renamed) => Ok(Transformed::yes(with_operand(&expr, renamed))),
        None => Ok(Transformed::no(expr)),
    }
}

fn null_if_impossible(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::TryCast(TryCast { expr: inner, field }) = &expr else {
        return Ok(Transformed::no(expr));
    };
    if can_cast_types(&inner.get_type(schema)?, field.data_type()) {
        return Ok(Transformed::no(expr));
    }
    Ok(Transformed::yes(lit(ScalarValue::try_from(
        field.data_type(),
    )?)))
}

/// `value`, a STRUCT of type `from`, with its fields named as `to`'s where they differ only by
/// case, at any depth of structs; `None` where none do. DuckDB matches a struct's fields
/// regardless of case when it casts (`INSERT INTO t VALUES ({'Id': 1})` into a `STRUCT(id
/// INT)` column), Arrow only by exact name.
fn fields_renamed(value: &Expr, from: &DataType, to: &DataType) -> Option<Expr> {
    let (DataType::Struct(from), DataType::Struct(to)) = (from, to) else {
        return None;
    };
    let mut renamed_any = false;
    let mut args = Vec::with_capacity(to.len() * 2);
    for target in to {
        // A field the cast cannot match is left to Arrow's cast, which says so.
        let name = find_name(from.iter().map(|f| f.name().as_str()), target.name())?;
        let (_, source) = from.find(name)?;
        renamed_any |= source.name() != target.name();
        let field = get_field(value.clone(), source.name().as_str());
        let field = match fields_renamed(&field, source.data_type(), target.data_type()) {
            Some(renamed) => {
                renamed_any = true;
                renamed
            }
            None => field,
        };
        args.extend([lit(target.name().as_str()), field]);
    }
    // A NULL struct stays NULL; named_struct would make one of NULL fields.
    let renamed = when(value.clone().is_null(), lit(ScalarValue::Null))
        .otherwise(named_struct(args))
        .ok()?;
    renamed_any.then_some(renamed)
}

/// The cast `cast` with `operand` in place of what it casts.
fn with_operand(cast: &Expr, operand: Expr) -> Expr {
    match cast {
        Expr::Cast(Cast { field, .. }) => {
            Expr::Cast(Cast::new_from_field(Box::new(operand), field.clone()))
        }
        Expr::TryCast(TryCast { field, .. }) => {
            Expr::TryCast(TryCast::new_from_field(Box::new(operand), field.clone()))
        }
        other => other.clone(),
    }
}
