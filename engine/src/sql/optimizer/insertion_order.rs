//! [`InsertionOrder`]: results come out in the order their files hold the rows, as in DuckDB
//! (`preserve_insertion_order`, on by default there and here).
//!
//! DataFusion splits a scan into byte ranges read by parallel partitions and merges the
//! partitions as their batches arrive, so without `ORDER BY` a query's rows are interleaved
//! differently on every run: `LIMIT 10` after a filter is not the first ten matches, a `COPY`
//! that converts a file shuffles it, and `row_number() OVER ()` does not number rows in file
//! order. This rule finds each place where a merge of partitions decides the order a user sees:
//! the plan's root, and the merges under a limit, a window or a file sink reached through
//! operators that pass rows on in order. Where the rows merged there come straight from a scan
//! through operators that keep each partition's order, it re-splits the scan into more,
//! smaller consecutive pieces and replaces the merge with an [`OrderedConcatExec`], which runs
//! the pieces in parallel and passes them on in order.
//!
//! Tables in memory keep insertion order in their partitions read one after another
//! ([`MemoryScansInOrder`] sees that DataFusion does not deal their batches out of order), and a
//! generator of one partition (`generate_series`) is read as one morsel.
//!
//! A merge above anything that reorders rows (an aggregate, a join, a sort, a hash
//! repartition) is left alone: its input has no insertion order to keep. A round-robin
//! repartition, which DataFusion adds only to spread rows over threads, is dropped under a kept
//! merge, as the morsels spread the work instead. `SET preserve_insertion_order = false`
//! turns both rules off.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::sink::DataSinkExec;
use datafusion::datasource::source::{DataSource, DataSourceExec};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::limit::{GlobalLimitExec, LocalLimitExec};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::unnest::UnnestExec;
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowAggExec};
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties, Partitioning};

use super::ordered_concat::OrderedConcatExec;

/// Bytes of input per morsel: small enough that the morsels waiting their turn hold little
/// memory, large enough to span a typical Parquet row group, the unit a scan reads.
const MORSEL_BYTES: u64 = 32 << 20;

/// Morsels per thread at least, where the input is large enough: when one morsel takes longer
/// than the others (a filter that keeps more of it), the threads move on to the next ones.
const MORSELS_PER_THREAD: u64 = 4;

/// Input below which a scan is not split into more morsels than its byte count allows at this
/// size each: splitting a small file only repeats the work of opening it.
const SMALLEST_MORSEL_BYTES: u64 = 1 << 20;

/// Whether a session keeps insertion order (`SET preserve_insertion_order`), shared between
/// the session, which sets it, and its [`InsertionOrder`] rule, which reads it.
#[derive(Debug)]
pub struct KeepInsertionOrder(AtomicBool);

impl Default for KeepInsertionOrder {
    fn default() -> Self {
        Self(AtomicBool::new(true))
    }
}

impl KeepInsertionOrder {
    pub fn set(&self, keep: bool) {
        self.0.store(keep, Ordering::Relaxed);
    }

    pub(super) fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The physical rule; see the module documentation.
#[derive(Debug)]
pub struct InsertionOrder(pub Arc<KeepInsertionOrder>);

impl PhysicalOptimizerRule for InsertionOrder {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !self.0.get() {
            return Ok(plan);
        }
        let threads = config.execution.target_partitions;
        let plan = keep_merges_in_order(plan, threads, true)?;
        // A plan left with several partitions is merged as it runs; merge it in order here.
        if plan.output_partitioning().partition_count() > 1
            && let Some(morsels) = in_morsels(&plan, threads)?
        {
            return Ok(Arc::new(OrderedConcatExec::new(morsels, None, threads)));
        }
        Ok(plan)
    }

