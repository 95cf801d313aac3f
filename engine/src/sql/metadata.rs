//! Table functions that describe files rather than read their rows: `glob(pattern)`,
//! `parquet_metadata(path)` (one row per column chunk), `parquet_schema(path)` (one row per
//! schema element), `parquet_file_metadata(path)` (one row per file) and
//! `parquet_kv_metadata(path)` (one row per key-value pair of a footer), with DuckDB's column
//! names.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BinaryBuilder, Int64Builder, StringArray, StringBuilder, UInt64Builder,
};
use datafusion::catalog::TableProvider;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::execution::SessionState;
use datafusion::object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use datafusion::parquet::file::metadata::{FooterTail, ParquetMetaData};
use datafusion::parquet::file::statistics::Statistics;
use datafusion::parquet::schema::types::Type as ParquetType;

use super::files::list_paths;
use super::memory_table;
use crate::error::{Result, TarnError};

/// `glob(pattern)`: one row per matching file, in a `file` column.
pub async fn glob_table(state: &SessionState, pattern: &str) -> Result<Arc<dyn TableProvider>> {
    let files = list_paths(state, &[pattern.to_string()]).await?.files;
    let mut file = StringBuilder::new();
    for path in &files {
        for meta in &path.files {
            file.append_value(path.display(meta));
        }
    }
    memory_table(vec![("file", Arc::new(file.finish()) as ArrayRef)])
}

/// A Parquet file's footer, with where the file is for what the footer does not say.
struct Footer {
    /// The file as users see it named.
    name: String,
    metadata: Arc<ParquetMetaData>,
    store: Arc<dyn ObjectStore>,
    file: ObjectMeta,
}

impl Footer {
    /// The bytes of the encoded footer, as the file's last 8 bytes give it: one more read,
    /// so only `parquet_file_metadata` asks.
    async fn encoded_size(&self) -> Result<u64> {
        let bad_file = |reason: String| TarnError::BadFile {
            path: self.name.clone(),
            format: "Parquet",
            reason,
        };
        // The footer was read whole, so the file has these 8 bytes.
        let size = self.file.size;
        let tail = self
            .store
            .get_range(&self.file.location, size - 8..size)
            .await
            .map_err(|e| bad_file(e.to_string()))?;
        let tail: [u8; 8] = tail.as_ref().try_into().expect("a range of 8 bytes");
        let tail = FooterTail::try_new(&tail).map_err(|e| bad_file(e.to_string()))?;
        Ok(tail.metadata_length() as u64)
    }
}

/// Reads the footer of every Parquet file the paths name, with the displayed file name.
async fn footers(state: &SessionState, paths: &[String]) -> Result<Vec<Footer>> {
    let mut footers = Vec::new();
    for path in list_paths(state, paths).await?.files {
        let store = state.runtime_env().object_store(&path.url)?;
        for meta in &path.files {
            let name = path.display(meta);
            let metadata = DFParquetMetadata::new(store.as_ref(), meta)
                .fetch_metadata()
                .await
                .map_err(|e| TarnError::BadFile {
                    path: name.clone(),
                    format: "Parquet",
                    reason: e.to_string(),
                })?;
            footers.push(Footer {
                name,
                metadata,
                store: store.clone(),
                file: meta.clone(),
            });
        }
    }
    Ok(footers)
}

