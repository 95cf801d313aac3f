//! Probe rows whose integer join key the build side lacks, dropped before the hash lookup.
//!
//! A hash join looks every probe row up in its hash table, even where few can match: TPC-H
//! Q9 probes all 6 million `lineitem` rows against the 43 thousand `partsupp` rows of green
//! parts, on two keys, and 95% find nothing. Hashing both keys and missing in a table larger
//! than the caches cost 30 ns a row there, half of the query's join time. DuckDB avoids it by
//! filtering the probe side on the build side's keys first.
//!
//! [`KeyFilteredJoinExec`] is a [`WatchedJoinExec`] whose watch, [`BuildKeyBitmaps`], collects
//! each integer key of the build rows as they go into the hash table. Once the build side is
//! read, it makes one bitmap per key over the range between the key's smallest and largest
//! value, and keeps the bitmaps that are sparse enough to drop rows. Each probe row is then
//! tested against them, one bit each, and only the rows whose every tested key is in the
//! build side go on to the lookup. A row that fails cannot match, so the join types that never
//! answer with unmatched probe rows are the ones wrapped. When the probe rows turn out to pass
//! almost all, the filter stops testing.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{NullEquality, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::logical_expr::JoinType;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::metrics::{Count, Metric, MetricValue, MetricsSet, Time};

use super::direct_aggregate::is_exact_in_i64;
use super::semi_join_build_side::rows;
use super::watched_join::{JoinWatch, WatchedJoinExec};

/// The probe sides estimated to hold fewer rows than this are not worth a filter.
const MIN_PROBE_ROWS: usize = 1 << 16;
/// The most build values one key collects (8 bytes each); a key with more is not tested.
const MAX_BUILD_VALUES: usize = 1 << 22;
/// The widest key range a bitmap covers: 4 MB of bits.
const MAX_BITS: u64 = 1 << 25;
/// A key whose build values fill more than this share of their range drops too few rows.
const MAX_DENSITY: f64 = 0.5;
/// How many probe rows the filter tests before it judges whether it drops enough.
const JUDGE_AFTER_ROWS: usize = 1 << 17;
/// The filter stops testing when it has kept more than this share of the probe rows.
const MAX_KEPT_SHARE: f64 = 0.8;

/// Wraps the hash joins that can drop unmatched probe rows in [`KeyFilteredJoinExec`]s. It runs
/// after the rules that choose build sides and partitions.
#[derive(Debug, Default)]
pub struct JoinKeyFilters;

