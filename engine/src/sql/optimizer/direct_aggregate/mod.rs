//! Partial aggregation whose groups Tarn finds itself: by the value of one integer key, or by
//! a few string and integer keys packed into fixed-size words ([`packed`]).
//!
//! DataFusion's partial aggregate hashes every row's key and probes a hash table that, for a
//! key such as TPC-H's `l_orderkey` (1.5 million orders in 6 million rows), outgrows the
//! caches: half of Q18's time went to that probe. When the statistics bound the key to a
//! range of a few million values, [`DirectAggregateExec`] keeps one slot per value instead,
//! holding the key's group number, so a row finds its group with one subtraction and one array
//! read; for a table stored in key order the reads walk the array front to back. Keys outside
//! the range (statistics can be stale) go to a hash map, so the answer never depends on them.
//! The slot array is allocated zeroed, which the system maps page by page as slots are first
//! written, so a range of 60 million keys costs only the pages whose keys come ([`slots`]).
//!
//! A partial aggregate on up to four keys, one of them a string, finds its groups by the keys
//! packed into 128-bit words instead of through DataFusion's column-by-column grouping: see
//! [`packed`] (TPC-H Q1). Should its groups grow many, the rest of its input goes to
//! DataFusion's aggregate ([`handover`]).
//!
//! Only the partial stage is replaced: it may hand on its groups whenever memory runs short
//! (the final stage merges them), so it never needs to spill, and the final stage keeps
//! DataFusion's spilling aggregate.

mod handover;
mod packed;
mod slots;

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result, ScalarValue, Statistics};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::{EmptyRecordBatchStream, RecordBatchStreamAdapter};
use datafusion::physical_plan::{
    ChildStats, ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan,
    InputOrderMode, PlanProperties, ReplaceChildrenOptions, StatisticsArgs, StatisticsContext,
};
use futures::StreamExt;

/// The most key values one partition's slot array covers: 256 MB of address space, of which
/// only the pages holding a key's slot are ever touched (a zeroed allocation is mapped lazily),
/// and only those count as memory held. TPC-H's `l_orderkey` spans 60M values at SF10.
const MAX_SLOTS: u64 = 1 << 26;

/// Slots allowed per estimated input row: a wider range than this is mostly empty slots,
/// which a hash table does better.
const SLOTS_PER_ROW: u64 = 4;

/// The range any input may have, however few its rows (or when they are not estimated).
const MIN_SLOTS: u64 = 1 << 20;

/// How a [`DirectAggregateExec`] finds a row's group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupLookup {
    /// One integer key, with a slot for each of the `slots` keys from `min` on.
    Slots { min: i64, slots: usize },
    /// Up to four string and integer keys, packed into words that a hash map finds.
    Packed,
}

/// The groups one partition of a [`DirectAggregateExec`] has met, numbered from 0 in the order
/// their keys first came.
trait GroupFinder: Send {
    /// Sets `groups` to the group of each row of `keys` (one array per key column), adding the
    /// groups that new keys start.
    fn assign(&mut self, keys: &[ArrayRef], groups: &mut Vec<usize>) -> Result<()>;

    /// How many groups there are.
    fn len(&self) -> usize;

    /// The memory held.
    fn bytes(&self) -> usize;

    /// Every group's keys as one array per key column, of `types`, in group order; forgets the
    /// groups.
    fn take_keys(&mut self, types: &[DataType]) -> Result<Vec<ArrayRef>>;
}

/// Turns partial aggregates into [`DirectAggregateExec`]s: those on one integer column whose
/// statistics bound its values to a range that fits [`MAX_SLOTS`], and those whose keys can
/// be packed. It runs last, after the rules that rewrite the aggregates' expressions.
#[derive(Debug, Default)]
pub struct DirectAggregation;