/// `parquet_metadata(path)`: one row per row group and column chunk.
pub async fn parquet_metadata_table(
    state: &SessionState,
    paths: &[String],
) -> Result<Arc<dyn TableProvider>> {
    let mut file_name = StringBuilder::new();
    let mut row_group_id = Int64Builder::new();
    let mut row_group_num_rows = Int64Builder::new();
    let mut row_group_num_columns = Int64Builder::new();
    let mut row_group_bytes = Int64Builder::new();
    let mut column_id = Int64Builder::new();
    let mut file_offset = Int64Builder::new();
    let mut num_values = Int64Builder::new();
    let mut path_in_schema = StringBuilder::new();
    let mut physical_type = StringBuilder::new();
    let mut stats_min = StringBuilder::new();
    let mut stats_max = StringBuilder::new();
    let mut stats_null_count = Int64Builder::new();
    let mut stats_distinct_count = Int64Builder::new();
    let mut compression = StringBuilder::new();
    let mut encodings = StringBuilder::new();
    let mut total_compressed_size = Int64Builder::new();
    let mut total_uncompressed_size = Int64Builder::new();
    for footer in footers(state, paths).await? {
        for (rg_index, row_group) in footer.metadata.row_groups().iter().enumerate() {
            for (col_index, column) in row_group.columns().iter().enumerate() {
                file_name.append_value(&footer.name);
                row_group_id.append_value(rg_index as i64);
                row_group_num_rows.append_value(row_group.num_rows());
                row_group_num_columns.append_value(row_group.num_columns() as i64);
                row_group_bytes.append_value(row_group.total_byte_size());
                column_id.append_value(col_index as i64);
                file_offset.append_value(column.file_offset());
                num_values.append_value(column.num_values());
                path_in_schema.append_value(column.column_path().parts().join(", "));
                physical_type.append_value(column.column_type().to_string());
                let stats = column.statistics();
                stats_min.append_option(stats.and_then(|s| stat_text(s, true)));
                stats_max.append_option(stats.and_then(|s| stat_text(s, false)));
                stats_null_count
                    .append_option(stats.and_then(|s| s.null_count_opt()).map(|n| n as i64));
                stats_distinct_count
                    .append_option(stats.and_then(|s| s.distinct_count_opt()).map(|n| n as i64));
                // The codec alone, as DuckDB names it: `ZSTD`, not `ZSTD(ZstdLevel(1))`.
                let codec = column.compression().to_string();
                compression.append_value(codec.split('(').next().unwrap_or_default());
                encodings.append_value(
                    column
                        .encodings()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                );
                total_compressed_size.append_value(column.compressed_size());
                total_uncompressed_size.append_value(column.uncompressed_size());
            }
        }
    }
    memory_table(vec![
        ("file_name", Arc::new(file_name.finish()) as ArrayRef),
        ("row_group_id", Arc::new(row_group_id.finish())),
        ("row_group_num_rows", Arc::new(row_group_num_rows.finish())),
        (
            "row_group_num_columns",
            Arc::new(row_group_num_columns.finish()),
        ),
        ("row_group_bytes", Arc::new(row_group_bytes.finish())),
        ("column_id", Arc::new(column_id.finish())),
        ("file_offset", Arc::new(file_offset.finish())),
        ("num_values", Arc::new(num_values.finish())),
        ("path_in_schema", Arc::new(path_in_schema.finish())),
        ("type", Arc::new(physical_type.finish())),
        ("stats_min", Arc::new(stats_min.finish())),
        ("stats_max", Arc::new(stats_max.finish())),
        ("stats_null_count", Arc::new(stats_null_count.finish())),
        (
            "stats_distinct_count",
            Arc::new(stats_distinct_count.finish()),
        ),
        ("compression", Arc::new(compression.finish())),
        ("encodings", Arc::new(encodings.finish())),
        (
            "total_compressed_size",
            Arc::new(total_compressed_size.finish()),
        ),
        (
            "total_uncompressed_size",
            Arc::new(total_uncompressed_size.finish()),
        ),
    ])
}

/// `parquet_schema(path)`: one row per schema element, the root first.
pub async fn parquet_schema_table(
    state: &SessionState,
    paths: &[String],
) -> Result<Arc<dyn TableProvider>> {
    let mut rows = SchemaRows::default();
    for footer in footers(state, paths).await? {
        rows.visit(&footer.name, footer.metadata.file_metadata().schema());
    }
    memory_table(vec![
        ("file_name", Arc::new(rows.file_name.finish()) as ArrayRef),
        ("name", Arc::new(rows.name.finish())),
        ("type", Arc::new(rows.physical_type.finish())),
        ("type_length", Arc::new(rows.type_length.finish())),
        ("repetition_type", Arc::new(rows.repetition.finish())),
        ("num_children", Arc::new(rows.num_children.finish())),
        ("converted_type", Arc::new(rows.converted_type.finish())),
        ("scale", Arc::new(rows.scale.finish())),
        ("precision", Arc::new(rows.precision.finish())),
        ("field_id", Arc::new(rows.field_id.finish())),
        ("logical_type", Arc::new(rows.logical_type.finish())),
    ])
}

/// `parquet_file_metadata(path)`: one row per file. Tarn reads no encrypted files, so the
/// encryption columns are NULL; DuckDB's `column_orders` (its own debug text) is left out.
pub async fn parquet_file_metadata_table(
    state: &SessionState,
    paths: &[String],
) -> Result<Arc<dyn TableProvider>> {
    let footers = footers(state, paths).await?;
    let mut file_name = StringBuilder::new();
    let mut created_by = StringBuilder::new();
    let mut num_rows = Int64Builder::new();
    let mut num_row_groups = Int64Builder::new();
    let mut format_version = Int64Builder::new();
    let mut file_size_bytes = UInt64Builder::new();
    let mut footer_size = UInt64Builder::new();
    for footer in &footers {
        let file = footer.metadata.file_metadata();
        file_name.append_value(&footer.name);
        created_by.append_option(file.created_by());
        num_rows.append_value(file.num_rows());
        num_row_groups.append_value(footer.metadata.num_row_groups() as i64);
        format_version.append_value(file.version() as i64);
        file_size_bytes.append_value(footer.file.size);
        footer_size.append_value(footer.encoded_size().await?);
    }
    let no_text = || Arc::new(StringArray::new_null(footers.len())) as ArrayRef;
    memory_table(vec![
        ("file_name", Arc::new(file_name.finish()) as ArrayRef),
        ("created_by", Arc::new(created_by.finish())),
        ("num_rows", Arc::new(num_rows.finish())),
        ("num_row_groups", Arc::new(num_row_groups.finish())),
        ("format_version", Arc::new(format_version.finish())),
        ("encryption_algorithm", no_text()),
        ("footer_signing_key_metadata", no_text()),
        ("file_size_bytes", Arc::new(file_size_bytes.finish())),
        ("footer_size", Arc::new(footer_size.finish())),
    ])
}

