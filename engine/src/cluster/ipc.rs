//! Arrow IPC streams as the bytes that carry schemas and batches inside serialised plans: a
//! query's in-memory tables and a job's in-memory sources travel to the cluster this way.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::error::Result;

/// `batches` (all of `schema`) as one IPC stream; no batches gives a stream of the schema alone.
pub fn encode(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let mut writer = StreamWriter::try_new(Vec::new(), schema)?;
    for batch in batches {
        writer.write(batch)?;
    }
    Ok(writer.into_inner()?)
}

/// The schema and batches of an IPC stream written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let reader = StreamReader::try_new(bytes, None)?;
    let schema = reader.schema();
    let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((schema, batches))
}

/// One array as an IPC stream (a batch of one column).
pub fn encode_array(array: &ArrayRef) -> Result<Vec<u8>> {
    let field = Field::new("values", array.data_type().clone(), true);
    let schema = Arc::new(Schema::new(vec![field]));
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::clone(array)])?;
    encode(&schema, &[batch])
}

/// The array [`encode_array`] wrote.
pub fn decode_array(bytes: &[u8]) -> Result<ArrayRef> {
    let (_, batches) = decode(bytes)?;
    match batches.as_slice() {
        [batch] if batch.num_columns() == 1 => Ok(Arc::clone(batch.column(0))),
        _ => Err(datafusion::error::DataFusionError::Internal(
            "an encoded array is one batch of one column".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::DataType;

    #[test]
    fn batches_and_arrays_survive_the_round_trip() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("text", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])),
            ],
        )
        .unwrap();
        let (back_schema, back) =
            decode(&encode(&schema, &[batch.clone(), batch.clone()]).unwrap()).unwrap();
        assert_eq!(back_schema, schema);
        assert_eq!(back, vec![batch.clone(), batch]);

        let (empty_schema, none) = decode(&encode(&schema, &[]).unwrap()).unwrap();
        assert_eq!((empty_schema, none.len()), (schema, 0));

        let array: ArrayRef = Arc::new(StringArray::from(vec!["m", "t"]));
        assert_eq!(
            &decode_array(&encode_array(&array).unwrap()).unwrap(),
            &array
        );
    }
}
