//! A hash join, built whole, whose two sides pass by a watcher made when the join runs.
//!
//! Some joins can be answered faster, or by DataFusion's hash join at all, once something is
//! known about the rows of the build side: [`NotInJoinExec`](super::NotInJoinExec) needs to
//! know whether any subquery key was NULL, [`KeyFilteredJoinExec`](super::KeyFilteredJoinExec)
//! which keys there are. A [`WatchedJoinExec`] wraps an ordinary [`HashJoinExec`] in
//! `CollectLeft` mode. When it first executes, it puts a [`WatchedSide`] in front of each of
//! the join's two inputs, both sharing one [`JoinWatch`]: the build rows pass through it on their
//! way into the hash table, and the probe rows pass through it after. A hash join in
//! `CollectLeft` mode reads all of its build side before it asks for the first probe row, so
//! what the build showed is known in time; the watch is told when the build was read whole,
//! and can check it rather than trust it.
//!
//! The sides are wrapped when the node executes, not in the plan, so the plan holds one node,
//! which crosses to a cluster's executors whole: the watch is shared in one process.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result, Statistics};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::joins::HashJoinExec;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::{
    ChildStats, ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan,
    PlanProperties, ReplaceChildrenOptions, StatisticsArgs,
};
use futures::{Stream, StreamExt};

/// What one kind of [`WatchedJoinExec`] learns from the build rows and does to the probe rows.
/// One watch serves one run of the join, shared by the build side and every probe partition.
pub trait JoinWatch: fmt::Debug + Send + Sync + Sized + 'static {
    /// The node's name in plans.
    const NAME: &'static str;
    /// What the node's line in a plan says it does.
    const SUMMARY: &'static str;

    /// Why this kind cannot wrap `join`, or `None` when it can.
    fn unfit(join: &HashJoinExec) -> Option<String>;

    /// A watch for one run of `join`, whose build side is about to run in `context`.
    fn start(join: &HashJoinExec, context: &TaskContext) -> Self;

    /// Looks at one build batch on its way into the hash table.
    fn note_build(&self, batch: &RecordBatch) -> Result<()>;

    /// Told once the build side has been read to its end.
    fn build_read(&self);

    /// The rows of a probe batch the join needs, or `None` when it needs no probe row at all
    /// from here on, which ends the probe side.
    fn keep_probe(&self, batch: RecordBatch) -> Result<Option<RecordBatch>>;

    /// Adds what the watch counted to the node's metrics.
    fn add_metrics(&self, _metrics: &mut MetricsSet) {}
}

/// The join as it runs: a copy of the hash join over the wrapped sides, and the watch they
/// share.
struct Running<W> {
    join: Arc<dyn ExecutionPlan>,
    watch: Arc<W>,
}

/// A hash join built whole whose sides pass by a [`JoinWatch`]; see the module documentation.
pub struct WatchedJoinExec<W> {
    /// A `CollectLeft` hash join that `W` fits.
    join: Arc<dyn ExecutionPlan>,
    /// Made on the first `execute`, so that every output partition probes the one hash table
    /// and shares the one watch.
    running: Mutex<Option<Running<W>>>,
}

impl<W> fmt::Debug for WatchedJoinExec<W> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("WatchedJoinExec")
            .field("join", &self.join)
            .finish_non_exhaustive()
    }
}

impl<W: JoinWatch> WatchedJoinExec<W> {
    /// Wraps `join`, which must be a hash join that `W` fits.
    pub fn try_new(join: Arc<dyn ExecutionPlan>) -> Result<Self> {
        let Some(hash_join) = join.downcast_ref::<HashJoinExec>() else {
            return Err(DataFusionError::Internal(format!(
                "a {} wraps a hash join, not {}",
                W::NAME,
                join.name()
            )));
        };
        if let Some(why) = W::unfit(hash_join) {
            return Err(DataFusionError::Internal(format!(
                "a {} cannot wrap this join: {why}",
                W::NAME
            )));
        }
        Ok(Self {
            join,
            running: Mutex::new(None),
        })
    }

    /// The hash join this node wraps.
    pub fn join(&self) -> &HashJoinExec {
        self.join
            .downcast_ref::<HashJoinExec>()
            .expect("checked in try_new")
    }

