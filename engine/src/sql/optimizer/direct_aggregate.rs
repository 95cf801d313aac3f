//! Partial aggregation on one integer key, its groups found by the key's value.
//!
//! DataFusion's partial aggregate hashes every row's key and probes a hash table that, for a
//! key such as TPC-H's `l_orderkey` (1.5 million orders in 6 million rows), outgrows the
//! caches: half of Q18's time went to that probe. When the statistics bound the key to a
//! range of a few million values, [`DirectAggregateExec`] keeps one slot per value instead,
//! holding the key's group number, so a row finds its group with one subtraction and one array
//! read; for a table stored in key order the reads walk the array front to back. Keys outside
//! the range (statistics can be stale) go to a hash map, so the answer never depends on them.
//! The slot array is allocated zeroed, which the system maps page by page as slots are first
//! written, so a range of 60 million keys costs only the pages whose keys come.
//!
//! Only the partial stage is replaced: it may hand on its groups whenever memory runs short
//! (the final stage merges them), so it never needs to spill, and the final stage keeps
//! DataFusion's spilling aggregate.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, SchemaRef};
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
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildStats, ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan,
    InputOrderMode, PlanProperties, ReplaceChildrenOptions, StatisticsArgs, StatisticsContext,
};
use futures::StreamExt;

/// The most key values one partition's slot array covers: 256 MB of address space, of which
/// only the pages holding a key's slot are ever touched (a zeroed allocation is mapped lazily),
/// and only those count as memory held. TPC-H's `l_orderkey` spans 60M values at SF10.
const MAX_SLOTS: u64 = 1 << 26;

/// Slots per 4 KB page of the slot array, the unit in which its memory is counted.
const PAGE_SLOTS: usize = 1024;

/// Slots allowed per estimated input row: a wider range than this is mostly empty slots,
/// which a hash table does better.
const SLOTS_PER_ROW: u64 = 4;

/// The range any input may have, however few its rows (or when they are not estimated).
const MIN_SLOTS: u64 = 1 << 20;

/// A slot no group has taken; a taken slot holds its group's number plus one.
const EMPTY: u32 = 0;

