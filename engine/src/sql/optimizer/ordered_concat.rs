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
//! threads stay busy while the consumer keeps up. Under a memory limit the waiting rows are
//! counted in the session's pool and take at most an eighth of it: a morsel that would take more
//! pauses until the consumer has passed rows on, so that the consumer (a file writer, a window)
//! keeps the rest. The morsel being passed on never waits for the others, only for the consumer
//! to take its own rows. Dropping the stream (a `LIMIT` met) stops every running morsel.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryLimit, MemoryReservation};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::limit::LimitStream;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties,
};
use futures::{FutureExt, Stream, StreamExt};
use tokio::sync::{Notify, mpsc};

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
            waiting: Arc::new(Waiting::new(
                MemoryConsumer::new("OrderedConcatExec").register(context.memory_pool()),
                context.memory_pool().memory_limit(),
            )),
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
    sent: Arc<Sent>,
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
    waiting: Arc<Waiting>,
}

/// The batches sent by the running morsels and not yet passed on.
struct Waiting {
    /// Their memory, in the session's pool.
    reservation: MemoryReservation,
    /// The most the morsels after the first may hold: an eighth of a finite pool.
    bound: usize,
    /// The partition being passed on.
    first: AtomicUsize,
    /// Told whenever the consumer takes a batch or moves on to the next partition.
    taken: Notify,
}

/// What one morsel has sent and the consumer not yet taken.
#[derive(Default)]
struct Sent {
    unread: AtomicUsize,
    /// The part of it counted in the memory pool.
    reserved: AtomicUsize,
}

/// How far the morsel being passed on may run ahead of its consumer.
const FIRST_AHEAD_BYTES: usize = 16 << 20;

impl Waiting {
    fn new(reservation: MemoryReservation, pool_limit: MemoryLimit) -> Self {
        let bound = match pool_limit {
            MemoryLimit::Finite(bytes) => bytes / 8,
            MemoryLimit::Infinite | MemoryLimit::Unknown => usize::MAX,
        };
        Self {
            reservation,
            bound,
            first: AtomicUsize::new(0),
            taken: Notify::new(),
        }
    }

    /// Waits until partition `partition` may send a batch of `bytes`, and counts it in `sent`.
    async fn hold(&self, partition: usize, sent: &Sent, bytes: usize) {
        loop {
            // Made before the checks, so that a batch taken between them still wakes it.
            let taken = self.taken.notified();
            if self.first.load(Ordering::Acquire) == partition {
                // Not in the pool: the consumer is taking these, and counts what it keeps.
                if sent.unread.load(Ordering::Acquire) <= FIRST_AHEAD_BYTES {
                    sent.unread.fetch_add(bytes, Ordering::AcqRel);
                    return;
                }
            } else if self.reservation.size() + bytes <= self.bound
                && self.reservation.try_grow(bytes).is_ok()
            {
                sent.unread.fetch_add(bytes, Ordering::AcqRel);
                sent.reserved.fetch_add(bytes, Ordering::AcqRel);
                return;
            }
            taken.await;
        }
    }

    /// The consumer took a batch of `bytes` from the morsel that sent `sent`. Its batches
    /// counted in the pool are its first ones, sent before it was the one passed on.
    fn take(&self, sent: &Sent, bytes: usize) {
        sent.unread.fetch_sub(bytes, Ordering::AcqRel);
        let reserved = sent.reserved.load(Ordering::Acquire).min(bytes);
        sent.reserved.fetch_sub(reserved, Ordering::AcqRel);
        self.reservation.shrink(reserved);
        self.taken.notify_waiters();
    }

    /// The consumer moved on to partition `partition`.
    fn move_to(&self, partition: usize) {
        self.first.store(partition, Ordering::Release);
        self.taken.notify_waiters();
    }
}

impl InOrder {
    /// Starts morsels until `concurrency` run or none is left.
    fn start_morsels(&mut self) {
        while self.running.len() < self.concurrency && self.next < self.morsels {
            let (sender, pieces) = mpsc::unbounded_channel();
            let stream = self.input.execute(self.next, Arc::clone(&self.context));
            let waiting = Arc::clone(&self.waiting);
            let sent = Arc::new(Sent::default());
            let sending = Arc::clone(&sent);
            let partition = self.next;
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
                        let bytes = batch.get_array_memory_size();
                        waiting.hold(partition, &sending, bytes).await;
                    }
                    // The receiver is gone when the consumer stopped early: stop too.
                    if sender.send(Piece::Batch(batch)).is_err() || failed {
                        return;
                    }
                }
                let _ = sender.send(Piece::Done);
            });
            self.running.push_back(Morsel { pieces, sent, task });
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

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            this.start_morsels();
            let Some(first) = this.running.front_mut() else {
                return Poll::Ready(None);
            };
            match ready!(first.pieces.poll_recv(cx)) {
                Some(Piece::Batch(Ok(batch))) => {
                    this.waiting
                        .take(&first.sent, batch.get_array_memory_size());
                    if batch.num_rows() > 0 {
                        return Poll::Ready(Some(Ok(batch)));
                    }
                }
                Some(Piece::Batch(Err(e))) => {
                    this.stop();
                    return Poll::Ready(Some(Err(e)));
                }
                Some(Piece::Done) => {
                    this.running.pop_front();
                    // The running morsels are the partitions just before the next to start.
                    this.waiting.move_to(this.next - this.running.len());
                }
                // The task ended without saying it was done: it panicked. Its rows are
                // incomplete, so the query fails rather than return part of them.
                None => {
                    let ended = ready!(first.task.poll_unpin(cx));
                    this.stop();
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
