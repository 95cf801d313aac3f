//! DuckDB's `RETURNING` clause: `INSERT ... RETURNING id`, `UPDATE ... RETURNING *`,
//! `DELETE ... RETURNING path, score`. The statement answers with the rows it changed instead
//! of their count, so a pipeline learns in the same statement which rows a cleanup removed or
//! what an upsert left, without a second query that could see another state of the table.
//!
//! The changed rows are held as a table under the name the statement gives its table (its
//! alias, or its own name), and the clause's items are the select list of a query over it:
//! any expression, `*`, `* EXCLUDE (...)` or alias a query takes works there.
//!
//! Which rows: an INSERT's as they were written (an upsert's updated rows first, then the
//! appended ones in the order the INSERT gave them), an UPDATE's with their new values, a
//! DELETE's as they were, each in the table's order.

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, UInt64Array};
use datafusion::catalog::MemTable;
use datafusion::execution::SendableRecordBatchStream;
use sqlparser::ast::{Expr, Ident, SelectItem};

use super::rewrite::FILES_SCHEMA;
use super::{SqlSession, batch_of, batch_stream, batches_stream, collect};
use crate::error::Result;

/// The name, in the files schema, of the changed rows while the clause is planned.
const RETURNED_ROWS: &str = "__tarn_returned_rows";

/// The answer of a RETURNING clause with select list `items`, over the rows a statement
/// changed, `changed`, which the clause calls `table`. It is computed in full before the
/// statement writes its table, so a clause that fails leaves the table as it was.
pub(super) async fn returned_rows(
    session: &SqlSession,
    table: &Ident,
    items: &[SelectItem],
    changed: RecordBatch,
) -> Result<SendableRecordBatchStream> {
    let rows = MemTable::try_new(changed.schema(), vec![vec![changed]])?;
    let list: Vec<String> = items.iter().map(returned_item).collect();
    let query = format!(
        "SELECT {} FROM {FILES_SCHEMA}.{RETURNED_ROWS} AS {table}",
        list.join(", ")
    );
    let answer = session
        .query_over(RETURNED_ROWS, Arc::new(rows), &query)
        .await?;
    let schema = answer.schema();
    Ok(batches_stream(schema, collect(answer).await?))
}

/// An item of the clause as the select list's item, an expression named as DuckDB names a
/// returned one.
fn returned_item(item: &SelectItem) -> String {
    match item {
        SelectItem::UnnamedExpr(expr)
            if !matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) =>
        {
            let name = Ident::with_quote('"', super::rewrite::returned_name(expr));
            format!("{expr} AS {name}")
        }
        item => item.to_string(),
    }
}

/// The answer of a statement without RETURNING that changed `count` rows.
pub(super) fn changed_count(count: usize) -> Result<SendableRecordBatchStream> {
    Ok(batch_stream(batch_of(vec![(
        "count",
        Arc::new(UInt64Array::from(vec![count as u64])),
    )])?))
}
