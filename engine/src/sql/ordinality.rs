//! `FROM f(...) WITH ORDINALITY`: the table function's rows numbered from 1 in a column named
//! `ordinality` (or the alias's last name), as DuckDB and Postgres number them. DataFusion
//! refuses the clause, and a table function written as a call would lose it silently.
//!
//! * `unnest(list)`: the elements' positions in their list, counted again for each list, so
//!   the call becomes DataFusion's `UNNEST(list, generate_series(1, len(list)))`, whose lists
//!   go down together; the lateral unnest rewrite moves it next to the table the list comes
//!   from.
//! * any other function: the rows in the order the function gives them, through
//!   `row_number() OVER ()` (insertion order is kept, so that is the file's order).
//!
//! The alias's names go to the function's columns first and the numbers last. Where the
//! function has one column (`unnest`, `range`, `generate_series`) fewer names are allowed, as
//! in DuckDB; elsewhere the alias names every column or none.

use sqlparser::ast::{
    FunctionArg, FunctionArgExpr, Ident, ObjectName, TableAlias, TableAliasColumnDef, TableFactor,
    TableFunctionArgs,
};

use super::quote_identifier;
use crate::error::{Result, TarnError};

/// The name DuckDB gives the numbers.
const ORDINALITY: &str = "ordinality";

/// Table functions of one column, whose alias may name it alone.
const ONE_COLUMN: &[&str] = &["unnest", "range", "generate_series"];

/// Replaces a table function called `WITH ORDINALITY` with a derived table that numbers its
/// rows; leaves every other factor as it is.
pub(super) fn number_rows(factor: &mut TableFactor) -> Result<()> {
    let Some(call) = numbered_call(factor) else {
        return Ok(());
    };
    let function = call.name.to_string();
    let lower = function.to_lowercase();
    let args = call
        .args
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let alias_name = call.alias.as_ref().map(|a| a.name.clone());
    let names: Vec<String> = call
        .alias
        .as_ref()
        .map(|a| a.columns.iter().map(|c| c.name.value.clone()).collect())
        .unwrap_or_default();
    let table_name = alias_name.unwrap_or_else(|| Ident::new(&lower));

    let (sql, outer_columns) = if ONE_COLUMN.contains(&lower.as_str()) {
        let column = names
            .first()
            .cloned()
            .unwrap_or_else(|| table_name.value.clone());
        let number = names.get(1).map_or(ORDINALITY, String::as_str);
        if names.len() > 2 {
            return Err(TarnError::Invalid(format!(
                "{function}(...) WITH ORDINALITY has two columns, but its alias names {}",
                names.len()
            )));
        }
        if lower == "unnest" {
            let [FunctionArg::Unnamed(FunctionArgExpr::Expr(list))] = call.args else {
                return Err(TarnError::Invalid(
                    "unnest(...) WITH ORDINALITY takes one list".into(),
                ));
            };
            let positions = super::dialect::parse_expr(&format!("generate_series(1, len({list}))"))
                .map_err(|e| TarnError::Parse(e.to_string()))?;
            *factor = TableFactor::UNNEST {
                alias: Some(TableAlias {
                    explicit: true,
                    name: table_name,
                    columns: vec![
                        TableAliasColumnDef::from_name(column),
                        TableAliasColumnDef::from_name(number),
                    ],
                    at: None,
                }),
                array_exprs: vec![list.clone(), positions],
                with_offset: false,
                with_offset_alias: None,
                with_ordinality: false,
            };
            return Ok(());
        }
        let sql = format!(
            "SELECT *, row_number() OVER () AS {} FROM {function}({args}) AS {}({})",
            quote_identifier(number),
            quote_identifier(&table_name.value),
            quote_identifier(&column),
        );
        (sql, vec![])
    } else {
        let sql = format!(
            "SELECT *, row_number() OVER () AS {} FROM {function}({args})",
            quote_identifier(ORDINALITY)
        );
        (sql, names)
    };
    let subquery =
        super::dialect::parse_query(&sql).map_err(|e| TarnError::Parse(e.to_string()))?;
    *factor = TableFactor::Derived {
        lateral: true,
        subquery,
        alias: Some(TableAlias {
            explicit: true,
            name: table_name,
            columns: outer_columns
                .into_iter()
                .map(TableAliasColumnDef::from_name)
                .collect(),
            at: None,
        }),
        sample: None,
    };
    Ok(())
}

/// A table function call `WITH ORDINALITY`, in either of the parser's forms.
struct NumberedCall<'a> {
    name: &'a ObjectName,
    args: &'a [FunctionArg],
    alias: &'a Option<TableAlias>,
}

fn numbered_call(factor: &TableFactor) -> Option<NumberedCall<'_>> {
    match factor {
        TableFactor::Table {
            name,
            args: Some(TableFunctionArgs { args, .. }),
            alias,
            with_ordinality: true,
            ..
        }
        | TableFactor::Function {
            name,
            args,
            alias,
            with_ordinality: true,
            ..
        } => Some(NumberedCall { name, args, alias }),
        _ => None,
    }
}