impl PhysicalOptimizerRule for JoinKeyFilters {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            if BuildKeyBitmaps::unfit(join).is_some()
                || rows(join.right())?.is_some_and(|rows| rows < MIN_PROBE_ROWS)
            {
                return Ok(Transformed::no(node));
            }
            Ok(Transformed::yes(Arc::new(KeyFilteredJoinExec::try_new(
                node,
            )?)))
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "tarn_join_key_filters"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A hash join whose probe rows are first tested against bitmaps of the build side's integer
/// keys: see the module documentation.
pub type KeyFilteredJoinExec = WatchedJoinExec<BuildKeyBitmaps>;

/// The build side's integer keys, collected and then turned into the probe side's filter.
#[derive(Debug)]
pub struct BuildKeyBitmaps {
    /// Each integer key pair: its expression over the build rows, and over the probe rows.
    keys: Vec<(Arc<dyn PhysicalExpr>, Arc<dyn PhysicalExpr>)>,
    /// The build values while the build side is read.
    collected: Mutex<Collected>,
    /// The bitmaps the probe rows are tested against, set once the build side was read whole;
    /// empty when no key is worth testing.
    bitmaps: OnceLock<Vec<KeyBitmap>>,
    /// Set when the probe rows pass the bitmaps so often that testing them costs more than it
    /// saves.
    stopped: AtomicBool,
    /// Probe rows tested, over all probe partitions.
    tested: AtomicUsize,
    /// Probe rows dropped, over all probe partitions.
    dropped: AtomicUsize,
    /// The time spent testing probe rows, over all probe partitions.
    testing: Time,
}

/// The build values while the build side is read, and the memory they hold.
#[derive(Debug)]
struct Collected {
    /// Per key, its non-NULL build values so far, or `None` once there were too many to keep.
    values: Vec<Option<Vec<i64>>>,
    reservation: MemoryReservation,
}

/// Which values one integer key has on the build side, as bits from `min` on.
#[derive(Debug)]
struct KeyBitmap {
    /// The key's expression over the probe rows.
    probe_key: Arc<dyn PhysicalExpr>,
    min: i64,
    /// How many values from `min` on the bits cover.
    span: u64,
    words: Vec<u64>,
}

/// Whether a join's rows can be dropped before the lookup when their key is not among the build
/// side's: the join answers with no probe row that found no match.
fn drops_unmatched_probe_rows(join_type: JoinType) -> bool {
    matches!(
        join_type,
        JoinType::Inner
            | JoinType::Left
            | JoinType::LeftSemi
            | JoinType::LeftAnti
            | JoinType::LeftMark
            | JoinType::RightSemi
    )
}

/// The key pairs of `join` that are integers of one type on both sides.
fn integer_keys(join: &HashJoinExec) -> Vec<(Arc<dyn PhysicalExpr>, Arc<dyn PhysicalExpr>)> {
    let (build_schema, probe_schema) = (join.left().schema(), join.right().schema());
    join.on()
        .iter()
        .filter(|(build, probe)| {
            match (
                build.data_type(&build_schema),
                probe.data_type(&probe_schema),
            ) {
                (Ok(b), Ok(p)) => b == p && is_exact_in_i64(&b),
                _ => false,
            }
        })
        .map(|(build, probe)| (Arc::clone(build), Arc::clone(probe)))
        .collect()
}

impl JoinWatch for BuildKeyBitmaps {
    const NAME: &'static str = "KeyFilteredJoinExec";
    const SUMMARY: &'static str = "probe rows whose keys the build side lacks are dropped first";

    fn unfit(join: &HashJoinExec) -> Option<String> {
        if *join.partition_mode() != PartitionMode::CollectLeft {
            return Some("it is not built whole".into());
        }
        if !drops_unmatched_probe_rows(*join.join_type()) || join.null_aware {
            return Some(format!(
                "a {} join keeps unmatched probe rows",
                join.join_type()
            ));
        }
        if join.null_equality() != NullEquality::NullEqualsNothing {
            return Some("its NULL keys match".into());
        }
        integer_keys(join)
            .is_empty()
            .then(|| "it has no integer key".into())
    }

    fn start(join: &HashJoinExec, context: &TaskContext) -> Self {
        let keys = integer_keys(join);
        let reservation =
            MemoryConsumer::new("KeyFilteredJoinExec").register(context.memory_pool());
        Self {
            collected: Mutex::new(Collected {
                values: vec![Some(Vec::new()); keys.len()],
                reservation,
            }),
            keys,
            bitmaps: OnceLock::new(),
            stopped: AtomicBool::new(false),
            tested: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            testing: Time::new(),
        }
    }

    fn note_build(&self, batch: &RecordBatch) -> Result<()> {
        let mut collected = self
            .collected
            .lock()
            .expect("no key filter panics holding it");
        let Collected {
            values,
            reservation,
        } = &mut *collected;
        for ((build_key, _), values) in self.keys.iter().zip(values.iter_mut()) {
            let Some(kept) = values else { continue };
            let key = build_key.evaluate(batch)?.into_array(batch.num_rows())?;
            extend_with_values(&key, kept)?;
            if kept.len() > MAX_BUILD_VALUES {
                *values = None;
            }
        }
        let held = values
            .iter()
            .flatten()
            .map(|kept| kept.capacity() * size_of::<i64>());
        if reservation.try_resize(held.sum()).is_err() {
            // The memory is the hash table's first: the probe rows go untested.
            values.iter_mut().for_each(|values| *values = None);
            reservation.free();
        }
        Ok(())
    }

