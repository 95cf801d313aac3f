//! Where a job's rows come from: files read in place, or batches handed over in memory.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::execution::object_store::ObjectStoreUrl;

use crate::error::{Result, TarnError};
use crate::sql::files::FormatOptions;

/// The pieces a scan can be dealt out in: files, or batches.
pub enum Source {
    Files(FileSource),
    Memory {
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    },
}

/// Files of one format, all read with one schema.
pub struct FileSource {
    pub store: ObjectStoreUrl,
    pub format: Arc<dyn FileFormat>,
    /// What `format` was made from, so that a cluster's executor can make it again.
    pub options: FormatOptions,
    pub files: Vec<PartitionedFile>,
    pub schema: SchemaRef,
}

impl Source {
    pub fn schema(&self) -> SchemaRef {
        match self {
            Source::Files(files) => Arc::clone(&files.schema),
            Source::Memory { schema, .. } => Arc::clone(schema),
        }
    }

    /// How many files or batches the source has.
    pub fn pieces(&self) -> usize {
        match self {
            Source::Files(files) => files.files.len(),
            Source::Memory { batches, .. } => batches.len(),
        }
    }
}

/// `schema` reduced to `columns`, in the order given; a missing column is an error naming it
/// and what was read.
pub fn project(schema: &Schema, columns: &[String], what: &str) -> Result<SchemaRef> {
    let fields = columns
        .iter()
        .map(|name| {
            schema
                .field_with_name(name)
                .cloned()
                .map_err(|_| TarnError::Invalid(format!("column '{name}' not found in {what}")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(Schema::new(fields)))
}