impl PhysicalOptimizerRule for DirectAggregation {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(aggregate) = node.downcast_ref::<AggregateExec>() else {
                return Ok(Transformed::no(node));
            };
            Ok(match lookup(aggregate)? {
                Some(lookup) => Transformed::yes(Arc::new(DirectAggregateExec::try_new(
                    Arc::new(aggregate.clone()),
                    lookup,
                )?)),
                None => Transformed::no(node),
            })
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "tarn_direct_aggregation"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// How a [`DirectAggregateExec`] would find `aggregate`'s groups, when it can run it.
fn lookup(aggregate: &AggregateExec) -> Result<Option<GroupLookup>> {
    if !runs_directly(aggregate) {
        return Ok(None);
    }
    if has_integer_key(aggregate)
        && let Some((min, slots)) = key_range(aggregate)?
    {
        return Ok(Some(GroupLookup::Slots { min, slots }));
    }
    Ok(packs_keys(aggregate).then_some(GroupLookup::Packed))
}

/// The smallest key and the number of slots for `aggregate`, which has one integer key, when
/// its input's statistics bound the key to a range worth an array.
fn key_range(aggregate: &AggregateExec) -> Result<Option<(i64, usize)>> {
    let Some(key) = aggregate.group_expr().expr()[0]
        .0
        .downcast_ref::<Column>()
        .cloned()
    else {
        return Ok(None);
    };
    let input = aggregate.input();
    let statistics = StatisticsContext::new().compute(input.as_ref(), &StatisticsArgs::new())?;
    let column = &statistics.column_statistics[key.index()];
    let (Some(min), Some(max)) = (
        as_i64(column.min_value.get_value()),
        as_i64(column.max_value.get_value()),
    ) else {
        return Ok(None);
    };
    let Some(range) = max.checked_sub(min).and_then(|span| span.checked_add(1)) else {
        return Ok(None);
    };
    let rows = statistics.num_rows.get_value().map(|&rows| rows as u64);
    let widest = rows.map_or(MIN_SLOTS, |rows| {
        rows.saturating_mul(SLOTS_PER_ROW).max(MIN_SLOTS)
    });
    let range = range as u64;
    Ok((range >= 1 && range <= MAX_SLOTS.min(widest)).then_some((min, range as usize)))
}

/// Whether `aggregate` is a partial aggregate with one set of keys whose aggregates all have
/// group accumulators and need nothing else: no filter, no order, no DISTINCT, no limit.
fn runs_directly(aggregate: &AggregateExec) -> bool {
    *aggregate.mode() == AggregateMode::Partial
        && aggregate.group_expr().is_single()
        && aggregate.filter_expr().iter().all(Option::is_none)
        && aggregate.aggr_expr().iter().all(|function| {
            !function.is_distinct()
                && function.order_bys().is_empty()
                && function.groups_accumulator_supported()
        })
        && aggregate.limit_options().is_none()
        && aggregate.dynamic_expressions_produced().is_empty()
        && *aggregate.input_order_mode() == InputOrderMode::Linear
}

/// The types of `aggregate`'s keys, or `None` when one cannot be found.
fn key_types(aggregate: &AggregateExec) -> Option<Vec<DataType>> {
    let schema = aggregate.input_schema();
    aggregate
        .group_expr()
        .expr()
        .iter()
        .map(|(key, _)| key.data_type(&schema).ok())
        .collect()
}

/// Whether `aggregate` has one key, of integers that an `i64` holds exactly.
fn has_integer_key(aggregate: &AggregateExec) -> bool {
    key_types(aggregate).is_some_and(|types| matches!(&types[..], [key] if is_exact_in_i64(key)))
}

/// Whether `aggregate` has keys that [`packed`] groups on better than DataFusion: a few of
/// them, at least one a string (DataFusion's grouping on integers alone is as quick).
fn packs_keys(aggregate: &AggregateExec) -> bool {
    key_types(aggregate).is_some_and(|types| {
        (1..=packed::MAX_PACKED_KEYS).contains(&types.len())
            && types.iter().all(packed::is_packable)
            && types.contains(&DataType::Utf8View)
    })
}

/// Whether every value of `data_type` is an integer that an `i64` holds exactly, so that a cast
/// to `Int64` keeps it.
pub(super) fn is_exact_in_i64(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::Date32
    )
}

/// A bound from the statistics as an `i64`.
fn as_i64(value: Option<&ScalarValue>) -> Option<i64> {
    match value?.cast_to(&DataType::Int64).ok()? {
        ScalarValue::Int64(bound) => bound,
        _ => None,
    }
}

/// A partial aggregate that finds each row's group by its `lookup`: see the module
/// documentation.
#[derive(Debug)]
pub struct DirectAggregateExec {
    /// The partial aggregate this runs: its input, keys, aggregates and output schema.
    aggregate: Arc<AggregateExec>,
    lookup: GroupLookup,
    metrics: ExecutionPlanMetricsSet,
}