/// `parquet_kv_metadata(path)`: the key-value pairs of each footer (a writer's settings, the
/// Arrow schema, a pipeline's own tags), as BLOBs as DuckDB gives them.
pub async fn parquet_kv_metadata_table(
    state: &SessionState,
    paths: &[String],
) -> Result<Arc<dyn TableProvider>> {
    let mut file_name = StringBuilder::new();
    let mut key = BinaryBuilder::new();
    let mut value = BinaryBuilder::new();
    for footer in footers(state, paths).await? {
        let pairs = footer.metadata.file_metadata().key_value_metadata();
        for pair in pairs.into_iter().flatten() {
            file_name.append_value(&footer.name);
            key.append_value(&pair.key);
            value.append_option(pair.value.as_ref());
        }
    }
    memory_table(vec![
        ("file_name", Arc::new(file_name.finish()) as ArrayRef),
        ("key", Arc::new(key.finish())),
        ("value", Arc::new(value.finish())),
    ])
}

#[derive(Default)]
struct SchemaRows {
    file_name: StringBuilder,
    name: StringBuilder,
    physical_type: StringBuilder,
    type_length: Int64Builder,
    repetition: StringBuilder,
    num_children: Int64Builder,
    converted_type: StringBuilder,
    scale: Int64Builder,
    precision: Int64Builder,
    field_id: Int64Builder,
    logical_type: StringBuilder,
}

impl SchemaRows {
    fn visit(&mut self, file: &str, node: &ParquetType) {
        let info = node.get_basic_info();
        self.file_name.append_value(file);
        self.name.append_value(node.name());
        self.repetition
            .append_option(info.has_repetition().then(|| info.repetition().to_string()));
        self.converted_type.append_option(
            (info.converted_type() != datafusion::parquet::basic::ConvertedType::NONE)
                .then(|| info.converted_type().to_string()),
        );
        self.field_id
            .append_option(info.has_id().then(|| info.id() as i64));
        self.logical_type
            .append_option(info.logical_type_ref().map(|t| format!("{t:?}")));
        match node {
            ParquetType::PrimitiveType {
                physical_type,
                type_length,
                scale,
                precision,
                ..
            } => {
                self.physical_type.append_value(physical_type.to_string());
                self.type_length
                    .append_option((*type_length >= 0).then_some(*type_length as i64));
                self.num_children.append_null();
                self.scale
                    .append_option((*scale >= 0).then_some(*scale as i64));
                self.precision
                    .append_option((*precision >= 0).then_some(*precision as i64));
            }
            ParquetType::GroupType { fields, .. } => {
                self.physical_type.append_null();
                self.type_length.append_null();
                self.num_children.append_value(fields.len() as i64);
                self.scale.append_null();
                self.precision.append_null();
                for field in fields {
                    self.visit(file, field);
                }
            }
        }
    }
}

/// A min or max statistic as text, decoding byte arrays as UTF-8 where they are.
fn stat_text(stats: &Statistics, min: bool) -> Option<String> {
    macro_rules! pick {
        ($s:expr) => {
            if min {
                $s.min_opt().map(|v| v.to_string())
            } else {
                $s.max_opt().map(|v| v.to_string())
            }
        };
    }
    match stats {
        Statistics::Boolean(s) => pick!(s),
        Statistics::Int32(s) => pick!(s),
        Statistics::Int64(s) => pick!(s),
        Statistics::Int96(s) => pick!(s),
        Statistics::Float(s) => pick!(s),
        Statistics::Double(s) => pick!(s),
        Statistics::ByteArray(s) => {
            let value = if min { s.min_opt() } else { s.max_opt() }?;
            Some(String::from_utf8_lossy(value.data()).into_owned())
        }
        Statistics::FixedLenByteArray(s) => {
            let value = if min { s.min_opt() } else { s.max_opt() }?;
            Some(String::from_utf8_lossy(value.data()).into_owned())
        }
    }
}
