//! `s['field']` on a struct finds the field whatever its case, as DuckDB's does (`s['url']` of
//! a `STRUCT(Url VARCHAR)`); DataFusion's `get_field` matches the name exactly, and failed to
//! plan. The same subscript on a map looks its key up as written, so the value's type decides,
//! which only the planner knows. `struct_extract(s, 'url')` and `.url` on a value that is not
//! a column reach the planner as this subscript ([`super::function_names`]); a column's
//! `s.url` is matched in the syntax tree ([`super::name_case`]).

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::functions::core::expr_fn::get_field;
use datafusion::logical_expr::ExprSchemable;
use datafusion::logical_expr::expr::GetFieldAccess;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawFieldAccessExpr};

use super::name_case::find_name;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct StructSubscripts;

impl ExprPlanner for StructSubscripts {
    fn plan_field_access(
        &self,
        access: RawFieldAccessExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawFieldAccessExpr>> {
        let GetFieldAccess::NamedStructField {
            name: ScalarValue::Utf8(Some(name)),
        } = &access.field_access
        else {
            return Ok(PlannerResult::Original(access));
        };
        let DataType::Struct(fields) = access.expr.get_type(schema)? else {
            return Ok(PlannerResult::Original(access));
        };
        let names = fields.iter().map(|f| f.name().as_str());
        match find_name(names, name) {
            Some(field) if field != name => {
                Ok(PlannerResult::Planned(get_field(access.expr, field)))
            }
            _ => Ok(PlannerResult::Original(access)),
        }
    }
}