/// Turns partial aggregates on one integer column, whose statistics bound its values to a
/// range that fits [`MAX_SLOTS`], into [`DirectAggregateExec`]s. It runs last, after the rules
/// that rewrite the aggregates' expressions.
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
            Ok(match key_range(aggregate)? {
                Some((min, slots)) => Transformed::yes(Arc::new(DirectAggregateExec::try_new(
                    Arc::new(aggregate.clone()),
                    min,
                    slots,
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

/// The smallest key and the number of slots for `aggregate`, when it is a partial aggregate
/// this node can run and its input's statistics bound the key to a range worth an array.
fn key_range(aggregate: &AggregateExec) -> Result<Option<(i64, usize)>> {
    if !runs_directly(aggregate) {
        return Ok(None);
    }
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

/// Whether `aggregate` is a partial aggregate on one integer key whose aggregates all have
/// group accumulators and need nothing else: no filter, no order, no DISTINCT, no limit.
fn runs_directly(aggregate: &AggregateExec) -> bool {
    let group_by = aggregate.group_expr();
    *aggregate.mode() == AggregateMode::Partial
        && group_by.is_single()
        && group_by.expr().len() == 1
        && is_integer_key(&group_by.expr()[0].0, &aggregate.input_schema())
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

/// Whether `key` gives integers that an `i64` holds exactly.
fn is_integer_key(key: &Arc<dyn PhysicalExpr>, schema: &SchemaRef) -> bool {
    key.data_type(schema)
        .is_ok_and(|data_type| is_exact_in_i64(&data_type))
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

/// A partial aggregate on one integer key that finds each row's group in an array indexed by
/// the key's distance from `min`: see the module documentation.
#[derive(Debug)]
pub struct DirectAggregateExec {
    /// The partial aggregate this runs: its input, key, aggregates and output schema.
    aggregate: Arc<AggregateExec>,
    /// The key of slot 0.
    min: i64,
    /// How many keys from `min` on have a slot.
    slots: usize,
    metrics: ExecutionPlanMetricsSet,
}

impl DirectAggregateExec {
    /// Runs `aggregate`, which must be a partial aggregate [`DirectAggregation`] takes, with
    /// `slots` slots for the keys from `min` on.
    pub fn try_new(aggregate: Arc<AggregateExec>, min: i64, slots: usize) -> Result<Self> {
        if !runs_directly(&aggregate) {
            return Err(DataFusionError::Internal(format!(
                "a direct aggregate runs a partial aggregate on one integer key, not {aggregate:?}"
            )));
        }
        Ok(Self {
            aggregate,
            min,
            slots,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// The partial aggregate this node runs.
    pub fn aggregate(&self) -> &Arc<AggregateExec> {
        &self.aggregate
    }

    /// The key of the first slot.
    pub fn min(&self) -> i64 {
        self.min
    }

    /// How many keys have a slot.
    pub fn slots(&self) -> usize {
        self.slots
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
        write!(
            f,
            "DirectAggregateExec: mode=Partial, gby=[{}], aggr=[{}], slots={} from {}",
            self.aggregate.group_expr().expr()[0].1,
            aggregates.join(", "),
            self.slots,
            self.min
        )
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
            self.min,
            self.slots,
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
        let state = Aggregation {
            input,
            groups: Groups::new(self.min, self.slots, reservation),
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
            key: Arc::clone(&self.aggregate.group_expr().expr()[0].0),
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

/// The groups seen so far in one partition, numbered in the order their keys first came.
struct Groups {
    /// The key of `slots[0]`.
    min: i64,
    /// For each key from `min` on, its group number plus one, or [`EMPTY`].
    slots: Vec<u32>,
    /// One bit per page of `slots`: whether a group has taken a slot in it.
    touched: Vec<u64>,
    /// The group numbers of keys outside the slots' range.
    others: HashMap<i64, u32>,
    /// The group of the NULL key, once one came.
    null_group: Option<u32>,
    /// Each group's key (0 for the NULL key's group).
    keys: Vec<i64>,
    /// The memory held: the slots, the keys, the hash map and the accumulators' states.
    reservation: MemoryReservation,
}

impl Groups {
    /// Empty groups with `slots` slots from `min` on.
    fn new(min: i64, slots: usize, reservation: MemoryReservation) -> Self {
        Self {
            min,
            slots: vec![EMPTY; slots],
            touched: vec![0; slots.div_ceil(PAGE_SLOTS).div_ceil(64)],
            others: HashMap::new(),
            null_group: None,
            keys: Vec::new(),
            reservation,
        }
    }

    /// Appends the group of each of `keys` to `groups`, adding the groups new keys start.
    fn assign(&mut self, keys: &Int64Array, groups: &mut Vec<usize>) {
        groups.clear();
        groups.reserve(keys.len());
        if keys.null_count() == 0 {
            for &key in keys.values() {
                groups.push(self.group_of(key));
            }
        } else {
            for key in keys {
                groups.push(match key {
                    Some(key) => self.group_of(key),
                    None => self.null_group(),
                });
            }
        }
    }

    /// The group of a non-NULL `key`.
    #[inline]
    fn group_of(&mut self, key: i64) -> usize {
        let offset = key.wrapping_sub(self.min) as u64 as usize;
        if let Some(slot) = self.slots.get_mut(offset) {
            if *slot == EMPTY {
                self.keys.push(key);
                *slot = self.keys.len() as u32;
                let page = offset / PAGE_SLOTS;
                self.touched[page / 64] |= 1 << (page % 64);
            }
            return *slot as usize - 1;
        }
        let next = self.keys.len() as u32;
        let group = *self.others.entry(key).or_insert(next);
        if group == next {
            self.keys.push(key);
        }
        group as usize
    }

    /// The group of the NULL key.
    fn null_group(&mut self) -> usize {
        let keys = &mut self.keys;
        *self.null_group.get_or_insert_with(|| {
            keys.push(0);
            (keys.len() - 1) as u32
        }) as usize
    }

    /// Whether another batch of up to `rows` rows could number its new groups in a slot.
    fn has_numbers_for(&self, rows: usize) -> bool {
        self.keys.len() + rows < u32::MAX as usize
    }

    /// How many pages of the slots a group has taken a slot in.
    fn touched_pages(&self) -> usize {
        self.touched
            .iter()
            .map(|word| word.count_ones() as usize)
            .sum()
    }

    /// The bytes held: the touched pages of the slots, the keys and the hash map.
    fn bytes(&self) -> usize {
        self.touched_pages() * PAGE_SLOTS * size_of::<u32>()
            + self.keys.capacity() * size_of::<i64>()
            + self.others.capacity() * (size_of::<i64>() + size_of::<u32>() + 1)
    }

    /// The key column, of type `data_type`, and forgets every group.
    fn take_keys(&mut self, data_type: &DataType) -> Result<ArrayRef> {
        let nulls = self.null_group.take().map(|group| {
            NullBuffer::from_iter((0..self.keys.len()).map(|index| index != group as usize))
        });
        let keys = Int64Array::new(std::mem::take(&mut self.keys).into(), nulls);
        self.others.clear();
        // A fresh zeroed array rather than a fill, which would touch every page.
        self.slots = vec![EMPTY; self.slots.len()];
        self.touched.fill(0);
        Ok(cast(&keys, data_type)?)
    }
}

/// One partition's partial aggregation as it runs.
struct Aggregation {
    input: SendableRecordBatchStream,
    groups: Groups,
    /// One per aggregate function, each holding its state per group.
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
    /// The expressions each aggregate function reads.
    arguments: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    key: Arc<dyn PhysicalExpr>,
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
                    if !self.groups.has_numbers_for(batch.num_rows()) {
                        self.emit()?;
                    }
                    self.update(&batch)?;
                    let bytes = self.held_bytes();
                    if self.groups.reservation.try_resize(bytes).is_err() {
                        self.emit()?;
                    }
                }
                None => {
                    self.input_done = true;
                    self.emit()?;
                }
            }
        }
        let batch = self.pending.pop();
        if let Some(batch) = &batch {
            self.metrics.record_output(batch.num_rows());
        }
        Ok(batch)
    }

    /// Adds `batch`'s rows to their groups' states.
    fn update(&mut self, batch: &RecordBatch) -> Result<()> {
        let _timer = self.metrics.elapsed_compute().timer();
        let keys = self.key.evaluate(batch)?.into_array(batch.num_rows())?;
        let keys = cast(&keys, &DataType::Int64)?;
        self.groups
            .assign(keys.as_primitive::<Int64Type>(), &mut self.row_groups);
        let total_groups = self.groups.keys.len();
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
        if self.groups.keys.is_empty() {
            return Ok(());
        }
        let mut columns = vec![self.groups.take_keys(self.schema.field(0).data_type())?];
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
        self.groups.reservation.resize(bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::compute::concat_batches;
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryPool};
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
        let direct =
            Arc::new(DirectAggregateExec::try_new(Arc::new(aggregate), 0, keys as usize).unwrap());
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

    fn groups(min: i64, slots: usize) -> Groups {
        let pool: Arc<dyn MemoryPool> = Arc::new(GreedyMemoryPool::new(1 << 20));
        Groups::new(min, slots, MemoryConsumer::new("test").register(&pool))
    }

    #[test]
    fn keys_inside_and_outside_the_slots_and_null_get_one_group_each() {
        let mut groups = groups(10, 5);
        let keys = Int64Array::from(vec![
            Some(10),
            Some(14),
            None,
            Some(9),
            Some(15),
            Some(10),
            None,
            Some(i64::MIN),
            Some(14),
            Some(9),
        ]);
        let mut assigned = Vec::new();
        groups.assign(&keys, &mut assigned);
        assert_eq!(assigned, vec![0, 1, 2, 3, 4, 0, 2, 5, 1, 3]);
        let keys = groups.take_keys(&DataType::Int64).unwrap();
        let expected = Int64Array::from(vec![
            Some(10),
            Some(14),
            None,
            Some(9),
            Some(15),
            Some(i64::MIN),
        ]);
        assert_eq!(keys.as_primitive::<Int64Type>(), &expected);
        groups.assign(&Int64Array::from(vec![14, 10]), &mut assigned);
        assert_eq!(assigned, vec![0, 1], "taking the keys forgets the groups");
    }

    #[test]
    fn only_the_pages_of_slots_a_key_took_count_as_memory() {
        let mut groups = groups(0, 1 << 20);
        let mut assigned = Vec::new();
        // Keys 0 and 5 share the first page, 2000 is on the second, 999 999 on page 976.
        groups.assign(
            &Int64Array::from(vec![0, 5, 2000, 999_999, 5]),
            &mut assigned,
        );
        assert_eq!(assigned, vec![0, 1, 2, 3, 1]);
        assert_eq!(groups.touched_pages(), 3);
        assert!(groups.bytes() < 4 * 4096, "{} bytes", groups.bytes());
        groups.take_keys(&DataType::Int64).unwrap();
        assert_eq!(groups.touched_pages(), 0);
        groups.assign(&Int64Array::from(vec![2000]), &mut assigned);
        assert_eq!((assigned[0], groups.touched_pages()), (0, 1));
    }
}
