//! A DOUBLE meeting a DECIMAL is compared as a DOUBLE, as in DuckDB; a FLOAT meeting one, as a
//! FLOAT.
//!
//! DataFusion's type coercion prefers the DECIMAL: in `score > 0.5` it casts the DOUBLE `score`
//! to DECIMAL(30,15), so `1e-20 > 0.0` is false (the cast makes it 0), `1e-20 = 0.0` is true,
//! and a value past 1e15 fails the query. The same happens in `IN`, `BETWEEN`, `CASE`,
//! `coalesce` and list literals (`[x, 0.5]`). [`FloatOverDecimal`], an analyzer rule just
//! before DataFusion's type coercion, casts the DECIMAL side of such a meeting to the float
//! first, so coercion finds nothing to do. The float is FLOAT when the floats met are all
//! FLOATs ([`float_over_decimal`]): a FLOAT column holds 0.1 as 0.100000001, so `f = 0.1` is
//! true in DuckDB (0.1 made a FLOAT too) and would be false with 0.1 made a DOUBLE.
//! Arithmetic between the two is already DOUBLE in DataFusion.
//!
//! Rows unify the two the same way: a `UNION` of a DOUBLE column with a DECIMAL one, or a
//! `VALUES` list with `1e-20::DOUBLE` in one row and `0.5` in another, was DECIMAL(30,15), so
//! 1e-20 became 0 and 1e16 failed the query. DuckDB makes such a column DOUBLE, and so does this
//! rule: a union's DECIMAL inputs are cast to DOUBLE where another input is a float, and a
//! `VALUES` column the planner cast from a float to a DECIMAL is made DOUBLE instead.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use std::sync::Arc;

use datafusion::arrow::datatypes::Field;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::{Between, Cast, InList, ScalarFunction};
use datafusion::logical_expr::{
    BinaryExpr, Expr, ExprSchemable, LogicalPlan, Projection, Union, Values,
};
use datafusion::optimizer::AnalyzerRule;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct FloatOverDecimal;

impl AnalyzerRule for FloatOverDecimal {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        let rows = plan.transform_up_with_subqueries(|node| match node {
            LogicalPlan::Union(union) => union_as_float(union),
            LogicalPlan::Values(values) => values_as_float(values),
            other => Ok(Transformed::no(other)),
        })?;
        // Above a changed union or list, the columns' types follow their inputs'.
        let plan = match rows.transformed {
            true => {
                rows.data
                    .transform_up_with_subqueries(|node| {
                        node.recompute_schema().map(Transformed::yes)
                    })?
                    .data
            }
            false => rows.data,
        };
        super::rewrite_logical_expressions(plan, compare_as_double)
    }

    fn name(&self) -> &str {
        "tarn_float_over_decimal"
    }
}

/// `expr` with the DECIMAL operands it unifies with a floating-point one cast to DOUBLE.
fn compare_as_double(mut expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let changed = match &mut expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if super::is_comparison(op) => {
            unify(vec![left.as_mut(), right.as_mut()], schema)
        }
        Expr::Between(Between {
            expr, low, high, ..
        }) => unify(vec![expr.as_mut(), low.as_mut(), high.as_mut()], schema),
        Expr::InList(InList { expr, list, .. }) => {
            let mut all = vec![expr.as_mut()];
            all.extend(list.iter_mut());
            unify(all, schema)
        }
        Expr::Case(case) => {
            let [compared, results] = super::case_groups(case);
            let compared = unify(compared, schema);
            unify(results, schema) || compared
        }
        Expr::ScalarFunction(ScalarFunction { func, args })
            if super::UNIFYING_FUNCTIONS.contains(&func.name()) =>
        {
            unify(args.iter_mut().collect(), schema)
        }
        _ => false,
    };
    Ok(match changed {
        true => Transformed::yes(expr),
        false => Transformed::no(expr),
    })
}

/// Casts the DECIMAL ones among `exprs` to a float when another is a float
/// ([`float_over_decimal`]); whether it did. An expression whose type cannot be told is left
/// to type coercion, which says why.
fn unify(exprs: Vec<&mut Expr>, schema: &DFSchema) -> bool {
    let types: Vec<Option<DataType>> = exprs.iter().map(|e| e.get_type(schema).ok()).collect();
    let Some(float) = float_over_decimal(types.iter().flatten()) else {
        return false;
    };
    for (expr, data_type) in exprs.into_iter().zip(&types) {
        if data_type.as_ref().is_some_and(DataType::is_decimal) {
            let decimal = std::mem::replace(expr, Expr::Literal(ScalarValue::Null, None));
            *expr = Expr::Cast(Cast::new(Box::new(decimal), float.clone()));
        }
    }
    true
}

