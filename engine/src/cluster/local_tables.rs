//! Readying a query's plan for the cluster, on the client.
//!
//! * Tables the plan cannot carry are read here and sent as data. DataFusion's wire format
//!   describes file listings, views and (with Tarn's codec) in-memory tables; a scan of anything
//!   else (`range()` and `generate_series()`, the catalog's `information_schema`) is run on the
//!   client before the plan leaves, and its rows go with the plan as an in-memory table.
//! * In-memory data right under a `LIMIT` is cut to the rows the limit can return. DataFusion
//!   pushes such a limit into the in-memory scan and drops the limit node, and Ballista 55's
//!   scheduler rebuilds each task's in-memory scan without the pushed limit, so `SELECT * FROM
//!   t LIMIT 1` returned every row of `t`; with the data cut, it cannot.

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{Transformed, TreeNodeRecursion};
use datafusion::datasource::listing::ListingTable;
use datafusion::datasource::{MemTable, ViewTable, provider_as_source, source_as_provider};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{FetchType, LogicalPlan, SkipType, TableSource};
use datafusion::physical_plan::collect;

use crate::error::Result;

/// `plan` ready for the cluster: see the module's documentation.
pub async fn ready_for_cluster(plan: LogicalPlan, state: &SessionState) -> Result<LogicalPlan> {
    let plan = with_local_tables_read(plan, state).await?;
    let plan = plan.transform_down_with_subqueries(|node| {
        let LogicalPlan::Limit(limit) = &node else {
            return Ok(Transformed::no(node));
        };
        let (SkipType::Literal(skip), FetchType::Literal(Some(fetch))) =
            (limit.get_skip_type()?, limit.get_fetch_type()?)
        else {
            return Ok(Transformed::no(node));
        };
        match cut_in_memory(limit.input.as_ref(), skip + fetch)? {
            Some(input) => {
                let mut limit = limit.clone();
                limit.input = Arc::new(input);
                Ok(Transformed::yes(LogicalPlan::Limit(limit)))
            }
            None => Ok(Transformed::no(node)),
        }
    })?;
    Ok(plan.data)
}

/// `plan` with the in-memory data it reads cut to its first `rows` rows, when nothing between
/// the two changes which rows come out (projections and aliases); `None` otherwise.
fn cut_in_memory(
    plan: &LogicalPlan,
    rows: usize,
) -> datafusion::error::Result<Option<LogicalPlan>> {
    match plan {
        LogicalPlan::Projection(_) | LogicalPlan::SubqueryAlias(_) => {
            let Some(input) = cut_in_memory(plan.inputs()[0], rows)? else {
                return Ok(None);
            };
            Ok(Some(plan.with_new_exprs(plan.expressions(), vec![input])?))
        }
        LogicalPlan::Values(values) if values.values.len() > rows => {
            let mut values = values.clone();
            values.values.truncate(rows);
            Ok(Some(LogicalPlan::Values(values)))
        }
        LogicalPlan::TableScan(scan) => {
            let Ok(provider) = source_as_provider(&scan.source) else {
                return Ok(None);
            };
            let Some(table) = provider.downcast_ref::<MemTable>() else {
                return Ok(None);
            };
            let mut kept = Vec::new();
            let mut left = rows;
            for partition in &table.batches {
                // A table being written to is left whole (its plan still runs, just uncut).
                let Ok(batches) = partition.try_read() else {
                    return Ok(None);
                };
                for batch in batches.iter() {
                    let take = batch.num_rows().min(left);
                    if take > 0 {
                        kept.push(batch.slice(0, take));
                        left -= take;
                    }
                }
            }
            let cut = MemTable::try_new(table.schema(), vec![kept])?;
            let mut scan = scan.clone();
            scan.source = provider_as_source(Arc::new(cut));
            Ok(Some(LogicalPlan::TableScan(scan)))
        }
        _ => Ok(None),
    }
}

/// `plan` with every scan of a table the wire format cannot describe replaced by a scan of its
/// rows, read now.
async fn with_local_tables_read(plan: LogicalPlan, state: &SessionState) -> Result<LogicalPlan> {
    let mut unsendable: Vec<(Arc<dyn TableSource>, Arc<dyn TableProvider>)> = Vec::new();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && let Ok(provider) = source_as_provider(&scan.source)
            && !sendable(&provider)
            && !unsendable.iter().any(|(s, _)| Arc::ptr_eq(s, &scan.source))
        {
            unsendable.push((Arc::clone(&scan.source), provider));
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    if unsendable.is_empty() {
        return Ok(plan);
    }
    let mut read = Vec::with_capacity(unsendable.len());
    for (source, provider) in unsendable {
        let scan = provider.scan(state, None, &[], None).await?;
        let batches = collect(scan, state.task_ctx()).await?;
        let table = MemTable::try_new(provider.schema(), vec![batches])?;
        read.push((source, provider_as_source(Arc::new(table))));
    }
    let plan = plan.transform_up_with_subqueries(|node| {
        let LogicalPlan::TableScan(mut scan) = node else {
            return Ok(Transformed::no(node));
        };
        match read
            .iter()
            .find(|(source, _)| Arc::ptr_eq(source, &scan.source))
        {
            Some((_, table)) => {
                scan.source = Arc::clone(table);
                Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
            }
            None => Ok(Transformed::no(LogicalPlan::TableScan(scan))),
        }
    })?;
    Ok(plan.data)
}

/// Whether DataFusion's codec, or Tarn's, can put the table in a plan.
fn sendable(provider: &Arc<dyn TableProvider>) -> bool {
    provider.downcast_ref::<ListingTable>().is_some()
        || provider.downcast_ref::<MemTable>().is_some()
        || provider.downcast_ref::<ViewTable>().is_some()
}
