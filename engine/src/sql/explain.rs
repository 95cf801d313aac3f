//! `EXPLAIN ANALYZE`: runs the query and returns its physical plan as a tree, one row per
//! operator with the rows it produced and the compute time it spent (summed over partitions).

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{ArrayRef, StringArray, UInt64Array};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::{ExecutionPlan, displayable, execute_stream};
use futures::StreamExt;

use super::{SqlSession, batch_of, batch_stream};
use crate::error::Result;

/// The widest operator description shown; longer ones are cut with `…`.
const MAX_DETAIL: usize = 90;

pub async fn explain_analyze(
    session: &SqlSession,
    query: &str,
) -> Result<SendableRecordBatchStream> {
    let frame = session.dataframe(query).await?;
    let plan = frame.create_physical_plan().await?;
    let start = Instant::now();
    let mut stream = execute_stream(plan.clone(), session.context().task_ctx())?;
    while let Some(batch) = stream.next().await {
        batch?;
    }
    let total = start.elapsed();

    let mut operators = Vec::new();
    let mut rows = Vec::new();
    let mut times = Vec::new();
    walk(&plan, "", "", &mut |label, node| {
        let metrics = node.metrics().map(|m| m.aggregate_by_name());
        operators.push(label);
        rows.push(
            metrics
                .as_ref()
                .and_then(|m| m.output_rows())
                .map(|r| r as u64),
        );
        times.push(
            metrics
                .as_ref()
                .and_then(|m| m.elapsed_compute())
                .map(|nanos| format!("{:.3} ms", nanos as f64 / 1e6)),
        );
    });
    operators.push(format!(
        "Total wall time: {:.3} ms",
        total.as_secs_f64() * 1e3
    ));
    rows.push(None);
    times.push(None);

    let columns: Vec<(&str, ArrayRef)> = vec![
        ("operator", Arc::new(StringArray::from(operators))),
        ("rows", Arc::new(UInt64Array::from(rows))),
        ("time", Arc::new(StringArray::from(times))),
    ];
    Ok(batch_stream(batch_of(columns)?))
}

/// Visits the plan depth first, giving each node a label drawn with tree connectors.
fn walk(
    node: &Arc<dyn ExecutionPlan>,
    own_prefix: &str,
    child_prefix: &str,
    visit: &mut dyn FnMut(String, &Arc<dyn ExecutionPlan>),
) {
    let mut detail = displayable(node.as_ref()).one_line().to_string();
    detail = detail.trim().to_string();
    if detail.chars().count() > MAX_DETAIL {
        detail = detail.chars().take(MAX_DETAIL - 1).collect::<String>() + "…";
    }
    visit(format!("{own_prefix}{detail}"), node);
    let children = node.children();
    for (i, child) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        let (branch, continuation) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        walk(
            child,
            &format!("{child_prefix}{branch}"),
            &format!("{child_prefix}{continuation}"),
            visit,
        );
    }
}
