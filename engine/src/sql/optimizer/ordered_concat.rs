//! [`OrderedConcatExec`]: one stream of its input's partitions, the first partition's rows first,
//! then the second's, and so on, computed several at a time.
//!
//! DataFusion merges partitions in whatever order their batches arrive, so rows read from one
//! file come out interleaved across threads. When the input's partitions are consecutive pieces
//! ("morsels") of the files a query reads, reading them in partition order gives the rows in the
//! order the files hold them, which is what DuckDB returns and what users expect of
//! `LIMIT` without `ORDER BY`, of a `COPY` that converts a file, or of `row_number() OVER ()`.
//!
//! Up to `concurrency` morsels run at once, each on its own task, and the rows of those after
//! the first wait in memory until their turn; a morsel starts when the one `concurrency` places
//! ahead of it has been passed on. So memory holds at most `concurrency` morsels' rows, and all
//! threads stay busy while the consumer keeps up. Dropping the stream (a `LIMIT` met) stops every
//! running morsel.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::limit::LimitStream;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties,
};
use futures::{FutureExt, Stream, StreamExt};
use tokio::sync::mpsc;

/// Its input's partitions concatenated in partition order, as one partition.
#[derive(Debug)]
pub struct OrderedConcatExec {
    input: Arc<dyn ExecutionPlan>,
    /// The most rows to return (a `LIMIT` above it).
    fetch: Option<usize>,
    /// How many input partitions run at once.
    concurrency: usize,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl OrderedConcatExec {
    pub fn new(input: Arc<dyn ExecutionPlan>, fetch: Option<usize>, concurrency: usize) -> Self {
        // As for a merge of partitions, orders within partitions are not kept across them.
        let mut equivalences = input.equivalence_properties().clone();
        equivalences.clear_orderings();
        equivalences.clear_per_partition_constants();
        let properties = PlanProperties::new(
            equivalences,
            Partitioning::UnknownPartitioning(1),
            input.pipeline_behavior(),
            input.boundedness(),
        );
        Self {
            input,
            fetch,
            concurrency: concurrency.max(1),
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for OrderedConcatExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let morsels = self.input.output_partitioning().partition_count();
        let (start, separator) = match t {
            DisplayFormatType::TreeRender => ("", "\n"),
            _ => ("OrderedConcatExec: ", ", "),
        };
        write!(
            f,
            "{start}morsels={morsels}{separator}concurrency={}",
            self.concurrency
        )?;
        if let Some(fetch) = self.fetch {
            write!(f, "{separator}fetch={fetch}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for OrderedConcatExec {
    fn name(&self) -> &str {
        "OrderedConcatExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
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
        let [input] = <[_; 1]>::try_from(children).map_err(|c| {
            DataFusionError::Internal(format!(
                "OrderedConcatExec takes one child, not {}",
                c.len()
            ))
        })?;
        Ok(Arc::new(Self::new(input, self.fetch, self.concurrency)))
    }

    fn fetch(&self) -> Option<usize> {
        self.fetch
    }

    fn with_fetch(&self, limit: Option<usize>) -> Option<Arc<dyn ExecutionPlan>> {
        Some(Arc::new(Self::new(
            Arc::clone(&self.input),
            limit,
            self.concurrency,
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "OrderedConcatExec has one partition, not partition {partition}"
            )));
        }
        let in_order = Box::pin(InOrder {
            input: Arc::clone(&self.input),
            next: 0,
            morsels: self.input.output_partitioning().partition_count(),
            concurrency: self.concurrency,
            running: VecDeque::new(),
            waiting: Arc::new(
                MemoryConsumer::new("OrderedConcatExec").register(context.memory_pool()),
            ),
            context,
        });
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        Ok(Box::pin(LimitStream::new(in_order, 0, self.fetch, metrics)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// What a morsel's task sends: its batches, then `Done` once its input has ended.
enum Piece {
    Batch(Result<RecordBatch>),
    Done,
}

/// One input partition running on its own task.
struct Morsel {
    pieces: mpsc::UnboundedReceiver<Piece>,
    task: SpawnedTask<()>,
}

/// The stream [`OrderedConcatExec`] returns.
struct InOrder {
    input: Arc<dyn ExecutionPlan>,
    context: Arc<TaskContext>,
    /// The next partition to start.
    next: usize,
    morsels: usize,
    concurrency: usize,
    /// The running morsels in partition order; the first is the one being passed on.
    running: VecDeque<Morsel>,
    /// The memory of the batches sent and not yet passed on, counted in the session's pool so
    /// that operators that can spill see it taken (never refused: the morsels in flight are
    /// bounded by `concurrency`).
    waiting: Arc<MemoryReservation>,
}

impl InOrder {
    /// Starts morsels until `concurrency` run or none is left.
    fn start_morsels(&mut self) {
        while self.running.len() < self.concurrency && self.next < self.morsels {
            let (sender, pieces) = mpsc::unbounded_channel();
            let stream = self.input.execute(self.next, Arc::clone(&self.context));
            let waiting = Arc::clone(&self.waiting);
            let task = SpawnedTask::spawn(async move {
                let mut stream = match stream {
                    Ok(stream) => stream,
                    Err(e) => {
                        let _ = sender.send(Piece::Batch(Err(e)));
                        return;
                    }
                };
                while let Some(batch) = stream.next().await {
                    let failed = batch.is_err();
                    if let Ok(batch) = &batch {
                        waiting.grow(batch.get_array_memory_size());
                    }
                    // The receiver is gone when the consumer stopped early: stop too.
                    if sender.send(Piece::Batch(batch)).is_err() || failed {
                        return;
                    }
                }
                let _ = sender.send(Piece::Done);
            });
            self.running.push_back(Morsel { pieces, task });
            self.next += 1;
        }
    }

    /// Stops every running morsel and starts no more, after a failure.
    fn stop(&mut self) {
        self.running.clear();
        self.next = self.morsels;
    }
}

impl Stream for InOrder {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            self.start_morsels();
            let Some(first) = self.running.front_mut() else {
                return Poll::Ready(None);
            };
            match ready!(first.pieces.poll_recv(cx)) {
                Some(Piece::Batch(Ok(batch))) if batch.num_rows() == 0 => continue,
                Some(Piece::Batch(Ok(batch))) => {
                    self.waiting.shrink(batch.get_array_memory_size());
                    return Poll::Ready(Some(Ok(batch)));
                }
                Some(Piece::Batch(Err(e))) => {
                    self.stop();
                    return Poll::Ready(Some(Err(e)));
                }
                Some(Piece::Done) => {
                    self.running.pop_front();
                }
                // The task ended without saying it was done: it panicked. Its rows are
                // incomplete, so the query fails rather than return part of them.
                None => {
                    let ended = ready!(first.task.poll_unpin(cx));
                    self.stop();
                    let reason = match ended {
                        Err(e) => e.to_string(),
                        Ok(()) => "it stopped before its end".to_string(),
                    };
                    return Poll::Ready(Some(Err(DataFusionError::Execution(format!(
                        "reading rows in order failed: {reason}"
                    )))));
                }
            }
        }
    }
}

impl RecordBatchStream for InOrder {
    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }
}
