//! Casts to DuckDB's `MAP(K, V)`, a type DataFusion's SQL planner does not have
//! (`CAST(j->'scores' AS MAP(VARCHAR, DOUBLE))`, `NULL::MAP(VARCHAR, INTEGER)`): JSON objects
//! with keys of their own, such as per-label scores, read as maps, as a cast of text to a
//! STRUCT or list reads JSON. Each becomes the JSON cast
//! (`json::JSON_CAST`, or `json::TRY_JSON_CAST` for `TRY_CAST`), whose target is a NULL of the
//! map type built from empty lists: `CASE WHEN false THEN map(CAST([] AS K[]), CAST([] AS V[]))
//! END`.

use sqlparser::ast::{CastKind, DataType, Expr};

use super::json::{JSON_CAST, TRY_JSON_CAST};
use super::rewrite::call;
use crate::error::{Result, TarnError};

/// The JSON cast a cast to a MAP type becomes; `None` for any other expression.
pub(super) fn as_json_cast(expr: &Expr) -> Option<Result<Expr>> {
    let Expr::Cast {
        kind,
        expr: value,
        data_type,
        ..
    } = expr
    else {
        return None;
    };
    let (key, item) = map_types(data_type)?;
    let function = match kind {
        CastKind::TryCast | CastKind::SafeCast => TRY_JSON_CAST,
        CastKind::Cast | CastKind::DoubleColon => JSON_CAST,
    };
    let typed_null =
        format!("CASE WHEN false THEN map(CAST([] AS {key}[]), CAST([] AS {item}[])) END");
    Some(
        super::dialect::parse_expr(&typed_null)
            .map(|target| call(function, [value.as_ref().clone(), target]))
            .map_err(|e| TarnError::Parse(format!("{expr}: {e}"))),
    )
}

/// The key and value types of a MAP type. The dialect reads `MAP(VARCHAR, DOUBLE)` as a type
/// of its own name with two modifiers (so the two are plain type names, not `INTEGER[]`).
fn map_types(data_type: &DataType) -> Option<(String, String)> {
    let DataType::Custom(name, modifiers) = data_type else {
        return None;
    };
    match modifiers.as_slice() {
        [key, value] if name.to_string().eq_ignore_ascii_case("map") => {
            Some((key.clone(), value.clone()))
        }
        _ => None,
    }
}