    fn build_read(&self) {
        let mut collected = self
            .collected
            .lock()
            .expect("no key filter panics holding it");
        let values = std::mem::take(&mut collected.values);
        let bitmaps = self
            .keys
            .iter()
            .zip(values)
            .filter_map(|((_, probe_key), values)| {
                KeyBitmap::sparse(Arc::clone(probe_key), &values?)
            })
            .collect::<Vec<_>>();
        let bitmap_bytes = bitmaps.iter().map(|b| b.words.len() * 8).sum();
        collected.reservation.resize(bitmap_bytes);
        // A second run of the same plan reads the same build side: its bitmaps are the same.
        let _ = self.bitmaps.set(bitmaps);
    }

    fn keep_probe(&self, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        let Some(bitmaps) = self.bitmaps.get() else {
            return Ok(Some(batch));
        };
        if bitmaps.is_empty() || self.stopped.load(Ordering::Relaxed) {
            return Ok(Some(batch));
        }
        let _timer = self.testing.timer();
        let rows = batch.num_rows();
        let mut keep: Option<BooleanBuffer> = None;
        for bitmap in bitmaps {
            let key = bitmap.probe_key.evaluate(&batch)?.into_array(rows)?;
            let found = bitmap.contains(&key)?;
            keep = Some(match keep {
                Some(keep) => &keep & &found,
                None => found,
            });
        }
        let keep = keep.expect("at least one bitmap");
        let kept = keep.count_set_bits();
        let tested = self.tested.fetch_add(rows, Ordering::Relaxed) + rows;
        let dropped = self.dropped.fetch_add(rows - kept, Ordering::Relaxed) + rows - kept;
        if keeps_too_many(tested, dropped) {
            self.stopped.store(true, Ordering::Relaxed);
        }
        if kept == rows {
            return Ok(Some(batch));
        }
        Ok(Some(filter_record_batch(
            &batch,
            &BooleanArray::new(keep, None),
        )?))
    }

    /// The rows dropped, and the time spent testing them as the node's compute time.
    fn add_metrics(&self, metrics: &mut MetricsSet) {
        metrics.push(Arc::new(Metric::new(
            MetricValue::ElapsedCompute(self.testing.clone()),
            None,
        )));
        let dropped = Count::new();
        dropped.add(self.dropped.load(Ordering::Relaxed));
        metrics.push(Arc::new(Metric::new(
            MetricValue::Count {
                name: "probe_rows_dropped".into(),
                count: dropped,
            },
            None,
        )));
    }
}

/// Whether the probe rows tested so far, `tested` of them with `dropped` dropped, show the
/// filter keeping too large a share to be worth its cost. Each probe partition adds to the two
/// counts one after the other, so a partition's reads may include another's dropped rows
/// without its tested ones: more dropped than tested, which counts as nothing kept.
fn keeps_too_many(tested: usize, dropped: usize) -> bool {
    tested >= JUDGE_AFTER_ROWS
        && tested.saturating_sub(dropped) as f64 > MAX_KEPT_SHARE * tested as f64
}

impl KeyBitmap {
    /// The bitmap of `values`, or `None` when their range is too wide to cover or they fill
    /// too much of it to drop rows.
    fn sparse(probe_key: Arc<dyn PhysicalExpr>, values: &[i64]) -> Option<Self> {
        let (min, max) = values
            .iter()
            .fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let span = if values.is_empty() {
            0
        } else {
            u64::try_from(i128::from(max) - i128::from(min) + 1).ok()?
        };
        if span > MAX_BITS {
            return None;
        }
        let mut words = vec![0u64; span.div_ceil(64) as usize];
        for &value in values {
            let offset = value.wrapping_sub(min) as u64;
            words[(offset / 64) as usize] |= 1 << (offset % 64);
        }
        let distinct: u64 = words.iter().map(|w| u64::from(w.count_ones())).sum();
        if distinct as f64 > MAX_DENSITY * span as f64 {
            return None;
        }
        Some(Self {
            probe_key,
            min,
            span,
            words,
        })
    }

