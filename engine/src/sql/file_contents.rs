//! DuckDB's `read_text(paths)` and `read_blob(paths)`: one row per file, with its whole content
//! as text or as bytes, for corpora kept one document per file (web pages, source files,
//! transcripts) on a local disk or an object store. Columns: `filename` (as `glob` names it),
//! `content`, `size` (bytes) and `last_modified`.
//!
//! The files are listed when the query is planned and read as the scan runs, a few at a time
//! per partition; a query that does not read `content` (`SELECT filename, size FROM
//! read_text(...)`) reads no file. `read_text` fails on a file that is not UTF-8, naming it.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BinaryBuilder, Int64Array, RecordBatch, StringArray, StringBuilder,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::datasource::TableType;
use datafusion::execution::{SendableRecordBatchStream, SessionState, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use futures::{StreamExt, TryStreamExt};

use super::files::list_paths;
use crate::error::Result;

/// How `content` holds a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// `read_text`: UTF-8 text.
    Text,
    /// `read_blob`: bytes.
    Blob,
}

impl Content {
    fn function(self) -> &'static str {
        match self {
            Content::Text => "read_text",
            Content::Blob => "read_blob",
        }
    }
}

/// The files a batch holds at most: few enough that a batch of large documents stays small.
const FILES_PER_BATCH: usize = 64;

/// The table of the files `paths` (paths or globs) name, one row each (see the module
/// documentation); a path that names no file is an error.
pub async fn file_contents_table(
    state: &SessionState,
    paths: &[String],
    content: Content,
) -> Result<Arc<dyn TableProvider>> {
    let listed = list_paths(state, paths).await?;
    let mut files = Vec::new();
    for path in &listed.files {
        let store = state.runtime_env().object_store(&path.url)?;
        for meta in &path.files {
            files.push(File {
                name: path.display(meta),
                meta: meta.clone(),
                store: Arc::clone(&store),
            });
        }
    }
    let content_type = match content {
        Content::Text => DataType::Utf8,
        Content::Blob => DataType::Binary,
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("filename", DataType::Utf8, false),
        Field::new("content", content_type, true),
        Field::new("size", DataType::Int64, false),
        Field::new("last_modified", super::types::timestamptz(), false),
    ]));
    Ok(Arc::new(FileContents {
        schema,
        files: files.into(),
        content,
    }))
}

/// One listed file.
#[derive(Debug)]
struct File {
    /// As the query's path names it.
    name: String,
    meta: ObjectMeta,
    store: Arc<dyn ObjectStore>,
}

/// See the module documentation.
#[derive(Debug)]
struct FileContents {
    schema: SchemaRef,
    files: Arc<[File]>,
    content: Content,
}

/// The position of `content` in [`FileContents`]'s schema.
const CONTENT_COLUMN: usize = 1;

#[async_trait::async_trait]
impl TableProvider for FileContents {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let reads_content = projection.is_none_or(|columns| columns.contains(&CONTENT_COLUMN));
        let partitions = state.config().target_partitions().max(1);
        let per_partition = self.files.len().div_ceil(partitions).max(1);
        let streams: Vec<Arc<dyn PartitionStream>> = (0..self.files.len())
            .step_by(per_partition)
            .map(|start| {
                Arc::new(FileRange {
                    schema: Arc::clone(&self.schema),
                    files: Arc::clone(&self.files),
                    range: start..(start + per_partition).min(self.files.len()),
                    content: self.content,
                    reads_content,
                }) as Arc<dyn PartitionStream>
            })
            .collect();
        Ok(Arc::new(StreamingTableExec::try_new(
            Arc::clone(&self.schema),
            streams,
            projection,
            [],
            false,
            limit,
        )?))
    }
}

/// The files of one partition of the scan.
#[derive(Debug)]
struct FileRange {
    schema: SchemaRef,
    files: Arc<[File]>,
    range: std::ops::Range<usize>,
    content: Content,
    /// Whether the query reads `content`; where it does not, the column is NULL and no file is
    /// read.
    reads_content: bool,
}

impl PartitionStream for FileRange {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let (schema, files) = (Arc::clone(&self.schema), Arc::clone(&self.files));
        let (content, reads_content) = (self.content, self.reads_content);
        let starts: Vec<usize> = self.range.clone().step_by(FILES_PER_BATCH).collect();
        let end = self.range.end;
        let batches = futures::stream::iter(starts).then(move |start| {
            let (schema, files) = (Arc::clone(&schema), Arc::clone(&files));
            async move {
                let batch = &files[start..(start + FILES_PER_BATCH).min(end)];
                read_batch(schema, batch, content, reads_content).await
            }
        });
        Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            batches.map_err(DataFusionError::from),
        ))
    }
}

/// The rows of `files`, their content read where `reads_content`.
async fn read_batch(
    schema: SchemaRef,
    files: &[File],
    content: Content,
    reads_content: bool,
) -> DfResult<RecordBatch> {
    let names: StringArray = files.iter().map(|f| Some(f.name.as_str())).collect();
    let sizes: Int64Array = files.iter().map(|f| Some(f.meta.size as i64)).collect();
    let modified: TimestampMicrosecondArray = files
        .iter()
        .map(|f| Some(f.meta.last_modified.timestamp_micros()))
        .collect::<TimestampMicrosecondArray>()
        .with_timezone(super::types::UTC);
    let contents: ArrayRef = match (reads_content, content) {
        (false, _) => {
            datafusion::arrow::array::new_null_array(schema.field(1).data_type(), files.len())
        }
        (true, Content::Text) => {
            let mut texts = StringBuilder::new();
            for file in files {
                let bytes = read(file).await?;
                match std::str::from_utf8(&bytes) {
                    Ok(text) => texts.append_value(text),
                    Err(_) => {
                        return Err(DataFusionError::Execution(format!(
                            "{}: '{}' is not valid UTF-8 text; read_blob reads it as bytes",
                            content.function(),
                            file.name
                        )));
                    }
                }
            }
            Arc::new(texts.finish())
        }
        (true, Content::Blob) => {
            let mut blobs = BinaryBuilder::new();
            for file in files {
                blobs.append_value(read(file).await?);
            }
            Arc::new(blobs.finish())
        }
    };
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(names),
            contents,
            Arc::new(sizes),
            Arc::new(modified),
        ],
    )?)
}

/// The bytes of `file`; a failed read names the file.
async fn read(file: &File) -> DfResult<bytes::Bytes> {
    let failed = |err: datafusion::object_store::Error| {
        DataFusionError::Execution(format!("could not read '{}': {err}", file.name))
    };
    file.store
        .get(&file.meta.location)
        .await
        .map_err(failed)?
        .bytes()
        .await
        .map_err(failed)
}
