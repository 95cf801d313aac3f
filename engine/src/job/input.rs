//! A task's inputs as DataFusion tables: the files (or batches) the planner's [`Input`] names,
//! cut to the task's byte-range slice.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::datasource::{MemTable, TableProvider, TableType, ViewTable, provider_as_source};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder};
use datafusion::physical_plan::ExecutionPlan;
use tarn_planner::{Input, Origin, Part, Slice, Stage};

use super::layout::JobDir;
use super::source::Source;
use crate::error::{Result, TarnError};

/// What a task can read: the session's sources and the stages of its job.
pub struct Inputs<'a> {
    pub sources: &'a [Arc<Source>],
    pub job: &'a JobDir,
    pub stages: &'a [Stage],
}

/// One file or batch of an input, with its size for slicing.
enum Piece {
    File {
        /// The source it belongs to; `None` for a stage's Parquet output.
        source: Option<usize>,
        file: Box<PartitionedFile>,
        /// Whether the reader can start inside the file (Parquet, by row group).
        splittable: bool,
    },
    Batch(RecordBatch),
}

impl Piece {
    fn size(&self) -> u64 {
        match self {
            Piece::File { file, .. } => file.object_meta.size,
            Piece::Batch(batch) => batch.get_array_memory_size() as u64,
        }
    }
}

impl Inputs<'_> {
    /// The schema of what `origin` produces.
    pub async fn schema(&self, origin: Origin) -> Result<SchemaRef> {
        match origin {
            Origin::Source(source) => Ok(self.sources[source].schema()),
            Origin::Stage(stage) => self.job.stage_schema(&self.stages[stage].name).await,
        }
    }

    /// A table over everything `input` names.
    pub async fn table(&self, input: &Input) -> Result<Arc<dyn TableProvider>> {
        let schema = self.schema(input.origin).await?;
        let mut pieces = Vec::new();
        for part in &input.parts {
            self.collect_pieces(part, &mut pieces).await?;
        }
        if let Some(slice) = input.slice {
            pieces = slice_pieces(pieces, slice);
        }
        self.build_table(schema, pieces)
    }

    async fn collect_pieces(&self, part: &Part, pieces: &mut Vec<Piece>) -> Result<()> {
        match part {
            Part::Scan { source, start, end } => match self.sources[*source].as_ref() {
                Source::Files(files) => {
                    let splittable = files.format.get_ext() == "parquet";
                    pieces.extend(files.files[*start..*end].iter().map(|file| Piece::File {
                        source: Some(*source),
                        file: Box::new(file.clone()),
                        splittable,
                    }))
                }
                Source::Memory { batches, .. } => {
                    pieces.extend(batches[*start..*end].iter().cloned().map(Piece::Batch))
                }
            },
            Part::Output { stage, partition } => {
                let files = self
                    .job
                    .partition_files(&self.stages[*stage].name, *partition)
                    .await?;
                pieces.extend(files.into_iter().map(|file| Piece::File {
                    source: None,
                    file: Box::new(file),
                    splittable: true,
                }));
            }
        }
        Ok(())
    }

    /// One table per kind of piece, under a union when there is more than one kind.
    fn build_table(&self, schema: SchemaRef, pieces: Vec<Piece>) -> Result<Arc<dyn TableProvider>> {
        let mut groups: Vec<(Option<usize>, Vec<PartitionedFile>)> = Vec::new();
        let mut batches = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Batch(batch) => batches.push(batch),
                Piece::File { source, file, .. } => match groups.iter_mut().find(|g| g.0 == source)
                {
                    Some(group) => group.1.push(*file),
                    None => groups.push((source, vec![*file])),
                },
            }
        }
        let mut tables: Vec<Arc<dyn TableProvider>> = Vec::new();
        for (source, files) in groups {
            let (store, format): (ObjectStoreUrl, Arc<dyn FileFormat>) = match source {
                Some(source) => match self.sources[source].as_ref() {
                    Source::Files(f) => (f.store.clone(), Arc::clone(&f.format)),
                    Source::Memory { .. } => unreachable!("memory sources give batches"),
                },
                None => (self.job.store_url(), Arc::new(ParquetFormat::default())),
            };
            tables.push(Arc::new(FilesTable {
                store,
                format,
                schema: Arc::clone(&schema),
                files,
            }));
        }
        if !batches.is_empty() || tables.is_empty() {
            let batches = batches
                .into_iter()
                .map(|b| b.with_schema(Arc::clone(&schema)))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| TarnError::Invalid(format!("in-memory batches: {e}")))?;
            tables.push(Arc::new(MemTable::try_new(
                Arc::clone(&schema),
                vec![batches],
            )?));
        }
        if tables.len() == 1 {
            return Ok(tables.remove(0));
        }
        let mut union: Option<LogicalPlanBuilder> = None;
        for table in tables {
            let scan = LogicalPlanBuilder::scan("input", provider_as_source(table), None)?;
            union = Some(match union {
                None => scan,
                Some(acc) => acc.union(scan.build()?)?,
            });
        }
        let plan = union.expect("two or more tables").build()?;
        Ok(Arc::new(ViewTable::new(plan, None)))
    }
}

/// Slice `index` of `count` equal byte ranges of the pieces laid end to end. A splittable file
/// is cut at the range bounds (its reader keeps each row group in exactly one range); anything
/// else goes whole to the range holding its middle byte.
fn slice_pieces(pieces: Vec<Piece>, slice: Slice) -> Vec<Piece> {
    let total: u64 = pieces.iter().map(Piece::size).sum();
    let bound = |k: usize| (total as u128 * k as u128 / slice.count as u128) as u64;
    let (low, high) = (bound(slice.index), bound(slice.index + 1));
    let mut kept = Vec::new();
    let mut offset = 0;
    for piece in pieces {
        let size = piece.size();
        let (start, end) = (offset, offset + size);
        offset = end;
        match piece {
            Piece::File {
                source,
                file,
                splittable: true,
            } => {
                let (from, to) = (start.max(low), end.min(high));
                if from < to {
                    let file =
                        Box::new(file.with_range((from - start) as i64, (to - start) as i64));
                    kept.push(Piece::File {
                        source,
                        file,
                        splittable: true,
                    });
                }
            }
            other => {
                let middle = start + size / 2;
                if (low..high).contains(&middle) || (size == 0 && start == low && low < high) {
                    kept.push(other);
                }
            }
        }
    }
    kept
}

/// Files of one format read with a fixed schema, each possibly limited to a byte range: what
/// a listing table cannot express.
#[derive(Debug)]
struct FilesTable {
    store: ObjectStoreUrl,
    format: Arc<dyn FileFormat>,
    schema: SchemaRef,
    files: Vec<PartitionedFile>,
}

#[async_trait]
impl TableProvider for FilesTable {
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
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let width = state
            .config()
            .target_partitions()
            .clamp(1, self.files.len().max(1));
        let mut groups = vec![Vec::new(); width];
        for (i, file) in self.files.iter().enumerate() {
            groups[i % width].push(file.clone());
        }
        let source = self
            .format
            .file_source(TableSchema::from(Arc::clone(&self.schema)));
        let config = FileScanConfigBuilder::new(self.store.clone(), source)
            .with_file_groups(groups.into_iter().map(FileGroup::new).collect())
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        self.format.create_physical_plan(state, config).await
    }
}