impl DirectAggregateExec {
    /// Runs `aggregate`, which must be a partial aggregate [`DirectAggregation`] takes, finding
    /// its groups by `lookup`.
    pub fn try_new(aggregate: Arc<AggregateExec>, lookup: GroupLookup) -> Result<Self> {
        let fits = match lookup {
            GroupLookup::Slots { .. } => has_integer_key(&aggregate),
            GroupLookup::Packed => packs_keys(&aggregate),
        };
        if !(fits && runs_directly(&aggregate)) {
            return Err(DataFusionError::Internal(format!(
                "a direct aggregate cannot find the groups of {aggregate:?} by {lookup:?}"
            )));
        }
        Ok(Self {
            aggregate,
            lookup,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// The partial aggregate this node runs.
    pub fn aggregate(&self) -> &Arc<AggregateExec> {
        &self.aggregate
    }

    /// How this node finds a row's group.
    pub fn lookup(&self) -> GroupLookup {
        self.lookup
    }
}

impl DisplayAs for DirectAggregateExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let aggregates: Vec<_> = self
            .aggregate
            .aggr_expr()
            .iter()
            .map(|function| function.name().to_string())
            .collect();
        let keys: Vec<_> = self
            .aggregate
            .group_expr()
            .expr()
            .iter()
            .map(|(_, name)| name.as_str())
            .collect();
        write!(
            f,
            "DirectAggregateExec: mode=Partial, gby=[{}], aggr=[{}], ",
            keys.join(", "),
            aggregates.join(", "),
        )?;
        match self.lookup {
            GroupLookup::Slots { min, slots } => write!(f, "slots={slots} from {min}"),
            GroupLookup::Packed => write!(f, "packed keys"),
        }
    }
}

impl ExecutionPlan for DirectAggregateExec {
    fn name(&self) -> &str {
        "DirectAggregateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.aggregate.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![self.aggregate.input()]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.aggregate.apply_expressions(f)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let recompute = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
        let aggregate = Arc::clone(&self.aggregate).replace_children(children, recompute)?;
        let Some(aggregate) = aggregate.downcast_ref::<AggregateExec>() else {
            return Err(DataFusionError::Internal(
                "an aggregate stays an aggregate with new children".into(),
            ));
        };
        Ok(Arc::new(Self::try_new(
            Arc::new(aggregate.clone()),
            self.lookup,
        )?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self
            .aggregate
            .input()
            .execute(partition, Arc::clone(&context))?;
        let reservation = MemoryConsumer::new(format!("DirectAggregateExec[{partition}]"))
            .register(context.memory_pool());
        let groups: Box<dyn GroupFinder> = match self.lookup {
            GroupLookup::Slots { min, slots } => Box::new(slots::SlotGroups::new(min, slots)),
            GroupLookup::Packed => key_types(&self.aggregate)
                .and_then(|types| packed::packed_groups(&types))
                .ok_or_else(|| {
                    DataFusionError::Internal("a direct aggregate's keys cannot be packed".into())
                })?,
        };
        let many_groups = match self.lookup {
            GroupLookup::Slots { .. } => None,
            GroupLookup::Packed => Some(packed::MAX_PACKED_GROUPS),
        };
        let state = Aggregation {
            input,
            groups,
            many_groups,
            aggregate: Arc::clone(&self.aggregate),
            context: Arc::clone(&context),
            rest: None,
            reservation,
            accumulators: self
                .aggregate
                .aggr_expr()
                .iter()
                .map(|function| function.create_groups_accumulator())
                .collect::<Result<_>>()?,
            arguments: self
                .aggregate
                .aggr_expr()
                .iter()
                .map(|function| function.expressions())
                .collect(),
            keys: self
                .aggregate
                .group_expr()
                .expr()
                .iter()
                .map(|(key, _)| Arc::clone(key))
                .collect(),
            row_groups: Vec::new(),
            schema: self.schema(),
            batch_size: context.session_config().batch_size(),
            metrics: BaselineMetrics::new(&self.metrics, partition),
            pending: Vec::new(),
            input_done: false,
        };
        let batches = futures::stream::try_unfold(state, |mut state| async move {
            let batch = state.next_batch().await?;
            Ok(batch.map(|batch| (batch, state)))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            batches,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        self.aggregate.child_stats_requests(partition)
    }

    /// The partial aggregate's: the same groups come out, found another way.
    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        self.aggregate.statistics_from_inputs(input_stats, args)
    }
}

/// One partition's partial aggregation as it runs.
struct Aggregation {
    input: SendableRecordBatchStream,
    groups: Box<dyn GroupFinder>,
    /// The groups past which the rest of the input goes to DataFusion's aggregate, if any.
    many_groups: Option<usize>,
    /// The partial aggregate run, for DataFusion to run over the rest of the input.
    aggregate: Arc<AggregateExec>,
    context: Arc<TaskContext>,
    /// DataFusion's aggregate of the rest of the input, once handed over.
    rest: Option<SendableRecordBatchStream>,
    /// The memory held: the groups and the accumulators' states.
    reservation: MemoryReservation,
    /// One per aggregate function, each holding its state per group.
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
    /// The expressions each aggregate function reads.
    arguments: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    keys: Vec<Arc<dyn PhysicalExpr>>,
    /// The group of each row of the batch being added, kept to reuse its allocation.
    row_groups: Vec<usize>,
    schema: SchemaRef,
    batch_size: usize,
    metrics: BaselineMetrics,
    /// Output batches made and not yet handed on.
    pending: Vec<RecordBatch>,
    input_done: bool,
}

impl Aggregation {
    /// The next output batch: the groups, once the input ends or memory runs short.
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        while self.pending.is_empty() && !self.input_done {
            match self.input.next().await {
                Some(batch) => {
                    let batch = batch?;
                    // Group numbers reach accumulators as `usize` but are kept as `u32`.
                    if self.groups.len() + batch.num_rows() >= u32::MAX as usize {
                        self.emit()?;
                    }
                    self.update(&batch)?;
                    if self
                        .many_groups
                        .is_some_and(|many| self.groups.len() > many)
                    {
                        self.hand_over()?;
                        continue;
                    }
                    let bytes = self.held_bytes();
                    if self.reservation.try_resize(bytes).is_err() {
                        self.emit()?;
                    }
                }
                None => {
                    self.input_done = true;
                    self.emit()?;
                }
            }
        }
        let batch = match (self.pending.pop(), &mut self.rest) {
            (Some(batch), _) => Some(batch),
            (None, Some(rest)) => rest.next().await.transpose()?,
            (None, None) => None,
        };
        if let Some(batch) = &batch {
            self.metrics.record_output(batch.num_rows());
        }
        Ok(batch)
    }

    /// Hands the groups on and the rest of the input to DataFusion's aggregate.
    fn hand_over(&mut self) -> Result<()> {
        self.emit()?;
        let empty = EmptyRecordBatchStream::new(self.input.schema());
        let input = std::mem::replace(&mut self.input, Box::pin(empty));
        self.rest = Some(handover::aggregate_rest(
            &self.aggregate,
            input,
            Arc::clone(&self.context),
        )?);
        self.input_done = true;
        Ok(())
    }

    /// Adds `batch`'s rows to their groups' states.
    fn update(&mut self, batch: &RecordBatch) -> Result<()> {
        let _timer = self.metrics.elapsed_compute().timer();
        let keys = self
            .keys
            .iter()
            .map(|key| key.evaluate(batch)?.into_array(batch.num_rows()))
            .collect::<Result<Vec<_>>>()?;
        self.groups.assign(&keys, &mut self.row_groups)?;
        let total_groups = self.groups.len();
        for (accumulator, arguments) in self.accumulators.iter_mut().zip(&self.arguments) {
            let values = arguments
                .iter()
                .map(|argument| argument.evaluate(batch)?.into_array(batch.num_rows()))
                .collect::<Result<Vec<_>>>()?;
            accumulator.update_batch(&values, &self.row_groups, None, total_groups)?;
        }
        Ok(())
    }

    /// The memory the groups hold now.
    fn held_bytes(&self) -> usize {
        let states: usize = self.accumulators.iter().map(|a| a.size()).sum();
        self.groups.bytes() + states
    }

    /// Turns every group into output rows (the key, then each aggregate's state columns), in
    /// batches of at most `batch_size` rows, and starts again with no groups.
    fn emit(&mut self) -> Result<()> {
        let _timer = self.metrics.elapsed_compute().timer();
        if self.groups.len() == 0 {
            return Ok(());
        }
        let key_types: Vec<DataType> = (0..self.keys.len())
            .map(|index| self.schema.field(index).data_type().clone())
            .collect();
        let mut columns = self.groups.take_keys(&key_types)?;
        for accumulator in &mut self.accumulators {
            columns.extend(accumulator.state(EmitTo::All)?);
        }
        let rows = columns[0].len();
        let all = RecordBatch::try_new(Arc::clone(&self.schema), columns)?;
        // Popped from the back, so the first rows go last into the list.
        let starts: Vec<usize> = (0..rows).step_by(self.batch_size.max(1)).collect();
        for &start in starts.iter().rev() {
            let length = self.batch_size.min(rows - start);
            self.pending.push(all.slice(start, length));
        }
        let bytes = self.held_bytes();
        self.reservation.resize(bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{AsArray, Int64Array};
    use datafusion::arrow::compute::concat_batches;
    use datafusion::arrow::datatypes::{Field, Int64Type, Schema};
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::execution::memory_pool::GreedyMemoryPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::functions_aggregate::sum::sum_udaf;
    use datafusion::physical_expr::aggregate::AggregateExprBuilder;
    use datafusion::physical_expr::expressions::col;
    use datafusion::physical_plan::aggregates::PhysicalGroupBy;
    use datafusion::physical_plan::collect;

    use super::*;

    /// A partial `sum(v) GROUP BY k` over `rows` rows with k = i % `keys` and v = i, run
    /// directly in a memory pool of `pool_bytes`; its output rows.
    async fn partial_sums(rows: i64, keys: i64, pool_bytes: usize) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("v", DataType::Int64, false),
        ]));
        let batches: Vec<RecordBatch> = (0..rows)
            .step_by(8192)
            .map(|start| {
                let rows = start..(start + 8192).min(rows);
                let columns: Vec<ArrayRef> = vec![
                    Arc::new(Int64Array::from_iter_values(rows.clone().map(|i| i % keys))),
                    Arc::new(Int64Array::from_iter_values(rows)),
                ];
                RecordBatch::try_new(Arc::clone(&schema), columns).unwrap()
            })
            .collect();
        let input =
            MemorySourceConfig::try_new_exec(&[batches], Arc::clone(&schema), None).unwrap();
        let sum = AggregateExprBuilder::new(sum_udaf(), vec![col("v", &schema).unwrap()])
            .schema(Arc::clone(&schema))
            .alias("sum(v)")
            .build()
            .unwrap();
        let group_by = PhysicalGroupBy::new_single(vec![(col("k", &schema).unwrap(), "k".into())]);
        let aggregate = AggregateExec::try_new(
            AggregateMode::Partial,
            group_by,
            vec![Arc::new(sum)],
            vec![None],
            input,
            Arc::clone(&schema),
        )
        .unwrap();
        let slots = GroupLookup::Slots {
            min: 0,
            slots: keys as usize,
        };
        let direct = Arc::new(DirectAggregateExec::try_new(Arc::new(aggregate), slots).unwrap());
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(GreedyMemoryPool::new(pool_bytes)))
            .build_arc()
            .unwrap();
        let context = Arc::new(TaskContext::default().with_runtime(runtime));
        let output = collect(direct.clone(), context).await.unwrap();
        concat_batches(&direct.schema(), &output).unwrap()
    }