    /// The join with its sides wrapped, made once.
    fn running(&self, context: &TaskContext) -> Result<Arc<dyn ExecutionPlan>> {
        let mut running = self
            .running
            .lock()
            .expect("no watched join panics holding it");
        if let Some(running) = running.as_ref() {
            return Ok(Arc::clone(&running.join));
        }
        let hash_join = self.join();
        let watch = Arc::new(W::start(hash_join, context));
        let sides: Vec<Arc<dyn ExecutionPlan>> = vec![
            Arc::new(WatchedSide::new(
                Arc::clone(hash_join.left()),
                Arc::clone(&watch),
                Side::Build,
            )),
            Arc::new(WatchedSide::new(
                Arc::clone(hash_join.right()),
                Arc::clone(&watch),
                Side::Probe,
            )),
        ];
        // The wrapped sides have their inputs' partitioning and order.
        let keep = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Keep);
        let join = Arc::clone(&self.join).replace_children(sides, keep)?;
        *running = Some(Running {
            join: Arc::clone(&join),
            watch,
        });
        Ok(join)
    }
}

impl<W: JoinWatch> DisplayAs for WatchedJoinExec<W> {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}: {}", W::NAME, W::SUMMARY)
    }
}

impl<W: JoinWatch> ExecutionPlan for WatchedJoinExec<W> {
    fn name(&self) -> &str {
        W::NAME
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.join.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.join]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [join] = children.as_slice() else {
            return Err(DataFusionError::Internal(format!(
                "a {} has one input",
                W::NAME
            )));
        };
        Ok(Arc::new(Self::try_new(Arc::clone(join))?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.running(&context)?.execute(partition, context)
    }

    /// The watch's own metrics. The join's work shows on the wrapped join below this node:
    /// the running copy shares its metrics, as a hash join keeps them when its children are
    /// replaced.
    fn metrics(&self) -> Option<MetricsSet> {
        let running = self
            .running
            .lock()
            .expect("no watched join panics holding it");
        let mut metrics = MetricsSet::new();
        running.as_ref()?.watch.add_metrics(&mut metrics);
        Some(metrics)
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(partition)]
    }

    /// The join's: a watch only ever drops rows the join would not have answered with.
    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        Ok(Arc::clone(&input_stats[0]))
    }
}

/// Which side of the join a [`WatchedSide`] feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The rows the hash table is built from: noted, passed on whole.
    Build,
    /// The rows looked up in it: passed on as the watch decides.
    Probe,
}

/// One side of a running [`WatchedJoinExec`].
struct WatchedSide<W> {
    input: Arc<dyn ExecutionPlan>,
    watch: Arc<W>,
    side: Side,
}

impl<W> fmt::Debug for WatchedSide<W> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("WatchedSide")
            .field("side", &self.side)
            .finish_non_exhaustive()
    }
}

impl<W: JoinWatch> WatchedSide<W> {
    fn new(input: Arc<dyn ExecutionPlan>, watch: Arc<W>, side: Side) -> Self {
        Self { input, watch, side }
    }
}

impl<W: JoinWatch> DisplayAs for WatchedSide<W> {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "WatchedSide: {:?} of a {}", self.side, W::NAME)
    }
}

impl<W: JoinWatch> ExecutionPlan for WatchedSide<W> {
    fn name(&self) -> &str {
        "WatchedSide"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = children.as_slice() else {
            return Err(DataFusionError::Internal(format!(
                "a side of a {} has one input",
                W::NAME
            )));
        };
        Ok(Arc::new(Self::new(
            Arc::clone(input),
            Arc::clone(&self.watch),
            self.side,
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        Ok(Box::pin(SideStream {
            input: self.input.execute(partition, context)?,
            watch: Arc::clone(&self.watch),
            side: self.side,
            done: false,
        }))
    }
}

/// The rows of one partition of a [`WatchedSide`].
struct SideStream<W> {
    input: SendableRecordBatchStream,
    watch: Arc<W>,
    side: Side,
    done: bool,
}

impl<W: JoinWatch> Stream for SideStream<W> {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            let Poll::Ready(next) = self.input.poll_next_unpin(cx) else {
                return Poll::Pending;
            };
            let answer = match (self.side, next) {
                (_, Some(Err(e))) => Some(Err(e)),
                (Side::Build, Some(Ok(batch))) => {
                    Some(self.watch.note_build(&batch).map(|()| batch))
                }
                (Side::Build, None) => {
                    self.watch.build_read();
                    None
                }
                (Side::Probe, Some(Ok(batch))) => match self.watch.keep_probe(batch) {
                    // A probe batch with no row the join needs is not passed on at all.
                    Ok(Some(kept)) if kept.num_rows() == 0 => continue,
                    kept => kept.transpose(),
                },
                (Side::Probe, None) => None,
            };
            if !matches!(answer, Some(Ok(_))) {
                self.done = true;
            }
            return Poll::Ready(answer);
        }
    }
}

impl<W: JoinWatch> RecordBatchStream for SideStream<W> {
    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }
}
