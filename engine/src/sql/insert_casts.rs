//! Text inserted into a STRUCT or MAP column, cast as DuckDB casts it: `COPY t FROM 'rows.csv'`
//! of a table with nested columns (whose CSV holds DuckDB's text of each value, `{'x': 1}` or
//! `{k=1}`), or `INSERT INTO t SELECT '{...}'`. DataFusion's INSERT casts each value to its
//! column's type only where Arrow can, and Arrow casts no text to a struct or a map, so the
//! INSERT failed ("Cannot automatically convert Utf8 to Struct"). [`cast_nested_text`] wraps
//! such an INSERT's rows in a SELECT that casts those columns explicitly, which Tarn's text
//! casts read.

use datafusion::arrow::compute::can_cast_types;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::execution::SessionState;
use datafusion::sql::parser::Statement as DFStatement;
use sqlparser::ast::{
    Expr, ObjectName, ObjectNamePart, SelectItem, SetExpr, Statement, TableFactor, TableObject,
};

use super::name_case::{find_name, relation_schema};
use super::types::sql_type_name;
use crate::error::{Result, TarnError};

/// The name the wrapped rows are read under.
const ROWS: &str = "__tarn_inserted";

/// Casts the text an INSERT puts into STRUCT and MAP columns explicitly (see the module
/// documentation); other INSERTs are left as they are.
pub(super) async fn cast_nested_text(
    statement: &mut Statement,
    state: &SessionState,
) -> Result<()> {
    let Statement::Insert(insert) = statement else {
        return Ok(());
    };
    let (TableObject::TableName(table), Some(source)) = (&insert.table, &mut insert.source) else {
        return Ok(());
    };
    let Some(schema) = relation_schema(table, state).await else {
        return Ok(());
    };
    let Some(targets) = target_types(&insert.columns, &schema) else {
        return Ok(());
    };
    if !targets.iter().any(text_cannot_cast_to) {
        return Ok(());
    }
    // The rows' own types, planned alone; rows that cannot be are left to the INSERT's error.
    let rows = Statement::Query(source.clone());
    let Ok(plan) = state
        .statement_to_plan(DFStatement::Statement(Box::new(rows)))
        .await
    else {
        return Ok(());
    };
    let given: Vec<&DataType> = plan
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type())
        .collect();
    if given.len() != targets.len() {
        return Ok(());
    }
    // Each column's `CAST(NULL AS type)` where it needs one, its operand replaced per value.
    let casts: Vec<Option<Expr>> = given
        .iter()
        .zip(&targets)
        .map(
            |(from, to)| match is_text(from) && text_cannot_cast_to(to) {
                true => cast_of_null(to).map(Some),
                false => Ok(None),
            },
        )
        .collect::<Result<_>>()?;
    if casts.iter().all(Option::is_none) {
        return Ok(());
    }
    match source.body.as_mut() {
        // DataFusion types an INSERT's VALUES by the table, so each row casts its own values.
        SetExpr::Values(values) => {
            for row in &mut values.rows {
                for (value, cast) in row.content.iter_mut().zip(&casts) {
                    if let Some(cast) = cast {
                        *value = with_operand(cast, value.clone());
                    }
                }
            }
        }
        _ => {
            let names: Vec<String> = (0..casts.len()).map(|i| format!("c{i}")).collect();
            let wrapper = format!(
                "SELECT {} FROM (SELECT 1) AS {ROWS}({})",
                names.join(", "),
                names.join(", ")
            );
            let Statement::Query(mut wrapper) = super::parse_one(&wrapper)? else {
                return Ok(());
            };
            if let SetExpr::Select(select) = wrapper.body.as_mut() {
                for (item, cast) in select.projection.iter_mut().zip(&casts) {
                    if let (SelectItem::UnnamedExpr(column), Some(cast)) = (&mut *item, cast) {
                        *column = with_operand(cast, column.clone());
                    }
                }
                if let TableFactor::Derived { subquery, .. } = &mut select.from[0].relation {
                    *subquery = source.clone();
                }
            }
            *source = wrapper;
        }
    }
    Ok(())
}

/// `CAST(NULL AS to)`, the type written in DuckDB's SQL and parsed as statements are, so that
/// its spellings (MAP) read as they do there.
fn cast_of_null(to: &DataType) -> Result<Expr> {
    let probe = format!("CAST(NULL AS {})", sql_type_name(to));
    if let Statement::Query(query) = super::parse_one(&format!("SELECT {probe}"))?
        && let SetExpr::Select(select) = *query.body
        && let Some(SelectItem::UnnamedExpr(cast @ Expr::Cast { .. })) =
            select.projection.into_iter().next()
    {
        return Ok(cast);
    }
    Err(TarnError::Parse(format!("not a cast: {probe}")))
}

/// `cast` (a [`cast_of_null`]) of `value`.
fn with_operand(cast: &Expr, value: Expr) -> Expr {
    let mut cast = cast.clone();
    if let Expr::Cast { expr, .. } = &mut cast {
        **expr = value;
    }
    cast
}

/// The types of the columns an INSERT fills, in its order (the table's when it names
/// none); `None` where it names a column the table lacks, for the INSERT to refuse.
fn target_types(columns: &[ObjectName], schema: &SchemaRef) -> Option<Vec<DataType>> {
    let fields = schema.fields();
    if columns.is_empty() {
        return Some(fields.iter().map(|f| f.data_type().clone()).collect());
    }
    columns
        .iter()
        .map(|column| {
            let ObjectNamePart::Identifier(ident) = column.0.last()? else {
                return None;
            };
            let name = find_name(fields.iter().map(|f| f.name().as_str()), &ident.value)?;
            Some(fields.find(name)?.1.data_type().clone())
        })
        .collect()
}

fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
    )
}

/// Whether DataFusion's INSERT refuses to cast text to `data_type` (Arrow has no such cast),
/// where Tarn's explicit CAST reads it.
fn text_cannot_cast_to(data_type: &DataType) -> bool {
    data_type.is_nested() && !can_cast_types(&DataType::Utf8, data_type)
}
