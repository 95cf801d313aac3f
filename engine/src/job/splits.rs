//! Split points of range shuffles: given by the user, or sampled from the producers' inputs
//! when the stage starts.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::compute::{SortOptions, concat, sort};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::json::ReaderBuilder;
use tarn_planner::{Scheme, Splits, StageId, Work};

use super::task::Job;
use crate::error::{Result, TarnError};

/// Rows a range shuffle samples per producer for every partition it splits into.
const SAMPLES_PER_PARTITION: usize = 32;

/// The split points of a range shuffle: given ones as an array, or sampled ones chosen as
/// evenly spaced quantiles of a reservoir sample of every producer's input.
pub(super) async fn sampled_splits(job: &Job, stage: StageId) -> Result<Option<ArrayRef>> {
    let stage = &job.graph.stages[stage];
    let Work::Shuffle {
        scheme: Scheme::Range { column, splits },
        ..
    } = &stage.work
    else {
        return Ok(None);
    };
    let points = match splits {
        Splits::Given(points) => return given_splits(points).map(Some),
        Splits::Sampled => stage.partitions - 1,
    };
    let per_producer = (SAMPLES_PER_PARTITION * stage.partitions)
        .div_ceil(stage.tasks.len())
        .max(1000);
    let mut samples: Vec<ArrayRef> = Vec::new();
    for task in &stage.tasks {
        let session = job.sql_session(job.config.threads)?;
        session
            .context()
            .register_table("__input", job.inputs().table(&task.inputs[0]).await?)?;
        let quoted = column.replace('"', "\"\"");
        let query = format!(
            "SELECT \"{quoted}\" FROM __input WHERE \"{quoted}\" IS NOT NULL USING SAMPLE reservoir({per_producer} ROWS)"
        );
        let frame = session.dataframe(&query).await?;
        for batch in frame.collect().await? {
            samples.push(Arc::clone(batch.column(0)));
        }
    }
    let samples: Vec<&dyn datafusion::arrow::array::Array> =
        samples.iter().map(|a| a.as_ref()).collect();
    if samples.iter().all(|a| a.is_empty()) || points == 0 {
        return Ok(Some(datafusion::arrow::array::new_empty_array(
            &datafusion::arrow::datatypes::DataType::Int64,
        )));
    }
    let all = concat(&samples)?;
    let sorted = sort(&all, Some(SortOptions::default()))?;
    let indices: Vec<u32> = (1..=points)
        .map(|i| (i * sorted.len() / (points + 1)) as u32)
        .collect();
    let picked = datafusion::arrow::compute::take(
        &sorted,
        &datafusion::arrow::array::UInt32Array::from(indices),
        None,
    )?;
    Ok(Some(picked))
}

/// Given split points (JSON numbers or strings) as an array of their JSON type; the shuffle
/// casts it to the column's type.
fn given_splits(points: &[serde_json::Value]) -> Result<ArrayRef> {
    let data_type = match points.first() {
        Some(serde_json::Value::String(_)) => datafusion::arrow::datatypes::DataType::Utf8,
        Some(v) if v.is_i64() => datafusion::arrow::datatypes::DataType::Int64,
        _ => datafusion::arrow::datatypes::DataType::Float64,
    };
    let schema = Arc::new(Schema::new(vec![Field::new("s", data_type, true)]));
    let rows: Vec<serde_json::Value> = points
        .iter()
        .map(|p| serde_json::json!({ "s": p }))
        .collect();
    let mut decoder = ReaderBuilder::new(schema)
        .build_decoder()
        .map_err(|e| TarnError::Invalid(format!("split points: {e}")))?;
    decoder
        .serialize(&rows)
        .map_err(|e| TarnError::Invalid(format!("split points: {e}")))?;
    let batch: RecordBatch = decoder
        .flush()
        .map_err(|e| TarnError::Invalid(format!("split points: {e}")))?
        .expect("split points were given");
    Ok(Arc::clone(batch.column(0)))
}