    /// Which of `key`'s values are among the bitmap's; NULL never is.
    fn contains(&self, key: &ArrayRef) -> Result<BooleanBuffer> {
        let key = cast(key, &DataType::Int64)?;
        let key = key.as_primitive::<Int64Type>();
        let values = key.values();
        let found = BooleanBuffer::collect_bool(values.len(), |i| {
            let offset = values[i].wrapping_sub(self.min) as u64;
            offset < self.span && self.words[(offset / 64) as usize] & (1 << (offset % 64)) != 0
        });
        Ok(match key.nulls() {
            Some(valid) => &found & valid.inner(),
            None => found,
        })
    }
}

/// Appends the non-NULL values of the integer array `key` to `values`.
fn extend_with_values(key: &ArrayRef, values: &mut Vec<i64>) -> Result<()> {
    let key = cast(key, &DataType::Int64)?;
    let key = key.as_primitive::<Int64Type>();
    if key.null_count() == 0 {
        values.extend_from_slice(key.values());
    } else {
        values.extend(key.iter().flatten());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int32Array, Int64Array};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::execution::memory_pool::GreedyMemoryPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::physical_expr::expressions::col;
    use datafusion::physical_plan::collect;
    use datafusion::physical_plan::joins::HashJoinExecBuilder;

    use super::*;

    const PROBE_ROWS: i32 = 100_000;

    /// The build rows: `k` every 37th value up to 9,990 plus one NULL, `b = k % 7`.
    fn build_side() -> Arc<dyn ExecutionPlan> {
        let keys: Vec<Option<i32>> = (0..=270).map(|i| Some(i * 37)).chain([None]).collect();
        let b = keys
            .iter()
            .map(|k| k.map_or(0, |k| i64::from(k % 7)))
            .collect();
        source(keys, b, 1, 1)
    }

    /// 100,000 probe rows in two partitions of 4,096-row batches: `k` cycles through 0..19,999
    /// (half of it beyond the build keys' range), every 1,000th is NULL, `b = i % 7`.
    fn probe_side() -> Arc<dyn ExecutionPlan> {
        let keys = (0..PROBE_ROWS).map(|i| (i % 1000 != 0).then_some(i % 20_000));
        let b = (0..PROBE_ROWS).map(|i| i64::from(i % 7)).collect();
        source(keys.collect(), b, 2, 4096)
    }

    fn source(
        keys: Vec<Option<i32>>,
        b: Vec<i64>,
        partitions: usize,
        batch_rows: usize,
    ) -> Arc<dyn ExecutionPlan> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int32, true),
            Field::new("b", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int32Array::from(keys)),
                Arc::new(Int64Array::from(b)),
            ],
        )
        .unwrap();
        let batches: Vec<RecordBatch> = (0..batch.num_rows())
            .step_by(batch_rows)
            .map(|at| batch.slice(at, batch_rows.min(batch.num_rows() - at)))
            .collect();
        let per_partition = batches.len().div_ceil(partitions);
        let partitions: Vec<Vec<RecordBatch>> =
            batches.chunks(per_partition).map(<[_]>::to_vec).collect();
        MemorySourceConfig::try_new_exec(&partitions, schema, None).unwrap()
    }

    fn join(join_type: JoinType, keys: &[&str]) -> Arc<dyn ExecutionPlan> {
        let (build, probe) = (build_side(), probe_side());
        let on = keys
            .iter()
            .map(|key| {
                (
                    col(key, &build.schema()).unwrap(),
                    col(key, &probe.schema()).unwrap(),
                )
            })
            .collect();
        Arc::new(
            HashJoinExecBuilder::new(build, probe, on, join_type)
                .with_partition_mode(PartitionMode::CollectLeft)
                .build()
                .unwrap(),
        )
    }

    /// The plan's rows, one sorted line each.
    async fn rows_of(plan: Arc<dyn ExecutionPlan>, context: Arc<TaskContext>) -> Vec<String> {
        let batches = collect(plan, context).await.unwrap();
        let table = pretty_format_batches(&batches).unwrap().to_string();
        let mut lines: Vec<String> = table
            .lines()
            .filter(|line| line.starts_with('|'))
            .skip(1)
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    }

    fn dropped(plan: &Arc<dyn ExecutionPlan>) -> usize {
        plan.metrics()
            .and_then(|metrics| metrics.sum_by_name("probe_rows_dropped"))
            .map_or(0, |count| count.as_usize())
    }

    /// Probe rows with a key among the build's: `k` a multiple of 37 up to 9,990, not NULL.
    fn probe_rows_with_a_build_key() -> usize {
        (0..PROBE_ROWS)
            .filter(|i| i % 1000 != 0 && i % 20_000 % 37 == 0 && i % 20_000 <= 9990)
            .count()
    }

    #[tokio::test]
    async fn filtered_joins_answer_as_the_plain_join_and_drop_unmatched_probe_rows() {
        let context = Arc::new(TaskContext::default());
        for keys in [&["k"][..], &["k", "b"]] {
            for join_type in [
                JoinType::Inner,
                JoinType::Left,
                JoinType::LeftSemi,
                JoinType::LeftAnti,
                JoinType::LeftMark,
                JoinType::RightSemi,
            ] {
                let filtered = JoinKeyFilters
                    .optimize(join(join_type, keys), &ConfigOptions::default())
                    .unwrap();
                assert_eq!(
                    filtered.name(),
                    "KeyFilteredJoinExec",
                    "{join_type} on {keys:?}"
                );
                let plain = rows_of(join(join_type, keys), Arc::clone(&context)).await;
                assert!(!plain.is_empty());
                let answer = rows_of(Arc::clone(&filtered), Arc::clone(&context)).await;
                assert_eq!(answer, plain, "{join_type} on {keys:?}");
                // Only `k` is tested: `b` fills all of its range 0..6 on the build side.
                assert_eq!(
                    dropped(&filtered),
                    PROBE_ROWS as usize - probe_rows_with_a_build_key(),
                    "{join_type} on {keys:?}"
                );
            }
        }
    }

    #[test]
    fn joins_that_answer_with_unmatched_probe_rows_are_left_alone() {
        for join_type in [
            JoinType::Right,
            JoinType::Full,
            JoinType::RightAnti,
            JoinType::RightMark,
        ] {
            let plan = JoinKeyFilters
                .optimize(join(join_type, &["k"]), &ConfigOptions::default())
                .unwrap();
            assert_eq!(plan.name(), "HashJoinExec", "{join_type}");
        }
    }

    #[tokio::test]
    async fn without_memory_for_the_build_keys_the_probe_rows_go_untested() {
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(GreedyMemoryPool::new(1024)))
            .build_arc()
            .unwrap();
        let join = join(JoinType::Inner, &["k"]);
        let join = join.downcast_ref::<HashJoinExec>().unwrap();
        let context = TaskContext::default().with_runtime(runtime);
        let roomy = BuildKeyBitmaps::start(join, &TaskContext::default());
        let cramped = BuildKeyBitmaps::start(join, &context);
        let build = collect(build_side(), Arc::new(TaskContext::default()))
            .await
            .unwrap();
        let probe = collect(probe_side(), Arc::new(TaskContext::default()))
            .await
            .unwrap();
        for watch in [&roomy, &cramped] {
            build
                .iter()
                .for_each(|batch| watch.note_build(batch).unwrap());
            watch.build_read();
        }
        // The 272 build keys take more than 1 KB as i64s: the cramped watch keeps every row.
        let kept = |watch: &BuildKeyBitmaps| -> usize {
            probe
                .iter()
                .map(|batch| watch.keep_probe(batch.clone()).unwrap().unwrap().num_rows())
                .sum()
        };
        assert_eq!(kept(&cramped), PROBE_ROWS as usize);
        assert_eq!(kept(&roomy), probe_rows_with_a_build_key());
        assert_eq!(context.memory_pool().reserved(), 0);
    }

    #[test]
    fn the_filter_stops_once_it_keeps_most_rows_and_reads_of_racing_counts_never_underflow() {
        let tested = JUDGE_AFTER_ROWS;
        assert!(!keeps_too_many(tested - 1, 0), "too few rows to judge");
        assert!(keeps_too_many(tested, tested / 10));
        assert!(!keeps_too_many(tested, tested / 2));
        // Another partition's dropped rows counted before its tested ones.
        assert!(!keeps_too_many(tested, tested + 8192));
    }
}
