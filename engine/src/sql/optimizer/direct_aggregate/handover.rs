//! The rest of a partition's input handed to DataFusion's own partial aggregate, once packed
//! groups have grown many.
//!
//! Packed words suit few groups. With many, DataFusion's aggregate is the better one: it keeps
//! a group's keys in columns, and when nearly every row is a group of its own it stops
//! aggregating and passes rows on to the final stage (TPC-H Q16, whose first aggregate is a
//! DISTINCT, took 1.46 times as long at SF10 aggregated through packed words to the end).

use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::LexOrdering;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::stream::EmptyRecordBatchStream;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{ChildrenPropertiesMode, ExecutionPlan, ReplaceChildrenOptions};

/// `aggregate`, a partial aggregate, run by DataFusion over `input`: what is left of one
/// partition of its input.
pub(super) fn aggregate_rest(
    aggregate: &Arc<AggregateExec>,
    input: SendableRecordBatchStream,
    context: Arc<TaskContext>,
) -> Result<SendableRecordBatchStream> {
    let schema = input.schema();
    let rest = RestOfInput {
        schema: Arc::clone(&schema),
        stream: Mutex::new(Some(input)),
    };
    let source = StreamingTableExec::try_new(
        schema,
        vec![Arc::new(rest)],
        None,
        Vec::<LexOrdering>::new(),
        false,
        None,
    )?;
    let recompute = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
    let over_rest = Arc::clone(aggregate).replace_children(vec![Arc::new(source)], recompute)?;
    over_rest.execute(0, context)
}

/// A stream offered once as the one partition of a plan.
struct RestOfInput {
    schema: SchemaRef,
    stream: Mutex<Option<SendableRecordBatchStream>>,
}

impl fmt::Debug for RestOfInput {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("RestOfInput")
    }
}

impl PartitionStream for RestOfInput {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The stream the first time; an empty one after.
    fn execute(&self, _context: Arc<TaskContext>) -> SendableRecordBatchStream {
        let taken = self.stream.lock().ok().and_then(|mut stream| stream.take());
        taken.unwrap_or_else(|| Box::pin(EmptyRecordBatchStream::new(Arc::clone(&self.schema))))
    }
}