    /// The total of v per key in `partial`'s rows, which may hold a key more than once.
    fn totals(partial: &RecordBatch, keys: usize) -> Vec<i64> {
        let mut totals = vec![0; keys];
        let key = partial.column(0).as_primitive::<Int64Type>();
        let sum = partial.column(1).as_primitive::<Int64Type>();
        for (key, sum) in key.values().iter().zip(sum.values()) {
            totals[*key as usize] += sum;
        }
        totals
    }

    #[tokio::test]
    async fn a_partial_aggregate_short_of_memory_hands_on_its_groups_early() {
        let (rows, keys) = (200_000, 50_000);
        // k's rows hold v = k + 50000j for j in 0..4.
        let expected: Vec<i64> = (0..keys).map(|k| 4 * k + 300_000).collect();
        let roomy = partial_sums(rows, keys, 64 << 20).await;
        assert_eq!(roomy.num_rows(), keys as usize);
        assert_eq!(totals(&roomy, keys as usize), expected);
        // The slots fit in 256 KB, but not the sums for every key as well.
        let short = partial_sums(rows, keys, 256 << 10).await;
        assert!(
            short.num_rows() > keys as usize,
            "{} rows",
            short.num_rows()
        );
        assert_eq!(totals(&short, keys as usize), expected);
    }
}