/// The float a column of these types (one per row or input) becomes when it mixes a float with
/// a DECIMAL: FLOAT when its floats are all FLOATs, as in DuckDB, else DOUBLE.
fn float_over_decimal<'a>(types: impl Iterator<Item = &'a DataType> + Clone) -> Option<DataType> {
    if !(types.clone().any(DataType::is_floating) && types.clone().any(DataType::is_decimal)) {
        return None;
    }
    let all_single = types
        .filter(|t| t.is_floating())
        .all(|t| *t == DataType::Float32);
    Some(match all_single {
        true => DataType::Float32,
        false => DataType::Float64,
    })
}

/// `union` with its DECIMAL inputs cast to a float in the columns where another input is one
/// ([`float_over_decimal`]).
fn union_as_float(union: Union) -> Result<Transformed<LogicalPlan>> {
    let columns = union.schema.fields().len();
    let to_float: Vec<Option<DataType>> = (0..columns)
        .map(|j| {
            float_over_decimal(
                union
                    .inputs
                    .iter()
                    .map(move |input| input.schema().field(j).data_type()),
            )
        })
        .collect();
    if to_float.iter().all(Option::is_none) {
        return Ok(Transformed::no(LogicalPlan::Union(union)));
    }
    let inputs = union
        .inputs
        .into_iter()
        .map(|input| {
            let schema = input.schema().clone();
            let casts_any = (0..columns)
                .any(|j| to_float[j].is_some() && schema.field(j).data_type().is_decimal());
            if !casts_any {
                return Ok(input);
            }
            let exprs = (0..columns)
                .map(|j| {
                    let (qualifier, field) = schema.qualified_field(j);
                    let column = Expr::Column(Column::from((qualifier, field)));
                    match &to_float[j] {
                        Some(float) if field.data_type().is_decimal() => {
                            Expr::Cast(Cast::new(Box::new(column), float.clone()))
                                .alias_qualified(qualifier.cloned(), field.name())
                        }
                        _ => column,
                    }
                })
                .collect();
            Ok(Arc::new(LogicalPlan::Projection(Projection::try_new(
                exprs, input,
            )?)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Transformed::yes(LogicalPlan::Union(
        Union::try_new_with_loose_types(inputs)?,
    )))
}

/// What a value was before a cast to a DECIMAL, if it is one.
fn uncast(expr: &Expr) -> Option<&Expr> {
    match expr {
        Expr::Cast(cast) if cast.field.data_type().is_decimal() => Some(cast.expr.as_ref()),
        _ => None,
    }
}

/// `values` with the columns the planner cast from a float to a DECIMAL made a float instead
/// ([`float_over_decimal`]): each value is cast from what it was before that cast.
fn values_as_float(values: Values) -> Result<Transformed<LogicalPlan>> {
    let empty = DFSchema::empty();
    let fields = values.schema.fields();
    let to_float: Vec<Option<DataType>> = (0..fields.len())
        .map(|j| {
            if !fields[j].data_type().is_decimal() {
                return None;
            }
            let before: Vec<DataType> = values
                .values
                .iter()
                .filter_map(|row| uncast(&row[j]).unwrap_or(&row[j]).get_type(&empty).ok())
                .collect();
            float_over_decimal(before.iter())
        })
        .collect();
    if to_float.iter().all(Option::is_none) {
        return Ok(Transformed::no(LogicalPlan::Values(values)));
    }
    let rows = values
        .values
        .iter()
        .map(|row| {
            row.iter()
                .zip(&to_float)
                .map(|(expr, float)| match float {
                    Some(float) => uncast(expr).unwrap_or(expr).clone().cast_to(float, &empty),
                    None => Ok(expr.clone()),
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    let new_fields: Vec<Field> = fields
        .iter()
        .zip(&to_float)
        .map(|(field, float)| match float {
            Some(float) => field.as_ref().clone().with_data_type(float.clone()),
            None => field.as_ref().clone(),
        })
        .collect();
    let schema =
        DFSchema::from_unqualified_fields(new_fields.into(), values.schema.metadata().clone())?;
    Ok(Transformed::yes(LogicalPlan::Values(Values {
        schema: Arc::new(schema),
        values: rows,
    })))
}