    fn name(&self) -> &str {
        "insertion_order"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The physical rule that runs first: each scan of a table in memory is split into consecutive
/// runs of its batches, one per thread. DataFusion would otherwise split a scan of fewer
/// partitions than threads itself, dealing out its batches largest first, which loses their
/// order; a table keeps its rows in insertion order in its partitions read one after another
/// (a table created from a query holds one partition, which [`InsertionOrder`] gave it).
#[derive(Debug)]
pub struct MemoryScansInOrder(pub Arc<KeepInsertionOrder>);

impl PhysicalOptimizerRule for MemoryScansInOrder {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !self.0.get() {
            return Ok(plan);
        }
        let threads = config.execution.target_partitions;
        plan.transform_up(|node| {
            let Some(scan) = node.downcast_ref::<DataSourceExec>() else {
                return Ok(Transformed::no(node));
            };
            let Some(memory) = scan.data_source().downcast_ref::<MemorySourceConfig>() else {
                return Ok(Transformed::no(node));
            };
            let batches: Vec<_> = memory.partitions().iter().flatten().cloned().collect();
            let runs = threads.min(batches.len()).max(1);
            if runs == memory.partitions().len() {
                return Ok(Transformed::no(node));
            }
            let partitions: Vec<_> = batches
                .chunks(batches.len().div_ceil(runs).max(1))
                .map(<[_]>::to_vec)
                .collect();
            let source = MemorySourceConfig::try_new(
                &partitions,
                memory.original_schema(),
                memory.projection().clone(),
            )?
            .with_show_sizes(memory.show_sizes())
            .try_with_sort_information(memory.sort_information().to_vec())?;
            let scan = scan.clone().with_data_source(Arc::new(source));
            Ok(Transformed::yes(Arc::new(scan) as Arc<dyn ExecutionPlan>))
        })
        .map(|rewritten| rewritten.data)
    }

    fn name(&self) -> &str {
        "memory_scans_in_order"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `plan` with the partition merges whose order matters made ordered ones, where their input
/// can be read in order. A merge's order matters when it reaches `plan`'s output (`shown`) or an
/// operator whose result depends on the order of its input.
fn keep_merges_in_order(
    plan: Arc<dyn ExecutionPlan>,
    threads: usize,
    shown: bool,
) -> Result<Arc<dyn ExecutionPlan>> {
    if shown
        && let Some(merge) = plan.downcast_ref::<CoalescePartitionsExec>()
        && let Some(morsels) = in_morsels(merge.input(), threads)?
    {
        return Ok(Arc::new(OrderedConcatExec::new(
            morsels,
            merge.fetch(),
            threads,
        )));
    }
    let order_shown =
        depends_on_input_order(plan.as_ref()) || (shown && keeps_partition_order(plan.as_ref()));
    let children = plan
        .children()
        .into_iter()
        .map(|child| keep_merges_in_order(Arc::clone(child), threads, order_shown))
        .collect::<Result<Vec<_>>>()?;
    replace_children_if_necessary(plan, children)
}

/// Whether `plan`'s result depends on the order of its input's rows: which rows a limit keeps,
/// what a window function computes over a frame, the order a file is written in. Each also
/// passes its rows on in that order.
fn depends_on_input_order(plan: &dyn ExecutionPlan) -> bool {
    plan.is::<GlobalLimitExec>()
        || plan.is::<BoundedWindowAggExec>()
        || plan.is::<WindowAggExec>()
        || plan.is::<DataSinkExec>()
}

/// Whether each output partition of `plan` is its input partition of the same number, rows in
/// the same order (some left out, or each one expanded in place).
fn keeps_partition_order(plan: &dyn ExecutionPlan) -> bool {
    plan.is::<ProjectionExec>()
        || plan.is::<FilterExec>()
        || plan.is::<CooperativeExec>()
        || plan.is::<LocalLimitExec>()
        || plan.is::<UnnestExec>()
}

/// `plan` rebuilt over its input split into morsels: partitions that hold the rows in
/// insertion order when read one after another. `None` when its partitions have no such order.
fn in_morsels(
    plan: &Arc<dyn ExecutionPlan>,
    threads: usize,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    if let Some(scan) = plan.downcast_ref::<DataSourceExec>() {
        return scan_in_morsels(plan, scan, threads);
    }
    // A generator of one partition (`generate_series`, `range`) is in order; it stays one morsel.
    if plan.children().is_empty() {
        let one = plan.output_partitioning().partition_count() == 1;
        return Ok(one.then(|| Arc::clone(plan)));
    }
    if let Some(repartition) = plan.downcast_ref::<RepartitionExec>() {
        return match repartition.partitioning() {
            Partitioning::RoundRobinBatch(_) => in_morsels(repartition.input(), threads),
            _ => Ok(None),
        };
    }
    // A union's partitions are its first input's, then its second's, and so on.
    if !(keeps_partition_order(plan.as_ref()) || plan.is::<UnionExec>()) {
        return Ok(None);
    }
    let mut children = Vec::new();
    for child in plan.children() {
        match in_morsels(child, threads)? {
            Some(child) => children.push(child),
            None => return Ok(None),
        }
    }
    replace_children_if_necessary(Arc::clone(plan), children).map(Some)
}

/// `plan`, the file scan `scan`, re-split into consecutive byte ranges of about
/// [`MORSEL_BYTES`], at least [`MORSELS_PER_THREAD`] per thread, each read by its own partition
/// (DataFusion otherwise lets a partition take another's files). A scan of a table in memory is
/// in order as it is, since [`MemoryScansInOrder`] made its partitions consecutive runs of the
/// table's batches.
fn scan_in_morsels(
    plan: &Arc<dyn ExecutionPlan>,
    scan: &DataSourceExec,
    threads: usize,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    if scan.data_source().is::<MemorySourceConfig>() {
        return Ok(Some(Arc::clone(plan)));
    }
    let Some(files) = scan.data_source().downcast_ref::<FileScanConfig>() else {
        return Ok(None);
    };
    let bytes: u64 = files
        .file_groups
        .iter()
        .flat_map(|group| group.iter())
        .map(|file| file.effective_size())
        .sum();
    let morsels = bytes
        .div_ceil(MORSEL_BYTES)
        .max((MORSELS_PER_THREAD * threads as u64).min(bytes / SMALLEST_MORSEL_BYTES))
        .max(1) as usize;
    let resplit: Arc<dyn DataSource> = match files.repartitioned(morsels, 0, None)? {
        Some(resplit) => resplit,
        None => Arc::new(files.clone()),
    };
    let in_own_partitions = resplit.with_preserve_order(true).unwrap_or(resplit);
    Ok(Some(Arc::new(
        scan.clone().with_data_source(in_own_partitions),
    )))
}
